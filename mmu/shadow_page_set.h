// Bookkeeping of what the shadow MMU has mapped: per linear page, the machine page, protection
// and the guest page-table entries it was derived from, with the reverse indexes a shadow needs
// (who maps this guest page, who used this entry) and a count of mapping runs to bound VMAs.
// Bookkeeping only: never calls a mapper and never reads guest memory.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/types.h"
#include "mmu/address_space_mapper.h"
#include "mmu/paging.h"

namespace btvmm::mmu {

// One guest paging-structure entry: the page holding it and its index (0..1023).
struct EntryRef {
  Ppn table;
  uint32_t index = 0;
  bool operator==(const EntryRef&) const = default;
};

struct ShadowPage {
  Mpn mpn;
  Ppn ppn;
  Prot prot = Prot::kRead;
  PageSize size = PageSize::kNone;
  std::optional<EntryRef> pde;  // absent with paging off or a directory outside guest RAM
  std::optional<EntryRef> pte;  // absent for 4 MiB pages
  bool global = false;          // G set with CR4.PGE: survives a CR3 load (SDM vol. 3A 4.10.2.4)
  bool prefetched = false;      // mapped ahead of use, as a neighbour of a hidden fault
};

class ShadowPageSet {
 public:
  const ShadowPage* find(uint32_t lpn) const;
  void insert(uint32_t lpn, const ShadowPage& page);  // lpn must not be present
  void set_prot(uint32_t lpn, Prot prot);
  ShadowPage erase(uint32_t lpn);                     // lpn must be present
  void clear();

  size_t size() const { return pages_.size(); }
  // Maximal runs of pages adjacent in linear space and in the memfd with equal protection: what
  // Linux can keep as one VMA each (it merges such neighbours).
  uint32_t runs() const { return runs_; }
  // Maximal stretches of pages adjacent in linear space, whatever backs them: each leaves one
  // unmapped gap of the reservation after it, a VMA of its own.
  uint32_t blocks() const { return blocks_; }

  std::vector<uint32_t> pages_backed_by(Ppn ppn) const;
  std::vector<uint32_t> pages_using(EntryRef entry) const;
  // Pages mapped from a 4 MiB guest page within the 4 MiB region `region` (la >> 22).
  std::vector<uint32_t> large_pages_in(uint32_t region) const;
  // Whether any page in [first, end) is mapped (a drop may then not sweep over that range).
  bool any_in(uint32_t first, uint32_t end) const;
  // How many pages are mapped in the 4 MiB region `region` (a CR3 load decides region by region).
  uint32_t mapped_in_region(uint32_t region) const { return per_region_[region]; }
  // The non-global pages mapped in that region, in linear order (what a CR3 load drops there).
  std::vector<uint32_t> not_global_in_region(uint32_t region) const;
  // fn(lpn, page) for every mapped page, in no particular order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [lpn, page] : pages_) fn(lpn, page);
  }
  // No mapping is global any more (CR4.PGE was cleared: G bits mean nothing until it is set again).
  void clear_global();

 private:
  static uint64_t key(EntryRef e) { return (uint64_t(e.table.value) << 10) | e.index; }
  bool joins(uint32_t lpn) const;  // lpn and lpn + 1 are one run
  int run_starts_around(uint32_t lpn) const;
  int mapped_neighbours(uint32_t lpn) const;
  void index(uint32_t lpn, const ShadowPage& p);
  void unindex(uint32_t lpn, const ShadowPage& p);

  std::unordered_map<uint32_t, ShadowPage> pages_;
  std::unordered_map<uint32_t, std::unordered_set<uint32_t>> by_ppn_;
  std::unordered_map<uint64_t, std::unordered_set<uint32_t>> by_entry_;
  std::unordered_map<uint32_t, std::unordered_set<uint32_t>> large_by_region_;
  std::unordered_set<uint32_t> not_global_;
  std::set<uint32_t> ordered_;  // the keys of pages_, in linear order
  std::array<uint32_t, 1024> per_region_{};  // mapped pages per 4 MiB region
  uint32_t runs_ = 0;
  uint32_t blocks_ = 0;
};

}  // namespace btvmm::mmu
