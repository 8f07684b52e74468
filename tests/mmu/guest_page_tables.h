// Test helper: builds 32-bit guest page tables by hand in GuestMemory, so walker and shadow tests
// can state their setups in a line each. Writes guest memory only, never host memory elsewhere.
#pragma once

#include <cstdint>

#include "mmu/machine_memory.h"
#include "mmu/paging.h"

namespace btvmm::mmu::testing {

// The layout most tests use: 8 MiB of guest RAM, the page directory at 64 KiB, tables above it.
inline constexpr uint64_t kRam = 8 << 20;
inline constexpr uint32_t kPd = 0x10000;
inline constexpr uint32_t kTables = 0x11000;
inline constexpr uint32_t kPg = kCr0Pg | kCr0Pe;
inline constexpr uint32_t kRw = kPteWritable;
inline constexpr uint32_t kUs = kPteUser;

class GuestPageTables {
 public:
  // The page directory lives at guest-physical `pd`; page tables are allocated upwards from
  // `next_table` as map4k needs them.
  GuestPageTables(GuestMemory& mem, uint32_t pd, uint32_t next_table) : mem_(mem), pd_(pd), next_(next_table) {
    mem_.fill(GuestPhysAddr(pd_), 0, kPageSize);
  }

  uint32_t cr3() const { return pd_; }
  GuestPhysAddr pde_addr(uint32_t la) const { return GuestPhysAddr(pd_ + (la >> 22) * 4); }
  uint32_t pde(uint32_t la) const { return read(pde_addr(la)); }
  void set_pde(uint32_t la, uint32_t v) { mem_.write_obj(pde_addr(la), v); }

  // Address of the PTE for la; the PDE must reference a page table.
  GuestPhysAddr pte_addr(uint32_t la) const {
    return GuestPhysAddr((pde(la) & kPteFrameMask) + ((la >> 12) & 0x3FF) * 4);
  }
  uint32_t pte(uint32_t la) const { return read(pte_addr(la)); }
  void set_pte(uint32_t la, uint32_t v) { mem_.write_obj(pte_addr(la), v); }

  // Maps the 4 KiB page at la to phys with `flags` (P is added); the PDE gets `pde_flags`.
  void map4k(uint32_t la, uint32_t phys, uint32_t flags,
             uint32_t pde_flags = kPtePresent | kPteWritable | kPteUser) {
    if (!(pde(la) & kPtePresent)) {
      mem_.fill(GuestPhysAddr(next_), 0, kPageSize);
      set_pde(la, next_ | pde_flags | kPtePresent);
      next_ += kPageSize;
    } else {
      set_pde(la, (pde(la) & kPteFrameMask) | pde_flags | kPtePresent);
    }
    set_pte(la, (phys & kPteFrameMask) | flags | kPtePresent);
  }

  void map4m(uint32_t la, uint32_t phys, uint32_t flags) {
    set_pde(la, (phys & kPdeLargeFrameMask) | flags | kPdeLargePage | kPtePresent);
  }

 private:
  uint32_t read(GuestPhysAddr a) const {
    uint32_t v = 0;
    mem_.read_obj(a, v);
    return v;
  }
  GuestMemory& mem_;
  uint32_t pd_;
  uint32_t next_;
};

}  // namespace btvmm::mmu::testing
