// CCF bookkeeping (see ccf.h): lookups, chaining patches and invalidation.
#include "translator/ccf.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/stats.h"

namespace btvmm::translator {

namespace {
stats::Counter c_chained{"tc.chained", "direct-branch exits patched to jump straight to their target CCF"};
stats::Counter c_invalidations{"tc.invalidations", "CCFs invalidated by writes to their guest code"};
stats::Counter c_stale{"tc.stale", "CCFs cut from chains and the inline lookup because a CR3 load, INVLPG or paging-mode change may have moved their code"};
stats::Counter c_relinked{"tc.relinked", "chains into a stale CCF linked again when a re-check kept it"};
}  // namespace

const EmittedRange* Ccf::range_at(uint64_t host_addr) const {
  const uint64_t off = host_addr - reinterpret_cast<uint64_t>(host);
  for (const EmittedRange& r : map)
    if (off >= r.host_offset && off < r.host_offset + r.host_size) return &r;
  return nullptr;
}

std::optional<uint32_t> Ccf::guest_eip_at(uint64_t host_addr) const {
  const EmittedRange* r = range_at(host_addr);
  return r ? std::optional<uint32_t>(r->guest_eip) : std::nullopt;
}

void Ccf::note_early_exit(uint32_t eip, EarlyExit how) {
  for (unsigned i = 0; i < map.size(); ++i)
    if (map[i].guest_eip == eip) return profile.note_early_exit(i, how);
}

void patch_chain(Ccf& from, unsigned index, Ccf* to) {
  ChainSlot& s = from.slots.at(index);
  uint8_t* jmp = from.host + s.jmp_offset;
  // A transfer to a later guest EIP than where `from` starts enters after the target's attention
  // check: every cycle of CCFs has an edge to an EIP at or below its source CCF's start (EIPs cannot
  // increase all the way round), so each loop still polls once per iteration and a pending
  // interrupt waits at most one pass through straight-line code, while forward chains (fall-through
  // into the next TU, forward jcc) skip the 4-instruction check.
  const uint8_t* dest = !to ? from.host + s.stub_offset
                        : s.target_eip > from.key.eip ? to->host + to->body_offset
                                                      : to->entry();
  // rel32 of E9 (jmp) or 0F 8x (jcc), relative to the end of the instruction (SDM vol. 2 JMP, Jcc).
  // A 4-byte aligned store would be atomic, but only this thread runs translated code, so plain
  // memcpy suffices.
  uint8_t* rel_field = jmp + (jmp[0] == 0x0F ? 2 : 1);
  const int32_t rel = static_cast<int32_t>(dest - (rel_field + 4));
  std::memcpy(rel_field, &rel, 4);
  s.linked = to;
}

Ccf* CcfCache::find(CcfKey key) const {
  auto it = by_key_.find(key.packed());
  return it == by_key_.end() ? nullptr : it->second;
}

Ccf* CcfCache::insert(std::unique_ptr<Ccf> ccf) {
  Ccf* c = ccf.get();
  all_.push_back(std::move(ccf));
  by_key_[c->key.packed()] = c;
  for (unsigned i = 0; i < c->guest_page_count; ++i) by_page_[c->guest_pages[i]].push_back(c);
  // The linear pages never change for a CCF (a new CS base flushes the TC): indexed once.
  for (unsigned i = 0; i < c->mapping_count; ++i) by_linear_page_[c->mappings[i].lpn].push_back(c);
  index_mappings(*c);
  return c;
}

void CcfCache::index_mappings(Ccf& ccf) {
  bool local = false, large = false;
  for (unsigned i = 0; i < ccf.mapping_count; ++i) {
    local |= !ccf.mappings[i].global;
    large |= ccf.mappings[i].large;
  }
  if (local && !ccf.in_local_list) {
    local_.push_back(&ccf);
    ccf.in_local_list = true;
  }
  if (large && !ccf.in_large_index) {
    for (unsigned i = 0; i < ccf.mapping_count; ++i) {
      std::vector<Ccf*>& v = large_by_region_[ccf.mappings[i].lpn >> 10];
      if (v.empty() || v.back() != &ccf) v.push_back(&ccf);
    }
    ccf.in_large_index = true;
  }
}

bool CcfCache::mark_stale(Ccf& ccf) {
  if (!ccf.valid || ccf.stale) return false;
  ccf.stale = true;
  for (auto [from, index] : ccf.incoming)
    if (from->slots[index].linked == &ccf) patch_chain(*from, index, nullptr);
  ccf.dormant = std::move(ccf.incoming);
  ccf.incoming.clear();
  c_stale.inc();
  return true;
}

void CcfCache::revalidate(Ccf& ccf) {
  ccf.stale = false;
  // Each jump aims at this CCF's guest EIP and has the same CPL (chain() linked it so), which is
  // all a branch exit would check before linking it; chain() skips the ones invalid or relinked.
  for (auto [from, index] : std::exchange(ccf.dormant, {}))
    if (chain(*from, index, ccf)) c_relinked.inc();
}

Ccf* CcfCache::by_host(uint64_t host_addr) const {
  auto it = std::upper_bound(all_.begin(), all_.end(), host_addr, [](uint64_t a, const std::unique_ptr<Ccf>& c) {
    return a < reinterpret_cast<uint64_t>(c->host);
  });
  if (it == all_.begin()) return nullptr;
  Ccf* c = (it - 1)->get();
  return c->contains(host_addr) ? c : nullptr;
}

bool CcfCache::chain(Ccf& from, unsigned index, Ccf& to) {
  if (!chaining_enabled || !from.valid || !to.valid || to.stale || from.slots.at(index).linked) return false;
  patch_chain(from, index, &to);
  to.incoming.emplace_back(&from, index);
  c_chained.inc();
  return true;
}

void CcfCache::invalidate(Ccf& ccf) {
  if (!ccf.valid) return;
  ccf.valid = false;
  for (auto [from, index] : ccf.incoming)
    if (from->slots[index].linked == &ccf) patch_chain(*from, index, nullptr);
  ccf.incoming.clear();
  ccf.dormant.clear();
  auto it = by_key_.find(ccf.key.packed());
  if (it != by_key_.end() && it->second == &ccf) by_key_.erase(it);
  c_invalidations.inc();
}

std::vector<Ccf*> CcfCache::invalidate_page(uint32_t ppn) {
  std::vector<Ccf*> done;
  auto it = by_page_.find(ppn);
  if (it == by_page_.end()) return done;
  const std::vector<Ccf*> victims = std::move(it->second);
  by_page_.erase(it);
  for (Ccf* c : victims) {
    if (!c->valid) continue;
    invalidate(*c);
    done.push_back(c);
  }
  return done;
}

void CcfCache::clear() {
  all_.clear();
  by_key_.clear();
  by_page_.clear();
  by_linear_page_.clear();
  large_by_region_.clear();
  local_.clear();
}

}  // namespace btvmm::translator
