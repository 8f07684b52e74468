// Unit tests of the shadow MMU's view switch (ShadowMmu::set_view): going to the user view drops
// exactly the mappings user code must not use as they are, going back drops nothing, and faults
// afterwards are judged with the new view's rights. Pure logic: runs under ASan+UBSan too.
#include <catch2/catch.hpp>

#include "core/stats.h"
#include "mmu/shadow_mmu.h"
#include "tests/mmu/fake_mapper.h"
#include "tests/mmu/guest_page_tables.h"

using namespace btvmm;
using namespace btvmm::mmu;
using namespace btvmm::mmu::testing;

namespace {

struct Fixture {
  GuestMemory mem{kRam};
  GuestPageTables pt{mem, kPd, kTables};
  FakeMapper fake;
  WriteTraces traces;
};

ShadowConfig no_prefetch() {
  ShadowConfig c;
  c.prefetch_pages = 1;
  return c;
}

constexpr uint32_t kUserPage = 0x08048000, kKernelPage = 0xc0100000, kUserRo = 0x08050000;

}  // namespace

TEST_CASE("shadow_view_switch_to_user_drops_supervisor_only_pages_and_keeps_user_pages") {
  Fixture f;
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs | kPteDirty);
  f.pt.map4k(kKernelPage, 0x100000, kRw | kPteDirty);
  ShadowMmu s(f.mem, f.fake, f.traces, GuestPagingState{kPg | kCr0Wp, f.pt.cr3(), 0}, no_prefetch());
  REQUIRE(s.fill(LinearAddr(kUserPage), AccessKind::kWrite).status == FillStatus::kMapped);
  REQUIRE(s.fill(LinearAddr(kKernelPage), AccessKind::kRead).status == FillStatus::kMapped);

  s.set_view(ShadowView::kUser);
  CHECK(s.mapping(LinearAddr(kKernelPage)) == nullptr);
  CHECK_FALSE(f.fake.page(kKernelPage));
  REQUIRE(s.mapping(LinearAddr(kUserPage)) != nullptr);
  REQUIRE(f.fake.page(kUserPage));
  CHECK(f.fake.page(kUserPage)->prot == Prot::kReadWrite);
  // User code touching the kernel page now gets the guest's #PF with U set (SDM vol. 3A 4.7).
  const FillResult r = s.fill(LinearAddr(kKernelPage), AccessKind::kRead);
  REQUIRE(r.status == FillStatus::kGuestFault);
  CHECK(r.fault->error_code == (kPfPresent | kPfUser));

  // Back to the supervisor: nothing is dropped, the kernel page fills again.
  s.set_view(ShadowView::kSupervisor);
  CHECK(s.mapping(LinearAddr(kUserPage)) != nullptr);
  CHECK(s.fill(LinearAddr(kKernelPage), AccessKind::kRead).status == FillStatus::kMapped);
}

TEST_CASE("shadow_view_switch_drops_a_page_the_supervisor_may_write_but_user_code_may_not") {
  Fixture f;
  f.pt.map4k(kUserRo, 0x310000, kUs | kPteDirty);  // user read-only; CR0.WP=0 lets ring 0 write
  ShadowMmu s(f.mem, f.fake, f.traces, GuestPagingState{kPg, f.pt.cr3(), 0}, no_prefetch());
  REQUIRE(s.fill(LinearAddr(kUserRo), AccessKind::kWrite).status == FillStatus::kMapped);
  REQUIRE(f.fake.page(kUserRo)->prot == Prot::kReadWrite);

  s.set_view(ShadowView::kUser);
  CHECK_FALSE(f.fake.page(kUserRo));
  REQUIRE(s.fill(LinearAddr(kUserRo), AccessKind::kRead).status == FillStatus::kMapped);
  CHECK(f.fake.page(kUserRo)->prot == Prot::kRead);
  const FillResult w = s.fill(LinearAddr(kUserRo), AccessKind::kWrite);
  REQUIRE(w.status == FillStatus::kGuestFault);
  CHECK(w.fault->error_code == (kPfPresent | kPfWrite | kPfUser));
}

TEST_CASE("shadow_view_switch_keeps_a_read_only_mapping_of_a_user_writable_page") {
  Fixture f;
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs);  // D clear: mapped read-only until the first write
  ShadowMmu s(f.mem, f.fake, f.traces, GuestPagingState{kPg | kCr0Wp, f.pt.cr3(), 0}, no_prefetch());
  REQUIRE(s.fill(LinearAddr(kUserPage), AccessKind::kRead).status == FillStatus::kMapped);
  s.set_view(ShadowView::kUser);
  REQUIRE(f.fake.page(kUserPage));
  CHECK(f.fake.page(kUserPage)->prot == Prot::kRead);
  // The user's first write comes through a fill that sets D, as on hardware (SDM vol. 3A 4.8).
  REQUIRE(s.fill(LinearAddr(kUserPage), AccessKind::kWrite).status == FillStatus::kMapped);
  CHECK(f.fake.page(kUserPage)->prot == Prot::kReadWrite);
  CHECK(f.pt.pte(kUserPage) & kPteDirty);
}

TEST_CASE("shadow_view_switch_unmaps_supervisor_pages_with_one_host_call_per_stretch_without_user_pages") {
  Fixture f;
  f.pt.map4k(kUserPage, 0x300000, kRw | kUs | kPteDirty);
  f.pt.map4k(0xc0100000, 0x100000, kRw | kPteDirty);
  f.pt.map4k(0xc0300000, 0x200000, kRw | kPteDirty);
  f.pt.map4k(0xd0000000, 0x400000, kRw | kUs | kPteDirty);  // a user page above the kernel's
  f.pt.map4k(0xe0000000, 0x500000, kRw | kPteDirty);
  ShadowMmu s(f.mem, f.fake, f.traces, GuestPagingState{kPg | kCr0Wp, f.pt.cr3(), 0}, no_prefetch());
  for (uint32_t la : {kUserPage, 0xc0100000u, 0xc0300000u, 0xd0000000u, 0xe0000000u})
    REQUIRE(s.fill(LinearAddr(la), AccessKind::kRead).status == FillStatus::kMapped);
  const unsigned before = f.fake.unmap_calls;
  s.set_view(ShadowView::kUser);
  // 0xc0100000 and 0xc0300000 go in one call (nothing of ours between them); the user page at
  // 0xd0000000 splits off 0xe0000000.
  CHECK(f.fake.unmap_calls - before == 2);
  for (uint32_t la : {0xc0100000u, 0xc0300000u, 0xe0000000u}) {
    CHECK_FALSE(f.fake.page(la));
    CHECK(s.mapping(LinearAddr(la)) == nullptr);
  }
  CHECK(f.fake.page(kUserPage));
  CHECK(f.fake.page(0xd0000000));
  CHECK(s.mapping(LinearAddr(0xd0000000)) != nullptr);
}
