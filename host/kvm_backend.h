// `--accel kvm`: the same Machine run by Linux KVM, the "hardware VMM" column of the Adams &
// Agesen comparison and the oracle for the binary translator. The PIC stays in user space (no
// in-kernel irqchip), so interrupts come from the same device models as under BT.
#pragma once

#include <memory>
#include <string>

#include "host/cpu_backend.h"

namespace btvmm::host {

// Empty when /dev/kvm is usable for a 32-bit paged guest (kvm_probe.h), else why not (shown to the user).
std::string kvm_unavailable_reason();

std::unique_ptr<CpuBackend> make_kvm_backend();

}  // namespace btvmm::host
