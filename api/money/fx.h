/*
 * Exchange rates (schemas/010_payouts.sql, exchange_rates): the operator records them
 * (`kitoctl fx set`); a payout converts the miner's net from the sale's currency to hers at the
 * rate in effect when the payout is made, and copies it onto the payout (later changes never
 * alter a payout). The conversion arithmetic (half up to her minor unit, whole units sent, the
 * sub-unit remainder kept) is kito_mpesa_convert (api/adapters/mpesa.h).
 *
 * Threads: the one that owns db.
 */
#ifndef KITO_FX_H
#define KITO_FX_H

#include <stdint.h>

#include "api/store/db.h"
#include "api/store/repo_payouts.h"
#include "engine/err.h"

/* Records a rate (units of to per unit of from, x 10^6) effective now, with its audit row, in
 * one transaction. KITO_E_VALIDATION for from == to or a rate <= 0 (an unknown currency is the
 * database's refusal). *id gets the new row's id (may be NULL). */
kito_err kito_fx_set(kito_db_conn *db, const char *from, const char *to, int64_t rate_micros,
                     uint64_t actor_id, uint64_t *id);

/* A settlement's net in the miner's currency. */
typedef struct kito_fx_quote {
    uint64_t rate_id; /* 0: same currency, no rate row */
    int64_t rate_micros;
    int64_t rate_effective_ms; /* 0 for the same currency */
    int64_t rate_age_ms;       /* how old the rate is now; 0 for the same currency */
    int64_t local_minor, whole_units, remainder_minor;
} kito_fx_quote;

/* Converts src's net at the rate in effect now. KITO_E_NOT_FOUND when there is no rate,
 * KITO_E_VALIDATION when the amount cannot be converted (kito_mpesa_convert), or a database
 * error. */
kito_err kito_fx_quote_for(kito_db_conn *db, const kito_payout_source *src, kito_fx_quote *out);

#endif
