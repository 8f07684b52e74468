// The perf map of the TC (CONVENTIONS.md "perf"): /tmp/perf-PID.map, one line per CCF,
// "START SIZE NAME" in hex without 0x, NAME "g:0xEIP_cplN", so `perf report` attributes time spent
// in translated code to guest addresses. Writes the map only; never reads or changes the TC.
//
// A flushed TC reuses its addresses, and perf keeps the first symbol it reads for an address:
// samples after a flush may carry a name from before it (jitdump, `perf inject --jit`, is the cure).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "translator/ccf.h"

namespace btvmm::translator {

// "7f12a0001000 9c g:0xc0101234_cpl0\n"
std::string perf_map_line(uint64_t host, size_t size, uint32_t eip, uint8_t cpl);

// The path perf looks at for this process: /tmp/perf-PID.map.
std::string perf_map_path();

class PerfMap {
 public:
  // Creates (truncates) `path`. Throws Error(kUsage) when it cannot.
  explicit PerfMap(const std::string& path);
  ~PerfMap();
  PerfMap(const PerfMap&) = delete;
  PerfMap& operator=(const PerfMap&) = delete;

  void add(const Ccf& ccf);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* out_ = nullptr;
};

}  // namespace btvmm::translator
