// Text form of a new CCF for the trace dump (`-d in_asm,out_asm`, `--trace-tc FILE`; CONVENTIONS.md,
// issue 5): the TU's guest instructions with their translation kinds, then the host code
// disassembled by Capstone (an independent disassembler, which cross-checks the asmjit emitter),
// each run of host instructions headed by the guest instruction it stands for. The one formatter
// of CCFs: formatting only, never changes the TC.
#pragma once

#include <string>

#include "translator/ccf.h"
#include "translator/translation_unit.h"

namespace btvmm::translator {

// "IN:" block (format_translation_unit) and/or "OUT:" block. Host code that no guest instruction
// owns is headed "attention check" (the entry, and after an sti shadow), "run counter", or
// "exits" (stubs after the last instruction).
std::string format_ccf(const TranslationUnit& tu, const Ccf& ccf, bool in_asm, bool out_asm);

}  // namespace btvmm::translator
