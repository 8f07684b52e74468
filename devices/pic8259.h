// The PC's cascaded 8259A pair (master 0x20-0x21, slave 0xa0-0xa1 on master input 2) plus the
// ELCR edge/level registers at 0x4d0-0x4d1. It is both the IRQ sink devices raise lines on and
// the interrupt controller the CPU backend asks for vectors; it never touches CPU state.
#pragma once

#include <cstdint>

#include "devices/bus.h"

namespace btvmm::devices {

class Pic8259Pair : public PortDevice, public IrqSink, public InterruptController {
 public:
  Pic8259Pair();

  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  // ISA IRQ 0-15. IRQ 2 is the cascade input and cannot be driven from outside.
  void set_irq(unsigned irq, bool level) override;

  bool has_interrupt() const override;
  // Returns base+7 of the chip that found nothing to deliver (spurious IRQ 7 / 15).
  uint8_t acknowledge() override;

  // State of chip 0 (master) or 1 (slave), for tests and traces.
  uint8_t irr(unsigned chip) const { return chips_[chip].irr; }
  uint8_t isr(unsigned chip) const { return chips_[chip].isr; }
  uint8_t imr(unsigned chip) const { return chips_[chip].imr; }

 private:
  struct Chip {
    uint8_t irr = 0, isr = 0, imr = 0;
    uint8_t lines = 0;      // current level of each input
    uint8_t elcr = 0;       // 1 = level triggered (ELCR)
    uint8_t elcr_mask = 0;  // ELCR bits that are writable
    uint8_t vector_base = 0;
    uint8_t lowest = 7;     // input with the lowest priority (rotation)
    uint8_t icw3 = 0;
    unsigned init_step = 0;  // 0 = operational; 2, 3, 4 = expecting that ICW
    bool need_icw4 = false, single = false, ltim = false;
    bool auto_eoi = false, rotate_on_aeoi = false, special_fully_nested = false;
    bool special_mask = false, read_isr = false, poll = false;

    bool level_triggered(unsigned input) const { return ltim || (elcr & (1u << input)); }
    int highest(uint8_t mask) const;
    int output(bool is_master) const;
    void set_input(unsigned input, bool level);
    void ack(unsigned input);
    void write_command(uint8_t value);
    void write_data(uint8_t value);
    uint8_t read_command();
  };

  void update_cascade();

  Chip chips_[2];
};

}  // namespace btvmm::devices
