// Linux x86 boot protocol loader, 32-bit entry (Documentation/arch/x86/boot.rst, "32-bit Boot
// Protocol"): parses and checks a bzImage's setup header, puts the protected-mode kernel at
// 1 MiB, the initrd below initrd_addr_max and above the kernel's init_size, the command line,
// and a boot_params "zero page" with an e820 map. Untrusted input: failures are Error(kBadKernel).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "host/boot_plan.h"
#include "mmu/machine_memory.h"

namespace btvmm::host {

// True when the bytes carry a Linux setup header ("HdrS" at 0x202).
bool is_linux_bzimage(std::span<const uint8_t> kernel);

BootPlan load_linux(std::span<const uint8_t> bzimage, std::span<const uint8_t> initrd, const std::string& cmdline,
                    mmu::GuestMemory& mem);

}  // namespace btvmm::host
