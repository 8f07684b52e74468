// Hardware task switch between 32-bit TSSes (Intel SDM vol. 3 7.3, vol. 2 JMP/CALL/IRET/INT n
// "SWITCH-TASKS"): used by task gates in the IDT (Linux's i386 #DF handler), far JMP/CALL to a
// TSS or task gate, and IRET with NT=1. Never switches from or to a 16-bit TSS or into
// virtual-8086 mode: those are reported as unimplemented, with the vCPU unchanged.
#pragma once

#include <cstdint>
#include <optional>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// What started the switch (SDM vol. 3 table 7-2: busy flag, NT flag and back link differ).
enum class TaskSwitchSource : uint8_t { kJmp, kCall, kIret, kInterrupt };

struct TaskSwitchOutcome {
  // Before `switched`: the switch did not happen and nothing changed; report it in the old task.
  // With `switched`: raised after the new task's state was loaded (segment qualification, the
  // error-code push, the EIP limit): deliver it in the new task, at its EIP (SDM vol. 3 7.3 step 13).
  Fault fault;
  bool switched = false;
  const char* unimplemented = nullptr;  // set with switched = false and no fault
};

// Switches to the task whose TSS descriptor `tss_selector` names. The caller has done its own
// checks (gate/TSS DPL for JMP/CALL, gate DPL for INT n). This checks the descriptor: it must be
// in the GDT and be a TSS, busy for IRET (else #TS(sel)) and available otherwise (else #GP(sel)),
// present (#NP(sel)), with a limit of at least 0x67 (#TS(sel)). `saved_eip` goes to the old TSS;
// `error_code` (exceptions through a task gate) is pushed on the new task's stack; `ext` sets the
// EXT bit of error codes (events not caused by the instruction).
TaskSwitchOutcome switch_task(VcpuState& vcpu, CpuEnv& env, uint16_t tss_selector, TaskSwitchSource source,
                              uint32_t saved_eip, std::optional<uint32_t> error_code, bool ext);

}  // namespace btvmm::runtime
