/* Physical page frames: a free list threaded through the free frames themselves (reached via the
 * direct map) and a reference count per frame, which copy-on-write fork shares pages with.
 * Never hands out a frame below the end of the kernel image. */
#include <stdint.h>

#include "console.h"
#include "mm.h"

#define MAX_FRAMES (0x10000000u / PAGE_SIZE) /* 256 MiB: what paging_init direct-maps at most */

static uint16_t refcount[MAX_FRAMES];
static uint32_t free_head; /* physical address of the first free frame, 0 = none */
static uint32_t free_count;

void frames_init(uint32_t first_free, uint32_t mem_end) {
  if (mem_end > MAX_FRAMES * PAGE_SIZE) mem_end = MAX_FRAMES * PAGE_SIZE;
  /* Push in descending order so allocation hands out ascending addresses (deterministic). */
  for (uint32_t pa = PAGE_DOWN(mem_end) - PAGE_SIZE; pa >= PAGE_UP(first_free); pa -= PAGE_SIZE) {
    *(uint32_t *)P2V(pa) = free_head;
    free_head = pa;
    free_count++;
  }
}

uint32_t frame_alloc(void) {
  if (!free_head) panic("out of physical memory");
  uint32_t pa = free_head;
  free_head = *(uint32_t *)P2V(pa);
  free_count--;
  refcount[pa / PAGE_SIZE] = 1;
  return pa;
}

void frame_ref(uint32_t pa) { refcount[pa / PAGE_SIZE]++; }

void frame_unref(uint32_t pa) {
  uint16_t *rc = &refcount[pa / PAGE_SIZE];
  if (*rc == 0) panic("frame_unref: frame %x is free", pa);
  if (--*rc) return;
  *(uint32_t *)P2V(pa) = free_head;
  free_head = pa;
  free_count++;
}

uint32_t frame_refcount(uint32_t pa) { return refcount[pa / PAGE_SIZE]; }
uint32_t frames_free_count(void) { return free_count; }
