/*
 * Payouts to miners' mobile-money wallets (issue 7; DESIGN.md, "Settlement and payouts";
 * schemas/010_payouts.sql): the state machine's transactions. Its rules are pure and live in
 * api/money/payout_rules.h; its SQL in api/store/repo_payouts.h; the worker that creates,
 * sends and asks in api/money/payout_worker.h; exchange rates in api/money/fx.h.
 *
 * The worker (payout_worker.h) every KITO_PAYOUT_INTERVAL_MS
 *   1. creates the payout of every settlement whose invoice is paid and that has none (UNIQUE
 *      settlement_id: two workers, or a replay, create it once), converting the miner's net to
 *      her local currency at the current exchange rate, which it copies onto the payout;
 *   2. gives every pending payout on a configured rail its first attempt (queued; the payout
 *      is submitted), except a payout to a wallet she changed to lately, until the change's
 *      hold ends (KITO_PAYOUT_HELD_UNTIL_SQL, api/store/repo_payouts.h);
 *   3. sends queued attempts: claims one (queued -> sending, committed BEFORE the request
 *      leaves), posts the transfer, records the provider's answer (accepted, or failed on a
 *      definite refusal; on no answer it stays sending: the outcome is unknown);
 *   4. asks the provider about attempts whose result has not come by next_check_at (sending or
 *      accepted): a final answer is applied like a callback; "never received" (only for an
 *      attempt still sending) fails it and queues a new attempt; anything else waits, with
 *      backoff. An attempt whose outcome is unknown is never sent again.
 *
 * Results (callbacks and status answers) go through kito_payout_apply_rail_result: one
 * transaction that locks the payout row (SELECT ... FOR UPDATE), then its attempt, decides with
 * kito_payout_decide, and on success moves the payout submitted -> succeeded and posts the ledger
 * transaction (unique by kind 'payout' + the payout id). Final states never change, so
 * duplicated, late and reordered results change nothing -- except that a report Kito cannot
 * trust is never applied: a success with another amount, currency or wallet than the attempt,
 * or a success for an attempt already failed, holds the payout in 'anomaly' for an operator
 * (DESIGN.md, "Settlement and payouts"; issue 15 finding 6). A held payout is never sent,
 * retried or posted by the worker; `kitoctl reconcile` lists it.
 *
 * Threads: any thread that owns the kito_db_conn (a MySQL worker job, the payout worker,
 * kitoctl).
 */
#ifndef KITO_PAYOUTS_H
#define KITO_PAYOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/adapters/mpesa.h"
#include "api/adapters/rail.h"
#include "api/money/fx.h"
#include "api/money/payout_rules.h"
#include "api/store/db.h"
#include "api/store/repo_payouts.h"
#include "engine/err.h"

/* What applying a result did. */
typedef enum kito_payout_outcome {
    KITO_PAYOUT_APPLIED_SUCCESS, /* the attempt and the payout succeeded; the ledger is posted */
    KITO_PAYOUT_APPLIED_FAILURE, /* the attempt failed (and the payout, if it was its current) */
    KITO_PAYOUT_UNCHANGED,       /* the attempt was already final: a duplicate or late result */
    KITO_PAYOUT_UNKNOWN_ATTEMPT, /* no attempt has this reference */
    KITO_PAYOUT_ANOMALY,         /* a success report Kito does not trust (another amount,
                                    currency or wallet; an attempt already failed; a payout
                                    already held): the payout is held in 'anomaly' for an
                                    operator, one payout_anomalies row records the report,
                                    nothing is posted (schemas/016_payout_anomalies.sql) */
} kito_payout_outcome;

/* Applies a Daraja result (callback) in one transaction, as the header comment says. KITO_OK
 * with *outcome set, or a database error (nothing changed). */
kito_err kito_payout_apply_result(kito_db_conn *db, const kito_mpesa_result *res,
                                  kito_payout_outcome *outcome);

/* The same for a result in any rail's terms (api/adapters/rail.h), matched by res->reference
 * (or res->provider_id). */
kito_err kito_payout_apply_rail_result(kito_db_conn *db, const kito_rail_result *res,
                                       kito_payout_outcome *outcome);

/* Fails attempt reference for a reason of Kito's (code "kito.*") or a definite refusal the
 * provider gave synchronously; auto_retry queues a new attempt while the payout has had fewer
 * than KITO_PAYOUT_AUTO_ATTEMPTS. */
kito_err kito_payout_fail_attempt(kito_db_conn *db, const char *reference, const char *code,
                                  const char *desc, bool auto_retry);

/* A new attempt for a failed payout (kitoctl payout retry): failed -> submitted, attempt queued
 * for the worker to send. KITO_E_NOT_FOUND (no such payout), KITO_E_BAD_STATE (not failed),
 * or a database error. *attempt_no gets the new attempt's number. actor_id 0 = the system. */
kito_err kito_payout_retry(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                           uint32_t *attempt_no);

/* What decides how a payout is made (from kito_config; borrowed). */
typedef struct kito_payout_policy {
    const kito_payout_limit *limits; /* per rail and currency (KITO_PAYOUT_LIMITS) */
    size_t limit_count;
    uint32_t fx_max_age_s;  /* KITO_FX_MAX_AGE_S; 0: any age */
    const char *send_rails; /* the configured rails ("mpesa,mtn_momo"): a payout on one of them
                               gets its first attempt in the transaction that makes it */
} kito_payout_policy;

/* An operator resolves payout_id's anomalies (kitoctl payout resolve): every unresolved report
 * is marked resolved with reason (1 to 500 printable characters), with an audit row, in one
 * transaction; the payout stays held ('anomaly'). *resolved counts the reports. KITO_E_NOT_FOUND
 * (no such payout), KITO_E_BAD_STATE (nothing unresolved), KITO_E_VALIDATION (the reason), or a
 * database error. actor_id 0: kitoctl. */
kito_err kito_payout_resolve(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                             const char *reason, size_t *resolved);

/* Worker step 1: makes the payouts that are due (at most limit settlements looked at, and half
 * as many held ones looked at again); *created counts the payouts made. A settlement pays out as
 * a group of parts when above its rail's maximum (kito_payout_split), together with her other
 * waiting sales when below its minimum, and is held with its reason (payout_holds) while below
 * the minimum or while the only rate is older than pol->fx_max_age_s. pol NULL: no limits, any
 * rate age. */
kito_err kito_payouts_create_due(kito_db_conn *db, const kito_payout_policy *pol, size_t limit,
                                 size_t *created);

/* Worker step 2: gives pending payouts on the rails listed in rails ("mpesa,mtn_momo": the
 * configured ones) their first attempt (at most limit). */
kito_err kito_payouts_queue_pending(kito_db_conn *db, const char *rails, size_t limit,
                                    size_t *queued);

/* ---- reading --------------------------------------------------------------------------------- */

/* Payouts in id order after after_id (0 = from the start), at most limit, optionally only one
 * miner's (miner_id != 0) and one state (state != NULL). */
kito_err kito_payout_list(kito_db_conn *db, uint64_t miner_id, const char *state, uint64_t after_id,
                          size_t limit, kito_payout_fn fn, void *ud);

/* One payout, and (when fn is not NULL) its attempts in order. KITO_E_NOT_FOUND. */
kito_err kito_payout_get(kito_db_conn *db, uint64_t id, kito_payout *out, kito_payout_attempt_fn fn,
                         void *ud);

#endif
