// Far JMP, far CALL and far RET (including RET imm16) in protected mode with the privilege
// checks of Intel SDM vol. 2 JMP/CALL/RET and vol. 3 5.8, plus the pieces IRET shares with RET:
// checking the return code segment and nulling data segments on a return to an outer ring.
// A failed check leaves the vCPU unchanged (apart from memory the pushes already wrote).
//
// JMP/CALL to a TSS or a task gate switch tasks (task_switch.h; 16-bit TSSes are refused with
// #GP(selector) and counted in cpu.unimplemented). Call gates work, including CALL to a more
// privileged ring (32-bit TSS stack switch with parameter copy).
#pragma once

#include <cstdint>

#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// operand_size (16 or 32) sizes the pushes/pops and truncates the new EIP; next_eip (the
// instruction after the JMP) is what a task switch saves in the old TSS.
Fault far_jump(VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t offset, unsigned operand_size,
               uint32_t next_eip);
Fault far_call(VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t offset, unsigned operand_size,
               uint32_t return_eip);
Fault far_return(VcpuState& vcpu, CpuEnv& env, unsigned operand_size, uint16_t release_bytes);

// The code segment a far RET or IRET returns to (SDM vol. 2 RET "RETURN-TO-... " checks):
// non-null, code, RPL >= CPL, DPL = RPL (non-conforming) or DPL <= RPL (conforming), present.
Fault check_return_code_segment(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* out);

// After a return to an outer ring: DS/ES/FS/GS holding data or non-conforming code segments with
// DPL < new CPL become null (SDM vol. 2 IRET/RET), so the outer ring cannot keep using them.
void null_inaccessible_data_segments(VcpuState& vcpu);

}  // namespace btvmm::runtime
