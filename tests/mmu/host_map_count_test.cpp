// The VMA budget the shadows get from the host's limit (mmu/host_map_count.h): what is read from
// /proc, and the reserve left for the rest of btvmm.
#include <catch2/catch.hpp>

#include <sys/mman.h>

#include "mmu/host_map_count.h"

using namespace btvmm::mmu;

TEST_CASE("host_map_count_reads_the_limit_and_counts_the_processs_vmas") {
  const HostMapCount before = read_host_map_count();
  CHECK(before.max_map_count >= 1024);
  CHECK(before.in_use > 0);
  CHECK(before.in_use < before.max_map_count);
  // Three pages, then the middle one made read-only: the host now counts exactly two VMAs more.
  void* p = mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  const uint32_t mapped = read_host_map_count().in_use;
  REQUIRE(mprotect(static_cast<char*>(p) + 4096, 4096, PROT_READ) == 0);
  CHECK(read_host_map_count().in_use == mapped + 2);
  munmap(p, 3 * 4096);
}

TEST_CASE("shadow_vma_budget_leaves_an_eighth_of_the_limit_and_at_least_4096_to_btvmm") {
  CHECK(shadow_vma_budget({65530, 130}) == 65530 - 130 - 8191);
  CHECK(shadow_vma_budget({262144, 200}) == 262144 - 200 - 32768);
  CHECK(shadow_vma_budget({8192, 100}) == 8192 - 100 - 4096);
  CHECK(shadow_vma_budget({4096, 10}) == 0);
  CHECK(shadow_vma_budget({0, 0}) == 0);
}
