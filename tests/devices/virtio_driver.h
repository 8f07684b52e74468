// A guest-side virtio-blk driver for unit tests, doing what Linux 6.1's virtio_pci_modern and
// virtio_blk do: enumerate through 0xcf8/0xcfc, walk the vendor capabilities, reset, negotiate
// FEATURES_OK, set up queue 0 in a fake guest RAM and submit requests. The disk is a memfd.
#pragma once

#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "devices/pci_bus.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_pci.h"
#include "fake_dma_memory.h"
#include "fakes.h"
#include "pci_config.h"

namespace btvmm::devices::testing {
inline constexpr uint64_t kRam = 1 << 20;
inline constexpr uint64_t kDiskBytes = 1 << 20;
inline constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000;
constexpr uint64_t kHeader = 0x8000, kData = 0x10000, kStatusByte = 0x9000;
inline constexpr uint16_t kQueueSize = 16;
inline constexpr uint16_t N = VirtQueue::kDescNext, W = VirtQueue::kDescWrite;

inline uint8_t disk_pattern(uint64_t i) { return uint8_t(i * 7 + i / 512); }

inline int make_disk() {
  int fd = ::memfd_create("virtio-blk-test", 0);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> bytes(kDiskBytes);
  for (uint64_t i = 0; i < kDiskBytes; ++i) bytes[i] = disk_pattern(i);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == ssize_t(bytes.size()));
  return fd;
}

// The driver side only: it reaches the device through whatever buses and RAM it is given (a bare
// PciBus below, or the whole PC in pc_devices_pci_test.cpp).
struct VirtioDriver {
  PortBus& bus_ports;
  MmioBus& bus_mmio;
  FakeDmaMemory& ram;
  unsigned slot = 0;
  uint64_t common = 0, isr = 0, device = 0, notify = 0;
  uint32_t notify_multiplier = 0;
  uint16_t avail_idx = 0;
  uint16_t next_desc = 0;

  VirtioDriver(PortBus& p, MmioBus& m, FakeDmaMemory& r) : bus_ports(p), bus_mmio(m), ram(r) {}

  // When set, every MMIO access is split into ascending single bytes, as btvmm's monitor emulation
  // of a guest MMIO instruction (runtime/monitor_env.cpp write_linear/read_linear) does today.
  bool byte_mmio = false;
  uint64_t mmio_read(uint64_t addr, unsigned size) {
    if (!byte_mmio) return bus_mmio.read(addr, size);
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= bus_mmio.read(addr + i, 1) << (8 * i);
    return v;
  }
  void mmio_write(uint64_t addr, unsigned size, uint64_t v) {
    if (!byte_mmio) return bus_mmio.write(addr, size, v);
    for (unsigned i = 0; i < size; ++i) bus_mmio.write(addr + i, 1, (v >> (8 * i)) & 0xff);
  }
  uint64_t read_common(unsigned off, unsigned size) { return mmio_read(common + off, size); }
  void write_common(unsigned off, unsigned size, uint64_t v) { mmio_write(common + off, size, v); }
  uint8_t status() { return uint8_t(read_common(0x14, 1)); }

  // virtio_pci_probe + vp_modern_probe: find the function, enable bus mastering, map the caps.
  void probe() {
    slot = 32;
    for (unsigned s = 0; s < 32; ++s)
      if (conf1_read(bus_ports, s, 0x00, 2) == 0x1af4) slot = s;
    REQUIRE(slot < 32);
    REQUIRE(conf1_read(bus_ports, slot, 0x02, 2) == 0x1042);
    REQUIRE(conf1_read(bus_ports, slot, 0x08, 1) >= 1);
    conf1_write(bus_ports, slot, 0x04, 2, conf1_read(bus_ports, slot, 0x04, 2) | PciDevice::kCommandBusMaster);
    REQUIRE((conf1_read(bus_ports, slot, 0x06, 2) & 0x10) != 0);
    unsigned seen = 0;
    for (unsigned p = conf1_read(bus_ports, slot, 0x34, 1); p; p = conf1_read(bus_ports, slot, p + 1, 1)) {
      REQUIRE(++seen < 48);
      if (conf1_read(bus_ports, slot, p, 1) != 0x09) continue;
      unsigned type = conf1_read(bus_ports, slot, p + 3, 1);
      unsigned bar = conf1_read(bus_ports, slot, p + 4, 1);
      uint32_t offset = conf1_read(bus_ports, slot, p + 8, 4);
      uint32_t length = conf1_read(bus_ports, slot, p + 12, 4);
      REQUIRE(bar < 6);
      uint64_t base = (conf1_read(bus_ports, slot, 0x10 + 4 * bar, 4) & ~15u) + offset;
      if (type == 1) {
        common = base;
        CHECK(length >= 0x38);
      }
      if (type == 3) isr = base;
      if (type == 4) device = base;
      if (type == 2) {
        notify = base;
        notify_multiplier = conf1_read(bus_ports, slot, p + 16, 4);
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
    ram.put<uint64_t>(kDesc + 16 * i, addr);
    ram.put<uint32_t>(kDesc + 16 * i + 8, len);
    ram.put<uint16_t>(kDesc + 16 * i + 12, flags);
    ram.put<uint16_t>(kDesc + 16 * i + 14, flags & N ? uint16_t((i + 1) % kQueueSize) : 0);
    return i;
  }
  void header(uint32_t type, uint64_t sector) {
    ram.put<uint32_t>(kHeader, type);
    ram.put<uint32_t>(kHeader + 4, 0);
    ram.put<uint64_t>(kHeader + 8, sector);
  }
  // A three-descriptor request as virtblk_add_req builds it; returns the head.
  uint16_t request(uint32_t type, uint64_t sector, uint64_t data, uint32_t len) {
    header(type, sector);
    ram.put<uint8_t>(kStatusByte, 0xee);
    uint16_t head = desc(kHeader, 16, N);
    if (len) desc(data, len, uint16_t(N | (type == VirtioBlk::kType_Out ? 0 : W)));
    desc(kStatusByte, 1, W);
    return head;
  }
  void kick(uint16_t head) {
    ram.put<uint16_t>(kAvail + 4 + 2 * (avail_idx % kQueueSize), head);
    ram.put<uint16_t>(kAvail + 2, ++avail_idx);
    mmio_write(notify, 2, 0);
  }
  uint16_t used_idx() { return ram.get<uint16_t>(kUsed + 2); }
  uint32_t used_len(unsigned n) { return ram.get<uint32_t>(kUsed + 4 + 8 * n + 4); }
  uint8_t request_status() { return ram.get<uint8_t>(kStatusByte); }
};

// A bare PCI bus with one virtio-blk function over a memfd disk, and the driver for it.
struct GuestParts {
  RecordingIrqSink irqs;
  PortBus ports;
  MmioBus mmio;
  PciBus pci{irqs};
  FakeDmaMemory mem{kRam};
  int fd;
  VirtioBlk blk;
  VirtioPci dev{blk, mem};

  explicit GuestParts(VirtioBlk::Options options) : fd(make_disk()), blk(fd, std::move(options)) {
    pci.attach(ports, mmio);
    pci.add(dev);
  }
  ~GuestParts() { ::close(fd); }
};

struct Guest : GuestParts, VirtioDriver {
  explicit Guest(bool read_only = false, bool snapshot = false)
      : Guest(VirtioBlk::Options{read_only, "serial-42", snapshot}) {}
  explicit Guest(VirtioBlk::Options options) : GuestParts(std::move(options)), VirtioDriver(ports, mmio, mem) {}
};
}  // namespace btvmm::devices::testing
