#include "api/money/payments.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/money/ledger.h"
#include "api/store/audit.h"
#include "api/store/sql.h"

struct invoice_facts {
    bool found;
    uint64_t id, buyer_id, organizer_id;
    char status[8], currency[4];
    int64_t amount_minor, paid_minor;
};

static kito_err read_invoice(void *ud, const kito_sql_row *row)
{
    struct invoice_facts *f = ud;
    f->found = true;
    f->id = kito_sql_u64(row, 0);
    f->buyer_id = kito_sql_u64(row, 1);
    f->organizer_id = kito_sql_u64(row, 2);
    kito_sql_copy(row, 3, f->status, sizeof(f->status));
    kito_sql_copy(row, 4, f->currency, sizeof(f->currency));
    f->amount_minor = kito_sql_i64(row, 5);
    f->paid_minor = kito_sql_i64(row, 6);
    return KITO_OK;
}

struct payment_facts {
    bool found;
    uint64_t id, invoice_id;
    int64_t amount_minor;
};

static kito_err read_payment(void *ud, const kito_sql_row *row)
{
    struct payment_facts *f = ud;
    f->found = true;
    f->id = kito_sql_u64(row, 0);
    f->invoice_id = kito_sql_u64(row, 1);
    f->amount_minor = kito_sql_i64(row, 2);
    return KITO_OK;
}

static kito_err load_invoice(kito_db_conn *db, uint64_t id, struct invoice_facts *f)
{
    memset(f, 0, sizeof(*f));
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    return kito_sql_query(db,
                          "SELECT i.id, i.buyer_id, s.organizer_id, i.status, i.currency,"
                          " i.amount_minor, i.paid_minor FROM invoices i JOIN sales s ON"
                          " s.id = i.sale_id WHERE i.id = ? FOR UPDATE",
                          p, 1, read_invoice, f, NULL);
}

static void payment_out(kito_payment_result *out, uint64_t payment_id,
                        const struct invoice_facts *f, int64_t amount, int64_t paid,
                        const char *status, bool replay)
{
    out->payment_id = payment_id;
    out->invoice_id = f->id;
    snprintf(out->invoice_status, sizeof(out->invoice_status), "%s", status);
    out->amount_minor = amount;
    out->invoice_amount_minor = f->amount_minor;
    out->paid_minor = paid;
    snprintf(out->currency, sizeof(out->currency), "%s", f->currency);
    out->replay = replay;
}

kito_err kito__payment_write(kito_db_conn *db, const kito_payment_new *in, kito_payment_result *out,
                             kito_verr *ve)
{
    struct invoice_facts f;
    kito_err e = load_invoice(db, in->invoice_id, &f);
    if (e != KITO_OK)
        return e;
    if (!f.found || (in->organizer_id != 0 && f.organizer_id != in->organizer_id))
        return KITO_E_NOT_FOUND;
    /* the reference is the idempotency key: the same payment again is answered, not re-posted */
    struct payment_facts pf = {0};
    kito_sql_param pr[] = {KITO_SQL_TEXT(in->reference)};
    e = kito_sql_query(db, "SELECT id, invoice_id, amount_minor FROM payments WHERE reference = ?",
                       pr, 1, read_payment, &pf, NULL);
    if (e != KITO_OK)
        return e;
    if (pf.found) {
        if (pf.invoice_id != in->invoice_id || pf.amount_minor != in->amount_minor)
            return KITO_E_CONFLICT;
        payment_out(out, pf.id, &f, pf.amount_minor, f.paid_minor, f.status, true);
        return KITO_OK;
    }
    if (strcmp(f.status, "issued") != 0)
        return KITO_E_BAD_STATE;
    if (in->currency[0] != '\0' && strcmp(in->currency, f.currency) != 0)
        return kito_verr_set(ve, "currency", "must be the invoice's currency, %s", f.currency);
    if (in->amount_minor > f.amount_minor - f.paid_minor)
        return kito_verr_set(ve, "amount", "is more than the %lld still due",
                             (long long)(f.amount_minor - f.paid_minor));
    const kito_ledger_line lines[2] = {
        {7 /* cash */, 0, in->amount_minor, f.currency},
        {KITO_LEDGER_BUYER_RECEIVABLE, f.buyer_id, -in->amount_minor, f.currency},
    };
    uint64_t tx_id;
    e = kito_ledger_post(db, "payment", in->reference, f.currency, NULL, lines, 2, &tx_id);
    if (e != KITO_OK)
        return e;
    kito_sql_param p[] = {
        KITO_SQL_U64(f.id),
        KITO_SQL_I64(in->amount_minor),
        KITO_SQL_TEXT(f.currency),
        KITO_SQL_TEXT(in->method[0] != '\0' ? in->method : "bank_transfer"),
        KITO_SQL_TEXT(in->reference),
        in->recorded_by != 0 ? KITO_SQL_U64(in->recorded_by) : KITO_SQL_NULL,
        KITO_SQL_U64(tx_id),
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO payments (invoice_id, amount_minor, currency, method, reference,"
                      " recorded_by, ledger_transaction_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      p, KITO_N(p), &res);
    if (e != KITO_OK)
        return e;
    int64_t paid = f.paid_minor + in->amount_minor;
    const char *status = paid == f.amount_minor ? "paid" : "issued";
    kito_sql_param u[] = {KITO_SQL_I64(paid), KITO_SQL_TEXT(status), KITO_SQL_TEXT(status),
                          KITO_SQL_U64(f.id)};
    e = kito_sql_exec(db,
                      "UPDATE invoices SET paid_minor = ?, status = ?, paid_at = IF(? = 'paid',"
                      " UTC_TIMESTAMP(3), NULL), updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                      u, KITO_N(u), NULL);
    if (e != KITO_OK)
        return e;
    json_t *d = json_pack("{s:I,s:I,s:s,s:s,s:s,s:I}", "invoice", (json_int_t)f.id, "amount_minor",
                          (json_int_t)in->amount_minor, "currency", f.currency, "reference",
                          in->reference, "invoice_status", status, "paid_minor", (json_int_t)paid);
    e = d != NULL ? kito_audit(db, in->recorded_by, "payment.record", "payment", res.insert_id, d,
                               in->ip[0] != '\0' ? in->ip : NULL)
                  : KITO_E_NOMEM;
    json_decref(d);
    if (e == KITO_OK)
        payment_out(out, res.insert_id, &f, in->amount_minor, paid, status, false);
    return e;
}

kito_err kito_payment_record(kito_db_conn *db, const kito_payment_new *in, kito_payment_result *out,
                             kito_verr *ve)
{
    memset(out, 0, sizeof(*out));
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito__payment_write(db, in, out, ve);
    if (e == KITO_OK && !out->replay)
        e = kito_sql_commit(db);
    if (e != KITO_OK || out->replay)
        kito_sql_rollback(db);
    return e;
}
