/*
 * The Kito auction engine (DESIGN.md, "Auction rules"; issue 3): a pure, deterministic matcher
 * of bids for timed, tender and live lots. It performs no I/O, reads no clock and keeps no global
 * state: lots and commands (carrying the caller's now_ms) go in, an outcome and events come out
 * (the nghttp2 model, CONVENTIONS.md). The same commands in the same order give the same state,
 * which is what makes the engine testable by simulation and rebuildable from a journal.
 *
 * Threading: an engine is owned by one thread (one event loop's partition of lots). Nothing is
 * locked; two threads must not touch one engine. Distinct engines are independent.
 *
 * Memory (CONVENTIONS.md 15, "put a limit on everything"): kito_engine_create allocates every
 * table for the stated limits at once and the engine never allocates again, so nothing in the bid
 * path can fail for memory. Going past a limit is refused with KITO_E_CAPACITY and changes
 * nothing. Sizes on x86-64 (checked by static asserts and reported by kito_engine_memory):
 *   - per lot slot (max_lots):        192 B record (three cache lines, of which a timed bid
 *                                     reads two) + 32..64 B lot-id index (16 B x 2 x max_lots
 *                                     rounded up to a power of two) + 16 B timer heap + 4 B free
 *                                     list = 244..276 B, whether or not a lot is loaded;
 *   - per standing bid (max_standing_bids): bids are kept in chunks of 6 (128 B, two cache lines),
 *                                     21.3 B per bid; a lot with n bidders holds ceil(n/6) chunks,
 *                                     so a lot with 10 bidders uses 256 B of chunks (size
 *                                     max_standing_bids in whole chunks: 12 slots for 10 bidders);
 *   - an open timed lot with 10 bidders therefore costs ~500 B; measured (tests/bench): an engine
 *     for 1,000,000 such lots allocates 490.4 MiB in all (514 B a lot, the id window included);
 *   - per live lot slot (max_live_lots): 32 B + live_undo_depth x 88 B of undo history;
 *   - the idempotency window: a log of 2 x recent_commands x 16 B, and 2 hash tables of 4 B x
 *     (2 x recent_commands rounded up to a power of 2, at least 8);
 *   - ladders: 264 B each (max_ladders).
 *
 * Rules implemented (DESIGN.md "Auction rules" is the source; engine/README.md has worked
 * examples):
 *   Timed: a bid is a maximum. Ask = opening price with no bid, else price + step(price); a bid
 *     below the ask is refused. Leader = highest maximum, the earlier on ties. Price =
 *     min(leader max, runner-up max + step(runner-up max)), never below the opening price. The
 *     leader raising her own maximum (any amount above it) moves nothing but the reserve rule:
 *     when the leader's maximum reaches the reserve and the price is below it, the price jumps
 *     to the reserve. A bid accepted at t with end - t < soft_close moves the end to t +
 *     soft_close (at exactly the window's edge the end does not move). Bids at or after the end
 *     are refused. Lot i of a sale ends at sale end + i x stagger.
 *   Tender: one sealed bid per buyer (>= the opening price), revisable up or down until close;
 *     a revision takes the time of the revision for ties. At close the highest bid at or above
 *     the reserve wins, the earliest on ties; first price by default, or second price: runner-up
 *     + one step, at least the opening price and the reserve, capped at the winning bid.
 *   Live: online bids before the clerk opens are absentee maximums; at open they are executed
 *     as proxies (price as timed). After open, online bids are proxies against the ask; floor
 *     bids (paddles) are fixed amounts >= the ask that a proxy leader answers with one step,
 *     capped at her maximum. The clerk sets the ask (above the price) and the step (manual,
 *     halve, double, back to the ladder), undoes the last bid (the last live_undo_depth bids can
 *     be undone), gives fair warning (a new bid reopens), sells (only with a bid at or above the
 *     reserve), passes, pauses and resumes.
 *   All formats: states scheduled -> open -> closing (live fair warning) -> sold | unsold |
 *     withdrawn; the last three are final (no reopen). A seller cannot bid on her own lot
 *     (KITO_E_OWN_LOT); a bid needs KITO_CMD_F_APPROVED (KITO_E_NOT_APPROVED). Amounts are int64
 *     minor units in 1 .. KITO_AMOUNT_MAX_MINOR; anything else, and any sum past it, is refused
 *     with KITO_E_BAD_AMOUNT.
 *
 * Commands, outcomes and idempotency: see engine/command.h. A refused command changes nothing at
 * all -- not the lot, not the seq, not the idempotency window -- so retrying it is judged afresh;
 * only accepted commands are remembered, which is also what lets the window be rebuilt from a
 * journal of accepted commands (kito_engine_remember, oldest first; kito_engine_replay leaves
 * the window alone).
 */
#ifndef KITO_ENGINE_H
#define KITO_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/command.h"
#include "engine/err.h"
#include "engine/event.h"
#include "engine/ladder.h"

typedef struct kito_engine kito_engine;

/* Journaled and snapshotted: never renumber. */
enum kito_format {
    KITO_FORMAT_TIMED = 1,
    KITO_FORMAT_TENDER = 2,
    KITO_FORMAT_LIVE = 3,
};

enum kito_lot_state {
    KITO_LOT_SCHEDULED = 1,
    KITO_LOT_OPEN = 2,
    KITO_LOT_CLOSING = 3, /* live: after fair warning */
    KITO_LOT_SOLD = 4,
    KITO_LOT_UNSOLD = 5,
    KITO_LOT_WITHDRAWN = 6,
};
#define KITO_LOT_STATE_MAX KITO_LOT_WITHDRAWN

/* The state's name as the API and MySQL spell it: "scheduled", "open", "closing", "sold",
 * "unsold", "withdrawn"; "unknown" for anything else. Static storage. Pure. */
const char *kito_lot_state_name(uint8_t state);

enum kito_tender_price {
    KITO_TENDER_FIRST_PRICE = 1,
    KITO_TENDER_SECOND_PRICE = 2,
};

/* The most events one command can yield; a buffer for one command must hold this many. */
#define KITO_MAX_EVENTS_PER_COMMAND 8

/* Optional allocator (nghttp2 model). alloc returns memory aligned to 64 bytes or NULL; free
 * gets the pointer and the size that was asked for. Used only inside kito_engine_create and
 * kito_engine_free. */
struct kito_allocator {
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
};

struct kito_engine_limits {
    uint32_t max_lots;            /* lots loaded at once (1 .. 2^26) */
    uint32_t max_standing_bids;   /* bidder entries over all lots, in chunks of 6 */
    uint32_t max_bidders_per_lot; /* distinct bidders (buyers and paddles) in one lot */
    uint32_t max_live_lots;       /* live lots loaded at once (<= max_lots) */
    uint32_t live_undo_depth;     /* bids a clerk can undo in a row (1 .. 1024) */
    uint32_t recent_commands;     /* idempotency: at least this many of the latest accepted ids
                                     are remembered (at most twice as many); 1 .. 2^26 */
    uint32_t max_ladders;         /* distinct increment ladders at once (1 .. 65535) */
};

/* Defaults: 65,536 lots, 1,048,576 standing bids, 10,000 bidders per lot, 64 live lots, undo
 * depth 32, 262,144 remembered commands, 256 ladders (51 MB in all, 12.6 MB of it the window). */
void kito_engine_limits_default(struct kito_engine_limits *lim);

/* Creates an engine sized for *lim (borrowed). alloc may be NULL for the C library. Returns
 * KITO_E_CONFIG for limits out of range, KITO_E_NOMEM if an allocation fails (nothing is leaked);
 * on success *out owns the engine: free it with kito_engine_free. */
kito_err kito_engine_create(const struct kito_engine_limits *lim,
                            const struct kito_allocator *alloc, kito_engine **out);

/* Frees eng and everything in it. Accepts NULL. */
void kito_engine_free(kito_engine *eng);

/* A lot to load (DESIGN.md; the API fills it from MySQL). */
struct kito_lot_config {
    uint64_t lot_id;           /* nonzero, unique in the engine */
    uint64_t sale_id;          /* informational: approvals arrive as KITO_CMD_F_APPROVED */
    uint64_t seller_id;        /* the miner's account; her bids are refused (KITO_E_OWN_LOT) */
    char currency[4];          /* ISO 4217: three upper-case letters and a NUL */
    uint8_t format;            /* enum kito_format */
    uint8_t tender_price;      /* enum kito_tender_price (tender only; default first price) */
    int64_t opening_minor;     /* the first ask; 1 .. KITO_AMOUNT_MAX_MINOR */
    int64_t reserve_minor;     /* secret reserve; 0 = none */
    struct kito_ladder ladder; /* the sale's ladder (default: kito_ladder_default) */
    int64_t starts_at_ms;      /* timed/tender: opens when due (kito_engine_tick) */
    int64_t sale_ends_at_ms;   /* timed/tender: the sale's end; this lot ends at
                                  sale_ends_at_ms + index_in_sale x stagger_s x 1000 */
    uint32_t index_in_sale;    /* 0-based position of the lot in its sale */
    uint32_t stagger_s;        /* default 60 */
    uint32_t soft_close_s;     /* timed; default 120; 0 = no soft close; at most 86,400 */
};

/* Fills cfg with defaults (default ladder, first price, stagger 60 s, soft close 120 s, "USD");
 * the caller sets the ids, format, prices and times. */
void kito_lot_config_init(struct kito_lot_config *cfg);

/* Loads a new lot in state scheduled, seq 0. Returns KITO_E_BAD_COMMAND for an invalid config
 * (bad format, currency, times, soft close), KITO_E_BAD_AMOUNT for a bad opening price or
 * reserve, KITO_E_BAD_LADDER, KITO_E_LOT_EXISTS, or KITO_E_CAPACITY (lots, live lots, ladders);
 * on failure nothing changes. cfg is borrowed. */
kito_err kito_engine_lot_load(kito_engine *eng, const struct kito_lot_config *cfg);

/* Removes a lot from memory (e.g. once its result is safely in the outbox), releasing its slot,
 * bids and history. Ids of its commands stay in the window until they age out. Returns
 * KITO_E_UNKNOWN_LOT if not loaded. */
kito_err kito_engine_lot_unload(kito_engine *eng, uint64_t lot_id);

/* The result of one command. */
struct kito_outcome {
    kito_err err;      /* KITO_OK, a refusal, or KITO_E_DUPLICATE */
    uint32_t seq;      /* accepted: the lot's new seq; duplicate: the seq the first arrival got;
                          refused: 0 */
    uint32_t n_events; /* events written */
};

/* Applies one command. On acceptance the lot's seq grows by one and its events (at most
 * KITO_MAX_EVENTS_PER_COMMAND) are written to events; events may be NULL (events dropped),
 * otherwise events_cap must be >= KITO_MAX_EVENTS_PER_COMMAND (asserted). A refusal returns its
 * code, writes no event and changes nothing. out may be NULL. Returns out->err. */
kito_err kito_engine_apply(kito_engine *eng, const struct kito_command *cmd,
                           struct kito_event *events, size_t events_cap, struct kito_outcome *out);

/* Applies cmds[0 .. n) in order, exactly as n calls of kito_engine_apply would, but overlaps
 * their memory accesses (one event-loop turn's worth of commands: DESIGN.md, "Durability").
 * outs[i] gets the outcome of cmds[i]. Events of all commands go to events one after another;
 * the batch stops early when fewer than KITO_MAX_EVENTS_PER_COMMAND slots remain. Returns the
 * number of commands applied; *n_events gets the number of events written. */
size_t kito_engine_apply_batch(kito_engine *eng, const struct kito_command *cmds, size_t n,
                               struct kito_outcome *outs, struct kito_event *events,
                               size_t events_cap, size_t *n_events);

/* Re-applies a journaled accepted command while rebuilding (DESIGN.md, "Durability"). cmd->seq
 * must be the lot's next seq, else KITO_E_BAD_COMMAND (a gap or a repeat in the journal). A
 * refusal means the journal does not belong to this lot state: the caller must treat it as
 * damage. Otherwise as kito_engine_apply, except that the idempotency window is neither read nor
 * written: the command was accepted once, so it is applied even if its id is in the window (a
 * journal may hold an id twice, accepted again after the window had forgotten it), and putting
 * the ids back is the rebuild's business (kito_engine_remember), in the order of acceptance
 * across all lots, which one lot's journal cannot give. */
kito_err kito_engine_replay(kito_engine *eng, const struct kito_command *cmd,
                            struct kito_event *events, size_t events_cap, struct kito_outcome *out);

/* Puts the id of an accepted command into the idempotency window without applying anything, as
 * if lot lot_id had just accepted command cmd_id with seq (DESIGN.md, "Durability": rebuilding the
 * window from the journal, including the commands a lot's snapshot already covers). Afterwards a
 * command (lot_id, cmd_id) is answered KITO_E_DUPLICATE with seq, exactly as after acceptance,
 * and it ages out the same way: the window forgets ids a generation (recent_commands ids) at a
 * time, in the order they entered it, so call it oldest first and before the commands it should
 * be older than -- or, for at most recent_commands ids into a fresh window, in any order: they
 * share its first generation. The lot need not be loaded. If (lot_id, cmd_id) is already
 * remembered it takes no new place and its seq becomes the higher of the two (the later
 * acceptance of an id accepted twice). Returns
 * KITO_E_BAD_COMMAND (and remembers nothing) if lot_id, cmd_id or seq is 0. Pure: no allocation;
 * the cost of an accepted command's window insert -- one line of the window's hash, its log on a
 * tag match -- and, once every recent_commands ids, the clearing of one generation. */
kito_err kito_engine_remember(kito_engine *eng, uint64_t lot_id, uint64_t cmd_id, uint32_t seq);

/* Opens and closes what is due at now_ms (timed and tender lots), earliest deadline first, by
 * applying KITO_CMD_OPEN / KITO_CMD_CLOSE commands (id 0, now_ms = now_ms). Each applied command,
 * with its seq, is copied to applied[] so the caller can journal it like any other. Stops when
 * applied_cap commands were applied or events has fewer than KITO_MAX_EVENTS_PER_COMMAND free
 * slots; call again while kito_engine_next_deadline(eng) <= now_ms. Results: KITO_EV_SOLD (who =
 * winner, amount = hammer) or KITO_EV_UNSOLD (reason). Returns KITO_OK; applied and events may
 * be NULL only with a zero capacity. */
kito_err kito_engine_tick(kito_engine *eng, int64_t now_ms, struct kito_command *applied,
                          size_t applied_cap, size_t *n_applied, struct kito_event *events,
                          size_t events_cap, size_t *n_events);

/* The earliest time at which kito_engine_tick has work, INT64_MAX if none. May be earlier than
 * the true deadline (an extension is noted lazily), never later: a good timer for the loop. */
int64_t kito_engine_next_deadline(const kito_engine *eng);

/* What anyone may see of a lot. While the book is sealed -- a tender lot until it is awarded
 * (sold or unsold; a withdrawn tender stays sealed), a live lot before the clerk opens it (and
 * for good if it is withdrawn unopened: absentee maximums are never revealed) -- price, leader,
 * bid_count, reserve_met and seq are reported as 0 / false and ask is the opening price (0 once
 * final). The reserve amount is never reported. */
struct kito_lot_view {
    uint64_t lot_id;
    uint64_t leader;     /* bidder id, 0 = none */
    int64_t price_minor; /* current price (sold: the hammer), 0 before a bid */
    int64_t ask_minor;   /* the least acceptable bid now; 0 once final */
    int64_t opening_minor;
    int64_t ends_at_ms; /* timed/tender: current end; live: 0 */
    uint32_t seq;
    uint32_t bid_count;
    uint8_t format; /* enum kito_format */
    uint8_t state;  /* enum kito_lot_state */
    bool paused;
    bool has_reserve;
    bool reserve_met; /* with no reserve: true once there is a bid */
    char currency[4];
};

/* Fills *out. KITO_E_UNKNOWN_LOT if the lot is not loaded. */
kito_err kito_engine_lot_view(const kito_engine *eng, uint64_t lot_id, struct kito_lot_view *out);

/* One bidder's own standing bid, for her eyes only (the tender "my bid" view). `leading` is
 * always false while the book is sealed (see kito_lot_view). */
struct kito_my_bid {
    bool has_bid;
    bool leading;
    int64_t amount_minor; /* her maximum / sealed bid / floor bid */
    uint32_t seq;         /* the seq of the command that set it */
};

/* Fills *out for bidder (account id or KITO_PADDLE_BIDDER(p)). KITO_E_UNKNOWN_LOT if the lot is
 * not loaded; a bidder with no bid gets has_bid = false and KITO_OK. */
kito_err kito_engine_my_bid(const kito_engine *eng, uint64_t lot_id, uint64_t bidder,
                            struct kito_my_bid *out);

/* kito_engine_lot_view and kito_engine_my_bid in one lookup of the lot, as a bid's answer needs
 * both: fills *view and *mine. KITO_E_UNKNOWN_LOT if the lot is not loaded (both untouched). */
kito_err kito_engine_lot_view_mine(const kito_engine *eng, uint64_t lot_id, uint64_t bidder,
                                   struct kito_lot_view *view, struct kito_my_bid *mine);

struct kito_standing_bid {
    uint64_t bidder;
    int64_t amount_minor;
    uint32_t seq;
};

/* The organiser's list of every bidder's standing bid, in order of first bid, once the lot is
 * final (sold, unsold, withdrawn); before that KITO_E_BAD_STATE (tender bids stay sealed).
 * Writes at most cap entries to out and the total count to *n. */
kito_err kito_engine_lot_bids(const kito_engine *eng, uint64_t lot_id,
                              struct kito_standing_bid *out, size_t cap, size_t *n);

/*
 * Snapshots (for the book store): one lot, all of its state, in a versioned little-endian
 * format with a CRC-32C trailer (format in engine/README.md). Reading it back into any engine
 * gives a lot equal field for field (kito_engine_lot_equal).
 */

/* The exact size of the snapshot of lot_id, or 0 if not loaded. */
size_t kito_engine_lot_snapshot_size(const kito_engine *eng, uint64_t lot_id);

/* Writes the snapshot into buf. KITO_E_UNKNOWN_LOT, or KITO_E_CAPACITY if cap is too small;
 * on success *len is the size. */
kito_err kito_engine_lot_snapshot(const kito_engine *eng, uint64_t lot_id, uint8_t *buf, size_t cap,
                                  size_t *len);

/* Loads a lot from a snapshot. KITO_E_BAD_SNAPSHOT for anything damaged or inconsistent (never a
 * crash), KITO_E_LOT_EXISTS, KITO_E_CAPACITY; on failure nothing changes. buf is borrowed. */
kito_err kito_engine_lot_restore(kito_engine *eng, const uint8_t *buf, size_t len);

/* True if lot_id is loaded in both engines with equal configuration and state, field for field
 * (everything a snapshot holds, nothing of where it sits in memory). Otherwise false, and the
 * name of the first differing field is written to why (may be NULL). */
bool kito_engine_lot_equal(const kito_engine *a, const kito_engine *b, uint64_t lot_id, char *why,
                           size_t why_cap);

/* Checks every invariant of one lot (leader holds the highest maximum, earliest on ties; price
 * within [runner-up max, leader max] and the opening price; reserve rule; nothing sold below the
 * reserve; book and timer consistent). KITO_OK, KITO_E_UNKNOWN_LOT, or KITO_E_INTERNAL with the
 * broken rule in why. O(bidders^2): for tests. */
kito_err kito_engine_lot_check(const kito_engine *eng, uint64_t lot_id, char *why, size_t why_cap);

/* Memory accounting. */
struct kito_engine_memory {
    size_t total_bytes;     /* every byte the engine allocated */
    size_t lot_slot_bytes;  /* per lot slot: record + index + heap + free list */
    size_t chunk_bytes;     /* one chunk of KITO_ENGINE_CHUNK_BIDS bids */
    size_t live_slot_bytes; /* per live lot slot, history included */
    size_t id_window_bytes; /* the idempotency window, in all */
    uint32_t lots_loaded;
    uint32_t chunks_used;
    uint32_t chunks_total;
};
#define KITO_ENGINE_CHUNK_BIDS 6

void kito_engine_memory(const kito_engine *eng, struct kito_engine_memory *out);

#endif
