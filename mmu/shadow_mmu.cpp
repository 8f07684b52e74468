// Shadow MMU decisions: hidden-fault fills with prefetch of already-accessed neighbours,
// reflection of true faults, invalidation, write traces. All host mapping goes through the
// AddressSpaceMapper; guest memory is only read and written through GuestMemory and the walker.
#include "mmu/shadow_mmu.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/stats.h"

namespace btvmm::mmu {
namespace {

stats::Counter c_prefills{"shadow.prefills",
                          "pages mapped ahead of a retried access, right after the guest wrote their entry"};
stats::Counter c_hidden{"shadow.hidden_faults", "faults the guest's tables allow, fixed by mapping"};
stats::Counter c_true{"shadow.true_faults", "faults reflected to the guest as #PF"};
stats::Counter c_maps{"shadow.maps", "host map calls (one per run of contiguous pages)"};
stats::Counter c_pages{"shadow.pages_mapped", "guest pages mapped, prefetched ones included"};
stats::Counter c_prefetched{"shadow.prefetched", "neighbour pages mapped ahead of a fault"};
stats::Counter c_protects{"shadow.protects", "host protection changes (write enable on first write, trace)"};
stats::Counter c_unmaps{"shadow.unmaps", "host unmap calls outside whole flushes"};
stats::Counter c_flush_cr3{"shadow.flushes_cr3", "guest CR3 loads (to another directory: non-global mappings dropped but for kept regions)"};
stats::Counter c_flush_mode{"shadow.flushes_mode", "whole-shadow flushes on CR0.PG/PE/WP or CR4.PSE changes"};
stats::Counter c_global_flushes{"shadow.global_flushes",
                                "CR4.PGE toggles (global TLB flushes): written entries' drops settled, traced mappings kept"};
stats::Counter c_flush_vmas{"shadow.flushes_vma_limit", "whole-shadow flushes to stay under the VMA bound (the shadow's own, or the budget its process's shadows share)"};
stats::Counter c_kept{"shadow.kept_cr3", "mappings kept across guest CR3 loads to another directory: global, or in a kept region"};
stats::Counter c_kept_regions{"shadow.kept_regions", "4 MiB regions whose non-global mappings a CR3 load to another directory kept: the new directory's entry for them is the same (a kernel half shared without PGE)"};
stats::Counter c_watch_drops{"shadow.watched_entry_drops", "mappings dropped because the current directory's entry for a kept region was written"};
stats::Counter c_deferred{"shadow.deferred_drops", "mappings whose guest entry was written, dropped at the guest's next INVLPG or CR3 load (as a TLB may)"};
stats::Counter c_invlpg{"shadow.invlpg", "guest INVLPG instructions"};
stats::Counter c_trace_pt{"shadow.trace_faults_pt", "guest writes caught on traced page-table pages"};
stats::Counter c_trace_code{"shadow.trace_faults_code", "guest writes caught on pages holding translated code"};
stats::Counter c_not_ram{"shadow.not_ram", "accesses translating outside guest RAM (left to emulation)"};
stats::Counter c_emulated{"shadow.emulated", "accesses below the lowest mappable page (left to emulation)"};
stats::Counter c_vmas{"shadow.vmas", "estimated host VMAs held by shadow mappings now (all shadows sharing a budget)"};
stats::Counter c_host_flushes{"shadow.host_flushing_calls", "host calls that take away a present mapping or its write permission: each costs the host a TLB flush (unmaps of mapped pages, write protection, a map over a mapped page)"};
stats::Counter c_replaced{"shadow.replaced", "mappings replaced by a map of another frame in one host call (a settled pending drop, e.g. copy-on-write)"};
stats::Counter c_prefetch_off{"shadow.prefetch_regions_off", "4 MiB regions no longer prefetched: the guest invalidated their prefetched pages one at a time"};
stats::Counter c_cr3_kept{"shadow.cr3_reloads_kept", "guest CR3 loads of the page directory already in use (or with paging off): only mappings whose entries were written are dropped"};

constexpr uint32_t kCr0Bits = kCr0Pg | kCr0Pe | kCr0Wp;
constexpr uint32_t kCr4Bits = kCr4Pse | kCr4Pge;

std::optional<EntryRef> entry_ref(const GuestMemory& mem, const std::optional<GuestPhysAddr>& a) {
  if (!a || !mem.contains(*a, 4)) return std::nullopt;
  return EntryRef{ppn_of(*a), static_cast<uint32_t>((a->value & (kPageSize - 1)) >> 2)};
}

}  // namespace

ShadowMmu::ShadowMmu(GuestMemory& mem, AddressSpaceMapper& mapper, WriteTraces& traces, GuestPagingState initial,
                     ShadowConfig config)
    : mem_(mem), mapper_(mapper), state_(initial), config_(config), traces_(traces), view_(config.view) {
  const uint32_t n = config_.prefetch_pages;
  if (n == 0 || n > 1024 || (n & (n - 1)))
    fail(ExitCode::kInternal, "shadow: prefetch block of {} pages is not a power of two up to 1024", n);
  traces_.subscribe(this);
  if (config_.shared_vmas) config_.shared_vmas->join(this);
}

ShadowMmu::~ShadowMmu() {
  traces_.unsubscribe(this);
  if (config_.shared_vmas) config_.shared_vmas->leave(this);
  // Leave the address space and the shared traces as we found them. A destructor must not throw;
  // a failing unmap here only leaves stale mappings in an address space about to go away.
  try {
    flush();
  } catch (const Error&) {
  }
}

void ShadowMmu::publish_vmas() const {
  c_vmas.set(config_.shared_vmas ? config_.shared_vmas->used() : vma_estimate());
}

void ShadowMmu::flush() {
  if (pages_.size()) {
    mapper_.unmap_all();
    c_host_flushes.inc();
  }
  pages_.clear();
  pending_drops_.clear();
  for (const auto& [table, refs] : table_refs_) traces_.remove(Ppn(table), TraceKind::kPageTable, refs);
  table_refs_.clear();
  watched_.reset();  // their references went with table_refs_
  publish_vmas();
}

void ShadowMmu::load_cr3(uint32_t cr3) {
  const bool same_tables = !state_.paging() || ((cr3 ^ state_.cr3) & kPteFrameMask) == 0;
  const GuestPhysAddr old_pd = state_.page_directory();
  state_.cr3 = cr3;
  c_flush_cr3.inc();
  drop_pending();  // global ones too: their entries changed
  if (same_tables) {
    // The TLB must forget every non-global translation (SDM vol. 3A 4.10.4.1), but a shadow mapping
    // is not a cached translation that may have gone stale: every write to an entry it came from
    // was traced and its drop has just been done, so each mapping left is exactly what a walk of
    // the same tables gives now (A and D included: clearing them is such a write). Dropping them
    // would only make the guest fault them back in (Linux reloads CR3 to flush its TLB, e.g. after
    // unmapping more than 33 pages).
    c_cr3_kept.inc();
    return;
  }
  // Region by region, not page by page: a kernel half is tens of thousands of pages, and a
  // context switch must not cost a step per page it keeps.
  const GuestPhysAddr new_pd = state_.page_directory();
  const std::bitset<1024> was_watched = std::exchange(watched_, {});
  const GuestPhysAddr was_watched_pd = watched_pd_;
  std::vector<uint32_t> victims;
  for (uint32_t region = 0; region < 1024; ++region) {
    if (!pages_.mapped_in_region(region)) continue;
    if (same_entry(old_pd, new_pd, region)) {
      watch(new_pd, region);
      continue;
    }
    const std::vector<uint32_t> not_global = pages_.not_global_in_region(region);
    victims.insert(victims.end(), not_global.begin(), not_global.end());
  }
  release_watches(was_watched, was_watched_pd);  // after the new ones: no trace drops to zero and back
  if (victims.size() == pages_.size()) {
    flush();  // nothing to keep: one host call instead of one per run
    return;
  }
  c_kept.inc(pages_.size() - victims.size());
  drop(std::move(victims));
}

// Whether `region`'s directory entry is present and holds the same value, A included, in both
// directories: a walk through either then reads the same page table (or 4 MiB page, D included)
// with the same rights and sets nothing, so a mapping made through one is what the other gives.
bool ShadowMmu::same_entry(GuestPhysAddr old_pd, GuestPhysAddr new_pd, uint32_t region) const {
  const GuestPhysAddr was_at(old_pd.value + region * 4), now_at(new_pd.value + region * 4);
  if (!mem_.contains(was_at, 4) || !mem_.contains(now_at, 4)) return false;
  uint32_t was = 0, now = 0;
  mem_.read_obj(was_at, was);
  mem_.read_obj(now_at, now);
  return now == was && (now & kPtePresent) && (now & kPteAccessed);
}

// A kept region's mappings still name the old directory's entry (whose trace still drops them);
// this trace on the current directory's entry drops them when that one is written.
void ShadowMmu::watch(GuestPhysAddr pd, uint32_t region) {
  watched_pd_ = pd;
  add_table_trace(EntryRef{ppn_of(pd), region});
  watched_.set(region);
  c_kept_regions.inc();
}

void ShadowMmu::release_watches(const std::bitset<1024>& regions, GuestPhysAddr pd) {
  for (uint32_t r = 0; r < 1024; ++r)
    if (regions.test(r)) release_table_trace(EntryRef{ppn_of(pd), r});
}

void ShadowMmu::set_cr0(uint32_t cr0) {
  const uint32_t changed = (cr0 ^ state_.cr0) & kCr0Bits;
  state_.cr0 = cr0;
  if (changed) mode_changed();
}

void ShadowMmu::set_cr4(uint32_t cr4) {
  const uint32_t changed = (cr4 ^ state_.cr4) & kCr4Bits;
  state_.cr4 = cr4;
  if (changed == kCr4Pge) return global_flush();
  if (changed) mode_changed();
}

void ShadowMmu::global_flush() {
  c_global_flushes.inc();
  drop_pending();
  std::vector<uint32_t> victims;
  pages_.for_each([&](uint32_t lpn, const ShadowPage& p) {
    if (!derived_from_traced_entries(p)) victims.push_back(lpn);
  });
  drop(std::move(victims));
  if (!(state_.cr4 & kCr4Pge)) pages_.clear_global();
}

void ShadowMmu::mode_changed() {
  c_flush_mode.inc();
  flush();
}

void ShadowMmu::invlpg(LinearAddr la) {
  c_invlpg.inc();
  note_lone_invalidation();
  // The whole pending set, not only this page: simpler than tracking which INVLPG covers which
  // write, and never wrong (dropping a mapping early is always allowed).
  drop_pending();
  const uint32_t lpn = la.value >> kPageShift;
  std::vector<uint32_t> victims;
  for (uint32_t p : pages_.large_pages_in(lpn >> 10))
    if (!derived_from_traced_entries(*pages_.find(p))) victims.push_back(p);
  if (const ShadowPage* p = pages_.find(lpn); p && !derived_from_traced_entries(*p)) victims.push_back(lpn);
  drop(std::move(victims));
}

// Whether every guest entry the mapping came from is traced, so that a write to it reaches
// page_table_written (with paging off there are none).
bool ShadowMmu::derived_from_traced_entries(const ShadowPage& p) const {
  if (!state_.paging()) return true;
  return p.pde && (p.size == PageSize::k4M || p.pte);
}

// What the host may allow: the guest's rights for this view, minus write where the monitor must
// see the write: a traced page, or a page whose D is still clear (so the first write comes here
// and sets it, keeping D exact; SDM vol. 3A 4.8).
Prot ShadowMmu::prot_for(const Translation& t, Ppn ppn) const {
  const bool guest_writable = access_allowed(t, view_access(AccessKind::kWrite), state_.write_protect());
  return guest_writable && t.dirty && !traces_.kinds(ppn) ? Prot::kReadWrite : Prot::kRead;
}

void ShadowMmu::write_protect(Ppn ppn) {
  for (uint32_t lpn : pages_.pages_backed_by(ppn)) {
    if (pages_.find(lpn)->prot == Prot::kRead) continue;
    pages_.set_prot(lpn, Prot::kRead);
    // A page staged in this fill is not mapped yet: commit() will map it with the new protection.
    if (std::find(staged_.begin(), staged_.end(), lpn) != staged_.end()) continue;
    mapper_.protect(LinearAddr(lpn << kPageShift), 1, Prot::kRead);
    c_protects.inc();
    c_host_flushes.inc();
  }
}

// Adding a trace announces a newly traced page to every shadow sharing the traces, this one
// included, which write-protects its mappings of the table page (page_traced).
void ShadowMmu::add_table_trace(const std::optional<EntryRef>& e) {
  if (!e) return;
  ++table_refs_[e->table.value];
  traces_.add(e->table, TraceKind::kPageTable);
}

void ShadowMmu::release_table_trace(const std::optional<EntryRef>& e) {
  if (!e) return;
  auto it = table_refs_.find(e->table.value);
  if (it == table_refs_.end()) return;
  if (--it->second == 0) table_refs_.erase(it);
  traces_.remove(e->table, TraceKind::kPageTable);
}

// Records the mapping of lpn for translation t (the page must be unmapped) and queues the host
// mapping. Page-table traces go on first, so a table mapped through itself comes out read-only.
void ShadowMmu::stage(uint32_t lpn, const Translation& t, bool prefetched) {
  ShadowPage p;
  p.prefetched = prefetched;
  p.ppn = ppn_of(t.page());
  p.mpn = mem_.pmap().lookup(p.ppn);
  p.size = t.size;
  p.pde = entry_ref(mem_, t.pde_addr);
  p.pte = entry_ref(mem_, t.pte_addr);
  add_table_trace(p.pde);
  add_table_trace(p.pte);
  p.prot = prot_for(t, p.ppn);
  p.global = t.global;
  pages_.insert(lpn, p);
  staged_.push_back(lpn);
}

// Maps the neighbours in the aligned block around lpn that the guest has already used: their
// entries have A set, so a hardware TLB could hold them too and mapping them changes nothing the
// guest can see (SDM vol. 3A 4.10.2.3 allows translations cached ahead of use). Neighbours with A
// clear stay unmapped so that their first access sets A through a fill.
void ShadowMmu::prefetch_around(uint32_t lpn) {
  const uint32_t n = config_.prefetch_pages;
  if (config_.prefetch_waste_limit) {
    auto it = prefetch_waste_.find(lpn >> 10);
    if (it != prefetch_waste_.end() && it->second >= config_.prefetch_waste_limit) return;
  }
  const uint32_t base = lpn & ~(n - 1);
  const uint32_t first_mappable = mapper_.first_mappable().value >> kPageShift;
  for (uint32_t p = base; p < base + n; ++p) {
    if (p == lpn || p < first_mappable || pages_.find(p)) continue;
    WalkResult w = walk(mem_, state_, LinearAddr(p << kPageShift), view_access(AccessKind::kRead), WalkMode::kProbe);
    if (!w.ok() || !w.translation.accessed() || !mem_.pmap().valid(ppn_of(w.translation.phys))) continue;
    stage(p, w.translation, true);
    c_prefetched.inc();
  }
}

// Issues one host mapping per run of staged pages contiguous in linear space and in the memfd
// with the same protection (DESIGN.md 1: amortise the mmap cost).
void ShadowMmu::commit() {
  std::sort(staged_.begin(), staged_.end());
  size_t i = 0;
  while (i < staged_.size()) {
    const ShadowPage& first = *pages_.find(staged_[i]);
    size_t j = i + 1;
    while (j < staged_.size() && staged_[j] == staged_[j - 1] + 1) {
      const ShadowPage& prev = *pages_.find(staged_[j - 1]);
      const ShadowPage& next = *pages_.find(staged_[j]);
      if (next.mpn.value != prev.mpn.value + 1 || next.prot != first.prot) break;
      ++j;
    }
    mapper_.map(LinearAddr(staged_[i] << kPageShift), static_cast<uint32_t>(j - i), first.mpn, first.prot);
    c_maps.inc();
    c_pages.inc(j - i);
    i = j;
  }
  staged_.clear();
  publish_vmas();
}

void ShadowMmu::forget(uint32_t lpn) {
  ShadowPage p = pages_.erase(lpn);
  release_table_trace(p.pde);
  release_table_trace(p.pte);
}

// One host call per span of dropped pages that no mapping left in the shadow interrupts: the
// unmapped pages between two runs are PROT_NONE already, so sweeping over them changes nothing,
// and each call costs the host a TLB flush however many runs it covers (a CR3 load that drops a
// process's scattered pages then costs one flush, not one per run).
void ShadowMmu::drop(std::vector<uint32_t> lpns) {
  std::sort(lpns.begin(), lpns.end());
  lpns.erase(std::unique(lpns.begin(), lpns.end()), lpns.end());
  for (uint32_t lpn : lpns) forget(lpn);
  size_t i = 0;
  while (i < lpns.size()) {
    size_t j = i + 1;
    while (j < lpns.size() && (lpns[j] == lpns[j - 1] + 1 || !pages_.any_in(lpns[j - 1] + 1, lpns[j]))) ++j;
    mapper_.unmap(LinearAddr(lpns[i] << kPageShift), lpns[j - 1] - lpns[i] + 1);
    c_unmaps.inc();
    c_host_flushes.inc();
    i = j;
  }
  publish_vmas();
}

// Drops the mappings derived from the entries of `table` overlapping bytes [first_byte, end_byte).
void ShadowMmu::page_table_written(Ppn table, uint32_t first_byte, uint32_t end_byte) {
  std::vector<uint32_t> victims;
  for (uint32_t idx = first_byte / 4; idx < 1024 && idx * 4 < end_byte; ++idx) {
    auto deps = pages_.pages_using(EntryRef{table, idx});
    victims.insert(victims.end(), deps.begin(), deps.end());
    if (watched_.test(idx) && table == ppn_of(watched_pd_)) {
      deps = pages_.not_global_in_region(idx);
      c_watch_drops.inc(deps.size());
      victims.insert(victims.end(), deps.begin(), deps.end());
    }
  }
  if (!config_.defer_entry_write_drops) return drop(std::move(victims));
  c_deferred.inc(victims.size());
  pending_drops_.insert(victims.begin(), victims.end());
}

// Called at INVLPG, before the pending drops: exactly one pending page, prefetched, is the pattern
// of a transient mapping torn down entry by entry (write the PTE, INVLPG it). Sets of pages
// dropped together (munmap, exit, fork) cost one host call however they were mapped, and do
// not count.
void ShadowMmu::note_lone_invalidation() {
  if (!config_.prefetch_waste_limit || pending_drops_.size() != 1) return;
  const uint32_t lpn = *pending_drops_.begin();
  const ShadowPage* p = pages_.find(lpn);
  if (!p || !p->prefetched) return;
  if (++prefetch_waste_[lpn >> 10] == config_.prefetch_waste_limit) c_prefetch_off.inc();
}

void ShadowMmu::drop_pending() {
  if (pending_drops_.empty()) return;
  std::vector<uint32_t> victims;
  victims.reserve(pending_drops_.size());
  for (uint32_t lpn : pending_drops_)
    if (pages_.find(lpn)) victims.push_back(lpn);
  pending_drops_.clear();
  drop(std::move(victims));
}

FillResult ShadowMmu::fill(LinearAddr la, AccessKind kind) { return fill_at(la, kind, false); }

bool ShadowMmu::prefill(LinearAddr la) {
  const uint32_t lpn = la.value >> kPageShift;
  if (la.value < mapper_.first_mappable().value || (pages_.find(lpn) && !pending_drops_.count(lpn))) return false;
  const WalkResult probe = walk(mem_, state_, la, view_access(AccessKind::kRead), WalkMode::kProbe);
  if (!probe.ok()) return false;
  const Translation& t = probe.translation;
  const Ppn ppn = ppn_of(t.page());
  if (!mem_.pmap().valid(ppn)) return false;
  // A write walk sets nothing when D is set already; on a traced frame only a read may be prepared
  // (a write fill there reports a guest write that has not happened).
  const bool write = t.dirty && access_allowed(t, view_access(AccessKind::kWrite), state_.write_protect()) &&
                     traces_.kinds(ppn) == 0;
  const bool mapped = fill_at(la, write ? AccessKind::kWrite : AccessKind::kRead, true).status == FillStatus::kMapped;
  if (mapped) c_prefills.inc();
  return mapped;
}

FillResult ShadowMmu::fill_at(LinearAddr la, AccessKind kind, bool ahead) {
  FillResult res;
  const Access access = view_access(kind);
  WalkResult w = walk(mem_, state_, la, access);
  if (!w.ok()) {
    c_true.inc();
    res.status = FillStatus::kGuestFault;
    res.fault = w.fault;
    return res;
  }
  res.translation = w.translation;
  const Translation& t = w.translation;
  const Ppn ppn = ppn_of(t.page());
  if (!mem_.pmap().valid(ppn)) {
    c_not_ram.inc();
    res.status = FillStatus::kNotRam;
    return res;
  }
  if (la.value < mapper_.first_mappable().value) {
    c_emulated.inc();
    res.status = FillStatus::kEmulate;
    return res;
  }

  if (access.write()) {
    if (uint8_t kinds = traces_.kinds(ppn)) {
      // Nothing is mapped here: the write is about to change guest memory (perhaps the very entry
      // this translation used), so the caller emulates it and later accesses fill afresh.
      if (kinds & bit(TraceKind::kPageTable)) c_trace_pt.inc();
      if (kinds & bit(TraceKind::kCode)) c_trace_code.inc();
      const uint32_t offset = static_cast<uint32_t>(t.phys.value & (kPageSize - 1));
      traces_.report_write(ppn, offset, std::min<uint32_t>(offset + 8, kPageSize));
      res.status = FillStatus::kTracedWrite;
      return res;
    }
  }

  if (!ahead) c_hidden.inc();
  const uint32_t lpn = la.value >> kPageShift;
  // A pending drop is settled here: the walk above saw the entry as it is now.
  pending_drops_.erase(lpn);
  if (const ShadowPage* old = pages_.find(lpn)) {
    if (old->ppn == ppn && old->mpn == mem_.pmap().lookup(ppn) && old->pde == entry_ref(mem_, t.pde_addr) &&
        old->pte == entry_ref(mem_, t.pte_addr)) {
      // Same page through the same entries, now with D set or a trace gone: only the protection
      // changes.
      const Prot prot = prot_for(t, ppn);
      if (prot != old->prot) {
        pages_.set_prot(lpn, prot);
        mapper_.protect(LinearAddr(lpn << kPageShift), 1, prot);
        c_protects.inc();
        publish_vmas();
      }
      return res;
    }
    // Another frame or other entries: the map below replaces this one in the same host call (one
    // TLB flush, where an unmap and a map would cost two calls).
    forget(lpn);
    c_host_flushes.inc();
    c_replaced.inc();
  }

  // Each page this fill stages adds at most one run and one block.
  const uint32_t most_added = 2 * (config_.prefetch_pages + 1);
  VmaBudget* shared = config_.shared_vmas;
  if (vma_estimate() + most_added > config_.max_vmas || (shared && !shared->fits(most_added))) {
    c_flush_vmas.inc();
    if (shared) {
      shared->make_room(*this, most_added);
    } else {
      flush();
    }
  }
  stage(lpn, t);
  if (config_.prefetch_pages > 1) prefetch_around(lpn);
  commit();
  return res;
}

}  // namespace btvmm::mmu
