// The vCPU's reset-to-boot state from a loader's BootCpuState (the protected-mode entry both
// boot protocols specify). One conversion, shared by every backend that uses runtime::VcpuState.
#pragma once

#include "host/boot_plan.h"
#include "runtime/vcpu_state.h"

namespace btvmm::host {

runtime::VcpuState vcpu_from_boot_plan(const BootCpuState& cpu);

}  // namespace btvmm::host
