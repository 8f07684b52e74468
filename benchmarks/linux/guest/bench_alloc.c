/* Page-fault-heavy allocator loop: R rounds of mmap of P anonymous pages, one write per page
 * (each a demand-zero page fault in the guest kernel), a read-back sum, munmap. Prints the sum,
 * which must equal R * P * (P - 1) / 2 modulo 2^32 (exit status 1 otherwise).
 * Usage: bench-alloc ROUNDS PAGES */
#include "lsys.h"

#define PAGE 4096u

static int bench_main(int argc, char **argv) {
  u32 rounds = argc > 1 ? parse_u(argv[1]) : 100;
  u32 pages = argc > 2 ? parse_u(argv[2]) : 256;
  u32 sum = 0, faults = 0;
  for (u32 r = 0; r < rounds; r++) {
    /* mmap2(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) */
    long p = sys6(SYS_mmap2, 0, (long)(pages * PAGE), 3, 0x22, -1, 0);
    if (p < 0 && p > -4096) {
      put("bench-alloc: mmap2 failed\n");
      return 1;
    }
    volatile u32 *mem = (volatile u32 *)p;
    for (u32 i = 0; i < pages; i++) {
      mem[i * (PAGE / 4)] = i;
      faults++;
    }
    for (u32 i = 0; i < pages; i++) sum += mem[i * (PAGE / 4)];
    sys3(SYS_munmap, p, (long)(pages * PAGE), 0);
  }
  u32 want = rounds * (pages * (pages - 1) / 2);
  char a[11], b[11];
  put("bench-alloc: ");
  put(fmt_u(faults, a));
  put(" page touches, sum ");
  put(fmt_u(sum, b));
  put(sum == want ? " ok\n" : " FAILED\n");
  return sum != want;
}
BENCH_ENTRY(bench_main);
