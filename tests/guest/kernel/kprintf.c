/* Kernel printing and the ways the machine ends (debug-exit, panic). Output goes to COM1 only. */
#include <stdarg.h>

#include "../common/format.h"
#include "console.h"
#include "x86.h"

static void sink(char c, void *ctx) {
  (void)ctx;
  serial_putc(c);
}

void kprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  format_v(sink, 0, fmt, ap);
  va_end(ap);
}

void debug_exit(uint8_t code) {
  cli();
  /* QEMU isa-debug-exit at iobase 0xf4: the emulator exits with status (code << 1) | 1. */
  outb(0xf4, code);
  /* Without the device: i8042 pulse-reset (QEMU -no-reboot then exits with status 0, a failure
   * for the test harness), then halt for good. */
  outb(0x64, 0xfe);
  for (;;) halt();
}

void panic(const char *fmt, ...) {
  cli();
  kprintf("kernel panic: ");
  va_list ap;
  va_start(ap, fmt);
  format_v(sink, 0, fmt, ap);
  va_end(ap);
  kprintf("\nguest: FAIL (panic)\n");
  debug_exit(2);
}
