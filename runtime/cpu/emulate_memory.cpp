// Emulation of ordinary memory instructions in the monitor (see emulate_memory.h). Every
// instruction reads all it needs first, then writes its memory destination, then registers and
// flags, so a fault leaves nothing half done; registers are restored if a late access faults.
#include "runtime/cpu/emulate_memory.h"

#include <algorithm>
#include <array>

#include "core/stats.h"
#include "runtime/cpu/emulate_internal.h"
#include "runtime/cpu/host_alu.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operand_access.h"
#include "runtime/cpu/operands.h"

namespace btvmm::runtime {
namespace {

stats::Counter c_emulated{"cpu.emulated_memory_instructions",
                          "ordinary instructions executed by the monitor because their memory access "
                          "cannot be mapped (page 0, non-RAM, MMIO)"};
stats::Counter c_unsupported{"cpu.emulate_unsupported",
                             "instructions touching unmappable memory that the monitor does not emulate "
                             "(btvmm stops with an error naming them)"};

using translator::DecodedInstruction;
using emulate::width_mask;

using emulate::Outcome;
using emulate::done;
using emulate::failed;
using emulate::unsupported;

bool is_memory(const ZydisDecodedOperand& op) { return op.type == ZYDIS_OPERAND_TYPE_MEMORY; }
bool is_gpr(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_width(op.reg.value) != 0;
}
// A data operand this code can move: a general register, memory of at most 32 bits, or an
// immediate. Segment, control, debug, x87 and vector registers are someone else's business.
bool plain(const ZydisDecodedOperand& op) {
  if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) return true;
  if (is_memory(op)) return op.size >= 8 && op.size <= 32 && op.mem.type == ZYDIS_MEMOP_TYPE_MEM;
  return is_gpr(op);
}

// The load of a read-modify-write instruction is made with write intent: a #PF it raises
// reports a write access (SDM vol. 3 4.7, W/R flag). Checked on this project's host: `add [m], eax`
// on a not-present page faults with error code 6 (W|U), so Linux maps such a page writable at once.
Fault read_for_update(const VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn,
                      const ZydisDecodedOperand& op, uint32_t* value) {
  Fault f = read_operand(vcpu, env, insn, op, value);
  if (f && f->vector == kPf && is_memory(op)) f->error_code |= 2;
  return f;
}

Fault read_masked(const VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, const ZydisDecodedOperand& op,
                  unsigned bits, uint32_t* value) {
  Fault f = read_operand(vcpu, env, insn, op, value);
  *value &= width_mask(bits);
  return f;
}

// Condition codes tttn of Jcc/SETcc/CMOVcc (SDM vol. 1 appendix B, table B-1).
bool condition(unsigned tttn, uint32_t fl) {
  const bool cf = fl & kFlagCf, zf = fl & kFlagZf, sf = fl & kFlagSf, of = fl & kFlagOf, pf = fl & kFlagPf;
  bool r = false;
  switch (tttn >> 1) {
    case 0: r = of; break;
    case 1: r = cf; break;
    case 2: r = zf; break;
    case 3: r = cf || zf; break;
    case 4: r = sf; break;
    case 5: r = pf; break;
    case 6: r = sf != of; break;
    default: r = zf || (sf != of); break;
  }
  return (tttn & 1) ? !r : r;
}

std::optional<AluOp> alu_op_of(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_ADD: return AluOp::kAdd;
    case ZYDIS_MNEMONIC_OR: return AluOp::kOr;
    case ZYDIS_MNEMONIC_ADC: return AluOp::kAdc;
    case ZYDIS_MNEMONIC_SBB: return AluOp::kSbb;
    case ZYDIS_MNEMONIC_AND: return AluOp::kAnd;
    case ZYDIS_MNEMONIC_SUB: return AluOp::kSub;
    case ZYDIS_MNEMONIC_XOR: return AluOp::kXor;
    case ZYDIS_MNEMONIC_CMP: return AluOp::kCmp;
    case ZYDIS_MNEMONIC_TEST: return AluOp::kTest;
    case ZYDIS_MNEMONIC_INC: return AluOp::kInc;
    case ZYDIS_MNEMONIC_DEC: return AluOp::kDec;
    case ZYDIS_MNEMONIC_NEG: return AluOp::kNeg;
    case ZYDIS_MNEMONIC_NOT: return AluOp::kNot;
    case ZYDIS_MNEMONIC_ROL: return AluOp::kRol;
    case ZYDIS_MNEMONIC_ROR: return AluOp::kRor;
    case ZYDIS_MNEMONIC_RCL: return AluOp::kRcl;
    case ZYDIS_MNEMONIC_RCR: return AluOp::kRcr;
    case ZYDIS_MNEMONIC_SHL: return AluOp::kShl;
    case ZYDIS_MNEMONIC_SHR: return AluOp::kShr;
    case ZYDIS_MNEMONIC_SAR: return AluOp::kSar;
    case ZYDIS_MNEMONIC_BT: return AluOp::kBt;
    case ZYDIS_MNEMONIC_BTS: return AluOp::kBts;
    case ZYDIS_MNEMONIC_BTR: return AluOp::kBtr;
    case ZYDIS_MNEMONIC_BTC: return AluOp::kBtc;
    default: return std::nullopt;
  }
}

bool writes_nothing(AluOp op) { return op == AluOp::kCmp || op == AluOp::kTest || op == AluOp::kBt; }
bool is_unary(AluOp op) { return op >= AluOp::kInc && op <= AluOp::kNot; }
bool is_bit_test(AluOp op) { return op >= AluOp::kBt; }

// MOV r/m,r / r,r/m / r/m,imm / moffs forms (SDM vol. 2 MOV); a segment register may be stored.
Outcome mov(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, const ZydisDecodedOperand& dst,
            const ZydisDecodedOperand& src) {
  const bool store_sreg = src.type == ZYDIS_OPERAND_TYPE_REGISTER && seg_reg_of(src.reg.value) && is_memory(dst);
  if (!plain(dst) || dst.type == ZYDIS_OPERAND_TYPE_IMMEDIATE || (!plain(src) && !store_sreg)) return unsupported();
  uint32_t v = 0;
  if (auto f = read_masked(vcpu, env, insn, src, dst.size, &v)) return failed(*f);
  // MOV m16, Sreg stores 16 bits whatever the operand size (SDM vol. 2 MOV, notes on Sreg).
  if (auto f = write_operand(vcpu, env, insn, dst, v, store_sreg ? 16 : dst.size)) return failed(*f);
  return done();
}

Outcome move_extend(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, bool sign) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  if (!is_gpr(dst) || !plain(src)) return unsupported();
  uint32_t v = 0;
  if (auto f = read_masked(vcpu, env, insn, src, src.size, &v)) return failed(*f);
  if (sign) v = src.size == 8 ? uint32_t(int32_t(int8_t(v))) : uint32_t(int32_t(int16_t(v)));
  write_gpr(vcpu, dst.reg.value, v & width_mask(dst.size));
  return done();
}

// Bit string addressed by a register offset (SDM vol. 2 BT, "bit base" operand): the signed
// offset selects the word/dword at EA + (offset SAR log2(size)) * size bytes.
Outcome bit_test(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, AluOp op) {
  const auto& base = insn.operands()[0];
  const auto& off = insn.operands()[1];
  const unsigned bits = base.size;
  if (!plain(base) || !plain(off) || (bits != 16 && bits != 32)) return unsupported();
  uint32_t offset = 0;
  if (auto f = read_operand(vcpu, env, insn, off, &offset)) return failed(*f);
  if (!is_memory(base) || off.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    uint32_t v = 0;
    Fault f = writes_nothing(op) ? read_operand(vcpu, env, insn, base, &v) : read_for_update(vcpu, env, insn, base, &v);
    if (f) return failed(*f);
    const AluResult r = host_alu(op, bits, v, offset & (bits - 1), vcpu.eflags);
    if (!writes_nothing(op)) {
      if (auto wf = write_operand(vcpu, env, insn, base, r.value, bits)) return failed(*wf);
    }
    vcpu.eflags = r.eflags;
    return done();
  }
  const int32_t signed_off = bits == 16 ? int32_t(int16_t(offset)) : int32_t(offset);
  const uint32_t displacement = uint32_t(signed_off >> (bits == 16 ? 4 : 5)) * (bits / 8);
  uint32_t v = 0;
  if (auto f = read_memory_operand(vcpu, env, insn, base, displacement, &v, bits / 8)) {
    if (f->vector == kPf && !writes_nothing(op)) f->error_code |= 2;
    return failed(*f);
  }
  const AluResult r = host_alu(op, bits, v, offset & (bits - 1), vcpu.eflags);
  if (!writes_nothing(op)) {
    if (auto f = write_memory_operand(vcpu, env, insn, base, displacement, &r.value, bits / 8)) return failed(*f);
  }
  vcpu.eflags = r.eflags;
  return done();
}

Outcome alu(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, AluOp op) {
  if (is_bit_test(op)) return bit_test(vcpu, env, insn, op);
  const auto& dst = insn.operands()[0];
  if (!plain(dst) || dst.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) return unsupported();
  const unsigned bits = dst.size;
  uint32_t a = 0, b = 0;
  Fault f = writes_nothing(op) ? read_masked(vcpu, env, insn, dst, bits, &a) : read_for_update(vcpu, env, insn, dst, &a);
  if (f) return failed(*f);
  if (!is_unary(op)) {
    const auto& src = insn.operands()[1];
    if (!plain(src)) return unsupported();
    if (auto sf = read_operand(vcpu, env, insn, src, &b)) return failed(*sf);
    // Shift counts are 8-bit (CL or imm8); the host CPU masks them like the guest's would.
    b &= (op >= AluOp::kRol) ? 0xffu : width_mask(bits);
  }
  const AluResult r = host_alu(op, bits, a & width_mask(bits), b, vcpu.eflags);
  if (!writes_nothing(op)) {
    if (auto wf = write_operand(vcpu, env, insn, dst, r.value, bits)) return failed(*wf);
  }
  vcpu.eflags = r.eflags;
  return done();
}

// XCHG (SDM vol. 2 XCHG): both operands are read before either is written; memory first so an
// address computed from the exchanged register is the old one.
Outcome xchg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& x = insn.operands()[0];
  const auto& y = insn.operands()[1];
  if (!plain(x) || !plain(y)) return unsupported();
  uint32_t a = 0, b = 0;
  if (auto f = read_for_update(vcpu, env, insn, x, &a)) return failed(*f);
  if (auto f = read_for_update(vcpu, env, insn, y, &b)) return failed(*f);
  const auto& first = is_memory(y) ? y : x;
  const auto& second = is_memory(y) ? x : y;
  const uint32_t first_value = is_memory(y) ? a : b, second_value = is_memory(y) ? b : a;
  if (auto f = write_operand(vcpu, env, insn, first, first_value, x.size)) return failed(*f);
  if (auto f = write_operand(vcpu, env, insn, second, second_value, x.size)) return failed(*f);
  return done();
}

// CMPXCHG (SDM vol. 2): the destination is always written (with its old value when the compare
// fails), then the accumulator is loaded on failure.
Outcome cmpxchg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  if (!plain(dst) || !is_gpr(src)) return unsupported();
  const unsigned bits = dst.size;
  const ZydisRegister acc = bits == 8 ? ZYDIS_REGISTER_AL : bits == 16 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
  uint32_t d = 0, s = 0;
  if (auto f = read_for_update(vcpu, env, insn, dst, &d)) return failed(*f);
  if (auto f = read_operand(vcpu, env, insn, src, &s)) return failed(*f);
  const uint32_t a = read_gpr(vcpu, acc);
  const AluResult r = host_alu(AluOp::kCmp, bits, a, d, vcpu.eflags);
  const bool equal = r.eflags & kFlagZf;
  if (auto f = write_operand(vcpu, env, insn, dst, equal ? s : d, bits)) return failed(*f);
  if (!equal) write_gpr(vcpu, acc, d);
  vcpu.eflags = r.eflags;
  return done();
}

// XADD (SDM vol. 2): TEMP = SRC + DEST; SRC = DEST; DEST = TEMP.
Outcome xadd(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  if (!plain(dst) || !is_gpr(src)) return unsupported();
  const unsigned bits = dst.size;
  uint32_t d = 0, s = 0;
  if (auto f = read_for_update(vcpu, env, insn, dst, &d)) return failed(*f);
  if (auto f = read_operand(vcpu, env, insn, src, &s)) return failed(*f);
  const AluResult r = host_alu(AluOp::kAdd, bits, d, s, vcpu.eflags);
  if (is_memory(dst)) {
    if (auto f = write_operand(vcpu, env, insn, dst, r.value, bits)) return failed(*f);
    write_gpr(vcpu, src.reg.value, d);
  } else {
    write_gpr(vcpu, src.reg.value, d);
    write_gpr(vcpu, dst.reg.value, r.value);
  }
  vcpu.eflags = r.eflags;
  return done();
}

Outcome setcc(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  if (!plain(dst)) return unsupported();
  const uint32_t v = condition(insn.zydis().opcode & 0xf, vcpu.eflags) ? 1 : 0;
  if (auto f = write_operand(vcpu, env, insn, dst, v, 8)) return failed(*f);
  return done();
}

// CMOVcc reads its source whatever the condition, so a bad source faults either way (SDM vol. 2
// CMOVcc: "the source operand is read ... regardless of the condition").
Outcome cmov(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  if (!is_gpr(dst) || !plain(src)) return unsupported();
  uint32_t v = 0;
  if (auto f = read_operand(vcpu, env, insn, src, &v)) return failed(*f);
  if (condition(insn.zydis().opcode & 0xf, vcpu.eflags)) write_gpr(vcpu, dst.reg.value, v);
  return done();
}

// BSF/BSR and two/three-operand IMUL: a register destination computed from an r/m source.
Outcome register_from_source(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, AluOp op) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  if (!is_gpr(dst) || !plain(src) || (dst.size != 16 && dst.size != 32)) return unsupported();
  uint32_t a = read_gpr(vcpu, dst.reg.value), b = 0;
  if (auto f = read_masked(vcpu, env, insn, src, dst.size, &b)) return failed(*f);
  if (insn.visible_operands().size() == 3) {  // IMUL r, r/m, imm: r = r/m * imm
    a = b;
    if (auto f = read_masked(vcpu, env, insn, insn.operands()[2], dst.size, &b)) return failed(*f);
  }
  const AluResult r = host_alu(op, dst.size, a, b, vcpu.eflags);
  write_gpr(vcpu, dst.reg.value, r.value);
  vcpu.eflags = r.eflags;
  return done();
}

// SHLD/SHRD r/m, r, imm8/CL (SDM vol. 2 SHLD, SHRD).
Outcome double_shift(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, bool left) {
  const auto& dst = insn.operands()[0];
  const auto& src = insn.operands()[1];
  const auto& count = insn.operands()[2];
  if (!plain(dst) || !is_gpr(src) || !plain(count) || (dst.size != 16 && dst.size != 32)) return unsupported();
  uint32_t d = 0, s = 0, c = 0;
  if (auto f = read_for_update(vcpu, env, insn, dst, &d)) return failed(*f);
  if (auto f = read_operand(vcpu, env, insn, src, &s)) return failed(*f);
  if (auto f = read_operand(vcpu, env, insn, count, &c)) return failed(*f);
  const AluResult r = host_double_shift(left, dst.size, d, s, c, vcpu.eflags);
  if (auto f = write_operand(vcpu, env, insn, dst, r.value, dst.size)) return failed(*f);
  vcpu.eflags = r.eflags;
  return done();
}

// One-operand MUL/IMUL/DIV/IDIV (SDM vol. 2): AL/AX/EAX with AH/DX/EDX, #DE on overflow.
Outcome multiply_divide(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn, MulDivOp op) {
  const auto& src = insn.operands()[0];
  if (!plain(src) || src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) return unsupported();
  const unsigned bits = src.size;
  uint32_t s = 0;
  if (auto f = read_masked(vcpu, env, insn, src, bits, &s)) return failed(*f);
  const MulDivResult r = host_muldiv(op, bits, vcpu.gpr[kEax], vcpu.gpr[kEdx], s, vcpu.eflags);
  if (r.divide_error) return failed(GuestException{kDe, false, 0, 0});
  if (bits == 8) {
    write_gpr(vcpu, ZYDIS_REGISTER_AX, r.eax);
  } else if (bits == 16) {
    write_gpr(vcpu, ZYDIS_REGISTER_AX, r.eax);
    write_gpr(vcpu, ZYDIS_REGISTER_DX, r.edx);
  } else {
    vcpu.gpr[kEax] = r.eax;
    vcpu.gpr[kEdx] = r.edx;
  }
  vcpu.eflags = r.eflags;
  return done();
}

Outcome dispatch(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  if (auto o = emulate::stack_or_segment_instruction(vcpu, env, insn)) return *o;
  if (auto o = emulate::fpu_instruction(vcpu, env, insn)) return *o;
  const ZydisMnemonic m = insn.mnemonic();
  if (auto op = alu_op_of(m)) return alu(vcpu, env, insn, *op);
  switch (m) {
    case ZYDIS_MNEMONIC_MOV: return mov(vcpu, env, insn, insn.operands()[0], insn.operands()[1]);
    case ZYDIS_MNEMONIC_MOVZX: return move_extend(vcpu, env, insn, false);
    case ZYDIS_MNEMONIC_MOVSX: return move_extend(vcpu, env, insn, true);
    case ZYDIS_MNEMONIC_XCHG: return xchg(vcpu, env, insn);
    case ZYDIS_MNEMONIC_CMPXCHG: return cmpxchg(vcpu, env, insn);
    case ZYDIS_MNEMONIC_XADD: return xadd(vcpu, env, insn);
    case ZYDIS_MNEMONIC_BSF: return register_from_source(vcpu, env, insn, AluOp::kBsf);
    case ZYDIS_MNEMONIC_BSR: return register_from_source(vcpu, env, insn, AluOp::kBsr);
    case ZYDIS_MNEMONIC_IMUL:
      if (insn.visible_operands().size() == 1) return multiply_divide(vcpu, env, insn, MulDivOp::kImul);
      return register_from_source(vcpu, env, insn, AluOp::kImul);
    case ZYDIS_MNEMONIC_SHLD: return double_shift(vcpu, env, insn, true);
    case ZYDIS_MNEMONIC_SHRD: return double_shift(vcpu, env, insn, false);
    case ZYDIS_MNEMONIC_MUL: return multiply_divide(vcpu, env, insn, MulDivOp::kMul);
    case ZYDIS_MNEMONIC_DIV: return multiply_divide(vcpu, env, insn, MulDivOp::kDiv);
    case ZYDIS_MNEMONIC_IDIV: return multiply_divide(vcpu, env, insn, MulDivOp::kIdiv);
    default: break;
  }
  if (insn.zydis().opcode_map == ZYDIS_OPCODE_MAP_0F && (insn.zydis().opcode & 0xf0) == 0x90) {
    return setcc(vcpu, env, insn);
  }
  if (insn.zydis().opcode_map == ZYDIS_OPCODE_MAP_0F && (insn.zydis().opcode & 0xf0) == 0x40) {
    return cmov(vcpu, env, insn);
  }
  return unsupported();
}

}  // namespace

std::optional<StepResult> emulate_memory_instruction(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  if (auto r = emulate::string_instruction(vcpu, env, insn)) {
    if (r->kind == StepResult::kContinue) {
      vcpu.interrupt_shadow = false;
      c_emulated.inc();
    }
    return r;
  }
  const std::array<uint32_t, kGprCount> gpr = std::to_array(vcpu.gpr);
  const uint32_t eflags = vcpu.eflags;
  const Outcome o = dispatch(vcpu, env, insn);
  if (o.kind != Outcome::kDone) {
    std::copy(gpr.begin(), gpr.end(), vcpu.gpr);
    vcpu.eflags = eflags;
    if (o.kind == Outcome::kUnsupported) {
      c_unsupported.inc();
      return std::nullopt;
    }
    return StepResult::fault(o.exception);
  }
  vcpu.eip = insn.next_eip();
  // MOV SS inhibits interrupts for one instruction (SDM vol. 2 MOV); nothing else emulated here does.
  vcpu.interrupt_shadow = insn.mnemonic() == ZYDIS_MNEMONIC_MOV && insn.operands()[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                          insn.operands()[0].reg.value == ZYDIS_REGISTER_SS;
  c_emulated.inc();
  return StepResult::cont();
}

}  // namespace btvmm::runtime
