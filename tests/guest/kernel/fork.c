/* Copy-on-write fork (parent and child share every user page read-only, marked PTE_COW, until
 * one of them writes) and the COW break. Page tables themselves are never shared. */
#include "console.h"
#include "kstring.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

int fork_current(void) {
  struct proc *p = current, *c = proc_alloc();
  if (!c) return -1;
  c->pd = pd_create();
  for (uint32_t i = 0; i < (KERNBASE >> 22); i++) {
    if (!(p->pd[i] & PTE_P)) continue;
    uint32_t *ppt = P2V(PTE_ADDR(p->pd[i]));
    uint32_t cpt_pa = frame_alloc();
    uint32_t *cpt = P2V(cpt_pa);
    for (int j = 0; j < 1024; j++) {
      uint32_t e = ppt[j];
      if (e & PTE_P) {
        if (e & (PTE_W | PTE_COW)) {
          e = (e & ~PTE_W) | PTE_COW;
          ppt[j] = e;
        }
        frame_ref(PTE_ADDR(e));
      }
      cpt[j] = e;
    }
    c->pd[i] = cpt_pa | (p->pd[i] & 0xfffu);
  }
  write_cr3(read_cr3()); /* the parent's writable PTEs just became read-only */
  kmemcpy(c->name, p->name, sizeof c->name);
  c->layout = p->layout;
  c->brk = p->brk;
  c->fault_handler = p->fault_handler;
  *c->tf = *p->tf;
  c->tf->eax = 0;
  c->parent = p->pid;
  c->state = P_RUNNABLE;
  return c->pid;
}

void cow_break(uint32_t *pte, uint32_t va) {
  uint32_t pa = PTE_ADDR(*pte);
  if (frame_refcount(pa) == 1) {
    *pte = (*pte | PTE_W) & ~PTE_COW; /* the other sharers are gone: take the page back */
  } else {
    uint32_t n = frame_alloc();
    kmemcpy(P2V(n), P2V(pa), PAGE_SIZE);
    frame_unref(pa);
    *pte = n | ((*pte & 0xfffu) & ~PTE_COW) | PTE_W;
  }
  invlpg(va);
}
