/* Page faults on user addresses: demand paging of the ELF image, heap, stack and TLS regions,
 * and copy-on-write breaks. Decides only from the process layout; never maps kernel addresses. */
#include "console.h"
#include "kstring.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

void cow_break(uint32_t *pte, uint32_t va);

int vm_fault(struct proc *p, uint32_t addr, uint32_t err) {
  if (addr >= KERNBASE || p->pid == 0) return 0;
  uint32_t *pte = pte_walk(p->pd, addr, 0);
  if (pte && (*pte & PTE_P)) {
    /* SDM vol. 3A 4.7: error code bit 1 = write. A write to a shared page is a COW break. */
    if ((err & 2) && (*pte & PTE_COW)) {
      cow_break(pte, PAGE_DOWN(addr));
      return 1;
    }
    return 0;
  }
  uint32_t va = PAGE_DOWN(addr);
  int writable = 1, in_image = 0;
  uint32_t heap_lo = PAGE_UP(p->layout.end);
  if (va >= USER_STACK_LOW && va < USER_STACK_TOP) {
  } else if (va >= USER_TLS_BASE && va < USER_TLS_BASE + USER_TLS_SIZE) {
  } else if (va >= heap_lo && va < PAGE_UP(p->brk)) {
  } else if (va < heap_lo) {
    in_image = 1;
  } else {
    return 0;
  }
  uint32_t pa = frame_alloc();
  uint8_t *page = P2V(pa);
  kmemset(page, 0, PAGE_SIZE);
  if (in_image && !elf_fill_page(&p->layout, va, page, &writable)) {
    frame_unref(pa);
    return 0;
  }
  if ((err & 2) && !writable) {
    frame_unref(pa);
    return 0;
  }
  pte = pte_walk(p->pd, va, 1);
  *pte = pa | PTE_P | PTE_U | (writable ? PTE_W : 0);
  invlpg(va);
  return 1;
}
