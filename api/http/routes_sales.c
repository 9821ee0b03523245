/*
 * Sales, lots and buyer approvals over HTTPS (issue 4, "Sales and lots"). Thin handlers
 * (CONVENTIONS.md, 10): decode the request (api/store/repo_sales.h, api/store/repo_lots.h decoders), run the
 * repository on a MySQL worker (api/http/req_db.h), render the answer here.
 *
 * Visibility: a draft sale and its lots exist only for their organiser and operators (404 for
 * everyone else); a lot's reserve is shown to them alone, everyone else sees "has_reserve" and
 * "reserve_met" (null until bidding starts, issue 5).
 */
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

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define PAGE_DEFAULT 20
#define PAGE_MAX 100

/* Everything one request needs on the worker and back on the loop. Allocated per request with
 * calloc (about 60 KB: the sale's texts are large) and freed by job_free. */
typedef struct job {
    kito_actor actor;
    char ip[64];
    uint64_t id;        /* the sale or lot in the path */
    uint64_t buyer_id;  /* DELETE .../approvals/{buyer_id} */
    const json_t *body; /* borrowed from the request, which outlives the job */
    kito_err err;
    kito_verr ve;
    bool created;

    kito_sale_input sale_in;
    kito_lot_input lot_in;
    kito_lot_patch lot_patch;
    kito_approval_input approval;
    char reason[KITO_LOT_REASON_MAX * 4 + 1];
    uint64_t *order; /* owned: lot ids of a reorder */
    size_t order_n;

    kito_sale sale;
    kito_lot lot;
    kito_registration reg;

    /* lists */
    uint8_t cursor_key[KITO_CURSOR_KEY_LEN];
    const char *status; /* filters: borrowed from the job's query copy below */
    const char *format;
    const char *currency;
    kito_query query;
    kito_cursor after;
    bool has_after;
    uint32_t limit;
    size_t seen;
    kito_cursor last;  /* the last row put on the page */
    const char *scope; /* the list's cursor scope (page_query) */
    json_t *items;     /* owned until rendered */
} job;

/* ---- helpers --------------------------------------------------------------------------------- */

static job *job_new(kito_req *r)
{
    job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->actor.account_id = r->principal.account_id;
    j->actor.role = r->principal.role;
    /* the audit trail wants the address without the port ("::1:443" -> "::1") */
    snprintf(j->ip, sizeof(j->ip), "%s", r->remote);
    char *colon = strrchr(j->ip, ':');
    if (colon != NULL)
        *colon = '\0';
    j->actor.ip = strcmp(j->ip, "-") != 0 && j->ip[0] != '\0' ? j->ip : NULL;
    j->body = r->body;
    return j;
}

static void job_free(job *j)
{
    if (j == NULL)
        return;
    json_decref(j->items);
    free(j->order);
    free(j);
}

static void job_release(void *j)
{
    job_free(j);
}

/* Runs run(db, j) on a MySQL worker, then done(r, j) on the loop if r is still there; j is
 * freed (job_free, which also frees a list page built on the worker) either way. */
static kito_err submit(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done, job *j)
{
    return kito_req_db_owned(r, run, done, job_release, j);
}

/* Answers err with "field: reason" from ve when there is one. */
static void respond_err(kito_req *r, kito_err err, const kito_verr *ve)
{
    char msg[KITO_VERR_FIELD_SIZE + KITO_VERR_REASON_SIZE + 4];
    if (ve == NULL || ve->reason[0] == '\0') {
        kito_respond_error(r, err, NULL);
        return;
    }
    if (ve->field[0] != '\0')
        snprintf(msg, sizeof(msg), "%s: %s", ve->field, ve->reason);
    else
        snprintf(msg, sizeof(msg), "%s", ve->reason);
    kito_respond_error(r, err, msg);
}

/* A job that failed on the worker: the client's fault gets its message, ours is logged. */
static void respond_job_err(kito_req *r, job *j)
{
    if (j->err == KITO_E_DB || j->err == KITO_E_INTERNAL || j->err == KITO_E_NOMEM) {
        respond_err(r, j->err, NULL);
        return;
    }
    respond_err(r, j->err, &j->ve);
}

/* Logs the worker's MySQL detail for errors that are ours. Worker thread. */
/* Action routes (publish, cancel, withdraw, register) take no body or a small JSON object; a
 * body that is there must be JSON and is returned parsed (*out, owned) or NULL. Responds on
 * failure and returns false. */
static bool optional_body(kito_req *r, json_t **out)
{
    char reason[KITO_JSON_REASON_SIZE];
    h2o_req_t *req = r->h2o;
    *out = NULL;
    if (req->entity.base == NULL || req->entity.len == 0)
        return true;
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct == -1 || !kito_json_is_content_type(req->headers.entries[ct].value.base,
                                               req->headers.entries[ct].value.len)) {
        kito_respond_error(r, KITO_E_UNSUPPORTED_MEDIA, "send the body as application/json");
        return false;
    }
    kito_err e = kito_json_parse(req->entity.base, req->entity.len, r->route->body_max,
                                 KITO_JSON_TOP_OBJECT, out, reason);
    if (e != KITO_OK) {
        kito_respond_error(r, e, reason);
        return false;
    }
    return true;
}

/* A body that must be absent or {} (publish, cancel, register). Responds and returns false
 * otherwise. */
static bool empty_body(kito_req *r)
{
    json_t *body;
    if (!optional_body(r, &body))
        return false;
    static const kito_shape none = {NULL, 0};
    kito_verr ve = {{0}};
    kito_err e = body != NULL ? kito_validate_object(body, &none, &ve) : KITO_OK;
    json_decref(body);
    if (e != KITO_OK)
        respond_err(r, e, &ve);
    return e == KITO_OK;
}

/* Parses the query string against allowed names and reads cursor and limit for scope. Responds
 * and returns false on a bad one. */
static bool page_query(kito_req *r, job *j, const char *const *allowed, const char *scope)
{
    kito_verr ve = {{0}};
    h2o_req_t *req = r->h2o;
    const char *qs = NULL;
    size_t len = 0;
    int64_t limit;
    if (req->query_at != SIZE_MAX) {
        qs = req->path.base + req->query_at + 1;
        len = req->path.len - req->query_at - 1;
    }
    kito_err e = kito_query_parse(qs, len, &j->query, &ve);
    if (e == KITO_OK)
        e = kito_query_check_allowed(&j->query, allowed, &ve);
    if (e == KITO_OK)
        e = kito_query_get_int(&j->query, "limit", 1, PAGE_MAX, PAGE_DEFAULT, &limit, &ve);
    const char *cursor = kito_query_get(&j->query, "cursor");
    if (e == KITO_OK && cursor != NULL) {
        e = kito_query_cursor_decode(r->server->cursor_key, scope, cursor, &j->after, &ve);
        j->has_after = e == KITO_OK;
    }
    if (e != KITO_OK) {
        respond_err(r, e, &ve);
        return false;
    }
    j->limit = (uint32_t)limit;
    j->scope = scope;
    memcpy(j->cursor_key, r->server->cursor_key, KITO_CURSOR_KEY_LEN);
    return true;
}

/* A filter value from the query, checked against allowed (NULL-terminated). */
static bool query_enum(kito_req *r, job *j, const char *name, const char *const *allowed,
                       const char **out)
{
    kito_verr ve = {{0}};
    *out = kito_query_get(&j->query, name);
    if (*out == NULL || kito_validate_enum(name, *out, allowed, NULL, &ve) == KITO_OK)
        return true;
    respond_err(r, KITO_E_VALIDATION, &ve);
    return false;
}

/* Counts a list row; true if it belongs on the page (the one past the limit only says that
 * another page exists). */
static bool page_take(job *j, int64_t sort_key, uint64_t id)
{
    if (++j->seen > j->limit)
        return false;
    j->last = (kito_cursor){sort_key, id};
    return true;
}

/* Responds with the page in j->items, or with the job's error. */
static void respond_page(kito_req *r, job *j)
{
    char cursor[KITO_CURSOR_SIZE];
    const char *next = NULL;
    if (j->err != KITO_OK) {
        respond_job_err(r, j);
        return;
    }
    if (j->seen > j->limit &&
        kito_query_cursor_encode(j->cursor_key, j->scope, j->last, cursor) == KITO_OK)
        next = cursor;
    kito_respond_json(r, 200, kito_render_page(j->items, next));
    j->items = NULL; /* the page took it */
}

/* The done half of every list job. */
static void done_list(kito_req *r, void *arg)
{
    respond_page(r, arg);
}

static json_t *nullable_time(bool has, int64_t ms)
{
    return has ? kito_render_time(ms) : json_null();
}

/* ---- rendering ------------------------------------------------------------------------------- */

static json_t *render_ladder(const struct kito_ladder *l)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < l->n_rungs; i++)
        json_array_append_new(arr, json_pack("{s:I,s:I}", "from_minor",
                                             (json_int_t)l->rungs[i].from_minor, "step_minor",
                                             (json_int_t)l->rungs[i].step_minor));
    return arr;
}

static json_t *render_sale(const kito_sale *s)
{
    const kito_sale_input *in = &s->in;
    bool tender = strcmp(in->format, "tender") == 0;
    return json_pack(
        "{s:o,s:o,s:s,s:s?,s:s?,s:b,s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:i,s:s?,s:o,s:s,s:i,s:o,s:o}",
        "id", kito_render_id(KITO_ID_SALE, s->id), "organizer_id",
        kito_render_id(KITO_ID_ACCOUNT, s->organizer_id), "title", in->title, "description",
        in->has_description ? in->description : NULL, "venue", in->has_venue ? in->venue : NULL,
        "online", in->online, "format", in->format, "currency", in->currency, "starts_at",
        kito_render_time(in->starts_at_ms), "ends_at",
        nullable_time(in->has_ends_at, in->ends_at_ms), "soft_close_s", in->soft_close_s,
        "stagger_s", in->stagger_s, "buyer_premium_bps", in->buyer_premium_bps, "commission_bps",
        in->commission_bps, "tender_pricing", tender ? in->tender_pricing : NULL, "ladder",
        render_ladder(&in->ladder), "status", s->status, "lot_count", (int)s->lot_count,
        "created_at", kito_render_time(s->created_at_ms), "updated_at",
        kito_render_time(s->updated_at_ms));
}

static json_t *nullable_text(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *render_stone(const kito_lot *l)
{
    char weight[32];
    snprintf(weight, sizeof(weight), "%lld.%02lld", (long long)(l->stone.weight_cct / 100),
             (long long)(l->stone.weight_cct % 100));
    return json_pack("{s:o,s:s,s:o,s:s,s:i,s:o,s:o,s:s,s:o,s:o}", "id",
                     kito_render_id(KITO_ID_STONE, l->stone_id), "species", l->stone.species,
                     "variety", nullable_text(l->stone.variety), "weight_ct", weight, "piece_count",
                     (int)l->stone.piece_count, "shape", nullable_text(l->stone.shape), "colour",
                     nullable_text(l->stone.colour), "origin_country", l->stone.origin_country,
                     "origin_region", nullable_text(l->stone.origin_region), "certificate_id",
                     l->certificate_id != 0 ? kito_render_id(KITO_ID_CERTIFICATE, l->certificate_id)
                                            : json_null());
}

/* A lot as viewer sees it: the reserve only for the sale's organiser and operators. In a timed
 * or tender sale, ends_at is the planned close of the lot (staggered; soft close may extend it
 * once bidding runs). */
static json_t *render_lot(const kito_lot *l, const kito_sale *s, const kito_actor *viewer)
{
    bool clocked = strcmp(s->in.format, "live") != 0 && s->in.has_ends_at;
    int64_t ends = s->in.ends_at_ms + (int64_t)l->position * s->in.stagger_s * 1000;
    json_t *o = json_pack(
        "{s:o,s:o,s:i,s:i,s:s,s:o,s:o,s:b,s:n,s:o,s:o,s:o}", "id",
        kito_render_id(KITO_ID_LOT, l->id), "sale_id", kito_render_id(KITO_ID_SALE, l->sale_id),
        "lot_number", (int)l->lot_number, "position", (int)l->position, "state", l->state, "stone",
        render_stone(l), "opening", kito_render_money(l->opening_minor, s->in.currency),
        "has_reserve", l->has_reserve, "reserve_met", "ends_at",
        clocked ? kito_render_time(ends) : json_null(), "created_at",
        kito_render_time(l->created_at_ms), "updated_at", kito_render_time(l->updated_at_ms));
    if (o != NULL && kito_sale_actor_owns(viewer, s->organizer_id))
        json_object_set_new(o, "reserve",
                            l->has_reserve ? kito_render_money(l->reserve_minor, s->in.currency)
                                           : json_null());
    return o;
}

static json_t *render_registration(const kito_registration *g)
{
    bool approved = strcmp(g->status, "approved") == 0;
    return json_pack(
        "{s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:{s:o,s:s,s:s}}", "sale_id",
        kito_render_id(KITO_ID_SALE, g->sale_id), "buyer_id",
        kito_render_id(KITO_ID_ACCOUNT, g->buyer_id), "status", g->status, "paddle_number",
        approved && g->paddle_number != 0 ? json_integer(g->paddle_number) : json_null(), "limit",
        approved && g->limit_minor > 0 ? kito_render_money(g->limit_minor, g->currency)
                                       : json_null(),
        "requested_at", nullable_time(g->requested_at_ms != 0, g->requested_at_ms), "decided_at",
        nullable_time(g->decided_at_ms != 0, g->decided_at_ms), "buyer", "id",
        kito_render_id(KITO_ID_ACCOUNT, g->buyer_id), "name", g->buyer_name, "email",
        g->buyer_email);
}

/* ---- sales ----------------------------------------------------------------------------------- */

static void run_sale_create(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_sales_create(db, &j->actor, &j->sale_in, &j->sale);
    kito_sql_log_failure("sale create", j->err);
}

/* Responds with j->sale (status on success) or the job's error. */
static void done_sale(kito_req *r, job *j, int status)
{
    if (j->err != KITO_OK)
        respond_job_err(r, j);
    else
        kito_respond_json(r, status, render_sale(&j->sale));
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
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_sale_decode(r->body, &j->sale_in, &j->ve);
    if (e != KITO_OK) {
        respond_err(r, e, &j->ve);
        job_free(j);
        return KITO_OK;
    }
    return submit(r, run_sale_create, done_sale_created, j);
}

static void run_sale_get(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_sales_get(db, &j->actor, j->id, &j->sale);
    kito_sql_log_failure("sale get", j->err);
}

/* Starts a job on the sale named in the path: 404 for an id that names nothing. */
static kito_err sale_job(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done)
{
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK) {
        job_free(j);
        return KITO_E_NOT_FOUND;
    }
    return submit(r, run, done, j);
}

/* GET /v1/sales/{id} (public; a draft only to its organiser). */
kito_err kito_get_sale(kito_req *r)
{
    return sale_job(r, run_sale_get, done_sale_ok);
}

static void run_sale_update(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_sales_update(db, &j->actor, j->id, j->body, &j->sale, &j->ve);
    kito_sql_log_failure("sale update", j->err);
}

/* PATCH /v1/sales/{id} (the sale's organiser or an operator, while draft). */
kito_err kito_patch_sale(kito_req *r)
{
    kito_verr ve = {{0}};
    if (kito_sale_patch_check(r->body, &ve) != KITO_OK) {
        respond_err(r, KITO_E_VALIDATION, &ve);
        return KITO_OK;
    }
    return sale_job(r, run_sale_update, done_sale_ok);
}

static void run_sale_publish(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_sales_publish(db, &j->actor, j->id, &j->sale, &j->ve);
    kito_sql_log_failure("sale publish", j->err);
}

/* Issue 5: once the publish committed, the sale's lots go into the order books (api/live/bidding.h),
 * and the answer waits for that, so the lots take bids as soon as the client hears "published". */
static void done_sale_published(kito_req *r, void *arg)
{
    job *j = arg;
    if (j->err != KITO_OK)
        respond_job_err(r, j);
    else
        kito_bidding_activate_sale(r->server->bidding, j->sale.id, r, 200, render_sale(&j->sale));
}

/* POST /v1/sales/{id}/publish (owner): draft -> published. */
kito_err kito_post_sale_publish(kito_req *r)
{
    if (!empty_body(r))
        return KITO_OK;
    return sale_job(r, run_sale_publish, done_sale_published);
}

static void run_sale_cancel(kito_db_conn *db, void *arg)
{
    job *j = arg;
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
    job *j = arg;
    if (j->err != KITO_OK || r->server->market == NULL) {
        done_sale(r, j, 200);
        return;
    }
    cancellation *c = malloc(sizeof(*c));
    if (c == NULL) {
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        return;
    }
    *c = (cancellation){.r = r, .doc = render_sale(&j->sale)};
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
    if (!empty_body(r))
        return KITO_OK;
    return sale_job(r, run_sale_cancel, done_sale_cancelled);
}

static kito_err sale_item(void *ud, const kito_sale *row)
{
    job *j = ud;
    if (page_take(j, row->in.starts_at_ms, row->id) &&
        json_array_append_new(j->items, render_sale(row)) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

static void run_sales_list(kito_db_conn *db, void *arg)
{
    job *j = arg;
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
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (!page_query(r, j, allowed, "sales") || !query_enum(r, j, "status", statuses, &j->status) ||
        !query_enum(r, j, "format", formats, &j->format) ||
        !query_enum(r, j, "currency", currencies, &j->currency)) {
        job_free(j);
        return KITO_OK;
    }
    return submit(r, run_sales_list, done_list, j);
}

/* ---- lots ------------------------------------------------------------------------------------ */

/* Responds with j->lot as the caller sees it. */
static void done_lot(kito_req *r, job *j, int status)
{
    if (j->err != KITO_OK) {
        respond_job_err(r, j);
    } else {
        json_t *o = render_lot(&j->lot, &j->sale, &j->actor);
        kito_bidding_overlay_lot(r, o); /* the order book's live fields (issue 5) */
        kito_respond_json(r, status, o);
    }
}

static void done_lot_created(kito_req *r, void *arg)
{
    done_lot(r, arg, 201);
}

static void done_lot_ok(kito_req *r, void *arg)
{
    done_lot(r, arg, 200);
}

static void run_lot_create(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_lots_create(db, &j->actor, j->id, &j->lot_in, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot create", j->err);
}

/* POST /v1/sales/{id}/lots (owner, draft sale). */
kito_err kito_post_sale_lots(kito_req *r)
{
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_SALE, &j->id);
    if (e == KITO_OK && kito_lot_decode(r->body, &j->lot_in, &j->ve) != KITO_OK)
        e = KITO_E_VALIDATION;
    if (e != KITO_OK) {
        respond_err(r, e, &j->ve);
        job_free(j);
        return KITO_OK;
    }
    return submit(r, run_lot_create, done_lot_created, j);
}

static kito_err lot_item(void *ud, const kito_lot *row)
{
    job *j = ud;
    if (page_take(j, row->position, row->id) &&
        json_array_append_new(j->items, render_lot(row, &j->sale, &j->actor)) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

static void run_lots_list(kito_db_conn *db, void *arg)
{
    job *j = arg;
    kito_lots_filter f = {
        .state = j->status,
        .has_after = j->has_after,
        .after_position = (uint32_t)j->after.sort_key,
        .after_id = j->after.id,
        .limit = j->limit,
    };
    j->items = json_array();
    j->err = j->items != NULL ? kito_lots_list(db, &j->actor, j->id, &f, &j->sale, lot_item, j)
                              : KITO_E_NOMEM;
    kito_sql_log_failure("lot list", j->err);
}

static void done_lots_list(kito_req *r, void *arg)
{
    job *j = arg;
    if (j->err == KITO_OK)
        kito_bidding_overlay_items(r, j->items); /* the order books' live fields (issue 5) */
    respond_page(r, j);
}

/* GET /v1/sales/{id}/lots (public, optional token): in running order; filter state. */
kito_err kito_get_sale_lots(kito_req *r)
{
    static const char *const allowed[] = {"state", "cursor", "limit", NULL};
    const char *states[KITO_LOT_STATE_MAX + 1];
    for (int i = 0; i < KITO_LOT_STATE_MAX; i++)
        states[i] = kito_lot_state_name((uint8_t)(i + 1));
    states[KITO_LOT_STATE_MAX] = NULL;
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK) {
        job_free(j);
        return KITO_E_NOT_FOUND;
    }
    if (!page_query(r, j, allowed, "sale_lots") || !query_enum(r, j, "state", states, &j->status)) {
        job_free(j);
        return KITO_OK;
    }
    if (j->has_after && (j->after.sort_key < 0 || j->after.sort_key >= KITO_SALE_LOTS_MAX)) {
        job_free(j); /* a genuine cursor of ours never holds this */
        kito_respond_error(r, KITO_E_VALIDATION, "cursor: is not valid");
        return KITO_OK;
    }
    return submit(r, run_lots_list, done_lots_list, j);
}

/* Starts a job on the lot named in the path. */
static kito_err lot_job(kito_req *r, job *j, kito_req_db_run_fn run, kito_req_db_done_fn done)
{
    if (kito_req_path_id(r, "id", KITO_ID_LOT, &j->id) != KITO_OK) {
        job_free(j);
        return KITO_E_NOT_FOUND;
    }
    return submit(r, run, done, j);
}

static void run_lot_get(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_lots_get(db, &j->actor, j->id, &j->sale, &j->lot);
    kito_sql_log_failure("lot get", j->err);
}

/* GET /v1/lots/{id} (public, optional token). */
kito_err kito_get_lot(kito_req *r)
{
    job *j = job_new(r);
    return j != NULL ? lot_job(r, j, run_lot_get, done_lot_ok) : KITO_E_NOMEM;
}

static void run_lot_update(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_lots_update(db, &j->actor, j->id, &j->lot_patch, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot update", j->err);
}

/* PATCH /v1/lots/{id} (owner, draft sale): opening, reserve. */
kito_err kito_patch_lot(kito_req *r)
{
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_lot_patch_decode(r->body, &j->lot_patch, &j->ve) != KITO_OK) {
        respond_err(r, KITO_E_VALIDATION, &j->ve);
        job_free(j);
        return KITO_OK;
    }
    return lot_job(r, j, run_lot_update, done_lot_ok);
}

static void run_lot_withdraw(kito_db_conn *db, void *arg)
{
    job *j = arg;
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
    kito_req *r; /* retained while the engine works */
    job *j;      /* the catalogue step's job */
} withdrawal;

static void run_lot_withdraw_check(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_lots_withdraw_check(db, &j->actor, j->id, &j->sale, &j->lot, &j->ve);
    kito_sql_log_failure("lot withdraw check", j->err);
}

static void run_lot_withdraw_after_engine(kito_db_conn *db, void *arg)
{
    job *j = arg;
    /* a deadlock with the settlement worker is retried inside (kito_sql_transaction) */
    j->err = kito_lots_withdraw_after_engine(db, &j->actor, j->id, j->reason, &j->sale, &j->lot,
                                             &j->ve);
    kito_sql_log_failure("lot withdraw", j->err);
}

static void on_engine_withdrawn(void *ud, kito_err err, size_t held)
{
    withdrawal *w = ud;
    kito_err e = err;
    if (e == KITO_OK && !kito_req_alive(w->r))
        e = KITO_E_UNAVAILABLE; /* the client left: a repeated withdraw brings the catalogue */
    if (e == KITO_OK)
        e = submit(w->r, held > 0 ? run_lot_withdraw_after_engine : run_lot_withdraw,
                   done_lot_ok, w->j);
    else
        job_free(w->j);
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
    job *checked = arg;
    if (checked->err != KITO_OK) {
        respond_job_err(r, checked);
        return;
    }
    job *j = job_new(r);
    withdrawal *w = j != NULL ? malloc(sizeof(*w)) : NULL;
    if (w == NULL) {
        job_free(j);
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
        job_free(j);
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        kito_req_release(r);
    }
}

/* POST /v1/lots/{id}/withdraw (owner): optional {"reason"}. */
kito_err kito_post_lot_withdraw(kito_req *r)
{
    json_t *body;
    if (!optional_body(r, &body))
        return KITO_OK;
    job *j = job_new(r);
    if (j == NULL) {
        json_decref(body);
        return KITO_E_NOMEM;
    }
    kito_err e = kito_lot_withdraw_decode(body, j->reason, &j->ve);
    json_decref(body);
    if (e != KITO_OK) {
        respond_err(r, e, &j->ve);
        job_free(j);
        return KITO_OK;
    }
    return lot_job(r, j, run_lot_withdraw_check, done_lot_withdraw_check);
}

static void run_lots_order(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_lots_reorder(db, &j->actor, j->id, j->order, j->order_n, &j->ve);
    kito_sql_log_failure("lot reorder", j->err);
}

static void done_lots_order(kito_req *r, void *arg)
{
    job *j = arg;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < j->order_n; i++)
        json_array_append_new(ids, kito_render_id(KITO_ID_LOT, j->order[i]));
    if (j->err != KITO_OK) {
        json_decref(ids);
        respond_job_err(r, j);
    } else {
        kito_respond_json(
            r, 200,
            json_pack("{s:o,s:o}", "sale_id", kito_render_id(KITO_ID_SALE, j->id), "lot_ids", ids));
    }
}

/* POST /v1/sales/{id}/lots/order (owner, draft sale): {"lot_ids": [...]}, every lot once. */
kito_err kito_post_sale_lots_order(kito_req *r)
{
    job *j = job_new(r);
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
    if (e != KITO_OK) {
        respond_err(r, e, &j->ve);
        job_free(j);
        return KITO_OK;
    }
    return submit(r, run_lots_order, done_lots_order, j);
}

/* ---- registrations and approvals ------------------------------------------------------------- */

static void done_registration(kito_req *r, void *arg)
{
    job *j = arg;
    if (j->err != KITO_OK)
        respond_job_err(r, j);
    else
        kito_respond_json(r, j->created ? 201 : 200, render_registration(&j->reg));
}

static void run_register(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_registrations_register(db, &j->actor, j->id, &j->reg, &j->created, &j->ve);
    kito_sql_log_failure("sale register", j->err);
}

/* POST /v1/sales/{id}/registrations (buyer): asks to bid; idempotent (201 first, then 200). */
kito_err kito_post_sale_registrations(kito_req *r)
{
    if (!empty_body(r))
        return KITO_OK;
    return sale_job(r, run_register, done_registration);
}

static void run_standing(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_registrations_standing(db, &j->actor, j->id, &j->reg);
    kito_sql_log_failure("sale standing", j->err);
}

/* GET /v1/sales/{id}/approval (buyer): her own standing in the sale. */
kito_err kito_get_sale_approval(kito_req *r)
{
    return sale_job(r, run_standing, done_registration);
}

static const kito_field approval_fields[] = {
    {"buyer_id", KITO_FT_STRING, .required = true, .max = 32},
    {"paddle_number", KITO_FT_INTEGER, .nullable = true},
    {"limit", KITO_FT_INTEGER, .nullable = true},
};
static const kito_shape approval_shape = {approval_fields, COUNT(approval_fields)};

/* {"buyer_id", "paddle_number"?, "limit"? (null removes it)}. */
static kito_err decode_approval(const json_t *body, kito_approval_input *out, kito_verr *ve)
{
    int64_t paddle = 0;
    if (kito_validate_object(body, &approval_shape, ve) != KITO_OK ||
        kito_validate_id("buyer_id", KITO_ID_ACCOUNT,
                         json_string_value(json_object_get(body, "buyer_id")), &out->buyer_id,
                         ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *v = json_object_get(body, "paddle_number");
    if (v != NULL && !json_is_null(v) &&
        kito_validate_int("paddle_number", v, 1, KITO_PADDLE_MAX, &paddle, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    out->paddle_number = (uint32_t)paddle;
    v = json_object_get(body, "limit");
    out->has_limit = v != NULL;
    out->limit_minor = 0;
    if (v != NULL && !json_is_null(v) &&
        kito_validate_amount("limit", v, &out->limit_minor, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    return KITO_OK;
}

static void run_approve(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_registrations_approve(db, &j->actor, j->id, &j->approval, &j->reg, &j->created, &j->ve);
    kito_sql_log_failure("sale approve", j->err);
}

/* The bidding code caches approvals (api/live/bidding.h): a change made here takes effect at once. */
static void done_approved(kito_req *r, void *arg)
{
    job *j = arg;
    if (j->err == KITO_OK)
        kito_bidding_approval_forget(r->server->bidding, j->id, j->approval.buyer_id);
    done_registration(r, arg);
}

/* POST /v1/sales/{id}/approvals (owner): approve (201) or update (200) a buyer's approval. */
kito_err kito_post_sale_approvals(kito_req *r)
{
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_SALE, &j->id);
    if (e == KITO_OK && decode_approval(r->body, &j->approval, &j->ve) != KITO_OK)
        e = KITO_E_VALIDATION;
    if (e != KITO_OK) {
        respond_err(r, e, &j->ve);
        job_free(j);
        return KITO_OK;
    }
    return submit(r, run_approve, done_approved, j);
}

static void run_revoke(kito_db_conn *db, void *arg)
{
    job *j = arg;
    j->err = kito_registrations_revoke(db, &j->actor, j->id, j->buyer_id, &j->ve);
    kito_sql_log_failure("sale revoke", j->err);
}

static void done_revoke(kito_req *r, void *arg)
{
    job *j = arg;
    if (j->err != KITO_OK) {
        respond_job_err(r, j);
    } else {
        kito_bidding_approval_forget(r->server->bidding, j->id, j->buyer_id); /* issue 5 */
        kito_respond_bytes(r, 204, KITO_JSON_CONTENT_TYPE, "", 0);
    }
}

/* DELETE /v1/sales/{id}/approvals/{buyer_id} (owner): revoke, or decline a pending request. */
kito_err kito_delete_sale_approval(kito_req *r)
{
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK ||
        kito_req_path_id(r, "buyer_id", KITO_ID_ACCOUNT, &j->buyer_id) != KITO_OK) {
        job_free(j);
        return KITO_E_NOT_FOUND;
    }
    return submit(r, run_revoke, done_revoke, j);
}

static kito_err registration_item(void *ud, uint64_t row_id, const kito_registration *row)
{
    job *j = ud;
    if (page_take(j, 0, row_id) && json_array_append_new(j->items, render_registration(row)) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

static void run_registrations(kito_db_conn *db, void *arg)
{
    job *j = arg;
    kito_registrations_filter f = {
        .status = j->status,
        .has_after = j->has_after,
        .after_id = j->after.id,
        .limit = j->limit,
    };
    j->items = json_array();
    j->err = j->items != NULL
                 ? kito_registrations_list(db, &j->actor, j->id, &f, registration_item, j)
                 : KITO_E_NOMEM;
    kito_sql_log_failure("sale registrations", j->err);
}

/* GET /v1/sales/{id}/registrations (owner): pending and approved buyers (filter status). */
kito_err kito_get_sale_registrations(kito_req *r)
{
    static const char *const allowed[] = {"status", "cursor", "limit", NULL};
    static const char *const statuses[] = {"pending", "approved", "declined", "revoked", NULL};
    job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK) {
        job_free(j);
        return KITO_E_NOT_FOUND;
    }
    if (!page_query(r, j, allowed, "sale_registrations") ||
        !query_enum(r, j, "status", statuses, &j->status)) {
        job_free(j);
        return KITO_OK;
    }
    return submit(r, run_registrations, done_list, j);
}
