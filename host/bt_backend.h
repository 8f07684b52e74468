// `--accel bt`: the Machine run by btvmm's binary translator (runtime/engine) in the guest
// window of this process, with the shadow MMU over the machine-memory memfd and the same
// device models as every backend.
#pragma once

#include <memory>

#include "host/cpu_backend.h"
#include "mmu/window.h"

namespace btvmm::host {

class TcTrace;

struct BtOptions {
  bool chaining = true;
  bool adaptive = true;      // retranslate stores that keep trapping on traced pages (IDENT -> SIMULATE)
  TcTrace* trace = nullptr;  // receives every new CCF when set; outlives the backend
  bool count_executions = false;  // EngineConfig::count_executions
  bool direct = false;  // guest CPL 3 code runs directly in the stub (direct_user_runner.h), not from the TC
};

// `windows` must be the process's guest windows, reserved first thing in main.
std::unique_ptr<CpuBackend> make_bt_backend(mmu::GuestWindows& windows, BtOptions options);

}  // namespace btvmm::host
