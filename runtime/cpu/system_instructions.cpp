// Privileged system instructions (see system_instructions.h). Each checks CPL 0 first where the
// SDM makes it privileged (#GP(0) otherwise), then its operand rules.
#include "runtime/cpu/system_instructions.h"

#include "runtime/cpu/counters.h"
#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/operand_access.h"
#include "runtime/cpu/operands.h"
#include "runtime/cpu/segments.h"

namespace btvmm::runtime {
namespace {

constexpr uint32_t kCr0Defined =
    kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts | kCr0Et | kCr0Ne | kCr0Wp | kCr0Am | kCr0Nw | kCr0Cd | kCr0Pg;

Fault require_cpl0(const VcpuState& vcpu) {
  if (vcpu.cpl != 0) return gp(0);
  return std::nullopt;
}

const ZydisDecodedOperand& op(const DecodedInstruction& insn, unsigned i) { return insn.operands()[i]; }

}  // namespace

Fault write_cr0(VcpuState& vcpu, CpuEnv& env, uint32_t value) {
  // SDM vol. 2 MOV CRn: PG without PE, or NW without CD, is #GP(0). Reserved bits keep their
  // value; ET is hard-wired to 1 since the P6 (SDM vol. 3 2.5).
  if ((value & kCr0Pg) && !(value & kCr0Pe)) return gp(0);
  if ((value & kCr0Nw) && !(value & kCr0Cd)) return gp(0);
  const uint32_t old = vcpu.cr0;
  vcpu.cr0 = (old & ~kCr0Defined) | (value & kCr0Defined) | kCr0Et;
  counters::cr_writes.inc();
  if ((old ^ vcpu.cr0) & (kCr0Pg | kCr0Wp | kCr0Pe)) env.paging_changed(PagingEvent::kCr0, 0);
  return std::nullopt;
}

Fault write_cr4(VcpuState& vcpu, CpuEnv& env, uint32_t value) {
  if (value & ~kCr4Supported) return gp(0);
  const uint32_t old = vcpu.cr4;
  vcpu.cr4 = value;
  counters::cr_writes.inc();
  // SDM vol. 3 4.10.4.1: changing PSE or PGE invalidates the TLBs, global entries included.
  if ((old ^ value) & (kCr4Pse | kCr4Pge)) env.paging_changed(PagingEvent::kCr4, 0);
  return std::nullopt;
}

void write_cr3(VcpuState& vcpu, CpuEnv& env, uint32_t value) {
  // 32-bit paging (SDM vol. 3 table 4-3): page-directory base, PWT and PCD; other bits ignored.
  vcpu.cr3 = value & 0xfffff018;
  counters::cr_writes.inc();
  env.paging_changed(PagingEvent::kCr3, 0);
}

Fault exec_mov_control(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& dst = op(insn, 0);
  const auto& src = op(insn, 1);
  const bool to_cr = ZydisRegisterGetClass(dst.reg.value) == ZYDIS_REGCLASS_CONTROL;
  const int n = ZydisRegisterGetId(to_cr ? dst.reg.value : src.reg.value);
  if (n != 0 && n != 2 && n != 3 && n != 4) return ud();  // CR1, CR5-CR15: SDM vol. 2 MOV CRn
  if (auto f = require_cpl0(vcpu)) return f;
  if (!to_cr) {
    const uint32_t v = n == 0 ? vcpu.cr0 : n == 2 ? vcpu.cr2 : n == 3 ? vcpu.cr3 : vcpu.cr4;
    write_gpr(vcpu, dst.reg.value, v);
    return std::nullopt;
  }
  const uint32_t v = read_gpr(vcpu, src.reg.value);
  switch (n) {
    case 0: return write_cr0(vcpu, env, v);
    case 2: vcpu.cr2 = v; counters::cr_writes.inc(); return std::nullopt;
    case 3: write_cr3(vcpu, env, v); return std::nullopt;
    default: return write_cr4(vcpu, env, v);
  }
}

Fault exec_mov_debug(VcpuState& vcpu, CpuEnv&, const DecodedInstruction& insn) {
  const auto& dst = op(insn, 0);
  const auto& src = op(insn, 1);
  const bool to_dr = ZydisRegisterGetClass(dst.reg.value) == ZYDIS_REGCLASS_DEBUG;
  int n = ZydisRegisterGetId(to_dr ? dst.reg.value : src.reg.value);
  if (n > 7) return ud();
  // SDM vol. 3 17.2.2: DR4/DR5 alias DR6/DR7 unless CR4.DE, which makes them #UD.
  if (n == 4 || n == 5) {
    if (vcpu.cr4 & kCr4De) return ud();
    n += 2;
  }
  if (auto f = require_cpl0(vcpu)) return f;
  if (!to_dr) {
    write_gpr(vcpu, dst.reg.value, vcpu.dr[n]);
    return std::nullopt;
  }
  uint32_t v = read_gpr(vcpu, src.reg.value);
  // SDM vol. 3 17.2.3/17.2.4: fixed bits of DR6 (reserved ones read as 1) and DR7 (bit 10 set).
  if (n == 6) v = (v & 0x0000e00f) | 0xffff0ff0;
  if (n == 7) v = (v & 0xffff23ff) | 0x400;
  vcpu.dr[n] = v;
  return std::nullopt;
}

Fault exec_load_table_register(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& mem = op(insn, 0);
  if (mem.type != ZYDIS_OPERAND_TYPE_MEMORY) return ud();
  if (auto f = require_cpl0(vcpu)) return f;
  uint16_t limit = 0;
  uint32_t base = 0;
  if (auto f = read_memory_operand(vcpu, env, insn, mem, 0, &limit, 2)) return f;
  if (auto f = read_memory_operand(vcpu, env, insn, mem, 2, &base, 4)) return f;
  // SDM vol. 2 LGDT: with a 16-bit operand size only 24 bits of base are loaded.
  if (insn.operand_width() == 16) base &= 0x00ffffff;
  DescriptorTableReg& r = insn.mnemonic() == ZYDIS_MNEMONIC_LGDT ? vcpu.gdtr : vcpu.idtr;
  r.base = base;
  r.limit = limit;
  return std::nullopt;
}

Fault exec_store_table_register(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& mem = op(insn, 0);
  if (mem.type != ZYDIS_OPERAND_TYPE_MEMORY) return ud();
  const DescriptorTableReg& r = insn.mnemonic() == ZYDIS_MNEMONIC_SGDT ? vcpu.gdtr : vcpu.idtr;
  // SDM vol. 2 SGDT: the full 32-bit base is stored in 32-bit code, whatever the operand size.
  if (auto f = write_memory_operand(vcpu, env, insn, mem, 0, &r.limit, 2)) return f;
  return write_memory_operand(vcpu, env, insn, mem, 2, &r.base, 4);
}

Fault exec_lldt(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  if (auto f = require_cpl0(vcpu)) return f;
  uint32_t raw = 0;
  if (auto f = read_operand(vcpu, env, insn, op(insn, 0), &raw)) return f;
  const uint16_t sel = uint16_t(raw);
  if ((sel & 0xfffc) == 0) {
    vcpu.ldtr = null_segment_cache(sel);
    return std::nullopt;
  }
  // SDM vol. 2 LLDT: the selector must name an LDT descriptor in the GDT.
  if (sel & 4) return gp_sel(sel);
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, sel, &d)) return f;
  if (d.s() || d.type() != kLdt) return gp_sel(sel);
  if (!d.present()) return np_sel(sel);
  vcpu.ldtr = make_segment_cache(sel, d);
  return std::nullopt;
}

Fault exec_ltr(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  if (auto f = require_cpl0(vcpu)) return f;
  uint32_t raw = 0;
  if (auto f = read_operand(vcpu, env, insn, op(insn, 0), &raw)) return f;
  const uint16_t sel = uint16_t(raw);
  if ((sel & 0xfffc) == 0) return gp(0);
  if (sel & 4) return gp_sel(sel);
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, sel, &d)) return f;
  // SDM vol. 2 LTR: an available TSS; LTR marks it busy in the GDT.
  if (d.s() || (d.type() != kTss32Avail && d.type() != kTss16Avail)) return gp_sel(sel);
  if (!d.present()) return np_sel(sel);
  d.hi |= 2u << 8;
  if (auto f = store_descriptor_high(vcpu, env, sel, d.hi)) return f;
  vcpu.tr = make_segment_cache(sel, d);
  return std::nullopt;
}

Fault exec_store_selector(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const uint16_t sel = insn.mnemonic() == ZYDIS_MNEMONIC_SLDT ? vcpu.ldtr.selector : vcpu.tr.selector;
  // Register destinations get the selector zero-extended; memory gets 16 bits (SDM vol. 2 SLDT).
  return write_operand(vcpu, env, insn, op(insn, 0), sel, 16);
}

Fault exec_smsw(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  // 32-bit register destinations receive all of CR0, as P6 and later processors do.
  return write_operand(vcpu, env, insn, op(insn, 0), vcpu.cr0, 16);
}

Fault exec_lmsw(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  if (auto f = require_cpl0(vcpu)) return f;
  uint32_t src = 0;
  if (auto f = read_operand(vcpu, env, insn, op(insn, 0), &src)) return f;
  // SDM vol. 2 LMSW: loads PE, MP, EM, TS only, and cannot clear PE.
  const uint32_t v = (vcpu.cr0 & ~(kCr0Mp | kCr0Em | kCr0Ts)) | (src & (kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts));
  return write_cr0(vcpu, env, v);
}

Fault exec_clts(VcpuState& vcpu, CpuEnv&) {
  if (auto f = require_cpl0(vcpu)) return f;
  vcpu.cr0 &= ~kCr0Ts;
  counters::cr_writes.inc();
  return std::nullopt;
}

Fault exec_invlpg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const auto& mem = op(insn, 0);
  if (mem.type != ZYDIS_OPERAND_TYPE_MEMORY) return ud();
  if (auto f = require_cpl0(vcpu)) return f;
  // SDM vol. 2 INVLPG: the operand is a linear address (segment base added, no limit check).
  const uint32_t la = vcpu.seg[operand_segment(mem)].base + effective_address(vcpu, insn, mem);
  env.paging_changed(PagingEvent::kInvlpg, la);
  return std::nullopt;
}

Fault exec_selector_query(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn) {
  const ZydisMnemonic m = insn.mnemonic();
  const bool has_dest = m == ZYDIS_MNEMONIC_LAR || m == ZYDIS_MNEMONIC_LSL;
  const auto& src = op(insn, has_dest ? 1 : 0);
  uint32_t raw = 0;
  if (auto f = read_operand(vcpu, env, insn, src, &raw)) return f;
  SelectorCheck r;
  Fault f;
  switch (m) {
    case ZYDIS_MNEMONIC_LAR: f = lar(vcpu, env, uint16_t(raw), &r); break;
    case ZYDIS_MNEMONIC_LSL: f = lsl(vcpu, env, uint16_t(raw), &r); break;
    case ZYDIS_MNEMONIC_VERR: f = verr(vcpu, env, uint16_t(raw), &r); break;
    default: f = verw(vcpu, env, uint16_t(raw), &r); break;
  }
  if (f) return f;
  if (r.ok) {
    vcpu.eflags |= kFlagZf;
    if (has_dest) {
      const auto& dst = op(insn, 0);
      // SDM vol. 2 LAR: a 16-bit destination receives bits 15:0 of the masked rights.
      write_gpr(vcpu, dst.reg.value, gpr_width(dst.reg.value) == 16 ? r.value & 0xffff : r.value);
    }
  } else {
    vcpu.eflags &= ~kFlagZf;
  }
  return std::nullopt;
}

}  // namespace btvmm::runtime
