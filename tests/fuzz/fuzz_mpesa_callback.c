/*
 * Fuzz target: the M-Pesa callbacks (B2C result, Transaction Status result, C2B validation and
 * confirmation) and the provider's synchronous answers (api/adapters/mpesa.h), the bytes a
 * network peer controls. Checks, besides "no crash": a parsed
 * result has a non-empty OriginatorConversationID that fits, a success always carries a
 * TransactionID, the strings are NUL-terminated within their buffers, a refusal gives a reason, and
 * the answer parsers never call an unreadable answer "accepted".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/adapters/mpesa.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    kito_mpesa_result r;
    char why[200] = "";
    kito_err e = kito_mpesa_result_parse(body, size, &r, why, sizeof(why));
    if (e == KITO_OK) {
        size_t n = strnlen(r.originator_conversation_id, sizeof(r.originator_conversation_id));
        CHECK(n > 0 && n < sizeof(r.originator_conversation_id));
        CHECK(strnlen(r.conversation_id, sizeof(r.conversation_id)) < sizeof(r.conversation_id));
        CHECK(strnlen(r.transaction_id, sizeof(r.transaction_id)) < sizeof(r.transaction_id));
        CHECK(strnlen(r.result_desc, sizeof(r.result_desc)) < sizeof(r.result_desc));
        CHECK(r.result_code != 0 || r.transaction_id[0] != '\0');
    } else {
        CHECK(e == KITO_E_MALFORMED_JSON || e == KITO_E_VALIDATION);
        CHECK(why[0] != '\0');
    }
    static const long statuses[] = {0, 200, 400, 404, 408, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        kito_mpesa_response a;
        kito_mpesa_response_parse(statuses[i], body, size, &a);
        if (a.ack == KITO_MPESA_ACK_ACCEPTED)
            CHECK(statuses[i] == 200 && a.conversation_id[0] != '\0');
        kito_mpesa_status st = kito_mpesa_status_ack_parse(statuses[i], body, size);
        CHECK(st == KITO_MPESA_STATUS_UNKNOWN ||
              (st == KITO_MPESA_STATUS_PENDING && statuses[i] == 200));
    }
    /* the Transaction Status result callback: a final success names a payment and its receipt */
    json_t *doc = size <= KITO_MPESA_BODY_MAX ? json_loadb(body, size, 0, NULL) : NULL;
    if (doc != NULL) {
        kito_mpesa_result s;
        kito_mpesa_status st;
        char swhy[200] = "";
        if (kito_mpesa_status_result_from_json(doc, &s, &st, swhy, sizeof(swhy)) == KITO_OK) {
            size_t n = strnlen(s.originator_conversation_id, sizeof(s.originator_conversation_id));
            CHECK(n > 0 && n <= 64);
            CHECK(st != KITO_MPESA_STATUS_UNKNOWN);
            CHECK(st != KITO_MPESA_STATUS_FINAL || s.result_code != 0 ||
                  s.transaction_id[0] != '\0');
        } else {
            CHECK(swhy[0] != '\0');
        }
        /* a C2B validation or confirmation: a TransID, a positive amount, a 14-digit time */
        kito_mpesa_c2b c;
        char cwhy[200] = "";
        if (kito_mpesa_c2b_from_json(doc, &c, cwhy, sizeof(cwhy)) == KITO_OK) {
            size_t n = strnlen(c.trans_id, sizeof(c.trans_id));
            CHECK(n > 0 && n < sizeof(c.trans_id));
            CHECK(c.amount_minor > 0);
            CHECK(strlen(c.trans_time) == 14);
        } else {
            CHECK(cwhy[0] != '\0');
        }
        json_decref(doc);
    }
    return 0;
}
