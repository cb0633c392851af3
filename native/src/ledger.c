/* ledger.c — ledger.post: TigerBeetle's create_transfers semantics (src/state_machine.zig),
 * with 64-bit ids and amounts. Spec: workloads/ledger/post.py; the reference, line for line:
 * workloads/ledger/_ledger.py. Every check returns a result code; nothing here can crash on
 * input, and every sum is checked before it is made. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* result codes: BB_TB_* in bankcore.h (TigerBeetle's numbers) */

enum {  /* transfer flags */
    F_LINKED = 1, F_PENDING = 2, F_POST = 4, F_VOID = 8, F_BALANCING_DEBIT = 16,
    F_BALANCING_CREDIT = 32, F_CLOSING_DEBIT = 64, F_CLOSING_CREDIT = 128, F_IMPORTED = 256,
    F_KNOWN = 511,
};
enum { A_DEBITS_MUST_NOT_EXCEED_CREDITS = 2, A_CREDITS_MUST_NOT_EXCEED_DEBITS = 4, A_CLOSED = 32 };
enum { S_NONE = 0, S_PENDING = 1, S_POSTED = 2, S_VOIDED = 3, S_EXPIRED = 4 };
enum { R_LIVE = 0, R_ORPHAN = 1, R_REMOVED = 2 };  /* record states */

#define NS_PER_S 1000000000ULL
#define U63_MAX 0x7FFFFFFFFFFFFFFFULL

typedef struct {          /* a slot of the account table: one cache line per account */
    _Alignas(64) uint64_t debits_pending;
    uint64_t debits_posted, credits_pending, credits_posted;
    uint64_t id;
    uint32_t ledger;
    uint16_t code, flags;
    uint32_t used;
} account_t;

/* A stored transfer: 48 bytes, four in three cache lines (ledger.post keeps 1.9 M of them
 * at scale 1; 64 bytes each took 30 MB more). Its id is the key that found it (the cell's
 * id map), its ledger is its accounts' (creation checked they agree), and its accounts are
 * their slots in the account table (which never move), so none of them is kept as such.
 * A post or void has no timeout and any other transfer no pending id (both are checked
 * before a record is made): one word holds whichever it has (record_pending_id,
 * record_timeout). */
typedef struct {
    uint64_t amount, user_data_64, timestamp;
    uint64_t pending_id_or_timeout;
    uint32_t debit_slot, credit_slot;   /* the accounts' slots */
    uint32_t user_data_32;
    uint16_t code;
    uint16_t flags : 9;     /* F_KNOWN: create_transfer refuses any other bit first */
    uint16_t status : 3;    /* of a pending transfer: S_* */
    uint16_t state : 2;     /* R_LIVE or R_REMOVED (rolled back); R_ORPHAN is orphan_record's */
} record_t;

_Static_assert(sizeof(record_t) == 48, "a record is 48 bytes");
_Static_assert(F_KNOWN < (1 << 9) && S_EXPIRED < (1 << 3) && R_REMOVED < (1 << 2),
               "the record's bit fields hold every flag, status and state");

static uint64_t record_pending_id(const record_t *r)
{
    return (r->flags & (F_POST | F_VOID)) ? r->pending_id_or_timeout : 0;
}

static uint32_t record_timeout(const record_t *r)
{
    return (r->flags & (F_POST | F_VOID)) ? 0 : (uint32_t)r->pending_id_or_timeout;
}

/* row: the input row that created the pending transfer (for expired_in_batch) */
typedef struct { uint64_t expires_at, timestamp; int64_t row; uint32_t cell, index; } expiry_t;

typedef struct {
    expiry_t *items;
    size_t size, capacity;
} heap_t;

typedef struct {     /* written by its own thread only: two lines of its own, so threads
                        running neighbouring cells do not pull each other's lines away */
    _Alignas(128) bb_map ids;   /* transfer id → record index */
    record_t *records;
    size_t size, capacity;
    heap_t expiring;  /* pending transfers whose id and accounts are in this cell */
} cell_t;

struct bb_ledger {
    uint32_t n_cells;
    int64_t n_accounts;
    /* Accounts live in their hash slots (open addressing by id): a lookup is one cache line,
     * not an index probe and then a record. The slots never move after creation, so threads
     * share the table; each cell's events write only that cell's accounts. */
    account_t *accounts;
    size_t account_mask;      /* slots - 1, a power of two */
    int64_t *slot_of_input;   /* the slot of each input account, for reading balances back */
    cell_t *cells;
    /* pending transfers whose id and accounts are not all in one cell: their expiry touches
     * several cells, so it runs between batches (post_open), before any cell's events */
    heap_t crossing;
};

/* ---- expiry heaps, ordered by (expires_at, timestamp) ---- */
static bool expiry_before(const expiry_t *a, const expiry_t *b)
{
    return a->expires_at < b->expires_at || (a->expires_at == b->expires_at && a->timestamp < b->timestamp);
}

static int32_t heap_push(heap_t *h, expiry_t item)
{
    if (h->size == h->capacity) {
        size_t capacity = h->capacity ? 2 * h->capacity : 256;
        expiry_t *items = realloc(h->items, capacity * sizeof *items);
        if (!items) return BB_OUT_OF_MEMORY;
        h->items = items;
        h->capacity = capacity;
    }
    size_t i = h->size++;
    while (i > 0 && expiry_before(&item, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = item;
    return BB_OK;
}

static expiry_t heap_pop(heap_t *h)
{
    BB_ASSERT(h->size > 0);
    expiry_t top = h->items[0], last = h->items[--h->size];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->size) break;
        if (child + 1 < h->size && expiry_before(&h->items[child + 1], &h->items[child])) child++;
        if (!expiry_before(&h->items[child], &last)) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->size) h->items[i] = last;
    BB_ASSERT(h->size == 0 || !expiry_before(&h->items[0], &top));   /* popped the least */
    return top;
}

/* ---- the undo log of an open linked chain ---- */
enum { U_ACCOUNT_FIELD, U_ACCOUNT_FLAGS, U_RECORD_STATUS, U_RECORD_INSERT };
typedef struct { uint8_t kind, field; uint32_t cell; int64_t index; uint64_t old; } undo_t;

/* A chain's undo log starts in the caller's frame: most chains are short, and a malloc
 * and free per call would cost more than the chain's own bookkeeping. */
#define UNDO_LOCAL 32

typedef struct {
    bb_ledger *ledger;
    undo_t *entries;    /* the caller's UNDO_LOCAL entries until it outgrows them */
    size_t size, capacity;
    int on_heap;        /* entries was allocated here (freed by undo_free) */
    int open;           /* inside a chain: record changes */
    int out_of_memory;
    uint64_t amount;    /* what the last created transfer moved */
} run_t;

/* Appends to the open chain's log (growing it onto the heap when full). */
static void undo_append(run_t *run, undo_t entry)
{
    if (run->size == run->capacity) {
        size_t capacity = 2 * run->capacity;
        undo_t *entries = run->on_heap ? realloc(run->entries, capacity * sizeof *entries)
                                       : malloc(capacity * sizeof *entries);
        if (!entries) { run->out_of_memory = 1; return; }
        if (!run->on_heap) memcpy(entries, run->entries, run->size * sizeof *entries);
        run->entries = entries;
        run->capacity = capacity;
        run->on_heap = 1;
    }
    run->entries[run->size++] = entry;
}

/* Inline where every change is made: most events are in no chain, and for them a change
 * costs its store alone, not a call that finds nothing to log (callgrind, scale 0.1: such
 * calls took ~105 instructions of a posted transfer's four balance changes). */
BB_ALWAYS_INLINE void undo_push(run_t *run, undo_t entry)
{
    if (run->open) undo_append(run, entry);
}

static void undo_free(run_t *run)
{
    if (run->on_heap) free(run->entries);
}

BB_ALWAYS_INLINE uint64_t *account_field(account_t *a, uint8_t field)
{
    switch (field) {
    case 0: return &a->debits_pending;
    case 1: return &a->debits_posted;
    case 2: return &a->credits_pending;
    default: return &a->credits_posted;
    }
}
enum { DEBITS_PENDING, DEBITS_POSTED, CREDITS_PENDING, CREDITS_POSTED };

BB_ALWAYS_INLINE void set_balance(run_t *run, int64_t account, uint8_t field, uint64_t value)
{
    uint64_t *slot = account_field(&run->ledger->accounts[account], field);
    undo_push(run, (undo_t){.kind = U_ACCOUNT_FIELD, .field = field, .index = account, .old = *slot});
    *slot = value;
}

static void set_account_flags(run_t *run, int64_t account, uint16_t flags)
{
    account_t *a = &run->ledger->accounts[account];
    undo_push(run, (undo_t){.kind = U_ACCOUNT_FLAGS, .index = account, .old = a->flags});
    a->flags = flags;
}

static void set_record_status(run_t *run, uint32_t cell, int64_t index, uint8_t status)
{
    record_t *r = &run->ledger->cells[cell].records[index];
    undo_push(run, (undo_t){.kind = U_RECORD_STATUS, .cell = cell, .index = index, .old = r->status});
    r->status = status;
}

static void rollback(run_t *run)
{
    bb_ledger *l = run->ledger;
    while (run->size) {
        undo_t u = run->entries[--run->size];
        switch (u.kind) {
        case U_ACCOUNT_FIELD: *account_field(&l->accounts[u.index], u.field) = u.old; break;
        case U_ACCOUNT_FLAGS: l->accounts[u.index].flags = (uint16_t)u.old; break;
        case U_RECORD_STATUS: l->cells[u.cell].records[u.index].status = (uint8_t)u.old; break;
        default: l->cells[u.cell].records[u.index].state = R_REMOVED; break;
        }
    }
}

/* ---- lookups ---- */
/* The slot of account id, or the free slot where it would go; hash is bb_mix64(id). */
static size_t account_slot(const bb_ledger *l, uint64_t id, uint64_t hash)
{
    size_t i = (size_t)hash & l->account_mask;
    while (l->accounts[i].used && l->accounts[i].id != id) i = (i + 1) & l->account_mask;
    return i;
}

/* The tables are far larger than the caches: fetch the lines of an account, an event or a
 * balance this many iterations before they are needed. */
#define PREFETCH_AHEAD 8

static int64_t find_account_hashed(const bb_ledger *l, uint64_t id, uint64_t hash)
{
    size_t i = account_slot(l, id, hash);
    return l->accounts[i].used ? (int64_t)i : -1;
}

static int64_t find_account(const bb_ledger *l, uint64_t id)
{
    return find_account_hashed(l, id, bb_mix64(id));
}

static uint32_t cell_of(const bb_ledger *l, uint64_t id) { return bb_cell_of(id, l->n_cells); }

/* A cell's record index as the id map and the expiry heaps keep it: 32 bits (a cell's
 * records never grow past RECORDS_MAX). */
static uint32_t record_index32(size_t index)
{
    BB_ASSERT(index < UINT32_MAX);
    return (uint32_t)index;
}

/* An id that failed with a transient code is kept in its cell's id map with this value and
 * no record (190,619 of them at ledger.post's scale 1: 9 MB of records they no longer
 * take); find_record answers for it with orphan_record. */
#define ORPHAN_INDEX UINT32_MAX
static const record_t orphan_record = {.state = R_ORPHAN};

/* The live or orphaned record of a transfer id, or NULL (index: a live one's); hash is
 * bb_mix64(id). */
static const record_t *find_record_hashed(const bb_ledger *l, uint64_t id, uint64_t hash,
                                          int64_t *index)
{
    const cell_t *c = &l->cells[cell_of(l, id)];
    const uint32_t *at = bb_map_get_hashed(&c->ids, id, hash);
    if (!at) return NULL;
    if (*at == ORPHAN_INDEX) return &orphan_record;
    BB_ASSERT(*at < c->size);
    if (c->records[*at].state == R_REMOVED) return NULL;
    if (index) *index = *at;
    return &c->records[*at];
}

static const record_t *find_record(const bb_ledger *l, uint64_t id, int64_t *index)
{
    return find_record_hashed(l, id, bb_mix64(id), index);
}

#define RECORDS_AHEAD 4

/* A cell holds fewer than 2^32 - 1 records: the id map and the expiry heaps keep a record's
 * index in 32 bits, and the map's UINT32_MAX is ORPHAN_INDEX. */
#define RECORDS_MAX ((size_t)UINT32_MAX - 1)

/* Room for `capacity` records (at most RECORDS_MAX), in a big table (tables.c); a record is
 * written before it is read, so the table is not cleared. */
static int32_t grow_records(cell_t *c, size_t capacity)
{
    if (capacity > RECORDS_MAX) capacity = RECORDS_MAX;
    if (capacity <= c->capacity) return BB_OUT_OF_MEMORY;   /* full at RECORDS_MAX */
    record_t *records = bb_table_alloc_unzeroed(capacity * sizeof *records);
    if (!records) return BB_OUT_OF_MEMORY;
    if (c->size) memcpy(records, c->records, c->size * sizeof *records);
    bb_table_free(c->records, c->capacity * sizeof *records);
    c->records = records;
    c->capacity = capacity;
    return BB_OK;
}

/* Stores the record of a new transfer id (hash: bb_mix64(id)); its index or -1. */
BB_ALWAYS_INLINE int64_t store_record(run_t *run, uint64_t id, uint64_t hash, const record_t *record)
{
    bb_ledger *l = run->ledger;
    uint32_t home = cell_of(l, id);
    cell_t *c = &l->cells[home];
    if (c->size == c->capacity && grow_records(c, c->capacity ? 2 * c->capacity : 1024) != BB_OK)
        return -1;
    int inserted;
    uint32_t *slot = bb_map_upsert_hashed(&c->ids, id, hash, record_index32(c->size), &inserted);
    if (!slot) return -1;
    *slot = record_index32(c->size);   /* a rolled-back id may come back: point at the new record */
    int64_t index = (int64_t)c->size++;
    c->records[index] = *record;
    /* the cell's next records go to fresh memory: ask for their lines now */
    if (c->size + RECORDS_AHEAD < c->capacity) __builtin_prefetch(&c->records[c->size + RECORDS_AHEAD], 1);
    undo_push(run, (undo_t){.kind = U_RECORD_INSERT, .cell = home, .index = index});
    return index;
}

/* Marks id orphaned (failed with a transient code; never undone; hash: bb_mix64(id)): BB_OK
 * or BB_OUT_OF_MEMORY. */
static int32_t store_orphan(bb_ledger *l, uint64_t id, uint64_t hash)
{
    int inserted;
    uint32_t *slot = bb_map_upsert_hashed(&l->cells[cell_of(l, id)].ids, id, hash, ORPHAN_INDEX,
                                          &inserted);
    if (!slot) return BB_OUT_OF_MEMORY;
    *slot = ORPHAN_INDEX;   /* a rolled-back id may fail again: it is orphaned from here on */
    return BB_OK;
}

/* ---- create_transfer (TigerBeetle's check order) ---- */
typedef struct {
    uint64_t id, debit_account_id, credit_account_id, amount, pending_id, user_data_64, timestamp;
    uint64_t id_hash, debit_hash, credit_hash;   /* bb_mix64 of the ids, hashed once */
    int64_t row;   /* its row in the input */
    uint32_t user_data_32, timeout, ledger;
    uint16_t code, flags;
} transfer_t;

/* The ledger and the account ids of a created transfer: its accounts' (they exist for as
 * long as it does, in the slots it keeps). */
static uint32_t record_ledger(const bb_ledger *l, const record_t *r)
{
    return l->accounts[r->debit_slot].ledger;
}

static uint64_t record_debit_id(const bb_ledger *l, const record_t *r)
{
    return l->accounts[r->debit_slot].id;
}

static uint64_t record_credit_id(const bb_ledger *l, const record_t *r)
{
    return l->accounts[r->credit_slot].id;
}

static uint32_t exists_plain(const bb_ledger *l, const transfer_t *t, const record_t *e)
{
    if (t->debit_account_id != record_debit_id(l, e)) return BB_TB_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
    if (t->credit_account_id != record_credit_id(l, e)) return BB_TB_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
    if (t->flags & (F_BALANCING_DEBIT | F_BALANCING_CREDIT)) {
        if (t->amount < e->amount) return BB_TB_EXISTS_WITH_DIFFERENT_AMOUNT;  /* an upper limit */
    } else if (t->amount != e->amount) {
        return BB_TB_EXISTS_WITH_DIFFERENT_AMOUNT;
    }
    if (t->user_data_64 != e->user_data_64) return BB_TB_EXISTS_WITH_DIFFERENT_USER_DATA_64;
    if (t->user_data_32 != e->user_data_32) return BB_TB_EXISTS_WITH_DIFFERENT_USER_DATA_32;
    if (t->ledger != record_ledger(l, e)) return BB_TB_EXISTS_WITH_DIFFERENT_LEDGER;
    if (t->code != e->code) return BB_TB_EXISTS_WITH_DIFFERENT_CODE;
    return BB_TB_EXISTS;
}

static uint32_t exists_post_or_void(const bb_ledger *l, const transfer_t *t, const record_t *e,
                                    const record_t *p)
{
    if (t->debit_account_id && t->debit_account_id != record_debit_id(l, e))
        return BB_TB_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
    if (t->credit_account_id && t->credit_account_id != record_credit_id(l, e))
        return BB_TB_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
    if (t->flags & F_VOID) {
        if (t->amount == 0 ? e->amount != p->amount : t->amount != e->amount)
            return BB_TB_EXISTS_WITH_DIFFERENT_AMOUNT;
    }
    if (t->flags & F_POST) {
        if (t->amount == UINT64_MAX ? e->amount != p->amount : t->amount != e->amount)
            return BB_TB_EXISTS_WITH_DIFFERENT_AMOUNT;
    }
    if (t->user_data_64 == 0 ? e->user_data_64 != p->user_data_64 : t->user_data_64 != e->user_data_64)
        return BB_TB_EXISTS_WITH_DIFFERENT_USER_DATA_64;
    if (t->user_data_32 == 0 ? e->user_data_32 != p->user_data_32 : t->user_data_32 != e->user_data_32)
        return BB_TB_EXISTS_WITH_DIFFERENT_USER_DATA_32;
    if (t->ledger && t->ledger != record_ledger(l, e)) return BB_TB_EXISTS_WITH_DIFFERENT_LEDGER;
    if (t->code && t->code != e->code) return BB_TB_EXISTS_WITH_DIFFERENT_CODE;
    return BB_TB_EXISTS;
}

static uint32_t exists(bb_ledger *l, const transfer_t *t, const record_t *e)
{
    if (t->flags != e->flags) return BB_TB_EXISTS_WITH_DIFFERENT_FLAGS;
    if (t->pending_id != record_pending_id(e)) return BB_TB_EXISTS_WITH_DIFFERENT_PENDING_ID;
    if (t->timeout != record_timeout(e)) return BB_TB_EXISTS_WITH_DIFFERENT_TIMEOUT;
    if (t->flags & (F_POST | F_VOID)) {
        const record_t *p = find_record(l, t->pending_id, NULL);
        BB_ASSERT(p != NULL);   /* e was made from p, and a rollback removes e before p */
        return p ? exists_post_or_void(l, t, e, p) : BB_TB_EXISTS;
    }
    return exists_plain(l, t, e);
}

/* Whether a pending transfer stored in cell `home` (its id's) has both accounts there too. */
static bool pending_is_local(const bb_ledger *l, const record_t *r, uint32_t home)
{
    return cell_of(l, record_debit_id(l, r)) == home && cell_of(l, record_credit_id(l, r)) == home;
}

static uint32_t post_or_void(run_t *run, const transfer_t *t)
{
    bb_ledger *l = run->ledger;
    int post = (t->flags & F_POST) != 0, void_ = (t->flags & F_VOID) != 0;
    if ((post && void_) || (t->flags & (F_PENDING | F_BALANCING_DEBIT | F_BALANCING_CREDIT
                                        | F_CLOSING_DEBIT | F_CLOSING_CREDIT)))
        return BB_TB_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    if (t->pending_id == 0) return BB_TB_PENDING_ID_MUST_NOT_BE_ZERO;
    if (t->pending_id == UINT64_MAX) return BB_TB_PENDING_ID_MUST_NOT_BE_INT_MAX;
    if (t->pending_id == t->id) return BB_TB_PENDING_ID_MUST_BE_DIFFERENT;
    if (t->timeout != 0) return BB_TB_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    int64_t p_index;
    const record_t *p = find_record(l, t->pending_id, &p_index);
    if (!p || p->state != R_LIVE) return BB_TB_PENDING_TRANSFER_NOT_FOUND;
    if (!(p->flags & F_PENDING)) return BB_TB_PENDING_TRANSFER_NOT_PENDING;
    int64_t dr = p->debit_slot, cr = p->credit_slot;
    if (t->debit_account_id && t->debit_account_id != l->accounts[dr].id)
        return BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID;
    if (t->credit_account_id && t->credit_account_id != l->accounts[cr].id)
        return BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID;
    if (t->ledger && t->ledger != l->accounts[dr].ledger) return BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER;
    if (t->code && t->code != p->code) return BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_CODE;
    uint64_t amount = void_ ? (t->amount > 0 ? t->amount : p->amount)
                            : (t->amount == UINT64_MAX ? p->amount : t->amount);
    if (amount > p->amount) return BB_TB_EXCEEDS_PENDING_TRANSFER_AMOUNT;
    if (void_ && amount < p->amount) return BB_TB_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT;
    if (p->status == S_POSTED) return BB_TB_PENDING_TRANSFER_ALREADY_POSTED;
    if (p->status == S_VOIDED) return BB_TB_PENDING_TRANSFER_ALREADY_VOIDED;
    /* p's timeout·10^9 + timestamp fits: it was checked against 2^63 when p was created */
    uint64_t p_timeout = record_timeout(p);
    BB_ASSERT(p->timestamp + p_timeout * NS_PER_S <= U63_MAX);
    if (p->status == S_EXPIRED || (p_timeout && p->timestamp + p_timeout * NS_PER_S <= t->timestamp))
        return BB_TB_PENDING_TRANSFER_EXPIRED;
    account_t *da = &l->accounts[dr], *ca = &l->accounts[cr];
    if ((da->flags & A_CLOSED) && !void_) return BB_TB_DEBIT_ACCOUNT_ALREADY_CLOSED;
    if ((ca->flags & A_CLOSED) && !void_) return BB_TB_CREDIT_ACCOUNT_ALREADY_CLOSED;

    record_t record = {
        .debit_slot = p->debit_slot, .credit_slot = p->credit_slot, .amount = amount,
        .pending_id_or_timeout = t->pending_id,
        .user_data_64 = t->user_data_64 ? t->user_data_64 : p->user_data_64,
        .user_data_32 = t->user_data_32 ? t->user_data_32 : p->user_data_32,
        .code = p->code, .flags = t->flags & F_KNOWN, .timestamp = t->timestamp,
    };
    uint32_t p_cell = cell_of(l, t->pending_id);
    uint64_t p_amount = p->amount;
    /* the pending amounts are in the balances until p resolves or expires, once */
    BB_ASSERT(da->debits_pending >= p_amount && ca->credits_pending >= p_amount);
    uint16_t p_flags = p->flags;
    if (store_record(run, t->id, t->id_hash, &record) < 0) { run->out_of_memory = 1; return BB_TB_LINKED_EVENT_FAILED; }
    /* store_record may have moved the records: use indices from here on */
    set_record_status(run, p_cell, p_index, post ? S_POSTED : S_VOIDED);
    set_balance(run, dr, DEBITS_PENDING, da->debits_pending - p_amount);
    set_balance(run, cr, CREDITS_PENDING, ca->credits_pending - p_amount);
    if (post) {
        BB_ASSERT(amount <= p_amount);   /* ≤ pending: the sums below fit */
        BB_ASSERT(da->debits_posted <= UINT64_MAX - amount && ca->credits_posted <= UINT64_MAX - amount);
        set_balance(run, dr, DEBITS_POSTED, da->debits_posted + amount);
        set_balance(run, cr, CREDITS_POSTED, ca->credits_posted + amount);
    } else {  /* voiding a closing transfer reopens the account */
        if (p_flags & F_CLOSING_DEBIT) set_account_flags(run, dr, (uint16_t)(da->flags & ~A_CLOSED));
        if (p_flags & F_CLOSING_CREDIT) set_account_flags(run, cr, (uint16_t)(ca->flags & ~A_CLOSED));
    }
    run->amount = amount;
    return BB_TB_CREATED;
}

static uint32_t create_transfer(run_t *run, const transfer_t *t)
{
    bb_ledger *l = run->ledger;
    uint64_t sum;
    if (t->flags & ~F_KNOWN) return BB_TB_RESERVED_FLAG;
    if (t->id == 0) return BB_TB_ID_MUST_NOT_BE_ZERO;
    if (t->id == UINT64_MAX) return BB_TB_ID_MUST_NOT_BE_INT_MAX;
    const record_t *e = find_record_hashed(l, t->id, t->id_hash, NULL);
    if (e) return e->state == R_ORPHAN ? BB_TB_ID_ALREADY_FAILED : exists(l, t, e);
    if (t->flags & (F_POST | F_VOID)) return post_or_void(run, t);
    if (t->debit_account_id == 0) return BB_TB_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
    if (t->debit_account_id == UINT64_MAX) return BB_TB_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
    if (t->credit_account_id == 0) return BB_TB_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
    if (t->credit_account_id == UINT64_MAX) return BB_TB_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
    if (t->credit_account_id == t->debit_account_id) return BB_TB_ACCOUNTS_MUST_BE_DIFFERENT;
    if (t->pending_id != 0) return BB_TB_PENDING_ID_MUST_BE_ZERO;
    if (!(t->flags & F_PENDING)) {
        if (t->timeout != 0) return BB_TB_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
        if (t->flags & (F_CLOSING_DEBIT | F_CLOSING_CREDIT)) return BB_TB_CLOSING_TRANSFER_MUST_BE_PENDING;
    }
    if (t->ledger == 0) return BB_TB_LEDGER_MUST_NOT_BE_ZERO;
    if (t->code == 0) return BB_TB_CODE_MUST_NOT_BE_ZERO;
    int64_t dr = find_account_hashed(l, t->debit_account_id, t->debit_hash);
    if (dr < 0) return BB_TB_DEBIT_ACCOUNT_NOT_FOUND;
    int64_t cr = find_account_hashed(l, t->credit_account_id, t->credit_hash);
    if (cr < 0) return BB_TB_CREDIT_ACCOUNT_NOT_FOUND;
    account_t *da = &l->accounts[dr], *ca = &l->accounts[cr];
    if (da->ledger != ca->ledger) return BB_TB_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER;
    if (t->ledger != da->ledger) return BB_TB_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS;
    if (da->flags & A_CLOSED) return BB_TB_DEBIT_ACCOUNT_ALREADY_CLOSED;
    if (ca->flags & A_CLOSED) return BB_TB_CREDIT_ACCOUNT_ALREADY_CLOSED;

    uint64_t amount = t->amount;
    /* the balances' sums below never overflow: every amount added was checked against them */
    BB_ASSERT(da->debits_posted <= UINT64_MAX - da->debits_pending);
    BB_ASSERT(ca->credits_posted <= UINT64_MAX - ca->credits_pending);
    if (t->flags & F_BALANCING_DEBIT) {
        uint64_t balance = da->debits_posted + da->debits_pending;
        uint64_t room = da->credits_posted > balance ? da->credits_posted - balance : 0;
        if (room < amount) amount = room;
    }
    if (t->flags & F_BALANCING_CREDIT) {
        uint64_t balance = ca->credits_posted + ca->credits_pending;
        uint64_t room = ca->debits_posted > balance ? ca->debits_posted - balance : 0;
        if (room < amount) amount = room;
    }
    if (t->flags & F_PENDING) {
        if (__builtin_add_overflow(amount, da->debits_pending, &sum)) return BB_TB_OVERFLOWS_DEBITS_PENDING;
        if (__builtin_add_overflow(amount, ca->credits_pending, &sum)) return BB_TB_OVERFLOWS_CREDITS_PENDING;
    }
    if (__builtin_add_overflow(amount, da->debits_posted, &sum)) return BB_TB_OVERFLOWS_DEBITS_POSTED;
    if (__builtin_add_overflow(amount, ca->credits_posted, &sum)) return BB_TB_OVERFLOWS_CREDITS_POSTED;
    if (__builtin_add_overflow(amount, da->debits_pending + da->debits_posted, &sum))
        return BB_TB_OVERFLOWS_DEBITS;
    if (__builtin_add_overflow(amount, ca->credits_pending + ca->credits_posted, &sum))
        return BB_TB_OVERFLOWS_CREDITS;
    if (__builtin_add_overflow(t->timestamp, (uint64_t)t->timeout * NS_PER_S, &sum) || sum > U63_MAX)
        return BB_TB_OVERFLOWS_TIMEOUT;
    if ((da->flags & A_DEBITS_MUST_NOT_EXCEED_CREDITS)
        && da->debits_pending + da->debits_posted + amount > da->credits_posted)
        return BB_TB_EXCEEDS_CREDITS;
    if ((ca->flags & A_CREDITS_MUST_NOT_EXCEED_DEBITS)
        && ca->credits_pending + ca->credits_posted + amount > ca->debits_posted)
        return BB_TB_EXCEEDS_DEBITS;

    record_t record = {
        .debit_slot = (uint32_t)dr, .credit_slot = (uint32_t)cr, .amount = amount,
        .pending_id_or_timeout = t->timeout,
        .user_data_64 = t->user_data_64, .user_data_32 = t->user_data_32,
        .code = t->code, .flags = t->flags & F_KNOWN, .timestamp = t->timestamp,
        .status = (t->flags & F_PENDING) ? S_PENDING : S_NONE,
    };
    int64_t index = store_record(run, t->id, t->id_hash, &record);
    if (index < 0) { run->out_of_memory = 1; return BB_TB_LINKED_EVENT_FAILED; }
    if (t->flags & F_PENDING) {
        set_balance(run, dr, DEBITS_PENDING, da->debits_pending + amount);
        set_balance(run, cr, CREDITS_PENDING, ca->credits_pending + amount);
        if (t->timeout) {  /* a rolled-back entry is skipped when it is popped */
            uint32_t home = cell_of(l, t->id);
            heap_t *heap = pending_is_local(l, &record, home) ? &l->cells[home].expiring : &l->crossing;
            expiry_t item = {t->timestamp + t->timeout * NS_PER_S, t->timestamp, t->row, home,
                             record_index32((size_t)index)};
            if (heap_push(heap, item) != BB_OK) run->out_of_memory = 1;
        }
    } else {
        set_balance(run, dr, DEBITS_POSTED, da->debits_posted + amount);
        set_balance(run, cr, CREDITS_POSTED, ca->credits_posted + amount);
    }
    if (t->flags & F_CLOSING_DEBIT) set_account_flags(run, dr, (uint16_t)(da->flags | A_CLOSED));
    if (t->flags & F_CLOSING_CREDIT) set_account_flags(run, cr, (uint16_t)(ca->flags | A_CLOSED));
    run->amount = amount;
    return BB_TB_CREATED;
}

static bool is_transient(uint32_t status)
{
    return status == BB_TB_DEBIT_ACCOUNT_NOT_FOUND || status == BB_TB_CREDIT_ACCOUNT_NOT_FOUND
        || status == BB_TB_PENDING_TRANSFER_NOT_FOUND || status == BB_TB_EXCEEDS_CREDITS
        || status == BB_TB_EXCEEDS_DEBITS || status == BB_TB_DEBIT_ACCOUNT_ALREADY_CLOSED
        || status == BB_TB_CREDIT_ACCOUNT_ALREADY_CLOSED;
}

/* ---- the public API ---- */

/* bb_ledger_new inserts the accounts over the pool: part g of `parts` owns the slots
 * [begin, end) of the table and places the accounts whose home slot is there, in input
 * order, probing only inside its slots; an account whose probe would leave them is left
 * for the serial pass after (few: the table is at most half full). A slot between an
 * account's home and its place is never free, as in a serial insert, so lookups find it;
 * only the layout depends on `parts`, never an answer. */
typedef struct { int64_t *rows; int64_t size, capacity; } spill_t;

typedef struct {
    bb_ledger *ledger;
    const bb_ledger_accounts *accounts;
    int64_t n_accounts, parts;
    spill_t *spills;   /* one per part */
} insert_task_t;

static void owned_slots(const bb_ledger *l, int64_t parts, int64_t g, size_t *begin, size_t *end)
{
    size_t slots = l->account_mask + 1;   /* a power of two of at most 2^34, parts <= 2^10 */
    *begin = slots / (size_t)parts * (size_t)g;
    *end = g == parts - 1 ? slots : *begin + slots / (size_t)parts;
}

static int32_t spill(spill_t *s, int64_t row)
{
    if (s->size == s->capacity) {
        int64_t capacity = s->capacity ? 2 * s->capacity : 64;
        int64_t *rows = realloc(s->rows, (size_t)capacity * sizeof *rows);
        if (!rows) return BB_OUT_OF_MEMORY;
        s->rows = rows;
        s->capacity = capacity;
    }
    s->rows[s->size++] = row;
    return BB_OK;
}

static void place_account(bb_ledger *l, const bb_ledger_accounts *a, int64_t row, size_t slot)
{
    l->accounts[slot] = (account_t){.id = a->id[row], .ledger = a->ledger[row],
                                    .code = a->code[row], .flags = a->flags[row], .used = 1};
    l->slot_of_input[row] = (int64_t)slot;
}

static int32_t insert_part(const void *args, int64_t g, int64_t g_end)
{
    const insert_task_t *t = args;
    bb_ledger *l = t->ledger;
    const uint64_t *ids = t->accounts->id;
    size_t begin, end;
    BB_ASSERT(g_end == g + 1);
    owned_slots(l, t->parts, g, &begin, &end);
    for (int64_t i = 0; i < t->n_accounts; i++) {
        if (i + PREFETCH_AHEAD < t->n_accounts) {
            size_t ahead = (size_t)bb_mix64(ids[i + PREFETCH_AHEAD]) & l->account_mask;
            if (ahead >= begin && ahead < end) __builtin_prefetch(&l->accounts[ahead], 1);
        }
        size_t slot = (size_t)bb_mix64(ids[i]) & l->account_mask;
        if (slot < begin || slot >= end) continue;   /* another part's */
        if (ids[i] == 0 || ids[i] == UINT64_MAX) return BB_INVALID_ARGUMENT;
        while (slot < end && l->accounts[slot].used && l->accounts[slot].id != ids[i]) slot++;
        if (slot == end) {
            if (spill(&t->spills[g], i) != BB_OK) return BB_OUT_OF_MEMORY;
            continue;
        }
        if (l->accounts[slot].used) return BB_INVALID_ARGUMENT;   /* a duplicate id */
        place_account(l, t->accounts, i, slot);
    }
    return BB_OK;
}

/* The accounts no part could place, in part order and then input order: serially. */
static int32_t insert_spilled(bb_ledger *l, const insert_task_t *t)
{
    for (int64_t g = 0; g < t->parts; g++) {
        for (int64_t j = 0; j < t->spills[g].size; j++) {
            int64_t row = t->spills[g].rows[j];
            uint64_t id = t->accounts->id[row];
            size_t slot = account_slot(l, id, bb_mix64(id));
            if (l->accounts[slot].used) return BB_INVALID_ARGUMENT;   /* a duplicate id */
            place_account(l, t->accounts, row, slot);
        }
    }
    return BB_OK;
}

int32_t bb_ledger_new(const bb_ledger_accounts *accounts, int64_t n_accounts, uint32_t cells,
                      int32_t threads, bb_ledger **out)
{
    *out = NULL;
    /* at most 2^31 - 1 accounts: the table's 2n + 2 slots or more, a power of two, then
     * number at most 2^32, and a record keeps its accounts' slots in 32 bits */
    if (n_accounts < 0 || n_accounts > INT32_MAX || cells < 1 || cells > BB_CELLS_MAX
        || threads < 1 || threads > BB_POOL_THREADS_MAX)
        return BB_INVALID_ARGUMENT;
    bb_ledger *l = calloc(1, sizeof *l);
    if (!l) return BB_OUT_OF_MEMORY;
    l->n_cells = cells;
    l->n_accounts = n_accounts;
    size_t capacity = 1024;
    while (capacity < 2 * (size_t)n_accounts + 2) capacity *= 2;
    l->accounts = bb_table_alloc(capacity * sizeof *l->accounts);
    l->account_mask = capacity - 1;
    l->slot_of_input = calloc((size_t)n_accounts + 1, sizeof *l->slot_of_input);
    l->cells = aligned_alloc(_Alignof(cell_t), cells * sizeof *l->cells);
    if (l->cells) memset(l->cells, 0, cells * sizeof *l->cells);
    if (!l->accounts || !l->cells || !l->slot_of_input) {
        bb_ledger_free(l);
        return BB_OUT_OF_MEMORY;
    }
    for (uint32_t c = 0; c < cells; c++) {
        if (bb_map_init(&l->cells[c].ids, 1024) != BB_OK) { bb_ledger_free(l); return BB_OUT_OF_MEMORY; }
    }
    insert_task_t task = {.ledger = l, .accounts = accounts, .n_accounts = n_accounts,
                          .parts = threads, .spills = calloc((size_t)threads, sizeof(spill_t))};
    int32_t rc = task.spills ? bb_parallel_ranges(insert_part, &task, threads, threads)
                             : BB_OUT_OF_MEMORY;
    if (rc == BB_OK) rc = insert_spilled(l, &task);
    for (int32_t g = 0; task.spills && g < threads; g++) free(task.spills[g].rows);
    free(task.spills);
    if (rc != BB_OK) {
        bb_ledger_free(l);
        return rc;
    }
    *out = l;
    return BB_OK;
}

void bb_ledger_free(bb_ledger *l)
{
    if (!l) return;
    if (l->cells) {
        for (uint32_t c = 0; c < l->n_cells; c++) {
            bb_map_free(&l->cells[c].ids);
            bb_table_free(l->cells[c].records, l->cells[c].capacity * sizeof(record_t));
            free(l->cells[c].expiring.items);
        }
    }
    free(l->cells);
    free(l->crossing.items);
    free(l->slot_of_input);
    bb_table_free(l->accounts, (l->account_mask + 1) * sizeof *l->accounts);
    free(l);
}

/* Where an expiry is reported: expired_in_batch[row] = batch for rows < rows (NULL: not). */
typedef struct { uint32_t *expired_in_batch; int64_t rows; uint32_t batch; } expiry_report_t;

/* Expires one popped pending transfer of a cell's heap (cell -1: the cross-cell heap). */
static void expire_one(bb_ledger *l, int32_t cell, expiry_t item, const expiry_report_t *report)
{
    BB_ASSERT(item.cell < l->n_cells && item.index < l->cells[item.cell].size);
    record_t *p = &l->cells[item.cell].records[item.index];
    if (p->state != R_LIVE || p->status != S_PENDING || p->timestamp != item.timestamp) return;
    BB_ASSERT(p->flags & F_PENDING);
    /* a cell's heap holds only pending transfers wholly in the cell, which is why cells may
     * expire theirs in parallel; the others touch several cells, and expire between batches */
    BB_ASSERT(pending_is_local(l, p, item.cell) == (cell >= 0));
    BB_ASSERT(cell < 0 || item.cell == (uint32_t)cell);
    account_t *da = &l->accounts[p->debit_slot], *ca = &l->accounts[p->credit_slot];
    BB_ASSERT(da->debits_pending >= p->amount && ca->credits_pending >= p->amount);
    da->debits_pending -= p->amount;
    ca->credits_pending -= p->amount;
    if (p->flags & F_CLOSING_DEBIT) da->flags = (uint16_t)(da->flags & ~A_CLOSED);
    if (p->flags & F_CLOSING_CREDIT) ca->flags = (uint16_t)(ca->flags & ~A_CLOSED);
    p->status = S_EXPIRED;
    BB_ASSERT(record_timeout(p) > 0);   /* only a pending transfer with a timeout has an entry */
    if (report->expired_in_batch && item.row >= 0 && item.row < report->rows)
        report->expired_in_batch[item.row] = report->batch;
}

BB_PREFETCHES void prefetch_expiring(const bb_ledger *l, expiry_t item)
{
    BB_ASSERT(item.cell < l->n_cells && item.index < l->cells[item.cell].size);
    const record_t *p = &l->cells[item.cell].records[item.index];
    __builtin_prefetch(&l->accounts[p->debit_slot]);
    __builtin_prefetch(&l->accounts[p->credit_slot]);
}

/* The due pending transfers, in heap order, a chunk at a time: popping a chunk first lets
 * their records, then their accounts, be fetched ahead of the expiry that needs them. */
#define EXPIRE_CHUNK 64

static void expire_heap(bb_ledger *l, int32_t cell, uint64_t now, const expiry_report_t *report)
{
    BB_ASSERT(cell >= -1 && cell < (int32_t)l->n_cells);
    heap_t *heap = cell < 0 ? &l->crossing : &l->cells[cell].expiring;
    expiry_t due[EXPIRE_CHUNK];
    for (;;) {
        int n = 0;
        for (; n < EXPIRE_CHUNK && heap->size && heap->items[0].expires_at <= now; n++) {
            due[n] = heap_pop(heap);
            __builtin_prefetch(&l->cells[due[n].cell].records[due[n].index]);
        }
        if (n == 0) return;
        for (int j = 0; j < n && j < PREFETCH_AHEAD; j++) prefetch_expiring(l, due[j]);
        for (int j = 0; j < n; j++) {
            if (j + PREFETCH_AHEAD < n) prefetch_expiring(l, due[j + PREFETCH_AHEAD]);
            expire_one(l, cell, due[j], report);
        }
    }
}

/* The hashes of an event's ids, taken when its lines are prefetched and used when it runs. */
typedef struct { uint64_t id, debit, credit; } event_hashes_t;

/* Every event touches two account slots and its cell's id map. */
BB_PREFETCHES void prefetch_event(const bb_ledger *l, const bb_ledger_transfers *in, int64_t i,
                                  event_hashes_t *hashes)
{
    const bb_map *ids = &l->cells[cell_of(l, in->id[i])].ids;
    *hashes = (event_hashes_t){bb_mix64(in->id[i]), bb_mix64(in->debit_account_id[i]),
                               bb_mix64(in->credit_account_id[i])};
    __builtin_prefetch(&l->accounts[hashes->debit & l->account_mask]);
    __builtin_prefetch(&l->accounts[hashes->credit & l->account_mask]);
    __builtin_prefetch(&ids->entries[hashes->id & (ids->capacity - 1)]);
}

static bool rows_are_valid(const int64_t *rows, int64_t n_rows, int64_t begin, int64_t end)
{
    if (n_rows < 0 || (n_rows > 0 && !rows)) return false;
    for (int64_t p = 0; p < n_rows; p++)
        if (rows[p] < (p ? rows[p - 1] + 1 : begin) || rows[p] >= end) return false;
    return true;
}

int32_t bb_ledger_execute(bb_ledger *l, const bb_ledger_transfers *in, int64_t begin,
                          int64_t end, uint64_t batch_timestamp, const int64_t *rows,
                          int64_t n_rows, bb_ledger_results *out)
{
    if (!rows_are_valid(rows, n_rows, begin, end)) return BB_INVALID_ARGUMENT;
    return bb_ledger_execute_planned(l, in, begin, end, batch_timestamp, rows, n_rows, out);
}

/* The core's own callers pass rows they planned (ledger.post's cells, eod's postings): the
 * pass over them that bb_ledger_execute makes took 7 instructions a transfer (callgrind,
 * ledger.post at scale 0.1); here it is an assertion. */
int32_t bb_ledger_execute_planned(bb_ledger *l, const bb_ledger_transfers *in, int64_t begin,
                                  int64_t end, uint64_t batch_timestamp, const int64_t *rows,
                                  int64_t n_rows, bb_ledger_results *out)
{
    if (!l || begin < 0 || end < begin || batch_timestamp < (uint64_t)(end - begin) || n_rows < 0
        || (n_rows > 0 && !rows))
        return BB_INVALID_ARGUMENT;
    BB_ASSERT(rows_are_valid(rows, n_rows, begin, end));
    undo_t undo_local[UNDO_LOCAL];
    run_t run = {.ledger = l, .entries = undo_local, .capacity = UNDO_LOCAL};
    int64_t n = end - begin, chain_start = -1;   /* chain_start: a position in rows */
    int chain_broken = 0;
    event_hashes_t ahead[PREFETCH_AHEAD];   /* event p's in ahead[p % PREFETCH_AHEAD] (p as size_t:
                                             * a signed p's remainder takes a sign fix-up) */
    for (int64_t p = 0; p < n_rows && p < PREFETCH_AHEAD; p++) prefetch_event(l, in, rows[p], &ahead[p]);
    for (int64_t p = 0; p < n_rows; p++) {
        event_hashes_t hashes = ahead[(size_t)p % PREFETCH_AHEAD];
        if (p + PREFETCH_AHEAD < n_rows)
            prefetch_event(l, in, rows[p + PREFETCH_AHEAD], &ahead[(size_t)p % PREFETCH_AHEAD]);
        int64_t i = rows[p];
        uint64_t timestamp = batch_timestamp - (uint64_t)n + (uint64_t)(i - begin) + 1;
        int linked = (in->flags[i] & F_LINKED) != 0;
        uint32_t status;
        if (linked && chain_start < 0) {
            chain_start = p;
            run.open = 1;
            run.size = 0;
        }
        if (linked && i == end - 1) {
            status = BB_TB_LINKED_EVENT_CHAIN_OPEN;
        } else if (chain_broken) {
            status = BB_TB_LINKED_EVENT_FAILED;
        } else if (in->flags[i] & F_IMPORTED) {
            status = BB_TB_IMPORTED_EVENT_NOT_EXPECTED;   /* imported batches are outside the subset */
        } else if (in->timestamp[i] != 0) {
            status = BB_TB_TIMESTAMP_MUST_BE_ZERO;
        } else {
            transfer_t t = {
                .id = in->id[i], .debit_account_id = in->debit_account_id[i],
                .credit_account_id = in->credit_account_id[i], .amount = in->amount[i],
                .pending_id = in->pending_id[i], .user_data_64 = in->user_data_64[i],
                .timestamp = timestamp, .id_hash = hashes.id, .debit_hash = hashes.debit,
                .credit_hash = hashes.credit, .row = i, .user_data_32 = in->user_data_32[i],
                .timeout = in->timeout[i], .ledger = in->ledger[i], .code = in->code[i],
                .flags = in->flags[i],
            };
            status = create_transfer(&run, &t);
        }
        if (run.out_of_memory) {
            undo_free(&run);
            return BB_OUT_OF_MEMORY;
        }
        if (status != BB_TB_CREATED) {
            const record_t *e = status == BB_TB_EXISTS ? find_record_hashed(l, in->id[i], hashes.id, NULL)
                                                       : NULL;
            out->timestamp[p] = e ? e->timestamp : 0;   /* read before a rollback */
            if (chain_start >= 0 && !chain_broken) {
                chain_broken = 1;
                rollback(&run);
                for (int64_t q = chain_start; q < p; q++) {
                    out->status[q] = BB_TB_LINKED_EVENT_FAILED;
                    out->timestamp[q] = 0;
                    if (out->amount) out->amount[q] = 0;
                }
            }
            if (is_transient(status)) {  /* after the rollback, as TigerBeetle does */
                if (store_orphan(l, in->id[i], hashes.id) != BB_OK) {
                    undo_free(&run);
                    return BB_OUT_OF_MEMORY;
                }
            }
            out->status[p] = status;
            if (out->amount) out->amount[p] = 0;
        } else {
            out->status[p] = status;
            out->timestamp[p] = timestamp;
            if (out->amount) out->amount[p] = run.amount;
        }
        if (chain_start >= 0 && (!linked || status == BB_TB_LINKED_EVENT_CHAIN_OPEN)) {
            chain_start = -1;
            chain_broken = 0;
            run.open = 0;
            run.size = 0;
        }
    }
    undo_free(&run);
    return BB_OK;
}

static int32_t event_cell(const bb_ledger_transfers *in, int64_t i, uint32_t cells)
{
    if (cells == 1) return 0;
    uint64_t dr = in->debit_account_id[i], cr = in->credit_account_id[i], p = in->pending_id[i];
    uint32_t home = bb_cell_of(in->id[i], cells);
    if (dr == 0 || cr == 0 || bb_cell_of(dr, cells) != home || bb_cell_of(cr, cells) != home
        || (p && bb_cell_of(p, cells) != home))
        return -1;
    return (int32_t)home;
}

/* The cell of each event of one batch [begin, end) (-1 = cross-cell), event i's in
 * cell[i - begin], whole linked chains in one place. */
static int32_t plan_cells(const bb_ledger_transfers *in, int64_t begin, int64_t end,
                          uint32_t cells, int32_t *cell)
{
    BB_ASSERT(begin >= 0 && end >= begin && cells >= 1 && cells <= BB_CELLS_MAX);
    int64_t unit_start = begin;
    for (int64_t i = begin; i < end; i++) {
        cell[i - begin] = event_cell(in, i, cells);
        int unit_ends = !(in->flags[i] & F_LINKED) || i == end - 1;
        if (!unit_ends) continue;
        if (unit_start == i) {   /* an event alone (most are): its own cell */
            unit_start = i + 1;
            continue;
        }
        int32_t shared = cell[unit_start - begin];   /* a chain runs where all its events can */
        for (int64_t j = unit_start + 1; j <= i; j++)
            if (cell[j - begin] != shared) { shared = -1; break; }
        for (int64_t j = unit_start; j <= i; j++) cell[j - begin] = shared;
        unit_start = i + 1;
    }
    return BB_OK;
}

typedef struct { bb_ledger *ledger; size_t per_cell; } reserve_task_t;

/* Cells [begin, end)'s record tables and id maps, on the thread that runs the part (a table
 * below a mapping's size is zeroed there: work of its own, in parallel). */
static int32_t reserve_cells(const void *args, int64_t begin, int64_t end)
{
    const reserve_task_t *t = args;
    for (int64_t c = begin; c < end; c++) {
        cell_t *cell = &t->ledger->cells[c];
        size_t records = cell->size + t->per_cell;
        if (records > cell->capacity && grow_records(cell, records) != BB_OK) return BB_OUT_OF_MEMORY;
        if (bb_map_reserve(&cell->ids, t->per_cell) != BB_OK) return BB_OUT_OF_MEMORY;
    }
    return BB_OK;
}

int32_t bb_ledger_reserve(bb_ledger *l, int64_t n_transfers, int32_t threads)
{
    if (!l || n_transfers < 0 || threads < 1 || threads > BB_POOL_THREADS_MAX)
        return BB_INVALID_ARGUMENT;
    reserve_task_t task = {.ledger = l};
    task.per_cell = (size_t)n_transfers / l->n_cells + (size_t)n_transfers / l->n_cells / 8 + 64;
    return bb_parallel_ranges(reserve_cells, &task, l->n_cells, threads);
}

bool bb_ledger_account_found(const bb_ledger *l, uint64_t id, uint64_t *debits_pending,
                             uint64_t *debits_posted, uint64_t *credits_pending,
                             uint64_t *credits_posted)
{
    int64_t index = find_account(l, id);
    if (index < 0) return false;
    const account_t *a = &l->accounts[index];
    *debits_pending = a->debits_pending;
    *debits_posted = a->debits_posted;
    *credits_pending = a->credits_pending;
    *credits_posted = a->credits_posted;
    return true;
}

typedef struct { const bb_ledger *ledger; const bb_ledger_balances *out; } balances_task_t;

static int32_t read_balances(const void *args, int64_t begin, int64_t end)
{
    const balances_task_t *t = args;
    const bb_ledger *l = t->ledger;
    const bb_ledger_balances *out = t->out;
    for (int64_t i = begin; i < end; i++) {
        if (i + PREFETCH_AHEAD < end) __builtin_prefetch(&l->accounts[l->slot_of_input[i + PREFETCH_AHEAD]]);
        const account_t *a = &l->accounts[l->slot_of_input[i]];
        out->debits_pending[i] = a->debits_pending;
        out->debits_posted[i] = a->debits_posted;
        out->credits_pending[i] = a->credits_pending;
        out->credits_posted[i] = a->credits_posted;
        out->flags[i] = a->flags;
    }
    return BB_OK;
}

int32_t bb_ledger_read_balances(const bb_ledger *l, bb_ledger_balances *out, int32_t threads)
{
    if (!l || !out || threads < 1 || threads > BB_POOL_THREADS_MAX) return BB_INVALID_ARGUMENT;
    balances_task_t task = {.ledger = l, .out = out};
    return bb_parallel_ranges(read_balances, &task, l->n_accounts, threads);
}

typedef struct {
    bb_ledger *ledger;
    const bb_ledger_transfers *transfers;
    bb_ledger_results *scratch, *results;
    int64_t batch_rows_max;   /* the scratch's halves start at 0 and here */
} post_run_t;

static int32_t post_plan(void *context, int64_t begin, int64_t end, int32_t *cell)
{
    post_run_t *run = context;
    return plan_cells(run->transfers, begin, end, run->ledger->n_cells, cell);
}

/* Batch k's expiry time: its first event's timestamp - 1 (BB_INVALID_ARGUMENT when its
 * clock is shorter than the batch). */
static int32_t batch_expiry_time(const bb_batches *b, int64_t k, uint64_t *now)
{
    uint64_t n = (uint64_t)(b->end[k] - b->begin[k]);
    if (b->timestamp[k] < n) return BB_INVALID_ARGUMENT;
    *now = b->timestamp[k] - n;
    return BB_OK;
}

/* The expiries before batch k are reported in the run's results, at the rows of its input
 * (a pending transfer of an earlier run has a row outside them, or another run's). */
static expiry_report_t expiry_report(const post_run_t *run, const bb_batches *b, int64_t k)
{
    BB_ASSERT(k >= 0 && k < b->n && k < UINT32_MAX);
    return (expiry_report_t){run->results->expired_in_batch, b->end[b->n - 1], (uint32_t)k};
}

/* Before any event of batch k: the expiry of the pending transfers that span cells (run
 * serially, between batches). They touch the accounts of local cells, so they expire here,
 * before those cells' events, as every due pending transfer does in the spec. */
static int32_t post_open(void *context, const bb_batches *b, int64_t k)
{
    post_run_t *run = context;
    uint64_t now;
    int32_t rc = batch_expiry_time(b, k, &now);
    if (rc != BB_OK) return rc;
    expiry_report_t report = expiry_report(run, b, k);
    expire_heap(run->ledger, -1, now, &report);
    return BB_OK;
}

/* Where position p of batch k's order has its results in the scratch: the batches take
 * turns at its two halves, so the last group can copy batch k - 1 out of one while batch k
 * goes to the other (bb_run_batches). */
static int64_t scratch_row(const post_run_t *run, const bb_batches *b, int64_t k, int64_t p)
{
    int64_t base = bb_batch_base(b, k);
    BB_ASSERT(p >= base && p <= base + (b->end[k] - b->begin[k]));
    return (k & 1) * run->batch_rows_max + (p - base);
}

/* Batch k's events of one cell (-1: the cross-cell ones), for bb_run_batches; a cell first
 * expires its own pending transfers (post_open expired the ones that span cells). */
static int32_t post_step(void *context, const bb_batches *b, int64_t k, int32_t cell,
                         int64_t first, int64_t n_rows)
{
    post_run_t *run = context;
    uint64_t now;
    int32_t rc = batch_expiry_time(b, k, &now);
    if (rc != BB_OK) return rc;
    expiry_report_t report = expiry_report(run, b, k);
    if (cell >= 0) expire_heap(run->ledger, cell, now, &report);
#if BB_ASSERTS
    /* a cell's events touch only its own ids and accounts: why cells may run in parallel */
    for (int64_t p = first; p < first + n_rows; p++)
        BB_ASSERT(cell < 0 || event_cell(run->transfers, b->order[p], run->ledger->n_cells) == cell);
#endif
    if (n_rows == 0) return BB_OK;   /* a cell without events in this batch: nothing to post */
    int64_t at_row = scratch_row(run, b, k, first);
    bb_ledger_results at = {run->scratch->timestamp + at_row, run->scratch->status + at_row,
                            run->scratch->amount ? run->scratch->amount + at_row : NULL, NULL,
                            n_rows};
    return bb_ledger_execute_planned(run->ledger, run->transfers, b->begin[k], b->end[k],
                                     b->timestamp[k], b->order + first, n_rows, &at);
}

static void post_finish(void *context, const bb_batches *b, int64_t k)
{
    post_run_t *run = context;
    const bb_ledger_results *from = run->scratch;
    const int64_t *order = b->order + bb_batch_base(b, k);
    int64_t at_row = scratch_row(run, b, k, bb_batch_base(b, k)), n = b->end[k] - b->begin[k];
    const uint64_t *timestamp = from->timestamp + at_row;
    const uint32_t *status = from->status + at_row;
    const uint64_t *amount = run->results->amount && from->amount ? from->amount + at_row : NULL;
    for (int64_t j = 0; j < n; j++) {
        run->results->timestamp[order[j]] = timestamp[j];
        run->results->status[order[j]] = status[j];
        if (amount) run->results->amount[order[j]] = amount[j];
    }
}

/* The rows a run's scratch needs (see bb_ledger_results.rows): 0 for batches the run will
 * refuse anyway (bb_run_batches checks them). */
static int64_t scratch_rows_needed(const bb_batches *b, int64_t *batch_rows_max)
{
    *batch_rows_max = 0;
    if (!b || !b->begin || !b->end || b->n <= 0) return 0;
    for (int64_t k = 0; k < b->n; k++)
        if (b->end[k] - b->begin[k] > *batch_rows_max) *batch_rows_max = b->end[k] - b->begin[k];
    return b->n > 1 ? 2 * *batch_rows_max : *batch_rows_max;
}

int32_t bb_ledger_run(bb_ledger *l, const bb_ledger_transfers *in, const bb_batches *batches,
                      int32_t group, int32_t groups, bb_barrier *barrier,
                      bb_ledger_results *scratch, bb_ledger_results *out)
{
    post_run_t run = {.ledger = l, .transfers = in, .scratch = scratch, .results = out};
    if (!l || !scratch || scratch->rows < scratch_rows_needed(batches, &run.batch_rows_max)) {
        if (barrier) bb_barrier_abort(barrier);   /* the other groups must not wait for this one */
        return BB_INVALID_ARGUMENT;
    }
    bb_batch_work work = {.plan = post_plan, .step = post_step, .finish = post_finish,
                          .open = post_open, .context = &run, .cells = l ? l->n_cells : 0, .clocked = 1};
    return bb_run_batches(&work, batches, group, groups, barrier);
}

/* the pool's task (bb_task_fn, pool.c): this kernel's rows, groups or cells, its
 * arguments unpacked from one struct; each writes only its own part's outputs */
int32_t bb_ledger_run_groups(const void *args, int64_t begin, int64_t end)
{
    const bb_ledger_run_task *t = args;
    if (end != begin + 1) return BB_INVALID_ARGUMENT;   /* one group per thread, all at once */
    return bb_ledger_run(t->ledger, t->transfers, t->batches, (int32_t)begin, t->groups,
                         t->barrier, t->scratch, t->results);
}
