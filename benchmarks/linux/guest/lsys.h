/* Linux i386 system calls by `int 0x80` for the Linux-guest benchmark programs, which are built
 * -m32 -static -nostdlib so that no C library start-up (CPUID probes, TLS setup) is measured.
 * Numbers and argument registers: Linux arch/x86/entry/syscalls/syscall_32.tbl (i386 ABI:
 * EAX = number, EBX ECX EDX ESI EDI EBP = arguments). Must never be built for another ABI. */
#pragma once

typedef unsigned int u32;

enum {
  SYS_exit = 1, SYS_read = 3, SYS_write = 4, SYS_open = 5, SYS_close = 6,
  SYS_munmap = 91, SYS_mmap2 = 192, SYS_exit_group = 252,
};

static inline long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}

static inline long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  /* EBP carries the sixth argument; it is saved by hand because GCC may use it as frame pointer. */
  __asm__ volatile("push %%ebp\n mov %7, %%ebp\n int $0x80\n pop %%ebp"
                   : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e), "m"(f)
                   : "memory");
  return r;
}

static inline __attribute__((noreturn)) void sys_exit(int status) {
  sys3(SYS_exit_group, status, 0, 0);
  for (;;) sys3(SYS_exit, status, 0, 0);
}

static inline long str_len(const char *s) {
  long n = 0;
  while (s[n]) n++;
  return n;
}

static inline void put(const char *s) { sys3(SYS_write, 1, (long)s, str_len(s)); }

/* Decimal text of v into buf (at least 11 bytes); returns buf. */
static inline char *fmt_u(u32 v, char *buf) {
  char tmp[11];
  int n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
  return buf;
}

static inline u32 parse_u(const char *s) {
  u32 v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (u32)(*s++ - '0');
  return v;
}

/* The kernel's initial stack (System V i386 ABI, figure 3-31): argc, argv[], NULL, envp[]. */
#define BENCH_ENTRY(main_fn)                                                   \
  __attribute__((used)) static void start_c(long *sp) {                        \
    sys_exit(main_fn((int)sp[0], (char **)(sp + 1)));                          \
  }                                                                            \
  __asm__(".globl _start\n_start:\n xor %ebp, %ebp\n mov %esp, %eax\n"         \
          " and $-16, %esp\n sub $12, %esp\n push %eax\n call start_c\n hlt\n")
