/* barrier.c — the threads of one sharded run of many batches: the loop each runs (per
 * batch claim and run cells, the first out of cells planning the next batch, then the
 * cross-cell events on group 0 and the opening of the next batch while the last group
 * copies the batch before's results to row order, where they went to a scratch table),
 * and the barrier where they meet (twice
 * per batch); a Python thread pool costs ~100 µs a meeting, this a few µs. Waiters spin
 * briefly, then yield the CPU (a machine may have fewer free cores than threads). A thread
 * that fails aborts the barrier, so the others return instead of waiting for it forever. */
#define _POSIX_C_SOURCE 200809L   /* sched_yield */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "internal.h"

#define SPINS_BEFORE_YIELD 256

struct bb_barrier {
    _Atomic uint32_t arrived;
    _Atomic uint32_t generation;
    _Atomic int aborted;
    uint32_t parties;
    uint32_t cells;
    _Atomic int64_t *claimed;   /* per cell, then for planning: how many batches claimed */
};

int32_t bb_barrier_new(uint32_t parties, uint32_t cells, bb_barrier **out)
{
    *out = NULL;
    if (parties < 1 || cells < 1 || cells > BB_CELLS_MAX) return BB_INVALID_ARGUMENT;
    bb_barrier *b = malloc(sizeof *b);
    _Atomic int64_t *claimed = malloc(((size_t)cells + 1) * sizeof *claimed);
    if (!b || !claimed) {
        free(b);
        free(claimed);
        return BB_OUT_OF_MEMORY;
    }
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
    atomic_init(&b->aborted, 0);
    b->parties = parties;
    b->cells = cells;
    for (uint32_t c = 0; c <= cells; c++) atomic_init(&claimed[c], 0);
    b->claimed = claimed;
    *out = b;
    return BB_OK;
}

void bb_barrier_free(bb_barrier *b)
{
    if (!b) return;
    free(b->claimed);
    free(b);
}

void bb_barrier_abort(bb_barrier *b) { atomic_store(&b->aborted, 1); }

/* 1 once every party has arrived (their writes before it are visible after it); 0 when the
 * barrier was aborted. */
int bb_barrier_wait(bb_barrier *b)
{
    uint32_t generation = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_load(&b->aborted)) return 0;
    if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1 == b->parties) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
        return 1;
    }
    for (unsigned spins = 0;
         atomic_load_explicit(&b->generation, memory_order_acquire) == generation; spins++) {
        if (atomic_load_explicit(&b->aborted, memory_order_relaxed)) return 0;
        if (spins >= SPINS_BEFORE_YIELD) sched_yield();
    }
    return 1;
}

/* Whether this thread does a task of batch k (runs its events of a cell, or, as cell ==
 * cells, plans batch k + 1): the first to ask does. */
static int claim(bb_barrier *b, uint32_t cell, int64_t k)
{
    int64_t unclaimed = k;
    return atomic_compare_exchange_strong(&b->claimed[cell], &unclaimed, k + 1);
}

/* The batches in order, without overlap, over the barrier's and the workload's cells, with
 * a clock where the workload needs one; the barrier unused (its claims count batches from
 * 0: one barrier serves one run). Checked by every thread before the first meeting, so
 * before any claim. */
static int valid_run(const bb_batch_work *w, const bb_batches *b, int32_t group, int32_t groups,
                     bb_barrier *barrier)
{
    if (!b || b->n < 0 || groups < 1 || group < 0 || group >= groups || b->cells != barrier->cells)
        return 0;
    for (uint32_t c = 0; c <= barrier->cells; c++)
        if (atomic_load(&barrier->claimed[c]) != 0) return 0;
    if (b->n == 0) return 1;
    if (b->cells != w->cells || (w->clocked && !b->timestamp)) return 0;
    if (!b->begin || !b->end || !b->cell || !b->order || !b->start) return 0;
    for (int64_t k = 0; k < b->n; k++)
        if (b->begin[k] < (k ? b->end[k - 1] : 0) || b->end[k] < b->begin[k]) return 0;
    return 1;
}

/* Batch k's rows grouped in order: the cross-cell ones first, then cell by cell, each in
 * batch order (a counting sort on cell + 1); `next` has room for cells + 1 cursors. */
static int32_t order_batch(const bb_batches *b, int64_t k, int64_t *next)
{
    int64_t begin = b->begin[k], end = b->end[k];
    int64_t *start = b->start + k * ((int64_t)b->cells + 2);
    for (uint32_t q = 0; q < b->cells + 2; q++) start[q] = 0;
    for (int64_t i = begin; i < end; i++) {
        if (b->cell[i] < -1 || b->cell[i] >= (int32_t)b->cells) return BB_INVALID_ARGUMENT;
        start[b->cell[i] + 2]++;
    }
    start[0] = begin;
    for (uint32_t q = 1; q < b->cells + 2; q++) start[q] += start[q - 1];
    for (uint32_t q = 0; q < b->cells + 1; q++) next[q] = start[q];
    for (int64_t i = begin; i < end; i++) b->order[next[b->cell[i] + 1]++] = i;
    for (uint32_t q = 0; q < b->cells + 1; q++) BB_ASSERT(next[q] == start[q + 1]);   /* all placed */
    BB_ASSERT(start[b->cells + 1] == end);
    return BB_OK;
}

static int32_t plan_batch(const bb_batch_work *w, const bb_batches *b, int64_t k, int64_t *next)
{
    int32_t rc = w->plan(w->context, b->begin[k], b->end[k], b->cell);
    return rc == BB_OK ? order_batch(b, k, next) : rc;
}

/* Batch k's events of one cell (-1: the cross-cell ones). */
static int32_t step_cell(const bb_batch_work *w, const bb_batches *b, int64_t k, int32_t cell)
{
    const int64_t *start = b->start + k * ((int64_t)b->cells + 2) + (cell + 1);
    return w->step(w->context, b, k, cell, start[0], start[1] - start[0]);
}

/* Claims and runs batch k's cells: this group's own first (cell % groups == group), then
 * any another group has not reached yet, taken from the back of its list; then, the first
 * thread out of cells plans batch k + 1 while the others finish theirs. */
static int32_t run_cells(const bb_batch_work *w, const bb_batches *b, int64_t k, int32_t group,
                         int32_t groups, bb_barrier *barrier, int64_t *next)
{
    int32_t rc = BB_OK;
    for (uint32_t c = (uint32_t)group; rc == BB_OK && c < b->cells; c += (uint32_t)groups)
        if (claim(barrier, c, k)) rc = step_cell(w, b, k, (int32_t)c);
    for (uint32_t c = b->cells; rc == BB_OK && c-- > 0;)
        if (c % (uint32_t)groups != (uint32_t)group && claim(barrier, c, k))
            rc = step_cell(w, b, k, (int32_t)c);
    if (rc == BB_OK && k + 1 < b->n && claim(barrier, b->cells, k))
        rc = plan_batch(w, b, k + 1, next);
    return rc;
}

int32_t bb_run_batches(const bb_batch_work *w, const bb_batches *b, int32_t group,
                       int32_t groups, bb_barrier *barrier)
{
    if (!barrier) return BB_INVALID_ARGUMENT;
    int32_t rc = valid_run(w, b, group, groups, barrier) ? BB_OK : BB_INVALID_ARGUMENT;
    int64_t *next = rc == BB_OK ? malloc(((size_t)b->cells + 1) * sizeof *next) : NULL;
    if (rc == BB_OK && !next) rc = BB_OUT_OF_MEMORY;
    if (rc == BB_OK && group == 0 && b->n > 0) rc = plan_batch(w, b, 0, next);
    if (rc == BB_OK && group == 0 && b->n > 0 && w->open) rc = w->open(w->context, b, 0);
    if (rc == BB_OK && !bb_barrier_wait(barrier)) rc = BB_ABORTED;
    int finisher = group == groups - 1;   /* idle while group 0 runs the cross-cell events */
    for (int64_t k = 0; rc == BB_OK && k < b->n; k++) {
        rc = run_cells(w, b, k, group, groups, barrier, next);
        if (rc == BB_OK && !bb_barrier_wait(barrier)) rc = BB_ABORTED;
        if (rc == BB_OK && group == 0) rc = step_cell(w, b, k, -1);
        if (rc == BB_OK && group == 0 && w->open && k + 1 < b->n) rc = w->open(w->context, b, k + 1);
        if (rc == BB_OK && w->finish && finisher && k > 0) w->finish(w->context, b, k - 1);
        if (rc == BB_OK && !bb_barrier_wait(barrier)) rc = BB_ABORTED;
    }
    if (rc == BB_OK && w->finish && finisher && b->n > 0) w->finish(w->context, b, b->n - 1);
    free(next);
    if (rc != BB_OK && rc != BB_ABORTED) bb_barrier_abort(barrier);
    return rc;
}
