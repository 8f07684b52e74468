// IRET/IRETD in protected mode (Intel SDM vol. 2 IRET): return to the same ring, or to an outer
// ring popping SS:ESP and nulling data segments the outer ring may not use; with NT=1, a task
// return through the TSS back link (task_switch.h). Never enters v8086 mode.
//
// Refused (counted in cpu.unimplemented, the guest gets #GP(0)): a return to virtual-8086 mode
// (VM=1 in the popped EFLAGS at CPL 0), a task return to a 16-bit TSS, and IRET in real-address
// mode.
#pragma once

#include <cstdint>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// operand_size 32 for IRETD (CF), 16 for 66 CF; next_eip (after the IRET) is saved in the old
// TSS by a task return.
Fault execute_iret(VcpuState& vcpu, CpuEnv& env, unsigned operand_size, uint32_t next_eip);

}  // namespace btvmm::runtime
