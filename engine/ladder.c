#include "engine/ladder.h"

#include <assert.h>
#include <string.h>

/* DESIGN.md, "Auction rules": the default ladder, in US dollars. */
static const int64_t default_usd[][2] = {
    {0, 5},      {100, 10},   {200, 20},     {500, 50},     {1000, 100},
    {2000, 200}, {5000, 500}, {10000, 1000}, {20000, 2000}, {50000, 5000},
};

#define CENTS_PER_USD 100

void kito_ladder_default(struct kito_ladder *out)
{
    size_t n = sizeof(default_usd) / sizeof(default_usd[0]);
    memset(out, 0, sizeof(*out));
    out->n_rungs = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        out->rungs[i].from_minor = default_usd[i][0] * CENTS_PER_USD;
        out->rungs[i].step_minor = default_usd[i][1] * CENTS_PER_USD;
    }
    assert(kito_ladder_validate(out) == KITO_OK);
}

static kito_err validate_rungs(const struct kito_ladder_rung *rungs, size_t n)
{
    if (n == 0 || n > KITO_LADDER_MAX_RUNGS)
        return KITO_E_BAD_LADDER;
    if (rungs[0].from_minor != 0)
        return KITO_E_BAD_LADDER;
    for (size_t i = 0; i < n; i++) {
        if (rungs[i].step_minor <= 0 || rungs[i].step_minor > KITO_AMOUNT_MAX_MINOR)
            return KITO_E_BAD_LADDER;
        if (rungs[i].from_minor < 0 || rungs[i].from_minor > KITO_AMOUNT_MAX_MINOR)
            return KITO_E_BAD_LADDER;
        if (i > 0 && rungs[i].from_minor <= rungs[i - 1].from_minor)
            return KITO_E_BAD_LADDER;
        /* Steps never shrink as prices rise: it keeps the proxy price at or above the ask. */
        if (i > 0 && rungs[i].step_minor < rungs[i - 1].step_minor)
            return KITO_E_BAD_LADDER;
    }
    return KITO_OK;
}

kito_err kito_ladder_init(struct kito_ladder *out, const struct kito_ladder_rung *rungs,
                          size_t n_rungs)
{
    if (rungs == NULL)
        return KITO_E_BAD_LADDER;
    kito_err err = validate_rungs(rungs, n_rungs);
    if (err != KITO_OK)
        return err;
    memset(out, 0, sizeof(*out));
    out->n_rungs = (uint32_t)n_rungs;
    memcpy(out->rungs, rungs, n_rungs * sizeof(rungs[0]));
    return KITO_OK;
}

kito_err kito_ladder_validate(const struct kito_ladder *l)
{
    if (l->reserved != 0 || l->n_rungs == 0 || l->n_rungs > KITO_LADDER_MAX_RUNGS)
        return KITO_E_BAD_LADDER;
    kito_err err = validate_rungs(l->rungs, l->n_rungs);
    if (err != KITO_OK)
        return err;
    /* Unused rungs must be zero so that equal ladders compare equal as bytes. */
    for (uint32_t i = l->n_rungs; i < KITO_LADDER_MAX_RUNGS; i++) {
        if (l->rungs[i].from_minor != 0 || l->rungs[i].step_minor != 0)
            return KITO_E_BAD_LADDER;
    }
    return KITO_OK;
}

int64_t kito_ladder_step(const struct kito_ladder *l, int64_t price_minor)
{
    assert(price_minor >= 0);
    assert(l->n_rungs >= 1 && l->n_rungs <= KITO_LADDER_MAX_RUNGS);
    /* Scan down from the top: ladders are short (<= 16 rungs) and this is branch-predictable. */
    uint32_t i = l->n_rungs - 1;
    while (i > 0 && l->rungs[i].from_minor > price_minor)
        i--;
    return l->rungs[i].step_minor;
}

kito_err kito_ladder_next(const struct kito_ladder *l, int64_t price_minor, int64_t *out)
{
    int64_t next;
    if (__builtin_add_overflow(price_minor, kito_ladder_step(l, price_minor), &next) ||
        next > KITO_AMOUNT_MAX_MINOR)
        return KITO_E_BAD_AMOUNT;
    *out = next;
    return KITO_OK;
}

bool kito_ladder_equal(const struct kito_ladder *a, const struct kito_ladder *b)
{
    if (a->n_rungs != b->n_rungs)
        return false;
    for (uint32_t i = 0; i < a->n_rungs; i++) {
        if (a->rungs[i].from_minor != b->rungs[i].from_minor ||
            a->rungs[i].step_minor != b->rungs[i].step_minor)
            return false;
    }
    return true;
}
