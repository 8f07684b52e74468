/* Kernel entry after boot.S: brings the machine up (serial, paging, frames, GDT/TSS, IDT, PIC,
 * PIT), then runs what the multiboot command line selects and reports through debug-exit.
 * Keys: test=hello|boot|kernel|proc|fidelity|all, bench=nano, bench=<workload> [benchargs=ARG],
 * forkwait=N (several may be combined). */
#include <stdint.h>

#include "../common/abi.h"
#include "console.h"
#include "desc.h"
#include "kstring.h"
#include "ktest.h"
#include "mm.h"
#include "pic.h"
#include "pit.h"
#include "proc.h"
#include "x86.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u

/* Multiboot 0.6.96, 3.3: the fields we read. */
struct multiboot_info {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
};

extern uint8_t _kernel_end[];
static char cmdline[256];

/* Copies the value of "key=" (a whole token of the command line) into out; 1 if present. */
static int cmdline_get(const char *key, char *out, uint32_t n) {
  uint32_t klen = kstrlen(key);
  for (const char *s = cmdline; *s;) {
    while (*s == ' ') s++;
    if (kmemcmp(s, key, klen) == 0 && s[klen] == '=') {
      s += klen + 1;
      uint32_t i = 0;
      while (*s && *s != ' ' && i + 1 < n) out[i++] = *s++;
      out[i] = 0;
      return 1;
    }
    while (*s && *s != ' ') s++;
  }
  return 0;
}

static void run_user(const char *name, const char *arg) {
  kprintf("kernel: running %s%s%s\n", name, arg[0] ? " " : "", arg);
  int pid = proc_spawn(name, arg);
  if (pid < 0) {
    kprintf("kernel: no program named %s\n", name);
    check(0, "spawn user program");
    return;
  }
  int status = proc_wait_kernel(pid);
  kprintf("kernel: %s exited with status %d\n", name, status);
  check(status == 0, name);
}

static void run_tests(const char *which) {
  int all = kstrcmp(which, "all") == 0;
  int known = all;
  if (kstrcmp(which, "hello") == 0) {
    known = 1; /* bring-up: machine set up, nothing tested, summary and debug-exit only */
  }
  if (kstrcmp(which, "boot") == 0) {
    known = 1;
    ktests_paging();
  }
  if (all || kstrcmp(which, "kernel") == 0) {
    known = 1;
    ktests_exceptions();
    ktests_fidelity();
    ktests_paging();
  }
  if (kstrcmp(which, "fidelity") == 0) {
    known = 1;
    ktests_fidelity();
    ktests_exceptions();
    ktests_paging(); /* includes the live PTE edit */
    run_user("fidelity", "");
  }
  if (all || kstrcmp(which, "proc") == 0) {
    known = 1;
    run_user("proctest", "");
  }
  if (all) run_user("fidelity", "");
  if (!known) check(0, "known test= value");
}

void kmain(uint32_t magic, uint32_t mbi_pa) {
  serial_init();
  kprintf("guest: btvmm test guest\n");
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) panic("not started by a multiboot loader (eax=%x)", magic);
  uint32_t mapped = paging_init(0x10000000u);
  const struct multiboot_info *mbi = P2V(mbi_pa);
  uint32_t mem_end = 0x100000u + (mbi->flags & 1 ? mbi->mem_upper * 1024u : 0x100000u);
  if (mem_end > mapped) mem_end = mapped;
  if ((mbi->flags & 4) && mbi->cmdline) {
    const char *c = P2V(mbi->cmdline);
    uint32_t i = 0;
    for (; c[i] && i + 1 < sizeof cmdline; i++) cmdline[i] = c[i];
    cmdline[i] = 0;
  }
  frames_init(V2P(_kernel_end), mem_end);
  gdt_init();
  idt_init();
  pic_init();
  pit_init();
  proc_init();
  tss_set_esp0(current->kstack_top);
  /* CR0.AM: alignment checks for ring 3 when EFLAGS.AC is set (SDM vol. 3A 2.5, 6.15 #AC). */
  write_cr0(read_cr0() | CR0_AM);

  char value[32];
  int ran = 0;
  if (cmdline_get("test", value, sizeof value)) {
    ran = 1;
    run_tests(value);
  }
  if (cmdline_get("bench", value, sizeof value)) {
    ran = 1;
    if (kstrcmp(value, "nano") == 0) {
      kbench_nano();
      run_user("nanobench", "");
    } else {
      /* A benchmark workload (benchmarks/workloads), its arguments from benchargs= */
      char args[32];
      if (!cmdline_get("benchargs", args, sizeof args)) args[0] = 0;
      run_user(value, args);
    }
  }
  if (cmdline_get("forkwait", value, sizeof value)) {
    ran = 1;
    run_user("forkwait", value);
  }
  if (!ran) {
    kprintf("kernel: nothing selected (test=..., bench=nano, forkwait=N); running test=all\n");
    run_tests("all");
  }
  kprintf("guest: summary: %d checks, %d failed\n", checks_total(), checks_failed());
  kprintf("guest: %s\n", checks_failed() ? "FAIL" : "PASS");
  debug_exit(checks_failed() ? 1 : 0);
}
