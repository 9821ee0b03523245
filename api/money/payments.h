/*
 * Buyers' payments against invoices (DESIGN.md, "Settlement and payouts": bank transfer recorded
 * by the operator, or the payment endpoint). A payment posts its ledger transaction through
 * api/money/ledger.h and lands in the audit trail, in one transaction.
 *
 * Threads: a MySQL worker or kitoctl, with that thread's connection.
 */
#ifndef KITO_PAYMENTS_H
#define KITO_PAYMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/validate.h"
#include "api/store/db.h"
#include "engine/err.h"

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
kito_err kito_payment_record(kito_db_conn *db, const kito_payment_new *in, kito_payment_result *out,
                             kito_verr *ve);

/* kito_payment_record's work inside the caller's SQL transaction (money/c2b.c records an M-Pesa
 * paybill payment and its credit in one transaction); the same results; out->replay means
 * nothing was written. Internal to the money layer. */
kito_err kito__payment_write(kito_db_conn *db, const kito_payment_new *in,
                             kito_payment_result *out, kito_verr *ve);

#endif
