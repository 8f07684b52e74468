// Shadow bookkeeping: the indexes stay consistent with pages_ on every insert, erase and
// protection change; the run and block counts are updated locally (only a page's two neighbours matter).
#include "mmu/shadow_page_set.h"

#include "core/error.h"

namespace btvmm::mmu {
namespace {

template <typename Map, typename K>
std::vector<uint32_t> members(const Map& m, const K& k) {
  auto it = m.find(k);
  if (it == m.end()) return {};
  return {it->second.begin(), it->second.end()};
}

template <typename Map, typename K>
void drop_member(Map& m, const K& k, uint32_t v) {
  auto it = m.find(k);
  if (it == m.end()) return;
  it->second.erase(v);
  if (it->second.empty()) m.erase(it);
}

}  // namespace

const ShadowPage* ShadowPageSet::find(uint32_t lpn) const {
  auto it = pages_.find(lpn);
  return it == pages_.end() ? nullptr : &it->second;
}

bool ShadowPageSet::joins(uint32_t lpn) const {
  if (lpn == UINT32_MAX) return false;
  const ShadowPage* a = find(lpn);
  const ShadowPage* b = find(lpn + 1);
  return a && b && b->mpn.value == a->mpn.value + 1 && a->prot == b->prot;
}

// Runs that begin at lpn or lpn + 1, given the current contents: a page begins a run unless it
// joins its left neighbour.
int ShadowPageSet::run_starts_around(uint32_t lpn) const {
  int n = 0;
  if (find(lpn) && (lpn == 0 || !joins(lpn - 1))) ++n;
  if (lpn != UINT32_MAX && find(lpn + 1) && !joins(lpn)) ++n;
  return n;
}

int ShadowPageSet::mapped_neighbours(uint32_t lpn) const {
  return (lpn != 0 && find(lpn - 1)) + (lpn != UINT32_MAX && find(lpn + 1));
}

void ShadowPageSet::index(uint32_t lpn, const ShadowPage& p) {
  by_ppn_[p.ppn.value].insert(lpn);
  if (p.pde) by_entry_[key(*p.pde)].insert(lpn);
  if (p.pte) by_entry_[key(*p.pte)].insert(lpn);
  if (p.size == PageSize::k4M) large_by_region_[lpn >> 10].insert(lpn);
  if (!p.global) not_global_.insert(lpn);
  ordered_.insert(lpn);
  ++per_region_[lpn >> 10];
}

void ShadowPageSet::unindex(uint32_t lpn, const ShadowPage& p) {
  drop_member(by_ppn_, p.ppn.value, lpn);
  if (p.pde) drop_member(by_entry_, key(*p.pde), lpn);
  if (p.pte) drop_member(by_entry_, key(*p.pte), lpn);
  if (p.size == PageSize::k4M) drop_member(large_by_region_, lpn >> 10, lpn);
  if (!p.global) not_global_.erase(lpn);
  ordered_.erase(lpn);
  --per_region_[lpn >> 10];
}

void ShadowPageSet::insert(uint32_t lpn, const ShadowPage& page) {
  const int before = run_starts_around(lpn);
  if (!pages_.emplace(lpn, page).second) fail(ExitCode::kInternal, "shadow: linear page {:#x} mapped twice", lpn);
  index(lpn, page);
  runs_ = runs_ - before + run_starts_around(lpn);
  // A new page starts a block, extends one, or joins two into one.
  blocks_ = blocks_ + 1 - mapped_neighbours(lpn);
}

void ShadowPageSet::set_prot(uint32_t lpn, Prot prot) {
  auto it = pages_.find(lpn);
  if (it == pages_.end()) fail(ExitCode::kInternal, "shadow: protecting unmapped linear page {:#x}", lpn);
  // A protection change can split or merge runs on both sides, i.e. change whether lpn and
  // lpn + 1 begin a run.
  const int before = run_starts_around(lpn);
  it->second.prot = prot;
  runs_ = runs_ - before + run_starts_around(lpn);
}

ShadowPage ShadowPageSet::erase(uint32_t lpn) {
  auto it = pages_.find(lpn);
  if (it == pages_.end()) fail(ExitCode::kInternal, "shadow: unmapping unmapped linear page {:#x}", lpn);
  const int before = run_starts_around(lpn);
  ShadowPage p = it->second;
  unindex(lpn, p);
  pages_.erase(it);
  runs_ = runs_ - before + run_starts_around(lpn);
  blocks_ = blocks_ - 1 + mapped_neighbours(lpn);
  return p;
}

void ShadowPageSet::clear() {
  pages_.clear();
  by_ppn_.clear();
  by_entry_.clear();
  large_by_region_.clear();
  not_global_.clear();
  ordered_.clear();
  per_region_.fill(0);
  runs_ = 0;
  blocks_ = 0;
}

std::vector<uint32_t> ShadowPageSet::pages_backed_by(Ppn ppn) const { return members(by_ppn_, ppn.value); }
std::vector<uint32_t> ShadowPageSet::pages_using(EntryRef entry) const { return members(by_entry_, key(entry)); }
bool ShadowPageSet::any_in(uint32_t first, uint32_t end) const {
  auto it = ordered_.lower_bound(first);
  return it != ordered_.end() && *it < end;
}
std::vector<uint32_t> ShadowPageSet::not_global_in_region(uint32_t region) const {
  std::vector<uint32_t> out;
  const uint32_t end = (region + 1) << 10;
  for (auto it = ordered_.lower_bound(region << 10); it != ordered_.end() && *it < end; ++it)
    if (not_global_.count(*it)) out.push_back(*it);
  return out;
}

void ShadowPageSet::clear_global() {
  for (auto& [lpn, p] : pages_)
    if (p.global) p.global = false, not_global_.insert(lpn);
}

std::vector<uint32_t> ShadowPageSet::large_pages_in(uint32_t region) const { return members(large_by_region_, region); }

}  // namespace btvmm::mmu
