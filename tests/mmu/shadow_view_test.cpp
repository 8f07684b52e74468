// Unit tests of the two shadows btvmm runs translated code on (DESIGN.md 2): the supervisor shadow
// and the user shadow, each in its own window, over one set of write traces. The user shadow never
// maps a page with more rights than user code has; a guest page-table write drops what either one
// derived from the entry. Pure logic: runs under ASan+UBSan too.
#include <catch2/catch.hpp>

#include "mmu/shadow_mmu.h"
#include "tests/mmu/fake_mapper.h"
#include "tests/mmu/guest_page_tables.h"

using namespace btvmm;
using namespace btvmm::mmu;
using namespace btvmm::mmu::testing;

namespace {

ShadowConfig no_prefetch(ShadowView view) {
  ShadowConfig c;
  c.view = view;
  c.prefetch_pages = 1;
  return c;
}

// Two shadows as the bt backend builds them: separate mappers (windows), shared traces.
struct Fixture {
  explicit Fixture(uint32_t cr0 = kPg | kCr0Wp)
      : supervisor(mem, supervisor_window, traces, GuestPagingState{cr0, pt.cr3(), 0}, no_prefetch(ShadowView::kSupervisor)),
        user(mem, user_window, traces, GuestPagingState{cr0, pt.cr3(), 0}, no_prefetch(ShadowView::kUser)) {}
  GuestMemory mem{kRam};
  GuestPageTables pt{mem, kPd, kTables};
  FakeMapper supervisor_window;
  FakeMapper user_window;
  WriteTraces traces;
  ShadowMmu supervisor;
  ShadowMmu user;
};

constexpr uint32_t kUserPage = 0x08048000, kKernelPage = 0xc0100000, kUserRo = 0x08050000;

}  // namespace

TEST_CASE("user_shadow_never_maps_a_supervisor_page_that_the_supervisor_shadow_maps") {
  Fixture f;
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs | kPteDirty);
  f.pt.map4k(kKernelPage, 0x100000, kRw | kPteDirty);
  REQUIRE(f.supervisor.fill(LinearAddr(kKernelPage), AccessKind::kRead).status == FillStatus::kMapped);
  REQUIRE(f.supervisor.fill(LinearAddr(kUserPage), AccessKind::kWrite).status == FillStatus::kMapped);
  REQUIRE(f.supervisor_window.page(kKernelPage));

  // User code touching the kernel page gets the guest's #PF with U set (SDM vol. 3A 4.7), and the
  // user window stays without it.
  const FillResult r = f.user.fill(LinearAddr(kKernelPage), AccessKind::kRead);
  REQUIRE(r.status == FillStatus::kGuestFault);
  CHECK(r.fault->error_code == (kPfPresent | kPfUser));
  CHECK_FALSE(f.user_window.page(kKernelPage));
  REQUIRE(f.user.fill(LinearAddr(kUserPage), AccessKind::kWrite).status == FillStatus::kMapped);
  REQUIRE(f.user_window.page(kUserPage));
  CHECK(f.user_window.page(kUserPage)->prot == Prot::kReadWrite);
  // The supervisor's mappings are untouched by anything the user shadow did.
  CHECK(f.supervisor_window.page(kKernelPage));
}

TEST_CASE("user_shadow_maps_read_only_a_page_the_supervisor_may_write_but_user_code_may_not") {
  Fixture f(kPg);  // CR0.WP = 0: ring 0 writes user read-only pages (SDM vol. 3A 4.6.1)
  f.pt.map4k(kUserRo, 0x310000, kUs | kPteDirty);
  REQUIRE(f.supervisor.fill(LinearAddr(kUserRo), AccessKind::kWrite).status == FillStatus::kMapped);
  CHECK(f.supervisor_window.page(kUserRo)->prot == Prot::kReadWrite);
  REQUIRE(f.user.fill(LinearAddr(kUserRo), AccessKind::kRead).status == FillStatus::kMapped);
  CHECK(f.user_window.page(kUserRo)->prot == Prot::kRead);
  const FillResult w = f.user.fill(LinearAddr(kUserRo), AccessKind::kWrite);
  REQUIRE(w.status == FillStatus::kGuestFault);
  CHECK(w.fault->error_code == (kPfPresent | kPfWrite | kPfUser));
}

TEST_CASE("a_page_table_write_drops_what_both_shadows_derived_from_the_entry_at_the_next_invlpg") {
  Fixture f;
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs | kPteDirty);
  f.pt.map4k(kUserPage + kPageSize, 0x301000, kRw | kUs | kPteDirty);
  for (ShadowMmu* s : {&f.supervisor, &f.user}) {
    REQUIRE(s->fill(LinearAddr(kUserPage), AccessKind::kRead).status == FillStatus::kMapped);
    REQUIRE(s->fill(LinearAddr(kUserPage + kPageSize), AccessKind::kRead).status == FillStatus::kMapped);
  }
  // The guest rewrites the first page's PTE (as the monitor would report an emulated store). Until
  // the guest invalidates, the old translation may still be used, as from a TLB (SDM vol. 3A
  // 4.10.4.3), so nothing is unmapped yet: many such writes then cost one host call.
  f.traces.report_physical_write(f.pt.pte_addr(kUserPage), 4);
  CHECK(f.supervisor_window.page(kUserPage));
  CHECK(f.user_window.page(kUserPage));
  const unsigned before = f.user_window.unmap_calls;
  for (ShadowMmu* s : {&f.supervisor, &f.user}) s->invlpg(LinearAddr(0x0badd000));  // any INVLPG settles it
  CHECK_FALSE(f.supervisor_window.page(kUserPage));
  CHECK_FALSE(f.user_window.page(kUserPage));
  CHECK(f.supervisor.mapping(LinearAddr(kUserPage)) == nullptr);
  CHECK(f.user.mapping(LinearAddr(kUserPage)) == nullptr);
  CHECK(f.user_window.unmap_calls - before == 1);
  // The neighbour came from another entry: both keep it.
  CHECK(f.supervisor_window.page(kUserPage + kPageSize));
  CHECK(f.user_window.page(kUserPage + kPageSize));
}

TEST_CASE("a_cr3_load_drops_pending_global_mappings_and_a_fault_settles_a_pending_page_from_the_new_entry") {
  Fixture f;
  f.supervisor.set_cr4(kCr4Pge);
  f.pt.map4k(kKernelPage, 0x100000, kRw | kPteDirty | kPteGlobal);
  REQUIRE(f.supervisor.fill(LinearAddr(kKernelPage), AccessKind::kRead).status == FillStatus::kMapped);
  // A global page whose entry changed goes at the next CR3 load, although global pages survive it.
  f.pt.map4k(kKernelPage, 0x110000, kRw | kPteDirty | kPteGlobal);
  f.traces.report_physical_write(f.pt.pte_addr(kKernelPage), 4);
  f.supervisor.load_cr3(f.pt.cr3());
  CHECK_FALSE(f.supervisor_window.page(kKernelPage));

  // A user page mapped read-only (D clear) whose entry now names another frame: the write fault
  // that comes before any INVLPG is judged on the new entry, and maps the new frame.
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs);
  REQUIRE(f.user.fill(LinearAddr(kUserPage), AccessKind::kRead).status == FillStatus::kMapped);
  const uint32_t old_mpn = f.user_window.page(kUserPage)->mpn.value;
  f.pt.map4k(kUserPage, 0x340000, kRw | kUs | kPteDirty);
  f.traces.report_physical_write(f.pt.pte_addr(kUserPage), 4);
  REQUIRE(f.user.fill(LinearAddr(kUserPage), AccessKind::kWrite).status == FillStatus::kMapped);
  REQUIRE(f.user_window.page(kUserPage));
  CHECK(f.user_window.page(kUserPage)->mpn.value != old_mpn);
  CHECK(f.user_window.page(kUserPage)->prot == Prot::kReadWrite);
  // Settled: a later INVLPG does not drop the fresh mapping.
  f.user.invlpg(LinearAddr(0x0badd000));
  CHECK(f.user_window.page(kUserPage));
}

TEST_CASE("a_page_table_page_mapped_in_the_user_window_turns_read_only_when_the_supervisor_starts_tracing_it") {
  Fixture f;
  // A user-accessible page that is also one of the guest's page tables (the table for kUserPage).
  const uint32_t table_alias = 0x09000000;
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs | kPteDirty);
  f.pt.map4k(table_alias, f.pt.pte_addr(kUserPage).value & ~(kPageSize - 1), kRw | kUs | kPteDirty);
  REQUIRE(f.user.fill(LinearAddr(table_alias), AccessKind::kWrite).status == FillStatus::kMapped);
  REQUIRE(f.user_window.page(table_alias)->prot == Prot::kReadWrite);
  // The supervisor shadow maps kUserPage through that table: it traces the table page, and the
  // user window's writable alias of it must lose write (else guest writes would bypass the trace).
  REQUIRE(f.supervisor.fill(LinearAddr(kUserPage), AccessKind::kRead).status == FillStatus::kMapped);
  CHECK(f.user_window.page(table_alias)->prot == Prot::kRead);
  CHECK(f.user.fill(LinearAddr(table_alias), AccessKind::kWrite).status == FillStatus::kTracedWrite);
}
