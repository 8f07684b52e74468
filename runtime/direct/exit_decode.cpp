// Stub exit -> guest event. Linux's mapping of CPU exceptions to signals is in
// arch/x86/kernel/traps.c (#DE SIGFPE, #DB/#BP SIGTRAP, #OF/#BR/#GP/#PF SIGSEGV, #UD SIGILL,
// #NP/#SS/#AC SIGBUS, #MF/#XM SIGFPE); REG_TRAPNO carries the vector, so it decides here.
// Never trusts the bytes or registers it is given beyond reading them.
#include "runtime/direct/exit_decode.h"

#include <csignal>

namespace btvmm::direct {
namespace {

using runtime::GuestException;

constexpr uint32_t kAuditArchI386 = 0x40000003u;

bool is_prefix(uint8_t b) {
  switch (b) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
    case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
      return true;
    default:
      return false;
  }
}

// Index of the opcode byte after legacy prefixes, or insn_len when there is none.
uint32_t opcode_index(const btvmm_stub_exit& e) {
  uint32_t i = 0;
  while (i < e.insn_len && is_prefix(e.insn[i])) i++;
  return i;
}

// Instructions that load a segment register from a selector (SDM vol. 2: MOV Sreg, POP Sreg,
// LDS/LES/LSS/LFS/LGS, far JMP/CALL/RET, IRET): the only sources of a #GP whose error code is a
// selector in user mode, and the ones the monitor must emulate against the guest's tables.
bool loads_segment(const btvmm_stub_exit& e) {
  const uint32_t i = opcode_index(e);
  if (i >= e.insn_len) return false;
  const uint8_t op = e.insn[i];
  switch (op) {
    case 0x8e: case 0x07: case 0x17: case 0x1f: case 0xc4: case 0xc5:
    case 0xea: case 0x9a: case 0xca: case 0xcb: case 0xcf:
      return true;
    case 0x0f:
      if (i + 1 >= e.insn_len) return false;
      return e.insn[i + 1] == 0xa1 || e.insn[i + 1] == 0xa9 || e.insn[i + 1] == 0xb2 || e.insn[i + 1] == 0xb4 ||
             e.insn[i + 1] == 0xb5;
    case 0xff: {
      if (i + 1 >= e.insn_len) return false;
      const uint8_t reg = (e.insn[i + 1] >> 3) & 7;
      return reg == 3 || reg == 5;
    }
    default:
      return false;
  }
}

UserExit exception(uint8_t vector, bool has_error, uint32_t error) {
  UserExit x;
  x.kind = UserExit::kException;
  x.exception = GuestException{vector, has_error, error, 0};
  return x;
}

UserExit decode_gp(const btvmm_stub_exit& e, const btvmm_stub_regs& r) {
  if ((e.err & 3) == 2) {
    // #GP(n*8+2) from int n through a host gate of DPL 0 (SDM vol. 3 6.12.1.1): the guest's own
    // gate decides, so hand the vector back as a software interrupt.
    const uint32_t i = opcode_index(e);
    if (i + 1 < e.insn_len && e.insn[i] == 0xcd) {
      UserExit x;
      x.kind = UserExit::kSoftwareInterrupt;
      x.vector = e.insn[i + 1];
      x.return_eip = r.eip + i + 2;
      return x;
    }
  }
  if (e.err != 0 && loads_segment(e)) {
    UserExit x;
    x.kind = UserExit::kEmulate;
    return x;
  }
  // Privileged instructions (cli, hlt, mov crN, in/out with IOPL < CPL...) and segment-limit
  // violations: #GP(0) as the host raised it; the error code of other #GPs is the selector.
  return exception(runtime::kGp, true, e.err);
}

}  // namespace

static UserExit decode_event(const btvmm_stub_exit& e, const btvmm_stub_regs& r, uint16_t guest_cs) {
  const bool escaped = r.cs != guest_cs || e.rip > 0xffffffffu ||
                       (e.signo == SIGSYS && e.arch != kAuditArchI386);
  if (escaped) {
    UserExit x = exception(runtime::kGp, true, 0);
    x.escaped = true;
    return x;
  }
  switch (e.signo) {
    case SIGALRM:
    case SIGUSR1: {
      UserExit x;
      x.kind = UserExit::kInterrupt;
      return x;
    }
    case SIGSYS: {
      // Syscall User Dispatch / seccomp report with rip after the instruction; the stub copied
      // the two bytes before it. int 0x80 is a software interrupt; syscall and sysenter are #UD
      // on btvmm's virtual CPU (no SEP, no SYSCALL in CPUID), reported at the instruction.
      if (e.insn_len == 2 && e.insn[0] == 0xcd && e.insn[1] == 0x80) {
        UserExit x;
        x.kind = UserExit::kSoftwareInterrupt;
        x.vector = 0x80;
        x.return_eip = r.eip;
        return x;
      }
      return exception(runtime::kUd, false, 0);
    }
    default:
      break;
  }
  switch (e.trapno) {
    case 0: return exception(runtime::kDe, false, 0);
    case 1: return exception(runtime::kDb, false, 0);
    case 3: return exception(runtime::kBp, false, 0);
    case 4: return exception(runtime::kOf, false, 0);
    case 5: return exception(runtime::kBr, false, 0);
    case 6: return exception(runtime::kUd, false, 0);
    case 7: return exception(runtime::kNm, false, 0);
    case 11: return exception(runtime::kNp, true, e.err);
    case 12: return exception(runtime::kSsFault, true, e.err);
    case 13: return decode_gp(e, r);
    case 14: {
      UserExit x;
      x.kind = UserExit::kPageFault;
      x.fault_addr = LinearAddr(uint32_t(e.addr));
      // Host error code (SDM vol. 3A 4.7): bit 1 write, bit 4 instruction fetch (NX is on).
      x.access = (e.err & 2) ? mmu::AccessKind::kWrite : (e.err & 16) ? mmu::AccessKind::kFetch : mmu::AccessKind::kRead;
      if (e.addr > 0xffffffffu) x = exception(runtime::kGp, true, 0), x.escaped = true;
      return x;
    }
    case 16: return exception(runtime::kMf, false, 0);
    case 17: return exception(runtime::kAc, true, 0);
    case 19: return exception(runtime::kXm, false, 0);
    default:
      return exception(runtime::kGp, true, 0);
  }
}

UserExit decode_exit(const btvmm_stub_exit& e, const btvmm_stub_regs& r, uint16_t guest_cs) {
  UserExit x = decode_event(e, r, guest_cs);
  // System-call instructions report rip after themselves; the event happened at them.
  x.eip = e.signo == SIGSYS && !x.escaped ? r.eip - 2 : r.eip;
  return x;
}

ExitBucket bucket_of(const btvmm_stub_exit& e) {
  if (e.signo == SIGSYS) return ExitBucket::kSyscall;
  if (e.signo == SIGALRM || e.signo == SIGUSR1) return ExitBucket::kTimer;
  if (e.signo == SIGSEGV && e.trapno == 14) return ExitBucket::kPageFault;
  if (e.signo == SIGSEGV && e.trapno == 13) return ExitBucket::kGp;
  return ExitBucket::kOther;
}

}  // namespace btvmm::direct
