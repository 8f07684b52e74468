/* Kernel-mode nanobenchmarks (Adams & Agesen, ASPLOS 2006, section 6.1): each loop prints cycles
 * per iteration measured with rdtsc on a "bench:" line, which output comparisons drop. Leaves
 * the scratch page table as it found it. */
#include <stdint.h>

#include "console.h"
#include "kprobe.h"
#include "ktest.h"
#include "mm.h"
#include "x86.h"

#define ITERS 2000
#define TRAP_ITERS 500

static uint64_t t_start;
static void bench_begin(void) { t_start = rdtsc(); }
static void bench_end(const char *name, uint32_t iters) {
  uint64_t cycles = rdtsc() - t_start;
  kprintf("bench: %s %u cycles/iter\n", name, (uint32_t)(cycles / iters));
}

__attribute__((noinline)) static uint32_t callee(uint32_t x) {
  __asm__ volatile("" : "+r"(x));
  return x + 1;
}

static uint32_t bench_va, bench_frame;
static int map_on_fault(uint32_t cr2) {
  if (PAGE_DOWN(cr2) != bench_va) return 0;
  *scratch_pte(bench_va) = bench_frame | PTE_P | PTE_W;
  return 1;
}

void kbench_nano(void) {
  kprintf("kernel: nanobenchmarks (%u iterations, %u for traps)\n", ITERS, TRAP_ITERS);
  uint32_t saved = read_eflags();
  cli();

  bench_begin();
  for (int i = 0; i < ITERS; i++) (void)inb(0x80);
  bench_end("in", ITERS);

  uint32_t cr3 = read_cr3();
  bench_begin();
  for (int i = 0; i < ITERS; i++) write_cr3(cr3);
  bench_end("cr3wr", ITERS);

  uint32_t x = 0;
  bench_begin();
  for (int i = 0; i < ITERS; i++) x = callee(x);
  bench_end("callret", ITERS);
  check_eq(x, ITERS, "callret loop ran");

  bench_begin();
  /* One sti/cli pair per iteration, entered and left with IF = 0; the sti shadow (SDM vol. 2B,
   * STI) means no interrupt is taken between the two. */
  for (int i = 0; i < ITERS; i++) __asm__ volatile("sti\n cli" ::: "memory");
  bench_end("cli/sti", ITERS);

  bench_begin();
  for (int i = 0; i < ITERS; i++) __asm__ volatile("pushfl\n popfl" ::: "memory", "cc");
  bench_end("pushf/popf", ITERS);

  /* pgfault: a not-present kernel page that the #PF handler maps; each iteration unmaps it again
   * (PTE clear + invlpg), so the figure includes one ptemod. */
  bench_va = SCRATCH_BASE + 0x10000u;
  bench_frame = frame_alloc();
  kfault_hook = map_on_fault;
  int faults_ok = 1;
  bench_begin();
  for (int i = 0; i < TRAP_ITERS; i++) {
    *scratch_pte(bench_va) = 0;
    invlpg(bench_va);
    *(volatile uint32_t *)bench_va = (uint32_t)i;
  }
  bench_end("pgfault", TRAP_ITERS);
  kfault_hook = 0;
  faults_ok = *(volatile uint32_t *)P2V(bench_frame) == TRAP_ITERS - 1;
  check(faults_ok, "pgfault loop wrote through the mapped page");

  uint32_t divs = 0, at = 0;
  bench_begin();
  for (int i = 0; i < TRAP_ITERS; i++) {
    KPROBE(at, "xorl %%edx, %%edx\n movl $1, %%eax\n xorl %%ecx, %%ecx", "divl %%ecx");
    divs += ktrap.taken && ktrap.vector == 0;
  }
  bench_end("divzero", TRAP_ITERS);
  (void)at;
  check_eq(divs, TRAP_ITERS, "divzero loop took every #DE");

  uint32_t other = frame_alloc();
  bench_begin();
  for (int i = 0; i < ITERS; i++) {
    *scratch_pte(bench_va) = ((i & 1) ? other : bench_frame) | PTE_P | PTE_W;
    invlpg(bench_va);
  }
  bench_end("ptemod", ITERS);
  *scratch_pte(bench_va) = 0;
  invlpg(bench_va);
  frame_unref(other);
  frame_unref(bench_frame);
  write_eflags(saved);
  kprintf("kernel: nanobenchmarks done\n");
}
