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
/* END CDEF */

#endif
