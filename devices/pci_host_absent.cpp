// Configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2): only a 32-bit access
// at 0xcf8 reaches CONFIG_ADDRESS; bits 30-24 and 1-0 are reserved and read as zero. Byte and
// word accesses at 0xcf8-0xcfb are ordinary ISA cycles, which nothing answers here.
#include "devices/pci_host_absent.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_probes{"io.pci_config_reads", "PCI configuration data reads (all answer: no device)"};

uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }
}  // namespace

uint32_t PciHostAbsent::io_read(uint16_t port, unsigned size) {
  if (port == kFirstPort && size == 4) return address_;
  if (port >= kFirstPort + 4) c_probes.inc();
  return all_ones(size);
}

void PciHostAbsent::io_write(uint16_t port, unsigned size, uint32_t value) {
  if (port == kFirstPort && size == 4) address_ = value & 0x80fffffcu;
}

}  // namespace btvmm::devices
