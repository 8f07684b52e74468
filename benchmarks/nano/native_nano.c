/* Host counterparts of the test guest's nanobenchmarks (tests/guest/kernel/kbench.c,
 * tests/guest/user/nanobench.c, forkwait.c), for the "native64" column of the kernel-heavy
 * table: the same loops where a host user process can run them, timed with rdtsc and printed
 * on the guest's "bench: NAME N cycles/iter" lines. A loop a host process cannot run (cr3wr,
 * ptemod, kernel pgfault, cli/sti) is never printed, so it can never be mistaken for a figure.
 * Usage: native_nano [FORKS]   (built -m64: this host cannot execute i386 code) */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <x86intrin.h>

/* Same counts as the guest (kbench.c ITERS / TRAP_ITERS, nanobench.c). */
#define ITERS 2000
#define TRAP_ITERS 500
#define PGFAULT_PAGES 256

static uint64_t t_start;
static void bench_begin(void) { t_start = __rdtsc(); }
static void bench_end(const char *name, uint32_t iters) {
  printf("bench: %s %u cycles/iter\n", name, (uint32_t)((__rdtsc() - t_start) / iters));
}

__attribute__((noinline)) static uint32_t callee(uint32_t x) {
  __asm__ volatile("" : "+r"(x));
  return x + 1;
}

/* #DE in user mode arrives as SIGFPE; the handler steps over the 2-byte `div %ecx` (F7 F1), so
 * the figure is the host kernel's fault entry + signal delivery + sigreturn. */
static volatile uint32_t de_taken;
static void on_sigfpe(int sig, siginfo_t *si, void *uc_void) {
  (void)sig;
  (void)si;
  ucontext_t *uc = uc_void;
  uc->uc_mcontext.gregs[REG_RIP] += 2;
  de_taken++;
}

static int bench_divzero(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigfpe;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  if (sigaction(SIGFPE, &sa, NULL) != 0) return 0;
  bench_begin();
  for (int i = 0; i < TRAP_ITERS; i++)
    __asm__ volatile("xorl %%edx, %%edx\n movl $1, %%eax\n xorl %%ecx, %%ecx\n"
                     ".byte 0xf7, 0xf1" ::: "eax", "ecx", "edx", "memory", "cc");
  bench_end("divzero", TRAP_ITERS);
  return de_taken == TRAP_ITERS;
}

int main(int argc, char **argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 1000;
  int ok = 1;

  /* in: port 0x80 (the POST port, as in the guest). Needs ioperm, i.e. root; on this host the
   * read itself exits to the hypervisor, which is what "native" means here. */
  if (ioperm(0x80, 1, 1) == 0) {
    bench_begin();
    for (int i = 0; i < ITERS; i++) (void)inb(0x80);
    bench_end("in", ITERS);
  }

  uint32_t x = 0;
  bench_begin();
  for (int i = 0; i < ITERS; i++) x = callee(x);
  bench_end("callret", ITERS);
  ok &= x == ITERS;

  /* In user mode POPF leaves IF alone (Intel SDM vol. 2B, POPF): the cost of the pair itself. */
  bench_begin();
  for (int i = 0; i < ITERS; i++) __asm__ volatile("pushfq\n popfq" ::: "memory", "cc");
  bench_end("pushf/popf", ITERS);

  ok &= bench_divzero();

  /* The guest's syscall is getpid through int 0x80; here getpid through SYSCALL. */
  bench_begin();
  for (int i = 0; i < ITERS; i++) syscall(SYS_getpid);
  bench_end("syscall", ITERS);

  /* user-pgfault: first touch of fresh anonymous pages (demand-zero faults), as nanobench.c
   * does with sbrk'd heap. */
  volatile char *heap = mmap(NULL, PGFAULT_PAGES * 4096, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (heap == MAP_FAILED) return 1;
  bench_begin();
  for (int i = 0; i < PGFAULT_PAGES; i++) heap[i * 4096] = 1;
  bench_end("user-pgfault", PGFAULT_PAGES);

  int bad = 0;
  uint64_t t0 = __rdtsc();
  for (int i = 0; i < forks; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) bad++;
  }
  uint64_t cycles = __rdtsc() - t0;
  printf("forkwait: %d forks, %d failures\n", forks, bad);
  printf("bench: forkwait %u cycles/fork\n", forks ? (uint32_t)(cycles / (uint32_t)forks) : 0);
  ok &= bad == 0;
  printf("native_nano: %s\n", ok ? "PASS" : "FAIL");
  return !ok;
}
