// SIMULATE for adaptive retranslation (DESIGN.md 3, Adams & Agesen figure 1): the monitor performs
// a guest store that kept trapping on a traced page (page-table writes, "ptemod") through CpuEnv,
// which reports it to the write traces, so no host fault is taken. Handles the MOV store forms
// only; anything else is left to the caller.
#pragma once

#include <optional>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime::engine {

// MOV r/m, reg and MOV r/m, imm with a 32-bit address (SDM vol. 2 MOV: 88, 89, C6, C7).
// Returns empty if the instruction is not such a store.
std::optional<StepResult> simulate_store(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);

}  // namespace btvmm::runtime::engine
