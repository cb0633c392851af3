/* hashmap.c — the open-addressing hash map (uint64 key → uint32 value) shared by the
 * fraud state and the ledger; its lookups are inline in internal.h. One 12-byte entry per
 * slot (key 0 marks a free one), so a probe mostly touches one cache line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

void bb_map_free(bb_map *m)
{
    bb_table_free(m->entries, m->capacity * sizeof *m->entries);
    memset(m, 0, sizeof *m);
}

int32_t bb_map_init(bb_map *m, size_t capacity)
{
    BB_ASSERT(capacity > 0 && (capacity & (capacity - 1)) == 0);   /* masks need a power of 2 */
    m->capacity = capacity;
    m->size = 0;
    m->zero_value = 0;
    m->has_zero = 0;
    m->entries = bb_table_alloc(capacity * sizeof *m->entries);
    return m->entries ? BB_OK : BB_OUT_OF_MEMORY;
}

static int32_t rehash(bb_map *m, size_t capacity)
{
    bb_map bigger;
    if (bb_map_init(&bigger, capacity) != BB_OK) return BB_OUT_OF_MEMORY;
    for (size_t i = 0; i < m->capacity; i++)
        if (bb_map_key(&m->entries[i]) != 0)
            bigger.entries[bb_map_slot(&bigger, bb_map_key(&m->entries[i]))] = m->entries[i];
    bigger.size = m->size;
    bigger.zero_value = m->zero_value;
    bigger.has_zero = m->has_zero;
    bb_map_free(m);
    *m = bigger;
    return BB_OK;
}

int32_t bb_map_grow(bb_map *m) { return rehash(m, m->capacity * 2); }

int32_t bb_map_reserve(bb_map *m, size_t more)
{
    size_t capacity = m->capacity;
    while (BB_MAP_FULL(m->size + more, capacity)) capacity *= 2;
    return capacity == m->capacity ? BB_OK : rehash(m, capacity);
}
