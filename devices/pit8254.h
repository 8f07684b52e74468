// 8254 programmable interval timer at 0x40-0x43: three channels clocked at 1.193182 MHz.
// Counter values and OUT levels are computed from the devices::Clock, never from how often
// the guest looks; channel 0's OUT drives IRQ 0, channel 2's gate and OUT go to port 0x61.
#pragma once

#include <cstdint>

#include "devices/bus.h"

namespace btvmm::devices {

class Pit8254 : public PortDevice, public TimedDevice {
 public:
  static constexpr uint64_t kFrequencyHz = 1193182;

  Pit8254(const Clock& clock, IrqSink& irqs);

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  // Channel 0: time of the next rising edge of OUT0 (an IRQ 0 edge). poll() raises IRQ 0 once
  // however many edges passed since the last poll (coalescing, counted in pit.coalesced_ticks).
  uint64_t next_deadline_ns() const override;
  void poll(uint64_t now_ns) override;

  // Gate inputs (channel 2's comes from port 0x61 bit 0; 0 and 1 are tied high on a PC).
  void set_gate(unsigned channel, bool high);
  bool gate(unsigned channel) const { return channels_[channel].gate; }
  // OUT level of a channel now (port 0x61 bit 5 shows channel 2's).
  bool output(unsigned channel) const;

 private:
  struct Channel {
    uint8_t mode = 0;     // 0-5
    uint8_t access = 3;   // 1 = LSB only, 2 = MSB only, 3 = LSB then MSB
    bool bcd = false;
    uint32_t count = 0;   // count register as loaded (binary; 0 means the full modulus)
    bool loaded = false;  // a count has been written since the control word
    bool triggered = false;  // modes 1 and 5: a gate rising edge started the count
    bool gate = true;
    bool null_count = true;
    bool paused = false;     // counting stopped by a low gate
    uint64_t start_ns = 0;   // Clock time counting (re)started
    uint64_t tick_base = 0;  // ticks already counted before start_ns (gate pauses)
    bool write_msb_next = false;
    uint8_t write_lsb = 0;
    bool read_msb_next = false;
    bool count_latched = false;
    uint16_t latched_count = 0;
    bool status_latched = false;
    uint8_t latched_status = 0;
    uint64_t edges_delivered = 0;  // channel 0: IRQ 0 edges raised since counting started
  };

  uint64_t elapsed_ticks(const Channel& c, uint64_t now_ns) const;
  uint32_t period(const Channel& c) const;
  uint32_t modulus(const Channel& c) const { return c.bcd ? 10000 : 65536; }
  bool counting(const Channel& c) const;
  uint32_t count_at(const Channel& c, uint64_t ticks) const;
  bool out_at(const Channel& c, uint64_t ticks) const;
  uint64_t rising_edges(const Channel& c, uint64_t ticks) const;
  uint64_t edge_tick(const Channel& c, uint64_t n) const;
  uint8_t status(const Channel& c, uint64_t now_ns) const;
  void control_word(uint8_t value);
  void write_count(Channel& c, uint8_t value);
  uint8_t read_count(Channel& c);
  void load(Channel& c, uint32_t raw);
  void restart(Channel& c);

  const Clock& clock_;
  IrqSink& irqs_;
  Channel channels_[3];
};

}  // namespace btvmm::devices
