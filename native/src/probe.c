/* probe.c — the machine's physical limits: memory bandwidth, random update rate, call cost.
 * Reports set each workload's throughput against these (bench/probes.py). */
#define _GNU_SOURCE   /* sched_getcpu (bb_probe_where); clock_gettime */
#include <sched.h>
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

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_probe_triad_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_probe_triad_task *t = args;
    return bb_probe_triad(t->a, t->b, t->c, t->k, begin, end);
}

int32_t bb_probe_random_update_parts(const void *args, int64_t begin, int64_t end)
{
    const bb_probe_update_task *t = args;
    for (int64_t part = begin; part < end; part++) {
        int32_t rc = bb_probe_random_update(t->table + (part << t->part_log2), t->part_log2,
                                            t->updates_per_part, t->seed + (uint64_t)part);
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}

int32_t bb_probe_empty_task(const void *args, int64_t begin, int64_t end)
{
    (void)args;
    (void)begin;
    (void)end;
    return BB_OK;
}

int32_t bb_probe_where(const void *cpu, int64_t begin, int64_t end)
{
    int32_t *out = (int32_t *)cpu;   /* the caller's array, passed as the task's arguments */
    for (int64_t i = begin; i < end; i++) {
#if defined(__linux__)
        out[i] = (int32_t)sched_getcpu();
#else
        out[i] = -1;
#endif
    }
    return BB_OK;
}
