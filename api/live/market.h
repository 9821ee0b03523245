/*
 * The market: one loop's partition of lots -- the auction engine (engine/engine.h) plus the
 * book store that makes it durable (api/live/bookstore.h; DESIGN.md, "Durability"). The HTTP bid
 * handlers and the tick timer of issue 5 call this, never the engine directly.
 *
 * Acknowledgement. kito_market_submit applies a command to the engine at once, so views are
 * current within the loop turn, and puts the accepted command's journal record into this loop
 * turn's batch. The batch goes to Redis as one pipelined MULTI/EXEC (group commit: a uv_prepare
 * handle flushes it once per loop turn, or sooner when it reaches its bound; while a batch is in
 * flight, the next one collects and goes the moment the first is confirmed), and only when
 * Redis has answered EXEC are the batch's callbacks called with the outcome and events. With
 * the strict Redis profile (appendfsync always) Redis answers only after the append-only file is
 * fsynced, so an acknowledged command survives a crash of kitod, of Redis, or of the machine.
 * Refused commands change nothing and are answered at once by the return value (nothing to
 * journal). A duplicate (KITO_E_DUPLICATE) whose first arrival is not confirmed yet waits for that
 * batch, then is answered through the callback like an accepted command would be.
 *
 * Failures. If the connection is lost, a batch times out or Redis refuses anything in it, every
 * command waiting for that batch and for the one collecting behind it is answered
 * KITO_E_UNAVAILABLE -- never acknowledged -- and the lots those commands touched are unloaded
 * from the engine at once, so no view shows a command Redis may not hold. While the connection is
 * down every submit, load and tick answers KITO_E_UNAVAILABLE at once; the untouched lots keep
 * their views. When the book store reconnects, the market throws the engine away and rebuilds
 * every open lot from Redis exactly as at start (snapshot + journal tail), then accepts commands
 * again: memory equals what Redis holds, including the engine's window of command ids (a retry of
 * a bid Redis never stored must be judged afresh, not answered "duplicate"; the engine cannot
 * forget single ids, hence the full rebuild). Restoring copies from before the failed batch
 * would not do either: Redis may have run the batch and lost only the reply, so the market does
 * not guess. The rebuild costs what a recovery costs (see ops/REDIS.md) and happens only after a
 * Redis failure.
 *
 * Recovery. kito_market_recover must be called once after create: the market reads the open set
 * and rebuilds every open lot (snapshot, then the journal after it, up to snapshot_every
 * commands a lot, then the journal before it for the ids only: "Idempotency after recovery")
 * before it accepts any command. Until then everything answers KITO_E_UNAVAILABLE. If Redis is
 * down, recovery waits for it. A lot whose records do not decode or replay (damage, before its
 * snapshot too) is left out, counted in kito_market_recovery.damaged and answers
 * KITO_E_UNAVAILABLE; the rest of the market works.
 *
 * Outbox. A command that ends a lot (tick CLOSE, live SOLD/PASS, WITHDRAW) writes the lot's result
 * to the settlement outbox stream and removes the lot from the open set in the same MULTI/EXEC as
 * the command itself: a close is journaled if and only if its outbox entry is.
 *
 * Bounds. Per batch at most store.batch_max_commands pending answers (preallocated, events
 * included, for three batches: collecting, in flight, and the confirmed one being answered --
 * about 600 bytes an answer, ~30 MB at the default 16,384) and Redis commands; past that, while a
 * batch is in flight, submit/tick answer KITO_E_CAPACITY at once and change nothing. Lots:
 * engine.max_lots. No allocation per command on our side (see bookstore.h for hiredis's).
 *
 * Idempotency after recovery (DESIGN.md, "Durability": a crash invents no bid, so a retry must
 * not either). The engine's window remembers the ids of the latest recent_commands accepted
 * commands, engine-wide; a recovery or a rebuild after a Redis failure keeps that promise: of
 * every open lot it reads the journal after the snapshot (replayed) and, newest first, the
 * journal the snapshot covers (only the ids are wanted), keeps the latest recent_commands
 * commands with an id among them -- by the time they were stamped with, then lot, then seq (the
 * engine's own order is not in Redis; see cmd_older in market.c for a clock set back) -- and
 * puts their ids into the fresh engine's window (kito_engine_remember: at most recent_commands
 * ids, so one generation, which ages as a whole: their order within it does not matter), before
 * the first command is taken. A retry of any of them is then a duplicate with its first seq, as
 * before the restart, for every format. Ids of lots that are no longer open are not read back:
 * such a lot takes no command, whatever its id. Cost, per lot with a snapshot past seq 0: at
 * most ceil(min(snap_seq, recent_commands) / KITO_BOOKSTORE_PAGE) more XREVRANGE round trips,
 * one after another, pipelined across recover_parallel lots like the rest of the reads, each
 * lot's stopping at the first entry older than all it keeps once it keeps recent_commands. In
 * all: while the open lots' journals hold fewer than recent_commands commands, all of them are
 * read (all are in the window); beyond, with a clock that does not step back, about
 * recent_commands entries plus up to a page a lot. Memory: recent_commands x 48 bytes while it
 * runs.
 *
 * Threading: loop thread only. Callbacks run on the loop; they may call kito_market_submit and
 * kito_market_tick, but must not free the market.
 */
#ifndef KITO_MARKET_H
#define KITO_MARKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "api/live/bookstore.h"
#include "engine/engine.h"

typedef struct kito_market kito_market;

struct kito_market_limits {
    struct kito_engine_limits engine;
    uint32_t snapshot_every;   /* a lot's snapshot is rewritten after this many commands (>= 1) */
    uint32_t recover_parallel; /* lots read back at once (1 .. KITO_BOOKSTORE_READS_MAX) */
};

/* Engine defaults, a snapshot every 1,000 commands, 128 lots read at once. */
void kito_market_limits_default(struct kito_market_limits *lim);

/* Creates the market on loop: an engine sized by lim->engine and a book store connecting with
 * *store (both borrowed). KITO_E_CONFIG, KITO_E_NOMEM, or the engine's errors; on success *out owns
 * the market: free it with kito_market_free. Call kito_market_recover next. */
kito_err kito_market_create(uv_loop_t *loop, const struct kito_bookstore_params *store,
                            const struct kito_market_limits *lim, kito_market **out);

/* Answers every waiting callback with KITO_E_UNAVAILABLE (never acknowledged), closes the book
 * store (its handles close when the loop runs) and frees the engine. Accepts NULL. Not from a
 * market callback. */
void kito_market_free(kito_market *m);

struct kito_market_recovery {
    uint32_t lots;           /* lots rebuilt */
    uint32_t from_snapshots; /* of them, restored from a snapshot past seq 0 */
    uint32_t damaged;        /* lots left out (records that do not decode or replay) */
    uint64_t commands;       /* journal entries replayed */
    uint64_t history;        /* journal entries read from before the snapshots, for their ids */
    uint32_t remembered;     /* command ids put back into the engine's window */
    double ms;               /* from the first read to the last replay */
};

/* status KITO_OK (damaged lots are counted, not an error) or KITO_E_NOMEM/KITO_E_CAPACITY (more
 * open lots than the engine holds: the market stays unavailable). */
typedef void (*kito_market_recover_cb)(void *ud, kito_err status,
                                       const struct kito_market_recovery *r);

/* Rebuilds every open lot from Redis; the market accepts commands once cb has been called with
 * KITO_OK. Waits for Redis if it is down. KITO_E_BAD_STATE if called twice. */
kito_err kito_market_recover(kito_market *m, kito_market_recover_cb cb, void *ud);

/* True once recovered, connected and not rebuilding lots after a failure. */
bool kito_market_ready(const kito_market *m);

/* status: KITO_OK once the lot's config, its seq-0 snapshot and its place in the open set are in
 * Redis; KITO_E_LOT_EXISTS if Redis already holds a lot with this id (open or final);
 * KITO_E_UNAVAILABLE if Redis failed meanwhile; KITO_E_CAPACITY at the batch bound. */
typedef void (*kito_market_load_cb)(void *ud, kito_err status);

/* Loads a new lot: checks that Redis has no lot with this id (one round trip), loads it into the
 * engine and writes its creation in the next batch; cb gets the batch's outcome. Commands for the
 * lot are accepted from the moment it is in the engine (they share its batch). Returns at once
 * with the engine's refusal for a bad config (KITO_E_BAD_COMMAND, KITO_E_BAD_AMOUNT, ...),
 * KITO_E_LOT_EXISTS if loaded, KITO_E_UNAVAILABLE, KITO_E_CAPACITY; then cb is not called.
 * cfg is copied. If the market is freed while the id check is in flight, cb is never called. */
kito_err kito_market_lot_load(kito_market *m, const struct kito_lot_config *cfg,
                              kito_market_load_cb cb, void *ud);

/* The answer to an accepted (or duplicate) command, once Redis confirmed its batch, or
 * out->err = KITO_E_UNAVAILABLE if the batch failed (then n_events is 0). events are valid
 * during the call only. */
typedef void (*kito_market_submit_cb)(void *ud, const struct kito_outcome *out,
                                      const struct kito_event *events, size_t n_events);

/* Submits one command (its seq must be 0). Returns KITO_OK when accepted and waiting for Redis
 * (cb will be called exactly once); otherwise the answer now, with *now filled (may be NULL) and
 * cb never called: the engine's refusal, KITO_E_DUPLICATE (first arrival already confirmed),
 * KITO_E_UNKNOWN_LOT, KITO_E_UNAVAILABLE (Redis down, recovering, or the lot is damaged), or
 * KITO_E_CAPACITY (batch bound reached while a batch is in flight). cmd is copied. */
kito_err kito_market_submit(kito_market *m, const struct kito_command *cmd,
                            kito_market_submit_cb cb, void *ud, struct kito_outcome *now);

/* One command Redis has confirmed, for the listener (kito_market_set_listener). events are all
 * the command's events (PUBLIC and BIDDER: the listener filters), valid during the call only. */
struct kito_market_note {
    uint64_t lot_id;
    uint64_t sale_id;
    uint32_t seq;   /* the command's seq in its lot */
    uint8_t format; /* enum kito_format */
    char currency[4];
    const struct kito_event *events;
    size_t n_events;
};

typedef void (*kito_market_listener_fn)(void *ud, const struct kito_market_note *note);

/* Sets the one listener (NULL to remove): called on the loop for every command once Redis has
 * confirmed its batch -- submitted, tick-generated and clerk commands alike -- in the order the
 * commands were applied, just before that command's own callback. Never for a refused command,
 * a duplicate, or a command whose batch failed (those were never acknowledged). The listener must
 * not free the market. */
void kito_market_set_listener(kito_market *m, kito_market_listener_fn fn, void *ud);

/* Called on the loop when the market has rebuilt its lots from Redis after a failure that
 * failed journaled commands, and accepts commands again. Such commands may be in Redis after all
 * (only the reply was lost): they are in the rebuilt books, but the listener
 * (kito_market_set_listener) never heard of them. */
typedef void (*kito_market_rebuilt_fn)(void *ud);

/* Sets the one rebuilt listener (NULL to remove). It must not free the market. */
void kito_market_set_rebuilt_listener(kito_market *m, kito_market_rebuilt_fn fn, void *ud);

/* A journaled command read back from Redis while the market is rebuilt (at recovery, and after a
 * Redis failure), for the replay listener (kito_market_set_replay_listener). cmd is borrowed. */
typedef void (*kito_market_replay_fn)(void *ud, const struct kito_command *cmd);

/* Sets the one replay listener (NULL to remove): called on the loop, once every lot is read back
 * and before the first command is taken, for every command whose id the engine's window holds
 * again (see "Idempotency after recovery": at most recent_commands, from before the snapshots
 * too), in no particular order (each carries its now_ms), so that what a caller remembers of
 * them can be rebuilt with it. Set it before kito_market_recover. The listener must not free the
 * market or call into it. */
void kito_market_set_replay_listener(kito_market *m, kito_market_replay_fn fn, void *ud);

/* Applies the engine's tick at now_ms (due opens and closes) and journals the OPEN/CLOSE
 * commands like any other; closes also write their outbox entries. cb (may be NULL) is called
 * once per applied command as for submit. *n_applied (may be NULL) gets the count. Stops early at
 * the batch bound (call again: kito_engine_next_deadline still says it is due). Returns KITO_OK,
 * or KITO_E_UNAVAILABLE with nothing applied. */
kito_err kito_market_tick(kito_market *m, int64_t now_ms, kito_market_submit_cb cb, void *ud,
                          size_t *n_applied);

/* The engine's earliest deadline (for the tick timer), INT64_MAX if none. */
int64_t kito_market_next_deadline(const kito_market *m);

/* The public view of a loaded lot (engine/engine.h); KITO_E_UNKNOWN_LOT, or KITO_E_UNAVAILABLE
 * while the lot is being rebuilt or is damaged. Current within the loop turn (it may show
 * commands whose batch is not confirmed yet). */
kito_err kito_market_lot_view(const kito_market *m, uint64_t lot_id, struct kito_lot_view *out);

/* As kito_market_lot_view, with bidder's own standing bid in *mine, in one lookup of the lot
 * (engine/engine.h, kito_engine_lot_view_mine): what a bid's answer shows. */
kito_err kito_market_lot_view_mine(const kito_market *m, uint64_t lot_id, uint64_t bidder,
                                   struct kito_lot_view *view, struct kito_my_bid *mine);

/* The engine, read-only (views, snapshots, equality checks in tests). Borrowed. */
const kito_engine *kito_market_engine(const kito_market *m);

/* Ids of the lots loaded and usable, up to cap; *n gets the total. */
void kito_market_lot_ids(const kito_market *m, uint64_t *out, size_t cap, size_t *n);

struct kito_market_stats {
    uint64_t submitted;     /* kito_market_submit calls */
    uint64_t accepted;      /* applied and put in a batch */
    uint64_t acked;         /* answered KITO_OK after Redis confirmed */
    uint64_t refused;       /* answered at once by the engine */
    uint64_t unavailable;   /* answered KITO_E_UNAVAILABLE (at once or after a failed batch) */
    uint64_t failed;        /* of those, accepted commands whose batch failed */
    uint64_t capacity;      /* answered KITO_E_CAPACITY */
    uint64_t snapshots;     /* snapshots written */
    uint64_t results;       /* outbox entries written */
    uint64_t rebuilds;      /* times the engine was rebuilt from Redis after a failure */
    uint64_t lots_resynced; /* lots read back in those rebuilds */
    struct kito_bookstore_stats store;
};

void kito_market_stats(const kito_market *m, struct kito_market_stats *out);

#endif
