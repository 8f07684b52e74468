// virtio-blk over the virtio 1.0 PCI transport, driven as Linux's drivers do (virtio_driver.h):
// negotiation, reads, writes, flush, GET_ID, read-only and -snapshot images, indirect descriptors.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>

#include "virtio_driver.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

TEST_CASE("virtio_blk_is_found_and_negotiates_version_1_like_linux_virtio_pci_modern") {
  Guest g;
  g.probe();
  CHECK(conf1_read(g.ports, g.slot, 0x0a, 2) == 0x0100);  // mass storage, SCSI
  CHECK(conf1_read(g.ports, g.slot, 0x2c, 2) == 0x1af4);
  CHECK(conf1_read(g.ports, g.slot, 0x3d, 1) == 1);
  CHECK(conf1_read(g.ports, g.slot, 0x3c, 1) == 11);
  CHECK(g.notify_multiplier == 4);
  uint64_t f = g.device_features();
  CHECK((f & VirtioPci::kFeatureVersion1) != 0);
  CHECK((f & VirtioBlk::kFeatureSegMax) != 0);
  CHECK((f & VirtioBlk::kFeatureFlush) != 0);
  CHECK((f & VirtioBlk::kFeatureReadOnly) == 0);
  CHECK(g.read_common(0x12, 2) == 1);
  REQUIRE(g.negotiate(~0ull));
  // struct virtio_blk_config: capacity in sectors, size_max, seg_max.
  CHECK(g.mmio.read(g.device, 8) == kDiskBytes / 512);
  CHECK(g.mmio.read(g.device, 4) == kDiskBytes / 512);  // vp_modern reads 64-bit fields as two dwords
  CHECK(g.mmio.read(g.device + 4, 4) == 0);
  CHECK(g.mmio.read(g.device + 8, 4) == VirtioBlk::kSizeMax);
  CHECK(g.mmio.read(g.device + 12, 4) == VirtQueue::kMaxSize - 2);
}

TEST_CASE("virtio_features_ok_is_refused_without_version_1_or_with_unoffered_bits") {
  Guest g;
  g.probe();
  CHECK_FALSE(g.negotiate(~VirtioPci::kFeatureVersion1));
  g.write_common(0x14, 1, 0);
  g.write_common(0x14, 1, VirtioPci::kStatusAcknowledge | VirtioPci::kStatusDriver);
  g.write_common(0x08, 4, 0);
  g.write_common(0x0c, 4, 1u << 30);  // a bit the device never offered
  g.write_common(0x08, 4, 1);
  g.write_common(0x0c, 4, 1);
  g.write_common(0x14, 1, g.status() | VirtioPci::kStatusFeaturesOk);
  CHECK((g.status() & VirtioPci::kStatusFeaturesOk) == 0);
}

TEST_CASE("virtio_blk_read_fills_guest_memory_completes_used_ring_and_raises_intx_until_isr_read") {
  Guest g;
  g.bring_up();
  uint64_t reads = counter("virtio_blk.reads"), bytes = counter("virtio_blk.bytes_read");
  uint64_t notifies = counter("virtio.notifies"), irqs = counter("irq.virtio_raised");
  g.kick(g.request(VirtioBlk::kType_In, 3, kData, 1024));
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  REQUIRE(g.used_idx() == 1);
  CHECK(g.mem.get<uint32_t>(kUsed + 4) == 0);
  CHECK(g.used_len(0) == 1025);
  bool same = true;
  for (uint64_t i = 0; i < 1024; ++i) same &= g.mem.ram[kData + i] == disk_pattern(3 * 512 + i);
  CHECK(same);
  CHECK(g.mem.ram[kData + 1024] == 0);  // not one byte past the buffer
  CHECK(g.irqs.levels[11]);
  CHECK(g.mmio.read(g.isr, 1) == 1);
  CHECK_FALSE(g.irqs.levels[11]);
  CHECK(g.mmio.read(g.isr, 1) == 0);
  CHECK(counter("virtio_blk.reads") == reads + 1);
  CHECK(counter("virtio_blk.bytes_read") == bytes + 1024);
  CHECK(counter("virtio.notifies") == notifies + 1);
  CHECK(counter("irq.virtio_raised") == irqs + 1);
}

TEST_CASE("virtio_blk_write_reaches_the_image_and_a_later_read_returns_it") {
  Guest g;
  g.bring_up();
  uint64_t writes = counter("virtio_blk.writes"), bytes = counter("virtio_blk.bytes_written");
  for (unsigned i = 0; i < 512; ++i) g.mem.ram[kData + i] = uint8_t(0xa5 ^ i);
  g.kick(g.request(VirtioBlk::kType_Out, 2047, kData, 512));  // the very last sector
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  CHECK(g.used_len(0) == 1);
  uint8_t disk[512];
  REQUIRE(::pread(g.fd, disk, 512, 2047 * 512) == 512);
  CHECK(std::memcmp(disk, &g.mem.ram[kData], 512) == 0);
  CHECK(counter("virtio_blk.writes") == writes + 1);
  CHECK(counter("virtio_blk.bytes_written") == bytes + 512);
  g.kick(g.request(VirtioBlk::kType_In, 2047, kData + 0x1000, 512));
  CHECK(std::memcmp(&g.mem.ram[kData + 0x1000], disk, 512) == 0);
  CHECK(g.used_idx() == 2);
}

TEST_CASE("virtio_blk_flush_and_get_id_complete_with_status_ok") {
  Guest g;
  g.bring_up();
  g.kick(g.request(VirtioBlk::kType_Flush, 0, 0, 0));
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  g.kick(g.request(VirtioBlk::kType_GetId, 0, kData, 20));
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  CHECK(std::string(reinterpret_cast<const char*>(&g.mem.ram[kData])) == "serial-42");
  CHECK(g.used_len(1) == 21);
  g.kick(g.request(77, 0, 0, 0));
  CHECK(g.request_status() == VirtioBlk::kStatusUnsupported);
}

TEST_CASE("virtio_blk_read_only_offers_ro_and_fails_writes_leaving_the_image_intact") {
  Guest g(true);
  g.probe();
  CHECK((g.device_features() & VirtioBlk::kFeatureReadOnly) != 0);
  g.bring_up();
  std::memset(&g.mem.ram[kData], 0x5a, 512);
  g.kick(g.request(VirtioBlk::kType_Out, 0, kData, 512));
  CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  uint8_t b = 0;
  REQUIRE(::pread(g.fd, &b, 1, 0) == 1);
  CHECK(b == disk_pattern(0));
}

TEST_CASE("virtio_blk_serves_indirect_descriptors_and_honours_no_interrupt") {
  Guest g;
  g.bring_up();
  constexpr uint64_t kTable = 0x6000;
  g.header(VirtioBlk::kType_In, 4);
  auto put = [&](unsigned i, uint64_t addr, uint32_t len, uint16_t flags) {
    g.mem.put<uint64_t>(kTable + 16 * i, addr);
    g.mem.put<uint32_t>(kTable + 16 * i + 8, len);
    g.mem.put<uint16_t>(kTable + 16 * i + 12, flags);
    g.mem.put<uint16_t>(kTable + 16 * i + 14, uint16_t(i + 1));
  };
  // Two data segments: 512 bytes then 1024 bytes elsewhere (a scattered bio).
  put(0, kHeader, 16, N);
  put(1, kData, 512, N | W);
  put(2, kData + 0x4000, 1024, N | W);
  put(3, kStatusByte, 1, W);
  uint16_t head = g.desc(kTable, 4 * 16, VirtQueue::kDescIndirect);
  g.mem.put<uint16_t>(kAvail, VirtQueue::kAvailNoInterrupt);
  g.kick(head);
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  CHECK(g.used_len(0) == 1537);
  CHECK(g.mem.ram[kData] == disk_pattern(4 * 512));
  CHECK(g.mem.ram[kData + 0x4000] == disk_pattern(5 * 512));
  CHECK(g.mem.ram[kData + 0x4000 + 1023] == disk_pattern(5 * 512 + 1023));
  CHECK_FALSE(g.irqs.levels[11]);
}

TEST_CASE("virtio_blk_reset_deasserts_intx_and_forgets_the_queue") {
  Guest g;
  g.bring_up();
  g.kick(g.request(VirtioBlk::kType_In, 0, kData, 512));
  REQUIRE(g.irqs.levels[11]);
  g.write_common(0x14, 1, 0);
  CHECK_FALSE(g.irqs.levels[11]);
  CHECK(g.status() == 0);
  CHECK(g.read_common(0x1c, 2) == 0);
  CHECK(g.read_common(0x20, 4) == 0);
}

TEST_CASE("virtio_blk_snapshot_keeps_writes_in_the_overlay_and_the_image_untouched") {
  Guest g(false, true);
  g.bring_up();
  for (unsigned i = 0; i < 1024; ++i) g.mem.ram[kData + i] = uint8_t(0x3c ^ i);
  g.kick(g.request(VirtioBlk::kType_Out, 10, kData, 1024));
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  CHECK(g.blk.overlay_sectors() == 2);
  uint8_t b = 0;
  REQUIRE(::pread(g.fd, &b, 1, 10 * 512) == 1);
  CHECK(b == disk_pattern(10 * 512));
  // A read spanning untouched, overlaid and untouched sectors sees the guest's writes.
  g.kick(g.request(VirtioBlk::kType_In, 9, kData + 0x8000, 2048));
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  CHECK(g.mem.ram[kData + 0x8000] == disk_pattern(9 * 512));
  CHECK(std::memcmp(&g.mem.ram[kData + 0x8000 + 512], &g.mem.ram[kData], 1024) == 0);
  CHECK(g.mem.ram[kData + 0x8000 + 1536] == disk_pattern(12 * 512));
  g.kick(g.request(VirtioBlk::kType_Flush, 0, 0, 0));
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
}
