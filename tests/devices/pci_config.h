// Configuration mechanism #1 accessors as Linux's arch/x86/pci/direct.c pci_conf1_read/write do
// them (dword address at 0xcf8, data at 0xcfc + (reg & 3)), and a counter lookup by name.
#pragma once

#include <cstdint>
#include <string>

#include "core/stats.h"
#include "devices/bus.h"

namespace btvmm::devices::testing {

inline uint32_t conf1_address(unsigned bus, unsigned slot, unsigned fn, unsigned reg) {
  return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

inline uint32_t conf1_read(PortBus& ports, unsigned slot, unsigned reg, unsigned size, unsigned fn = 0,
                           unsigned bus = 0) {
  ports.write(0xcf8, 4, conf1_address(bus, slot, fn, reg));
  return ports.read(uint16_t(0xcfc + (reg & 3)), size);
}

inline void conf1_write(PortBus& ports, unsigned slot, unsigned reg, unsigned size, uint32_t value) {
  ports.write(0xcf8, 4, conf1_address(0, slot, 0, reg));
  ports.write(uint16_t(0xcfc + (reg & 3)), size, value);
}

inline uint64_t counter(const std::string& name) {
  for (const auto& s : stats::snapshot())
    if (s.name == name) return s.value;
  return ~0ull;
}

}  // namespace btvmm::devices::testing
