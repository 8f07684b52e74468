// Empty PCI configuration mechanism #1, probed the way Linux's arch/x86/pci/direct.c
// pci_check_type1() and pci_sanity_check() do.
#include <catch2/catch.hpp>

#include "devices/pci_host_absent.h"

using namespace btvmm::devices;

TEST_CASE("pci_config_address_reads_back_and_config_data_reads_all_ones") {
  PciHostAbsent pci;
  pci.io_write(0xcfb, 1, 0x01);
  uint32_t saved = pci.io_read(0xcf8, 4);
  pci.io_write(0xcf8, 4, 0x80000000);
  CHECK(pci.io_read(0xcf8, 4) == 0x80000000);
  // pci_sanity_check: class and vendor of each device on bus 0 read as "nothing here".
  for (uint32_t devfn = 0; devfn < 0x100; devfn += 8) {
    pci.io_write(0xcf8, 4, 0x80000000 | devfn << 8 | 0x08);
    CHECK(pci.io_read(0xcfe, 2) == 0xffff);
    pci.io_write(0xcf8, 4, 0x80000000 | devfn << 8);
    CHECK(pci.io_read(0xcfc, 2) == 0xffff);
    CHECK(pci.io_read(0xcfc, 4) == 0xffffffff);
  }
  pci.io_write(0xcf8, 4, saved);
  CHECK(pci.io_read(0xcf8, 4) == saved);
}

TEST_CASE("pci_config_address_reserved_bits_read_as_zero") {
  PciHostAbsent pci;
  pci.io_write(0xcf8, 4, 0xffffffff);
  CHECK(pci.io_read(0xcf8, 4) == 0x80fffffc);
}

TEST_CASE("pci_byte_accesses_at_cf8_do_not_reach_config_address") {
  PciHostAbsent pci;
  pci.io_write(0xcf8, 4, 0x80001234 & ~3u);
  pci.io_write(0xcf8, 1, 0x00);
  CHECK(pci.io_read(0xcf8, 4) == (0x80001234 & ~3u));
  CHECK(pci.io_read(0xcf8, 1) == 0xff);
  CHECK(pci.io_read(0xcfd, 1) == 0xff);
  pci.io_write(0xcfc, 4, 0x12345678);  // ignored
  CHECK(pci.io_read(0xcfc, 4) == 0xffffffff);
}
