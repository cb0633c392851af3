/* eod.c — ledger.eod: end-of-day loan servicing. Spec: workloads/ledger/eod.py; the reference,
 * step for step: workloads/ledger/_eod_reference.py. Schedules come from the loan.schedule kernel
 * (bb_schedule_one) and every posting goes through the ledger (bb_ledger_execute): no second copy
 * of either. Each cell is an independent branch, so cells run on different threads. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define BUCKETS 5
#define TB_LINKED 1
#define NS_PER_DAY 86400000000000ULL
#define LEDGER_CNY 156
#define ID_SEQUENCE_START 1000000000ULL   /* transfer ids of the days: seq * cells + cell */
enum { CODE_INCOME = 11, CODE_ACCRUAL = 12, CODE_PENALTY = 13, CODE_REPAYMENT = 14 };

typedef struct {
    int64_t principal_not_due, accrued_not_due, penalty_due;
    int64_t principal_due_unpaid, interest_due_unpaid;
    /* what is unpaid of installment first_unpaid, once it has fallen due: the waterfall pays
     * the oldest first, so only it can be part paid; those after it owe their whole amounts */
    int64_t head_principal_unpaid, head_interest_unpaid;
    int64_t first_row;            /* this loan's installment 0 in the row arrays */
    int32_t period_start;         /* the day the current interest period began */
    int32_t dpd;
    uint32_t rate_ppm;
    uint16_t n, next_due, first_unpaid;
    uint16_t kept;                /* installments in the row arrays: those due by the last day,
                                     and the one after (its interest accrues) */
    uint8_t bucket;
} loan_t;

typedef struct {                  /* one cell's postings of one step, as ledger columns */
    uint64_t *id, *debit, *credit, *amount, *zero64;
    uint32_t *zero32, *ledger;
    uint16_t *code, *flags;
    int64_t *rows;                /* 0, 1, 2, ...: every posting is the cell's own */
    uint64_t *result_timestamp;
    uint32_t *result_status;
    int64_t size, capacity;
} postings_t;

/* A cell's own counter, 128 bytes from the next cell's: cells run on different threads, and
 * counters sharing a line passed it between them on every posting. */
typedef struct {
    uint64_t next;                /* the cell's next transfer sequence number */
    unsigned char apart[120];
} cell_sequence_t;

_Static_assert(sizeof(cell_sequence_t) == 128, "a cell's counter is 128 bytes from the next");

struct bb_eod {
    bb_ledger *ledger;
    const bb_eod_loans *in;       /* the caller's columns (kept alive by the caller) */
    bb_eod_gl gl;
    uint32_t cells;
    int32_t start_day;
    int32_t days;                 /* bb_eod_run runs at most these */
    int64_t n_loans;
    /* the loans in cell order, cell c's at [cell_start[c], cell_start[c + 1]): each thread
     * writes a block of its own, not every eighth loan of lines its neighbours write too */
    loan_t *loans;
    int64_t *loan_of;             /* per position in loans: the loan's row in the inputs */
    int64_t *cell_start;          /* cells + 1 */
    cell_sequence_t *sequence;
    /* per kept installment row; big tables (tables.c) sized for every installment, of which
     * only the kept rows are written: the rest of the block is never touched */
    int64_t rows_reserved;
    int32_t *due_day;
    int64_t *principal, *interest;
};

static void postings_free(postings_t *p)
{
    free(p->id); free(p->debit); free(p->credit); free(p->amount); free(p->zero64);
    free(p->zero32); free(p->ledger); free(p->code); free(p->flags); free(p->rows);
    free(p->result_timestamp); free(p->result_status);
}

static int32_t postings_init(postings_t *p, int64_t capacity)
{
    size_t n = (size_t)capacity + 1;
    memset(p, 0, sizeof *p);
    p->capacity = capacity;
    p->id = calloc(n, 8); p->debit = calloc(n, 8); p->credit = calloc(n, 8);
    p->amount = calloc(n, 8); p->zero64 = calloc(n, 8); p->zero32 = calloc(n, 4);
    p->ledger = calloc(n, 4); p->code = calloc(n, 2); p->flags = calloc(n, 2);
    p->rows = calloc(n, 8); p->result_timestamp = calloc(n, 8); p->result_status = calloc(n, 4);
    if (!p->id || !p->debit || !p->credit || !p->amount || !p->zero64 || !p->zero32 || !p->ledger
        || !p->code || !p->flags || !p->rows || !p->result_timestamp || !p->result_status) {
        postings_free(p);
        return BB_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < n; i++) p->rows[i] = (int64_t)i;
    return BB_OK;
}

static void add(bb_eod *e, postings_t *p, uint32_t cell, uint64_t debit, uint64_t credit,
                int64_t amount, uint16_t code, uint16_t flags)
{
    int64_t i = p->size++;
    p->id[i] = e->sequence[cell].next++ * e->cells + cell;
    p->debit[i] = debit;
    p->credit[i] = credit;
    p->amount[i] = (uint64_t)amount;
    p->ledger[i] = LEDGER_CNY;
    p->code[i] = code;
    p->flags[i] = flags;
}

/* Posts a cell's step through the ledger; every posting must be created. */
static int32_t post_all(bb_eod *e, postings_t *p, uint64_t timestamp)
{
    if (p->size == 0) return BB_OK;
    bb_ledger_transfers t = {
        .id = p->id, .debit_account_id = p->debit, .credit_account_id = p->credit,
        .amount = p->amount, .pending_id = p->zero64, .user_data_64 = p->zero64,
        .user_data_32 = p->zero32, .timeout = p->zero32, .ledger = p->ledger, .code = p->code,
        .flags = p->flags, .timestamp = p->zero64,
    };
    bb_ledger_results r = {.timestamp = p->result_timestamp, .status = p->result_status};
    int32_t rc = bb_ledger_execute_planned(e->ledger, &t, 0, p->size, timestamp, p->rows, p->size, &r);
    if (rc != BB_OK) return rc;
    for (int64_t i = 0; i < p->size; i++)
        if (p->result_status[i] != BB_TB_CREATED) return BB_RECONCILIATION_FAILED;
    p->size = 0;
    return BB_OK;
}

static int64_t balance_of(const bb_eod *e, uint64_t id, int debit_normal)
{
    uint64_t dp, dpo, cp, cpo;
    if (!bb_ledger_account_found(e->ledger, id, &dp, &dpo, &cp, &cpo)) return INT64_MIN;
    return debit_normal ? (int64_t)(dpo - cpo) : (int64_t)(cpo - dpo - dp);
}

static int32_t day_of_month(int32_t day)   /* days since 1970-01-01 → 1..31 */
{
    int64_t z = (int64_t)day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    return (int32_t)(doy - (153 * mp + 2) / 5 + 1);
}

static uint8_t bucket_of(int32_t dpd)
{
    if (dpd == 0) return 0;
    if (dpd <= 30) return 1;
    if (dpd <= 60) return 2;
    if (dpd <= 90) return 3;
    return 4;
}

/* Installment k (first_unpaid <= k < next_due) starts at its scheduled amounts. */
static void make_head(const bb_eod *e, loan_t *l, uint16_t k)
{
    l->head_principal_unpaid = e->principal[l->first_row + k];
    l->head_interest_unpaid = e->interest[l->first_row + k];
}

/* What is unpaid of a fallen-due installment k (first_unpaid <= k < next_due). */
static int64_t principal_unpaid(const bb_eod *e, const loan_t *l, uint16_t k)
{
    return k == l->first_unpaid ? l->head_principal_unpaid : e->principal[l->first_row + k];
}

/* Interest accrued by day d of a period [start, due] (integer allocation: exact on the due day). */
static int64_t accrued_by(int64_t interest, int32_t start, int32_t due, int32_t d)
{
    if (d <= start) return 0;
    if (d >= due) return interest;
    uint64_t elapsed = (uint64_t)(d - start), period = (uint64_t)(due - start);   /* < 2^32 */
    /* an installment's interest below 2^32 fen (any micro-loan's) keeps the product in 64
     * bits: one division instruction instead of the library's 128-bit one (__udivti3) */
    if ((uint64_t)interest <= UINT32_MAX) return (int64_t)((uint64_t)interest * elapsed / period);
    return (int64_t)(((u128)interest * elapsed) / period);
}

static int32_t run_cell_day(bb_eod *e, uint32_t cell, int32_t day_index, postings_t *p,
                            bb_eod_report *report)
{
    const bb_eod_loans *in = e->in;
    int32_t day = e->start_day + day_index;
    int64_t row = (int64_t)day_index * e->cells + cell;
    int64_t accrued = 0, penalty = 0, collected = 0, overdue = 0;
    uint32_t active = 0, counts[BUCKETS] = {0};
    uint64_t stamp = (uint64_t)(day_index + 1) * NS_PER_DAY;
    int32_t rc;

    /* 1. salaries come in */
    int32_t dom = day_of_month(day);
    for (int64_t at = e->cell_start[cell]; at < e->cell_start[cell + 1]; at++) {
        int64_t i = e->loan_of[at];
        if (in->tops_up[i] && in->salary_day[i] == dom && in->monthly_income_fen[i] > 0)
            add(e, p, cell, e->gl.settlement[cell], in->deposit_account_id[i],
                in->monthly_income_fen[i], CODE_INCOME, 0);
    }
    if ((rc = post_all(e, p, stamp)) != BB_OK) return rc;

    /* 2. per loan: accrue, fall due, penalty, auto-debit, overdue transition */
    int64_t accrual_at = p->size;
    add(e, p, cell, e->gl.interest_receivable[cell], e->gl.interest_income[cell], 0, CODE_ACCRUAL, 0);
    add(e, p, cell, e->gl.penalty_receivable[cell], e->gl.penalty_income[cell], 0, CODE_PENALTY, 0);
    for (int64_t at = e->cell_start[cell]; at < e->cell_start[cell + 1]; at++) {
        int64_t i = e->loan_of[at];
        loan_t *l = &e->loans[at];
        if (l->next_due == l->n && l->first_unpaid == l->n && l->penalty_due == 0) continue;
        active++;
        if (l->next_due < l->n) {                       /* accrue today's share */
            BB_ASSERT(l->next_due < l->kept);
            int64_t r = l->first_row + l->next_due;
            int64_t today = accrued_by(e->interest[r], l->period_start, e->due_day[r], day)
                          - accrued_by(e->interest[r], l->period_start, e->due_day[r], day - 1);
            l->accrued_not_due += today;
            accrued += today;
        }
        while (l->next_due < l->n && e->due_day[l->first_row + l->next_due] == day) {  /* fall due */
            BB_ASSERT(l->next_due < l->kept);
            int64_t r = l->first_row + l->next_due;
            if (l->first_unpaid == l->next_due) make_head(e, l, l->next_due);
            l->principal_not_due -= e->principal[r];
            l->accrued_not_due -= e->interest[r];
            l->principal_due_unpaid += e->principal[r];
            l->interest_due_unpaid += e->interest[r];
            l->period_start = day;
            l->next_due++;
        }
        int64_t overdue_principal = 0;                  /* due before today and still unpaid */
        for (uint16_t k = l->first_unpaid; k < l->next_due; k++)
            if (e->due_day[l->first_row + k] < day) overdue_principal += principal_unpaid(e, l, k);
        int64_t fine = (int64_t)bb_div_round_half_up((u128)overdue_principal * l->rate_ppm * 3,
                                                     (u128)720000000);   /* ×1.5, ACT/360 */
        l->penalty_due += fine;
        penalty += fine;
        overdue += overdue_principal;
        int64_t owed = l->penalty_due + l->interest_due_unpaid + l->principal_due_unpaid;
        if (owed > 0) {                                 /* auto-debit what the deposit holds */
            int64_t available = balance_of(e, in->deposit_account_id[i], 0);
            int64_t pay = available < owed ? (available > 0 ? available : 0) : owed;
            int64_t to_penalty = pay < l->penalty_due ? pay : l->penalty_due;
            int64_t left = pay - to_penalty, to_interest = 0, to_principal = 0;
            l->penalty_due -= to_penalty;
            /* oldest first: installment k owes interest_left and principal_left */
            uint16_t k = l->first_unpaid;
            int64_t interest_left = l->head_interest_unpaid, principal_left = l->head_principal_unpaid;
            while (k < l->next_due && left > 0) {
                int64_t x = left < interest_left ? left : interest_left;
                interest_left -= x;
                left -= x;
                to_interest += x;
                int64_t y = left < principal_left ? left : principal_left;
                principal_left -= y;
                left -= y;
                to_principal += y;
                if (left == 0 || k + 1 == l->next_due) break;
                k++;                                    /* paid in full: the next one, whole */
                interest_left = e->interest[l->first_row + k];
                principal_left = e->principal[l->first_row + k];
            }
            l->interest_due_unpaid -= to_interest;
            l->principal_due_unpaid -= to_principal;
            if (k < l->next_due) {                      /* every one before k is paid */
                l->first_unpaid = k;
                l->head_interest_unpaid = interest_left;
                l->head_principal_unpaid = principal_left;
            }
            while (l->first_unpaid < l->next_due && l->head_interest_unpaid == 0
                   && l->head_principal_unpaid == 0) {
                l->first_unpaid++;
                if (l->first_unpaid < l->next_due) make_head(e, l, l->first_unpaid);
            }
            uint64_t deposit = in->deposit_account_id[i];
            int parts = (to_penalty > 0) + (to_interest > 0) + (to_principal > 0);
            if (to_penalty > 0)
                add(e, p, cell, deposit, e->gl.penalty_receivable[cell], to_penalty, CODE_REPAYMENT,
                    --parts ? TB_LINKED : 0);
            if (to_interest > 0)
                add(e, p, cell, deposit, e->gl.interest_receivable[cell], to_interest, CODE_REPAYMENT,
                    --parts ? TB_LINKED : 0);
            if (to_principal > 0)
                add(e, p, cell, deposit, in->loan_account_id[i], to_principal, CODE_REPAYMENT, 0);
            collected += pay;
        }
        l->dpd = l->first_unpaid < l->next_due ? day - e->due_day[l->first_row + l->first_unpaid] + 1 : 0;
        l->bucket = bucket_of(l->dpd);
        counts[l->bucket]++;
    }
    p->amount[accrual_at] = (uint64_t)accrued;
    p->amount[accrual_at + 1] = (uint64_t)penalty;
    if ((rc = post_all(e, p, stamp + NS_PER_DAY / 2)) != BB_OK) return rc;

    /* 3. reconcile: the sub-ledger must equal the GL, or the run fails */
    int64_t interest_book = 0, penalty_book = 0;
    for (int64_t at = e->cell_start[cell]; at < e->cell_start[cell + 1]; at++) {
        const loan_t *l = &e->loans[at];
        interest_book += l->accrued_not_due + l->interest_due_unpaid;
        penalty_book += l->penalty_due;
        if (balance_of(e, in->loan_account_id[e->loan_of[at]], 1)
            != l->principal_not_due + l->principal_due_unpaid)
            return BB_RECONCILIATION_FAILED;
    }
    if (balance_of(e, e->gl.interest_receivable[cell], 1) != interest_book
        || balance_of(e, e->gl.penalty_receivable[cell], 1) != penalty_book)
        return BB_RECONCILIATION_FAILED;

    report->active[row] = active;
    memcpy(&report->bucket_count[row * BUCKETS], counts, sizeof counts);
    report->overdue_principal_fen[row] = overdue;
    report->collected_fen[row] = collected;
    report->penalty_fen[row] = penalty;
    report->accrued_fen[row] = accrued;
    return BB_OK;
}

/* bb_eod_new's loans in three steps: each range of loans checked and its kept installments
 * counted (parallel), the loans laid out in cell order with their first rows (serial, a few
 * adds a loan), each range's schedules computed into their rows (parallel). A schedule is
 * most of the work (bb_schedule_one: ~2,000 instructions a loan), and in one thread it was
 * 70 % of ledger.eod's serial instructions (bankbench scaling-bound). */
typedef struct {
    bb_eod *e;
    bb_due_limit last;   /* the last day bb_eod_run may run */
    uint32_t *cell;      /* per loan: its cell (step 1) */
    uint16_t *kept;      /* per loan: its installments kept (step 1) */
} eod_new_task;

static int32_t count_kept(const void *args, int64_t begin, int64_t end)
{
    const eod_new_task *t = args;
    bb_eod *e = t->e;
    const bb_eod_loans *in = e->in;
    for (int64_t i = begin; i < end; i++) {
        uint32_t cell = bb_cell_of(in->loan_account_id[i], e->cells);
        int32_t due = bb_due_by(in->n_periods[i], in->first_due_day[i], &t->last);
        if (due < 0 || in->first_due_day[i] <= e->start_day
            || bb_cell_of(in->deposit_account_id[i], e->cells) != cell)
            return BB_INVALID_ARGUMENT;
        t->cell[i] = cell;
        /* due days increase: those by the last day, then one more (its interest accrues) */
        t->kept[i] = (uint16_t)(due < in->n_periods[i] ? due + 1 : due);
    }
    return BB_OK;
}

static int32_t fill_schedules(const void *args, int64_t begin, int64_t end)
{
    const eod_new_task *t = args;
    bb_eod *e = t->e;
    const bb_eod_loans *in = e->in;
    static const bb_factor_cache empty;
    bb_factor_cache cache = empty;
    int32_t due_day[BB_PERIODS_MAX];
    int64_t principal[BB_PERIODS_MAX], interest[BB_PERIODS_MAX];
    for (int64_t at_loan = begin; at_loan < end; at_loan++) {   /* positions in cell order */
        int64_t i = e->loan_of[at_loan];
        loan_t *l = &e->loans[at_loan];
        int64_t total_payment, total_interest, at = l->first_row;
        uint16_t kept = l->kept;
        uint8_t status = bb_schedule_one(&cache, in->principal_fen[i], in->annual_rate_ppm[i],
                                         in->n_periods[i], BB_METHOD_EQUAL_INSTALLMENT,
                                         in->first_due_day[i], due_day, NULL, principal,
                                         interest, NULL, &total_payment, &total_interest);
        if (status != 0) return BB_INVALID_ARGUMENT;
        /* bb_due_by's count is the schedule's: the installments kept all fall due by the
         * last day but the last one kept, which falls due after it unless it is the last */
        int64_t last_day = (int64_t)e->start_day + e->days - 1;
        BB_ASSERT(kept >= 1 && kept <= in->n_periods[i]);
        BB_ASSERT(kept == in->n_periods[i] || due_day[kept - 1] > last_day);
        BB_ASSERT(kept == 1 || due_day[kept - 2] <= last_day);
        memcpy(e->due_day + at, due_day, kept * sizeof *due_day);
        memcpy(e->principal + at, principal, kept * sizeof *principal);
        memcpy(e->interest + at, interest, kept * sizeof *interest);
        *l = (loan_t){.principal_not_due = in->principal_fen[i], .first_row = at,
                      .period_start = e->start_day, .rate_ppm = in->annual_rate_ppm[i],
                      .n = in->n_periods[i], .kept = kept};
    }
    return BB_OK;
}

int32_t bb_eod_new(bb_ledger *ledger, const bb_eod_loans *in, int64_t n_loans, const bb_eod_gl *gl,
                   uint32_t cells, int32_t start_day, int32_t days, int32_t threads, bb_eod **out)
{
    *out = NULL;
    if (!ledger || n_loans < 0 || cells < 1 || cells > BB_CELLS_MAX || days < 0 || threads < 1)
        return BB_INVALID_ARGUMENT;
    bb_eod *e = calloc(1, sizeof *e);
    if (!e) return BB_OUT_OF_MEMORY;
    e->ledger = ledger;
    e->in = in;
    e->gl = *gl;
    e->cells = cells;
    e->start_day = start_day;
    e->days = days;
    e->n_loans = n_loans;
    int64_t rows = 0;
    for (int64_t i = 0; i < n_loans; i++) {
        if (in->n_periods[i] < 1 || in->n_periods[i] > BB_PERIODS_MAX) { bb_eod_free(e); return BB_INVALID_ARGUMENT; }
        rows += in->n_periods[i];
    }
    e->loans = calloc((size_t)n_loans + 1, sizeof *e->loans);
    e->rows_reserved = rows + 1;
    e->due_day = bb_table_alloc((size_t)e->rows_reserved * sizeof *e->due_day);
    e->principal = bb_table_alloc((size_t)e->rows_reserved * sizeof *e->principal);
    e->interest = bb_table_alloc((size_t)e->rows_reserved * sizeof *e->interest);
    e->loan_of = malloc(((size_t)n_loans + 1) * sizeof *e->loan_of);
    e->cell_start = calloc((size_t)cells + 1, sizeof *e->cell_start);
    e->sequence = calloc(cells, sizeof *e->sequence);
    eod_new_task task = {.e = e, .cell = malloc(((size_t)n_loans + 1) * sizeof *task.cell),
                         .kept = malloc(((size_t)n_loans + 1) * sizeof *task.kept)};
    int64_t *next = malloc(((size_t)cells + 1) * sizeof *next);   /* per cell: its next position */
    bb_due_limit_of((int64_t)start_day + days - 1, &task.last);
    int32_t rc = BB_OUT_OF_MEMORY;
    if (e->loans && e->due_day && e->principal && e->interest && e->loan_of && e->cell_start
        && e->sequence && task.cell && task.kept && next)
        rc = bb_parallel_ranges(count_kept, &task, n_loans, threads);
    if (rc == BB_OK) {   /* each cell's loans in loan order, and their rows in that order */
        for (int64_t i = 0; i < n_loans; i++) e->cell_start[task.cell[i] + 1]++;
        for (uint32_t c = 0; c < cells; c++) {
            e->cell_start[c + 1] += e->cell_start[c];
            next[c] = e->cell_start[c];
            e->sequence[c].next = ID_SEQUENCE_START;
        }
        for (int64_t i = 0; i < n_loans; i++) {
            int64_t at_loan = next[task.cell[i]]++;
            e->loan_of[at_loan] = i;
            e->loans[at_loan].kept = task.kept[i];
        }
        int64_t row = 0;
        for (int64_t at_loan = 0; at_loan < n_loans; at_loan++) {
            e->loans[at_loan].first_row = row;
            row += e->loans[at_loan].kept;
        }
        rc = bb_parallel_ranges(fill_schedules, &task, n_loans, threads);
    }
    free(task.cell);
    free(task.kept);
    free(next);
    if (rc != BB_OK) {
        bb_eod_free(e);
        return rc;
    }
    *out = e;
    return BB_OK;
}

void bb_eod_free(bb_eod *e)
{
    if (!e) return;
    free(e->loan_of); free(e->cell_start); free(e->sequence); free(e->loans);
    bb_table_free(e->due_day, (size_t)e->rows_reserved * sizeof *e->due_day);
    bb_table_free(e->principal, (size_t)e->rows_reserved * sizeof *e->principal);
    bb_table_free(e->interest, (size_t)e->rows_reserved * sizeof *e->interest);
    free(e);
}

int32_t bb_eod_run(bb_eod *e, int32_t days, int32_t cell_first, int32_t cell_step,
                   bb_eod_report *report)
{
    if (!e || days < 0 || days > e->days || cell_first < 0 || cell_step < 1)
        return BB_INVALID_ARGUMENT;
    for (uint32_t c = (uint32_t)cell_first; c < e->cells; c += (uint32_t)cell_step) {
        postings_t p;
        int32_t rc = postings_init(&p, 3 * (e->cell_start[c + 1] - e->cell_start[c]) + 2);
        if (rc != BB_OK) return rc;
        for (int32_t d = 0; d < days; d++) {
            rc = run_cell_day(e, c, d, &p, report);
            if (rc != BB_OK) { postings_free(&p); return rc; }
        }
        postings_free(&p);
    }
    return BB_OK;
}

int32_t bb_eod_read_loans(const bb_eod *e, bb_eod_loan_state *out)
{
    if (!e) return BB_INVALID_ARGUMENT;
    for (int64_t at = 0; at < e->n_loans; at++) {
        const loan_t *l = &e->loans[at];
        int64_t i = e->loan_of[at];
        out->principal_outstanding_fen[i] = l->principal_not_due + l->principal_due_unpaid;
        out->interest_unpaid_fen[i] = l->accrued_not_due + l->interest_due_unpaid;
        out->penalty_unpaid_fen[i] = l->penalty_due;
        out->days_past_due[i] = l->dpd;
        out->bucket[i] = l->bucket;
    }
    return BB_OK;
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_eod_run_cells(const void *args, int64_t begin, int64_t end)
{
    const bb_eod_run_task *t = args;
    for (int64_t cell = begin; cell < end; cell++) {   /* a step of `cells`: only this cell */
        int32_t rc = bb_eod_run(t->eod, t->days, (int32_t)cell, t->cells, t->report);
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}
