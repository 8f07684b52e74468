// Multiboot v1 loader (Multiboot Specification 0.6.96): places an ELF32 or a.out-kludge kernel
// and its modules in guest memory, builds the multiboot information structure with a memory
// map, and describes the entry state of section 3.2. Input is untrusted: every field is
// checked against the file and guest RAM; failures are Error(kBadKernel) with context.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "host/boot_plan.h"
#include "mmu/machine_memory.h"

namespace btvmm::host {

struct MultibootModule {
  std::vector<uint8_t> bytes;
  std::string cmdline;  // the module's string (by convention its name and arguments)
};

// Offset of a valid multiboot header in the first 8 KiB, if any.
std::optional<size_t> find_multiboot_header(std::span<const uint8_t> kernel);

BootPlan load_multiboot(std::span<const uint8_t> kernel, const std::vector<MultibootModule>& modules,
                        const std::string& cmdline, mmu::GuestMemory& mem);

}  // namespace btvmm::host
