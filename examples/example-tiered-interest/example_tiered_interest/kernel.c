/* example.tiered_interest: tiered (marginal) deposit interest, exact integer fen. Each tier's
   part of the balance times its rate is summed exactly, then floored once, so the answer does
   not depend on how the tiers are cut. Overflow is a status, never a wrap. */
#include "kernel.h"

#define PPM_DAYS ((int64_t)1000000 * 365)

int32_t example_tiered_interest_range(const void *args, int64_t begin, int64_t end)
{
    const example_tiered_interest_args *a = args;
    if (a->tier_count < 1) return EXAMPLE_TIERED_INTEREST_BAD_INPUT;
    for (int64_t i = begin; i < end; i++) {
        const int64_t balance = a->balance_fen[i];
        if (balance < 0) return EXAMPLE_TIERED_INTEREST_BAD_INPUT;
        int64_t numerator = 0, lower = 0;
        for (int64_t k = 0; k < a->tier_count && balance > lower; k++) {
            const int64_t top = balance < a->upper_fen[k] ? balance : a->upper_fen[k];
            int64_t product;
            if (__builtin_mul_overflow(top - lower, a->rate_ppm[k], &product) ||
                __builtin_add_overflow(numerator, product, &numerator)) {
                return EXAMPLE_TIERED_INTEREST_OVERFLOW;
            }
            lower = a->upper_fen[k];
        }
        a->interest_fen[i] = numerator / PPM_DAYS; /* non-negative: division is the floor */
    }
    return EXAMPLE_TIERED_INTEREST_OK;
}

int32_t example_tiered_interest_accrue(const int64_t *balance_fen, int64_t count,
                                       const int64_t *upper_fen, const int64_t *rate_ppm,
                                       int64_t tier_count, int64_t *interest_fen)
{
    const example_tiered_interest_args args = {balance_fen, upper_fen, rate_ppm, tier_count,
                                               interest_fen};
    return example_tiered_interest_range(&args, 0, count);
}
