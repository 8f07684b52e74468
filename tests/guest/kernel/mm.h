/* Physical frames (with reference counts for copy-on-write) and two-level paging.
 * The kernel lives above KERNBASE (3G/1G split); physical memory is direct-mapped there. */
#ifndef GUEST_MM_H
#define GUEST_MM_H
#include <stdint.h>

#define KERNBASE 0xc0000000u
#define PAGE_SIZE 4096u
#define P2V(pa) ((void *)((uint32_t)(pa) + KERNBASE))
#define V2P(va) ((uint32_t)(va) - KERNBASE)
#define PAGE_DOWN(a) ((uint32_t)(a) & ~(PAGE_SIZE - 1))
#define PAGE_UP(a) (((uint32_t)(a) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* Intel SDM vol. 3A 4.3, tables 4-5/4-6 (32-bit paging PDE/PTE bits). */
#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PDE_PS 0x080u
#define PTE_COW 0x200u /* one of the bits ignored by the CPU (9-11): marks a shared copy-on-write page */
#define PTE_ADDR(e) ((e) & ~0xfffu)

/* The scratch page table covers the top 4 MiB of the linear space; kernel tests and
 * benchmarks map and unmap pages there. */
#define SCRATCH_BASE 0xffc00000u

void frames_init(uint32_t first_free, uint32_t mem_end);
uint32_t frame_alloc(void); /* physical address, refcount 1, contents undefined; panics when out */
void frame_ref(uint32_t pa);
void frame_unref(uint32_t pa);
uint32_t frame_refcount(uint32_t pa);
uint32_t frames_free_count(void);

extern uint32_t kernel_pd[1024];
uint32_t paging_init(uint32_t mem_end); /* returns the highest direct-mapped physical address */
uint32_t *scratch_pte(uint32_t va);
uint32_t *pte_walk(uint32_t *pd, uint32_t va, int create);
uint32_t *pd_create(void);
void pd_free_user(uint32_t *pd);
void pd_destroy(uint32_t *pd);

#endif
