/* The kernel's console: COM1 (16550) polled output, kprintf, and the isa-debug-exit port.
 * Output only; never reads input and never uses interrupts. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H
#include <stdint.h>

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, uint32_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends the machine through QEMU's isa-debug-exit (host status (code << 1) | 1). Never returns. */
void debug_exit(uint8_t code) __attribute__((noreturn));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
