// Monitor execution of one ordinary guest instruction whose memory access the shadow cannot map
// (guest linear page 0, guest-physical addresses outside RAM, MMIO): MOV, ALU, bit, stack and
// string instructions with exact IA-32 results and flags, through CpuEnv only. Never guesses:
// an instruction it does not know is reported as unsupported and leaves the vCPU untouched.
#pragma once

#include <optional>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

// Contract (same as execute_instruction, execute.h): vcpu.eflags holds all guest flags and
// vcpu.eip == insn.eip() on entry.
//  * kContinue: done, eip == insn.next_eip(), counted in "cpu.emulated_memory_instructions".
//    A REP string instruction runs at most kMaxStringIterations elements per call; if count
//    remains it returns kContinue with eip still at the instruction and ECX/ESI/EDI advanced,
//    which is how hardware leaves an interrupted REP (SDM vol. 2 REP): the caller just resumes.
//  * kException: no register, flag or memory change (a REP string instruction keeps the
//    elements it completed and ECX/ESI/EDI point at the faulting one, as on hardware); eip is
//    still insn.eip(); deliver `exception`.
//  * nullopt: this instruction is not emulated here. Nothing changed; counted in
//    "cpu.emulate_unsupported". The caller must stop with a btvmm error naming the instruction
//    (insn.text()): never a silent wrong result, never a guest #UD.
std::optional<StepResult> emulate_memory_instruction(VcpuState& vcpu, CpuEnv& env,
                                                     const translator::DecodedInstruction& insn);

inline constexpr uint32_t kMaxStringIterations = 1u << 16;

}  // namespace btvmm::runtime
