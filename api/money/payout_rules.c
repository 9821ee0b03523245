#include "api/money/payout_rules.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

bool kito_payout_state_final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "anomaly") == 0;
}

/* E.164 with or without its '+': the providers drop it, Kito keeps it. */
static const char *digits_of(const char *msisdn)
{
    return msisdn[0] == '+' ? msisdn + 1 : msisdn;
}

const char *kito_payout_disagreement(const kito_payout *p, bool has_amount, int64_t amount_units,
                                     const char *currency, const char *wallet, char *why,
                                     size_t why_size)
{
    assert(p != NULL && why != NULL && why_size > 0);
    if (has_amount && amount_units != p->paid_units) {
        snprintf(why, why_size, "the provider paid %" PRId64 " units, Kito asked for %" PRId64,
                 amount_units, p->paid_units);
        return "amount";
    }
    if (currency != NULL && currency[0] != '\0' && strcmp(currency, p->currency) != 0) {
        snprintf(why, why_size, "the provider paid in %.8s, Kito asked for %s", currency,
                 p->currency);
        return "currency";
    }
    if (wallet != NULL && wallet[0] != '\0' &&
        strcmp(digits_of(wallet), digits_of(p->msisdn)) != 0) {
        snprintf(why, why_size, "the provider paid wallet %.20s, Kito asked for %s", wallet,
                 p->msisdn);
        return "wallet";
    }
    why[0] = '\0';
    return NULL;
}

kito_payout_step kito_payout_decide(const kito_payout *p, uint64_t attempt_id,
                                    const char *attempt_state, const char *reference,
                                    const kito_payout_report *r, const char **kind, char *why,
                                    size_t why_size)
{
    assert(p != NULL && attempt_state != NULL && r != NULL && kind != NULL && why_size > 0);
    *kind = NULL;
    why[0] = '\0';
    if (kito_payout_state_final(attempt_state)) {
        if (r->success && !r->local && strcmp(attempt_state, "failed") == 0) {
            /* DESIGN.md: a success after a recorded failure is held, never ignored */
            *kind = "success_after_failure";
            snprintf(why, why_size,
                     "a success for attempt %s, recorded as failed; the payout was %s", reference,
                     p->state);
            return KITO_PAYOUT_STEP_HOLD_FAILED;
        }
        return KITO_PAYOUT_STEP_IGNORE; /* final states never change */
    }
    if (!r->local && strcmp(attempt_state, "queued") == 0)
        return KITO_PAYOUT_STEP_IGNORE; /* never sent: the provider cannot have a result */
    if (r->success) {
        *kind = kito_payout_disagreement(p, r->has_amount, r->amount_units, r->currency, r->wallet,
                                         why, why_size);
        if (*kind == NULL && strcmp(p->state, "submitted") != 0) {
            *kind = "success_while_held";
            snprintf(why, why_size, "the provider paid attempt %s but the payout is %s", reference,
                     p->state);
        }
        return *kind != NULL ? KITO_PAYOUT_STEP_HOLD : KITO_PAYOUT_STEP_SUCCEED;
    }
    bool current = p->current_attempt_id == attempt_id && strcmp(p->state, "submitted") == 0;
    if (!current)
        return KITO_PAYOUT_STEP_FAIL_ATTEMPT;
    if (r->auto_retry && p->attempts < KITO_PAYOUT_AUTO_ATTEMPTS)
        return KITO_PAYOUT_STEP_FAIL_AND_RETRY;
    return KITO_PAYOUT_STEP_FAIL_PAYOUT;
}

size_t kito_payout_ledger_lines(const kito_payout *p,
                                kito_ledger_line out[KITO_PAYOUT_LEDGER_LINES])
{
    const uint64_t miner = p->miner_id;
    int64_t paid_minor = p->amount_minor - p->remainder_minor;
    size_t n = 0;
    if (strcmp(p->source_currency, p->currency) == 0) {
        out[n++] = (kito_ledger_line){KITO_LEDGER_MINER_PAYABLE, miner, paid_minor, p->currency};
        out[n++] = (kito_ledger_line){KITO_PAYOUT_LEDGER_MOBILE_MONEY_CLEARING, 0, -paid_minor,
                                      p->currency};
    } else {
        out[n++] = (kito_ledger_line){KITO_LEDGER_MINER_PAYABLE, miner, p->source_minor,
                                      p->source_currency};
        out[n++] = (kito_ledger_line){KITO_PAYOUT_LEDGER_FX_CONVERSION, 0, -p->source_minor,
                                      p->source_currency};
        out[n++] =
            (kito_ledger_line){KITO_PAYOUT_LEDGER_FX_CONVERSION, 0, p->amount_minor, p->currency};
        out[n++] = (kito_ledger_line){KITO_PAYOUT_LEDGER_MOBILE_MONEY_CLEARING, 0, -paid_minor,
                                      p->currency};
        out[n++] =
            (kito_ledger_line){KITO_LEDGER_MINER_PAYABLE, miner, -p->remainder_minor, p->currency};
    }
    assert(n <= KITO_PAYOUT_LEDGER_LINES);
    return n;
}

const kito_payout_limit *kito_payout_limit_find(const kito_payout_limit *limits, size_t n,
                                                const char *rail, const char *currency)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(limits[i].rail, rail) == 0 && strcmp(limits[i].currency, currency) == 0)
            return &limits[i];
    return NULL;
}

size_t kito_payout_split(const kito_payout *whole, const kito_payout_limit *limit, unsigned to_exp,
                         kito_payout *part, size_t cap)
{
    assert(whole->paid_units >= 0 && whole->source_minor >= 0 && to_exp <= 4);
    int64_t max = limit != NULL ? limit->max_units : 0;
    int64_t k = max > 0 && whole->paid_units > max ? (whole->paid_units + max - 1) / max : 1;
    if (k > (int64_t)cap || k > KITO_PAYOUT_PARTS_MAX)
        return 0;
    int64_t scale = 1;
    for (unsigned i = 0; i < to_exp; i++)
        scale *= 10;
    int64_t base = whole->paid_units / k, extra = whole->paid_units % k, before = 0;
    int64_t source_before = 0;
    for (int64_t i = 0; i < k; i++) {
        kito_payout *p = &part[i];
        *p = *whole;
        p->part_no = (uint32_t)(i + 1);
        p->parts = (uint32_t)k;
        p->paid_units = base + (i < extra ? 1 : 0);
        before += p->paid_units;
        bool last = i == k - 1;
        p->remainder_minor = last ? whole->remainder_minor : 0;
        p->amount_minor =
            last ? whole->amount_minor - (before - p->paid_units) * scale : p->paid_units * scale;
        /* the net in proportion to the units, cumulatively, so the parts add up exactly */
        int64_t source_upto =
            last || whole->paid_units == 0
                ? whole->source_minor
                : (int64_t)((__int128)whole->source_minor * before / whole->paid_units);
        p->source_minor = source_upto - source_before;
        source_before = source_upto;
    }
    assert(before == whole->paid_units && source_before == whole->source_minor);
    return (size_t)k;
}
