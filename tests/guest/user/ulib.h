/* The user library of the test guest: system calls, printf, strings, fault capture (UPROBE) and
 * check counting. Talks to the kernel only through int 0x80 (common/abi.h). */
#ifndef GUEST_ULIB_H
#define GUEST_ULIB_H
#include <stdint.h>

#include "../common/abi.h"

static inline int syscall3(int n, uint32_t a, uint32_t b, uint32_t c) {
  int r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}
static inline void exit(int status) {
  syscall3(SYS_EXIT, (uint32_t)status, 0, 0);
  __builtin_unreachable();
}
static inline int write(int fd, const void *buf, uint32_t len) { return syscall3(SYS_WRITE, (uint32_t)fd, (uint32_t)buf, len); }
static inline int fork(void) { return syscall3(SYS_FORK, 0, 0, 0); }
static inline int exec(const char *name, const char *arg) { return syscall3(SYS_EXEC, (uint32_t)name, (uint32_t)arg, 0); }
static inline int wait(int *status) { return syscall3(SYS_WAIT, (uint32_t)status, 0, 0); }
static inline int getpid(void) { return syscall3(SYS_GETPID, 0, 0, 0); }
static inline int yield(void) { return syscall3(SYS_YIELD, 0, 0, 0); }
static inline uint32_t brk(uint32_t addr) { return (uint32_t)syscall3(SYS_BRK, addr, 0, 0); }
static inline uint32_t time(void) { return (uint32_t)syscall3(SYS_TIME, 0, 0, 0); }
static inline int kill(int pid) { return syscall3(SYS_KILL, (uint32_t)pid, 0, 0); }
static inline int iopl(int level) { return syscall3(SYS_IOPL, (uint32_t)level, 0, 0); }
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint32_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int atoi(const char *s);
void *memcpy(void *d, const void *s, uint32_t n);
void *memset(void *d, int c, uint32_t n);
void *memmove(void *d, const void *s, uint32_t n);
int memcmp(const void *a, const void *b, uint32_t n);
void *sbrk(int32_t delta);

/* Fault capture (kernel/trap.c SYS_CATCH convention; entry in crt0.S). */
extern volatile uint32_t caught_taken, caught_vector, caught_err, caught_eip, caught_cr2, catch_resume;
void catch_entry(void);
void catch_init(void);

/* UPROBE: like the kernel's KPROBE, in ring 3. The instructions may use eax, ecx, edx; ebx is
 * clobbered by the handler. */
#define UPROBE(insn_addr, setup, insn, ...)                                                  \
  do {                                                                                  \
    caught_taken = 0;                                                                   \
    __asm__ volatile("movl $2f, %1\n" setup "\n1: " insn "\n2: movl $1b, %0\n"          \
                     : "=S"(insn_addr), "=m"(catch_resume)                              \
                     : __VA_ARGS__                                                       \
                     : "eax", "ebx", "ecx", "edx", "memory", "cc");                      \
  } while (0)

void check(int cond, const char *what);
void check_eq(uint32_t got, uint32_t want, const char *what);
void expect_trap(const char *what, uint32_t insn_addr, uint32_t vector, uint32_t err, uint32_t eip_delta);
int checks_failed(void);

#endif
