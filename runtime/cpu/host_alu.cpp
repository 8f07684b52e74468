// Host execution of one ALU instruction with the guest's arithmetic flags (see host_alu.h).
// The guest flags are loaded with popfq and read back with pushfq around the very instruction,
// on the red zone-safe side of the stack. Must never let guest TF, DF, AC or IF reach the host
// RFLAGS: only the six arithmetic flags are taken from the guest.
#include "runtime/cpu/host_alu.h"

#include <cstdint>

#include "runtime/vcpu_state.h"

namespace btvmm::runtime {
namespace {

// Skip the 128-byte red zone before pushing (System V AMD64 ABI 3.2.2): the compiler may keep
// live data there. 0x8d5 is OF|SF|ZF|AF|PF|CF, so -0x8d6 (its complement) keeps the host's others.
#define BTVMM_FLAGS_IN                                                                          \
  "lea -128(%%rsp), %%rsp\n\tpushfq\n\tandq $-0x8d6, (%%rsp)\n\torq %[fin], (%%rsp)\n\tpopfq\n\t"
#define BTVMM_FLAGS_OUT "\n\tpushfq\n\tpopq %[fout]\n\tlea 128(%%rsp), %%rsp"

#define BTVMM_BINARY(MN, MOD)                                                          \
  asm volatile(BTVMM_FLAGS_IN MN " %" MOD "[b], %" MOD "[a]" BTVMM_FLAGS_OUT          \
               : [a] "+r"(a), [fout] "=&r"(fout)                                      \
               : [b] "r"(b), [fin] "r"(fin)                                           \
               : "cc")
#define BTVMM_UNARY(MN, MOD)                                                           \
  asm volatile(BTVMM_FLAGS_IN MN " %" MOD "[a]" BTVMM_FLAGS_OUT                       \
               : [a] "+r"(a), [fout] "=&r"(fout)                                      \
               : [fin] "r"(fin)                                                       \
               : "cc")
#define BTVMM_SHIFT(MN, MOD)                                                           \
  asm volatile(BTVMM_FLAGS_IN MN " %%cl, %" MOD "[a]" BTVMM_FLAGS_OUT                 \
               : [a] "+r"(a), [fout] "=&r"(fout)                                      \
               : [b] "c"(b), [fin] "r"(fin)                                           \
               : "cc")

#define BTVMM_SIZED(KIND, MN)                 \
  switch (bits) {                             \
    case 8: KIND(MN "b", "b"); break;         \
    case 16: KIND(MN "w", "w"); break;        \
    default: KIND(MN "l", "k"); break;        \
  }
// BT/BTS/BTR/BTC have no byte form (SDM vol. 2 BT): callers never pass 8.
#define BTVMM_WORD_OR_DWORD(KIND, MN)         \
  if (bits == 16) {                           \
    KIND(MN "w", "w");                        \
  } else {                                    \
    KIND(MN "l", "k");                        \
  }

}  // namespace

AluResult host_alu(AluOp op, unsigned bits, uint32_t a_in, uint32_t b_in, uint32_t eflags) {
  uint64_t a = a_in, b = b_in, fout = 0;
  const uint64_t fin = eflags & kArithFlags;
  switch (op) {
    case AluOp::kAdd: BTVMM_SIZED(BTVMM_BINARY, "add") break;
    case AluOp::kOr: BTVMM_SIZED(BTVMM_BINARY, "or") break;
    case AluOp::kAdc: BTVMM_SIZED(BTVMM_BINARY, "adc") break;
    case AluOp::kSbb: BTVMM_SIZED(BTVMM_BINARY, "sbb") break;
    case AluOp::kAnd: BTVMM_SIZED(BTVMM_BINARY, "and") break;
    case AluOp::kSub: BTVMM_SIZED(BTVMM_BINARY, "sub") break;
    case AluOp::kXor: BTVMM_SIZED(BTVMM_BINARY, "xor") break;
    case AluOp::kCmp: BTVMM_SIZED(BTVMM_BINARY, "cmp") break;
    case AluOp::kTest: BTVMM_SIZED(BTVMM_BINARY, "test") break;
    case AluOp::kInc: BTVMM_SIZED(BTVMM_UNARY, "inc") break;
    case AluOp::kDec: BTVMM_SIZED(BTVMM_UNARY, "dec") break;
    case AluOp::kNeg: BTVMM_SIZED(BTVMM_UNARY, "neg") break;
    case AluOp::kNot: BTVMM_SIZED(BTVMM_UNARY, "not") break;
    case AluOp::kRol: BTVMM_SIZED(BTVMM_SHIFT, "rol") break;
    case AluOp::kRor: BTVMM_SIZED(BTVMM_SHIFT, "ror") break;
    case AluOp::kRcl: BTVMM_SIZED(BTVMM_SHIFT, "rcl") break;
    case AluOp::kRcr: BTVMM_SIZED(BTVMM_SHIFT, "rcr") break;
    case AluOp::kShl: BTVMM_SIZED(BTVMM_SHIFT, "shl") break;
    case AluOp::kShr: BTVMM_SIZED(BTVMM_SHIFT, "shr") break;
    case AluOp::kSar: BTVMM_SIZED(BTVMM_SHIFT, "sar") break;
    case AluOp::kBt: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "bt") break;
    case AluOp::kBts: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "bts") break;
    case AluOp::kBtr: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "btr") break;
    case AluOp::kBtc: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "btc") break;
    case AluOp::kBsf: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "bsf") break;
    case AluOp::kBsr: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "bsr") break;
    case AluOp::kImul: BTVMM_WORD_OR_DWORD(BTVMM_BINARY, "imul") break;
  }
  const uint32_t mask = bits == 8 ? 0xffu : bits == 16 ? 0xffffu : 0xffffffffu;
  // cmp/test/bt write no destination: the host instruction left `a` as it was.
  return {uint32_t(a) & mask, (eflags & ~kArithFlags) | (uint32_t(fout) & kArithFlags)};
}

namespace {

#define BTVMM_DOUBLE_SHIFT(MN, MOD)                                             \
  asm volatile(BTVMM_FLAGS_IN MN " %%cl, %" MOD "[b], %" MOD "[a]" BTVMM_FLAGS_OUT \
               : [a] "+r"(a), [fout] "=&r"(fout)                                \
               : [b] "r"(b), "c"(c), [fin] "r"(fin)                             \
               : "cc")

}  // namespace

AluResult host_double_shift(bool left, unsigned bits, uint32_t dst, uint32_t src, uint32_t count, uint32_t eflags) {
  uint64_t a = dst, b = src, c = count & 0xff, fout = 0;
  const uint64_t fin = eflags & kArithFlags;
  if (left) {
    BTVMM_WORD_OR_DWORD(BTVMM_DOUBLE_SHIFT, "shld")
  } else {
    BTVMM_WORD_OR_DWORD(BTVMM_DOUBLE_SHIFT, "shrd")
  }
  const uint32_t mask = bits == 16 ? 0xffffu : 0xffffffffu;
  return {uint32_t(a) & mask, (eflags & ~kArithFlags) | (uint32_t(fout) & kArithFlags)};
}

namespace {

#define BTVMM_MULDIV(MN, MOD)                                                  \
  asm volatile(BTVMM_FLAGS_IN MN " %" MOD "[s]" BTVMM_FLAGS_OUT                 \
               : "+a"(ax), "+d"(dx), [fout] "=&r"(fout)                        \
               : [s] "r"(s), [fin] "r"(fin)                                    \
               : "cc")

// #DE conditions of DIV/IDIV (SDM vol. 2 DIV, IDIV), checked before the host divides: the host
// would raise the same #DE as a SIGFPE in btvmm itself.
bool divide_error(MulDivOp op, unsigned bits, uint32_t eax, uint32_t edx, uint32_t src) {
  const uint64_t smask = bits == 32 ? 0xffffffffull : (1ull << bits) - 1;
  const uint64_t divisor_u = src & smask;
  if (divisor_u == 0) return true;
  const uint64_t dividend_u = bits == 8    ? (eax & 0xffff)
                              : bits == 16 ? ((uint64_t(edx & 0xffff) << 16) | (eax & 0xffff))
                                           : ((uint64_t(edx) << 32) | eax);
  if (op == MulDivOp::kDiv) return dividend_u / divisor_u > smask;
  // Signed: sign-extend dividend (2 * bits) and divisor (bits); the quotient must fit in bits.
  const unsigned dbits = 2 * bits;
  const int64_t dividend = dbits == 64 ? int64_t(dividend_u) : int64_t(dividend_u << (64 - dbits)) >> (64 - dbits);
  const int64_t divisor = int64_t(divisor_u << (64 - bits)) >> (64 - bits);
  if (divisor == -1) {
    if (dbits == 64 && dividend == INT64_MIN) return true;
    const int64_t q = -dividend;
    return q > int64_t(smask >> 1) || q < -int64_t(smask >> 1) - 1;
  }
  const int64_t q = dividend / divisor;
  return q > int64_t(smask >> 1) || q < -int64_t(smask >> 1) - 1;
}

}  // namespace

MulDivResult host_muldiv(MulDivOp op, unsigned bits, uint32_t eax, uint32_t edx, uint32_t src, uint32_t eflags) {
  if ((op == MulDivOp::kDiv || op == MulDivOp::kIdiv) && divide_error(op, bits, eax, edx, src)) {
    return {true, eax, edx, eflags};
  }
  uint64_t ax = eax, dx = edx, s = src, fout = 0;
  const uint64_t fin = eflags & kArithFlags;
  switch (op) {
    case MulDivOp::kMul: BTVMM_SIZED(BTVMM_MULDIV, "mul") break;
    case MulDivOp::kImul: BTVMM_SIZED(BTVMM_MULDIV, "imul") break;
    case MulDivOp::kDiv: BTVMM_SIZED(BTVMM_MULDIV, "div") break;
    case MulDivOp::kIdiv: BTVMM_SIZED(BTVMM_MULDIV, "idiv") break;
  }
  return {false, uint32_t(ax), uint32_t(dx), (eflags & ~kArithFlags) | (uint32_t(fout) & kArithFlags)};
}

#undef BTVMM_FLAGS_IN
#undef BTVMM_FLAGS_OUT
#undef BTVMM_BINARY
#undef BTVMM_UNARY
#undef BTVMM_SHIFT
#undef BTVMM_SIZED
#undef BTVMM_WORD_OR_DWORD
#undef BTVMM_MULDIV
#undef BTVMM_DOUBLE_SHIFT

}  // namespace btvmm::runtime
