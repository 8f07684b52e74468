// Emission of string instructions (movs, cmps, stos, lods, scas) in CPL 3 code. Their ES:EDI operand
// cannot take a segment override (SDM vol. 2 MOVS/STOS: "the ES segment cannot be overridden"), so
// the GS prefix that sends other CPL 3 accesses into the user window (DESIGN.md 2) does not work for
// them. Instead RSI and RDI are rebased into the user window around an unprefixed copy, which then
// addresses with 64 bits (RSI, RDI, RCX; their upper halves are zero in the TC), and moved back
// after it. Only lea is used, so the guest's flags (in RFLAGS) are untouched. A rep that would wrap
// at 4 GiB runs into the user window's guards (mmu/window.h), where the fault handler undoes the
// rebase and has the monitor execute it; any other fault inside undoes it too (based_rsi_rdi).
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;

namespace {

void rebase(EmitContext& c, uint64_t delta) {
  c.a.mov(x86::r13, delta);
  c.a.lea(x86::rsi, x86::ptr(x86::rsi, x86::r13));
  c.a.lea(x86::rdi, x86::ptr(x86::rdi, x86::r13));
}

}  // namespace

bool emit_user_string(EmitContext& c, const DecodedInstruction& insn) {
  // 16-bit addressing (SI/DI/CX) and FS/GS sources stay with the monitor.
  if (insn.address_width() != 32) return false;
  const ZydisRegister seg = insn.segment_override();
  if (seg == ZYDIS_REGISTER_FS || seg == ZYDIS_REGISTER_GS) return false;
  const std::span<const uint8_t> b = insn.bytes();
  rebase(c, c.layout.user_base);
  // The guest bytes unchanged: without 0x67 they use RSI/RDI/RCX (SDM vol. 1 3.6.1); DS/ES/SS/CS
  // prefixes are ignored in 64-bit mode.
  c.a.embed(b.data(), b.size());
  rebase(c, uint64_t(0) - c.layout.user_base);
  // A non-rep op at the window's edge (e.g. stosb at 0 with DF=1) leaves 2^64 - 1: wrap to 32 bits.
  c.a.mov(x86::esi, x86::esi);
  c.a.mov(x86::edi, x86::edi);
  c.based_rsi_rdi = true;
  return true;
}

}  // namespace btvmm::translator
