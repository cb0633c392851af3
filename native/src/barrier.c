/* barrier.c — where the threads of one sharded run meet (twice per batch; the loop is in
 * batches.c), and their claims on a batch's tasks. A Python thread pool costs ~100 µs a
 * meeting, this a few µs. Waiters spin briefly, then yield the CPU (a machine may have
 * fewer free cores than threads). A thread that fails aborts the barrier, so the others
 * return instead of waiting for it forever. */
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

int32_t bb_barrier_wait(bb_barrier *b)
{
    uint32_t generation = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_load(&b->aborted)) return BB_ABORTED;
    uint32_t arrived = atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1;
    BB_ASSERT(arrived <= b->parties);   /* no party meets twice in one generation */
    if (arrived == b->parties) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->generation, 1, memory_order_release);
        return BB_OK;
    }
    for (unsigned spins = 0;
         atomic_load_explicit(&b->generation, memory_order_acquire) == generation; spins++) {
        if (atomic_load_explicit(&b->aborted, memory_order_relaxed)) return BB_ABORTED;
        if (spins >= SPINS_BEFORE_YIELD) sched_yield();
    }
    return BB_OK;
}

uint32_t bb_barrier_cells(const bb_barrier *b) { return b->cells; }

bool bb_barrier_takes_task(bb_barrier *b, uint32_t task, int64_t k)
{
    BB_ASSERT(task <= b->cells);
    int64_t unclaimed = k;
    return atomic_compare_exchange_strong(&b->claimed[task], &unclaimed, k + 1);
}

bool bb_barrier_is_unused(bb_barrier *b)
{
    for (uint32_t c = 0; c <= b->cells; c++)
        if (atomic_load(&b->claimed[c]) != 0) return false;
    return true;
}


