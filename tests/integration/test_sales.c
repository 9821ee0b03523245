/* Sales, lots and buyer approvals over HTTPS against the real MariaDB (issue 4, "Sales and
 * lots"): an organiser's journey, row-level authorization, what the public sees (never a
 * reserve, never a draft), pagination, every validation error and that a refused request wrote
 * nothing, and the buyer registration and approval flow. Stones and certificates are arranged
 * directly in the database (kito_harness_sql), so these tests do not depend on the stones API. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/http/http_error.h"
#include "api/common/validate.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(sales, 180);

/* The status validation_failed maps to (api/http/http_error.c owns the mapping). */
#define VSTATUS ((long)kito_http_status(KITO_E_VALIDATION))

/* ---- helpers --------------------------------------------------------------------------------- */

typedef kito_who who;

/* A request with an optional bearer token and JSON body (printf-style; NULL: none). */
#define call(w, method, path, ...) kito_harness_callf(&kd, w, NULL, method, path, __VA_ARGS__)

/* Asserts a validation error whose message names field. */
static void expect_invalid(const struct kito_http_resp *r, const char *field, const char *what)
{
    kito_assert_error(r, VSTATUS, "validation_failed");
    const char *msg =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    cr_assert(msg != NULL && strstr(msg, field) != NULL, "%s: message \"%s\" does not name %s",
              what, msg ? msg : "", field);
}

#define str kito_harness_str
#define at kito_harness_at

/* A draft sale of format by w starting tomorrow; extra is more members (",..." or ""). The id
 * goes into id. */
static void new_sale_as(const who *w, const char *format, const char *extra, char id[KITO_ID_SIZE])
{
    char s[KITO_TIME_SIZE], e[KITO_TIME_SIZE];
    struct kito_http_resp r = call(w, "POST", "/v1/sales",
                                   "{\"title\":\"Tanzanite and spinel, Arusha\",\"format\":\"%s\","
                                   "\"starts_at\":\"%s\",\"ends_at\":\"%s\"%s}",
                                   format, at(86400, s), at(3 * 86400, e), extra);
    kito_harness_expect(&r, 201, "create sale");
    snprintf(id, KITO_ID_SIZE, "%s", str(&r, "id"));
    kito_http_resp_free(&r);
}

static void new_sale(const who *w, const char *extra, char id[KITO_ID_SIZE])
{
    new_sale_as(w, "timed", extra, id);
}

/* A test miner's stone; with a certificate when certified. Its id goes into id. */
static void new_stone(bool certified, char id[KITO_ID_SIZE])
{
    static unsigned long long miner;
    if (miner == 0)
        miner = kito_harness_account("miner", NULL, 0);
    kito_harness_stone(miner, miner, certified, id);
}

/* Adds a lot of a new certified stone to sale; returns the lot id. */
static void new_lot(const who *w, const char *sale, long opening, long reserve,
                    char id[KITO_ID_SIZE])
{
    char stone[KITO_ID_SIZE], path[128];
    new_stone(true, stone);
    kito_harness_offer(stone, w->id); /* the miner's consent (DESIGN.md) */
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    struct kito_http_resp r =
        reserve > 0
            ? call(w, "POST", path, "{\"stone_id\":\"%s\",\"opening\":%ld,\"reserve\":%ld}", stone,
                   opening, reserve)
            : call(w, "POST", path, "{\"stone_id\":\"%s\",\"opening\":%ld}", stone, opening);
    kito_harness_expect(&r, 201, "add lot");
    snprintf(id, KITO_ID_SIZE, "%s", str(&r, "id"));
    kito_http_resp_free(&r);
}

static unsigned long long key_of(const char *prefix, const char *id)
{
    uint64_t k = 0;
    cr_assert_eq(kito_id_parse(prefix, id, &k), KITO_OK, "bad id %s", id);
    return (unsigned long long)k;
}

#define count kito_harness_count

/* Everything a refused request could have written about organiser w. */
static long long footprint(const who *w)
{
    return count("SELECT (SELECT COUNT(*) FROM sales WHERE organizer_id = %llu)"
                 " + (SELECT COUNT(*) FROM audit_log WHERE actor_id = %llu)"
                 " + (SELECT COUNT(*) FROM lots l JOIN sales s ON s.id = l.sale_id"
                 "    WHERE s.organizer_id = %llu)"
                 " + (SELECT COALESCE(SUM(l.position + l.opening_minor"
                 "    + COALESCE(l.reserve_minor, 0)), 0) FROM lots l JOIN sales s"
                 "    ON s.id = l.sale_id WHERE s.organizer_id = %llu)",
                 w->id, w->id, w->id, w->id);
}

/* ---- the organiser's journey ----------------------------------------------------------------- */

Test(sales, organiser_journey)
{
    who org = kito_harness_person("organizer");
    char sale[KITO_ID_SIZE], path[160], lots[3][KITO_ID_SIZE];
    new_sale(&org, "", sale);

    /* defaults of DESIGN.md */
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    struct kito_http_resp r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "get own draft");
    cr_assert_str_eq(str(&r, "status"), "draft");
    cr_assert_str_eq(str(&r, "currency"), "USD");
    cr_assert_str_eq(str(&r, "organizer_id"), org.acc);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "soft_close_s")), 120);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "stagger_s")), 60);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "buyer_premium_bps")), 1000);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "commission_bps")), 500);
    cr_assert(json_is_true(json_object_get(r.json, "online")));
    json_t *ladder = json_object_get(r.json, "ladder");
    cr_assert_eq(json_array_size(ladder), 10);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(ladder, 1), "from_minor")),
                 10000);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(ladder, 1), "step_minor")),
                 1000);
    kito_http_resp_free(&r);

    /* publishing an empty sale is refused */
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = call(&org, "POST", path, NULL);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    for (int i = 0; i < 3; i++)
        new_lot(&org, sale, 10000 * (i + 1), i == 1 ? 0 : 50000 * (i + 1), lots[i]);

    /* numbers and positions, the owner's view with the reserve and the stone summary */
    snprintf(path, sizeof(path), "/v1/lots/%s", lots[2]);
    r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "get lot");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "lot_number")), 3);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "position")), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "reserve"), "amount")),
                 150000);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "opening"), "amount")),
                 30000);
    json_t *stone = json_object_get(r.json, "stone");
    cr_assert_str_eq(json_string_value(json_object_get(stone, "species")), "zoisite");
    cr_assert_str_eq(json_string_value(json_object_get(stone, "weight_ct")), "3.12");
    cr_assert(strncmp(json_string_value(json_object_get(stone, "certificate_id")), "crt_", 4) == 0);
    cr_assert_str_eq(str(&r, "state"), "scheduled");
    kito_http_resp_free(&r);

    /* the stone is listed, with its provenance event, in the same transaction */
    unsigned long long lot3 = key_of("lot", lots[2]);
    cr_assert_eq(count("SELECT COUNT(*) FROM provenance_events p JOIN lots l ON l.stone_id ="
                       " p.stone_id WHERE l.id = %llu AND p.kind = 'listed'",
                       lot3),
                 1);
    cr_assert_eq(count("SELECT COUNT(*) FROM stones s JOIN lots l ON l.stone_id = s.id"
                       " WHERE l.id = %llu AND s.status = 'listed'",
                       lot3),
                 1);

    /* change a lot while draft */
    snprintf(path, sizeof(path), "/v1/lots/%s", lots[1]);
    r = call(&org, "PATCH", path, "{\"opening\":12000,\"reserve\":20000}");
    kito_harness_expect(&r, 200, "patch lot");
    cr_assert(json_is_true(json_object_get(r.json, "has_reserve")));
    kito_http_resp_free(&r);

    /* reorder: 3, 1, 2 */
    snprintf(path, sizeof(path), "/v1/sales/%s/lots/order", sale);
    r = call(&org, "POST", path, "{\"lot_ids\":[\"%s\",\"%s\",\"%s\"]}", lots[2], lots[0], lots[1]);
    kito_harness_expect(&r, 200, "reorder");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "list lots");
    json_t *items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "id")), lots[2]);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "id")), lots[0]);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 2), "id")), lots[1]);
    /* lot_number stays; the staggered close follows the position */
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(items, 0), "lot_number")), 3);
    kito_http_resp_free(&r);

    /* a reorder that misses or repeats a lot, or names another sale's, changes nothing */
    long long before = footprint(&org);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots/order", sale);
    r = call(&org, "POST", path, "{\"lot_ids\":[\"%s\",\"%s\"]}", lots[0], lots[1]);
    expect_invalid(&r, "lot_ids", "reorder missing one");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"lot_ids\":[\"%s\",\"%s\",\"%s\"]}", lots[0], lots[0], lots[1]);
    expect_invalid(&r, "lot_ids[1]", "reorder repeat");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"lot_ids\":[\"%s\",\"%s\",\"lot_0000000000zzz\"]}", lots[0],
             lots[1]);
    expect_invalid(&r, "lot_ids", "reorder stranger");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&org), before);

    /* withdraw one while draft: the stone is free again, the rest keep their places */
    snprintf(path, sizeof(path), "/v1/lots/%s/withdraw", lots[0]);
    r = call(&org, "POST", path, "{\"reason\":\"the miner asked to keep it\"}");
    kito_harness_expect(&r, 200, "withdraw");
    cr_assert_str_eq(str(&r, "state"), "withdrawn");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, NULL);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    unsigned long long lot1 = key_of("lot", lots[0]);
    cr_assert_eq(count("SELECT COUNT(*) FROM stones s JOIN lots l ON l.stone_id = s.id"
                       " WHERE l.id = %llu AND s.status = 'certified'",
                       lot1),
                 1);

    /* publish */
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    cr_assert_str_eq(str(&r, "status"), "published");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "lot_count")), 2);
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{}");
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    /* after publication: no new lots, no edits */
    char stone2[KITO_ID_SIZE];
    new_stone(true, stone2);
    kito_harness_offer(stone2, org.id);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100}", stone2);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    r = call(&org, "PATCH", path, "{\"title\":\"Renamed\"}");
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    /* every change is in the audit trail */
    unsigned long long sk = key_of("sal", sale);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE entity = 'sale' AND entity_id = %llu"
                       " AND action IN ('sale.create', 'sale.publish', 'lot.reorder')",
                       sk),
                 3);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log a JOIN lots l ON a.entity = 'lot' AND"
                       " a.entity_id = l.id WHERE l.sale_id = %llu",
                       sk),
                 5); /* 3 lot.create, 1 lot.update, 1 lot.withdraw */

    /* cancel before the start: the lots are withdrawn and their stones freed */
    snprintf(path, sizeof(path), "/v1/sales/%s/cancel", sale);
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "cancel");
    cr_assert_str_eq(str(&r, "status"), "cancelled");
    kito_http_resp_free(&r);
    cr_assert_eq(
        count("SELECT COUNT(*) FROM lots WHERE sale_id = %llu AND state <> 'withdrawn'", sk), 0);
    cr_assert_eq(count("SELECT COUNT(*) FROM lots l JOIN stones s ON s.id = l.stone_id"
                       " WHERE l.sale_id = %llu AND s.status = 'listed'",
                       sk),
                 0);
    /* cancel is idempotent: the repeat answers the cancelled sale and writes nothing more */
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "cancel again");
    cr_assert_str_eq(str(&r, "status"), "cancelled");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE action = 'sale.cancel' AND"
                       " entity_id = %llu",
                       sk),
                 1);
}

/* The schema refuses a sale without a ladder rung (migration 011), whatever wrote it. */
Test(sales, the_schema_refuses_an_empty_ladder)
{
    who org = kito_harness_person("organizer");
    char sale[KITO_ID_SIZE], ladder[256];
    new_sale(&org, "", sale);
    unsigned long long key = key_of("sal", sale);
    unsigned e = kito_harness_sql_errno("UPDATE sales SET ladder_json = '[]' WHERE id = %llu", key);
    cr_assert_eq(e, 4025, "an empty ladder: error %u, want 4025 (CHECK constraint)", e);
    e = kito_harness_sql_errno("UPDATE sales SET ladder_json = '{}' WHERE id = %llu", key);
    cr_assert_eq(e, 4025, "an object for a ladder: error %u, want 4025", e);
    kito_harness_sql_value(ladder, sizeof(ladder),
                           "SELECT JSON_LENGTH(ladder_json) FROM sales WHERE id = %llu", key);
    cr_assert_eq(strtol(ladder, NULL, 10), 10, "the default ladder is unchanged: %s", ladder);
}

Test(sales, patch_a_draft)
{
    who org = kito_harness_person("organizer");
    char sale[KITO_ID_SIZE], path[160], lot[KITO_ID_SIZE];
    new_sale_as(&org, "tender", ",\"tender_pricing\":\"second\"", sale);
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    struct kito_http_resp r =
        call(&org, "PATCH", path,
             "{\"title\":\"Mahenge spinel tender\",\"description\":\"Rough spinel\\nfrom Mahenge\","
             "\"ladder\":[{\"from_minor\":0,\"step_minor\":100},{\"from_minor\":5000,"
             "\"step_minor\":500}],\"buyer_premium_bps\":900}");
    kito_harness_expect(&r, 200, "patch sale");
    cr_assert_str_eq(str(&r, "title"), "Mahenge spinel tender");
    cr_assert_str_eq(str(&r, "tender_pricing"), "second");
    cr_assert_eq(json_array_size(json_object_get(r.json, "ladder")), 2);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "buyer_premium_bps")), 900);
    kito_http_resp_free(&r);

    /* the merged result is validated as a whole; nothing is written when it fails */
    long long before = footprint(&org);
    r = call(&org, "PATCH", path, "{\"format\":\"timed\"}"); /* tender_pricing still set */
    expect_invalid(&r, "tender_pricing", "timed with tender pricing");
    kito_http_resp_free(&r);
    r = call(&org, "PATCH", path, "{\"title\":null}");
    expect_invalid(&r, "title", "title removed");
    kito_http_resp_free(&r);
    r = call(&org, "PATCH", path, "{\"colour\":\"blue\"}");
    expect_invalid(&r, "colour", "unknown field");
    kito_http_resp_free(&r);
    r = call(&org, "PATCH", path, "{\"ends_at\":\"2020-01-01T00:00:00Z\"}");
    expect_invalid(&r, "ends_at", "ends before starts");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&org), before);

    /* the currency cannot change under priced lots */
    new_lot(&org, sale, 5000, 0, lot);
    before = footprint(&org);
    r = call(&org, "PATCH", path, "{\"currency\":\"EUR\"}");
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&org), before);
}

/* ---- authorization by row -------------------------------------------------------------------- */

Test(sales, another_organiser_is_refused)
{
    who org = kito_harness_person("organizer"), other = kito_harness_person("organizer"),
        buyer = kito_harness_person("buyer");
    char sale[KITO_ID_SIZE], lot[KITO_ID_SIZE], stone[KITO_ID_SIZE], path[200];
    new_sale(&org, "", sale);
    new_lot(&org, sale, 1000, 2000, lot);
    new_stone(true, stone);
    kito_harness_offer(stone, org.id);
    long long before = footprint(&org) + footprint(&other);

    struct {
        const char *method;
        char path[200];
        char body[200];
        bool has_body;
    } calls[10];
    size_t n = 0;
#define CALL(m, b, ...)                                                                            \
    do {                                                                                           \
        calls[n].method = (m);                                                                     \
        snprintf(calls[n].path, sizeof(calls[n].path), __VA_ARGS__);                               \
        calls[n].has_body = (b) != NULL;                                                           \
        snprintf(calls[n].body, sizeof(calls[n].body), "%s", (b) != NULL ? (b) : "");              \
        n++;                                                                                       \
    } while (0)
    char lot_body[200], approve_body[200], order_body[200];
    snprintf(lot_body, sizeof(lot_body), "{\"stone_id\":\"%s\",\"opening\":100}", stone);
    snprintf(approve_body, sizeof(approve_body), "{\"buyer_id\":\"%s\"}", buyer.acc);
    snprintf(order_body, sizeof(order_body), "{\"lot_ids\":[\"%s\"]}", lot);
    CALL("PATCH", "{\"title\":\"Mine now\"}", "/v1/sales/%s", sale);
    CALL("POST", NULL, "/v1/sales/%s/publish", sale);
    CALL("POST", NULL, "/v1/sales/%s/cancel", sale);
    CALL("POST", lot_body, "/v1/sales/%s/lots", sale);
    CALL("POST", order_body, "/v1/sales/%s/lots/order", sale);
    CALL("PATCH", "{\"opening\":5}", "/v1/lots/%s", lot);
    CALL("POST", NULL, "/v1/lots/%s/withdraw", lot);
    CALL("GET", NULL, "/v1/sales/%s/registrations", sale);
    CALL("POST", approve_body, "/v1/sales/%s/approvals", sale);
    CALL("DELETE", NULL, "/v1/sales/%s/approvals/%s", sale, buyer.acc);
#undef CALL
    for (size_t i = 0; i < n; i++) {
        struct kito_http_resp r =
            calls[i].has_body ? call(&other, calls[i].method, calls[i].path, "%s", calls[i].body)
                              : call(&other, calls[i].method, calls[i].path, NULL);
        cr_assert_eq(r.status, 403, "%s %s: %ld %s", calls[i].method, calls[i].path, r.status,
                     r.body);
        kito_assert_error(&r, 403, "forbidden");
        kito_http_resp_free(&r);
    }
    cr_assert_eq(footprint(&org) + footprint(&other), before);

    /* her draft does not even exist for the other organiser's reads */
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    struct kito_http_resp r = call(&other, "GET", path, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/lots/%s", lot);
    r = call(&other, "GET", path, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);

    /* an operator may act on any sale */
    who op = kito_harness_person("operator");
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    r = call(&op, "PATCH", path, "{\"title\":\"Checked by operations\"}");
    kito_harness_expect(&r, 200, "operator patch");
    kito_http_resp_free(&r);
}

/* ---- what the public sees -------------------------------------------------------------------- */

Test(sales, public_views_hide_reserve_and_drafts)
{
    who org = kito_harness_person("organizer"), buyer = kito_harness_person("buyer");
    char sale[KITO_ID_SIZE], lot[KITO_ID_SIZE], lot2[KITO_ID_SIZE], path[200];
    new_sale(&org, "", sale);
    new_lot(&org, sale, 1000, 98765, lot);
    new_lot(&org, sale, 1000, 0, lot2);

    /* a draft is invisible: by id, its lots, and in lists */
    const char *paths[] = {"/v1/sales/%s", "/v1/sales/%s/lots"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), paths[i], sale);
        struct kito_http_resp r = call(NULL, "GET", path, NULL);
        kito_assert_error(&r, 404, "not_found");
        kito_http_resp_free(&r);
        r = call(&buyer, "GET", path, NULL);
        kito_assert_error(&r, 404, "not_found");
        kito_http_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/v1/lots/%s", lot);
    struct kito_http_resp r = call(NULL, "GET", path, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = call(NULL, "GET", "/v1/sales?status=draft&limit=100", NULL);
    kito_harness_expect(&r, 200, "public drafts");
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
    kito_http_resp_free(&r);
    /* ...but the organiser sees her own drafts listed */
    r = call(&org, "GET", "/v1/sales?status=draft&limit=100", NULL);
    kito_harness_expect(&r, 200, "own drafts");
    cr_assert(strstr(r.body, sale) != NULL);
    json_t *item;
    size_t i;
    json_array_foreach(json_object_get(r.json, "items"), i, item)
        cr_assert_str_eq(json_string_value(json_object_get(item, "organizer_id")), org.acc);
    kito_http_resp_free(&r);

    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);

    /* public and other roles: never the reserve, only has_reserve and reserve_met */
    const who *viewers[] = {NULL, &buyer};
    for (int v = 0; v < 2; v++) {
        snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
        r = call(viewers[v], "GET", path, NULL);
        kito_harness_expect(&r, 200, "public lots");
        cr_assert(strstr(r.body, "\"reserve\"") == NULL, "reserve shown: %s", r.body);
        cr_assert(strstr(r.body, "98765") == NULL, "reserve amount shown: %s", r.body);
        json_t *first = json_array_get(json_object_get(r.json, "items"), 0);
        cr_assert(json_is_true(json_object_get(first, "has_reserve")));
        cr_assert(json_is_null(json_object_get(first, "reserve_met")));
        json_t *second = json_array_get(json_object_get(r.json, "items"), 1);
        cr_assert(json_is_false(json_object_get(second, "has_reserve")));
        kito_http_resp_free(&r);
        snprintf(path, sizeof(path), "/v1/lots/%s", lot);
        r = call(viewers[v], "GET", path, NULL);
        kito_harness_expect(&r, 200, "public lot");
        cr_assert(strstr(r.body, "\"reserve\"") == NULL, "reserve shown: %s", r.body);
        cr_assert(strstr(r.body, "98765") == NULL, "reserve amount shown: %s", r.body);
        cr_assert(json_object_get(r.json, "reserve_met") != NULL);
        kito_http_resp_free(&r);
        snprintf(path, sizeof(path), "/v1/sales/%s", sale);
        r = call(viewers[v], "GET", path, NULL);
        kito_harness_expect(&r, 200, "public sale");
        kito_http_resp_free(&r);
    }
    /* the organiser does see it */
    snprintf(path, sizeof(path), "/v1/lots/%s", lot);
    r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "own lot");
    cr_assert(strstr(r.body, "\"reserve\"") != NULL);
    cr_assert(strstr(r.body, "98765") != NULL);
    kito_http_resp_free(&r);
}

/* ---- pagination ------------------------------------------------------------------------------ */

/* Walks path (with "?limit=N" already) to the end; returns the ids seen, in order. */
static size_t walk(const who *w, const char *path, char ids[][KITO_ID_SIZE], size_t cap,
                   size_t *pages)
{
    char next[256] = "", url[512];
    size_t n = 0;
    *pages = 0;
    for (;;) {
        snprintf(url, sizeof(url), "%s%s%s", path, next[0] ? "&cursor=" : "", next);
        struct kito_http_resp r = call(w, "GET", url, NULL);
        kito_harness_expect(&r, 200, url);
        (*pages)++;
        json_t *item;
        size_t i;
        json_array_foreach(json_object_get(r.json, "items"), i, item)
        {
            cr_assert(n < cap, "more rows than expected");
            snprintf(ids[n++], KITO_ID_SIZE, "%s", json_string_value(json_object_get(item, "id")));
        }
        json_t *c = json_object_get(r.json, "next_cursor");
        if (json_is_null(c)) {
            kito_http_resp_free(&r);
            break;
        }
        snprintf(next, sizeof(next), "%s", json_string_value(c));
        kito_http_resp_free(&r);
        cr_assert(*pages < 10000, "the cursor never ends");
    }
    return n;
}

Test(sales, pagination)
{
    who org = kito_harness_person("organizer");
    char sale[KITO_ID_SIZE], lots[7][KITO_ID_SIZE], path[200];
    new_sale(&org, "", sale);
    for (int i = 0; i < 7; i++)
        new_lot(&org, sale, 100 + i, 0, lots[i]);
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    struct kito_http_resp r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);

    static char seen[16][KITO_ID_SIZE];
    size_t pages;
    snprintf(path, sizeof(path), "/v1/sales/%s/lots?limit=3", sale);
    size_t n = walk(NULL, path, seen, 16, &pages);
    cr_assert_eq(n, 7);
    cr_assert_eq(pages, 3);
    for (int i = 0; i < 7; i++)
        cr_assert_str_eq(seen[i], lots[i], "page order: %s at %d, want %s", seen[i], i, lots[i]);

    /* a tampered cursor, a cursor of another list, a bad limit, an unknown parameter */
    snprintf(path, sizeof(path), "/v1/sales/%s/lots?limit=3", sale);
    r = call(NULL, "GET", path, NULL);
    char cursor[64];
    snprintf(cursor, sizeof(cursor), "%s",
             json_string_value(json_object_get(r.json, "next_cursor")));
    kito_http_resp_free(&r);
    cursor[5] = cursor[5] == 'A' ? 'B' : 'A';
    snprintf(path, sizeof(path), "/v1/sales/%s/lots?limit=3&cursor=%s", sale, cursor);
    r = call(NULL, "GET", path, NULL);
    expect_invalid(&r, "cursor", "tampered cursor");
    kito_http_resp_free(&r);
    r = call(NULL, "GET", "/v1/sales?limit=1", NULL);
    kito_harness_expect(&r, 200, "sales page");
    const char *sc = json_string_value(json_object_get(r.json, "next_cursor"));
    if (sc != NULL) {
        snprintf(path, sizeof(path), "/v1/sales/%s/lots?cursor=%s", sale, sc);
        struct kito_http_resp r2 = call(NULL, "GET", path, NULL);
        expect_invalid(&r2, "cursor", "another list's cursor");
        kito_http_resp_free(&r2);
    }
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots?limit=101", sale);
    r = call(NULL, "GET", path, NULL);
    expect_invalid(&r, "limit", "limit too big");
    kito_http_resp_free(&r);
    r = call(NULL, "GET", "/v1/sales?species=beryl", NULL);
    expect_invalid(&r, "species", "unknown parameter");
    kito_http_resp_free(&r);
    r = call(NULL, "GET", "/v1/sales?status=running", NULL);
    expect_invalid(&r, "status", "unknown status");
    kito_http_resp_free(&r);

    /* the sales list: five more published sales, walked two at a time, each seen exactly once */
    char mine[5][KITO_ID_SIZE], lot[KITO_ID_SIZE];
    for (int i = 0; i < 5; i++) {
        new_sale(&org, "", mine[i]);
        new_lot(&org, mine[i], 100, 0, lot);
        snprintf(path, sizeof(path), "/v1/sales/%s/publish", mine[i]);
        r = call(&org, "POST", path, NULL);
        kito_harness_expect(&r, 200, "publish");
        kito_http_resp_free(&r);
    }
    static char all[20000][KITO_ID_SIZE];
    n = walk(NULL, "/v1/sales?status=published&format=timed&currency=USD&limit=2", all, 20000,
             &pages);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            cr_assert_str_neq(all[a], all[b], "%s listed twice", all[a]);
    for (int i = 0; i < 5; i++) {
        int hits = 0;
        for (size_t a = 0; a < n; a++)
            hits += strcmp(all[a], mine[i]) == 0;
        cr_assert_eq(hits, 1, "%s seen %d times", mine[i], hits);
    }
}

/* ---- validation ------------------------------------------------------------------------------ */

/* The lot numbers a lots list answers, as "1,3" (in running order). */
static void lot_numbers(const char *path, char *out, size_t cap)
{
    struct kito_http_resp r = call(NULL, "GET", path, NULL);
    kito_harness_expect(&r, 200, path);
    size_t i, n = 0;
    json_t *item;
    out[0] = '\0';
    json_array_foreach(json_object_get(r.json, "items"), i, item) n +=
        (size_t)snprintf(out + n, cap - n, "%s%lld", n ? "," : "",
                         (long long)json_integer_value(json_object_get(item, "lot_number")));
    kito_http_resp_free(&r);
}

/* Issue 16, "Find": a sale page's filters by species, weight and price, and its search, run on
 * the server (a sale holds up to 1000 lots). */
Test(sales, lots_filter_by_species_weight_price_and_search)
{
    who org = kito_harness_person("organizer");
    char sale[KITO_ID_SIZE], lots[4][KITO_ID_SIZE], path[300], got[64];
    static const struct {
        const char *species, *variety, *colour, *region;
        int cct;
        long opening;
    } stones[4] = {
        {"zoisite", "tanzanite", "violet blue", "Manyara", 312, 40000},
        {"corundum", "ruby", "red", "Morogoro", 150, 90000},
        {"beryl", "emerald", "green", "Kafubu", 520, 120000},
        {"corundum", "sapphire", "blue 50%_x", "Tunduru", 210, 60000},
    };
    new_sale(&org, "", sale);
    for (int i = 0; i < 4; i++) {
        new_lot(&org, sale, stones[i].opening, 0, lots[i]);
        kito_harness_sql("UPDATE stones st JOIN lots l ON l.stone_id = st.id SET st.species = '%s',"
                         " st.variety = '%s', st.colour = '%s', st.origin_region = '%s',"
                         " st.weight_cct = %d WHERE l.id = %llu",
                         stones[i].species, stones[i].variety, stones[i].colour, stones[i].region,
                         stones[i].cct, key_of(KITO_ID_LOT, lots[i]));
    }
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    struct kito_http_resp r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);

    static const struct {
        const char *query, *want;
    } cases[] = {
        {"", "1,2,3,4"},
        {"species=corundum", "2,4"},
        {"min_weight_ct=2", "1,3,4"},
        {"min_weight_ct=1.5&max_weight_ct=3.12", "1,2,4"},
        {"min_price=60000", "2,3,4"},
        {"max_price=60000", "1,4"},
        {"min_price=50000&max_price=100000&species=corundum", "2,4"},
        {"q=TANZANITE", "1"},
        {"q=blue", "1,4"},
        {"q=blue+manyara", "1"},
        {"q=violet%20Kafubu", ""},
        {"q=50%25", "4"},   /* % is a character, not LIKE's wildcard */
        {"q=%25", "4"},     /* only the lot whose colour has one */
        {"q=_", "4"},       /* nor is _ */
        {"q=+", "1,2,3,4"}, /* no words: no search */
        {"species=beryl&q=green", "3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(path, sizeof(path), "/v1/sales/%s/lots?%s", sale, cases[i].query);
        lot_numbers(path, got, sizeof(got));
        cr_assert_str_eq(got, cases[i].want, "%s: lots %s, want %s", cases[i].query, got,
                         cases[i].want);
    }

    /* a price filter cuts pages after they are read: walking them still finds each lot once */
    static char seen[8][KITO_ID_SIZE];
    size_t pages;
    snprintf(path, sizeof(path), "/v1/sales/%s/lots?min_price=60000&limit=1", sale);
    cr_assert_eq(walk(NULL, path, seen, 8, &pages), 3);
    cr_assert_str_eq(seen[0], lots[1]);
    cr_assert_str_eq(seen[2], lots[3]);

    /* bad filters: 422 naming the parameter */
    static const struct {
        const char *query, *field;
    } bad[] = {
        {"species=diamond", "species"},
        {"min_weight_ct=abc", "min_weight_ct"},
        {"min_weight_ct=3&max_weight_ct=2", "max_weight_ct"},
        {"min_price=-5", "min_price"},
        {"min_price=1.5", "min_price"},
        {"min_price=500&max_price=100", "max_price"},
        {"q=a+b+c+d+e", "q"},
        {"q=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "q"}, /* 41 bytes */
        {"q=%01", "q"},
        {"colour=red", "colour"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/sales/%s/lots?%s", sale, bad[i].query);
        r = call(NULL, "GET", path, NULL);
        expect_invalid(&r, bad[i].field, bad[i].query);
        kito_http_resp_free(&r);
    }
}

Test(sales, every_validation_error_and_nothing_written)
{
    who org = kito_harness_person("organizer");
    char s[KITO_TIME_SIZE], e[KITO_TIME_SIZE];
    at(86400, s);
    at(2 * 86400, e);
    long long before = footprint(&org);
    struct {
        const char *field, *body;
    } bad[] = {
        {"ends_at", "\"format\":\"timed\",\"starts_at\":\"E\",\"ends_at\":\"S\""},
        {"ends_at", "\"format\":\"timed\",\"starts_at\":\"S\""},
        {"buyer_premium_bps", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                              "\"buyer_premium_bps\":10001"},
        {"commission_bps", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                           "\"commission_bps\":-1"},
        {"ladder[0].from_minor", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                                 "\"ladder\":[{\"from_minor\":100,\"step_minor\":5}]"},
        {"ladder[1].step_minor", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                                 "\"ladder\":[{\"from_minor\":0,\"step_minor\":50},"
                                 "{\"from_minor\":100,\"step_minor\":10}]"},
        {"ladder[1].from_minor", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                                 "\"ladder\":[{\"from_minor\":0,\"step_minor\":50},"
                                 "{\"from_minor\":0,\"step_minor\":60}]"},
        {"ladder[0].step_minor", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                                 "\"ladder\":[{\"from_minor\":0,\"step_minor\":0}]"},
        {"ladder", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\",\"ladder\":[]"},
        {"ladder[0].size", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                           "\"ladder\":[{\"from_minor\":0,\"step_minor\":5,\"size\":1}]"},
        {"colour", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\",\"colour\":\"red\""},
        {"currency", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                     "\"currency\":\"XYZ\""},
        {"ladder", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                   "\"currency\":\"TZS\""},
        {"format", "\"format\":\"dutch\",\"starts_at\":\"S\",\"ends_at\":\"E\""},
        {"venue", "\"format\":\"live\",\"starts_at\":\"S\""},
        {"venue", "\"format\":\"timed\",\"online\":false,\"starts_at\":\"S\",\"ends_at\":\"E\""},
        {"tender_pricing", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                           "\"tender_pricing\":\"second\""},
        {"tender_pricing", "\"format\":\"tender\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                           "\"tender_pricing\":\"third\""},
        {"soft_close_s", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                         "\"soft_close_s\":3601"},
        {"stagger_s", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\","
                      "\"stagger_s\":1.5"},
        {"starts_at", "\"format\":\"timed\",\"starts_at\":\"tomorrow\",\"ends_at\":\"E\""},
        {"online", "\"format\":\"timed\",\"starts_at\":\"S\",\"ends_at\":\"E\",\"online\":1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* S and E stand for the start and end times */
        char members[1024] = "", *o = members;
        for (const char *p = bad[i].body; *p != '\0'; p++) {
            if ((*p == 'S' || *p == 'E') && p[-1] == '"' && p[1] == '"')
                o += sprintf(o, "%s", *p == 'S' ? s : e);
            else
                *o++ = *p;
        }
        *o = '\0';
        struct kito_http_resp r =
            call(&org, "POST", "/v1/sales", "{\"title\":\"Bad sale\",%s}", members);
        char what[64];
        snprintf(what, sizeof(what), "case %zu (%s)", i, bad[i].field);
        expect_invalid(&r, bad[i].field, what);
        kito_http_resp_free(&r);
    }
    struct kito_http_resp r = call(&org, "POST", "/v1/sales",
                                   "{\"title\":\"   \",\"format\":"
                                   "\"timed\",\"starts_at\":\"%s\",\"ends_at\":\"%s\"}",
                                   s, e);
    expect_invalid(&r, "title", "blank title");
    kito_http_resp_free(&r);
    r = call(&org, "POST", "/v1/sales", "[1]");
    cr_assert(r.status == 400 || r.status == VSTATUS, "an array body: %ld", r.status);
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&org), before, "a refused sale wrote something");

    /* lots */
    char sale[KITO_ID_SIZE], lot[KITO_ID_SIZE], path[200], stone[KITO_ID_SIZE], bare[KITO_ID_SIZE],
        other_sale[KITO_ID_SIZE];
    new_sale(&org, "", sale);
    new_sale(&org, "", other_sale);
    new_lot(&org, other_sale, 1000, 0, lot);
    new_stone(true, stone);
    kito_harness_offer(stone, org.id);
    new_stone(false, bare);
    /* the stone of the lot in the other sale */
    char taken[KITO_ID_SIZE], key[32];
    kito_harness_sql_value(key, sizeof(key), "SELECT stone_id FROM lots WHERE id = %llu",
                           key_of("lot", lot));
    kito_id_format(KITO_ID_STONE, strtoull(key, NULL, 10), taken, sizeof(taken));
    before = footprint(&org);
    long long provenance = count("SELECT COUNT(*) FROM provenance_events");
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":5000,\"reserve\":4999}", stone);
    expect_invalid(&r, "reserve", "reserve below opening");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":0}", stone);
    expect_invalid(&r, "opening", "zero opening");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":\"50\"}", stone);
    expect_invalid(&r, "opening", "opening as text");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100,\"estimate\":1}", stone);
    expect_invalid(&r, "estimate", "unknown lot field");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100}", lot);
    expect_invalid(&r, "stone_id", "a lot id as stone");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"stn_00000000zzzzz\",\"opening\":100}");
    expect_invalid(&r, "stone_id", "no such stone");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100}", bare);
    expect_invalid(&r, "stone_id", "uncertified stone");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100,\"position\":5}", stone);
    expect_invalid(&r, "position", "position past the end");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100}", taken);
    kito_assert_error(&r, 409, "conflict");
    cr_assert(strstr(r.body, "stone_id") != NULL, "%s", r.body);
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/lots/%s", lot);
    r = call(&org, "PATCH", path, "{\"reserve\":999}");
    expect_invalid(&r, "reserve", "patched reserve below opening");
    kito_http_resp_free(&r);
    r = call(&org, "PATCH", path, "{}");
    expect_invalid(&r, "body", "empty patch");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&org), before, "a refused lot wrote something");
    cr_assert_eq(count("SELECT COUNT(*) FROM provenance_events"), provenance);

    /* a superseded certificate does not count, its successor does */
    unsigned long long sk = key_of("stn", stone);
    kito_harness_sql("INSERT INTO certificates (stone_id, version, supersedes_id, canonical_json,"
                     " signature, key_id, valuer_id) SELECT stone_id, 2, id, canonical_json,"
                     " signature, key_id, valuer_id FROM certificates WHERE stone_id = %llu",
                     sk);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    r = call(&org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":100,\"position\":0}", stone);
    kito_harness_expect(&r, 201, "certified stone");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "lot_number")), 1);
    char current[32], shown[KITO_ID_SIZE];
    kito_harness_sql_value(current, sizeof(current),
                           "SELECT id FROM certificates WHERE stone_id = %llu AND version = 2", sk);
    kito_id_format(KITO_ID_CERTIFICATE, strtoull(current, NULL, 10), shown, sizeof(shown));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "stone"), "certificate_id")),
        shown);
    kito_http_resp_free(&r);
}

/* ---- buyers ---------------------------------------------------------------------------------- */

Test(sales, registration_and_approval)
{
    who org = kito_harness_person("organizer"), b1 = kito_harness_person("buyer"),
        b2 = kito_harness_person("buyer"), b3 = kito_harness_person("buyer"),
        miner = kito_harness_person("miner");
    char sale[KITO_ID_SIZE], lot[KITO_ID_SIZE], path[200];
    new_sale(&org, "", sale);

    /* a draft takes no registrations (it does not exist for buyers) */
    snprintf(path, sizeof(path), "/v1/sales/%s/registrations", sale);
    struct kito_http_resp r = call(&b1, "POST", path, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);

    new_lot(&org, sale, 1000, 0, lot);
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);

    /* asking twice is asking once */
    snprintf(path, sizeof(path), "/v1/sales/%s/registrations", sale);
    r = call(&b1, "POST", path, NULL);
    kito_harness_expect(&r, 201, "register");
    cr_assert_str_eq(str(&r, "status"), "pending");
    kito_http_resp_free(&r);
    r = call(&b1, "POST", path, NULL);
    kito_harness_expect(&r, 200, "register again");
    cr_assert_str_eq(str(&r, "status"), "pending");
    kito_http_resp_free(&r);
    unsigned long long sk = key_of("sal", sale);
    cr_assert_eq(count("SELECT COUNT(*) FROM sale_registrations WHERE sale_id = %llu", sk), 1);
    r = call(&b2, "POST", path, "{}");
    kito_harness_expect(&r, 201, "register b2");
    kito_http_resp_free(&r);

    snprintf(path, sizeof(path), "/v1/sales/%s/approval", sale);
    r = call(&b1, "GET", path, NULL);
    kito_harness_expect(&r, 200, "own standing");
    cr_assert_str_eq(str(&r, "status"), "pending");
    kito_http_resp_free(&r);
    r = call(&b3, "GET", path, NULL);
    kito_harness_expect(&r, 200, "standing of one who never asked");
    cr_assert_str_eq(str(&r, "status"), "none");
    kito_http_resp_free(&r);

    /* the organiser sees the queue */
    snprintf(path, sizeof(path), "/v1/sales/%s/registrations", sale);
    r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "registrations");
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 2);
    cr_assert(strstr(r.body, b1.acc) != NULL && strstr(r.body, b2.acc) != NULL);
    kito_http_resp_free(&r);

    /* approve: paddles 1, 2 given in turn, unique per sale */
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals", sale);
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\",\"limit\":2500000}", b1.acc);
    kito_harness_expect(&r, 201, "approve b1");
    cr_assert_str_eq(str(&r, "status"), "approved");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "paddle_number")), 1);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "limit"), "amount")),
                 2500000);
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\"}", b2.acc);
    kito_harness_expect(&r, 201, "approve b2");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "paddle_number")), 2);
    kito_http_resp_free(&r);
    long long before = footprint(&org);
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\",\"paddle_number\":2}", b3.acc);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\"}", miner.acc);
    expect_invalid(&r, "buyer_id", "a miner as buyer");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\",\"paddle_number\":0}", b3.acc);
    expect_invalid(&r, "paddle_number", "paddle 0");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\",\"limit\":-5}", b3.acc);
    expect_invalid(&r, "limit", "negative limit");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, "{\"buyer\":\"%s\"}", b3.acc);
    expect_invalid(&r, "buyer", "unknown field");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&org), before);
    /* a buyer who never asked, with a paddle of the organiser's choice */
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\",\"paddle_number\":50}", b3.acc);
    kito_harness_expect(&r, 201, "approve b3");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "paddle_number")), 50);
    kito_http_resp_free(&r);
    /* approving again updates (200) and keeps the paddle */
    r = call(&org, "POST", path, "{\"buyer_id\":\"%s\",\"limit\":null}", b1.acc);
    kito_harness_expect(&r, 200, "update b1");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "paddle_number")), 1);
    cr_assert(json_is_null(json_object_get(r.json, "limit")));
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(DISTINCT paddle_number) FROM sale_approvals WHERE"
                       " sale_id = %llu",
                       sk),
                 3);

    snprintf(path, sizeof(path), "/v1/sales/%s/approval", sale);
    r = call(&b1, "GET", path, NULL);
    kito_harness_expect(&r, 200, "approved standing");
    cr_assert_str_eq(str(&r, "status"), "approved");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "paddle_number")), 1);
    kito_http_resp_free(&r);

    /* revoke; a second time there is nothing to revoke */
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals/%s", sale, b2.acc);
    r = call(&org, "DELETE", path, NULL);
    kito_harness_expect(&r, 204, "revoke");
    kito_http_resp_free(&r);
    r = call(&org, "DELETE", path, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/approval", sale);
    r = call(&b2, "GET", path, NULL);
    cr_assert_str_eq(str(&r, "status"), "revoked");
    cr_assert(json_is_null(json_object_get(r.json, "paddle_number")));
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM sale_approvals WHERE sale_id = %llu", sk), 2);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE entity = 'sale' AND entity_id = %llu"
                       " AND action IN ('sale.register', 'sale.approve', 'sale.revoke')",
                       sk),
                 7); /* 2 register, 4 approve, 1 revoke */

    /* the queue filtered by status */
    snprintf(path, sizeof(path), "/v1/sales/%s/registrations?status=revoked", sale);
    r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "revoked list");
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 1);
    kito_http_resp_free(&r);

    /* after the sale is cancelled, approvals no longer change */
    snprintf(path, sizeof(path), "/v1/sales/%s/cancel", sale);
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "cancel");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals/%s", sale, b1.acc);
    r = call(&org, "DELETE", path, NULL);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
}

/* A published timed sale by org starting in start_s seconds, with one lot (opening 100.00) and
 * buyer approved; its id and the lot's go into sale and lot. */
static void published_sale_with_a_buyer(const who *org, const who *buyer, long start_s,
                                        char sale[KITO_ID_SIZE], char lot[KITO_ID_SIZE])
{
    char path[200], s[KITO_TIME_SIZE], e[KITO_TIME_SIZE];
    struct kito_http_resp r = call(org, "POST", "/v1/sales",
                                   "{\"title\":\"Tunduru sapphires\",\"format\":\"timed\","
                                   "\"starts_at\":\"%s\",\"ends_at\":\"%s\"}",
                                   at(start_s, s), at(120, e));
    kito_harness_expect(&r, 201, "create sale");
    snprintf(sale, KITO_ID_SIZE, "%s", str(&r, "id"));
    kito_http_resp_free(&r);
    new_lot(org, sale, 10000, 0, lot);
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals", sale);
    r = call(org, "POST", path, "{\"buyer_id\":\"%s\"}", buyer->acc);
    kito_harness_expect(&r, 201, "approve");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = call(org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);
}

/* After the start, buyer's bid on lot is refused as lot_closed and takes nothing. */
static void bid_is_refused_as_closed(const who *buyer, const char *lot, const char *key_prefix)
{
    char path[200], key[64];
    snprintf(path, sizeof(path), "/v1/lots/%s/bids", lot);
    snprintf(key, sizeof(key), "%s-%llu", key_prefix, buyer->id);
    struct kito_http_resp r =
        kito_harness_call(&kd, buyer, key, "POST", path, "{\"amount\":10000}");
    cr_assert_neq(r.status, 201, "a cancelled sale's lot took a bid: %s", r.body);
    kito_assert_error(&r, kito_http_status(KITO_E_LOT_CLOSED), "lot_closed");
    kito_http_resp_free(&r);
}

/* A sale cancelled before its start stays closed: its lots were in the order books since the
 * publish, and the cancel withdraws them there too. */
Test(sales, a_cancelled_sale_takes_no_bids)
{
    who org = kito_harness_person("organizer"), buyer = kito_harness_person("buyer");
    char sale[KITO_ID_SIZE], lot[KITO_ID_SIZE], path[200];
    published_sale_with_a_buyer(&org, &buyer, 8, sale, lot);
    snprintf(path, sizeof(path), "/v1/sales/%s/cancel", sale);
    struct kito_http_resp r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "cancel");
    kito_http_resp_free(&r);

    kito_harness_sleep_ms(10000); /* past the start */
    bid_is_refused_as_closed(&buyer, lot, "cancelled");
    snprintf(path, sizeof(path), "/v1/lots/%s", lot);
    r = call(&buyer, "GET", path, NULL);
    kito_harness_expect(&r, 200, "lot");
    cr_assert_str_eq(str(&r, "state"), "withdrawn", "%s", r.body);
    kito_http_resp_free(&r);
}

/* A cancel whose withdrawals Redis refused (503) leaves the sale cancelled in MySQL with its lots
 * still in the order books; repeating the cancel answers 200 and takes them out. Simulated by
 * cancelling in MySQL alone: before the repeat repaired it, the repeat answered 409 and the lot
 * opened at the start and took a binding bid on a stone the cancel had freed. */
Test(sales, a_repeated_cancel_takes_the_lots_out_of_the_books)
{
    who org = kito_harness_person("organizer"), buyer = kito_harness_person("buyer");
    char sale[KITO_ID_SIZE], lot[KITO_ID_SIZE], path[200];
    published_sale_with_a_buyer(&org, &buyer, 7, sale, lot);
    /* the first cancel's MySQL half, without its order-book half */
    kito_harness_sql("UPDATE lots SET state = 'withdrawn' WHERE sale_id = %llu",
                     key_of(KITO_ID_SALE, sale));
    kito_harness_sql("UPDATE sales SET status = 'cancelled' WHERE id = %llu",
                     key_of(KITO_ID_SALE, sale));
    snprintf(path, sizeof(path), "/v1/sales/%s/cancel", sale);
    struct kito_http_resp r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "the repeated cancel");
    cr_assert_str_eq(str(&r, "status"), "cancelled");
    kito_http_resp_free(&r);
    r = call(&org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "cancel is idempotent");
    kito_http_resp_free(&r);

    kito_harness_sleep_ms(8000); /* past the start */
    bid_is_refused_as_closed(&buyer, lot, "recancelled");
}

/* Lists read their rows in one query: several rows each holding a value over 255 bytes (a sale's
 * description) come back whole. Until api/store/sql.c re-bound its grown buffers, the second
 * such row was written into freed memory, and lists read one query per row to avoid it. */
Test(sales, lists_carry_long_values_on_every_row)
{
    who org = kito_harness_person("organizer");
    char ids[3][KITO_ID_SIZE], descr[3][401], extra[1024], path[200], lot[KITO_ID_SIZE];
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 400; k++)
            descr[i][k] = (char)('a' + (k * 7 + i * 3) % 26);
        descr[i][400] = '\0';
        int n = snprintf(extra, sizeof(extra), ",\"description\":\"%s\"", descr[i]);
        cr_assert(n > 0 && (size_t)n < sizeof(extra));
        new_sale(&org, extra, ids[i]);
        new_lot(&org, ids[i], 100, 0, lot);
        snprintf(path, sizeof(path), "/v1/sales/%s/publish", ids[i]);
        struct kito_http_resp r = call(&org, "POST", path, NULL);
        kito_harness_expect(&r, 200, "publish");
        kito_http_resp_free(&r);
    }
    int found = 0;
    char next[256] = "", url[512];
    for (int page = 0; page < 10000 && found < 3; page++) {
        snprintf(url, sizeof(url), "/v1/sales?status=published&limit=100%s%s",
                 next[0] ? "&cursor=" : "", next);
        struct kito_http_resp r = call(NULL, "GET", url, NULL);
        kito_harness_expect(&r, 200, url);
        json_t *item;
        size_t n;
        json_array_foreach(json_object_get(r.json, "items"), n, item)
        {
            const char *id = json_string_value(json_object_get(item, "id"));
            for (int i = 0; i < 3; i++) {
                if (id == NULL || strcmp(id, ids[i]) != 0)
                    continue;
                const char *d = json_string_value(json_object_get(item, "description"));
                cr_assert(d != NULL && strcmp(d, descr[i]) == 0, "sale %s: description %s", id,
                          d != NULL ? d : "(none)");
                found++;
            }
        }
        json_t *c = json_object_get(r.json, "next_cursor");
        if (json_is_null(c) || c == NULL) {
            kito_http_resp_free(&r);
            break;
        }
        snprintf(next, sizeof(next), "%s", json_string_value(c));
        kito_http_resp_free(&r);
    }
    cr_assert_eq(found, 3, "each sale listed once with its description");
}

/* ---- approvals under concurrency (issue 15, finding 12) -------------------------------------- */

/* One POST of a parallel batch: its path, body and what came back. */
typedef struct parallel_post {
    char path[128];
    char body[128];
    long status;
    char answer[512];
    size_t answer_len;
} parallel_post;

static size_t parallel_collect(char *data, size_t size, size_t nmemb, void *ud)
{
    parallel_post *p = ud;
    size_t n = size * nmemb, room = sizeof(p->answer) - 1 - p->answer_len;
    memcpy(p->answer + p->answer_len, data, n < room ? n : room);
    p->answer_len += n < room ? n : room;
    p->answer[p->answer_len] = '\0';
    return n;
}

/* Sends every post at once (one connection each, curl's multi interface) as w, and waits for
 * all the answers. */
static void parallel_posts(const who *w, parallel_post *posts, size_t n)
{
    CURLM *m = curl_multi_init();
    CURL *easy[64];
    struct curl_slist *hdrs[64], *resolve;
    char url[256], auth[128], host[64];
    cr_assert(n <= 64 && m != NULL);
    snprintf(host, sizeof(host), "localhost:%d:127.0.0.1", kd.https_port);
    resolve = curl_slist_append(NULL, host);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token);
    for (size_t i = 0; i < n; i++) {
        easy[i] = curl_easy_init();
        hdrs[i] =
            curl_slist_append(curl_slist_append(NULL, auth), "Content-Type: application/json");
        int len =
            snprintf(url, sizeof(url), "https://localhost:%d%s", kd.https_port, posts[i].path);
        cr_assert(len > 0 && (size_t)len < sizeof(url), "URL too long: %s", posts[i].path);
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_RESOLVE, resolve);
        curl_easy_setopt(easy[i], CURLOPT_CAINFO, kito_harness_var("tls/ca.pem"));
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs[i]);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, posts[i].body);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, parallel_collect);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &posts[i]);
        curl_multi_add_handle(m, easy[i]);
    }
    int running = 1;
    while (running > 0) {
        cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &posts[i].status);
        curl_multi_remove_handle(m, easy[i]);
        curl_easy_cleanup(easy[i]);
        curl_slist_free_all(hdrs[i]);
    }
    curl_slist_free_all(resolve);
    curl_multi_cleanup(m);
}

/* Approving buyers for two sales at the same moment made InnoDB pick one approval as a deadlock
 * victim now and then (both transactions gap-lock the end of sale_approvals before inserting),
 * and kitod answered 409 for a request that conflicted with nothing. A lock lost to another
 * transaction is retried (kito_sql_transaction, api/store/sql.h): every approval succeeds. */
Test(sales, concurrent_approvals_in_two_sales_never_answer_409)
{
    /* more MySQL workers than the default two, so the two sales' transactions overlap */
    kito_harness_kitod_stop(&kd, 5000);
    const char *env[] = {"KITO_MYSQL_WORKERS=8", NULL};
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);

    enum { ROUNDS = 8, BUYERS = 4 };
    who org = kito_harness_person("organizer");
    char buyers[BUYERS][KITO_ID_SIZE];
    for (int b = 0; b < BUYERS; b++)
        kito_id_format(KITO_ID_ACCOUNT, kito_harness_account("buyer", NULL, 0), buyers[b],
                       KITO_ID_SIZE);
    int conflicts = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* two new sales each round: their first approvals race for the same gap at the end of
         * the approvals index */
        char sale[2][KITO_ID_SIZE];
        new_sale(&org, "", sale[0]);
        new_sale(&org, "", sale[1]);
        parallel_post posts[2 * BUYERS] = {0};
        for (int i = 0; i < 2 * BUYERS; i++) {
            snprintf(posts[i].path, sizeof(posts[i].path), "/v1/sales/%s/approvals", sale[i % 2]);
            snprintf(posts[i].body, sizeof(posts[i].body), "{\"buyer_id\":\"%s\"}", buyers[i / 2]);
        }
        parallel_posts(&org, posts, 2 * BUYERS);
        for (int i = 0; i < 2 * BUYERS; i++) {
            conflicts += posts[i].status == 409;
            cr_expect_eq(posts[i].status, 201, "round %d, %s %s: %ld %s", round, posts[i].path,
                         posts[i].body, posts[i].status, posts[i].answer);
        }
        for (int s = 0; s < 2; s++)
            cr_assert_eq(count("SELECT COUNT(DISTINCT paddle_number) FROM sale_approvals"
                               " WHERE sale_id = %llu",
                               key_of("sal", sale[s])),
                         BUYERS, "each approved buyer has a paddle of her own");
    }
    cr_assert_eq(conflicts, 0, "%d approvals answered 409", conflicts);
}

/* Issue 17: the time zone a sale's times were set in is kept and shown (UTC by default); a name
 * the tz database does not have, or a path, is refused with nothing written. */
Test(sales, time_zone_kept_and_checked)
{
    who org = kito_harness_person("organizer");
    char sale[KITO_ID_SIZE], path[160];
    new_sale(&org, "", sale);
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    struct kito_http_resp r = call(&org, "GET", path, NULL);
    kito_harness_expect(&r, 200, "get sale");
    cr_assert_str_eq(str(&r, "time_zone"), "UTC");
    kito_http_resp_free(&r);
    r = call(&org, "PATCH", path, "{\"time_zone\":\"Africa/Dar_es_Salaam\"}");
    kito_harness_expect(&r, 200, "patch time zone");
    cr_assert_str_eq(str(&r, "time_zone"), "Africa/Dar_es_Salaam");
    kito_http_resp_free(&r);
    new_sale(&org, ",\"time_zone\":\"Africa/Lusaka\"", sale);
    snprintf(path, sizeof(path), "/v1/sales/%s", sale);
    r = call(&org, "GET", path, NULL);
    cr_assert_str_eq(str(&r, "time_zone"), "Africa/Lusaka");
    kito_http_resp_free(&r);

    long long before = footprint(&org);
    char s[KITO_TIME_SIZE], e[KITO_TIME_SIZE];
    static const char *const bad[] = {"Mars/Olympus_Mons", "../../../etc/passwd", "Africa"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = call(
            &org, "POST", "/v1/sales",
            "{\"title\":\"Zoned\",\"format\":\"timed\",\"starts_at\":\"%s\",\"ends_at\":\"%s\","
            "\"time_zone\":\"%s\"}",
            at(86400, s), at(2 * 86400, e), bad[i]);
        expect_invalid(&r, "time_zone", bad[i]);
        kito_http_resp_free(&r);
        r = call(&org, "PATCH", path, "{\"time_zone\":\"%s\"}", bad[i]);
        expect_invalid(&r, "time_zone", bad[i]);
        kito_http_resp_free(&r);
    }
    cr_assert_eq(footprint(&org), before);
    r = call(&org, "GET", path, NULL);
    cr_assert_str_eq(str(&r, "time_zone"), "Africa/Lusaka");
    kito_http_resp_free(&r);
}
