// Register and effective-address access for decoded guest instructions (see operands.h).
// Pure arithmetic on VcpuState: never reads guest memory, never raises a guest exception.
#include "runtime/cpu/operands.h"

namespace btvmm::runtime {

unsigned gpr_width(ZydisRegister reg) {
  switch (ZydisRegisterGetClass(reg)) {
    case ZYDIS_REGCLASS_GPR8: return 8;
    case ZYDIS_REGCLASS_GPR16: return 16;
    case ZYDIS_REGCLASS_GPR32: return 32;
    default: return 0;
  }
}

uint32_t read_gpr(const VcpuState& vcpu, ZydisRegister reg) {
  const int id = ZydisRegisterGetId(reg);
  switch (ZydisRegisterGetClass(reg)) {
    case ZYDIS_REGCLASS_GPR8:
      // Without REX, ids 4-7 are AH, CH, DH, BH: bits 8-15 of EAX..EBX (SDM vol. 2 table 2-2).
      return id < 4 ? vcpu.gpr[id] & 0xff : (vcpu.gpr[id - 4] >> 8) & 0xff;
    case ZYDIS_REGCLASS_GPR16: return vcpu.gpr[id] & 0xffff;
    case ZYDIS_REGCLASS_GPR32: return vcpu.gpr[id];
    default: return 0;
  }
}

void write_gpr(VcpuState& vcpu, ZydisRegister reg, uint32_t value) {
  const int id = ZydisRegisterGetId(reg);
  switch (ZydisRegisterGetClass(reg)) {
    case ZYDIS_REGCLASS_GPR8:
      if (id < 4) {
        vcpu.gpr[id] = (vcpu.gpr[id] & ~0xffu) | (value & 0xff);
      } else {
        vcpu.gpr[id - 4] = (vcpu.gpr[id - 4] & ~0xff00u) | ((value & 0xff) << 8);
      }
      break;
    case ZYDIS_REGCLASS_GPR16: vcpu.gpr[id] = (vcpu.gpr[id] & ~0xffffu) | (value & 0xffff); break;
    case ZYDIS_REGCLASS_GPR32: vcpu.gpr[id] = value; break;
    default: break;
  }
}

std::optional<SegReg> seg_reg_of(ZydisRegister reg) {
  switch (reg) {
    case ZYDIS_REGISTER_ES: return kEs;
    case ZYDIS_REGISTER_CS: return kCs;
    case ZYDIS_REGISTER_SS: return kSs;
    case ZYDIS_REGISTER_DS: return kDs;
    case ZYDIS_REGISTER_FS: return kFs;
    case ZYDIS_REGISTER_GS: return kGs;
    default: return std::nullopt;
  }
}

uint32_t effective_address(const VcpuState& vcpu, const translator::DecodedInstruction& insn,
                           const ZydisDecodedOperand& mem) {
  uint32_t ea = 0;
  if (mem.mem.base != ZYDIS_REGISTER_NONE) ea += read_gpr(vcpu, mem.mem.base);
  if (mem.mem.index != ZYDIS_REGISTER_NONE) ea += read_gpr(vcpu, mem.mem.index) * (mem.mem.scale ? mem.mem.scale : 1);
  if (mem.mem.disp.has_displacement) ea += static_cast<uint32_t>(mem.mem.disp.value);
  if (insn.address_width() == 16) ea &= 0xffff;
  return ea;
}

SegReg operand_segment(const ZydisDecodedOperand& mem) {
  return seg_reg_of(mem.mem.segment).value_or(kDs);
}

const ZydisDecodedOperand* find_operand(const translator::DecodedInstruction& insn, ZydisOperandType type) {
  for (const auto& op : insn.visible_operands()) {
    if (op.type == type) return &op;
  }
  return nullptr;
}

}  // namespace btvmm::runtime
