// Executed-instruction accounting for --stats (issue 5): each CCF counts its own runs with a
// flag-free increment at the start of its body (emit_ccf.cpp); its profile folds runs x its
// instructions of each kind into the exec.* counters when the CCF is destroyed (TC flush, engine
// exit), so flushed and invalidated CCFs are never lost. Counting only: never emits code.
//
// A run that leaves early (a guest fault, an emulated access, a popfd the monitor finishes, an
// interrupt after an sti shadow, a write to its own code) is counted by instruction index, by its
// exit stub or by the fault handler, and the instructions it did not run are subtracted at fold.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "translator/decode.h"
#include "translator/translation_unit.h"

namespace btvmm::translator {

// How an instruction was translated (what emit_ccf did, not only its classification kind).
enum class ExecKind : uint8_t {
  kIdent,           // copied, with or without 0x67 (Kind::kIdent, kIdentAddr32)
  kReencode,        // re-encoded with 32-bit semantics, segment-base compensation
  kBranchDirect,    // chained or dispatched direct branch
  kBranchIndirect,  // indirect jmp/call and ret: inline lookup
  kVirtualCpu,      // in-TC sequence on the virtual CPU (cli, sti, pushfd, popfd...)
  kMonitor,         // exit to the monitor, which executes it (callout)
  kSimulate,        // adaptive retranslation: a store done by the monitor (IDENT -> SIMULATE)
};
inline constexpr unsigned kExecKindCount = 7;

// What a callout does, for "exec.callouts.*" (DESIGN.md 3 list of callouts).
enum class CalloutKind : uint8_t {
  kNone,
  kIo,               // in/out/ins/outs
  kControlRegister,  // mov to/from CRn/DRn, lmsw, smsw, clts
  kDescriptorTable,  // lgdt/lidt/lldt/ltr and the store forms, lar/lsl/verr/verw
  kSegmentLoad,      // mov/push/pop of a segment register, lds/les/lfs/lgs/lss
  kInterrupt,        // int n, int3, into, ud2 and other #UD raisers
  kIret,
  kHlt,
  kCpuid,
  kMsr,              // rdmsr/wrmsr
  kTsc,              // rdtsc/rdtscp
  kInvlpg,
  kFarTransfer,      // far jmp/call/ret
  kSysenter,         // sysenter/sysexit
  kCache,            // wbinvd/invd
  kFlags,            // pushf/popf/cli/sti the TC leaves to the monitor
  kOther,
};
inline constexpr unsigned kCalloutKindCount = 17;

// How a run of a CCF left before the end of its instruction `index` in the TC.
enum class EarlyExit : uint8_t {
  kSkipped,      // instruction `index` did not execute (guest fault, interrupt taken before it)
  kMonitorRuns,  // the monitor executes instruction `index` (emulated access, popfd slow path)
};

CalloutKind callout_kind(const DecodedInstruction& insn);
const char* to_string(ExecKind k);
const char* to_string(CalloutKind k);

class ExecProfile {
 public:
  ExecProfile() = default;
  ~ExecProfile() { fold(); }
  ExecProfile(const ExecProfile&) = delete;
  ExecProfile& operator=(const ExecProfile&) = delete;

  // The run counter the CCF's code increments (monitor memory, stable while the CCF lives).
  uint64_t* runs_address() { return &runs_; }
  uint64_t runs() const { return runs_; }
  void set_cpl(uint8_t cpl) { cpl_ = cpl; }
  // The TU's first guest instruction, under which fold reports it (hot_translations.h).
  void set_guest_eip(uint32_t eip) { eip_ = eip; }
  // The CCF's next instruction, in guest order.
  void add(ExecKind k);
  // The CCF ends with a monitor exit of this kind (executed once per run that reaches it).
  void set_callout(CalloutKind k) { callout_ = k; }
  unsigned instructions(ExecKind k) const { return by_kind_[static_cast<unsigned>(k)]; }
  unsigned size() const { return count_; }
  ExecKind kind_at(unsigned index) const { return order_.at(index); }

  // The counter of runs that leave at instruction `index` in manner `how` (for an exit stub to
  // increment: stable while the profile lives). `callout` is the kind of callout the monitor then
  // executes, counted in exec.callouts.* (kNone: not a callout, e.g. an emulated access).
  uint64_t* early_exit_counter(unsigned index, EarlyExit how, CalloutKind callout = CalloutKind::kNone);
  // One run left at instruction `index` (the fault handler's exits).
  void note_early_exit(unsigned index, EarlyExit how) { ++*early_exit_counter(index, how); }

  // Adds the instructions the runs executed, by kind, to the exec.* counters and starts counting
  // from zero: runs x instructions, less those after each early exit.
  void fold();

 private:
  // Allocated for the few CCFs that can leave early (saves ~200 bytes in every other CCF).
  struct Exits {
    std::array<uint64_t, kMaxTuInstructions> skipped{};
    std::array<uint64_t, kMaxTuInstructions> monitor_runs{};
    std::array<CalloutKind, kMaxTuInstructions> callout{};
  };

  uint64_t runs_ = 0;
  uint32_t eip_ = 0;
  uint8_t cpl_ = 0;
  uint8_t count_ = 0;
  CalloutKind callout_ = CalloutKind::kNone;
  std::array<uint8_t, kExecKindCount> by_kind_{};
  std::array<ExecKind, kMaxTuInstructions> order_{};
  std::unique_ptr<Exits> exits_;
};

// Guest instructions executed from the TC at `cpl` (CPL 0-2 count together): exec.cpl0/cpl3.instructions.
uint64_t executed_instructions(uint8_t cpl);

// Sets the counters derived from others: exec.transfers_chained (CCF runs that were neither
// entered by the dispatcher, tc.entries, nor found by the inline lookup, tc.indirect_hits). Call
// once the CCFs are folded, before printing statistics.
void publish_derived_exec_counters();

}  // namespace btvmm::translator
