// virtio-blk over the virtio 1.0 PCI transport, driven as Linux 6.1's virtio_pci_modern and
// virtio_blk drivers do: enumerate through 0xcf8/0xcfc, walk the vendor capabilities, reset,
// negotiate FEATURES_OK, set up queue 0 in a fake guest RAM, submit requests, take the INTx and
// read the ISR. The disk image is a memfd, so data can be checked with pread.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <vector>

#include "devices/pci_bus.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_pci.h"
#include "fake_dma_memory.h"
#include "fakes.h"
#include "pci_config.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
constexpr uint64_t kRam = 1 << 20;
constexpr uint64_t kDiskBytes = 1 << 20;
constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;
constexpr uint64_t kHeader = 0x8000, kData = 0x10000, kStatusByte = 0x9000;
constexpr uint16_t kQueueSize = 16;
constexpr uint16_t N = VirtQueue::kDescNext, W = VirtQueue::kDescWrite;

uint8_t disk_pattern(uint64_t i) { return uint8_t(i * 7 + i / 512); }

int make_disk() {
  int fd = ::memfd_create("virtio-blk-test", 0);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> bytes(kDiskBytes);
  for (uint64_t i = 0; i < kDiskBytes; ++i) bytes[i] = disk_pattern(i);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == ssize_t(bytes.size()));
  return fd;
}

struct Guest {
  RecordingIrqSink irqs;
  PortBus ports;
  MmioBus mmio;
  PciBus pci{irqs};
  FakeDmaMemory mem{kRam};
  int fd;
  VirtioBlk blk;
  VirtioPci dev{blk, mem};
  unsigned slot = 0;
  uint64_t common = 0, isr = 0, device = 0, notify = 0;
  uint32_t notify_multiplier = 0;
  uint16_t avail_idx = 0;
  uint16_t next_desc = 0;

  explicit Guest(bool read_only = false, bool snapshot = false)
      : fd(make_disk()), blk(fd, VirtioBlk::Options{read_only, "serial-42", snapshot}) {
    pci.attach(ports, mmio);
    pci.add(dev);
  }
  ~Guest() { ::close(fd); }

  uint64_t read_common(unsigned off, unsigned size) { return mmio.read(common + off, size); }
  void write_common(unsigned off, unsigned size, uint64_t v) { mmio.write(common + off, size, v); }
  uint8_t status() { return uint8_t(read_common(0x14, 1)); }

  // virtio_pci_probe + vp_modern_probe: find the function, enable bus mastering, map the caps.
  void probe() {
    slot = 32;
    for (unsigned s = 0; s < 32; ++s)
      if (conf1_read(ports, s, 0x00, 2) == 0x1af4) slot = s;
    REQUIRE(slot < 32);
    REQUIRE(conf1_read(ports, slot, 0x02, 2) == 0x1042);
    REQUIRE(conf1_read(ports, slot, 0x08, 1) >= 1);
    conf1_write(ports, slot, 0x04, 2, conf1_read(ports, slot, 0x04, 2) | PciDevice::kCommandBusMaster);
    REQUIRE((conf1_read(ports, slot, 0x06, 2) & 0x10) != 0);
    unsigned seen = 0;
    for (unsigned p = conf1_read(ports, slot, 0x34, 1); p; p = conf1_read(ports, slot, p + 1, 1)) {
      REQUIRE(++seen < 48);
      if (conf1_read(ports, slot, p, 1) != 0x09) continue;
      unsigned type = conf1_read(ports, slot, p + 3, 1);
      unsigned bar = conf1_read(ports, slot, p + 4, 1);
      uint32_t offset = conf1_read(ports, slot, p + 8, 4);
      uint32_t length = conf1_read(ports, slot, p + 12, 4);
      REQUIRE(bar < 6);
      uint64_t base = (conf1_read(ports, slot, 0x10 + 4 * bar, 4) & ~15u) + offset;
      if (type == 1) {
        common = base;
        CHECK(length >= 0x38);
      }
      if (type == 3) isr = base;
      if (type == 4) device = base;
      if (type == 2) {
        notify = base;
        notify_multiplier = conf1_read(ports, slot, p + 16, 4);
      }
    }
    REQUIRE(common);
    REQUIRE(isr);
    REQUIRE(device);
    REQUIRE(notify);
  }

  uint64_t device_features() {
    write_common(0x00, 4, 0);
    uint64_t lo = read_common(0x04, 4);
    write_common(0x00, 4, 1);
    return lo | read_common(0x04, 4) << 32;
  }

  // virtio_dev_probe: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (re-read), queues, DRIVER_OK.
  bool negotiate(uint64_t wanted) {
    write_common(0x14, 1, 0);
    REQUIRE(status() == 0);
    write_common(0x14, 1, VirtioPci::kStatusAcknowledge);
    write_common(0x14, 1, VirtioPci::kStatusAcknowledge | VirtioPci::kStatusDriver);
    uint64_t features = device_features() & wanted;
    write_common(0x08, 4, 0);
    write_common(0x0c, 4, uint32_t(features));
    write_common(0x08, 4, 1);
    write_common(0x0c, 4, uint32_t(features >> 32));
    write_common(0x14, 1, status() | VirtioPci::kStatusFeaturesOk);
    return status() & VirtioPci::kStatusFeaturesOk;
  }

  // vp_modern setup_vq + vp_modern_find_vqs (INTx path: no MSI-X vectors).
  void setup_queue() {
    write_common(0x16, 2, 0);
    REQUIRE(read_common(0x18, 2) == VirtQueue::kMaxSize);
    REQUIRE(read_common(0x1c, 2) == 0);
    write_common(0x18, 2, kQueueSize);
    write_common(0x20, 4, kDesc);
    write_common(0x24, 4, 0);
    write_common(0x28, 4, kAvail);
    write_common(0x2c, 4, 0);
    write_common(0x30, 4, kUsed);
    write_common(0x34, 4, 0);
    CHECK(read_common(0x1a, 2) == 0xffff);
    CHECK(read_common(0x1e, 2) == 0);
    write_common(0x1c, 2, 1);
    REQUIRE(read_common(0x1c, 2) == 1);
  }

  void bring_up(uint64_t wanted = ~0ull) {
    probe();
    REQUIRE(negotiate(wanted));
    setup_queue();
    write_common(0x14, 1, status() | VirtioPci::kStatusDriverOk);
  }

  uint16_t desc(uint64_t addr, uint32_t len, uint16_t flags) {
    uint16_t i = next_desc++ % kQueueSize;
    mem.put<uint64_t>(kDesc + 16 * i, addr);
    mem.put<uint32_t>(kDesc + 16 * i + 8, len);
    mem.put<uint16_t>(kDesc + 16 * i + 12, flags);
    mem.put<uint16_t>(kDesc + 16 * i + 14, flags & N ? uint16_t((i + 1) % kQueueSize) : 0);
    return i;
  }
  void header(uint32_t type, uint64_t sector) {
    mem.put<uint32_t>(kHeader, type);
    mem.put<uint32_t>(kHeader + 4, 0);
    mem.put<uint64_t>(kHeader + 8, sector);
  }
  // A three-descriptor request as virtblk_add_req builds it; returns the head.
  uint16_t request(uint32_t type, uint64_t sector, uint64_t data, uint32_t len) {
    header(type, sector);
    mem.put<uint8_t>(kStatusByte, 0xee);
    uint16_t head = desc(kHeader, 16, N);
    if (len) desc(data, len, uint16_t(N | (type == VirtioBlk::kType_Out ? 0 : W)));
    desc(kStatusByte, 1, W);
    return head;
  }
  void kick(uint16_t head) {
    mem.put<uint16_t>(kAvail + 4 + 2 * (avail_idx % kQueueSize), head);
    mem.put<uint16_t>(kAvail + 2, ++avail_idx);
    mmio.write(notify, 2, 0);
  }
  uint16_t used_idx() { return mem.get<uint16_t>(kUsed + 2); }
  uint32_t used_len(unsigned n) { return mem.get<uint32_t>(kUsed + 4 + 8 * n + 4); }
  uint8_t request_status() { return mem.get<uint8_t>(kStatusByte); }
};
}  // namespace

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
