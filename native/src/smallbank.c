/* smallbank.c — ledger.smallbank: the SmallBank mix with explicit, money-conserving semantics
 * (reference/workloads.md §7 W2). Spec: workloads/ledger/smallbank.py. Customers live in cells
 * (index % cells); a batch runs its cell-local transactions first (cells in parallel), then the
 * ones between cells. */
#include <stdlib.h>
#include "internal.h"

#define WRITE_CHECK_PENALTY_FEN 100

typedef struct { int64_t checking, savings; } customer_t;  /* one cache line fetch for both */

/* Customers are stored cell by cell (customer k at slot (k % cells) * per_cell + k / cells),
 * so threads working on different cells never write to the same cache line. */
struct bb_smallbank {
    customer_t *customers;
    int64_t n, per_cell;
    uint32_t cells;
};

static inline customer_t *customer(const bb_smallbank *bank, uint32_t k)
{
    return &bank->customers[(int64_t)(k % bank->cells) * bank->per_cell + k / bank->cells];
}

static size_t customers_bytes(const bb_smallbank *bank)
{
    return (size_t)bank->per_cell * bank->cells * sizeof *bank->customers;
}

/* Group `group`'s share of rows [begin, end): one of `groups` contiguous runs, in group
 * order, their sizes at most one apart. */
static void share_of(int64_t begin, int64_t end, int32_t group, int32_t groups, int64_t *first,
                     int64_t *last)
{
    bb_near_equal_range(end - begin, groups, group, first, last);
    *first += begin;
    *last += begin;
}

/* Customers [begin, end) from balances in row order into their slots: read in order,
 * written as one stream per cell, without a division per customer. */
static void load_rows(bb_smallbank *bank, const int64_t *checking_fen, const int64_t *savings_fen,
                      int64_t begin, int64_t end)
{
    int64_t c = begin % bank->cells, k = begin / bank->cells;
    for (int64_t row = begin; row < end; row++) {
        customer_t *slot = &bank->customers[c * bank->per_cell + k];
        *slot = (customer_t){checking_fen[row], savings_fen[row]};
        if (++c == bank->cells) { c = 0; k++; }
    }
}

/* The balances of customers [begin, end), out to row order. */
static void read_rows(const bb_smallbank *bank, int64_t *checking_fen, int64_t *savings_fen,
                      int64_t begin, int64_t end)
{
    int64_t c = begin % bank->cells, k = begin / bank->cells;
    for (int64_t row = begin; row < end; row++) {
        const customer_t *slot = &bank->customers[c * bank->per_cell + k];
        checking_fen[row] = slot->checking;
        savings_fen[row] = slot->savings;
        if (++c == bank->cells) { c = 0; k++; }
    }
}

int32_t bb_smallbank_new(const int64_t *checking_fen, const int64_t *savings_fen,
                         int64_t n_customers, uint32_t cells, bb_smallbank **out)
{
    *out = NULL;
    if (n_customers < 0 || n_customers > UINT32_MAX || cells < 1 || cells > BB_CELLS_MAX)
        return BB_INVALID_ARGUMENT;
    bb_smallbank *bank = calloc(1, sizeof *bank);
    if (!bank) return BB_OUT_OF_MEMORY;
    bank->n = n_customers;
    bank->cells = cells;
    bank->per_cell = n_customers / cells + 1;
    bank->customers = bb_table_alloc(customers_bytes(bank));
    if (!bank->customers) { free(bank); return BB_OUT_OF_MEMORY; }
    if (checking_fen && savings_fen) load_rows(bank, checking_fen, savings_fen, 0, n_customers);
    *out = bank;
    return BB_OK;
}

void bb_smallbank_free(bb_smallbank *bank)
{
    if (!bank) return;
    bb_table_free(bank->customers, customers_bytes(bank));
    free(bank);
}

static bool has_two_customers(uint8_t type) { return type == BB_SB_AMALGAMATE || type == BB_SB_SEND_PAYMENT; }

/* The cell of transaction i (-1: between cells, or invalid). */
static int32_t cell_of(const bb_smallbank *bank, const bb_smallbank_txns *t, int64_t i)
{
    uint32_t a = t->customer_a[i], b = t->customer_b[i];
    int32_t home = (int32_t)(a % bank->cells);
    if (a >= bank->n || t->type[i] > BB_SB_WRITE_CHECK) return -1;
    if (!has_two_customers(t->type[i])) return home;
    return (b < bank->n && b % bank->cells == a % bank->cells) ? home : -1;
}

/* The cell of each transaction of one batch [begin, end). */
static int32_t plan_cells(const bb_smallbank *bank, const bb_smallbank_txns *t, int64_t begin,
                          int64_t end, int32_t *cell)
{
    BB_ASSERT(bank && begin >= 0 && end >= begin);
    for (int64_t i = begin; i < end; i++) cell[i - begin] = cell_of(bank, t, i);
    return BB_OK;
}

static uint8_t run_one(bb_smallbank *bank, uint8_t type, uint32_t a, uint32_t b, int64_t v,
                       int64_t *balance)
{
    *balance = 0;
    if (type > BB_SB_WRITE_CHECK || a >= bank->n || v < 0) return BB_SB_INVALID;
    if (has_two_customers(type) && (b >= bank->n || b == a)) return BB_SB_INVALID;
    customer_t *x = customer(bank, a), *y = has_two_customers(type) ? customer(bank, b) : NULL;
    int64_t sum, next;
    switch (type) {
    case BB_SB_BALANCE:
        if (__builtin_add_overflow(x->checking, x->savings, &sum)) return BB_SB_OVERFLOW;
        *balance = sum;
        return BB_SB_COMMIT;
    case BB_SB_DEPOSIT_CHECKING:
        if (__builtin_add_overflow(x->checking, v, &next)) return BB_SB_OVERFLOW;
        x->checking = next;
        return BB_SB_COMMIT;
    case BB_SB_TRANSACT_SAVINGS:
        if (x->savings < v) return BB_SB_ABORT;   /* savings may not go below zero */
        x->savings -= v;
        return BB_SB_COMMIT;
    case BB_SB_SEND_PAYMENT:
        if (x->checking < v) return BB_SB_ABORT;
        if (__builtin_add_overflow(y->checking, v, &next)) return BB_SB_OVERFLOW;
        x->checking -= v;
        y->checking = next;
        return BB_SB_COMMIT;
    case BB_SB_WRITE_CHECK: {
        int64_t charge = v;
        if (__builtin_add_overflow(x->checking, x->savings, &sum)) return BB_SB_OVERFLOW;
        if (sum < v && __builtin_add_overflow(v, WRITE_CHECK_PENALTY_FEN, &charge)) return BB_SB_OVERFLOW;
        if (__builtin_sub_overflow(x->checking, charge, &next)) return BB_SB_OVERFLOW;
        x->checking = next;   /* checking may go negative: the bank lends at a penalty */
        *balance = charge;    /* what was charged, so money can be audited from the outputs */
        return BB_SB_COMMIT;
    }
    default: /* BB_SB_AMALGAMATE: everything a holds moves to b's checking */
        if (__builtin_add_overflow(x->checking, x->savings, &sum)
            || __builtin_add_overflow(y->checking, sum, &next))
            return BB_SB_OVERFLOW;
        x->checking = x->savings = 0;
        y->checking = next;
        return BB_SB_COMMIT;
    }
}

#define PREFETCH_AHEAD 12

/* The customers are known: keep PREFETCH_AHEAD transactions' lines in flight (only this
 * run's own: a prefetch for writing takes the line from whichever core holds it). */
BB_PREFETCHES void prefetch_txn(const bb_smallbank *bank, const bb_smallbank_txns *t, int64_t i)
{
    if (t->customer_a[i] < bank->n) __builtin_prefetch(customer(bank, t->customer_a[i]), 1);
    if (t->customer_b[i] < bank->n) __builtin_prefetch(customer(bank, t->customer_b[i]), 1);
}

/* Runs transactions `rows` in that order. */
static void execute(bb_smallbank *bank, const bb_smallbank_txns *t, const int64_t *rows,
                    int64_t n_rows, uint8_t *status, int64_t *balance_fen)
{
    for (int64_t p = 0; p < n_rows && p < PREFETCH_AHEAD; p++) prefetch_txn(bank, t, rows[p]);
    for (int64_t p = 0; p < n_rows; p++) {
        if (p + PREFETCH_AHEAD < n_rows) prefetch_txn(bank, t, rows[p + PREFETCH_AHEAD]);
        int64_t i = rows[p];
        status[i] = run_one(bank, t->type[i], t->customer_a[i], t->customer_b[i], t->amount_fen[i],
                            &balance_fen[i]);
    }
}

int32_t bb_smallbank_read(const bb_smallbank *bank, int64_t *checking_fen, int64_t *savings_fen)
{
    if (!bank) return BB_INVALID_ARGUMENT;
    read_rows(bank, checking_fen, savings_fen, 0, bank->n);
    return BB_OK;
}

int32_t bb_smallbank_read_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_smallbank_read_task *t = args;
    if (!t || !t->bank || !t->checking_fen || !t->savings_fen || begin < 0 || end < begin
        || end > t->bank->n)
        return BB_INVALID_ARGUMENT;
    read_rows(t->bank, t->checking_fen, t->savings_fen, begin, end);
    return BB_OK;
}

typedef struct {
    bb_smallbank *bank;
    const bb_smallbank_txns *txns;
    bb_smallbank_results *results;
    bool classified;   /* every row's cell is in batches->cell already (classify_rows) */
} smallbank_run_t;

/* Whether classify_rows may write batches->cell: the checks bb_run_batches makes of what it
 * reads, bar the barrier's claims; every group finds the same. */
static bool classifiable(const bb_smallbank *bank, const bb_smallbank_txns *txns,
                         const bb_batches *b, int32_t group, int32_t groups,
                         const bb_barrier *barrier)
{
    if (!bank || !txns || !b || !barrier || b->n < 0 || groups < 1 || group < 0
        || group >= groups || b->cells != bank->cells || b->cells != bb_barrier_cells(barrier))
        return false;
    if (b->n == 0) return true;
    if (!b->begin || !b->end || !b->cell || b->plan_rows != 0) return false;   /* a cell per row */
    for (int64_t k = 0; k < b->n; k++)
        if (b->begin[k] < (k ? b->end[k - 1] : 0) || b->end[k] < b->begin[k]) return false;
    return true;
}

/* This group's share of every batch's rows: their cells, before any batch runs. A row's
 * cell depends on that row alone, so the groups classify in parallel and the plan is the
 * same for any group count; one thread classifying the first batch while the others waited
 * was a third of the serial share (bankbench scaling-bound), and the thread that plans the
 * next batch while the others run cells now only sorts it. */
static void classify_rows(const bb_smallbank *bank, const bb_smallbank_txns *txns,
                          const bb_batches *b, int32_t group, int32_t groups)
{
    for (int64_t k = 0; k < b->n; k++) {
        int64_t first, last;
        share_of(b->begin[k], b->end[k], group, groups, &first, &last);
        plan_cells(bank, txns, first, last, b->cell + first);
    }
}

static int32_t smallbank_plan(void *context, int64_t begin, int64_t end, int32_t *cell)
{
    smallbank_run_t *run = context;
    if (!run->classified) return plan_cells(run->bank, run->txns, begin, end, cell);
#if BB_ASSERTS
    for (int64_t i = begin; i < end; i++) BB_ASSERT(cell[i - begin] == cell_of(run->bank, run->txns, i));
#endif
    return BB_OK;
}

static int32_t smallbank_step(void *context, const bb_batches *b, int64_t k, int32_t cell,
                              int64_t first, int64_t n_rows)
{
    smallbank_run_t *run = context;   /* rows come from bb_run_batches' plan: in range */
#if BB_ASSERTS
    /* a cell's transactions touch only its customers: why cells may run in parallel */
    for (int64_t p = first; p < first + n_rows; p++) {
        int64_t row = b->order[p];
        BB_ASSERT(row >= b->begin[k] && row < b->end[k] && b->cell[row] == cell);
        BB_ASSERT(cell < 0 || run->txns->customer_a[row] % run->bank->cells == (uint32_t)cell);
    }
#endif
    execute(run->bank, run->txns, b->order + first, n_rows, run->results->status,
            run->results->balance_fen);
    return BB_OK;
}

int32_t bb_smallbank_run(bb_smallbank *bank, const bb_smallbank_txns *txns,
                         const bb_batches *batches, int32_t group, int32_t groups,
                         bb_barrier *barrier, bb_smallbank_results *results)
{
    smallbank_run_t run = {.bank = bank, .txns = txns, .results = results,
                           .classified = classifiable(bank, txns, batches, group, groups, barrier)};
    if (run.classified) {
        classify_rows(bank, txns, batches, group, groups);
        int32_t rc = bb_barrier_wait(barrier);   /* every row classified before any plan */
        if (rc != BB_OK) return rc;
    }
    /* no finish: results go straight to row order, since a transaction is a few loads and
     * stores, and a copy from a scratch table would cost more than the lines its threads
     * share */
    bb_batch_work work = {.plan = smallbank_plan, .step = smallbank_step, .context = &run,
                          .cells = bank ? bank->cells : 0, .cell_per_row = 1};
    return bb_run_batches(&work, batches, group, groups, barrier);
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_smallbank_run_groups(const void *args, int64_t begin, int64_t end)
{
    const bb_smallbank_run_task *t = args;
    if (end != begin + 1) return BB_INVALID_ARGUMENT;   /* one group per thread, all at once */
    int32_t group = (int32_t)begin;
    /* loading in parallel: on the calling thread, while the workers waited, it was an
     * eighth of the serial share. The run's first barrier (after classify_rows) orders the
     * loads before any transaction. */
    if (t->checking_fen && t->savings_fen) {
        if (!classifiable(t->bank, t->txns, t->batches, group, t->groups, t->barrier))
            return BB_INVALID_ARGUMENT;   /* every group finds the same: none waits */
        int64_t first = 0, last = 0;
        share_of(0, t->bank->n, group, t->groups, &first, &last);
        load_rows(t->bank, t->checking_fen, t->savings_fen, first, last);
    }
    return bb_smallbank_run(t->bank, t->txns, t->batches, group, t->groups, t->barrier,
                            t->results);
}
