/* barrier.c — where the threads of one sharded run meet (twice per batch; the loop is in
 * batches.c), and their claims on a batch's tasks. A Python thread pool costs ~100 µs a
 * meeting, this a few µs. Waiters spin briefly; when every party has a CPU of its own they
 * then yield for up to 100 µs (a sleeper's idle vCPU takes a VM tens of µs to wake: a third
 * of ledger.eod's and smallbank's 2 threads on a quiet host); then they sleep on the
 * generation word (a futex on Linux, woken by the last to arrive; elsewhere they yield).
 * With more threads than CPUs they do not yield: a waiter that kept yielding took the CPU
 * from the thread it waited for (ledger.post, 16 threads on 2 CPUs: ~300,000 involuntary
 * context switches per run, now under 1,000).
 * A thread that fails aborts the barrier, so the others return instead of waiting for it
 * forever (a sleeper looks again every millisecond). */
#define _GNU_SOURCE   /* sched_yield, syscall */
#include <sched.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include "internal.h"

#define SPINS_BEFORE_SLEEP 256

struct bb_barrier {
    _Atomic uint32_t sleepers;   /* waiters asleep on generation: the last wakes them */
    _Atomic uint32_t arrived;
    _Atomic uint32_t generation;
    _Atomic int aborted;
    uint32_t parties;
    uint32_t cells;
    bool yields;   /* a CPU per party: waiters yield before they sleep (bb_yields_before_sleep) */
    _Atomic int64_t *claimed;   /* per cell, then for planning: how many batches claimed */
    _Atomic int64_t next_task;  /* bb_barrier_next_task */
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
    atomic_init(&b->sleepers, 0);
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
    atomic_init(&b->aborted, 0);
    atomic_init(&b->next_task, 0);
    b->parties = parties;
    b->cells = cells;
    b->yields = parties <= bb_cpus_online();
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

static void wake_all(bb_barrier *b)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)&b->generation, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
#else
    (void)b;
#endif
}

/* Until the generation moves on, a wake-up, or a millisecond (then the caller looks at the
 * abort flag again). */
static void sleep_while(bb_barrier *b, uint32_t generation)
{
#if defined(__linux__)
    struct timespec tick = {0, 1000000};
    atomic_fetch_add(&b->sleepers, 1);
    syscall(SYS_futex, (uint32_t *)&b->generation, FUTEX_WAIT_PRIVATE, generation, &tick, NULL, 0);
    atomic_fetch_sub(&b->sleepers, 1);
#else
    (void)b;
    (void)generation;
    sched_yield();
#endif
}

int32_t bb_barrier_wait(bb_barrier *b)
{
    uint32_t generation = atomic_load_explicit(&b->generation, memory_order_acquire);
    if (atomic_load(&b->aborted)) return BB_ABORTED;
    uint32_t arrived = atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) + 1;
    BB_ASSERT(arrived <= b->parties);   /* no party meets twice in one generation */
    if (arrived == b->parties) {
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        /* sequentially consistent with the sleepers' count: either a sleeper is counted
         * here, or its futex sees the new generation and does not sleep */
        atomic_fetch_add(&b->generation, 1);
        if (atomic_load(&b->sleepers)) wake_all(b);
        return BB_OK;
    }
    int64_t yield_until_ns = 0;
    for (unsigned spins = 0;
         atomic_load_explicit(&b->generation, memory_order_acquire) == generation; spins++) {
        if (atomic_load_explicit(&b->aborted, memory_order_relaxed)) return BB_ABORTED;
        if (spins < SPINS_BEFORE_SLEEP) continue;
        if (b->yields && bb_yields_before_sleep(&yield_until_ns, BB_POOL_WAIT_YIELD_NS)) continue;
        sleep_while(b, generation);
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

int64_t bb_barrier_next_task(bb_barrier *b)
{
    return atomic_fetch_add_explicit(&b->next_task, 1, memory_order_relaxed);
}

bool bb_barrier_is_unused(bb_barrier *b)
{
    for (uint32_t c = 0; c <= b->cells; c++)
        if (atomic_load(&b->claimed[c]) != 0) return false;
    return true;
}


