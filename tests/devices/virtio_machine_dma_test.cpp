// The machine-level wiring of the virtio disk (host/machine.h): the PCI function a Machine builds
// for each disk answers on its ports, and every byte its DMA writes into guest RAM is reported to
// the machine's write traces, so translated code on that page would be invalidated.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "devices/virtio_blk.h"
#include "host/machine.h"
#include "pci_config.h"

using namespace btvmm;
using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
class NullConsole : public CharBackend {
 public:
  void write(uint8_t) override {}
};

struct Recorded {
  std::vector<std::pair<uint32_t, uint32_t>> code_writes;  // (page, offset)
};

int disk_fd() {
  int fd = ::memfd_create("machine-dma-test", 0);
  REQUIRE(fd >= 0);
  std::vector<uint8_t> bytes(64 * 1024);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 13 + 1);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), 0) == ssize_t(bytes.size()));
  return fd;
}
}  // namespace

TEST_CASE("guest_dma_reports_each_write_to_a_traced_code_page_and_refuses_writes_outside_ram") {
  NullConsole console;
  host::Machine m(16 << 20, console);
  Recorded rec;
  m.write_traces().on_write(mmu::TraceKind::kCode, [&](Ppn page, uint32_t offset) {
    rec.code_writes.emplace_back(page.value, offset);
  });
  m.write_traces().add(Ppn(0x123), mmu::TraceKind::kCode);
  const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(m.dma().write(0x122000, bytes, sizeof bytes));  // untraced page: nothing reported
  CHECK(rec.code_writes.empty());
  REQUIRE(m.dma().write(0x123ffc, bytes, sizeof bytes));  // straddles into 0x124: only 0x123 traced
  REQUIRE(rec.code_writes.size() == 1);
  CHECK(rec.code_writes[0] == std::pair<uint32_t, uint32_t>{0x123, 0xffc});
  uint8_t back[8] = {};
  REQUIRE(m.memory().read(GuestPhysAddr{0x123ffc}, back, sizeof back));
  CHECK(std::memcmp(back, bytes, sizeof back) == 0);
  CHECK_FALSE(m.dma().write((16 << 20) - 4, bytes, sizeof bytes));
  CHECK(rec.code_writes.size() == 1);
}

TEST_CASE("machine_disk_read_into_a_traced_page_is_reported_to_the_write_traces") {
  NullConsole console;
  int fd = disk_fd();
  VirtioBlk blk(fd, VirtioBlk::Options{});
  host::Machine m(16 << 20, console, {&blk});
  auto& ports = m.ports();
  auto& mmio = m.mmio();
  REQUIRE(conf1_read(ports, 1, 0x00, 4) == 0x10421af4);
  CHECK(conf1_read(ports, 1, 0x3c, 1) == 11);
  const uint64_t bar = conf1_read(ports, 1, 0x10, 4) & ~15u;
  conf1_write(ports, 1, 0x04, 2, PciDevice::kCommandMemory | PciDevice::kCommandBusMaster);
  // virtio_dev_probe's sequence on the common configuration (offsets of virtio 1.0 4.1.4.3).
  mmio.write(bar + 0x14, 1, 0);
  mmio.write(bar + 0x14, 1, VirtioPci::kStatusAcknowledge | VirtioPci::kStatusDriver);
  mmio.write(bar + 0x08, 4, 1);
  mmio.write(bar + 0x0c, 4, 1);  // VIRTIO_F_VERSION_1 (bit 32)
  mmio.write(bar + 0x14, 1, 0x0b);
  REQUIRE((mmio.read(bar + 0x14, 1) & VirtioPci::kStatusFeaturesOk) != 0);
  const uint64_t desc = 0x10000, avail = 0x11000, used = 0x12000, hdr = 0x13000, status = 0x13100;
  const uint64_t data = 0x200000;  // the page the guest "executed" code from
  mmio.write(bar + 0x16, 2, 0);
  mmio.write(bar + 0x18, 2, 8);
  mmio.write(bar + 0x20, 4, desc);
  mmio.write(bar + 0x28, 4, avail);
  mmio.write(bar + 0x30, 4, used);
  mmio.write(bar + 0x1c, 2, 1);
  mmio.write(bar + 0x14, 1, 0x0f);
  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
  };
  const Desc chain[3] = {{hdr, 16, 1, 1}, {data, 512, 1 | 2, 2}, {status, 1, 2, 0}};
  REQUIRE(m.memory().write(GuestPhysAddr{desc}, chain, sizeof chain));
  const uint32_t header[4] = {VirtioBlk::kType_In, 0, 3, 0};  // read sector 3
  REQUIRE(m.memory().write(GuestPhysAddr{hdr}, header, sizeof header));
  const uint16_t avail_ring[3] = {0, 1, 0};  // flags, idx = 1, ring[0] = head 0
  REQUIRE(m.memory().write(GuestPhysAddr{avail}, avail_ring, sizeof avail_ring));
  Recorded rec;
  m.write_traces().on_write(mmu::TraceKind::kCode, [&](Ppn page, uint32_t offset) {
    rec.code_writes.emplace_back(page.value, offset);
  });
  m.write_traces().add(Ppn(data >> 12), mmu::TraceKind::kCode);
  mmio.write(bar + VirtioPci::kNotifyOffset, 2, 0);
  uint16_t used_idx = 0;
  REQUIRE(m.memory().read_obj(GuestPhysAddr{used + 2}, used_idx));
  REQUIRE(used_idx == 1);
  uint8_t st = 0xff, first = 0;
  REQUIRE(m.memory().read_obj(GuestPhysAddr{status}, st));
  CHECK(st == VirtioBlk::kStatusOk);
  REQUIRE(m.memory().read_obj(GuestPhysAddr{data}, first));
  CHECK(first == uint8_t(3 * 512 * 13 + 1));
  REQUIRE_FALSE(rec.code_writes.empty());
  CHECK(rec.code_writes[0].first == (data >> 12));
  ::close(fd);
}
