// PCI configuration mechanism #1 (0xcf8 CONFIG_ADDRESS, 0xcfc-0xcff CONFIG_DATA) with an empty
// bus: the address register holds what was written, every configuration read returns all ones,
// so Linux's type 1 probe finds no device. It never claims to be a host bridge.
#pragma once

#include <cstdint>

#include "devices/bus.h"

namespace btvmm::devices {

class PciHostAbsent : public PortDevice {
 public:
  static constexpr uint16_t kFirstPort = 0xcf8;
  static constexpr uint16_t kPortCount = 8;

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  uint32_t config_address() const { return address_; }

 private:
  uint32_t address_ = 0;
};

}  // namespace btvmm::devices
