/* example.tiered_interest: one day's interest on deposits at tiered (marginal) rates.
   The kernel's one header, also its cffi declarations between the markers. */
#ifndef EXAMPLE_TIERED_INTEREST_H
#define EXAMPLE_TIERED_INTEREST_H

#include <stdint.h>

/* BEGIN CDEF */
#define EXAMPLE_TIERED_INTEREST_OK 0
#define EXAMPLE_TIERED_INTEREST_OVERFLOW 1
#define EXAMPLE_TIERED_INTEREST_BAD_INPUT 2

/* interest_fen[i] = floor(sum over tiers k of the part of balance_fen[i] in
   [upper_fen[k-1], upper_fen[k]) times rate_ppm[k], divided by 1e6 * 365) */
int32_t example_tiered_interest_accrue(const int64_t *balance_fen, int64_t count,
                                       const int64_t *upper_fen, const int64_t *rate_ppm,
                                       int64_t tier_count, int64_t *interest_fen);

/* one accrual's arrays, for the range task */
typedef struct {
    const int64_t *balance_fen;
    const int64_t *upper_fen;
    const int64_t *rate_ppm;
    int64_t tier_count;
    int64_t *interest_fen;
} example_tiered_interest_args;

/* accounts [begin, end) of one accrual (args: an example_tiered_interest_args): the core's
   pool runs it over contiguous ranges (bb_parallel_ranges: each thread's own range in pieces,
   then pieces left of the others'); each account's interest depends on that account alone,
   so the split cannot change a result */
int32_t example_tiered_interest_range(const void *args, int64_t begin, int64_t end);
/* END CDEF */

#endif
