/* The program the fork/exec/wait shell loop runs: exits 0 at once, so the loop measures process
 * creation, exec and exit in the guest kernel rather than any work. Never prints. */
#include "lsys.h"

static int bench_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return 0;
}
BENCH_ENTRY(bench_main);
