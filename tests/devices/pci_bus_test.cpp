// PCI bus 0 driven the way Linux enumerates it: pci_check_type1/pci_sanity_check
// (arch/x86/pci/direct.c), then pci_scan_slot and __pci_read_base (BAR sizing with decode off).
#include <catch2/catch.hpp>

#include "devices/pci_bus.h"
#include "fakes.h"
#include "pci_config.h"

using namespace btvmm;
using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
// A function with one I/O BAR (BAR 0, 32 ports) and one memory BAR (BAR 2, 4 KiB) that echoes
// the last write and reports which BAR and offset it was reached through.
class EchoDevice : public PciDevice {
 public:
  EchoDevice() : PciDevice(Ids{0x1234, 0x5678, 3, 0xff0000, 0x1234, 0x0001}) {
    define_bar(0, true, 32);
    define_bar(2, false, 4096);
    use_intx_pin_a();
  }
  uint64_t bar_read(unsigned bar, uint64_t offset, unsigned) override { return bar << 16 | offset; }
  void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override {
    last = {bar, offset, size, value};
  }
  void interrupt(bool level) { set_intx(level); }
  struct {
    unsigned bar = 99;
    uint64_t offset = 0;
    unsigned size = 0;
    uint64_t value = 0;
  } last;
};

struct Machine {
  RecordingIrqSink irqs;
  PortBus ports;
  MmioBus mmio;
  PciBus pci{irqs};
  Machine() { pci.attach(ports, mmio); }
};
}  // namespace

TEST_CASE("pci_type1_probe_and_sanity_check_find_the_440fx_host_bridge") {
  Machine m;
  // pci_check_type1: byte write to 0xcfb, dword 0x80000000 reads back.
  m.ports.write(0xcfb, 1, 0x01);
  m.ports.write(0xcf8, 4, 0x80000000);
  CHECK(m.ports.read(0xcf8, 4) == 0x80000000);
  // pci_sanity_check: 00:00.0 is a host bridge (class 0x0600) from Intel.
  CHECK(conf1_read(m.ports, 0, 0x0a, 2) == 0x0600);
  CHECK(conf1_read(m.ports, 0, 0x00, 2) == 0x8086);
  CHECK(conf1_read(m.ports, 0, 0x02, 2) == 0x1237);
  CHECK(conf1_read(m.ports, 0, 0x00, 4) == 0x12378086);
  CHECK(conf1_read(m.ports, 0, 0x0e, 1) == 0x00);  // header type 0, single function
  // Empty slots, other functions and other buses read all ones.
  CHECK(conf1_read(m.ports, 5, 0x00, 4) == 0xffffffff);
  CHECK(conf1_read(m.ports, 0, 0x00, 4, 1) == 0xffffffff);
  CHECK(conf1_read(m.ports, 0, 0x00, 2, 0, 1) == 0xffff);
}

TEST_CASE("pci_config_data_accesses_are_counted") {
  Machine m;
  uint64_t before = counter("pci.config_accesses");
  conf1_read(m.ports, 0, 0, 4);
  conf1_write(m.ports, 0, 0x04, 2, 0);
  CHECK(counter("pci.config_accesses") == before + 2);
}

TEST_CASE("pci_device_added_gets_a_slot_assigned_bars_and_interrupt_line") {
  Machine m;
  EchoDevice dev;
  unsigned slot = m.pci.add(dev);
  CHECK(slot == 1);
  CHECK(conf1_read(m.ports, slot, 0x00, 4) == 0x56781234);
  CHECK(conf1_read(m.ports, slot, 0x08, 4) == 0xff000003);
  CHECK(conf1_read(m.ports, slot, 0x2c, 4) == 0x00011234);
  CHECK(conf1_read(m.ports, slot, 0x3c, 1) == PciBus::kDefaultIrq);
  CHECK(conf1_read(m.ports, slot, 0x3d, 1) == 1);  // INTA#
  uint32_t io = conf1_read(m.ports, slot, 0x10, 4);
  uint32_t mem = conf1_read(m.ports, slot, 0x18, 4);
  CHECK((io & 1) == 1);
  CHECK((io & ~3u) >= m.pci.windows().io_base);
  CHECK((mem & 0xf) == 0);
  CHECK((mem & ~15u) >= m.pci.windows().mem_base);
  CHECK(conf1_read(m.ports, slot, 0x14, 4) == 0);  // unimplemented BARs read 0
  CHECK(conf1_read(m.ports, slot, 0x30, 4) == 0);  // no expansion ROM
  CHECK((conf1_read(m.ports, slot, 0x04, 2) & 3) == 3);
  // Decoding reaches the device's BARs at the assigned addresses.
  CHECK(m.ports.read(uint16_t((io & ~3u) + 5), 1) == (0u << 16 | 5));
  CHECK(m.mmio.read((mem & ~15u) + 0x10, 4) == (2u << 16 | 0x10));
  m.mmio.write((mem & ~15u) + 0x20, 4, 0xabcd);
  CHECK(dev.last.bar == 2);
  CHECK(dev.last.offset == 0x20);
  CHECK(dev.last.value == 0xabcd);
}

TEST_CASE("pci_bar_sizing_reads_back_size_mask_and_reprogramming_moves_decode") {
  Machine m;
  EchoDevice dev;
  unsigned slot = m.pci.add(dev);
  // __pci_read_base: decode off, write all ones, read the mask, restore.
  uint16_t cmd = uint16_t(conf1_read(m.ports, slot, 0x04, 2));
  conf1_write(m.ports, slot, 0x04, 2, cmd & ~3u);
  conf1_write(m.ports, slot, 0x10, 4, 0xffffffff);
  CHECK(conf1_read(m.ports, slot, 0x10, 4) == 0xffffffe1);  // 32 ports, I/O space bit
  conf1_write(m.ports, slot, 0x18, 4, 0xffffffff);
  CHECK(conf1_read(m.ports, slot, 0x18, 4) == 0xfffff000);  // 4 KiB, 32-bit, non-prefetchable
  // Linux assigns new addresses and enables decoding again.
  conf1_write(m.ports, slot, 0x10, 4, 0xd020);
  conf1_write(m.ports, slot, 0x18, 4, 0xf0001000);
  CHECK(m.ports.read(0xd023, 1) == 0xff);  // decoding still off
  CHECK(m.mmio.read(0xf0001004, 4) == 0xffffffff);
  conf1_write(m.ports, slot, 0x04, 2, cmd);
  CHECK(m.ports.read(0xd023, 1) == 3);
  CHECK(m.mmio.read(0xf0001004, 4) == (2u << 16 | 4));
  CHECK(m.mmio.read(0xf0002004, 4) == 0xffffffff);  // past the 4 KiB BAR
}

TEST_CASE("pci_intx_is_level_shared_and_masked_by_interrupt_disable") {
  Machine m;
  EchoDevice a, b;
  unsigned sa = m.pci.add(a);
  m.pci.add(b);
  a.interrupt(true);
  CHECK(m.irqs.levels[PciBus::kDefaultIrq]);
  CHECK((conf1_read(m.ports, sa, 0x06, 2) & 0x08) != 0);  // status: interrupt pending
  b.interrupt(true);
  a.interrupt(false);
  CHECK(m.irqs.levels[PciBus::kDefaultIrq]);  // b still holds the shared line
  b.interrupt(false);
  CHECK_FALSE(m.irqs.levels[PciBus::kDefaultIrq]);
  a.interrupt(true);
  conf1_write(m.ports, sa, 0x04, 2, conf1_read(m.ports, sa, 0x04, 2) | PciDevice::kCommandIntxDisable);
  CHECK_FALSE(m.irqs.levels[PciBus::kDefaultIrq]);
  CHECK((conf1_read(m.ports, sa, 0x06, 2) & 0x08) != 0);
  conf1_write(m.ports, sa, 0x04, 2, conf1_read(m.ports, sa, 0x04, 2) & ~PciDevice::kCommandIntxDisable);
  CHECK(m.irqs.levels[PciBus::kDefaultIrq]);
}

TEST_CASE("pci_read_only_header_fields_ignore_writes") {
  Machine m;
  EchoDevice dev;
  unsigned slot = m.pci.add(dev);
  conf1_write(m.ports, slot, 0x00, 4, 0);
  conf1_write(m.ports, slot, 0x08, 4, 0);
  conf1_write(m.ports, slot, 0x3c, 2, 0x0405);
  CHECK(conf1_read(m.ports, slot, 0x00, 4) == 0x56781234);
  CHECK(conf1_read(m.ports, slot, 0x08, 4) == 0xff000003);
  CHECK(conf1_read(m.ports, slot, 0x3c, 2) == 0x0105);  // line writable, pin fixed
  // A data access straddling the dword (0xcfd, 4 bytes) answers nothing.
  m.ports.write(0xcf8, 4, conf1_address(0, slot, 0, 0));
  CHECK(m.ports.read(0xcfd, 4) == 0xffffffff);
}
