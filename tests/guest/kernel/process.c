/* The process table, the round-robin scheduler, exit, wait and kill. Slot 0 is the kernel's own
 * thread (pid 0): it runs kmain, idles, and reaps orphans. Never switches with interrupts on. */
#include "proc.h"

#include "console.h"
#include "kstring.h"
#include "mm.h"
#include "x86.h"

static struct proc procs[NPROC];
static uint8_t kstacks[NPROC][KSTACK_SIZE] __attribute__((aligned(16)));
extern uint8_t boot_stack_top[];
struct proc *current;
static int next_pid = 1;

void proc_init(void) {
  procs[0].state = P_RUNNING;
  procs[0].pid = 0;
  kmemcpy(procs[0].name, "kernel", 7);
  procs[0].pd = kernel_pd;
  procs[0].kstack_top = (uint32_t)boot_stack_top;
  current = &procs[0];
}

struct proc *proc_alloc(void) {
  for (int i = 1; i < NPROC; i++) {
    struct proc *p = &procs[i];
    if (p->state != P_UNUSED) continue;
    kmemset(p, 0, sizeof *p);
    p->state = P_WAITING; /* an embryo: neither runnable nor reapable until its creator says so */
    p->pid = next_pid++;
    p->kstack_top = (uint32_t)(kstacks[i] + KSTACK_SIZE);
    p->tf = (struct trapframe *)(p->kstack_top - sizeof(struct trapframe));
    /* First switch_context to this process pops four callee-saved registers and returns into
     * trap_return, which "returns" to user mode through the trap frame. */
    uint32_t *sp = (uint32_t *)p->tf;
    *--sp = (uint32_t)trap_return;
    for (int r = 0; r < 4; r++) *--sp = 0;
    p->kesp = (uint32_t)sp;
    return p;
  }
  return 0;
}

struct proc *proc_by_pid(int pid) {
  for (int i = 0; i < NPROC; i++)
    if (procs[i].state != P_UNUSED && procs[i].pid == pid) return &procs[i];
  return 0;
}

static struct proc *pick_next(void) {
  int start = (int)(current - procs);
  for (int k = 1; k <= NPROC; k++) {
    struct proc *p = &procs[(start + k) % NPROC];
    if (p != &procs[0] && p->state == P_RUNNABLE) return p;
  }
  if (current->state == P_RUNNING) return current;
  return &procs[0];
}

void schedule(void) {
  struct proc *prev = current, *next = pick_next();
  if (next == prev) return;
  if (prev->state == P_RUNNING) prev->state = P_RUNNABLE;
  next->state = P_RUNNING;
  current = next;
  tss_set_esp0(next->kstack_top);
  if (next->pd != prev->pd) write_cr3(V2P(next->pd));
  switch_context(&prev->kesp, next->kesp);
}

void proc_exit(int status) {
  struct proc *p = current;
  if (p == &procs[0]) panic("the kernel thread tried to exit");
  for (int i = 1; i < NPROC; i++)
    if (procs[i].state != P_UNUSED && procs[i].parent == p->pid) procs[i].parent = 0;
  write_cr3(V2P(kernel_pd));
  pd_destroy(p->pd);
  p->pd = kernel_pd;
  p->exit_status = status;
  p->state = P_ZOMBIE;
  struct proc *parent = proc_by_pid(p->parent);
  if (parent && parent->state == P_WAITING) parent->state = P_RUNNABLE;
  schedule();
  panic("a zombie was scheduled");
}

int proc_wait(int *status) {
  for (;;) {
    int children = 0;
    for (int i = 1; i < NPROC; i++) {
      struct proc *c = &procs[i];
      if (c->state == P_UNUSED || c->parent != current->pid) continue;
      children++;
      if (c->state == P_ZOMBIE) {
        *status = c->exit_status;
        c->state = P_UNUSED;
        return c->pid;
      }
    }
    if (!children || current->killed) return -1;
    current->state = P_WAITING;
    schedule();
  }
}

int proc_kill(int pid) {
  struct proc *p = proc_by_pid(pid);
  if (!p || pid == 0 || p->state == P_ZOMBIE) return -1;
  p->killed = 1;
  if (p->state == P_WAITING) p->state = P_RUNNABLE;
  return 0;
}

static int any_runnable(void) {
  for (int i = 1; i < NPROC; i++)
    if (procs[i].state == P_RUNNABLE) return 1;
  return 0;
}

int proc_wait_kernel(int pid) {
  for (;;) {
    for (int i = 1; i < NPROC; i++) {
      struct proc *c = &procs[i];
      if (c->state != P_ZOMBIE || c->parent != 0) continue;
      if (c->pid != pid) {
        c->state = P_UNUSED; /* an orphan: nobody will wait for it */
        continue;
      }
      c->state = P_UNUSED;
      return c->exit_status;
    }
    if (any_runnable()) {
      schedule();
      continue;
    }
    if (!proc_by_pid(pid)) panic("waiting for pid %d, which does not exist", pid);
    /* Nothing runnable and nothing a timer could wake (there is no sleep): a guest kernel bug. */
    panic("deadlock: no runnable process while waiting for pid %d", pid);
  }
}
