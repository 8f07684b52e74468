// Shared pieces of the monitor's emulation of ordinary memory instructions (emulate_memory.cpp,
// emulate_string.cpp). Internal to runtime/cpu: callers use emulate_memory.h.
#pragma once

#include <optional>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime::emulate {

inline uint32_t width_mask(unsigned bits) {
  return bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
}

// How one emulated instruction ended, before emulate_memory_instruction's common commit (EIP,
// interrupt shadow, counters) or rollback (GPRs and EFLAGS restored; memory is never written
// before the last check that can fail).
struct Outcome {
  enum Kind { kDone, kFault, kUnsupported } kind = kDone;
  GuestException exception{};
};
inline Outcome done() { return {}; }
inline Outcome unsupported() { return {Outcome::kUnsupported, {}}; }
inline Outcome failed(const GuestException& e) { return {Outcome::kFault, e}; }
inline Outcome outcome_of(const Fault& f) { return f ? failed(*f) : done(); }

// Stack instructions: PUSH/POP of a register, immediate or memory, PUSHA/POPA, ENTER, LEAVE, and
// segment loads with a memory source (LDS/LES/LFS/LGS/LSS, MOV Sreg, m). nullopt if `insn` is
// none of them.
std::optional<Outcome> stack_or_segment_instruction(VcpuState& vcpu, CpuEnv& env,
                                                    const translator::DecodedInstruction& insn);

// x87, MMX and SSE instructions with a memory operand, executed on the host CPU with the guest's
// FPU/SSE state against a copy of the operand. nullopt if `insn` is not one of them.
std::optional<Outcome> fpu_instruction(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);

// MOVS/STOS/LODS/CMPS/SCAS (one-byte opcodes A4-A7, AA-AF), with REP/REPE/REPNE; nullopt if
// `insn` is not one of them.
std::optional<StepResult> string_instruction(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);

}  // namespace btvmm::runtime::emulate
