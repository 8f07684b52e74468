// PCI bus 0 behind configuration mechanism #1 (0xcf8/0xcfc): a host bridge at 00:00.0 (Intel
// 440FX ids), device slots, BAR sizing/decoding for I/O and 32-bit memory BARs, and legacy INTx
// wired to one level-triggered ISA IRQ. Never decodes a BAR whose command-register enable is off.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "devices/bus.h"

namespace btvmm::devices {

class PciBus;

// Address ranges the host bridge forwards to PCI (positive decode) and where it places BARs.
struct PciWindows {
  uint16_t io_base = 0xc000;
  uint16_t io_size = 0x4000;
  // Below the IO-APIC (0xfec00000) and above any 32-bit guest RAM btvmm gives.
  uint32_t mem_base = 0xe0000000;
  uint32_t mem_size = 0x1ec00000;
};

// One PCI function with a type 0 header. Subclasses declare BARs and capabilities in their
// constructor and answer accesses to their BARs; the generic header logic lives here.
class PciDevice {
 public:
  struct Ids {
    uint16_t vendor;
    uint16_t device;
    uint8_t revision;
    uint32_t class_code;  // base class << 16 | subclass << 8 | programming interface
    uint16_t subsystem_vendor;
    uint16_t subsystem;
  };
  static constexpr unsigned kBarCount = 6;
  static constexpr uint16_t kCommandIo = 1u << 0;
  static constexpr uint16_t kCommandMemory = 1u << 1;
  static constexpr uint16_t kCommandBusMaster = 1u << 2;
  static constexpr uint16_t kCommandIntxDisable = 1u << 10;

  explicit PciDevice(const Ids& ids);
  virtual ~PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  // Configuration space access; offset + size never crosses a dword (the bus guarantees it).
  uint32_t config_read(unsigned offset, unsigned size) const;
  void config_write(unsigned offset, unsigned size, uint32_t value);

  // An access inside BAR `bar`, at `offset` from its base. Defaults: reads all ones.
  virtual uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size);
  virtual void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value);

  uint16_t command() const { return uint16_t(cfg_[4] | cfg_[5] << 8); }
  // Current base of BAR `bar` (flag bits stripped), and its size (0: not implemented).
  uint32_t bar_base(unsigned bar) const;
  uint32_t bar_size(unsigned bar) const { return bars_[bar].size; }
  bool bar_is_io(unsigned bar) const { return bars_[bar].io; }
  // Device-side INTx level before the command register's Interrupt Disable bit.
  bool intx_asserted() const { return intx_; }

 protected:
  // size must be a power of two (>= 4 for I/O, >= 16 for memory).
  void define_bar(unsigned bar, bool io, uint32_t size);
  // Appends a capability (id, next pointer, then body) to the list; returns its offset.
  uint8_t add_capability(uint8_t id, const uint8_t* body, unsigned body_len);
  void set_intx(bool level);
  // The function signals on INTA# (Interrupt Pin 1); the bus fills in Interrupt Line.
  void use_intx_pin_a() { cfg_[0x3d] = 1; }
  // Bus mastering lets the device DMA (PCI 3.0 6.2.2).
  bool bus_master() const { return command() & kCommandBusMaster; }

 private:
  friend class PciBus;

  struct Bar {
    uint32_t size = 0;
    bool io = false;
  };
  void put(unsigned offset, unsigned size, uint32_t value);
  std::array<uint8_t, 256> cfg_{};
  std::array<uint8_t, 256> wmask_{};
  std::array<Bar, kBarCount> bars_{};
  uint8_t next_cap_ = 0x40;
  uint8_t last_cap_ = 0;
  bool intx_ = false;
  PciBus* bus_ = nullptr;
};

// Bus 0 and the host bridge. As a PortDevice it answers 0xcf8-0xcff and the PCI I/O window; as
// an MmioDevice, the PCI memory window; inside the windows it forwards to whichever enabled BAR
// holds the address (positive decode), all ones otherwise.
class PciBus : public PortDevice, public MmioDevice {
 public:
  static constexpr uint16_t kConfigPort = 0xcf8;
  static constexpr uint16_t kConfigPortCount = 8;
  // PCI INTx is level-triggered and shareable (PCI 3.0 2.2.6); all slots share IRQ 11, which
  // the ISA PC leaves free (COM1 4, RTC 8). Without a $PIR table or ACPI, Linux keeps the
  // Interrupt Line the "firmware" wrote (arch/x86/pci/irq.c pirq_enable_irq) and never touches
  // the ELCR, so the wiring should set ELCR bit 11 as a BIOS would.
  static constexpr unsigned kDefaultIrq = 11;
  using Windows = PciWindows;

  PciBus(IrqSink& irqs, unsigned irq = kDefaultIrq, PciWindows windows = PciWindows{});
  PciBus(const PciBus&) = delete;
  PciBus& operator=(const PciBus&) = delete;

  // Claims 0xcf8-0xcff and the I/O window on `ports`, the memory window on `mmio`.
  void attach(PortBus& ports, MmioBus& mmio);
  // Places `dev` in the next free slot (1..31), assigns its BARs inside the windows as firmware
  // does, enables decoding and sets Interrupt Line/Pin. Returns the slot. dev must outlive the bus.
  unsigned add(PciDevice& dev);

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  uint64_t mmio_read(uint64_t addr, unsigned size) override;
  void mmio_write(uint64_t addr, unsigned size, uint64_t value) override;

  unsigned irq() const { return irq_; }
  const Windows& windows() const { return windows_; }
  // Recomputes the shared INTx line (called when a device's level or command register changes).
  void update_intx();

 private:
  PciDevice* target(uint32_t address, unsigned& offset) const;
  PciDevice* decode(uint64_t addr, bool io, unsigned& bar, uint64_t& offset) const;
  IrqSink& irqs_;
  unsigned irq_;
  Windows windows_;
  uint32_t address_ = 0;
  bool line_ = false;
  uint32_t next_io_;
  uint32_t next_mem_;
  PciDevice host_bridge_;
  std::array<PciDevice*, 32> slots_{};
};

}  // namespace btvmm::devices
