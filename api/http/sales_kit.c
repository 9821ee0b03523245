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

/* ---- helpers --------------------------------------------------------------------------------- */

kito__sales_job *kito__sales_job_new(kito_req *r)
{
    kito__sales_job *j = calloc(1, sizeof(*j));
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

void kito__sales_job_free(kito__sales_job *j)
{
    if (j == NULL)
        return;
    json_decref(j->items);
    free(j->order);
    free(j);
}

static void job_release(void *j)
{
    kito__sales_job_free(j);
}

/* Runs run(db, j) on a MySQL worker, then done(r, j) on the loop if r is still there; j is
 * freed (kito__sales_job_free, which also frees a list page built on the worker) either way. */
kito_err kito__sales_submit(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done,
                            kito__sales_job *j)
{
    return kito_req_db_owned(r, run, done, job_release, j);
}

/* Answers err with "field: reason" from ve when there is one. */
void kito__sales_respond_err(kito_req *r, kito_err err, const kito_verr *ve)
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

kito_err kito__sales_refuse(kito_req *r, kito_err err, kito__sales_job *j)
{
    kito__sales_respond_err(r, err, &j->ve);
    kito__sales_job_free(j);
    return KITO_OK;
}

/* A job that failed on the worker: the client's fault gets its message, ours is logged. */
void kito__sales_respond_job_err(kito_req *r, kito__sales_job *j)
{
    if (j->err == KITO_E_DB || j->err == KITO_E_INTERNAL || j->err == KITO_E_NOMEM) {
        kito__sales_respond_err(r, j->err, NULL);
        return;
    }
    kito__sales_respond_err(r, j->err, &j->ve);
}

/* Logs the worker's MySQL detail for errors that are ours. Worker thread. */
/* Action routes (publish, cancel, withdraw, register) take no body or a small JSON object; a
 * body that is there must be JSON and is returned parsed (*out, owned) or NULL. Responds on
 * failure and returns false. */
bool kito__sales_optional_body(kito_req *r, json_t **out)
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
bool kito__sales_empty_body(kito_req *r)
{
    json_t *body;
    if (!kito__sales_optional_body(r, &body))
        return false;
    static const kito_shape none = {NULL, 0};
    kito_verr ve = {{0}};
    kito_err e = body != NULL ? kito_validate_object(body, &none, &ve) : KITO_OK;
    json_decref(body);
    if (e != KITO_OK)
        kito__sales_respond_err(r, e, &ve);
    return e == KITO_OK;
}

/* Parses the query string against allowed names and reads cursor and limit for scope. Responds
 * and returns false on a bad one. */
bool kito__sales_page_query(kito_req *r, kito__sales_job *j, const char *const *allowed,
                            const char *scope)
{
    kito_verr ve = {{0}};
    int64_t limit;
    kito_err e = kito_req_query(r, allowed, &j->query, &ve);
    if (e == KITO_OK)
        e = kito_query_get_int(&j->query, "limit", 1, PAGE_MAX, PAGE_DEFAULT, &limit, &ve);
    const char *cursor = kito_query_get(&j->query, "cursor");
    if (e == KITO_OK && cursor != NULL) {
        e = kito_query_cursor_decode(r->server->cursor_key, scope, cursor, &j->after, &ve);
        j->has_after = e == KITO_OK;
    }
    if (e != KITO_OK) {
        kito__sales_respond_err(r, e, &ve);
        return false;
    }
    j->limit = (uint32_t)limit;
    j->scope = scope;
    memcpy(j->cursor_key, r->server->cursor_key, KITO_CURSOR_KEY_LEN);
    return true;
}

/* A filter value from the query, checked against allowed (NULL-terminated). */
bool kito__sales_query_enum(kito_req *r, kito__sales_job *j, const char *name,
                            const char *const *allowed, const char **out)
{
    kito_verr ve = {{0}};
    *out = kito_query_get(&j->query, name);
    if (*out == NULL || kito_validate_enum(name, *out, allowed, NULL, &ve) == KITO_OK)
        return true;
    kito__sales_respond_err(r, KITO_E_VALIDATION, &ve);
    return false;
}

/* Counts a list row; true if it belongs on the page (the one past the limit only says that
 * another page exists). */
bool kito__sales_page_take(kito__sales_job *j, int64_t sort_key, uint64_t id)
{
    if (++j->seen > j->limit)
        return false;
    j->last = (kito_cursor){sort_key, id};
    return true;
}

/* Responds with the page in j->items, or with the job's error. */
void kito__sales_respond_page(kito_req *r, kito__sales_job *j)
{
    char cursor[KITO_CURSOR_SIZE];
    const char *next = NULL;
    if (j->err != KITO_OK) {
        kito__sales_respond_job_err(r, j);
        return;
    }
    if (j->seen > j->limit &&
        kito_query_cursor_encode(j->cursor_key, j->scope, j->last, cursor) == KITO_OK)
        next = cursor;
    kito_respond_json(r, 200, kito_render_page(j->items, next));
    j->items = NULL; /* the page took it */
}

/* The done half of every list job. */
void kito__sales_done_list(kito_req *r, void *arg)
{
    kito__sales_respond_page(r, arg);
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

json_t *kito__render_sale(const kito_sale *s)
{
    const kito_sale_input *in = &s->in;
    bool tender = strcmp(in->format, "tender") == 0;
    return json_pack(
        "{s:o,s:o,s:s,s:s?,s:s?,s:b,s:s,s:s,s:o,s:o,s:s,s:i,s:i,s:i,s:i,s:s?,s:o,s:s,s:i,s:o,s:o}",
        "id", kito_render_id(KITO_ID_SALE, s->id), "organizer_id",
        kito_render_id(KITO_ID_ACCOUNT, s->organizer_id), "title", in->title, "description",
        in->has_description ? in->description : NULL, "venue", in->has_venue ? in->venue : NULL,
        "online", in->online, "format", in->format, "currency", in->currency, "starts_at",
        kito_render_time(in->starts_at_ms), "ends_at",
        nullable_time(in->has_ends_at, in->ends_at_ms), "time_zone", in->time_zone, "soft_close_s",
        in->soft_close_s, "stagger_s", in->stagger_s, "buyer_premium_bps", in->buyer_premium_bps,
        "commission_bps", in->commission_bps, "tender_pricing", tender ? in->tender_pricing : NULL,
        "ladder", render_ladder(&in->ladder), "status", s->status, "lot_count", (int)s->lot_count,
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
    char cover[96];
    snprintf(cover, sizeof(cover), "/v1/photos/%s", l->stone.cover_sha256);
    /* cover_photo: the thumbnail a sale's list shows (the photo route serves it) */
    return json_pack("{s:o,s:s,s:o,s:s,s:i,s:o,s:o,s:s,s:o,s:o,s:o}", "id",
                     kito_render_id(KITO_ID_STONE, l->stone_id), "species", l->stone.species,
                     "variety", nullable_text(l->stone.variety), "weight_ct", weight, "piece_count",
                     (int)l->stone.piece_count, "shape", nullable_text(l->stone.shape), "colour",
                     nullable_text(l->stone.colour), "origin_country", l->stone.origin_country,
                     "origin_region", nullable_text(l->stone.origin_region), "certificate_id",
                     l->certificate_id != 0 ? kito_render_id(KITO_ID_CERTIFICATE, l->certificate_id)
                                            : json_null(),
                     "cover_photo",
                     l->stone.cover_sha256[0] != '\0' ? json_string(cover) : json_null());
}

/* A lot as viewer sees it: the reserve only for the sale's organiser and operators. In a timed
 * or tender sale, ends_at is the planned close of the lot (staggered; soft close may extend it
 * once bidding runs). */
json_t *kito__render_lot(const kito_lot *l, const kito_sale *s, const kito_actor *viewer)
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
    /* the recorded result (public, like GET /v1/sales/{id}/results); the order book's live
     * fields go over it (kito_bidding_overlay_lot), and where the books no longer hold the lot
     * (it closed before this process started) it is what the page shows (issue 16) */
    if (o != NULL)
        json_object_set_new(o, "hammer",
                            l->has_hammer ? kito_render_money(l->hammer_minor, s->in.currency)
                                          : json_null());
    if (o != NULL && l->has_hammer && viewer->account_id != 0 && viewer->account_id == l->winner_id)
        json_object_set_new(o, "leader_is_you", json_true());
    if (o != NULL && kito_sale_actor_owns(viewer, s->organizer_id))
        json_object_set_new(o, "reserve",
                            l->has_reserve ? kito_render_money(l->reserve_minor, s->in.currency)
                                           : json_null());
    return o;
}

json_t *kito__render_registration(const kito_registration *g)
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
