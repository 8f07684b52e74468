/* Where every interrupt, exception and system call lands (after isr.S). Decides: IRQ, system
 * call, a fault the kernel resolves, a fault a kernel test expects, a user fault passed to the
 * process's handler, or a process killed with a message. A kernel fault nobody expects panics. */
#include "../common/abi.h"
#include "console.h"
#include "desc.h"
#include "ktest.h"
#include "mm.h"
#include "pic.h"
#include "pit.h"
#include "proc.h"
#include "x86.h"

void syscall_dispatch(struct trapframe *tf);

volatile struct ktrap_record ktrap;
int (*kfault_hook)(uint32_t cr2);

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF9", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#28", "#29", "#30", "#31"};

static void irq(struct trapframe *tf) {
  int n = (int)tf->vector - PIC_VECTOR_BASE;
  if (pic_spurious(n)) {
    if (n == 15) pic_eoi(0); /* the master saw a real request on the cascade line */
    return;
  }
  if (n == 0) pit_tick();
  pic_eoi(n);
  if (n == 0 && trap_from_user(tf)) schedule(); /* preemptive round-robin, user mode only */
}

static void user_fault(struct trapframe *tf, uint32_t cr2) {
  struct proc *p = current;
  if (p->fault_handler && tf->eip != p->fault_handler) { /* a handler that itself faults is not retried */
    /* Guest convention for SYS_CATCH: the handler gets vector, error code, faulting EIP and CR2
     * in eax, ecx, edx and ebx; esp is left as it was at the fault. */
    tf->eax = tf->vector;
    tf->ecx = tf->err;
    tf->edx = tf->eip;
    tf->ebx = cr2;
    tf->eip = p->fault_handler;
    return;
  }
  kprintf("kernel: killed pid %d (%s): %s err=%x eip=%08x cr2=%08x\n", p->pid, p->name,
          exception_names[tf->vector & 31], tf->err, tf->eip, cr2);
  proc_exit(STATUS_FAULTED | (int)tf->vector);
}

void trap_dispatch(struct trapframe *tf) {
  uint32_t v = tf->vector;
  if (v >= PIC_VECTOR_BASE && v < PIC_VECTOR_BASE + 16) {
    irq(tf);
  } else if (v == 0x80) {
    syscall_dispatch(tf);
  } else {
    uint32_t cr2 = v == 14 ? read_cr2() : 0;
    if (trap_from_user(tf)) {
      if (!(v == 14 && vm_fault(current, cr2, tf->err))) user_fault(tf, cr2);
    } else if (v == 14 && kfault_hook && kfault_hook(cr2)) {
    } else if (ktrap.armed) {
      ktrap.armed = 0;
      ktrap.taken = 1;
      ktrap.vector = v;
      ktrap.err = tf->err;
      ktrap.eip = tf->eip;
      ktrap.cr2 = cr2;
      tf->eip = ktrap.resume;
    } else if (v == 14 && cr2 < KERNBASE && current->pid != 0) {
      /* A system call touched user memory: demand paging and COW apply as in ring 3. */
      if (!vm_fault(current, cr2, tf->err)) {
        kprintf("kernel: killed pid %d (%s): bad user pointer %08x in a system call\n", current->pid, current->name,
                cr2);
        proc_exit(STATUS_FAULTED | 14);
      }
    } else {
      panic("unexpected %s in ring 0: err=%x eip=%08x cr2=%08x", exception_names[v & 31], tf->err, tf->eip, cr2);
    }
  }
  if (trap_from_user(tf) && current->killed) proc_exit(STATUS_KILLED);
}
