/* COM1 16550 UART, polled transmit only (PC16550D datasheet: THR at +0, LSR at +5, bit 5 THRE).
 * Never enables UART interrupts: the console must work with interrupts off. */
#include "console.h"
#include "x86.h"

#define COM1 0x3f8

void serial_init(void) {
  outb(COM1 + 1, 0x00); /* IER: no interrupts */
  outb(COM1 + 3, 0x80); /* LCR: DLAB to program the divisor */
  outb(COM1 + 0, 0x01); /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1, DLAB off */
  outb(COM1 + 2, 0xc7); /* FCR: FIFOs on and cleared */
  outb(COM1 + 4, 0x03); /* MCR: DTR | RTS */
}

void serial_putc(char c) {
  if (c == '\n') serial_putc('\r');
  /* Bounded wait: a UART model that never sets THRE must not hang the guest. */
  for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++) {
  }
  outb(COM1, (uint8_t)c);
}

void serial_write(const char *s, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) serial_putc(s[i]);
}
