// Monitor emulation of stack instructions and memory-sourced segment loads (see
// emulate_internal.h): every push and pop goes through a StackCursor and ESP/EBP are committed
// only after the last access, so a fault leaves the registers as they were (SDM vol. 2 PUSH, POP,
// PUSHA, POPA, ENTER, LEAVE pseudocode).
#include "runtime/cpu/emulate_internal.h"
#include "runtime/cpu/flags_instructions.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operand_access.h"
#include "runtime/cpu/operands.h"

namespace btvmm::runtime::emulate {
namespace {

using translator::DecodedInstruction;

bool is_gpr_operand(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_width(op.reg.value) != 0;
}
bool is_plain_memory(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.type == ZYDIS_MEMOP_TYPE_MEM;
}
unsigned operand_bytes(const DecodedInstruction& insn) { return insn.operand_width() == 16 ? 2 : 4; }

// PUSH r/m/imm: the value (ESP itself included) is read before ESP moves (SDM vol. 2 PUSH).
Outcome push_value(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& src = insn.operands()[0];
  if (!is_gpr_operand(src) && !is_plain_memory(src) && src.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) return unsupported();
  uint32_t v = 0;
  if (auto f = read_operand(vcpu, env, insn, src, &v)) return failed(*f);
  StackCursor stack = StackCursor::current(vcpu);
  if (auto f = push(env, stack, v, operand_bytes(insn))) return failed(*f);
  vcpu.gpr[kEsp] = stack.esp;
  return done();
}

// POP r/m: ESP moves before the destination address is computed, and POP ESP leaves the popped
// value in ESP (SDM vol. 2 POP).
Outcome pop_value(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  if (!is_gpr_operand(dst) && !is_plain_memory(dst)) return unsupported();
  StackCursor stack = StackCursor::current(vcpu);
  uint32_t v = 0;
  if (auto f = pop(env, stack, &v, operand_bytes(insn))) return failed(*f);
  vcpu.gpr[kEsp] = stack.esp;
  if (auto f = write_operand(vcpu, env, insn, dst, v, operand_bytes(insn) * 8)) return failed(*f);
  return done();
}

// PUSHA/PUSHAD: EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI.
Outcome push_all(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const unsigned size = operand_bytes(insn);
  StackCursor stack = StackCursor::current(vcpu);
  for (unsigned r = kEax; r <= kEdi; ++r) {
    if (auto f = push(env, stack, vcpu.gpr[r], size)) return failed(*f);
  }
  vcpu.gpr[kEsp] = stack.esp;
  return done();
}

// POPA/POPAD: EDI, ESI, EBP, (the saved ESP is skipped), EBX, EDX, ECX, EAX.
Outcome pop_all(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const unsigned size = operand_bytes(insn);
  StackCursor stack = StackCursor::current(vcpu);
  uint32_t v[kGprCount] = {};
  for (unsigned r = kGprCount; r-- > 0;) {
    if (auto f = pop(env, stack, &v[r], size)) return failed(*f);
  }
  for (unsigned r = kEax; r <= kEdi; ++r) {
    if (r == kEsp) continue;
    vcpu.gpr[r] = size == 2 ? (vcpu.gpr[r] & 0xffff0000) | (v[r] & 0xffff) : v[r];
  }
  vcpu.gpr[kEsp] = stack.esp;
  return done();
}

// LEAVE: (E)SP <- (E)BP per the stack size, then (E)BP <- pop per the operand size.
Outcome leave(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const unsigned size = operand_bytes(insn);
  StackCursor stack = StackCursor::current(vcpu);
  stack.set_sp(vcpu.gpr[kEbp]);
  uint32_t v = 0;
  if (auto f = pop(env, stack, &v, size)) return failed(*f);
  vcpu.gpr[kEsp] = stack.esp;
  vcpu.gpr[kEbp] = size == 2 ? (vcpu.gpr[kEbp] & 0xffff0000) | (v & 0xffff) : v;
  return done();
}

// ENTER imm16, imm8 (SDM vol. 2 ENTER, non-64-bit pseudocode): push (E)BP, copy NestingLevel-1
// frame pointers from the old frame, push the new frame pointer, then allocate.
Outcome enter(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto ops = insn.visible_operands();
  if (ops.size() != 2) return unsupported();
  const uint32_t alloc = uint32_t(ops[0].imm.value.u) & 0xffff;
  const unsigned level = unsigned(ops[1].imm.value.u) & 31;
  const unsigned size = operand_bytes(insn);
  StackCursor stack = StackCursor::current(vcpu);
  if (auto f = push(env, stack, vcpu.gpr[kEbp], size)) return failed(*f);
  const uint32_t frame = stack.sp();
  uint32_t ebp = vcpu.gpr[kEbp];
  if (level > 0) {
    for (unsigned i = 1; i < level; ++i) {
      ebp = stack.ss.db() ? ebp - size : (ebp & 0xffff0000) | ((ebp - size) & 0xffff);
      uint32_t v = 0;
      if (auto f = read_data(vcpu, env, kSs, stack.ss.db() ? ebp : ebp & 0xffff, &v, size)) return failed(*f);
      if (auto f = push(env, stack, v, size)) return failed(*f);
    }
    if (auto f = push(env, stack, frame, size)) return failed(*f);
  }
  stack.set_sp(stack.sp() - alloc);
  vcpu.gpr[kEbp] = size == 2 ? (vcpu.gpr[kEbp] & 0xffff0000) | (frame & 0xffff) : frame;
  vcpu.gpr[kEsp] = stack.esp;
  return done();
}

bool has_segment_operand(const DecodedInstruction& insn) {
  for (const auto& op : insn.operands()) {
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<Outcome> stack_or_segment_instruction(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_PUSH:
      // PUSH/POP Sreg are the CPU-semantics code's (execute.h), with their descriptor checks.
      if (has_segment_operand(insn)) return std::nullopt;
      return push_value(vcpu, env, insn);
    case ZYDIS_MNEMONIC_POP:
      if (has_segment_operand(insn)) return std::nullopt;
      return pop_value(vcpu, env, insn);
    case ZYDIS_MNEMONIC_PUSHA: case ZYDIS_MNEMONIC_PUSHAD: return push_all(vcpu, env, insn);
    case ZYDIS_MNEMONIC_POPA: case ZYDIS_MNEMONIC_POPAD: return pop_all(vcpu, env, insn);
    case ZYDIS_MNEMONIC_LEAVE: return leave(vcpu, env, insn);
    case ZYDIS_MNEMONIC_ENTER: return enter(vcpu, env, insn);
    case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
      return outcome_of(exec_load_far_pointer(vcpu, env, insn));
    case ZYDIS_MNEMONIC_MOV: {
      const auto& dst = insn.operands()[0];
      if (dst.type != ZYDIS_OPERAND_TYPE_REGISTER || ZydisRegisterGetClass(dst.reg.value) != ZYDIS_REGCLASS_SEGMENT) {
        return std::nullopt;
      }
      return outcome_of(exec_mov_to_sreg(vcpu, env, insn));
    }
    default: return std::nullopt;
  }
}

}  // namespace btvmm::runtime::emulate
