#include "engine/fees.h"

#include <assert.h>
#include <stdbool.h>

int64_t kito_fees_apply_bps(int64_t amount_minor, int32_t bps)
{
    assert(amount_minor >= 0);
    assert(bps >= 0 && bps <= KITO_BPS_MAX);
    /* 128-bit product: any int64 amount times 10000 fits, so no amount is too large to price. */
    __int128 scaled = (__int128)amount_minor * bps;
    int64_t result = (int64_t)((scaled + KITO_BPS_MAX / 2) / KITO_BPS_MAX);
    assert(result >= 0 && result <= amount_minor);
    return result;
}

static bool rate_ok(int32_t bps)
{
    return bps >= 0 && bps <= KITO_BPS_MAX;
}

kito_err kito_fees_compute(int64_t hammer_minor, const struct kito_fee_rates *rates,
                           struct kito_settlement_amounts *out)
{
    if (hammer_minor <= 0 || rates->shipping_minor < 0)
        return KITO_E_BAD_AMOUNT;
    if (!rate_ok(rates->buyer_premium_bps) || !rate_ok(rates->commission_bps) ||
        !rate_ok(rates->royalty_bps) || !rate_ok(rates->levy_bps))
        return KITO_E_VALIDATION;

    struct kito_settlement_amounts a = {
        .hammer_minor = hammer_minor,
        .buyer_premium_minor = kito_fees_apply_bps(hammer_minor, rates->buyer_premium_bps),
        .shipping_minor = rates->shipping_minor,
        .commission_minor = kito_fees_apply_bps(hammer_minor, rates->commission_bps),
        .royalty_minor = kito_fees_apply_bps(hammer_minor, rates->royalty_bps),
        .levy_minor = kito_fees_apply_bps(hammer_minor, rates->levy_bps),
    };
    /* Each deduction is at most the hammer, so their sum cannot overflow int64 in 128 bits. */
    __int128 deductions = (__int128)a.commission_minor + a.royalty_minor + a.levy_minor;
    if (deductions > hammer_minor)
        return KITO_E_VALIDATION;
    a.miner_net_minor = hammer_minor - (int64_t)deductions;
    if (__builtin_add_overflow(hammer_minor, a.buyer_premium_minor, &a.buyer_total_minor) ||
        __builtin_add_overflow(a.buyer_total_minor, a.shipping_minor, &a.buyer_total_minor))
        return KITO_E_BAD_AMOUNT;

    assert(a.miner_net_minor >= 0);
    assert(a.miner_net_minor + a.commission_minor + a.royalty_minor + a.levy_minor ==
           a.hammer_minor);
    *out = a;
    return KITO_OK;
}

int kito_fees_postings(const struct kito_settlement_amounts *a,
                       struct kito_posting postings[KITO_SETTLEMENT_POSTINGS_MAX])
{
    /* The buyer owes the total (debit); it is owed on to the miner, Kito, the government, the
     * association and the carrier (credits). Platform revenue cannot overflow: premium and
     * commission are each at most the hammer, and buyer_total already held hammer + premium. */
    const struct kito_posting all[KITO_SETTLEMENT_POSTINGS_MAX] = {
        {KITO_LEDGER_BUYER_RECEIVABLE, a->buyer_total_minor},
        {KITO_LEDGER_MINER_PAYABLE, -a->miner_net_minor},
        {KITO_LEDGER_PLATFORM_REVENUE, -(a->buyer_premium_minor + a->commission_minor)},
        {KITO_LEDGER_ROYALTY_PAYABLE, -a->royalty_minor},
        {KITO_LEDGER_LEVY_PAYABLE, -a->levy_minor},
        {KITO_LEDGER_SHIPPING_PAYABLE, -a->shipping_minor},
    };
    int n = 0;
    __int128 sum = 0;
    for (int i = 0; i < KITO_SETTLEMENT_POSTINGS_MAX; i++) {
        if (all[i].amount_minor == 0)
            continue;
        postings[n++] = all[i];
        sum += all[i].amount_minor;
    }
    assert(sum == 0);
    return n;
}
