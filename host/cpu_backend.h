// The interface both CPU backends (binary translation, KVM) offer the run loop: run the
// machine from a boot plan until the machine says stop.
#pragma once

#include "host/boot_plan.h"
#include "host/machine.h"

namespace btvmm::host {

class CpuBackend {
 public:
  virtual ~CpuBackend() = default;
  // Runs until machine.stop_reason() != kNone. Throws Error for host failures.
  virtual void run(Machine& machine, const BootPlan& plan) = 0;
};

}  // namespace btvmm::host
