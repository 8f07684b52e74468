// SIMULATE of MOV stores (see simulate.h). The effective address follows SDM vol. 1 3.7.5
// (base + index * scale + displacement, 32-bit wrap) plus the segment base.
#include "runtime/engine/simulate.h"

#include "runtime/cpu/operands.h"

namespace btvmm::runtime::engine {

namespace {

std::optional<uint32_t> gpr_value(const VcpuState& v, ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) return v.gpr[r - ZYDIS_REGISTER_EAX];
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) return v.gpr[r - ZYDIS_REGISTER_AX] & 0xffff;
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) return v.gpr[r - ZYDIS_REGISTER_AL] & 0xff;
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return (v.gpr[r - ZYDIS_REGISTER_AH] >> 8) & 0xff;
  return std::nullopt;
}

}  // namespace

std::optional<StepResult> simulate_store(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn) {
  if (insn.mnemonic() != ZYDIS_MNEMONIC_MOV || insn.address_width() != 32) return std::nullopt;
  const auto ops = insn.visible_operands();
  if (ops.size() != 2 || ops[0].type != ZYDIS_OPERAND_TYPE_MEMORY) return std::nullopt;
  const ZydisDecodedOperand& m = ops[0];
  uint32_t value = 0;
  if (ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    value = static_cast<uint32_t>(ops[1].imm.value.u);
  } else if (ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const std::optional<uint32_t> r = gpr_value(vcpu, ops[1].reg.value);
    if (!r) return std::nullopt;
    value = *r;
  } else {
    return std::nullopt;
  }
  uint32_t ea = static_cast<uint32_t>(m.mem.disp.value);
  if (m.mem.base != ZYDIS_REGISTER_NONE) {
    const std::optional<uint32_t> b = gpr_value(vcpu, m.mem.base);
    if (!b) return std::nullopt;
    ea += *b;
  }
  if (m.mem.index != ZYDIS_REGISTER_NONE) {
    const std::optional<uint32_t> i = gpr_value(vcpu, m.mem.index);
    if (!i) return std::nullopt;
    ea += *i * m.mem.scale;
  }
  const std::optional<SegReg> seg = seg_reg_of(m.mem.segment);
  if (!seg) return std::nullopt;
  const uint32_t la = vcpu.seg[*seg].base + ea;
  if (std::optional<GuestException> e = env.write_linear(la, &value, m.size / 8, vcpu.cpl == 3))
    return StepResult::fault(*e);
  vcpu.eip = insn.next_eip();
  return StepResult::cont();
}

}  // namespace btvmm::runtime::engine
