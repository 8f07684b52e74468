// Test helper: an AddressSpaceMapper that records what the shadow asks for in a page model
// instead of mapping, so shadow decisions can be tested as pure logic (under ASan too), plus a
// simulated guest access that faults, fills and retries the way the runtime will.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>

#include "mmu/address_space_mapper.h"
#include "mmu/shadow_mmu.h"

namespace btvmm::mmu::testing {

class FakeMapper final : public AddressSpaceMapper {
 public:
  struct Page {
    Mpn mpn;
    Prot prot;
  };

  void map(LinearAddr first, uint32_t pages, Mpn mpn, Prot prot) override {
    ++map_calls;
    for (uint32_t i = 0; i < pages; ++i) pages_[(first.value >> kPageShift) + i] = Page{Mpn(mpn.value + i), prot};
  }
  void protect(LinearAddr first, uint32_t pages, Prot prot) override {
    ++protect_calls;
    for (uint32_t i = 0; i < pages; ++i) {
      auto it = pages_.find((first.value >> kPageShift) + i);
      if (it == pages_.end()) ++protects_of_unmapped;
      else it->second.prot = prot;
    }
  }
  void unmap(LinearAddr first, uint32_t pages) override {
    ++unmap_calls;
    for (uint32_t i = 0; i < pages; ++i) pages_.erase((first.value >> kPageShift) + i);
  }
  void unmap_all() override {
    ++unmap_all_calls;
    pages_.clear();
  }
  LinearAddr first_mappable() const override { return LinearAddr(kPageSize); }

  const Page* page(uint32_t la) const {
    auto it = pages_.find(la >> kPageShift);
    return it == pages_.end() ? nullptr : &it->second;
  }
  size_t size() const { return pages_.size(); }

  int map_calls = 0;
  int protect_calls = 0;
  int protects_of_unmapped = 0;
  int unmap_calls = 0;
  int unmap_all_calls = 0;

 private:
  std::map<uint32_t, Page> pages_;
};

// Result of a simulated guest access: the fill status that ended it (kMapped when it went
// through the mapping) and the #PF if one was reflected.
struct SimAccess {
  FillStatus status = FillStatus::kMapped;
  std::optional<PageFault> fault;
  int fills = 0;
};

// One 4-byte access through the fake "host page tables", filling on a miss like the runtime
// will; a traced write is emulated by writing guest memory directly, as the runtime will.
inline SimAccess sim_access(ShadowMmu& shadow, FakeMapper& fake, GuestMemory& mem, uint32_t la, bool write,
                            uint32_t& value) {
  SimAccess r;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const FakeMapper::Page* p = fake.page(la);
    if (p && (!write || p->prot == Prot::kReadWrite)) {
      uint8_t* host = mem.machine().page(p->mpn) + (la & (kPageSize - 1));
      if (write) std::memcpy(host, &value, 4);
      else std::memcpy(&value, host, 4);
      r.status = FillStatus::kMapped;
      return r;
    }
    ++r.fills;
    FillResult f = shadow.fill(LinearAddr(la), write ? AccessKind::kWrite : AccessKind::kRead);
    r.status = f.status;
    r.fault = f.fault;
    if (f.status == FillStatus::kTracedWrite) {
      mem.write_obj(f.translation.phys, value);
      return r;
    }
    if (f.status != FillStatus::kMapped) return r;
  }
  r.status = FillStatus::kGuestFault;  // a fill that maps and still faults is a shadow bug
  return r;
}

}  // namespace btvmm::mmu::testing
