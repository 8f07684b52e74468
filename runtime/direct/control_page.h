/* The page shared by the monitor and a direct-execution stub (DESIGN.md 3a): the guest register
 * context in and out, the exit record, the queue of map/protect/unmap/LDT requests and the
 * futex words of the handshake. Plain C so the freestanding stub and the monitor share it.
 * Never holds a monitor pointer: the guest can read and write this page (see stub_main.c). */
#ifndef BTVMM_RUNTIME_DIRECT_CONTROL_PAGE_H
#define BTVMM_RUNTIME_DIRECT_CONTROL_PAGE_H

#include <stdint.h>

#define BTVMM_STUB_CONTROL_BYTES (64u * 1024u)
#define BTVMM_STUB_MAX_REQUESTS 1024u
/* File descriptors the monitor hands to the stub at exec time. */
#define BTVMM_STUB_FD_MEMORY 3
#define BTVMM_STUB_FD_CONTROL 4
/* Where the stub maps the control page: above the 8 GiB window + guard, below the stub image. */
#define BTVMM_STUB_CONTROL_ADDR 0x300000000ull
#define BTVMM_STUB_ALTSTACK_ADDR 0x300100000ull
#define BTVMM_STUB_ALTSTACK_BYTES (64u * 1024u)

/* The handshake's spin, both sides: PAUSEs before sleeping on the futex (18-30 ns each on the
 * project's hosts), with a sched_yield every so many. The scheduler may keep the monitor and the
 * stub on one CPU (seen on an AMD PVM host: every exit then cost two whole spins, ~65 us against
 * ~10 us on two CPUs); the yield lets that peer run after ~2-4 us instead. A peer on a CPU of its
 * own has usually answered before the first yield (an exit takes ~2.4 us on the Intel host). */
#define BTVMM_HANDSHAKE_SPINS 1000
#define BTVMM_HANDSHAKE_YIELD_EVERY 128

/* Commands (monitor -> stub). */
enum btvmm_stub_command {
  BTVMM_CMD_NONE = 0,
  BTVMM_CMD_FLUSH = 1, /* execute the request queue, then report done */
  BTVMM_CMD_RUN = 2,   /* execute the request queue, then enter the guest with `regs` */
  BTVMM_CMD_TIMER = 3, /* arm ITIMER_REAL with timer_us (0 disarms), then report done */
  BTVMM_CMD_EXIT = 4,
};

/* Requests queued by StubMapper and the segment mirror. */
enum btvmm_stub_op {
  BTVMM_OP_MAP = 1,     /* first, pages, offset (bytes into the memory fd), writable */
  BTVMM_OP_PROTECT = 2, /* first, pages, writable */
  BTVMM_OP_UNMAP = 3,   /* first, pages */
  BTVMM_OP_LDT = 4,     /* ldt: one modify_ldt(1) descriptor */
};

/* Linux's struct user_desc (asm/ldt.h), spelled out so the stub needs no kernel headers. */
struct btvmm_user_desc {
  uint32_t entry_number;
  uint32_t base_addr;
  uint32_t limit;
  uint32_t flags; /* seg_32bit:1 contents:2 read_exec_only:1 limit_in_pages:1 seg_not_present:1 useable:1 lm:1 */
};

struct btvmm_stub_request {
  uint32_t op;
  uint32_t writable;
  uint32_t first; /* linear address, page aligned */
  uint32_t pages;
  uint64_t offset;
  struct btvmm_user_desc ldt;
};

/* Guest context as the host CPU holds it in compat mode (selectors are host selectors). */
struct btvmm_stub_regs {
  uint32_t gpr[8]; /* eax ecx edx ebx esp ebp esi edi */
  uint32_t eip;
  uint32_t eflags;
  uint16_t cs, ss, ds, es, fs, gs;
};

/* Why the stub left the guest: the raw signal facts; the monitor interprets them. */
struct btvmm_stub_exit {
  uint32_t signo;
  int32_t si_code;
  uint32_t trapno;   /* REG_TRAPNO */
  uint32_t err;      /* REG_ERR */
  uint64_t addr;     /* si_addr */
  uint64_t rip;      /* full host RIP (above 4 GiB after an escape to 64-bit mode) */
  int32_t syscall_nr; /* SIGSYS: si_syscall */
  uint32_t arch;      /* SIGSYS: si_arch */
  /* SIGSYS from guest code below 4 GiB: the two bytes before rip (the instruction just executed,
   * so mapped). Other exits leave decoding to the monitor, which reads guest memory: an IRET
   * the kernel could not complete reports #GP at a rip that may not be mapped at all. */
  uint32_t insn_len;
  uint8_t insn[16];
};

struct btvmm_stub_control {
  /* Handshake: the monitor writes `command` then bumps `command_seq` and wakes it; the stub
   * writes its results then sets `done_seq` = command_seq and wakes it. */
  volatile uint32_t command_seq;
  volatile uint32_t done_seq;
  volatile uint32_t command;
  volatile uint32_t monitor_waiting; /* the monitor sleeps in futex_wait on done_seq */
  volatile uint32_t stub_waiting;    /* the stub sleeps in futex_wait on command_seq */
  uint32_t timer_us;
  /* Set by the stub when a request failed: its index + 1 and the negated errno. */
  int32_t failed_request;
  int32_t failed_errno;
  struct btvmm_stub_regs regs;
  struct btvmm_stub_exit exit;
  uint32_t request_count;
  uint32_t reserved;
  /* The guest's x87/SSE state in FXSAVE format (SDM vol. 1 10.5.1), in at BTVMM_CMD_RUN and
   * out at the exit: the stub puts it in the signal frame it returns through and takes it from
   * the frame of the signal that ended the run. Bytes 464-511 (software-available) do not travel. */
  uint8_t fxsave[512] __attribute__((aligned(16)));
  struct btvmm_stub_request requests[BTVMM_STUB_MAX_REQUESTS];
};

#endif
