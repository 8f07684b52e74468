// Emission of copied guest instructions (Kind::kIdent and kIdentAddr32) into a CCF being
// assembled with asmjit (DESIGN.md 3). Emits only what classify() allowed to be copied: any other
// kind is refused, so a guest byte 40-4F (a REX prefix in 64-bit mode) is never copied raw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <asmjit/x86.h>

#include "translator/classify.h"
#include "translator/decode.h"

namespace btvmm::translator {

// Where one guest instruction landed in the CCF: the map from host offsets back to guest EIPs
// that precise exceptions need (DESIGN.md 3).
struct EmittedRange {
  uint32_t guest_eip;
  size_t host_offset;
  size_t host_size;
  // A CPL 3 string instruction run with RSI/RDI rebased into the user window (emit_user_string.cpp):
  // a fault inside must subtract TcLayout::user_base from both before the guest sees them.
  bool based_rsi_rdi = false;
};

// Appends the host copy of `insn` (ident_host_bytes) at the assembler's current offset. Returns
// nullopt and emits nothing if `cls.kind` is not kIdent/kIdentAddr32 or asmjit fails.
std::optional<EmittedRange> emit_ident(asmjit::x86::Assembler& a, const DecodedInstruction& insn,
                                       const Classification& cls, bool user = false);

}  // namespace btvmm::translator
