/* 8259A PIC pair: remapped to vectors 0x20-0x2f, everything masked except the PIT (IRQ0) and the
 * cascade. Intel 8259A datasheet, ICW1-ICW4 and OCW2 (non-specific EOI). */
#include "pic.h"

#include "x86.h"

void pic_init(void) {
  outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 follows */
  outb(0xa0, 0x11);
  outb(0x21, PIC_VECTOR_BASE);     /* ICW2: master vectors 0x20-0x27 */
  outb(0xa1, PIC_VECTOR_BASE + 8); /* slave 0x28-0x2f */
  outb(0x21, 0x04);                /* ICW3: slave on IRQ2 */
  outb(0xa1, 0x02);
  outb(0x21, 0x01); /* ICW4: 8086 mode */
  outb(0xa1, 0x01);
  outb(0x21, 0xfa); /* OCW1: unmask IRQ0 and IRQ2 */
  outb(0xa1, 0xff);
}

int pic_spurious(int irq) {
  /* A spurious IRQ7/15 has no ISR bit set (8259A datasheet, OCW3 read ISR). */
  if (irq != 7 && irq != 15) return 0;
  uint16_t port = irq == 7 ? 0x20 : 0xa0;
  outb(port, 0x0b);
  return !(inb(port) & 0x80);
}

void pic_eoi(int irq) {
  if (irq >= 8) outb(0xa0, 0x20);
  outb(0x20, 0x20);
}
