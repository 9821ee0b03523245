/*
 * Settlement arithmetic (DESIGN.md, "Settlement and payouts"): pure integer money math with no
 * I/O. Given a hammer price and the rates of a sale, a stone's country and a miner's association,
 * it computes every part of the settlement and the balanced ledger postings.
 *
 * Rules:
 * - Amounts are int64 minor units of one currency; rates are basis points (1/100 of a percent).
 * - Each part is hammer x rate, rounded half up to the minor unit (amounts are never negative,
 *   so "half up" and "half away from zero" agree).
 * - buyer_total = hammer + buyer_premium + shipping; miner_net = hammer - commission - royalty -
 *   levy. The parts therefore add up exactly by construction, and the postings sum to zero.
 * - A hammer of zero or less, a rate outside 0..10000, deductions above the hammer or a total
 *   that would overflow int64 are refused with a kito_err and the output is left untouched.
 */
#ifndef KITO_FEES_H
#define KITO_FEES_H

#include <stdint.h>

#include "engine/err.h"

#define KITO_BPS_MAX 10000

struct kito_fee_rates {
    int32_t buyer_premium_bps; /* sale.buyer_premium, charged to the buyer on top of the hammer */
    int32_t commission_bps;    /* sale.commission, deducted from the miner */
    int32_t royalty_bps;       /* government royalty for the stone's country and mineral */
    int32_t levy_bps;          /* the miner's association levy; 0 when none */
    int64_t shipping_minor;    /* charged to the buyer at cost; 0 when none */
};

struct kito_settlement_amounts {
    int64_t hammer_minor;
    int64_t buyer_premium_minor;
    int64_t shipping_minor;
    int64_t buyer_total_minor; /* hammer + premium + shipping */
    int64_t commission_minor;
    int64_t royalty_minor;
    int64_t levy_minor;
    int64_t miner_net_minor; /* hammer - commission - royalty - levy; never negative */
};

/* Ledger accounts that a settlement touches. The numbering is stored in MySQL: never change it. */
enum kito_ledger_account {
    KITO_LEDGER_BUYER_RECEIVABLE = 1, /* what the buyer owes */
    KITO_LEDGER_MINER_PAYABLE = 2,    /* what Kito owes the miner */
    KITO_LEDGER_PLATFORM_REVENUE = 3, /* premium + commission */
    KITO_LEDGER_ROYALTY_PAYABLE = 4,  /* owed to the government */
    KITO_LEDGER_LEVY_PAYABLE = 5,     /* owed to the miner's association */
    KITO_LEDGER_SHIPPING_PAYABLE = 6, /* owed to the carrier */
};

/* One posting of a balanced transaction: a debit is positive, a credit negative. */
struct kito_posting {
    enum kito_ledger_account account;
    int64_t amount_minor;
};

#define KITO_SETTLEMENT_POSTINGS_MAX 6

/* Rounds amount x bps / 10000 half up. amount must be >= 0 and bps in 0..10000; the result
 * always fits because it is at most amount. */
int64_t kito_fees_apply_bps(int64_t amount_minor, int32_t bps);

/* Computes every part of a settlement for hammer_minor under rates into *out.
 * Returns KITO_E_BAD_AMOUNT for a hammer <= 0 or a negative shipping, KITO_E_VALIDATION for a
 * rate outside 0..10000 or deductions that exceed the hammer, KITO_E_BAD_AMOUNT when the buyer
 * total would overflow; *out is written only on success. */
kito_err kito_fees_compute(int64_t hammer_minor, const struct kito_fee_rates *rates,
                           struct kito_settlement_amounts *out);

/* Writes the balanced postings of a settlement into postings (capacity
 * KITO_SETTLEMENT_POSTINGS_MAX) and returns how many; zero-amount postings are left out. Their
 * sum is always zero (asserted). */
int kito_fees_postings(const struct kito_settlement_amounts *a,
                       struct kito_posting postings[KITO_SETTLEMENT_POSTINGS_MAX]);

#endif
