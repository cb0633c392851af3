/* internal.h — helpers shared by the core's .c files (not part of the public API). */
#ifndef BANKCORE_INTERNAL_H
#define BANKCORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "bankcore.h"

/* BB_ASSERT(condition): an invariant the code relies on (not a check of input: input gets a
 * status). On in the test, sanitizer and fuzz builds (BANKBENCH_ASSERTS=1 at build time:
 * -DBB_ASSERTS=1, recorded in native.build_info()); compiled out of the release build, where
 * it costs nothing and evaluates nothing. Plain assert() would not do: the interpreter's
 * CFLAGS carry -DNDEBUG, so it would vanish from the test builds too. A failure prints the
 * condition and where it is, then aborts, so the process dies loudly and the test fails. */
#if BB_ASSERTS
#include <stdio.h>
#include <stdlib.h>
#define BB_ASSERT(condition) \
    ((condition) ? (void)0 : bb_assert_failed(#condition, __FILE__, __LINE__, __func__))
__attribute__((noreturn, cold)) static inline void bb_assert_failed(const char *condition,
                                                                    const char *file, int line,
                                                                    const char *function)
{
    fprintf(stderr, "bankcore: assertion failed: %s (%s:%d, %s)\n", condition, file, line,
            function);
    fflush(stderr);
    abort();
}
#else
#define BB_ASSERT(condition) ((void)sizeof((condition) ? 1 : 0))   /* type-checked, not run */
#endif

__extension__ typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)

/* Fixed-point scale of the annuity factor: S = 10^15 (workloads.md §4.2). */
#define BB_FIXED_SCALE ((u128)1000000000000000ULL)
/* Monthly interest divisor: annual ppm → per month is balance·ppm / (12·10^6). */
#define BB_MONTHLY_DIVISOR ((u128)12000000ULL)

/* Rounding helpers, named by mode. Non-negative operands only; d > 0. */
static inline u128 bb_div_floor(u128 n, u128 d) { return n / d; }
static inline u128 bb_div_round_half_up(u128 n, u128 d)
{
    u128 q = n / d, r = n % d;
    return (r >= d - r) ? q + 1 : q;   /* r ≥ d/2 without computing 2r (no overflow) */
}

/* The convention for the core's helpers: one that does something returns a status (BB_OK,
 * or an error code); one that answers a question says so in its name (is_…, …_overflows,
 * …_contains) and returns bool. */

/* Checked arithmetic: whether the result overflows (then *out is not written); never wraps. */
static inline bool bb_mul_u128_overflows(u128 a, u128 b, u128 *out)
{
    if (a != 0 && b > U128_MAX / a) return true;
    *out = a * b;
    return false;
}
static inline bool bb_add_i64_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_add_overflow(a, b, out);
}
static inline bool bb_u128_to_i64_overflows(u128 v, int64_t *out)
{
    if (v > (u128)INT64_MAX) return true;
    *out = (int64_t)v;
    return false;
}

/* The annuity factor for (rate, n) in units of S; 0 when the rate is 0. BB_OK, or
 * BB_RANGE_OUT_OF_BOUNDS when an intermediate overflows. */
int32_t bb_annuity_factor(uint32_t annual_rate_ppm, uint16_t n_periods, u128 *factor);

/* A per-call, direct-mapped cache of annuity factors: a book has few (rate, term) pairs and
 * each factor costs n 128-bit divisions. Zero-initialise before use; one per thread. */
#define BB_FACTOR_CACHE_SIZE 256
typedef struct {
    u128 factor[BB_FACTOR_CACHE_SIZE];
    uint32_t rate_ppm[BB_FACTOR_CACHE_SIZE];
    uint16_t n_periods[BB_FACTOR_CACHE_SIZE];
    uint8_t state[BB_FACTOR_CACHE_SIZE];     /* 0 empty, 1 factor, 2 overflow */
} bb_factor_cache;
int32_t bb_annuity_factor_cached(bb_factor_cache *cache, uint32_t annual_rate_ppm,
                                 uint16_t n_periods, u128 *factor);
int32_t bb_annuity_payment_cached(bb_factor_cache *cache, int64_t principal_fen,
                                  uint32_t annual_rate_ppm, uint16_t n_periods,
                                  int64_t *payment_fen);

/* A last day as bb_due_by compares with it (its civil date read once for many loans). */
typedef struct {
    int64_t day, year, month, day_of_month, month_end;
} bb_due_limit;
void bb_due_limit_of(int64_t last_day, bb_due_limit *out);
/* How many of a loan's n_periods installments fall due on or before the last day (the due
 * days bb_schedule_one gives), without the amounts; -1 for a first due day or a number of
 * periods bb_schedule_one refuses. */
int32_t bb_due_by(uint16_t n_periods, int32_t first_due_day, const bb_due_limit *last);

/* One loan's schedule into caller-sized arrays (n_periods entries each, may be NULL
 * for a column not wanted). Returns a BB_ROW_* status (0 = fine). */
uint8_t bb_schedule_one(bb_factor_cache *cache, int64_t principal_fen, uint32_t annual_rate_ppm, uint16_t n_periods,
                        uint8_t method, int32_t first_due_day, int32_t *due_day,
                        int64_t *payment_fen, int64_t *principal_part_fen, int64_t *interest_fen,
                        int64_t *balance_after_fen, int64_t *total_payment_fen,
                        int64_t *total_interest_fen);

/* One applicant's limit; returns a BB_ROW_* status. */
uint8_t bb_limit_one(const bb_limit_params *p, bb_factor_cache *cache, uint8_t band, int64_t income_fen,
                     int64_t debt_fen, int64_t inquiries, uint8_t product, int64_t *limit_fen,
                     uint8_t *binding);

/* One applicant's score over columns at row; returns a BB_ROW_* status. */
uint8_t bb_score_one(const bb_scorecard *card, const bb_feature_columns *features, int64_t row,
                     int32_t *score, uint8_t *band, uint8_t *decision);

/* Fraud decision for one event from its matched bits. */
uint8_t bb_fraud_decide_one(const bb_fraud_rules *rules, const bb_fraud_lists *lists,
                            uint64_t user_id, uint32_t matched, uint8_t status);

/* ---- hashmap.c: open addressing, uint64 key → uint32 value ---- */
/* 12 bytes, not 16: the key in two halves keeps the entry 4-byte aligned (read whole with
 * memcpy), and key 0 marks a free slot, so no flag pads it; key 0 itself lives beside the
 * table. A map of ids takes a quarter less memory and a probe reads fewer lines. */
typedef struct {
    uint32_t key[2];
    uint32_t value;
} bb_map_entry;

_Static_assert(sizeof(bb_map_entry) == 12, "a map entry is a key and a value, no padding");

typedef struct {
    bb_map_entry *entries;
    size_t capacity;    /* a power of two */
    size_t size;        /* keys in the table (key 0 is beside it) */
    uint32_t zero_value;
    uint32_t has_zero;
} bb_map;

/* tables.c: zeroed, 64-byte aligned memory for a big table (NULL when out of memory; on
 * transparent huge pages where Linux has them), freed with the same byte count. */
void *bb_table_alloc(size_t bytes);
/* The same for a table every slot of which is written before it is read (the ledger's
 * records): a small one is not cleared by hand first (at ledger.post's scale 0.05 clearing
 * its eight 0.8 MB record tables cost 10 M instructions, serially). */
void *bb_table_alloc_unzeroed(size_t bytes);
void bb_table_free(void *block, size_t bytes);

/* BB_OK or BB_OUT_OF_MEMORY */
int32_t bb_map_init(bb_map *m, size_t capacity);
void bb_map_free(bb_map *m);
int32_t bb_map_grow(bb_map *m);
/* Room for `more` keys at once: one rehash, not a doubling per step. */
int32_t bb_map_reserve(bb_map *m, size_t more);
/* A map grows past three quarters full: linear probing stays short, and the tables stay
 * small enough for the caches. */
#define BB_MAP_FULL(size, capacity) (4 * (size) > 3 * (capacity))

/* A helper a hot loop needs inlined where the compiler's own count would call it (a call
 * per event costs more than its body: fraud.c's evaluate_one, score.c's bins). */
#define BB_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Part p's range [begin, end) of n items in `parts` near-equal ranges, in part order, the
 * first n % parts of them one longer: how every parallel call splits uniform work. */
static inline void bb_near_equal_range(int64_t n, int64_t parts, int64_t p, int64_t *begin,
                                       int64_t *end)
{
    int64_t each = n / parts, extra = n % parts;
    *begin = p * each + (p < extra ? p : extra);
    *end = *begin + each + (p < extra);
}

/* For a helper that only prefetches: GCC counts a prefetch as no side effect, so it finds
 * such a function pure and deletes every call to it (GCC 12 does); inlined first, the
 * prefetches stay. */
#define BB_PREFETCHES BB_ALWAYS_INLINE

/* The lookups are inline: they run several times per event on every hot path. */
static inline uint64_t bb_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t bb_map_key(const bb_map_entry *e)
{
    uint64_t key;
    memcpy(&key, e->key, sizeof key);
    return key;
}

/* The slot of key, or of the free slot where it would go (key 0: the first free slot). The
 * _hashed forms take the key's bb_mix64 from a caller that has it already (the ledger
 * hashes an event's ids once, when it prefetches their lines). */
static inline size_t bb_map_slot_hashed(const bb_map *m, uint64_t key, uint64_t hash)
{
    size_t mask = m->capacity - 1, i = (size_t)hash & mask;
    uint64_t at;
    while ((at = bb_map_key(&m->entries[i])) != 0 && at != key) i = (i + 1) & mask;
    return i;
}

static inline size_t bb_map_slot(const bb_map *m, uint64_t key)
{
    return bb_map_slot_hashed(m, key, bb_mix64(key));
}

static inline const uint32_t *bb_map_get_hashed(const bb_map *m, uint64_t key, uint64_t hash)
{
    const bb_map_entry *e = &m->entries[bb_map_slot_hashed(m, key, hash)];
    if (bb_map_key(e) != 0) return &e->value;
    return key == 0 && m->has_zero ? &m->zero_value : NULL;   /* a miss, or key 0 */
}

static inline const uint32_t *bb_map_get(const bb_map *m, uint64_t key)
{
    return bb_map_get_hashed(m, key, bb_mix64(key));
}

/* Finds key; if absent inserts it with value `fresh`. NULL when out of memory. */
static inline uint32_t *bb_map_upsert_hashed(bb_map *m, uint64_t key, uint64_t hash, uint32_t fresh,
                                             int *inserted)
{
    if (BB_MAP_FULL(m->size + 1, m->capacity) && bb_map_grow(m) != BB_OK) return NULL;
    bb_map_entry *e = &m->entries[bb_map_slot_hashed(m, key, hash)];
    *inserted = bb_map_key(e) == 0;
    if (*inserted && key == 0) {   /* key 0 would read as a free slot: kept beside the table */
        *inserted = !m->has_zero;
        if (*inserted) m->zero_value = fresh;
        m->has_zero = 1;
        return &m->zero_value;
    }
    if (*inserted) {
        memcpy(e->key, &key, sizeof key);
        e->value = fresh;
        m->size++;
    }
    return &e->value;
}

static inline uint32_t *bb_map_upsert(bb_map *m, uint64_t key, uint32_t fresh, int *inserted)
{
    return bb_map_upsert_hashed(m, key, bb_mix64(key), fresh, inserted);
}

/* The cell of an id: id % cells, without a division when cells is a power of two (the usual
 * configuration; a 64-bit division costs tens of cycles, several times per event). */
static inline uint32_t bb_cell_of(uint64_t id, uint32_t cells)
{
    return (cells & (cells - 1)) == 0 ? (uint32_t)(id & (cells - 1)) : (uint32_t)(id % cells);
}

/* barrier.c: BB_OK once every party has arrived (their writes before it are visible after
 * it), BB_ABORTED when the barrier was aborted. */
/* Waiting (pool.c). A waiter yields in a loop before it sleeps (the pool's always, the
 * barrier's when every party has a CPU of its own): a sleeper leaves its vCPU idle, and a VM
 * takes tens of µs to wake an idle vCPU. bb_yields_before_sleep yields once and says yes
 * until window_ns after its first call (*until_ns 0 before it). Within a call (the barrier's
 * waiters, a call with more threads than CPUs) the window is BB_POOL_WAIT_YIELD_NS, longer than
 * a VM's idle-vCPU wake-up; between the calls of a pool whose threads each have a CPU it is
 * the pool's idle_yield_ns (pool.c). */
bool bb_yields_before_sleep(int64_t *until_ns, int64_t window_ns);
/* The pool's hand-over (pool.c), which the dispatch floor's probe times as it is: the waiter
 * returns once *word moves on from value (its new value), after spinning spins_max times,
 * yielding for up to yield_ns, then sleeping with *parked set; the mover bumps *word and
 * wakes it only if it sleeps. */
uint32_t bb_pool_wait(_Atomic uint32_t *word, uint32_t value, _Atomic uint32_t *parked,
                      unsigned spins_max, int64_t yield_ns);
void bb_pool_move_on(_Atomic uint32_t *word, _Atomic uint32_t *parked);
uint32_t bb_cpus_online(void);
/* The pool's sleep: bb_park sleeps while *word == value (or until a wake-up; a caller looks
 * again); bb_unpark wakes every sleeper of word (a futex on Linux). */
void bb_park(_Atomic uint32_t *word, uint32_t value);
void bb_unpark(_Atomic uint32_t *word);
/* A thread of the core (pool.c): every signal blocked in it, so a SIGTERM or Ctrl-C reaches
 * the thread that runs Python; whether it started. */
bool bb_start_thread(pthread_t *thread, void *(*fn)(void *), void *argument);
int32_t bb_barrier_wait(bb_barrier *barrier);
void bb_barrier_abort(bb_barrier *barrier);
/* The next of a run's tasks handed out in turn: 0, 1, 2, ... (one counter per barrier). */
int64_t bb_barrier_next_task(bb_barrier *barrier);
uint32_t bb_barrier_cells(const bb_barrier *barrier);
/* Whether this thread takes task `task` of batch k (runs its events of cell `task`, or, as
 * task == cells, plans batch k + 1): the first to ask does. */
bool bb_barrier_takes_task(bb_barrier *barrier, uint32_t task, int64_t k);
/* Whether no task was ever claimed (a barrier serves one run: claims count from batch 0). */
bool bb_barrier_is_unused(bb_barrier *barrier);
/* batches.c: the loop of a sharded run. */
/* The cell of each row of one batch [begin, end) (-1 = cross-cell): row i's in cell[i - begin]. */
typedef int32_t (*bb_batch_plan)(void *context, int64_t begin, int64_t end, int32_t *cell);
/* Batch k's events of one cell (-1: the cross-cell ones): n_rows rows from position first
 * of batches->order, in batch order (their results may go to a scratch table, in the same
 * order, for a finish to copy to row order; batches k and k + 1 are in it at once). */
typedef int32_t (*bb_batch_step)(void *context, const bb_batches *batches, int64_t k,
                                 int32_t cell, int64_t first, int64_t n_rows);
/* Batch k's results from the scratch to row order (NULL: the steps wrote row order). */
typedef void (*bb_batch_finish)(void *context, const bb_batches *batches, int64_t k);
/* What must happen before any event of batch k and touches state of several cells (the
 * ledger's expiry of pending transfers that span cells): run by group 0 alone, before the
 * first batch's cells and after each batch's cross-cell events (NULL: nothing). */
typedef int32_t (*bb_batch_open)(void *context, const bb_batches *batches, int64_t k);
/* What a workload gives the loop: its callbacks, their context, and what its batches
 * must match (checked with the rest of the batches before any work). */
typedef struct {
    bb_batch_plan plan;
    bb_batch_step step;
    bb_batch_finish finish;
    bb_batch_open open;
    void *context;
    uint32_t cells;   /* the workload state's cell count (0: no state) */
    int clocked;      /* the steps read batches->timestamp */
    int cell_per_row;   /* batches->cell holds a cell for every row of the run (smallbank
                           classifies them all before the first batch): no plan in
                           batch-sized slots (plan_rows) */
} bb_batch_work;
/* Where batch k's rows start in batches->order: at its first row, or in slot k % 3 of a
 * plan of batch-sized slots (bb_batches.plan_rows). */
static inline int64_t bb_batch_base(const bb_batches *b, int64_t k)
{
    return b->plan_rows ? (k % 3) * b->plan_rows : b->begin[k];
}
/* One thread's share of a sharded run (the loop of bb_ledger_run and bb_smallbank_run). */
int32_t bb_run_batches(const bb_batch_work *work, const bb_batches *batches, int32_t group,
                       int32_t groups, bb_barrier *barrier);

/* bb_ledger_execute for rows the core planned itself (strictly increasing in [begin, end),
 * asserted, not checked): ledger.post's cells and eod's postings. */
int32_t bb_ledger_execute_planned(bb_ledger *ledger, const bb_ledger_transfers *in, int64_t begin,
                                  int64_t end, uint64_t batch_timestamp, const int64_t *rows,
                                  int64_t n_rows, bb_ledger_results *out);

/* Whether the ledger has an account of this id; its balances when it has. */
bool bb_ledger_account_found(const bb_ledger *ledger, uint64_t id, uint64_t *debits_pending,
                             uint64_t *debits_posted, uint64_t *credits_pending,
                             uint64_t *credits_posted);

/* Whether a strictly increasing array holds key (binary search): the fraud block and allow
 * lists, and any other sorted id list. */
static inline bool bb_sorted_contains(const uint64_t *values, int64_t n, uint64_t key)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (values[mid] < key) lo = mid + 1; else hi = mid;
    }
    return lo < n && values[lo] == key;
}

#endif
