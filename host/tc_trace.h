// Where each new CCF and each TC event is reported (`-d in_asm,out_asm,tc [-D FILE]`, `--trace-tc
// FILE`, `--perf-map`): the trace dump, formatted by translator/trace_dump (the one formatter: guest
// instructions with their kinds, host code disassembled by Capstone, retranslations, invalidations,
// stale marking, flushes), and the perf map (translator/perf_map). Output only: never changes the TC.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "runtime/engine/dispatcher.h"
#include "translator/perf_map.h"

namespace btvmm::host {

struct TraceItems {
  bool in_asm = false;    // guest side of each CCF
  bool out_asm = false;   // host side of each CCF
  bool tc = false;        // retranslations, invalidations, stale marking and re-checks, flushes
  bool perf_map = false;  // /tmp/perf-PID.map
};

class TcTrace {
 public:
  // Writes the dump to `path` ("-" or empty: stderr) when in_asm, out_asm or tc is asked for.
  TcTrace(const std::string& path, TraceItems items);
  ~TcTrace();
  TcTrace(const TcTrace&) = delete;
  TcTrace& operator=(const TcTrace&) = delete;

  void on_ccf(const runtime::engine::CcfTraceEvent& e);
  void on_event(const translator::TcEvent& e);

 private:
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  TraceItems items_;
  uint64_t count_ = 0;
  std::unique_ptr<translator::PerfMap> perf_map_;
};

}  // namespace btvmm::host
