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
