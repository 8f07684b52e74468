// Filling and emptying of the in-TC segment-load cache (see segment_load_cache.h).
#include "runtime/cpu/segment_load_cache.h"

#include "core/stats.h"

namespace btvmm::runtime {
namespace {

stats::Counter c_fills{"tc.segment_cache_fills", "segment loads the monitor remembered for translated code to repeat"};
stats::Counter c_flushes{"tc.segment_cache_flushes", "segment-load caches emptied because GDTR, LDTR or CR0.PE changed"};

bool stamps_match(const VcpuState& v) {
  const SegmentLoadCache& c = v.seg_loads;
  return c.protected_mode == (v.cr0 & 1) && c.gdt_base == v.gdtr.base && c.gdt_limit == v.gdtr.limit &&
         c.ldt_selector == v.ldtr.selector && c.ldt_base == v.ldtr.base && c.ldt_limit == v.ldtr.limit &&
         c.ldt_attrs == v.ldtr.attrs;
}

}  // namespace

void sync_segment_load_cache(VcpuState& vcpu) {
  if (stamps_match(vcpu)) return;
  SegmentLoadCache& c = vcpu.seg_loads;
  bool had_entries = false;
  for (auto& reg : c.entries)
    for (SegmentLoadEntry& e : reg) {
      had_entries |= e.selector != 0;
      e = SegmentLoadEntry{};
    }
  if (had_entries) c_flushes.inc();
  c.protected_mode = vcpu.cr0 & 1;
  c.gdt_base = vcpu.gdtr.base;
  c.gdt_limit = vcpu.gdtr.limit;
  c.ldt_selector = vcpu.ldtr.selector;
  c.ldt_base = vcpu.ldtr.base;
  c.ldt_limit = vcpu.ldtr.limit;
  c.ldt_attrs = vcpu.ldtr.attrs;
}

void remember_segment_load(VcpuState& vcpu, SegReg reg, uint16_t selector, const Descriptor& d, uint32_t la) {
  if (vcpu.cpl != 0 || reg == kCs || reg == kSs || !(vcpu.cr0 & 1) || (vcpu.eflags & kFlagVm)) return;
  if ((reg == kDs || reg == kEs) && d.base() != 0) return;
  if (!d.accessed() || (selector & 0xfffc) == 0) return;
  // Translated code reads the descriptor at host address la in the supervisor window: it must not
  // touch page 0 (never mapped, DESIGN.md 2) nor run past 4 GiB into the guard.
  if (la < 0x1000 || la > 0xfffffff8u) return;
  sync_segment_load_cache(vcpu);
  SegmentLoadEntry* ways = vcpu.seg_loads.entries[reg];
  SegmentLoadEntry e;
  e.selector = selector;
  e.descriptor_la = la;
  e.descriptor = uint64_t(d.lo) | (uint64_t(d.hi) << 32);
  e.loaded = vcpu.seg[reg];
  // Most recent first: the TC tries way 0 first. A reload of a remembered selector refreshes it.
  unsigned keep = kSegmentLoadWays - 1;
  for (unsigned w = 0; w < kSegmentLoadWays; ++w)
    if (ways[w].selector == selector) keep = w;
  for (unsigned w = keep; w > 0; --w) ways[w] = ways[w - 1];
  ways[0] = e;
  c_fills.inc();
}

}  // namespace btvmm::runtime
