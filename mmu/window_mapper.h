// AddressSpaceMapper for this process's guest window: shadow mappings are MAP_SHARED|MAP_FIXED
// mappings of the machine-memory memfd at host address = guest linear address. Unmapping puts
// the PROT_NONE reservation back instead of leaving a hole something else could fill.
// The Window must outlive the mapper and every ShadowMmu using it (a shadow unmaps on destruction).
#pragma once

#include "mmu/address_space_mapper.h"
#include "mmu/window.h"

namespace btvmm::mmu {

class WindowMapper final : public AddressSpaceMapper {
 public:
  // `memfd` is MachineMemory::fd(); `executable` adds PROT_EXEC to every mapping; `populate`
  // fills the host page tables at map time (MAP_POPULATE), saving the host a minor fault on each
  // page's first touch (DESIGN.md 1: populate eagerly).
  WindowMapper(const Window& window, int memfd, bool executable = false, bool populate = true)
      : window_(window), memfd_(memfd), executable_(executable), populate_(populate) {}

  void map(LinearAddr first, uint32_t pages, Mpn mpn, Prot prot) override;
  void protect(LinearAddr first, uint32_t pages, Prot prot) override;
  void unmap(LinearAddr first, uint32_t pages) override;
  void unmap_all() override;
  LinearAddr first_mappable() const override { return window_.first_mappable(); }

 private:
  int host_prot(Prot p) const;
  void check_range(const char* what, LinearAddr first, uint32_t pages) const;
  const Window& window_;
  int memfd_;
  bool executable_;
  bool populate_;
};

}  // namespace btvmm::mmu
