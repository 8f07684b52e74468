// Unit tests of the shadow bookkeeping (mmu/shadow_page_set.h): the run and block counts that bound VMAs
// and the reverse indexes invalidation depends on. Pure logic: runs under ASan+UBSan too.
#include <catch2/catch.hpp>

#include "mmu/shadow_page_set.h"

using namespace btvmm;
using namespace btvmm::mmu;

namespace {

ShadowPage page(uint32_t mpn, Prot prot = Prot::kRead, std::optional<EntryRef> pte = std::nullopt) {
  ShadowPage p;
  p.mpn = Mpn(mpn);
  p.ppn = Ppn(mpn);
  p.prot = prot;
  p.size = PageSize::k4K;
  p.pte = pte;
  return p;
}

}  // namespace

TEST_CASE("runs_count_pages_contiguous_in_linear_space_and_memfd_with_equal_protection") {
  ShadowPageSet s;
  s.insert(10, page(100));
  s.insert(12, page(102));
  CHECK(s.runs() == 2);
  s.insert(11, page(101));  // fills the gap: one run
  CHECK(s.runs() == 1);
  s.insert(13, page(500));  // linear neighbour, memfd elsewhere
  CHECK(s.runs() == 2);
  s.set_prot(11, Prot::kReadWrite);  // splits 10 | 11 | 12
  CHECK(s.runs() == 4);
  s.set_prot(11, Prot::kRead);
  CHECK(s.runs() == 2);
  s.erase(11);
  CHECK(s.runs() == 3);
  s.erase(10);
  s.erase(12);
  s.erase(13);
  CHECK(s.runs() == 0);
  CHECK(s.size() == 0);
}

TEST_CASE("blocks_count_stretches_of_linearly_adjacent_pages_whatever_backs_them") {
  ShadowPageSet s;
  s.insert(10, page(300));
  s.insert(12, page(100));
  CHECK(s.blocks() == 2);
  s.insert(11, page(700, Prot::kReadWrite));  // joins both: one block of three runs
  CHECK(s.blocks() == 1);
  CHECK(s.runs() == 3);
  s.insert(0, page(1));  // linear page 0 has no left neighbour
  CHECK(s.blocks() == 2);
  s.erase(11);  // splits the block again
  CHECK(s.blocks() == 3);
  s.erase(10);
  CHECK(s.blocks() == 2);
  s.clear();
  CHECK(s.blocks() == 0);
}

TEST_CASE("reverse_indexes_follow_inserts_and_erases") {
  ShadowPageSet s;
  const EntryRef e{Ppn(7), 3};
  s.insert(1, page(50, Prot::kRead, e));
  s.insert(0x400 + 1, page(50, Prot::kRead, e));  // same table entry reached from another PDE
  CHECK(s.pages_backed_by(Ppn(50)).size() == 2);
  CHECK(s.pages_using(e).size() == 2);
  CHECK(s.pages_using(EntryRef{Ppn(7), 4}).empty());
  s.erase(1);
  CHECK(s.pages_using(e) == std::vector<uint32_t>{0x401});
  CHECK(s.pages_backed_by(Ppn(50)) == std::vector<uint32_t>{0x401});
  ShadowPage large = page(60);
  large.size = PageSize::k4M;
  s.insert(0x805, large);
  CHECK(s.large_pages_in(2) == std::vector<uint32_t>{0x805});
  CHECK(s.large_pages_in(1).empty());
}

TEST_CASE("any_in_sees_exactly_the_pages_mapped_in_a_half_open_range") {
  ShadowPageSet s;
  s.insert(10, page(100));
  s.insert(20, page(200));
  CHECK_FALSE(s.any_in(0, 10));
  CHECK(s.any_in(10, 11));
  CHECK_FALSE(s.any_in(11, 20));
  CHECK(s.any_in(11, 21));
  CHECK_FALSE(s.any_in(21, UINT32_MAX));
  s.erase(20);
  CHECK_FALSE(s.any_in(11, 21));
  s.clear();
  CHECK_FALSE(s.any_in(0, UINT32_MAX));
}
