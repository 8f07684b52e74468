// Guest segment registers as host LDT entries (DESIGN.md 3, 3a): which host LDT slot mirrors
// which guest selector, the modify_ldt descriptor for a guest segment cache (with VMware-style
// truncation of user data segments at the user/supervisor split), and the way back on exit.
// Pure logic: it computes descriptors, the executor queues them; never calls the host.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "runtime/direct/control_page.h"
#include "runtime/vcpu_state.h"

namespace btvmm::direct {

// Guest GDT index i lives in host LDT slot i, guest LDT index i in slot 4096 + i: the host LDT
// has 8192 slots (SDM vol. 3 3.5.1), so both guest tables fit and a selector maps one to one.
inline constexpr uint32_t kGuestLdtSlotBase = 4096;

uint32_t host_slot(uint16_t guest_selector);
// Host selector for a slot: TI=1 (LDT), RPL 3.
inline uint16_t host_selector(uint32_t slot) { return uint16_t((slot << 3) | 7); }

// The descriptor mirroring `cache` in `slot`. `split` is the first supervisor-only linear address
// (0 = no truncation); expand-up data segments are cut so base + limit stays below it. Code
// segments are not cut: a stub maps no supervisor page, so a fetch there is an exact #PF.
btvmm_user_desc mirror_descriptor(const runtime::SegmentCache& cache, uint32_t slot, uint32_t split);

// Host selectors for the six guest segment registers, and the descriptors they need, in SegReg
// order. A null or unusable guest data segment becomes the host null selector.
struct MirrorPlan {
  std::array<uint16_t, runtime::kSegCount> host{};
  std::array<std::optional<btvmm_user_desc>, runtime::kSegCount> desc{};
};
MirrorPlan plan_mirror(const runtime::VcpuState& vcpu, uint32_t split);

}  // namespace btvmm::direct
