// Type 0 configuration header and mechanism #1 per the PCI Local Bus Specification 3.0: 3.2.2.3.2
// (CONFIG_ADDRESS layout, only dword accesses at 0xcf8 reach it), 6.1 (header layout), 6.2.5.1
// (BAR sizing: writing all ones reads back ~(size - 1) with the flag bits), 6.2.2 (command).
#include "devices/pci_bus.h"

#include <stdexcept>

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_config{"pci.config_accesses", "PCI configuration data reads and writes (0xcfc-0xcff)"};

constexpr unsigned kStatus = 0x06;
constexpr uint16_t kStatusInterrupt = 1u << 3;
constexpr uint16_t kStatusCapList = 1u << 4;
constexpr unsigned kBar0 = 0x10;
constexpr unsigned kCapPointer = 0x34;
constexpr unsigned kInterruptLine = 0x3c;
// Writable command bits: I/O, memory, bus master, parity, SERR#, interrupt disable.
constexpr uint16_t kCommandWritable = 0x0547;

uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }
}  // namespace

PciDevice::PciDevice(const Ids& ids) {
  put(0x00, 2, ids.vendor);
  put(0x02, 2, ids.device);
  put(0x08, 1, ids.revision);
  put(0x09, 3, ids.class_code);
  put(0x2c, 2, ids.subsystem_vendor);
  put(0x2e, 2, ids.subsystem);
  wmask_[0x04] = kCommandWritable & 0xff;
  wmask_[0x05] = kCommandWritable >> 8;
  wmask_[0x0c] = 0xff;  // cache line size
  wmask_[0x0d] = 0xff;  // latency timer
  wmask_[kInterruptLine] = 0xff;
}

void PciDevice::put(unsigned offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) cfg_[offset + i] = uint8_t(value >> (8 * i));
}

uint32_t PciDevice::config_read(unsigned offset, unsigned size) const {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint8_t b = cfg_[offset + i];
    if (offset + i == kStatus && intx_) b |= kStatusInterrupt;
    v |= uint32_t(b) << (8 * i);
  }
  return v;
}

void PciDevice::config_write(unsigned offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    unsigned o = offset + i;
    uint8_t b = uint8_t(value >> (8 * i));
    cfg_[o] = uint8_t((cfg_[o] & ~wmask_[o]) | (b & wmask_[o]));
  }
  if (offset <= 0x05 && offset + size > 0x04 && bus_) bus_->update_intx();
}

uint64_t PciDevice::bar_read(unsigned, uint64_t, unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

void PciDevice::bar_write(unsigned, uint64_t, unsigned, uint64_t) {}

uint32_t PciDevice::bar_base(unsigned bar) const {
  uint32_t v = config_read(kBar0 + 4 * bar, 4);
  return bars_[bar].io ? v & ~3u : v & ~15u;
}

void PciDevice::define_bar(unsigned bar, bool io, uint32_t size) {
  if (bar >= kBarCount || size < (io ? 4u : 16u) || (size & (size - 1)))
    throw std::invalid_argument("PciDevice::define_bar: bad BAR");
  bars_[bar] = Bar{size, io};
  unsigned o = kBar0 + 4 * bar;
  // I/O BARs carry bit 0 = 1; memory BARs type 00 (32-bit), not prefetchable.
  put(o, 4, io ? 1u : 0u);
  uint32_t mask = ~(size - 1) & (io ? ~3u : ~15u);
  for (unsigned i = 0; i < 4; ++i) wmask_[o + i] = uint8_t(mask >> (8 * i));
}

uint8_t PciDevice::add_capability(uint8_t id, const uint8_t* body, unsigned body_len) {
  unsigned at = next_cap_;
  if (at + 2 + body_len > 256) throw std::invalid_argument("PciDevice::add_capability: config space full");
  cfg_[at] = id;
  cfg_[at + 1] = 0;
  for (unsigned i = 0; i < body_len; ++i) cfg_[at + 2 + i] = body[i];
  if (last_cap_ == 0) {
    cfg_[kCapPointer] = uint8_t(at);
    cfg_[kStatus] |= kStatusCapList;
  } else {
    cfg_[last_cap_ + 1] = uint8_t(at);
  }
  last_cap_ = uint8_t(at);
  next_cap_ = uint8_t((at + 2 + body_len + 3) & ~3u);
  return uint8_t(at);
}

void PciDevice::set_intx(bool level) {
  if (intx_ == level) return;
  intx_ = level;
  if (bus_) bus_->update_intx();
}

PciBus::PciBus(IrqSink& irqs, unsigned irq, Windows windows)
    : irqs_(irqs),
      irq_(irq),
      windows_(windows),
      next_io_(windows.io_base),
      next_mem_(windows.mem_base),
      host_bridge_(PciDevice::Ids{0x8086, 0x1237, 0x02, 0x060000, 0, 0}) {
  host_bridge_.bus_ = this;
  slots_[0] = &host_bridge_;
}

void PciBus::attach(PortBus& ports, MmioBus& mmio) {
  ports.map(kConfigPort, kConfigPortCount, this, "pci-conf1");
  ports.map(windows_.io_base, windows_.io_size, this, "pci-io-window");
  mmio.map(windows_.mem_base, windows_.mem_size, this, "pci-mem-window");
}

unsigned PciBus::add(PciDevice& dev) {
  unsigned slot = 1;
  while (slot < slots_.size() && slots_[slot]) ++slot;
  if (slot == slots_.size()) throw std::invalid_argument("PciBus::add: no free slot");
  uint16_t cmd = 0;
  for (unsigned b = 0; b < PciDevice::kBarCount; ++b) {
    uint32_t size = dev.bar_size(b);
    if (!size) continue;
    uint32_t& next = dev.bar_is_io(b) ? next_io_ : next_mem_;
    uint64_t end = dev.bar_is_io(b) ? uint64_t(windows_.io_base) + windows_.io_size
                                    : uint64_t(windows_.mem_base) + windows_.mem_size;
    uint64_t base = (uint64_t(next) + size - 1) & ~uint64_t(size - 1);
    if (base + size > end) throw std::invalid_argument("PciBus::add: PCI window full");
    next = uint32_t(base + size);
    dev.config_write(kBar0 + 4 * b, 4, uint32_t(base));
    cmd |= dev.bar_is_io(b) ? PciDevice::kCommandIo : PciDevice::kCommandMemory;
  }
  dev.config_write(0x04, 2, cmd);
  if (dev.cfg_[0x3d]) dev.config_write(kInterruptLine, 1, irq_);
  dev.bus_ = this;
  slots_[slot] = &dev;
  update_intx();
  return slot;
}

void PciBus::update_intx() {
  bool level = false;
  for (PciDevice* d : slots_)
    if (d && d->intx_asserted() && !(d->command() & PciDevice::kCommandIntxDisable)) level = true;
  if (level == line_) return;
  line_ = level;
  irqs_.set_irq(irq_, level);
}

PciDevice* PciBus::target(uint32_t address, unsigned& offset) const {
  // Bus 0 only, function 0 only (every function here is single-function: header type bit 7 clear).
  if (!(address & 0x80000000u) || ((address >> 16) & 0xff) != 0 || ((address >> 8) & 7) != 0) return nullptr;
  offset = address & 0xfc;
  return slots_[(address >> 11) & 31];
}

uint32_t PciBus::io_read(uint16_t port, unsigned size) {
  if (port == kConfigPort && size == 4) return address_;
  if (port >= kConfigPort + 4 && port < kConfigPort + 8) {
    c_config.inc();
    unsigned offset = 0;
    unsigned lane = port & 3;
    PciDevice* d = target(address_, offset);
    if (!d || lane + size > 4) return all_ones(size);
    return d->config_read(offset + lane, size);
  }
  if (port >= kConfigPort && port < kConfigPort + 4) return all_ones(size);
  unsigned bar = 0;
  uint64_t off = 0;
  if (PciDevice* d = decode(port, true, bar, off)) return uint32_t(d->bar_read(bar, off, size));
  return all_ones(size);
}

void PciBus::io_write(uint16_t port, unsigned size, uint32_t value) {
  if (port == kConfigPort && size == 4) {
    address_ = value & 0x80fffffcu;
    return;
  }
  if (port >= kConfigPort + 4 && port < kConfigPort + 8) {
    c_config.inc();
    unsigned offset = 0;
    unsigned lane = port & 3;
    PciDevice* d = target(address_, offset);
    if (d && lane + size <= 4) d->config_write(offset + lane, size, value);
    return;
  }
  if (port >= kConfigPort && port < kConfigPort + 4) return;
  unsigned bar = 0;
  uint64_t off = 0;
  if (PciDevice* d = decode(port, true, bar, off)) d->bar_write(bar, off, size, value);
}

uint64_t PciBus::mmio_read(uint64_t addr, unsigned size) {
  unsigned bar = 0;
  uint64_t off = 0;
  if (PciDevice* d = decode(addr, false, bar, off)) return d->bar_read(bar, off, size);
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

void PciBus::mmio_write(uint64_t addr, unsigned size, uint64_t value) {
  unsigned bar = 0;
  uint64_t off = 0;
  if (PciDevice* d = decode(addr, false, bar, off)) d->bar_write(bar, off, size, value);
}

PciDevice* PciBus::decode(uint64_t addr, bool io, unsigned& bar, uint64_t& offset) const {
  uint16_t enable = io ? PciDevice::kCommandIo : PciDevice::kCommandMemory;
  for (PciDevice* d : slots_) {
    if (!d || !(d->command() & enable)) continue;
    for (unsigned b = 0; b < PciDevice::kBarCount; ++b) {
      if (!d->bar_size(b) || d->bar_is_io(b) != io) continue;
      uint64_t base = d->bar_base(b);
      // A BAR left at 0 or mid-sizing (all ones) decodes nothing useful; 0 is never assigned.
      if (base == 0 || addr < base || addr - base >= d->bar_size(b)) continue;
      bar = b;
      offset = addr - base;
      return d;
    }
  }
  return nullptr;
}

}  // namespace btvmm::devices
