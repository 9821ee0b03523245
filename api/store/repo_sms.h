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

/* Messages of a batch of events whose miners' phones and languages the caller read already
 * (the settlement writer's one query for a batch): kito_sms_batch_add composes each in her
 * language, kito_sms_batch_write inserts them all with one statement, inside the caller's
 * transaction, skipping any whose dedupe key has a message already. */
typedef struct kito_sms_batch kito_sms_batch;

/* NULL when out of memory. Free with kito_sms_batch_free (NULL is fine). */
kito_sms_batch *kito_sms_batch_new(void);
void kito_sms_batch_free(kito_sms_batch *b);

/* Adds kind's message to phone (E.164; "" = she has none: nothing is added) in lang ("sw" or
 * else English). KITO_E_NOMEM. */
kito_err kito_sms_batch_add(kito_sms_batch *b, uint64_t account_id, const char *phone,
                            const char *lang, kito_sms_kind kind, const char *dedupe_key,
                            const char *const *values);

/* Messages added so far. */
size_t kito_sms_batch_count(const kito_sms_batch *b);

/* Writes the messages (none: no statement). Errors as api/store/sql.h. */
kito_err kito_sms_batch_write(kito_db_conn *db, const kito_sms_batch *b);

/* The lot-opened message (KITO_SMS_LOT_OPENED: the stone, the sale's title, the lot's number
 * and opening price) for each of lots ids[0..n) that does not have it yet, with one query and
 * one insert. Lots that are not there are skipped. */
kito_err kito_sms_lots_opened(kito_db_conn *db, const uint64_t *ids, size_t n);

/* A message due to be sent, claimed by the sender. */
typedef struct kito_sms_due {
    uint64_t id;
    char phone[17];
    char message[KITO_SMS_TEXT_SIZE];
    uint32_t attempts;
} kito_sms_due;

/* Reads up to max pending messages whose next attempt is due, oldest first, into out; *count
 * how many. Marks nothing: the sender claims each with kito_sms_claim just before its call. */
kito_err kito_sms_due_list(kito_db_conn *db, kito_sms_due *out, size_t max, size_t *count);

/* Claims message id for its send (pending -> sending, committed at once): *taken false when it
 * is no longer pending. One at a time, right before the call, so that a crash leaves at most the
 * message of the call in flight 'sending' (then 'unknown'), never a whole batch. */
kito_err kito_sms_claim(kito_db_conn *db, uint64_t id, bool *taken);

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
