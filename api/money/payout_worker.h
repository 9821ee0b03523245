/*
 * The payout worker (issue 7, issue 19): one thread with its own MySQL connection (never the
 * event loop: it blocks on MySQL and on the providers) that every KITO_PAYOUT_INTERVAL_MS
 * creates the payouts that are due, gives pending ones their first attempt, and hands queued
 * attempts and attempts whose result has not come to their rail's senders (the four steps in
 * api/money/payouts.h). Each configured rail has KITO_PAYOUT_SENDERS sender threads (each with
 * its own MySQL connection), so at most that many requests are in flight to one provider, and
 * a slow provider never holds up another rail. An attempt is sent at most once whatever the
 * number of senders or processes: a sender claims it (queued -> sending, committed before the
 * request leaves) and only the claim's winner sends it; the reference it carries is the
 * attempt's own, which the provider deduplicates on. Results go through the state machine
 * (kito_payout_apply_rail_result, kito_payout_fail_attempt); the providers' protocols are the rail
 * drivers (api/adapters/rail.h).
 *
 * Threads: kito_payouts_start/stop on the loop thread (start and stop of kitod).
 */
#ifndef KITO_PAYOUT_WORKER_H
#define KITO_PAYOUT_WORKER_H

#include "api/common/config.h"
#include "api/store/db.h"
#include "engine/err.h"

#define KITO_PAYOUT_CHECK_MAX_MS (10u * 60 * 1000) /* status-query backoff cap */
#define KITO_PAYOUT_SENDERS_MAX 32                 /* KITO_PAYOUT_SENDERS at most */
#define KITO_PAYOUT_BUSY_PASS_MS 20                /* the next pass while there is work about */

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
