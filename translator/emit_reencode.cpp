// Emission of Kind::kReencode32 instructions (DESIGN.md 3): stack instructions that would use RSP
// and 8-byte slots in 64-bit mode, and the short inc/dec forms that are REX prefixes there, each
// written with its 32-bit meaning. Fault-safe ordering: every guest memory access that can fault
// comes before ESP or any other register changes, so a fault leaves the guest state exactly as
// before the instruction (precise exceptions, DESIGN.md 3). Forms not handled here return false
// and become monitor exits (see emit_ccf.cpp).
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;

namespace {

x86::Mem stack_slot(const EmitContext& c, int32_t disp, unsigned size) {
  x86::Mem m = x86::ptr(x86::esp, disp);  // 32-bit base: asmjit adds 0x67, so ESP wraps at 4 GiB
  m.setSize(size);
  return c.guest(m);
}

void adjust_esp(EmitContext& c, int32_t delta) { c.a.lea(x86::esp, x86::ptr(x86::esp, delta)); }

// PUSH r/m, imm, reg (SDM vol. 2 PUSH): the store first, then ESP. PUSH ESP stores the old ESP,
// which is what a store before the decrement naturally does.
bool emit_push(EmitContext& c, const DecodedInstruction& insn) {
  const unsigned size = insn.operand_width() / 8;
  if (size != 2 && size != 4) return false;
  const ZydisDecodedOperand& op = insn.operands()[0];
  const int32_t d = -static_cast<int32_t>(size);
  switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
      const x86::Gp r = host_gpr(op.reg.value);
      if (!r.isValid() || r.size() != size) return false;
      c.a.mov(stack_slot(c, d, size), r);
      break;
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      c.a.mov(stack_slot(c, d, size), size == 4 ? static_cast<int64_t>(static_cast<int32_t>(op.imm.value.s))
                                             : static_cast<int64_t>(static_cast<int16_t>(op.imm.value.s)));
      break;
    case ZYDIS_OPERAND_TYPE_MEMORY: {
      if (!simple_memory(insn, op)) return false;
      const x86::Gp t = size == 4 ? x86::Gp(x86::r12d) : x86::Gp(x86::r12w);
      c.a.mov(t, guest_memory(c, insn, op, size));
      c.a.mov(stack_slot(c, d, size), t);
      break;
    }
    default:
      return false;
  }
  adjust_esp(c, d);
  return true;
}

// POP reg/m (SDM vol. 2 POP): load, then for a memory destination store (its address computed
// with the incremented ESP if ESP is the base), then ESP. POP ESP leaves the loaded value in ESP.
bool emit_pop(EmitContext& c, const DecodedInstruction& insn) {
  const unsigned size = insn.operand_width() / 8;
  if (size != 2 && size != 4) return false;
  const ZydisDecodedOperand& op = insn.operands()[0];
  const x86::Gp t = size == 4 ? x86::Gp(x86::r12d) : x86::Gp(x86::r12w);
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const x86::Gp r = host_gpr(op.reg.value);
    if (!r.isValid() || r.size() != size) return false;
    if (op.reg.value == ZYDIS_REGISTER_ESP) {
      c.a.mov(x86::esp, stack_slot(c, 0, 4));
      return true;
    }
    c.a.mov(t, stack_slot(c, 0, size));
    adjust_esp(c, static_cast<int32_t>(size));
    c.a.mov(r, t);
    return true;
  }
  if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || !simple_memory(insn, op)) return false;
  const int32_t extra = op.mem.base == ZYDIS_REGISTER_ESP ? static_cast<int32_t>(size) : 0;
  c.a.mov(t, stack_slot(c, 0, size));
  c.a.mov(guest_memory(c, insn, op, size, extra), t);
  adjust_esp(c, static_cast<int32_t>(size));
  return true;
}

// PUSHAD (SDM vol. 2 PUSHA/PUSHAD): EAX at ESP-4 down to EDI at ESP-32, the original ESP in its slot.
void emit_pushad(EmitContext& c) {
  for (unsigned i = 0; i < 8; ++i) c.a.mov(stack_slot(c, -4 * static_cast<int32_t>(i + 1), 4), x86::gpd(i));
  adjust_esp(c, -32);
}

// POPAD: both ends of the 32-byte frame are loaded first, so any fault happens before a register
// changes; the ESP slot is skipped (SDM vol. 2 POPA/POPAD).
void emit_popad(EmitContext& c) {
  c.a.mov(x86::r12d, stack_slot(c, 28, 4));
  c.a.mov(x86::r13d, stack_slot(c, 0, 4));
  for (unsigned i = 1; i < 8; ++i) {
    if (i == 4 || i == 7) continue;  // ESP skipped; EAX comes from r12d
    c.a.mov(x86::gpd(i), stack_slot(c, 28 - 4 * static_cast<int32_t>(i), 4));
  }
  c.a.mov(x86::edi, x86::r13d);
  c.a.mov(x86::eax, x86::r12d);
  adjust_esp(c, 32);
}

// LEAVE (32-bit stack): ESP = EBP, then POP EBP; the load from [EBP] comes first.
void emit_leave(EmitContext& c) {
  c.a.mov(x86::r12d, c.guest(x86::dword_ptr(x86::ebp)));
  c.a.lea(x86::esp, x86::ptr(x86::ebp, 4));
  c.a.mov(x86::ebp, x86::r12d);
}

// ENTER imm16, 0 (SDM vol. 2 ENTER, nesting level 0): push EBP, EBP = new ESP, ESP -= size.
bool emit_enter(EmitContext& c, const DecodedInstruction& insn) {
  const auto ops = insn.visible_operands();
  if (insn.operand_width() != 32 || ops.size() < 2 || ops[1].imm.value.u != 0) return false;
  const auto size = static_cast<int32_t>(ops[0].imm.value.u & 0xffff);
  c.a.mov(stack_slot(c, -4, 4), x86::ebp);
  c.a.lea(x86::ebp, x86::ptr(x86::esp, -4));
  adjust_esp(c, -4 - size);
  return true;
}

}  // namespace

bool emit_reencode(EmitContext& c, const DecodedInstruction& insn) {
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_PUSH: return emit_push(c, insn);
    case ZYDIS_MNEMONIC_POP: return emit_pop(c, insn);
    case ZYDIS_MNEMONIC_PUSHAD: emit_pushad(c); return true;
    case ZYDIS_MNEMONIC_POPAD: emit_popad(c); return true;
    case ZYDIS_MNEMONIC_LEAVE:
      if (insn.operand_width() != 32) return false;
      emit_leave(c);
      return true;
    case ZYDIS_MNEMONIC_ENTER: return emit_enter(c, insn);
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC: {
      // 40-4F (SDM vol. 2 2.2.1: REX in 64-bit mode) re-encoded as FF /0, FF /1: same flags.
      const ZydisDecodedOperand& op = insn.operands()[0];
      if (op.type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
      const x86::Gp r = host_gpr(op.reg.value);
      if (!r.isValid()) return false;
      if (insn.mnemonic() == ZYDIS_MNEMONIC_INC)
        c.a.inc(r);
      else
        c.a.dec(r);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace btvmm::translator
