/* The int 0x80 system calls (numbers in common/abi.h). User pointers are checked against the
 * 3G/1G split and then used directly: a fault on them is a demand-paging or COW fault that
 * vm_fault resolves, or kills the caller. Never trusts a user length without a bound. */
#include "../common/abi.h"
#include "console.h"
#include "kstring.h"
#include "mm.h"
#include "pit.h"
#include "proc.h"
#include "x86.h"

int exec_image(struct proc *p, const char *name, const char *arg);

static int user_range_ok(uint32_t p, uint32_t len) { return p < KERNBASE && len <= KERNBASE - p; }

/* Copies a NUL-terminated user string of at most n-1 bytes; -1 if too long or not user memory. */
static int copy_user_string(char *dst, uint32_t src, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (!user_range_ok(src + i, 1)) return -1;
    dst[i] = *(const char *)(src + i);
    if (!dst[i]) return 0;
  }
  return -1;
}

static int sys_write(uint32_t fd, uint32_t buf, uint32_t len) {
  if (fd != 1 && fd != 2) return -1;
  if (!user_range_ok(buf, len) || len > 65536) return -1;
  serial_write((const char *)buf, len);
  return (int)len;
}

static int sys_exec(uint32_t uname, uint32_t uarg) {
  char name[32], arg[128];
  if (copy_user_string(name, uname, sizeof name) != 0) return -1;
  arg[0] = 0;
  if (uarg && copy_user_string(arg, uarg, sizeof arg) != 0) return -1;
  return exec_image(current, name, arg);
}

static int sys_brk(uint32_t addr) {
  struct proc *p = current;
  if (addr == 0) return (int)p->brk;
  if (addr < p->layout.end || addr > USER_HEAP_MAX) return -1;
  /* Shrinking gives the pages back; growing maps nothing (the pages come on demand). */
  for (uint32_t va = PAGE_UP(addr); va < PAGE_UP(p->brk); va += PAGE_SIZE) {
    uint32_t *pte = pte_walk(p->pd, va, 0);
    if (pte && (*pte & PTE_P)) {
      frame_unref(PTE_ADDR(*pte));
      *pte = 0;
      invlpg(va);
    }
  }
  p->brk = addr;
  return (int)addr;
}

void syscall_dispatch(struct trapframe *tf) {
  uint32_t a = tf->ebx, b = tf->ecx, c = tf->edx;
  int r = -1;
  switch (tf->eax) {
    case SYS_EXIT: proc_exit((int)(a & 0xff));
    case SYS_WRITE: r = sys_write(a, b, c); break;
    case SYS_FORK: r = fork_current(); break;
    case SYS_EXEC:
      r = sys_exec(a, b);
      if (r == 0) return; /* the trap frame now enters the new program */
      break;
    case SYS_WAIT: {
      int status = 0;
      if (a && !user_range_ok(a, 4)) break;
      r = proc_wait(&status);
      if (r > 0 && a) *(int *)a = status;
      break;
    }
    case SYS_GETPID: r = current->pid; break;
    case SYS_YIELD:
      schedule();
      r = 0;
      break;
    case SYS_BRK: r = sys_brk(a); break;
    case SYS_TIME: r = (int)pit_ticks(); break;
    case SYS_CATCH:
      current->fault_handler = a < KERNBASE ? a : 0;
      r = 0;
      break;
    case SYS_KILL: r = proc_kill((int)a); break;
    case SYS_IOPL:
      if (a <= 3) {
        tf->eflags = (tf->eflags & ~EFLAGS_IOPL) | (a << 12);
        r = 0;
      }
      break;
    default: break;
  }
  tf->eax = (uint32_t)r;
}
