/*
 * The book store: the durable half of the order books (DESIGN.md, "Durability"; issue 6). It
 * writes every accepted engine command to Redis, one pipelined MULTI/EXEC per batch (group
 * commit), and reads lots back for recovery. It knows Redis and the record formats; what to write
 * and when to acknowledge is the market's business (api/live/market.h).
 *
 * Key layout (the full description, with the Cluster notes, is ops/REDIS.md):
 *   lot:{ID}:journal   stream, one entry per accepted command; entry id "<seq>-0", field "c" =
 *                      the command's journal record (engine/command.h). The explicit id makes
 *                      Redis itself refuse a repeated or reordered seq.
 *   lot:{ID}:config    hash, the lot's configuration in readable fields (sale_id, seller_id,
 *                      currency, format, prices, times, ladder) -- for operators and settlement.
 *   lot:{ID}:snap      hash {seq, data}: the engine snapshot (kito_engine_lot_snapshot) covering
 *                      commands 1..seq. Written at seq 0 when the lot is created, then every
 *                      `snapshot_every` commands in the same MULTI/EXEC as the command batch.
 *   lots:open          set of the ids of lots that are not final; recovery loads these.
 *   outbox:settlement  stream, one entry per lot that became final (sold, unsold, withdrawn),
 *                      written in the same MULTI/EXEC as the command that ended the lot.
 * The journal is kept in full (never trimmed): recovery replays only what follows the snapshot
 * and reads back the latest entries before it for their ids (kito_bookstore_reader), and a full
 * journal is the audit trail.
 *
 * Connection. The book store opens its own hiredis async connection on the caller's loop (the
 * shared kito_redis link in api/adapters/redis.h is for health checks and small commands; a batch
 * writer needs to own its failure handling: a failed batch must drop the connection so nothing sent
 * after it can land). It AUTHenticates when given a password (a refusal is logged once until a
 * connection works, and retried with the backoff), SELECTs params.db, reconnects on its own with
 * exponential backoff (100 ms .. 2 s), and drops the connection when a batch or read stays
 * unanswered for params.timeout_ms (hiredis has no timeouts). It attaches hiredis to the loop with
 * its own small adapter: hiredis's libuv adapter restarts the poll handle (an epoll_ctl system
 * call) for every queued command, 8,000 system calls for a batch of 8,000 commands; ours only when
 * the events wanted change.
 *
 * Sending. A batch is sealed and sent when nothing is in flight: once per loop turn (a
 * uv_prepare handle), sooner when it is full (kito_bookstore_room), and -- under load, the usual
 * case -- the moment the batch in flight is confirmed, from inside the EXEC reply's handling and
 * before on_batch reports the confirmed one, so Redis works on the next batch while the owner
 * answers. The bytes are written to the socket at once (what the socket does not take goes in the
 * loop's next poll phase).
 *
 * Failure contract. A sealed batch either succeeds -- on_batch(id) is called, every command in
 * it is in Redis -- or the connection is dropped, and on_down is called once: the batch in flight
 * (if any) and the collecting batch are both to be treated as failed, and every read in progress
 * has already had on_done(KITO_E_UNAVAILABLE). A dropped batch may still have been executed by
 * Redis (the reply can be lost after EXEC ran), so after on_down the caller must re-read what it
 * needs instead of assuming either way; the market does this (api/live/market.h, "Failures").
 *
 * Bounds. One batch in flight at a time, one batch collecting (so a failed batch is never
 * followed into Redis by a later one: the connection is dropped before the next is sent). The
 * collecting batch holds at most params.batch_max_commands Redis commands and
 * params.batch_max_bytes bytes of RESP (both preallocated); kito_bookstore_room says whether a
 * record fits. At most KITO_BOOKSTORE_READS_MAX reads at once. Allocation: none of ours per command
 * (RESP is written into the preallocated batch buffer); hiredis itself allocates a small callback
 * node per Redis command it queues and a reply object per reply (hiredis 0.14 has no way around
 * it).
 *
 * Threading: loop thread only, like everything on the loop (DESIGN.md, Threading).
 */
#ifndef KITO_BOOKSTORE_H
#define KITO_BOOKSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine/command.h"
#include "engine/engine.h"
#include "engine/err.h"

#define KITO_BOOKSTORE_OPEN_KEY "lots:open"
#define KITO_BOOKSTORE_OUTBOX_KEY "outbox:settlement"
/* Reads (lot reads, existence checks, the open set) in progress at once. */
#define KITO_BOOKSTORE_READS_MAX 256
/* Journal entries fetched per XRANGE (or XREVRANGE, before the snapshot) while reading a lot
 * back. */
#define KITO_BOOKSTORE_PAGE 512
/* The RESP bytes one journal record takes at most (XADD with key, id and record). */
#define KITO_BOOKSTORE_COMMAND_BYTES_MAX 192
/* The RESP bytes one outbox entry plus its SREM take at most. */
#define KITO_BOOKSTORE_RESULT_BYTES_MAX 640
/* The RESP bytes of a lot's creation (config, snapshot hash, SADD), excluding the snapshot. */
#define KITO_BOOKSTORE_LOT_BYTES_MAX 1536

typedef struct kito_bookstore kito_bookstore;

struct kito_bookstore_params {
    const char *host;            /* borrowed during create; copied */
    int port;                    /* Redis TCP port */
    const char *user;            /* AUTH user (ops/REDIS.md, "Access"); copied; NULL or "" with a
                                    password: the default user */
    const char *password;        /* AUTH password, secret; copied; NULL or "": no AUTH */
    int db;                      /* SELECTed after every connect (0 .. 15) */
    uint32_t batch_max_commands; /* Redis commands in one batch, MULTI/EXEC excluded */
    uint32_t batch_max_bytes;    /* RESP bytes in one batch */
    uint32_t timeout_ms;         /* a batch or read unanswered this long drops the connection */
};

/* Defaults: 127.0.0.1:6379 db 0, 16,384 commands, 4 MiB, 3,000 ms. */
void kito_bookstore_params_default(struct kito_bookstore_params *p);

/* What the book store tells its owner. All are called on the loop thread, never from inside a
 * kito_bookstore_* call made by the owner except where said. */
struct kito_bookstore_ops {
    /* Connected and SELECTed: reads and batches may go. */
    void (*on_up)(void *ud);
    /* The connection was lost or dropped: the batch in flight and the collecting batch failed
     * (the collecting batch is already discarded when this runs). Called once per loss. */
    void (*on_down)(void *ud);
    /* Batch batch_id is in Redis (EXEC answered, no command refused). The batch that collected
     * meanwhile (batch_id + 1), if not empty, has already been sealed and sent (its on_seal ran
     * first), so the owner must keep the confirmed batch's answers apart from the collecting
     * batch's (the market keeps three). */
    void (*on_batch)(void *ud, uint64_t batch_id);
    /* The collecting batch batch_id is about to be sealed and sent: the last chance to append
     * (the market adds due snapshots here). */
    void (*on_seal)(void *ud, uint64_t batch_id);
};

/* Creates the book store on loop and starts connecting. p and ops are copied. KITO_E_CONFIG for
 * bad params, KITO_E_NOMEM, KITO_E_INTERNAL (uv handles); on success *out owns it: release it
 * with kito_bookstore_close. */
kito_err kito_bookstore_create(uv_loop_t *loop, const struct kito_bookstore_params *p,
                               const struct kito_bookstore_ops *ops, void *ud,
                               kito_bookstore **out);

/* Disconnects (nothing more is called back: no on_down, no read completions), closes the handles
 * and frees the memory once the loop has run their close callbacks. Accepts NULL. */
void kito_bookstore_close(kito_bookstore *bs);

/* Connected and SELECTed. */
bool kito_bookstore_is_up(const kito_bookstore *bs);

/* The id of the collecting batch (ids start at 1 and grow by one per sealed batch). */
uint64_t kito_bookstore_batch_id(const kito_bookstore *bs);

/* True while a sealed batch waits for its EXEC reply. */
bool kito_bookstore_in_flight(const kito_bookstore *bs);

/* Redis commands in the collecting batch (MULTI/EXEC excluded); 0 when empty. */
uint32_t kito_bookstore_pending_commands(const kito_bookstore *bs);

/* KITO_OK if `commands` more Redis commands of `bytes` more RESP bytes fit in the collecting
 * batch; otherwise, when no batch is in flight and the store is up, seals and sends the collecting
 * batch now (on_seal is called from inside this call) and checks again; KITO_E_CAPACITY if they
 * still do not fit (a batch is in flight, or the record is bigger than a batch). */
kito_err kito_bookstore_room(kito_bookstore *bs, uint32_t commands, size_t bytes);

/* Appends the journal record of cmd (seq set) to the collecting batch: XADD lot:{ID}:journal
 * <seq>-0 c <record>. KITO_E_BAD_COMMAND if cmd does not encode; KITO_E_CAPACITY if it does not
 * fit (call kito_bookstore_room first); KITO_E_UNAVAILABLE while down. Nothing is appended on
 * failure. */
kito_err kito_bookstore_append_command(kito_bookstore *bs, const struct kito_command *cmd);

/* Appends a lot's creation: HSET lot:{ID}:config ..., HSET lot:{ID}:snap seq 0 data <snap>,
 * SADD lots:open ID. snap is the engine snapshot of the freshly loaded lot (borrowed). Errors as
 * kito_bookstore_append_command. */
kito_err kito_bookstore_append_lot(kito_bookstore *bs, const struct kito_lot_config *cfg,
                                   const uint8_t *snap, size_t snap_len);

/* Appends HSET lot:{ID}:snap seq <seq> data <snap> (the snapshot covering commands 1..seq).
 * Errors as kito_bookstore_append_command. */
kito_err kito_bookstore_append_snapshot(kito_bookstore *bs, uint64_t lot_id, uint32_t seq,
                                        const uint8_t *snap, size_t snap_len);

/* A lot's final result, for the settlement outbox (issue 7 consumes it). */
struct kito_lot_result {
    uint64_t lot_id;
    uint64_t sale_id;
    uint64_t seller_id;
    uint64_t winner;       /* 0 unless sold */
    int64_t hammer_minor;  /* 0 unless sold */
    int64_t ends_at_ms;    /* the lot's end (timed/tender, after extensions); live: 0 */
    int64_t closed_at_ms;  /* now_ms of the closing command */
    uint32_t seq;          /* seq of the closing command */
    uint8_t state;         /* KITO_LOT_SOLD, KITO_LOT_UNSOLD or KITO_LOT_WITHDRAWN */
    uint8_t unsold_reason; /* enum kito_unsold_reason when unsold, else 0 */
    uint8_t format;        /* enum kito_format */
    char currency[4];
};

/* Appends XADD outbox:settlement * lot_id .. sale_id .. seller_id .. winner .. hammer_minor ..
 * currency .. result sold|unsold|withdrawn reason .. seq .. ends_at_ms .. closed_at_ms .. format
 * .. and SREM lots:open ID. Errors as kito_bookstore_append_command. */
kito_err kito_bookstore_append_result(kito_bookstore *bs, const struct kito_lot_result *r);

/* Seals the collecting batch and sends it, if the store is up, nothing is in flight and the batch
 * is not empty (on_seal is called from inside). Otherwise does nothing. The store also does this
 * itself once per loop turn (a uv_prepare handle) and when the batch in flight is confirmed,
 * which are the normal paths. */
void kito_bookstore_flush(kito_bookstore *bs);

/* ---- reads ---------------------------------------------------------------------------------- */

/* The open set: ids (valid during the call only) or an error (KITO_E_UNAVAILABLE). */
typedef void (*kito_bookstore_ids_cb)(void *ud, kito_err status, const uint64_t *ids, size_t n);

/* SMEMBERS lots:open. KITO_E_UNAVAILABLE while down, KITO_E_CAPACITY with too many reads. */
kito_err kito_bookstore_open_lots(kito_bookstore *bs, kito_bookstore_ids_cb cb, void *ud);

typedef void (*kito_bookstore_exists_cb)(void *ud, kito_err status, bool exists);

/* Whether lot:{ID}:config exists. Errors as kito_bookstore_open_lots. */
kito_err kito_bookstore_lot_exists(kito_bookstore *bs, uint64_t lot_id, kito_bookstore_exists_cb cb,
                                   void *ud);

/* What a lot read finds first. */
struct kito_bookstore_lot_head {
    bool found; /* config and snapshot both present; false: no such lot in Redis */
    uint64_t lot_id;
    uint64_t sale_id;
    uint64_t seller_id;
    char currency[4];
    uint32_t snap_seq;   /* the snapshot covers commands 1..snap_seq */
    const uint8_t *snap; /* borrowed during on_head only */
    size_t snap_len;
};

/* A lot read's callbacks, in this order: on_head once; if it returned KITO_OK and found, then
 * on_commands for each page of journal entries after the snapshot (seq order, decoded and
 * checked: entry id = seq = the record's seq, lot id = the lot's); then, if on_history is set,
 * history_max > 0 and the snapshot is past seq 0, on_history for each page of the entries the
 * snapshot covers, newest first (seq snap_seq, snap_seq - 1, ..., checked the same way), until
 * seq 1, history_max entries, or *more set to false by on_history; then on_done. A non-OK return
 * from a callback stops the read and is passed to on_done. Damage (an entry that does not decode
 * or does not match) ends with on_done(KITO_E_BAD_COMMAND); a lost connection with
 * on_done(KITO_E_UNAVAILABLE) (also possible before on_head). Arrays are valid during the call.
 *
 * Why the history: the commands a snapshot covers are not replayed, but their ids belong in the
 * engine's idempotency window (api/live/market.h, "Idempotency after recovery"). Its cost: at most
 * ceil(min(snap_seq, history_max) / KITO_BOOKSTORE_PAGE) XREVRANGE round trips a lot, one after
 * another, and as many entries; the market stops sooner (*more) once they are older than every id
 * the window will keep. */
struct kito_bookstore_reader {
    kito_err (*on_head)(void *ud, const struct kito_bookstore_lot_head *head);
    kito_err (*on_commands)(void *ud, const struct kito_command *cmds, size_t n);
    /* optional (NULL: no history is read); *more is true on entry */
    kito_err (*on_history)(void *ud, const struct kito_command *cmds, size_t n, bool *more);
    void (*on_done)(void *ud, kito_err status);
    uint32_t history_max; /* entries before the snapshot read at most, per lot */
};

/* Reads lot lot_id back: config, snapshot, the journal after the snapshot, then (see the reader)
 * the journal before it, newest first. rd is borrowed and must outlive the read. Errors as
 * kito_bookstore_open_lots; on error nothing is called. */
kito_err kito_bookstore_lot_read(kito_bookstore *bs, uint64_t lot_id,
                                 const struct kito_bookstore_reader *rd, void *ud);

/* Reads in progress. */
uint32_t kito_bookstore_reads(const kito_bookstore *bs);

/* ---- counters ------------------------------------------------------------------------------- */

struct kito_bookstore_stats {
    uint64_t batches_sent;      /* sealed and sent */
    uint64_t batches_ok;        /* confirmed by EXEC */
    uint64_t batches_failed;    /* in flight when the connection was lost or dropped */
    uint64_t commands_sent;     /* Redis commands inside sent batches */
    uint64_t commands_ok;       /* inside confirmed batches */
    uint64_t bytes_sent;        /* RESP bytes of sent batches */
    uint32_t batch_max_seen;    /* most Redis commands in one batch so far */
    uint64_t connects;          /* successful connects (SELECT answered) */
    uint64_t drops;             /* connections lost or dropped */
    uint64_t capacity_refusals; /* kito_bookstore_room answered KITO_E_CAPACITY */
    char last_error[160];
};

void kito_bookstore_stats(const kito_bookstore *bs, struct kito_bookstore_stats *out);

#endif
