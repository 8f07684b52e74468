#include "host/tc_trace.h"

#include <capstone/capstone.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "translator/translation_unit.h"

namespace btvmm::host {

TcTrace::TcTrace(const std::string& path, TraceItems items) : items_(items) {
  if (path.empty() || path == "-") {
    out_ = stderr;
  } else {
    out_ = std::fopen(path.c_str(), "w");
    if (!out_) fail(ExitCode::kUsage, "{}: cannot open trace file: {}", path, std::strerror(errno));
    owned_ = true;
  }
  csh handle = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) fail(ExitCode::kInternal, "capstone: cs_open failed");
  capstone_ = handle;
}

TcTrace::~TcTrace() {
  csh handle = capstone_;
  cs_close(&handle);
  if (owned_) std::fclose(out_);
}

void TcTrace::on_ccf(const runtime::engine::CcfTraceEvent& e) {
  const translator::Ccf& ccf = e.ccf;
  ++count_;
  std::fprintf(out_, "CCF %llu: guest %#010x cpl %u, %zu instruction(s), %u guest bytes -> host %p, %zu bytes\n",
               static_cast<unsigned long long>(count_), ccf.key.eip, ccf.key.cpl, e.tu.instructions.size(),
               ccf.guest_bytes, static_cast<void*>(ccf.host), ccf.host_size);
  if (items_.in_asm) std::fprintf(out_, "%s", translator::format_translation_unit(e.tu).c_str());
  if (items_.out_asm) {
    cs_insn* insn = nullptr;
    size_t n = cs_disasm(capstone_, ccf.host, ccf.host_size, reinterpret_cast<uint64_t>(ccf.host), 0, &insn);
    // Host instructions are grouped under the guest instruction they implement (the CCF map).
    size_t next = 0;
    for (size_t i = 0; i < n; ++i) {
      uint64_t off = insn[i].address - reinterpret_cast<uint64_t>(ccf.host);
      for (; next < ccf.map.size() && ccf.map[next].host_offset <= off; ++next)
        if (ccf.map[next].host_offset == off) std::fprintf(out_, "    ; guest %#010x\n", ccf.map[next].guest_eip);
      std::string bytes;
      for (uint16_t b = 0; b < insn[i].size; ++b) bytes += fmt::format("{:02x}", insn[i].bytes[b]);
      std::fprintf(out_, "    +%04llx  %-24s %s %s\n", static_cast<unsigned long long>(off), bytes.c_str(),
                   insn[i].mnemonic, insn[i].op_str);
    }
    if (n == 0) std::fprintf(out_, "    (capstone could not disassemble the host code)\n");
    cs_free(insn, n);
  }
  std::fflush(out_);
}

}  // namespace btvmm::host
