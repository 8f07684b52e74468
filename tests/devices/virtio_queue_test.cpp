// Split virtqueue walking against a fake guest RAM: well-formed chains as Linux's
// virtqueue_add_split builds them, and the hostile ones a malicious driver could build.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "devices/virtio_queue.h"
#include "fake_dma_memory.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;

struct Ring {
  FakeDmaMemory mem{0x10000};
  VirtQueue q;
  uint16_t avail_idx = 0;
  explicit Ring(uint16_t size = 8) {
    q.size = size;
    q.desc = kDesc;
    q.avail = kAvail;
    q.used = kUsed;
    q.enabled = true;
  }
  void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0, uint64_t table = kDesc) {
    mem.put<uint64_t>(table + 16 * i, addr);
    mem.put<uint32_t>(table + 16 * i + 8, len);
    mem.put<uint16_t>(table + 16 * i + 12, flags);
    mem.put<uint16_t>(table + 16 * i + 14, next);
  }
  void offer(uint16_t head) {
    mem.put<uint16_t>(kAvail + 4 + 2 * (avail_idx % q.size), head);
    mem.put<uint16_t>(kAvail + 2, ++avail_idx);
  }
  VirtQueue::Pop pop(VirtqChain& c, bool indirect = true) { return q.pop(mem, c, indirect); }
};
constexpr uint16_t N = VirtQueue::kDescNext, W = VirtQueue::kDescWrite, I = VirtQueue::kDescIndirect;
}  // namespace

TEST_CASE("virtq_pops_chain_in_order_and_push_used_publishes_id_and_length") {
  Ring r;
  VirtqChain c;
  CHECK(r.pop(c) == VirtQueue::Pop::kEmpty);
  r.desc(3, 0x4000, 16, N, 5);
  r.desc(5, 0x5000, 512, N | W, 1);
  r.desc(1, 0x6000, 1, W);
  r.offer(3);
  REQUIRE(r.pop(c) == VirtQueue::Pop::kChain);
  CHECK(c.head == 3);
  REQUIRE(c.segments.size() == 3);
  CHECK(c.segments[0].addr == 0x4000);
  CHECK_FALSE(c.segments[0].device_writable);
  CHECK(c.segments[1].len == 512);
  CHECK(c.segments[1].device_writable);
  CHECK(c.segments[2].addr == 0x6000);
  CHECK(r.pop(c) == VirtQueue::Pop::kEmpty);
  REQUIRE(r.q.push_used(r.mem, 3, 513));
  CHECK(r.mem.get<uint16_t>(kUsed + 2) == 1);
  CHECK(r.mem.get<uint32_t>(kUsed + 4) == 3);
  CHECK(r.mem.get<uint32_t>(kUsed + 8) == 513);
}

TEST_CASE("virtq_ring_indices_wrap_at_65536") {
  Ring r(4);
  r.desc(0, 0x4000, 8, 0);
  VirtqChain c;
  for (unsigned i = 0; i < 70000; ++i) {
    r.offer(0);
    REQUIRE(r.pop(c) == VirtQueue::Pop::kChain);
    REQUIRE(r.q.push_used(r.mem, c.head, 0));
  }
  CHECK(r.mem.get<uint16_t>(kUsed + 2) == uint16_t(70000));
}

TEST_CASE("virtq_indirect_table_is_walked_only_when_negotiated") {
  Ring r;
  constexpr uint64_t kTable = 0x7000;
  r.desc(0, 0x4000, 16, N, 1, kTable);
  r.desc(1, 0x5000, 4096, N | W, 2, kTable);
  r.desc(2, 0x6000, 1, W, 0, kTable);
  r.desc(0, kTable, 3 * 16, I);
  r.offer(0);
  VirtqChain c;
  REQUIRE(r.pop(c) == VirtQueue::Pop::kChain);
  CHECK(c.segments.size() == 3);
  CHECK(c.segments[1].len == 4096);
  r.offer(0);
  CHECK(r.pop(c, false) == VirtQueue::Pop::kBroken);
}

TEST_CASE("virtq_hostile_chains_break_the_queue_without_touching_memory_outside_ram") {
  Ring r;
  VirtqChain c;
  SECTION("loop of next pointers") {
    r.desc(0, 0x4000, 16, N, 1);
    r.desc(1, 0x4000, 16, N, 0);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("self loop of a writable descriptor") {
    r.desc(2, 0x4000, 16, N | W, 2);
    r.offer(2);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("head index past the queue size") {
    r.offer(8);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("next index past the queue size") {
    r.desc(0, 0x4000, 16, N, 200);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("available index more than a queue ahead") {
    r.mem.put<uint16_t>(kAvail + 2, 9);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("descriptor table outside guest RAM") {
    r.q.desc = 0xfffffffffffffff0ull;
    r.desc(0, 0x4000, 16, 0);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
    CHECK(r.mem.refused > 0);
  }
  SECTION("available ring outside guest RAM") {
    r.q.avail = 0x10000 - 2;
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("readable descriptor after a writable one") {
    r.desc(0, 0x4000, 16, N | W, 1);
    r.desc(1, 0x4000, 16, 0);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("indirect table with a partial descriptor") {
    r.desc(0, 0x7000, 20, I);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("indirect descriptor inside an indirect table") {
    r.desc(0, 0x7000, 16, I, 0, 0x7000);
    r.desc(0, 0x7000, 16, I);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("indirect table that loops") {
    r.desc(0, 0x4000, 16, N, 1, 0x7000);
    r.desc(1, 0x4000, 16, N, 0, 0x7000);
    r.desc(0, 0x7000, 32, I);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("indirect table longer than the queue") {
    r.desc(0, 0x7000, 16 * 9, I);
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
  SECTION("used ring outside guest RAM") {
    r.q.used = 0x10000 - 4;
    CHECK_FALSE(r.q.push_used(r.mem, 0, 0));
  }
  SECTION("queue size that is not a power of two") {
    r.q.size = 6;
    r.offer(0);
    CHECK(r.pop(c) == VirtQueue::Pop::kBroken);
  }
}

TEST_CASE("virtq_no_interrupt_flag_is_reported") {
  Ring r;
  CHECK_FALSE(r.q.interrupt_suppressed(r.mem));
  r.mem.put<uint16_t>(kAvail, VirtQueue::kAvailNoInterrupt);
  CHECK(r.q.interrupt_suppressed(r.mem));
}

TEST_CASE("virtq_random_rings_always_terminate_within_queue_bounds") {
  uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 2000; ++round) {
    Ring r(uint16_t(1u << (rng() % 8)));
    // Random descriptors, ring entries and indices, some pointing outside the 64 KiB RAM.
    for (uint64_t a = kDesc; a < kUsed + 0x800; a += 8) r.mem.put<uint64_t>(a, rng());
    for (unsigned i = 0; i < 16; ++i)
      if (rng() % 2) r.desc(uint16_t(rng() % r.q.size), rng() % 0x12000, uint32_t(rng() % 0x200), uint16_t(rng() % 8),
                            uint16_t(rng() % (r.q.size + 2)));
    if (rng() % 3 == 0) r.q.desc = rng();
    VirtqChain c;
    for (int n = 0; n < 300; ++n) {
      VirtQueue::Pop p = r.pop(c);
      if (p != VirtQueue::Pop::kChain) break;
      REQUIRE(c.segments.size() <= r.q.size);
      REQUIRE(c.head < r.q.size);
    }
  }
}
