// Emission of guest memory accesses through FS or GS (DESIGN.md 3: "non-zero segment bases are
// added by a compensation sequence with 32-bit wrap-around"). Linux keeps its per-CPU area behind
// %fs, so these are frequent. The effective address is computed without the segment into r13d,
// the base from vcpu.seg_base_cache is added with lea (flag-free, 32-bit result: wraps at 4 GiB),
// and the instruction is re-encoded to address [r13] with a 0x67 prefix. Only the ModRM memory
// operand form and the moffs moves are handled; anything else stays a monitor exit.
#include <array>

#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;

namespace {

constexpr int32_t seg_base_offset(ZydisRegister seg) {
  const unsigned index = seg == ZYDIS_REGISTER_FS ? runtime::kFs : runtime::kGs;
  return static_cast<int32_t>(offsetof(runtime::VcpuState, seg_base_cache) + 4 * index);
}

bool uses_high_byte_register(const DecodedInstruction& insn) {
  for (const ZydisDecodedOperand& op : insn.operands())
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && op.reg.value >= ZYDIS_REGISTER_AH && op.reg.value <= ZYDIS_REGISTER_BH)
      return true;
  return false;
}

}  // namespace

void emit_segmented_address(EmitContext& c, const DecodedInstruction& insn, const ZydisDecodedOperand& op,
                            int32_t extra) {
  if (op.mem.base == ZYDIS_REGISTER_NONE && op.mem.index == ZYDIS_REGISTER_NONE) {
    c.a.mov(x86::r13d, static_cast<uint32_t>(op.mem.disp.value) + static_cast<uint32_t>(extra));
  } else {
    ZydisDecodedOperand flat = op;
    flat.mem.segment = ZYDIS_REGISTER_DS;
    x86::Mem ea = guest_memory(c, insn, flat, 0, extra);
    ea.resetSegment();
    c.a.lea(x86::r13d, ea);
  }
  c.a.mov(x86::r14d, x86::dword_ptr(x86::r15, seg_base_offset(op.mem.segment)));
  c.a.lea(x86::r13d, x86::ptr(x86::r13, x86::r14));
}

bool emit_segment_override(EmitContext& c, const DecodedInstruction& insn) {
  if (insn.address_width() != 32 || uses_high_byte_register(insn)) return false;
  const ZydisDecodedOperand* mem = nullptr;
  for (const ZydisDecodedOperand& op : insn.visible_operands())
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) mem = &op;
  if (!mem || (mem->mem.segment != ZYDIS_REGISTER_FS && mem->mem.segment != ZYDIS_REGISTER_GS)) return false;
  const ZydisDecodedInstruction& z = insn.zydis();
  const std::span<const uint8_t> b = insn.bytes();

  std::array<uint8_t, kMaxInstructionLength + 4> out{};
  unsigned n = 0;
  out[n++] = 0x67;
  if (c.cpl == 3) out[n++] = 0x65;  // the user window (EmitContext::guest)
  for (unsigned i = 0; i < z.raw.prefix_count; ++i)
    if (b[i] != 0x64 && b[i] != 0x65) out[n++] = b[i];
  out[n++] = 0x41;  // REX.B: ModRM r/m 101 names r13 (SDM vol. 2 2.2.1.2)
  if (z.attributes & ZYDIS_ATTRIB_HAS_MODRM) {
    for (unsigned i = z.raw.prefix_count; i < z.raw.modrm.offset; ++i) out[n++] = b[i];
    // mod = 01, r/m = 101 with disp8 = 0: [r13 + 0] (mod = 00 would mean RIP-relative).
    out[n++] = static_cast<uint8_t>(0x40 | (z.raw.modrm.reg << 3) | 5);
    out[n++] = 0;
  } else if (z.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && z.opcode >= 0xA0 && z.opcode <= 0xA3) {
    // moffs moves become mov r/m forms with AL/EAX (SDM vol. 2 MOV: A0-A3 vs 8A/8B/88/89).
    static constexpr uint8_t kModrmForm[4] = {0x8A, 0x8B, 0x88, 0x89};
    out[n++] = kModrmForm[z.opcode - 0xA0];
    out[n++] = 0x45;  // mod 01, reg 000 (AL/EAX), r/m 101
    out[n++] = 0;
  } else {
    return false;
  }
  for (unsigned k = 0; k < 2; ++k)
    if (z.raw.imm[k].size)
      for (unsigned i = z.raw.imm[k].offset; i < z.raw.imm[k].offset + z.raw.imm[k].size / 8u; ++i) out[n++] = b[i];
  if (n > kMaxInstructionLength) return false;
  emit_segmented_address(c, insn, *mem, 0);
  c.a.embed(out.data(), n);
  return true;
}

}  // namespace btvmm::translator
