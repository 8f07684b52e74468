// Descriptor fetch, segment-register loads and selector queries (see segments.h). Every check
// cites the SDM; the vCPU changes only after all checks passed.
#include "runtime/cpu/segments.h"

#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/segment_load_cache.h"

namespace btvmm::runtime {
namespace {

bool is_null(uint16_t selector) { return (selector & 0xfffc) == 0; }

// Linear address of the descriptor, or false if it lies beyond the table limit.
bool descriptor_address(const VcpuState& vcpu, uint16_t selector, uint32_t* la) {
  const uint32_t offset = selector & 0xfff8;
  if (selector & 4) {
    if (vcpu.ldtr.unusable() || is_null(vcpu.ldtr.selector)) return false;
    if (offset + 7 > vcpu.ldtr.limit) return false;
    *la = vcpu.ldtr.base + offset;
    return true;
  }
  if (offset + 7 > vcpu.gdtr.limit) return false;
  *la = vcpu.gdtr.base + offset;
  return true;
}

// Shared part of LAR/LSL/VERR/VERW: fetch without faulting on limit, then the privilege test of
// SDM vol. 2 LAR: conforming code segments skip it, everything else needs DPL >= CPL and >= RPL.
Fault query(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* d, bool* visible) {
  *visible = false;
  uint32_t la = 0;
  if (is_null(selector) || !descriptor_address(vcpu, selector, &la)) return std::nullopt;
  uint32_t raw[2];
  if (auto f = read_system(env, la, raw, 8)) return f;
  d->lo = raw[0];
  d->hi = raw[1];
  *visible = d->conforming() || (d->dpl() >= vcpu.cpl && d->dpl() >= (selector & 3));
  return std::nullopt;
}

}  // namespace

Fault fetch_descriptor(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* out, uint8_t vector,
                       bool ext) {
  uint32_t la = 0;
  if (!descriptor_address(vcpu, selector, &la)) return fault_with_selector(vector, selector, ext);
  uint32_t raw[2];
  if (auto f = read_system(env, la, raw, 8)) return f;
  out->lo = raw[0];
  out->hi = raw[1];
  return std::nullopt;
}

Fault store_descriptor_high(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t hi) {
  uint32_t la = 0;
  if (!descriptor_address(vcpu, selector, &la)) return gp_sel(selector);
  return write_system(env, la + 4, &hi, 4);
}

Fault mark_accessed(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* d) {
  if (!d->s() || d->accessed()) return std::nullopt;
  d->hi |= 1u << 8;
  return store_descriptor_high(vcpu, env, selector, d->hi);
}

void set_segment(VcpuState& vcpu, SegReg reg, const SegmentCache& cache) {
  vcpu.seg[reg] = cache;
  vcpu.seg_base_cache[reg] = cache.base;
}

Fault check_stack_segment(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint8_t cpl, uint8_t vector,
                          bool ext, SegmentCache* out) {
  if (is_null(selector)) return GuestException{vector, true, ext ? 1u : 0u, 0};
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, selector, &d, vector, ext)) return f;
  // SDM vol. 3 6.12.1 / vol. 2 IRET, RET: RPL and DPL of the new SS equal the new CPL, and it
  // is a writable data segment.
  if ((selector & 3) != cpl || d.dpl() != cpl || !d.writable()) return fault_with_selector(vector, selector, ext);
  if (!d.present()) return fault_with_selector(kSsFault, selector, ext);
  if (auto f = mark_accessed(vcpu, env, selector, &d)) return f;
  *out = make_segment_cache(selector, d);
  return std::nullopt;
}

Fault inner_stack_from_tss(const VcpuState& vcpu, CpuEnv& env, uint8_t cpl, bool ext, StackCursor* out,
                           bool* unsupported) {
  *unsupported = false;
  const uint8_t tss_type = vcpu.tr.type();
  if (tss_type != kTss32Busy && tss_type != kTss32Avail) {
    *unsupported = true;
    return std::nullopt;
  }
  const uint32_t esp_off = 4 + 8u * cpl;
  if (esp_off + 5 > vcpu.tr.limit) return fault_with_selector(kTs, vcpu.tr.selector, ext);
  uint32_t esp = 0;
  uint16_t ss_sel = 0;
  if (auto f = read_system(env, vcpu.tr.base + esp_off, &esp, 4)) return f;
  if (auto f = read_system(env, vcpu.tr.base + esp_off + 4, &ss_sel, 2)) return f;
  SegmentCache ss;
  if (auto f = check_stack_segment(vcpu, env, ss_sel, cpl, kTs, ext, &ss)) return f;
  *out = StackCursor{ss, esp, cpl == 3, ss_sel};
  return std::nullopt;
}

Fault load_segment(VcpuState& vcpu, CpuEnv& env, SegReg reg, uint16_t selector) {
  if (!(vcpu.cr0 & 1)) {
    // Real-address mode (SDM vol. 3 20.1.1): only the base changes.
    SegmentCache c = vcpu.seg[reg];
    c.selector = selector;
    c.base = uint32_t(selector) << 4;
    set_segment(vcpu, reg, c);
    return std::nullopt;
  }
  if (reg == kSs) {
    // SDM vol. 2 MOV/POP: SS needs a non-null selector with RPL = CPL, a writable data
    // segment with DPL = CPL; #GP(0) on null, #GP(sel) otherwise, #SS(sel) if not present.
    if (is_null(selector)) return gp(0);
    SegmentCache c;
    if (auto f = check_stack_segment(vcpu, env, selector, vcpu.cpl, kGp, false, &c)) return f;
    set_segment(vcpu, kSs, c);
    return std::nullopt;
  }
  if (is_null(selector)) {
    // SDM vol. 3 3.4.2: a null selector may be loaded into DS/ES/FS/GS; using it faults later.
    set_segment(vcpu, reg, null_segment_cache(selector));
    return std::nullopt;
  }
  Descriptor d;
  if (auto f = fetch_descriptor(vcpu, env, selector, &d)) return f;
  // SDM vol. 2 MOV: data or readable code; for data and non-conforming code both RPL and CPL
  // must be <= DPL (SDM vol. 3 5.6).
  if (!d.s() || !d.readable()) return gp_sel(selector);
  if (!d.conforming() && ((selector & 3) > d.dpl() || vcpu.cpl > d.dpl())) return gp_sel(selector);
  if (!d.present()) return np_sel(selector);
  if (auto f = mark_accessed(vcpu, env, selector, &d)) return f;
  set_segment(vcpu, reg, make_segment_cache(selector, d));
  // The accessed bit is now set in memory: translated code may repeat this load while the
  // descriptor's bytes stay the same (segment_load_cache.h).
  if (uint32_t la = 0; descriptor_address(vcpu, selector, &la)) remember_segment_load(vcpu, reg, selector, d, la);
  return std::nullopt;
}

Fault lar(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out) {
  Descriptor d;
  bool visible = false;
  *out = {};
  if (auto f = query(vcpu, env, selector, &d, &visible)) return f;
  if (!visible) return std::nullopt;
  if (!d.s()) {
    // SDM vol. 2 LAR: valid system types are TSSs, LDT and call/task gates.
    switch (d.type()) {
      case kTss16Avail: case kLdt: case kTss16Busy: case kCallGate16: case kTaskGate:
      case kTss32Avail: case kTss32Busy: case kCallGate32: break;
      default: return std::nullopt;
    }
  }
  *out = {true, d.hi & 0x00f0ff00};
  return std::nullopt;
}

Fault lsl(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out) {
  Descriptor d;
  bool visible = false;
  *out = {};
  if (auto f = query(vcpu, env, selector, &d, &visible)) return f;
  if (!visible) return std::nullopt;
  if (!d.s()) {
    // SDM vol. 2 LSL: only TSSs and the LDT have a limit among system descriptors.
    switch (d.type()) {
      case kTss16Avail: case kLdt: case kTss16Busy: case kTss32Avail: case kTss32Busy: break;
      default: return std::nullopt;
    }
  }
  *out = {true, d.limit()};
  return std::nullopt;
}

Fault verr(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out) {
  Descriptor d;
  bool visible = false;
  *out = {};
  if (auto f = query(vcpu, env, selector, &d, &visible)) return f;
  out->ok = visible && d.s() && d.readable();
  return std::nullopt;
}

Fault verw(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out) {
  Descriptor d;
  bool visible = false;
  *out = {};
  if (auto f = query(vcpu, env, selector, &d, &visible)) return f;
  // Code segments are never writable, so the conforming exemption does not matter here.
  out->ok = visible && d.writable();
  return std::nullopt;
}

}  // namespace btvmm::runtime
