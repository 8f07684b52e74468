// Port 0x61 (IBM PC/AT Technical Reference, "System Control Port B"): bit 0 timer 2 gate,
// bit 1 speaker data, bits 2-3 parity/channel-check enables, bit 4 refresh toggle,
// bit 5 timer 2 OUT. Sound is not produced; the speaker bit only reads back.
#include "devices/system_control_port.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_reads{"io.port61_reads", "reads of system control port B (0x61)"};
}  // namespace

SystemControlPort::SystemControlPort(Pit8254& pit) : pit_(pit) { pit_.set_gate(2, false); }

uint32_t SystemControlPort::io_read(uint16_t, unsigned) {
  c_reads.inc();
  // The refresh bit toggles every 15 us on real hardware; toggling on each read guarantees
  // that loops waiting for a change make progress whatever the host speed.
  refresh_ = !refresh_;
  return control_ | (refresh_ ? 0x10 : 0) | (pit_.output(2) ? 0x20 : 0);
}

void SystemControlPort::io_write(uint16_t, unsigned, uint32_t value) {
  control_ = uint8_t(value & 0x0f);
  pit_.set_gate(2, control_ & 0x01);
}

}  // namespace btvmm::devices
