// The translation-cache trace dump (`--trace-tc FILE`, `-d in_asm,out_asm`): every CCF as it is
// made, its guest instructions with their translation kinds, and the emitted host code
// disassembled by Capstone, an independent disassembler that cross-checks the emitter.
#pragma once

#include <cstdio>
#include <string>

#include "runtime/engine/dispatcher.h"

namespace btvmm::host {

struct TraceItems {
  bool in_asm = false;   // guest side of each CCF
  bool out_asm = false;  // host side of each CCF
};

class TcTrace {
 public:
  // Writes to `path` ("-" or empty: stderr).
  TcTrace(const std::string& path, TraceItems items);
  ~TcTrace();
  TcTrace(const TcTrace&) = delete;
  TcTrace& operator=(const TcTrace&) = delete;

  void on_ccf(const runtime::engine::CcfTraceEvent& e);

 private:
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  TraceItems items_;
  uint64_t count_ = 0;
  size_t capstone_ = 0;  // csh
};

}  // namespace btvmm::host
