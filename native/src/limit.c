/* limit.c — loan.limit: a credit limit from several sub-models.
 * Spec: workloads/loan/limit.py (docstring). */
#include "internal.h"

int32_t bb_limit_check_params(const bb_limit_params *p)
{
    if (p->n_bands < 1 || p->n_bands > BB_LIMIT_BANDS_MAX) return BB_INVALID_ARGUMENT;
    for (int32_t b = 0; b < p->n_bands; b++) {
        if (p->band_multiplier[b] < 0) return BB_INVALID_ARGUMENT;
        /* better bands (lower index) never get a smaller multiple: limits stay monotone */
        if (b > 0 && p->band_multiplier[b] > p->band_multiplier[b - 1]) return BB_INVALID_ARGUMENT;
    }
    if (p->dti_max_bp < 0 || p->dti_max_bp > 10000) return BB_INVALID_ARGUMENT;
    for (int i = 0; i < BB_PRODUCTS; i++)
        if (p->n_periods[i] < 1 || p->n_periods[i] > BB_PERIODS_MAX || p->cap_fen[i] < 0)
            return BB_INVALID_ARGUMENT;
    if (p->inquiries_halve_at < 0 || p->inquiries_zero_at < p->inquiries_halve_at)
        return BB_INVALID_ARGUMENT;
    if (p->round_down_to_fen < 1) return BB_INVALID_ARGUMENT;
    return BB_OK;
}

/* The largest principal whose equal installment fits max_payment: floor(max_payment·S/factor). */
static int32_t affordable_principal(const bb_limit_params *p, bb_factor_cache *cache,
                                    uint8_t product, int64_t max_payment, u128 *principal)
{
    u128 factor;
    if (bb_annuity_factor_cached(cache, p->rate_ppm[product], p->n_periods[product], &factor) != BB_OK)
        return BB_RANGE_OUT_OF_BOUNDS;
    if (factor == 0)
        return bb_mul_u128_overflows((u128)max_payment, p->n_periods[product], principal)
                   ? BB_RANGE_OUT_OF_BOUNDS : BB_OK;
    *principal = bb_div_floor((u128)max_payment * BB_FIXED_SCALE, factor);
    return BB_OK;
}

uint8_t bb_limit_one(const bb_limit_params *p, bb_factor_cache *cache, uint8_t band, int64_t income_fen,
                     int64_t debt_fen, int64_t inquiries, uint8_t product, int64_t *limit_fen,
                     uint8_t *binding)
{
    *limit_fen = 0;
    *binding = BB_BINDING_REJECTED;
    if (income_fen < 0 || debt_fen < 0 || inquiries < 0 || product >= BB_PRODUCTS)
        return BB_ROW_INVALID_INPUT;
    if (band >= p->n_bands || p->band_multiplier[band] == 0) return 0;

    u128 by_band = (u128)income_fen * (u128)p->band_multiplier[band];
    u128 payment_room = bb_div_floor((u128)income_fen * (u128)p->dti_max_bp, 10000);
    u128 by_afford = 0;
    if (payment_room > (u128)debt_fen
        && affordable_principal(p, cache, product, (int64_t)(payment_room - (u128)debt_fen), &by_afford)
               != BB_OK)
        return BB_ROW_OVERFLOW;
    u128 by_cap = (u128)p->cap_fen[product];

    u128 limit = by_band;
    *binding = BB_BINDING_BAND;
    if (by_afford < limit) { limit = by_afford; *binding = BB_BINDING_AFFORDABILITY; }
    if (by_cap < limit) { limit = by_cap; *binding = BB_BINDING_PRODUCT_CAP; }
    /* limit <= cap_fen, an int64: no overflow from here on */
    BB_ASSERT(limit <= (u128)INT64_MAX);
    if (inquiries >= p->inquiries_zero_at) {
        limit = 0;
        *binding = BB_BINDING_BUREAU;
    } else if (inquiries >= p->inquiries_halve_at) {
        limit /= 2;
    }
    limit -= limit % (u128)p->round_down_to_fen;
    *limit_fen = (int64_t)limit;
    return 0;
}

int32_t bb_limit(const bb_limit_params *params, const bb_limit_inputs *in, int64_t begin,
                 int64_t end, int64_t *limit_fen, uint8_t *binding, uint8_t *status)
{
    int32_t rc = bb_limit_check_params(params);
    if (rc != BB_OK) return rc;
    static const bb_factor_cache empty;
    bb_factor_cache cache = empty;
    if (begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    for (int64_t i = begin; i < end; i++)
        status[i] = bb_limit_one(params, &cache, in->band[i], in->monthly_income_fen[i],
                                 in->monthly_debt_fen[i], in->inquiries_30d[i], in->product[i],
                                 &limit_fen[i], &binding[i]);
    return BB_OK;
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_limit_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_limit_task *t = args;
    return bb_limit(t->params, t->in, begin, end, t->limit_fen, t->binding, t->status);
}
