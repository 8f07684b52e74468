// Unit tests of the shadow MMU's decisions (mmu/shadow_mmu.h) against a recording mapper: what is
// mapped where with which protection, what is reflected, what is dropped, and that guest A/D bits
// stay exact. Pure logic: runs under ASan+UBSan too. The real-window twin is shadow_window_test.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "core/stats.h"
#include "mmu/shadow_mmu.h"
#include "tests/mmu/fake_mapper.h"
#include "tests/mmu/guest_page_tables.h"

using namespace btvmm;
using namespace btvmm::mmu;
using namespace btvmm::mmu::testing;

namespace {

uint64_t counter(const char* name) {
  for (const auto& s : stats::snapshot())
    if (s.name == name) return s.value;
  FAIL("no counter " << name);
  return 0;
}

// Most tests check what a guest entry write drops, right at the write; the deferred default
// (ShadowConfig::defer_entry_write_drops) has its own tests in shadow_view_test.cpp.
ShadowConfig immediate_drops() {
  ShadowConfig c;
  c.defer_entry_write_drops = false;
  return c;
}

// A second address space's page directory (another process), far above the tables `pt` allocates.
constexpr uint32_t kOtherPd = 0x40000;
constexpr uint32_t kOtherTables = 0x41000;

struct Fixture {
  GuestMemory mem{kRam};
  GuestPageTables pt{mem, kPd, kTables};
  GuestPageTables other{mem, kOtherPd, kOtherTables};
  FakeMapper fake;
  WriteTraces traces;

  ShadowMmu make(uint32_t cr0 = kPg, uint32_t cr4 = 0, ShadowConfig cfg = immediate_drops()) {
    stats::reset_all();
    return ShadowMmu(mem, fake, traces, GuestPagingState{cr0, pt.cr3(), cr4}, cfg);
  }
};

ShadowConfig no_prefetch(ShadowView view = ShadowView::kSupervisor) {
  ShadowConfig c;
  c.defer_entry_write_drops = false;  // these tests check what a write drops, at the write
  c.view = view;
  c.prefetch_pages = 1;
  return c;
}

}  // namespace

TEST_CASE("hidden_fault_maps_the_machine_page_the_pmap_gives_for_the_guest_page") {
  Fixture f;
  f.mem.pmap().set(Ppn(0x300), Mpn(0x301));
  f.mem.pmap().set(Ppn(0x301), Mpn(0x300));
  f.pt.map4k(0x08048000, 0x300000, kRw | kUs | kPteDirty);
  ShadowMmu s = f.make();
  FillResult r = s.fill(LinearAddr(0x08048010), AccessKind::kRead);
  REQUIRE(r.status == FillStatus::kMapped);
  REQUIRE(f.fake.page(0x08048000));
  CHECK(f.fake.page(0x08048000)->mpn.value == 0x301);
  CHECK(f.fake.page(0x08048000)->prot == Prot::kReadWrite);
  CHECK(counter("shadow.hidden_faults") == 1);
  CHECK(counter("shadow.maps") == 1);
  CHECK(s.mapping(LinearAddr(0x08048000))->ppn.value == 0x300);
}

TEST_CASE("shadow_fault_reflects_guest_pf_error_code_and_cr2") {
  Fixture f;
  f.pt.map4k(0x400000, 0x5000, 0);  // supervisor, read-only, A/D clear
  {
    ShadowMmu user = f.make(kPg | kCr0Wp, 0, no_prefetch(ShadowView::kUser));
    FillResult np = user.fill(LinearAddr(0x00c00123), AccessKind::kWrite);
    REQUIRE(np.status == FillStatus::kGuestFault);
    CHECK(np.fault->cr2.value == 0x00c00123);
    CHECK(np.fault->error_code == (kPfWrite | kPfUser));
    FillResult us = user.fill(LinearAddr(0x400004), AccessKind::kRead);
    REQUIRE(us.status == FillStatus::kGuestFault);
    CHECK(us.fault->error_code == (kPfPresent | kPfUser));
    CHECK(counter("shadow.true_faults") == 2);
    CHECK(f.fake.size() == 0);
    // Reflected faults leave A alone, so the guest sees exactly what hardware would have left.
    CHECK_FALSE(f.pt.pte(0x400000) & kPteAccessed);
  }

  ShadowMmu super = f.make(kPg | kCr0Wp, 0, no_prefetch());
  FillResult wp = super.fill(LinearAddr(0x400008), AccessKind::kWrite);
  REQUIRE(wp.status == FillStatus::kGuestFault);
  CHECK(wp.fault->error_code == (kPfPresent | kPfWrite));
}

TEST_CASE("supervisor_write_to_read_only_page_goes_through_only_without_cr0_wp") {
  Fixture f;
  f.pt.map4k(0x400000, 0x5000, 0);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0xfeedface;
  auto r = sim_access(s, f.fake, f.mem, 0x400010, true, v);
  REQUIRE(r.status == FillStatus::kMapped);
  uint32_t back = 0;
  f.mem.read_obj(GuestPhysAddr(0x5010), back);
  CHECK(back == 0xfeedface);
  CHECK(f.pt.pte(0x400000) & kPteDirty);
  // Turning WP on changes what the mapping means: it must go, and the next write must fault.
  s.set_cr0(kPg | kCr0Wp);
  CHECK(f.fake.size() == 0);
  auto again = sim_access(s, f.fake, f.mem, 0x400010, true, v);
  REQUIRE(again.fault);
  CHECK(again.fault->error_code == (kPfPresent | kPfWrite));
}

TEST_CASE("page_with_dirty_clear_is_mapped_read_only_until_the_first_write_sets_d") {
  Fixture f;
  f.pt.map4k(0x08048000, 0x300000, kRw | kUs);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x08048000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0x08048000)->prot == Prot::kRead);
  CHECK((f.pt.pte(0x08048000) & (kPteAccessed | kPteDirty)) == kPteAccessed);
  CHECK(f.pt.pde(0x08048000) & kPteAccessed);
  v = 42;
  auto w = sim_access(s, f.fake, f.mem, 0x08048004, true, v);
  REQUIRE(w.status == FillStatus::kMapped);
  CHECK(w.fills == 1);
  CHECK(f.fake.page(0x08048000)->prot == Prot::kReadWrite);
  CHECK(f.pt.pte(0x08048000) & kPteDirty);
  CHECK(f.fake.protect_calls == 1);
  CHECK(counter("shadow.protects") == 1);
}

TEST_CASE("pse_page_is_shadowed_per_4k_and_a_rewritten_pde_drops_all_of_it_at_invlpg_anywhere") {
  Fixture f;
  f.pt.map4m(0xC0000000, 0x400000, kRw | kPteDirty);
  f.pt.map4k(0xC0400000, 0x6000, kRw | kPteDirty);
  ShadowConfig cfg = no_prefetch();
  cfg.defer_entry_write_drops = true;
  ShadowMmu s = f.make(kPg, kCr4Pse, cfg);
  uint32_t v = 0;
  for (uint32_t la : {0xC0000000u, 0xC0001000u, 0xC03FF000u, 0xC0400000u})
    REQUIRE(sim_access(s, f.fake, f.mem, la, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0xC03FF000)->mpn.value == 0x7FF);
  CHECK(f.pt.pde(0xC0000000) & kPteAccessed);
  // Nothing written: every mapping is what a walk gives now, and an INVLPG keeps it.
  s.invlpg(LinearAddr(0xC0200000));
  CHECK(f.fake.page(0xC0000000) != nullptr);
  CHECK(f.fake.page(0xC03FF000) != nullptr);
  f.pt.map4m(0xC0000000, 0x0, kRw | kPteDirty);
  f.traces.report_physical_write(f.pt.pde_addr(0xC0000000), 4);
  CHECK(f.fake.page(0xC0000000) != nullptr);  // usable until the guest invalidates, as from a TLB
  s.invlpg(LinearAddr(0xC0200000));  // not mapped itself, but inside the large page
  CHECK(f.fake.page(0xC0000000) == nullptr);
  CHECK(f.fake.page(0xC0001000) == nullptr);
  CHECK(f.fake.page(0xC03FF000) == nullptr);
  CHECK(f.fake.page(0xC0400000) != nullptr);
  CHECK(counter("shadow.invlpg") == 2);
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC03FF000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0xC03FF000)->mpn.value == 0x3FF);
}

TEST_CASE("invlpg_after_a_pte_write_drops_exactly_that_page_and_the_next_access_rewalks") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  f.pt.map4k(0x2000, 0x6000, kRw | kPteDirty);
  ShadowConfig cfg = no_prefetch();
  cfg.defer_entry_write_drops = true;
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x2000, false, v).status == FillStatus::kMapped);
  // The guest remaps 0x1000 (its PT is traced: the write is reported, as the monitor's emulation
  // of the faulting store reports it) and then invalidates: the new frame must be used.
  f.pt.set_pte(0x1000, 0x7000 | kPtePresent | kRw | kPteDirty);
  f.traces.report_physical_write(f.pt.pte_addr(0x1000), 4);
  CHECK(f.fake.page(0x1000) != nullptr);
  s.invlpg(LinearAddr(0x2abc));  // another page: settles the pending drop all the same
  CHECK(f.fake.page(0x1000) == nullptr);
  CHECK(f.fake.page(0x2000) != nullptr);
  s.invlpg(LinearAddr(0x1abc));
  CHECK(f.fake.page(0x1000) == nullptr);
  CHECK(f.fake.page(0x2000) != nullptr);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0x1000)->mpn.value == 7);
}

TEST_CASE("cr3_load_of_another_directory_drops_every_mapping_and_page_table_trace") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw);
  f.pt.map4k(0x800000, 0x6000, kRw);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x800000, false, v).status == FillStatus::kMapped);
  CHECK(s.traces().kinds(Ppn(kPd >> 12)) == bit(TraceKind::kPageTable));
  s.load_cr3(f.other.cr3());
  CHECK(f.fake.size() == 0);
  CHECK(f.fake.unmap_all_calls == 1);
  CHECK(s.mapped_pages() == 0);
  CHECK(s.traces().kinds(Ppn(kPd >> 12)) == 0);
  CHECK(counter("shadow.flushes_cr3") == 1);
}

TEST_CASE("cr3_load_of_another_directory_keeps_global_mappings_with_pge_and_drops_the_rest") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw);                           // a process page
  f.pt.map4k(0xC0100000, 0x6000, kRw | kPteGlobal);          // kernel text, global
  f.pt.map4k(0xC0200000, 0x7000, kRw);                       // kernel page without G
  ShadowMmu s = f.make(kPg, kCr4Pge, no_prefetch());
  uint32_t v = 0;
  for (uint32_t la : {0x1000u, 0xC0100000u, 0xC0200000u})
    REQUIRE(sim_access(s, f.fake, f.mem, la, false, v).status == FillStatus::kMapped);
  s.load_cr3(f.other.cr3());
  CHECK(f.fake.page(0x1000) == nullptr);
  CHECK(f.fake.page(0xC0200000) == nullptr);
  REQUIRE(f.fake.page(0xC0100000) != nullptr);
  CHECK(f.fake.page(0xC0100000)->mpn.value == 6);
  CHECK(s.mapped_pages() == 1);
  CHECK(counter("shadow.kept_cr3") == 1);
  // The kept mapping still depends on its entries: rewriting its PTE (as the guest would before an
  // INVLPG) drops it, so the shadow never holds more than a TLB could.
  f.pt.set_pte(0xC0100000, 0x9000 | kPtePresent | kRw | kPteGlobal);
  s.traces().report_physical_write(f.pt.pte_addr(0xC0100000), 4);
  CHECK(f.fake.page(0xC0100000) == nullptr);
  CHECK(s.mapped_pages() == 0);
}

TEST_CASE("cr3_load_of_another_directory_without_pge_drops_pages_marked_global_too") {
  Fixture f;
  f.pt.map4k(0xC0100000, 0x6000, kRw | kPteGlobal);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC0100000, false, v).status == FillStatus::kMapped);
  s.load_cr3(f.other.cr3());
  CHECK(f.fake.size() == 0);
  CHECK(f.fake.unmap_all_calls == 1);
}

// A guest without global pages (the test guest) shares its kernel half by copying directory
// entries into every process's directory: the mappings of such a region survive the switch.
TEST_CASE("cr3_load_of_another_directory_keeps_a_region_whose_directory_entry_is_the_same_there") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw);        // a process page: the other directory has no entry for it
  f.pt.map4k(0xC0100000, 0x6000, kRw);    // a kernel page without G, in a shared region
  f.pt.map4k(0xC0500000, 0x7000, kRw);    // a kernel page in a region the other maps elsewhere
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  for (uint32_t la : {0x1000u, 0xC0100000u, 0xC0500000u})
    REQUIRE(sim_access(s, f.fake, f.mem, la, false, v).status == FillStatus::kMapped);
  REQUIRE((f.pt.pde(0xC0100000) & kPteAccessed) != 0);  // the fill's walk set A
  f.other.set_pde(0xC0100000, f.pt.pde(0xC0100000));
  f.other.map4k(0xC0500000, 0x8000, kRw);
  s.load_cr3(f.other.cr3());
  CHECK(f.fake.page(0x1000) == nullptr);
  CHECK(f.fake.page(0xC0500000) == nullptr);
  REQUIRE(f.fake.page(0xC0100000) != nullptr);
  CHECK(f.fake.page(0xC0100000)->mpn.value == 6);
  CHECK(counter("shadow.kept_regions") == 1);
  CHECK(counter("shadow.kept_cr3") == 1);
  CHECK(s.traces().kinds(Ppn(kOtherPd >> 12)) == bit(TraceKind::kPageTable));  // the watch

  SECTION("a write to the new directory's entry drops the region's mappings") {
    f.other.set_pde(0xC0100000, 0);
    s.traces().report_physical_write(f.other.pde_addr(0xC0100000), 4);
    CHECK(f.fake.page(0xC0100000) == nullptr);
    CHECK(s.mapped_pages() == 0);
    CHECK(counter("shadow.watched_entry_drops") == 1);
  }
  SECTION("switching back keeps it again and releases the watch on the directory left") {
    s.load_cr3(f.pt.cr3());
    REQUIRE(f.fake.page(0xC0100000) != nullptr);
    CHECK(counter("shadow.kept_regions") == 2);
    CHECK(s.traces().kinds(Ppn(kOtherPd >> 12)) == 0);
    f.other.set_pde(0xC0100000, 0);  // no longer current: nothing to drop
    s.traces().report_physical_write(f.other.pde_addr(0xC0100000), 4);
    CHECK(f.fake.page(0xC0100000) != nullptr);
  }
  SECTION("a mode change flushes and releases the watch") {
    s.set_cr4(kCr4Pse);
    CHECK(s.mapped_pages() == 0);
    CHECK(s.traces().kinds(Ppn(kOtherPd >> 12)) == 0);
    CHECK(s.traces().kinds(Ppn(kPd >> 12)) == 0);
  }
}

TEST_CASE("cr3_load_keeps_no_region_whose_directory_entry_differs_even_only_in_a") {
  Fixture f;
  f.pt.map4k(0xC0100000, 0x6000, kRw);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC0100000, false, v).status == FillStatus::kMapped);
  // A walk of the other directory would set A in its entry: keeping the mapping would skip that.
  f.other.set_pde(0xC0100000, f.pt.pde(0xC0100000) & ~kPteAccessed);
  s.load_cr3(f.other.cr3());
  CHECK(s.mapped_pages() == 0);
  CHECK(counter("shadow.kept_regions") == 0);
  CHECK(s.traces().kinds(Ppn(kOtherPd >> 12)) == 0);
}

TEST_CASE("cr3_reload_of_the_directory_in_use_keeps_its_mappings_and_maps_nothing_again") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  f.pt.map4k(0x800000, 0x6000, kRw);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, true, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x800000, false, v).status == FillStatus::kMapped);
  const int maps = f.fake.map_calls;
  s.load_cr3(f.pt.cr3() | 0x18);  // PWT/PCD select a memory type, not other tables
  CHECK(f.fake.unmap_calls + f.fake.unmap_all_calls == 0);
  CHECK(s.mapped_pages() == 2);
  CHECK(sim_access(s, f.fake, f.mem, 0x1000, true, v).fills == 0);
  CHECK(sim_access(s, f.fake, f.mem, 0x800000, false, v).fills == 0);
  CHECK(f.fake.map_calls == maps);
  CHECK(s.traces().kinds(Ppn(kPd >> 12)) == bit(TraceKind::kPageTable));
  CHECK(counter("shadow.cr3_reloads_kept") == 1);
}

// The TLB semantics a kept mapping must honour (SDM vol. 3A 4.10.4.1): after the CR3 load the guest
// sees its tables as they are now, including entries it rewrote without INVLPG and A/D bits it
// cleared, exactly as if every translation had been dropped.
TEST_CASE("cr3_reload_of_the_directory_in_use_does_not_keep_a_mapping_whose_entry_changed_since") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  f.pt.map4k(0x2000, 0x6000, kRw | kPteDirty);
  f.pt.map4k(0x3000, 0x7000, kRw | kPteDirty);
  ShadowConfig cfg = no_prefetch();
  cfg.defer_entry_write_drops = true;  // as the monitor runs it: drops wait for INVLPG or CR3
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  for (uint32_t la : {0x1000u, 0x2000u, 0x3000u})
    REQUIRE(sim_access(s, f.fake, f.mem, la, true, v).status == FillStatus::kMapped);
  // Another frame for 0x1000; A and D cleared for 0x2000 (as page reclaim does); 0x3000 unchanged.
  f.pt.set_pte(0x1000, 0x8000 | kPtePresent | kRw);
  s.traces().report_physical_write(f.pt.pte_addr(0x1000), 4);
  f.pt.set_pte(0x2000, 0x6000 | kPtePresent | kRw);
  s.traces().report_physical_write(f.pt.pte_addr(0x2000), 4);
  CHECK(f.fake.page(0x1000));  // deferred: a TLB may still hold them until the CR3 load
  s.load_cr3(f.pt.cr3());
  CHECK_FALSE(f.fake.page(0x1000));
  CHECK_FALSE(f.fake.page(0x2000));
  REQUIRE(f.fake.page(0x3000));
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0x1000)->mpn.value == 8);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x2000, false, v).status == FillStatus::kMapped);
  CHECK((f.pt.pte(0x2000) & (kPteAccessed | kPteDirty)) == kPteAccessed);
  CHECK(f.fake.page(0x2000)->prot == Prot::kRead);  // D clear: the next write must come to set it
  REQUIRE(sim_access(s, f.fake, f.mem, 0x2000, true, v).status == FillStatus::kMapped);
  CHECK(f.pt.pte(0x2000) & kPteDirty);
}

TEST_CASE("a_cr3_load_sweeps_scattered_dropped_runs_in_one_host_call_but_never_over_a_kept_mapping") {
  Fixture f;
  for (uint32_t la : {0x1000u, 0x3000u, 0x9000u, 0x400000u}) f.pt.map4k(la, la + 0x100000, kRw | kPteDirty);
  // A global page between dropped ones splits the sweep there.
  f.pt.map4k(0x5000, 0x200000, kRw | kPteDirty | kPteGlobal);
  ShadowMmu s = f.make(kPg, kCr4Pge, no_prefetch());
  uint32_t v = 0;
  for (uint32_t la : {0x1000u, 0x3000u, 0x5000u, 0x9000u, 0x400000u})
    REQUIRE(sim_access(s, f.fake, f.mem, la, false, v).status == FillStatus::kMapped);
  s.load_cr3(f.other.cr3());
  CHECK(f.fake.unmap_calls == 2);  // [0x1000, 0x4000) and [0x9000, 0x401000)
  CHECK(f.fake.size() == 1);
  REQUIRE(f.fake.page(0x5000));
  CHECK(f.fake.page(0x5000)->mpn.value == 0x200);
  CHECK(counter("shadow.host_flushing_calls") == 2);
}

TEST_CASE("a_fill_over_a_mapping_of_another_frame_replaces_it_in_one_host_call") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw);  // D clear: mapped read-only, as a copy-on-write page is
  ShadowConfig cfg = no_prefetch();
  cfg.defer_entry_write_drops = true;
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  // The guest gives the page a new frame (copy-on-write break) and the write fault comes first.
  f.pt.set_pte(0x1000, 0x6000 | kPtePresent | kRw | kPteDirty | kPteAccessed);
  s.traces().report_physical_write(f.pt.pte_addr(0x1000), 4);
  const int maps = f.fake.map_calls;
  v = 0x1234;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, true, v).status == FillStatus::kMapped);
  CHECK(f.fake.map_calls == maps + 1);
  CHECK(f.fake.unmap_calls == 0);
  REQUIRE(f.fake.page(0x1000));
  CHECK(f.fake.page(0x1000)->mpn.value == 6);
  uint32_t written = 0;
  f.mem.read_obj(GuestPhysAddr(0x6000), written);
  CHECK(written == 0x1234);
  CHECK(counter("shadow.replaced") == 1);
  // The old entry's trace reference went with the old mapping; the new one holds one, and gives
  // it back with its mapping.
  s.load_cr3(f.other.cr3());
  CHECK(s.traces().kinds(Ppn(kTables >> 12)) == 0);
}

TEST_CASE("prefetch_maps_only_neighbours_already_accessed_in_one_coalesced_map") {
  Fixture f;
  // Eight contiguous pages; 0x10000..0x13000 have A (and D) set, 0x14000..0x17000 do not.
  for (uint32_t i = 0; i < 8; ++i)
    f.pt.map4k(0x00400000 + i * 0x1000, 0x200000 + i * 0x1000, kRw | (i < 4 ? kPteAccessed | kPteDirty : 0));
  ShadowConfig cfg;
  cfg.defer_entry_write_drops = false;
  cfg.prefetch_pages = 8;
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x00401000, false, v).status == FillStatus::kMapped);
  for (uint32_t i = 0; i < 4; ++i) CHECK(f.fake.page(0x00400000 + i * 0x1000) != nullptr);
  for (uint32_t i = 4; i < 8; ++i) {
    CHECK(f.fake.page(0x00400000 + i * 0x1000) == nullptr);
    CHECK_FALSE(f.pt.pte(0x00400000 + i * 0x1000) & kPteAccessed);
  }
  CHECK(f.fake.map_calls == 1);
  CHECK(counter("shadow.prefetched") == 3);
  CHECK(s.vma_estimate() == 2);
}

TEST_CASE("write_to_a_traced_page_table_calls_back_and_drops_only_mappings_of_the_written_entries") {
  Fixture f;
  // fill() cannot know the store's width and drops the entries under bytes [offset, offset + 8):
  // a write at PTE 1 drops PTE 1 and 2, never PTE 3.
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  f.pt.map4k(0x2000, 0x8000, kRw | kPteDirty);
  f.pt.map4k(0x3000, 0x6000, kRw | kPteDirty);
  const uint32_t table = f.pt.pde(0x1000) & kPteFrameMask;
  // The kernel's view of its own page table: linear 0xC0000000 maps the table page writable.
  f.pt.map4k(0xC0000000, table, kRw | kPteDirty);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  std::vector<std::pair<uint32_t, uint32_t>> seen;
  s.traces().on_write(TraceKind::kPageTable, [&](Ppn p, uint32_t off) { seen.emplace_back(p.value, off); });
  int code_calls = 0;
  s.traces().on_write(TraceKind::kCode, [&](Ppn, uint32_t) { ++code_calls; });
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x2000, false, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x3000, false, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC0000000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0xC0000000)->prot == Prot::kRead);  // the guest allows writes; the trace does not

  v = 0x9000 | kPtePresent | kRw | kPteDirty;  // retarget PTE 1 (linear 0x1000)
  auto w = sim_access(s, f.fake, f.mem, 0xC0000000 + 1 * 4, true, v);
  CHECK(w.status == FillStatus::kTracedWrite);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::make_pair(table >> 12, 4u));
  CHECK(code_calls == 0);
  CHECK(f.fake.page(0x1000) == nullptr);
  CHECK(f.fake.page(0x2000) == nullptr);  // an 8-byte store at PTE 1 would have changed PTE 2
  CHECK(f.fake.page(0x3000) != nullptr);
  CHECK(counter("shadow.trace_faults_pt") == 1);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0x1000)->mpn.value == 9);
  CHECK(f.fake.protects_of_unmapped == 0);
}

TEST_CASE("code_trace_write_protects_mapped_page_and_reports_writes_until_untraced") {
  Fixture f;
  f.pt.map4k(0xC0100000, 0x100000, kRw | kPteDirty);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  std::vector<uint32_t> offsets;
  s.traces().on_write(TraceKind::kCode, [&](Ppn p, uint32_t off) {
    CHECK(p.value == 0x100);
    offsets.push_back(off);
  });
  uint32_t v = 0x90909090;
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC0100000, true, v).status == FillStatus::kMapped);
  REQUIRE(f.fake.page(0xC0100000)->prot == Prot::kReadWrite);
  s.traces().add(Ppn(0x100), TraceKind::kCode);
  CHECK(f.fake.page(0xC0100000)->prot == Prot::kRead);
  auto w = sim_access(s, f.fake, f.mem, 0xC0100abc, true, v);
  CHECK(w.status == FillStatus::kTracedWrite);
  CHECK(offsets == std::vector<uint32_t>{0xabc});
  CHECK(counter("shadow.trace_faults_code") == 1);
  uint32_t back = 0;
  f.mem.read_obj(GuestPhysAddr(0x100abc), back);
  CHECK(back == 0x90909090);
  s.traces().remove(Ppn(0x100), TraceKind::kCode);
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC0100abc, true, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0xC0100000)->prot == Prot::kReadWrite);
  CHECK(offsets.size() == 1);
}

TEST_CASE("emulated_physical_write_over_a_page_table_drops_every_entry_it_covers") {
  Fixture f;
  for (uint32_t i = 1; i < 5; ++i) f.pt.map4k(i * 0x1000, 0x100000 + i * 0x1000, kRw | kPteDirty | kPteAccessed);
  ShadowConfig cfg;
  cfg.defer_entry_write_drops = false;
  cfg.prefetch_pages = 8;
  ShadowMmu s = f.make(kPg, 0, cfg);
  int calls = 0;
  s.traces().on_write(TraceKind::kPageTable, [&](Ppn, uint32_t off) {
    ++calls;
    CHECK(off == 8);
  });
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  REQUIRE(f.fake.size() == 4);
  const uint32_t table = f.pt.pde(0x1000) & kPteFrameMask;
  s.traces().report_physical_write(GuestPhysAddr(table + 8), 8);  // PTEs 2 and 3
  CHECK(calls == 1);
  CHECK(f.fake.page(0x1000) != nullptr);
  CHECK(f.fake.page(0x2000) == nullptr);
  CHECK(f.fake.page(0x3000) == nullptr);
  CHECK(f.fake.page(0x4000) != nullptr);
  s.traces().report_physical_write(GuestPhysAddr(0x300000), 64);  // untraced: nothing happens
  CHECK(calls == 1);
}

TEST_CASE("page_zero_is_left_to_emulation_and_memory_outside_ram_is_not_mapped") {
  Fixture f;
  f.pt.map4k(0x0, 0x5000, kRw);
  f.pt.map4k(0x3000, 0xFEE00000, kRw | kPteDirty);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  FillResult zero = s.fill(LinearAddr(0x10), AccessKind::kRead);
  CHECK(zero.status == FillStatus::kEmulate);
  CHECK(zero.translation.phys.value == 0x5010);
  CHECK(f.pt.pte(0x0) & kPteAccessed);  // the access happened, in emulation
  FillResult mmio = s.fill(LinearAddr(0x3004), AccessKind::kWrite);
  CHECK(mmio.status == FillStatus::kNotRam);
  CHECK(mmio.translation.phys.value == 0xFEE00004);
  CHECK(f.fake.size() == 0);
}

TEST_CASE("paging_off_shadows_linear_equal_physical_writable") {
  Fixture f;
  ShadowMmu s = f.make(kCr0Pe, 0, no_prefetch());
  uint32_t v = 77;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x7000, true, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0x7000)->mpn.value == 7);
  CHECK(f.fake.page(0x7000)->prot == Prot::kReadWrite);
  s.set_cr0(kPg);
  CHECK(f.fake.size() == 0);
  CHECK(counter("shadow.flushes_mode") == 1);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kGuestFault);
  s.set_cr0(kPg);  // same value: nothing to drop
  CHECK(counter("shadow.flushes_mode") == 1);
}

TEST_CASE("vma_estimate_stays_under_the_bound_by_flushing") {
  Fixture f;
  // 64 scattered pages (every other linear page, so no two coalesce).
  for (uint32_t i = 0; i < 64; ++i) f.pt.map4k(0x100000 + i * 0x2000, 0x200000 + i * 0x3000, kRw | kPteDirty);
  ShadowConfig cfg = no_prefetch();
  cfg.max_vmas = 40;
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  for (uint32_t i = 0; i < 64; ++i) {
    REQUIRE(sim_access(s, f.fake, f.mem, 0x100000 + i * 0x2000, false, v).status == FillStatus::kMapped);
    CHECK(s.vma_estimate() <= 40);
    CHECK(counter("shadow.vmas") == s.vma_estimate());
  }
  CHECK(counter("shadow.flushes_vma_limit") >= 1);
}

TEST_CASE("linearly_adjacent_pages_of_scattered_frames_cost_one_vma_each_plus_one_gap") {
  Fixture f;
  // 32 adjacent linear pages over frames in descending order: no two merge in the host.
  for (uint32_t i = 0; i < 32; ++i) f.pt.map4k(0x100000 + i * 0x1000, 0x300000 - i * 0x1000, kRw | kPteDirty);
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  uint32_t v = 0;
  for (uint32_t i = 0; i < 32; ++i)
    REQUIRE(sim_access(s, f.fake, f.mem, 0x100000 + i * 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(s.vma_estimate() == 33);
}

// Both windows of a process count against one vm.max_map_count: the shadow that fills flushes
// itself first, and the other only when it alone holds too much for the addition.
TEST_CASE("shadows_sharing_a_vma_budget_flush_the_filling_one_first_and_the_other_only_if_needed") {
  Fixture f;
  // 64 scattered pages (every other linear page), user-accessible so both views may map them.
  for (uint32_t i = 0; i < 64; ++i) f.pt.map4k(0x100000 + i * 0x2000, 0x200000 + i * 0x3000, kRw | kUs | kPteDirty);
  FakeMapper user_fake;
  auto fill_pages = [&](ShadowMmu& s, FakeMapper& m, uint32_t first, uint32_t n) {
    uint32_t v = 0;
    for (uint32_t i = first; i < first + n; ++i)
      REQUIRE(sim_access(s, m, f.mem, 0x100000 + i * 0x2000, false, v).status == FillStatus::kMapped);
  };
  SECTION("the filler's own mappings make room") {
    VmaBudget budget(60);
    ShadowConfig cfg = no_prefetch();
    cfg.shared_vmas = &budget;
    ShadowMmu sup = f.make(kPg, 0, cfg);
    ShadowConfig ucfg = no_prefetch(ShadowView::kUser);
    ucfg.shared_vmas = &budget;
    ShadowMmu user(f.mem, user_fake, f.traces, GuestPagingState{kPg, f.pt.cr3(), 0}, ucfg);
    fill_pages(sup, f.fake, 0, 20);  // 20 isolated pages: a run and a gap each
    CHECK(budget.used() == 40);
    fill_pages(user, user_fake, 0, 9);
    CHECK(budget.used() == 58);
    CHECK(counter("shadow.flushes_vma_limit") == 0);
    fill_pages(user, user_fake, 9, 1);  // 58 + 4 (what one fill may add) > 60
    CHECK(counter("shadow.flushes_vma_limit") == 1);
    CHECK(user.mapped_pages() == 1);
    CHECK(sup.mapped_pages() == 20);
    CHECK(counter("shadow.vmas") == budget.used());
  }
  SECTION("the other shadow flushes when the filler's own flush is not enough") {
    VmaBudget budget(44);
    ShadowConfig cfg = no_prefetch();
    cfg.shared_vmas = &budget;
    ShadowMmu sup = f.make(kPg, 0, cfg);
    ShadowConfig ucfg = no_prefetch(ShadowView::kUser);
    ucfg.shared_vmas = &budget;
    ShadowMmu user(f.mem, user_fake, f.traces, GuestPagingState{kPg, f.pt.cr3(), 0}, ucfg);
    fill_pages(sup, f.fake, 0, 21);
    CHECK(budget.used() == 42);
    fill_pages(user, user_fake, 0, 1);
    CHECK(counter("shadow.flushes_vma_limit") == 1);
    CHECK(sup.mapped_pages() == 0);
    CHECK(f.fake.size() == 0);
    CHECK(user.mapped_pages() == 1);
    CHECK(budget.used() == 2);
    CHECK(counter("shadow.vmas") == 2);
  }
}

TEST_CASE("random_guest_accesses_keep_shadow_consistent_with_guest_tables") {
  const uint32_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  Fixture f;
  ShadowConfig cfg;
  cfg.defer_entry_write_drops = false;
  cfg.prefetch_pages = 4;
  ShadowMmu s = f.make(kPg | kCr0Wp, 0, cfg);
  // 32 linear pages over 16 guest frames, random rights and A/D.
  auto remap = [&](uint32_t i) {
    uint32_t flags = (rng() & 1 ? kRw : 0) | kUs | (rng() & 1 ? kPteAccessed : 0) | (rng() & 1 ? kPteDirty : 0);
    f.pt.map4k(0x400000 + i * 0x1000, 0x200000 + (rng() % 16) * 0x1000, flags);
    f.traces.report_physical_write(f.pt.pte_addr(0x400000 + i * 0x1000), 4);  // as the guest's store is
  };
  for (uint32_t i = 0; i < 32; ++i) remap(i);
  for (int step = 0; step < 2000; ++step) {
    const uint32_t i = rng() % 32;
    const uint32_t la = 0x400000 + i * 0x1000 + (rng() % 1024) * 4;
    switch (rng() % 8) {
      case 0: remap(i); s.invlpg(LinearAddr(la)); break;
      case 1: if (rng() % 8 == 0) s.load_cr3(f.pt.cr3()); break;
      default: {
        const bool write = rng() & 1;
        uint32_t v = rng();
        const uint32_t pte_before = f.pt.pte(la);
        auto r = sim_access(s, f.fake, f.mem, la, write, v);
        const bool allowed = !write || (pte_before & kRw);
        REQUIRE(r.fills < 4);
        CHECK((r.status == FillStatus::kGuestFault) == !allowed);
        if (allowed) {
          CHECK(f.pt.pte(la) & kPteAccessed);
          if (write) CHECK(f.pt.pte(la) & kPteDirty);
        }
      }
    }
    // Every host mapping must agree with what the guest's tables say right now, and never grant
    // write unless the guest allows it and D is already set.
    for (uint32_t j = 0; j < 32; ++j) {
      const uint32_t pla = 0x400000 + j * 0x1000;
      const FakeMapper::Page* p = f.fake.page(pla);
      if (!p) continue;
      const uint32_t pte = f.pt.pte(pla);
      REQUIRE(f.mem.pmap().lookup(Ppn(pte >> 12)).value == p->mpn.value);
      CHECK(pte & kPteAccessed);
      if (p->prot == Prot::kReadWrite) CHECK((pte & (kRw | kPteDirty)) == (kRw | kPteDirty));
    }
  }
}

TEST_CASE("page_directory_mapped_through_itself_comes_out_read_only_even_when_prefetched") {
  Fixture f;
  // PDE 0x3FF points at the page directory (recursive mapping): linear 0xFFC00000 + i * 4 KiB
  // shows page table i, and 0xFFFFF000 shows the directory itself. Both are traced page tables of
  // the very walk that maps them, so neither may be writable in the shadow.
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty | kPteAccessed);
  f.pt.set_pde(0xFFC00000, kPd | kPtePresent | kRw | kPteAccessed);
  f.pt.set_pte(0xFFFFF000, kPd | kPtePresent | kRw | kPteAccessed | kPteDirty);
  ShadowConfig cfg;
  cfg.defer_entry_write_drops = false;
  cfg.prefetch_pages = 1024;
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  REQUIRE(sim_access(s, f.fake, f.mem, 0xFFC00000, false, v).status == FillStatus::kMapped);
  REQUIRE(f.fake.page(0xFFFFF000));
  CHECK(f.fake.page(0xFFFFF000)->prot == Prot::kRead);
  CHECK(f.fake.page(0xFFC00000)->prot == Prot::kRead);
  CHECK(f.fake.protects_of_unmapped == 0);
  // A write to the PDE for 0x1000 through the recursive view is a traced write that drops 0x1000.
  v = 0;
  CHECK(sim_access(s, f.fake, f.mem, 0xFFFFF000, true, v).status == FillStatus::kTracedWrite);
  CHECK(f.fake.page(0x1000) == nullptr);
  CHECK(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kGuestFault);
}

TEST_CASE("shadows_sharing_traces_see_each_others_page_table_and_code_traces") {
  Fixture f;
  FakeMapper user_fake;
  f.pt.map4k(0x08048000, 0x300000, kRw | kUs | kPteDirty);
  const uint32_t table = f.pt.pde(0x08048000) & kPteFrameMask;
  f.pt.map4k(0xC0000000 + table, table, kRw | kPteDirty);  // kernel's linear map of that table
  ShadowMmu kernel = f.make(kPg, 0, no_prefetch());
  ShadowMmu user(f.mem, user_fake, f.traces, GuestPagingState{kPg, f.pt.cr3(), 0}, no_prefetch(ShadowView::kUser));
  uint32_t v = 0;
  REQUIRE(sim_access(user, user_fake, f.mem, 0x08048000, true, v).status == FillStatus::kMapped);
  REQUIRE(user_fake.page(0x08048000)->prot == Prot::kReadWrite);

  // A code trace set once reaches the user shadow's mapping.
  f.traces.add(Ppn(0x300), TraceKind::kCode);
  CHECK(user_fake.page(0x08048000)->prot == Prot::kRead);
  f.traces.remove(Ppn(0x300), TraceKind::kCode);

  // The kernel shadow has no mapping through `table`, but the user shadow does: a kernel write to
  // the PTE is still a traced write, and it drops the user shadow's mapping.
  v = 0x301000 | kPtePresent | kRw | kUs | kPteDirty;
  CHECK(sim_access(kernel, f.fake, f.mem, 0xC0000000 + table + 0x48 * 4, true, v).status == FillStatus::kTracedWrite);
  CHECK(user_fake.page(0x08048000) == nullptr);
  REQUIRE(sim_access(user, user_fake, f.mem, 0x08048000, false, v).status == FillStatus::kMapped);
  CHECK(user_fake.page(0x08048000)->mpn.value == 0x301);
}

TEST_CASE("destroyed_shadow_releases_its_page_table_traces") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  const Ppn table(f.pt.pde(0x1000) >> 12);
  {
    ShadowMmu s = f.make(kPg, 0, no_prefetch());
    uint32_t v = 0;
    REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
    CHECK(f.traces.kinds(table) == bit(TraceKind::kPageTable));
  }
  CHECK(f.traces.kinds(table) == 0);
  CHECK(f.traces.kinds(Ppn(kPd >> 12)) == 0);
  CHECK(f.fake.size() == 0);
}

TEST_CASE("a_region_whose_prefetched_pages_the_guest_invalidates_one_by_one_is_no_longer_prefetched") {
  Fixture f;
  // Transient kernel mappings (Linux's fixmap slots): created with A and D already set, then torn
  // down entry by entry, each PTE clear followed by an INVLPG of that page alone.
  constexpr uint32_t kSlots = 0xFE800000;
  constexpr uint32_t kFlags = kRw | kPteAccessed | kPteDirty;
  auto map_slots = [&] {
    for (uint32_t i = 0; i < 16; ++i) {
      f.pt.map4k(kSlots + i * kPageSize, 0x200000 + i * 0x2000, kFlags);
      f.traces.report_physical_write(f.pt.pte_addr(kSlots + i * kPageSize), 4);
    }
  };
  auto unmap_slots = [&] {
    for (uint32_t i = 0; i < 16; ++i) {
      f.pt.set_pte(kSlots + i * kPageSize, 0);
      f.traces.report_physical_write(f.pt.pte_addr(kSlots + i * kPageSize), 4);
    }
  };
  ShadowConfig cfg;
  cfg.prefetch_waste_limit = 8;
  ShadowMmu s = f.make(kPg, 0, cfg);
  uint32_t v = 0;
  map_slots();
  REQUIRE(sim_access(s, f.fake, f.mem, kSlots, false, v).status == FillStatus::kMapped);
  CHECK(s.mapped_pages() == 16);
  for (uint32_t i = 0; i < 16; ++i) {
    f.pt.set_pte(kSlots + i * kPageSize, 0);
    f.traces.report_physical_write(f.pt.pte_addr(kSlots + i * kPageSize), 4);
    s.invlpg(LinearAddr(kSlots + i * kPageSize));
  }
  CHECK(s.mapped_pages() == 0);
  CHECK(counter("shadow.prefetch_regions_off") == 1);
  map_slots();
  REQUIRE(sim_access(s, f.fake, f.mem, kSlots, false, v).status == FillStatus::kMapped);
  CHECK(s.mapped_pages() == 1);  // the page used, not its neighbours
  CHECK(sim_access(s, f.fake, f.mem, kSlots + 5 * kPageSize, false, v).fills == 1);
  unmap_slots();
  s.invlpg(LinearAddr(kSlots));
  // Drops of many pages at once (munmap, exit) are not this pattern: other regions keep prefetching.
  for (uint32_t i = 0; i < 4; ++i) f.pt.map4k(0x400000 + i * kPageSize, 0x300000 + i * kPageSize, kFlags);
  REQUIRE(sim_access(s, f.fake, f.mem, 0x400000, false, v).status == FillStatus::kMapped);
  CHECK(s.mapped_pages() == 4);
}

// ShadowMmu::prefill: a page the guest just made present is mapped before its access, with A set
// (a translation a processor may cache ahead of use) but never D: writable only if D is set
// already, read-only on a traced frame; nothing for an entry that is still not present.
TEST_CASE("prefill_maps_a_newly_present_page_setting_a_but_never_d") {
  Fixture f;
  ShadowMmu s = f.make(kPg, 0, no_prefetch());
  CHECK_FALSE(s.prefill(LinearAddr(0x08048000)));  // no entry yet
  CHECK_FALSE(f.fake.page(0x08048000));

  f.pt.map4k(0x08048000, 0x300000, kRw | kUs);  // as a #PF handler writes it: A and D clear
  REQUIRE(s.prefill(LinearAddr(0x08048123)));
  REQUIRE(f.fake.page(0x08048000));
  CHECK(f.fake.page(0x08048000)->prot == Prot::kRead);
  CHECK((f.pt.pte(0x08048000) & (kPteAccessed | kPteDirty)) == kPteAccessed);
  CHECK(counter("shadow.prefills") == 1);
  CHECK(counter("shadow.hidden_faults") == 0);
  CHECK_FALSE(s.prefill(LinearAddr(0x08048000)));  // mapped already: nothing to do

  f.pt.map4k(0x08049000, 0x301000, kRw | kUs | kPteDirty);  // Linux's write fault: D set, A clear
  REQUIRE(s.prefill(LinearAddr(0x08049000)));
  CHECK(f.fake.page(0x08049000)->prot == Prot::kReadWrite);
  CHECK((f.pt.pte(0x08049000) & (kPteAccessed | kPteDirty)) == (kPteAccessed | kPteDirty));

  f.pt.map4k(0x0804a000, 0x302000, kRw | kUs | kPteDirty);
  f.traces.add(Ppn(0x302), TraceKind::kCode);
  REQUIRE(s.prefill(LinearAddr(0x0804a000)));
  CHECK(f.fake.page(0x0804a000)->prot == Prot::kRead);
  f.traces.remove(Ppn(0x302), TraceKind::kCode);
}

// Linux without INVPCID flushes its global mappings by toggling CR4.PGE (__native_flush_tlb_global)
// after rewriting kernel entries: that is a TLB flush, not a new paging mode. What was rewritten
// goes (its deferred drop is settled), everything else stays mapped, and with PGE clear nothing is
// global any more: a CR3 load to another directory then drops what was global.
TEST_CASE("cr4_pge_toggle_settles_written_entries_keeps_the_rest_and_ends_globality_while_clear") {
  Fixture f;
  f.pt.map4k(0xC0100000, 0x6000, kRw | kPteGlobal | kPteDirty);
  f.pt.map4k(0xC0101000, 0x7000, kRw | kPteGlobal | kPteDirty);
  ShadowConfig cfg = no_prefetch();
  cfg.defer_entry_write_drops = true;
  ShadowMmu s = f.make(kPg, kCr4Pge, cfg);
  uint32_t v = 0;
  for (uint32_t la : {0xC0100000u, 0xC0101000u})
    REQUIRE(sim_access(s, f.fake, f.mem, la, false, v).status == FillStatus::kMapped);
  f.pt.set_pte(0xC0101000, 0x8000 | kPtePresent | kRw | kPteGlobal | kPteDirty);
  s.traces().report_physical_write(f.pt.pte_addr(0xC0101000), 4);
  REQUIRE(f.fake.page(0xC0101000));  // deferred until the flush

  s.set_cr4(0);  // PGE off: every TLB entry goes, global ones too
  CHECK(f.fake.unmap_all_calls == 0);
  REQUIRE(f.fake.page(0xC0100000));
  CHECK_FALSE(f.fake.page(0xC0101000));
  CHECK(counter("shadow.global_flushes") == 1);
  CHECK(counter("shadow.flushes_mode") == 0);
  REQUIRE(sim_access(s, f.fake, f.mem, 0xC0101000, false, v).status == FillStatus::kMapped);
  CHECK(f.fake.page(0xC0101000)->mpn.value == 8);

  SECTION("PGE set again: the mappings stay, still counted as not global (dropping more is allowed)") {
    s.set_cr4(kCr4Pge);
    CHECK(s.mapped_pages() == 2);
    s.load_cr3(f.other.cr3());
    CHECK(s.mapped_pages() == 0);
  }
  SECTION("PGE still clear: a CR3 load to another directory keeps nothing that was global") {
    s.load_cr3(f.other.cr3());
    CHECK(s.mapped_pages() == 0);
  }
}

TEST_CASE("cr4_pse_change_still_drops_every_mapping") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw);
  ShadowMmu s = f.make(kPg, kCr4Pge, no_prefetch());
  uint32_t v = 0;
  REQUIRE(sim_access(s, f.fake, f.mem, 0x1000, false, v).status == FillStatus::kMapped);
  s.set_cr4(kCr4Pge | kCr4Pse);
  CHECK(s.mapped_pages() == 0);
  CHECK(counter("shadow.flushes_mode") == 1);
}
