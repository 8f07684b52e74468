// Whole-operand access for monitor-executed instructions (see operand_access.h).
#include "runtime/cpu/operand_access.h"

#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operands.h"

namespace btvmm::runtime {

Fault read_memory_operand(const VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                          const ZydisDecodedOperand& op, uint32_t extra, void* dst, unsigned size) {
  uint32_t offset = effective_address(vcpu, insn, op) + extra;
  if (insn.address_width() == 16) offset &= 0xffff;
  return read_data(vcpu, env, operand_segment(op), offset, dst, size);
}

Fault write_memory_operand(const VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                           const ZydisDecodedOperand& op, uint32_t extra, const void* src, unsigned size) {
  uint32_t offset = effective_address(vcpu, insn, op) + extra;
  if (insn.address_width() == 16) offset &= 0xffff;
  return write_data(vcpu, env, operand_segment(op), offset, src, size);
}

Fault read_operand(const VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                   const ZydisDecodedOperand& op, uint32_t* value) {
  *value = 0;
  switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
      if (auto s = seg_reg_of(op.reg.value)) {
        *value = vcpu.seg[*s].selector;
      } else {
        *value = read_gpr(vcpu, op.reg.value);
      }
      return std::nullopt;
    case ZYDIS_OPERAND_TYPE_MEMORY: {
      const unsigned bytes = op.size > 32 ? 4 : op.size / 8;
      return read_memory_operand(vcpu, env, insn, op, 0, value, bytes);
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      *value = static_cast<uint32_t>(op.imm.value.u);
      return std::nullopt;
    default: return std::nullopt;
  }
}

Fault write_operand(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn,
                    const ZydisDecodedOperand& op, uint32_t value, unsigned bits) {
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    write_gpr(vcpu, op.reg.value, value);
    return std::nullopt;
  }
  if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    const unsigned bytes = (bits ? bits : op.size) / 8;
    return write_memory_operand(vcpu, env, insn, op, 0, &value, bytes > 4 ? 4 : bytes);
  }
  return std::nullopt;
}

}  // namespace btvmm::runtime
