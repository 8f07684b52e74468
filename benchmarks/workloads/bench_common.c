/* Portable helpers shared by every workload: number formatting, argument parsing, the
 * deterministic generator, checksums and the verdict line. Never performs I/O itself
 * except through bench_print, and never allocates. */
#include "bench_env.h"

#include <stdarg.h>

char *bench_format_u64(char *buf, uint64_t v) {
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    for (int i = 0; i < n; ++i) {
        buf[i] = tmp[n - 1 - i];
    }
    buf[n] = '\0';
    return buf;
}

char *bench_format_hex32(char *buf, uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) {
        buf[i] = digits[(v >> (28 - 4 * i)) & 0xfu];
    }
    buf[8] = '\0';
    return buf;
}

void bench_println(const char *first, ...) {
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
        bench_print(s);
    }
    va_end(ap);
    bench_print("\n");
}

static int str_equal(const char *a, const char *b) {
    while (*a != '\0' && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}

int bench_is_quick(int argc, char **argv) {
    for (int i = 1; i < argc; ++i) {
        if (str_equal(argv[i], "--quick")) {
            return 1;
        }
    }
    return 0;
}

void bench_rng_seed(bench_rng *r, uint32_t seed) {
    /* xorshift has a fixed point at 0; any other seed walks the full 2^32-1 cycle. */
    r->state = seed != 0 ? seed : 0x9e3779b9u;
}

uint32_t bench_rng_next(bench_rng *r) {
    uint32_t x = r->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->state = x;
    return x;
}

uint32_t bench_rng_below(bench_rng *r, uint32_t bound) {
    /* 64-bit multiply-shift maps to [0, bound) without a division (Lemire 2019); the tiny
     * bias is irrelevant for generating inputs. */
    return (uint32_t)(((uint64_t)bench_rng_next(r) * bound) >> 32);
}

uint32_t bench_crc32(uint32_t crc, const uint8_t *data, size_t len) {
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) {
                c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < len; ++i) {
        crc = table[(crc ^ data[i]) & 0xffu] ^ (crc >> 8);
    }
    return ~crc;
}

uint32_t bench_mix(uint32_t sum, uint32_t value) {
    if (sum == 0) {
        sum = 2166136261u;
    }
    for (int i = 0; i < 4; ++i) {
        sum ^= (value >> (8 * i)) & 0xffu;
        sum *= 16777619u;
    }
    return sum;
}

int bench_report(const char *name, uint32_t checksum, uint32_t expected) {
    char got[9];
    char want[9];
    int pass = checksum == expected;
    bench_println(name, ": checksum ", bench_format_hex32(got, checksum), " expected ",
                  bench_format_hex32(want, expected), pass ? " PASS" : " FAIL", NULL);
    return pass ? 0 : 1;
}
