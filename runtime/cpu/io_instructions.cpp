// Port I/O (see io_instructions.h).
#include "runtime/cpu/io_instructions.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/eflags.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operands.h"

namespace btvmm::runtime {
namespace {

unsigned string_size(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_OUTSB: return 1;
    case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_OUTSW: return 2;
    default: return 4;
  }
}

uint32_t mask_of(unsigned size) { return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1; }

}  // namespace

Fault check_io_permission(const VcpuState& vcpu, CpuEnv& env, uint16_t port, unsigned size) {
  if (vcpu.cpl <= iopl_of(vcpu.eflags)) return std::nullopt;
  const SegmentCache& tr = vcpu.tr;
  const uint8_t type = tr.type();
  if (tr.unusable() || (type != kTss32Avail && type != kTss32Busy) || tr.limit < 103) return gp(0);
  // SDM vol. 1 19.5.2: the bitmap base is the word at offset 102; two bytes are read so that an
  // access crossing a byte boundary is checked too.
  uint16_t map_base = 0;
  if (auto f = read_system(env, tr.base + 102, &map_base, 2)) return f;
  const uint32_t first = uint32_t(map_base) + port / 8;
  if (first + 1 > tr.limit) return gp(0);
  uint16_t bits = 0;
  if (auto f = read_system(env, tr.base + first, &bits, 2)) return f;
  const uint16_t wanted = uint16_t(((1u << size) - 1) << (port % 8));
  if (bits & wanted) return gp(0);
  return std::nullopt;
}

Fault exec_in_out(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn) {
  const bool is_in = insn.mnemonic() == ZYDIS_MNEMONIC_IN;
  const auto& ops = insn.visible_operands();
  const ZydisDecodedOperand& acc = is_in ? ops[0] : ops[1];
  const ZydisDecodedOperand& port_op = is_in ? ops[1] : ops[0];
  const uint16_t port = port_op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? uint16_t(port_op.imm.value.u)
                                                                     : uint16_t(vcpu.gpr[kEdx]);
  const unsigned size = gpr_width(acc.reg.value) / 8;
  if (auto f = check_io_permission(vcpu, env, port, size)) return f;
  if (is_in) {
    counters::io_in.inc();
    write_gpr(vcpu, acc.reg.value, env.io_read(port, size) & mask_of(size));
  } else {
    counters::io_out.inc();
    env.io_write(port, size, read_gpr(vcpu, acc.reg.value));
  }
  return std::nullopt;
}

Fault exec_string_io(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn) {
  const ZydisMnemonic m = insn.mnemonic();
  const bool is_in = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
  const unsigned size = string_size(m);
  const uint16_t port = uint16_t(vcpu.gpr[kEdx]);
  if (auto f = check_io_permission(vcpu, env, port, size)) return f;
  // INS always writes ES:(E)DI; OUTS reads DS:(E)SI or the override (SDM vol. 2 INS/OUTS).
  SegReg seg = kEs;
  if (!is_in) {
    const ZydisRegister ov = insn.segment_override();
    seg = ov == ZYDIS_REGISTER_NONE ? kDs : *seg_reg_of(ov);
  }
  const bool a16 = insn.address_width() == 16;
  const Gpr index = is_in ? kEdi : kEsi;
  const uint32_t addr_mask = a16 ? 0xffff : 0xffffffff;
  const uint32_t step = (vcpu.eflags & kFlagDf) ? uint32_t(0) - size : size;
  const bool rep = insn.has_rep() || insn.has_repne();
  while (!rep || (vcpu.gpr[kEcx] & addr_mask) != 0) {
    const uint32_t offset = vcpu.gpr[index] & addr_mask;
    uint32_t la = 0;
    if (auto f = linearize(vcpu.seg[seg], seg, offset, size, is_in ? Access::kWrite : Access::kRead, &la)) return f;
    if (is_in) {
      counters::io_in.inc();
      const uint32_t v = env.io_read(port, size) & mask_of(size);
      if (auto f = env.write_linear(la, &v, size, vcpu.cpl == 3)) return f;
    } else {
      uint32_t v = 0;
      if (auto f = env.read_linear(la, &v, size, vcpu.cpl == 3)) return f;
      counters::io_out.inc();
      env.io_write(port, size, v);
    }
    vcpu.gpr[index] = (vcpu.gpr[index] & ~addr_mask) | ((offset + step) & addr_mask);
    if (!rep) break;
    const uint32_t count = (vcpu.gpr[kEcx] - 1) & addr_mask;
    vcpu.gpr[kEcx] = (vcpu.gpr[kEcx] & ~addr_mask) | count;
  }
  return std::nullopt;
}

}  // namespace btvmm::runtime
