/* 8254 PIT channel 0 as the scheduler tick. */
#ifndef GUEST_PIT_H
#define GUEST_PIT_H
#include <stdint.h>
#define PIT_HZ 100
void pit_init(void);
void pit_tick(void);
uint32_t pit_ticks(void);
#endif
