/* decide.c — loan.decide: fraud → score → limit → price → schedule offer, per application.
 * Spec: workloads/loan/decide.py (docstring). Composes the kernels of the other files. */
#include "internal.h"

#define ROW_NEEDS_REFERRAL (BB_ROW_INVALID_INPUT | BB_ROW_OVERFLOW | BB_ROW_OUT_OF_RANGE)

static void decide_row(bb_factor_cache *cache, const bb_scorecard *card, const bb_limit_params *limit,
                       const bb_decide_params *params, const bb_applications *apps,
                       uint8_t fraud_decision, uint8_t fraud_status, int64_t i, bb_offers *out)
{
    int32_t score;
    uint8_t band, score_decision, binding;
    int64_t limit_fen, approved = 0, installment = 0, total_interest = 0;
    uint8_t status = bb_score_one(card, apps->features, i, &score, &band, &score_decision);
    status |= bb_limit_one(limit, cache, band, apps->limit.monthly_income_fen[i],
                           apps->limit.monthly_debt_fen[i], apps->limit.inquiries_30d[i],
                           apps->limit.product[i], &limit_fen, &binding);
    uint32_t rate = band < BB_LIMIT_BANDS_MAX ? params->rate_ppm_by_band[band] : 0;
    int64_t requested = apps->event.amount_fen[i];
    uint8_t decision;
    if (fraud_decision == BB_FRAUD_REJECT) {
        decision = BB_DECISION_DECLINE;
    } else if (status & ROW_NEEDS_REFERRAL) {
        decision = BB_DECISION_REFER;
    } else if (score_decision != BB_DECISION_APPROVE || limit_fen == 0 || requested <= 0) {
        decision = BB_DECISION_DECLINE;
    } else {
        uint16_t n = apps->n_periods[i] ? apps->n_periods[i] : params->default_n_periods;
        int64_t first_payment[BB_PERIODS_MAX], total_payment;
        approved = requested < limit_fen ? requested : limit_fen;
        uint8_t offer_status = bb_schedule_one(cache, approved, rate, n, BB_METHOD_EQUAL_INSTALLMENT, 0,
                                               NULL, first_payment, NULL, NULL, NULL,
                                               &total_payment, &total_interest);
        if (offer_status != 0) {
            status |= offer_status;
            decision = BB_DECISION_REFER;
            approved = total_interest = 0;
        } else {
            installment = first_payment[0];
            decision = fraud_decision == BB_FRAUD_REVIEW ? BB_DECISION_REFER : BB_DECISION_APPROVE;
        }
    }
    out->decision[i] = decision;
    out->score[i] = score;
    out->band[i] = band;
    out->limit_fen[i] = limit_fen;
    out->approved_fen[i] = approved;
    out->rate_ppm[i] = rate;
    out->installment_fen[i] = installment;
    out->total_interest_fen[i] = total_interest;
    out->status[i] = status | fraud_status;
}

int32_t bb_decide_rows(const bb_scorecard *card, const bb_limit_params *limit,
                       const bb_decide_params *params, const bb_applications *apps,
                       const uint8_t *fraud_decision, const uint8_t *fraud_status,
                       int64_t begin, int64_t end, bb_offers *out)
{
    if (!card || begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    int32_t rc = bb_limit_check_params(limit);
    if (rc != BB_OK) return rc;
    static const bb_factor_cache empty;
    bb_factor_cache cache = empty;
    for (int64_t i = begin; i < end; i++)
        decide_row(&cache, card, limit, params, apps, fraud_decision[i], fraud_status[i], i, out);
    return BB_OK;
}

int32_t bb_decide_many(bb_fraud *fraud, const bb_fraud_rules *rules,
                       const bb_fraud_lists *lists, const bb_scorecard *card,
                       const bb_limit_params *limit, const bb_decide_params *params,
                       const bb_applications *apps, int64_t begin, int64_t end, bb_offers *out)
{
    if (!card || begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    static const bb_factor_cache empty;   /* a fresh cache per request, as a service would */
    bb_factor_cache cache = empty;
    for (int64_t row = begin; row < end; row++) {
        /* the fraud step writes its row status into out->status, which decide_row then ORs */
        out->fraud_rules[row] = 0;
        int32_t rc = bb_fraud_evaluate(fraud, &apps->event, row, row + 1, out->fraud_rules,
                                       out->status);
        if (rc != BB_OK) return rc;
        uint8_t fraud_status = out->status[row];
        uint8_t fraud_decision = bb_fraud_decide_one(rules, lists, apps->event.user_id[row],
                                                     out->fraud_rules[row], fraud_status);
        decide_row(&cache, card, limit, params, apps, fraud_decision, fraud_status, row, out);
    }
    return BB_OK;
}

int32_t bb_decide_one(bb_fraud *fraud, const bb_fraud_rules *rules, const bb_fraud_lists *lists,
                      const bb_scorecard *card, const bb_limit_params *limit,
                      const bb_decide_params *params, const bb_applications *apps, int64_t row,
                      bb_offers *out)
{
    if (row < 0) return BB_INVALID_ARGUMENT;
    return bb_decide_many(fraud, rules, lists, card, limit, params, apps, row, row + 1, out);
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
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
