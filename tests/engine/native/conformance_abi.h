/* Record layout shared by the conformance test (C++, 64-bit) and its native 32-bit runner (C):
 * one instruction-form case in, one final state out. Plain data only. */
#ifndef BTVMM_TESTS_ENGINE_CONFORMANCE_ABI_H
#define BTVMM_TESTS_ENGINE_CONFORMANCE_ABI_H

#include <stdint.h>

#define CONF_DATA_ADDR 0x00800000u /* data page (also holds the stack) */
#define CONF_CODE_ADDR 0x00900000u /* code page */
#define CONF_DATA_SIZE 4096u
#define CONF_CODE_MAX 512u
/* Bases of FS and GS while a case runs. Both exceed the data address, so an address through them
 * reaches the data page only by wrapping around 4 GiB (the sum is 32 bits, SDM vol. 3 3.4). */
#define CONF_FS_BASE 0xC0001000u
#define CONF_GS_BASE 0x7FFFF000u

/* EAX ECX EDX EBX ESP EBP ESI EDI, then EFLAGS (arithmetic flags and DF only on input). */
struct conf_state {
  uint32_t gpr[8];
  uint32_t eflags;
};

struct conf_case {
  struct conf_state in;
  uint32_t code_len;
  uint8_t code[CONF_CODE_MAX];
  uint8_t data[CONF_DATA_SIZE];
};

struct conf_result {
  struct conf_state out;
  uint8_t data[CONF_DATA_SIZE];
};

#endif
