// PC/AT system control port B (0x61): PIT channel 2 gate and speaker enable on writes; channel
// 2 OUT and the refresh toggle on reads, as Linux's PIT-based TSC calibration polls them.
// Never models NMI sources: the parity and I/O-check error bits always read as zero.
#pragma once

#include <cstdint>

#include "devices/bus.h"
#include "devices/pit8254.h"

namespace btvmm::devices {

class SystemControlPort : public PortDevice {
 public:
  explicit SystemControlPort(Pit8254& pit);

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

 private:
  Pit8254& pit_;
  uint8_t control_ = 0;  // bits 0-3 as written
  bool refresh_ = false;
};

}  // namespace btvmm::devices
