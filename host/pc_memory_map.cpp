#include "host/pc_memory_map.h"

#include <array>

#include "core/error.h"

namespace btvmm::host {

std::vector<MemoryRegion> pc_memory_map(uint64_t ram_bytes) {
  std::vector<MemoryRegion> map;
  map.push_back({0, kLowRamEnd, MemoryRegion::kUsable});
  map.push_back({kLowRamEnd, 0xa0000 - kLowRamEnd, MemoryRegion::kReserved});
  map.push_back({kBiosAreaStart, kHighMemoryStart - kBiosAreaStart, MemoryRegion::kReserved});
  if (ram_bytes > kHighMemoryStart) map.push_back({kHighMemoryStart, ram_bytes - kHighMemoryStart, MemoryRegion::kUsable});
  return map;
}

namespace {
// Descriptor encoding, Intel SDM vol. 3 3.4.5: flat 4 GiB, G=1, D/B=1, present, DPL 0.
constexpr uint64_t descriptor(uint8_t type) {
  return 0x0000ffffull | (uint64_t(0x90 | type) << 40) | (0xcfull << 48);
}
}  // namespace

void install_flat_gdt(mmu::GuestMemory& mem, BootCpuState& cpu) {
  // Selectors 0x10 (code) and 0x18 (data): Linux boot protocol, 32-bit entry (boot.rst).
  const std::array<uint64_t, 4> gdt = {0, 0, descriptor(0xb), descriptor(0x3)};
  if (!mem.write(GuestPhysAddr(kBootGdtAddr), gdt.data(), sizeof(gdt)))
    fail(ExitCode::kBadKernel, "guest memory too small for the boot GDT");
  cpu.gdt_base = kBootGdtAddr;
  cpu.gdt_limit = sizeof(gdt) - 1;
  SegmentInit code{};
  code.selector = 0x10;
  code.type = 0xb;
  SegmentInit data{};
  data.selector = 0x18;
  cpu.cs = code;
  cpu.ds = cpu.es = cpu.fs = cpu.gs = cpu.ss = data;
}

}  // namespace btvmm::host
