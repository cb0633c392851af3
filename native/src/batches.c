/* batches.c — the loop each thread of a sharded run of many batches runs (ledger.post,
 * ledger.smallbank; see bb_batches in bankcore.h): per batch, claim and run cells (the first
 * out of cells planning the next batch), meet, then the cross-cell events and the opening of
 * the next batch on group 0 while the last group copies the batch before's results to row
 * order, where they went to a scratch table; meet. The threads meet at barrier.c's barrier
 * and claim tasks there. */
#include "internal.h"

/* The batches in order, without overlap, over the barrier's and the workload's cells, with
 * a clock where the workload needs one and a cell for every row where it keeps one; the
 * barrier unused (its claims count batches from 0: one barrier serves one run). Checked by
 * every thread before the first meeting, so before any claim. */
static bool run_is_valid(const bb_batch_work *w, const bb_batches *b, int32_t group,
                         int32_t groups, bb_barrier *barrier)
{
    if (!b || b->n < 0 || groups < 1 || group < 0 || group >= groups
        || b->cells != bb_barrier_cells(barrier) || !bb_barrier_is_unused(barrier))
        return false;
    if (b->n == 0) return true;
    if (b->cells != w->cells || (w->clocked && !b->timestamp)) return false;
    if (w->cell_per_row && b->plan_rows != 0) return false;
    if (!b->begin || !b->end || !b->cell || !b->order || !b->start || b->plan_rows < 0) return false;
    for (int64_t k = 0; k < b->n; k++) {
        if (b->begin[k] < (k ? b->end[k - 1] : 0) || b->end[k] < b->begin[k]) return false;
        if (b->plan_rows && b->end[k] - b->begin[k] > b->plan_rows) return false;
    }
    return true;
}

/* Batch k's cells, row i's at [i - begin[k]]: the plan's one slot, or the run's rows. */
static int32_t *batch_cells(const bb_batches *b, int64_t k)
{
    return b->plan_rows ? b->cell : b->cell + b->begin[k];
}

/* Batch k's rows grouped in order: the cross-cell ones first, then cell by cell, each in
 * batch order (a counting sort on cell + 1); `next` has room for cells + 1 cursors. */
static int32_t order_batch(const bb_batches *b, int64_t k, int64_t *next)
{
    int64_t begin = b->begin[k], end = b->end[k], base = bb_batch_base(b, k);
    const int32_t *cell = batch_cells(b, k);
    int64_t *start = b->start + k * ((int64_t)b->cells + 2);
    for (uint32_t q = 0; q < b->cells + 2; q++) start[q] = 0;
    for (int64_t i = begin; i < end; i++) {
        if (cell[i - begin] < -1 || cell[i - begin] >= (int32_t)b->cells) return BB_INVALID_ARGUMENT;
        start[cell[i - begin] + 2]++;
    }
    start[0] = base;
    for (uint32_t q = 1; q < b->cells + 2; q++) start[q] += start[q - 1];
    for (uint32_t q = 0; q < b->cells + 1; q++) next[q] = start[q];
    for (int64_t i = begin; i < end; i++) b->order[next[cell[i - begin] + 1]++] = i;
    for (uint32_t q = 0; q < b->cells + 1; q++) BB_ASSERT(next[q] == start[q + 1]);   /* all placed */
    BB_ASSERT(start[b->cells + 1] == base + (end - begin));
    return BB_OK;
}

static int32_t plan_batch(const bb_batch_work *w, const bb_batches *b, int64_t k, int64_t *next)
{
    int32_t rc = w->plan(w->context, b->begin[k], b->end[k], batch_cells(b, k));
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
        if (bb_barrier_takes_task(barrier, c, k)) rc = step_cell(w, b, k, (int32_t)c);
    for (uint32_t c = b->cells; rc == BB_OK && c-- > 0;)
        if (c % (uint32_t)groups != (uint32_t)group && bb_barrier_takes_task(barrier, c, k))
            rc = step_cell(w, b, k, (int32_t)c);
    if (rc == BB_OK && k + 1 < b->n && bb_barrier_takes_task(barrier, b->cells, k))
        rc = plan_batch(w, b, k + 1, next);
    return rc;
}

/* What group 0 does alone while every other group waits at the barrier: before the first
 * batch (k < 0), planning and opening it; after batch k's cells, its cross-cell events and
 * opening batch k + 1. */
static inline int32_t run_alone(const bb_batch_work *w, const bb_batches *b, int64_t k,
                                int64_t *next)
{
    if (k < 0) {
        int32_t rc = plan_batch(w, b, 0, next);
        return rc == BB_OK && w->open ? w->open(w->context, b, 0) : rc;
    }
    int32_t rc = step_cell(w, b, k, -1);
    return rc == BB_OK && w->open && k + 1 < b->n ? w->open(w->context, b, k + 1) : rc;
}

/* run_alone while other groups wait. Not inlined: the serial share (bench/serial_share.py)
 * counts the instructions of these sections by this name. A run of one group calls
 * run_alone itself: nothing waits, and the whole call is serial already. */
__attribute__((noinline)) static int32_t bb_batches_alone(const bb_batch_work *w,
                                                          const bb_batches *b, int64_t k,
                                                          int64_t *next)
{
    return run_alone(w, b, k, next);
}

static int32_t group_zero_alone(const bb_batch_work *w, const bb_batches *b, int64_t k,
                                int32_t groups, int64_t *next)
{
    return groups > 1 ? bb_batches_alone(w, b, k, next) : run_alone(w, b, k, next);
}

int32_t bb_run_batches(const bb_batch_work *w, const bb_batches *b, int32_t group,
                       int32_t groups, bb_barrier *barrier)
{
    if (!barrier) return BB_INVALID_ARGUMENT;
    int32_t rc = run_is_valid(w, b, group, groups, barrier) ? BB_OK : BB_INVALID_ARGUMENT;
    if (rc == BB_OK && b->cells > BB_CELLS_MAX) rc = BB_INVALID_ARGUMENT;
    int64_t next[BB_CELLS_MAX + 1];   /* 8 KiB in the frame, not a malloc per run */
    if (rc == BB_OK && group == 0 && b->n > 0) rc = group_zero_alone(w, b, -1, groups, next);
    if (rc == BB_OK) rc = bb_barrier_wait(barrier);
    bool finisher = group == groups - 1;   /* idle while group 0 runs the cross-cell events */
    for (int64_t k = 0; rc == BB_OK && k < b->n; k++) {
        rc = run_cells(w, b, k, group, groups, barrier, next);
        if (rc == BB_OK) rc = bb_barrier_wait(barrier);
        if (rc == BB_OK && group == 0) rc = group_zero_alone(w, b, k, groups, next);
        if (rc == BB_OK && w->finish && finisher && k > 0) w->finish(w->context, b, k - 1);
        if (rc == BB_OK) rc = bb_barrier_wait(barrier);
    }
    if (rc == BB_OK && w->finish && finisher && b->n > 0) w->finish(w->context, b, b->n - 1);
    if (rc != BB_OK && rc != BB_ABORTED) bb_barrier_abort(barrier);
    return rc;
}
