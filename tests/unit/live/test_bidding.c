/* The pure parts of api/live/bidding.h and api/live/bid_service.h: Idempotency-Key rules, the
 * command id derivation, the token bucket, the lot view's and the accepted bid's documents
 * (issues 5 and 14), and the caches. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/live/bid_service.h"
#include "api/live/bidding.h"
#include "api/common/crypto.h"
#include "api/common/render.h"
#include "api/common/validate.h"

Test(bidding, idempotency_keys)
{
    cr_assert(kito_idempotency_key_valid("a", 1));
    cr_assert(kito_idempotency_key_valid("7f3c-22:bid/1~!", 15));
    char k[80];
    memset(k, 'x', sizeof(k));
    cr_assert(kito_idempotency_key_valid(k, KITO_IDEMPOTENCY_KEY_MAX));
    cr_assert(!kito_idempotency_key_valid(k, KITO_IDEMPOTENCY_KEY_MAX + 1));
    cr_assert(!kito_idempotency_key_valid("", 0));
    cr_assert(!kito_idempotency_key_valid(NULL, 3));
    cr_assert(!kito_idempotency_key_valid("a b", 3));         /* space */
    cr_assert(!kito_idempotency_key_valid("a\tb", 3));        /* control */
    cr_assert(!kito_idempotency_key_valid("caf\xc3\xa9", 5)); /* not ASCII */
    cr_assert(!kito_idempotency_key_valid("a\x7f", 2));
}

Test(bidding, command_id_is_sha256_of_account_and_key)
{
    uint8_t buf[8 + 5] = {0, 0, 0, 0, 0, 0, 0x01, 0x02, 'k', 'e', 'y', '-', '1'};
    uint8_t d[KITO_SHA256_LEN];
    cr_assert_eq(kito_crypto_sha256(buf, sizeof(buf), d), KITO_OK);
    uint64_t want = 0;
    for (int i = 0; i < 8; i++)
        want = want << 8 | d[i];
    cr_assert_eq(kito_bid_command_id(0x0102, "key-1", 5), want);
    /* same buyer and key: same command; another buyer or key: another */
    cr_assert_eq(kito_bid_command_id(7, "abc", 3), kito_bid_command_id(7, "abc", 3));
    cr_assert_neq(kito_bid_command_id(7, "abc", 3), kito_bid_command_id(8, "abc", 3));
    cr_assert_neq(kito_bid_command_id(7, "abc", 3), kito_bid_command_id(7, "abd", 3));
    cr_assert_neq(kito_bid_command_id(7, "abc", 3), 0);
}

Test(bidding, token_bucket)
{
    kito_bucket b = {0};
    int64_t wait = 0;
    int64_t t = 1000;
    for (int i = 0; i < 10; i++)
        cr_assert(kito_bucket_take(&b, t, 5.0, 10.0, &wait), "burst token %d", i);
    cr_assert(!kito_bucket_take(&b, t, 5.0, 10.0, &wait));
    cr_assert(wait >= 199 && wait <= 201, "wait %lld", (long long)wait);
    cr_assert(!kito_bucket_take(&b, t + 150, 5.0, 10.0, &wait));
    cr_assert(kito_bucket_take(&b, t + 201, 5.0, 10.0, &wait)); /* one token per 200 ms */
    cr_assert(!kito_bucket_take(&b, t + 202, 5.0, 10.0, NULL));
    /* idle refills up to the burst, never beyond */
    t += 60000;
    for (int i = 0; i < 10; i++)
        cr_assert(kito_bucket_take(&b, t, 5.0, 10.0, NULL));
    cr_assert(!kito_bucket_take(&b, t, 5.0, 10.0, NULL));
}

/* An open timed lot as the engine reports it: buyer 42 leads at $160, the reserve is met. */
static struct kito_lot_view timed_view(void)
{
    return (struct kito_lot_view){.lot_id = 9,
                                  .leader = 42,
                                  .price_minor = 16000,
                                  .ask_minor = 17000,
                                  .opening_minor = 10000,
                                  .ends_at_ms = 1800000000123,
                                  .seq = 7,
                                  .bid_count = 5,
                                  .format = KITO_FORMAT_TIMED,
                                  .state = KITO_LOT_OPEN,
                                  .has_reserve = true,
                                  .reserve_met = true,
                                  .currency = "USD"};
}

/* An open sealed tender as the engine reports it: no price, no leader, no bid count. */
static struct kito_lot_view tender_view(void)
{
    return (struct kito_lot_view){.lot_id = 9,
                                  .ask_minor = 10000,
                                  .opening_minor = 10000,
                                  .format = KITO_FORMAT_TENDER,
                                  .state = KITO_LOT_OPEN,
                                  .currency = "KES"};
}

Test(bidding, view_hides_what_the_engine_hides)
{
    struct kito_lot_view v = timed_view();
    json_t *o = kito_bidding_render_view(&v, 42);
    cr_assert(json_is_true(json_object_get(o, "leader_is_you")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "price"), "amount")), 16000);
    cr_assert_str_eq(json_string_value(json_object_get(o, "state")), "open");
    cr_assert_null(json_object_get(o, "leader"), "the public view names the leader");
    cr_assert_null(json_object_get(o, "reserve"));
    json_decref(o);
    o = kito_bidding_render_view(&v, 0);
    cr_assert(json_is_false(json_object_get(o, "leader_is_you")));
    json_decref(o);
    struct kito_lot_view t = tender_view();
    o = kito_bidding_render_view(&t, 42);
    cr_assert(json_is_null(json_object_get(o, "price")));
    cr_assert_eq(json_integer_value(json_object_get(o, "bid_count")), 0);
    cr_assert(json_is_null(json_object_get(o, "ends_at")));
    json_decref(o);
}

/* The one renderer of a lot's view (kito_bidding_write_view), byte for byte. */
static void expect_view(const struct kito_lot_view *v, uint64_t viewer, uint64_t lot_id,
                        const char *want)
{
    char buf[1024];
    kito_jw w;
    kito_jw_init(&w, buf, sizeof(buf));
    kito_bidding_write_view(&w, v, viewer, lot_id);
    cr_assert(!w.failed);
    cr_expect_str_eq(buf, want);
    cr_expect_eq(w.len, strlen(want));
}

static const struct kito_lot_view open_lot = {.lot_id = 9,
                                              .leader = 42,
                                              .price_minor = 16000,
                                              .ask_minor = 17000,
                                              .opening_minor = 10000,
                                              .ends_at_ms = 1800000000123,
                                              .seq = 7,
                                              .bid_count = 5,
                                              .format = KITO_FORMAT_TIMED,
                                              .state = KITO_LOT_OPEN,
                                              .has_reserve = true,
                                              .reserve_met = true,
                                              .currency = "USD"};

Test(bidding, written_view)
{
    expect_view(&open_lot, 42, 9,
                "{\"state\":\"open\",\"price\":{\"amount\":16000,\"currency\":\"USD\"},"
                "\"ask\":{\"amount\":17000,\"currency\":\"USD\"},"
                "\"opening\":{\"amount\":10000,\"currency\":\"USD\"},\"bid_count\":5,"
                "\"reserve_met\":true,\"has_reserve\":true,"
                "\"ends_at\":\"2027-01-15T08:00:00.123Z\",\"seq\":7,\"paused\":false,"
                "\"leader_is_you\":true,\"id\":\"lot_0000000000009\"}");
    /* another viewer, no id */
    expect_view(&open_lot, 43, 0,
                "{\"state\":\"open\",\"price\":{\"amount\":16000,\"currency\":\"USD\"},"
                "\"ask\":{\"amount\":17000,\"currency\":\"USD\"},"
                "\"opening\":{\"amount\":10000,\"currency\":\"USD\"},\"bid_count\":5,"
                "\"reserve_met\":true,\"has_reserve\":true,"
                "\"ends_at\":\"2027-01-15T08:00:00.123Z\",\"seq\":7,\"paused\":false,"
                "\"leader_is_you\":false}");
    /* sold, paused, reserve not met, whole seconds, no ask */
    struct kito_lot_view v = open_lot;
    v.ends_at_ms = 1800000000000;
    v.reserve_met = false;
    v.paused = true;
    v.state = KITO_LOT_SOLD;
    v.ask_minor = 0;
    expect_view(&v, 0, 12345678901234ULL,
                "{\"state\":\"sold\",\"price\":{\"amount\":16000,\"currency\":\"USD\"},"
                "\"ask\":null,\"opening\":{\"amount\":10000,\"currency\":\"USD\"},"
                "\"bid_count\":5,\"reserve_met\":false,\"has_reserve\":true,"
                "\"ends_at\":\"2027-01-15T08:00:00Z\",\"seq\":7,\"paused\":true,"
                "\"leader_is_you\":false,\"id\":\"lot_0000b79swwbzj\"}");
    /* a sealed tender as the engine reports it: no price, no count, reserve_met null */
    struct kito_lot_view t = {.lot_id = 9,
                              .ask_minor = 10000,
                              .opening_minor = 10000,
                              .format = KITO_FORMAT_TENDER,
                              .state = KITO_LOT_OPEN,
                              .currency = "KES"};
    expect_view(&t, 42, 9,
                "{\"state\":\"open\",\"price\":null,"
                "\"ask\":{\"amount\":10000,\"currency\":\"KES\"},"
                "\"opening\":{\"amount\":10000,\"currency\":\"KES\"},\"bid_count\":0,"
                "\"reserve_met\":null,\"has_reserve\":false,\"ends_at\":null,\"seq\":0,"
                "\"paused\":false,\"leader_is_you\":false,\"id\":\"lot_0000000000009\"}");
    t.state = 200;
    expect_view(&t, 0, 0,
                "{\"state\":\"unknown\",\"price\":null,"
                "\"ask\":{\"amount\":10000,\"currency\":\"KES\"},"
                "\"opening\":{\"amount\":10000,\"currency\":\"KES\"},\"bid_count\":0,"
                "\"reserve_met\":null,\"has_reserve\":false,\"ends_at\":null,\"seq\":0,"
                "\"paused\":false,\"leader_is_you\":false}");
}

/* The jansson documents get the same view, read back from those bytes. */
Test(bidding, rendered_view_is_the_written_view)
{
    json_t *o = kito_bidding_render_view(&open_lot, 42);
    cr_assert_not_null(o);
    char *got = json_dumps(o, JSON_COMPACT);
    cr_expect_str_eq(got, "{\"state\":\"open\",\"price\":{\"amount\":16000,\"currency\":\"USD\"},"
                          "\"ask\":{\"amount\":17000,\"currency\":\"USD\"},"
                          "\"opening\":{\"amount\":10000,\"currency\":\"USD\"},\"bid_count\":5,"
                          "\"reserve_met\":true,\"has_reserve\":true,"
                          "\"ends_at\":\"2027-01-15T08:00:00.123Z\",\"seq\":7,\"paused\":false,"
                          "\"leader_is_you\":true}");
    free(got);
    json_decref(o);
}

static void expect_accepted(const struct kito_bid_answer *a, const char *want)
{
    char buf[2048];
    kito_jw w;
    kito_jw_init(&w, buf, sizeof(buf));
    kito_bid_write_accepted(&w, a);
    cr_assert(!w.failed);
    cr_expect_str_eq(buf, want);
    json_t *parsed = json_loads(buf, 0, NULL);
    cr_expect_not_null(parsed, "not JSON: %s", buf);
    json_decref(parsed);
}

/* The bid's 201 body (kito_bid_write_accepted), the one renderer of it. */
Test(bidding, accepted_bid_document)
{
    struct kito_bid_answer a = {
        .err = KITO_OK,
        .has_lot = true,
        .seq = 7,
        .view = open_lot,
        .mine = {.has_bid = true, .leading = true, .amount_minor = 25000, .seq = 7},
        .currency = "USD",
        .req = {.lot_id = 9,
                .account_id = 42,
                .cmd_id = 0x0123456789abcdefULL,
                .amount_minor = 25000,
                .type = KITO_CMD_BID},
    };
    const char *lot =
        "{\"state\":\"open\",\"price\":{\"amount\":16000,\"currency\":\"USD\"},"
        "\"ask\":{\"amount\":17000,\"currency\":\"USD\"},"
        "\"opening\":{\"amount\":10000,\"currency\":\"USD\"},\"bid_count\":5,"
        "\"reserve_met\":true,\"has_reserve\":true,\"ends_at\":\"2027-01-15T08:00:00.123Z\","
        "\"seq\":7,\"paused\":false,\"leader_is_you\":true,\"id\":\"lot_0000000000009\"}";
    char want[2048];
    snprintf(want, sizeof(want),
             "{\"bid_id\":\"bid_028t5cy4tqkff\",\"seq\":7,"
             "\"amount\":{\"amount\":25000,\"currency\":\"USD\"},"
             "\"your_bid\":{\"amount\":{\"amount\":25000,\"currency\":\"USD\"},"
             "\"leading\":true,\"seq\":7},\"lot\":%s}",
             lot);
    expect_accepted(&a, want);
    /* no standing bid to show, and the lot gone from the market */
    a.mine.has_bid = false;
    a.has_lot = false;
    a.seq = 0;
    a.err = KITO_E_DUPLICATE;
    expect_accepted(&a, "{\"bid_id\":\"bid_028t5cy4tqkff\",\"seq\":0,"
                        "\"amount\":{\"amount\":25000,\"currency\":\"USD\"},"
                        "\"your_bid\":null,\"lot\":null}");
}

/* Expects the writer's bytes to be jansson's compact encoding of v (which this takes). */
static void expect_jansson(const char *written, json_t *v, const char *what, size_t i)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_expect_str_eq(written, want, "%s %zu", what, i);
    free(want);
    json_decref(v);
}

Test(bidding, written_json_matches_jansson)
{
    char buf[256];
    kito_jw w;
    static const char *const strings[] = {"",
                                          "plain",
                                          "q\"uote",
                                          "back\\slash",
                                          "tab\tnl\ncr\rbs\bff\f",
                                          "\x01\x1f\x7f",
                                          "caf\xc3\xa9 \xe2\x82\xac",
                                          "/slash/"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        kito_jw_init(&w, buf, sizeof(buf));
        kito_jw_string(&w, strings[i]);
        expect_jansson(buf, json_string(strings[i]), "string", i);
    }
    static const int64_t ints[] = {0,   1,    -1,         9,         10,        -10,      99,
                                   100, -101, 1000000007, 123456789, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        kito_jw_init(&w, buf, sizeof(buf));
        kito_jw_int(&w, ints[i]);
        expect_jansson(buf, json_integer(ints[i]), "integer", i);
    }
}

/* Money, ids and times are written without the string escaper where their text cannot need it;
 * a currency that is not three capital letters still goes through it. */
Test(bidding, written_money_ids_times_match_jansson)
{
    static const char *const currencies[] = {"USD", "KES", "usd", "US", "U\"SD", "", "EURO"};
    for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++) {
        json_t *m = kito_render_money(-1234, currencies[i]);
        char *want = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char buf[128];
        kito_jw w;
        kito_jw_init(&w, buf, sizeof(buf));
        kito_jw_money(&w, -1234, currencies[i]);
        cr_expect_str_eq(buf, want, "currency %zu", i);
        free(want);
        json_decref(m);
    }
    char buf[64];
    kito_jw w;
    kito_jw_init(&w, buf, sizeof(buf));
    kito_jw_id(&w, "lot", 9);
    kito_jw_raw(&w, ",", 1);
    kito_jw_time(&w, 1800000000123);
    cr_expect_str_eq(buf, "\"lot_0000000000009\",\"2027-01-15T08:00:00.123Z\"");
}

Test(bidding, a_writer_that_runs_out_of_room_fails)
{
    char buf[16];
    kito_jw w;
    kito_jw_init(&w, buf, sizeof(buf));
    kito_jw_lit(&w, "{\"amount\":");
    cr_expect(!w.failed);
    kito_jw_money(&w, 123, "USD");
    cr_expect(w.failed);
    cr_expect_lt(w.len, sizeof(buf));
    cr_expect_eq(strlen(buf), w.len, "still terminated");
    kito_jw_init(&w, buf, sizeof(buf));
    kito_jw_id(&w, "lot", 0); /* no id is 0 */
    cr_expect(w.failed);
    kito_jw_init(&w, buf, sizeof(buf));
    kito_jw_time(&w, -1);
    cr_expect(w.failed);
}

/* The lot directory and the approvals cache hold a sale's lots and buyers without evicting each
 * other (direct-mapped, ~30 of 1,000 lots shared a slot and went to MySQL on every bid). */
Test(bidding, caches_hold_a_big_sale)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct kito_bidding_params p = {.loop = &loop}; /* no market, pool or limits */
    kito_bidding *b = NULL;
    cr_assert_eq(kito_bidding_create(&p, &b), KITO_OK);
    const uint64_t lots = 1000, buyers = 200, sale = 7;
    for (uint64_t id = 1; id <= lots; id++) {
        kito_bid_lot l = {.lot_id = id, .sale_id = sale, .currency = "USD"};
        snprintf(l.sale_status, sizeof(l.sale_status), "open");
        kito_bidding_lot_put(b, &l);
    }
    for (uint64_t buyer = 1; buyer <= buyers; buyer++)
        kito_bidding_approval_put(b, sale, buyer,
                                  &(kito_bid_approval){.approved = true, .paddle_number = 1});
    for (uint64_t id = 1; id <= lots; id++) {
        const kito_bid_lot *l = kito_bidding_lot(b, id);
        cr_assert_not_null(l, "lot %llu was evicted", (unsigned long long)id);
        cr_expect_eq(l->sale_id, sale);
    }
    kito_bid_approval ap;
    for (uint64_t buyer = 1; buyer <= buyers; buyer++)
        cr_assert(kito_bidding_approval(b, sale, buyer, &ap) && ap.approved);
    /* a put refreshes in place: no second copy */
    kito_bid_lot again = {.lot_id = 5, .sale_id = 8};
    snprintf(again.sale_status, sizeof(again.sale_status), "closed");
    kito_bidding_lot_put(b, &again);
    cr_expect_eq(kito_bidding_lot(b, 5)->sale_id, 8);
    kito_bidding_approval_forget(b, sale, 3);
    cr_expect(!kito_bidding_approval(b, sale, 3, &ap));
    cr_expect(kito_bidding_approval(b, sale, 4, &ap));
    kito_bidding_approval_forget(b, sale, 0);
    cr_expect(!kito_bidding_approval(b, sale, 4, &ap));
    cr_expect_null(kito_bidding_lot(b, lots + 1));
    kito_bidding_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0);
}

/* The market hands the commands of a rebuild to kito_bidding_key_replayed in no particular order
 * (api/live/market.h): of two keys in one slot the newer stays, whichever comes first. */
Test(bidding, replayed_keys_keep_the_newer_whatever_the_order)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct kito_bidding_params p = {.loop = &loop}; /* no market, pool or limits */
    kito_bidding *b = NULL;
    cr_assert_eq(kito_bidding_create(&p, &b), KITO_OK);
    /* two ids in one slot: the table is direct-mapped, so search for a second id that collides */
    uint64_t older = 1001, newer = 0;
    struct kito_command c_old = {.id = older,
                                 .lot_id = 7,
                                 .actor = 3,
                                 .amount_minor = 5000,
                                 .now_ms = 1000,
                                 .seq = 2,
                                 .type = KITO_CMD_BID};
    kito_bidding_key_replayed(b, &c_old);
    cr_assert(!kito_bidding_key_matches(b, older, 7, 6000), "the key is remembered");
    for (uint64_t id = 1002; newer == 0 && id < 1002 + 64 * KITO_BIDDING_KEYS; id++) {
        /* as old as the first (a tie replaces): it collides if it pushes the first out */
        struct kito_command probe = c_old;
        probe.id = id;
        probe.lot_id = 8;
        kito_bidding_key_replayed(b, &probe);
        if (kito_bidding_key_matches(b, older, 7, 6000))
            newer = id;
    }
    cr_assert_neq(newer, 0, "no colliding id found");
    kito_bidding_key_replayed(b, &c_old); /* the slot is the first key's again */
    struct kito_command c_new = c_old;
    c_new.id = newer;
    c_new.lot_id = 8;
    c_new.amount_minor = 7000;
    c_new.now_ms = 2000;
    /* older, then newer: the newer stays */
    kito_bidding_key_replayed(b, &c_new);
    cr_expect(!kito_bidding_key_matches(b, newer, 8, 7001), "the newer key was not kept");
    /* newer, then older: the newer stays */
    kito_bidding_key_replayed(b, &c_old);
    cr_expect(!kito_bidding_key_matches(b, newer, 8, 7001), "the older key took the newer's slot");
    cr_expect(kito_bidding_key_matches(b, newer, 8, 7000));
    /* only bids with an id are remembered */
    struct kito_command open = {.lot_id = 9, .now_ms = 3000, .seq = 1, .type = KITO_CMD_OPEN};
    kito_bidding_key_replayed(b, &open);
    cr_expect(!kito_bidding_key_matches(b, newer, 8, 7001));
    kito_bidding_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0);
}
