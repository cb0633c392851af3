/* barrier.c — the threads of one sharded run of many batches: the loop each runs, and the
 * barrier where they meet twice per batch (after the cells' events, after the cross-cell
 * ones); a Python thread pool costs ~100 µs a meeting, this a few µs. Waiters spin briefly,
 * then yield the CPU (a machine may have fewer free cores than threads). A thread that fails
 * aborts the barrier, so the others return instead of waiting for it forever. */
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
};

int32_t bb_barrier_new(uint32_t parties, bb_barrier **out)
{
    *out = NULL;
    if (parties < 1) return BB_INVALID_ARGUMENT;
    bb_barrier *b = malloc(sizeof *b);
    if (!b) return BB_OUT_OF_MEMORY;
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
    atomic_init(&b->aborted, 0);
    b->parties = parties;
    *out = b;
    return BB_OK;
}

void bb_barrier_free(bb_barrier *b) { free(b); }

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

int32_t bb_run_batches(bb_batch_step step, void *context, const bb_batches *batches,
                       int32_t group, int32_t groups, bb_barrier *barrier)
{
    if (!barrier) return BB_INVALID_ARGUMENT;
    int32_t rc = BB_OK;
    if (!batches || batches->n < 0 || groups < 1 || group < 0 || group >= groups
        || (batches->n > 0 && (!batches->begin || !batches->end)))
        rc = BB_INVALID_ARGUMENT;
    for (int64_t k = 0; rc == BB_OK && k < batches->n; k++) {
        int64_t begin = batches->begin[k], end = batches->end[k];
        uint64_t stamp = batches->timestamp ? batches->timestamp[k] : 0;
        rc = step(context, begin, end, stamp, group, groups);
        if (rc == BB_OK && !bb_barrier_wait(barrier)) rc = BB_ABORTED;
        if (rc == BB_OK && group == 0) rc = step(context, begin, end, stamp, -1, 1);
        if (rc == BB_OK && !bb_barrier_wait(barrier)) rc = BB_ABORTED;
    }
    if (rc != BB_OK && rc != BB_ABORTED) bb_barrier_abort(barrier);
    return rc;
}
