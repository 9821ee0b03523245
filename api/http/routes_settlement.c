/*
 * Settlement endpoints (issue 7): a sale's settlements (its organizer, operators), the buyer's
 * invoices, the miner's settled lots, a sale's published results, and recording a buyer's
 * payment. Handlers are thin: parse -> api/money/repo_settlement.h on a MySQL worker -> render.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"
#include "api/http/auth.h"
#include "api/common/query.h"
#include "api/common/render.h"
#include "api/money/payments.h"
#include "api/money/settlement_reads.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/store/repo_fx.h"
#include "api/store/sql.h"
#include "api/common/validate.h"

#define PAGE_MAX 100
#define PAGE_DEFAULT 20

enum list_kind { LIST_SALE_SETTLEMENTS, LIST_BUYER_INVOICES, LIST_MINER_SALES };

typedef struct list_job {
    enum list_kind kind;
    uint64_t owner; /* sale, buyer or miner */
    uint64_t viewer;
    bool operator;
    uint64_t after_id;
    uint32_t limit;
    const char *scope; /* the cursor scope */
    kito_err err;
    json_t *items;
    bool more;
    uint64_t last_id;
} list_job;

static void list_job_free(void *arg)
{
    list_job *j = arg;
    json_decref(j->items);
    free(j);
}

static void list_run(kito_db_conn *db, void *arg)
{
    list_job *j = arg;
    switch (j->kind) {
    case LIST_SALE_SETTLEMENTS:
        j->err = kito_settlement_reads_sale_access(db, j->owner, j->viewer, j->operator);
        if (j->err == KITO_OK)
            j->err = kito_settlement_reads_sale_settlements(db, j->owner, j->after_id, j->limit,
                                                            &j->items, &j->more);
        break;
    case LIST_BUYER_INVOICES:
        j->err = kito_settlement_reads_buyer_invoices(db, j->owner, j->after_id, j->limit,
                                                      &j->items, &j->more);
        break;
    case LIST_MINER_SALES:
        j->err = kito_settlement_reads_miner_sales(db, j->owner, j->after_id, j->limit, &j->items,
                                                   &j->more);
        break;
    }
    kito_sql_log_failure("settlement list", j->err);
}

/* The key of the last item (its "id", whatever its prefix) for the next cursor. */
static uint64_t last_key(json_t *items)
{
    size_t n = json_array_size(items);
    if (n == 0)
        return 0;
    const char *id = json_string_value(json_object_get(json_array_get(items, n - 1), "id"));
    const char *us = id != NULL ? strchr(id, '_') : NULL;
    char prefix[KITO_ID_PREFIX_MAX + 1];
    uint64_t key = 0;
    if (us == NULL || (size_t)(us - id) > KITO_ID_PREFIX_MAX)
        return 0;
    memcpy(prefix, id, (size_t)(us - id));
    prefix[us - id] = '\0';
    return kito_id_parse(prefix, id, &key) == KITO_OK ? key : 0;
}

static void list_done(kito_req *r, void *arg)
{
    list_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    char cursor[KITO_CURSOR_SIZE] = "";
    if (j->more) {
        kito_cursor c = {0, last_key(j->items)};
        if (kito_query_cursor_encode(r->server->cursor_key, j->scope, c, cursor) != KITO_OK) {
            kito_respond_error(r, KITO_E_INTERNAL, NULL);
            return;
        }
    }
    json_t *items = j->items;
    j->items = NULL;
    kito_respond_json(r, 200, kito_render_page(items, j->more ? cursor : NULL));
}

/* Parses ?limit=&cursor= (nothing else) for a list of scope; answers 422 itself on failure. */
static kito_err list_start(kito_req *r, enum list_kind kind, uint64_t owner, const char *scope)
{
    kito_verr ve = {{0}};
    kito_query q;
    static const char *const allowed[] = {"limit", "cursor", NULL};
    int64_t limit;
    if (kito_req_query(r, allowed, &q, &ve) != KITO_OK ||
        kito_query_get_int(&q, "limit", 1, PAGE_MAX, PAGE_DEFAULT, &limit, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    kito_cursor c = {0, 0};
    const char *cursor = kito_query_get(&q, "cursor");
    if (cursor != NULL &&
        kito_query_cursor_decode(r->server->cursor_key, scope, cursor, &c, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    list_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->kind = kind;
    j->owner = owner;
    j->viewer = r->principal.account_id;
    j->operator= r->principal.role == KITO_ROLE_OPERATOR;
    j->after_id = c.id;
    j->limit = (uint32_t)limit;
    j->scope = scope;
    return kito_req_db_owned(r, list_run, list_done, list_job_free, j);
}

/* The {id} path parameter as a key of prefix; answers 404 itself when it is not one. */
static bool path_id(kito_req *r, const char *prefix, uint64_t *key)
{
    if (kito_req_path_id(r, "id", prefix, key) == KITO_OK)
        return true;
    kito_respond_error(r, KITO_E_NOT_FOUND, NULL);
    return false;
}

/* GET /v1/sales/{id}/settlements (the sale's organizer, operators): every part of each
 * settlement, by settlement id. 404 for another organizer's sale. */
kito_err kito_get_sale_settlements(kito_req *r)
{
    uint64_t sale_id;
    if (!path_id(r, KITO_ID_SALE, &sale_id))
        return KITO_OK;
    return list_start(r, LIST_SALE_SETTLEMENTS, sale_id, "sale_settlements");
}

/* GET /v1/me/invoices (buyer): her invoices, oldest first. */
kito_err kito_get_me_invoices(kito_req *r)
{
    return list_start(r, LIST_BUYER_INVOICES, r->principal.account_id, "invoices");
}

/* GET /v1/payment-methods: how buyers pay an invoice, as the operator configured it (bank
 * transfer, M-Pesa paybill); a method not configured is null. The reference to quote is the
 * invoice's number, which each invoice carries. Public: the same for everyone. */
kito_err kito_get_payment_methods(kito_req *r)
{
    const struct kito_config_payment *p = &r->server->cfg->pay;
    json_t *bank = p->bank_name[0] == '\0'
                       ? json_null()
                       : json_pack("{s:s, s:s, s:s, s:s?}", "bank_name", p->bank_name,
                                   "account_name", p->bank_account_name, "account", p->bank_account,
                                   "swift", p->bank_swift[0] != '\0' ? p->bank_swift : NULL);
    json_t *mpesa =
        p->mpesa_paybill[0] == '\0'
            ? json_null()
            : json_pack("{s:s, s:s}", "paybill", p->mpesa_paybill, "account", "the invoice number");
    kito_respond_json(r, 200,
                      json_pack("{s:o, s:o, s:s}", "bank_transfer", bank, "mpesa_paybill", mpesa,
                                "reference", "the invoice number"));
    return KITO_OK;
}

/* ---- GET /v1/exchange-rates ------------------------------------------------------------------ */

typedef struct fx_job {
    char from[4]; /* "" = every pair */
    kito_err err;
    json_t *items;
} fx_job;

static void fx_job_free(void *arg)
{
    fx_job *j = arg;
    json_decref(j->items);
    free(j);
}

static kito_err fx_item(void *ud, const kito_fx_rate *rate)
{
    fx_job *j = ud;
    json_t *o = json_pack("{s:s, s:s, s:I, s:o}", "from", rate->from, "to", rate->to, "rate_micros",
                          (json_int_t)rate->rate_micros, "effective_from",
                          kito_render_time(rate->effective_from_ms));
    return o != NULL && json_array_append_new(j->items, o) == 0 ? KITO_OK : KITO_E_NOMEM;
}

static void fx_run(kito_db_conn *db, void *arg)
{
    fx_job *j = arg;
    j->items = json_array();
    j->err = j->items != NULL ? kito_fx_current(db, j->from[0] != '\0' ? j->from : NULL, fx_item, j)
                              : KITO_E_NOMEM;
    kito_sql_log_failure("exchange rates", j->err);
}

static void fx_done(kito_req *r, void *arg)
{
    fx_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    kito_respond_json(r, 200, json_pack("{s:o}", "items", j->items));
    j->items = NULL;
}

/* GET /v1/exchange-rates?from=USD (public): the current rate of each pair the operator recorded,
 * with the time it took effect, for the storefront's estimates in a buyer's currency (an
 * estimate only: the sale currency is binding). */
kito_err kito_get_exchange_rates(kito_req *r)
{
    static const char *const allowed[] = {"from", NULL};
    kito_query q;
    kito_verr ve = {{0}};
    const char *qs = NULL;
    size_t len = 0;
    if (r->h2o->query_at != SIZE_MAX) {
        qs = r->h2o->path.base + r->h2o->query_at + 1;
        len = r->h2o->path.len - r->h2o->query_at - 1;
    }
    kito_err e = kito_query_parse(qs, len, &q, &ve);
    if (e == KITO_OK)
        e = kito_query_check_allowed(&q, allowed, &ve);
    const char *from = e == KITO_OK ? kito_query_get(&q, "from") : NULL;
    if (from != NULL)
        e = kito_validate_currency("from", from, &ve);
    if (e != KITO_OK)
        return kito_respond_invalid(r, &ve);
    fx_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    if (from != NULL)
        memcpy(j->from, from, 3);
    return kito_req_db_owned(r, fx_run, fx_done, fx_job_free, j);
}

/* GET /v1/me/sales (miner): her settled lots with hammer, commission, royalty, levy and net. */
kito_err kito_get_me_sales(kito_req *r)
{
    return list_start(r, LIST_MINER_SALES, r->principal.account_id, "miner_sales");
}

/* ---- GET /v1/sales/{id}/results ----------------------------------------------------------------
 */

typedef struct results_job {
    uint64_t sale_id;
    kito_err err;
    json_t *doc;
} results_job;

static void results_job_free(void *arg)
{
    results_job *j = arg;
    json_decref(j->doc);
    free(j);
}

static void results_run(kito_db_conn *db, void *arg)
{
    results_job *j = arg;
    j->err = kito_settlement_reads_sale_results(db, j->sale_id, &j->doc);
    kito_sql_log_failure("sale results", j->err);
}

static void results_done(kito_req *r, void *arg)
{
    results_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(
            r, j->err,
            j->err == KITO_E_NOT_FOUND ? "no such sale, or none of its lots has closed yet" : NULL);
        return;
    }
    json_t *doc = j->doc;
    j->doc = NULL;
    kito_respond_json(r, 200, doc);
}

/* GET /v1/sales/{id}/results (public once a lot of the sale has closed). */
kito_err kito_get_sale_results(kito_req *r)
{
    uint64_t sale_id;
    if (!path_id(r, KITO_ID_SALE, &sale_id))
        return KITO_OK;
    results_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->sale_id = sale_id;
    return kito_req_db_owned(r, results_run, results_done, results_job_free, j);
}

/* ---- GET /v1/sales/{id}/results.csv -----------------------------------------------------------
 */

typedef struct results_csv_job {
    uint64_t sale_id;
    uint64_t viewer;
    bool operator;
    kito_err err;
    kito_csv csv;
} results_csv_job;

static void results_csv_job_free(void *arg)
{
    results_csv_job *j = arg;
    kito_csv_free(&j->csv);
    free(j);
}

static void results_csv_run(kito_db_conn *db, void *arg)
{
    results_csv_job *j = arg;
    j->err = kito_settlement_reads_sale_access(db, j->sale_id, j->viewer, j->operator);
    if (j->err == KITO_OK)
        j->err = kito_settlement_reads_sale_results_csv(db, j->sale_id, &j->csv);
    kito_sql_log_failure("sale results csv", j->err);
}

static void results_csv_done(kito_req *r, void *arg)
{
    results_csv_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    char disposition[80], id[KITO_ID_SIZE];
    if (kito_id_format(KITO_ID_SALE, j->sale_id, id, sizeof(id)) != KITO_OK) {
        kito_respond_error(r, KITO_E_INTERNAL, NULL);
        return;
    }
    /* a download with a name the organiser recognises (RFC 6266) */
    int n =
        snprintf(disposition, sizeof(disposition), "attachment; filename=\"results-%s.csv\"", id);
    h2o_add_header(&r->h2o->pool, &r->h2o->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL,
                   h2o_strdup(&r->h2o->pool, disposition, (size_t)n).base, (size_t)n);
    /* the figures change as lots settle and invoices are paid: never from a cache */
    kito_respond_bytes_cached(r, 200, "text/csv; charset=utf-8; header=present", "no-store", NULL,
                              j->csv.buf, j->csv.len);
}

/* GET /v1/sales/{id}/results.csv (the sale's organizer, operators): every lot with its
 * settlement, for a spreadsheet (issue 17). */
kito_err kito_get_sale_results_csv(kito_req *r)
{
    uint64_t sale_id;
    if (!path_id(r, KITO_ID_SALE, &sale_id))
        return KITO_OK;
    results_csv_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->sale_id = sale_id;
    j->viewer = r->principal.account_id;
    j->operator= r->principal.role == KITO_ROLE_OPERATOR;
    return kito_req_db_owned(r, results_csv_run, results_csv_done, results_csv_job_free, j);
}

/* ---- POST /v1/invoices/{id}/payments -----------------------------------------------------------
 */

typedef struct payment_job {
    kito_payment_new in;
    kito_payment_result out;
    kito_verr ve;
    kito_err err;
} payment_job;

static const kito_field payment_fields[] = {
    {.name = "amount", .type = KITO_FT_INTEGER, .required = true},
    {.name = "currency", .type = KITO_FT_STRING, .max = 3},
    {.name = "method", .type = KITO_FT_STRING, .max = 16},
    {.name = "reference", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 64},
};
static const kito_shape payment_shape = {payment_fields, 4};

static void payment_run(kito_db_conn *db, void *arg)
{
    payment_job *j = arg;
    j->err = kito_payment_record(db, &j->in, &j->out, &j->ve);
    kito_sql_log_failure("payment record", j->err);
}

static void payment_done(kito_req *r, void *arg)
{
    payment_job *j = arg;
    if (j->err == KITO_E_VALIDATION && j->ve.field[0] != '\0') {
        kito_respond_invalid(r, &j->ve);
        return;
    }
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err,
                           j->err == KITO_E_CONFLICT
                               ? "this reference was recorded for another payment"
                           : j->err == KITO_E_BAD_STATE ? "the invoice is not awaiting payment"
                                                        : NULL);
        return;
    }
    const kito_payment_result *o = &j->out;
    json_t *doc = json_pack(
        "{s:o,s:o,s:o,s:s,s:b,s:{s:o,s:s,s:o,s:o}}", "id", kito_render_id("pay", o->payment_id),
        "invoice_id", kito_render_id("inv", o->invoice_id), "amount",
        kito_render_money(o->amount_minor, o->currency), "reference", j->in.reference, "replay",
        o->replay, "invoice", "id", kito_render_id("inv", o->invoice_id), "status",
        o->invoice_status, "amount", kito_render_money(o->invoice_amount_minor, o->currency),
        "paid", kito_render_money(o->paid_minor, o->currency));
    kito_respond_json(r, o->replay ? 200 : 201, doc);
}

/* POST /v1/invoices/{id}/payments (the sale's organizer, operators):
 * {"amount", "currency"?, "method"?, "reference"}. 201 recorded; 200 the same reference, invoice
 * and amount again (nothing posted twice); 409 the reference was used for another payment or the
 * invoice is not awaiting payment; 404; 422. */
kito_err kito_post_invoice_payments(kito_req *r)
{
    kito_verr ve = {{0}};
    uint64_t invoice_id;
    if (!path_id(r, "inv", &invoice_id))
        return KITO_OK;
    if (kito_validate_object(r->body, &payment_shape, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    int64_t amount;
    if (kito_validate_amount("amount", json_object_get(r->body, "amount"), &amount, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    const char *currency = json_string_value(json_object_get(r->body, "currency"));
    const char *method = json_string_value(json_object_get(r->body, "method"));
    const char *reference = json_string_value(json_object_get(r->body, "reference"));
    static const char *const methods[] = {"bank_transfer", "card",  "mobile_money",
                                          "cash",          "other", NULL};
    if (currency != NULL &&
        (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
        return (kito_verr_set(&ve, "currency", "must be a three-letter ISO 4217 code"),
                kito_respond_invalid(r, &ve));
    if (method != NULL && kito_validate_enum("method", method, methods, NULL, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    for (const char *p = reference; *p != '\0'; p++)
        if (*p < '!' || *p > '~')
            return (kito_verr_set(&ve, "reference", "must be printable ASCII without spaces"),
                    kito_respond_invalid(r, &ve));
    payment_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->in.invoice_id = invoice_id;
    j->in.amount_minor = amount;
    snprintf(j->in.currency, sizeof(j->in.currency), "%s", currency != NULL ? currency : "");
    snprintf(j->in.method, sizeof(j->in.method), "%s", method != NULL ? method : "");
    snprintf(j->in.reference, sizeof(j->in.reference), "%s", reference);
    j->in.recorded_by = r->principal.account_id;
    j->in.organizer_id = r->principal.role == KITO_ROLE_OPERATOR ? 0 : r->principal.account_id;
    kito_req_client_ip(r, j->in.ip);
    return kito_req_db(r, payment_run, payment_done, j);
}
