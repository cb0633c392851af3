/* rng.c — xoshiro256++ seeded by SplitMix64 (as TigerBeetle's src/stdx/prng.zig).
 * The Python twin is workloads/_rng.py; tests/test_rng.py checks they agree. */
#include "internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void bb_rng_seed(bb_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t bb_rng_next(bb_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[0] + s[3], 23) + s[0];
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Rejection: t = 2^64 mod bound; draw until x >= t, return x mod bound (unbiased). */
static uint64_t bounded(bb_rng *rng, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = bb_rng_next(rng);
        if (x >= threshold) return x % bound;
    }
}

int32_t bb_rng_fill_bounded(bb_rng *rng, uint64_t bound, uint64_t *out, int64_t n)
{
    if (bound == 0 || n < 0) return BB_INVALID_ARGUMENT;
    for (int64_t i = 0; i < n; i++) out[i] = bounded(rng, bound);
    return BB_OK;
}

int32_t bb_rng_fill_histogram(bb_rng *rng, const uint64_t *weights, const int64_t *lo,
                              const int64_t *hi, int32_t n_buckets, int64_t *out, int64_t n)
{
    uint64_t total = 0;
    if (n_buckets <= 0 || n < 0) return BB_INVALID_ARGUMENT;
    for (int32_t b = 0; b < n_buckets; b++) {
        if (lo[b] > hi[b] || __builtin_add_overflow(total, weights[b], &total))
            return BB_INVALID_ARGUMENT;
        /* the span hi - lo + 1 must fit in uint64 and be non-zero */
        if ((uint64_t)hi[b] - (uint64_t)lo[b] == UINT64_MAX) return BB_INVALID_ARGUMENT;
    }
    if (total == 0) return BB_INVALID_ARGUMENT;
    for (int64_t i = 0; i < n; i++) {
        uint64_t pick = bounded(rng, total);
        int32_t b = 0;
        while (pick >= weights[b]) pick -= weights[b++];
        uint64_t span = (uint64_t)hi[b] - (uint64_t)lo[b] + 1;
        out[i] = (int64_t)((uint64_t)lo[b] + bounded(rng, span));
    }
    return BB_OK;
}
