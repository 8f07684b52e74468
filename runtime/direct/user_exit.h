// Why direct execution of guest user code stopped, in guest terms (the monitor-side record of
// one stub exit). Plain data: never refers to host state.
#pragma once

#include <cstdint>

#include "core/types.h"
#include "mmu/paging.h"
#include "runtime/cpu_env.h"

namespace btvmm::direct {

struct UserExit {
  enum Kind : uint8_t {
    // A guest exception (vcpu.eip at the faulting instruction, or after it for traps such as
    // int3/into, as hardware pushes): deliver `exception` through the guest IDT.
    kException,
    // int n (including int 0x80): deliver `vector` as a software interrupt returning to
    // `return_eip`; vcpu.eip is the int instruction (the delivery checks the gate's DPL and
    // raises #GP(n*8+2) itself, SDM vol. 3 6.12.1.1).
    kSoftwareInterrupt,
    // A host page fault at `fault_addr`: resolve with ShadowMmu::fill on the stub's kUser shadow
    // (hidden: re-enter; guest fault: deliver the #PF fill returns). vcpu.eip at the instruction.
    kPageFault,
    // The host timer or a kick ended direct execution at an instruction boundary: look at the
    // virtual PIC and deliver what is pending; vcpu.eip is the next instruction.
    kInterrupt,
    // The instruction at vcpu.eip needs the monitor's CPU semantics (runtime::execute_instruction):
    // a segment load of a guest selector the host refused (see segment_mirror.h).
    kEmulate,
  };
  Kind kind = kException;
  // Guest EIP after the exit, as the kind above defines it (copied into vcpu.eip).
  uint32_t eip = 0;
  runtime::GuestException exception{};
  uint8_t vector = 0;
  uint32_t return_eip = 0;
  LinearAddr fault_addr{};
  mmu::AccessKind access = mmu::AccessKind::kRead;
  // The guest left compat mode (far transfer to a host selector): its state has no IA-32 meaning;
  // it is turned into #GP(0) and counted.
  bool escaped = false;
  // A segment register held a guest GDT selector that the host resolved in its own GDT (user
  // code loaded it without the monitor: glibc's `mov %ax,%gs` of Linux's TLS selector 0x33, the
  // host's 64-bit code segment). It is repaired now; a fault through it is the host segment's
  // doing, so run_user_resolving runs the instruction again instead of reporting the fault.
  bool segment_repaired = false;
};

}  // namespace btvmm::direct
