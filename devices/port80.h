// The POST-code / I/O-delay port 0x80: Linux writes it as a delay (io_delay=0x80). Writes are
// counted and the last code kept for diagnostics; nothing else happens, reads give 0xff.
#pragma once

#include <cstdint>

#include "devices/bus.h"

namespace btvmm::devices {

class Port80 : public PortDevice {
 public:
  static constexpr uint16_t kPort = 0x80;

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  uint8_t last_code() const { return last_code_; }

 private:
  uint8_t last_code_ = 0;
};

}  // namespace btvmm::devices
