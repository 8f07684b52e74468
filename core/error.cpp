#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace btvmm {

void throw_errno(const std::string& what) {
  int e = errno;
  throw Error(ExitCode::kInternal, fmt::format("{}: {}", what, std::strerror(e)));
}

}  // namespace btvmm
