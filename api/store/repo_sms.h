/*
 * The SMS outbox (schemas/015_sms_outbox.sql; issue 18): messages written in the transaction of
 * the event they tell of, then sent by the sender worker (api/phone/sms_sender.h) and followed by
 * the gateway's delivery reports.
 *
 * Threads: a MySQL worker or a worker thread, with its connection; errors as api/store/sql.h.
 */
#ifndef KITO_REPO_SMS_H
#define KITO_REPO_SMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/sms_text.h"
#include "api/store/db.h"
#include "engine/err.h"

/* Inside the caller's open transaction: writes kind's message to miner account_id (her phone,
 * in her language; values as api/common/sms_text.h says) unless dedupe_key (the kind and the
 * event's key, e.g. "stone_received:12") already has one. An account without a phone gets
 * none (KITO_OK). */
kito_err kito_sms_enqueue(kito_db_conn *db, uint64_t account_id, kito_sms_kind kind,
                          const char *dedupe_key, const char *const *values);

/* As kito_sms_enqueue, to phone (E.164) instead of her account's phone when phone is not NULL or
 * "" (a wallet change tells the old wallet's number), in her language. */
kito_err kito_sms_enqueue_to(kito_db_conn *db, uint64_t account_id, const char *phone,
                             kito_sms_kind kind, const char *dedupe_key, const char *const *values);

/* A message due to be sent, claimed by the sender. */
typedef struct kito_sms_due {
    uint64_t id;
    char phone[17];
    char message[KITO_SMS_TEXT_SIZE];
    uint32_t attempts;
} kito_sms_due;

/* Claims up to max pending messages whose next attempt is due (state -> sending), oldest first,
 * into out; *count how many. One sender at a time (the claim is not for concurrent senders). */
kito_err kito_sms_claim(kito_db_conn *db, kito_sms_due *out, size_t max, size_t *count);

/* Outcomes of one send. */
typedef enum kito_sms_outcome {
    KITO_SMS_SENT,    /* the gateway took it: provider_id */
    KITO_SMS_RETRY,   /* not taken, may be tried again at retry_at_ms (attempts + 1) */
    KITO_SMS_FAILED,  /* refused for good, or out of attempts */
    KITO_SMS_UNKNOWN, /* the call may have gone through (timeout): never sent again */
} kito_sms_outcome;

/* Records the outcome of sending message id (which must be 'sending'). */
kito_err kito_sms_record(kito_db_conn *db, uint64_t id, kito_sms_outcome outcome,
                         const char *provider_id, const char *status, const char *reason,
                         int64_t retry_at_ms);

/* After a crash: messages left 'sending' may or may not have gone; they become 'unknown'.
 * *count how many. Called once when the sender starts. */
kito_err kito_sms_recover(kito_db_conn *db, size_t *count);

/* A delivery report (id, status, failureReason): "Success" makes a sent message 'delivered';
 * "Failed" or "Rejected" 'undeliverable'; other statuses (Sent, Submitted, Buffered) are noted.
 * A report for a message already final, or for an id we never had, changes nothing (*known says
 * whether the id is ours). */
kito_err kito_sms_report(kito_db_conn *db, const char *provider_id, const char *status,
                         const char *reason, bool *known);

#endif
