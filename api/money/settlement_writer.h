/*
 * The settlement writer (issue 7; DESIGN.md, "Settlement and payouts"): what the settlement worker
 * (api/money/settlement.h) writes to MySQL for each closed-lot outbox entry. The arithmetic is
 * engine/fees.h's; the royalty rate is api/money/royalty.h's rule; the ledger transaction is
 * checked to sum to zero (api/money/ledger.h) before and after it is written.
 *
 * Threads: the settlement worker's thread (or a benchmark), with its connection, inside the
 * caller's transaction.
 */
#ifndef KITO_SETTLEMENT_WRITER_H
#define KITO_SETTLEMENT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/money/outbox.h"
#include "api/store/db.h"
#include "engine/err.h"

#define KITO_SETTLEMENT_INVOICE_DUE_DAYS 3 /* DEMO-DATA.md: buyers pay within 3 days */

enum kito_settle_outcome {
    KITO_SETTLE_SETTLED = 1, /* settlement, invoice, ledger and audit written */
    KITO_SETTLE_REPLAY = 2,  /* the lot was settled before: nothing written */
    KITO_SETTLE_FINAL = 3,   /* an unsold or withdrawn lot's state written */
    KITO_SETTLE_REJECT = 4,  /* can never settle: reason says why; nothing written */
    KITO_SETTLE_WAIT = 5,    /* cannot settle until the operator acts (a royalty rate) */
};

struct kito_settle_report {
    enum kito_settle_outcome outcome;
    uint64_t settlement_id; /* SETTLED or REPLAY */
    char reason[200];       /* REJECT and WAIT: one English sentence */
};

/* Writes entry e's result inside the caller's transaction (the caller commits): for a sold lot
 * the lot's final state, the settlement, the invoice, the ledger transaction (refused, with
 * KITO_E_INTERNAL, if its postings do not sum to zero, checked before and after writing) and
 * the audit row; for an unsold or withdrawn lot only the lot's state. No row is locked for
 * reading: settlements.lot_id UNIQUE makes a concurrent settle of the same lot fail.
 * KITO_OK with out->outcome, or an api/store/sql.h error from a statement (then roll back). */
kito_err kito_settlement_writer_apply(kito_db_conn *db, const struct kito_outbox_entry *e,
                                      struct kito_settle_report *out);

/* kito_settlement_writer_apply for n entries at once, with a fixed number of statements whatever n
 * (the inputs and outputs travel as JSON through JSON_TABLE): out[i] is entries[i]'s outcome. A
 * lot twice in the batch is settled once (the later entry is a replay). On an error nothing of
 * the batch may be committed (roll back). */
kito_err kito_settlement_writer_apply_batch(kito_db_conn *db, const struct kito_outbox_entry *e,
                                            size_t n, struct kito_settle_report *out);

/* Keeps an entry that can never settle in settlement_rejects (a repeat of the same entry id is
 * ignored). Inside the caller's transaction. */
kito_err kito_settlement_writer_reject(kito_db_conn *db, const struct kito_outbox_entry *e,
                                       const char *reason);

/* Marks sale sale_id 'closed' if it is published or open and none of its lots is still
 * scheduled, open or closing. Inside the caller's transaction. */
kito_err kito_settlement_writer_sale_close(kito_db_conn *db, uint64_t sale_id);

#endif
