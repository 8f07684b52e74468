// The guest window (DESIGN.md 2): host [0, 4 GiB) reserved for guest linear space and
// [4, 8) GiB as a PROT_NONE guard, so a 32-bit address (plus a segment base) never escapes.
// Reserve it first thing in main, before anything can land there. Never maps guest memory
// itself (that is the shadow MMU's job) and never hands out host addresses outside the window.
#pragma once

#include <cstdint>

#include "core/types.h"

namespace btvmm::mmu {

inline constexpr uint64_t kWindowSize = uint64_t(4) << 30;
inline constexpr uint64_t kGuardSize = uint64_t(4) << 30;

// vm.mmap_min_addr rounded up to a page: Linux refuses ordinary mappings below it, so guest
// linear pages below this address cannot be shadowed and are emulated instead.
uint64_t read_mmap_min_addr();

class Window {
 public:
  // Reserves [mmap_min_addr, 4 GiB) and [4 GiB, 8 GiB) as PROT_NONE, MAP_NORESERVE, with
  // MAP_FIXED_NOREPLACE. Throws Error(kInternal) naming the occupant if anything is already
  // mapped there, or if this process already holds a window.
  Window();
  ~Window();
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  // Lowest guest linear address the window can map; everything below is emulated.
  LinearAddr first_mappable() const { return LinearAddr(static_cast<uint32_t>(first_)); }
  bool emulated(LinearAddr la) const { return la.value < first_; }
  // Host address of guest linear address la: the window sits at host address 0, so the 0x67
  // address-size prefix of translated code lands here by construction (DESIGN.md 3).
  uint8_t* host(LinearAddr la) const { return reinterpret_cast<uint8_t*>(uintptr_t(la.value)); }
  bool contains_host(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    return a >= first_ && a < kWindowSize;
  }

 private:
  uint64_t first_ = 0;
};

}  // namespace btvmm::mmu
