/* __NAME__: replace with your kernel. Fixed-width integers only, no float on a decision path,
   overflow returns a status (never wraps): the same answers on x86-64 and aarch64. */
#include "kernel.h"

#define PPM_DAYS ((int64_t)1000000 * 365)

int32_t __CPREFIX___accrue(const int64_t *balance_fen, const int64_t *rate_ppm, int64_t count,
                           int64_t *interest_fen)
{
    for (int64_t i = 0; i < count; i++) {
        int64_t product;
        if (balance_fen[i] < 0 || rate_ppm[i] < 0 ||
            __builtin_mul_overflow(balance_fen[i], rate_ppm[i], &product)) {
            return __CPREFIX___OVERFLOW;
        }
        interest_fen[i] = product / PPM_DAYS; /* non-negative: division is the floor */
    }
    return __CPREFIX___OK;
}
