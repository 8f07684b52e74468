#include "host/direct_user_runner.h"

#include "core/stats.h"
#include "mmu/host_map_count.h"

namespace btvmm::host {

namespace {

stats::Counter c_direct_runs{"bt.direct_runs", "passes of the dispatcher that ran guest user code directly (--accel bt,direct=on)"};

mmu::ShadowConfig stub_shadow_config(mmu::VmaBudget& vmas) {
  mmu::ShadowConfig c;
  c.view = mmu::ShadowView::kUser;
  c.max_vmas = vmas.limit();
  c.shared_vmas = &vmas;
  return c;
}

}  // namespace

std::string direct_execution_unavailable_reason() {
  if (direct::host_runs_compat_code()) return {};
  return "this host runs no 32-bit (compat-mode) user code: IA-32 emulation is off";
}

DirectUserRunner::DirectUserRunner(mmu::GuestMemory& mem, mmu::WriteTraces& traces, const mmu::GuestPagingState& paging)
    : exec_(mem),
      vmas_(mmu::shadow_vma_budget(mmu::read_host_map_count())),
      shadow_(mem, exec_.mapper(), traces, paging, stub_shadow_config(vmas_)) {}

runtime::engine::UserRunResult DirectUserRunner::run(runtime::VcpuState& vcpu) {
  using R = runtime::engine::UserRunResult;
  c_direct_runs.inc();
  const direct::UserExit x = direct::run_user_resolving(exec_, vcpu, shadow_);
  R r;
  switch (x.kind) {
    case direct::UserExit::kException:
      r.kind = R::kException;
      r.exception = x.exception;
      break;
    case direct::UserExit::kSoftwareInterrupt:
      r.kind = R::kSoftwareInterrupt;
      r.vector = x.vector;
      r.return_eip = x.return_eip;
      break;
    case direct::UserExit::kInterrupt: r.kind = R::kInterrupt; break;
    case direct::UserExit::kEmulate:
    case direct::UserExit::kPageFault:  // run_user_resolving never returns it
      r.kind = R::kMonitor;
      break;
  }
  return r;
}

}  // namespace btvmm::host
