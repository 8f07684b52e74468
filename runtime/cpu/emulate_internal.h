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

// MOVS/STOS/LODS/CMPS/SCAS (one-byte opcodes A4-A7, AA-AF), with REP/REPE/REPNE; nullopt if
// `insn` is not one of them.
std::optional<StepResult> string_instruction(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);

}  // namespace btvmm::runtime::emulate
