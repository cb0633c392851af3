/* probe.c — the machine's physical limits: memory bandwidth, random update rate, call cost.
 * Reports set each workload's throughput against these (bench/probes.py). */
#define _GNU_SOURCE   /* sched_getcpu, sched_setaffinity; clock_gettime */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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

int32_t bb_probe_compute_units(const void *args, int64_t begin, int64_t end)
{
    const bb_probe_compute_task *t = args;
    if (begin < 0 || end < begin || t->steps < 0) return BB_INVALID_ARGUMENT;
    for (int64_t i = begin; i < end; i++) {
        uint64_t lane[8];
        for (int j = 0; j < 8; j++) lane[j] = (uint64_t)i * 8 + (uint64_t)j + 1;
        for (int64_t s = 0; s < t->steps; s++)
            for (int j = 0; j < 8; j++) {   /* eight chains in flight: the ALUs, not latency */
                lane[j] = lane[j] * 0x9E3779B97F4A7C15u + (uint64_t)s;   /* unsigned: wraps */
                lane[j] ^= lane[j] >> 29;
            }
        uint64_t mix = 0;
        for (int j = 0; j < 8; j++) mix ^= lane[j];
        t->out[i] = mix;
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

int32_t bb_probe_visit(const void *args, int64_t begin, int64_t end)
{
    const bb_probe_visit_task *t = args;
    uint64_t thread = (uint64_t)pthread_self();   /* an identity, no thread-local storage */
    for (int64_t i = begin; i < end; i++) {
        __atomic_fetch_add(&t->visits[i], 1, __ATOMIC_RELAXED);
        __atomic_store_n(&t->thread[i], thread, __ATOMIC_RELAXED);
        if (i >= t->slow_begin && i < t->slow_end && t->slow_ns > 0) {
            struct timespec pause = {t->slow_ns / 1000000000, t->slow_ns % 1000000000};
            while (clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, &pause) == EINTR) {
            }
        }
    }
    return BB_OK;
}

int32_t bb_probe_count(const void *args, int64_t begin, int64_t end)
{
    bb_probe_count_task *t = (bb_probe_count_task *)args;   /* the caller's, written here */
    if (begin < 0 || begin >= end || end > t->n) {
        __atomic_fetch_add(&t->bad, 1, __ATOMIC_RELAXED);
        return BB_OK;
    }
    __atomic_fetch_add(&t->items, end - begin, __ATOMIC_RELAXED);
    return BB_OK;
}

/* ---- the floor under a call with more threads than CPUs ----
 * Each of its workers must be handed a CPU at least once. Two threads pinned to the caller's
 * CPU hand a turn back and forth through the pool's own hand-over (bb_pool_wait,
 * bb_pool_move_on: no spinning, since they share the CPU; a yield, then a sleep): a round
 * trip is two hand-overs, each a switch, and a wake-up where the waiter slept. */
typedef struct {
    _Atomic uint32_t turn;   /* odd: the partner's; even: the caller's */
    _Atomic uint32_t parked[2];   /* the caller's, the partner's: asleep on turn */
    int64_t round_trips;
} handover_t;

static void wait_for_turn(handover_t *h, uint32_t turn, int who)
{
    uint32_t now;
    while ((now = atomic_load(&h->turn)) != turn)
        bb_pool_wait(&h->turn, now, &h->parked[who], 0, BB_POOL_WAIT_YIELD_NS);
}

static void *handover_partner(void *argument)
{
    handover_t *h = argument;
    for (int64_t i = 0; i < h->round_trips; i++) {
        wait_for_turn(h, (uint32_t)(2 * i + 1), 1);
        bb_pool_move_on(&h->turn, &h->parked[0]);   /* to 2i + 2 */
    }
    return NULL;
}

int32_t bb_probe_handovers(int64_t round_trips, int64_t *elapsed_ns)
{
    if (!elapsed_ns || round_trips < 1 || round_trips > INT32_MAX) return BB_INVALID_ARGUMENT;
    *elapsed_ns = -1;
#if defined(__linux__)
    cpu_set_t before, one;
    int cpu = sched_getcpu();
    if (cpu < 0 || sched_getaffinity(0, sizeof before, &before) != 0) return BB_OK;
    CPU_ZERO(&one);
    CPU_SET((size_t)cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return BB_OK;   /* cannot pin: unknown */
    handover_t h = {.round_trips = round_trips};
    atomic_init(&h.turn, 0);
    atomic_init(&h.parked[0], 0);
    atomic_init(&h.parked[1], 0);
    pthread_t partner;   /* it inherits the pin */
    int32_t rc = BB_THREADS_UNAVAILABLE;
    if (bb_start_thread(&partner, handover_partner, &h)) {
        int64_t start_ns = bb_now_ns();
        for (int64_t i = 0; i < round_trips; i++) {
            bb_pool_move_on(&h.turn, &h.parked[1]);   /* to 2i + 1 */
            wait_for_turn(&h, (uint32_t)(2 * i + 2), 0);
        }
        *elapsed_ns = bb_now_ns() - start_ns;
        pthread_join(partner, NULL);
        rc = BB_OK;
    }
    sched_setaffinity(0, sizeof before, &before);
    return rc;
#else
    return BB_OK;   /* no pinning here: unknown */
#endif
}
