// Errors btvmm reports to its user: a message with context and the exit code it maps to.
// Guest misbehaviour is never one of these: it becomes a guest exception (STYLE.md, Errors).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "core/exit_codes.h"

namespace btvmm {

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Throws Error(kInternal) naming the failed host call and errno, e.g. "mmap(window): Cannot allocate memory".
[[noreturn]] void throw_errno(const std::string& what);

template <typename... Args>
[[noreturn]] void fail(ExitCode code, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(code, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace btvmm
