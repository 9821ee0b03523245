/* The rule that decides whether a provider's success can be trusted (issue 19, "Anomalies are
 * held, not trusted"; api/money/payouts.h kito_payout_disagreement): pure, no MySQL. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/money/payout_rules.h"

static kito_payout payout(void)
{
    kito_payout p;
    memset(&p, 0, sizeof(p));
    strcpy(p.msisdn, "+260971000303");
    strcpy(p.currency, "ZMW");
    p.paid_units = 2358;
    return p;
}

Test(payout_anomaly, a_report_that_agrees_or_says_nothing_is_trusted)
{
    kito_payout p = payout();
    char why[200];
    cr_assert_null(
        kito_payout_disagreement(&p, true, 2358, "ZMW", "260971000303", why, sizeof(why)));
    cr_assert_str_eq(why, "");
    cr_assert_null(
        kito_payout_disagreement(&p, true, 2358, "ZMW", "+260971000303", why, sizeof(why)));
    cr_assert_null(kito_payout_disagreement(&p, false, 0, "", "", why, sizeof(why)));
    cr_assert_null(kito_payout_disagreement(&p, false, 0, NULL, NULL, why, sizeof(why)));
}

Test(payout_anomaly, amount_currency_and_wallet_are_each_an_anomaly)
{
    kito_payout p = payout();
    char why[200];
    cr_assert_str_eq(kito_payout_disagreement(&p, true, 2359, "ZMW", NULL, why, sizeof(why)),
                     "amount");
    cr_assert(strstr(why, "2359") != NULL);
    cr_assert_str_eq(kito_payout_disagreement(&p, true, -1, NULL, NULL, why, sizeof(why)),
                     "amount");
    cr_assert_str_eq(kito_payout_disagreement(&p, true, 2358, "USD", NULL, why, sizeof(why)),
                     "currency");
    cr_assert_str_eq(kito_payout_disagreement(&p, false, 0, NULL, "260971000304", why, sizeof(why)),
                     "wallet");
}
