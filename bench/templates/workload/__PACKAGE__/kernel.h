/* __NAME__: the C kernel's one header (also its cffi declarations, between the markers). */
#ifndef __GUARD___H
#define __GUARD___H

#include <stdint.h>

/* BEGIN CDEF */
/* status codes: fixed numbers */
#define __CPREFIX___OK 0
#define __CPREFIX___OVERFLOW 1

/* each account's interest for one day, floor(balance_fen * rate_ppm / (1e6 * 365)) */
int32_t __CPREFIX___accrue(const int64_t *balance_fen, const int64_t *rate_ppm, int64_t count,
                           int64_t *interest_fen);

/* one accrual's arrays, for the range task */
typedef struct {
    const int64_t *balance_fen;
    const int64_t *rate_ppm;
    int64_t *interest_fen;
} __CPREFIX___args;

/* accounts [begin, end) of one accrual (args: a __CPREFIX___args), run by bankbench's worker
   pool over ranges of any split (workloads._native.plugin_parallel_ranges): each account's
   interest depends on that account alone, so the split cannot change a result. Its status
   codes must not be the pool's own, 7 (BB_THREADS_UNAVAILABLE). */
int32_t __CPREFIX___range(const void *args, int64_t begin, int64_t end);
/* END CDEF */

#endif
