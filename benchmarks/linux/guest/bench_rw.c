/* 1-byte read/write system-call loop: N times read one byte from /dev/zero and write it to
 * /dev/null, i.e. 2N minimal system calls through the guest kernel's entry path. Prints how many
 * calls returned 1; any other count is a failure (exit status 1). Usage: bench-rw N */
#include "lsys.h"

static int bench_main(int argc, char **argv) {
  u32 n = argc > 1 ? parse_u(argv[1]) : 100000;
  long in = sys3(SYS_open, (long)"/dev/zero", 0 /* O_RDONLY */, 0);
  long out = sys3(SYS_open, (long)"/dev/null", 1 /* O_WRONLY */, 0);
  if (in < 0 || out < 0) {
    put("bench-rw: cannot open /dev/zero or /dev/null\n");
    return 1;
  }
  char byte = 1;
  u32 reads = 0, writes = 0;
  for (u32 i = 0; i < n; i++) {
    reads += sys3(SYS_read, in, (long)&byte, 1) == 1;
    writes += sys3(SYS_write, out, (long)&byte, 1) == 1;
  }
  char a[11], b[11];
  put("bench-rw: ");
  put(fmt_u(reads, a));
  put(" reads, ");
  put(fmt_u(writes, b));
  put(" writes");
  int ok = reads == n && writes == n && byte == 0;
  put(ok ? " ok\n" : " FAILED\n");
  return !ok;
}
BENCH_ENTRY(bench_main);
