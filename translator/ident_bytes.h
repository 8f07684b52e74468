// Host bytes for guest instructions that are copied (Kind::kIdent, kIdentAddr32): the guest bytes,
// with a 0x67 prefix when there is a memory operand (DESIGN.md 3: every guest address wraps at
// 4 GiB and lands in the window). Never changes what the instruction computes; the tests decode
// the result in 64-bit mode and compare it with the guest instruction.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "translator/decode.h"

namespace btvmm::translator {

// 64-bit mode reads ModRM mod=00 r/m=101 as RIP-relative (SDM vol. 2 2.2.1.6), whereas 32-bit code
// means an absolute disp32. Such an operand is rewritten to the SIB form r/m=100, SIB=0x25
// (no base, no index, disp32), which means the absolute disp32 in both modes.
bool has_absolute_disp32(const DecodedInstruction& insn);

// How many bytes the host copy adds: 1 for the 0x67 prefix, 1 more for the SIB rewrite.
unsigned ident_growth(const DecodedInstruction& insn);

struct HostBytes {
  std::array<uint8_t, kMaxInstructionLength + 3> data{};
  unsigned size = 0;
  std::span<const uint8_t> bytes() const { return {data.data(), size}; }
};

// The host copy of a guest instruction classified kIdent or kIdentAddr32 (the caller guarantees
// the kind; classify() already refused copies that would exceed 15 bytes at CPL 0).
// `user`: the copy runs in a CPL 3 CCF, so a memory operand also gets the GS prefix of the user
// window (DESIGN.md 2) in place of any segment prefix the guest wrote (DS/ES/SS/CS overrides mean
// nothing in 64-bit mode; FS/GS operands never come here, emit_segment.cpp). The result may then
// be 16 bytes long: the caller must check against kMaxInstructionLength.
HostBytes ident_host_bytes(const DecodedInstruction& insn, bool user = false);

}  // namespace btvmm::translator
