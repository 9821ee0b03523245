/*
 * Payouts to miners' mobile-money wallets (issue 7; DESIGN.md, "Settlement and payouts";
 * schemas/010_payouts.sql): the state machine, its repository, and the payout worker.
 *
 * The worker is one thread with its own MySQL connection (never the event loop: it blocks on
 * MySQL and on the provider). Every KITO_PAYOUT_INTERVAL_MS it
 *   1. creates the payout of every settlement whose invoice is paid and that has none (UNIQUE
 *      settlement_id: two workers, or a replay, create it once), converting the miner's net to
 *      her local currency at the current exchange rate, which it copies onto the payout;
 *   2. gives every pending M-Pesa payout its first attempt (queued; the payout is submitted),
 *      except a payout to a wallet she changed to lately, until the change's hold ends
 *      (KITO_PAYOUT_HELD_UNTIL_SQL);
 *   3. sends queued attempts: claims one (queued -> sending, committed BEFORE the request
 *      leaves), posts the B2C request, records the provider's answer (accepted, or failed on a
 *      definite refusal; on no answer it stays sending: the outcome is unknown);
 *   4. asks the provider about attempts whose result has not come by next_check_at (sending or
 *      accepted): a final answer is applied like a callback; "never received" (only for an
 *      attempt still sending) fails it and queues a new attempt; anything else waits, with
 *      backoff. An attempt whose outcome is unknown is never sent again.
 *
 * Results (callbacks and status answers) go through kito_payout_apply_result: one transaction
 * that locks the payout row (SELECT ... FOR UPDATE), finishes the attempt only if it is still
 * open, and on success moves the payout submitted -> succeeded and posts the ledger
 * transaction (unique by kind 'payout' + the payout id). Final states never change, so
 * duplicated, late and reordered results change nothing -- except that a report Kito cannot
 * trust is never applied: a success with another amount, currency or wallet than the attempt,
 * or a success for an attempt already failed, holds the payout in 'anomaly' for an operator
 * (DESIGN.md, "Settlement and payouts"; issue 15 finding 6). A held payout is never sent,
 * retried or posted by the worker; `kitoctl reconcile` lists it.
 *
 * Threads: kito_payouts_start/stop on the loop thread (start/stop of kitod); the repository
 * functions on any thread that owns the kito_db_conn (a MySQL worker job, the payout worker,
 * kitoctl).
 */
#ifndef KITO_PAYOUTS_H
#define KITO_PAYOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/config.h"
#include "api/store/db.h"
#include "api/adapters/mpesa.h"
#include "engine/err.h"

#define KITO_ID_PAYOUT "pay"
#define KITO_PAYOUT_BATCH 50        /* rows one worker step handles at most per tick */
#define KITO_PAYOUT_AUTO_ATTEMPTS 3 /* attempts made without an operator (never-received) */
#define KITO_PAYOUT_CHECK_MAX_MS (10u * 60 * 1000) /* status-query backoff cap */

/* ---- records --------------------------------------------------------------------------------- */

typedef struct kito_payout {
    uint64_t id;
    uint64_t settlement_id;
    uint64_t miner_id;
    char msisdn[17];
    char rail[17];
    char currency[4];     /* the miner's local currency */
    int64_t amount_minor; /* converted, half up */
    int64_t paid_units;   /* whole units sent (amount_minor rounded down) */
    int64_t remainder_minor;
    int64_t source_minor; /* the settlement's miner net */
    char source_currency[4];
    uint64_t exchange_rate_id; /* 0: same currency, no rate row */
    int64_t rate_micros;
    char state[17];
    uint32_t attempts;
    uint64_t ledger_transaction_id;               /* 0 until succeeded */
    int64_t created_ms, updated_ms, succeeded_ms; /* succeeded_ms 0 until succeeded */
    int64_t held_until_ms; /* a pending payout to a wallet she changed to lately waits until
                              then (KITO_PAYOUT_HELD_UNTIL_SQL); 0 when it does not wait */
} kito_payout;

/* SQL: when the hold on payout alias p ends (DATETIME(3)), or NULL when it is not held. A payout
 * is held while its miner's change to its wallet (msisdn and rail) is younger than the hold she
 * got then (issue 15, finding 5; schemas/017_payout_wallet_changes.sql): the worker gives a held
 * pending payout no attempt, and the payout shows the hold to her and the operator. */
#define KITO_PAYOUT_HELD_UNTIL_SQL(p)                                                              \
    "(SELECT MAX(w.hold_until) FROM payout_wallet_changes w WHERE w.account_id = " p ".miner_id"   \
    " AND w.new_msisdn = " p ".msisdn AND w.new_rail = " p ".rail"                                 \
    " AND w.hold_until > UTC_TIMESTAMP(3))"

typedef struct kito_payout_attempt {
    uint64_t id;
    uint64_t payout_id;
    uint32_t attempt_no;
    char originator_conversation_id[KITO_MPESA_ID_SIZE];
    char conversation_id[KITO_MPESA_ID_SIZE];
    char state[17];
    char result_code[33];
    char result_desc[257];
    char transaction_id[KITO_MPESA_TXN_SIZE];
    int64_t created_ms, updated_ms;
} kito_payout_attempt;

/* ---- the state machine ----------------------------------------------------------------------- */

/* What applying a result did. */
typedef enum kito_payout_outcome {
    KITO_PAYOUT_APPLIED_SUCCESS, /* the attempt and the payout succeeded; the ledger is posted */
    KITO_PAYOUT_APPLIED_FAILURE, /* the attempt failed (and the payout, if it was its current) */
    KITO_PAYOUT_UNCHANGED,       /* the attempt was already final: a duplicate or late result */
    KITO_PAYOUT_UNKNOWN_ATTEMPT, /* no attempt has this OriginatorConversationID */
    KITO_PAYOUT_ANOMALY,         /* a success report Kito does not trust (another amount,
                                    currency or wallet; an attempt already failed; a payout
                                    already held): the payout is held in 'anomaly' for an
                                    operator, one payout_anomalies row records the report,
                                    nothing is posted (schemas/016_payout_anomalies.sql) */
} kito_payout_outcome;

/* Why a success report disagrees with the payout it is about: "amount" (amount_units differs
 * from paid_units, when has_amount), "currency" (currency differs, when not NULL or ""),
 * "wallet" (the digits of wallet differ from the msisdn's, '+' ignored, when not NULL or ""),
 * with a sentence in why; NULL when it agrees (why is then ""). Pure: any thread. */
const char *kito_payout_disagreement(const kito_payout *p, bool has_amount, int64_t amount_units,
                                     const char *currency, const char *wallet, char *why,
                                     size_t why_size);

/* Applies a provider result (callback or status answer) in one transaction, as the header
 * comment says. KITO_OK with *outcome set, or a database error (nothing changed). */
kito_err kito_payout_apply_result(kito_db_conn *db, const kito_mpesa_result *res,
                                  kito_payout_outcome *outcome);

/* The same for a result in any rail's terms (api/adapters/rail.h), matched by res->reference
 * (or res->provider_id). */
struct kito_rail_result;
kito_err kito_payout_apply_rail_result(kito_db_conn *db, const struct kito_rail_result *res,
                                       kito_payout_outcome *outcome);

/* A new attempt for a failed payout (kitoctl payout retry): failed -> submitted, attempt queued
 * for the worker to send. KITO_E_NOT_FOUND (no such payout), KITO_E_BAD_STATE (not failed),
 * or a database error. *attempt_no gets the new attempt's number. actor_id 0 = the system. */
kito_err kito_payout_retry(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                           uint32_t *attempt_no);

/* Worker step 1: creates the payouts that are due (at most limit); *created counts them. */
kito_err kito_payouts_create_due(kito_db_conn *db, size_t limit, size_t *created);

/* Worker step 2: gives pending payouts on the rails listed in rails ("mpesa,mtn_momo": the
 * configured ones) their first attempt (at most limit). */
kito_err kito_payouts_queue_pending(kito_db_conn *db, const char *rails, size_t limit,
                                    size_t *queued);

/* ---- exchange rates -------------------------------------------------------------------------- */

/* Records a rate (units of to per unit of from, x 10^6) effective now. KITO_E_VALIDATION for an
 * unknown currency or from == to. *id gets the new row's id (may be NULL). */
kito_err kito_fx_set(kito_db_conn *db, const char *from, const char *to, int64_t rate_micros,
                     uint64_t actor_id, uint64_t *id);

/* ---- reading --------------------------------------------------------------------------------- */

typedef kito_err (*kito_payout_fn)(void *ud, const kito_payout *p);
typedef kito_err (*kito_payout_attempt_fn)(void *ud, const kito_payout_attempt *a);

/* Payouts in id order after after_id (0 = from the start), at most limit, optionally only one
 * miner's (miner_id != 0) and one state (state != NULL). */
kito_err kito_payout_list(kito_db_conn *db, uint64_t miner_id, const char *state, uint64_t after_id,
                          size_t limit, kito_payout_fn fn, void *ud);

/* One payout, and (when fn is not NULL) its attempts in order. KITO_E_NOT_FOUND. */
kito_err kito_payout_get(kito_db_conn *db, uint64_t id, kito_payout *out, kito_payout_attempt_fn fn,
                         void *ud);

/* ---- the worker ------------------------------------------------------------------------------ */

typedef struct kito_payouts kito_payouts;

/* Starts the worker thread. db's strings must outlive it. A rail sends only when its provider
 * is configured (KITO_MPESA_BASE_URL, KITO_MOMO_BASE_URL, KITO_AIRTEL_BASE_URL); payouts are
 * created either way, and those of an unconfigured rail wait pending. KITO_E_NOMEM or
 * KITO_E_INTERNAL (no thread). curl_global_init runs here (the loop thread, before the worker
 * starts). */
kito_err kito_payouts_start(const kito_config *cfg, const kito_db_params *db, kito_payouts **out);

/* Stops the worker: an HTTP call in flight is abandoned (its attempt stays sending and is
 * checked after the restart), the thread joined, everything freed. p may be NULL. */
void kito_payouts_stop(kito_payouts *p);

#endif
