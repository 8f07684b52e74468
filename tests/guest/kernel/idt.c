/* The IDT: all 32 exception vectors, the 16 PIC IRQs (remapped to 0x20-0x2f), the int 0x80
 * system-call gate and a ring-0-only vector 0x81 (for the #GP-on-int-n fidelity test).
 * All gates are interrupt gates: the kernel always runs with IF = 0 unless it is idle. */
#include <stdint.h>

#include "desc.h"

extern const uint32_t isr_table[48];
extern void isr128(void);
extern void isr129(void);

static uint64_t idt[256];

/* SDM vol. 3A 6.11, figure 6-2: 32-bit interrupt gate, type 0xe. */
static uint64_t gate(uint32_t handler, int dpl) {
  uint64_t g = handler & 0xffff;
  g |= (uint64_t)SEL_KCODE << 16;
  g |= (uint64_t)(0x8e | (dpl << 5)) << 40;
  g |= (uint64_t)(handler >> 16) << 48;
  return g;
}

void idt_init(void) {
  for (int v = 0; v < 48; v++) idt[v] = gate(isr_table[v], 0);
  /* int3 and into must be usable from ring 3 (SDM 6.12.1.1: gate DPL is checked for int n,
   * int3 and into). */
  idt[3] = gate(isr_table[3], 3);
  idt[4] = gate(isr_table[4], 3);
  idt[0x80] = gate((uint32_t)isr128, 3);
  idt[0x81] = gate((uint32_t)isr129, 0);
  struct {
    uint16_t limit;
    uint32_t base;
  } __attribute__((packed)) idtr = {sizeof idt - 1, (uint32_t)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr));
}
