// Executed-instruction counters (see exec_profile.h). The counters are the same strings in code,
// --stats and --metrics JSON (STYLE.md, Names).
#include "translator/exec_profile.h"

#include <algorithm>

#include "core/stats.h"
#include "translator/hot_translations.h"

namespace btvmm::translator {

namespace {

stats::Counter c_runs{"exec.ccf_runs", "CCF bodies executed (each CCF counts its own runs)"};
stats::Counter c_chained{"exec.transfers_chained",
                         "CCF runs entered through a chained jump: exec.ccf_runs - tc.entries - tc.indirect_hits"};

// [cpl 0 / cpl 3][ExecKind]
stats::Counter c_kind[2][kExecKindCount] = {
    {{"exec.cpl0.ident", "CPL 0 instructions executed as IDENT copies"},
     {"exec.cpl0.reencode", "CPL 0 instructions executed re-encoded with 32-bit semantics"},
     {"exec.cpl0.branch_direct", "CPL 0 direct branches executed"},
     {"exec.cpl0.branch_indirect", "CPL 0 indirect branches and returns executed"},
     {"exec.cpl0.virtual_cpu", "CPL 0 instructions executed as in-TC virtual-CPU sequences"},
     {"exec.cpl0.monitor", "CPL 0 instructions executed by the monitor after an exit (callouts)"},
     {"exec.cpl0.simulate", "CPL 0 stores executed as SIMULATE after adaptive retranslation"}},
    {{"exec.cpl3.ident", "CPL 3 instructions executed as IDENT copies (in the TC)"},
     {"exec.cpl3.reencode", "CPL 3 instructions executed re-encoded with 32-bit semantics (in the TC)"},
     {"exec.cpl3.branch_direct", "CPL 3 direct branches executed (in the TC)"},
     {"exec.cpl3.branch_indirect", "CPL 3 indirect branches and returns executed (in the TC)"},
     {"exec.cpl3.virtual_cpu", "CPL 3 instructions executed as in-TC virtual-CPU sequences"},
     {"exec.cpl3.monitor", "CPL 3 instructions executed by the monitor after an exit from the TC"},
     {"exec.cpl3.simulate", "CPL 3 stores executed as SIMULATE after adaptive retranslation"}},
};
stats::Counter c_total[2] = {{"exec.cpl0.instructions", "CPL 0 guest instructions executed from the TC"},
                             {"exec.cpl3.instructions", "CPL 3 guest instructions executed from the TC"}};
stats::Counter c_ident_percent[2] = {
    {"exec.cpl0.ident_percent", "share of executed CPL 0 instructions that ran as IDENT copies (%)"},
    {"exec.cpl3.ident_percent", "share of executed CPL 3 TC instructions that ran as IDENT copies (%)"}};
stats::Counter c_in_tc_percent[2] = {
    {"exec.cpl0.in_tc_percent", "share of executed CPL 0 instructions that ran without a monitor exit (%)"},
    {"exec.cpl3.in_tc_percent", "share of executed CPL 3 TC instructions that ran without a monitor exit (%)"}};

// Indexed by CalloutKind - 1 (kNone has no counter).
stats::Counter c_callout[kCalloutKindCount - 1] = {
    {"exec.callouts.io", "callouts executed: in/out/ins/outs"},
    {"exec.callouts.control_register", "callouts executed: mov CRn/DRn, lmsw, smsw, clts"},
    {"exec.callouts.descriptor_table", "callouts executed: lgdt/lidt/lldt/ltr, sgdt/sidt/sldt/str, lar/lsl/verr/verw"},
    {"exec.callouts.segment", "callouts executed: mov/push/pop of a segment register, lds/les/lfs/lgs/lss"},
    {"exec.callouts.interrupt", "callouts executed: int n, int3, into, ud2"},
    {"exec.callouts.iret", "callouts executed: iret"},
    {"exec.callouts.hlt", "callouts executed: hlt"},
    {"exec.callouts.cpuid", "callouts executed: cpuid"},
    {"exec.callouts.msr", "callouts executed: rdmsr/wrmsr"},
    {"exec.callouts.tsc", "callouts executed: rdtsc/rdtscp"},
    {"exec.callouts.invlpg", "callouts executed: invlpg"},
    {"exec.callouts.far_transfer", "callouts executed: far jmp/call/ret"},
    {"exec.callouts.sysenter", "callouts executed: sysenter/sysexit"},
    {"exec.callouts.cache", "callouts executed: wbinvd/invd"},
    {"exec.callouts.flags", "callouts executed: pushf/popf/cli/sti the TC leaves to the monitor"},
    {"exec.callouts.other", "callouts executed: everything else"},
};

bool has_register_class(const DecodedInstruction& insn, ZydisRegisterClass cls) {
  for (const auto& op : insn.operands())
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op.reg.value) == cls) return true;
  return false;
}

}  // namespace

CalloutKind callout_kind(const DecodedInstruction& insn) {
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT: case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD: case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
      return CalloutKind::kIo;
    case ZYDIS_MNEMONIC_MOV:
      if (has_register_class(insn, ZYDIS_REGCLASS_SEGMENT)) return CalloutKind::kSegmentLoad;
      return CalloutKind::kControlRegister;
    case ZYDIS_MNEMONIC_LMSW: case ZYDIS_MNEMONIC_SMSW: case ZYDIS_MNEMONIC_CLTS:
      return CalloutKind::kControlRegister;
    case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT: case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_LTR:
    case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT: case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR:
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
      return CalloutKind::kDescriptorTable;
    case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP: case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
      return CalloutKind::kSegmentLoad;
    case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_INT1: case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_INTO:
    case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
      return CalloutKind::kInterrupt;
    case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD:
      return CalloutKind::kIret;
    case ZYDIS_MNEMONIC_HLT: return CalloutKind::kHlt;
    case ZYDIS_MNEMONIC_CPUID: return CalloutKind::kCpuid;
    case ZYDIS_MNEMONIC_RDMSR: case ZYDIS_MNEMONIC_WRMSR: return CalloutKind::kMsr;
    case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP: return CalloutKind::kTsc;
    case ZYDIS_MNEMONIC_INVLPG: return CalloutKind::kInvlpg;
    case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL: case ZYDIS_MNEMONIC_RET:
      return CalloutKind::kFarTransfer;
    case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_SYSEXIT: return CalloutKind::kSysenter;
    case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD: return CalloutKind::kCache;
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI:
      return CalloutKind::kFlags;
    default: return CalloutKind::kOther;
  }
}

const char* to_string(ExecKind k) {
  switch (k) {
    case ExecKind::kIdent: return "ident";
    case ExecKind::kReencode: return "reencode";
    case ExecKind::kBranchDirect: return "branch-direct";
    case ExecKind::kBranchIndirect: return "branch-indirect";
    case ExecKind::kVirtualCpu: return "virtual-cpu";
    case ExecKind::kMonitor: return "monitor";
    case ExecKind::kSimulate: return "simulate";
  }
  return "?";
}

const char* to_string(CalloutKind k) {
  if (k == CalloutKind::kNone) return "none";
  // "exec.callouts." is 14 characters.
  return c_callout[static_cast<unsigned>(k) - 1].name() + 14;
}

void ExecProfile::add(ExecKind k) {
  ++by_kind_[static_cast<unsigned>(k)];
  // A TU has at most kMaxTuInstructions; anything past that could never be an exit point.
  if (count_ < order_.size()) order_[count_++] = k;
}

uint64_t* ExecProfile::early_exit_counter(unsigned index, EarlyExit how, CalloutKind callout) {
  if (!exits_) exits_ = std::make_unique<Exits>();
  // An index past the instructions (never expected) is clamped so a stray count stays harmless.
  const unsigned i = std::min<unsigned>(index, kMaxTuInstructions - 1);
  if (how == EarlyExit::kSkipped) return &exits_->skipped[i];
  exits_->callout[i] = callout;
  return &exits_->monitor_runs[i];
}

void ExecProfile::fold() {
  if (runs_ == 0) return;
  const unsigned mode = cpl_ == 3 ? 1 : 0;
  c_runs.inc(runs_);
  std::array<uint64_t, kExecKindCount> n{};
  for (unsigned k = 0; k < kExecKindCount; ++k) n[k] = runs_ * by_kind_[k];
  uint64_t left_early = 0;
  if (exits_) {
    // A run that left at instruction i ran none of i..end in the TC; the monitor ran i itself
    // when it took over (kMonitorRuns). The CCF's own final callout was not reached either.
    for (unsigned i = 0; i < count_; ++i) {
      const uint64_t skipped = exits_->skipped[i], by_monitor = exits_->monitor_runs[i];
      if (!skipped && !by_monitor) continue;
      for (unsigned j = i; j < count_; ++j) {
        uint64_t& kind = n[static_cast<unsigned>(order_[j])];
        kind -= std::min(kind, skipped + by_monitor);
      }
      n[static_cast<unsigned>(ExecKind::kMonitor)] += by_monitor;
      if (by_monitor && exits_->callout[i] != CalloutKind::kNone)
        c_callout[static_cast<unsigned>(exits_->callout[i]) - 1].inc(by_monitor);
      left_early += skipped + by_monitor;
    }
    *exits_ = Exits{};
  }
  uint64_t total = 0;
  for (unsigned k = 0; k < kExecKindCount; ++k) {
    c_kind[mode][k].inc(n[k]);
    total += n[k];
  }
  c_total[mode].inc(total);
  note_executed(eip_, cpl_, runs_, total, n[static_cast<unsigned>(ExecKind::kIdent)], count_);
  if (callout_ != CalloutKind::kNone) c_callout[static_cast<unsigned>(callout_) - 1].inc(runs_ - std::min(runs_, left_early));
  if (const uint64_t all = c_total[mode].value()) {
    const uint64_t ident = c_kind[mode][static_cast<unsigned>(ExecKind::kIdent)].value();
    const uint64_t monitor = c_kind[mode][static_cast<unsigned>(ExecKind::kMonitor)].value() +
                             c_kind[mode][static_cast<unsigned>(ExecKind::kSimulate)].value();
    c_ident_percent[mode].set(100 * ident / all);
    c_in_tc_percent[mode].set(100 * (all - std::min(monitor, all)) / all);
  }
  runs_ = 0;
}

uint64_t executed_instructions(uint8_t cpl) { return c_total[cpl == 3 ? 1 : 0].value(); }

void publish_derived_exec_counters() {
  uint64_t entries = 0, hits = 0;
  for (const stats::Snapshot& s : stats::snapshot()) {
    if (s.name == "tc.entries") entries = s.value;
    if (s.name == "tc.indirect_hits") hits = s.value;
  }
  const uint64_t runs = c_runs.value();
  c_chained.set(runs > entries + hits ? runs - entries - hits : 0);
}

}  // namespace btvmm::translator
