// 16550A UART as wired on a PC (COM1: ports 0x3f8-0x3ff, IRQ 4), modelled register by register
// for Linux's 8250 driver. The transmitter is infinitely fast (bytes go straight to a CharBackend);
// the model never reads the host terminal itself: the host pushes input with receive().
#pragma once

#include <array>
#include <cstdint>

#include "devices/bus.h"

namespace btvmm::devices {

class Uart16550 : public PortDevice {
 public:
  static constexpr unsigned kFifoSize = 16;

  Uart16550(uint16_t base, unsigned irq, IrqSink& irqs, CharBackend& out);

  // Registers are byte wide: a wider access acts on the addressed register only.
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

  // Host side. can_receive() is false when the next byte would overrun the receiver (or the
  // UART is in loopback, where the serial input is disconnected); receive() delivers a byte
  // from the line, raising the receive interrupt if enabled.
  bool can_receive() const;
  void receive(uint8_t byte);

 private:
  uint8_t interrupt_id() const;
  void update_irq();
  void rx_push(uint8_t byte);
  uint8_t rx_pop();
  void rx_clear() { rx_count_ = 0; }
  unsigned rx_capacity() const { return fifo_enabled_ ? kFifoSize : 1; }
  uint8_t modem_inputs() const;
  void write_mcr(uint8_t value);
  uint8_t read(unsigned reg);
  void write(unsigned reg, uint8_t value);

  uint16_t base_;
  unsigned irq_;
  IrqSink& irqs_;
  CharBackend& out_;

  uint8_t ier_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t dll_ = 12;  // 9600 baud with the PC's 1.8432 MHz crystal
  uint8_t dlm_ = 0;
  uint8_t line_errors_ = 0;  // LSR OE/PE/FE/BI, cleared by reading LSR
  uint8_t msr_deltas_ = 0;   // MSR bits 0-3, cleared by reading MSR
  bool fifo_enabled_ = false;
  unsigned rx_trigger_ = 1;
  bool thre_pending_ = false;
  bool irq_level_ = false;
  std::array<uint8_t, kFifoSize> rx_{};
  unsigned rx_head_ = 0;
  unsigned rx_count_ = 0;
  uint8_t last_rx_ = 0;
};

}  // namespace btvmm::devices
