/*
 * Fuzz target: the MTN MoMo and Airtel Money drivers' parsers (api/adapters/rail.h), the bytes a
 * provider (or whoever answers in its place) controls: token answers, transfer acceptances and
 * status enquiries. Checks, besides "no crash": strings end within their buffers, a final success
 * always carries its receipt, a token fits and lives a positive time, and nothing unreadable is
 * called accepted or final.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/adapters/rail.h"
#include "tests/fuzz/fuzz.h"

static void check_result(const kito_rail_result *r)
{
    CHECK(strnlen(r->reference, sizeof(r->reference)) < sizeof(r->reference));
    CHECK(strnlen(r->provider_id, sizeof(r->provider_id)) < sizeof(r->provider_id));
    CHECK(strnlen(r->code, sizeof(r->code)) < sizeof(r->code));
    CHECK(strnlen(r->desc, sizeof(r->desc)) < sizeof(r->desc));
    CHECK(strnlen(r->transaction_id, sizeof(r->transaction_id)) < sizeof(r->transaction_id));
    CHECK(strnlen(r->currency, sizeof(r->currency)) < sizeof(r->currency));
    CHECK(strnlen(r->wallet, sizeof(r->wallet)) < sizeof(r->wallet));
    CHECK(!r->success || r->transaction_id[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    const kito_rail_driver *drivers[] = {&kito_rail_momo, &kito_rail_airtel};
    static const long statuses[] = {0, 200, 202, 401, 404, 409, 500};
    const char *ref = "a00616e3-0195-471a-a9db-9dc9e38da9ea";
    for (size_t d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
            kito_rail_answer a;
            drivers[d]->parse_acceptance(statuses[i], body, size, ref, &a);
            if (statuses[i] == 0)
                CHECK(a.ack == KITO_RAIL_ACK_UNKNOWN);
            if (a.final) {
                CHECK(a.ack == KITO_RAIL_ACK_ACCEPTED);
                check_result(&a.result);
            }
            kito_rail_result r;
            kito_rail_status st = drivers[d]->parse_status(statuses[i], body, size, ref, &r);
            if (statuses[i] != 200)
                CHECK(st != KITO_RAIL_STATUS_FINAL && st != KITO_RAIL_STATUS_PENDING);
            if (st == KITO_RAIL_STATUS_FINAL)
                check_result(&r);
        }
    }
    char token[64];
    int64_t life = 0;
    if (kito_rail_token_parse(200, body, size, token, sizeof(token), &life)) {
        CHECK(strnlen(token, sizeof(token)) < sizeof(token) && token[0] != '\0');
        CHECK(life > 0);
    }
    return 0;
}
