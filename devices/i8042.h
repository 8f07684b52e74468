// 8042 keyboard controller at 0x60 (data) / 0x64 (status, command) with no keyboard and no
// mouse attached: enough for Linux's i8042 probe to finish quickly and for the 0xFE / 0xD1
// reset paths. It never invents key presses; writes to the absent devices time out.
#pragma once

#include <cstdint>
#include <deque>

#include "devices/bus.h"

namespace btvmm::devices {

class I8042 : public PortDevice {
 public:
  static constexpr unsigned kKeyboardIrq = 1;
  static constexpr unsigned kAuxIrq = 12;

  I8042(IrqSink& irqs, MachineControl& machine);

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  uint8_t command_byte() const { return command_byte_; }
  // Output port bit 1: the A20 gate (recorded only: guest memory has no A20 wrap-around).
  bool a20_enabled() const { return output_port_ & 0x02; }

 private:
  struct Byte {
    uint8_t value;
    bool aux;      // came from (or on behalf of) the auxiliary port
    bool timeout;  // the device did not answer (status bit 6)
  };

  uint8_t status() const;
  void push(uint8_t value, bool aux = false, bool timeout = false);
  void command(uint8_t cmd);
  void data(uint8_t value);
  void update_irqs();

  IrqSink& irqs_;
  MachineControl& machine_;
  std::deque<Byte> out_;  // output buffer plus what the controller has queued behind it
  uint8_t command_byte_ = 0x45;  // what a PC BIOS leaves: translate, system flag, kbd interrupt
  uint8_t output_port_ = 0x03;   // reset line inactive (bit 0 high), A20 enabled
  uint8_t pending_ = 0;          // command waiting for its data byte, or 0
  bool last_was_command_ = false;
  bool self_tested_ = false;
  bool kbd_irq_ = false;
  bool aux_irq_ = false;
};

}  // namespace btvmm::devices
