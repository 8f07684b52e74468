// Direct execution of guest CPL 3 code as the engine sees it (DESIGN.md 3): while a runner is set,
// the dispatcher hands every pass at CPL 3 to it instead of the TC, and acts on how the run ended
// as it does on a TC exit. The runner's shadow receives the same CR0/CR3/CR4/INVLPG events as the
// two window shadows. Implemented over runtime/direct by the host (host/direct_user_runner.h), so
// the engine does not depend on the stub process.
#pragma once

#include <cstdint>

#include "mmu/shadow_mmu.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime::engine {

struct UserRunResult {
  enum Kind : uint8_t {
    kException,          // deliver `exception` (vcpu.eip as hardware reports it)
    kSoftwareInterrupt,  // int n: deliver `vector` as a software interrupt returning to `return_eip`
    kInterrupt,          // the timer or a kick: service devices, take a pending interrupt
    kMonitor,            // the instruction at vcpu.eip needs the monitor's CPU semantics
  };
  Kind kind = kInterrupt;
  GuestException exception{};
  uint8_t vector = 0;
  uint32_t return_eip = 0;
};

class UserRunner {
 public:
  virtual ~UserRunner() = default;
  // Runs guest user code from vcpu until the next exit the engine must see (hidden faults are
  // resolved inside); vcpu holds the guest state at that exit.
  virtual UserRunResult run(VcpuState& vcpu) = 0;
  virtual mmu::ShadowMmu& shadow() = 0;
};

}  // namespace btvmm::runtime::engine
