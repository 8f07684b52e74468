// Guest-physical memory as a device doing DMA sees it: bounds-checked copies in and out. host/
// implements it over GuestMemory and reports every write with WriteTraces::report_physical_write
// so translated code and shadow page tables stay coherent. Devices never include mmu/ headers.
#pragma once

#include <cstdint>

namespace btvmm::devices {

class DmaMemory {
 public:
  virtual ~DmaMemory() = default;
  // Copy guest-physical [gpa, gpa + len) out of or into guest RAM. false, with nothing copied,
  // when any byte of the range lies outside guest RAM (including 64-bit wrap-around).
  virtual bool read(uint64_t gpa, void* dst, uint64_t len) = 0;
  // Implementations must report the write to the monitor's write traces (see above).
  virtual bool write(uint64_t gpa, const void* src, uint64_t len) = 0;
};

}  // namespace btvmm::devices
