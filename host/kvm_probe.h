// Whether this host's KVM can run what btvmm boots: a 32-bit protected-mode guest that turns on
// paging. Opening /dev/kvm is not enough: kvm_pvm (pagetable-based virtualization, no VMX/SVM)
// opens, creates VMs and answers every ioctl, then triple-faults such a guest at its first
// `mov cr0` with PG set, because it runs only 64-bit PVM-aware kernels.
#pragma once

#include <string>

namespace btvmm::host {

// Empty when a tiny guest (set CR3, set CR0.PG, `out` to port 0x80, `hlt`) runs to its `out`
// under KVM; otherwise what went wrong, for the user.
std::string kvm_probe_paged_32bit_guest(int kvm_fd);

}  // namespace btvmm::host
