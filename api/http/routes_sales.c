/*
 * Sales over HTTPS (issue 4, "Sales and lots"). Thin handlers
 * (CONVENTIONS.md, 10): decode the request (api/store/repo_sales.h, api/store/repo_lots.h
 * decoders), run the repository on a MySQL worker (api/http/req_db.h), render the answer here.
 *
 * Visibility: a draft sale and its lots exist only for their organiser and operators (404 for
 * everyone else); a lot's reserve is shown to them alone, everyone else sees "has_reserve" and
 * "reserve_met" (null until bidding starts, issue 5).
 */
#include "api/http/sales_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"
#include "api/live/bidding.h"
#include "api/live/withdrawals.h"
#include "api/http/json.h"
#include "api/common/query.h"
#include "api/common/render.h"
#include "api/store/repo_lots.h"
#include "api/store/repo_registrations.h"
#include "api/store/repo_sales.h"
#include "api/http/req_db.h"
#include "api/store/sql.h"
#include "api/store/worker_pool.h"
#include "api/http/request.h"
#include "api/http/routes.h"
#include "api/http/server.h"

/* ---- sales ----------------------------------------------------------------------------------- */

static void run_sale_create(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_sales_create(db, &j->actor, &j->sale_in, &j->sale);
    kito_sql_log_failure("sale create", j->err);
}

/* Responds with j->sale (status on success) or the job's error. */
static void done_sale(kito_req *r, kito__sales_job *j, int status)
{
    if (j->err != KITO_OK)
        kito__sales_respond_job_err(r, j);
    else
        kito_respond_json(r, status, kito__render_sale(&j->sale));
}

static void done_sale_created(kito_req *r, void *arg)
{
    done_sale(r, arg, 201);
}

static void done_sale_ok(kito_req *r, void *arg)
{
    done_sale(r, arg, 200);
}

/* POST /v1/sales (organizer): a new draft sale. */
kito_err kito_post_sales(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_sale_decode(r->body, &j->sale_in, &j->ve);
    if (e != KITO_OK)
        return kito__sales_refuse(r, e, j);
    return kito__sales_submit(r, run_sale_create, done_sale_created, j);
}

static void run_sale_get(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_sales_get(db, &j->actor, j->id, &j->sale);
    kito_sql_log_failure("sale get", j->err);
}

/* Starts a job on the sale named in the path: 404 for an id that names nothing. */
kito_err kito__sales_sale_job(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK) {
        kito__sales_job_free(j);
        return KITO_E_NOT_FOUND;
    }
    return kito__sales_submit(r, run, done, j);
}

/* GET /v1/sales/{id} (public; a draft only to its organiser). */
kito_err kito_get_sale(kito_req *r)
{
    return kito__sales_sale_job(r, run_sale_get, done_sale_ok);
}

static void run_sale_update(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_sales_update(db, &j->actor, j->id, j->body, &j->sale, &j->ve);
    kito_sql_log_failure("sale update", j->err);
}

/* PATCH /v1/sales/{id} (the sale's organiser or an operator, while draft). */
kito_err kito_patch_sale(kito_req *r)
{
    kito_verr ve = {{0}};
    if (kito_sale_patch_check(r->body, &ve) != KITO_OK) {
        kito__sales_respond_err(r, KITO_E_VALIDATION, &ve);
        return KITO_OK;
    }
    return kito__sales_sale_job(r, run_sale_update, done_sale_ok);
}

static void run_sale_publish(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_sales_publish(db, &j->actor, j->id, &j->sale, &j->ve);
    kito_sql_log_failure("sale publish", j->err);
}

/* A publish's answer, held while its lots are loaded. */
typedef struct publication {
    kito_req *r; /* retained */
    json_t *doc; /* the sale, owned */
} publication;

static void on_sale_activated(void *ud)
{
    publication *p = ud;
    kito_respond_json(p->r, 200, p->doc); /* the publish committed: say so */
    kito_req_release(p->r);
    free(p);
}

/* Issue 5: once the publish committed, the sale's lots go into the order books
 * (api/live/bidding.h), and the answer waits for that, so the lots take bids as soon as the client
 * hears "published". */
static void done_sale_published(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err != KITO_OK) {
        kito__sales_respond_job_err(r, j);
        return;
    }
    publication *p = malloc(sizeof(*p));
    if (p == NULL) {
        kito_respond_json(r, 200,
                          kito__render_sale(&j->sale)); /* unloaded lots are retried anyway */
        kito_bidding_activate_sale(r->server->bidding, j->sale.id, NULL, NULL);
        return;
    }
    *p = (publication){r, kito__render_sale(&j->sale)};
    kito_req_retain(r);
    kito_bidding_activate_sale(r->server->bidding, j->sale.id, on_sale_activated, p);
}

/* POST /v1/sales/{id}/publish (owner): draft -> published. */
kito_err kito_post_sale_publish(kito_req *r)
{
    if (!kito__sales_empty_body(r))
        return KITO_OK;
    return kito__sales_sale_job(r, run_sale_publish, done_sale_published);
}

static void run_sale_cancel(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_sales_cancel(db, &j->actor, j->id, &j->sale, &j->ve);
    /* the lots to take out of the order books too (done_sale_cancelled) */
    kito_bid_lot *dir = NULL;
    if (j->err == KITO_OK) {
        dir = calloc(KITO_SALE_LOTS_MAX, sizeof(*dir));
        j->order = calloc(KITO_SALE_LOTS_MAX, sizeof(*j->order));
        j->err = dir != NULL && j->order != NULL
                     ? kito_bids_sale_lots(db, j->id, dir, KITO_SALE_LOTS_MAX, &j->order_n)
                     : KITO_E_NOMEM;
        for (size_t i = 0; j->err == KITO_OK && i < j->order_n; i++)
            j->order[i] = dir[i].lot_id;
    }
    free(dir);
    kito_sql_log_failure("sale cancel", j->err);
}

/* A published sale's lots are in the order books (issue 5: loaded at the publish) and open there
 * at the start: a cancelled sale's lots are withdrawn there too (api/live/withdrawals.h). The
 * answer waits for Redis. */
typedef struct cancellation {
    kito_req *r; /* retained while the books work */
    json_t *doc; /* the answer */
} cancellation;

static void on_cancel_withdrawn(void *ud, kito_err err, size_t held)
{
    (void)held;
    cancellation *c = ud;
    if (err != KITO_OK) {
        json_decref(c->doc);
        kito_respond_error(c->r, err,
                           "the sale is cancelled, but not all its lots could be withdrawn from "
                           "the order books");
    } else {
        kito_respond_json(c->r, 200, c->doc);
    }
    kito_req_release(c->r);
    free(c);
}

static void done_sale_cancelled(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err != KITO_OK || r->server->market == NULL) {
        done_sale(r, j, 200);
        return;
    }
    cancellation *c = malloc(sizeof(*c));
    if (c == NULL) {
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        return;
    }
    *c = (cancellation){.r = r, .doc = kito__render_sale(&j->sale)};
    kito_req_retain(r);
    if (kito_withdrawals_start(r->server->market, j->order, j->order_n, r->principal.account_id,
                               kito_bidding_now_ms(), on_cancel_withdrawn, c) != KITO_OK) {
        json_decref(c->doc);
        free(c);
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        kito_req_release(r);
    }
}

/* POST /v1/sales/{id}/cancel (owner): before the sale starts. */
kito_err kito_post_sale_cancel(kito_req *r)
{
    if (!kito__sales_empty_body(r))
        return KITO_OK;
    return kito__sales_sale_job(r, run_sale_cancel, done_sale_cancelled);
}

static kito_err sale_item(void *ud, const kito_sale *row)
{
    kito__sales_job *j = ud;
    if (kito__sales_page_take(j, row->in.starts_at_ms, row->id) &&
        json_array_append_new(j->items, kito__render_sale(row)) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

static void run_sales_list(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    kito_sales_filter f = {
        .status = j->status,
        .format = j->format,
        .currency = j->currency,
        .has_after = j->has_after,
        .after_starts_at_ms = j->after.sort_key,
        .after_id = j->after.id,
        .limit = j->limit,
    };
    j->items = json_array();
    j->err = j->items != NULL ? kito_sales_list(db, &j->actor, &f, sale_item, j) : KITO_E_NOMEM;
    kito_sql_log_failure("sale list", j->err);
}

/* GET /v1/sales (public, optional token): published sales and beyond, plus the caller's own
 * drafts; filters status, format, currency; (starts_at, id) order. */
kito_err kito_get_sales(kito_req *r)
{
    static const char *const allowed[] = {"status", "format", "currency", "cursor", "limit", NULL};
    static const char *const statuses[] = {"draft",   "published", "open", "closed",
                                           "settled", "cancelled", NULL};
    static const char *const formats[] = {"timed", "tender", "live", NULL};
    static const char *const currencies[] = {"USD", "KES", "TZS", "ZMW", "MWK", "EUR", "GBP", NULL};
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (!kito__sales_page_query(r, j, allowed, "sales") ||
        !kito__sales_query_enum(r, j, "status", statuses, &j->status) ||
        !kito__sales_query_enum(r, j, "format", formats, &j->format) ||
        !kito__sales_query_enum(r, j, "currency", currencies, &j->currency)) {
        kito__sales_job_free(j);
        return KITO_OK;
    }
    return kito__sales_submit(r, run_sales_list, kito__sales_done_list, j);
}
