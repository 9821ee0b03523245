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
 * whose outcome is still unknown a day after it was sent ("payout_unknown"). *findings
 * gets the count. (Outbox entries the worker rejected are in settlement_rejects, not listed.) */
kito_err kito_reconcile(kito_db_conn *db, kito_reconcile_fn fn, void *ud, size_t *findings);

#endif
