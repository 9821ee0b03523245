/*
 * The payout state machine's rules, pure (no MySQL, no clock; any thread): what a provider's
 * report does to an attempt and its payout, when a success is not trusted, and what the ledger
 * is told when a payout succeeds. api/money/payouts.c carries the decisions out in one
 * transaction each; unit tests (tests/unit/money/test_payout_rules.c) check them alone.
 *
 * States (schemas/010_payouts.sql, 016_payout_anomalies.sql): a payout is pending -> submitted
 * -> succeeded | failed | anomaly; failed -> submitted only by a retry (a new attempt). An
 * attempt is queued -> sending -> accepted -> succeeded | failed | anomaly. succeeded, failed
 * and anomaly are final: a result for a final attempt changes nothing, except that a success
 * for an attempt recorded as failed is held (the payout may have been retried: the miner may
 * have been paid twice).
 */
#ifndef KITO_PAYOUT_RULES_H
#define KITO_PAYOUT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/config.h"
#include "api/money/ledger.h"
#include "api/store/repo_payouts.h"

#define KITO_PAYOUT_AUTO_ATTEMPTS 3 /* attempts made without an operator (never-received) */

/* True for a final state of a payout or an attempt (succeeded, failed, anomaly). */
bool kito_payout_state_final(const char *state);

/* Why a success report disagrees with the payout it is about: "amount" (amount_units differs
 * from paid_units, when has_amount), "currency" (currency differs, when not NULL or ""),
 * "wallet" (the digits of wallet differ from the msisdn's, '+' ignored, when not NULL or ""),
 * with a sentence in why; NULL when it agrees (why is then ""). */
const char *kito_payout_disagreement(const kito_payout *p, bool has_amount, int64_t amount_units,
                                     const char *currency, const char *wallet, char *why,
                                     size_t why_size);

/* A result about one attempt, in Kito's terms. */
typedef struct kito_payout_report {
    bool success;
    bool local;      /* Kito's own verdict (may fail an attempt that was never sent) */
    bool auto_retry; /* never received: a new attempt instead of failing the payout */
    bool has_amount;
    int64_t amount_units;
    const char *currency; /* NULL or "": not reported */
    const char *wallet;   /* NULL or "": not reported */
} kito_payout_report;

/* What a report does. */
typedef enum kito_payout_step {
    KITO_PAYOUT_STEP_IGNORE,         /* a duplicate, late or reordered result, or a provider's
                                        result for an attempt never sent: nothing changes */
    KITO_PAYOUT_STEP_HOLD_FAILED,    /* a success for an attempt already failed: the payout is
                                        held, the attempt stays failed */
    KITO_PAYOUT_STEP_HOLD,           /* a success that disagrees, or for a payout not submitted:
                                        the attempt closes as anomaly, the payout is held */
    KITO_PAYOUT_STEP_SUCCEED,        /* attempt and payout succeed; the ledger is posted */
    KITO_PAYOUT_STEP_FAIL_AND_RETRY, /* the attempt fails, a new one is queued */
    KITO_PAYOUT_STEP_FAIL_PAYOUT,    /* the attempt fails and so does the payout */
    KITO_PAYOUT_STEP_FAIL_ATTEMPT,   /* the attempt fails; it was not the payout's current one */
} kito_payout_step;

/* The step report r takes for attempt attempt_id (in attempt_state) of payout p. For the HOLD
 * steps *kind gets the anomaly's kind ("amount", "currency", "wallet", "success_while_held",
 * "success_after_failure") and why a sentence; otherwise *kind is NULL. */
kito_payout_step kito_payout_decide(const kito_payout *p, uint64_t attempt_id,
                                    const char *attempt_state, const char *reference,
                                    const kito_payout_report *r, const char **kind, char *why,
                                    size_t why_size);

/* Ledger accounts a payout touches besides KITO_LEDGER_MINER_PAYABLE (engine/fees.h), as
 * schemas/009_settlement.sql numbers them (ledger_accounts). */
enum {
    KITO_PAYOUT_LEDGER_MOBILE_MONEY_CLEARING = 8,
    KITO_PAYOUT_LEDGER_FX_CONVERSION = 9,
};

#define KITO_PAYOUT_LEDGER_LINES 5

/* The lines of a succeeded payout's ledger transaction into out: debits the miner's payable in
 * the sale's currency, credits mobile-money clearing with what was sent; across currencies both
 * sides go through fx_conversion and the unpaid sub-unit remainder stays in her payable in her
 * currency. Every currency sums to zero. Returns the number of lines (2 or 5); the lines borrow
 * p's currency strings. */
size_t kito_payout_ledger_lines(const kito_payout *p,
                                kito_ledger_line out[KITO_PAYOUT_LEDGER_LINES]);

/* ---- limits per transfer (KITO_PAYOUT_LIMITS; issue 19) -------------------------------------- */

#define KITO_PAYOUT_PARTS_MAX 100

/* The limits of rail in currency among the n configured (NULL: none apply). */
const kito_payout_limit *kito_payout_limit_find(const kito_payout_limit *limits, size_t n,
                                                const char *rail, const char *currency);

/* Splits whole into parts of at most limit->max_units (limit NULL or max 0: one part), as even
 * as possible (sizes differ by at most one unit). Fills part[0..k-1] with each part's payout: its
 * paid_units, its amount_minor (paid_units x 10^to_exp, and the sub-unit remainder on the last
 * part only), its source_minor (the sale-currency net shared in proportion, the rounding on the
 * last part); every other field copied from whole, part_no 1..k and parts k. The parts sum
 * exactly to whole in units, amount_minor, remainder_minor and source_minor. Returns k, or 0
 * when more than cap (or KITO_PAYOUT_PARTS_MAX) parts would be needed. */
size_t kito_payout_split(const kito_payout *whole, const kito_payout_limit *limit, unsigned to_exp,
                         kito_payout *part, size_t cap);

#endif
