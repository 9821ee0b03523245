#include <criterion/criterion.h>
#include <stdint.h>

#include "engine/fees.h"

static const struct kito_fee_rates tz_default = {
    .buyer_premium_bps = 1000, /* 10% */
    .commission_bps = 500,     /* 5% */
    .royalty_bps = 600,        /* Tanzania rough coloured gemstones, 6% */
    .levy_bps = 100,           /* association levy, 1% */
};

static void assert_adds_up(const struct kito_settlement_amounts *a)
{
    cr_assert_eq(a->buyer_total_minor,
                 a->hammer_minor + a->buyer_premium_minor + a->shipping_minor);
    cr_assert_eq(a->miner_net_minor + a->commission_minor + a->royalty_minor + a->levy_minor,
                 a->hammer_minor);
    struct kito_posting p[KITO_SETTLEMENT_POSTINGS_MAX];
    int n = kito_fees_postings(a, p);
    __int128 sum = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_neq(p[i].amount_minor, 0, "zero postings are left out");
        sum += p[i].amount_minor;
    }
    cr_assert(sum == 0, "postings do not balance");
}

Test(fees, worked_example_tanzanite_1250_usd)
{
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(125000, &tz_default, &a), KITO_OK);
    cr_assert_eq(a.buyer_premium_minor, 12500);
    cr_assert_eq(a.buyer_total_minor, 137500);
    cr_assert_eq(a.commission_minor, 6250);
    cr_assert_eq(a.royalty_minor, 7500);
    cr_assert_eq(a.levy_minor, 1250);
    cr_assert_eq(a.miner_net_minor, 125000 - 6250 - 7500 - 1250);
    assert_adds_up(&a);
}

Test(fees, rounding_is_half_up_to_the_minor_unit)
{
    cr_assert_eq(kito_fees_apply_bps(5, 1000), 1);   /* 0.5 -> 1 */
    cr_assert_eq(kito_fees_apply_bps(4, 1000), 0);   /* 0.4 -> 0 */
    cr_assert_eq(kito_fees_apply_bps(15, 1000), 2);  /* 1.5 -> 2 */
    cr_assert_eq(kito_fees_apply_bps(14, 1000), 1);  /* 1.4 -> 1 */
    cr_assert_eq(kito_fees_apply_bps(1, 5000), 1);   /* 0.5 -> 1 */
    cr_assert_eq(kito_fees_apply_bps(1, 4999), 0);   /* 0.4999 -> 0 */
    cr_assert_eq(kito_fees_apply_bps(333, 600), 20); /* 19.98 -> 20 */
    cr_assert_eq(kito_fees_apply_bps(12345, 0), 0);
    cr_assert_eq(kito_fees_apply_bps(12345, 10000), 12345);
}

Test(fees, amounts_that_do_not_divide_evenly_still_add_up)
{
    for (int64_t h = 1; h < 3000; h += 7) {
        struct kito_settlement_amounts a;
        cr_assert_eq(kito_fees_compute(h, &tz_default, &a), KITO_OK, "hammer %ld", (long)h);
        assert_adds_up(&a);
    }
}

Test(fees, largest_amounts_do_not_overflow)
{
    struct kito_fee_rates no_premium = tz_default;
    no_premium.buyer_premium_bps = 0;
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(INT64_MAX, &no_premium, &a), KITO_OK);
    cr_assert_eq(a.buyer_total_minor, INT64_MAX);
    cr_assert_eq(a.royalty_minor, kito_fees_apply_bps(INT64_MAX, 600));
    assert_adds_up(&a);
    /* with a premium the buyer total would pass INT64_MAX: refused, not wrapped */
    struct kito_settlement_amounts untouched = {.hammer_minor = 42};
    cr_assert_eq(kito_fees_compute(INT64_MAX, &tz_default, &untouched), KITO_E_BAD_AMOUNT);
    cr_assert_eq(untouched.hammer_minor, 42, "output written on failure");
    /* the largest hammer whose total fits is accepted */
    int64_t h = INT64_MAX / 11 * 10;
    cr_assert_eq(kito_fees_compute(h, &tz_default, &a), KITO_OK);
    assert_adds_up(&a);
}

Test(fees, bad_input_is_refused)
{
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(0, &tz_default, &a), KITO_E_BAD_AMOUNT);
    cr_assert_eq(kito_fees_compute(-100, &tz_default, &a), KITO_E_BAD_AMOUNT);
    struct kito_fee_rates r = tz_default;
    r.royalty_bps = 10001;
    cr_assert_eq(kito_fees_compute(100, &r, &a), KITO_E_VALIDATION);
    r = tz_default;
    r.levy_bps = -1;
    cr_assert_eq(kito_fees_compute(100, &r, &a), KITO_E_VALIDATION);
    r = tz_default;
    r.commission_bps = 6000;
    r.royalty_bps = 5000; /* deductions of 110% of the hammer */
    cr_assert_eq(kito_fees_compute(100, &r, &a), KITO_E_VALIDATION);
    r = tz_default;
    r.shipping_minor = -1;
    cr_assert_eq(kito_fees_compute(100, &r, &a), KITO_E_BAD_AMOUNT);
}

Test(fees, programme_sale_without_commission_or_levy_has_fewer_postings)
{
    struct kito_fee_rates r = {.buyer_premium_bps = 900, .royalty_bps = 500};
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(40000, &r, &a), KITO_OK);
    cr_assert_eq(a.commission_minor, 0);
    cr_assert_eq(a.miner_net_minor, 38000);
    struct kito_posting p[KITO_SETTLEMENT_POSTINGS_MAX];
    cr_assert_eq(kito_fees_postings(&a, p), 4); /* buyer, miner, platform, royalty */
    cr_assert_eq(p[0].account, KITO_LEDGER_BUYER_RECEIVABLE);
    cr_assert_eq(p[0].amount_minor, 43600);
    assert_adds_up(&a);
}

Test(fees, shipping_is_passed_to_the_carrier)
{
    struct kito_fee_rates r = tz_default;
    r.shipping_minor = 4500;
    struct kito_settlement_amounts a;
    cr_assert_eq(kito_fees_compute(10000, &r, &a), KITO_OK);
    cr_assert_eq(a.buyer_total_minor, 10000 + 1000 + 4500);
    struct kito_posting p[KITO_SETTLEMENT_POSTINGS_MAX];
    int n = kito_fees_postings(&a, p);
    cr_assert_eq(p[n - 1].account, KITO_LEDGER_SHIPPING_PAYABLE);
    cr_assert_eq(p[n - 1].amount_minor, -4500);
    assert_adds_up(&a);
}
