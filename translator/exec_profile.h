// Executed-instruction accounting for --stats (issue 5): each CCF counts its own runs with a
// flag-free increment at the start of its body (emit_ccf.cpp); its profile folds runs x its
// instructions of each kind into the exec.* counters when the CCF is destroyed (TC flush, engine
// exit), so flushed and invalidated CCFs are never lost. Counting only: never emits code.
//
// A run counts every instruction of the CCF, so a run that leaves early (a guest fault, a popfd
// the monitor finishes, an interrupt after an sti shadow) counts the instructions it skipped too.
#pragma once

#include <array>
#include <cstdint>

#include "translator/decode.h"

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
  kSegmentLoad,      // mov/pop to a segment register, lds/les/lfs/lgs/lss
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
  void add(ExecKind k) { ++by_kind_[static_cast<unsigned>(k)]; }
  // The CCF ends with a monitor exit of this kind (executed once per run).
  void set_callout(CalloutKind k) { callout_ = k; }
  unsigned instructions(ExecKind k) const { return by_kind_[static_cast<unsigned>(k)]; }

  // Adds runs x instructions of each kind to the exec.* counters and starts counting from zero.
  void fold();

 private:
  uint64_t runs_ = 0;
  uint8_t cpl_ = 0;
  CalloutKind callout_ = CalloutKind::kNone;
  std::array<uint8_t, kExecKindCount> by_kind_{};
};

// Sets the counters derived from others: exec.transfers_chained (CCF runs that were neither
// entered by the dispatcher, tc.entries, nor found by the inline lookup, tc.indirect_hits). Call
// once the CCFs are folded, before printing statistics.
void publish_derived_exec_counters();

}  // namespace btvmm::translator
