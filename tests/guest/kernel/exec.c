/* Loading a program into a process: layout from the ELF image (pages come later, on demand), a
 * first stack page holding argc/argv, and a trap frame that enters the program in ring 3.
 * Writes the stack through the direct map, so it never depends on which CR3 is loaded. */
#include "console.h"
#include "kstring.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

#define MAX_ARGS 16

/* Replaces p's user address space with program `name`; 0 on success, -1 if there is no such
 * program (then p is untouched). `name` and `arg` must be kernel copies. */
int exec_image(struct proc *p, const char *name, const char *arg) {
  struct user_image_layout layout;
  if (elf_layout(name, &layout) != 0) return -1;
  pd_free_user(p->pd);
  if (p == current) write_cr3(V2P(p->pd));
  p->layout = layout;
  p->brk = PAGE_UP(layout.end);
  p->fault_handler = 0;
  uint32_t nlen = kstrlen(name);
  if (nlen >= sizeof p->name) nlen = sizeof p->name - 1;
  kmemcpy(p->name, name, nlen);
  p->name[nlen] = 0;

  /* Stack page: "name arg" split at spaces, then argv[], then argc and argv (what crt0 reads). */
  uint32_t pa = frame_alloc();
  uint8_t *page = P2V(pa);
  kmemset(page, 0, PAGE_SIZE);
  uint32_t base = USER_STACK_TOP - PAGE_SIZE;
  uint32_t alen = kstrlen(arg), len = kstrlen(name) + 1 + alen + 1;
  uint32_t soff = PAGE_SIZE - ((len + 3) & ~3u);
  char *s = (char *)page + soff;
  kmemcpy(s, name, kstrlen(name));
  s[kstrlen(name)] = ' ';
  kmemcpy(s + kstrlen(name) + 1, arg, alen);
  uint32_t argv[MAX_ARGS];
  int argc = 0;
  for (uint32_t i = 0; i < len - 1; i++) {
    if (s[i] == ' ') {
      s[i] = 0;
    } else if ((i == 0 || s[i - 1] == 0) && argc < MAX_ARGS) {
      argv[argc++] = base + soff + i;
    }
  }
  uint32_t *sp = (uint32_t *)(page + soff);
  *--sp = 0;
  for (int i = argc - 1; i >= 0; i--) *--sp = argv[i];
  uint32_t argv_va = base + (uint32_t)((uint8_t *)sp - page);
  *--sp = argv_va;
  *--sp = (uint32_t)argc;
  uint32_t *pte = pte_walk(p->pd, base, 1);
  *pte = pa | PTE_P | PTE_W | PTE_U;

  struct trapframe *tf = p->tf;
  kmemset(tf, 0, sizeof *tf);
  tf->cs = SEL_UCODE;
  tf->ds = tf->es = tf->fs = tf->gs = tf->ss = SEL_UDATA;
  tf->eflags = EFLAGS_IF | EFLAGS_RESERVED1;
  tf->eip = layout.entry;
  tf->esp = base + (uint32_t)((uint8_t *)sp - page);
  return 0;
}

int proc_spawn(const char *name, const char *arg) {
  struct proc *p = proc_alloc();
  if (!p) return -1;
  p->pd = pd_create();
  if (exec_image(p, name, arg) != 0) {
    pd_destroy(p->pd);
    p->state = P_UNUSED;
    return -1;
  }
  p->parent = 0;
  p->state = P_RUNNABLE;
  return p->pid;
}
