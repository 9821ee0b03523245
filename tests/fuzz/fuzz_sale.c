/*
 * Fuzz target: the sale and lot request decoders (api/store/repo_sales.h, api/store/repo_lots.h),
 * the pure half of POST /v1/sales, PATCH /v1/sales/{id}, POST /v1/sales/{id}/lots, PATCH
 * /v1/lots/{id}, POST /v1/sales/{id}/lots/order and POST /v1/sales/{id}/approvals' neighbours.
 * Bytes go through the JSON body parser, then every decoder. Besides "no crash" it checks that a
 * refusal names a field and a reason in valid UTF-8, that an accepted sale keeps every rule of
 * DESIGN.md and the engine (valid ladder, ends after starts, rates and windows in range, tender
 * pricing only for tenders, a venue where one is required), that an accepted sale survives the
 * PATCH round trip (kito_sale_input_to_json then decode gives the same input), and that the input
 * applied as a PATCH onto a fixed sale either is refused with a field or decodes to a valid sale.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/json.h"
#include "api/store/repo_lots.h"
#include "api/store/repo_sales.h"
#include "api/store/sql.h"
#include "tests/fuzz/fuzz.h"

static void check_verr(const kito_verr *ve)
{
    CHECK(ve->reason[0] != '\0');
    CHECK(kito_utf8_valid(ve->field, strlen(ve->field), NULL));
    CHECK(kito_utf8_valid(ve->reason, strlen(ve->reason), NULL));
}

/* What every accepted sale must be. */
static void check_sale(const kito_sale_input *in)
{
    CHECK(kito_ladder_validate(&in->ladder) == KITO_OK);
    CHECK(in->title[0] != '\0');
    CHECK(strcmp(in->format, "timed") == 0 || strcmp(in->format, "tender") == 0 ||
          strcmp(in->format, "live") == 0);
    CHECK(kito_validate_currency("c", in->currency, NULL) == KITO_OK);
    CHECK(in->starts_at_ms >= 0 && in->starts_at_ms <= KITO_TIME_MAX_MS);
    if (in->has_ends_at) {
        CHECK(in->ends_at_ms > in->starts_at_ms);
        CHECK(in->ends_at_ms - in->starts_at_ms <= (int64_t)KITO_SALE_DURATION_MAX_S * 1000);
    } else {
        CHECK(strcmp(in->format, "live") == 0);
    }
    CHECK(in->soft_close_s >= 0 && in->soft_close_s <= KITO_SALE_WINDOW_MAX_S);
    CHECK(in->stagger_s >= 0 && in->stagger_s <= KITO_SALE_WINDOW_MAX_S);
    CHECK(in->buyer_premium_bps >= 0 && in->buyer_premium_bps <= 10000);
    CHECK(in->commission_bps >= 0 && in->commission_bps <= 10000);
    CHECK(strcmp(in->tender_pricing, "first") == 0 ||
          (strcmp(in->tender_pricing, "second") == 0 && strcmp(in->format, "tender") == 0));
    if (!in->online || strcmp(in->format, "live") == 0)
        CHECK(in->has_venue);
    CHECK(kito_utf8_valid(in->title, strlen(in->title), NULL));
    CHECK(kito_utf8_valid(in->description, strlen(in->description), NULL));
    CHECK(kito_utf8_valid(in->venue, strlen(in->venue), NULL));
    /* every stored time can be written for SQL */
    char t[KITO_SQL_TIME_SIZE];
    kito_sql_time(in->starts_at_ms, t);
    CHECK(strlen(t) == KITO_SQL_TIME_SIZE - 1);
}

/* The PATCH round trip: render, decode, compare. */
static void check_round_trip(const kito_sale_input *in)
{
    static kito_sale_input back;
    kito_verr ve = {{0}};
    json_t *doc = kito_sale_input_to_json(in);
    CHECK(doc != NULL);
    CHECK(kito_sale_decode(doc, &back, &ve) == KITO_OK);
    CHECK(memcmp(in, &back, sizeof(back)) == 0);
    json_decref(doc);
}

/* The input as a PATCH onto a fixed draft. */
static void check_patch(const json_t *patch)
{
    static kito_sale_input base, out;
    static bool ready;
    kito_verr ve = {{0}};
    if (!ready) {
        json_t *b = json_loads("{\"title\":\"Base\",\"format\":\"tender\",\"starts_at\":"
                               "\"2030-01-01T00:00:00Z\",\"ends_at\":\"2030-01-02T00:00:00Z\"}",
                               0, NULL);
        CHECK(b != NULL && kito_sale_decode(b, &base, NULL) == KITO_OK);
        json_decref(b);
        ready = true;
    }
    if (kito_sale_patch_check(patch, &ve) != KITO_OK) {
        check_verr(&ve);
        return;
    }
    json_t *doc = kito_sale_input_to_json(&base);
    CHECK(doc != NULL && kito_sale_patch_apply(doc, patch) == KITO_OK);
    if (kito_sale_decode(doc, &out, &ve) == KITO_OK)
        check_sale(&out);
    else
        check_verr(&ve);
    json_decref(doc);
}

static void check_lots(const json_t *obj)
{
    kito_verr ve = {{0}};
    kito_lot_input in;
    if (kito_lot_decode(obj, &in, &ve) == KITO_OK) {
        CHECK(in.stone_id != 0);
        CHECK(in.opening_minor >= 1 && in.opening_minor <= KITO_AMOUNT_MAX);
        if (in.has_reserve)
            CHECK(in.reserve_minor >= in.opening_minor && in.reserve_minor <= KITO_AMOUNT_MAX);
        if (in.has_position)
            CHECK(in.position < KITO_SALE_LOTS_MAX);
    } else {
        check_verr(&ve);
    }
    kito_lot_patch p;
    memset(&ve, 0, sizeof(ve));
    if (kito_lot_patch_decode(obj, &p, &ve) == KITO_OK)
        CHECK(p.has_opening || p.has_reserve);
    else
        check_verr(&ve);
    static uint64_t ids[KITO_SALE_LOTS_MAX];
    size_t n = 0;
    memset(&ve, 0, sizeof(ve));
    if (kito_lot_order_decode(obj, ids, KITO_SALE_LOTS_MAX, &n, &ve) == KITO_OK) {
        CHECK(n >= 1 && n <= KITO_SALE_LOTS_MAX);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < i; k++)
                CHECK(ids[i] != ids[k]);
    } else {
        check_verr(&ve);
    }
    char reason[KITO_LOT_REASON_MAX * 4 + 1];
    memset(&ve, 0, sizeof(ve));
    if (kito_lot_withdraw_decode(obj, reason, &ve) == KITO_OK)
        CHECK(kito_utf8_valid(reason, strlen(reason), NULL));
    else
        check_verr(&ve);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kito_sale_input in;
    json_t *obj = NULL;
    kito_verr ve = {{0}};
    if (kito_json_parse((const char *)data, size, 64 * 1024, KITO_JSON_TOP_OBJECT, &obj, NULL) !=
        KITO_OK) {
        CHECK(obj == NULL);
        return 0;
    }
    if (kito_sale_decode(obj, &in, &ve) == KITO_OK) {
        check_sale(&in);
        check_round_trip(&in);
    } else {
        check_verr(&ve);
    }
    check_patch(obj);
    check_lots(obj);
    json_decref(obj);
    return 0;
}
