/*
 * The ledger (DESIGN.md, "Settlement and payouts"): the one place that posts a double-entry
 * transaction. Every transaction sums to zero in each currency, or it is not written.
 * Settlement, payments and payouts all post through kito_ledger_post (the settlement worker's
 * batch path writes the same rows set-wise, and checks each set with
 * kito_ledger_postings_balanced first).
 *
 * Threads: kito_ledger_post on a MySQL worker with that thread's connection, inside the caller's
 * transaction; the helpers are pure.
 */
#ifndef KITO_LEDGER_H
#define KITO_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/db.h"
#include "engine/err.h"
#include "engine/fees.h"

/* One line of a ledger transaction. */
typedef struct kito_ledger_line {
    int32_t account;      /* ledger_accounts.code */
    uint64_t party;       /* accounts.id, 0 for none */
    int64_t amount_minor; /* signed; a line of 0 is left out */
    const char *currency;
} kito_ledger_line;

#define KITO_LEDGER_LINES_MAX 8

/* Writes one ledger transaction (kind, reference: unique together; memo may be NULL; currency is
 * the transaction's own) and its non-zero lines, inside the caller's SQL transaction; *tx_id gets
 * its id. A transaction that does not sum to zero in every currency, or has no non-zero line, is
 * never written (KITO_E_INTERNAL): DESIGN.md, "Settlement". Settlement, payments and payouts all
 * post through here (the settlement worker's batch path writes the same rows set-wise). */
kito_err kito_ledger_post(kito_db_conn *db, const char *kind, const char *reference,
                          const char *currency, const char *memo, const kito_ledger_line *lines,
                          size_t n, uint64_t *tx_id);

/* True if the n amounts sum to exactly zero (128-bit sum: no overflow). A writer calls it before
 * inserting a ledger transaction and refuses the transaction otherwise. */
bool kito_ledger_postings_balanced(const struct kito_posting *p, size_t n);

/* The party of a settlement posting: the buyer for the receivable, the miner for her payable,
 * 0 (none) for the platform's own accounts. */
uint64_t kito_ledger_posting_party(enum kito_ledger_account account, uint64_t buyer_id,
                                   uint64_t miner_id);

#endif
