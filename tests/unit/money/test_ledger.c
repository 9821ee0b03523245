/* The ledger's pure checks (api/money/ledger.h): balance and parties of settlement postings. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "api/money/ledger.h"
#include "engine/fees.h"

/* The worked example of the integration test, through fees.h and the worker's checks. */
Test(ledger, postings_of_the_worked_example_balance)
{
    const struct kito_fee_rates rates = {1000, 500, 600, 100, 0};
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(123457, &rates, &a), KITO_OK);
    cr_assert_eq(a.buyer_total_minor, 135803);
    cr_assert_eq(a.miner_net_minor, 108642);
    struct kito_posting p[KITO_SETTLEMENT_POSTINGS_MAX];
    int n = kito_fees_postings(&a, p);
    cr_assert_eq(n, 5);
    cr_assert(kito_ledger_postings_balanced(p, (size_t)n));
    p[0].amount_minor += 1;
    cr_assert(!kito_ledger_postings_balanced(p, (size_t)n), "an unbalanced set passed");
}

Test(ledger, balance_check_does_not_overflow)
{
    const struct kito_posting p[] = {{KITO_LEDGER_BUYER_RECEIVABLE, INT64_MAX},
                                     {KITO_LEDGER_BUYER_RECEIVABLE, INT64_MAX},
                                     {KITO_LEDGER_MINER_PAYABLE, -INT64_MAX},
                                     {KITO_LEDGER_MINER_PAYABLE, -INT64_MAX}};
    cr_assert(kito_ledger_postings_balanced(p, 4));
    cr_assert(!kito_ledger_postings_balanced(p, 3));
    cr_assert(kito_ledger_postings_balanced(p, 0));
}

Test(ledger, parties)
{
    cr_assert_eq(kito_ledger_posting_party(KITO_LEDGER_BUYER_RECEIVABLE, 5, 6), 5);
    cr_assert_eq(kito_ledger_posting_party(KITO_LEDGER_MINER_PAYABLE, 5, 6), 6);
    cr_assert_eq(kito_ledger_posting_party(KITO_LEDGER_PLATFORM_REVENUE, 5, 6), 0);
    cr_assert_eq(kito_ledger_posting_party(KITO_LEDGER_ROYALTY_PAYABLE, 5, 6), 0);
    cr_assert_eq(kito_ledger_posting_party(KITO_LEDGER_LEVY_PAYABLE, 5, 6), 0);
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
