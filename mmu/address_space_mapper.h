// The act of mapping, kept apart from the decision (ShadowMmu decides what to map where): an
// address space that can back guest linear pages with machine pages of the memfd. The monitor's
// window is one implementation; a direct-execution stub process (DESIGN.md 3a) will be another.
// Implementations never map outside [first_mappable, 4 GiB).
#pragma once

#include <cstdint>

#include "core/types.h"

namespace btvmm::mmu {

// Host protection of a shadow mapping. Whether it is also executable is the implementation's
// choice (the monitor never executes guest code in place; a stub does).
enum class Prot : uint8_t { kRead, kReadWrite };

class AddressSpaceMapper {
 public:
  virtual ~AddressSpaceMapper() = default;

  // Maps `pages` linear pages from `first` (page aligned) onto consecutive machine pages starting
  // at `mpn`, replacing whatever was there.
  virtual void map(LinearAddr first, uint32_t pages, Mpn mpn, Prot prot) = 0;
  // Changes the protection of pages that are mapped.
  virtual void protect(LinearAddr first, uint32_t pages, Prot prot) = 0;
  // Makes pages inaccessible again (the range stays reserved: nothing else may land there).
  virtual void unmap(LinearAddr first, uint32_t pages) = 0;
  // Makes the whole space inaccessible, in one operation where the host allows it.
  virtual void unmap_all() = 0;
  // Lowest mappable linear address; accesses below it must be emulated (vm.mmap_min_addr).
  virtual LinearAddr first_mappable() const = 0;
};

}  // namespace btvmm::mmu
