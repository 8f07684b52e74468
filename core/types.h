// Strong types for the address spaces a VMM juggles. Mixing a guest-physical address with a
// linear one, or a guest page number with a machine page number, must not compile.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace btvmm {

template <typename Tag, typename Rep>
struct StrongInt {
  using rep = Rep;
  Rep value{};

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : value(v) {}
  constexpr auto operator<=>(const StrongInt&) const = default;
};

struct GuestPhysTag {};
struct LinearTag {};
struct PpnTag {};
struct MpnTag {};

// Guest-physical address (what the guest puts in its page tables). 64-bit so PAE can come later.
using GuestPhysAddr = StrongInt<GuestPhysTag, uint64_t>;
// Guest linear address (after segmentation, before paging): 32 bits by construction.
using LinearAddr = StrongInt<LinearTag, uint32_t>;
// Guest physical page number.
using Ppn = StrongInt<PpnTag, uint32_t>;
// Machine page number: a page of the machine-memory memfd.
using Mpn = StrongInt<MpnTag, uint32_t>;

inline constexpr uint64_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

constexpr Ppn ppn_of(GuestPhysAddr a) { return Ppn(static_cast<uint32_t>(a.value >> kPageShift)); }
constexpr GuestPhysAddr addr_of(Ppn p) { return GuestPhysAddr(uint64_t(p.value) << kPageShift); }

}  // namespace btvmm

template <typename Tag, typename Rep>
struct std::hash<btvmm::StrongInt<Tag, Rep>> {
  size_t operator()(const btvmm::StrongInt<Tag, Rep>& s) const noexcept { return std::hash<Rep>{}(s.value); }
};
