/* Check counting and reporting for the kernel's own tests. Lines are deterministic: names and
 * values only, never addresses that depend on the backend. */
#include "ktest.h"

#include "console.h"

static int total, failed;

void check(int cond, const char *what) {
  total++;
  if (!cond) failed++;
  kprintf("%s %s\n", cond ? "ok  " : "FAIL", what);
}

void check_eq(uint32_t got, uint32_t want, const char *what) {
  total++;
  if (got == want) {
    kprintf("ok   %s = %x\n", what, got);
  } else {
    failed++;
    kprintf("FAIL %s = %x, want %x\n", what, got, want);
  }
}

int checks_failed(void) { return failed; }
int checks_total(void) { return total; }
