/* openloop.c — the open-loop driver: arrivals on a fixed schedule, one worker per shard
 * serving its requests at max(now, arrival), latency from the intended arrival into
 * HdrHistogram counts (see bb_openloop_point in bankcore.h). wrk2's discipline: a slow server
 * does not slow the arrivals down, so the queue it builds is measured.
 *
 * The schedule uses no floating point: an exponential gap is mean · (−ln U) with
 * −ln U = ln 2 · (53 − log2 x) for x = U · 2^53 from the core's PRNG, log2 computed bit by
 * bit by squaring a Q31 mantissa (integer multiplies only), so every architecture computes
 * the same nanoseconds. */
#define _GNU_SOURCE   /* clock_nanosleep */
#include <stdlib.h>
#include <time.h>
#include "internal.h"

#define LN2_Q64 0xB17217F7D1CF79ABULL        /* ln 2 · 2^64, rounded to nearest */
#define UNIFORM_BITS 53
/* The worker sleeps until this close to an arrival, then spins: a sleep wakes up late by
 * tens of microseconds on a loaded host, a spin by the cost of a clock read. */
#define SPIN_NS 100000
#define HALF_COUNT_MAGNITUDE 10              /* 3 significant digits: 2048 sub-buckets */
#define SUB_BUCKET_MASK ((uint64_t)2047)

_Static_assert(BB_OPENLOOP_COUNTS == (27 + 1) << HALF_COUNT_MAGNITUDE,
               "27 buckets of 2048 sub-buckets reach BB_OPENLOOP_HIGHEST_NS");

/* log2(x) in Q32 for x ≥ 1. */
static uint64_t log2_q32(uint64_t x)
{
    BB_ASSERT(x >= 1);
    int exponent = 63 - __builtin_clzll(x);
    uint64_t mantissa = exponent >= 31 ? x >> (exponent - 31) : x << (31 - exponent);
    uint64_t fraction = 0;
    for (int bit = 31; bit >= 0; bit--) {
        mantissa = (mantissa * mantissa) >> 31;   /* < 2^32 squared: fits 64 bits */
        if (mantissa >= (UINT64_C(1) << 32)) {
            mantissa >>= 1;
            fraction |= UINT64_C(1) << bit;
        }
    }
    BB_ASSERT(mantissa >= (UINT64_C(1) << 31) && mantissa < (UINT64_C(1) << 32));
    return ((uint64_t)exponent << 32) | fraction;
}

/* One standard exponential draw in Q32 (−ln U, U uniform on (0, 1]). */
static uint64_t exponential_q32(bb_rng *rng)
{
    uint64_t x = (bb_rng_next(rng) >> (64 - UNIFORM_BITS)) + 1;   /* [1, 2^53] */
    uint64_t minus_log2_q32 = ((uint64_t)UNIFORM_BITS << 32) - log2_q32(x);
    return (uint64_t)(((u128)minus_log2_q32 * LN2_Q64) >> 64);
}

/* A gap of mean mean_q16 (Q16 ns) in Q16 ns; false when it would not fit. */
static bool scaled_exponential_fits(bb_rng *rng, uint64_t mean_q16, uint64_t *gap_q16)
{
    u128 gap = ((u128)mean_q16 * exponential_q32(rng)) >> 32;
    if (gap > INT64_MAX) return false;
    *gap_q16 = (uint64_t)gap;
    return true;
}

int32_t bb_openloop_arrivals(uint64_t seed, uint64_t mean_gap_q16_ns, int32_t arrival, int64_t n,
                             int64_t *arrival_ns)
{
    if (n < 0 || (n > 0 && !arrival_ns) || mean_gap_q16_ns == 0
        || (arrival != BB_ARRIVAL_POISSON && arrival != BB_ARRIVAL_CONSTANT))
        return BB_INVALID_ARGUMENT;
    bb_rng rng;
    bb_rng_seed(&rng, seed);
    uint64_t t_q16 = 0;   /* accumulated in Q16, so rounding does not drift the rate */
    for (int64_t i = 0; i < n; i++) {
        uint64_t gap_q16 = mean_gap_q16_ns;
        if (arrival == BB_ARRIVAL_POISSON && !scaled_exponential_fits(&rng, mean_gap_q16_ns, &gap_q16))
            return BB_INVALID_ARGUMENT;
        if (gap_q16 > (uint64_t)INT64_MAX - t_q16) return BB_INVALID_ARGUMENT;
        t_q16 += gap_q16;
        arrival_ns[i] = (int64_t)(t_q16 >> 16);
    }
    return BB_OK;
}

int32_t bb_openloop_exponential(uint64_t seed, uint64_t mean_q16_ns, int64_t n, int64_t *out_ns)
{
    if (n < 0 || (n > 0 && !out_ns)) return BB_INVALID_ARGUMENT;
    bb_rng rng;
    bb_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n; i++) {
        uint64_t value_q16;
        if (!scaled_exponential_fits(&rng, mean_q16_ns, &value_q16)) return BB_INVALID_ARGUMENT;
        out_ns[i] = (int64_t)(value_q16 >> 16);
    }
    return BB_OK;
}

/* HdrHistogram's counts index (lowest 1, unit magnitude 0), the value clamped to the range. */
int64_t bb_openloop_counts_index(int64_t value)
{
    uint64_t v = value < 0 ? 0 : value > BB_OPENLOOP_HIGHEST_NS ? BB_OPENLOOP_HIGHEST_NS
                                                                : (uint64_t)value;
    int32_t pow2_ceiling = 64 - __builtin_clzll(v | SUB_BUCKET_MASK);
    int32_t bucket = pow2_ceiling - (HALF_COUNT_MAGNITUDE + 1);
    int64_t sub_bucket = (int64_t)(v >> bucket);
    int64_t index = ((int64_t)(bucket + 1) << HALF_COUNT_MAGNITUDE)
                    + (sub_bucket - ((int64_t)1 << HALF_COUNT_MAGNITUDE));
    BB_ASSERT(index >= 0 && index < BB_OPENLOOP_COUNTS);
    return index;
}

static inline void record(uint64_t *counts, int64_t value_ns)
{
    counts[bb_openloop_counts_index(value_ns)]++;
}

/* Sleep, then spin, until the clock reads at least until_ns; the time it then reads. */
static int64_t wait_until(int64_t until_ns)
{
    int64_t now = bb_now_ns();
    while (now < until_ns) {
        if (until_ns - now > SPIN_NS) {
            int64_t wake = until_ns - SPIN_NS;
            struct timespec at = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);   /* early is fine */
        }
        now = bb_now_ns();
    }
    return now;
}

/* The clock a worker runs on: the host's, or a virtual one advanced by service times. */
typedef struct {
    const bb_openloop_point *point;
    int32_t shard;
    int64_t origin_ns;      /* the real clock's reading at the point's start */
    int64_t virtual_ns;
    bb_barrier *const *barriers;   /* ledger.post: one per request */
} worker_clock;

static int64_t clock_now(worker_clock *c)
{
    return c->point->clock == BB_OPENLOOP_SIMULATED ? c->virtual_ns : bb_now_ns() - c->origin_ns;
}

static int64_t clock_wait(worker_clock *c, int64_t until_ns)
{
    if (c->point->clock == BB_OPENLOOP_SIMULATED) {
        if (c->virtual_ns < until_ns) c->virtual_ns = until_ns;
        return c->virtual_ns;
    }
    return wait_until(until_ns + c->origin_ns) - c->origin_ns;
}

/* ledger.post's request k on group `group`: batch k alone, a run of its own. */
static int32_t post_request(const bb_openloop_ledger *l, bb_barrier *const *barriers, int64_t k,
                            int32_t group)
{
    const bb_batches *all = l->batches;
    bb_batches one = {.begin = all->begin + k, .end = all->end + k, .timestamp = all->timestamp + k,
                      .n = 1, .cells = all->cells, .cell = all->cell, .order = all->order,
                      .start = all->start + k * ((int64_t)all->cells + 2)};
    return bb_ledger_run(l->ledger, l->transfers, &one, group, l->groups, barriers[k], l->scratch,
                         l->results);
}

/* Serves requests rows[first..last) at once; the clock afterwards. */
static int32_t serve(worker_clock *c, int64_t first, int64_t last, int64_t *done_ns)
{
    const bb_openloop_point *p = c->point;
    if (p->clock == BB_OPENLOOP_SIMULATED) {
        for (int64_t i = first; i < last; i++) {
            int64_t took = p->service_ns[p->rows[i]];
            if (took < 0 || took > INT64_MAX - c->virtual_ns) return BB_INVALID_ARGUMENT;
            c->virtual_ns += took;
        }
        *done_ns = c->virtual_ns;
        return BB_OK;
    }
    if (p->ledger) {
        for (int64_t i = first; i < last; i++) {
            int32_t rc = post_request(p->ledger, c->barriers, p->rows[i], 0);
            if (rc != BB_OK) return rc;
        }
        *done_ns = clock_now(c);
        return BB_OK;
    }
    const bb_decide_session *s = &p->decide[c->shard];
    for (int64_t i = first; i < last; i++) {
        int32_t rc = bb_decide_one(s->fraud, s->rules, s->lists, s->card, s->limit, s->params,
                                   s->apps, p->rows[i], s->out);
        if (rc != BB_OK) return rc;
    }
    *done_ns = clock_now(c);
    return BB_OK;
}

/* One shard's requests in arrival order, each at max(now, arrival). */
static int32_t serve_shard(const bb_openloop_point *p, int32_t shard, int64_t origin_ns,
                           bb_barrier *const *barriers)
{
    worker_clock clock = {.point = p, .shard = shard, .origin_ns = origin_ns, .virtual_ns = 0,
                          .barriers = barriers};
    bb_openloop_worker *w = &p->workers[shard];
    int64_t end = p->bounds[shard + 1], arrived = p->bounds[shard];
    w->fastest_service_ns = INT64_MAX;
    int64_t now = clock_now(&clock);
    for (int64_t i = p->bounds[shard]; i < end;) {
        int64_t arrival = p->arrival_ns[p->rows[i]];
        /* a busy server starts the next request when the last completes: no clock read */
        if (now < arrival) now = clock_now(&clock);
        if (now < arrival) {   /* an empty queue: how late the start is, is host jitter */
            now = clock_wait(&clock, arrival);
            record(w->idle_lateness, now - arrival);
        }
        while (arrived < end && p->arrival_ns[p->rows[arrived]] <= now) arrived++;
        BB_ASSERT(arrived > i);
        bool first_half = p->rows[i] < p->half_request;
        int64_t *backlog_max = first_half ? &w->backlog_max_first : &w->backlog_max_second;
        if (arrived - i > *backlog_max) *backlog_max = arrived - i;
        /* waiting requests only: a server batch never waits for more */
        int64_t last = arrived - i < p->server_batch ? arrived : i + p->server_batch;
        int64_t done;
        int32_t rc = serve(&clock, i, last, &done);
        if (rc != BB_OK) return rc;
        if (done - now < w->fastest_service_ns) w->fastest_service_ns = done - now;
        for (int64_t k = i; k < last; k++) {
            int64_t row = p->rows[k], intended = p->arrival_ns[row];
            record(row < p->half_request ? w->latency_first : w->latency_second, done - intended);
            w->wait_ns_sum += now - intended;
        }
        w->served += last - i;
        w->last_completion_ns = now = done;
        i = last;
    }
    return BB_OK;
}

typedef struct {
    const bb_openloop_point *point;
    int64_t origin_ns;
    bb_barrier *const *barriers;
} run_task;

static int32_t serve_shards(const void *args, int64_t begin, int64_t end)
{
    const run_task *t = args;
    for (int64_t s = begin; s < end; s++) {
        int32_t rc = serve_shard(t->point, (int32_t)s, t->origin_ns, t->barriers);
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}

/* ledger.post: group 0 is the server (it waits for each arrival and records); the other
 * groups post their part of each request as it comes, meeting group 0 at its barrier. */
static int32_t serve_ledger_groups(const void *args, int64_t begin, int64_t end)
{
    const run_task *t = args;
    if (end != begin + 1) return BB_INVALID_ARGUMENT;   /* one group per thread, all at once */
    if (begin == 0) return serve_shard(t->point, 0, t->origin_ns, t->barriers);
    int32_t rc = BB_OK;
    for (int64_t k = 0; rc == BB_OK && k < t->point->bounds[1]; k++)
        rc = post_request(t->point->ledger, t->barriers, k, (int32_t)begin);
    return rc;
}

static bool point_is_valid(const bb_openloop_point *p)
{
    if (!p || p->shards < 1 || p->server_batch < 1 || !p->arrival_ns || !p->rows || !p->bounds
        || !p->workers || p->bounds[0] != 0)
        return false;
    if (p->clock == BB_OPENLOOP_SIMULATED ? !p->service_ns
                                          : (p->clock != BB_OPENLOOP_REAL || !p->decide == !p->ledger))
        return false;
    if (p->ledger && (p->shards != 1 || p->server_batch != 1 || p->ledger->groups < 1
                      || !p->ledger->batches || !p->ledger->batches->timestamp
                      || p->ledger->batches->n != p->bounds[1] || p->ledger->batches->plan_rows != 0))
        return false;   /* one queue of whole client batches, a batch per request, each its
                           own run over the plan's rows (not batch-sized slots) */
    for (int32_t s = 0; s < p->shards; s++) {
        const bb_openloop_worker *w = &p->workers[s];
        if (p->bounds[s + 1] < p->bounds[s] || !w->latency_first || !w->latency_second
            || !w->idle_lateness)
            return false;
        for (int64_t i = p->bounds[s]; i < p->bounds[s + 1]; i++) {
            if (p->rows[i] < 0 || p->rows[i] >= p->bounds[p->shards]) return false;
            if (i > p->bounds[s] && (p->rows[i] <= p->rows[i - 1]
                                     || p->arrival_ns[p->rows[i]] < p->arrival_ns[p->rows[i - 1]]))
                return false;   /* each shard's queue in request and arrival order */
        }
    }
    return true;
}

/* The first arrival is at the point's start plus its own gap; the workers start a little
 * before it, so a thread's wake-up is not counted as queueing. */
#define START_LEAD_NS 2000000

int32_t bb_openloop_run(const bb_openloop_point *point)
{
    if (!point_is_valid(point)) return BB_INVALID_ARGUMENT;
    if (point->clock == BB_OPENLOOP_SIMULATED) {
        run_task task = {point, 0, NULL};
        return serve_shards(&task, 0, point->shards);
    }
    if (!point->ledger) {
        int64_t now = bb_now_ns();
        if (now < 0) return BB_INVALID_ARGUMENT;
        run_task task = {point, now + START_LEAD_NS, NULL};
        return bb_parallel_groups(serve_shards, &task, point->shards);
    }
    const bb_openloop_ledger *l = point->ledger;
    int64_t n = point->bounds[1];
    bb_barrier **barriers = calloc((size_t)(n > 0 ? n : 1), sizeof *barriers);
    int32_t rc = barriers ? BB_OK : BB_OUT_OF_MEMORY;
    for (int64_t k = 0; rc == BB_OK && k < n; k++)
        rc = bb_barrier_new((uint32_t)l->groups, l->batches->cells, &barriers[k]);
    int64_t now = bb_now_ns();
    if (rc == BB_OK && now < 0) rc = BB_INVALID_ARGUMENT;
    if (rc == BB_OK) {
        run_task task = {point, now + START_LEAD_NS, barriers};
        rc = bb_parallel_groups(serve_ledger_groups, &task, l->groups);
    }
    for (int64_t k = 0; barriers && k < n; k++) bb_barrier_free(barriers[k]);
    free(barriers);
    return rc;
}

int32_t bb_openloop_overhead(int64_t iterations, uint64_t *counts, int64_t *total_ns)
{
    if (iterations < 1 || !counts || !total_ns) return BB_INVALID_ARGUMENT;
    int64_t start = bb_now_ns(), previous = start;
    for (int64_t i = 0; i < iterations; i++) {   /* a busy worker's: one read, one record */
        int64_t now = bb_now_ns();
        record(counts, now - previous);
        previous = now;
    }
    *total_ns = previous - start;
    return BB_OK;
}
