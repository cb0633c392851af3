/* schedule.c — loan.schedule: equal-installment (等额本息) and equal-principal (等额本金)
 * repayment schedules in integer fen. Spec: workloads/loan/schedule.py (docstring). */
#include "internal.h"

/* ---- calendar: days since 1970-01-01 ↔ civil date (H. Hinnant's algorithms) ---- */
#define DAY_MIN (-719162)    /* 0001-01-01, as Python's datetime.date.min */
#define DAY_MAX 2932896      /* 9999-12-31, as Python's datetime.date.max */

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return (m == 2 && leap) ? 29 : days[m - 1];
}

/* Same day of month as the first due day, months_later months on, clamped to month end. */
static int64_t add_months(int64_t y, int64_t m, int64_t d, int64_t months_later)
{
    int64_t index = y * 12 + (m - 1) + months_later;
    int64_t year = index / 12, month = index % 12 + 1;
    int64_t last = days_in_month(year, month);
    return days_from_civil(year, month, d < last ? d : last);
}

/* ---- the annuity factor (workloads.md §4.2) ---- */
int32_t bb_annuity_factor(uint32_t annual_rate_ppm, uint16_t n_periods, u128 *factor)
{
    u128 rate_scaled = bb_div_floor((u128)annual_rate_ppm * BB_FIXED_SCALE, BB_MONTHLY_DIVISOR);
    if (rate_scaled == 0) { *factor = 0; return BB_OK; }
    u128 growth = BB_FIXED_SCALE, product;
    for (uint16_t k = 0; k < n_periods; k++) {
        if (bb_mul_u128_overflows(growth, BB_FIXED_SCALE + rate_scaled, &product))
            return BB_RANGE_OUT_OF_BOUNDS;
        growth = bb_div_floor(product, BB_FIXED_SCALE);
    }
    if (bb_mul_u128_overflows(rate_scaled, growth, &product)) return BB_RANGE_OUT_OF_BOUNDS;
    BB_ASSERT(n_periods == 0 || growth > BB_FIXED_SCALE);
    if (growth == BB_FIXED_SCALE) return BB_RANGE_OUT_OF_BOUNDS;   /* n = 0: no factor */
    *factor = bb_div_floor(product, growth - BB_FIXED_SCALE);   /* growth > S since rate > 0 */
    return BB_OK;
}

int32_t bb_annuity_factor_cached(bb_factor_cache *cache, uint32_t annual_rate_ppm,
                                 uint16_t n_periods, u128 *factor)
{
    size_t slot = (size_t)((annual_rate_ppm * 2654435761u) ^ n_periods) % BB_FACTOR_CACHE_SIZE;
    if (cache->state[slot] == 0 || cache->rate_ppm[slot] != annual_rate_ppm
        || cache->n_periods[slot] != n_periods) {
        cache->rate_ppm[slot] = annual_rate_ppm;
        cache->n_periods[slot] = n_periods;
        cache->state[slot] =
            bb_annuity_factor(annual_rate_ppm, n_periods, &cache->factor[slot]) == BB_OK ? 1 : 2;
    }
    *factor = cache->factor[slot];
    return cache->state[slot] == 1 ? BB_OK : BB_RANGE_OUT_OF_BOUNDS;
}

int32_t bb_annuity_payment(int64_t principal_fen, uint32_t annual_rate_ppm, uint16_t n_periods,
                           int64_t *payment_fen)
{
    bb_factor_cache cache = {0};
    return bb_annuity_payment_cached(&cache, principal_fen, annual_rate_ppm, n_periods, payment_fen);
}

int32_t bb_annuity_payment_cached(bb_factor_cache *cache, int64_t principal_fen,
                                  uint32_t annual_rate_ppm, uint16_t n_periods,
                                  int64_t *payment_fen)
{
    u128 factor, product;
    if (principal_fen < 0 || n_periods == 0) return BB_INVALID_ARGUMENT;
    if (bb_annuity_factor_cached(cache, annual_rate_ppm, n_periods, &factor) != BB_OK)
        return BB_RANGE_OUT_OF_BOUNDS;
    if (factor == 0) {   /* zero rate: equal parts */
        *payment_fen = (int64_t)bb_div_round_half_up((u128)principal_fen, n_periods);
        return BB_OK;
    }
    if (bb_mul_u128_overflows((u128)principal_fen, factor, &product)) return BB_RANGE_OUT_OF_BOUNDS;
    if (bb_u128_to_i64_overflows(bb_div_round_half_up(product, BB_FIXED_SCALE), payment_fen))
        return BB_RANGE_OUT_OF_BOUNDS;
    return BB_OK;
}

static int32_t monthly_interest(int64_t balance_fen, uint32_t annual_rate_ppm, int64_t *interest)
{
    u128 owed = bb_div_round_half_up((u128)balance_fen * annual_rate_ppm, BB_MONTHLY_DIVISOR);
    return bb_u128_to_i64_overflows(owed, interest) ? BB_RANGE_OUT_OF_BOUNDS : BB_OK;
}

uint8_t bb_schedule_one(bb_factor_cache *cache, int64_t principal_fen, uint32_t annual_rate_ppm, uint16_t n_periods,
                        uint8_t method, int32_t first_due_day, int32_t *due_day,
                        int64_t *payment_fen, int64_t *principal_part_fen, int64_t *interest_fen,
                        int64_t *balance_after_fen, int64_t *total_payment_fen,
                        int64_t *total_interest_fen)
{
    int64_t installment = 0, balance = principal_fen, total_payment = 0, total_interest = 0;
    int64_t year, month, day;
    *total_payment_fen = 0;
    *total_interest_fen = 0;
    if (principal_fen <= 0 || n_periods < 1 || n_periods > BB_PERIODS_MAX
        || (method != BB_METHOD_EQUAL_INSTALLMENT && method != BB_METHOD_EQUAL_PRINCIPAL)
        || first_due_day < DAY_MIN || first_due_day > DAY_MAX)
        return BB_ROW_INVALID_INPUT;
    civil_from_days(first_due_day, &year, &month, &day);
    if (year * 12 + (month - 1) + (n_periods - 1) > 9999 * 12 + 11) return BB_ROW_INVALID_INPUT;
    if (method == BB_METHOD_EQUAL_INSTALLMENT) {
        int32_t rc = bb_annuity_payment_cached(cache, principal_fen, annual_rate_ppm, n_periods,
                                               &installment);
        if (rc != BB_OK) return BB_ROW_OVERFLOW;
    }
    for (uint16_t k = 0; k < n_periods; k++) {
        int64_t interest, principal_part, payment;
        int last = (k == n_periods - 1);
        if (monthly_interest(balance, annual_rate_ppm, &interest) != BB_OK) return BB_ROW_OVERFLOW;
        if (method == BB_METHOD_EQUAL_INSTALLMENT)
            principal_part = installment - interest;
        else
            principal_part = principal_fen / n_periods;
        if (principal_part < 0) principal_part = 0;
        if (last || principal_part > balance) principal_part = balance;   /* remainder goes last */
        if (bb_add_i64_overflows(principal_part, interest, &payment)
            || bb_add_i64_overflows(total_payment, payment, &total_payment)
            || bb_add_i64_overflows(total_interest, interest, &total_interest))
            return BB_ROW_OVERFLOW;
        balance -= principal_part;
        if (due_day) due_day[k] = (int32_t)add_months(year, month, day, k);
        if (payment_fen) payment_fen[k] = payment;
        if (principal_part_fen) principal_part_fen[k] = principal_part;
        if (interest_fen) interest_fen[k] = interest;
        if (balance_after_fen) balance_after_fen[k] = balance;
    }
    *total_payment_fen = total_payment;
    *total_interest_fen = total_interest;
    return 0;
}

void bb_due_limit_of(int64_t last_day, bb_due_limit *out)
{
    out->day = last_day;
    civil_from_days(last_day, &out->year, &out->month, &out->day_of_month);
    out->month_end = days_in_month(out->year, out->month);
}

int32_t bb_due_by(uint16_t n_periods, int32_t first_due_day, const bb_due_limit *last)
{
    int64_t year, month, day;
    if (n_periods < 1 || n_periods > BB_PERIODS_MAX || first_due_day < DAY_MIN
        || first_due_day > DAY_MAX)
        return -1;
    civil_from_days(first_due_day, &year, &month, &day);
    if (year * 12 + (month - 1) + (n_periods - 1) > 9999 * 12 + 11) return -1;
    if (last->day < first_due_day) return 0;
    /* installment k falls in the k-th month after the first (add_months): those before
     * the last day's month are due by it, the one in its month when its (clamped) day is */
    int64_t months = (last->year * 12 + last->month) - (year * 12 + month);
    int64_t due = months + ((day < last->month_end ? day : last->month_end) <= last->day_of_month);
    return (int32_t)(due < n_periods ? due : n_periods);
}

int32_t bb_schedule_offsets(const uint16_t *n_periods, int64_t n, int64_t *offsets)
{
    int64_t total = 0;
    if (n < 0) return BB_INVALID_ARGUMENT;
    for (int64_t i = 0; i < n; i++) {
        offsets[i] = total;
        if (n_periods[i] >= 1 && n_periods[i] <= BB_PERIODS_MAX) total += n_periods[i];
    }
    offsets[n] = total;
    return BB_OK;
}

int32_t bb_schedule(const bb_loans *loans, const int64_t *offsets, int64_t begin, int64_t end,
                    bb_installments *rows, bb_loan_totals *totals)
{
    static const bb_factor_cache empty;
    bb_factor_cache cache = empty;
    if (begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    for (int64_t i = begin; i < end; i++) {
        int64_t first = offsets[i], count = offsets[i + 1] - offsets[i];
        uint8_t status = bb_schedule_one(&cache, 
            loans->principal_fen[i], loans->annual_rate_ppm[i], loans->n_periods[i],
            loans->method[i], loans->first_due_day[i], rows->due_day + first,
            rows->payment_fen + first, rows->principal_fen + first, rows->interest_fen + first,
            rows->balance_after_fen + first, &totals->total_payment_fen[i],
            &totals->total_interest_fen[i]);
        totals->status[i] = status;
        for (int64_t k = 0; k < count; k++) {
            rows->loan_id[first + k] = loans->loan_id[i];
            rows->period[first + k] = (uint16_t)(k + 1);
            if (status != 0) {   /* a failed loan keeps its rows, all zero */
                rows->due_day[first + k] = 0;
                rows->payment_fen[first + k] = 0;
                rows->principal_fen[first + k] = 0;
                rows->interest_fen[first + k] = 0;
                rows->balance_after_fen[first + k] = 0;
            }
        }
    }
    return BB_OK;
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_schedule_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_schedule_task *t = args;
    return bb_schedule(t->loans, t->offsets, begin, end, t->rows, t->totals);
}
