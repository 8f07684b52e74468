/* User-mode nanobenchmarks (Adams & Agesen, ASPLOS 2006, section 6.1): the null system call and
 * a page fault the kernel resolves (demand-zero heap page). Timings only on "bench:" lines. */
#include "ulib.h"

#define SYSCALL_ITERS 2000
#define PGFAULT_PAGES 256

int main(void) {
  uint64_t t0 = rdtsc();
  for (int i = 0; i < SYSCALL_ITERS; i++) getpid();
  uint64_t t1 = rdtsc();
  printf("bench: syscall %u cycles/iter\n", (uint32_t)((t1 - t0) / SYSCALL_ITERS));

  volatile char *heap = sbrk(PGFAULT_PAGES * 4096);
  t0 = rdtsc();
  for (int i = 0; i < PGFAULT_PAGES; i++) heap[i * 4096] = 1;
  t1 = rdtsc();
  printf("bench: user-pgfault %u cycles/iter\n", (uint32_t)((t1 - t0) / PGFAULT_PAGES));
  printf("nanobench: user benchmarks done\n");
  return 0;
}
