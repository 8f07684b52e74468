// MC146818-compatible CMOS real-time clock and its 128 bytes of RAM (index 0x70 with the NMI
// mask in bit 7, data 0x71), with the memory-size bytes a PC BIOS leaves for the OS. Time comes
// from an injectable wall clock; the model never sets the host's clock.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>

#include "devices/bus.h"

namespace btvmm::devices {

class RtcCmos : public PortDevice, public TimedDevice {
 public:
  // Wall-clock time in nanoseconds since the Unix epoch (UTC).
  using WallClock = std::function<int64_t()>;
  // CLOCK_REALTIME of the host.
  static int64_t host_wall_clock_ns();

  static constexpr unsigned kIrq = 8;

  RtcCmos(const Clock& clock, IrqSink& irqs, WallClock wall = host_wall_clock_ns);

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  // IRQ 8 sources: periodic (PIE), update-ended (UIE) and alarm (AIE) interrupts.
  uint64_t next_deadline_ns() const override;
  void poll(uint64_t now_ns) override;

  // Fills the BIOS memory-size bytes (0x15-0x18, 0x30-0x31, 0x34-0x35) and the checksum.
  void set_memory_size(uint64_t ram_bytes);
  // Raw CMOS RAM byte (time registers excluded: they are computed on read).
  uint8_t ram(uint8_t index) const { return ram_[index & 0x7f]; }
  bool nmi_disabled() const { return nmi_disabled_; }

 private:
  int64_t guest_wall_ns() const { return wall_() + offset_ns_; }
  std::tm current_time() const;
  bool binary() const;
  uint8_t encode(int v) const;
  int decode(uint8_t v) const;
  uint8_t encode_hour(int hour) const;
  uint8_t read_register(uint8_t index);
  void write_register(uint8_t index, uint8_t value);
  void write_time_field(uint8_t index, uint8_t value);
  void commit_time(std::tm t);
  uint64_t periodic_ns() const;
  void catch_up(uint64_t now_ns);
  void update_irq();

  const Clock& clock_;
  IrqSink& irqs_;
  WallClock wall_;
  std::array<uint8_t, 128> ram_{};
  uint8_t index_ = 0;
  bool nmi_disabled_ = false;
  int64_t offset_ns_ = 0;       // guest-set time minus wall clock
  bool held_ = false;           // status B SET: updates frozen, writes go to held_time_
  std::tm held_time_{};
  int64_t last_second_ = 0;     // guest wall second last seen by catch_up()
  uint64_t next_periodic_ = 0;  // Clock time of the next periodic flag
  uint8_t flags_ = 0;           // status C PF/AF/UF
  bool irq_level_ = false;
};

}  // namespace btvmm::devices
