/* host_costs: what the host primitives under btvmm's shadow paging and trap handling cost on
 * this machine, in microseconds, so the counters of a slow run (shadow.host_*, traps.*) can be
 * turned into time. Each figure is the median of several batches. It measures the host only: it
 * never runs btvmm or a guest.
 *   signal     a SIGSEGV on a PROT_NONE page and the handler's return (each guest #PF and each
 *              hidden fault of translated code is one)
 *   map        mmap of one memfd page over a PROT_NONE reservation (a shadow fill)
 *   touch      first access to such a mapping (the host kernel fills its page-table entry)
 *   unmap      taking a touched page back to PROT_NONE (a shadow drop: a host TLB flush)
 *   protect    mprotect of a touched page from read-write to read-only (a write trace: a flush)
 * Usage: host_costs [BATCH_PAGES] (default 1024). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

enum { kBatches = 5 };

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

/* The faulting store below is `movb $1, (%rax)`: c6 00 01, three bytes to skip. */
static void skip_store(int sig, siginfo_t* si, void* ctx) {
  (void)sig;
  (void)si;
  ((ucontext_t*)ctx)->uc_mcontext.gregs[REG_RIP] += 3;
}

static int cmp(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median(double* v) {
  qsort(v, kBatches, sizeof v[0], cmp);
  return v[kBatches / 2];
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

int main(int argc, char** argv) {
  const long pages = argc > 1 ? atol(argv[1]) : 1024;
  if (pages < 1 || pages > (1 << 20)) {
    fprintf(stderr, "usage: host_costs [BATCH_PAGES 1..1048576]\n");
    return 2;
  }
  const size_t bytes = (size_t)pages * 4096;
  struct sigaction sa = {0};
  sa.sa_sigaction = skip_store;
  sa.sa_flags = SA_SIGINFO;
  if (sigaction(SIGSEGV, &sa, NULL) != 0) die("sigaction");
  char* window = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  const int fd = memfd_create("host_costs", 0);
  if (window == MAP_FAILED || fd < 0 || ftruncate(fd, (off_t)bytes) != 0) die("window/memfd");
  /* Guest RAM is resident in the memfd before the shadow maps it: fault it in once. */
  char* ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ram == MAP_FAILED) die("mmap memfd");
  for (size_t i = 0; i < bytes; i += 4096) ram[i] = 1;

  double signal[kBatches], map[kBatches], touch[kBatches], protect[kBatches], unmap[kBatches];
  for (int b = 0; b < kBatches; ++b) {
    double t0 = now_us();
    for (long i = 0; i < pages; ++i) __asm__ volatile("movb $1, (%0)" ::"a"(window) : "memory");
    signal[b] = (now_us() - t0) / pages;
    t0 = now_us();
    for (long i = 0; i < pages; ++i)
      if (mmap(window + i * 4096, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, i * 4096) == MAP_FAILED)
        die("mmap page");
    map[b] = (now_us() - t0) / pages;
    t0 = now_us();
    for (long i = 0; i < pages; ++i) *(volatile char*)(window + i * 4096) = 2;
    touch[b] = (now_us() - t0) / pages;
    t0 = now_us();
    for (long i = 0; i < pages; ++i)
      if (mprotect(window + i * 4096, 4096, PROT_READ) != 0) die("mprotect");
    protect[b] = (now_us() - t0) / pages;
    t0 = now_us();
    for (long i = 0; i < pages; ++i)
      if (mmap(window + i * 4096, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) ==
          MAP_FAILED)
        die("unmap page");
    unmap[b] = (now_us() - t0) / pages;
  }
  printf("host_costs: %ld pages per batch, median of %d batches, microseconds per operation\n", pages, kBatches);
  printf("signal %.2f\nmap %.2f\ntouch %.2f\nprotect %.2f\nunmap %.2f\n", median(signal), median(map),
         median(touch), median(protect), median(unmap));
  return 0;
}
