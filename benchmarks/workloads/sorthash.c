/* Sort and hash-table workload: quicksort and LSD radix sort of the same large array of
 * generated keys (their results must agree and be ordered), then counting the keys in an
 * open-addressing hash table. Never allocates: every array is static and the total stays
 * under 48 MiB (DESIGN: the guest has 128 MiB). */
#include "bench_env.h"

#define MAX_KEYS (2u * 1024u * 1024u)
#define TABLE_SLOTS (4u * 1024u * 1024u) /* power of two, load factor <= 0.5 */
#define EMPTY_KEY 0xffffffffu

static uint32_t keys[MAX_KEYS];
static uint32_t by_quicksort[MAX_KEYS];
static uint32_t by_radix[MAX_KEYS];
static uint32_t radix_tmp[MAX_KEYS];
static uint32_t table_key[TABLE_SLOTS];
static uint32_t table_count[TABLE_SLOTS];

static void insertion_sort(uint32_t *a, int32_t lo, int32_t hi) {
    for (int32_t i = lo + 1; i <= hi; ++i) {
        uint32_t v = a[i];
        int32_t j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            --j;
        }
        a[j + 1] = v;
    }
}

/* Median-of-three Hoare quicksort; recurses into the smaller side and loops on the larger,
 * so stack depth stays O(log n) on any input. */
static void quicksort(uint32_t *a, int32_t lo, int32_t hi) {
    while (hi - lo > 16) {
        int32_t mid = lo + (hi - lo) / 2;
        uint32_t x = a[lo], y = a[mid], z = a[hi];
        uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int32_t i = lo - 1;
        int32_t j = hi + 1;
        for (;;) {
            do {
                ++i;
            } while (a[i] < pivot);
            do {
                --j;
            } while (a[j] > pivot);
            if (i >= j) {
                break;
            }
            uint32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        if (j - lo < hi - j) {
            quicksort(a, lo, j);
            lo = j + 1;
        } else {
            quicksort(a, j + 1, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

/* Four stable counting passes of 8 bits each, least significant first. */
static void radix_sort(uint32_t *a, uint32_t *tmp, uint32_t n) {
    uint32_t *src = a;
    uint32_t *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        uint32_t count[256];
        for (int b = 0; b < 256; ++b) {
            count[b] = 0;
        }
        for (uint32_t i = 0; i < n; ++i) {
            ++count[(src[i] >> shift) & 0xffu];
        }
        uint32_t pos = 0;
        for (int b = 0; b < 256; ++b) {
            uint32_t c = count[b];
            count[b] = pos;
            pos += c;
        }
        for (uint32_t i = 0; i < n; ++i) {
            dst[count[(src[i] >> shift) & 0xffu]++] = src[i];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
}

static uint32_t hash32(uint32_t k) {
    /* Murmur3 finalizer: spreads nearby keys over the whole table. */
    k ^= k >> 16;
    k *= 0x85ebca6bu;
    k ^= k >> 13;
    k *= 0xc2b2ae35u;
    k ^= k >> 16;
    return k;
}

/* Linear probing; returns the number of distinct keys inserted. */
static uint32_t count_keys(const uint32_t *a, uint32_t n, uint32_t slots) {
    uint32_t mask = slots - 1u;
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < slots; ++i) {
        table_key[i] = EMPTY_KEY;
        table_count[i] = 0;
    }
    for (uint32_t i = 0; i < n; ++i) {
        uint32_t k = a[i];
        uint32_t s = hash32(k) & mask;
        while (table_key[s] != EMPTY_KEY && table_key[s] != k) {
            s = (s + 1u) & mask;
        }
        if (table_key[s] == EMPTY_KEY) {
            table_key[s] = k;
            ++distinct;
        }
        ++table_count[s];
    }
    return distinct;
}

static uint32_t lookup_count(uint32_t k, uint32_t slots) {
    uint32_t mask = slots - 1u;
    uint32_t s = hash32(k) & mask;
    while (table_key[s] != EMPTY_KEY) {
        if (table_key[s] == k) {
            return table_count[s];
        }
        s = (s + 1u) & mask;
    }
    return 0;
}

/* One round: generate, sort twice, cross-check, count. Returns a checksum of the sorted
 * order, the distinct count and the multiplicities of a sample of keys; sets *ok to 0 if
 * the two sorts disagree, the order is wrong or the table lost a key. */
static uint32_t one_round(uint32_t seed, uint32_t n, uint32_t slots, int *ok) {
    bench_rng rng;
    bench_rng_seed(&rng, seed);
    /* Keys come from a range about 0.7 n wide, so there are many duplicates to count. */
    uint32_t range = n - n / 4u - n / 16u;
    for (uint32_t i = 0; i < n; ++i) {
        keys[i] = bench_rng_below(&rng, range) * 2654435761u;
        by_quicksort[i] = keys[i];
        by_radix[i] = keys[i];
    }
    quicksort(by_quicksort, 0, (int32_t)n - 1);
    radix_sort(by_radix, radix_tmp, n);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (by_quicksort[i] != by_radix[i] || (i > 0 && by_radix[i - 1] > by_radix[i])) {
            *ok = 0;
        }
        if ((i & 1023u) == 0) {
            sum = bench_mix(sum, by_radix[i]);
        }
    }
    uint32_t distinct = count_keys(keys, n, slots);
    sum = bench_mix(sum, distinct);
    /* In sorted order equal keys are adjacent: every run length must match the table. */
    uint32_t runs = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && by_radix[j] == by_radix[i]) {
            ++j;
        }
        if (lookup_count(by_radix[i], slots) != j - i) {
            *ok = 0;
        }
        if ((runs & 255u) == 0) {
            sum = bench_mix(sum, j - i);
        }
        ++runs;
        i = j;
    }
    if (runs != distinct) {
        *ok = 0;
    }
    return sum;
}

int bench_main(int argc, char **argv) {
    int quick = bench_is_quick(argc, argv);
    const uint32_t n = quick ? 262144u : MAX_KEYS;
    const uint32_t slots = quick ? 524288u : TABLE_SLOTS;
    const int rounds = quick ? 2 : 10;
    /* Expected checksums were recorded from a run whose sorts and counts passed the
     * internal cross-checks above (quicksort == radix sort, runs == table counts). */
    const uint32_t expected = quick ? 0xa1c15faau : 0x85b9eac4u;
    uint32_t checksum = 0;
    int ok = 1;
    for (int r = 0; r < rounds; ++r) {
        checksum = bench_mix(checksum, one_round(0x5eed0000u + (uint32_t)r, n, slots, &ok));
    }
    if (!ok) {
        bench_println("sorthash: internal cross-check failed", NULL);
    }
    return bench_report("sorthash", checksum, expected) | !ok;
}
