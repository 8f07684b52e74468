// The PC's PCI wiring as Linux meets it: bus 0 enumerated through PcDevices' 0xcf8/0xcfc ports, a
// virtio-blk BAR moved by the driver then reached through the MmioBus, INTx arriving as a
// level-triggered IRQ 11 at the PIC pair, and the disk.img boot-area write protection.
#include <catch2/catch.hpp>

#include <cstring>

#include "devices/pc_devices.h"
#include "fakes.h"
#include "virtio_driver.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
struct PcWithDisk {
  FakeClock clock;
  RecordingMachine machine;
  RecordingCharBackend console;
  PortBus ports;
  MmioBus mmio;
  PcDevices pc{ports, mmio, clock, machine, console, 64ull << 20, [] { return int64_t(1700000000) * 1000000000; }};
  FakeDmaMemory mem{kRam};
  int fd = make_disk();
  VirtioBlk blk{fd, VirtioBlk::Options{}};
  VirtioPci dev{blk, mem};
  unsigned slot = pc.pci_bus().add(dev);
  VirtioDriver driver{ports, mmio, mem};
  ~PcWithDisk() { ::close(fd); }

  void outb(uint16_t port, uint8_t v) { ports.write(port, 1, v); }
  // init_8259A (arch/x86/kernel/i8259.c) with vectors 0x30/0x38, then IRQ 2 (cascade) and IRQ 11
  // unmasked as request_irq does for the virtio-pci INTx handler.
  void linux_pic_init() {
    const uint8_t init[][2] = {{0x21, 0xff}, {0xa1, 0xff}, {0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                               {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0xfb}, {0xa1, 0xf7}};
    for (auto& w : init) outb(w[0], w[1]);
  }
};
}  // namespace

TEST_CASE("pc_devices_pci_bus_enumerates_host_bridge_and_virtio_blk_through_conf1_ports") {
  PcWithDisk m;
  CHECK(m.slot == 1);
  CHECK(m.ports.owner(0xcf8) == "pci-conf1");
  CHECK(m.ports.owner(0xc000) == "pci-io-window");
  CHECK(m.mmio.claims(0xe0000000));
  CHECK_FALSE(m.mmio.claims(0xfec00000));  // the IO-APIC page stays outside the PCI window
  CHECK(conf1_read(m.ports, 0, 0x00, 4) == 0x12378086);
  CHECK(conf1_read(m.ports, 0, 0x0a, 2) == 0x0600);
  CHECK(conf1_read(m.ports, 1, 0x00, 4) == 0x10421af4);
  CHECK(conf1_read(m.ports, 1, 0x08, 4) >> 8 == 0x010000);  // class: mass storage, SCSI
  CHECK(conf1_read(m.ports, 1, 0x3c, 1) == 11);
  CHECK(conf1_read(m.ports, 1, 0x3d, 1) == 1);
  uint32_t bar0 = conf1_read(m.ports, 1, 0x10, 4);
  CHECK(bar0 >= 0xe0000000);
  CHECK((bar0 & 0xf) == 0);  // 32-bit memory BAR, not prefetchable
  CHECK((conf1_read(m.ports, 1, 0x04, 2) & PciDevice::kCommandMemory) != 0);
  for (unsigned s = 2; s < 32; ++s) CHECK(conf1_read(m.ports, s, 0x00, 4) == 0xffffffff);
}

TEST_CASE("pc_devices_bar_moved_by_the_driver_takes_the_notify_register_with_it") {
  PcWithDisk m;
  const uint32_t old_base = conf1_read(m.ports, 1, 0x10, 4) & ~15u;
  // __pci_read_base: decode off, size the BAR with all ones, then place it somewhere new.
  conf1_write(m.ports, 1, 0x04, 2, 0);
  conf1_write(m.ports, 1, 0x10, 4, 0xffffffff);
  CHECK(conf1_read(m.ports, 1, 0x10, 4) == ~(VirtioPci::kBarSize - 1));
  const uint32_t new_base = 0xe0100000;
  conf1_write(m.ports, 1, 0x10, 4, new_base);
  conf1_write(m.ports, 1, 0x04, 2, PciDevice::kCommandMemory);
  m.driver.bring_up();
  CHECK(m.driver.common == new_base);
  CHECK(m.mmio.read(old_base + 0x14, 1) == 0xff);  // nothing decodes the old place any more
  const uint64_t notifies = counter("virtio.notifies");
  m.driver.kick(m.driver.request(VirtioBlk::kType_In, 2, kData, 512));
  CHECK(counter("virtio.notifies") == notifies + 1);
  REQUIRE(m.driver.used_idx() == 1);
  CHECK(m.driver.request_status() == VirtioBlk::kStatusOk);
  CHECK(m.mem.get<uint8_t>(kData + 5) == disk_pattern(2 * 512 + 5));
}

TEST_CASE("pc_devices_virtio_intx_is_a_level_triggered_irq11_at_the_slave_pic") {
  PcWithDisk m;
  CHECK((m.ports.read(0x4d1, 1) & 0x08) == 0x08);  // ELCR2 bit 3: IRQ 11 level, as a BIOS sets it
  CHECK((m.ports.read(0x4d0, 1) & 0x10) == 0);     // COM1's IRQ 4 stays edge
  m.linux_pic_init();
  m.driver.bring_up();
  auto& intc = m.pc.interrupt_controller();
  CHECK_FALSE(intc.has_interrupt());
  m.driver.kick(m.driver.request(VirtioBlk::kType_In, 0, kData, 512));
  REQUIRE(intc.has_interrupt());
  CHECK(intc.acknowledge() == 0x3b);
  // EOI before the handler ran: the line is still high, so a level input asks again.
  m.outb(0xa0, 0x20);
  m.outb(0x20, 0x20);
  REQUIRE(intc.has_interrupt());
  CHECK(intc.acknowledge() == 0x3b);
  // vp_interrupt reads the ISR, which deasserts INTx: after the EOI nothing is pending.
  CHECK(m.driver.mmio_read(m.driver.isr, 1) == 1);
  m.outb(0xa0, 0x20);
  m.outb(0x20, 0x20);
  CHECK_FALSE(intc.has_interrupt());
}

TEST_CASE("virtio_blk_works_when_every_mmio_access_is_split_into_single_bytes") {
  Guest g;
  g.byte_mmio = true;
  g.bring_up();
  CHECK(g.read_common(0x20, 4) == kDesc);
  CHECK(g.read_common(0x1c, 2) == 1);
  for (uint32_t i = 0; i < 512; ++i) g.mem.put<uint8_t>(kData + i, uint8_t(0xa5 ^ i));
  g.kick(g.request(VirtioBlk::kType_Out, 9, kData, 512));
  REQUIRE(g.used_idx() == 1);
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  uint8_t back[512];
  REQUIRE(::pread(g.fd, back, sizeof back, 9 * 512) == 512);
  CHECK(back[7] == uint8_t(0xa5 ^ 7));
  g.kick(g.request(VirtioBlk::kType_In, 9, kData + 0x1000, 512));
  REQUIRE(g.used_idx() == 2);
  CHECK(g.mem.get<uint8_t>(kData + 0x1000 + 300) == uint8_t(0xa5 ^ 300));
}

TEST_CASE("virtio_blk_refuses_writes_starting_in_the_protected_boot_area_but_reads_it") {
  VirtioBlk::Options opt;
  opt.protected_bytes = 8 * 512;
  Guest g(opt);
  g.bring_up();
  const uint64_t refusals = counter("virtio_blk.protected_write_refusals");
  g.kick(g.request(VirtioBlk::kType_Out, 7, kData, 512));
  REQUIRE(g.used_idx() == 1);
  CHECK(g.request_status() == VirtioBlk::kStatusIoErr);
  CHECK(counter("virtio_blk.protected_write_refusals") == refusals + 1);
  uint8_t first = 0;
  REQUIRE(::pread(g.fd, &first, 1, 7 * 512) == 1);
  CHECK(first == disk_pattern(7 * 512));  // the image is unchanged
  g.kick(g.request(VirtioBlk::kType_Out, 8, kData, 512));
  REQUIRE(g.used_idx() == 2);
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
  g.kick(g.request(VirtioBlk::kType_In, 0, kData, 1024));
  REQUIRE(g.used_idx() == 3);
  CHECK(g.request_status() == VirtioBlk::kStatusOk);
}
