/* Thin inline wrappers around the x86 instructions the guest kernel needs (port I/O, control
 * registers, TLB, TSC, flags). Wrappers only: no policy, no state. */
#ifndef GUEST_X86_H
#define GUEST_X86_H
#include <stdint.h>

#define EFLAGS_CF 0x1u
#define EFLAGS_ZF 0x40u
#define EFLAGS_IF 0x200u
#define EFLAGS_IOPL 0x3000u
#define EFLAGS_AC 0x40000u
#define EFLAGS_RESERVED1 0x2u

#define CR0_WP 0x10000u
#define CR0_AM 0x40000u
#define CR4_PSE 0x10u

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline uint32_t read_eflags(void) {
  uint32_t f;
  __asm__ volatile("pushfl; popl %0" : "=r"(f));
  return f;
}
static inline void write_eflags(uint32_t f) { __asm__ volatile("pushl %0; popfl" : : "r"(f) : "memory", "cc"); }
static inline uint32_t read_cr0(void) {
  uint32_t v;
  __asm__ volatile("mov %%cr0, %0" : "=r"(v));
  return v;
}
static inline void write_cr0(uint32_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline uint32_t read_cr2(void) {
  uint32_t v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
static inline uint32_t read_cr3(void) {
  uint32_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
static inline void write_cr3(uint32_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uint32_t read_cr4(void) {
  uint32_t v;
  __asm__ volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}
static inline void write_cr4(uint32_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
static inline void halt(void) { __asm__ volatile("hlt"); }

#endif
