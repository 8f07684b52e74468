// The guest windows (DESIGN.md 2): host [0, 4 GiB) reserved for guest linear space as the
// supervisor sees it, with [4, 8) GiB as a PROT_NONE guard, so a 32-bit address (plus a segment
// base) never escapes; and a second 4 GiB window at kUserWindowBase for the user view, reached by
// translated CPL 3 code through the host GS base (so a CPL switch changes no host mapping).
// Reserve them first thing in main, before anything can land there. Never maps guest memory
// itself (that is the shadow MMU's job) and never hands out host addresses outside a window.
#pragma once

#include <cstdint>

#include "core/types.h"

namespace btvmm::mmu {

inline constexpr uint64_t kWindowSize = uint64_t(4) << 30;
inline constexpr uint64_t kGuardSize = uint64_t(4) << 30;
// The user window's base. CPL 3 string instructions run with 64-bit addressing from base + ESI/EDI
// (the ES segment of movs/stos/scas/cmps cannot be overridden, SDM vol. 2 MOVS), so a rep with
// ECX up to 2^32 elements of 4 bytes can walk 16 GiB either way: guards of kUserGuardSize below and
// above keep every such access inside our reservation, where it faults and is emulated.
inline constexpr uint64_t kUserWindowBase = uint64_t(32) << 30;
inline constexpr uint64_t kUserGuardSize = uint64_t(17) << 30;

enum class WindowKind : uint8_t {
  kSupervisor,  // at host address 0: translated CPL 0-2 code addresses it with 0x67 alone
  kUser,        // at kUserWindowBase: translated CPL 3 code adds a GS prefix (base = kUserWindowBase)
};

// vm.mmap_min_addr rounded up to a page: Linux refuses ordinary mappings below it, so guest
// linear pages below this address cannot be shadowed and are emulated instead.
uint64_t read_mmap_min_addr();

class Window {
 public:
  // Reserves the window and its guards as PROT_NONE, MAP_NORESERVE, with MAP_FIXED_NOREPLACE:
  // supervisor [mmap_min_addr, 4 GiB) + [4 GiB, 8 GiB); user [base - guard, base + 4 GiB + guard).
  // Throws Error(kInternal) naming the occupant if anything is already mapped there, or if this
  // process already holds a window of this kind.
  explicit Window(WindowKind kind = WindowKind::kSupervisor);
  ~Window();
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  // Lowest guest linear address the window can map; everything below is emulated.
  LinearAddr first_mappable() const { return LinearAddr(static_cast<uint32_t>(first_)); }
  bool emulated(LinearAddr la) const { return la.value < first_; }
  WindowKind kind() const { return kind_; }
  uint64_t base() const { return base_; }
  // Host address of guest linear address la: base + la. The 0x67 address-size prefix of translated
  // code (plus GS = base for the user window) lands here by construction (DESIGN.md 3).
  uint8_t* host(LinearAddr la) const { return reinterpret_cast<uint8_t*>(uintptr_t(base_ + la.value)); }
  bool contains_host(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    return a >= base_ + first_ && a < base_ + kWindowSize;
  }
  // Inside this window's reservation (window or guards)?
  bool reserved_host(uint64_t a) const { return a >= lo_ && a < hi_; }
  LinearAddr linear(const void* p) const {
    return LinearAddr(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) - base_));
  }

 private:
  WindowKind kind_;
  uint64_t base_ = 0;
  uint64_t first_ = 0;
  uint64_t lo_ = 0;  // the whole reservation, guards included
  uint64_t hi_ = 0;
};

// The process's two windows, reserved together first thing in main.
struct GuestWindows {
  Window supervisor{WindowKind::kSupervisor};
  Window user{WindowKind::kUser};
};

}  // namespace btvmm::mmu
