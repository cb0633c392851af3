/* tasks.c — each workload's parallel work in the shape the pool calls (bb_task_fn: a range
 * of rows, groups or cells): the kernels' own entry points, their arguments unpacked from
 * one struct. The pool (pool.c) decides which thread runs which range; every kernel here
 * writes only its own range's outputs, so that choice never changes a result. */
#define _GNU_SOURCE   /* sched_getcpu */
#include <sched.h>
#include "internal.h"

int32_t bb_score_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_score_task *t = args;
    return bb_score(t->card, t->features, begin, end, t->score, t->band, t->decision, t->status,
                    t->missing_variables);
}

int32_t bb_limit_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_limit_task *t = args;
    return bb_limit(t->params, t->in, begin, end, t->limit_fen, t->binding, t->status);
}

int32_t bb_schedule_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_schedule_task *t = args;
    return bb_schedule(t->loans, t->offsets, begin, end, t->rows, t->totals);
}

int32_t bb_decide_rows_task(const void *args, int64_t begin, int64_t end)
{
    const bb_decide_task *t = args;
    return bb_decide_rows(t->card, t->limit, t->params, t->apps, t->fraud_decision,
                          t->fraud_status, begin, end, t->out);
}

int32_t bb_decide_serve_shards(const void *args, int64_t begin, int64_t end)
{
    const bb_decide_serve_task *t = args;
    if (t->batch_size < 1) return BB_INVALID_ARGUMENT;
    for (int64_t shard = begin; shard < end; shard++) {
        const bb_decide_session *s = &t->sessions[shard];
        int64_t *took = t->took_ns + t->took_first[shard];
        for (int64_t first = t->bounds[shard]; first < t->bounds[shard + 1];
             first += t->batch_size) {
            int64_t last = t->bounds[shard + 1] - first < t->batch_size ? t->bounds[shard + 1]
                                                                       : first + t->batch_size;
            int64_t start_ns = bb_now_ns();
            int32_t rc = bb_decide_many(s->fraud, s->rules, s->lists, s->card, s->limit,
                                        s->params, s->apps, first, last, s->out);
            if (rc != BB_OK) return rc;
            *took++ = bb_now_ns() - start_ns;
        }
    }
    return BB_OK;
}

int32_t bb_fraud_evaluate_groups(const void *args, int64_t begin, int64_t end)
{
    const bb_fraud_evaluate_task *t = args;
    for (int64_t g = begin; g < end; g++) {
        for (uint32_t family = 1; family <= BB_FAMILY_ALL; family <<= 1) {
            if (!(t->families[g] & family)) continue;
            bb_fraud *state;
            int32_t rc = bb_fraud_new(t->rules, t->lists, family, &state);
            if (rc == BB_OK) {
                rc = bb_fraud_evaluate(state, t->events, 0, t->n_events, t->matched[g],
                                       t->status[g]);
                bb_fraud_free(state);   /* before the next family: one state's tables at a time */
            }
            if (rc != BB_OK) return rc;
        }
    }
    return BB_OK;
}

int32_t bb_fraud_decide_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_fraud_decide_task *t = args;
    return bb_fraud_decide(t->rules, t->lists, t->events, t->matched, t->status, begin, end,
                           t->decision);
}

int32_t bb_ledger_run_groups(const void *args, int64_t begin, int64_t end)
{
    const bb_ledger_run_task *t = args;
    if (end != begin + 1) return BB_INVALID_ARGUMENT;   /* one group per thread, all at once */
    return bb_ledger_run(t->ledger, t->transfers, t->batches, (int32_t)begin, t->groups,
                         t->barrier, t->scratch, t->results);
}

int32_t bb_smallbank_run_groups(const void *args, int64_t begin, int64_t end)
{
    const bb_smallbank_run_task *t = args;
    if (end != begin + 1) return BB_INVALID_ARGUMENT;   /* one group per thread, all at once */
    return bb_smallbank_run(t->bank, t->txns, t->batches, (int32_t)begin, t->groups, t->barrier,
                            t->results);
}

int32_t bb_eod_run_cells(const void *args, int64_t begin, int64_t end)
{
    const bb_eod_run_task *t = args;
    for (int64_t cell = begin; cell < end; cell++) {   /* a step of `cells`: only this cell */
        int32_t rc = bb_eod_run(t->eod, t->days, (int32_t)cell, t->cells, t->report);
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}

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
