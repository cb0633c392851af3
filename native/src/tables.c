/* tables.c — memory for the big tables (hash maps, records, account slots): page-aligned,
 * zero, from the kernel, and back to it when freed.
 *
 * Why not calloc: after a big block is freed, glibc raises its mmap threshold to that size,
 * so the next run's tables of the same size come from the heap, and calloc must then clear
 * them by hand — a benchmark's second round paid ~40 ms the first did not. A mapping is
 * zero on demand, page by page, every time. Small tables (and sanitizer builds, whose
 * checks only see malloc's blocks) use calloc, or malloc where the caller writes every slot
 * before reading it (bb_table_alloc_unzeroed). */
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS, madvise */
#include <stdint.h>
#include <stdlib.h>
#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#if (defined(__linux__) || defined(__APPLE__)) && !defined(SANITIZED)
#include <sys/mman.h>
#define MAPPED 1
#endif

#define MAPPED_FROM ((size_t)1 << 20)   /* smaller tables come from calloc */
#define HUGE_PAGE ((uintptr_t)2 << 20)

#if defined(MAPPED)
/* Ask for transparent huge pages (a hint; Linux only): random access over tables of many
 * megabytes otherwise spends much of its time on TLB misses. */
static void advise_huge(void *block, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t start = ((uintptr_t)block + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)block + bytes) & ~(HUGE_PAGE - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)block;
    (void)bytes;
#endif
}
#endif

/* A table of `bytes`, zero when `zeroed` (a mapping is zero either way; a small table from
 * calloc, or from malloc, whose memory no one clears). */
static void *table_alloc(size_t bytes, bool zeroed)
{
    void *block;
#if defined(MAPPED)
    if (bytes >= MAPPED_FROM) {
        block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) return NULL;
        advise_huge(block, bytes);
        return block;
    }
#endif
    /* 64-byte aligned: over-allocate by a line and keep the offset in front */
    size_t raw_bytes = bytes + 64 + sizeof(size_t);
    unsigned char *raw = zeroed ? calloc(1, raw_bytes) : malloc(raw_bytes);
    if (!raw) return NULL;
    uintptr_t aligned = ((uintptr_t)(raw + sizeof(size_t)) + 63) & ~(uintptr_t)63;
    block = (void *)aligned;
    ((size_t *)block)[-1] = (size_t)((unsigned char *)block - raw);
    return block;
}

void *bb_table_alloc(size_t bytes) { return table_alloc(bytes, true); }

void *bb_table_alloc_unzeroed(size_t bytes) { return table_alloc(bytes, false); }

void bb_table_free(void *block, size_t bytes)
{
    if (!block) return;
#if defined(MAPPED)
    if (bytes >= MAPPED_FROM) {
        (void)munmap(block, bytes);
        return;
    }
#else
    (void)bytes;
#endif
    free((unsigned char *)block - ((size_t *)block)[-1]);
}
