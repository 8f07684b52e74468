// Shadow page tables realised as host mappings (DESIGN.md 1, 2): decides which guest linear page
// is backed by which machine page with what protection, fills lazily on hidden faults, reflects
// true faults as guest #PF, drops mappings on CR3 loads, INVLPG and page-table writes, and keeps
// guest A/D bits exact. It decides; an AddressSpaceMapper acts. Never maps a page with more
// rights than the guest's own tables grant to the view it serves.
#pragma once

#include <cstdint>
#include <bitset>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <set>
#include <vector>

#include "core/types.h"
#include "mmu/address_space_mapper.h"
#include "mmu/machine_memory.h"
#include "mmu/paging.h"
#include "mmu/shadow_page_set.h"
#include "mmu/vma_budget.h"
#include "mmu/write_traces.h"

namespace btvmm::mmu {

// Whose accesses the mappings serve, fixed for a shadow's life. The supervisor window serves
// translated CPL 0 code; the user window (or a direct-execution stub) serves CPL 3 code and maps
// only what user accesses may touch. Two shadows over one WriteTraces stay coherent with each other.
enum class ShadowView : uint8_t { kSupervisor, kUser };

struct ShadowConfig {
  ShadowView view = ShadowView::kSupervisor;
  // Size, in pages, of the aligned block around a hidden fault whose already-accessed neighbours
  // are mapped in the same fill (power of two, <= 1024; 1 turns prefetching off).
  uint32_t prefetch_pages = 16;
  // A 4 MiB region where the guest invalidated this many prefetched pages one at a time (a PTE
  // write then INVLPG of that page alone: transient kernel mappings such as Linux's fixmap slots,
  // created with A already set) is no longer prefetched: there each prefetched page the guest
  // never used cost a host unmap of its own. 0 keeps prefetching everywhere.
  uint32_t prefetch_waste_limit = 32;
  // Flush everything rather than let this shadow's estimated VMA count pass this (vm.max_map_count
  // is 65530 for the whole process; leave it room for everything else).
  uint32_t max_vmas = 32768;
  // The budget this shadow shares with the other shadows of its process (which must outlive it):
  // a fill that would take them all past its limit makes room (VmaBudget::make_room), this shadow
  // flushing first. None: max_vmas alone bounds it.
  VmaBudget* shared_vmas = nullptr;
  // A guest write to a paging entry drops the mappings derived from it only at the guest's next
  // TLB invalidation (INVLPG, CR3 load, paging-mode change), as a processor's TLB may keep using
  // the old translation until then (SDM vol. 3A 4.10.4.2, 4.10.4.3): guests must invalidate before
  // relying on the change, and Linux does before it reuses a page. Many drops then cost one host
  // call per run (an munmap of 256 pages: one instead of 256 host TLB flushes).
  bool defer_entry_write_drops = true;
};

enum class FillStatus : uint8_t {
  kMapped,       // the page is mapped now: retry the access
  kGuestFault,   // the guest's tables forbid the access: deliver `fault` as #PF
  kTracedWrite,  // a legal write to a traced page: callbacks ran, affected mappings were dropped;
                 // the caller emulates the write (the page stays write-protected)
  kNotRam,       // the translation leads outside guest RAM: emulate (MMIO, or all ones)
  kEmulate,      // a legal access below first_mappable() (page 0): emulate it
};

struct FillResult {
  FillStatus status = FillStatus::kMapped;
  Translation translation;         // valid unless kGuestFault
  std::optional<PageFault> fault;  // set for kGuestFault
};

// One guest address space's shadow, in one host address space. Several may share a GuestMemory
// and a WriteTraces (the monitor window and a stub; later, cached address spaces).
class ShadowMmu final : private TraceListener {
 public:
  ShadowMmu(GuestMemory& mem, AddressSpaceMapper& mapper, WriteTraces& traces, GuestPagingState initial,
            ShadowConfig config = {});
  ~ShadowMmu() override;
  ShadowMmu(const ShadowMmu&) = delete;
  ShadowMmu& operator=(const ShadowMmu&) = delete;

  const GuestPagingState& paging() const { return state_; }
  // MOV to CR3 drops every mapping except global ones, as the processor's TLB does (SDM vol. 3A
  // 4.10.4.1). Keeping a global mapping is exactly what hardware may do, and the shadow is still
  // stricter than a TLB: a write to any entry a kept mapping came from drops it (write traces).
  // Guest kernels map their own text and data global, so they survive every context switch.
  // A guest that does not (no PGE, or kernel pages without G) still shares its kernel's directory
  // entries between address spaces: a 4 MiB region whose entry is the same in the new directory
  // keeps its mappings, and a trace on that entry drops them if it is written (same_entry, watch).
  void load_cr3(uint32_t cr3);
  // Changes of CR0.PG/PE/WP or CR4.PSE change what every mapping means: drop them all.
  void set_cr0(uint32_t cr0);
  // CR4.PSE as above. CR4.PGE alone changes no translation: toggling it flushes the whole TLB,
  // global entries too (SDM vol. 3A 4.10.4.1), which is how a kernel without INVPCID flushes its
  // global mappings (Linux's __native_flush_tlb_global). The shadow then does what a CR3 reload of
  // the same directory does: settles the drops of written entries and keeps every mapping a trace
  // covers, which is exactly what a walk gives now; with PGE clear none of them is global any more.
  void set_cr4(uint32_t cr4);
  // INVLPG: settles the drops of written entries (defer_entry_write_drops). Every mapping left is
  // then what a walk of the tables gives now, as after a CR3 reload of the same directory, so the
  // page's own mapping stays unless no trace covers the entries it came from (tables outside guest
  // RAM): a TLB refilled at once could hold exactly it (SDM vol. 3A 4.10.4.1 only requires that
  // nothing older survives). A demand-paging handler writes the PTE and invalidates the page:
  // dropping it there would undo the prefill and cost an unmap and a refault.
  void invlpg(LinearAddr la);
  void flush();
  ShadowView view() const { return view_; }

  // Handles a host fault at `la` caused by an access of `kind` from the view's privilege.
  FillResult fill(LinearAddr la, AccessKind kind);
  // Maps `la` ahead of its access if the guest's tables now allow it and it is not mapped yet (the
  // engine calls this when the guest has just written the entry for a #PF it is handling, so the
  // retried access finds the page: one host signal fewer per demand-paging or copy-on-write fault).
  // The walk sets A as a processor may for a translation it caches ahead of use (SDM vol. 3A
  // 4.10.2.3); it never sets D: the page is mapped writable only if D is already set. True if it
  // mapped the page (counted in shadow.prefills, not as a hidden fault).
  bool prefill(LinearAddr la);

  // Traces are shared: the translator adds kCode traces and registers callbacks there, and
  // reports writes the monitor emulates (WriteTraces::report_physical_write).
  WriteTraces& traces() { return traces_; }

  // Introspection for tests and --stats.
  const ShadowPage* mapping(LinearAddr la) const { return pages_.find(la.value >> kPageShift); }
  size_t mapped_pages() const { return pages_.size(); }
  // Extra VMAs the mappings cost: each run is one VMA, and each block of adjacent mapped pages
  // splits the reservation once (the unmapped gap after it). Exact but for blocks at the window's
  // ends, so never below what the host counts.
  uint32_t vma_estimate() const { return pages_.runs() + pages_.blocks(); }

 private:
  Access view_access(AccessKind kind) const { return Access{kind, view_ == ShadowView::kUser}; }
  Prot prot_for(const Translation& t, Ppn ppn) const;
  void stage(uint32_t lpn, const Translation& t, bool prefetched = false);
  void note_lone_invalidation();
  bool derived_from_traced_entries(const ShadowPage& p) const;
  bool same_entry(GuestPhysAddr old_pd, GuestPhysAddr new_pd, uint32_t region) const;
  void watch(GuestPhysAddr pd, uint32_t region);
  void release_watches(const std::bitset<1024>& regions, GuestPhysAddr pd);
  void prefetch_around(uint32_t lpn);
  void commit();
  void write_protect(Ppn ppn);
  void add_table_trace(const std::optional<EntryRef>& e);
  void release_table_trace(const std::optional<EntryRef>& e);
  void drop(std::vector<uint32_t> lpns);
  void forget(uint32_t lpn);  // bookkeeping only: the host mapping stays until replaced or dropped
  void drop_pending();
  void publish_vmas() const;
  void mode_changed();
  void global_flush();  // CR4.PGE toggled (set_cr4)
  FillResult fill_at(LinearAddr la, AccessKind kind, bool ahead);
  void page_traced(Ppn page) override { write_protect(page); }
  void page_table_written(Ppn page, uint32_t offset, uint32_t end) override;

  GuestMemory& mem_;
  AddressSpaceMapper& mapper_;
  GuestPagingState state_;
  ShadowConfig config_;
  WriteTraces& traces_;
  ShadowPageSet pages_;
  // This shadow's references on page-table traces, per table page, released when it drops them.
  std::unordered_map<uint32_t, uint32_t> table_refs_;
  // Regions kept across a CR3 load (load_cr3) whose entry in watched_pd_ this shadow traces.
  std::bitset<1024> watched_;
  GuestPhysAddr watched_pd_{0};
  std::vector<uint32_t> staged_;  // recorded in pages_ during this fill, not yet mapped
  std::unordered_set<uint32_t> pending_drops_;  // see ShadowConfig::defer_entry_write_drops
  // Per 4 MiB region: prefetched pages invalidated one at a time (ShadowConfig::prefetch_waste_limit).
  std::unordered_map<uint32_t, uint32_t> prefetch_waste_;
  ShadowView view_;
};

}  // namespace btvmm::mmu
