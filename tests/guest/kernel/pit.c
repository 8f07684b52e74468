/* 8254 PIT channel 0 in mode 2 (rate generator) at PIT_HZ, raising IRQ0 every period
 * (Intel 82C54 datasheet: control word 0x34 = channel 0, lobyte/hibyte, mode 2, binary).
 * Only counts ticks; scheduling decisions are trap.c's. */
#include "pit.h"

#include "x86.h"

#define PIT_INPUT_HZ 1193182u

static volatile uint32_t ticks;

void pit_init(void) {
  uint32_t divisor = (PIT_INPUT_HZ + PIT_HZ / 2) / PIT_HZ;
  outb(0x43, 0x34);
  outb(0x40, divisor & 0xff);
  outb(0x40, divisor >> 8);
}

void pit_tick(void) { ticks++; }
uint32_t pit_ticks(void) { return ticks; }
