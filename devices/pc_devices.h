// The ISA PC device set btvmm gives every guest, built once and mapped onto a PortBus: 8259A
// pair, 8254 PIT + port 0x61, CMOS RTC, i8042, COM1 16550A, port 0x80, isa-debug-exit (0xf4)
// and PCI bus 0 (440FX host bridge; devices such as virtio-blk are added to pci_bus()). Shared
// by both backends; it knows nothing of CPU execution.
//
// Port map (all on the PortBus passed in):
//   0x20-0x21, 0xa0-0xa1  PIC master / slave      0x4d0-0x4d1  ELCR
//   0x40-0x43             PIT                      0x61         system control port B
//   0x60, 0x64            i8042                    0x70-0x71    CMOS RTC (IRQ 8)
//   0x80                  POST / delay port        0xf4-0xf7    isa-debug-exit
//   0x3f8-0x3ff           COM1 (IRQ 4)             0xcf8-0xcff  PCI configuration (mechanism #1)
//   0xc000-0xffff         PCI I/O window           MMIO 0xe0000000-0xfebfffff  PCI memory window
// PCI INTx is IRQ 11, marked level-triggered in the ELCR as a PC BIOS leaves it.
//
// Use from the run loop (vCPU thread only; none of this is thread-safe):
//   * interrupt_controller(): has_interrupt() / acknowledge() for the INTR pin;
//   * console_can_receive() / console_receive(): feed terminal input into COM1;
//   * timed_devices(): call poll(now) on each whose next_deadline_ns() <= now, and re-read the
//     deadlines after any port write (the guest reprograms the PIT and RTC).
#pragma once

#include <cstdint>
#include <vector>

#include "devices/bus.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/pci_bus.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port80.h"
#include "devices/rtc_cmos.h"
#include "devices/system_control_port.h"
#include "devices/uart16550.h"

namespace btvmm::devices {

class PcDevices {
 public:
  // Every reference must outlive this object. ram_bytes goes into the CMOS memory-size bytes.
  // The RTC reads the host's CLOCK_REALTIME unless `wall` is given (tests).
  PcDevices(PortBus& ports, MmioBus& mmio, const Clock& clock, MachineControl& machine, CharBackend& console,
            uint64_t ram_bytes, RtcCmos::WallClock wall = RtcCmos::host_wall_clock_ns);
  PcDevices(const PcDevices&) = delete;
  PcDevices& operator=(const PcDevices&) = delete;

  InterruptController& interrupt_controller() { return pic_; }
  // Where further ISA devices raise IRQs.
  IrqSink& irq_sink() { return pic_; }
  // Where PCI functions are plugged in (PciBus::add places BARs and sets Interrupt Line 11).
  PciBus& pci_bus() { return pci_; }

  bool console_can_receive() const { return com1_.can_receive(); }
  void console_receive(uint8_t byte) { com1_.receive(byte); }
  Uart16550& com1() { return com1_; }

  const std::vector<TimedDevice*>& timed_devices() const { return timed_; }

 private:
  Pic8259Pair pic_;
  Pit8254 pit_;
  SystemControlPort port61_;
  RtcCmos rtc_;
  I8042 i8042_;
  Uart16550 com1_;
  Port80 port80_;
  DebugExit debug_exit_;
  PciBus pci_;
  std::vector<TimedDevice*> timed_;
};

}  // namespace btvmm::devices
