/* The settlement worker's pure parts (api/money/settlement.h): outbox entry parsing, ledger balance,
 * parties, invoice numbers, backoff. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "api/money/repo_settlement.h"
#include "api/money/settlement.h"
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

/* The worked example of the integration test, through fees.h and the worker's checks. */
Test(settlement_ledger, postings_of_the_worked_example_balance)
{
    const struct kito_fee_rates rates = {1000, 500, 600, 100, 0};
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(123457, &rates, &a), KITO_OK);
    cr_assert_eq(a.buyer_total_minor, 135803);
    cr_assert_eq(a.miner_net_minor, 108642);
    struct kito_posting p[KITO_SETTLEMENT_POSTINGS_MAX];
    int n = kito_fees_postings(&a, p);
    cr_assert_eq(n, 5);
    cr_assert(kito_settlement_postings_balanced(p, (size_t)n));
    p[0].amount_minor += 1;
    cr_assert(!kito_settlement_postings_balanced(p, (size_t)n), "an unbalanced set passed");
}

Test(settlement_ledger, balance_check_does_not_overflow)
{
    const struct kito_posting p[] = {{KITO_LEDGER_BUYER_RECEIVABLE, INT64_MAX},
                                     {KITO_LEDGER_BUYER_RECEIVABLE, INT64_MAX},
                                     {KITO_LEDGER_MINER_PAYABLE, -INT64_MAX},
                                     {KITO_LEDGER_MINER_PAYABLE, -INT64_MAX}};
    cr_assert(kito_settlement_postings_balanced(p, 4));
    cr_assert(!kito_settlement_postings_balanced(p, 3));
    cr_assert(kito_settlement_postings_balanced(p, 0));
}

Test(settlement_ledger, parties)
{
    cr_assert_eq(kito_settlement_posting_party(KITO_LEDGER_BUYER_RECEIVABLE, 5, 6), 5);
    cr_assert_eq(kito_settlement_posting_party(KITO_LEDGER_MINER_PAYABLE, 5, 6), 6);
    cr_assert_eq(kito_settlement_posting_party(KITO_LEDGER_PLATFORM_REVENUE, 5, 6), 0);
    cr_assert_eq(kito_settlement_posting_party(KITO_LEDGER_ROYALTY_PAYABLE, 5, 6), 0);
    cr_assert_eq(kito_settlement_posting_party(KITO_LEDGER_LEVY_PAYABLE, 5, 6), 0);
}

Test(settlement_ledger, invoice_numbers)
{
    char n[32];
    kito_settlement_invoice_number(42, n);
    cr_assert_str_eq(n, "INV-0000000042");
    kito_settlement_invoice_number(UINT64_MAX, n);
    cr_assert_str_eq(n, "INV-18446744073709551615");
}

Test(settlement_worker, backoff_doubles_to_the_cap)
{
    uint32_t ms = 0;
    ms = kito_settlement_backoff_next(ms);
    cr_assert_eq(ms, KITO_SETTLEMENT_BACKOFF_MIN_MS);
    ms = kito_settlement_backoff_next(ms);
    cr_assert_eq(ms, 200);
    for (int i = 0; i < 10; i++)
        ms = kito_settlement_backoff_next(ms);
    cr_assert_eq(ms, KITO_SETTLEMENT_BACKOFF_MAX_MS);
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

/* kito_ledger_post judges the lines before it touches the database (db is NULL here: a check
 * that let these through would crash on it). */
Test(ledger_post, refuses_what_does_not_balance_per_currency)
{
    uint64_t tx = 0;
    const kito_ledger_line one_sided[] = {{KITO_LEDGER_MINER_PAYABLE, 9, 500, "USD"},
                                          {KITO_LEDGER_PLATFORM_REVENUE, 0, -400, "USD"}};
    cr_assert_eq(kito_ledger_post(NULL, "payout", "r1", "USD", NULL, one_sided, 2, &tx),
                 KITO_E_INTERNAL);
    /* balanced in total but not per currency */
    const kito_ledger_line mixed[] = {{KITO_LEDGER_MINER_PAYABLE, 9, 500, "USD"},
                                      {KITO_LEDGER_PLATFORM_REVENUE, 0, -500, "KES"}};
    cr_assert_eq(kito_ledger_post(NULL, "payout", "r2", "USD", NULL, mixed, 2, &tx),
                 KITO_E_INTERNAL);
    /* nothing to post */
    const kito_ledger_line zeros[] = {{KITO_LEDGER_MINER_PAYABLE, 9, 0, "USD"}};
    cr_assert_eq(kito_ledger_post(NULL, "payout", "r3", "USD", NULL, zeros, 1, &tx),
                 KITO_E_INTERNAL);
    /* an overflowing sum is not a balance */
    const kito_ledger_line huge[] = {{KITO_LEDGER_MINER_PAYABLE, 9, INT64_MAX, "USD"},
                                     {KITO_LEDGER_MINER_PAYABLE, 9, INT64_MAX, "USD"},
                                     {KITO_LEDGER_PLATFORM_REVENUE, 0, 2, "USD"}};
    cr_assert_eq(kito_ledger_post(NULL, "payout", "r4", "USD", NULL, huge, 3, &tx),
                 KITO_E_INTERNAL);
    cr_assert_eq(
        kito_ledger_post(NULL, "payout", "r5", "USD", NULL, huge, KITO_LEDGER_LINES_MAX + 1, &tx),
        KITO_E_INTERNAL);
    cr_assert_eq(tx, 0, "no transaction id was handed out");
}
