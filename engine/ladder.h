/*
 * Increment ladders (DESIGN.md, "Auction rules"): the step between one bid and the next, as a
 * function of the current price. A ladder is a short table of rungs; rung i applies to prices
 * from rungs[i].from_minor (inclusive) up to the next rung's from. A sale may replace the default
 * table; the engine keeps one copy per distinct ladder and lots refer to it.
 *
 * A valid ladder has 1..KITO_LADDER_MAX_RUNGS rungs, the first from 0, the froms strictly
 * increasing, every step > 0, the steps non-decreasing and every amount at most
 * KITO_AMOUNT_MAX_MINOR.
 *
 * Pure functions on caller-owned values; any thread.
 */
#ifndef KITO_LADDER_H
#define KITO_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/* Largest amount the engine accepts, in minor units (10^15: ten trillion dollars in cents).
 * Bounding amounts well below INT64_MAX means every sum the engine forms (price + step, bid +
 * step) fits in int64 even before the overflow checks, and leaves settlement room to multiply a
 * hammer by a rate in basis points without overflow (10^15 x 10^4 < 2^63). */
#define KITO_AMOUNT_MAX_MINOR INT64_C(1000000000000000)

#define KITO_LADDER_MAX_RUNGS 16

struct kito_ladder_rung {
    int64_t from_minor; /* the step applies to prices >= this (minor units) */
    int64_t step_minor; /* the increment at those prices; > 0 */
};

/* A ladder by value: 8 + 16 x 16 = 264 bytes. Only rungs[0 .. n_rungs-1] are meaningful; the
 * rest are zero (kito_ladder_init and kito_ladder_default guarantee it, so two equal ladders are
 * equal byte for byte). */
struct kito_ladder {
    uint32_t n_rungs;
    uint32_t reserved; /* zero */
    struct kito_ladder_rung rungs[KITO_LADDER_MAX_RUNGS];
};

/* Fills out with the default table of DESIGN.md (USD: from 0 step 5, from 100 step 10, ... from
 * 50,000 step 5,000), converted to minor units (cents). Never fails. */
void kito_ladder_default(struct kito_ladder *out);

/* Copies n_rungs rungs into out after validating them. On failure returns KITO_E_BAD_LADDER and
 * leaves out untouched. rungs is borrowed. */
kito_err kito_ladder_init(struct kito_ladder *out, const struct kito_ladder_rung *rungs,
                          size_t n_rungs);

/* KITO_OK if l is a valid ladder (rules above, unused rungs zero), else KITO_E_BAD_LADDER. */
kito_err kito_ladder_validate(const struct kito_ladder *l);

/* The step at price_minor (>= 0) on a valid ladder: the step of the last rung whose from is <=
 * price_minor. Never fails; asserts its preconditions. */
int64_t kito_ladder_step(const struct kito_ladder *l, int64_t price_minor);

/* *out = price_minor + step(price_minor). Returns KITO_E_BAD_AMOUNT (and leaves *out untouched) if
 * the sum would exceed KITO_AMOUNT_MAX_MINOR. */
kito_err kito_ladder_next(const struct kito_ladder *l, int64_t price_minor, int64_t *out);

/* True if a and b have the same rungs. */
bool kito_ladder_equal(const struct kito_ladder *a, const struct kito_ladder *b);

#endif
