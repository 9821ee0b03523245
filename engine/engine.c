/*
 * The engine's tables: lot slots and the lot-id index, the standing-bid chunk pool, live blocks,
 * the timer heap, the idempotency window and the ladders; and the command dispatch around
 * lot.c. Everything is allocated in kito_engine_create.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "engine/internal.h"

#define MAX_LOTS_LIMIT (UINT32_C(1) << 26)
#define MAX_IDS_LIMIT (UINT32_C(1) << 26)
#define MAX_UNDO_DEPTH 1024
#define MAX_SOFT_CLOSE_S 86400

/* ---- allocation ------------------------------------------------------------------------------ */

#define HUGE_PAGE ((size_t)2 << 20)

static void *default_alloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size < HUGE_PAGE)
        return aligned_alloc(64, (size + 63) & ~(size_t)63);
    /* Big tables are read at random: on 2 MiB pages a lookup costs one TLB entry instead of a
     * page walk (which is dearer still under virtualisation). A hint, so failure is harmless. */
    size_t rounded = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p != NULL)
        (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

static void default_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static void *eng_alloc(kito_engine *eng, size_t count, size_t each)
{
    size_t size;
    if (__builtin_mul_overflow(count, each, &size))
        return NULL;
    if (size == 0)
        size = 64;
    void *p = eng->alloc.alloc(eng->alloc.ctx, size);
    if (p == NULL)
        return NULL;
    memset(p, 0, size);
    eng->total_bytes += size;
    return p;
}

static void eng_free(kito_engine *eng, void *p, size_t count, size_t each)
{
    if (p == NULL)
        return;
    size_t size = count * each;
    eng->alloc.free(eng->alloc.ctx, p, size == 0 ? 64 : size);
}

/* ---- hashing ------------------------------------------------------------------------------- */

/* splitmix64's finaliser: lot ids and command ids are often sequential. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* The lines of a lot record a bid reads and writes (line 2 is cold). */
static inline void prefetch_lot(const struct kito__lot *lot)
{
    const char *p = (const char *)lot;
    __builtin_prefetch(p, 1);
    __builtin_prefetch(p + 64, 1);
}

/* ---- create / free ------------------------------------------------------------------------- */

void kito_engine_limits_default(struct kito_engine_limits *lim)
{
    lim->max_lots = 65536;
    lim->max_standing_bids = 1048576;
    lim->max_bidders_per_lot = 10000;
    lim->max_live_lots = 64;
    lim->live_undo_depth = 32;
    lim->recent_commands = 262144;
    lim->max_ladders = 256;
}

static bool limits_valid(const struct kito_engine_limits *lim)
{
    return lim->max_lots >= 1 && lim->max_lots <= MAX_LOTS_LIMIT && lim->max_standing_bids >= 1 &&
           lim->max_standing_bids <= UINT32_MAX - KITO__CHUNK_BIDS &&
           lim->max_bidders_per_lot >= 1 && lim->max_live_lots <= lim->max_lots &&
           lim->live_undo_depth >= 1 && lim->live_undo_depth <= MAX_UNDO_DEPTH &&
           lim->recent_commands >= 1 && lim->recent_commands <= MAX_IDS_LIMIT &&
           lim->max_ladders >= 1 && lim->max_ladders <= UINT16_MAX;
}

kito_err kito_engine_create(const struct kito_engine_limits *lim,
                            const struct kito_allocator *alloc, kito_engine **out)
{
    if (lim == NULL || !limits_valid(lim))
        return KITO_E_CONFIG;
    struct kito_allocator a = {default_alloc, default_free, NULL};
    if (alloc != NULL)
        a = *alloc;
    kito_engine *eng = a.alloc(a.ctx, sizeof(*eng));
    if (eng == NULL)
        return KITO_E_NOMEM;
    memset(eng, 0, sizeof(*eng));
    eng->lim = *lim;
    eng->alloc = a;
    eng->total_bytes = sizeof(*eng);

    uint32_t n_lots = lim->max_lots;
    eng->index_mask = pow2_at_least((uint64_t)n_lots * 2) - 1;
    eng->n_chunks = (lim->max_standing_bids + KITO__CHUNK_BIDS - 1) / KITO__CHUNK_BIDS;
    /* Each generation has pow2(2 x recent_commands) slots (at least a line's), eight to a line
     * per generation, so a generation is at most half full; a slot keeps a log position under a
     * tag (at least 6 bits, as recent_commands <= 2^26). */
    uint32_t gen_slots = pow2_at_least((uint64_t)lim->recent_commands * 2);
    if (gen_slots < KITO__ID_SLOTS)
        gen_slots = KITO__ID_SLOTS;
    eng->ids_mask = gen_slots / KITO__ID_SLOTS - 1;
    eng->id_pos_bits = 1;
    while ((UINT64_C(1) << eng->id_pos_bits) < lim->recent_commands)
        eng->id_pos_bits++;

    eng->lots = eng_alloc(eng, n_lots, sizeof(struct kito__lot));
    eng->free_slots = eng_alloc(eng, n_lots, sizeof(uint32_t));
    eng->index = eng_alloc(eng, (size_t)eng->index_mask + 1, sizeof(struct kito__index_entry));
    eng->heap = eng_alloc(eng, n_lots, sizeof(struct kito__heap_entry));
    eng->chunks = eng_alloc(eng, eng->n_chunks, sizeof(struct kito__chunk));
    eng->live = eng_alloc(eng, lim->max_live_lots, sizeof(struct kito__live));
    eng->undo = eng_alloc(eng, (size_t)lim->max_live_lots * lim->live_undo_depth,
                          sizeof(struct kito__undo));
    eng->free_live = eng_alloc(eng, lim->max_live_lots, sizeof(uint32_t));
    eng->ids = eng_alloc(eng, (size_t)eng->ids_mask + 1, sizeof(struct kito__id_line));
    eng->id_log = eng_alloc(eng, (size_t)lim->recent_commands * 2, sizeof(struct kito__id_entry));
    eng->ladders = eng_alloc(eng, lim->max_ladders, sizeof(struct kito_ladder));
    eng->ladder_fast = eng_alloc(eng, lim->max_ladders, sizeof(struct kito__ladder_fast));
    eng->ladder_refs = eng_alloc(eng, lim->max_ladders, sizeof(uint32_t));
    if (!eng->lots || !eng->free_slots || !eng->index || !eng->heap || !eng->chunks || !eng->live ||
        !eng->undo || !eng->free_live || !eng->ids || !eng->id_log || !eng->ladders ||
        !eng->ladder_fast || !eng->ladder_refs) {
        kito_engine_free(eng);
        return KITO_E_NOMEM;
    }

    /* Free stacks hand out low indexes first, so a small engine stays compact in memory. */
    for (uint32_t i = 0; i < n_lots; i++) {
        eng->free_slots[i] = n_lots - 1 - i;
        eng->lots[i].heap_pos = KITO__NONE;
        eng->lots[i].live_id = KITO__NONE;
        eng->lots[i].bids_head = eng->lots[i].bids_tail = KITO__NONE;
    }
    eng->n_free_slots = n_lots;
    for (uint32_t c = 0; c < eng->n_chunks; c++)
        eng->chunks[c].next = c + 1 < eng->n_chunks ? c + 1 : KITO__NONE;
    eng->chunk_free = 0;
    for (uint32_t i = 0; i < lim->max_live_lots; i++) {
        eng->free_live[i] = lim->max_live_lots - 1 - i;
        eng->live[i].lot_slot = KITO__NONE;
    }
    eng->n_free_live = lim->max_live_lots;
    *out = eng;
    return KITO_OK;
}

void kito_engine_free(kito_engine *eng)
{
    if (eng == NULL)
        return;
    const struct kito_engine_limits *lim = &eng->lim;
    eng_free(eng, eng->lots, lim->max_lots, sizeof(struct kito__lot));
    eng_free(eng, eng->free_slots, lim->max_lots, sizeof(uint32_t));
    eng_free(eng, eng->index, (size_t)eng->index_mask + 1, sizeof(struct kito__index_entry));
    eng_free(eng, eng->heap, lim->max_lots, sizeof(struct kito__heap_entry));
    eng_free(eng, eng->chunks, eng->n_chunks, sizeof(struct kito__chunk));
    eng_free(eng, eng->live, lim->max_live_lots, sizeof(struct kito__live));
    eng_free(eng, eng->undo, (size_t)lim->max_live_lots * lim->live_undo_depth,
             sizeof(struct kito__undo));
    eng_free(eng, eng->free_live, lim->max_live_lots, sizeof(uint32_t));
    eng_free(eng, eng->ids, (size_t)eng->ids_mask + 1, sizeof(struct kito__id_line));
    eng_free(eng, eng->id_log, (size_t)lim->recent_commands * 2, sizeof(struct kito__id_entry));
    eng_free(eng, eng->ladders, lim->max_ladders, sizeof(struct kito_ladder));
    eng_free(eng, eng->ladder_fast, lim->max_ladders, sizeof(struct kito__ladder_fast));
    eng_free(eng, eng->ladder_refs, lim->max_ladders, sizeof(uint32_t));
    struct kito_allocator a = eng->alloc;
    a.free(a.ctx, eng, sizeof(*eng));
}

/* ---- lot index ----------------------------------------------------------------------------- */

static inline uint32_t index_home(const kito_engine *eng, uint64_t lot_id)
{
    return (uint32_t)mix64(lot_id) & eng->index_mask;
}

static inline struct kito__lot *lot_find_at(const kito_engine *eng, uint64_t lot_id, uint32_t home)
{
    if (lot_id == 0)
        return NULL;
    for (uint32_t i = home;; i = (i + 1) & eng->index_mask) {
        const struct kito__index_entry *e = &eng->index[i];
        if (e->lot_id == lot_id)
            return &eng->lots[e->slot];
        if (e->lot_id == 0)
            return NULL;
    }
}

struct kito__lot *kito__lot_find(const kito_engine *eng, uint64_t lot_id)
{
    return lot_find_at(eng, lot_id, index_home(eng, lot_id));
}

uint32_t kito__lot_slot(const kito_engine *eng, const struct kito__lot *lot)
{
    return (uint32_t)(lot - eng->lots);
}

static void index_insert(kito_engine *eng, uint64_t lot_id, uint32_t slot)
{
    uint32_t i = index_home(eng, lot_id);
    while (eng->index[i].lot_id != 0)
        i = (i + 1) & eng->index_mask;
    eng->index[i].lot_id = lot_id;
    eng->index[i].slot = slot;
}

/* Backward-shift deletion keeps probe chains whole without tombstones. */
static void index_delete(kito_engine *eng, uint64_t lot_id)
{
    uint32_t mask = eng->index_mask;
    uint32_t i = index_home(eng, lot_id);
    while (eng->index[i].lot_id != lot_id) {
        assert(eng->index[i].lot_id != 0);
        i = (i + 1) & mask;
    }
    for (uint32_t j = (i + 1) & mask; eng->index[j].lot_id != 0; j = (j + 1) & mask) {
        uint32_t home = index_home(eng, eng->index[j].lot_id);
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        bool home_in_between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!home_in_between) {
            eng->index[i] = eng->index[j];
            i = j;
        }
    }
    eng->index[i].lot_id = 0;
    eng->index[i].slot = 0;
}

/* ---- timer heap ---------------------------------------------------------------------------- */

static bool heap_less(const kito_engine *eng, uint32_t a, uint32_t b)
{
    const struct kito__heap_entry *x = &eng->heap[a], *y = &eng->heap[b];
    if (x->deadline_ms != y->deadline_ms)
        return x->deadline_ms < y->deadline_ms;
    /* Ties by lot id, so the order does not depend on where lots sit in memory. */
    return eng->lots[x->slot].lot_id < eng->lots[y->slot].lot_id;
}

static void heap_swap(kito_engine *eng, uint32_t a, uint32_t b)
{
    struct kito__heap_entry t = eng->heap[a];
    eng->heap[a] = eng->heap[b];
    eng->heap[b] = t;
    eng->lots[eng->heap[a].slot].heap_pos = a;
    eng->lots[eng->heap[b].slot].heap_pos = b;
}

static void heap_sift(kito_engine *eng, uint32_t pos)
{
    while (pos > 0 && heap_less(eng, pos, (pos - 1) / 2)) {
        heap_swap(eng, pos, (pos - 1) / 2);
        pos = (pos - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < eng->heap_n && heap_less(eng, l, m))
            m = l;
        if (r < eng->heap_n && heap_less(eng, r, m))
            m = r;
        if (m == pos)
            break;
        heap_swap(eng, pos, m);
        pos = m;
    }
}

void kito__heap_set(kito_engine *eng, uint32_t slot, int64_t deadline_ms)
{
    struct kito__lot *lot = &eng->lots[slot];
    if (lot->heap_pos == KITO__NONE) {
        assert(eng->heap_n < eng->lim.max_lots);
        lot->heap_pos = eng->heap_n++;
        eng->heap[lot->heap_pos].slot = slot;
    }
    eng->heap[lot->heap_pos].deadline_ms = deadline_ms;
    heap_sift(eng, lot->heap_pos);
}

void kito__heap_remove(kito_engine *eng, uint32_t slot)
{
    struct kito__lot *lot = &eng->lots[slot];
    uint32_t pos = lot->heap_pos;
    assert(pos != KITO__NONE && pos < eng->heap_n);
    uint32_t last = --eng->heap_n;
    if (pos != last) {
        heap_swap(eng, pos, last);
        lot->heap_pos = KITO__NONE;
        heap_sift(eng, pos);
    }
    lot->heap_pos = KITO__NONE;
}

int64_t kito_engine_next_deadline(const kito_engine *eng)
{
    return eng->heap_n > 0 ? eng->heap[0].deadline_ms : INT64_MAX;
}

/* ---- idempotency window ---------------------------------------------------------------------- */

/* Two generations: new ids go to the current table; when it holds recent_commands entries the
 * previous table is cleared and the two swap. Lookups check both, so the latest recent_commands
 * accepted ids (and at most twice as many) are always remembered. Past that an id is forgotten
 * and a retry is judged afresh -- a retried maximum is then refused as not above the bidder's own
 * maximum or below the ask, so a stale retry cannot bid twice in practice, but only the window is
 * a guarantee.
 *
 * The entries themselves go to a log per generation, in order of acceptance (so writing them is
 * sequential); the tables hold only tagged log positions (4 bytes a slot), which keeps what a
 * lookup reads at random a quarter of the size. */
/* What a command's lookups need, computed once: two hashes per command in all. */
struct pre {
    struct kito__lot *lot; /* valid when looked_up */
    bool looked_up;
    uint32_t index_home; /* home slot of the lot id in the index */
    uint32_t id_home;    /* home line of (id, lot) in the window tables */
    uint32_t id_key;     /* the slot's tag part for (id, lot): a nonzero tag << id_pos_bits */
    uint32_t id_fp;      /* fingerprint of the lot id kept beside the command id */
    uint32_t id_free;    /* set by ids_find when not found: line x 8 + slot of the current
                            generation's first free slot from id_home, where ids_insert puts it */
};

static inline void pre_compute(const kito_engine *eng, const struct kito_command *c, struct pre *p)
{
    uint64_t h = mix64(c->lot_id);
    p->lot = NULL;
    p->looked_up = false;
    p->index_home = (uint32_t)h & eng->index_mask;
    p->id_fp = (uint32_t)(h >> 32);
    /* h is already well mixed; one multiply spreads sequential command ids (Fibonacci
     * hashing, high bits): the line from bit 32 up, the tag from the top 32 - id_pos_bits
     * bits (apart from the line's: there are at most 2^(id_pos_bits - 1) lines). */
    uint64_t hh = (c->id ^ h) * UINT64_C(0x9e3779b97f4a7c15);
    p->id_home = (uint32_t)(hh >> 32) & eng->ids_mask;
    uint32_t tag = (uint32_t)(hh >> (32 + eng->id_pos_bits));
    p->id_key = (tag != 0 ? tag : 1) << eng->id_pos_bits;
}

static inline void pre_prefetch(const kito_engine *eng, const struct kito_command *c,
                                const struct pre *p)
{
    __builtin_prefetch(&eng->index[p->index_home]);
    if (c->id != 0)
        __builtin_prefetch(&eng->ids[p->id_home], 1);
}

/* The slots of one line holding key, the tagged part of a slot (bit 8h + k: generation half h,
 * slot k), and the empty ones (*empty, the same bits). Both halves at once: a lookup reads
 * them from the same line. */
static inline unsigned id_line_match(const struct kito__id_line *line, uint32_t key,
                                     uint32_t tag_mask, unsigned *empty)
{
#ifdef __SSE2__
    const __m128i k = _mm_set1_epi32((int)key), t = _mm_set1_epi32((int)tag_mask);
    const __m128i zero = _mm_setzero_si128();
    __m128i a0 = _mm_loadu_si128((const __m128i *)line->slot[0]);
    __m128i a1 = _mm_loadu_si128((const __m128i *)(line->slot[0] + 4));
    __m128i b0 = _mm_loadu_si128((const __m128i *)line->slot[1]);
    __m128i b1 = _mm_loadu_si128((const __m128i *)(line->slot[1] + 4));
    /* Each compare gives 0 or -1 per slot; packing keeps that, in slot order. */
    __m128i m0 = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_and_si128(a0, t), k),
                                 _mm_cmpeq_epi32(_mm_and_si128(a1, t), k));
    __m128i m1 = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_and_si128(b0, t), k),
                                 _mm_cmpeq_epi32(_mm_and_si128(b1, t), k));
    __m128i e0 = _mm_packs_epi32(_mm_cmpeq_epi32(a0, zero), _mm_cmpeq_epi32(a1, zero));
    __m128i e1 = _mm_packs_epi32(_mm_cmpeq_epi32(b0, zero), _mm_cmpeq_epi32(b1, zero));
    __m128i m = _mm_packs_epi16(m0, m1), e = _mm_packs_epi16(e0, e1);
    *empty = (unsigned)_mm_movemask_epi8(e);
    return (unsigned)_mm_movemask_epi8(m);
#else
    unsigned m = 0, e = 0;
    for (unsigned h = 0; h < 2; h++) {
        for (unsigned k = 0; k < KITO__ID_SLOTS; k++) {
            m |= (unsigned)((line->slot[h][k] & tag_mask) == key) << (h * 8 + k);
            e |= (unsigned)(line->slot[h][k] == 0) << (h * 8 + k);
        }
    }
    *empty = e;
    return m;
#endif
}

/* Looks (cmd_id, lot) up in both generations at once, line by line from its home: a
 * generation's chain ends at the first of its line halves with an empty slot (nothing is deleted
 * from a generation but all at once, and slots fill from the front of a line, so an empty slot
 * matches no tag). An id is in at most one generation: it is inserted only when found in
 * neither. Returns its log entry, or NULL; when not found, p->id_free gets the current
 * generation's first empty slot (line x 8 + slot), where ids_insert puts it. */
static inline __attribute__((always_inline)) const struct kito__id_entry *
ids_find_entry(const kito_engine *eng, uint64_t cmd_id, struct pre *p)
{
    const uint32_t cur_shift = eng->ids_cur * KITO__ID_SLOTS;
    const uint32_t pos_mask = (UINT32_C(1) << eng->id_pos_bits) - 1;
    unsigned live = 0xffffu; /* the halves whose chain goes on */
    for (uint32_t i = p->id_home;; i = (i + 1) & eng->ids_mask) {
        const struct kito__id_line *line = &eng->ids[i];
        unsigned empty, m = id_line_match(line, p->id_key, ~pos_mask, &empty) & live;
        for (; m != 0; m &= m - 1) {
            uint32_t b = (uint32_t)__builtin_ctz(m), half = b / KITO__ID_SLOTS;
            const struct kito__id_entry *e =
                &eng->id_log[(size_t)half * eng->lim.recent_commands +
                             (line->slot[half][b % KITO__ID_SLOTS] & pos_mask)];
            if (e->cmd_id == cmd_id && e->lot_fp == p->id_fp)
                return e;
        }
        unsigned cur_empty = (empty & live) >> cur_shift & 0xffu;
        if (cur_empty != 0)
            p->id_free = i * KITO__ID_SLOTS + (uint32_t)__builtin_ctz(cur_empty);
        live &=
            ((empty & 0xffu) != 0 ? 0xff00u : 0xffffu) & ((empty & 0xff00u) != 0 ? 0xffu : 0xffffu);
        if (live == 0)
            return NULL;
    }
}

/* ids_find_entry for the bid path: true and the first arrival's seq when found. */
static inline __attribute__((always_inline)) bool ids_find(const kito_engine *eng, uint64_t cmd_id,
                                                           struct pre *p, uint32_t *seq)
{
    const struct kito__id_entry *e = ids_find_entry(eng, cmd_id, p);
    if (e == NULL)
        return false;
    *seq = e->seq;
    return true;
}

/* The current generation is full: the previous one is forgotten and becomes the current one. */
static __attribute__((noinline, cold)) void ids_swap(kito_engine *eng, struct pre *p)
{
    uint32_t prev = eng->ids_cur ^ 1;
    for (size_t i = 0; i <= eng->ids_mask; i++)
        memset(eng->ids[i].slot[prev], 0, sizeof(eng->ids[i].slot[prev]));
    eng->ids_cur = prev;
    eng->ids_fill = 0;
    p->id_free = p->id_home * KITO__ID_SLOTS; /* the new generation is empty */
}

/* Remembers (cmd_id, lot) after ids_find did not find it. */
static inline __attribute__((always_inline)) void ids_insert(kito_engine *eng, uint64_t cmd_id,
                                                             struct pre *p, uint32_t seq)
{
    assert(cmd_id != 0);
    if (eng->ids_fill == eng->lim.recent_commands)
        ids_swap(eng, p);
    uint32_t pos = eng->ids_fill++;
    uint32_t *slot =
        &eng->ids[p->id_free / KITO__ID_SLOTS].slot[eng->ids_cur][p->id_free % KITO__ID_SLOTS];
    assert(*slot == 0);
    *slot = pos | p->id_key;
    struct kito__id_entry *e = &eng->id_log[(size_t)eng->ids_cur * eng->lim.recent_commands + pos];
    /* The log is written in order: ask for the line eight lines on, so that a write rarely
     * waits for its line (measured: 3-9% on the bench stream). */
    if (pos + 32 < eng->lim.recent_commands)
        __builtin_prefetch(e + 32, 1);
    e->cmd_id = cmd_id;
    e->lot_fp = p->id_fp;
    e->seq = seq;
}

kito_err kito_engine_remember(kito_engine *eng, uint64_t lot_id, uint64_t cmd_id, uint32_t seq)
{
    if (lot_id == 0 || cmd_id == 0 || seq == 0)
        return KITO_E_BAD_COMMAND;
    const struct kito_command c = {.id = cmd_id, .lot_id = lot_id};
    struct pre pre;
    pre_compute(eng, &c, &pre);
    const struct kito__id_entry *found = ids_find_entry(eng, cmd_id, &pre);
    if (found != NULL) {
        /* The journal holds the id twice: it was accepted again once the window had forgotten
         * it. A retry then meant the later one, which is what the window answered before the
         * restart; keep it whatever order the two arrive in. */
        struct kito__id_entry *e = &eng->id_log[found - eng->id_log];
        if (seq > e->seq)
            e->seq = seq;
        return KITO_OK;
    }
    ids_insert(eng, cmd_id, &pre, seq);
#ifndef NDEBUG
    struct pre again; /* pair assertion: what was written is found */
    pre_compute(eng, &c, &again);
    assert(ids_find_entry(eng, cmd_id, &again) != NULL);
#endif
    return KITO_OK;
}

/* ---- ladders --------------------------------------------------------------------------------- */

static kito_err ladder_intern(kito_engine *eng, const struct kito_ladder *ladder, uint16_t *id)
{
    uint32_t free_id = KITO__NONE;
    for (uint32_t i = 0; i < eng->lim.max_ladders; i++) {
        if (eng->ladder_refs[i] == 0) {
            if (free_id == KITO__NONE)
                free_id = i;
        } else if (kito_ladder_equal(&eng->ladders[i], ladder)) {
            eng->ladder_refs[i]++;
            *id = (uint16_t)i;
            return KITO_OK;
        }
    }
    if (free_id == KITO__NONE)
        return KITO_E_CAPACITY;
    eng->ladders[free_id] = *ladder;
    struct kito__ladder_fast *f = &eng->ladder_fast[free_id];
    for (uint32_t i = 0; i < KITO_LADDER_MAX_RUNGS; i++) {
        bool used = i < ladder->n_rungs;
        f->from_minor[i] = used ? ladder->rungs[i].from_minor : INT64_MAX;
        f->step_minor[i] = used ? ladder->rungs[i].step_minor : 0;
    }
    eng->ladder_refs[free_id] = 1;
    *id = (uint16_t)free_id;
    return KITO_OK;
}

static bool ladder_available(const kito_engine *eng, const struct kito_ladder *ladder)
{
    for (uint32_t i = 0; i < eng->lim.max_ladders; i++) {
        if (eng->ladder_refs[i] == 0 || kito_ladder_equal(&eng->ladders[i], ladder))
            return true;
    }
    return false;
}

/* ---- lot slots ---------------------------------------------------------------------------------
 */

/* Takes a slot, a ladder and (live) a live block for a new lot with room for n_bidders entries,
 * or fails having changed nothing. */
kito_err kito__lot_alloc(kito_engine *eng, uint64_t lot_id, const struct kito_ladder *ladder,
                         bool live, uint32_t n_bidders, struct kito__lot **out)
{
    if (kito__lot_find(eng, lot_id) != NULL)
        return KITO_E_LOT_EXISTS;
    uint32_t chunks_needed = (n_bidders + KITO__CHUNK_BIDS - 1) / KITO__CHUNK_BIDS;
    if (eng->n_free_slots == 0 || (live && eng->n_free_live == 0) ||
        !ladder_available(eng, ladder) || n_bidders > eng->lim.max_bidders_per_lot ||
        chunks_needed > eng->n_chunks - eng->chunks_used)
        return KITO_E_CAPACITY;

    uint32_t slot = eng->free_slots[--eng->n_free_slots];
    struct kito__lot *lot = &eng->lots[slot];
    memset(lot, 0, sizeof(*lot));
    lot->lot_id = lot_id;
    lot->bids_head = lot->bids_tail = KITO__NONE;
    lot->heap_pos = KITO__NONE;
    lot->live_id = KITO__NONE;
    kito_err err = ladder_intern(eng, ladder, &lot->ladder_id);
    assert(err == KITO_OK);
    (void)err;
    if (live) {
        uint32_t id = eng->free_live[--eng->n_free_live];
        struct kito__live *lv = &eng->live[id];
        memset(lv, 0, sizeof(*lv));
        lv->lot_slot = slot;
        lot->live_id = id;
    }
    index_insert(eng, lot_id, slot);
    eng->lots_loaded++;
    *out = lot;
    return KITO_OK;
}

void kito__lot_release(kito_engine *eng, struct kito__lot *lot)
{
    uint32_t slot = kito__lot_slot(eng, lot);
    if (lot->heap_pos != KITO__NONE)
        kito__heap_remove(eng, slot);
    kito__entries_free(eng, lot);
    if (lot->live_id != KITO__NONE) {
        eng->live[lot->live_id].lot_slot = KITO__NONE;
        eng->free_live[eng->n_free_live++] = lot->live_id;
    }
    assert(eng->ladder_refs[lot->ladder_id] > 0);
    eng->ladder_refs[lot->ladder_id]--;
    index_delete(eng, lot->lot_id);
    memset(lot, 0, sizeof(*lot));
    lot->heap_pos = KITO__NONE;
    lot->live_id = KITO__NONE;
    lot->bids_head = lot->bids_tail = KITO__NONE;
    eng->free_slots[eng->n_free_slots++] = slot;
    eng->lots_loaded--;
}

/* ---- loading -----------------------------------------------------------------------------------
 */

void kito_lot_config_init(struct kito_lot_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    memcpy(cfg->currency, "USD", 4);
    cfg->format = KITO_FORMAT_TIMED;
    cfg->tender_price = KITO_TENDER_FIRST_PRICE;
    kito_ladder_default(&cfg->ladder);
    cfg->stagger_s = 60;
    cfg->soft_close_s = 120;
}

static bool currency_valid(const char c[4])
{
    for (int i = 0; i < 3; i++) {
        if (c[i] < 'A' || c[i] > 'Z')
            return false;
    }
    return c[3] == '\0';
}

kito_err kito_engine_lot_load(kito_engine *eng, const struct kito_lot_config *cfg)
{
    if (cfg->lot_id == 0 || cfg->format < KITO_FORMAT_TIMED || cfg->format > KITO_FORMAT_LIVE ||
        !currency_valid(cfg->currency) || cfg->soft_close_s > MAX_SOFT_CLOSE_S)
        return KITO_E_BAD_COMMAND;
    if (cfg->format == KITO_FORMAT_TENDER && cfg->tender_price != KITO_TENDER_FIRST_PRICE &&
        cfg->tender_price != KITO_TENDER_SECOND_PRICE)
        return KITO_E_BAD_COMMAND;
    if (cfg->opening_minor <= 0 || cfg->opening_minor > KITO_AMOUNT_MAX_MINOR ||
        cfg->reserve_minor < 0 || cfg->reserve_minor > KITO_AMOUNT_MAX_MINOR)
        return KITO_E_BAD_AMOUNT;
    if (kito_ladder_validate(&cfg->ladder) != KITO_OK)
        return KITO_E_BAD_LADDER;

    int64_t ends_at = 0;
    if (cfg->format != KITO_FORMAT_LIVE) {
        /* Staggered close (DESIGN.md, Timed): lot i ends at sale end + i x stagger. */
        int64_t offset_ms;
        if (__builtin_mul_overflow((int64_t)cfg->index_in_sale, (int64_t)cfg->stagger_s * 1000,
                                   &offset_ms) ||
            __builtin_add_overflow(cfg->sale_ends_at_ms, offset_ms, &ends_at) ||
            ends_at <= cfg->starts_at_ms || ends_at > INT64_MAX / 2)
            return KITO_E_BAD_COMMAND;
    }

    struct kito__lot *lot;
    kito_err err =
        kito__lot_alloc(eng, cfg->lot_id, &cfg->ladder, cfg->format == KITO_FORMAT_LIVE, 0, &lot);
    if (err != KITO_OK)
        return err;
    lot->sale_id = cfg->sale_id;
    lot->seller_id = cfg->seller_id;
    memcpy(lot->currency, cfg->currency, sizeof(lot->currency));
    lot->format = cfg->format;
    lot->tender_price = cfg->format == KITO_FORMAT_TENDER ? cfg->tender_price : 0;
    lot->state = KITO_LOT_SCHEDULED;
    lot->opening_minor = cfg->opening_minor;
    lot->reserve_minor = cfg->reserve_minor;
    if (cfg->format != KITO_FORMAT_LIVE) {
        lot->starts_at_ms = cfg->starts_at_ms;
        lot->ends_at_ms = ends_at;
        lot->soft_close_ms = cfg->format == KITO_FORMAT_TIMED ? cfg->soft_close_s * 1000u : 0;
        kito__heap_set(eng, kito__lot_slot(eng, lot), lot->starts_at_ms);
    }
    kito__lot_refresh_ask(eng, lot);
    return KITO_OK;
}

kito_err kito_engine_lot_unload(kito_engine *eng, uint64_t lot_id)
{
    struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    kito__lot_release(eng, lot);
    return KITO_OK;
}

/* ---- applying commands --------------------------------------------------------------------- */

static bool amount_valid(int64_t a)
{
    return a > 0 && a <= KITO_AMOUNT_MAX_MINOR;
}

/* What can be refused without looking at the lot. */
static inline kito_err precheck(const struct kito_command *cmd)
{
    if (kito__command_check(cmd) != KITO_OK)
        return KITO_E_BAD_COMMAND;
    switch (cmd->type) {
    case KITO_CMD_BID:
    case KITO_CMD_FLOOR_BID:
        if (cmd->actor == 0 || (cmd->actor & KITO_PADDLE_FLAG))
            return KITO_E_BAD_COMMAND;
        if (!amount_valid(cmd->amount_minor))
            return KITO_E_BAD_AMOUNT;
        break;
    case KITO_CMD_SET_ASK:
        if (!amount_valid(cmd->amount_minor))
            return KITO_E_BAD_AMOUNT;
        break;
    case KITO_CMD_SET_STEP:
        if (cmd->arg == KITO_STEP_MANUAL && !amount_valid(cmd->amount_minor))
            return KITO_E_BAD_AMOUNT;
        break;
    default:
        break;
    }
    return KITO_OK;
}

/* Inlined into its three callers: the batch loop is the hot one. */
static inline __attribute__((always_inline)) kito_err
apply_to(kito_engine *eng, const struct kito_command *cmd, struct pre *pre, bool replay,
         struct kito_event *events, size_t events_cap, struct kito_outcome *out)
{
    out->seq = 0;
    out->n_events = 0;
    kito_err err = precheck(cmd);
    if (err != KITO_OK)
        return out->err = err;
    /* A replayed command was accepted once and is applied again whatever the window holds
     * (the same id may stand twice in a journal, accepted again after the window forgot it);
     * its id is the rebuild's to remember (kito_engine_remember), in the order it chooses. */
    uint32_t first_seq;
    if (!replay && cmd->id != 0 && ids_find(eng, cmd->id, pre, &first_seq)) {
        out->seq = first_seq;
        return out->err = KITO_E_DUPLICATE;
    }
    struct kito__lot *lot =
        pre->looked_up ? pre->lot : lot_find_at(eng, cmd->lot_id, pre->index_home);
    if (lot == NULL)
        return out->err = KITO_E_UNKNOWN_LOT;
    if (lot->seq == UINT32_MAX)
        return out->err = KITO_E_CAPACITY;
    if (replay && cmd->seq != lot->seq + 1)
        return out->err = KITO_E_BAD_COMMAND;

    assert(events == NULL || events_cap >= KITO_MAX_EVENTS_PER_COMMAND);
    (void)events_cap;
    struct kito__emit em;
    em.buf = events;
    em.n = 0;
    em.seq = lot->seq + 1;
    em.lot_id = cmd->lot_id; /* the lot's id (it was found by it), off the bid path's lines */
    em.at_ms = cmd->now_ms;
    err = kito__lot_apply(eng, lot, cmd, &em);
    if (err != KITO_OK)
        return out->err = err;
    lot->seq = em.seq;
    if (!replay && cmd->id != 0)
        ids_insert(eng, cmd->id, pre, em.seq);
    out->seq = em.seq;
    out->n_events = em.n;
    return out->err = KITO_OK;
}

/* One command on its own: its two independent lookups (window, index) start together, then the
 * lot's lines. */
static kito_err apply_one(kito_engine *eng, const struct kito_command *cmd, bool replay,
                          struct kito_event *events, size_t events_cap, struct kito_outcome *out)
{
    struct pre pre;
    pre_compute(eng, cmd, &pre);
    pre_prefetch(eng, cmd, &pre);
    pre.lot = lot_find_at(eng, cmd->lot_id, pre.index_home);
    pre.looked_up = true;
    if (pre.lot != NULL)
        prefetch_lot(pre.lot);
    return apply_to(eng, cmd, &pre, replay, events, events_cap, out);
}

kito_err kito_engine_apply(kito_engine *eng, const struct kito_command *cmd,
                           struct kito_event *events, size_t events_cap, struct kito_outcome *out)
{
    struct kito_outcome local;
    return apply_one(eng, cmd, false, events, events_cap, out != NULL ? out : &local);
}

kito_err kito_engine_replay(kito_engine *eng, const struct kito_command *cmd,
                            struct kito_event *events, size_t events_cap, struct kito_outcome *out)
{
    struct kito_outcome local;
    return apply_one(eng, cmd, true, events, events_cap, out != NULL ? out : &local);
}

/* How far ahead of the command being applied each prefetch stage runs: far enough to hide its
 * memory access behind the work of the commands in between, near enough that the lines are still
 * in cache and that a batch's pipeline fills quickly. */
#define BATCH_S3 6              /* id line (mostly L3), chunk line (DRAM for a cold lot) */
#define BATCH_S2 (BATCH_S3 + 6) /* lot lines: DRAM for a cold lot */
#define BATCH_S1 (BATCH_S2 + 2) /* index slot: mostly L3 */
#define BATCH_RING 32           /* > BATCH_S1, a power of two */
_Static_assert(BATCH_S1 < BATCH_RING, "the ring holds every command in flight");

/* 1) hash the command, fetch its index slot */
static inline void batch_stage1(const kito_engine *eng, const struct kito_command *c, struct pre *p)
{
    pre_compute(eng, c, p);
    __builtin_prefetch(&eng->index[p->index_home]);
}

/* 2) find the lot through the index, fetch its lines */
static inline void batch_stage2(const kito_engine *eng, const struct kito_command *c, struct pre *p)
{
    p->lot = lot_find_at(eng, c->lot_id, p->index_home);
    p->looked_up = true;
    if (p->lot != NULL)
        prefetch_lot(p->lot);
}

/* 3) fetch the id window line, and the chunk line of the bidder's entry, found by her
 * fingerprint in the lot. The id line is fetched here rather than with the index slot: fetched
 * that early it was measured to cost up to a fifth more (engine/README.md, Performance). */
static inline void batch_stage3(const kito_engine *eng, const struct kito_command *c,
                                const struct pre *p)
{
    if (c->id != 0)
        __builtin_prefetch(&eng->ids[p->id_home], 1); /* written when the command is accepted */
    if (p->lot == NULL || c->actor == 0)
        return;
    if (c->type == KITO_CMD_BID)
        kito__prefetch_entry(eng, p->lot, c->actor);
    else if (c->type == KITO_CMD_FLOOR_BID)
        kito__prefetch_entry(eng, p->lot, KITO_PADDLE_BIDDER(c->actor));
}

size_t kito_engine_apply_batch(kito_engine *eng, const struct kito_command *cmds, size_t n,
                               struct kito_outcome *outs, struct kito_event *events,
                               size_t events_cap, size_t *n_events)
{
    /* A software pipeline of three stages, BATCH_S1, BATCH_S2 and BATCH_S3 commands ahead of
     * the one applied, each using what the previous one brought into cache: 1) hash the
     * command, fetch its index slot; 2) find the lot through the index, fetch its two lines;
     * 3) fetch its id window line and the chunk line of the bidder's entry (or of the entry she
     * would add). Commands in a batch never load or unload lots, so a lot found in stage 2 is
     * still there when its command runs. */
    struct pre ring[BATCH_RING];
    size_t used = 0, k;
    size_t head = n < BATCH_S1 ? n : BATCH_S1;
    for (size_t s = 0; s < head; s++)
        batch_stage1(eng, &cmds[s], &ring[s % BATCH_RING]);
    for (size_t s = 0; s < head && s < BATCH_S2; s++)
        batch_stage2(eng, &cmds[s], &ring[s % BATCH_RING]);
    for (size_t s = 0; s < head && s < BATCH_S3; s++)
        batch_stage3(eng, &cmds[s], &ring[s % BATCH_RING]);
    for (k = 0; k < n; k++) {
        if (events != NULL && events_cap - used < KITO_MAX_EVENTS_PER_COMMAND)
            break;
        if (k + BATCH_S1 < n) { /* then the nearer stages' commands are in the batch too */
            batch_stage1(eng, &cmds[k + BATCH_S1], &ring[(k + BATCH_S1) % BATCH_RING]);
            batch_stage2(eng, &cmds[k + BATCH_S2], &ring[(k + BATCH_S2) % BATCH_RING]);
            batch_stage3(eng, &cmds[k + BATCH_S3], &ring[(k + BATCH_S3) % BATCH_RING]);
        } else {
            if (k + BATCH_S2 < n)
                batch_stage2(eng, &cmds[k + BATCH_S2], &ring[(k + BATCH_S2) % BATCH_RING]);
            if (k + BATCH_S3 < n)
                batch_stage3(eng, &cmds[k + BATCH_S3], &ring[(k + BATCH_S3) % BATCH_RING]);
        }
        /* Without an events buffer nothing is emitted: n_events is 0 and used stays 0. */
        apply_to(eng, &cmds[k], &ring[k % BATCH_RING], false, events != NULL ? events + used : NULL,
                 events != NULL ? events_cap - used : 0, &outs[k]);
        used += outs[k].n_events;
    }
    if (n_events != NULL)
        *n_events = used;
    return k;
}

kito_err kito_engine_tick(kito_engine *eng, int64_t now_ms, struct kito_command *applied,
                          size_t applied_cap, size_t *n_applied, struct kito_event *events,
                          size_t events_cap, size_t *n_events)
{
    size_t n_cmd = 0, n_ev = 0;
    while (eng->heap_n > 0 && n_cmd < applied_cap && eng->heap[0].deadline_ms <= now_ms) {
        if (events != NULL && events_cap - n_ev < KITO_MAX_EVENTS_PER_COMMAND)
            break;
        uint32_t slot = eng->heap[0].slot;
        struct kito__lot *lot = &eng->lots[slot];
        int64_t due = kito__lot_deadline(lot);
        assert(due >= eng->heap[0].deadline_ms);
        if (due > now_ms) {
            /* A soft close moved the end after the key was set: re-key and look again. */
            kito__heap_set(eng, slot, due);
            continue;
        }
        struct kito_command cmd = {
            .lot_id = lot->lot_id,
            .now_ms = now_ms,
            .type = lot->state == KITO_LOT_SCHEDULED ? KITO_CMD_OPEN : KITO_CMD_CLOSE,
        };
        struct kito_outcome out;
        struct pre pre;
        pre_compute(eng, &cmd, &pre);
        pre.lot = lot;
        pre.looked_up = true;
        kito_err err = apply_to(eng, &cmd, &pre, false, events != NULL ? events + n_ev : NULL,
                                events != NULL ? events_cap - n_ev : 0, &out);
        assert(err == KITO_OK);
        (void)err;
        cmd.seq = out.seq;
        applied[n_cmd++] = cmd;
        n_ev += out.n_events;
    }
    if (n_applied != NULL)
        *n_applied = n_cmd;
    if (n_events != NULL)
        *n_events = n_ev;
    return KITO_OK;
}

/* ---- views ----------------------------------------------------------------------------------- */

kito_err kito_engine_lot_view(const kito_engine *eng, uint64_t lot_id, struct kito_lot_view *out)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    kito__lot_view(eng, lot, out);
    return KITO_OK;
}

static void fill_my_bid(const kito_engine *eng, const struct kito__lot *lot, uint64_t bidder,
                        struct kito_my_bid *out)
{
    memset(out, 0, sizeof(*out));
    struct kito__entry_ref ref;
    if (bidder == 0 || !kito__entry_find(eng, lot, bidder, &ref))
        return;
    out->has_bid = true;
    out->amount_minor = ref.bid->max_minor;
    out->seq = ref.bid->seq;
    out->leading = !kito__lot_sealed(lot) && lot->leader == bidder;
}

kito_err kito_engine_my_bid(const kito_engine *eng, uint64_t lot_id, uint64_t bidder,
                            struct kito_my_bid *out)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    fill_my_bid(eng, lot, bidder, out);
    return KITO_OK;
}

kito_err kito_engine_lot_view_mine(const kito_engine *eng, uint64_t lot_id, uint64_t bidder,
                                   struct kito_lot_view *view, struct kito_my_bid *mine)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    kito__lot_view(eng, lot, view);
    fill_my_bid(eng, lot, bidder, mine);
    return KITO_OK;
}

kito_err kito_engine_lot_bids(const kito_engine *eng, uint64_t lot_id,
                              struct kito_standing_bid *out, size_t cap, size_t *n)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    if (!kito__state_final(lot->state))
        return KITO_E_BAD_STATE;
    for (uint32_t k = 0; k < lot->n_bidders && k < cap; k++) {
        struct kito__entry_ref ref;
        kito__entry_at(eng, lot, k, &ref);
        out[k].bidder = ref.bid->bidder;
        out[k].amount_minor = ref.bid->max_minor;
        out[k].seq = ref.bid->seq;
    }
    *n = lot->n_bidders;
    return KITO_OK;
}

void kito_engine_memory(const kito_engine *eng, struct kito_engine_memory *out)
{
    memset(out, 0, sizeof(*out));
    out->total_bytes = eng->total_bytes;
    size_t index_per_lot =
        ((size_t)eng->index_mask + 1) * sizeof(struct kito__index_entry) / eng->lim.max_lots;
    out->lot_slot_bytes = sizeof(struct kito__lot) + index_per_lot +
                          sizeof(struct kito__heap_entry) + sizeof(uint32_t);
    out->chunk_bytes = sizeof(struct kito__chunk);
    out->live_slot_bytes = sizeof(struct kito__live) + sizeof(uint32_t) +
                           (size_t)eng->lim.live_undo_depth * sizeof(struct kito__undo);
    out->id_window_bytes = ((size_t)eng->ids_mask + 1) * sizeof(struct kito__id_line) +
                           (size_t)eng->lim.recent_commands * 2 * sizeof(struct kito__id_entry);
    out->lots_loaded = eng->lots_loaded;
    out->chunks_used = eng->chunks_used;
    out->chunks_total = eng->n_chunks;
}

const char *kito_lot_state_name(uint8_t state)
{
    switch (state) {
    case KITO_LOT_SCHEDULED:
        return "scheduled";
    case KITO_LOT_OPEN:
        return "open";
    case KITO_LOT_CLOSING:
        return "closing";
    case KITO_LOT_SOLD:
        return "sold";
    case KITO_LOT_UNSOLD:
        return "unsold";
    case KITO_LOT_WITHDRAWN:
        return "withdrawn";
    default:
        return "unknown";
    }
}
