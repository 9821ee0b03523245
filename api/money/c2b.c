#include "api/money/c2b.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/money/ledger.h"
#include "api/money/payments.h"
#include "api/store/audit.h"
#include "api/store/sql.h"

/* The account number as invoice numbers are matched: upper case, letters and digits only. */
static void normalize(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && n + 1 < cap; p++)
        if (isalnum(*p))
            out[n++] = (char)toupper(*p);
    out[n] = '\0';
}

typedef struct invoice_row {
    bool found;
    uint64_t id, buyer_id;
    char status[8], currency[4];
    int64_t amount_minor, paid_minor;
} invoice_row;

static kito_err on_invoice(void *ud, const kito_sql_row *row)
{
    invoice_row *f = ud;
    f->found = true;
    f->id = kito_sql_u64(row, 0);
    f->buyer_id = kito_sql_u64(row, 1);
    kito_sql_copy(row, 2, f->status, sizeof(f->status));
    kito_sql_copy(row, 3, f->currency, sizeof(f->currency));
    f->amount_minor = kito_sql_i64(row, 4);
    f->paid_minor = kito_sql_i64(row, 5);
    return KITO_OK;
}

/* Invoice numbers are INV-<digits> (009_settlement.sql): the one dash is all normalizing drops. */
static kito_err find_invoice(kito_db_conn *db, const char *bill_ref, bool lock, invoice_row *f)
{
    char norm[65];
    memset(f, 0, sizeof(*f));
    normalize(bill_ref, norm, sizeof(norm));
    if (norm[0] == '\0')
        return KITO_OK;
    kito_sql_param p[] = {KITO_SQL_TEXT(norm)};
    return kito_sql_query(db,
                          lock ? "SELECT id, buyer_id, status, currency, amount_minor, paid_minor"
                                 " FROM invoices WHERE REPLACE(number, '-', '') = ? FOR UPDATE"
                               : "SELECT id, buyer_id, status, currency, amount_minor, paid_minor"
                                 " FROM invoices WHERE REPLACE(number, '-', '') = ?",
                          p, KITO_N(p), on_invoice, f, NULL);
}

kito_err kito_c2b_validate(kito_db_conn *db, const char *bill_ref, bool *known)
{
    invoice_row f;
    kito_err e = find_invoice(db, bill_ref, false, &f);
    *known = e == KITO_OK && f.found && strcmp(f.status, "void") != 0;
    return e;
}

static kito_err on_outcome(void *ud, const kito_sql_row *row)
{
    kito_c2b_outcome *o = ud;
    kito_sql_copy(row, 0, o->state, sizeof(o->state));
    o->invoice_id = kito_sql_u64(row, 1);
    o->applied_minor = kito_sql_i64(row, 2);
    o->credit_minor = kito_sql_i64(row, 3);
    o->replay = true;
    return KITO_OK;
}

static kito_err on_i64(void *ud, const kito_sql_row *row)
{
    *(int64_t *)ud = kito_sql_i64(row, 0);
    return KITO_OK;
}

/* Shillings into the invoice's currency at the latest recorded rate (exchange_rates from the
 * invoice's currency to KES, as payouts use them), rounded down: the buyer is never credited
 * with more than was received. *converted 0 when there is no rate. */
static kito_err convert(kito_db_conn *db, const char *currency, int64_t kes_minor,
                        int64_t *converted, int64_t *rate_micros)
{
    *converted = 0;
    *rate_micros = 0;
    int64_t exp_inv = -1, exp_kes = -1;
    kito_sql_param rp[] = {KITO_SQL_TEXT(currency)};
    kito_err e = kito_sql_query(db,
                                "SELECT rate_micros FROM exchange_rates WHERE from_currency = ?"
                                " AND to_currency = 'KES' AND effective_from <= UTC_TIMESTAMP(3)"
                                " ORDER BY effective_from DESC, id DESC LIMIT 1",
                                rp, KITO_N(rp), on_i64, rate_micros, NULL);
    kito_sql_param ip[] = {KITO_SQL_TEXT(currency)};
    kito_sql_param kp[] = {KITO_SQL_TEXT(KITO_C2B_CURRENCY)};
    if (e == KITO_OK)
        e = kito_sql_query(db, "SELECT minor_exponent FROM currencies WHERE code = ?", ip,
                           KITO_N(ip), on_i64, &exp_inv, NULL);
    if (e == KITO_OK)
        e = kito_sql_query(db, "SELECT minor_exponent FROM currencies WHERE code = ?", kp,
                           KITO_N(kp), on_i64, &exp_kes, NULL);
    if (e != KITO_OK || *rate_micros <= 0 || exp_inv < 0 || exp_inv > 4 || exp_kes < 0 ||
        exp_kes > 4)
        return e;
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000};
    /* invoice units = KES units / rate: minor = kes_minor / 10^ek * 10^ei * 10^6 / rate */
    unsigned __int128 num = (unsigned __int128)kes_minor * (unsigned __int128)pow10[exp_inv] *
                            (unsigned __int128)1000000;
    unsigned __int128 den = (unsigned __int128)*rate_micros * (unsigned __int128)pow10[exp_kes];
    unsigned __int128 q = num / den;
    *converted = q > (unsigned __int128)INT64_MAX ? 0 : (int64_t)q;
    return KITO_OK;
}

static kito_err confirm_locked(kito_db_conn *db, const kito_mpesa_c2b *in, kito_c2b_outcome *out)
{
    kito_sql_param tp[] = {KITO_SQL_TEXT(in->trans_id)};
    kito_err e = kito_sql_query(db,
                                "SELECT state, COALESCE(invoice_id, 0), applied_minor,"
                                " credit_minor FROM mpesa_c2b_payments WHERE trans_id = ?"
                                " FOR UPDATE",
                                tp, KITO_N(tp), on_outcome, out, NULL);
    if (e != KITO_OK || out->replay)
        return e;
    invoice_row f;
    if ((e = find_invoice(db, in->bill_ref, true, &f)) != KITO_OK)
        return e;
    /* the money in the invoice's currency (cur), or kept in shillings when it cannot be */
    const char *reason = NULL, *cur = KITO_C2B_CURRENCY;
    int64_t converted = in->amount_minor, rate = 1000000;
    if (!f.found) {
        reason = "no invoice has this account number";
    } else if (strcmp(f.currency, KITO_C2B_CURRENCY) != 0) {
        if ((e = convert(db, f.currency, in->amount_minor, &converted, &rate)) != KITO_OK)
            return e;
        if (converted > 0) {
            cur = f.currency;
        } else {
            reason = "no exchange rate to the invoice's currency (or too little to convert)";
            converted = in->amount_minor;
            rate = 1000000;
        }
    }
    if (reason == NULL && strcmp(f.status, "issued") != 0)
        reason = strcmp(f.status, "paid") == 0 ? "the invoice was already paid" : "void invoice";
    char ref[48];
    if (strcmp(cur, KITO_C2B_CURRENCY) != 0) {
        /* the shillings received become the invoice's currency: both sides through
         * fx_conversion (account 9), as payouts convert the other way */
        snprintf(ref, sizeof(ref), "%s-fx", in->trans_id);
        const kito_ledger_line lines[4] = {
            {7 /* cash */, 0, in->amount_minor, KITO_C2B_CURRENCY},
            {9 /* fx_conversion */, 0, -in->amount_minor, KITO_C2B_CURRENCY},
            {9, 0, converted, cur},
            {7, 0, -converted, cur},
        };
        uint64_t fx_tx;
        if ((e = kito_ledger_post(db, "payment", ref, cur, "M-Pesa paybill money converted", lines,
                                  4, &fx_tx)) != KITO_OK)
            return e;
    }
    /* what the invoice still owes becomes a payment; the rest is kept as credit */
    int64_t applied = 0;
    uint64_t payment_id = 0;
    if (reason == NULL) {
        int64_t due = f.amount_minor - f.paid_minor;
        applied = converted < due ? converted : due;
        kito_payment_new pn = {.invoice_id = f.id, .amount_minor = applied};
        snprintf(pn.currency, sizeof(pn.currency), "%s", cur);
        snprintf(pn.method, sizeof(pn.method), "mobile_money");
        snprintf(pn.reference, sizeof(pn.reference), "%s", in->trans_id);
        kito_payment_result pr;
        kito_verr ve = {{0}};
        if ((e = kito__payment_write(db, &pn, &pr, &ve)) != KITO_OK)
            return e;
        payment_id = pr.payment_id;
    }
    int64_t credit = converted - applied;
    uint64_t credit_tx = 0;
    if (credit > 0) {
        snprintf(ref, sizeof(ref), "%s-credit", in->trans_id);
        const kito_ledger_line lines[2] = {
            {7 /* cash */, 0, credit, cur},
            {10 /* buyer_credit */, f.found ? f.buyer_id : 0, -credit, cur},
        };
        if ((e = kito_ledger_post(db, "payment", ref, cur, "M-Pesa paybill money no invoice took",
                                  lines, 2, &credit_tx)) != KITO_OK)
            return e;
    }
    /* unmatched: no invoice, or one it could not be converted for; over: some or all of it is
     * credit; else the invoice is paid or still partly owed */
    const char *state = !f.found || (reason != NULL && strcmp(cur, f.currency) != 0) ? "unmatched"
                        : credit > 0                                                 ? "over"
                        : f.paid_minor + applied == f.amount_minor                   ? "paid"
                                                                                     : "partial";
    kito_sql_param ip[] = {
        KITO_SQL_TEXT(in->trans_id),
        KITO_SQL_TEXT(in->trans_type),
        KITO_SQL_TEXT(in->trans_time),
        KITO_SQL_I64(in->amount_minor),
        KITO_SQL_TEXT(KITO_C2B_CURRENCY),
        KITO_SQL_TEXT(cur),
        KITO_SQL_I64(converted),
        KITO_SQL_I64(rate),
        KITO_SQL_TEXT(in->short_code),
        KITO_SQL_TEXT(in->bill_ref),
        KITO_SQL_TEXT(in->msisdn),
        KITO_SQL_TEXT(in->payer_name),
        f.found ? KITO_SQL_U64(f.id) : KITO_SQL_NULL,
        f.found ? KITO_SQL_U64(f.buyer_id) : KITO_SQL_NULL,
        payment_id != 0 ? KITO_SQL_U64(payment_id) : KITO_SQL_NULL,
        KITO_SQL_I64(applied),
        KITO_SQL_I64(credit),
        KITO_SQL_TEXT(state),
        reason != NULL ? KITO_SQL_TEXT(reason) : KITO_SQL_NULL,
        credit_tx != 0 ? KITO_SQL_U64(credit_tx) : KITO_SQL_NULL,
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO mpesa_c2b_payments (trans_id, trans_type, trans_time,"
                      " amount_minor, currency, invoice_currency, converted_minor, rate_micros,"
                      " short_code, bill_ref, msisdn, payer_name, invoice_id, buyer_id, payment_id,"
                      " applied_minor, credit_minor, state, reason, credit_ledger_transaction_id)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      ip, KITO_N(ip), &res);
    if (e != KITO_OK)
        return e;
    json_t *d = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:s}", "trans_id", in->trans_id,
                          "bill_ref", in->bill_ref, "amount_minor", (json_int_t)in->amount_minor,
                          "currency", cur, "applied_minor", (json_int_t)applied, "credit_minor",
                          (json_int_t)credit, "state", state);
    e = d != NULL
            ? kito_audit(db, 0, "payment.mpesa_c2b", "mpesa_c2b_payment", res.insert_id, d, NULL)
            : KITO_E_NOMEM;
    json_decref(d);
    if (e != KITO_OK)
        return e;
    snprintf(out->state, sizeof(out->state), "%s", state);
    snprintf(out->currency, sizeof(out->currency), "%s", cur);
    out->invoice_id = f.found ? f.id : 0;
    out->applied_minor = applied;
    out->credit_minor = credit;
    return KITO_OK;
}

kito_err kito_c2b_confirm(kito_db_conn *db, const kito_mpesa_c2b *in, kito_c2b_outcome *out)
{
    memset(out, 0, sizeof(*out));
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    e = confirm_locked(db, in, out);
    if (e == KITO_OK && out->replay) {
        kito_sql_rollback(db);
        return KITO_OK;
    }
    return kito_sql_end(db, e);
}
