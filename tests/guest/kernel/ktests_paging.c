/* Paging checks in ring 0: PSE and 4 KiB mappings are in place, linear page 0 is unmapped, and a
 * live PTE edited by the kernel (then INVLPG) takes effect at once. Uses the scratch page table
 * and gives back every frame it takes. */
#include "console.h"
#include "kprobe.h"
#include "ktest.h"
#include "mm.h"
#include "x86.h"

void ktests_paging(void) {
  uint32_t at;
  kprintf("kernel: paging\n");
  check((read_cr4() & CR4_PSE) != 0, "CR4.PSE set");
  check((read_cr0() & 0x80010001u) == 0x80010001u, "CR0.PG, CR0.WP and CR0.PE set");
  check((kernel_pd[(KERNBASE + 0x400000u) >> 22] & (PDE_PS | PTE_P)) == (PDE_PS | PTE_P),
        "kernel direct map uses a 4 MiB PSE page");
  check((kernel_pd[KERNBASE >> 22] & PDE_PS) == 0, "first kernel 4 MiB uses 4 KiB pages");
  check(kernel_pd[0] == 0, "no identity mapping left below the split");
  /* A 4 MiB page: the same physical frame seen through it and through a 4 KiB page alias. */
  uint32_t fa = frame_alloc(), fb = frame_alloc();
  volatile uint32_t *a = P2V(fa), *b = P2V(fb);
  *a = 0xaaaa0001u;
  *b = 0xbbbb0002u;
  uint32_t va = SCRATCH_BASE + 0x5000u;
  uint32_t *pte = scratch_pte(va);
  *pte = fa | PTE_P | PTE_W;
  invlpg(va);
  check_eq(*(volatile uint32_t *)va, 0xaaaa0001u, "scratch page reads frame A");
  *pte = fb | PTE_P | PTE_W;
  invlpg(va);
  check_eq(*(volatile uint32_t *)va, 0xbbbb0002u, "after live PTE edit + invlpg, reads frame B");
  *(volatile uint32_t *)va = 0xbbbb0003u;
  check_eq(*b, 0xbbbb0003u, "write through new mapping lands in frame B");
  check((*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "CPU set accessed and dirty bits in the PTE");
  *pte = 0;
  invlpg(va);
  KPROBE(at, "movl $0xffc05000, %%ecx", "movl (%%ecx), %%eax");
  expect_trap("ring0 #PF after unmapping the scratch page", at, 14, 0, 0);
  check_eq(ktrap.cr2, va, "ring0 #PF cr2 = unmapped scratch address");
  KPROBE(at, "movl $0x1000, %%ecx", "movl (%%ecx), %%eax");
  expect_trap("ring0 #PF linear page 1 (no user mapping in kernel_pd)", at, 14, 0, 0);
  frame_unref(fa);
  frame_unref(fb);
}
