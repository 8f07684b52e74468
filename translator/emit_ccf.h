// Translation of one translation unit into a CCF in the TC (DESIGN.md 3): switches on each
// instruction's classification and hands it to the emitter of its kind; an instruction the
// emitters cannot express in the TC becomes an exit to the monitor at its EIP. Emits only; never
// decides kinds (classify.h) and never registers the CCF (the dispatcher does, ccf.h).
#pragma once

#include <memory>

#include "translator/ccf.h"
#include "translator/emit_context.h"
#include "translator/tc.h"
#include "translator/translation_unit.h"

namespace btvmm::translator {

// Emits `tu` (at least one instruction) at tc.cursor() and claims the bytes. Returns null when it
// does not fit: the caller flushes the TC and tries again. The CCF's key and guest pages are the
// caller's to fill in. Counts "tc.translations", "tc.ccf_bytes", "tc.guest_instructions",
// "tc.ident_instructions", "tc.monitor_exit_instructions".
// `cpl` is the privilege level the code runs at (in-TC cli/sti/pushfd only at CPL 0).
std::unique_ptr<Ccf> emit_ccf(const TranslationUnit& tu, TcMemory& tc, const TcLayout& layout, uint8_t cpl = 0);

}  // namespace btvmm::translator
