/* Processes: the table, round-robin scheduling, exit and wait. One address space (CR3) per
 * process. The kernel is not preemptible: it runs with interrupts off except when idle. */
#ifndef GUEST_PROC_H
#define GUEST_PROC_H
#include <stdint.h>

#include "desc.h"
#include "elf.h"

#define NPROC 48
#define KSTACK_SIZE 8192u

enum proc_state { P_UNUSED, P_RUNNABLE, P_RUNNING, P_WAITING, P_ZOMBIE };

struct proc {
  enum proc_state state;
  int pid;
  int parent; /* pid; 0 is the kernel (idle) */
  int exit_status;
  int killed;
  char name[16];
  uint32_t *pd; /* kernel virtual address of the page directory */
  uint32_t kesp; /* saved kernel stack pointer while switched out */
  uint32_t kstack_top;
  struct trapframe *tf; /* the user trap frame at the top of the kernel stack */
  struct user_image_layout layout;
  uint32_t brk;
  uint32_t fault_handler; /* user EIP to receive faults (SYS_CATCH), 0 = none */
};

extern struct proc *current;

void proc_init(void);
struct proc *proc_alloc(void); /* slot with a fresh pid and kernel stack, state still unused */
struct proc *proc_by_pid(int pid);
/* Creates a process running image `name` with argument string `arg`; returns its pid or -1. */
int proc_spawn(const char *name, const char *arg);
void schedule(void);
void proc_exit(int status) __attribute__((noreturn));
int proc_wait(int *status);
int proc_kill(int pid);
/* Kernel (pid 0) waits for its child `pid`, halting while nothing runs; returns its status. */
int proc_wait_kernel(int pid);
void switch_context(uint32_t *save_esp, uint32_t new_esp);
void trap_return(void);

int fork_current(void);
/* Resolves a user-address page fault (demand paging, copy-on-write); 1 if resolved. */
int vm_fault(struct proc *p, uint32_t addr, uint32_t err);

#endif
