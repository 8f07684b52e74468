// Host bytes of copied guest instructions (see ident_bytes.h). Pure byte manipulation: no
// decisions about whether an instruction may be copied (classify.cpp makes those).
#include "translator/ident_bytes.h"

namespace btvmm::translator {

bool has_absolute_disp32(const DecodedInstruction& insn) {
  const auto& z = insn.zydis();
  return insn.has_memory_operand() && (z.attributes & ZYDIS_ATTRIB_HAS_MODRM) && z.address_width == 32 &&
         z.raw.modrm.mod == 0 && z.raw.modrm.rm == 5;
}

unsigned ident_growth(const DecodedInstruction& insn) {
  if (!insn.has_memory_operand()) return 0;
  return 1 + (has_absolute_disp32(insn) ? 1 : 0);
}

HostBytes ident_host_bytes(const DecodedInstruction& insn, bool user) {
  HostBytes out;
  const auto in = insn.bytes();
  if (!insn.has_memory_operand()) {
    for (uint8_t b : in) out.data[out.size++] = b;
    return out;
  }
  // 0x67 goes first: legacy prefixes may come in any order, and mandatory prefixes (66/F2/F3 of
  // SSE) must stay next to the opcode (SDM vol. 2 2.1.1, 2.2.1).
  out.data[out.size++] = 0x67;
  if (user) out.data[out.size++] = 0x65;
  const bool rewrite = has_absolute_disp32(insn);
  const unsigned modrm_at = insn.zydis().raw.modrm.offset;
  const unsigned prefixes = insn.zydis().raw.prefix_count;
  for (unsigned i = 0; i < in.size(); ++i) {
    if (user && i < prefixes && (in[i] == 0x26 || in[i] == 0x2e || in[i] == 0x36 || in[i] == 0x3e)) continue;
    if (rewrite && i == modrm_at) {
      out.data[out.size++] = static_cast<uint8_t>((in[i] & 0xf8) | 0x04);  // r/m = 100: SIB follows
      out.data[out.size++] = 0x25;                                         // scale 0, no index, base 101
      continue;
    }
    out.data[out.size++] = in[i];
  }
  return out;
}

}  // namespace btvmm::translator
