// Mirroring guest segments into host LDT descriptors (modify_ldt's user_desc, Linux
// arch/x86/include/uapi/asm/ldt.h). Pure computation; never calls the host.
#include "runtime/direct/segment_mirror.h"

#include <algorithm>

namespace btvmm::direct {
namespace {

// user_desc flag bits, in the order of the kernel's bitfield.
constexpr uint32_t kSeg32 = 1u << 0;
constexpr uint32_t kContentsShift = 1;  // 0 data, 1 expand-down data, 2 code
constexpr uint32_t kReadExecOnly = 1u << 3;
constexpr uint32_t kLimitInPages = 1u << 4;
constexpr uint32_t kUseable = 1u << 6;

}  // namespace

uint32_t host_slot(uint16_t guest_selector) {
  const uint32_t index = guest_selector >> 3;
  return (guest_selector & 4) ? kGuestLdtSlotBase + (index & (kGuestLdtSlotBase - 1)) : index;
}

btvmm_user_desc mirror_descriptor(const runtime::SegmentCache& cache, uint32_t slot, uint32_t split) {
  // Descriptor type field (SDM vol. 3 3.4.5.1): bit 3 code, bit 2 expand-down/conforming,
  // bit 1 writable (data) / readable (code).
  const bool code = cache.type() & 8;
  const bool expand_down = !code && (cache.type() & 4);
  const bool rw = cache.type() & 2;
  uint64_t limit = cache.limit;
  if (!code && !expand_down && split != 0) {
    // VMware's segment truncation: an access past the split raises #GP instead of reaching a
    // supervisor page the host might have mapped.
    const uint64_t room = cache.base < split ? uint64_t(split) - cache.base - 1 : 0;
    limit = std::min(limit, room);
  }
  btvmm_user_desc d{};
  d.entry_number = slot;
  d.base_addr = cache.base;
  if (limit > 0xFFFFF) {
    d.limit = uint32_t(limit >> 12);
    d.flags |= kLimitInPages;
  } else {
    d.limit = uint32_t(limit);
  }
  if (cache.db()) d.flags |= kSeg32;
  // Linux refuses present conforming code (contents 3): plain code is the nearest at CPL 3.
  d.flags |= (code ? 2u : expand_down ? 1u : 0u) << kContentsShift;
  if (!rw) d.flags |= kReadExecOnly;
  if (cache.attrs & 0x1000) d.flags |= kUseable;
  return d;
}

MirrorPlan plan_mirror(const runtime::VcpuState& vcpu, uint32_t split) {
  MirrorPlan plan;
  for (unsigned r = 0; r < runtime::kSegCount; r++) {
    const runtime::SegmentCache& c = vcpu.seg[r];
    if (r != runtime::kCs && r != runtime::kSs && ((c.selector & 0xfffc) == 0 || c.unusable())) continue;
    const uint32_t slot = host_slot(c.selector);
    plan.host[r] = host_selector(slot);
    plan.desc[r] = mirror_descriptor(c, slot, r == runtime::kCs ? 0 : split);
  }
  return plan;
}

}  // namespace btvmm::direct
