/* The settlement worker's pure parts (api/money/settlement.h): outbox entry parsing, ledger
 * balance, parties, invoice numbers, backoff. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "api/money/settlement.h"
#include "engine/command.h"
#include "engine/fees.h"

/* Parses a NULL-terminated list of field, value strings. */
static kito_err parse(const char *id, const char *const *kv, struct kito_outbox_entry *e, char *why)
{
    size_t n = 0, lens[64];
    while (kv[n] != NULL) {
        lens[n] = strlen(kv[n]);
        n++;
    }
    return kito_outbox_entry_parse(id, kv, lens, n, e, why, 200);
}

#define SOLD_FIELDS(hammer, winner)                                                                \
    "lot_id", "42", "sale_id", "7", "seller_id", "9", "winner", winner, "hammer_minor", hammer,    \
        "currency", "USD", "result", "sold", "reason", "0", "seq", "15", "ends_at_ms",             \
        "1767225600000", "closed_at_ms", "1767225601234", "format", "0"

Test(outbox_entry, parses_a_sold_entry)
{
    const char *kv[] = {SOLD_FIELDS("123457", "11"), NULL};
    struct kito_outbox_entry e;
    char why[200];
    cr_assert_eq(parse("1767225601234-0", kv, &e, why), KITO_OK, "%s", why);
    cr_assert_str_eq(e.id, "1767225601234-0");
    cr_assert_eq(e.lot_id, 42);
    cr_assert_eq(e.sale_id, 7);
    cr_assert_eq(e.seller_id, 9);
    cr_assert_eq(e.winner, 11);
    cr_assert_eq(e.hammer_minor, 123457);
    cr_assert_str_eq(e.currency, "USD");
    cr_assert_eq(e.result, KITO_OUTBOX_SOLD);
    cr_assert_eq(e.seq, 15);
    cr_assert_eq(e.closed_at_ms, 1767225601234);
}

/* A live lot won by a floor paddle: the engine's bidder is KITO_PADDLE_BIDDER(p), top bit set
 * (engine/command.h); the writer resolves it to the buyer holding that paddle. Rejecting it left
 * every floor win unsettled (issue 17). */
Test(outbox_entry, parses_a_floor_paddle_winner)
{
    const char *kv[] = {SOLD_FIELDS("11000", "9223372036854775829"), NULL};
    struct kito_outbox_entry e;
    char why[200];
    cr_assert_eq(parse("1-0", kv, &e, why), KITO_OK, "%s", why);
    cr_assert_eq(e.winner, KITO_PADDLE_BIDDER(21));
    const char *too_big[] = {SOLD_FIELDS("11000", "18446744073709551616"), NULL};
    cr_assert_eq(parse("1-0", too_big, &e, why), KITO_E_VALIDATION);
    const char *not_a_number[] = {SOLD_FIELDS("11000", "92233720368547758x9"), NULL};
    cr_assert_eq(parse("1-0", not_a_number, &e, why), KITO_E_VALIDATION);
}

Test(outbox_entry, parses_unsold_and_ignores_unknown_fields)
{
    const char *kv[] = {
        "lot_id",       "42", "sale_id",      "7",   "seller_id", "9",      "winner", "0",
        "hammer_minor", "0",  "currency",     "TZS", "result",    "unsold", "reason", "2",
        "closed_at_ms", "5",  "future_field", "x",   NULL};
    struct kito_outbox_entry e;
    char why[200];
    cr_assert_eq(parse("5-1", kv, &e, why), KITO_OK, "%s", why);
    cr_assert_eq(e.result, KITO_OUTBOX_UNSOLD);
    cr_assert_eq(e.reason, 2);
}

Test(outbox_entry, refuses_what_cannot_settle)
{
    struct kito_outbox_entry e;
    char why[200];
    const char *zero_hammer[] = {SOLD_FIELDS("0", "11"), NULL};
    cr_assert_eq(parse("1-0", zero_hammer, &e, why), KITO_E_VALIDATION);
    const char *no_winner[] = {SOLD_FIELDS("100", "0"), NULL};
    cr_assert_eq(parse("1-0", no_winner, &e, why), KITO_E_VALIDATION);
    const char *negative[] = {SOLD_FIELDS("-5", "11"), NULL};
    cr_assert_eq(parse("1-0", negative, &e, why), KITO_E_VALIDATION);
    const char *overflow[] = {SOLD_FIELDS("99999999999999999999", "11"), NULL};
    cr_assert_eq(parse("1-0", overflow, &e, why), KITO_E_VALIDATION);
    cr_assert(strstr(why, "hammer_minor") != NULL, "%s", why);
    const char *junk[] = {SOLD_FIELDS("12a", "11"), NULL};
    cr_assert_eq(parse("1-0", junk, &e, why), KITO_E_VALIDATION);
    const char *missing[] = {"lot_id", "42", "result", "sold", NULL};
    cr_assert_eq(parse("1-0", missing, &e, why), KITO_E_VALIDATION);
    cr_assert(strstr(why, "missing") != NULL, "%s", why);
    const char *twice[] = {SOLD_FIELDS("100", "11"), "lot_id", "43", NULL};
    cr_assert_eq(parse("1-0", twice, &e, why), KITO_E_VALIDATION);
    const char *bad_result[] = {"lot_id", "42",   "sale_id",      "7", "seller_id", "9",
                                "winner", "0",    "hammer_minor", "0", "currency",  "USD",
                                "result", "lost", "closed_at_ms", "5", NULL};
    cr_assert_eq(parse("1-0", bad_result, &e, why), KITO_E_VALIDATION);
    const char *lower_currency[] = {"lot_id", "42",     "sale_id",      "7", "seller_id", "9",
                                    "winner", "0",      "hammer_minor", "0", "currency",  "usd",
                                    "result", "unsold", "closed_at_ms", "5", NULL};
    cr_assert_eq(parse("1-0", lower_currency, &e, why), KITO_E_VALIDATION);
    const char *unsold_with_hammer[] = {
        "lot_id", "42",     "sale_id",      "7",  "seller_id", "9",
        "winner", "3",      "hammer_minor", "10", "currency",  "USD",
        "result", "unsold", "closed_at_ms", "5",  NULL};
    cr_assert_eq(parse("1-0", unsold_with_hammer, &e, why), KITO_E_VALIDATION);
    const char *ok[] = {SOLD_FIELDS("100", "11"), NULL};
    cr_assert_eq(parse("1", ok, &e, why), KITO_E_VALIDATION, "an id without -seq");
    cr_assert_eq(parse("1-0-0", ok, &e, why), KITO_E_VALIDATION);
    cr_assert_eq(parse("a-0", ok, &e, why), KITO_E_VALIDATION);
    cr_assert_eq(parse("1-0", ok, &e, why), KITO_OK, "%s", why);
}

Test(outbox_entry, renders_json_for_rejects)
{
    const char *kv[] = {SOLD_FIELDS("123457", "11"), NULL};
    struct kito_outbox_entry e;
    char why[200], json[800];
    cr_assert_eq(parse("9-3", kv, &e, why), KITO_OK);
    kito_outbox_entry_json(&e, json, sizeof(json));
    cr_assert(strstr(json, "\"id\":\"9-3\"") != NULL, "%s", json);
    cr_assert(strstr(json, "\"hammer_minor\":123457") != NULL, "%s", json);
    cr_assert(strstr(json, "\"result\":\"sold\"") != NULL, "%s", json);
}

Test(settlement_worker, start_refuses_bad_parameters)
{
    struct kito_settlement_params p;
    kito_settlement_params_default(&p);
    kito_settlement *w = NULL;
    p.batch = 0;
    cr_assert_eq(kito_settlement_start(&p, &w), KITO_E_CONFIG);
    p.batch = KITO_SETTLEMENT_BATCH_MAX + 1;
    cr_assert_eq(kito_settlement_start(&p, &w), KITO_E_CONFIG);
    kito_settlement_stop(NULL);
}
