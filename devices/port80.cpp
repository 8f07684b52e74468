// Port 0x80 (the PC BIOS POST diagnostic port): a write-only latch on a POST card, nothing on
// a plain PC, so reads float high.
#include "devices/port80.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_writes{"io.port80_writes", "writes to the POST/delay port 0x80"};
}  // namespace

uint32_t Port80::io_read(uint16_t, unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

void Port80::io_write(uint16_t, unsigned, uint32_t value) {
  c_writes.inc();
  last_code_ = uint8_t(value);
}

}  // namespace btvmm::devices
