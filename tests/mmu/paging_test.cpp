// Unit tests of the 32-bit guest page walker (mmu/paging.h) against Intel SDM vol. 3A 4.3-4.8.
// Pure logic: runs under ASan+UBSan too. Builds page tables by hand; never maps anything.
#include <catch2/catch.hpp>

#include "mmu/paging.h"
#include "tests/mmu/guest_page_tables.h"

using namespace btvmm;
using namespace btvmm::mmu;
using namespace btvmm::mmu::testing;

namespace {

GuestPagingState paging_state(const GuestPageTables& pt, uint32_t cr0 = kPg, uint32_t cr4 = 0) {
  return GuestPagingState{cr0, pt.cr3(), cr4};
}

Access user(AccessKind k) { return Access::at_cpl(k, 3); }
Access super(AccessKind k) { return Access::at_cpl(k, 0); }

}  // namespace

TEST_CASE("paging_off_maps_linear_to_physical_and_writes_nothing") {
  GuestMemory mem(kRam);
  GuestPagingState st{kCr0Pe, 0x12345000, 0};  // PG clear
  WalkResult r = walk(mem, st, LinearAddr(0x00401234), user(AccessKind::kWrite));
  REQUIRE(r.ok());
  CHECK(r.translation.phys.value == 0x00401234);
  CHECK(r.translation.size == PageSize::kNone);
  CHECK(r.translation.writable);
  CHECK_FALSE(r.translation.pde_addr.has_value());
  // PG without PE is not paging (MOV to CR0 would have raised #GP).
  GuestPagingState pg_only{kCr0Pg, 0, 0};
  CHECK(walk(mem, pg_only, LinearAddr(0x1000), super(AccessKind::kRead)).translation.phys.value == 0x1000);
}

TEST_CASE("read_through_4k_page_sets_accessed_in_pde_and_pte_but_not_dirty") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x08048000, 0x300000, kRw | kUs);
  WalkResult r = walk(mem, paging_state(pt), LinearAddr(0x08048abc), user(AccessKind::kRead));
  REQUIRE(r.ok());
  CHECK(r.translation.phys.value == 0x300abc);
  CHECK(r.translation.size == PageSize::k4K);
  CHECK(r.translation.pde_addr->value == kPd + (0x08048000u >> 22) * 4);
  CHECK(r.translation.pte_addr->value == pt.pte_addr(0x08048000).value);
  CHECK(pt.pde(0x08048000) & kPteAccessed);
  CHECK(pt.pte(0x08048000) & kPteAccessed);
  CHECK_FALSE(pt.pte(0x08048000) & kPteDirty);
  CHECK_FALSE(r.translation.dirty);
}

TEST_CASE("write_sets_dirty_only_in_the_entry_that_maps_the_page") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x08048000, 0x300000, kRw | kUs);
  WalkResult r = walk(mem, paging_state(pt), LinearAddr(0x08048000), user(AccessKind::kWrite));
  REQUIRE(r.ok());
  CHECK(r.translation.dirty);
  CHECK((pt.pte(0x08048000) & (kPteAccessed | kPteDirty)) == (kPteAccessed | kPteDirty));
  // SDM 4.8: bit 6 of a PDE that references a page table is ignored and never set.
  CHECK_FALSE(pt.pde(0x08048000) & kPteDirty);
}

TEST_CASE("cr3_pwt_and_pcd_bits_do_not_move_the_page_directory") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x1000, 0x5000, kRw);
  GuestPagingState st{kPg, kPd | 0x18, 0};
  WalkResult r = walk(mem, st, LinearAddr(0x1010), super(AccessKind::kRead));
  REQUIRE(r.ok());
  CHECK(r.translation.phys.value == 0x5010);
}

TEST_CASE("not_present_entries_fault_with_p_clear_and_the_access_bits") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x400000, 0x5000, kRw | kUs);
  pt.set_pte(0x400000, 0x5000 | kRw | kUs);  // P clear in the PTE
  auto st = paging_state(pt);

  WalkResult no_pte = walk(mem, st, LinearAddr(0x400123), user(AccessKind::kWrite));
  REQUIRE(no_pte.fault);
  CHECK(no_pte.fault->cr2.value == 0x400123);
  CHECK(no_pte.fault->error_code == (kPfWrite | kPfUser));

  WalkResult no_pde = walk(mem, st, LinearAddr(0x00800010), super(AccessKind::kRead));
  REQUIRE(no_pde.fault);
  CHECK(no_pde.fault->cr2.value == 0x00800010);
  CHECK(no_pde.fault->error_code == 0);

  // SDM 4.7: I/D is set only with NX or SMEP; a 32-bit-paging fetch fault reports it as a read.
  WalkResult fetch = walk(mem, st, LinearAddr(0x00800010), user(AccessKind::kFetch));
  REQUIRE(fetch.fault);
  CHECK(fetch.fault->error_code == kPfUser);
}

TEST_CASE("faulting_walk_leaves_accessed_and_dirty_flags_alone") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x400000, 0x5000, 0);  // supervisor, read-only
  auto st = paging_state(pt, kPg | kCr0Wp);
  uint32_t pde_before = pt.pde(0x400000);
  uint32_t pte_before = pt.pte(0x400000);
  REQUIRE(walk(mem, st, LinearAddr(0x400000), user(AccessKind::kRead)).fault);
  REQUIRE(walk(mem, st, LinearAddr(0x400000), super(AccessKind::kWrite)).fault);
  CHECK(pt.pde(0x400000) == pde_before);
  CHECK(pt.pte(0x400000) == pte_before);
}

TEST_CASE("user_access_to_a_supervisor_page_faults_whichever_level_clears_us") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x400000, 0x5000, kRw);                          // PTE U/S=0
  pt.map4k(0x800000, 0x6000, kRw | kUs, kPtePresent | kRw);  // PDE U/S=0
  auto st = paging_state(pt);
  for (uint32_t la : {0x400000u, 0x800000u}) {
    WalkResult r = walk(mem, st, LinearAddr(la + 4), user(AccessKind::kRead));
    REQUIRE(r.fault);
    CHECK(r.fault->error_code == (kPfPresent | kPfUser));
    CHECK(r.fault->cr2.value == la + 4);
    WalkResult s = walk(mem, st, LinearAddr(la + 4), super(AccessKind::kWrite));
    CHECK(s.ok());
    CHECK_FALSE(s.translation.user);
  }
  // Implicit supervisor accesses (descriptor tables) are supervisor-mode even at CPL 3.
  CHECK(walk(mem, st, LinearAddr(0x400000), Access::implicit_supervisor(AccessKind::kRead)).ok());
}

TEST_CASE("write_to_a_read_only_page_depends_on_cr0_wp_only_for_the_supervisor") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x400000, 0x5000, kUs);                          // PTE R/W=0
  pt.map4k(0x800000, 0x6000, kRw | kUs, kPtePresent | kUs);  // PDE R/W=0
  for (uint32_t la : {0x400000u, 0x800000u}) {
    auto no_wp = paging_state(pt, kPg);
    auto wp = paging_state(pt, kPg | kCr0Wp);
    WalkResult u = walk(mem, no_wp, LinearAddr(la), user(AccessKind::kWrite));
    REQUIRE(u.fault);
    CHECK(u.fault->error_code == (kPfPresent | kPfWrite | kPfUser));
    WalkResult s_wp = walk(mem, wp, LinearAddr(la), super(AccessKind::kWrite));
    REQUIRE(s_wp.fault);
    CHECK(s_wp.fault->error_code == (kPfPresent | kPfWrite));
    WalkResult s = walk(mem, no_wp, LinearAddr(la), super(AccessKind::kWrite));
    REQUIRE(s.ok());
    CHECK_FALSE(s.translation.writable);
    CHECK(s.translation.dirty);
    CHECK(walk(mem, wp, LinearAddr(la), user(AccessKind::kRead)).ok());
  }
}

TEST_CASE("pse_4m_page_translates_and_keeps_accessed_and_dirty_in_the_pde") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4m(0xC0000000, 0x400000, kRw);
  auto st = paging_state(pt, kPg, kCr4Pse);
  WalkResult r = walk(mem, st, LinearAddr(0xC0123456), super(AccessKind::kRead));
  REQUIRE(r.ok());
  CHECK(r.translation.size == PageSize::k4M);
  CHECK(r.translation.phys.value == 0x523456);
  CHECK_FALSE(r.translation.pte_addr.has_value());
  CHECK((pt.pde(0xC0000000) & (kPteAccessed | kPteDirty)) == kPteAccessed);
  REQUIRE(walk(mem, st, LinearAddr(0xC03FFFFF), super(AccessKind::kWrite)).ok());
  CHECK(pt.pde(0xC0000000) & kPteDirty);
  WalkResult u = walk(mem, st, LinearAddr(0xC0000000), user(AccessKind::kRead));
  REQUIRE(u.fault);
  CHECK(u.fault->error_code == (kPfPresent | kPfUser));
}

TEST_CASE("without_cr4_pse_the_ps_bit_is_ignored_and_the_pde_references_a_page_table") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  // PDE with PS=1 whose frame 0x400000 also serves as a page table; PTE 0x123 maps 0x7000.
  pt.map4m(0x00000000, 0x400000, kRw);
  mem.write_obj(GuestPhysAddr(0x400000 + 0x123 * 4), uint32_t(0x7000 | kPtePresent | kRw));
  WalkResult r = walk(mem, paging_state(pt), LinearAddr(0x00123010), super(AccessKind::kRead));
  REQUIRE(r.ok());
  CHECK(r.translation.size == PageSize::k4K);
  CHECK(r.translation.phys.value == 0x7010);
}

TEST_CASE("4m_pde_with_reserved_bits_faults_with_rsvd_and_p") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  auto st = paging_state(pt, kPg, kCr4Pse);
  for (uint32_t bit : {13u, 17u, 21u}) {
    pt.set_pde(0x400000, 0x400000 | (1u << bit) | kPdeLargePage | kPtePresent | kRw | kUs);
    WalkResult r = walk(mem, st, LinearAddr(0x400000), user(AccessKind::kWrite));
    REQUIRE(r.fault);
    CHECK(r.fault->error_code == (kPfPresent | kPfReserved | kPfWrite | kPfUser));
    CHECK_FALSE(pt.pde(0x400000) & kPteAccessed);
  }
  // Bit 12 is PAT, not reserved.
  pt.set_pde(0x400000, 0x400000 | (1u << 12) | kPdeLargePage | kPtePresent);
  CHECK(walk(mem, st, LinearAddr(0x400000), super(AccessKind::kRead)).ok());
}

TEST_CASE("probe_walk_reports_the_translation_without_writing_flags") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x1000, 0x5000, kRw);
  WalkResult r = walk(mem, paging_state(pt), LinearAddr(0x1000), super(AccessKind::kWrite), WalkMode::kProbe);
  REQUIRE(r.ok());
  CHECK_FALSE(r.translation.accessed());
  CHECK_FALSE(r.translation.dirty);
  CHECK_FALSE(pt.pte(0x1000) & (kPteAccessed | kPteDirty));
  CHECK_FALSE(pt.pde(0x1000) & kPteAccessed);
}

TEST_CASE("global_flag_counts_only_with_cr4_pge") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x1000, 0x5000, kPteGlobal);
  CHECK_FALSE(walk(mem, paging_state(pt), LinearAddr(0x1000), super(AccessKind::kRead)).translation.global);
  CHECK(walk(mem, paging_state(pt, kPg, kCr4Pge), LinearAddr(0x1000), super(AccessKind::kRead)).translation.global);
}

TEST_CASE("entries_outside_guest_ram_read_as_all_ones_and_are_never_written") {
  GuestMemory mem(kRam);
  // CR3 beyond RAM: the PDE reads 0xFFFFFFFF, i.e. present, R/W, U/S, page table at 0xFFFFF000
  // (also beyond RAM), whose PTE maps frame 0xFFFFF000.
  GuestPagingState st{kPg, 0x40000000, 0};
  WalkResult r = walk(mem, st, LinearAddr(0x00001234), user(AccessKind::kWrite));
  REQUIRE(r.ok());
  CHECK(r.translation.phys.value == 0xFFFFF234);
  CHECK_FALSE(mem.contains(r.translation.phys, 1));
  // With PSE the same all-ones PDE is a 4 MiB page with reserved bits set.
  GuestPagingState pse{kPg, 0x40000000, kCr4Pse};
  WalkResult f = walk(mem, pse, LinearAddr(0x00001234), super(AccessKind::kRead));
  REQUIRE(f.fault);
  CHECK(f.fault->error_code == (kPfPresent | kPfReserved));

  // A PTE pointing outside RAM translates; what lives there is the caller's business.
  GuestPageTables pt(mem, kPd, kTables);
  pt.map4k(0x2000, 0xFEE00000, kRw);
  WalkResult mmio = walk(mem, GuestPagingState{kPg, pt.cr3(), 0}, LinearAddr(0x2010), super(AccessKind::kWrite));
  REQUIRE(mmio.ok());
  CHECK(mmio.translation.phys.value == 0xFEE00010);
}

TEST_CASE("self_mapped_page_directory_keeps_both_flag_updates") {
  GuestMemory mem(kRam);
  GuestPageTables pt(mem, kPd, kTables);
  // PDE 0x3FF points at the page directory itself (recursive mapping): the walk for 0xFFFFF000
  // uses the same word as PDE and PTE, so the A set by the first update must survive the second.
  pt.set_pde(0xFFC00000, kPd | kPtePresent | kRw);
  WalkResult r = walk(mem, paging_state(pt), LinearAddr(0xFFFFF000), super(AccessKind::kWrite));
  REQUIRE(r.ok());
  CHECK(r.translation.phys.value == kPd);
  CHECK((pt.pde(0xFFC00000) & (kPteAccessed | kPteDirty)) == (kPteAccessed | kPteDirty));
}
