/* The pure parts of api/bidding.h: Idempotency-Key rules, the command id derivation, the token
 * bucket and the public view rendering (issue 5). */
#include <criterion/criterion.h>
#include <string.h>

#include "api/bidding.h"
#include "api/crypto.h"

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

Test(bidding, view_hides_what_the_engine_hides)
{
    struct kito_lot_view v = {.lot_id = 9,
                              .leader = 42,
                              .price_minor = 16000,
                              .ask_minor = 17000,
                              .opening_minor = 10000,
                              .ends_at_ms = 1800000000000,
                              .seq = 7,
                              .bid_count = 5,
                              .format = KITO_FORMAT_TIMED,
                              .state = KITO_LOT_OPEN,
                              .reserve_met = true,
                              .currency = "USD"};
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
    /* a sealed tender as the engine reports it */
    struct kito_lot_view t = {.lot_id = 9,
                              .ask_minor = 10000,
                              .opening_minor = 10000,
                              .format = KITO_FORMAT_TENDER,
                              .state = KITO_LOT_OPEN,
                              .currency = "USD"};
    o = kito_bidding_render_view(&t, 42);
    cr_assert(json_is_null(json_object_get(o, "price")));
    cr_assert_eq(json_integer_value(json_object_get(o, "bid_count")), 0);
    cr_assert(json_is_null(json_object_get(o, "ends_at")));
    json_decref(o);
}
