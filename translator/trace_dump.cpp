// Trace dump of a CCF (see trace_dump.h). Host code is decoded with decode_host64 (Zydis); the
// tests cross-check emitted code with Capstone instead.
#include "translator/trace_dump.h"

#include <fmt/format.h>

namespace btvmm::translator {

std::string format_ccf(const TranslationUnit& tu, const Ccf& ccf, bool in_asm, bool out_asm) {
  std::string s;
  if (in_asm) s += fmt::format("IN: {:#010x} (cpl {})\n{}", ccf.key.eip, ccf.key.cpl, format_translation_unit(tu));
  if (!out_asm) return s;
  s += fmt::format("OUT: {} host bytes at {}, {} chaining slots{}\n", ccf.host_size, static_cast<const void*>(ccf.host),
                   ccf.slots.size(), ccf.valid ? "" : " (invalidated)");
  size_t next_range = 0;
  for (size_t off = 0; off < ccf.host_size;) {
    if (next_range < ccf.map.size() && ccf.map[next_range].host_offset == off)
      s += fmt::format("  -- guest {:#010x}\n", ccf.map[next_range++].guest_eip);
    else if (off == 0)
      s += "  -- attention check\n";
    else if (next_range == ccf.map.size() && next_range > 0 &&
             off == ccf.map.back().host_offset + ccf.map.back().host_size)
      s += "  -- exits\n";
    const uint64_t rip = reinterpret_cast<uint64_t>(ccf.host) + off;
    const DecodeResult d = decode_host64({ccf.host + off, ccf.host_size - off}, rip);
    if (!d.ok()) {
      s += fmt::format("  {:012x}  {:02x}  (bytes)\n", rip, ccf.host[off]);
      ++off;
      continue;
    }
    std::string hex;
    for (uint8_t b : d.instruction.bytes()) hex += fmt::format("{:02x} ", b);
    s += fmt::format("  {:012x}  {:<30} {}\n", rip, hex, d.instruction.text());
    off += d.instruction.length();
  }
  return s;
}

}  // namespace btvmm::translator
