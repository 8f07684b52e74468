/* KPROBE: runs a few instructions in ring 0 with exception capture armed (ktest.h) and reports
 * the address of the instruction labelled "1:" so tests can compare the faulting EIP with it.
 * The instructions may use eax, ecx and edx freely (extra input operands follow, from %2 on);
 * execution resumes after them on a fault. */
#ifndef GUEST_KPROBE_H
#define GUEST_KPROBE_H
#include "ktest.h"

#define KPROBE(insn_addr, setup, insn, ...)                                               \
  do {                                                                               \
    ktrap.taken = 0;                                                                 \
    ktrap.armed = 1;                                                                 \
    __asm__ volatile("movl $2f, %1\n" setup "\n1: " insn "\n2: movl $1b, %0\n"       \
                     : "=S"(insn_addr), "=m"(ktrap.resume)                           \
                     : __VA_ARGS__                                                    \
                     : "eax", "ecx", "edx", "memory", "cc");                          \
    ktrap.armed = 0;                                                                 \
  } while (0)

/* Checks that the last probe took exception `vector` with `err` at insn_addr + eip_delta. */
void expect_trap(const char *what, uint32_t insn_addr, uint32_t vector, uint32_t err, uint32_t eip_delta);

#endif
