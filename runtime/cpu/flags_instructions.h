// Instructions on EFLAGS and on segment registers that the monitor executes: PUSHF/POPF,
// CLI/STI (IOPL-sensitive), PUSH/POP Sreg, MOV to/from Sreg, LDS/LES/LFS/LGS/LSS, and
// SYSENTER/SYSEXIT (Intel SDM vol. 2). Protected mode without virtual-8086 support: no VME/PVI.
#pragma once

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

using translator::DecodedInstruction;

Fault exec_pushf(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_popf(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
// CLI/STI: #GP(0) when CPL > IOPL. STI that sets IF opens a one-instruction interrupt shadow.
Fault exec_cli(VcpuState& vcpu);
Fault exec_sti(VcpuState& vcpu);
Fault exec_push_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
// POP SS and MOV SS open the interrupt shadow (SDM vol. 3 6.8.3).
Fault exec_pop_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_mov_to_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_mov_from_sreg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_load_far_pointer(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);  // LDS..LSS
// SYSENTER/SYSEXIT from the SYSENTER_CS/ESP/EIP MSRs with the flat segments the SDM defines.
// CPUID does not advertise SEP yet (direct execution does not catch user-mode sysenter), but a
// guest that executes them gets the architectural behaviour.
Fault exec_sysenter(VcpuState& vcpu);
Fault exec_sysexit(VcpuState& vcpu, const DecodedInstruction& insn);

}  // namespace btvmm::runtime
