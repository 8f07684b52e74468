/* User library: printf through SYS_WRITE (one write per call, so lines from different processes
 * never interleave mid-line), strings, sbrk, fault capture and check counting. */
#include "ulib.h"

#include <stdarg.h>

#include "../common/format.h"

struct buf {
  char data[256];
  uint32_t len;
};

static void sink(char c, void *ctx) {
  struct buf *b = ctx;
  if (b->len == sizeof b->data) {
    write(1, b->data, b->len);
    b->len = 0;
  }
  b->data[b->len++] = c;
}

int printf(const char *fmt, ...) {
  struct buf b;
  b.len = 0;
  va_list ap;
  va_start(ap, fmt);
  format_v(sink, &b, fmt, ap);
  va_end(ap);
  write(1, b.data, b.len);
  return (int)b.len;
}

uint32_t strlen(const char *s) {
  uint32_t n = 0;
  while (s[n]) n++;
  return n;
}
int strcmp(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return (unsigned char)*a - (unsigned char)*b;
}
int atoi(const char *s) {
  int v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
}
void *memcpy(void *d, const void *s, uint32_t n) {
  char *x = d;
  const char *y = s;
  for (uint32_t i = 0; i < n; i++) x[i] = y[i];
  return d;
}
void *memset(void *d, int c, uint32_t n) {
  char *x = d;
  for (uint32_t i = 0; i < n; i++) x[i] = (char)c;
  return d;
}
void *memmove(void *d, const void *s, uint32_t n) {
  char *x = d;
  const char *y = s;
  if (x < y) {
    for (uint32_t i = 0; i < n; i++) x[i] = y[i];
  } else {
    for (uint32_t i = n; i > 0; i--) x[i - 1] = y[i - 1];
  }
  return d;
}
int memcmp(const void *a, const void *b, uint32_t n) {
  const unsigned char *x = a, *y = b;
  for (uint32_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
void *sbrk(int32_t delta) {
  uint32_t old = brk(0);
  if (brk(old + (uint32_t)delta) != old + (uint32_t)delta) return (void *)-1;
  return (void *)old;
}

volatile uint32_t caught_taken, caught_vector, caught_err, caught_eip, caught_cr2, catch_resume;
void catch_init(void) { syscall3(SYS_CATCH, (uint32_t)catch_entry, 0, 0); }

static int total, failed;
void check(int cond, const char *what) {
  total++;
  if (!cond) failed++;
  printf("%s %s\n", cond ? "ok  " : "FAIL", what);
}
void check_eq(uint32_t got, uint32_t want, const char *what) {
  total++;
  if (got == want) {
    printf("ok   %s = %x\n", what, got);
  } else {
    failed++;
    printf("FAIL %s = %x, want %x\n", what, got, want);
  }
}
void expect_trap(const char *what, uint32_t insn_addr, uint32_t vector, uint32_t err, uint32_t eip_delta) {
  if (!caught_taken) {
    printf("FAIL %s: no exception, want vector %u err %x\n", what, vector, err);
    check(0, what);
    return;
  }
  printf("     %s: vector %u err %x eip insn+%u\n", what, caught_vector, caught_err, caught_eip - insn_addr);
  check(caught_vector == vector && caught_err == err && caught_eip == insn_addr + eip_delta, what);
}
int checks_failed(void) { return failed; }
