/* Two-level 32-bit paging (SDM vol. 3A 4.3). Kernel space: the first 4 MiB above KERNBASE with
 * 4 KiB pages (kernel text and rodata read-only), the rest of physical memory with 4 MiB PSE
 * pages, a scratch page table at the top. Linear addresses below KERNBASE belong to processes:
 * the kernel page directory maps none of them, so linear page 0 is never mapped. */
#include <stdint.h>

#include "console.h"
#include "mm.h"
#include "x86.h"

uint32_t kernel_pd[1024] __attribute__((aligned(4096)));
static uint32_t kernel_pt0[1024] __attribute__((aligned(4096)));
static uint32_t scratch_pt[1024] __attribute__((aligned(4096)));
extern char _text_start[], _rodata_end[];

uint32_t paging_init(uint32_t mem_end) {
  if (mem_end > 0x10000000u) mem_end = 0x10000000u;
  for (uint32_t i = 0; i < 1024; i++) {
    uint32_t va = KERNBASE + i * PAGE_SIZE;
    int readonly = va >= (uint32_t)_text_start && va < (uint32_t)_rodata_end;
    kernel_pt0[i] = i * PAGE_SIZE | PTE_P | (readonly ? 0 : PTE_W);
  }
  kernel_pd[KERNBASE >> 22] = V2P(kernel_pt0) | PTE_P | PTE_W;
  for (uint32_t pa = 0x400000; pa < mem_end; pa += 0x400000)
    kernel_pd[(KERNBASE + pa) >> 22] = pa | PDE_PS | PTE_P | PTE_W;
  kernel_pd[SCRATCH_BASE >> 22] = V2P(scratch_pt) | PTE_P | PTE_W;
  write_cr4(read_cr4() | CR4_PSE);
  write_cr3(V2P(kernel_pd));
  return mem_end;
}

uint32_t *scratch_pte(uint32_t va) { return &scratch_pt[(va >> 12) & 0x3ff]; }

uint32_t *pte_walk(uint32_t *pd, uint32_t va, int create) {
  uint32_t *pde = &pd[va >> 22];
  if (!(*pde & PTE_P)) {
    if (!create) return 0;
    uint32_t pt = frame_alloc();
    uint32_t *ptv = P2V(pt);
    for (int i = 0; i < 1024; i++) ptv[i] = 0;
    *pde = pt | PTE_P | PTE_W | PTE_U; /* permissions are decided per PTE */
  }
  if (*pde & PDE_PS) return 0;
  return (uint32_t *)P2V(PTE_ADDR(*pde)) + ((va >> 12) & 0x3ff);
}

uint32_t *pd_create(void) {
  uint32_t *pd = P2V(frame_alloc());
  for (int i = 0; i < 1024; i++) pd[i] = i < (int)(KERNBASE >> 22) ? 0 : kernel_pd[i];
  return pd;
}

void pd_free_user(uint32_t *pd) {
  for (uint32_t i = 0; i < (KERNBASE >> 22); i++) {
    if (!(pd[i] & PTE_P)) continue;
    uint32_t *pt = P2V(PTE_ADDR(pd[i]));
    for (int j = 0; j < 1024; j++)
      if (pt[j] & PTE_P) frame_unref(PTE_ADDR(pt[j]));
    frame_unref(PTE_ADDR(pd[i]));
    pd[i] = 0;
  }
}

void pd_destroy(uint32_t *pd) {
  pd_free_user(pd);
  frame_unref(V2P(pd));
}
