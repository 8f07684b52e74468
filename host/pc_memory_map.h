// The guest-physical memory map of btvmm's PC (the same for every loader), and the low-memory
// places where loaders put their boot structures. Conventional PC layout: 639 KiB of low RAM,
// the EBDA/VGA/BIOS hole up to 1 MiB, then extended memory.
#pragma once

#include <cstdint>
#include <vector>

#include "host/boot_plan.h"
#include "mmu/machine_memory.h"

namespace btvmm::host {

inline constexpr uint64_t kLowRamEnd = 0x9fc00;      // 639 KiB, as a BIOS reports it
inline constexpr uint64_t kBiosAreaStart = 0xf0000;  // reserved: where a BIOS would be
inline constexpr uint64_t kHighMemoryStart = 0x100000;

// Low-memory addresses used by the loaders, all below 64 KiB where neither protocol loads code.
inline constexpr uint32_t kBootGdtAddr = 0x6000;
inline constexpr uint32_t kBootInfoAddr = 0x7000;     // boot_params or multiboot info
inline constexpr uint32_t kBootInfoEnd = 0x20000;     // end of the area for info, strings, mmap
inline constexpr uint32_t kBootCmdlineAddr = 0x20000; // Linux command line (up to 64 KiB)

std::vector<MemoryRegion> pc_memory_map(uint64_t ram_bytes);

// Writes a flat GDT at kBootGdtAddr with code selector 0x10 and data selector 0x18 (the Linux
// boot protocol's __BOOT_CS/__BOOT_DS; multiboot kernels load their own) and sets the
// segment registers and GDTR of cpu accordingly.
void install_flat_gdt(mmu::GuestMemory& mem, BootCpuState& cpu);

}  // namespace btvmm::host
