#include "host/vcpu_boot_state.h"

namespace btvmm::host {

namespace {
// SegmentCache packs descriptor bits 40-47 into attrs 0-7 and bits 52-55 into attrs 12-15.
runtime::SegmentCache to_cache(const SegmentInit& s) {
  runtime::SegmentCache c;
  c.selector = s.selector;
  c.base = s.base;
  c.limit = s.limit;
  c.attrs = uint32_t(s.type & 0xf) | (s.code_or_data ? 0x10u : 0u) | (uint32_t(s.dpl & 3) << 5) |
            (s.present ? 0x80u : 0u) | (s.db ? 0x4000u : 0u) | (s.granularity ? 0x8000u : 0u);
  return c;
}
}  // namespace

runtime::VcpuState vcpu_from_boot_plan(const BootCpuState& cpu) {
  runtime::VcpuState v;
  v.gpr[runtime::kEax] = cpu.eax;
  v.gpr[runtime::kEcx] = cpu.ecx;
  v.gpr[runtime::kEdx] = cpu.edx;
  v.gpr[runtime::kEbx] = cpu.ebx;
  v.gpr[runtime::kEsp] = cpu.esp;
  v.gpr[runtime::kEbp] = cpu.ebp;
  v.gpr[runtime::kEsi] = cpu.esi;
  v.gpr[runtime::kEdi] = cpu.edi;
  v.eip = cpu.eip;
  v.eflags = cpu.eflags | runtime::kFlagFixed1;
  v.seg[runtime::kCs] = to_cache(cpu.cs);
  v.seg[runtime::kDs] = to_cache(cpu.ds);
  v.seg[runtime::kEs] = to_cache(cpu.es);
  v.seg[runtime::kFs] = to_cache(cpu.fs);
  v.seg[runtime::kGs] = to_cache(cpu.gs);
  v.seg[runtime::kSs] = to_cache(cpu.ss);
  for (int s = 0; s < runtime::kSegCount; ++s) v.seg_base_cache[s] = v.seg[s].base;
  v.gdtr = {cpu.gdt_base, static_cast<uint16_t>(cpu.gdt_limit)};
  v.idtr = {cpu.idt_base, static_cast<uint16_t>(cpu.idt_limit)};
  // LDTR null, TR a null busy-less 32-bit TSS placeholder until the guest's LTR (SDM vol. 3 9.1.1).
  v.ldtr.attrs = 0x10000;
  v.tr.attrs = 0x8b;
  v.tr.limit = 0xffff;
  v.cr0 = cpu.cr0;
  v.cpl = 0;
  return v;
}

}  // namespace btvmm::host
