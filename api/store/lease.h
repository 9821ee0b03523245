/*
 * Leases between kitod nodes, held in MySQL (issue 20, "exactly one settlement worker and one
 * payout worker run across the nodes"; ops/SCALE.md). A lease is a MariaDB named lock
 * (GET_LOCK) held by the worker's own connection: MariaDB releases it when that connection ends,
 * so a node that dies, hangs past MySQL's timeouts or loses MySQL loses its lease with it, and a
 * standing-by node's worker takes it at its next try. The lease and the worker's transactions
 * share one connection, so a worker whose lease went with a dropped connection cannot commit on
 * it either: the lease fences its own writes.
 *
 * Threads: the worker's, with its connection.
 */
#ifndef KITO_STORE_LEASE_H
#define KITO_STORE_LEASE_H

#include <stdbool.h>

#include "api/store/db.h"

#include "engine/err.h"

#define KITO_LEASE_SETTLEMENT "kito.settlement"
#define KITO_LEASE_PAYOUTS "kito.payouts"

/* *held = true when this connection holds the lease name, taking it if nobody does (without
 * waiting); false when another connection holds it. KITO_E_UNAVAILABLE (and the worker's error
 * state) when MySQL cannot be asked. */
kito_err kito_store_lease_hold(kito_db_conn *db, const char *name, bool *held);

#endif
