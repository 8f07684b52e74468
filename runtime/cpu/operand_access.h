// Reading and writing a whole explicit operand of a decoded instruction (register, memory or
// immediate) with segment checks, for the instructions the monitor executes. Memory only via
// CpuEnv; a failed access leaves the vCPU unchanged.
#pragma once

#include <cstdint>

#include <Zydis/Zydis.h>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

// Value of a register, memory (op.size bits, at most 32) or immediate operand, zero-extended.
Fault read_operand(const VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                   const ZydisDecodedOperand& op, uint32_t* value);
// Writes a register or memory operand; `bits` overrides the operand size (0 = op.size).
Fault write_operand(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                    const ZydisDecodedOperand& op, uint32_t value, unsigned bits = 0);
// Reads `size` bytes at the memory operand's segment:offset (+ extra), e.g. an m16:32 pointer.
Fault read_memory_operand(const VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                          const ZydisDecodedOperand& op, uint32_t extra, void* dst, unsigned size);
Fault write_memory_operand(const VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                           const ZydisDecodedOperand& op, uint32_t extra, const void* src, unsigned size);

}  // namespace btvmm::runtime
