/*
 * The SMS sender (issue 18): a worker thread with its own MySQL connection that sends the
 * outbox's due messages (api/store/repo_sms.h) through Africa's Talking
 * (api/adapters/africastalking.h), one at a time, every KITO_SMS_INTERVAL_MS.
 *
 * Per message: the gateway took it -> sent; it could not take it now (connection refused, HTTP
 * 5xx, status 500..502) -> tried again after kito_backoff_after(1 s, 10 min, attempts), at most
 * KITO_SMS_ATTEMPTS_MAX times, then failed; refused for good -> failed; the call timed out ->
 * unknown, never sent again (SMS has no idempotency key: a second send would be a second SMS).
 * On start, messages a crash left 'sending' become unknown for the same reason.
 *
 * Threads: start and stop on the loop thread (kitod's start and stop).
 */
#ifndef KITO_SMS_SENDER_H
#define KITO_SMS_SENDER_H

#include "api/common/config.h"
#include "api/store/db.h"
#include "engine/err.h"

#define KITO_SMS_ATTEMPTS_MAX 8
#define KITO_SMS_BATCH 16

typedef struct kito_sms_sender kito_sms_sender;

/* Starts the thread. With KITO_AT_BASE_URL empty it does not start (*out NULL, KITO_OK): the
 * outbox fills and waits. KITO_E_NOMEM / KITO_E_INTERNAL otherwise. */
kito_err kito_sms_sender_start(const kito_config *cfg, const kito_db_params *db,
                               kito_sms_sender **out);

/* Stops and joins the thread (a call in flight runs into its timeout). s may be NULL. */
void kito_sms_sender_stop(kito_sms_sender *s);

#endif
