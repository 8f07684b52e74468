// The host GS base of the vCPU thread: translated CPL 3 code addresses guest memory as
// gs:[32-bit address], so the base must be the user window's whenever a CCF runs (DESIGN.md 2).
// Nothing else in btvmm uses GS (glibc's x86-64 TLS is FS), and signal delivery leaves it alone.
#pragma once

#include <cstdint>

namespace btvmm::runtime::engine {

// Sets the calling thread's GS base to `base` (arch_prctl ARCH_SET_GS; this host has no
// wrgsbase). Cheap when it is already set: one thread-local compare.
void set_user_window_base(uint64_t base);

}  // namespace btvmm::runtime::engine
