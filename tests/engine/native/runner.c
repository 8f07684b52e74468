/* Reference runner for the instruction conformance test, a 32-bit i386 program (gcc -m32): runs
 * each case's code at the same linear addresses the guest uses, with the given registers and data
 * page, and writes back the final registers, flags and data page. This host kernel cannot execute
 * 32-bit code (no IA-32 emulation, and far transfers to 32-bit code segments raise #GP), so the
 * test runs it under qemu-i386 (user mode); on a host with IA-32 support it runs natively.
 * Never interprets anything itself: the (real or emulated) CPU runs the bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <asm/ldt.h>

#include "conformance_abi.h"

struct conf_state conf_in, conf_out;
void* conf_code_ptr = (void*)CONF_CODE_ADDR;
void* conf_epilogue_ptr;
uint16_t conf_fs_selector, conf_gs_selector; /* loaded by conf_run for the case only */
void conf_run(void);      /* runner_entry.S */
void conf_epilogue(void); /* runner_entry.S */

static void map_fixed(uint32_t addr, int prot) {
  void* p = mmap((void*)addr, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p != (void*)addr) {
    perror("mmap fixed");
    exit(2);
  }
}

/* A flat 4 GiB data segment with the given base in a free TLS slot of the GDT (set_thread_area, the
 * only descriptor a 32-bit process can install that the hardware or qemu-i386 really uses). */
static uint16_t tls_data_selector(uint32_t base) {
  struct user_desc d;
  memset(&d, 0, sizeof d);
  d.entry_number = (unsigned)-1;
  d.base_addr = base;
  d.limit = 0xfffff;
  d.seg_32bit = 1;
  d.limit_in_pages = 1;
  d.useable = 1;
  if (syscall(SYS_set_thread_area, &d) != 0) {
    perror("set_thread_area");
    exit(2);
  }
  return (uint16_t)(d.entry_number << 3 | 3);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CASES RESULTS\n", argv[0]);
    return 2;
  }
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  if (!in || !out) {
    perror("open");
    return 2;
  }
  map_fixed(CONF_DATA_ADDR, PROT_READ | PROT_WRITE);
  map_fixed(CONF_CODE_ADDR, PROT_READ | PROT_WRITE | PROT_EXEC);
  conf_epilogue_ptr = (void*)conf_epilogue;
  conf_fs_selector = tls_data_selector(CONF_FS_BASE);
  conf_gs_selector = tls_data_selector(CONF_GS_BASE);
  static struct conf_case c;
  static struct conf_result r;
  while (fread(&c, sizeof c, 1, in) == 1) {
    /* The body, then `jmp [conf_epilogue_ptr]` (FF /4 with an absolute m32). */
    uint8_t* code = (uint8_t*)CONF_CODE_ADDR;
    memcpy(code, c.code, c.code_len);
    code[c.code_len] = 0xFF;
    code[c.code_len + 1] = 0x25;
    uint32_t target = (uint32_t)&conf_epilogue_ptr;
    memcpy(code + c.code_len + 2, &target, 4);
    memcpy((void*)CONF_DATA_ADDR, c.data, CONF_DATA_SIZE);
    conf_in = c.in;
    conf_run();
    r.out = conf_out;
    memcpy(r.data, (void*)CONF_DATA_ADDR, CONF_DATA_SIZE);
    fwrite(&r, sizeof r, 1, out);
  }
  fclose(out);
  return 0;
}
