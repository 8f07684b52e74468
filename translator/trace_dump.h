// Text form of a new CCF for trace dumps (`-d in_asm,out_asm`, CONVENTIONS.md): the TU's guest
// instructions with their kinds, then the host code, each run of host instructions headed by the
// guest EIP it stands for. Formatting only: never changes the TC.
#pragma once

#include <string>

#include "translator/ccf.h"
#include "translator/translation_unit.h"

namespace btvmm::translator {

// "IN:" block (format_translation_unit) and/or "OUT:" block (host code decoded as 64-bit code).
std::string format_ccf(const TranslationUnit& tu, const Ccf& ccf, bool in_asm, bool out_asm);

}  // namespace btvmm::translator
