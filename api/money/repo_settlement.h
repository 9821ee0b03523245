/*
 * Settlement, invoices, payments, royalty rates, the ledger and the reconciliation report in
 * MySQL (issue 7; schemas/009_settlement.sql). The arithmetic is engine/fees.h's; this module
 * only loads the inputs, writes the results and checks that every ledger transaction it writes
 * sums to zero before it writes it.
 *
 * Threads: a MySQL worker (api/http/req_db.h), the settlement worker (api/money/settlement.h) or kitoctl,
 * with that thread's connection.
 */
#ifndef KITO_REPO_SETTLEMENT_H
#define KITO_REPO_SETTLEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/store/db.h"
#include "api/money/settlement.h"
#include "api/common/validate.h"
#include "engine/err.h"

/* ---- the settlement worker's writes -----------------------------------------------------------
 */

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
kito_err kito_repo_settlement_apply(kito_db_conn *db, const struct kito_outbox_entry *e,
                                    struct kito_settle_report *out);

/* kito_repo_settlement_apply for n entries at once, with a fixed number of statements whatever n
 * (the inputs and outputs travel as JSON through JSON_TABLE): out[i] is entries[i]'s outcome. A
 * lot twice in the batch is settled once (the later entry is a replay). On an error nothing of
 * the batch may be committed (roll back). */
kito_err kito_repo_settlement_apply_batch(kito_db_conn *db, const struct kito_outbox_entry *e,
                                          size_t n, struct kito_settle_report *out);

/* Keeps an entry that can never settle in settlement_rejects (a repeat of the same entry id is
 * ignored). Inside the caller's transaction. */
kito_err kito_repo_settlement_reject(kito_db_conn *db, const struct kito_outbox_entry *e,
                                     const char *reason);

/* Marks sale sale_id 'closed' if it is published or open and none of its lots is still
 * scheduled, open or closing. Inside the caller's transaction. */
kito_err kito_repo_settlement_sale_close(kito_db_conn *db, uint64_t sale_id);

/* ---- ledger postings --------------------------------------------------------------------------
 */

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

/* ---- royalty rates ----------------------------------------------------------------------------
 */

typedef struct kito_royalty_rate {
    uint64_t id;
    char country[3];
    char species[25]; /* a stones.species name, or "*" for every species of the country */
    char form[8];     /* rough | cut */
    int32_t rate_bps;
    int64_t effective_from_ms;
    uint64_t set_by; /* 0 = the system (kitoctl) */
    char source[201];
    bool current; /* the rate in force now for its (country, species, form) */
} kito_royalty_rate;

/* Adds a rate effective from effective_from_ms (0 = now), with an audit row, in one
 * transaction. KITO_E_CONFLICT if the same key already has a rate from that instant;
 * KITO_E_VALIDATION for an unknown country. *id_out (may be NULL) gets the new id. */
kito_err kito_repo_royalty_set(kito_db_conn *db, const char *country, const char *species,
                               const char *form, int32_t rate_bps, int64_t effective_from_ms,
                               const char *source, uint64_t actor_id, uint64_t *id_out);

typedef kito_err (*kito_royalty_fn)(void *ud, const kito_royalty_rate *r);

/* Every rate (country, species, form, newest first), with `current` set on the ones in force. */
kito_err kito_repo_royalty_list(kito_db_conn *db, kito_royalty_fn fn, void *ud);

/* ---- invoices and payments --------------------------------------------------------------------
 */

typedef struct kito_payment_new {
    uint64_t invoice_id;
    int64_t amount_minor;
    char currency[4]; /* "" = the invoice's */
    char method[17];  /* bank_transfer | card | mobile_money | cash | other */
    char reference[65];
    uint64_t recorded_by;  /* 0 = kitoctl (the system) */
    uint64_t organizer_id; /* when not 0: the invoice's sale must be hers (else KITO_E_NOT_FOUND) */
    char ip[46];
} kito_payment_new;

typedef struct kito_payment_result {
    uint64_t payment_id;
    uint64_t invoice_id;
    char invoice_status[8]; /* after the payment */
    int64_t amount_minor;
    int64_t invoice_amount_minor;
    int64_t paid_minor; /* after the payment */
    char currency[4];
    bool replay; /* the same reference was recorded before for the same invoice and amount */
} kito_payment_result;

/* Records a buyer's payment in one transaction: the payment row, a balanced ledger transaction
 * (cash debit, the buyer's receivable credit; kind 'payment', the payment's reference) and an
 * audit row, and moves the invoice issued -> paid once the payments reach its amount.
 * Idempotent by reference: the same reference for the same invoice and amount answers the first
 * payment with out->replay set; for anything else KITO_E_CONFLICT. KITO_E_NOT_FOUND for no such
 * invoice (or not the organizer's); KITO_E_BAD_STATE for a void or paid invoice; *ve and
 * KITO_E_VALIDATION for another currency or an amount above what is due. */
kito_err kito_repo_payment_record(kito_db_conn *db, const kito_payment_new *in,
                                  kito_payment_result *out, kito_verr *ve);

/* ---- reconciliation ---------------------------------------------------------------------------
 */

/* One finding of kitoctl reconcile: kind ("ledger_unbalanced", "invoice_mismatch",
 * "settlement_parts", "settlement_ledger"), the row's key, and one English sentence. */
typedef kito_err (*kito_reconcile_fn)(void *ud, const char *kind, uint64_t id, const char *what);

/* Checks that every ledger transaction has entries and sums to zero per currency; that every
 * invoice's paid amount and status agree with its payments; that every settlement's parts add up,
 * its invoice is its buyer total, and its ledger transaction posts exactly its amounts. *findings
 * gets the count. (Outbox entries the worker rejected are in settlement_rejects, not listed.) */
kito_err kito_repo_reconcile(kito_db_conn *db, kito_reconcile_fn fn, void *ud, size_t *findings);

/* ---- reads for the API ------------------------------------------------------------------------
 */

/* Who may see a sale's settlements: KITO_OK if viewer is its organizer (or is_operator),
 * KITO_E_NOT_FOUND if there is no such sale or it is another organizer's. */
kito_err kito_repo_settlement_sale_access(kito_db_conn *db, uint64_t sale_id, uint64_t viewer,
                                          bool is_operator);

/* Lists, as JSON arrays of rendered items, ordered by id, after after_id, at most limit items
 * (one more is fetched to say whether there is a next page: *more).
 *   sale_settlements: a sale's settlements, every part (organizer view);
 *   buyer_invoices: the buyer's invoices with lot, sale and amounts;
 *   miner_sales: the miner's settled lots with hammer, commission, royalty, levy, net.
 * *items is a new reference. */
kito_err kito_repo_sale_settlements(kito_db_conn *db, uint64_t sale_id, uint64_t after_id,
                                    uint32_t limit, json_t **items, bool *more);
kito_err kito_repo_buyer_invoices(kito_db_conn *db, uint64_t buyer_id, uint64_t after_id,
                                  uint32_t limit, json_t **items, bool *more);
kito_err kito_repo_miner_sales(kito_db_conn *db, uint64_t miner_id, uint64_t after_id,
                               uint32_t limit, json_t **items, bool *more);

/* A sale's published results (issue 7; Gemfields' format) as a JSON object (new reference):
 * KITO_E_NOT_FOUND for no such sale, or one that is a draft or has no closed lot yet. */
kito_err kito_repo_sale_results(kito_db_conn *db, uint64_t sale_id, json_t **out);

#endif
