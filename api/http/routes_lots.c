/*
 * Lots over HTTPS (issue 4, "Sales and lots"): add (with the miner's consent:
 * api/store/repo_offers.h), list, read, change, reorder and withdraw a sale's lots. Thin handlers
 * (CONVENTIONS.md, 10); the shared job and renderers are api/http/sales_kit.h's. Withdrawing a lot
 * the order books hold goes through api/live/withdrawals.h first.
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
#include "api/store/repo_stones.h"
#include "api/http/req_db.h"
#include "api/live/feed.h"
#include "api/store/sql.h"
#include "api/store/worker_pool.h"
#include "api/http/request.h"
#include "api/http/routes.h"
#include "api/http/server.h"

/* ---- lots ------------------------------------------------------------------------------------ */

/* Responds with j->lot as the caller sees it. */
static void done_lot(kito_req *r, kito__sales_job *j, int status)
{
    if (j->err != KITO_OK) {
        kito__sales_respond_job_err(r, j);
    } else {
        json_t *o = kito__render_lot(&j->lot, &j->sale, &j->actor);
        kito_bidding_overlay_lot(r->server->market, r->principal.account_id,
                                 o); /* the order book's live fields (issue 5) */
        kito_respond_json(r, status, o);
    }
}

static void done_lot_created(kito_req *r, void *arg)
{
    done_lot(r, arg, 201);
}

/* The most history entries a lot page gets with the lot. */
#define LOT_HISTORY_MAX 50

static void history_add(void *ud, const char *data, size_t len)
{
    json_t *e = json_loadb(data, len, 0, NULL);
    if (e != NULL)
        json_array_append_new(ud, e);
}

/* GET /v1/lots/{id}: the lot, and its public history as the live feed kept it (its last book,
 * bid_undone and final events, newest first: a lot page's bid history; api/live/feed.h). */
static void done_lot_ok(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err != KITO_OK || r->server->feed == NULL || !kito_req_alive(r)) {
        done_lot(r, j, 200);
        return;
    }
    json_t *o = kito__render_lot(&j->lot, &j->sale, &j->actor);
    kito_bidding_overlay_lot(r->server->market, r->principal.account_id,
                             o); /* the order book's live fields (issue 5) */
    json_t *history = json_array();
    if (o != NULL && history != NULL)
        kito_feed_lot_history(r->server->feed, j->lot.sale_id, j->lot.id, LOT_HISTORY_MAX,
                              history_add, history);
    if (o != NULL)
        json_object_set_new(o, "history", history != NULL ? history : json_array());
    kito_respond_json(r, 200, o);
}

static void run_lot_create(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_lots_create(db, &j->actor, j->id, &j->lot_in, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot create", j->err);
}

/* POST /v1/sales/{id}/lots (owner, draft sale). */
kito_err kito_post_sale_lots(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_SALE, &j->id);
    if (e == KITO_OK && kito_lot_decode(r->body, &j->lot_in, &j->ve) != KITO_OK)
        e = KITO_E_VALIDATION;
    if (e != KITO_OK)
        return kito__sales_refuse(r, e, j);
    return kito__sales_submit(r, run_lot_create, done_lot_created, j);
}

static kito_err lot_item(void *ud, const kito_lot *row)
{
    kito__sales_job *j = ud;
    if (kito__sales_page_take(j, row->position, row->id) &&
        json_array_append_new(j->items, kito__render_lot(row, &j->sale, &j->actor)) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

static void run_lots_list(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    kito_lots_filter f = j->lots; /* species, words, weights (kito_get_sale_lots) */
    f.state = j->status;
    f.has_after = j->has_after;
    f.after_position = (uint32_t)j->after.sort_key;
    f.after_id = j->after.id;
    f.limit = j->limit;
    j->items = json_array();
    j->err = j->items != NULL ? kito_lots_list(db, &j->actor, j->id, &f, &j->sale, lot_item, j)
                              : KITO_E_NOMEM;
    kito_sql_log_failure("lot list", j->err);
}

/* The price a buyer sees on a lot's card: the order book's price, else the opening. */
static int64_t shown_price_minor(const json_t *lot)
{
    const json_t *price = json_object_get(lot, "price");
    if (!json_is_object(price))
        price = json_object_get(lot, "opening");
    return json_integer_value(json_object_get(price, "amount"));
}

static void done_lots_list(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err == KITO_OK) {
        kito_bidding_overlay_items(r->server->market, r->principal.account_id,
                                   j->items); /* the order books' live fields (issue 5) */
        /* The price filter runs here, not in SQL: the price lives in the order book. The page
         * was cut by the other filters, so it may hold fewer lots than the limit; its cursor
         * still says where the next one starts (documented in the OpenAPI operation). */
        if (j->min_price_minor > 0 || j->max_price_minor > 0) {
            for (size_t i = json_array_size(j->items); i-- > 0;) {
                int64_t p = shown_price_minor(json_array_get(j->items, i));
                if (p < j->min_price_minor || (j->max_price_minor > 0 && p > j->max_price_minor))
                    json_array_remove(j->items, i);
            }
        }
    }
    kito__sales_respond_page(r, j);
}

/* Reads the lots list's stone and price filters into j; responds and returns false on a bad one. */
static bool lots_filters(kito_req *r, kito__sales_job *j)
{
    kito_verr ve = {{0}};
    const kito_query *q = &j->query;
    kito_lots_filter *f = &j->lots;
    const char *v;
    kito_err e = KITO_OK;
    if ((v = kito_query_get(q, "species")) != NULL &&
        (e = kito_validate_enum("species", v, kito_stone_species, NULL, &ve)) == KITO_OK)
        f->species = v;
    if (e == KITO_OK && (v = kito_query_get(q, "min_weight_ct")) != NULL)
        e = kito_validate_carats_text("min_weight_ct", v, &f->min_weight_cct, &ve);
    if (e == KITO_OK && (v = kito_query_get(q, "max_weight_ct")) != NULL)
        e = kito_validate_carats_text("max_weight_ct", v, &f->max_weight_cct, &ve);
    if (e == KITO_OK && f->max_weight_cct != 0 && f->max_weight_cct < f->min_weight_cct)
        e = kito_verr_set(&ve, "max_weight_ct", "must not be below min_weight_ct");
    if (e == KITO_OK && (v = kito_query_get(q, "min_price")) != NULL)
        e = kito_validate_amount_text("min_price", v, &j->min_price_minor, &ve);
    if (e == KITO_OK && (v = kito_query_get(q, "max_price")) != NULL)
        e = kito_validate_amount_text("max_price", v, &j->max_price_minor, &ve);
    if (e == KITO_OK && j->max_price_minor != 0 && j->max_price_minor < j->min_price_minor)
        e = kito_verr_set(&ve, "max_price", "must not be below min_price");
    const char *search = kito_query_get(q, "q");
    if (e == KITO_OK && search != NULL)
        e = kito_validate_text("q", search, 0, 100, 0, &ve);
    /* the search: words split at spaces, each looked for on its own */
    size_t n = 0;
    for (const char *w = search; e == KITO_OK && w != NULL && *w != '\0';) {
        size_t len = strcspn(w, " ");
        if (len > 0 && n == KITO_LOTS_SEARCH_WORDS)
            e = kito_verr_set(&ve, "q", "at most %d words", KITO_LOTS_SEARCH_WORDS);
        else if (len > KITO_LOTS_SEARCH_WORD_MAX)
            e = kito_verr_set(&ve, "q", "a word is at most %d bytes", KITO_LOTS_SEARCH_WORD_MAX);
        else if (len > 0) {
            memcpy(j->words[n], w, len);
            j->words[n][len] = '\0';
            f->words[n] = j->words[n];
            n++;
        }
        w += len + (w[len] == ' ');
    }
    if (e != KITO_OK) {
        kito__sales_respond_err(r, e, &ve);
        return false;
    }
    return true;
}

/* GET /v1/sales/{id}/lots (public, optional token): in running order; filter state. */
kito_err kito_get_sale_lots(kito_req *r)
{
    static const char *const allowed[] = {
        "state",     "species", "min_weight_ct", "max_weight_ct", "min_price",
        "max_price", "q",       "cursor",        "limit",         NULL};
    const char *states[KITO_LOT_STATE_MAX + 1];
    for (int i = 0; i < KITO_LOT_STATE_MAX; i++)
        states[i] = kito_lot_state_name((uint8_t)(i + 1));
    states[KITO_LOT_STATE_MAX] = NULL;
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK) {
        kito__sales_job_free(j);
        return KITO_E_NOT_FOUND;
    }
    if (!kito__sales_page_query(r, j, allowed, "sale_lots") ||
        !kito__sales_query_enum(r, j, "state", states, &j->status) || !lots_filters(r, j)) {
        kito__sales_job_free(j);
        return KITO_OK;
    }
    if (j->has_after && (j->after.sort_key < 0 || j->after.sort_key >= KITO_SALE_LOTS_MAX)) {
        kito__sales_job_free(j); /* a genuine cursor of ours never holds this */
        kito_respond_error(r, KITO_E_VALIDATION, "cursor: is not valid");
        return KITO_OK;
    }
    return kito__sales_submit(r, run_lots_list, done_lots_list, j);
}

/* Starts a job on the lot named in the path. */
static kito_err lot_job(kito_req *r, kito__sales_job *j, kito_req_db_run_fn run,
                        kito_req_db_done_fn done)
{
    if (kito_req_path_id(r, "id", KITO_ID_LOT, &j->id) != KITO_OK) {
        kito__sales_job_free(j);
        return KITO_E_NOT_FOUND;
    }
    return kito__sales_submit(r, run, done, j);
}

static void run_lot_get(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_lots_get(db, &j->actor, j->id, &j->sale, &j->lot);
    kito_sql_log_failure("lot get", j->err);
}

/* GET /v1/lots/{id} (public, optional token). */
kito_err kito_get_lot(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    return j != NULL ? lot_job(r, j, run_lot_get, done_lot_ok) : KITO_E_NOMEM;
}

static void run_lot_update(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_lots_update(db, &j->actor, j->id, &j->lot_patch, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot update", j->err);
}

/* PATCH /v1/lots/{id} (owner, draft sale): opening, reserve. */
kito_err kito_patch_lot(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_lot_patch_decode(r->body, &j->lot_patch, &j->ve) != KITO_OK)
        return kito__sales_refuse(r, KITO_E_VALIDATION, j);
    return lot_job(r, j, run_lot_update, done_lot_ok);
}

static void run_lot_withdraw(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_lots_withdraw(db, &j->actor, j->id, j->reason, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot withdraw", j->err);
}

/* A lot the order books hold is withdrawn in the engine first (api/live/withdrawals.h), then in
 * the catalogue: a lot that sold a moment ago must not be withdrawn in MySQL, and a withdrawn lot
 * must take no more bids. The steps: check ownership and state (MySQL, nothing changed), the
 * engine's WITHDRAW (answered once Redis has it; nothing to do if the engine has it already),
 * the catalogue (MySQL), the answer. A lot the books do not hold (a draft sale's) is withdrawn in
 * the catalogue only. */
typedef struct withdrawal {
    kito_req *r;        /* retained while the engine works */
    kito__sales_job *j; /* the catalogue step's job */
} withdrawal;

static void run_lot_withdraw_check(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_lots_withdraw_check(db, &j->actor, j->id, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot withdraw check", j->err);
}

static void run_lot_withdraw_after_engine(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    /* a deadlock with the settlement worker is retried inside (kito_sql_transaction) */
    j->err =
        kito_lots_withdraw_after_engine(db, &j->actor, j->id, j->reason, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot withdraw", j->err);
}

static void on_engine_withdrawn(void *ud, kito_err err, size_t held)
{
    withdrawal *w = ud;
    kito_err e = err;
    if (e == KITO_OK && !kito_req_alive(w->r))
        e = KITO_E_UNAVAILABLE; /* the client left: a repeated withdraw brings the catalogue */
    if (e == KITO_OK)
        e = kito__sales_submit(w->r, held > 0 ? run_lot_withdraw_after_engine : run_lot_withdraw,
                               done_lot_ok, w->j);
    else
        kito__sales_job_free(w->j);
    if (e != KITO_OK)
        /* a lot that ended in the engine (sold, passed) cannot be withdrawn any more */
        kito_respond_error(w->r, e,
                           e == KITO_E_LOT_CLOSED || e == KITO_E_BAD_STATE
                               ? "the lot has ended in the order book; it can no longer be "
                                 "withdrawn"
                               : NULL);
    kito_req_release(w->r);
    free(w);
}

static void done_lot_withdraw_check(kito_req *r, void *arg)
{
    kito__sales_job *checked = arg;
    if (checked->err != KITO_OK) {
        kito__sales_respond_job_err(r, checked);
        return;
    }
    kito__sales_job *j = kito__sales_job_new(r);
    withdrawal *w = j != NULL ? malloc(sizeof(*w)) : NULL;
    if (w == NULL) {
        kito__sales_job_free(j);
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        return;
    }
    j->id = checked->id;
    memcpy(j->reason, checked->reason, sizeof(j->reason));
    *w = (withdrawal){r, j};
    kito_req_retain(r);
    if (kito_withdrawals_start(r->server->market, &j->id, 1, r->principal.account_id,
                               kito_bidding_now_ms(), on_engine_withdrawn, w) != KITO_OK) {
        free(w);
        kito__sales_job_free(j);
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        kito_req_release(r);
    }
}

/* POST /v1/lots/{id}/withdraw (owner): optional {"reason"}. */
kito_err kito_post_lot_withdraw(kito_req *r)
{
    json_t *body;
    if (!kito__sales_optional_body(r, &body))
        return KITO_OK;
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL) {
        json_decref(body);
        return KITO_E_NOMEM;
    }
    kito_err e = kito_lot_withdraw_decode(body, j->reason, &j->ve);
    json_decref(body);
    if (e != KITO_OK)
        return kito__sales_refuse(r, e, j);
    return lot_job(r, j, run_lot_withdraw_check, done_lot_withdraw_check);
}

static void run_lots_order(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_lots_reorder(db, &j->actor, j->id, j->order, j->order_n, &j->ve);
    kito_sql_log_failure("lot reorder", j->err);
}

static void done_lots_order(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < j->order_n; i++)
        json_array_append_new(ids, kito_render_id(KITO_ID_LOT, j->order[i]));
    if (j->err != KITO_OK) {
        json_decref(ids);
        kito__sales_respond_job_err(r, j);
    } else {
        kito_respond_json(
            r, 200,
            json_pack("{s:o,s:o}", "sale_id", kito_render_id(KITO_ID_SALE, j->id), "lot_ids", ids));
    }
}

/* POST /v1/sales/{id}/lots/order (owner, draft sale): {"lot_ids": [...]}, every lot once. */
kito_err kito_post_sale_lots_order(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_SALE, &j->id);
    if (e == KITO_OK) {
        j->order = calloc(KITO_SALE_LOTS_MAX, sizeof(*j->order));
        e = j->order != NULL ? KITO_OK : KITO_E_NOMEM;
    }
    if (e == KITO_OK && kito_lot_order_decode(r->body, j->order, KITO_SALE_LOTS_MAX, &j->order_n,
                                              &j->ve) != KITO_OK)
        e = KITO_E_VALIDATION;
    if (e != KITO_OK)
        return kito__sales_refuse(r, e, j);
    return kito__sales_submit(r, run_lots_order, done_lots_order, j);
}
