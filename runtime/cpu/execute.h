// Entry points of btvmm's CPU semantics for the translation cache and the dispatcher (issue 5
// part 4): execute one guest instruction the classification sends to the monitor (kCallout,
// kVirtualCpu) with exact IA-32 protected-mode semantics, and deliver exceptions/interrupts.
// Pure logic over VcpuState and CpuEnv: no host state, no signals.
//
// Contract (stable; the TC calls it):
//  * Before the call, vcpu holds the full guest state: all flags in vcpu.eflags, GPRs in
//    vcpu.gpr, vcpu.eip = insn.eip().
//  * kContinue: done; eip is insn.next_eip() or the target of a control transfer. INT n/INT3/
//    INTO/INT1 deliver their interrupt here (eip at the handler).
//  * kHalt: HLT; vcpu.halted is set and eip follows the hlt. Deliver an interrupt to wake it.
//  * kException: nothing architectural changed (ESI/EDI/ECX of a partially done REP INS/OUTS
//    excepted, as on hardware); eip is still insn.eip(); pass `exception` to deliver_exception().
//  * kShutdown: triple fault or a delivery btvmm cannot do (see interrupts.h); the machine stops.
//  * Interrupt shadow: execute_instruction clears vcpu.interrupt_shadow on entry (this instruction
//    was the one it protected) and sets it after STI (IF 0 -> 1), MOV SS and POP SS.
//  * Instructions this code does not implement raise #UD and count cpu.unimplemented (the unit
//    tests list which ones may).
#pragma once

#include <cstdint>

#include "runtime/cpu/interrupts.h"
#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

StepResult execute_instruction(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);

}  // namespace btvmm::runtime
