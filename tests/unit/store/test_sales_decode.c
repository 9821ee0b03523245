/* The pure parts of sales and lots (api/store/repo_sales.h, api/store/repo_lots.h): the request
 * decoders, their defaults, the ladder rules shared with the engine, the PATCH merge and the SQL
 * time. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/store/repo_lots.h"
#include "api/store/repo_sales.h"
#include "api/store/sql.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    cr_assert(v != NULL, "bad test JSON: %s", e.text);
    return v;
}

/* Decodes text as a sale; returns the code and fills in and ve. */
static kito_err sale(const char *text, kito_sale_input *in, kito_verr *ve)
{
    json_t *body = parse(text);
    memset(ve, 0, sizeof(*ve));
    kito_err e = kito_sale_decode(body, in, ve);
    json_decref(body);
    return e;
}

#define TIMED "\"title\":\"Tsavorite\",\"format\":\"timed\",\"starts_at\":\"2030-01-01T10:00:00Z\""

Test(sale_decode, defaults_are_designs)
{
    kito_sale_input in;
    kito_verr ve;
    cr_assert_eq(sale("{" TIMED ",\"ends_at\":\"2030-01-08T10:00:00Z\"}", &in, &ve), KITO_OK,
                 "%s: %s", ve.field, ve.reason);
    struct kito_ladder dflt;
    kito_ladder_default(&dflt);
    cr_assert(kito_ladder_equal(&in.ladder, &dflt));
    cr_assert_str_eq(in.currency, "USD");
    cr_assert(in.online);
    cr_assert_eq(in.soft_close_s, 120);
    cr_assert_eq(in.stagger_s, 60);
    cr_assert_eq(in.buyer_premium_bps, 1000);
    cr_assert_eq(in.commission_bps, 500);
    cr_assert_str_eq(in.tender_pricing, "first");
    cr_assert(!in.has_venue && !in.has_description);
    cr_assert_eq(in.ends_at_ms - in.starts_at_ms, 7LL * 86400 * 1000);
}

Test(sale_decode, live_sales_need_a_room_but_no_end)
{
    kito_sale_input in;
    kito_verr ve;
    cr_assert_eq(sale("{\"title\":\"Arusha gem fair\",\"format\":\"live\",\"starts_at\":"
                      "\"2030-01-01T10:00:00Z\"}",
                      &in, &ve),
                 KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "venue");
    cr_assert_eq(sale("{\"title\":\"Arusha gem fair\",\"format\":\"live\",\"venue\":\"AICC\","
                      "\"starts_at\":\"2030-01-01T10:00:00Z\"}",
                      &in, &ve),
                 KITO_OK);
    cr_assert(!in.has_ends_at);
}

/* Every rung table the decoder accepts, the engine accepts, and the other way round. */
Test(sale_decode, ladder_agrees_with_the_engine)
{
    static const char *const ladders[] = {
        "[{\"from_minor\":0,\"step_minor\":5}]",
        "[{\"from_minor\":0,\"step_minor\":500},{\"from_minor\":10000,\"step_minor\":1000}]",
        "[{\"from_minor\":1,\"step_minor\":5}]",
        "[{\"from_minor\":0,\"step_minor\":0}]",
        "[{\"from_minor\":0,\"step_minor\":50},{\"from_minor\":100,\"step_minor\":10}]",
        "[{\"from_minor\":0,\"step_minor\":50},{\"from_minor\":0,\"step_minor\":60}]",
        "[{\"from_minor\":0,\"step_minor\":50},{\"from_minor\":-5,\"step_minor\":60}]",
        "[{\"from_minor\":0,\"step_minor\":1000000000000001}]",
        "[{\"from_minor\":0,\"step_minor\":5},{\"from_minor\":100,\"step_minor\":5}]",
    };
    for (size_t i = 0; i < sizeof(ladders) / sizeof(ladders[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"ladder\":%s}", ladders[i]);
        kito_sale_input in;
        kito_verr ve;
        kito_err got = sale(text, &in, &ve);
        /* the engine's verdict on the same rungs */
        json_t *arr = parse(ladders[i]);
        struct kito_ladder_rung rungs[KITO_LADDER_MAX_RUNGS];
        size_t n = json_array_size(arr);
        for (size_t k = 0; k < n; k++) {
            rungs[k].from_minor =
                json_integer_value(json_object_get(json_array_get(arr, k), "from_minor"));
            rungs[k].step_minor =
                json_integer_value(json_object_get(json_array_get(arr, k), "step_minor"));
        }
        json_decref(arr);
        struct kito_ladder l;
        kito_err engine = kito_ladder_init(&l, rungs, n);
        cr_assert_eq(got == KITO_OK, engine == KITO_OK, "ladder %zu: api %d, engine %d (%s: %s)", i,
                     got, engine, ve.field, ve.reason);
        if (got != KITO_OK)
            cr_assert(strncmp(ve.field, "ladder", 6) == 0, "ladder %zu named %s", i, ve.field);
        else
            cr_assert(kito_ladder_equal(&in.ladder, &l));
    }
}

Test(sale_decode, local_currencies_need_their_own_ladder)
{
    kito_sale_input in;
    kito_verr ve;
    cr_assert_eq(
        sale("{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"currency\":\"KES\"}", &in, &ve),
        KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "ladder");
    cr_assert_eq(
        sale("{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"currency\":\"EUR\"}", &in, &ve),
        KITO_OK);
}

Test(sale_decode, refusals_name_the_field)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{" TIMED ",\"ends_at\":\"2030-01-01T10:00:00Z\"}", "ends_at"},
        {"{" TIMED ",\"ends_at\":\"2030-06-01T10:00:00Z\"}", "ends_at"}, /* > 90 days */
        {"{" TIMED "}", "ends_at"},
        {"{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"buyer_premium_bps\":10001}",
         "buyer_premium_bps"},
        {"{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"tender_pricing\":\"first\"}",
         "tender_pricing"},
        {"{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"extra\":true}", "extra"},
        {"{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"currency\":\"usd\"}", "currency"},
        {"{" TIMED ",\"ends_at\":\"2030-01-02T10:00:00Z\",\"online\":false}", "venue"},
        {"{\"title\":\"\",\"format\":\"timed\",\"starts_at\":\"2030-01-01T10:00:00Z\"}", "title"},
        {"{\"format\":\"timed\",\"starts_at\":\"2030-01-01T10:00:00Z\"}", "title"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kito_sale_input in;
        kito_verr ve;
        cr_assert_eq(sale(cases[i].body, &in, &ve), KITO_E_VALIDATION, "case %zu accepted", i);
        cr_assert_str_eq(ve.field, cases[i].field, "case %zu: %s: %s", i, ve.field, ve.reason);
        cr_assert(ve.reason[0] != '\0');
    }
}

/* to_json then decode gives the same sale; a patch merges and null clears. */
Test(sale_decode, patch_round_trip)
{
    kito_sale_input in, back;
    kito_verr ve;
    cr_assert_eq(
        sale("{\"title\":\"Mahenge spinel\",\"description\":\"Rough\\nand cut\","
             "\"format\":\"tender\",\"tender_pricing\":\"second\",\"venue\":\"Morogoro\","
             "\"online\":false,\"currency\":\"TZS\",\"starts_at\":\"2030-01-01T10:00:00.250Z\","
             "\"ends_at\":\"2030-01-05T10:00:00Z\",\"soft_close_s\":0,\"stagger_s\":3600,"
             "\"buyer_premium_bps\":0,\"commission_bps\":10000,\"ladder\":["
             "{\"from_minor\":0,\"step_minor\":100000}]}",
             &in, &ve),
        KITO_OK, "%s: %s", ve.field, ve.reason);
    json_t *doc = kito_sale_input_to_json(&in);
    cr_assert(doc != NULL);
    cr_assert_eq(kito_sale_decode(doc, &back, &ve), KITO_OK, "%s: %s", ve.field, ve.reason);
    cr_assert_eq(memcmp(&in, &back, sizeof(in)), 0);

    json_t *patch = parse("{\"description\":null,\"title\":\"Spinel\",\"ladder\":null}");
    cr_assert_eq(kito_sale_patch_check(patch, &ve), KITO_OK);
    cr_assert_eq(kito_sale_patch_apply(doc, patch), KITO_OK);
    /* TZS without a ladder is refused */
    cr_assert_eq(kito_sale_decode(doc, &back, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "ladder");
    json_decref(patch);
    patch = parse("{\"currency\":\"USD\"}");
    cr_assert_eq(kito_sale_patch_apply(doc, patch), KITO_OK);
    cr_assert_eq(kito_sale_decode(doc, &back, &ve), KITO_OK, "%s: %s", ve.field, ve.reason);
    cr_assert_str_eq(back.title, "Spinel");
    cr_assert(!back.has_description);
    cr_assert_str_eq(back.tender_pricing, "second");
    json_decref(patch);
    json_decref(doc);

    patch = parse("{\"title\":5}");
    cr_assert_eq(kito_sale_patch_check(patch, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "title");
    json_decref(patch);
}

Test(sale_decode, sql_time)
{
    char t[KITO_SQL_TIME_SIZE];
    kito_sql_time(0, t);
    cr_assert_str_eq(t, "1970-01-01 00:00:00.000");
    kito_sql_time(1764255600250LL, t);
    cr_assert_str_eq(t, "2025-11-27 15:00:00.250");
    kito_sql_time(KITO_TIME_MAX_MS, t);
    cr_assert_str_eq(t, "9999-12-31 23:59:59.999");
}

Test(lot_decode, lots)
{
    kito_lot_input in;
    kito_verr ve = {{0}};
    json_t *b = parse("{\"stone_id\":\"stn_0000000000001\",\"opening\":5000,\"reserve\":5000}");
    cr_assert_eq(kito_lot_decode(b, &in, &ve), KITO_OK);
    cr_assert_eq(in.stone_id, 1);
    cr_assert(in.has_reserve && in.reserve_minor == 5000 && !in.has_position);
    json_decref(b);
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"stone_id\":\"stn_0000000000001\",\"opening\":5000,\"reserve\":4999}", "reserve"},
        {"{\"stone_id\":\"lot_0000000000001\",\"opening\":5000}", "stone_id"},
        {"{\"stone_id\":\"stn_0000000000001\",\"opening\":0}", "opening"},
        {"{\"stone_id\":\"stn_0000000000001\",\"opening\":1000000000000001}", "opening"},
        {"{\"stone_id\":\"stn_0000000000001\",\"opening\":1,\"position\":-1}", "position"},
        {"{\"stone_id\":\"stn_0000000000001\",\"opening\":1,\"lot_number\":3}", "lot_number"},
        {"{\"opening\":1}", "stone_id"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = parse(bad[i].body);
        memset(&ve, 0, sizeof(ve));
        cr_assert_eq(kito_lot_decode(b, &in, &ve), KITO_E_VALIDATION, "case %zu", i);
        cr_assert_str_eq(ve.field, bad[i].field, "case %zu: %s", i, ve.field);
        json_decref(b);
    }
}

Test(lot_decode, patch_and_order)
{
    kito_lot_patch p;
    kito_verr ve = {{0}};
    json_t *b = parse("{\"reserve\":null}");
    cr_assert_eq(kito_lot_patch_decode(b, &p, &ve), KITO_OK);
    cr_assert(p.has_reserve && p.reserve_minor == 0 && !p.has_opening);
    json_decref(b);
    b = parse("{}");
    cr_assert_eq(kito_lot_patch_decode(b, &p, &ve), KITO_E_VALIDATION);
    json_decref(b);

    uint64_t ids[4];
    size_t n;
    b = parse("{\"lot_ids\":[\"lot_0000000000003\",\"lot_0000000000001\"]}");
    cr_assert_eq(kito_lot_order_decode(b, ids, 4, &n, &ve), KITO_OK);
    cr_assert(n == 2 && ids[0] == 3 && ids[1] == 1);
    json_decref(b);
    b = parse("{\"lot_ids\":[\"lot_0000000000003\",\"lot_0000000000003\"]}");
    cr_assert_eq(kito_lot_order_decode(b, ids, 4, &n, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "lot_ids[1]");
    json_decref(b);
    b = parse("{\"lot_ids\":[]}");
    cr_assert_eq(kito_lot_order_decode(b, ids, 4, &n, &ve), KITO_E_VALIDATION);
    json_decref(b);

    char reason[KITO_LOT_REASON_MAX * 4 + 1];
    cr_assert_eq(kito_lot_withdraw_decode(NULL, reason, &ve), KITO_OK);
    cr_assert_str_eq(reason, "");
    b = parse("{\"reason\":\"cracked\"}");
    cr_assert_eq(kito_lot_withdraw_decode(b, reason, &ve), KITO_OK);
    cr_assert_str_eq(reason, "cracked");
    json_decref(b);
}

/* Issue 17: the zone a sale's times were set in; UTC unless given; a name of the tz database
 * (Debian's tzdata, the one browsers use), never a path. */
Test(sale_decode, time_zone_of_the_tz_database)
{
    kito_sale_input in;
    kito_verr ve;
    const char *ends = ",\"ends_at\":\"2030-01-08T10:00:00Z\"";
    char body[256];
    snprintf(body, sizeof(body), "{" TIMED "%s}", ends);
    cr_assert_eq(sale(body, &in, &ve), KITO_OK);
    cr_assert_str_eq(in.time_zone, "UTC");
    snprintf(body, sizeof(body), "{" TIMED "%s,\"time_zone\":\"Africa/Dar_es_Salaam\"}", ends);
    cr_assert_eq(sale(body, &in, &ve), KITO_OK, "%s: %s", ve.field, ve.reason);
    cr_assert_str_eq(in.time_zone, "Africa/Dar_es_Salaam");
    snprintf(body, sizeof(body), "{" TIMED "%s,\"time_zone\":\"America/Argentina/Buenos_Aires\"}",
             ends);
    cr_assert_eq(sale(body, &in, &ve), KITO_OK, "%s: %s", ve.field, ve.reason);
    static const char *const bad[] = {
        "Mars/Olympus_Mons", "../../etc/passwd", "/etc/passwd", "Africa/../UTC", "Africa", "",
        "Africa//Nairobi",   "Africa/Nairobi/",  ".hidden",     "a/b/c/d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{" TIMED "%s,\"time_zone\":\"%s\"}", ends, bad[i]);
        cr_assert_eq(sale(body, &in, &ve), KITO_E_VALIDATION, "%s was taken", bad[i]);
        cr_assert_str_eq(ve.field, "time_zone");
    }
    /* the merge keeps it */
    snprintf(body, sizeof(body), "{" TIMED "%s,\"time_zone\":\"Africa/Lusaka\"}", ends);
    cr_assert_eq(sale(body, &in, &ve), KITO_OK);
    json_t *back = kito_sale_input_to_json(&in);
    cr_assert_str_eq(json_string_value(json_object_get(back, "time_zone")), "Africa/Lusaka");
    json_decref(back);
}
