/* pool.c — the one worker pool of the process (bb_parallel_ranges, _groups, _chunks).
 * Its threads start on the first call that needs them (also more than the CPUs: a scaling
 * curve goes past the core count), live for the process and are parked between calls, so a
 * parallel call costs a wake-up, not a thread start (a Python thread pool per call: ~240 µs
 * at 2 threads, 4.7 ms at 128 on a 2-core VM). The caller is part 0 of every call; worker
 * i - 1 runs part i. No Python runs on a worker: cffi releases the GIL once for the whole
 * call and the tasks are C functions. A worker spins a few microseconds for its next part
 * (not when the call has more threads than CPUs: a spinner would hold a CPU another thread
 * needs), then yields its CPU in a loop (a thread parked on a futex leaves its vCPU idle,
 * and a VM takes tens of µs to wake an idle vCPU: 56 µs an empty 2-thread call on a quiet
 * host; a yield keeps the vCPU awake yet hands it to any thread that wants it, and a
 * yielding worker needs no system call to start its next part: 32 threads on 2 vCPUs, an
 * empty call 111-122 µs with sleeping workers, 30-31 µs with yielding ones), then sleeps on
 * its own ticket word (a futex on Linux; a condition variable elsewhere), so a call wakes
 * only the threads it uses and an idle pool costs no CPU. How long it yields: after a call
 * with a CPU per thread, idle_yield_ns (5 ms by default, bb_pool_set_idle_yield_ns), longer
 * than the Python a workload runs between its parallel calls (up to ~4 ms at the quick
 * profile), which with 100 µs left every call to start on sleeping workers (54 µs median,
 * up to 300 µs, an empty 2-thread call after a 1 ms gap on a quiet host; OpenMP runtimes
 * wait 200 ms, KMP_BLOCKTIME); after a call with more threads than CPUs,
 * BB_POOL_WAIT_YIELD_NS, since its yielders would share the CPUs the caller's Python needs
 * (each worker waits as the latest call handed to it asks: a worker left out of a narrow
 * call after a wide one does not yield for the narrow one's window). One call at a time: a
 * second caller waits. */
#define _GNU_SOURCE   /* sched_setaffinity, CPU_SET, syscall; clock_gettime */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>   /* memset */
#include <time.h>     /* clock_gettime */
#include <unistd.h>   /* sysconf */
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#include "internal.h"

#define SPINS_BEFORE_PARK 4096   /* ~ a few µs of looking before yielding */
#define IDLE_YIELD_NS_DEFAULT 5000000   /* between calls, a CPU per thread (see above) */
#define CACHE_LINE_BYTES 64
/* A range is claimed in up to 16 pieces: a slow thread's last piece is 1/16 of its range
 * (one of two CPUs 25 % slower, a noisy neighbour: 80 % efficiency with whole ranges, about
 * 97 % in pieces), for 15 more task calls a part (core instructions at 2 threads, scale
 * 0.05: +0.16 % score, +0.7 % limit, +0.8 % schedule, +1.1 % decide, whose rows restart
 * their annuity-factor cache each call). Only the tail leaves a range's thread, so a pinned
 * run's first-touched rows stay mostly with their node. (BB_POOL_RANGE_PIECES, bankcore.h.) */

/* A part's claim: (epoch << 2) | one of these. The caller opens a worker's part of call
 * `epoch` as UNCLAIMED; the worker claims it, or, in a call whose parts need not run at
 * once, the caller takes it when the worker has not started it by the time the caller is
 * done with its own (a worker that gets no CPU, a noisy neighbour, holds nothing up). */
#define PART_UNCLAIMED 0u
#define PART_CLAIMED 1u
#define PART_TAKEN 2u

typedef struct {
    _Alignas(CACHE_LINE_BYTES) _Atomic uint32_t ticket;   /* bumped to hand over a part */
    _Atomic uint32_t call_ticket; /* what the current call bumps ticket to (hand_out) */
    _Atomic uint32_t parked;      /* asleep on ticket: the caller must wake it */
    _Atomic uint64_t claim;
    uint32_t part;                /* always its own: worker i runs part i + 1 */
    uint32_t placed;              /* the placement version this thread is pinned to */
    pthread_t thread;
    /* how it waits for its next part, as the latest call handed to it asks (set by the
     * caller with the ticket; a worker whose part the caller took waits so too, or it would
     * sleep through the next call and lose that one's part as well) */
    _Atomic uint32_t wait_spins;
    _Atomic int64_t wait_yield_ns;
    /* a call of ranges: the pieces of this part's range claimed so far, by any thread (on
     * its own line: other threads claim from it once theirs are done) */
    _Alignas(CACHE_LINE_BYTES) _Atomic int64_t pieces_claimed;
} worker;
_Static_assert(sizeof(worker) % CACHE_LINE_BYTES == 0, "each worker on its own cache lines");

typedef struct {
    bb_task_fn fn;
    const void *args;
    int64_t n;
    int64_t chunk;     /* 0: static ranges, one per part; else claimed chunks of this size */
    uint32_t parts;
    bool together;     /* every part on its own thread at once (they meet at a barrier) */
} call;

static struct {
    pthread_mutex_t calling;      /* one call at a time; guards growth and placement */
    worker *workers[BB_POOL_THREADS_MAX - 1];
    uint32_t started;             /* worker threads running (parked between calls) */
    call current;
    _Atomic uint64_t epoch;       /* of the current call: bumped by each */
    _Atomic int64_t parts_taken;  /* parts the caller ran for a thread that had not started */
    _Alignas(CACHE_LINE_BYTES) _Atomic int64_t next;   /* claimed chunks: chunks claimed so far */
    _Alignas(CACHE_LINE_BYTES) _Atomic int64_t pieces_claimed0;   /* part 0's (the caller's) */
    _Atomic int32_t status;
    _Alignas(CACHE_LINE_BYTES) _Atomic uint32_t remaining;   /* worker parts not finished */
    _Atomic uint32_t finished;    /* futex word of the caller: bumped when none remain */
    _Atomic uint32_t caller_parked;
    _Atomic uint32_t placement;   /* version: bumped by bb_pool_place */
    _Atomic int64_t idle_yield_ns;   /* bb_pool_set_idle_yield_ns */
    uint32_t cpus_online;
    int32_t cpus[BB_POOL_THREADS_MAX];
    uint32_t n_cpus;              /* 0: not pinned */
#if defined(__linux__)
    bool has_unpinned;
    cpu_set_t unpinned;           /* the process's CPUs when first placed: restored by [] */
#else
    pthread_mutex_t parking;      /* the portable sleep: one condition for every word */
    pthread_cond_t moved;
#endif
} pool = {
    .calling = PTHREAD_MUTEX_INITIALIZER,
    .idle_yield_ns = IDLE_YIELD_NS_DEFAULT,
#if !defined(__linux__)
    .parking = PTHREAD_MUTEX_INITIALIZER,
    .moved = PTHREAD_COND_INITIALIZER,
#endif
};

int64_t bb_pool_set_idle_yield_ns(int64_t ns)
{
    if (ns < 0) return atomic_load_explicit(&pool.idle_yield_ns, memory_order_relaxed);
    if (ns > BB_POOL_IDLE_YIELD_NS_MAX) return -1;
    return atomic_exchange_explicit(&pool.idle_yield_ns, ns, memory_order_relaxed);
}

/* Sleep while *word == value (or until a wake-up); wake every sleeper of word. */
void bb_park(_Atomic uint32_t *word, uint32_t value)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
#else
    pthread_mutex_lock(&pool.parking);
    while (atomic_load(word) == value) pthread_cond_wait(&pool.moved, &pool.parking);
    pthread_mutex_unlock(&pool.parking);
#endif
}

void bb_unpark(_Atomic uint32_t *word)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
#else
    (void)word;
    pthread_mutex_lock(&pool.parking);
    pthread_cond_broadcast(&pool.moved);
    pthread_mutex_unlock(&pool.parking);
#endif
}

bool bb_yields_before_sleep(int64_t *until_ns, int64_t window_ns)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) return false;
    int64_t now_ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
    if (*until_ns == 0) *until_ns = now_ns + window_ns;
    if (now_ns >= *until_ns) return false;
    sched_yield();
    return true;
}

/* Read once: glibc's sysconf reads /sys/devices/system/cpu/online on every call (~8 µs on a
 * VM), and every barrier asks (the open loop makes one per request: 210,000 a sweep pass). */
uint32_t bb_cpus_online(void)
{
    static _Atomic uint32_t cached;   /* 0: not read yet; racing readers store the same value */
    uint32_t cpus = atomic_load_explicit(&cached, memory_order_relaxed);
    if (cpus == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        cpus = online > 0 ? (uint32_t)online : 1;
        atomic_store_explicit(&cached, cpus, memory_order_relaxed);
    }
    return cpus;
}

/* Until *word moves on from value: spin spins_max times, yield for yield_ns, then sleep. The
 * sleeper's flag and the mover's bump are sequentially consistent: either the mover (or, for
 * a worker's ticket, its parent in the tree: hand_out) sees `parked` and wakes it, or the
 * futex sees the new value and does not sleep. */
/* not inlined: the instruction counts leave the waiting out by this name */
__attribute__((noinline)) uint32_t bb_pool_wait(_Atomic uint32_t *word, uint32_t value,
                                                _Atomic uint32_t *parked, unsigned spins_max,
                                                int64_t yield_ns)
{
    uint32_t now;
    int64_t yield_until_ns = 0;
    for (unsigned spins = 0; (now = atomic_load_explicit(word, memory_order_acquire)) == value;
         spins++) {
        if (spins < spins_max) continue;
        if (bb_yields_before_sleep(&yield_until_ns, yield_ns)) continue;
        atomic_store(parked, 1);
        if (atomic_load(word) == value) bb_park(word, value);
        atomic_store(parked, 0);
    }
    return now;
}

void bb_pool_move_on(_Atomic uint32_t *word, _Atomic uint32_t *parked)
{
    atomic_fetch_add(word, 1);
    if (atomic_load(parked)) bb_unpark(word);
}

/* The first failure is the call's status; BB_ABORTED (a part stopped because another
 * failed) only when nothing else failed. */
static void record(int32_t rc)
{
    if (rc == BB_OK) return;
    int32_t seen = atomic_load(&pool.status);
    while ((seen == BB_OK || (seen == BB_ABORTED && rc != BB_ABORTED))
           && !atomic_compare_exchange_weak(&pool.status, &seen, rc)) {
    }
}

static bool is_aborted(void)
{
    return atomic_load_explicit(&pool.status, memory_order_relaxed) != BB_OK;
}

/* Pins the calling thread to the CPU of its part, once per placement. */
static void place_self(uint32_t part, uint32_t *placed)
{
    uint32_t version = atomic_load_explicit(&pool.placement, memory_order_acquire);
    if (*placed == version) return;
    *placed = version;
#if defined(__linux__)
    cpu_set_t set;
    if (pool.n_cpus == 0) {
        set = pool.unpinned;
    } else {
        CPU_ZERO(&set);
        CPU_SET((size_t)pool.cpus[part % pool.n_cpus], &set);
    }
    if (sched_setaffinity(0, sizeof set, &set) != 0) record(BB_INVALID_ARGUMENT);
#else
    (void)part;
#endif
}

/* a / b rounded up, without the overflow of (a + b - 1) / b (a >= 0, b > 0): the chunks of
 * a call of chunks, the pieces of a range and their size */
static int64_t ceil_div(int64_t a, int64_t b)
{
    return a / b + (a % b != 0);
}

static _Atomic int64_t *pieces_claimed(uint32_t part)
{
    return part == 0 ? &pool.pieces_claimed0 : &pool.workers[part - 1]->pieces_claimed;
}

/* Runs the pieces of part `part`'s range (at most BB_POOL_RANGE_PIECES) no thread has
 * claimed yet, claiming them one at a time by number (a count that cannot overflow,
 * whatever n). */
static void run_range(const call *c, uint32_t part)
{
    int64_t begin, end;
    bb_near_equal_range(c->n, c->parts, part, &begin, &end);
    int64_t items = end - begin;
    int64_t piece = ceil_div(items, BB_POOL_RANGE_PIECES);
    int64_t pieces = piece ? ceil_div(items, piece) : 0;
    _Atomic int64_t *claimed = pieces_claimed(part);
    while (!is_aborted()) {
        int64_t k = atomic_fetch_add_explicit(claimed, 1, memory_order_relaxed);
        if (k >= pieces) return;
        int64_t at = begin + k * piece;   /* k * piece < items */
        record(c->fn(c->args, at, end - at < piece ? end : at + piece));
    }
}

static inline void run_part(uint32_t part)
{
    const call *c = &pool.current;
    if (c->chunk == 0 && (c->together || c->parts == 1)) {   /* the part's range, whole */
        int64_t begin, end;
        bb_near_equal_range(c->n, c->parts, part, &begin, &end);
        if (!is_aborted()) record(c->fn(c->args, begin, end));
        return;
    }
    if (c->chunk == 0) {
        /* part i of `parts` near-equal ranges (the first ones one longer): its own range first,
         * then what is left of the others', so a thread that got less CPU (a noisy neighbour,
         * an SMT sibling, a late wake-up) holds the call up by at most one piece */
        for (uint32_t k = 0; k < c->parts; k++) run_range(c, (part + k) % c->parts);
        return;
    }
    int64_t chunks = ceil_div(c->n, c->chunk);
    while (!is_aborted()) {   /* chunks claimed by number, as pieces: no cursor past n */
        int64_t k = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (k >= chunks) return;
        int64_t begin = k * c->chunk;   /* k * chunk < n */
        record(c->fn(c->args, begin, c->n - begin < c->chunk ? c->n : begin + c->chunk));
    }
}

/* not inlined: the instruction counts take the work of a call's parts by this name (the
 * serial share, bench/measure/callgrind.py), on any thread */
__attribute__((noinline)) static void bb_pool_run_part(uint32_t part) { run_part(part); }

/* A call of one part: the caller alone, every other thread idle. Named apart from
 * bb_pool_run_part so the serial share counts it serial, as it ran. */
__attribute__((noinline)) static void bb_pool_run_alone(void) { run_part(0); }

/* A call hands out its parts in two steps. The caller first moves every worker's ticket on,
 * the last part first: a worker still looking (spinning or yielding) starts at once, with
 * no system call and no waiting for another thread. Then the sleepers are woken as a tree:
 * whoever runs part p wakes parts 2p + 1 and 2p + 2 if they sleep, so the wake-ups of a
 * wide call (a system call each) run on several threads at once. The order makes the tree
 * sound: a worker claims its part only once its ticket reached this call's (call_ticket,
 * not a move left over from a call whose part the caller took), and that move came after
 * its children's, so a child that went to sleep on its old ticket had said so (`parked`)
 * before its parent looks. */
static void hand_out(uint32_t parts)
{
    for (uint32_t part = parts; part-- > 1;) atomic_fetch_add(&pool.workers[part - 1]->ticket, 1);
}

static void wake_children(uint32_t part)
{
    for (uint32_t child = 2 * part + 1; child <= 2 * part + 2 && child < pool.current.parts;
         child++) {
        worker *w = pool.workers[child - 1];
        if (atomic_load(&w->parked)) bb_unpark(&w->ticket);
    }
}

/* Whether part `part` of call `epoch` is now this thread's (as `how`): it was open and no
 * one else took it. The caller's release of the claim publishes the call's fields. */
static bool takes_part(worker *w, uint64_t epoch, uint32_t how)
{
    uint64_t open = epoch << 2 | PART_UNCLAIMED;
    return atomic_compare_exchange_strong_explicit(&w->claim, &open, epoch << 2 | how,
                                                   memory_order_acq_rel, memory_order_relaxed);
}

/* One part fewer to wait for; whether it was the last. */
static bool is_last_part_done(void)
{
    return atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel) == 1;
}

static void *bb_pool_worker(void *argument)
{
    worker *w = argument;
    uint32_t seen = 0;
    for (;;) {
        seen = bb_pool_wait(&w->ticket, seen, &w->parked,
                            atomic_load_explicit(&w->wait_spins, memory_order_relaxed),
                            atomic_load_explicit(&w->wait_yield_ns, memory_order_relaxed));
        /* read after the ticket: at least the epoch of the call that moved it */
        uint64_t epoch = atomic_load_explicit(&pool.epoch, memory_order_acquire);
        /* a move left over from an earlier call (the caller took that part) while the next
         * call is being handed out: wait for this call's own move, after the children's */
        if (atomic_load_explicit(&w->call_ticket, memory_order_relaxed) != seen) continue;
        if (!takes_part(w, epoch, PART_CLAIMED)) continue;   /* taken, or not in this call */
        wake_children(w->part);
        place_self(w->part, &w->placed);
        bb_pool_run_part(w->part);
        if (is_last_part_done()) bb_pool_move_on(&pool.finished, &pool.caller_parked);
    }
    return NULL;
}

/* A forked child has only the thread that forked: it starts its own pool when it needs
 * one (the parent's worker records are left behind, not freed: they are the parent's). */
static void forget_workers(void)
{
    pthread_mutex_t unlocked = PTHREAD_MUTEX_INITIALIZER;
    pool.calling = unlocked;
    pool.started = 0;
}

/* A thread of the core, started with every signal blocked in it (a SIGTERM or Ctrl-C goes
 * to the thread that runs Python); whether it started. */
bool bb_start_thread(pthread_t *thread, void *(*fn)(void *), void *argument)
{
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &before);
    bool started = pthread_create(thread, NULL, fn, argument) == 0;
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    return started;
}

/* Workers up to `count`, signals blocked in them (bb_start_thread).
 * BB_THREADS_UNAVAILABLE when one cannot be started. */
__attribute__((noinline)) static int32_t bb_pool_start_workers(uint32_t count)
{
    static bool fork_handled;
    if (!fork_handled) {
        if (pthread_atfork(NULL, NULL, forget_workers) != 0) return BB_THREADS_UNAVAILABLE;
        fork_handled = true;
    }
    int32_t rc = BB_OK;
    while (rc == BB_OK && pool.started < count) {
        worker *w = aligned_alloc(CACHE_LINE_BYTES, sizeof *w);
        if (!w) {
            rc = BB_OUT_OF_MEMORY;
            break;
        }
        atomic_init(&w->ticket, 0);
        atomic_init(&w->call_ticket, 0);
        atomic_init(&w->parked, 0);
        atomic_init(&w->claim, PART_TAKEN);   /* epoch 0, taken: no call yet */
        atomic_init(&w->wait_spins, 0);
        atomic_init(&w->wait_yield_ns, BB_POOL_WAIT_YIELD_NS);
        atomic_init(&w->pieces_claimed, 0);
        w->part = pool.started + 1;
        w->placed = 0;
        if (!bb_start_thread(&w->thread, bb_pool_worker, w)) {
            free(w);
            rc = BB_THREADS_UNAVAILABLE;
            break;
        }
        pool.workers[pool.started++] = w;
    }
    return rc;
}

/* The placement version of the thread that called last (no thread-local storage: the
 * core imports no TLS runtime); a different caller is pinned afresh. Under `calling`. */
static pthread_t caller;
static uint32_t caller_placed;

static uint32_t *placed_caller(void)
{
    if (!pthread_equal(caller, pthread_self())) {
        caller = pthread_self();
        caller_placed = 0;
    }
    return &caller_placed;
}

static int32_t run_call(call c, int32_t threads)
{
    if (!c.fn || c.n < 0 || threads < 1 || threads > BB_POOL_THREADS_MAX || c.chunk < 0)
        return BB_INVALID_ARGUMENT;
    int64_t items = c.chunk ? ceil_div(c.n, c.chunk) : c.n;
    c.parts = items < threads ? (uint32_t)(items > 0 ? items : 1) : (uint32_t)threads;
    pthread_mutex_lock(&pool.calling);
    int32_t rc = bb_pool_start_workers(c.parts - 1);
    if (rc != BB_OK) {
        pthread_mutex_unlock(&pool.calling);
        return rc;
    }
    if (pool.cpus_online == 0) pool.cpus_online = bb_cpus_online();
    /* a spinner would take the CPU a worker needs when the call has more threads than CPUs,
     * and so would its yielders after the call, beside the caller's Python */
    bool own_cpus = c.parts <= pool.cpus_online;
    uint32_t spins = own_cpus ? SPINS_BEFORE_PARK : 0;
    int64_t idle_yield_ns = own_cpus ? atomic_load_explicit(&pool.idle_yield_ns,
                                                            memory_order_relaxed)
                                     : BB_POOL_WAIT_YIELD_NS;
    pool.current = c;
    atomic_store(&pool.status, BB_OK);
    atomic_store(&pool.next, 0);
    atomic_store(&pool.remaining, c.parts - 1);
    uint32_t finished = atomic_load(&pool.finished);
    uint64_t epoch = atomic_load(&pool.epoch) + 1;
    /* a call of ranges: no piece of any part claimed (published by the release of the claims
     * below, which a thread acquires before it runs a part) */
    for (uint32_t part = 0; c.chunk == 0 && !c.together && part < c.parts; part++)
        atomic_store_explicit(pieces_claimed(part), 0, memory_order_relaxed);
    for (uint32_t part = 1; part < c.parts; part++) {
        worker *w = pool.workers[part - 1];   /* only a caller moves a ticket, under `calling` */
        uint32_t next = atomic_load_explicit(&w->ticket, memory_order_relaxed) + 1;
        atomic_store_explicit(&w->call_ticket, next, memory_order_relaxed);
        atomic_store_explicit(&w->wait_spins, spins, memory_order_relaxed);
        atomic_store_explicit(&w->wait_yield_ns, idle_yield_ns, memory_order_relaxed);
        atomic_store_explicit(&w->claim, epoch << 2 | PART_UNCLAIMED, memory_order_release);
    }
    atomic_store_explicit(&pool.epoch, epoch, memory_order_release);   /* before the tickets */
    hand_out(c.parts);
    wake_children(0);
    place_self(0, placed_caller());
    bool done = c.parts == 1;
    if (done) bb_pool_run_alone(); else bb_pool_run_part(0);
    for (uint32_t part = 1; !c.together && part < c.parts; part++) {
        if (!takes_part(pool.workers[part - 1], epoch, PART_TAKEN)) continue;
        atomic_fetch_add_explicit(&pool.parts_taken, 1, memory_order_relaxed);
        wake_children(part);   /* its children may still get a CPU sooner than the caller */
        bb_pool_run_part(part);
        done = is_last_part_done();
    }
    if (!done)
        bb_pool_wait(&pool.finished, finished, &pool.caller_parked, spins, BB_POOL_WAIT_YIELD_NS);
    BB_ASSERT(atomic_load(&pool.remaining) == 0);   /* every part done before the next call */
    rc = atomic_load(&pool.status);
    pthread_mutex_unlock(&pool.calling);
    return rc;
}

int32_t bb_parallel_ranges(bb_task_fn fn, const void *args, int64_t n, int32_t threads)
{
    return run_call((call){.fn = fn, .args = args, .n = n, .chunk = 0}, threads);
}

int32_t bb_parallel_groups(bb_task_fn fn, const void *args, int32_t groups)
{
    return run_call((call){.fn = fn, .args = args, .n = groups, .chunk = 0, .together = true},
                    groups);
}

int32_t bb_parallel_chunks(bb_task_fn fn, const void *args, int64_t n, int64_t chunk,
                           int32_t threads)
{
    if (chunk < 1) return BB_INVALID_ARGUMENT;
    return run_call((call){.fn = fn, .args = args, .n = n, .chunk = chunk}, threads);
}

typedef struct {
    uint8_t *bytes;
    int64_t n_items, item_bytes, parts;
    int32_t *cpu_of_part;
} touch_args;

static int32_t touch_part(const void *args, int64_t group, int64_t group_end)
{
    const touch_args *t = args;
    BB_ASSERT(group_end == group + 1 && group < t->parts);
    int64_t begin, end;
    bb_near_equal_range(t->n_items, t->parts, group, &begin, &end);
    if (end > begin)
        memset(t->bytes + begin * t->item_bytes, 0, (size_t)((end - begin) * t->item_bytes));
#if defined(__linux__)
    if (t->cpu_of_part) t->cpu_of_part[group] = (int32_t)sched_getcpu();
#else
    if (t->cpu_of_part) t->cpu_of_part[group] = -1;
#endif
    return BB_OK;
}

int32_t bb_parallel_first_touch(uint8_t *bytes, int64_t n_items, int64_t item_bytes,
                                int32_t threads, int32_t *cpu_of_part)
{
    if (n_items < 0 || item_bytes < 1 || n_items > INT64_MAX / item_bytes
        || (n_items > 0 && !bytes) || threads < 1 || threads > BB_POOL_THREADS_MAX)
        return BB_INVALID_ARGUMENT;
    /* the parts bb_parallel_ranges makes of n_items (run_call), each on its own thread */
    int64_t parts = n_items < threads ? (n_items > 0 ? n_items : 1) : threads;
    touch_args t = {bytes, n_items, item_bytes, parts, cpu_of_part};
    call c = {.fn = touch_part, .args = &t, .n = parts, .chunk = 0, .together = true};
    return run_call(c, (int32_t)parts);
}

int32_t bb_pool_place(const int32_t *cpus, int32_t n_cpus)
{
    if (n_cpus < 0 || n_cpus > BB_POOL_THREADS_MAX || (n_cpus > 0 && !cpus))
        return BB_INVALID_ARGUMENT;
#if defined(__linux__)
    for (int32_t i = 0; i < n_cpus; i++)
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return BB_INVALID_ARGUMENT;
#endif
    pthread_mutex_lock(&pool.calling);
#if defined(__linux__)
    if (!pool.has_unpinned) {   /* nothing to undo until something was pinned */
        if (n_cpus == 0
            || sched_getaffinity(0, sizeof pool.unpinned, &pool.unpinned) != 0) {
            pthread_mutex_unlock(&pool.calling);
            return n_cpus == 0 ? BB_OK : BB_INVALID_ARGUMENT;
        }
        pool.has_unpinned = true;
    }
#endif
    for (int32_t i = 0; i < n_cpus; i++) pool.cpus[i] = cpus[i];
    pool.n_cpus = (uint32_t)n_cpus;
    atomic_fetch_add_explicit(&pool.placement, 1, memory_order_release);
    atomic_store(&pool.status, BB_OK);
    place_self(0, placed_caller());   /* the caller, part 0 of its calls, at once */
    int32_t rc = atomic_load(&pool.status);
    pthread_mutex_unlock(&pool.calling);
    return rc;
}

int32_t bb_pool_threads(void)
{
    pthread_mutex_lock(&pool.calling);
    int32_t threads = (int32_t)pool.started + 1;
    pthread_mutex_unlock(&pool.calling);
    return threads;
}

int64_t bb_pool_parts_taken(void) { return atomic_load(&pool.parts_taken); }
