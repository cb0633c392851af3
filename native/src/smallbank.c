/* smallbank.c — ledger.smallbank: the SmallBank mix with explicit, money-conserving semantics
 * (reference/workloads.md §7 W2). Spec: workloads/ledger/smallbank.py. Customers live in cells
 * (index % cells); a batch runs its cell-local transactions first (cells in parallel), then the
 * ones between cells. */
#include <stdlib.h>
#include "internal.h"

#define WRITE_CHECK_PENALTY_FEN 100

typedef struct { int64_t checking, savings; } customer_t;  /* one cache line fetch for both */

struct bb_smallbank {
    customer_t *customers;
    int64_t n;
    uint32_t cells;
};

int32_t bb_smallbank_new(const int64_t *checking_fen, const int64_t *savings_fen,
                         int64_t n_customers, uint32_t cells, bb_smallbank **out)
{
    *out = NULL;
    if (n_customers < 0 || n_customers > UINT32_MAX || cells < 1 || cells > BB_CELLS_MAX)
        return BB_INVALID_ARGUMENT;
    bb_smallbank *bank = calloc(1, sizeof *bank);
    if (!bank) return BB_OUT_OF_MEMORY;
    bank->customers = malloc(((size_t)n_customers + 1) * sizeof *bank->customers);
    if (!bank->customers) { free(bank); return BB_OUT_OF_MEMORY; }
    bb_advise_huge(bank->customers, ((size_t)n_customers + 1) * sizeof *bank->customers);
    for (int64_t i = 0; i < n_customers; i++)
        bank->customers[i] = (customer_t){checking_fen[i], savings_fen[i]};
    bank->n = n_customers;
    bank->cells = cells;
    *out = bank;
    return BB_OK;
}

void bb_smallbank_free(bb_smallbank *bank)
{
    if (!bank) return;
    free(bank->customers);
    free(bank);
}

static int two_customers(uint8_t type) { return type == BB_SB_AMALGAMATE || type == BB_SB_SEND_PAYMENT; }

int32_t bb_smallbank_plan(const bb_smallbank *bank, const bb_smallbank_txns *t, int64_t begin,
                          int64_t end, int32_t *cell)
{
    if (!bank || begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    for (int64_t i = begin; i < end; i++) {
        uint32_t a = t->customer_a[i], b = t->customer_b[i];
        int32_t home = (int32_t)(a % bank->cells);
        if (a >= bank->n || t->type[i] > BB_SB_WRITE_CHECK) cell[i] = -1;
        else if (!two_customers(t->type[i])) cell[i] = home;
        else cell[i] = (b < bank->n && b % bank->cells == a % bank->cells) ? home : -1;
    }
    return BB_OK;
}

static uint8_t run_one(bb_smallbank *bank, uint8_t type, uint32_t a, uint32_t b, int64_t v,
                       int64_t *balance)
{
    *balance = 0;
    if (type > BB_SB_WRITE_CHECK || a >= bank->n || v < 0) return BB_SB_INVALID;
    if (two_customers(type) && (b >= bank->n || b == a)) return BB_SB_INVALID;
    customer_t *x = &bank->customers[a], *y = two_customers(type) ? &bank->customers[b] : NULL;
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

int32_t bb_smallbank_execute(bb_smallbank *bank, const bb_smallbank_txns *t, int64_t begin,
                             int64_t end, int32_t cell_first, int32_t cell_step,
                             uint8_t *status, int64_t *balance_fen)
{
    if (!bank || begin < 0 || end < begin || cell_step < 1 || cell_first < -1) return BB_INVALID_ARGUMENT;
    for (int64_t i = begin; i < end; i++) {
        int64_t ahead = i + PREFETCH_AHEAD;   /* the customers are known: hide the memory latency */
        if (ahead < end && t->customer_a[ahead] < bank->n) {
            __builtin_prefetch(&bank->customers[t->customer_a[ahead]], 1);
            if (t->customer_b[ahead] < bank->n) __builtin_prefetch(&bank->customers[t->customer_b[ahead]], 1);
        }
        int32_t cell = t->cell[i];
        if (cell_first < 0 ? cell >= 0 : (cell < cell_first || (cell - cell_first) % cell_step != 0))
            continue;
        status[i] = run_one(bank, t->type[i], t->customer_a[i], t->customer_b[i], t->amount_fen[i],
                            &balance_fen[i]);
    }
    return BB_OK;
}

int32_t bb_smallbank_read(const bb_smallbank *bank, int64_t *checking_fen, int64_t *savings_fen)
{
    if (!bank) return BB_INVALID_ARGUMENT;
    for (int64_t i = 0; i < bank->n; i++) {
        checking_fen[i] = bank->customers[i].checking;
        savings_fen[i] = bank->customers[i].savings;
    }
    return BB_OK;
}
