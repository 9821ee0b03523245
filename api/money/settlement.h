/*
 * The settlement worker (issue 7; DESIGN.md, "Durability" and "Settlement and payouts"): it
 * consumes the closed-lot outbox stream `outbox:settlement` (ops/REDIS.md) and writes each
 * lot's result to MySQL, then acknowledges the entry.
 *
 *   - Consumer group `settlement`, created at start (MKSTREAM, from id 0) if missing. The
 *     worker first re-reads its own pending entries (XREADGROUP ... 0: delivered before a
 *     crash, never acknowledged), claims entries another consumer left pending for
 *     KITO_SETTLEMENT_CLAIM_IDLE_MS (XAUTOCLAIM), then reads new ones (>) blocking up to
 *     KITO_SETTLEMENT_BLOCK_MS.
 *   - A batch of up to params.batch entries is settled in ONE MySQL transaction (one fsync for
 *     the batch): for a sold lot, the lot's final state, the settlement (amounts by
 *     engine/fees.h), the buyer's invoice, a balanced ledger transaction and an audit row; for an
 *     unsold or withdrawn lot, only the lot's final state. Only after COMMIT are the entries
 *     XACKed. Every entry's writes are all-or-nothing (InnoDB), and settlements.lot_id is UNIQUE,
 *     so a replayed entry (crash after COMMIT, before XACK) finds its settlement and is only
 *     acknowledged: each lot is settled exactly once.
 *   - If a batch fails for any reason but MySQL being unreachable, it is rolled back and its
 *     entries are settled one per transaction, so one bad entry cannot hold the others back.
 *     An entry that can never settle (MySQL does not know the lot; the outbox and MySQL disagree
 *     on sale, seller or currency; the winner is not a buyer; fees.h refuses the amounts) is
 *     written to settlement_rejects with its reason and acknowledged. An entry that can settle
 *     once the operator acts (no royalty rate for the stone's country and species), or that
 *     lost a lock when settled alone too (deadlock, lock wait timeout), stays pending and is
 *     retried every KITO_SETTLEMENT_RETRY_MS.
 *   - MySQL or Redis unreachable: nothing is acknowledged; the worker backs off (100 ms doubling
 *     to KITO_SETTLEMENT_BACKOFF_MAX_MS) and retries; the backlog grows in Redis, never lost.
 *   - One worker across the nodes (issue 20): before each read the worker makes sure its MySQL
 *     connection holds the settlement lease (store/lease.h, a named lock MariaDB releases with the
 *     connection); without it the worker stands by, looking again every
 *     KITO_SETTLEMENT_STANDBY_MS, and takes over when the holder's connection ends.
 *
 * Threading: the worker is one thread of its own with its own synchronous hiredis connection
 * and its own MySQL connection; start and stop are called from one (the loop) thread.
 */
#ifndef KITO_SETTLEMENT_H
#define KITO_SETTLEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/money/outbox.h"
#include "api/store/db.h"
#include "engine/err.h"
#include "engine/fees.h"

#define KITO_SETTLEMENT_GROUP "settlement"
#define KITO_SETTLEMENT_BATCH_MAX 512       /* entries read and settled at once, at most */
#define KITO_SETTLEMENT_BLOCK_MS 500        /* XREADGROUP BLOCK: also how fast stop is seen */
#define KITO_SETTLEMENT_BACKOFF_MIN_MS 100  /* first wait after a failure */
#define KITO_SETTLEMENT_BACKOFF_MAX_MS 2000 /* the cap it doubles up to */
#define KITO_SETTLEMENT_RETRY_MS 5000       /* entries waiting for the operator: retry period */
#define KITO_SETTLEMENT_STANDBY_MS 1000     /* without the lease (store/lease.h): look again */
#define KITO_SETTLEMENT_CLAIM_IDLE_MS                                                              \
    60000 /* another consumer's pending entry this idle is ours                                    \
           */

/* ---- the worker ------------------------------------------------------------------------------ */

typedef struct kito_settlement kito_settlement;

struct kito_settlement_params {
    const char *redis_host; /* copied */
    int redis_port;
    int redis_db;
    const char *redis_user;     /* AUTH user (copied); NULL or "": the default user */
    const char *redis_password; /* AUTH password, secret (copied); NULL or "": no AUTH */
    kito_db_params db;          /* copied (the strings too) */
    const char *consumer;       /* consumer name in the group (copied); one per kitod: "kitod" */
    uint32_t batch; /* entries settled in one transaction, 1 .. KITO_SETTLEMENT_BATCH_MAX */
    uint32_t commit_delay_ms; /* tests only: sleep this long before each COMMIT (crash tests) */
};

/* Defaults: Redis 127.0.0.1:6379 db 0, consumer "kitod", batch 256, no delay. */
void kito_settlement_params_default(struct kito_settlement_params *p);

/* Starts the worker thread. KITO_E_NOMEM, KITO_E_CONFIG (bad batch), KITO_E_INTERNAL (no thread);
 * on success *out owns it: stop it with kito_settlement_stop. Connecting happens on the thread
 * (a Redis or MySQL that is down is waited for, not an error). The MySQL client library must be
 * initialised (kito_db_library_init). */
kito_err kito_settlement_start(const struct kito_settlement_params *p, kito_settlement **out);

/* Asks the worker to stop, waits for it (at most about KITO_SETTLEMENT_BLOCK_MS plus one batch)
 * and frees it. An unacknowledged batch stays pending in Redis and is settled after the next
 * start. Accepts NULL. */
void kito_settlement_stop(kito_settlement *w);

struct kito_settlement_stats {
    uint64_t entries;  /* entries handled and acknowledged */
    uint64_t settled;  /* settlements written */
    uint64_t replays;  /* sold entries already settled (acknowledged only) */
    uint64_t finals;   /* unsold or withdrawn lots recorded */
    uint64_t rejected; /* entries written to settlement_rejects */
    uint64_t waiting;  /* entries left pending for the operator (no royalty rate), last pass */
    uint64_t failures; /* batches failed for MySQL or Redis (then retried) */
};

/* A copy of the counters (any thread). */
void kito_settlement_stats(kito_settlement *w, struct kito_settlement_stats *out);

#endif
