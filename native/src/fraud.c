/* fraud.c — loan.fraud: streaming anti-fraud rules over events in (ts, event_id) order.
 * Spec: workloads/loan/fraud.py (docstring). The state of each rule family is separate, so
 * families can run on different threads and their matched bits be OR-ed together. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

enum { R_BLOCKED, R_DEVICE_USERS_REJECT, R_DEVICE_USERS_REVIEW, R_DRAWDOWN_VELOCITY,
       R_AMOUNT_24H, R_AMOUNT_SPIKE, R_NEW_DEVICE_LARGE, R_NIGHT_LARGE, R_FAN_IN, R_IP_USERS };

#define DISTINCT_MAX 64          /* largest threshold a distinct-count rule may have */
#define LOCAL_OFFSET_S 28800     /* UTC+8, fixed */
#define SECONDS_PER_DAY 86400

/* ---- block lists: a bit filter in front of the binary search ----
 * Most events are on no list; one bit (64 per listed value, so ~1 % false positives) answers
 * them without the search's unpredictable branches. */
typedef struct {
    const uint64_t *values;
    int64_t n;
    uint64_t *bits;
    uint64_t mask;         /* bit count - 1, a power of two minus one */
} blocklist_t;

static int32_t blocklist_init(blocklist_t *b, const uint64_t *values, int64_t n)
{
    uint64_t count = 1024;
    while (count < 64 * (uint64_t)n) count *= 2;
    b->values = values;
    b->n = n;
    b->mask = count - 1;
    b->bits = calloc(count / 64, sizeof *b->bits);
    if (!b->bits) return BB_OUT_OF_MEMORY;
    for (int64_t i = 0; i < n; i++) {
        uint64_t bit = bb_mix64(values[i]) & b->mask;
        b->bits[bit / 64] |= 1ULL << (bit % 64);
    }
    return BB_OK;
}

static bool blocklist_contains(const blocklist_t *b, uint64_t value)
{
    uint64_t bit = bb_mix64(value) & b->mask;
    if (!((b->bits[bit / 64] >> (bit % 64)) & 1)) return false;
    return bb_sorted_contains(b->values, b->n, value);
}

/* ---- a hash table of 16-byte slots on uint32 keys ----
 * The per-key records of every family (users, devices, counterparties, IP blocks) are
 * 16 bytes that begin with their uint32 key: four to a cache line, and a bit per slot marks
 * it used, so no key value has to mean "empty". Kept at most half full. */
typedef struct {
    unsigned char *slots;  /* capacity × SLOT_BYTES, each beginning with its uint32 key */
    uint64_t *used;        /* a bit per slot: small enough to stay cached */
    size_t capacity, size;
} keyed_t;

#define SLOT_BYTES 16

static void keyed_free(keyed_t *t)
{
    bb_table_free(t->slots, t->capacity * SLOT_BYTES);
    free(t->used);
    memset(t, 0, sizeof *t);
}

static int32_t keyed_init(keyed_t *t, size_t capacity)
{
    BB_ASSERT(capacity > 0 && (capacity & (capacity - 1)) == 0);   /* masks need a power of 2 */
    t->capacity = capacity;
    t->size = 0;
    t->slots = bb_table_alloc(capacity * SLOT_BYTES);
    t->used = calloc(capacity / 64 + 1, sizeof *t->used);
    if (!t->slots || !t->used) { keyed_free(t); return BB_OUT_OF_MEMORY; }
    return BB_OK;
}

static bool keyed_is_used(const keyed_t *t, size_t i) { return (t->used[i / 64] >> (i % 64)) & 1; }

static uint32_t keyed_key(const keyed_t *t, size_t i)
{
    uint32_t key;
    memcpy(&key, t->slots + i * SLOT_BYTES, sizeof key);
    return key;
}

static size_t keyed_slot(const keyed_t *t, uint32_t key)
{
    size_t mask = t->capacity - 1, i = (size_t)bb_mix64(key) & mask;
    while (keyed_is_used(t, i) && keyed_key(t, i) != key) i = (i + 1) & mask;
    return i;
}

static int32_t keyed_grow(keyed_t *t)
{
    keyed_t bigger;
    if (keyed_init(&bigger, t->capacity * 2) != BB_OK) return BB_OUT_OF_MEMORY;
    for (size_t i = 0; i < t->capacity; i++) {
        if (!keyed_is_used(t, i)) continue;
        size_t j = keyed_slot(&bigger, keyed_key(t, i));
        bigger.used[j / 64] |= 1ULL << (j % 64);
        memcpy(bigger.slots + j * SLOT_BYTES, t->slots + i * SLOT_BYTES, SLOT_BYTES);
    }
    bigger.size = t->size;
    keyed_free(t);
    *t = bigger;
    return BB_OK;
}

/* A hint that key will be probed soon: a batch knows its keys ahead, and the tables are
 * bigger than L2, so the home slot can be on its way while earlier events run. */
BB_PREFETCHES void keyed_prefetch(const keyed_t *t, uint32_t key)
{
    __builtin_prefetch(t->slots + ((size_t)bb_mix64(key) & (t->capacity - 1)) * SLOT_BYTES);
}

/* The slot of key; a new one has only its key set (*inserted = 1). NULL: no memory. */
static void *keyed_upsert(keyed_t *t, uint32_t key, int *inserted)
{
    if (2 * (t->size + 1) > t->capacity && keyed_grow(t) != BB_OK) return NULL;
    size_t i = keyed_slot(t, key);
    unsigned char *slot = t->slots + i * SLOT_BYTES;
    *inserted = !keyed_is_used(t, i);
    if (*inserted) {
        t->used[i / 64] |= 1ULL << (i % 64);
        memset(slot, 0, SLOT_BYTES);
        memcpy(slot, &key, sizeof key);
        t->size++;
    }
    return slot;
}

/* ---- per-user records ----
 * A user's newest outflow and first device live in the slot itself: one probe serves the
 * user rules for the usual event; only a second device needs the (user, device) map. */
typedef struct {
    uint32_t user;
    uint32_t newest;       /* 1 + log index of the newest outflow; 0 = none */
    uint32_t device;       /* the first device seen for this user */
    uint32_t first_seen;   /* when that device was first seen */
} user_t;

_Static_assert(sizeof(user_t) == SLOT_BYTES, "a user record fills one slot");

/* ---- the most recent distinct members per key (exact up to DISTINCT_MAX) ----
 * Keeping the `cap` most recently seen distinct members gives min(distinct in window, cap)
 * exactly: a member not kept was seen no later than every kept one. Entries are newest
 * first, so the current member is usually found at once and a window count stops at the
 * first entry outside it. An entry older than the longest window can never count again, so
 * it is dropped when met. Most keys (a device, a counterparty, an IP block) have one member
 * inside that window at a time: that one entry lives inline in the key's slot, and only a
 * key with more live members borrows an overflow group of cap entries, returned when its
 * entries have all expired. */
typedef struct { uint32_t member, ts; } seen_t;

typedef struct {
    uint32_t key;
    uint32_t group;        /* 0: the entry is inline; else 1 + the overflow group */
    seen_t inline_entry;
} recent_slot;

_Static_assert(sizeof(recent_slot) == SLOT_BYTES, "a key's record fills one slot");

typedef struct {
    keyed_t keys;
    seen_t *groups;        /* overflow groups of 1 + cap: a header (member = entries used,
                              ts = next free group + 1 while free), then the entries */
    size_t n_groups, groups_capacity;
    uint32_t free_group;   /* 1 + the first free group; 0 = none */
    int32_t cap;
    uint32_t longest;      /* the longest window counted */
} recent_t;

static int32_t recent_init(recent_t *r, int32_t cap, uint32_t longest)
{
    memset(r, 0, sizeof *r);
    r->cap = cap;
    r->longest = longest;
    return keyed_init(&r->keys, 1024);
}

static void recent_free(recent_t *r)
{
    keyed_free(&r->keys);
    free(r->groups);
}

static seen_t *recent_group(recent_t *r, uint32_t group)
{
    return r->groups + (size_t)(group - 1) * ((size_t)r->cap + 1);
}

/* 1 + a fresh overflow group; 0 when out of memory (or past 2^32 groups). */
static uint32_t recent_take_group(recent_t *r)
{
    if (r->free_group) {
        uint32_t group = r->free_group;
        r->free_group = recent_group(r, group)->ts;
        return group;
    }
    if (r->n_groups == r->groups_capacity) {
        size_t capacity = r->groups_capacity ? 2 * r->groups_capacity : 64;
        if (capacity > UINT32_MAX - 1) return 0;
        seen_t *groups = realloc(r->groups, capacity * ((size_t)r->cap + 1) * sizeof *groups);
        if (!groups) return 0;
        r->groups = groups;
        r->groups_capacity = capacity;
    }
    BB_ASSERT(r->n_groups < UINT32_MAX);   /* capacity stops below 2^32 - 1 */
    return (uint32_t)++r->n_groups;
}

static void recent_release_group(recent_t *r, recent_slot *slot)
{
    recent_group(r, slot->group)->ts = r->free_group;
    r->free_group = slot->group;
    slot->group = 0;
}

/* Records member at ts under key; writes min(distinct members seen in (ts - window, ts],
 * cap) per window; returns -1 when out of memory. */
static int32_t recent_touch(recent_t *r, uint32_t key, uint32_t member, uint32_t ts,
                            const uint32_t *windows, int n_windows, int32_t *counts)
{
    int inserted;
    recent_slot *slot = keyed_upsert(&r->keys, key, &inserted);
    if (!slot) return -1;
    int64_t live_after = (int64_t)ts - (int64_t)r->longest;
    seen_t *entries = slot->group ? recent_group(r, slot->group) + 1 : &slot->inline_entry;
    int32_t used = slot->group ? (int32_t)entries[-1].member : !inserted;
    int32_t room = slot->group ? r->cap : 1, at = 0;
    while (at < used && (int64_t)entries[at].ts > live_after && entries[at].member != member) at++;
    if (at == used || (int64_t)entries[at].ts <= live_after) {   /* a new member */
        used = at;                            /* entries from here on have expired */
        if (used == 0 && slot->group) {       /* all expired: back inline */
            recent_release_group(r, slot);
            entries = &slot->inline_entry;
            room = 1;
        }
        if (used == room && room < r->cap) {  /* a second live member: overflow */
            uint32_t group = recent_take_group(r);
            if (!group) return -1;
            seen_t *moved = recent_group(r, group) + 1;
            moved[0] = slot->inline_entry;
            slot->group = group;
            entries = moved;
            room = r->cap;
        }
        if (used == room) used--;             /* full: the oldest falls off */
        at = used++;
    }
    memmove(entries + 1, entries, (size_t)at * sizeof *entries);
    entries[0] = (seen_t){.member = member, .ts = ts};
    if (slot->group) entries[-1].member = (uint32_t)used;
    for (int w = 0; w < n_windows; w++) {
        int64_t start = (int64_t)ts - (int64_t)windows[w];
        int32_t count = 0;
        while (count < used && (int64_t)entries[count].ts > start) count++;
        counts[w] = count;
    }
    return 0;
}

/* ---- the state ---- */
#define DRAWDOWN_BIT 0x80000000u   /* in `prev`: this outflow was a drawdown */
#define LOG_MAX 0x7FFFFFFEu

typedef struct {              /* 16 bytes: four to a cache line */
    int64_t amount;
    uint32_t ts;
    uint32_t prev;            /* 1 + log index of the user's previous outflow (0 = none),
                                 with DRAWDOWN_BIT */
} outflow_t;

struct bb_fraud {
    bb_fraud_rules rules;
    bb_fraud_lists lists;
    uint32_t families;
    int started;
    uint32_t last_ts;
    uint64_t last_id;
    /* user family: a log of each user's outflows, newest first through prev links */
    blocklist_t blocked_users, blocked_devices, blocked_phones;
    keyed_t users;            /* user → newest outflow, first device (user_t slots) */
    bb_map device_first_seen;  /* (user, device) → first ts, for devices after the first */
    outflow_t *log;           /* one record per step of a walk: one cache line, not four */
    size_t log_size, log_capacity;
    uint32_t user_window_s;   /* the longest window the user rules look back */
    recent_t device_users, counterparty_senders, ip_users;
};

int32_t bb_fraud_check_rules(const bb_fraud_rules *rules)
{
    static const int distinct_rules[] = {R_DEVICE_USERS_REJECT, R_DEVICE_USERS_REVIEW, R_FAN_IN,
                                         R_IP_USERS};
    for (int r = 0; r < BB_FRAUD_RULES; r++) {
        if (!rules->enabled[r]) continue;
        if (rules->action[r] != BB_FRAUD_REVIEW && rules->action[r] != BB_FRAUD_REJECT)
            return BB_INVALID_ARGUMENT;
        if (rules->limit[r] < 0 || rules->min_count[r] < 0) return BB_INVALID_ARGUMENT;
        if (r != R_BLOCKED && rules->window_s[r] == 0) return BB_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < sizeof distinct_rules / sizeof *distinct_rules; i++) {
        int r = distinct_rules[i];
        if (rules->enabled[r] && (rules->limit[r] < 1 || rules->limit[r] > DISTINCT_MAX))
            return BB_INVALID_ARGUMENT;
    }
    /* the spike rule multiplies a sum of amounts by its limit: keep that within 128 bits */
    if (rules->enabled[R_AMOUNT_SPIKE] && rules->limit[R_AMOUNT_SPIKE] > INT32_MAX)
        return BB_INVALID_ARGUMENT;
    if (rules->enabled[R_NIGHT_LARGE] && rules->window_s[R_NIGHT_LARGE] > SECONDS_PER_DAY)
        return BB_INVALID_ARGUMENT;
    return BB_OK;
}

static bool lists_are_sorted(const uint64_t *values, int64_t n)
{
    if (n < 0 || (n > 0 && !values)) return false;
    for (int64_t i = 1; i < n; i++)
        if (values[i - 1] >= values[i]) return false;
    return true;
}

static int32_t distinct_cap(const bb_fraud_rules *rules, int a, int b)
{
    int64_t cap = 1;
    if (rules->enabled[a] && rules->limit[a] > cap) cap = rules->limit[a];
    if (b >= 0 && rules->enabled[b] && rules->limit[b] > cap) cap = rules->limit[b];
    return (int32_t)cap;
}

static uint32_t longest_window(const bb_fraud_rules *rules, int a, int b)
{
    uint32_t longest = rules->window_s[a];
    if (b >= 0 && rules->window_s[b] > longest) longest = rules->window_s[b];
    return longest;
}

void bb_fraud_free(bb_fraud *s)
{
    if (!s) return;
    keyed_free(&s->users);
    free(s->blocked_users.bits);
    free(s->blocked_devices.bits);
    free(s->blocked_phones.bits);
    bb_map_free(&s->device_first_seen);
    free(s->log);
    recent_free(&s->device_users);
    recent_free(&s->counterparty_senders);
    recent_free(&s->ip_users);
    free(s);
}

int32_t bb_fraud_new(const bb_fraud_rules *rules, const bb_fraud_lists *lists, uint32_t families,
                     bb_fraud **out)
{
    *out = NULL;
    if (bb_fraud_check_rules(rules) != BB_OK || families == 0 || (families & ~BB_FAMILY_ALL))
        return BB_INVALID_ARGUMENT;
    if (!lists_are_sorted(lists->blocked_users, lists->n_blocked_users)
        || !lists_are_sorted(lists->blocked_devices, lists->n_blocked_devices)
        || !lists_are_sorted(lists->blocked_phones, lists->n_blocked_phones)
        || !lists_are_sorted(lists->allowed_users, lists->n_allowed_users))
        return BB_INVALID_ARGUMENT;
    bb_fraud *s = calloc(1, sizeof *s);
    if (!s) return BB_OUT_OF_MEMORY;
    s->rules = *rules;
    s->lists = *lists;
    s->families = families;
    /* only the tables of the state's own families: a sharded call makes a state per family
     * and shard, and the lists and tables of the others would be built for nothing */
    int32_t rc = BB_OK;
    if (families & BB_FAMILY_USER) {
        rc = blocklist_init(&s->blocked_users, lists->blocked_users, lists->n_blocked_users);
        if (rc == BB_OK)
            rc = blocklist_init(&s->blocked_devices, lists->blocked_devices,
                                lists->n_blocked_devices);
        if (rc == BB_OK)
            rc = blocklist_init(&s->blocked_phones, lists->blocked_phones,
                                lists->n_blocked_phones);
        if (rc == BB_OK) rc = keyed_init(&s->users, 1024);
        if (rc == BB_OK) rc = bb_map_init(&s->device_first_seen, 1024);
    }
    if (rc == BB_OK && (families & BB_FAMILY_DEVICE))
        rc = recent_init(&s->device_users,
                         distinct_cap(rules, R_DEVICE_USERS_REJECT, R_DEVICE_USERS_REVIEW),
                         longest_window(rules, R_DEVICE_USERS_REJECT, R_DEVICE_USERS_REVIEW));
    if (rc == BB_OK && (families & BB_FAMILY_COUNTERPARTY))
        rc = recent_init(&s->counterparty_senders, distinct_cap(rules, R_FAN_IN, -1),
                         longest_window(rules, R_FAN_IN, -1));
    if (rc == BB_OK && (families & BB_FAMILY_IP))
        rc = recent_init(&s->ip_users, distinct_cap(rules, R_IP_USERS, -1),
                         longest_window(rules, R_IP_USERS, -1));
    if (rc != BB_OK) { bb_fraud_free(s); return rc; }
    static const int user_windowed[] = {R_DRAWDOWN_VELOCITY, R_AMOUNT_24H, R_AMOUNT_SPIKE};
    for (size_t i = 0; i < 3; i++)
        if (rules->enabled[user_windowed[i]] && rules->window_s[user_windowed[i]] > s->user_window_s)
            s->user_window_s = rules->window_s[user_windowed[i]];
    *out = s;
    return BB_OK;
}

static bool is_outflow(uint8_t type) { return type == BB_EVENT_DRAWDOWN || type == BB_EVENT_TRANSFER; }

static bool in_window(uint32_t then, uint32_t now, uint32_t window_s)
{
    return (int64_t)then > (int64_t)now - (int64_t)window_s;
}

/* Room for `more` outflows: one exact allocation for a batch call (its pages are touched
 * only as used), doubling for one-event online calls. */
static int32_t log_reserve(bb_fraud *s, size_t more)
{
    size_t needed = s->log_size + more;
    if (needed <= s->log_capacity) return BB_OK;
    if (needed > LOG_MAX) return BB_OUT_OF_MEMORY;
    size_t capacity = 2 * s->log_capacity > needed ? 2 * s->log_capacity : needed;
    if (capacity > LOG_MAX) capacity = LOG_MAX;
    outflow_t *log = realloc(s->log, capacity * sizeof *log);
    if (!log) return BB_OUT_OF_MEMORY;
    s->log = log;
    s->log_capacity = capacity;
    return BB_OK;
}

static void log_append(bb_fraud *s, uint32_t ts, int64_t amount, uint8_t type, uint32_t prev)
{
    uint32_t drawdown = type == BB_EVENT_DRAWDOWN ? DRAWDOWN_BIT : 0;
    s->log[s->log_size++] = (outflow_t){.amount = amount, .ts = ts, .prev = prev | drawdown};
}

#define MATCH(rule, condition) \
    do { if (s->rules.enabled[rule] && (condition)) bits |= 1u << (rule); } while (0)

BB_ALWAYS_INLINE int32_t user_rules(bb_fraud *s, const bb_events *e, int64_t i,
                                     uint32_t *matched)
{
    const bb_fraud_rules *rules = &s->rules;
    uint32_t bits = 0, ts = e->ts[i], user = e->user_id[i];
    uint8_t type = e->type[i];
    int64_t amount = e->amount_fen[i];
    int outflow = is_outflow(type);

    MATCH(R_BLOCKED, blocklist_contains(&s->blocked_users, user)
                  || blocklist_contains(&s->blocked_devices, e->device_id[i])
                  || blocklist_contains(&s->blocked_phones, e->phone_hash[i]));

    int new_user;
    user_t *record = keyed_upsert(&s->users, user, &new_user);
    if (!record) return BB_OUT_OF_MEMORY;
    if (new_user) {   /* newest = 0: no outflow yet */
        record->device = e->device_id[i];
        record->first_seen = ts;
    }
    uint32_t first_seen = record->first_seen;
    if (record->device != e->device_id[i]) {
        int inserted;
        uint32_t *seen = bb_map_upsert(&s->device_first_seen,
                                    ((uint64_t)user << 32) | e->device_id[i], ts, &inserted);
        if (!seen) return BB_OUT_OF_MEMORY;
        first_seen = *seen;
    }
    if (outflow) {
        uint32_t second_of_day = (uint32_t)(((uint64_t)ts + LOCAL_OFFSET_S) % SECONDS_PER_DAY);
        MATCH(R_NEW_DEVICE_LARGE, in_window(first_seen, ts, rules->window_s[R_NEW_DEVICE_LARGE])
                               && amount >= rules->limit[R_NEW_DEVICE_LARGE]);
        MATCH(R_NIGHT_LARGE, second_of_day < rules->window_s[R_NIGHT_LARGE]
                          && amount >= rules->limit[R_NIGHT_LARGE]);
    }

    if (outflow) {
        int64_t drawdowns = (type == BB_EVENT_DRAWDOWN);
        u128 sum_24h = (u128)amount, spike_sum = 0;
        int64_t spike_count = 0;
        for (uint32_t j = record->newest; j != 0; j = s->log[j - 1].prev & ~DRAWDOWN_BIT) {
            const outflow_t *earlier = &s->log[j - 1];
            if (!in_window(earlier->ts, ts, s->user_window_s)) break;
            if (in_window(earlier->ts, ts, rules->window_s[R_DRAWDOWN_VELOCITY]))
                drawdowns += (earlier->prev & DRAWDOWN_BIT) != 0;
            if (in_window(earlier->ts, ts, rules->window_s[R_AMOUNT_24H]))
                sum_24h += (u128)earlier->amount;
            if (in_window(earlier->ts, ts, rules->window_s[R_AMOUNT_SPIKE])) {
                spike_count++;
                spike_sum += (u128)earlier->amount;
            }
        }
        MATCH(R_DRAWDOWN_VELOCITY, type == BB_EVENT_DRAWDOWN
                                && drawdowns >= rules->limit[R_DRAWDOWN_VELOCITY]);
        MATCH(R_AMOUNT_24H, sum_24h > (u128)rules->limit[R_AMOUNT_24H]);
        MATCH(R_AMOUNT_SPIKE, spike_count >= rules->min_count[R_AMOUNT_SPIKE] && spike_count > 0
                           && (u128)amount * (u128)spike_count
                                  > (u128)rules->limit[R_AMOUNT_SPIKE] * spike_sum);
        log_append(s, ts, amount, type, record->newest);   /* room reserved by the caller */
        BB_ASSERT(s->log_size <= LOG_MAX && LOG_MAX <= UINT32_MAX);   /* fits `newest` */
        record->newest = (uint32_t)s->log_size;
    }
    *matched |= bits;
    return BB_OK;
}

static int32_t distinct_rule(bb_fraud *s, recent_t *recent, uint32_t key, uint32_t member,
                         uint32_t ts, int rule_a, int rule_b, uint32_t *matched)
{
    uint32_t windows[2] = {s->rules.window_s[rule_a], rule_b >= 0 ? s->rules.window_s[rule_b] : 1};
    int32_t counts[2];
    uint32_t bits = 0;
    if (recent_touch(recent, key, member, ts, windows, rule_b >= 0 ? 2 : 1, counts) < 0)
        return BB_OUT_OF_MEMORY;
    MATCH(rule_a, counts[0] >= s->rules.limit[rule_a]);
    if (rule_b >= 0) MATCH(rule_b, counts[1] >= s->rules.limit[rule_b]);
    *matched |= bits;
    return BB_OK;
}

#define PREFETCH_AHEAD 8   /* events: about one memory latency of work */

/* The user's newest outflow, when the home slot (prefetched earlier) holds the user. */
BB_PREFETCHES void prefetch_newest(const bb_fraud *s, uint32_t user)
{
    size_t i = (size_t)bb_mix64(user) & (s->users.capacity - 1);
    const user_t *record = (const user_t *)(s->users.slots + i * SLOT_BYTES);
    if (keyed_is_used(&s->users, i) && record->user == user && record->newest)
        __builtin_prefetch(&s->log[record->newest - 1]);
}

BB_PREFETCHES void prefetch_keys(const bb_fraud *s, const bb_events *e, int64_t i)
{
    if (s->families & BB_FAMILY_USER) keyed_prefetch(&s->users, e->user_id[i]);
    if (s->families & BB_FAMILY_DEVICE) keyed_prefetch(&s->device_users.keys, e->device_id[i]);
    if (s->families & BB_FAMILY_COUNTERPARTY)
        keyed_prefetch(&s->counterparty_senders.keys, e->counterparty_id[i]);
    if (s->families & BB_FAMILY_IP) keyed_prefetch(&s->ip_users.keys, e->ip24[i]);
}

static bool is_valid(uint8_t type, int64_t amount_fen)
{
    return type <= BB_EVENT_REPAY && amount_fen >= 0;
}

/* Event i through the state's families (its order checked against the state's last event);
 * *row_status 0, or BB_ROW_INVALID_INPUT for an event no rule looks at. Inlined into both
 * loops: as a call it cost 8 % more instructions at one thread. */
BB_ALWAYS_INLINE int32_t evaluate_one(bb_fraud *s, const bb_events *e, int64_t i,
                                       uint32_t *matched, uint8_t *row_status)
{
    uint32_t ts = e->ts[i];
    uint64_t id = e->event_id[i];
    if (s->started && (ts < s->last_ts || (ts == s->last_ts && id <= s->last_id)))
        return BB_EVENTS_NOT_ORDERED;
    s->started = 1;
    s->last_ts = ts;
    s->last_id = id;
    if (!is_valid(e->type[i], e->amount_fen[i])) {
        *row_status = BB_ROW_INVALID_INPUT;
        return BB_OK;
    }
    *row_status = 0;
    uint32_t user = e->user_id[i];
    int32_t rc = BB_OK;
    if (s->families & BB_FAMILY_USER) rc = user_rules(s, e, i, &matched[i]);
    if (rc == BB_OK && (s->families & BB_FAMILY_DEVICE))
        rc = distinct_rule(s, &s->device_users, e->device_id[i], user, ts,
                           R_DEVICE_USERS_REJECT, R_DEVICE_USERS_REVIEW, &matched[i]);
    if (rc == BB_OK && (s->families & BB_FAMILY_COUNTERPARTY)
        && e->type[i] == BB_EVENT_TRANSFER && e->counterparty_id[i] != 0)
        rc = distinct_rule(s, &s->counterparty_senders, e->counterparty_id[i], user, ts,
                           R_FAN_IN, -1, &matched[i]);
    if (rc == BB_OK && (s->families & BB_FAMILY_IP))
        rc = distinct_rule(s, &s->ip_users, e->ip24[i], user, ts, R_IP_USERS, -1, &matched[i]);
    return rc;
}

int32_t bb_fraud_evaluate(bb_fraud *s, const bb_events *e, int64_t begin, int64_t end,
                          uint32_t *matched, uint8_t *status)
{
    if (!s || begin < 0 || end < begin) return BB_INVALID_ARGUMENT;
    if ((s->families & BB_FAMILY_USER) && log_reserve(s, (size_t)(end - begin)) != BB_OK)
        return BB_OUT_OF_MEMORY;
    for (int64_t i = begin; i < end; i++) {
        if (i + PREFETCH_AHEAD < end) prefetch_keys(s, e, i + PREFETCH_AHEAD);
        if (i + PREFETCH_AHEAD / 2 < end && (s->families & BB_FAMILY_USER))
            prefetch_newest(s, e->user_id[i + PREFETCH_AHEAD / 2]);
        int32_t rc = evaluate_one(s, e, i, matched, &status[i]);
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}

/* The events rows[0..n_rows) (valid ones, in order), as bb_fraud_evaluate. */
static int32_t evaluate_rows(bb_fraud *s, const bb_events *e, const uint32_t *rows,
                             int64_t n_rows, uint32_t *matched)
{
    if ((s->families & BB_FAMILY_USER) && log_reserve(s, (size_t)n_rows) != BB_OK)
        return BB_OUT_OF_MEMORY;
    for (int64_t r = 0; r < n_rows; r++) {
        if (r + PREFETCH_AHEAD < n_rows) prefetch_keys(s, e, rows[r + PREFETCH_AHEAD]);
        if (r + PREFETCH_AHEAD / 2 < n_rows && (s->families & BB_FAMILY_USER))
            prefetch_newest(s, e->user_id[rows[r + PREFETCH_AHEAD / 2]]);
        uint8_t row_status;
        int32_t rc = evaluate_one(s, e, rows[r], matched, &row_status);
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}

static uint32_t reject_mask(const bb_fraud_rules *rules)
{
    uint32_t mask = 0;
    for (int r = 0; r < BB_FRAUD_RULES; r++)
        if (rules->action[r] == BB_FRAUD_REJECT) mask |= 1u << r;
    return mask;
}

static uint8_t decide(uint32_t rejecting, const bb_fraud_lists *lists, uint64_t user_id,
                      uint32_t matched, uint8_t status)
{
    if (status != 0) return BB_FRAUD_REJECT;
    if (lists->n_allowed_users
        && bb_sorted_contains(lists->allowed_users, lists->n_allowed_users, user_id))
        return BB_FRAUD_ALLOW;
    if (matched & rejecting) return BB_FRAUD_REJECT;   /* only enabled rules ever match */
    return matched ? BB_FRAUD_REVIEW : BB_FRAUD_ALLOW;
}

uint8_t bb_fraud_decide_one(const bb_fraud_rules *rules, const bb_fraud_lists *lists,
                            uint64_t user_id, uint32_t matched, uint8_t status)
{
    return decide(reject_mask(rules), lists, user_id, matched, status);
}

/* ---- the parallel call (bb_fraud_task, bankcore.h) ---- */

/* The families in the order their tasks are claimed: the heaviest first (instructions an
 * event at scale 0.05: user 450, device 338, IP 314, counterparty 159), so the last tasks
 * handed out are the short ones. */
static const uint32_t family_order[BB_FRAUD_FAMILIES] = {BB_FAMILY_USER, BB_FAMILY_DEVICE,
                                                         BB_FAMILY_IP, BB_FAMILY_COUNTERPARTY};

#define NO_SHARD 0xFF   /* in shard_ids: no rule of the family looks at the event */
_Static_assert(BB_FRAUD_SHARDS_MAX <= NO_SHARD, "a shard id is a byte, NO_SHARD apart");

/* A key's shard: Fibonacci hashing (one multiply by 2^64/φ; its high 32 bits, scaled to
 * [0, shards) without a division). Not the tables' bb_mix64, whose low bits pick the slots
 * inside a shard; the two are unrelated, so a shard's keys still spread over its tables.
 * The workload's keys fall as evenly as with bb_mix64 (at scale 1 the largest of 16 shards
 * within 1 % of the mean; counterparties apart, whose skew is the data's), and step 1 takes
 * 62 instructions an event, not 96 (callgrind, scale 0.05, 2 groups). */
static uint8_t shard_of(uint32_t key, uint64_t shards)
{
    return (uint8_t)((((uint64_t)key * 0x9E3779B97F4A7C15ULL >> 32) * shards) >> 32);
}

/* Group g's near-equal range of the events. */
static void group_range(const bb_fraud_task *t, int64_t g, int64_t *begin, int64_t *end)
{
    bb_near_equal_range(t->n_events, t->groups, g, begin, end);
}

/* counts[g][f][k]: group g's rows of family f in shard k; the second half, at[g][f][k]:
 * where the next of them goes in family f's list; then totals[f][k], the shard's rows. */
static int64_t *counts_of(const bb_fraud_task *t, int64_t g, int half)
{
    return t->counts + ((int64_t)half * t->groups + g) * BB_FRAUD_FAMILIES * t->shards;
}

static int64_t *totals_of(const bb_fraud_task *t) { return counts_of(t, 0, 2); }

/* Step 1: the order of [begin, end) (and its first event against the one before), each
 * row's status, the shard of each of its keys (shard_ids[f][i]) and the group's rows per
 * family and shard. Locals throughout: the stores through byte and int64 pointers may alias
 * the task's fields. The counts too, stored once at the end: the groups' counts are
 * neighbours in one array, and a line two threads increment on every event ping-pongs. */
static int32_t count_rows(const bb_fraud_task *t, int64_t g)
{
    const bb_events *e = t->events;
    const uint32_t *ts = e->ts, *user_id = e->user_id, *device_id = e->device_id,
                   *ip24 = e->ip24, *counterparty_id = e->counterparty_id;
    const uint64_t *event_id = e->event_id;
    const uint8_t *type = e->type;
    const int64_t *amount_fen = e->amount_fen;
    const int64_t n = t->n_events;
    const uint64_t shards = (uint64_t)t->shards;
    int64_t counts[BB_FRAUD_FAMILIES * BB_FRAUD_SHARDS_MAX];
    uint8_t *status = t->status, *ids = t->shard_ids;
    int64_t begin, end;
    group_range(t, g, &begin, &end);
    memset(counts, 0, BB_FRAUD_FAMILIES * shards * sizeof *counts);
    for (int64_t i = begin; i < end; i++) {
        if (i > 0 && (ts[i] < ts[i - 1] || (ts[i] == ts[i - 1] && event_id[i] <= event_id[i - 1])))
            return BB_EVENTS_NOT_ORDERED;
        bool valid = is_valid(type[i], amount_fen[i]);
        status[i] = valid ? 0 : BB_ROW_INVALID_INPUT;
        if (!valid) continue;
        /* the keys in family_order: user, device, IP, counterparty (transfers to one) */
        uint8_t user = shard_of(user_id[i], shards);
        uint8_t device = shard_of(device_id[i], shards);
        uint8_t ip = shard_of(ip24[i], shards);
        uint8_t counterparty = type[i] == BB_EVENT_TRANSFER && counterparty_id[i] != 0
                                   ? shard_of(counterparty_id[i], shards) : NO_SHARD;
        ids[i] = user;
        ids[n + i] = device;
        ids[2 * n + i] = ip;
        ids[3 * n + i] = counterparty;
        counts[user]++;
        counts[shards + device]++;
        counts[2 * shards + ip]++;
        if (counterparty != NO_SHARD) counts[3 * shards + counterparty]++;
    }
    memcpy(counts_of(t, g, 0), counts, BB_FRAUD_FAMILIES * shards * sizeof *counts);
    return BB_OK;
}

/* Step 2: for group g's slice of the (family, shard) pairs, each group's first place inside
 * the shard's list (the rows of the groups before it) and the shard's total. A slice each,
 * not every pair on every group: that is groups² steps in all, a large part of each group's
 * time at a few hundred groups. */
static void sum_counts(const bb_fraud_task *t, int64_t g)
{
    const int64_t pairs = (int64_t)BB_FRAUD_FAMILIES * t->shards, groups = t->groups;
    int64_t begin, end;
    bb_near_equal_range(pairs, groups, g, &begin, &end);
    int64_t *totals = totals_of(t);
    for (int64_t p = begin; p < end; p++) {
        int64_t before = 0;
        for (int64_t h = 0; h < groups; h++) {
            counts_of(t, h, 1)[p] = before;
            before += counts_of(t, h, 0)[p];
        }
        totals[p] = before;
    }
}

/* Where shard k of family f begins in the family's list: after the shards before it. */
static int64_t shard_start(const bb_fraud_task *t, int f, int64_t k)
{
    const int64_t *totals = totals_of(t) + f * t->shards;
    int64_t start = 0;
    for (int64_t j = 0; j < k; j++) start += totals[j];
    return start;
}

/* Step 3: group g's rows into each shard's list, after the shards before it and the groups
 * before g in it: every shard's list in event order. Its cursors are locals (as step 1's
 * counts). */
static void place_rows(const bb_fraud_task *t, int64_t g)
{
    const int64_t n = t->n_events, shards = t->shards;
    const int64_t *totals = totals_of(t), *first = counts_of(t, g, 1);
    int64_t at[BB_FRAUD_FAMILIES * BB_FRAUD_SHARDS_MAX];
    for (int f = 0; f < BB_FRAUD_FAMILIES; f++) {
        int64_t start = 0;
        for (int64_t k = 0; k < shards; k++) {
            at[f * shards + k] = first[f * shards + k] + start;
            start += totals[f * shards + k];
        }
    }
    /* the families one by one, as count_rows wrote them: a valid event always has a user,
     * a device and an IP shard, a counterparty one only when it is a transfer to one (a
     * loop over the families took 57 instructions an event, this 32) */
    _Static_assert(BB_FRAUD_FAMILIES == 4, "place_rows places four families");
    const uint8_t *status = t->status, *user = t->shard_ids, *device = user + n,
                  *ip = device + n, *counterparty = ip + n;
    uint32_t *user_rows = t->rows, *device_rows = user_rows + n, *ip_rows = device_rows + n,
             *counterparty_rows = ip_rows + n;
    int64_t *user_at = at, *device_at = at + shards, *ip_at = at + 2 * shards,
            *counterparty_at = at + 3 * shards;
    int64_t begin, end;
    group_range(t, g, &begin, &end);
    for (int64_t i = begin; i < end; i++) {
        if (status[i] != 0) continue;
        user_rows[user_at[user[i]]++] = (uint32_t)i;
        device_rows[device_at[device[i]]++] = (uint32_t)i;
        ip_rows[ip_at[ip[i]]++] = (uint32_t)i;
        if (counterparty[i] != NO_SHARD) counterparty_rows[counterparty_at[counterparty[i]]++] = (uint32_t)i;
    }
}

/* Step 4: one (family, shard) task: the shard's list through a fresh state of the family. */
static int32_t run_shard(const bb_fraud_task *t, int64_t task)
{
    int f = (int)(task / t->shards);
    int64_t k = task % t->shards;
    int64_t begin = shard_start(t, f, k), end = begin + totals_of(t)[f * t->shards + k];
    bb_fraud *state;
    int32_t rc = bb_fraud_new(t->rules, t->lists, family_order[f], &state);
    if (rc != BB_OK) return rc;
    rc = evaluate_rows(state, t->events, t->rows + f * t->n_events + begin, end - begin,
                       t->matched[f]);
    bb_fraud_free(state);
    return rc;
}

/* One group alone: every family in turn over every event (one state's tables at a time). */
static int32_t evaluate_alone(const bb_fraud_task *t)
{
    for (int f = 0; f < BB_FRAUD_FAMILIES; f++) {
        bb_fraud *state;
        int32_t rc = bb_fraud_new(t->rules, t->lists, family_order[f], &state);
        if (rc == BB_OK) {
            rc = bb_fraud_evaluate(state, t->events, 0, t->n_events, t->matched[0], t->status);
            bb_fraud_free(state);   /* before the next family */
        }
        if (rc != BB_OK) return rc;
    }
    return BB_OK;
}

/* Step 5: events [begin, end): the rules any family matched, into matched[0], and their
 * decisions. */
static void decide_range(const bb_fraud_task *t, int64_t begin, int64_t end)
{
    /* locals: the byte-wide stores below may alias anything, so fields read through t
     * would be read again every iteration */
    uint32_t *matched = t->matched[0];
    for (int f = 1; t->groups > 1 && f < BB_FRAUD_FAMILIES; f++) {
        const uint32_t *more = t->matched[f];
        for (int64_t i = begin; i < end; i++) matched[i] |= more[i];
    }
    const uint32_t rejecting = reject_mask(t->rules);
    const bb_fraud_lists *lists = t->lists;
    const uint32_t *user_id = t->events->user_id;
    const uint8_t *status = t->status;
    uint8_t *decision = t->decision;
    for (int64_t i = begin; i < end; i++)
        decision[i] = decide(rejecting, lists, user_id[i], matched[i], status[i]);
}

/* Group g's steps 1-4, meeting the others after each. */
static int32_t run_shards(const bb_fraud_task *t, int64_t g)
{
    int32_t rc = count_rows(t, g);
    if (rc == BB_OK) rc = bb_barrier_wait(t->barrier);
    if (rc != BB_OK) return rc;
    sum_counts(t, g);
    rc = bb_barrier_wait(t->barrier);
    if (rc != BB_OK) return rc;
    place_rows(t, g);
    rc = bb_barrier_wait(t->barrier);
    int64_t tasks = (int64_t)BB_FRAUD_FAMILIES * t->shards;
    for (int64_t task; rc == BB_OK && (task = bb_barrier_next_task(t->barrier)) < tasks;)
        rc = run_shard(t, task);
    return rc;
}

/* the pool's task (bb_task_fn, pool.c), its arguments unpacked from one struct: group g of
 * `groups`, all at once (bb_parallel_groups). One call, so the short decision step is split
 * with the rest, not worth a call of its own. */
int32_t bb_fraud_run_groups(const void *args, int64_t g, int64_t g_end)
{
    const bb_fraud_task *t = args;
    if (g_end != g + 1 || t->groups < 1 || g >= t->groups || t->n_events < 0 || !t->barrier
        || t->shards < 1 || t->shards > BB_FRAUD_SHARDS_MAX
        || (t->groups > 1
            && (!t->rows || !t->shard_ids || !t->counts || t->n_events > (int64_t)UINT32_MAX)))
        return BB_INVALID_ARGUMENT;
    int32_t rc = t->groups == 1 ? evaluate_alone(t) : run_shards(t, g);
    if (rc != BB_OK) {
        bb_barrier_abort(t->barrier);   /* the other groups must not wait for this one */
        return rc;
    }
    rc = bb_barrier_wait(t->barrier);
    if (rc != BB_OK) return rc;
    int64_t begin, end;
    group_range(t, g, &begin, &end);
    decide_range(t, begin, end);
    return BB_OK;
}
