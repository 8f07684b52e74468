#include "host/kernel_loader.h"

#include "core/error.h"
#include "host/linux_loader.h"

namespace btvmm::host {

BootPlan load_kernel(const KernelInput& in, mmu::GuestMemory& mem) {
  if (is_linux_bzimage(in.kernel)) {
    if (in.initrds.size() > 1) fail(ExitCode::kBadKernel, "linux: takes one initrd, {} given", in.initrds.size());
    std::span<const uint8_t> initrd;
    if (!in.initrds.empty()) initrd = in.initrds[0].bytes;
    return load_linux(in.kernel, initrd, in.cmdline, mem);
  }
  if (find_multiboot_header(in.kernel)) return load_multiboot(in.kernel, in.initrds, in.cmdline, mem);
  fail(ExitCode::kBadKernel, "kernel is neither a Linux bzImage (no \"HdrS\" header) nor a multiboot kernel (no header in its first 8 KiB)");
}

KernelInput kernel_input_from(const BootSet& boot) {
  KernelInput in{boot.kernel, {}, boot.cmdline};
  if (!boot.initrd.empty()) in.initrds.push_back({boot.initrd, "initrd"});
  return in;
}

}  // namespace btvmm::host
