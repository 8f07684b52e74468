// Delivery of exceptions and interrupts through the guest IDT in protected mode (Intel SDM
// vol. 3 6.12-6.15): interrupt and trap gates (32- and 16-bit), privilege change to the handler's
// ring through the 32-bit TSS, task gates (task switch between 32-bit TSSes, task_switch.h),
// double fault (table 6-5) and shutdown. Never checks IF or the interrupt shadow: whoever
// injects an external interrupt does that first.
//
// Not implemented, reported as kShutdown and counted in cpu.unimplemented: delivery from
// virtual-8086 mode, 16-bit TSS stack switches and task switches, and real-mode (IVT) delivery.
#pragma once

#include <cstdint>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

enum class EventKind : uint8_t {
  kException,  // processor exception (faults and traps): no gate-DPL check, EXT=1 in nested errors
  kSoftware,   // INT n, INT3, INTO: gate DPL must be >= CPL or #GP(vector*8+2) (SDM vol. 3 6.12.1.1)
  kExternal,   // PIC interrupt or NMI: EXT=1
};

struct Event {
  uint8_t vector = 0;
  EventKind kind = EventKind::kException;
  bool has_error_code = false;
  uint32_t error_code = 0;
  uint32_t return_eip = 0;  // EIP pushed: the faulting instruction (faults) or the next (traps, int n)
  uint32_t cr2 = 0;         // #PF only: loaded into CR2 before delivery
};

// Delivers `ev`. An exception raised while delivering it is handled as the SDM says: serially,
// as #DF (contributory/page-fault pairs, table 6-5), or as shutdown when #DF delivery faults.
// Returns kContinue (vcpu at the handler, halted cleared) or kShutdown.
StepResult deliver_event(VcpuState& vcpu, CpuEnv& env, const Event& ev);

// A fault raised by an instruction (execute_instruction's kException, a #PF from the TC...):
// pushes vcpu.eip, the address of the faulting instruction.
StepResult deliver_exception(VcpuState& vcpu, CpuEnv& env, const GuestException& e);

// A software (int n) or external (PIC) interrupt returning to `return_eip`. A fault raised by the
// delivery itself is reported at vcpu.eip (the int n instruction, or the interrupted EIP).
StepResult deliver_interrupt(VcpuState& vcpu, CpuEnv& env, uint8_t vector, bool software, uint32_t return_eip);

// Whether an exception vector pushes an error code (SDM vol. 3 table 6-1).
bool vector_has_error_code(uint8_t vector);

}  // namespace btvmm::runtime
