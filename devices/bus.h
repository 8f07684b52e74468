// The only interface device models see: a port-I/O bus, an MMIO bus, interrupt lines, a clock
// and the machine's reset/exit controls. Devices never know how the CPU is executed (KVM or the
// binary translator) and never include translator/, mmu/, runtime/ or host/ headers.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace btvmm::devices {

// A device reachable through port I/O. size is 1, 2 or 4 bytes. Reads return the value in the
// low `size` bytes.
class PortDevice {
 public:
  virtual ~PortDevice() = default;
  virtual uint32_t io_read(uint16_t port, unsigned size) = 0;
  virtual void io_write(uint16_t port, unsigned size, uint32_t value) = 0;
};

// A device reachable through memory-mapped I/O. addr is the guest-physical address.
class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  virtual uint64_t mmio_read(uint64_t addr, unsigned size) = 0;
  virtual void mmio_write(uint64_t addr, unsigned size, uint64_t value) = 0;
};

// Port I/O dispatch. Ranges may not overlap. An access to an unclaimed port reads all ones
// and ignores writes, as on a PC with nothing decoding that address (what Linux's probes of
// absent hardware expect: CONVENTIONS.md).
class PortBus {
 public:
  void map(uint16_t first, uint16_t count, PortDevice* dev, std::string name);
  uint32_t read(uint16_t port, unsigned size);
  void write(uint16_t port, unsigned size, uint32_t value);
  // Name of the device owning port, or "" (for traces and tests).
  std::string owner(uint16_t port) const;
  uint64_t unclaimed_accesses() const { return unclaimed_; }

 private:
  struct Range {
    uint32_t last;
    PortDevice* dev;
    std::string name;
  };
  const Range* find(uint16_t port) const;
  std::map<uint32_t, Range> ranges_;  // keyed by first port
  uint64_t unclaimed_ = 0;
};

// MMIO dispatch over guest-physical ranges; unclaimed reads return all ones.
class MmioBus {
 public:
  void map(uint64_t first, uint64_t length, MmioDevice* dev, std::string name);
  bool claims(uint64_t addr) const { return find(addr) != nullptr; }
  uint64_t read(uint64_t addr, unsigned size);
  void write(uint64_t addr, unsigned size, uint64_t value);

 private:
  struct Range {
    uint64_t last;
    MmioDevice* dev;
    std::string name;
  };
  const Range* find(uint64_t addr) const;
  std::map<uint64_t, Range> ranges_;
};

// Where devices assert interrupt request lines (ISA IRQ 0..15). Implemented by the PIC pair.
class IrqSink {
 public:
  virtual ~IrqSink() = default;
  // level true raises the line, false lowers it. Edge-triggered inputs latch on the rising edge.
  virtual void set_irq(unsigned irq, bool level) = 0;
};

// What a CPU backend asks of the interrupt controller.
class InterruptController {
 public:
  virtual ~InterruptController() = default;
  // True when an unmasked interrupt is pending for the CPU (the INTR pin).
  virtual bool has_interrupt() const = 0;
  // The INTA cycle: returns the vector and updates ISR/IRR. Only valid after has_interrupt().
  virtual uint8_t acknowledge() = 0;
};

// Monotonic time for device models, in nanoseconds. Tests substitute a fake clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now_ns() const = 0;
};

// Whole-machine requests a device can make (isa-debug-exit, i8042 reset).
class MachineControl {
 public:
  virtual ~MachineControl() = default;
  // The guest asked btvmm to exit with this process status (isa-debug-exit: (v << 1) | 1).
  virtual void request_exit(int status) = 0;
  // The guest asked for a system reset (i8042 command 0xFE, triple fault).
  virtual void request_reset() = 0;
};

// Byte stream behind a serial port: the terminal, a file, or a test buffer.
class CharBackend {
 public:
  virtual ~CharBackend() = default;
  virtual void write(uint8_t byte) = 0;
};

// Devices that act on the passage of time (PIT, RTC update) implement this; the run loop
// calls poll() when the deadline passes or the CPU exits for any reason.
class TimedDevice {
 public:
  virtual ~TimedDevice() = default;
  // Earliest absolute time (Clock::now_ns) at which poll() has something to do, or UINT64_MAX.
  virtual uint64_t next_deadline_ns() const = 0;
  virtual void poll(uint64_t now_ns) = 0;
};

}  // namespace btvmm::devices
