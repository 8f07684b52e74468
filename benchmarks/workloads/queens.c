/* Combinatorial search workload: counts every solution of the n-queens problem by
 * depth-first search over bitmasks of attacked columns and diagonals. Must never use
 * symmetry shortcuts: the point is the full branchy search. */
#include "bench_env.h"

/* Solution counts are OEIS A000170, so the checksum is checked against published values,
 * not only against an earlier run of this program. */
static const uint32_t kSolutions[] = {1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200,
                                      73712, 365596, 2279184, 14772512};

/* Explicit stack instead of recursion so that the loop is the same in any environment
 * (the guest's user stack may be small). */
static uint32_t count_solutions(int n) {
    uint32_t all = (1u << n) - 1u;
    uint32_t cols[32];
    uint32_t diag_left[32];
    uint32_t diag_right[32];
    uint32_t avail[32];
    uint32_t count = 0;
    int depth = 0;
    cols[0] = 0;
    diag_left[0] = 0;
    diag_right[0] = 0;
    avail[0] = all;
    while (depth >= 0) {
        uint32_t free_squares = avail[depth];
        if (free_squares == 0) {
            --depth;
            continue;
        }
        uint32_t bit = free_squares & (0u - free_squares);
        avail[depth] = free_squares ^ bit;
        if (depth == n - 1) {
            ++count;
            continue;
        }
        uint32_t c = cols[depth] | bit;
        uint32_t l = (diag_left[depth] | bit) << 1;
        uint32_t r = (diag_right[depth] | bit) >> 1;
        ++depth;
        cols[depth] = c;
        diag_left[depth] = l;
        diag_right[depth] = r;
        avail[depth] = all & ~(c | l | r);
    }
    return count;
}

int bench_main(int argc, char **argv) {
    int quick = bench_is_quick(argc, argv);
    /* Board sizes run in sequence, the whole set `rounds` times; the default takes a few
     * seconds natively, --quick about a tenth of a second. */
    const int first = quick ? 8 : 10;
    const int last = quick ? 13 : 15;
    const int rounds = quick ? 1 : 2;
    uint32_t checksum = 0;
    uint32_t expected = 0;
    int wrong = 0;
    for (int round = 0; round < rounds; ++round) {
        for (int n = first; n <= last; ++n) {
            uint32_t c = count_solutions(n);
            if (round == 0) {
                char buf[21];
                char nbuf[21];
                bench_println("queens: n=", bench_format_u64(nbuf, (uint64_t)n), " solutions ",
                              bench_format_u64(buf, c), NULL);
            }
            if (c != kSolutions[n]) {
                wrong = 1;
            }
            checksum = bench_mix(checksum, c);
            expected = bench_mix(expected, kSolutions[n]);
        }
    }
    return bench_report("queens", checksum, expected) | wrong;
}
