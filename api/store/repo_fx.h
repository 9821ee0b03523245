/*
 * Exchange rates as buyers see them (issue 16, "Language and money": "amounts in the sale
 * currency with a labelled estimate in the buyer's chosen currency from the recorded exchange
 * rates"). The rates are the operator's (`kitoctl fx set`, schemas/010_payouts.sql; written by
 * api/money/fx.c, which also converts payouts with them); this module only reads the
 * current one of each pair. An estimate is never binding: the sale currency is.
 */
#ifndef KITO_REPO_FX_H
#define KITO_REPO_FX_H

#include <stdint.h>

#include "api/store/db.h"
#include "engine/err.h"

/* Pairs one answer lists at most (the currencies table holds a handful: 7 today, 42 pairs). */
#define KITO_FX_PAIRS_MAX 200

/* One pair's current rate: units of to per unit of from, x 10^6, in effect since
 * effective_from_ms (the latest row of the pair whose effective_from is not in the future). */
typedef struct kito_fx_rate {
    char from[4], to[4];
    int64_t rate_micros;
    int64_t effective_from_ms;
} kito_fx_rate;

/* Called once per pair, ordered by (from, to); the row is valid during the call. A non-OK
 * return stops the list and is returned. */
typedef kito_err (*kito_fx_rate_fn)(void *ud, const kito_fx_rate *rate);

/* The current rate of every pair, or of the pairs from currency from (NULL: all), at most
 * KITO_FX_PAIRS_MAX. Worker thread. KITO_OK, or the SQL error. */
kito_err kito_fx_current(kito_db_conn *db, const char *from, kito_fx_rate_fn fn, void *ud);

#endif
