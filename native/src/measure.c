/* measure.c — the window of one measured call, for `bankbench run --measure instructions`.
 *
 * The worker runs under Valgrind's callgrind, which zeroes its counts on entry to
 * bb_measure_begin and writes them to a dump on entry to bb_measure_end (--zero-before and
 * --dump-before name these functions), so interpreter start-up, data generation and output
 * checks are never counted. They are kept out of line (noinline, and a volatile store the
 * compiler must keep) so each call is a function entry Valgrind sees.
 *
 * Instrumenting everything (start-up, imports, data generation) costs ~50x native time;
 * bb_measure_instrumentation lets the worker run uninstrumented (~5x) and instrument only
 * around its measured calls. It needs Valgrind's client requests (callgrind.h, shipped
 * with the valgrind package); a core built without them runs instrumented throughout,
 * which counts the same, only slower. Outside Valgrind every one of these does nothing. */
#include "internal.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BB_HAS_CALLGRIND_REQUESTS 1
#endif
#endif

static volatile int32_t bb_measure_window_open;

__attribute__((noinline)) void bb_measure_begin(void) { bb_measure_window_open = 1; }

__attribute__((noinline)) void bb_measure_end(void) { bb_measure_window_open = 0; }

int32_t bb_measure_instrumentation(int32_t on)
{
#ifdef BB_HAS_CALLGRIND_REQUESTS
    if (on) {
        CALLGRIND_START_INSTRUMENTATION;   /* also empties the simulated caches */
    } else {
        CALLGRIND_STOP_INSTRUMENTATION;
    }
    return 1;
#else
    (void)on;
    return 0;
#endif
}
