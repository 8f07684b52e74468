// EFLAGS and segment-register instructions (see flags_instructions.h).
#include "runtime/cpu/flags_instructions.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/eflags.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operand_access.h"
#include "runtime/cpu/operands.h"
#include "runtime/cpu/segments.h"

namespace btvmm::runtime {
namespace {

unsigned stack_slot(const DecodedInstruction& insn) { return insn.operand_width() == 16 ? 2 : 4; }

// The Sreg operand of push/pop/mov (explicit or, for push/pop, the only register operand).
std::optional<SegReg> sreg_operand(const DecodedInstruction& insn) {
  for (const auto& op : insn.operands()) {
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
      if (auto s = seg_reg_of(op.reg.value)) return s;
    }
  }
  return std::nullopt;
}

// Flat 4 GiB segment caches SYSENTER/SYSEXIT load (SDM vol. 2 SYSENTER: base 0, limit 4 GiB,
// G=1, D/B=1, P=1, S=1; code type 11, data type 3).
SegmentCache flat(uint16_t selector, uint8_t type, uint8_t dpl) {
  SegmentCache c;
  c.selector = selector;
  c.attrs = type | 0x10u | (uint32_t(dpl) << 5) | 0x80u | 0x4000u | 0x8000u;
  c.base = 0;
  c.limit = 0xffffffff;
  return c;
}

}  // namespace

Fault exec_pushf(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  StackCursor stack = StackCursor::current(vcpu);
  // SDM vol. 2 PUSHF: VM and RF are pushed as 0.
  if (auto f = push(env, stack, vcpu.eflags & ~(kFlagVm | kFlagRf), stack_slot(insn))) return f;
  vcpu.gpr[kEsp] = stack.esp;
  return std::nullopt;
}

Fault exec_popf(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  StackCursor stack = StackCursor::current(vcpu);
  uint32_t v = 0;
  const unsigned slot = stack_slot(insn);
  if (auto f = pop(env, stack, &v, slot)) return f;
  if (slot == 2) v = (vcpu.eflags & 0xffff0000) | (v & 0xffff);
  vcpu.eflags = popf_result(vcpu.eflags, v, vcpu.cpl, slot * 8);
  vcpu.gpr[kEsp] = stack.esp;
  return std::nullopt;
}

Fault exec_cli(VcpuState& vcpu) {
  if (vcpu.cpl > iopl_of(vcpu.eflags)) return gp(0);
  vcpu.eflags &= ~kFlagIf;
  return std::nullopt;
}

Fault exec_sti(VcpuState& vcpu) {
  if (vcpu.cpl > iopl_of(vcpu.eflags)) return gp(0);
  if (!(vcpu.eflags & kFlagIf)) vcpu.interrupt_shadow = true;
  vcpu.eflags |= kFlagIf;
  return std::nullopt;
}

Fault exec_push_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto s = sreg_operand(insn);
  if (!s) return ud();
  StackCursor stack = StackCursor::current(vcpu);
  const unsigned slot = stack_slot(insn);
  // SDM vol. 2 PUSH: with a 32-bit operand size recent processors write only the 16-bit selector.
  if (auto f = push(env, stack, vcpu.seg[*s].selector, slot, slot == 4)) return f;
  vcpu.gpr[kEsp] = stack.esp;
  return std::nullopt;
}

Fault exec_pop_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto s = sreg_operand(insn);
  if (!s || *s == kCs) return ud();
  StackCursor stack = StackCursor::current(vcpu);
  uint32_t v = 0;
  if (auto f = pop(env, stack, &v, stack_slot(insn))) return f;
  counters::segment_loads.inc();
  if (auto f = load_segment(vcpu, env, *s, uint16_t(v))) return f;
  // ESP moves only once the load succeeded; a new SS has the same B bit in practice, and SDM
  // pseudocode increments the stack pointer of the stack the value was popped from.
  vcpu.gpr[kEsp] = stack.esp;
  if (*s == kSs) vcpu.interrupt_shadow = true;
  return std::nullopt;
}

Fault exec_mov_to_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  const auto s = seg_reg_of(dst.reg.value);
  if (!s || *s == kCs) return ud();  // SDM vol. 2 MOV: loading CS with mov is #UD
  uint32_t v = 0;
  if (auto f = read_operand(vcpu, env, insn, insn.operands()[1], &v)) return f;
  counters::segment_loads.inc();
  if (auto f = load_segment(vcpu, env, *s, uint16_t(v))) return f;
  if (*s == kSs) vcpu.interrupt_shadow = true;
  return std::nullopt;
}

Fault exec_mov_from_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto s = seg_reg_of(insn.operands()[1].reg.value);
  if (!s) return ud();
  // A 32-bit register receives the selector zero-extended; memory gets 16 bits (SDM vol. 2 MOV).
  return write_operand(vcpu, env, insn, insn.operands()[0], vcpu.seg[*s].selector, 16);
}

Fault exec_load_far_pointer(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  SegReg s = kDs;
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_LES: s = kEs; break;
    case ZYDIS_MNEMONIC_LFS: s = kFs; break;
    case ZYDIS_MNEMONIC_LGS: s = kGs; break;
    case ZYDIS_MNEMONIC_LSS: s = kSs; break;
    default: break;
  }
  const auto& dst = insn.operands()[0];
  const auto& mem = insn.operands()[1];
  if (mem.type != ZYDIS_OPERAND_TYPE_MEMORY) return ud();
  const unsigned off_size = insn.operand_width() == 16 ? 2 : 4;
  uint32_t offset = 0;
  uint16_t selector = 0;
  if (auto f = read_memory_operand(vcpu, env, insn, mem, 0, &offset, off_size)) return f;
  if (auto f = read_memory_operand(vcpu, env, insn, mem, off_size, &selector, 2)) return f;
  counters::segment_loads.inc();
  if (auto f = load_segment(vcpu, env, s, selector)) return f;
  write_gpr(vcpu, dst.reg.value, offset);
  return std::nullopt;
}

Fault exec_sysenter(VcpuState& vcpu) {
  const uint16_t cs = uint16_t(vcpu.sysenter_cs);
  if (!(vcpu.cr0 & 1) || (cs & 0xfffc) == 0) return gp(0);
  vcpu.eflags &= ~(kFlagVm | kFlagIf | kFlagRf);
  set_segment(vcpu, kCs, flat(cs & 0xfffc, 11, 0));
  set_segment(vcpu, kSs, flat(uint16_t((cs + 8) & 0xfffc), 3, 0));
  vcpu.cpl = 0;
  vcpu.gpr[kEsp] = vcpu.sysenter_esp;
  vcpu.eip = vcpu.sysenter_eip;
  return std::nullopt;
}

Fault exec_sysexit(VcpuState& vcpu, const DecodedInstruction&) {
  const uint16_t cs = uint16_t(vcpu.sysenter_cs);
  if (!(vcpu.cr0 & 1) || (cs & 0xfffc) == 0 || vcpu.cpl != 0) return gp(0);
  set_segment(vcpu, kCs, flat(uint16_t((cs + 16) | 3), 11, 3));
  set_segment(vcpu, kSs, flat(uint16_t((cs + 24) | 3), 3, 3));
  vcpu.cpl = 3;
  vcpu.gpr[kEsp] = vcpu.gpr[kEcx];
  vcpu.eip = vcpu.gpr[kEdx];
  return std::nullopt;
}

}  // namespace btvmm::runtime
