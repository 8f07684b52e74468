/* The GDT (flat ring-0/ring-3 segments, a ring-3 TLS segment and a ring-0 per-CPU segment with
 * non-zero bases, one not-present segment) and the TSS that gives the CPU esp0 on ring changes.
 * Selectors are fixed in common/abi.h; never reorder entries without changing them there. */
#include <stdint.h>

#include "desc.h"

struct tss {
  uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt;
  uint16_t trap, iomap_base;
} __attribute__((packed));

static uint64_t gdt[GDT_ENTRIES];
static struct tss tss;
uint32_t kpercpu_area[1024] __attribute__((aligned(4096)));

/* SDM vol. 3A 3.4.5: segment descriptor fields. Code and data types have the accessed bit preset so
 * the CPU never writes the GDT and lar results do not depend on which segments were loaded before. `access` is P|DPL|S|type, `flags` is G|D/B|L|AVL. */
static uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
  uint64_t d = limit & 0xffff;
  d |= (uint64_t)(base & 0xffffff) << 16;
  d |= (uint64_t)access << 40;
  d |= (uint64_t)((limit >> 16) & 0xf) << 48;
  d |= (uint64_t)(flags & 0xf) << 52;
  d |= (uint64_t)(base >> 24) << 56;
  return d;
}

void gdt_init(void) {
  gdt[0] = 0;
  gdt[SEL_KCODE >> 3] = descriptor(0, 0xfffff, 0x9b, 0xc);     /* ring 0 code, execute/read, 4 GiB */
  gdt[SEL_KDATA >> 3] = descriptor(0, 0xfffff, 0x93, 0xc);     /* ring 0 data, read/write, 4 GiB */
  gdt[SEL_UCODE >> 3] = descriptor(0, 0xfffff, 0xfb, 0xc);     /* ring 3 code */
  gdt[SEL_UDATA >> 3] = descriptor(0, 0xfffff, 0xf3, 0xc);     /* ring 3 data */
  gdt[SEL_TSS >> 3] = descriptor((uint32_t)&tss, sizeof tss - 1, 0x89, 0x0); /* available 32-bit TSS */
  gdt[SEL_UTLS >> 3] = descriptor(USER_TLS_BASE, USER_TLS_SIZE - 1, 0xf3, 0x4); /* byte granular */
  gdt[SEL_KPERCPU >> 3] = descriptor((uint32_t)kpercpu_area, sizeof kpercpu_area - 1, 0x93, 0x4);
  gdt[SEL_NOTPRESENT >> 3] = descriptor(0, 0xfffff, 0x73, 0xc); /* ring 3 data with P = 0 */

  tss.ss0 = SEL_KDATA;
  tss.iomap_base = sizeof tss; /* no I/O bitmap: ring 3 port access faults unless IOPL = 3 */

  struct {
    uint16_t limit;
    uint32_t base;
  } __attribute__((packed)) gdtr = {sizeof gdt - 1, (uint32_t)gdt};
  __asm__ volatile(
      "lgdt %0\n"
      "ljmp %1, $1f\n"
      "1: movw %w2, %%ax\n"
      "movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%fs\n movw %%ax, %%gs\n movw %%ax, %%ss\n"
      "movw %w3, %%ax\n ltr %%ax\n"
      "xorl %%eax, %%eax\n lldt %%ax\n"
      :
      : "m"(gdtr), "i"(SEL_KCODE), "i"(SEL_KDATA), "i"(SEL_TSS)
      : "eax", "memory");
}

void tss_set_esp0(uint32_t esp0) { tss.esp0 = esp0; }
