/* __NAME__: replace with your kernel. Fixed-width integers only, no float on a decision path,
   overflow returns a status (never wraps): the same answers on x86-64 and aarch64. */
#include "kernel.h"

#define PPM_DAYS ((int64_t)1000000 * 365)

int32_t __CPREFIX___range(const void *args, int64_t begin, int64_t end)
{
    const __CPREFIX___args *a = args;
    for (int64_t i = begin; i < end; i++) {
        int64_t product;
        if (a->balance_fen[i] < 0 || a->rate_ppm[i] < 0 ||
            __builtin_mul_overflow(a->balance_fen[i], a->rate_ppm[i], &product)) {
            return __CPREFIX___OVERFLOW;
        }
        a->interest_fen[i] = product / PPM_DAYS; /* non-negative: division is the floor */
    }
    return __CPREFIX___OK;
}

int32_t __CPREFIX___accrue(const int64_t *balance_fen, const int64_t *rate_ppm, int64_t count,
                           int64_t *interest_fen)
{
    const __CPREFIX___args args = {balance_fen, rate_ppm, interest_fen};
    return __CPREFIX___range(&args, 0, count);
}
