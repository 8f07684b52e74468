// Turns the raw facts of a stub exit (signal, trap number, error code, si_addr, the bytes at
// rip) into a guest event (user_exit.h), following how Linux reports each CPU exception to a
// process (arch/x86/kernel/traps.c) and the IA-32 meaning of that exception (SDM vol. 3 6.15).
// Pure logic, tested without a stub; never calls the host.
#pragma once

#include "runtime/direct/control_page.h"
#include "runtime/direct/user_exit.h"

namespace btvmm::direct {

// `guest_cs` is the host selector the guest was entered with: an exit with another CS means the
// guest escaped from compat mode.
UserExit decode_exit(const btvmm_stub_exit& exit, const btvmm_stub_regs& regs, uint16_t guest_cs);

// Statistics bucket of an exit: the direct.exits_* counter it belongs to.
enum class ExitBucket : uint8_t { kSyscall, kPageFault, kGp, kTimer, kOther };
ExitBucket bucket_of(const btvmm_stub_exit& exit);

}  // namespace btvmm::direct
