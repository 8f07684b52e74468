// Translation-unit formation (DESIGN.md 3): from a guest EIP, fetch, decode and classify up to 12
// instructions, stopping at control flow, at a page boundary or at a fetch/decode failure.
// Never reads guest memory except through the fetch callback, and never emits code.
//
// Ending rules (each has a unit test in tests/translator/translation_unit_test.cpp):
// * after an instruction whose rule says Flow::kEndsTu or kEndsTuInShadow (every branch and
//   return, far transfers, int n, iret, hlt, mov to CRn, segment loads, lmsw, invlpg, out, wrmsr,
//   sysenter/sysexit, 16-bit popf, #UD raisers: see classify_table.cpp);
// * after 12 instructions; sti (Flow::kShadowsNext) is never the 12th: it would lose its successor,
//   so the TU ends before it (with 11);
// * at a page boundary: a TU never takes instructions from two guest pages, so write-protecting
//   the one page keeps its CCF coherent. An instruction that straddles a page boundary ends the
//   TU before it; in a TU of its own (it is then the first instruction) it is fetched from both
//   pages, is the TU's only instruction, and spans_two_pages tells the TC to watch both pages;
// * before an instruction that cannot be fetched or decoded. If that is the first instruction, the
//   TU has no instructions and carries the fault to raise: #PF (code fetch; CR2 = the first byte
//   that could not be fetched: the EIP, or the start of the next page for a straddling
//   instruction), #UD (not an instruction), #GP(0) (longer than 15 bytes, SDM vol. 3 6.15).
//   The runtime computes the #PF error code (it knows P and U/S). Raising the fault only when
//   its instruction is first keeps faults precise: the instructions before it still run.
// * mov ss and pop ss end the TU with ends_in_interrupt_shadow set: the runtime must not
//   deliver an interrupt before the next instruction has run (SDM vol. 3 6.8.3). sti does not end
//   the TU (the emitter checks for interrupts after its successor); ends_in_interrupt_shadow is set
//   when sti is last anyway (its page ends, or its successor cannot be fetched).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "translator/classify.h"
#include "translator/decode.h"

namespace btvmm::translator {

inline constexpr unsigned kMaxTuInstructions = 12;
inline constexpr uint32_t kGuestPageSize = 4096;

// Copies guest code at linear address `linear` into `out`; the range never crosses a page
// boundary. Returns false if the page cannot be fetched (not present, not executable...).
using FetchFn = std::function<bool(uint32_t linear, std::span<uint8_t> out)>;

enum class TuEnd : uint8_t {
  kControlFlow,       // last instruction's Flow ends the TU
  kMaxInstructions,   // 12 instructions
  kPageBoundary,      // next instruction starts on, or reaches into, the next page
  kBeforeFault,       // next instruction cannot be fetched or decoded (it will start a TU of its own)
  kFault,             // the first instruction cannot be fetched or decoded: the TU raises `fault`
};
const char* to_string(TuEnd e);

struct GuestFault {
  enum class Vector : uint8_t { kInvalidOpcode = 6, kGeneralProtection = 13, kPageFault = 14 };
  Vector vector;
  uint32_t eip;     // the faulting instruction
  uint32_t linear;  // for #PF: the linear address that could not be fetched (CR2)
};

struct TuInstruction {
  DecodedInstruction insn;
  Classification cls;
  uint32_t eip() const { return insn.eip(); }
  unsigned length() const { return insn.length(); }
  Kind kind() const { return cls.kind; }
};

struct TranslationUnit {
  uint32_t start_eip = 0;
  std::vector<TuInstruction> instructions;
  TuEnd end = TuEnd::kFault;
  std::optional<GuestFault> fault;        // only with TuEnd::kFault
  bool spans_two_pages = false;           // only for a TU holding one straddling instruction
  bool ends_in_interrupt_shadow = false;  // last instruction is sti / mov ss / pop ss (see above)
  // EIP after the last instruction (where execution continues if it falls through).
  uint32_t fallthrough_eip() const {
    return instructions.empty() ? start_eip : instructions.back().insn.next_eip();
  }
};

TranslationUnit form_translation_unit(uint32_t eip, const FetchFn& fetch);

// The TU as text for trace dumps (-d in_asm), one guest instruction a line:
//   "c0101234  8b 43 04              mov eax, [ebx+0x04]                 ident+addr32"
// then "end: <TuEnd>" with the fault or the interrupt shadow if any.
std::string format_translation_unit(const TranslationUnit& tu);

}  // namespace btvmm::translator
