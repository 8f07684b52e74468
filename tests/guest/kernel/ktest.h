/* Check bookkeeping for the kernel's own tests: every check prints one deterministic line
 * ("ok ..." / "FAIL ...") and counts towards the summary; lines must never contain addresses
 * that differ between backends. */
#ifndef GUEST_KTEST_H
#define GUEST_KTEST_H
#include <stdint.h>

void check(int cond, const char *what);
void check_eq(uint32_t got, uint32_t want, const char *what);
int checks_failed(void);
int checks_total(void);

/* Ring-0 exception capture: ktrap_expect() arms it; the next kernel-mode exception is recorded and
 * execution continues at `resume` instead of panicking. */
struct ktrap_record {
  int armed;
  int taken;
  uint32_t vector, err, eip, cr2;
  uint32_t resume;
};
extern volatile struct ktrap_record ktrap;
/* A hook for kernel benchmarks: handles a kernel-mode #PF and returns 1 if it did. */
extern int (*kfault_hook)(uint32_t cr2);

void ktests_exceptions(void);
void ktests_fidelity(void);
void ktests_paging(void);
void kbench_nano(void);

#endif
