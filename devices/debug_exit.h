// QEMU-compatible isa-debug-exit: a guest write of v asks btvmm to exit with status
// (v << 1) | 1, the convention kvm-unit-tests relies on (port 0xf4, 4 bytes wide).
// It only asks the machine to stop; it never exits the process itself.
#pragma once

#include <cstdint>

#include "devices/bus.h"

namespace btvmm::devices {

class DebugExit : public PortDevice {
 public:
  static constexpr uint16_t kPort = 0xf4;
  static constexpr uint16_t kSize = 4;

  explicit DebugExit(MachineControl& machine) : machine_(machine) {}

  // Reads return 0, as QEMU's device does.
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

 private:
  MachineControl& machine_;
};

}  // namespace btvmm::devices
