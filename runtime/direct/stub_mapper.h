// The AddressSpaceMapper of a direct-execution stub (DESIGN.md 3a): ShadowMmu decides, this
// queues the map/protect/unmap requests on the stub's control page, and the stub executes them
// before it next enters the guest (or when the queue fills). Never maps outside
// [first_mappable, 4 GiB): the stub's own pages live above 4 GiB.
#pragma once

#include "mmu/address_space_mapper.h"
#include "runtime/direct/stub_process.h"

namespace btvmm::direct {

class StubMapper final : public mmu::AddressSpaceMapper {
 public:
  explicit StubMapper(StubProcess& stub);

  void map(LinearAddr first, uint32_t pages, Mpn mpn, mmu::Prot prot) override;
  void protect(LinearAddr first, uint32_t pages, mmu::Prot prot) override;
  void unmap(LinearAddr first, uint32_t pages) override;
  void unmap_all() override;
  LinearAddr first_mappable() const override { return first_; }

 private:
  void check_range(const char* what, LinearAddr first, uint32_t pages) const;
  StubProcess& stub_;
  LinearAddr first_;
};

}  // namespace btvmm::direct
