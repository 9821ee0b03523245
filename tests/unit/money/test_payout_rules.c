/* The payout state machine's rules (api/money/payout_rules.h): what a report does to an attempt
 * and its payout, and the ledger lines of a payout. Pure: no MySQL. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/money/payout_rules.h"

static kito_payout submitted(void)
{
    kito_payout p;
    memset(&p, 0, sizeof(p));
    p.id = 7;
    p.miner_id = 42;
    strcpy(p.msisdn, "+260971000303");
    strcpy(p.currency, "ZMW");
    strcpy(p.source_currency, "ZMW");
    strcpy(p.state, "submitted");
    p.paid_units = 2358;
    p.amount_minor = 235800;
    p.attempts = 1;
    p.current_attempt_id = 11;
    return p;
}

static kito_payout_step decide(const kito_payout *p, uint64_t attempt, const char *state,
                               kito_payout_report r, const char **kind)
{
    char why[200];
    return kito_payout_decide(p, attempt, state, "ref-1", &r, kind, why, sizeof(why));
}

Test(payout_rules, a_matching_success_for_a_sent_attempt_succeeds)
{
    kito_payout p = submitted();
    const char *kind;
    kito_payout_report ok = {.success = true, .has_amount = true, .amount_units = 2358};
    cr_assert_eq(decide(&p, 11, "sending", ok, &kind), KITO_PAYOUT_STEP_SUCCEED);
    cr_assert_null(kind);
    cr_assert_eq(decide(&p, 11, "accepted", ok, &kind), KITO_PAYOUT_STEP_SUCCEED);
}

Test(payout_rules, final_attempts_never_change)
{
    kito_payout p = submitted();
    const char *kind;
    kito_payout_report ok = {.success = true};
    kito_payout_report no = {.success = false};
    cr_assert_eq(decide(&p, 11, "succeeded", ok, &kind), KITO_PAYOUT_STEP_IGNORE);
    cr_assert_eq(decide(&p, 11, "succeeded", no, &kind), KITO_PAYOUT_STEP_IGNORE);
    cr_assert_eq(decide(&p, 11, "failed", no, &kind), KITO_PAYOUT_STEP_IGNORE);
    cr_assert_eq(decide(&p, 11, "anomaly", ok, &kind), KITO_PAYOUT_STEP_IGNORE);
}

Test(payout_rules, a_success_after_a_recorded_failure_is_held)
{
    kito_payout p = submitted();
    const char *kind;
    kito_payout_report ok = {.success = true};
    cr_assert_eq(decide(&p, 11, "failed", ok, &kind), KITO_PAYOUT_STEP_HOLD_FAILED);
    cr_assert_str_eq(kind, "success_after_failure");
    /* Kito's own verdicts are never a provider's success */
    kito_payout_report local = {.success = true, .local = true};
    cr_assert_eq(decide(&p, 11, "failed", local, &kind), KITO_PAYOUT_STEP_IGNORE);
}

Test(payout_rules, a_provider_result_for_an_unsent_attempt_is_ignored)
{
    kito_payout p = submitted();
    const char *kind;
    cr_assert_eq(decide(&p, 11, "queued", (kito_payout_report){.success = true}, &kind),
                 KITO_PAYOUT_STEP_IGNORE);
    cr_assert_eq(decide(&p, 11, "queued", (kito_payout_report){.success = false}, &kind),
                 KITO_PAYOUT_STEP_IGNORE);
    /* Kito may fail an attempt it could not build */
    cr_assert_eq(decide(&p, 11, "queued", (kito_payout_report){.local = true}, &kind),
                 KITO_PAYOUT_STEP_FAIL_PAYOUT);
}

Test(payout_rules, a_disagreeing_success_is_held_with_its_kind)
{
    kito_payout p = submitted();
    const char *kind;
    cr_assert_eq(
        decide(&p, 11, "accepted",
               (kito_payout_report){.success = true, .has_amount = true, .amount_units = 2359},
               &kind),
        KITO_PAYOUT_STEP_HOLD);
    cr_assert_str_eq(kind, "amount");
    cr_assert_eq(decide(&p, 11, "accepted",
                        (kito_payout_report){.success = true, .wallet = "260971000999"}, &kind),
                 KITO_PAYOUT_STEP_HOLD);
    cr_assert_str_eq(kind, "wallet");
    strcpy(p.state, "anomaly");
    cr_assert_eq(decide(&p, 11, "accepted", (kito_payout_report){.success = true}, &kind),
                 KITO_PAYOUT_STEP_HOLD);
    cr_assert_str_eq(kind, "success_while_held");
}

Test(payout_rules, failures_retry_only_when_never_received_and_under_the_bound)
{
    kito_payout p = submitted();
    const char *kind;
    kito_payout_report lost = {.success = false, .local = true, .auto_retry = true};
    cr_assert_eq(decide(&p, 11, "sending", lost, &kind), KITO_PAYOUT_STEP_FAIL_AND_RETRY);
    p.attempts = KITO_PAYOUT_AUTO_ATTEMPTS;
    cr_assert_eq(decide(&p, 11, "sending", lost, &kind), KITO_PAYOUT_STEP_FAIL_PAYOUT);
    p.attempts = 1;
    cr_assert_eq(decide(&p, 11, "accepted", (kito_payout_report){.success = false}, &kind),
                 KITO_PAYOUT_STEP_FAIL_PAYOUT);
    /* an older attempt failing leaves the payout alone */
    cr_assert_eq(decide(&p, 10, "accepted", (kito_payout_report){.success = false}, &kind),
                 KITO_PAYOUT_STEP_FAIL_ATTEMPT);
}

static void assert_balanced(const kito_ledger_line *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t sum = 0;
        for (size_t j = 0; j < n; j++)
            if (strcmp(l[i].currency, l[j].currency) == 0)
                sum += l[j].amount_minor;
        cr_assert_eq(sum, 0, "%s does not sum to zero", l[i].currency);
    }
}

Test(payout_rules, ledger_lines_balance_in_one_currency)
{
    kito_payout p = submitted();
    kito_ledger_line l[KITO_PAYOUT_LEDGER_LINES];
    size_t n = kito_payout_ledger_lines(&p, l);
    cr_assert_eq(n, 2);
    cr_assert_eq(l[0].account, KITO_LEDGER_MINER_PAYABLE);
    cr_assert_eq(l[0].party, 42);
    cr_assert_eq(l[0].amount_minor, 235800);
    assert_balanced(l, n);
}

Test(payout_rules, ledger_lines_across_currencies_keep_the_remainder_owed)
{
    kito_payout p = submitted();
    strcpy(p.source_currency, "USD");
    p.source_minor = 10000;  /* 100.00 USD */
    p.amount_minor = 235875; /* 2358.75 ZMW */
    p.paid_units = 2358;
    p.remainder_minor = 75;
    kito_ledger_line l[KITO_PAYOUT_LEDGER_LINES];
    size_t n = kito_payout_ledger_lines(&p, l);
    cr_assert_eq(n, 5);
    assert_balanced(l, n);
    cr_assert_eq(l[3].account, KITO_PAYOUT_LEDGER_MOBILE_MONEY_CLEARING);
    cr_assert_eq(l[3].amount_minor, -235800);
    cr_assert_eq(l[4].account, KITO_LEDGER_MINER_PAYABLE);
    cr_assert_eq(l[4].amount_minor, -75);
}

/* ---- limits per transfer (KITO_PAYOUT_LIMITS) ------------------------------------------------ */

static void assert_parts_sum(const kito_payout *whole, const kito_payout *part, size_t k)
{
    int64_t units = 0, amount = 0, rem = 0, source = 0;
    for (size_t i = 0; i < k; i++) {
        units += part[i].paid_units;
        amount += part[i].amount_minor;
        rem += part[i].remainder_minor;
        source += part[i].source_minor;
        cr_assert_eq(part[i].part_no, i + 1);
        cr_assert_eq(part[i].parts, k);
        kito_ledger_line l[KITO_PAYOUT_LEDGER_LINES];
        assert_balanced(l, kito_payout_ledger_lines(&part[i], l));
    }
    cr_assert_eq(units, whole->paid_units);
    cr_assert_eq(amount, whole->amount_minor);
    cr_assert_eq(rem, whole->remainder_minor);
    cr_assert_eq(source, whole->source_minor);
}

Test(payout_rules, above_the_maximum_a_payout_is_split_into_even_parts_that_sum_exactly)
{
    kito_payout w = submitted();
    strcpy(w.source_currency, "USD");
    w.source_minor = 8900;    /* USD 89.00 */
    w.paid_units = 11525;     /* KES 11,525.50 */
    w.amount_minor = 1152550; /* KES has 2 decimals */
    w.remainder_minor = 50;
    kito_payout_limit lim = {"mpesa", "KES", 100, 5000};
    kito_payout part[KITO_PAYOUT_PARTS_MAX];
    size_t k = kito_payout_split(&w, &lim, 2, part, KITO_PAYOUT_PARTS_MAX);
    cr_assert_eq(k, 3);
    cr_assert_eq(part[0].paid_units, 3842);
    cr_assert_eq(part[1].paid_units, 3842);
    cr_assert_eq(part[2].paid_units, 3841);
    for (size_t i = 0; i < k; i++)
        cr_assert_leq(part[i].paid_units, lim.max_units);
    cr_assert_eq(part[0].remainder_minor, 0);
    cr_assert_eq(part[2].remainder_minor, 50);
    cr_assert_eq(part[0].amount_minor, 384200);
    assert_parts_sum(&w, part, k);
}

Test(payout_rules, at_or_under_the_maximum_or_without_limits_one_part)
{
    kito_payout w = submitted();
    w.source_minor = 235800;
    kito_payout part[4];
    kito_payout_limit lim = {"mpesa", "ZMW", 0, 2358};
    cr_assert_eq(kito_payout_split(&w, &lim, 2, part, 4), 1);
    assert_parts_sum(&w, part, 1);
    cr_assert_eq(kito_payout_split(&w, NULL, 2, part, 4), 1);
    cr_assert_eq(part[0].paid_units, 2358);
    /* more parts than room: refused, nothing half-made */
    kito_payout_limit tiny = {"mpesa", "ZMW", 0, 10};
    cr_assert_eq(kito_payout_split(&w, &tiny, 2, part, 4), 0);
}

Test(payout_rules, limits_are_found_by_rail_and_currency)
{
    kito_payout_limit l[2] = {{"mpesa", "KES", 10, 250000}, {"mtn_momo", "ZMW", 1, 50000}};
    cr_assert_eq(kito_payout_limit_find(l, 2, "mtn_momo", "ZMW"), &l[1]);
    cr_assert_null(kito_payout_limit_find(l, 2, "mpesa", "TZS"));
    cr_assert_null(kito_payout_limit_find(l, 0, "mpesa", "KES"));
}

Test(payout_rules, the_limits_setting_is_parsed_or_refused_with_a_sentence)
{
    kito_payout_limit l[4];
    size_t n;
    char err[200];
    cr_assert(kito_config_parse_payout_limits("", l, 4, &n, err, sizeof(err)));
    cr_assert_eq(n, 0);
    cr_assert(kito_config_parse_payout_limits("mpesa:KES:10:250000,mtn_momo:ZMW:0:0", l, 4, &n, err,
                                              sizeof(err)));
    cr_assert_eq(n, 2);
    cr_assert_str_eq(l[1].rail, "mtn_momo");
    cr_assert_eq(l[0].max_units, 250000);
    static const char *const bad[] = {"mpesa:KES:10",    "mpesa:KES:10:15", "mpesa:KESX:1:9",
                                      "mpesa:KES:-1:10", "mpesa:KES:1:9:9", ",",
                                      "a:B:1:2,",        "a:BBB:x:2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_not(kito_config_parse_payout_limits(bad[i], l, 4, &n, err, sizeof(err)), "%s",
                      bad[i]);
        cr_assert(strstr(err, "KITO_PAYOUT_LIMITS") != NULL);
    }
    cr_assert_not(kito_config_parse_payout_limits("a:BBB:1:2,a:CCC:1:2,a:DDD:1:2,a:EEE:1:2,"
                                                  "a:FFF:1:2",
                                                  l, 4, &n, err, sizeof(err)));
}
