// CCF trace sink (see tc_trace.h).
#include "host/tc_trace.h"

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "translator/trace_dump.h"

namespace btvmm::host {

TcTrace::TcTrace(const std::string& path, TraceItems items) : items_(items) {
  if (items.perf_map) perf_map_ = std::make_unique<translator::PerfMap>(translator::perf_map_path());
  if (!items.in_asm && !items.out_asm && !items.tc) return;
  if (path.empty() || path == "-") {
    out_ = stderr;
  } else {
    out_ = std::fopen(path.c_str(), "w");
    if (!out_) fail(ExitCode::kUsage, "{}: cannot open trace file: {}", path, std::strerror(errno));
    owned_ = true;
  }
}

TcTrace::~TcTrace() {
  if (owned_) std::fclose(out_);
}

void TcTrace::on_ccf(const runtime::engine::CcfTraceEvent& e) {
  if (perf_map_) perf_map_->add(e.ccf);
  if (!out_ || (!items_.in_asm && !items_.out_asm)) return;
  const translator::Ccf& ccf = e.ccf;
  ++count_;
  std::fprintf(out_, "CCF %llu: guest %#010x cpl %u, %zu instruction(s), %u guest bytes -> host %p, %zu bytes\n",
               static_cast<unsigned long long>(count_), ccf.key.eip, ccf.key.cpl, ccf.map.size(),
               ccf.guest_bytes, static_cast<void*>(ccf.host), ccf.host_size);
  std::fputs(translator::format_ccf(e.tu, ccf, items_.in_asm, items_.out_asm).c_str(), out_);
  std::fflush(out_);
}

void TcTrace::on_event(const translator::TcEvent& e) {
  if (!out_ || !items_.tc) return;
  std::fputs(translator::format_tc_event(e).c_str(), out_);
  std::fflush(out_);
}

}  // namespace btvmm::host
