/* 8259A PIC pair programming. */
#ifndef GUEST_PIC_H
#define GUEST_PIC_H
#define PIC_VECTOR_BASE 0x20
void pic_init(void);
int pic_spurious(int irq);
void pic_eoi(int irq);
#endif
