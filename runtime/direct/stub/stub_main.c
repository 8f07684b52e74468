/* The direct-execution stub (DESIGN.md 3a): a freestanding static-pie process that runs guest
 * CPL-3 code in compat mode and turns every exit into a record on the shared control page.
 * It never holds monitor state, never makes a system call outside its own text (seccomp and
 * Syscall User Dispatch enforce that by instruction pointer), and never trusts the control page
 * for its own safety: a guest that escapes to 64-bit mode can read and write it. */
#include <stddef.h>
#include <stdint.h>

#include "runtime/direct/control_page.h"

/* Linux x86-64 ABI constants (uapi headers), spelled out: the stub links no libc. */
#define NR_mmap 9
#define NR_mprotect 10
#define NR_munmap 11
#define NR_rt_sigaction 13
#define NR_rt_sigreturn 15
#define NR_sched_yield 24
#define NR_setitimer 38
#define NR_exit 60
#define NR_sigaltstack 131
#define NR_modify_ldt 154
#define NR_prctl 157
#define NR_futex 202
#define NR_exit_group 231
#define NR_seccomp 317

#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGALRM 14
#define SIGSYS 31

#define SA_SIGINFO 0x4
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_NORESERVE 0x4000
#define MAP_FIXED_NOREPLACE 0x100000
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_PDEATHSIG 1
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_RET_TRAP 0x00030000u
#define SECCOMP_RET_ALLOW 0x7fff0000u
#define AUDIT_ARCH_X86_64 0xc000003eu
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4

/* ucontext_t / mcontext_t layout of x86-64 Linux (asm/sigcontext.h): gregs order. */
enum { R8, R9, R10, R11, R12, R13, R14, R15, RDI, RSI, RBP, RBX, RDX, RAX, RCX, RSP, RIP, EFL, CSGSFS, ERR, TRAPNO, OLDMASK, CR2 };
struct stub_ucontext {
  uint64_t uc_flags;
  void* uc_link;
  void* ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
  uint64_t gregs[23];
  void* fpregs;
  uint64_t reserved[8];
};
struct stub_siginfo {
  int32_t si_signo, si_errno, si_code, pad;
  union {
    struct { uint64_t addr; } fault;
    struct { uint64_t call_addr; int32_t syscall; uint32_t arch; } sys;
  } u;
};
struct kernel_sigaction {
  void* handler;
  uint64_t flags;
  void* restorer;
  uint64_t mask;
};
struct sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct sock_fprog { uint16_t len; struct sock_filter* filter; };

extern char __executable_start[], __etext[];
void btvmm_stub_restorer(void);

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define sys(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* The kernel returns from a signal through this: rt_sigreturn, issued from the stub's text. */
__asm__(".text\n.globl btvmm_stub_restorer\n.hidden btvmm_stub_restorer\nbtvmm_stub_restorer:\n"
        "  mov $15, %eax\n  syscall\n  ud2\n");

void* memset(void* d, int c, size_t n) {
  unsigned char* p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void* memcpy(void* d, const void* s, size_t n) {
  unsigned char* p = d;
  const unsigned char* q = s;
  while (n--) *p++ = *q++;
  return d;
}

static struct btvmm_stub_control* const ctl = (struct btvmm_stub_control*)BTVMM_STUB_CONTROL_ADDR;
static int in_guest;
/* The last command taken: the stub's own copy, as the guest may scribble on the control page. */
static uint32_t handled;

static __attribute__((noreturn)) void die(int code) {
  for (;;) sys(NR_exit_group, code, 0, 0);
}

static void report_done(void) {
  /* Sequentially consistent store then load: the monitor does the mirror image before it
   * sleeps, so one of the two sides always sees the other (no lost wake-up). */
  __atomic_store_n(&ctl->done_seq, handled, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&ctl->monitor_waiting, __ATOMIC_SEQ_CST))
    sys6(NR_futex, (long)&ctl->done_seq, FUTEX_WAKE, 1, 0, 0, 0);
}

/* Spins briefly (the monitor usually answers within microseconds), then sleeps on the futex.
 * The spin yields now and then: a scheduler that put the monitor on this CPU (wake-affine
 * placement does) would otherwise let it answer only once the spin is over. */
static uint32_t wait_command(uint32_t seen) {
  for (int i = 0; i < BTVMM_HANDSHAKE_SPINS; i++) {
    uint32_t s = __atomic_load_n(&ctl->command_seq, __ATOMIC_ACQUIRE);
    if (s != seen) return s;
    __builtin_ia32_pause();
    if (i % BTVMM_HANDSHAKE_YIELD_EVERY == BTVMM_HANDSHAKE_YIELD_EVERY - 1) sys(NR_sched_yield, 0, 0, 0);
  }
  for (;;) {
    __atomic_store_n(&ctl->stub_waiting, 1, __ATOMIC_SEQ_CST);
    uint32_t s = __atomic_load_n(&ctl->command_seq, __ATOMIC_SEQ_CST);
    if (s != seen) {
      __atomic_store_n(&ctl->stub_waiting, 0, __ATOMIC_RELAXED);
      return s;
    }
    sys6(NR_futex, (long)&ctl->command_seq, FUTEX_WAIT, (long)seen, 0, 0, 0);
  }
}

/* Executes the queued requests; stops at the first failure and records it. */
static void run_requests(void) {
  uint32_t n = ctl->request_count;
  if (n > BTVMM_STUB_MAX_REQUESTS) n = BTVMM_STUB_MAX_REQUESTS;
  ctl->failed_request = 0;
  ctl->failed_errno = 0;
  for (uint32_t i = 0; i < n; i++) {
    const struct btvmm_stub_request* r = &ctl->requests[i];
    uint64_t first = r->first, len = (uint64_t)r->pages << 12;
    long ret = 0;
    /* Keep every mapping inside the guest's 4 GiB: the stub's own pages live above it. */
    if (r->op != BTVMM_OP_LDT && (first & 0xfff || len == 0 || first + len > (1ull << 32))) {
      ret = -22;
    } else if (r->op == BTVMM_OP_MAP) {
      int prot = PROT_READ | PROT_EXEC | (r->writable ? PROT_WRITE : 0);
      ret = sys6(NR_mmap, (long)first, (long)len, prot, MAP_SHARED | MAP_FIXED, BTVMM_STUB_FD_MEMORY, (long)r->offset);
    } else if (r->op == BTVMM_OP_PROTECT) {
      ret = sys(NR_mprotect, first, len, PROT_READ | PROT_EXEC | (r->writable ? PROT_WRITE : 0));
    } else if (r->op == BTVMM_OP_UNMAP) {
      ret = sys(NR_munmap, first, len, 0);
    } else if (r->op == BTVMM_OP_LDT) {
      struct btvmm_user_desc d = r->ldt;
      ret = sys(NR_modify_ldt, 0x11, &d, sizeof d);
    } else {
      ret = -22;
    }
    if (ret < 0 && ret > -4096) {
      ctl->failed_request = (int32_t)i + 1;
      ctl->failed_errno = (int32_t)-ret;
      break;
    }
  }
  ctl->request_count = 0;
}

static uint16_t read_sreg_ds(void) { uint16_t v; __asm__ volatile("mov %%ds, %0" : "=r"(v)); return v; }
static uint16_t read_sreg_es(void) { uint16_t v; __asm__ volatile("mov %%es, %0" : "=r"(v)); return v; }
static uint16_t read_sreg_fs(void) { uint16_t v; __asm__ volatile("mov %%fs, %0" : "=r"(v)); return v; }
static uint16_t read_sreg_gs(void) { uint16_t v; __asm__ volatile("mov %%gs, %0" : "=r"(v)); return v; }

/* A selector the CPU would refuse (absent LDT entry...) becomes null rather than faulting here,
 * inside the handler, where a fault kills the stub: the guest then faults on first use. */
static uint16_t usable_data_selector(uint16_t sel) {
  uint8_t ok;
  __asm__ volatile("verr %1\n setz %0" : "=q"(ok) : "r"(sel) : "cc");
  return ok ? sel : 0;
}

static void save_guest(const struct stub_siginfo* si, const struct stub_ucontext* uc) {
  const uint64_t* g = uc->gregs;
  struct btvmm_stub_regs* r = &ctl->regs;
  r->gpr[0] = (uint32_t)g[RAX]; r->gpr[1] = (uint32_t)g[RCX]; r->gpr[2] = (uint32_t)g[RDX]; r->gpr[3] = (uint32_t)g[RBX];
  r->gpr[4] = (uint32_t)g[RSP]; r->gpr[5] = (uint32_t)g[RBP]; r->gpr[6] = (uint32_t)g[RSI]; r->gpr[7] = (uint32_t)g[RDI];
  r->eip = (uint32_t)g[RIP];
  r->eflags = (uint32_t)g[EFL];
  r->cs = (uint16_t)g[CSGSFS];
  r->ss = (uint16_t)(g[CSGSFS] >> 48);
  /* The 64-bit frame does not hold DS/ES/FS/GS: the kernel left the guest's in the registers. */
  r->ds = read_sreg_ds(); r->es = read_sreg_es(); r->fs = read_sreg_fs(); r->gs = read_sreg_gs();
  struct btvmm_stub_exit* e = &ctl->exit;
  e->signo = (uint32_t)si->si_signo;
  e->si_code = si->si_code;
  e->trapno = (uint32_t)g[TRAPNO];
  e->err = (uint32_t)g[ERR];
  e->addr = si->u.fault.addr;
  e->rip = g[RIP];
  e->syscall_nr = si->si_signo == SIGSYS ? si->u.sys.syscall : -1;
  e->arch = si->si_signo == SIGSYS ? si->u.sys.arch : 0;
  e->insn_len = 0;
  if (si->si_signo == SIGSYS && g[RIP] >= 2 && g[RIP] <= 0xffffffffull) {
    /* The system-call instruction ends at rip and was just fetched, so its bytes are mapped;
     * a compat sysenter returns to a vDSO address above 4 GiB and is left undecoded. */
    memcpy(e->insn, (const void*)(g[RIP] - 2), 2);
    e->insn_len = 2;
  }
}

/* The FPU part of a signal frame (asm/sigcontext.h): FXSAVE layout, whose bytes 464-511 hold
 * the kernel's fpx_sw_bytes; when magic1 says so an XSAVE header follows at byte 512. */
#define FPX_SW_OFFSET 464u
#define FP_XSTATE_MAGIC1 0x46505853u
#define XFEATURES_X87_SSE 3ull

static void save_fpu(const struct stub_ucontext* uc) {
  if (uc->fpregs) memcpy(ctl->fxsave, uc->fpregs, FPX_SW_OFFSET);
}

static void load_fpu(struct stub_ucontext* uc) {
  uint8_t* f = uc->fpregs;
  if (!f) return;
  memcpy(f, ctl->fxsave, FPX_SW_OFFSET);
  /* MXCSR's reserved bits would make rt_sigreturn fail (the guest's image comes from a real
   * fxsave, but the control page is guest-writable); the kernel's own sw bytes stay. */
  uint32_t mxcsr;
  memcpy(&mxcsr, f + 24, 4);
  mxcsr &= 0xffffu;
  memcpy(f + 24, &mxcsr, 4);
  uint32_t magic1;
  memcpy(&magic1, f + FPX_SW_OFFSET, 4);
  if (magic1 == FP_XSTATE_MAGIC1) {
    /* XSTATE_BV: without the x87 and SSE bits XRSTOR would load their init state instead. */
    uint64_t bv;
    memcpy(&bv, f + 512, 8);
    bv |= XFEATURES_X87_SSE;
    memcpy(f + 512, &bv, 8);
  }
}

static void load_guest(struct stub_ucontext* uc) {
  const struct btvmm_stub_regs* r = &ctl->regs;
  uint64_t* g = uc->gregs;
  g[RAX] = r->gpr[0]; g[RCX] = r->gpr[1]; g[RDX] = r->gpr[2]; g[RBX] = r->gpr[3];
  g[RSP] = r->gpr[4]; g[RBP] = r->gpr[5]; g[RSI] = r->gpr[6]; g[RDI] = r->gpr[7];
  g[R8] = g[R9] = g[R10] = g[R11] = g[R12] = g[R13] = g[R14] = g[R15] = 0;
  g[RIP] = r->eip;
  g[EFL] = r->eflags;
  g[CSGSFS] = (uint64_t)r->cs | ((uint64_t)r->ss << 48);
  uc->uc_flags |= UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
  /* sigreturn restores neither DS/ES (ignored in 64-bit mode) nor FS/GS: load them here; the
   * selectors and their LDT bases survive into compat mode. The handler uses no FS/GS data. */
  uint16_t ds = usable_data_selector(r->ds), es = usable_data_selector(r->es);
  uint16_t fs = usable_data_selector(r->fs), gs = usable_data_selector(r->gs);
  __asm__ volatile("mov %0, %%ds\n mov %1, %%es\n mov %2, %%fs\n mov %3, %%gs" : : "r"(ds), "r"(es), "r"(fs), "r"(gs));
}

/* Every signal is an exit: after the first entry the stub only ever runs guest code or this. */
static void handler(int sig, struct stub_siginfo* si, void* ucv) {
  (void)sig;
  struct stub_ucontext* uc = ucv;
  if (in_guest) {
    save_guest(si, uc);
    save_fpu(uc);
    in_guest = 0;
    report_done();
  }
  for (;;) {
    handled = wait_command(handled);
    uint32_t cmd = ctl->command;
    if (cmd == BTVMM_CMD_EXIT) die(0);
    run_requests();
    if (cmd == BTVMM_CMD_TIMER) {
      uint64_t us = ctl->timer_us;
      int64_t it[4] = {(int64_t)(us / 1000000), (int64_t)(us % 1000000), (int64_t)(us / 1000000), (int64_t)(us % 1000000)};
      sys(NR_setitimer, 0, it, 0);
    }
    if (cmd == BTVMM_CMD_RUN && ctl->failed_request == 0) {
      load_guest(uc);
      load_fpu(uc);
      in_guest = 1;
      return;
    }
    report_done();
  }
}

static void install(int sig) {
  struct kernel_sigaction sa = {(void*)handler, SA_SIGINFO | SA_ONSTACK | SA_RESTORER, (void*)btvmm_stub_restorer, ~0ull};
  if (sys6(NR_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0) != 0) die(10);
}

/* seccomp: system calls only from the stub's text, only 64-bit ones, only those the stub
 * makes; anything else raises SIGSYS, which reaches the monitor as a guest exit. */
static void confine(void) {
  uint64_t lo = (uint64_t)__executable_start, hi = (uint64_t)__etext;
  if ((lo >> 32) != (hi >> 32)) die(11);
  static const uint32_t allowed[] = {NR_mmap, NR_mprotect, NR_munmap, NR_rt_sigreturn, NR_sched_yield,
                                     NR_setitimer, NR_modify_ldt, NR_futex, NR_exit_group};
  enum { N = sizeof allowed / sizeof allowed[0] };
  struct sock_filter f[10 + N];
  int i = 0;
  /* seccomp_data: nr @0, arch @4, instruction_pointer @8 (low) / @12 (high). BPF opcodes: ld w abs
   * 0x20, jeq k 0x15, jge k 0x35, ret k 0x06; jumps count from the next instruction. The trap
   * return sits at index 8 + N, the allow return at 9 + N. */
  f[i++] = (struct sock_filter){0x20, 0, 0, 4};
  f[i++] = (struct sock_filter){0x15, 0, (uint8_t)(6 + N), AUDIT_ARCH_X86_64};
  f[i++] = (struct sock_filter){0x20, 0, 0, 12};
  f[i++] = (struct sock_filter){0x15, 0, (uint8_t)(4 + N), (uint32_t)(lo >> 32)};
  f[i++] = (struct sock_filter){0x20, 0, 0, 8};
  f[i++] = (struct sock_filter){0x35, 0, (uint8_t)(2 + N), (uint32_t)lo};
  f[i++] = (struct sock_filter){0x35, (uint8_t)(1 + N), 0, (uint32_t)hi};
  f[i++] = (struct sock_filter){0x20, 0, 0, 0};
  for (int k = 0; k < N; k++) f[i++] = (struct sock_filter){0x15, (uint8_t)(N - k), 0, allowed[k]};
  f[i++] = (struct sock_filter){0x06, 0, 0, SECCOMP_RET_TRAP};
  f[i++] = (struct sock_filter){0x06, 0, 0, SECCOMP_RET_ALLOW};
  struct sock_fprog prog = {(uint16_t)i, f};
  if (sys(NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0) != 0) die(12);
  if (sys(NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) die(13);
}

void btvmm_stub_start(void) {
  if (sys(NR_prctl, PR_SET_PDEATHSIG, 9, 0) != 0) die(2);
  long c = sys6(NR_mmap, BTVMM_STUB_CONTROL_ADDR, BTVMM_STUB_CONTROL_BYTES, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_FIXED_NOREPLACE, BTVMM_STUB_FD_CONTROL, 0);
  if (c != (long)BTVMM_STUB_CONTROL_ADDR) die(3);
  long st = sys6(NR_mmap, BTVMM_STUB_ALTSTACK_ADDR, BTVMM_STUB_ALTSTACK_BYTES, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (st != (long)BTVMM_STUB_ALTSTACK_ADDR) die(4);
  struct { void* sp; int32_t flags; int32_t pad; uint64_t size; } ss = {(void*)st, 0, 0, BTVMM_STUB_ALTSTACK_BYTES};
  if (sys(NR_sigaltstack, &ss, 0, 0) != 0) die(5);
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGALRM, SIGUSR1};
  for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++) install(sigs[k]);
  /* Syscall User Dispatch with no selector: every system call from outside the stub's text
   * becomes SIGSYS (si_code SYS_USER_DISPATCH) before seccomp sees it (Linux >= 5.11). */
  uint64_t lo = (uint64_t)__executable_start, hi = (uint64_t)__etext;
  if (sys6(NR_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (long)lo, (long)(hi - lo), 0, 0) != 0) die(6);
  confine();
  /* The first signal parks the stub in the handler, on the alternate stack, for good. */
  __asm__ volatile("ud2");
  die(7);
}

__asm__(".text\n.globl _start\n_start:\n  xor %ebp, %ebp\n  and $-16, %rsp\n  call btvmm_stub_start\n  ud2\n");
