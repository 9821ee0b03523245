/*
 * The reconciliation report (`kitoctl reconcile`): checks that the money tables agree with each
 * other (every ledger transaction sums to zero, invoices match their payments, settlements their
 * parts and their ledger transactions) and reports each disagreement as a finding. Reads only.
 *
 * Threads: kitoctl or a MySQL worker, with that thread's connection.
 */
#ifndef KITO_RECONCILE_H
#define KITO_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/db.h"
#include "engine/err.h"

/* One finding of kitoctl reconcile: kind ("ledger_unbalanced", "invoice_mismatch",
 * "settlement_parts", "settlement_ledger"), the row's key, and one English sentence. */
typedef kito_err (*kito_reconcile_fn)(void *ud, const char *kind, uint64_t id, const char *what);

/* Checks that every ledger transaction has entries and sums to zero per currency; that every
 * invoice's paid amount and status agree with its payments; that every settlement's parts add up,
 * its invoice is its buyer total, and its ledger transaction posts exactly its amounts; lists
 * every payout anomaly not yet resolved ("payout_anomaly", keyed by the payout) and every attempt
 * whose outcome is still unknown a day after it was sent ("payout_unknown"), and every day, rail
 * and currency whose provider-confirmed payouts and ledger credits differ ("rail_totals").
 * *findings gets the count. (Outbox entries the worker rejected are in settlement_rejects, not
 * listed.) */
kito_err kito_reconcile(kito_db_conn *db, kito_reconcile_fn fn, void *ud, size_t *findings);

/* One rail's payouts on one day (UTC, by the day the provider's success was recorded) in one
 * currency: what the providers confirmed paying (succeeded attempts: units, and in minor units)
 * and what the ledger credited to mobile-money clearing for those payouts. They agree unless
 * something is wrong; kito_reconcile reports a day where they do not ("rail_totals"). */
typedef struct kito_payout_total {
    char day[11]; /* "2026-12-07" */
    char rail[17];
    char currency[4];
    int64_t payouts, provider_units, provider_minor, ledger_minor;
} kito_payout_total;

typedef kito_err (*kito_payout_total_fn)(void *ud, const kito_payout_total *t);

/* Every (day, rail, currency) with a succeeded payout, in that order (kitoctl payout totals). */
kito_err kito_reconcile_payout_totals(kito_db_conn *db, kito_payout_total_fn fn, void *ud);

#endif
