// Perf map writer (see perf_map.h). Lines are buffered by stdio and written out at least when the
// map is closed; perf reads the file after the run.
#include "translator/perf_map.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"

namespace btvmm::translator {

std::string perf_map_line(uint64_t host, size_t size, uint32_t eip, uint8_t cpl) {
  return fmt::format("{:x} {:x} g:{:#010x}_cpl{}\n", host, size, eip, cpl);
}

std::string perf_map_path() { return fmt::format("/tmp/perf-{}.map", getpid()); }

PerfMap::PerfMap(const std::string& path) : path_(path) {
  out_ = std::fopen(path.c_str(), "w");
  if (!out_) fail(ExitCode::kUsage, "{}: cannot create the perf map: {}", path, std::strerror(errno));
}

PerfMap::~PerfMap() { std::fclose(out_); }

void PerfMap::add(const Ccf& ccf) {
  const std::string line = perf_map_line(reinterpret_cast<uint64_t>(ccf.host), ccf.host_size, ccf.key.eip, ccf.key.cpl);
  std::fputs(line.c_str(), out_);
}

}  // namespace btvmm::translator
