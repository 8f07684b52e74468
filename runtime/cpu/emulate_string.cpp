// MOVS/STOS/LODS/CMPS/SCAS executed by the monitor, element by element, with REP/REPE/REPNE,
// DF, the address size (SI/DI/CX or ESI/EDI/ECX) and a source segment override (SDM vol. 2
// MOVS..SCAS and REP/REPE/REPNE). Each element commits its effects before the next starts, so a
// fault leaves ECX/ESI/EDI at the faulting element, as hardware does. Never uses a segment
// override for ES:EDI, which cannot be overridden.
#include <optional>

#include "runtime/cpu/emulate_internal.h"
#include "runtime/cpu/emulate_memory.h"
#include "runtime/cpu/host_alu.h"
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operands.h"

namespace btvmm::runtime::emulate {
namespace {

enum class StringOp { kMovs, kCmps, kStos, kLods, kScas };

std::optional<StringOp> string_op_of(const ZydisDecodedInstruction& z) {
  if (z.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) return std::nullopt;
  switch (z.opcode & 0xfe) {
    case 0xa4: return StringOp::kMovs;
    case 0xa6: return StringOp::kCmps;
    case 0xaa: return StringOp::kStos;
    case 0xac: return StringOp::kLods;
    case 0xae: return StringOp::kScas;
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<StepResult> string_instruction(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn) {
  const auto kind = string_op_of(insn.zydis());
  if (!kind) return std::nullopt;
  const unsigned size = (insn.zydis().opcode & 1) ? insn.operand_width() / 8 : 1;
  const unsigned bits = size * 8;
  const uint32_t amask = width_mask(insn.address_width());
  const ZydisRegister acc = bits == 8 ? ZYDIS_REGISTER_AL : bits == 16 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
  const SegReg src_seg = seg_reg_of(insn.segment_override()).value_or(kDs);
  const bool compare = *kind == StringOp::kCmps || *kind == StringOp::kScas;
  // MOVS/STOS/LODS repeat under F3 or F2 alike; CMPS/SCAS distinguish REPE (F3) and REPNE (F2).
  const bool rep = insn.has_rep() || insn.has_repne();
  const uint32_t step = (vcpu.eflags & kFlagDf) ? uint32_t(-int32_t(size)) : size;

  auto index = [&](Gpr r) { return vcpu.gpr[r] & amask; };
  auto advance = [&](Gpr r) { vcpu.gpr[r] = (vcpu.gpr[r] & ~amask) | ((vcpu.gpr[r] + step) & amask); };

  for (uint32_t done = 0;; ++done) {
    if (rep && index(kEcx) == 0) break;
    if (done == kMaxStringIterations) return StepResult::cont();  // resumes at this instruction
    uint32_t a = 0, b = 0;
    switch (*kind) {
      case StringOp::kMovs:
        if (auto f = read_data(vcpu, env, src_seg, index(kEsi), &a, size)) return StepResult::fault(*f);
        if (auto f = write_data(vcpu, env, kEs, index(kEdi), &a, size)) return StepResult::fault(*f);
        advance(kEsi);
        advance(kEdi);
        break;
      case StringOp::kStos:
        a = read_gpr(vcpu, acc);
        if (auto f = write_data(vcpu, env, kEs, index(kEdi), &a, size)) return StepResult::fault(*f);
        advance(kEdi);
        break;
      case StringOp::kLods:
        if (auto f = read_data(vcpu, env, src_seg, index(kEsi), &a, size)) return StepResult::fault(*f);
        write_gpr(vcpu, acc, a);
        advance(kEsi);
        break;
      case StringOp::kCmps:
        // CMPS subtracts the ES:EDI element from the DS:ESI one (SDM vol. 2 CMPS).
        if (auto f = read_data(vcpu, env, src_seg, index(kEsi), &a, size)) return StepResult::fault(*f);
        if (auto f = read_data(vcpu, env, kEs, index(kEdi), &b, size)) return StepResult::fault(*f);
        vcpu.eflags = host_alu(AluOp::kCmp, bits, a, b, vcpu.eflags).eflags;
        advance(kEsi);
        advance(kEdi);
        break;
      case StringOp::kScas:
        if (auto f = read_data(vcpu, env, kEs, index(kEdi), &b, size)) return StepResult::fault(*f);
        vcpu.eflags = host_alu(AluOp::kCmp, bits, read_gpr(vcpu, acc), b, vcpu.eflags).eflags;
        advance(kEdi);
        break;
    }
    if (!rep) break;
    vcpu.gpr[kEcx] = (vcpu.gpr[kEcx] & ~amask) | ((vcpu.gpr[kEcx] - 1) & amask);
    if (compare) {
      const bool zf = vcpu.eflags & kFlagZf;
      if (insn.has_repne() ? zf : !zf) break;
    }
  }
  vcpu.eip = insn.next_eip();
  return StepResult::cont();
}

}  // namespace btvmm::runtime::emulate
