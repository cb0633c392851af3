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
    for (int64_t i = 0; i < n_customers; i++)
        *customer(bank, (uint32_t)i) = (customer_t){checking_fen[i], savings_fen[i]};
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

/* The cell of each transaction of one batch [begin, end) (-1: between cells, or invalid). */
static int32_t plan_cells(const bb_smallbank *bank, const bb_smallbank_txns *t, int64_t begin,
                          int64_t end, int32_t *cell)
{
    BB_ASSERT(bank && begin >= 0 && end >= begin);
    for (int64_t i = begin; i < end; i++) {
        uint32_t a = t->customer_a[i], b = t->customer_b[i];
        int32_t home = (int32_t)(a % bank->cells);
        if (a >= bank->n || t->type[i] > BB_SB_WRITE_CHECK) cell[i] = -1;
        else if (!has_two_customers(t->type[i])) cell[i] = home;
        else cell[i] = (b < bank->n && b % bank->cells == a % bank->cells) ? home : -1;
    }
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
    for (int64_t i = 0; i < bank->n; i++) {
        const customer_t *c = customer(bank, (uint32_t)i);
        checking_fen[i] = c->checking;
        savings_fen[i] = c->savings;
    }
    return BB_OK;
}

typedef struct {
    bb_smallbank *bank;
    const bb_smallbank_txns *txns;
    bb_smallbank_results *results;
} smallbank_run_t;

static int32_t smallbank_plan(void *context, int64_t begin, int64_t end, int32_t *cell)
{
    smallbank_run_t *run = context;
    return plan_cells(run->bank, run->txns, begin, end, cell);
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
    smallbank_run_t run = {.bank = bank, .txns = txns, .results = results};
    /* no finish: results go straight to row order, since a transaction is a few loads and
     * stores, and a copy from a scratch table would cost more than the lines its threads
     * share */
    bb_batch_work work = {.plan = smallbank_plan, .step = smallbank_step, .context = &run,
                          .cells = bank ? bank->cells : 0};
    return bb_run_batches(&work, batches, group, groups, barrier);
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_smallbank_run_groups(const void *args, int64_t begin, int64_t end)
{
    const bb_smallbank_run_task *t = args;
    if (end != begin + 1) return BB_INVALID_ARGUMENT;   /* one group per thread, all at once */
    return bb_smallbank_run(t->bank, t->txns, t->batches, (int32_t)begin, t->groups, t->barrier,
                            t->results);
}
