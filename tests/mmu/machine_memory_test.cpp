#include <catch2/catch.hpp>

#include <cstring>

#include "mmu/machine_memory.h"

using namespace btvmm;
using namespace btvmm::mmu;

TEST_CASE("guest_memory_rejects_accesses_past_the_end_of_ram") {
  GuestMemory mem(16 * kPageSize);
  uint32_t v = 0x12345678;
  CHECK(mem.write_obj(GuestPhysAddr(0), v));
  CHECK(mem.write_obj(GuestPhysAddr(16 * kPageSize - 4), v));
  CHECK_FALSE(mem.write_obj(GuestPhysAddr(16 * kPageSize - 3), v));
  CHECK_FALSE(mem.write_obj(GuestPhysAddr(~0ull - 1), v));
  CHECK(mem.host_ptr(GuestPhysAddr(16 * kPageSize)) == nullptr);
}

TEST_CASE("guest_memory_follows_the_pmap_across_page_boundaries") {
  GuestMemory mem(4 * kPageSize);
  // Swap guest pages 1 and 2 in the pmap: a write straddling them lands in the swapped machine pages.
  mem.pmap().set(Ppn(1), Mpn(2));
  mem.pmap().set(Ppn(2), Mpn(1));
  uint8_t buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(mem.write(GuestPhysAddr(2 * kPageSize - 4), buf, 8));
  CHECK(std::memcmp(mem.machine().page(Mpn(2)) + kPageSize - 4, buf, 4) == 0);
  CHECK(std::memcmp(mem.machine().page(Mpn(1)), buf + 4, 4) == 0);
  uint8_t back[8] = {};
  REQUIRE(mem.read(GuestPhysAddr(2 * kPageSize - 4), back, 8));
  CHECK(std::memcmp(back, buf, 8) == 0);
}
