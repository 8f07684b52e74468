/* The whole environment a SPECint-style workload may use: one print call, number
 * formatting and an entry point. Workloads must never include libc headers or call
 * anything not declared here, so they run unchanged natively and in the test guest. */
#ifndef BTVMM_BENCH_ENV_H
#define BTVMM_BENCH_ENV_H

#include <stddef.h>
#include <stdint.h>

/* --- provided by the environment adaptor (bench_env_native.c, later bench_env_guest.c) ---
 * bench_print writes the NUL-terminated string to the console (stdout natively, the
 * serial console in the guest). The adaptor calls bench_main and exits with its result.
 * The adaptor must also provide memcpy and memset: GCC may emit calls to them even in
 * freestanding code (GCC manual, "C Dialect Options", -ffreestanding). */
void bench_print(const char *s);
int bench_main(int argc, char **argv);

/* --- provided by bench_common.c (portable, no system calls) --- */

/* Writes v in decimal / as 8 hex digits (no 0x) into buf (>= 21 bytes) and returns buf. */
char *bench_format_u64(char *buf, uint64_t v);
char *bench_format_hex32(char *buf, uint32_t v);

/* Prints a sequence of strings followed by a newline; the list ends with NULL. */
void bench_println(const char *first, ...);

/* Returns 1 when "--quick" is among the arguments (the ~0.1 s smoke-test size). */
int bench_is_quick(int argc, char **argv);

/* Deterministic generator (xorshift32, Marsaglia 2003): same sequence on every host. */
typedef struct {
    uint32_t state;
} bench_rng;
void bench_rng_seed(bench_rng *r, uint32_t seed);
uint32_t bench_rng_next(bench_rng *r);
uint32_t bench_rng_below(bench_rng *r, uint32_t bound);

/* CRC-32 (IEEE 802.3 polynomial, reflected), used as the checksum of byte streams. */
uint32_t bench_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* Mixes a 32-bit value into a running checksum (FNV-1a over its four bytes). */
uint32_t bench_mix(uint32_t sum, uint32_t value);

/* Prints "name: checksum XXXXXXXX expected YYYYYYYY PASS|FAIL" and returns 0 on PASS,
 * 1 on FAIL. The runner parses exactly this line. */
int bench_report(const char *name, uint32_t checksum, uint32_t expected);

#endif
