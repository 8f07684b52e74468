// Chooses the boot protocol for a kernel (Linux bzImage setup header, else multiboot v1) and
// loads it with its initrd/modules and command line into guest memory.
#pragma once

#include <string>
#include <vector>

#include "host/boot_plan.h"
#include "host/disk_image.h"
#include "host/multiboot_loader.h"
#include "mmu/machine_memory.h"

namespace btvmm::host {

// For a multiboot kernel each initrd entry becomes a module (like QEMU's -initrd "a,b");
// a Linux kernel takes at most one initrd.
struct KernelInput {
  std::vector<uint8_t> kernel;
  std::vector<MultibootModule> initrds;
  std::string cmdline;
};

BootPlan load_kernel(const KernelInput& input, mmu::GuestMemory& mem);

// A disk image's boot set as loader input (its initrd becomes module "initrd" for multiboot).
KernelInput kernel_input_from(const BootSet& boot);

}  // namespace btvmm::host
