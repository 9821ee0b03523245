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

#include "engine/engine.h"

#define KITO__NONE UINT32_MAX
#define KITO__CHUNK_BIDS KITO_ENGINE_CHUNK_BIDS
#define KITO__CHUNK_DIR 8

/* Standing bids of one lot: a singly linked chain of chunks from the engine's pool, entries in
 * order of each bidder's first bid. Struct of arrays so that a bidder lookup scans 48 contiguous
 * bytes of ids. 128 bytes: two cache lines. */
struct kito__chunk {
    uint64_t bidder[KITO__CHUNK_BIDS];
    int64_t max_minor[KITO__CHUNK_BIDS]; /* her maximum (timed/live) or sealed bid (tender) */
    uint32_t seq[KITO__CHUNK_BIDS];      /* seq of the command that set max_minor (ties) */
    uint32_t next;                       /* next chunk, KITO__NONE at the tail / free list link */
    uint32_t pad;
};
_Static_assert(sizeof(struct kito__chunk) == 128, "a chunk is two cache lines");

#define KITO__F_PAUSED 0x01u /* live: the clerk paused it */
#define KITO__F_OPENED 0x02u /* live: the clerk opened it (a withdrawn lot may or may not have) */
#define KITO__F_ALL 0x03u

/* One lot. A timed bid reads and writes its first two cache lines only (the batch path fetches
 * just those): line 0 the book's money and the sequence, line 1 the runner-up, the reserve, the
 * chunk-chain tail and the first five chunks by number; line 2 is cold configuration. */
struct kito__lot {
    /* line 0: the bid path */
    uint64_t lot_id;          /* 0 = free slot */
    uint64_t leader;          /* bidder id, 0 = none (tender: set only at close) */
    int64_t leader_max_minor; /* the leader's maximum (floor leader: her bid) */
    int64_t price_minor;      /* current price; 0 with no bid; sold: the hammer */
    int64_t ends_at_ms;       /* timed/tender: current end (soft close moves it); live: 0 */
    uint64_t seller_id;
    int64_t ask_minor;  /* cache of kito__lot_ask_compute (0: the ask would pass the maximum
                           amount); refreshed after every change (kito__lot_refresh_ask) */
    uint32_t seq;       /* accepted commands so far */
    uint32_t bid_count; /* accepted bids (absentee and sealed bids included; views hide them) */
    /* line 1: the rest of the bid path */
    uint64_t runner;          /* the best non-leader bidder, 0 = none */
    int64_t runner_max_minor; /* her maximum */
    int64_t reserve_minor;    /* 0 = none */
    uint32_t n_bidders;       /* entries in the chain */
    uint32_t soft_close_ms;
    uint32_t bids_tail; /* last chunk */
    uint8_t state;      /* enum kito_lot_state */
    uint8_t format;     /* enum kito_format */
    uint8_t flags;      /* KITO__F_* */
    uint8_t tender_price;
    uint16_t ladder_id; /* into kito_engine.ladders */
    uint16_t pad0;
    /* the first chunks by number, so a bid can fetch them all at once instead of walking the
     * chain (entries past KITO__CHUNK_DIR chunks are reached through the chain); the first
     * five are in line 1, the rest in line 2 */
    uint32_t chunk_dir[KITO__CHUNK_DIR];
    /* line 2 (from chunk_dir[5]): cold */
    uint32_t bids_head; /* first chunk, KITO__NONE if no bid */
    int64_t opening_minor;
    uint32_t heap_pos; /* position in the timer heap, KITO__NONE if not in it */
    uint32_t live_id;  /* live lots: index of its kito__live block; else KITO__NONE */
    uint64_t sale_id;
    int64_t starts_at_ms;
    char currency[4];
    uint32_t pad1[3];
};
_Static_assert(sizeof(struct kito__lot) == 192, "a lot is three cache lines");
_Static_assert(__builtin_offsetof(struct kito__lot, runner) == 64, "line 1 starts at the runner");
_Static_assert(__builtin_offsetof(struct kito__lot, chunk_dir) + 5 * sizeof(uint32_t) == 128,
               "five chunk numbers in line 1");

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

struct kito__id_entry {
    uint64_t cmd_id; /* 0 = empty */
    uint32_t lot_fp; /* fingerprint of the lot id: ids need only be unique per lot */
    uint32_t seq;    /* the seq the command got */
};

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

/* The idempotency window: two generations of open-addressing tables (linear probing over
 * lines), interleaved so that line i holds slots 2i and 2i+1 of both: a lookup of either
 * generation starts on the same cache line, so it usually costs one memory access. 64 bytes. */
struct kito__id_line {
    struct kito__id_entry e[2][2]; /* [generation half][slot] */
};
_Static_assert(sizeof(struct kito__id_line) == 64, "an id line is a cache line");

struct kito_engine {
    struct kito_engine_limits lim;
    struct kito_allocator alloc;
    size_t total_bytes;

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

    struct kito__id_line *ids; /* both generations, interleaved by cache line */
    uint32_t ids_mask;         /* lines - 1 */
    uint32_t ids_fill;         /* entries in the current generation */
    uint32_t ids_cur;          /* which half of each line is the current generation */

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
    struct kito__chunk *chunk;
    uint32_t i;     /* position in the chunk */
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
/* Asks the memory system for the lines of a lot's first chunks (up to max_chunks). */
static inline void kito__prefetch_chunks(const kito_engine *eng, const struct kito__lot *lot,
                                         uint32_t max_chunks)
{
    uint32_t n = (lot->n_bidders + KITO__CHUNK_BIDS - 1) / KITO__CHUNK_BIDS;
    if (n > max_chunks)
        n = max_chunks;
    if (n > KITO__CHUNK_DIR)
        n = KITO__CHUNK_DIR;
    for (uint32_t c = 0; c < n; c++) {
        const char *p = (const char *)&eng->chunks[lot->chunk_dir[c]];
        __builtin_prefetch(p, 1);
        __builtin_prefetch(p + 64, 1);
    }
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
