/*
 * Africa's Talking's SMS API (issue 18), the one message at a time the outbox sends:
 *   POST {base}/version1/messaging, form username, to (E.164), message, from (optional);
 *   headers apiKey and Accept: application/json;
 *   answer {"SMSMessageData": {"Message": ..., "Recipients": [{"statusCode": 101, "number",
 *   "status": "Success", "cost", "messageId": "ATXid_..."}]}}.
 * statusCode 100 (Processed), 101 (Sent) and 102 (Queued) mean the gateway took the message;
 * 401..409 (risk hold, invalid sender id or number, unsupported number type, insufficient
 * balance, blacklisted, could not route, do-not-disturb) refuse it; 500..502 (internal, gateway
 * error, rejected by gateway) and HTTP 5xx may pass on a later try. Delivery reports come later
 * as form POSTs with id, status (Success, Failed, Rejected, ...), phoneNumber, networkCode,
 * failureReason (api/http/routes_sms.c). Sources: STACK-NOTES.md ("Africa's Talking SMS") and
 * Africa's Talking's SMS documentation (https://developers.africastalking.com/docs/sms/sending).
 *
 * Threads: any; kito_at_sms_send blocks (a worker thread, never the loop).
 */
#ifndef KITO_AFRICASTALKING_H
#define KITO_AFRICASTALKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

typedef struct kito_at_conf {
    const char *base_url; /* "https://api.africastalking.com" or a simulator */
    const char *username;
    const char *api_key; /* secret: never logged */
    const char *sender;  /* `from`; NULL or "" for the account's default */
    uint32_t timeout_ms;
} kito_at_conf;

/* What one send came to. */
typedef enum kito_at_verdict {
    KITO_AT_TAKEN,     /* statusCode 100..102: message_id set */
    KITO_AT_REFUSED,   /* refused for good (4xx statusCode, HTTP 4xx) */
    KITO_AT_TRY_LATER, /* not taken, nothing went out (connection refused, HTTP 5xx, 5xx status) */
    KITO_AT_UNKNOWN,   /* the call timed out or the answer was unreadable: it may have gone */
} kito_at_verdict;

typedef struct kito_at_result {
    kito_at_verdict verdict;
    int status_code;     /* the recipient's statusCode, 0 when none */
    char message_id[64]; /* messageId when taken */
    char status[40];     /* the recipient's status text, or the HTTP/transport error */
} kito_at_result;

/* Reads an answer body (HTTP status http_status) into out. Pure; for the driver and tests. */
void kito_at_sms_parse(long http_status, const char *body, size_t len, kito_at_result *out);

/* Sends message to to (E.164) and fills out. Blocks up to conf->timeout_ms. */
void kito_at_sms_send(const kito_at_conf *conf, const char *to, const char *message,
                      kito_at_result *out);

#endif
