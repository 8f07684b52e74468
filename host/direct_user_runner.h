// `--accel bt,direct=on`: guest CPL 3 code runs directly on the CPU in compat mode, in the stub
// process of runtime/direct, instead of from the translation cache (DESIGN.md 3, 3a). Adapts a
// DirectExecutor and the stub's own user-view shadow to the engine's UserRunner. Needs a host
// that runs compat-mode code (IA-32 emulation on): direct_execution_unavailable_reason().
#pragma once

#include <string>

#include "mmu/machine_memory.h"
#include "mmu/shadow_mmu.h"
#include "mmu/vma_budget.h"
#include "mmu/write_traces.h"
#include "runtime/direct/direct_executor.h"
#include "runtime/engine/user_runner.h"

namespace btvmm::host {

// Empty when this host can run guest user code directly, else why not (shown to the user).
std::string direct_execution_unavailable_reason();

class DirectUserRunner final : public runtime::engine::UserRunner {
 public:
  DirectUserRunner(mmu::GuestMemory& mem, mmu::WriteTraces& traces, const mmu::GuestPagingState& paging);

  runtime::engine::UserRunResult run(runtime::VcpuState& vcpu) override;
  mmu::ShadowMmu& shadow() override { return shadow_; }
  // Ends a direct run soon (async-signal-safe: one kill(2)); the run returns kInterrupt.
  void kick() const { exec_.kick(); }

 private:
  direct::DirectExecutor exec_;
  mmu::VmaBudget vmas_;  // the stub is a process of its own: its own vm.max_map_count
  mmu::ShadowMmu shadow_;  // last: it goes first, while the stub can still take its unmaps
};

}  // namespace btvmm::host
