// The TC engine (DESIGN.md 3): runs the guest from the translation cache. Before each fragment it
// delivers a pending interrupt when the guest can take it, finds or translates the CCF for the
// current EIP, enters it, and acts on why translated code came back (branch to chain, instruction
// for the monitor, interrupt, fault). Owns the TC, the CCF cache and the indirect table; never
// touches guest memory except through CpuEnv and the shadow MMU.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mmu/machine_memory.h"
#include "mmu/shadow_mmu.h"
#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/engine/execution_host.h"
#include "runtime/engine/exit_decode_cache.h"
#include "runtime/engine/tc_events.h"
#include "runtime/engine/trampolines.h"
#include "runtime/engine/user_runner.h"
#include "runtime/vcpu_state.h"
#include "translator/ccf.h"
#include "translator/emit_context.h"
#include "translator/tc.h"
#include "translator/tc_lookup.h"
#include "translator/translation_unit.h"

namespace btvmm::runtime::engine {

struct EngineConfig {
  size_t tc_size = translator::kDefaultTcSize;
  bool chaining = true;  // -d nochain turns it off
  // Adaptive retranslation: an instruction that took this many traced-write traps is retranslated
  // as SIMULATE (0 turns it off; the ptemod nanobenchmark compares both).
  unsigned adaptive_threshold = 8;
  // Exact executed-instruction profile (exec.*, tc.indirect_hits): every CCF run and inline-lookup
  // hit does a memory increment, ~15% of a branchy workload's time, so the btvmm command turns it
  // on only for --stats (translator/exec_profile.h).
  bool count_executions = true;
  // rdtsc at CPL 0 runs in the TC on the hardware TSC: only when the CpuEnv's host_tsc() is that
  // TSC (MonitorEnv), not a test environment's own clock (translator::TcLayout::inline_rdtsc).
  bool inline_rdtsc = false;
};

enum class RunResult : uint8_t {
  kStopped,      // the host asked to stop
  kTripleFault,  // shutdown (SDM vol. 3 6.15, interrupt 8: a fault while delivering #DF)
  kUnsupported,  // a host fault the engine cannot handle yet (see last_error())
};

// What a trace hook (-d in_asm,out_asm) receives for each new CCF.
struct CcfTraceEvent {
  const translator::TranslationUnit& tu;
  const translator::Ccf& ccf;
};
using CcfTraceFn = std::function<void(const CcfTraceEvent&)>;

// The two shadows translated code runs on (DESIGN.md 2): the supervisor window (host address 0) for
// CPL 0-2 code and the user window for CPL 3 code, which CPL 3 CCFs reach through the host GS base.
// Both views are always mapped, so a CPL change changes no host mapping (no host TLB flush). Each
// mapper is the one its shadow maps through: a traced write from translated code is let through by
// mapping its page writable for one single-stepped instruction (tc_fault_handler.cpp).
struct WindowShadow {
  mmu::ShadowMmu& shadow;
  mmu::AddressSpaceMapper& mapper;
  uint64_t base = 0;  // host address of guest linear address 0 in this view's window
  // The guest linear address of host address a, if a lies in this view's 4 GiB window.
  std::optional<LinearAddr> linear(uint64_t a) const {
    if (a - base >= (uint64_t(1) << 32)) return std::nullopt;
    return LinearAddr(static_cast<uint32_t>(a - base));
  }
};

class Engine {
 public:
  // Both shadows share `supervisor.shadow.traces()`; user.base becomes the vCPU thread's GS base.
  Engine(VcpuState& vcpu, CpuEnv& env, ExecutionHost& host, mmu::GuestMemory& mem, WindowShadow supervisor,
         WindowShadow user, EngineConfig config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  RunResult run();
  // The guest changed CR0/CR3/CR4 or ran INVLPG: keeps the shadow and the TC coherent. Wire
  // MonitorEnv::set_paging_hook (or a test CpuEnv) here.
  void paging_changed(PagingEvent what, uint32_t addr);
  void set_trace(CcfTraceFn fn) { trace_ = std::move(fn); }
  // Retranslations, invalidations, stale marking and re-checks, flushes (-d tc).
  void set_event_trace(TcEventFn fn) { events_.set(std::move(fn)); }
  // Guest CPL 3 code runs under `runner` (direct execution) instead of the TC; its shadow must
  // already hold the current paging state. Null goes back to translating user code.
  void set_user_runner(UserRunner* runner) { user_runner_ = runner; }
  const std::string& last_error() const { return last_error_; }

  translator::CcfCache& cache() { return cache_; }
  translator::TcMemory& tc() { return tc_; }
  // The inline lookup of CCFs translated for `cpl`: one table per CPL, so entries of one mode never
  // match in another and a CPL change clears nothing.
  translator::TcLookup& lookup(uint8_t cpl);
  VcpuState& vcpu() { return vcpu_; }
  // The shadow serving guest accesses from `cpl` (DESIGN.md 2: U/S=0 pages are unreachable from
  // CPL 3 code because the user window never maps them).
  const WindowShadow& view(uint8_t cpl) const { return cpl == 3 ? user_ : supervisor_; }
  const WindowShadow& supervisor_view() const { return supervisor_; }
  const WindowShadow& user_view() const { return user_; }
  mmu::GuestMemory& memory() { return mem_; }
  mmu::WriteTraces& traces() { return supervisor_.shadow.traces(); }

  // Used by the fault handler (tc_fault_handler.cpp) while translated code runs.
  void record_fault(const GuestException& e, uint32_t eip);
  void record_unsupported(std::string what);
  // The instruction at `eip` touched memory the shadow cannot map (guest page 0, non-RAM, MMIO):
  // the dispatcher executes it in the monitor (runtime/cpu/emulate_memory.h).
  void record_emulation(uint32_t eip);
  // A traced write trapped at guest `eip` inside `ccf`: counts it, and past the threshold marks the
  // instruction SIMULATE and invalidates the CCF so it is retranslated.
  void note_traced_write(uint32_t eip, translator::Ccf* ccf);
  uint64_t exit_common() const { return trampolines_.exit_common(); }

 private:
  translator::Ccf* find_or_translate(uint32_t eip);
  translator::Ccf* translate(uint32_t eip);
  // Whether the CCF's linear code pages still map to the guest-physical pages it was translated
  // from, fetchable at its CPL; if so its mappings' global/large flags are brought up to date.
  // `memo`, when given, holds the walks already made for this paging state (many CCFs share a
  // code page: a CR3 load then walks each page once, not once per CCF).
  using WalkMemo = std::unordered_map<uint64_t, mmu::WalkResult>;
  bool recheck(translator::Ccf& c, WalkMemo* memo = nullptr);
  // Cuts `c` from chains and the inline lookup until the dispatcher re-checks it.
  void make_stale(translator::Ccf& c);
  uint64_t lookup_hits() const;
  // A write to guest-physical page ppn, which holds translated code: invalidate its CCFs.
  void code_written(uint32_t ppn);
  void flush_tc(std::string_view reason);
  template <typename F>
  void for_each_shadow(F f) {
    f(supervisor_.shadow);
    f(user_.shadow);
    if (user_runner_) f(user_runner_->shadow());
  }
  // Fetches guest code for TU formation (through the guest's paging, at the current CPL).
  bool fetch(uint32_t la, std::span<uint8_t> out);
  StepResult run_in_monitor();
  // One run of guest user code under user_runner_ and what its exit asks; false on shutdown.
  bool run_user_directly();
  // Executes `insn` (classified `kind`), the instruction at vcpu.eip that translated code left for.
  StepResult execute_exit(const translator::DecodedInstruction& insn, translator::Kind kind);
  // Keeps the decoded instructions of `c` that can exit to the monitor (exit_decode_cache.h).
  void remember_exits(const translator::TranslationUnit& tu, const translator::Ccf& c);
  // Fetches and decodes the instruction at vcpu.eip through the guest's paging; on failure
  // returns the guest exception that fetching or decoding raises.
  std::variant<translator::DecodedInstruction, StepResult> fetch_and_decode();
  // Executes the instruction at vcpu.eip whose access needs emulation; empty (last_error() set)
  // when it is not an instruction the monitor emulates.
  std::optional<StepResult> emulate_in_monitor();
  StepResult deliver_tu_fault(const translator::GuestFault& f);
  void on_branch_exit();
  // Adds what translated code counted in vcpu.seg_loads to the tc.* counters.
  void fold_tc_counts();
  StepResult unsimulate(uint32_t eip);
  bool deliver(const StepResult& r);  // false: shutdown

  VcpuState& vcpu_;
  CpuEnv& env_;
  ExecutionHost& host_;
  mmu::GuestMemory& mem_;
  WindowShadow supervisor_;
  WindowShadow user_;
  UserRunner* user_runner_ = nullptr;
  EngineConfig config_;
  translator::TcMemory tc_;
  Trampolines trampolines_;
  std::array<std::unique_ptr<translator::TcLookup>, 4> lookups_;  // by CPL, made on first use
  translator::TcLayout layout_;
  translator::CcfCache cache_;
  CcfTraceFn trace_;
  TcEvents events_;
  std::optional<GuestException> pending_fault_;
  // The linear address and CPL of the last #PF reflected to the guest, until the monitor writes
  // the entry that resolves it (then its page is mapped ahead: ShadowMmu::prefill) or a CR3 load.
  std::optional<uint32_t> prefill_la_;
  uint8_t prefill_cpl_ = 0;
  void prefill_after_entry_write();
  bool emulate_pending_ = false;
  std::string last_error_;
  std::optional<translator::GuestFault> tu_fault_;
  ExitDecodeCache exit_decodes_;
  // The last pass ran an instruction that may have changed a device's state or deadline.
  bool devices_touched_ = true;
  std::unordered_map<uint32_t, unsigned> trap_counts_;
  std::unordered_set<uint32_t> simulate_;
  std::unordered_set<uint32_t> never_simulate_;  // see unsimulate()
  std::vector<uint32_t> code_pages_;       // guest-physical pages with a kCode trace
  std::vector<uint32_t> untrace_pending_;  // pages whose CCFs all died: drop their trace
  uint64_t flush_generation_ = 0;
  uint32_t lookup_cs_base_ = 0;
  std::shared_ptr<Engine*> alive_;
  uint64_t hits_reported_ = 0;
};

}  // namespace btvmm::runtime::engine
