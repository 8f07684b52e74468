// virtio-blk against a hostile driver: bad requests fail with IOERR, broken rings set
// NEEDS_RESET, random ring contents and register writes never crash btvmm or escape guest RAM.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "virtio_driver.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

TEST_CASE("virtio_blk_bad_requests_fail_with_ioerr_and_never_touch_memory_outside_ram") {
  Guest g;
  g.bring_up();
  SECTION("read past the capacity") {
    g.kick(g.request(VirtioBlk::kType_In, 2047, kData, 1024));
    CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  }
  SECTION("sector number that overflows a byte offset") {
    g.kick(g.request(VirtioBlk::kType_In, 0xffffffffffffffffull, kData, 512));
    CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  }
  SECTION("data length that is not whole sectors") {
    g.kick(g.request(VirtioBlk::kType_In, 0, kData, 100));
    CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  }
  SECTION("data buffer past the end of guest RAM") {
    g.kick(g.request(VirtioBlk::kType_In, 0, kRam - 256, 512));
    CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
    CHECK(g.mem.refused > 0);
  }
  SECTION("data buffer address that wraps around 2^64") {
    g.kick(g.request(VirtioBlk::kType_Out, 0, 0xffffffffffffff00ull, 512));
    CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  }
  SECTION("header shorter than 16 bytes") {
    g.mem.put<uint8_t>(kStatusByte, 0xee);
    uint16_t head = g.desc(kHeader, 8, N);
    g.desc(kStatusByte, 1, W);
    g.kick(head);
    CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  }
  SECTION("no writable status byte: completed with length 0, nothing written") {
    g.header(VirtioBlk::kType_In, 0);
    uint16_t head = g.desc(kHeader, 16, 0);
    uint64_t writes = g.mem.writes;
    g.kick(head);
    CHECK(g.used_len(0) == 0);
    CHECK(g.mem.writes == writes + 2);  // the used element and the used index only
  }
  CHECK(g.used_idx() == 1);
  CHECK((g.status() & VirtioPci::kStatusNeedsReset) == 0);
}

TEST_CASE("virtio_blk_looping_chain_sets_needs_reset_and_a_reset_recovers") {
  Guest g;
  g.bring_up();
  g.header(VirtioBlk::kType_In, 0);
  g.mem.put<uint64_t>(kDesc, kHeader);
  g.mem.put<uint32_t>(kDesc + 8, 16);
  g.mem.put<uint16_t>(kDesc + 12, N);
  g.mem.put<uint16_t>(kDesc + 14, 0);  // next points to itself
  g.kick(0);
  CHECK((g.status() & VirtioPci::kStatusNeedsReset) != 0);
  CHECK(g.used_idx() == 0);
  CHECK(g.irqs.levels[11]);
  CHECK(g.mmio.read(g.isr, 1) == 2);  // configuration change
  // Further notifications are ignored until the driver resets the device.
  g.next_desc = 0;
  g.kick(g.request(VirtioBlk::kType_In, 0, kData, 512));
  CHECK(g.used_idx() == 0);
  g.avail_idx = 0;
  g.mem.put<uint16_t>(kAvail + 2, 0);
  g.mem.put<uint16_t>(kUsed + 2, 0);
  g.next_desc = 0;
  g.bring_up();
  CHECK(g.status() == (VirtioPci::kStatusAcknowledge | VirtioPci::kStatusDriver | VirtioPci::kStatusFeaturesOk |
                       VirtioPci::kStatusDriverOk));
  g.kick(g.request(VirtioBlk::kType_In, 1, kData, 512));
  CHECK(g.used_idx() == 1);
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  CHECK(g.mem.ram[kData] == disk_pattern(512));
}

TEST_CASE("virtio_blk_queue_outside_ram_or_too_large_needs_reset_without_crashing") {
  Guest g;
  g.probe();
  REQUIRE(g.negotiate(~0ull));
  g.write_common(0x16, 2, 0);
  SECTION("rings outside RAM") {
    g.write_common(0x18, 2, kQueueSize);
    g.write_common(0x20, 4, 0xfffff000);
    g.write_common(0x28, 4, 0xffffe000);
    g.write_common(0x30, 4, 0xffffd000);
    g.write_common(0x1c, 2, 1);
    g.write_common(0x14, 1, g.status() | VirtioPci::kStatusDriverOk);
    g.mmio.write(g.notify, 2, 0);
    CHECK((g.status() & VirtioPci::kStatusNeedsReset) != 0);
  }
  SECTION("queue size above the maximum is never enabled") {
    g.write_common(0x18, 2, 4096);
    g.write_common(0x1c, 2, 1);
    CHECK(g.read_common(0x1c, 2) == 0);
    g.write_common(0x18, 2, 24);
    g.write_common(0x1c, 2, 1);
    CHECK(g.read_common(0x1c, 2) == 0);
  }
  SECTION("queue select past the last queue reads size 0") {
    g.write_common(0x16, 2, 5);
    CHECK(g.read_common(0x18, 2) == 0);
    g.write_common(0x1c, 2, 1);
    g.mmio.write(g.notify + 20, 2, 5);  // outside the notify region: ignored
  }
}

TEST_CASE("virtio_blk_ignores_notifications_before_driver_ok_or_without_bus_master") {
  Guest g;
  g.probe();
  REQUIRE(g.negotiate(~0ull));
  g.setup_queue();
  g.kick(g.request(VirtioBlk::kType_In, 0, kData, 512));
  CHECK(g.used_idx() == 0);
  g.write_common(0x14, 1, g.status() | VirtioPci::kStatusDriverOk);
  conf1_write(g.ports, g.slot, 0x04, 2, conf1_read(g.ports, g.slot, 0x04, 2) & ~PciDevice::kCommandBusMaster);
  g.mmio.write(g.notify, 2, 0);
  CHECK(g.used_idx() == 0);
  conf1_write(g.ports, g.slot, 0x04, 2, conf1_read(g.ports, g.slot, 0x04, 2) | PciDevice::kCommandBusMaster);
  g.mmio.write(g.notify, 2, 0);
  CHECK(g.used_idx() == 1);
}

TEST_CASE("virtio_blk_survives_random_rings_and_register_writes_and_recovers_after_reset") {
  uint64_t seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 200; ++round) {
    Guest g;
    g.bring_up();
    for (int step = 0; step < 40; ++step) {
      switch (rng() % 6) {
        case 0:  // scribble over the descriptor table, rings and request header
          for (int i = 0; i < 64; ++i) g.mem.put<uint8_t>(0x1000 + rng() % 0x8010, uint8_t(rng()));
          break;
        case 1:  // a plausible descriptor with a random address, length and flags
          g.mem.put<uint64_t>(kDesc + 16 * (rng() % kQueueSize), rng() % 2 ? rng() : rng() % (kRam + 0x1000));
          g.mem.put<uint32_t>(kDesc + 16 * (rng() % kQueueSize) + 8, uint32_t(rng() % 0x3000));
          g.mem.put<uint16_t>(kDesc + 16 * (rng() % kQueueSize) + 12, uint16_t(rng() % 8));
          g.mem.put<uint16_t>(kDesc + 16 * (rng() % kQueueSize) + 14, uint16_t(rng() % 20));
          break;
        case 2:
          g.header(uint32_t(rng() % 10), rng() % 3000);
          g.mem.put<uint16_t>(kAvail + 2, uint16_t(g.mem.get<uint16_t>(kAvail + 2) + rng() % 20));
          break;
        case 3: g.write_common(unsigned(rng() % 0x38), 1u << (rng() % 3), rng()); break;
        case 4: g.mmio.read(g.isr, 1); break;
        default: g.mmio.write(g.notify, 2, 0); break;
      }
    }
    // Whatever state the hostile driver left, a reset and a clean bring-up serve requests again.
    std::memset(&g.mem.ram[0x1000], 0, 0x9000);
    g.avail_idx = 0;
    g.next_desc = 0;
    g.bring_up();
    g.kick(g.request(VirtioBlk::kType_In, 7, kData, 512));
    REQUIRE(g.used_idx() == 1);
    REQUIRE(g.request_status() == VirtioBlk::kStatusOk);
    REQUIRE(g.mem.ram[kData + 9] == disk_pattern(7 * 512 + 9));
  }
}
