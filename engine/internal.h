/*
 * Internals of engine/ shared by engine.c (tables, dispatch), lot.c (the rules of one lot) and
 * snapshot.c (snapshots, equality, invariants). Not part of the public API: nothing outside
 * engine/ may include it.
 */
#ifndef KITO_ENGINE_INTERNAL_H
#define KITO_ENGINE_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "engine/engine.h"

#define KITO__NONE UINT32_MAX
#define KITO__CHUNK_BIDS KITO_ENGINE_CHUNK_BIDS
#define KITO__CHUNK_DIR_HOT 3 /* chunk numbers on the lot's second line */
#define KITO__CHUNK_DIR 7     /* in all (the rest on its cold line) */

/* One standing bid: 20 bytes, packed so that three fit a cache line. */
struct kito__bid {
    uint64_t bidder;
    int64_t max_minor; /* her maximum (timed/live) or sealed bid (tender) */
    uint32_t seq;      /* seq of the command that set max_minor (ties) */
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct kito__bid) == 20, "a standing bid is 20 bytes");

/* Standing bids of one lot: a singly linked chain of chunks from the engine's pool, entries in
 * order of each bidder's first bid. An entry never straddles a line: entries 0-2 are line 0,
 * 3-5 line 1, so a bid reads and writes the one line holding its entry (the lot's bidder
 * fingerprints say which). 128 bytes: two cache lines. */
struct kito__chunk {
    struct kito__bid lo[3]; /* entries 0-2 */
    uint32_t next;          /* next chunk, KITO__NONE at the tail / free list link */
    struct kito__bid hi[3]; /* entries 3-5 */
    uint32_t pad;
};
_Static_assert(sizeof(struct kito__chunk) == 128, "a chunk is two cache lines");
_Static_assert(__builtin_offsetof(struct kito__chunk, hi) == 64, "entries 3-5 on line 1");

/* Entry i (0 .. 5) of a chunk. */
static inline struct kito__bid *kito__chunk_bid(struct kito__chunk *ch, uint32_t i)
{
    assert(i < KITO__CHUNK_BIDS);
    return i < 3 ? &ch->lo[i] : &ch->hi[i - 3];
}

/* Bidders whose entries have a fingerprint in the lot record (entries 0 .. 15): the entries of
 * the chunks whose numbers share the fingerprints' line. */
#define KITO__FP_BIDS 16
_Static_assert(KITO__FP_BIDS <= KITO__CHUNK_BIDS * KITO__CHUNK_DIR_HOT,
               "fingerprinted entries are in the chunks of the hot directory");

/* A bidder's 8-bit fingerprint: equal ids give equal fingerprints; a match is confirmed on the
 * id (about one entry in 256 matches by chance and costs a look at its chunk line). */
static inline uint8_t kito__bidder_fp(uint64_t bidder)
{
    uint32_t x = (uint32_t)bidder ^ (uint32_t)(bidder >> 32);
    x ^= x >> 16;
    return (uint8_t)(x ^ x >> 8);
}

#define KITO__F_PAUSED 0x01u /* live: the clerk paused it */
#define KITO__F_OPENED 0x02u /* live: the clerk opened it (a withdrawn lot may or may not have) */
#define KITO__F_ALL 0x03u

/* One lot: 192 bytes, three cache lines. A timed bid reads and writes lines 0 and 1 only (the
 * batch path fetches just those): line 0 the book's money, the sequence and the end; line 1 the
 * runner-up, the reserve, the format, the first three chunks by number and an 8-bit fingerprint
 * of each of the first 16 bidders, so that finding a bidder reads these two lines and then only
 * the chunk line of her entry. Line 2 is cold configuration, the lot id included (the bid path
 * has it from the command). */
struct kito__lot {
    /* line 0: the bid path */
    uint64_t leader;          /* bidder id, 0 = none (tender: set only at close) */
    int64_t leader_max_minor; /* the leader's maximum (floor leader: her bid) */
    int64_t price_minor;      /* current price; 0 with no bid; sold: the hammer */
    int64_t ends_at_ms;       /* timed/tender: current end (soft close moves it); live: 0 */
    uint64_t seller_id;
    int64_t ask_minor;  /* cache of kito__lot_ask_compute (0: the ask would pass the maximum
                           amount); refreshed after every change (kito__lot_refresh_ask) */
    uint32_t seq;       /* accepted commands so far */
    uint32_t bid_count; /* accepted bids (absentee and sealed bids included; views hide them) */
    uint32_t n_bidders; /* entries in the chain */
    uint32_t soft_close_ms;
    /* line 1: the rest of the bid path */
    uint64_t runner;          /* the best non-leader bidder, 0 = none */
    int64_t runner_max_minor; /* her maximum */
    int64_t reserve_minor;    /* 0 = none */
    uint32_t bids_tail;       /* last chunk */
    uint8_t state;            /* enum kito_lot_state */
    uint8_t format;           /* enum kito_format */
    uint8_t flags;            /* KITO__F_* */
    uint8_t tender_price;
    uint16_t ladder_id; /* into kito_engine.ladders */
    uint16_t pad0;
    /* the first chunks by number, so a bid finds its entry's chunk without walking the chain
     * (kito__lot_chunk_dir; entries past KITO__CHUNK_DIR chunks are reached through the chain) */
    uint32_t chunk_dir[KITO__CHUNK_DIR_HOT];
    /* kito__bidder_fp of entries 0 .. min(n_bidders, 16) - 1, the rest 0 */
    uint8_t bidder_fp[KITO__FP_BIDS];
    /* line 2: cold */
    uint64_t lot_id; /* 0 = free slot */
    int64_t opening_minor;
    uint64_t sale_id;
    int64_t starts_at_ms;
    uint32_t bids_head; /* first chunk, KITO__NONE if no bid */
    uint32_t heap_pos;  /* position in the timer heap, KITO__NONE if not in it */
    uint32_t live_id;   /* live lots: index of its kito__live block; else KITO__NONE */
    char currency[4];
    uint32_t chunk_dir_cold[KITO__CHUNK_DIR - KITO__CHUNK_DIR_HOT]; /* chunks 3 .. 6 */
};
_Static_assert(sizeof(struct kito__lot) == 192, "a lot is three cache lines");
_Static_assert(__builtin_offsetof(struct kito__lot, runner) == 64, "line 1 starts at the runner");
_Static_assert(__builtin_offsetof(struct kito__lot, bidder_fp) + KITO__FP_BIDS == 128,
               "the fingerprints end line 1");
_Static_assert(__builtin_offsetof(struct kito__lot, lot_id) == 128, "line 2 starts at the lot id");

/* Chunk number c (< KITO__CHUNK_DIR) of a lot's directory. */
static inline uint32_t kito__lot_chunk_dir(const struct kito__lot *lot, uint32_t c)
{
    assert(c < KITO__CHUNK_DIR);
    return c < KITO__CHUNK_DIR_HOT ? lot->chunk_dir[c]
                                   : lot->chunk_dir_cold[c - KITO__CHUNK_DIR_HOT];
}

/* One undoable live bid: the book as it was before it. 88 bytes. */
struct kito__undo {
    uint64_t leader;
    uint64_t runner;
    uint64_t bidder; /* whose bid this was */
    int64_t leader_max_minor;
    int64_t runner_max_minor;
    int64_t price_minor;
    int64_t ask_override_minor;
    int64_t prev_max_minor; /* the bidder's entry before the bid (if not created) */
    int64_t amount_minor;   /* the bid itself */
    uint32_t prev_seq;
    uint32_t bid_count;
    uint32_t entry_index; /* the bidder's entry */
    uint32_t created;     /* 1 if the bid created the entry (it is then the last one) */
};
_Static_assert(sizeof(struct kito__undo) == 88, "undo record size is documented");

/* Clerk state of a live lot. */
struct kito__live {
    int64_t ask_override_minor;  /* 0 = computed ask */
    int64_t step_override_minor; /* 0 = the ladder */
    uint32_t undo_start;         /* ring of live_undo_depth records */
    uint32_t undo_len;
    uint32_t lot_slot; /* owner, KITO__NONE when free */
    uint32_t pad;
};
_Static_assert(sizeof(struct kito__live) == 32, "live block size is documented");

struct kito__index_entry {
    uint64_t lot_id; /* 0 = empty */
    uint32_t slot;
    uint32_t pad;
};

struct kito__heap_entry {
    int64_t deadline_ms; /* <= the lot's true deadline (extensions are noted lazily) */
    uint32_t slot;
    uint32_t pad;
};

/* One remembered command of the idempotency window, in its generation's log. */
struct kito__id_entry {
    uint64_t cmd_id; /* nonzero */
    uint32_t lot_fp; /* fingerprint of the lot id: ids need only be unique per lot */
    uint32_t seq;    /* the seq the command got */
};
_Static_assert(sizeof(struct kito__id_entry) == 16, "a log entry is 16 bytes");

/* A ladder as the bid path reads it: every rung present, the unused ones from INT64_MAX, so that
 * the step at a price is four branch-free halvings (kito__ladder_step). 256 bytes. */
struct kito__ladder_fast {
    int64_t from_minor[KITO_LADDER_MAX_RUNGS];
    int64_t step_minor[KITO_LADDER_MAX_RUNGS];
};
_Static_assert(KITO_LADDER_MAX_RUNGS == 16, "kito__ladder_step halves 16 rungs four times");

static inline int64_t kito__ladder_step(const struct kito__ladder_fast *f, int64_t price_minor)
{
    /* The last rung whose from <= price (rung 0 starts at 0; padding never qualifies). */
    uint32_t lo = f->from_minor[8] <= price_minor ? 8 : 0;
    lo += f->from_minor[lo + 4] <= price_minor ? 4 : 0;
    lo += f->from_minor[lo + 2] <= price_minor ? 2 : 0;
    lo += f->from_minor[lo + 1] <= price_minor ? 1 : 0;
    return f->step_minor[lo];
}

/* The idempotency window's hash: two generations of open-addressing tables (linear probing
 * over lines, eight slots to a line), interleaved so that line i holds slots 8i .. 8i+7 of both:
 * a lookup of either generation starts on the same cache line. A slot is 0 (empty) or a
 * position in its generation's log (the low id_pos_bits) under a nonzero tag of the entry's
 * hash (the high bits), so a lookup reads the log -- which is written in order and is the
 * window's bulk -- only on a tag match. 64 bytes. */
#define KITO__ID_SLOTS 8
struct kito__id_line {
    uint32_t slot[2][KITO__ID_SLOTS]; /* [generation half][slot] */
};
_Static_assert(sizeof(struct kito__id_line) == 64, "an id line is a cache line");

struct kito_engine {
    struct kito_engine_limits lim;
    struct kito_allocator alloc;
    size_t total_bytes;
    bool general_path_only; /* tests: kito__lot_apply takes no fast path (timed_bid_fast) */

    struct kito__lot *lots; /* max_lots */
    uint32_t *free_slots;   /* stack of free lot slots */
    uint32_t n_free_slots;
    uint32_t lots_loaded;

    struct kito__index_entry *index; /* lot id -> slot, linear probing */
    uint32_t index_mask;

    struct kito__heap_entry *heap; /* timed/tender deadlines, min-heap */
    uint32_t heap_n;

    struct kito__chunk *chunks;
    uint32_t n_chunks;
    uint32_t chunk_free; /* free list head */
    uint32_t chunks_used;

    struct kito__live *live; /* max_live_lots */
    struct kito__undo *undo; /* max_live_lots x live_undo_depth */
    uint32_t *free_live;
    uint32_t n_free_live;

    struct kito__id_line *ids;     /* the hash of both generations, interleaved by line */
    struct kito__id_entry *id_log; /* 2 x recent_commands: generation g's entries from
                                      g x recent_commands, in order of acceptance */
    uint32_t ids_mask;             /* lines - 1 */
    uint32_t ids_fill;             /* entries in the current generation */
    uint32_t ids_cur;              /* which half of each line is the current generation */
    uint32_t id_pos_bits;          /* bits of a slot holding the log position; the rest: tag */

    struct kito_ladder *ladders;           /* max_ladders */
    struct kito__ladder_fast *ladder_fast; /* max_ladders: the same ladders, padded */
    uint32_t *ladder_refs;
};

/* Where events of one command go while it is applied. */
struct kito__emit {
    struct kito_event *buf; /* NULL: dropped */
    uint32_t n;
    uint32_t seq;
    uint64_t lot_id;
    int64_t at_ms;
    struct kito_event scratch;
};

struct kito__entry_ref {
    struct kito__bid *bid;
    uint32_t index; /* ordinal in the lot */
};

/* kito_command_check, inline for the engine's own dispatch. */
static inline kito_err kito__command_check(const struct kito_command *cmd)
{
    if (cmd->type < 1 || cmd->type > KITO_CMD_TYPE_MAX)
        return KITO_E_BAD_COMMAND;
    if (cmd->flags & ~KITO_CMD_F_ALL)
        return KITO_E_BAD_COMMAND;
    if (cmd->reserved != 0 || cmd->lot_id == 0)
        return KITO_E_BAD_COMMAND;
    if (cmd->type == KITO_CMD_SET_STEP) {
        if (cmd->arg < KITO_STEP_MANUAL || cmd->arg > KITO_STEP_LADDER)
            return KITO_E_BAD_COMMAND;
    } else if (cmd->arg != 0) {
        return KITO_E_BAD_COMMAND;
    }
    return KITO_OK;
}

/* engine.c */
struct kito__lot *kito__lot_find(const kito_engine *eng, uint64_t lot_id);
uint32_t kito__lot_slot(const kito_engine *eng, const struct kito__lot *lot);
void kito__heap_set(kito_engine *eng, uint32_t slot, int64_t deadline_ms);
void kito__heap_remove(kito_engine *eng, uint32_t slot);
kito_err kito__lot_alloc(kito_engine *eng, uint64_t lot_id, const struct kito_ladder *ladder,
                         bool live, uint32_t n_bidders, struct kito__lot **out);
void kito__lot_release(kito_engine *eng, struct kito__lot *lot);

/* lot.c: standing bids */
/* Chunk number c (0-based) of a lot's chain. */
uint32_t kito__chunk_at(const kito_engine *eng, const struct kito__lot *lot, uint32_t c);
/* The fingerprinted entries (bits 0 .. 15) whose fingerprint is fp. */
static inline unsigned kito__fp_match(const struct kito__lot *lot, uint8_t fp)
{
    unsigned m = 0;
#ifdef __SSE2__
    __m128i v = _mm_loadu_si128((const __m128i *)lot->bidder_fp);
    m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)fp)));
#else
    for (unsigned j = 0; j < KITO__FP_BIDS; j++)
        m |= (unsigned)(lot->bidder_fp[j] == fp) << j;
#endif
    if (lot->n_bidders < KITO__FP_BIDS)
        m &= (1u << lot->n_bidders) - 1;
    return m;
}
/* Asks the memory system for the chunk line a bid of bidder will read or write: her entry's if
 * her fingerprint is there, else where her entry would be appended (a new chunk: both lines,
 * as it is cleared). A hint: of the lot it reads lines 0 and 1 only. */
static inline void kito__prefetch_entry(const kito_engine *eng, const struct kito__lot *lot,
                                        uint64_t bidder)
{
    unsigned m = kito__fp_match(lot, kito__bidder_fp(bidder));
    uint32_t k = m != 0 ? (uint32_t)__builtin_ctz(m) : lot->n_bidders;
    if (k >= KITO__FP_BIDS)
        return;
    uint32_t i = k % KITO__CHUNK_BIDS;
    const char *p;
    if (k == lot->n_bidders && i == 0) {
        if (eng->chunk_free == KITO__NONE)
            return;
        p = (const char *)&eng->chunks[eng->chunk_free];
        __builtin_prefetch(p, 1);
        __builtin_prefetch(p + 64, 1);
        return;
    }
    p = (const char *)&eng->chunks[lot->chunk_dir[k / KITO__CHUNK_BIDS]];
    __builtin_prefetch(p + (i < 3 ? 0 : 64), 1);
}
bool kito__entry_find(const kito_engine *eng, const struct kito__lot *lot, uint64_t bidder,
                      struct kito__entry_ref *ref);
void kito__entry_at(const kito_engine *eng, const struct kito__lot *lot, uint32_t index,
                    struct kito__entry_ref *ref);
kito_err kito__entry_can_add(const kito_engine *eng, const struct kito__lot *lot);
void kito__entry_append(kito_engine *eng, struct kito__lot *lot, uint64_t bidder, int64_t max_minor,
                        uint32_t seq);
void kito__entries_free(kito_engine *eng, struct kito__lot *lot);

/* lot.c: rules */
static inline const struct kito_ladder *kito__lot_ladder(const kito_engine *eng,
                                                         const struct kito__lot *lot)
{
    return &eng->ladders[lot->ladder_id];
}

/* The live block of a live lot, NULL for the other formats (decided by the format, in the bid
 * path's lines; kito__lot_check holds live_id to it). */
static inline struct kito__live *kito__lot_live(const kito_engine *eng, const struct kito__lot *lot)
{
    return lot->format == KITO_FORMAT_LIVE ? &eng->live[lot->live_id] : NULL;
}

static inline struct kito__undo *kito__live_undo(const kito_engine *eng, uint32_t live_id,
                                                 uint32_t k)
{
    const struct kito__live *lv = &eng->live[live_id];
    uint32_t depth = eng->lim.live_undo_depth;
    return &eng->undo[(size_t)live_id * depth + (lv->undo_start + k) % depth];
}

static inline bool kito__state_final(uint8_t state)
{
    return state == KITO_LOT_SOLD || state == KITO_LOT_UNSOLD || state == KITO_LOT_WITHDRAWN;
}

/* The step at a price: the clerk's override on a live lot, else the ladder. */
static inline int64_t kito__lot_step(const kito_engine *eng, const struct kito__lot *lot,
                                     int64_t price_minor)
{
    if (lot->format == KITO_FORMAT_LIVE) {
        const struct kito__live *lv = &eng->live[lot->live_id];
        if (lv->step_override_minor > 0)
            return lv->step_override_minor;
    }
    assert(price_minor >= 0);
    return kito__ladder_step(&eng->ladder_fast[lot->ladder_id], price_minor);
}
/* The ask now, computed; KITO_E_BAD_AMOUNT if it would pass KITO_AMOUNT_MAX_MINOR. */
kito_err kito__lot_ask_compute(const kito_engine *eng, const struct kito__lot *lot,
                               int64_t *ask_minor);
/* Recomputes lot->ask_minor: after every accepted command, a load and a restore. */
static inline void kito__lot_refresh_ask(const kito_engine *eng, struct kito__lot *lot)
{
    int64_t ask;
    lot->ask_minor = kito__lot_ask_compute(eng, lot, &ask) == KITO_OK ? ask : 0;
}
/* The ask now (the cached value); KITO_E_BAD_AMOUNT if it would pass KITO_AMOUNT_MAX_MINOR. */
static inline kito_err kito__lot_ask(const kito_engine *eng, const struct kito__lot *lot,
                                     int64_t *ask_minor)
{
    (void)eng;
    if (lot->ask_minor == 0)
        return KITO_E_BAD_AMOUNT;
    *ask_minor = lot->ask_minor;
    return KITO_OK;
}
/* The deadline a timed/tender lot waits for (start when scheduled, end when open), or
 * INT64_MAX. */
int64_t kito__lot_deadline(const struct kito__lot *lot);
/* A live lot whose clerk never opened it: scheduled, or withdrawn before opening (its absentee
 * book then has a leader but no price). */
static inline bool kito__live_never_opened(const struct kito__lot *lot)
{
    return !(lot->flags & KITO__F_OPENED);
}

/* Views hide the book of a tender lot until it is awarded (a withdrawn tender stays sealed for
 * good) and of a live lot its clerk never opened. */
bool kito__lot_sealed(const struct kito__lot *lot);
void kito__lot_view(const kito_engine *eng, const struct kito__lot *lot, struct kito_lot_view *out);
/* snapshot.c: every rule of one lot (kito_engine_lot_check); `full` adds the quadratic check
 * that no bidder appears twice. */
kito_err kito__lot_check(const kito_engine *eng, const struct kito__lot *lot, bool full, char *why,
                         size_t why_cap);
/* Checks and applies one command to one lot; on refusal nothing changed and nothing was
 * emitted. */
kito_err kito__lot_apply(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                         struct kito__emit *em);

#endif
