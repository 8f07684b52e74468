/* Descriptor tables (GDT, TSS, IDT) and the trap frame every interrupt entry builds.
 * The layout of struct trapframe must match the push order in isr.S. */
#ifndef GUEST_DESC_H
#define GUEST_DESC_H
#include <stdint.h>

#include "../common/abi.h"

struct trapframe {
  uint32_t gs, fs, es, ds;
  uint32_t edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax; /* pushal order */
  uint32_t vector, err;
  uint32_t eip, cs, eflags;
  uint32_t esp, ss; /* only valid when the trap came from ring 3 */
};

void gdt_init(void);
void tss_set_esp0(uint32_t esp0);
/* Base of the ring-0 per-CPU segment SEL_KPERCPU (for fidelity tests). */
extern uint32_t kpercpu_area[1024];
void idt_init(void);
void trap_dispatch(struct trapframe *tf);

static inline int trap_from_user(const struct trapframe *tf) { return (tf->cs & 3) == 3; }

#endif
