/* forkwait (Adams & Agesen, ASPLOS 2006, section 6): fork then wait in a loop, count given as
 * argv[1] (40000 in the paper). Prints a deterministic result line and a "bench:" timing line. */
#include "ulib.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40000;
  int bad = 0;
  uint64_t t0 = rdtsc();
  for (int i = 0; i < n; i++) {
    int pid = fork();
    if (pid == 0) exit(0);
    if (pid < 0) {
      bad++;
      break;
    }
    int status = -1;
    if (wait(&status) != pid || status != 0) bad++;
  }
  uint64_t cycles = rdtsc() - t0;
  printf("forkwait: %d forks, %d failures\n", n, bad);
  printf("bench: forkwait %u cycles/fork\n", n ? (uint32_t)(cycles / (uint32_t)n) : 0);
  return bad != 0;
}
