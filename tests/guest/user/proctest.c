/* Process tests in ring 3: getpid, brk and demand paging, stack growth, the TLS segment,
 * copy-on-write fork, wait statuses, exec with arguments, a faulting child killed while the
 * system goes on, and preemption of a child that never makes a system call. */
#include "ulib.h"

static int cow_value = 1;

int main(void);
static uint32_t main_address(void) { return (uint32_t)main; }

static int stack_depth(int n) {
  volatile char pad[1024];
  pad[0] = (char)n;
  pad[1023] = (char)n;
  return n ? stack_depth(n - 1) + pad[0] - pad[1023] + 1 : 0;
}

static void test_memory(void) {
  check(getpid() > 0, "getpid returns a positive pid");
  uint32_t b0 = brk(0);
  check(b0 != 0 && (b0 & 0xfff) == 0, "brk(0) is the page-aligned end of the image");
  volatile uint32_t *heap = sbrk(3 * 4096);
  check(heap != (void *)-1, "sbrk grows the heap by 3 pages");
  for (int i = 0; i < 3 * 1024; i++) heap[i] = 0x1000u + (uint32_t)i;
  uint32_t sum = 0;
  for (int i = 0; i < 3 * 1024; i++) sum += heap[i] - 0x1000u;
  check_eq(sum, (3 * 1024 - 1) * 3 * 1024 / 2, "demand-zero heap pages hold what was written");
  brk(b0 + 4096);
  uint32_t at;
  catch_init();
  UPROBE(at, "movl %2, %%ecx", "movl (%%ecx), %%eax", "D"(b0 + 4096));
  expect_trap("#PF reading a page released by brk", at, 14, 4, 0);
  check_eq(caught_cr2 - b0, 4096, "#PF cr2 = released page");
  check_eq((uint32_t)stack_depth(100), 100, "stack grows on demand over 100 KiB");
  uint32_t tls;
  __asm__ volatile("movl $0x5eed, %%gs:16\n movl %%gs:16, %0" : "=r"(tls));
  check_eq(tls, 0x5eed, "TLS through %gs");
  check_eq(*(volatile uint32_t *)(USER_TLS_BASE + 16), 0x5eed, "TLS segment base is USER_TLS_BASE");
  /* No verdict: QEMU TCG does not check data segment limits (tests/guest/README.md). */
  UPROBE(at, "", "movl %%gs:0x1000, %%eax");
  printf("qemu-gap: ring3 %%gs:0x1000 past the TLS limit: %s vector %u err %x\n", caught_taken ? "fault" : "no fault",
         caught_taken ? caught_vector : 0, caught_taken ? caught_err : 0);
  syscall3(SYS_CATCH, 0, 0, 0);
}

static void test_fork_cow(void) {
  volatile uint32_t *heap = sbrk(4096);
  heap[0] = 0xfeed;
  cow_value = 1;
  int pid = fork();
  if (pid == 0) {
    /* Child: sees the parent's pre-fork state, then writes its own copies. */
    int ok = cow_value == 1 && heap[0] == 0xfeed;
    cow_value = 2;
    heap[0] = 0xbeef;
    exit(ok && cow_value == 2 && heap[0] == 0xbeef ? 7 : 1);
  }
  check(pid > 0, "fork returns the child's pid to the parent");
  int status = -1;
  check(wait(&status) == pid, "wait returns the child's pid");
  check_eq((uint32_t)status, 7, "child saw pre-fork memory and its own writes (exit 7)");
  check_eq((uint32_t)cow_value, 1, "parent's .data unchanged by the child's write (COW)");
  check_eq(heap[0], 0xfeed, "parent's heap unchanged by the child's write (COW)");
  cow_value = 3; /* the parent's write now breaks the last share */
  check_eq((uint32_t)cow_value, 3, "parent writes after the child exited");

  int sum = 0, reaped = 0;
  for (int i = 1; i <= 5; i++)
    if (fork() == 0) exit(i * 10);
  for (int i = 0; i < 5; i++) {
    int st = 0;
    if (wait(&st) > 0) {
      sum += st;
      reaped++;
    }
  }
  check_eq((uint32_t)reaped, 5, "five children reaped");
  check_eq((uint32_t)sum, 150, "sum of their exit statuses");
  check(wait(0) == -1, "wait without children returns -1");
}

static void test_exec(void) {
  int pid = fork();
  if (pid == 0) {
    exec("hello", "one two");
    exit(99);
  }
  int status = -1;
  wait(&status);
  check_eq((uint32_t)status, 42, "exec'd hello exits 42");
  check(exec("no-such-program", "") == -1, "exec of a missing program fails and returns");
}

static void run_faulter(const char *what, int kind, uint32_t want_status) {
  int pid = fork();
  if (pid == 0) {
    if (kind == 0) *(volatile uint32_t *)0 = 1;
    if (kind == 1) __asm__ volatile("cli");
    if (kind == 2) *(volatile uint8_t *)main_address() = 0;
    if (kind == 3) *(volatile uint32_t *)0xc0100000u = 0;
    if (kind == 4) write(1, (const void *)0x30000000u, 8); /* below the split, mapped by nothing */
    exit(0);
  }
  int status = -1;
  wait(&status);
  check_eq((uint32_t)status, want_status, what);
}

static void test_faults(void) {
  run_faulter("child writing page 0 is killed (#PF)", 0, STATUS_FAULTED | 14);
  run_faulter("child executing cli is killed (#GP)", 1, STATUS_FAULTED | 13);
  run_faulter("child writing its own text is killed (#PF)", 2, STATUS_FAULTED | 14);
  run_faulter("child writing kernel memory is killed (#PF)", 3, STATUS_FAULTED | 14);
  run_faulter("child passing an unmapped buffer to write is killed", 4, STATUS_FAULTED | 14);
  check(write(1, (const void *)0xc0100000u, 8) == -1, "write from a kernel address is refused");
}

static void test_preemption(void) {
  int pid = fork();
  if (pid == 0)
    for (;;) {
    }
  /* The child never enters the kernel: we only get the CPU back if the PIT preempts it. */
  yield();
  uint32_t t0 = time();
  while (time() < t0 + 3) yield();
  check(time() >= t0 + 3, "PIT ticks advance while a child spins");
  check(kill(pid) == 0, "kill the spinning child");
  int status = -1;
  wait(&status);
  check_eq((uint32_t)status, STATUS_KILLED, "killed child's status");
}

int main(void) {
  printf("proctest: start\n");
  test_memory();
  test_fork_cow();
  test_exec();
  test_faults();
  test_preemption();
  printf("proctest: %d failed\n", checks_failed());
  return checks_failed();
}
