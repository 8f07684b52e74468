// Emission of IDENT and IDENT+0x67 translations (see emit_ident.h). The bytes come from
// ident_host_bytes(); this file only places them in the CCF and records where.
#include "translator/emit_ident.h"

#include "translator/ident_bytes.h"

namespace btvmm::translator {

std::optional<EmittedRange> emit_ident(asmjit::x86::Assembler& a, const DecodedInstruction& insn,
                                       const Classification& cls, bool user) {
  if (cls.kind != Kind::kIdent && cls.kind != Kind::kIdentAddr32) return std::nullopt;
  const HostBytes hb = ident_host_bytes(insn, user);
  if (hb.size > kMaxInstructionLength) return std::nullopt;
  const size_t at = a.offset();
  if (a.embed(hb.data.data(), hb.size) != asmjit::kErrorOk) return std::nullopt;
  return EmittedRange{insn.eip(), at, hb.size};
}

}  // namespace btvmm::translator
