/* Ring-0 fidelity of the sensitive instructions a binary translator must get right (Robin &
 * Irvine's list; DESIGN.md 1): flags, descriptor-table stores, segment checks, segment loads,
 * far transfers, int n, iret, and self-modifying code. Values printed are backend-independent:
 * the kernel chose every address it prints. */
#include <stdint.h>

#include "../common/abi.h"
#include "console.h"
#include "desc.h"
#include "kprobe.h"
#include "ktest.h"
#include "x86.h"

struct dtr {
  uint16_t limit;
  uint32_t base;
} __attribute__((packed));

static void test_flags(void) {
  uint32_t saved = read_eflags();
  cli();
  check((read_eflags() & EFLAGS_IF) == 0, "ring0 cli clears IF (pushf)");
  sti();
  check((read_eflags() & EFLAGS_IF) != 0, "ring0 sti sets IF (pushf)");
  write_eflags(read_eflags() & ~EFLAGS_IF);
  check((read_eflags() & EFLAGS_IF) == 0, "ring0 popf clears IF");
  write_eflags(read_eflags() | EFLAGS_IF);
  check((read_eflags() & EFLAGS_IF) != 0, "ring0 popf sets IF");
  write_eflags((read_eflags() & ~EFLAGS_IF) | EFLAGS_IOPL);
  check_eq(read_eflags() & EFLAGS_IOPL, EFLAGS_IOPL, "ring0 popf sets IOPL=3");
  write_eflags(read_eflags() & ~EFLAGS_IOPL);
  check_eq(read_eflags() & EFLAGS_IOPL, 0, "ring0 popf clears IOPL");
  write_eflags(read_eflags() | EFLAGS_AC);
  check_eq(read_eflags() & EFLAGS_AC, EFLAGS_AC, "ring0 popf sets AC");
  write_eflags(saved & ~EFLAGS_AC);
  check_eq(read_eflags() & 0xffff0000u, saved & 0xffff0000u & ~EFLAGS_AC, "ring0 upper eflags restored");
  write_eflags(saved);
}

static void test_descriptor_stores(void) {
  struct dtr g, i;
  uint16_t ldt = 0xffff, tr = 0, msw = 0;
  __asm__ volatile("sgdt %0\n sidt %1\n sldt %2\n str %3\n smsw %4" : "=m"(g), "=m"(i), "=r"(ldt), "=r"(tr), "=r"(msw));
  check_eq(g.limit, GDT_ENTRIES * 8 - 1, "ring0 sgdt limit");
  check(g.base >= 0xc0000000u, "ring0 sgdt base is a kernel address");
  check_eq(i.limit, 256 * 8 - 1, "ring0 sidt limit");
  check(i.base >= 0xc0000000u, "ring0 sidt base is a kernel address");
  check_eq(ldt, 0, "ring0 sldt (no LDT)");
  check_eq(tr, SEL_TSS, "ring0 str");
  check_eq(msw, read_cr0() & 0xffff, "ring0 smsw = low 16 bits of cr0");
}

static void test_segment_checks(void) {
  static const struct {
    uint16_t sel;
    uint32_t lar, lsl;
    int lar_ok, verr, verw;
  } cases[] = {
      /* lar masked with 0x00f0ff00: bits 16-19 are undefined (SDM vol. 2A, LAR). */
      {SEL_KCODE, 0x00c09b00, 0xffffffff, 1, 1, 0},
      {SEL_KDATA, 0x00c09300, 0xffffffff, 1, 1, 1},
      {SEL_UCODE, 0x00c0fb00, 0xffffffff, 1, 1, 0},
      {SEL_UDATA, 0x00c0f300, 0xffffffff, 1, 1, 1},
      {SEL_TSS, 0x00008b00, 103, 1, 0, 0},
      {SEL_UTLS, 0x0040f300, USER_TLS_SIZE - 1, 1, 1, 1},
      {SEL_NOTPRESENT, 0x00c07300, 0xffffffff, 1, -1, -1},
      {0x0400, 0, 0, 0, 0, 0},
      {0x0000, 0, 0, 0, 0, 0},
  };
  for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    uint32_t lar = 0, lsl = 0;
    uint8_t zl, zs, zr, zw;
    uint32_t sel = cases[k].sel;
    __asm__ volatile("lar %5, %0\n setz %2\n lsl %5, %1\n setz %3\n verr %w5\n setz %4"
                     : "=&r"(lar), "=&r"(lsl), "=&q"(zl), "=&q"(zs), "=&q"(zr)
                     : "r"(sel)
                     : "cc");
    __asm__ volatile("verw %w1\n setz %0" : "=q"(zw) : "r"(sel) : "cc");
    kprintf("     ring0 sel %x: lar zf=%u %08x lsl zf=%u %x verr=%u verw=%u\n", sel, zl,
            zl ? lar & 0x00f0ff00u : 0, zs, zs ? lsl : 0, zr, zw);
    int ok = zl == cases[k].lar_ok && zs == cases[k].lar_ok;
    if (cases[k].lar_ok) ok = ok && (lar & 0x00f0ff00u) == cases[k].lar && lsl == cases[k].lsl;
    if (cases[k].verr >= 0) ok = ok && zr == cases[k].verr && zw == cases[k].verw;
    check(ok, "ring0 lar/lsl/verr/verw");
  }
}

static void test_segment_loads(void) {
  uint16_t ds = 0, fs = 0;
  __asm__ volatile("movw %%ds, %0" : "=r"(ds));
  check_eq(ds, SEL_KDATA, "ring0 mov from %ds");
  kpercpu_area[3] = 0;
  uint32_t v = 0;
  __asm__ volatile("movw %w2, %%fs\n movl $0x12345678, %%fs:12\n movl %%fs:12, %0\n movw %%fs, %1\n movw %w3, %%fs"
                   : "=&r"(v), "=&r"(fs)
                   : "r"(SEL_KPERCPU), "r"(SEL_KDATA)
                   : "memory");
  check_eq(fs, SEL_KPERCPU, "ring0 mov to/from %fs");
  check_eq(v, 0x12345678, "ring0 %fs-relative load");
  check_eq(kpercpu_area[3], 0x12345678, "ring0 %fs base applied to the store");
  uint32_t pushed = 0;
  __asm__ volatile("pushl %%gs\n popl %0" : "=r"(pushed));
  check_eq(pushed & 0xffff, SEL_KDATA, "ring0 push %gs");
}

extern void far_target(void);
extern void far_target_imm(void);
__asm__(".text\nfar_target:\n movl $0x600d, %eax\n lret\n"
        "far_target_imm:\n movl $0x600e, %eax\n lret $4\n");

static void test_far_transfers(void) {
  uint32_t r = 0;
  __asm__ volatile("lcall %1, $far_target" : "=a"(r) : "i"(SEL_KCODE) : "memory");
  check_eq(r, 0x600d, "ring0 far call (ptr16:32) and lret");
  struct {
    uint32_t off;
    uint16_t sel;
  } __attribute__((packed)) fp = {(uint32_t)far_target_imm, SEL_KCODE};
  uint32_t esp_before, esp_after;
  __asm__ volatile("movl %%esp, %1\n pushl $0\n lcall *(%3)\n movl %%esp, %2"
                   : "=a"(r), "=&r"(esp_before), "=r"(esp_after)
                   : "r"(&fp)
                   : "memory");
  check_eq(r, 0x600e, "ring0 far call (m16:32) and lret $4");
  check_eq(esp_before - esp_after, 0, "ring0 lret $4 pops the argument");
  r = 0;
  __asm__ volatile("ljmp %1, $1f\n movl $1, %0\n1: movl $2, %0" : "=r"(r) : "i"(SEL_KCODE));
  check_eq(r, 2, "ring0 far jmp");
  uint16_t cs = 0;
  __asm__ volatile("movw %%cs, %0" : "=r"(cs));
  check_eq(cs, SEL_KCODE, "ring0 mov from %cs");
}

static void test_int_iret(void) {
  uint32_t r = 0, flags_after = 0;
  /* iret to the same privilege level pops EIP, CS, EFLAGS only (SDM vol. 2A, IRET). */
  __asm__ volatile(
      "pushfl\n popl %%eax\n orl $0x200, %%eax\n"
      "pushl %%eax\n pushl %2\n pushl $1f\n cli\n iret\n"
      "movl $1, %0\n"
      "1: movl $3, %0\n pushfl\n popl %1\n cli"
      : "=r"(r), "=r"(flags_after)
      : "i"(SEL_KCODE)
      : "eax", "memory", "cc");
  check_eq(r, 3, "ring0 iret to the same level");
  check((flags_after & EFLAGS_IF) != 0, "ring0 iret restored IF from the stack");
  uint32_t at;
  KPROBE(at, "", "int $0x81");
  expect_trap("ring0 int n through a DPL0 gate", at, 0x81, 0, 2);
}

/* Code bytes in .data: the kernel maps them writable and (no NX) executable. */
static uint8_t smc_buf[32] __attribute__((aligned(16)));

static void test_self_modifying(void) {
  static const uint8_t ret_imm[] = {0xb8, 1, 0, 0, 0, 0xc3}; /* mov $1, %eax; ret */
  for (unsigned i = 0; i < sizeof ret_imm; i++) smc_buf[i] = ret_imm[i];
  uint32_t (*fn)(void) = (uint32_t(*)(void))(uintptr_t)smc_buf;
  uint32_t first = fn();
  smc_buf[1] = 2;
  uint32_t second = fn();
  check_eq(first, 1, "ring0 SMC: generated code runs");
  check_eq(second, 2, "ring0 SMC: rewritten immediate seen by the next call");
  /* A store that rewrites the very next instruction (SDM vol. 3A, "Self-Modifying Code": the processor detects it
   * and executes the new bytes). */
  uint32_t target = (uint32_t)smc_buf + 10 + 1;
  uint8_t *p = smc_buf;
  *p++ = 0xc7; /* movl $0x22222222, target */
  *p++ = 0x05;
  for (int i = 0; i < 4; i++) *p++ = (uint8_t)(target >> (8 * i));
  for (int i = 0; i < 4; i++) *p++ = 0x22;
  *p++ = 0xb8; /* mov $0x33333333, %eax  <- its immediate is overwritten before it runs */
  for (int i = 0; i < 4; i++) *p++ = 0x33;
  *p++ = 0xc3;
  check_eq(fn(), 0x22222222, "ring0 SMC: store into the next instruction takes effect");
}

void ktests_fidelity(void) {
  kprintf("kernel: fidelity in ring 0\n");
  test_flags();
  test_descriptor_stores();
  test_segment_checks();
  test_segment_loads();
  test_far_transfers();
  test_int_iret();
  test_self_modifying();
}
