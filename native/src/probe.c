/* probe.c — the machine's physical limits: memory bandwidth, random update rate, call cost.
 * Reports set each workload's throughput against these (bench/probes.py). */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include <time.h>
#include "internal.h"

int32_t bb_probe_triad(uint64_t *a, const uint64_t *b, const uint64_t *c, uint64_t k,
                       int64_t begin, int64_t end)
{
    if (begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    for (int64_t i = begin; i < end; i++) a[i] = b[i] + k * c[i];   /* unsigned: wraps by design */
    return BB_OK;
}

int32_t bb_probe_random_update(uint64_t *table, int32_t log2_size, int64_t updates, uint64_t seed)
{
    if (log2_size < 1 || log2_size > 40 || updates < 0) return BB_INVALID_ARGUMENT;
    uint64_t mask = ((uint64_t)1 << log2_size) - 1, x = seed | 1;
    for (int64_t i = 0; i < updates; i++) {
        x ^= x << 13;   /* xorshift64: cheap, so the memory system is what is measured */
        x ^= x >> 7;
        x ^= x << 17;
        table[x & mask] ^= x;
    }
    return BB_OK;
}

int32_t bb_probe_noop(void) { return BB_OK; }

int64_t bb_now_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return -1;
    return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_nsec;
}
