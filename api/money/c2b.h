/*
 * Payments in by M-Pesa paybill (issue 19, "Payments in"; schemas/026_mpesa_c2b.sql): a buyer
 * pays Kito's paybill with her invoice number as the account number; Daraja's C2B validation and
 * confirmation (api/adapters/mpesa.h) land here through http/routes_payments_in.c.
 *
 * Threads: a MySQL worker, with that thread's connection.
 */
#ifndef KITO_C2B_H
#define KITO_C2B_H

#include <stdbool.h>
#include <stdint.h>

#include "api/adapters/mpesa.h"
#include "api/store/db.h"
#include "engine/err.h"

#define KITO_C2B_CURRENCY "KES" /* a Safaricom paybill takes shillings */

/* Whether an account number (BillRefNumber) names an invoice that is not void; case, spaces and
 * dashes do not matter ("inv 0000000012" is INV-0000000012). */
kito_err kito_c2b_validate(kito_db_conn *db, const char *bill_ref, bool *known);

typedef struct kito_c2b_outcome {
    char state[16]; /* paid | partial | over | unmatched */
    uint64_t invoice_id;
    char currency[4];      /* of the two amounts below: the invoice's, or KES when unmatched */
    int64_t applied_minor; /* paid against the invoice */
    int64_t credit_minor;  /* kept as the buyer's credit (or unmatched) */
    bool replay;           /* this TransID was recorded before: nothing changed */
} kito_c2b_outcome;

/* Records one confirmation in one transaction, once per TransID (a repeat answers the first
 * outcome with replay set). The shillings are converted to the invoice's currency at its latest
 * recorded rate, rounded down (kept in KES, unmatched, when there is none); what the matched
 * invoice still owes becomes a payment
 * (reference = TransID, method mobile_money; it may move the invoice to paid, and so release the
 * miner's payout), the rest is posted to buyer_credit (cash debit, buyer_credit credit, party the
 * invoice's buyer; no party when nothing matched), never dropped. KITO_E_CONFLICT when the same
 * TransID was being recorded concurrently (the caller answers 503; M-Pesa delivers again). */
kito_err kito_c2b_confirm(kito_db_conn *db, const kito_mpesa_c2b *in, kito_c2b_outcome *out);

#endif
