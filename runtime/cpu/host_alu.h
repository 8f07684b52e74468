// Arithmetic and logic of ordinary IA-32 instructions computed by the host CPU itself: the same
// instruction on the same operand size (8/16/32 bits) with the guest's arithmetic flags loaded,
// so results and OF/SF/ZF/AF/PF/CF are exactly what hardware produces (SDM vol. 1 3.4.3.1;
// 32-bit and narrower operations behave the same in 64-bit mode). Never touches guest memory.
#pragma once

#include <cstdint>

namespace btvmm::runtime {

enum class AluOp {
  kAdd, kOr, kAdc, kSbb, kAnd, kSub, kXor, kCmp, kTest,  // binary: a op b
  kInc, kDec, kNeg, kNot,                               // unary on a
  kRol, kRor, kRcl, kRcr, kShl, kShr, kSar,             // a shifted by b (count, masked by the CPU)
  kBt, kBts, kBtr, kBtc,                                // bit b (mod operand size) of a; 16/32 only
  kBsf, kBsr, kImul,                                    // a = f(b) / a * b, 16/32 only (a kept by BSF/BSR of 0)
};

struct AluResult {
  uint32_t value = 0;   // result, zero-extended (a unchanged for kCmp/kTest/kBt)
  uint32_t eflags = 0;  // the guest EFLAGS given, with the arithmetic flags as the host left them
};

// `bits` is 8, 16 or 32 (8 is refused for the bit-test group, which has no byte form).
AluResult host_alu(AluOp op, unsigned bits, uint32_t a, uint32_t b, uint32_t eflags);

// SHLD/SHRD (16/32 bits): `dst` shifted by `count` (masked by the CPU) with bits from `src`.
AluResult host_double_shift(bool left, unsigned bits, uint32_t dst, uint32_t src, uint32_t count, uint32_t eflags);

// One-operand MUL/IMUL/DIV/IDIV on AL/AX/EAX (and AH/DX/EDX) with source `src`.
enum class MulDivOp { kMul, kImul, kDiv, kIdiv };
struct MulDivResult {
  bool divide_error = false;  // #DE: divisor 0 or quotient too large (SDM vol. 2 DIV/IDIV)
  uint32_t eax = 0, edx = 0, eflags = 0;
};
MulDivResult host_muldiv(MulDivOp op, unsigned bits, uint32_t eax, uint32_t edx, uint32_t src, uint32_t eflags);

}  // namespace btvmm::runtime
