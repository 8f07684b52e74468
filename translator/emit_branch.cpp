// Emission of control flow (DESIGN.md 3): direct branches become chaining exits (ccf.h), indirect
// branches and returns compute the guest target into r12d and take the inline lookup. Calls store
// the 32-bit return EIP before moving ESP (fault-safe ordering, as in emit_reencode.cpp). Only
// flag-free host instructions are added around the guest's own condition tests.
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;

namespace {

void push_return_eip(EmitContext& c, uint32_t eip) {
  c.a.mov(c.guest(x86::dword_ptr(x86::esp, -4)), eip);
  c.a.lea(x86::esp, x86::ptr(x86::esp, -4));
}

// Two-way exit: `taken` when the label's condition jumped there, `next` otherwise.
void two_way(EmitContext& c, asmjit::Label taken, uint32_t target, uint32_t next) {
  c.chain_jump(next);
  c.a.bind(taken);
  c.chain_jump(target);
}

}  // namespace

bool emit_branch_direct(EmitContext& c, const DecodedInstruction& insn) {
  const std::optional<uint32_t> target = insn.branch_target();
  if (!target) return false;
  const uint32_t next = insn.next_eip();
  const ZydisMnemonic m = insn.mnemonic();
  switch (m) {
    case ZYDIS_MNEMONIC_JMP:
      c.chain_jump(*target);
      return true;
    case ZYDIS_MNEMONIC_CALL:
      if (insn.operand_width() != 32) return false;
      push_return_eip(c, next);
      c.chain_jump(*target);
      return true;
    case ZYDIS_MNEMONIC_JECXZ: {
      if (insn.address_width() != 32) return false;
      // RCX's upper half is always zero in the TC, so JRCXZ tests exactly ECX.
      const asmjit::Label taken = c.a.newLabel();
      c.a.jecxz(x86::rcx, taken);
      two_way(c, taken, *target, next);
      return true;
    }
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE: {
      if (insn.address_width() != 32) return false;
      // SDM vol. 2 LOOPcc: ECX -= 1 without touching flags (lea), then branch if ECX != 0 and
      // the ZF condition holds.
      const asmjit::Label out = c.a.newLabel();
      c.a.lea(x86::ecx, x86::ptr(x86::rcx, -1));
      c.a.jecxz(x86::rcx, out);
      if (m == ZYDIS_MNEMONIC_LOOPE) c.a.jnz(out);
      if (m == ZYDIS_MNEMONIC_LOOPNE) c.a.jz(out);
      c.chain_jump(*target);
      c.a.bind(out);
      c.chain_jump(next);
      return true;
    }
    default:
      break;
  }
  // Jcc: 70+cc or 0F 80+cc; the low nibble of the last opcode byte is the condition code, which
  // asmjit's CondCode numbers the same way (SDM vol. 2 appendix B.1.4.7, table B-10).
  const ZydisDecodedInstruction& z = insn.zydis();
  const bool jcc = (z.opcode_map == ZYDIS_OPCODE_MAP_DEFAULT && (z.opcode & 0xf0) == 0x70) ||
                   (z.opcode_map == ZYDIS_OPCODE_MAP_0F && (z.opcode & 0xf0) == 0x80);
  if (!jcc) return false;
  c.chain_jcc(static_cast<x86::CondCode>(z.opcode & 0xf), *target);
  c.chain_jump(next);
  return true;
}

bool emit_branch_indirect(EmitContext& c, const DecodedInstruction& insn) {
  if (insn.operand_width() != 32) return false;
  const ZydisDecodedOperand& op = insn.operands()[0];
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const x86::Gp r = host_gpr(op.reg.value);
    if (!r.isValid() || r.size() != 4) return false;
    c.a.mov(x86::r12d, r);
  } else if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && simple_memory(insn, op)) {
    c.a.mov(x86::r12d, guest_memory(c, insn, op, 4));
  } else {
    return false;
  }
  // The target is read with the old ESP (call [esp+4]), then the return EIP is stored.
  if (insn.mnemonic() == ZYDIS_MNEMONIC_CALL) push_return_eip(c, insn.next_eip());
  c.jump_indirect_r12();
  return true;
}

bool emit_return(EmitContext& c, const DecodedInstruction& insn) {
  if (insn.operand_width() != 32) return false;
  int32_t release = 4;
  const auto ops = insn.visible_operands();
  if (!ops.empty() && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) release += static_cast<int32_t>(ops[0].imm.value.u & 0xffff);
  c.a.mov(x86::r12d, c.guest(x86::dword_ptr(x86::esp)));
  c.a.lea(x86::esp, x86::ptr(x86::esp, release));
  c.jump_indirect_r12();
  return true;
}

}  // namespace btvmm::translator
