// MOVS/STOS/LODS/CMPS/SCAS executed by the monitor, element by element, with REP/REPE/REPNE,
// DF, the address size (SI/DI/CX or ESI/EDI/ECX) and a source segment override (SDM vol. 2
// MOVS..SCAS and REP/REPE/REPNE). Each element commits its effects before the next starts, so a
// fault leaves ECX/ESI/EDI at the faulting element, as hardware does. Never uses a segment
// override for ES:EDI, which cannot be overridden.
#include <algorithm>
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

// Guest paging granule (SDM vol. 3 4.3: 4-KByte pages; a 4-MByte page only makes a run shorter).
constexpr uint32_t kGuestPageSize = 4096;

// Whole elements from the one at linear `la` / offset `off`, moving down or up, that stay in
// that element's page and do not wrap the address size; 0 when the first element straddles pages.
uint32_t elements_in_page(uint32_t la, uint32_t off, unsigned size, bool down, uint32_t amask) {
  const uint32_t in_page = la & (kGuestPageSize - 1);
  if (in_page + size > kGuestPageSize) return 0;
  const uint64_t page_room = down ? in_page / size + 1 : (kGuestPageSize - in_page) / size;
  const uint64_t wrap_room = down ? off / size + 1 : (uint64_t(amask) - off + 1) / size;
  return static_cast<uint32_t>(std::min(page_room, wrap_room));
}

// REP MOVS/STOS of up to a page per side as one copy or fill (an emulated clear_page or
// copy_page would otherwise be 1024 single accesses). Returns how many elements it did: 0 when
// the run cannot be done at once, and then nothing changed; the caller moves one element exactly.
// A run only starts where every element of it would pass the segment checks, so faults stay
// per element.
uint32_t string_run(VcpuState& vcpu, CpuEnv& env, StringOp kind, unsigned size, uint32_t amask, SegReg src_seg,
                    uint32_t max_elements, uint32_t pattern) {
  const bool down = vcpu.eflags & kFlagDf;
  const uint32_t di = vcpu.gpr[kEdi] & amask, si = vcpu.gpr[kEsi] & amask;
  uint32_t dla = 0, sla = 0;
  if (linearize(vcpu.seg[kEs], kEs, di, size, Access::kWrite, &dla)) return 0;
  uint32_t n = std::min(max_elements, elements_in_page(dla, di, size, down, amask));
  if (kind == StringOp::kMovs) {
    if (linearize(vcpu.seg[src_seg], src_seg, si, size, Access::kRead, &sla)) return 0;
    n = std::min(n, elements_in_page(sla, si, size, down, amask));
  }
  if (n < 2) return 0;
  const uint32_t len = n * size, back = down ? (n - 1) * size : 0;
  if (linearize(vcpu.seg[kEs], kEs, di - back, len, Access::kWrite, &dla)) return 0;
  const bool user = vcpu.cpl == 3;
  if (kind == StringOp::kStos) return env.fill_linear(dla, pattern, size, len, user) ? n : 0;
  if (linearize(vcpu.seg[src_seg], src_seg, si - back, len, Access::kRead, &sla)) return 0;
  // Overlapping runs replicate bytes element by element (a forward move onto itself): not one copy.
  if (dla < sla + len && sla < dla + len) return 0;
  return env.copy_linear(dla, sla, len, user) ? n : 0;
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
  // Adds to SI/DI/CX within the address size, leaving the upper half of a 16-bit register alone.
  auto add = [&](Gpr r, uint32_t delta) { vcpu.gpr[r] = (vcpu.gpr[r] & ~amask) | ((vcpu.gpr[r] + delta) & amask); };
  auto advance = [&](Gpr r) { add(r, step); };

  for (uint32_t done = 0;; ++done) {
    if (rep && index(kEcx) == 0) break;
    if (done == kMaxStringIterations) return StepResult::cont();  // resumes at this instruction
    if (rep && (*kind == StringOp::kMovs || *kind == StringOp::kStos)) {
      const uint32_t n = string_run(vcpu, env, *kind, size, amask, src_seg,
                                    std::min(index(kEcx), kMaxStringIterations - done), read_gpr(vcpu, acc));
      if (n) {
        add(kEdi, n * step);
        if (*kind == StringOp::kMovs) add(kEsi, n * step);
        add(kEcx, -n);
        done += n - 1;  // the loop's ++done counts the last one
        continue;
      }
    }
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
    add(kEcx, uint32_t(-1));
    if (compare) {
      const bool zf = vcpu.eflags & kFlagZf;
      if (insn.has_repne() ? zf : !zf) break;
    }
  }
  vcpu.eip = insn.next_eip();
  return StepResult::cont();
}

}  // namespace btvmm::runtime::emulate
