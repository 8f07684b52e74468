// Text form of a new CCF for the trace dump (`-d in_asm,out_asm`, `--trace-tc FILE`; CONVENTIONS.md,
// issue 5): the TU's guest instructions with their translation kinds, then the host code
// disassembled by Capstone (an independent disassembler, which cross-checks the asmjit emitter),
// each run of host instructions headed by the guest instruction it stands for; and of each TC
// event (`-d tc`): retranslation, invalidation, stale marking, re-check, flush. The one formatter
// of CCFs and TC events: formatting only, never changes the TC.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "translator/ccf.h"
#include "translator/translation_unit.h"

namespace btvmm::translator {

// "IN:" block (format_translation_unit) and/or "OUT:" block. Host code that no guest instruction
// owns is headed "attention check" (the entry, and after an sti shadow), "run counter", or
// "exits" (stubs after the last instruction).
std::string format_ccf(const TranslationUnit& tu, const Ccf& ccf, bool in_asm, bool out_asm);

// Something that changed CCFs other than a translation (DESIGN.md 3, "TC coherency", "Adaptive
// translation"). Fields a kind does not use stay zero/empty.
struct TcEvent {
  enum class Kind : uint8_t {
    kRetranslation,  // guest `addr` took `traps` traced-write traps: its CCF dropped, SIMULATE next time
    kInvalidation,   // a write to guest-physical page `page` killed the CCFs holding code there
    kStale,          // a paging change (`reason`; `addr`: INVLPG address or the new CRn) cut CCFs
    kRevalidation,   // the stale CCF at guest `addr` re-checked at its next entry: reused if `kept`
    kFlush,          // the TC emptied (`reason`) with the dispatcher at guest `addr`: `count` CCFs,
                     // `bytes` of the TC's `total` in use
  };
  Kind kind = Kind::kFlush;
  uint32_t addr = 0;
  uint32_t page = 0;
  uint64_t traps = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t total = 0;
  bool kept = false;
  std::string_view reason;
  std::span<const Ccf* const> ccfs;  // the CCFs the event dropped, killed, cut or re-checked
};

// One line, or a header line and indented lines listing the CCFs (guest EIP, CPL, host address, as
// in the CCF headers), each ending in a newline.
std::string format_tc_event(const TcEvent& e);

}  // namespace btvmm::translator
