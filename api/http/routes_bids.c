/*
 * Bids, the clerk console and the buyer's own views over HTTPS (issue 5). Thin handlers: decode
 * the request, hand a bid or a clerk action to the bid service (api/live/bid_service.h: the
 * pre-flight, the market, the answer once Redis has the command -- DESIGN.md, "Durability"),
 * render its answer. A refusal carries the engine's code and, for the auction's own refusals,
 * the lot's current ask.
 *
 * Idempotency: POST /v1/lots/{id}/bids and POST /v1/lots/{id}/clerk require an Idempotency-Key
 * header; the engine command id is derived from (caller, key) (api/live/bidding.h), so a retry is
 * the same command and the engine answers it as a duplicate: 201/200 with the first bid_id / seq
 * and the lot's view as it is now. A refused command is not remembered by the engine, so its retry
 * is judged afresh (a refusal changed nothing, so nothing can double).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/query.h"
#include "api/common/render.h"
#include "api/common/validate.h"
#include "api/http/http_error.h"
#include "api/http/json.h"
#include "api/http/req_db.h"
#include "api/http/request.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/live/bid_service.h"
#include "api/live/bidding.h"
#include "api/store/repo_bids.h"
#include "api/store/repo_lots.h"
#include "api/store/repo_sales.h"
#include "api/store/sql.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers --------------------------------------------------------------------------------- */

static kito_err path_lot(kito_req *r, uint64_t *lot_id)
{
    size_t len;
    char text[KITO_ID_SIZE + 1];
    const char *v = kito_req_param(r, "id", &len);
    if (v == NULL || len >= sizeof(text))
        return KITO_E_NOT_FOUND;
    memcpy(text, v, len);
    text[len] = '\0';
    return kito_id_parse(KITO_ID_LOT, text, lot_id) == KITO_OK ? KITO_OK : KITO_E_NOT_FOUND;
}

static void add_header(kito_req *r, const char *name, const char *value)
{
    if (!kito_req_alive(r) || r->responded)
        return;
    h2o_req_t *req = r->h2o;
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, value,
                          strlen(value));
}

static void respond_retry_after(kito_req *r, kito_err e, int64_t seconds, const char *msg)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)seconds);
    add_header(r, "retry-after", v);
    kito_respond_error(r, e, msg);
}

static void respond_verr(kito_req *r, const kito_verr *ve)
{
    char msg[KITO_VERR_FIELD_SIZE + KITO_VERR_REASON_SIZE + 4];
    snprintf(msg, sizeof(msg), "%s: %s", ve->field, ve->reason);
    kito_respond_error(r, KITO_E_VALIDATION, msg);
}

/* The Idempotency-Key header as the command id of (account_id, key) into *cmd_id. Responds 400
 * and returns false when it is missing or malformed. */
static bool read_key(kito_req *r, uint64_t account_id, uint64_t *cmd_id)
{
    ssize_t i = h2o_find_header_by_str(&r->h2o->headers, H2O_STRLIT("idempotency-key"), -1);
    if (i == -1) {
        kito_respond_error(r, KITO_E_BAD_REQUEST,
                           "Idempotency-Key: the header is required (1 to 64 visible ASCII "
                           "characters, unique per bid)");
        return false;
    }
    const h2o_iovec_t *v = &r->h2o->headers.entries[i].value;
    if (!kito_idempotency_key_valid(v->base, v->len)) {
        kito_respond_error(r, KITO_E_BAD_REQUEST,
                           "Idempotency-Key: must be 1 to 64 visible ASCII characters");
        return false;
    }
    *cmd_id = kito_bid_command_id(account_id, v->base, v->len);
    return true;
}

static json_t *render_bidder(uint64_t bidder)
{
    if (bidder == 0)
        return json_null();
    if (bidder & KITO_PADDLE_FLAG)
        return json_pack("{s:I}", "paddle", (json_int_t)(bidder & ~KITO_PADDLE_FLAG));
    return json_pack("{s:o}", "buyer_id", kito_render_id(KITO_ID_ACCOUNT, bidder));
}

/* A seq as a bidder may see it: 0 while the lot's book is sealed (a tender before its award, a
 * live lot before the clerk opens it), as the public view shows it (engine.h, kito_lot_view),
 * since every accepted command takes the next seq and a bid's seq would count the sealed bids
 * before it. A view's seq is 0 only while sealed once the lot has taken a command. */
static uint32_t bidder_seq(const kito_engine *eng, uint64_t lot_id, uint32_t seq)
{
    struct kito_lot_view v;
    if (kito_engine_lot_view(eng, lot_id, &v) == KITO_OK && v.seq == 0)
        return 0;
    return seq;
}

/* The caller's own standing bid on a lot: {"amount", "leading", "seq"} or null. */
static json_t *render_my_bid(kito_market *m, uint64_t lot_id, uint64_t account,
                             const char *currency)
{
    struct kito_my_bid mb;
    const kito_engine *eng = kito_market_engine(m);
    if (kito_engine_my_bid(eng, lot_id, account, &mb) != KITO_OK || !mb.has_bid)
        return json_null();
    return json_pack("{s:o,s:b,s:i}", "amount", kito_render_money(mb.amount_minor, currency),
                     "leading", mb.leading, "seq", (int)bidder_seq(eng, lot_id, mb.seq));
}

/* ---- the service's answer -------------------------------------------------------------------- */

static const struct {
    const char *name;
    uint8_t type;
} clerk_actions[] = {
    {"open", KITO_CMD_OPEN},     {"ask", KITO_CMD_SET_ASK},
    {"step", KITO_CMD_SET_STEP}, {"floor_bid", KITO_CMD_FLOOR_BID},
    {"undo", KITO_CMD_UNDO},     {"fair_warning", KITO_CMD_FAIR_WARNING},
    {"sold", KITO_CMD_SOLD},     {"pass", KITO_CMD_PASS},
    {"pause", KITO_CMD_PAUSE},   {"resume", KITO_CMD_RESUME},
};

static const char *clerk_action_name(uint8_t type)
{
    for (size_t i = 0; i < COUNT(clerk_actions); i++)
        if (clerk_actions[i].type == type)
            return clerk_actions[i].name;
    return "unknown";
}

/* 201: the accepted bid's document, written straight into the body (kito_bid_write_accepted):
 * every accepted bid is answered this way, so it builds no jansson tree. */
static void respond_bid_accepted(kito_req *r, const struct kito_bid_answer *a)
{
    char buf[2048];
    kito_jw w;
    kito_jw_init(&w, buf, sizeof(buf));
    kito_bid_write_accepted(&w, a);
    if (w.failed) { /* cannot happen: every member is bounded, and ~700 bytes in all */
        kito_respond_error(r, KITO_E_INTERNAL, NULL);
        return;
    }
    if (a->err == KITO_E_DUPLICATE)
        add_header(r, "idempotent-replayed", "true");
    kito_respond_bytes(r, 201, KITO_JSON_CONTENT_TYPE, w.buf, w.len);
}

/* 200: {"action", "seq", "lot": the view with "id" and the leader (paddle or buyer)}. */
static void respond_clerk_accepted(kito_req *r, const struct kito_bid_answer *a)
{
    json_t *lot = a->has_lot ? kito_bidding_render_view(&a->view, a->req.account_id) : json_null();
    if (a->has_lot && lot != NULL) {
        json_object_set_new(lot, "id", kito_render_id(KITO_ID_LOT, a->req.lot_id));
        json_object_set_new(lot, "leader", render_bidder(a->view.leader));
    }
    if (a->err == KITO_E_DUPLICATE)
        add_header(r, "idempotent-replayed", "true");
    kito_respond_json(r, 200,
                      json_pack("{s:s,s:i,s:o}", "action", clerk_action_name(a->req.type), "seq",
                                (int)a->seq, "lot", lot));
}

/* Renders the service's answer. A refusal of the auction's carries the lot's current ask:
 * {"error": {"code", "message"}, "ask": money | null}. */
static void respond_answer(kito_req *r, const struct kito_bid_answer *a)
{
    if (a->err == KITO_OK || a->err == KITO_E_DUPLICATE) {
        if (a->req.type == KITO_CMD_BID)
            respond_bid_accepted(r, a);
        else
            respond_clerk_accepted(r, a);
    } else if (a->retry_after_s > 0) {
        respond_retry_after(r, a->err, a->retry_after_s, a->message);
    } else if (a->show_ask) {
        json_t *ask = a->has_lot && a->view.ask_minor > 0
                          ? kito_render_money(a->view.ask_minor, a->view.currency)
                          : json_null();
        json_t *doc =
            json_pack("{s:{s:s,s:s},s:o}", "error", "code", kito_err_code(a->err), "message",
                      a->message != NULL ? a->message : kito_err_message(a->err), "ask", ask);
        kito_respond_json(r, kito_http_status(a->err), doc);
    } else {
        kito_respond_error(r, a->err, a->message);
    }
}

static void on_answer(void *ud, const struct kito_bid_answer *a)
{
    kito_req *r = ud;
    respond_answer(r, a); /* (a no-op if the client has gone) */
    kito_req_release(r);
}

/* Hands rq to the bid service; the answer is rendered when it comes. */
static kito_err submit(kito_req *r, const struct kito_bid_request *rq)
{
    kito_req_retain(r);
    kito_bid_submit(r->server->bidding, rq, on_answer, r);
    return KITO_OK;
}

/* ---- POST /v1/lots/{id}/bids ------------------------------------------------------------------
 */

static const kito_field bid_fields[] = {
    {"amount", KITO_FT_INTEGER, .required = true},
};
static const kito_shape bid_shape = {bid_fields, COUNT(bid_fields)};

/* POST /v1/lots/{id}/bids (buyer): {"amount": minor units} + Idempotency-Key. */
kito_err kito_post_lot_bids(kito_req *r)
{
    kito_verr ve = {{0}};
    int64_t retry_s = 1;
    struct kito_bid_request rq = {.account_id = r->principal.account_id, .type = KITO_CMD_BID};
    if (path_lot(r, &rq.lot_id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    /* charged before anything is decoded: malformed bids count against the limits too */
    if (r->server->bidding != NULL &&
        kito_bidding_rate(r->server->bidding, rq.account_id, r->remote, &retry_s) != KITO_OK) {
        respond_retry_after(r, KITO_E_RATE_LIMITED, retry_s, "too many bids; slow down");
        return KITO_OK;
    }
    if (!read_key(r, rq.account_id, &rq.cmd_id))
        return KITO_OK;
    if (kito_validate_object(r->body, &bid_shape, &ve) != KITO_OK ||
        kito_validate_amount("amount", json_object_get(r->body, "amount"), &rq.amount_minor, &ve) !=
            KITO_OK) {
        respond_verr(r, &ve);
        return KITO_OK;
    }
    return submit(r, &rq);
}

/* ---- POST /v1/lots/{id}/clerk -----------------------------------------------------------------
 */

static const kito_field clerk_fields[] = {
    {"action", KITO_FT_STRING, .required = true, .max = 16},
    {"amount", KITO_FT_INTEGER, .nullable = true},
    {"paddle", KITO_FT_INTEGER, .nullable = true},
};
static const kito_shape clerk_shape = {clerk_fields, COUNT(clerk_fields)};

/* Decodes {"action", "amount"?, "step"?, "paddle"?} into rq. "step" is "halve", "double",
 * "ladder" or a whole number of minor units, so it is checked here rather than by the shape. */
static kito_err decode_clerk(const json_t *body, struct kito_bid_request *rq, kito_verr *ve)
{
    json_t *rest = json_copy((json_t *)body);
    if (rest == NULL)
        return KITO_E_NOMEM;
    const json_t *step = json_object_get(body, "step");
    json_object_del(rest, "step");
    kito_err e = kito_validate_object(rest, &clerk_shape, ve);
    json_decref(rest);
    if (e != KITO_OK)
        return e;
    const char *action = json_string_value(json_object_get(body, "action"));
    for (size_t i = 0; i < COUNT(clerk_actions); i++)
        if (strcmp(action, clerk_actions[i].name) == 0)
            rq->type = clerk_actions[i].type;
    if (rq->type == 0)
        return kito_verr_set(ve, "action",
                             "must be one of open, ask, step, floor_bid, undo, fair_warning, "
                             "sold, pass, pause, resume");
    const json_t *amount = json_object_get(body, "amount");
    const json_t *paddle = json_object_get(body, "paddle");
    bool needs_amount = rq->type == KITO_CMD_SET_ASK || rq->type == KITO_CMD_FLOOR_BID;
    if (needs_amount && kito_validate_amount("amount", amount, &rq->amount_minor, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    if (!needs_amount && amount != NULL && !json_is_null(amount))
        return kito_verr_set(ve, "amount", "is only for the ask and floor_bid actions");
    if (rq->type == KITO_CMD_FLOOR_BID) {
        int64_t p = 0;
        if (kito_validate_int("paddle", paddle, 1, KITO_PADDLE_MAX, &p, ve) != KITO_OK)
            return KITO_E_VALIDATION;
        rq->paddle = (uint32_t)p;
    } else if (paddle != NULL && !json_is_null(paddle)) {
        return kito_verr_set(ve, "paddle", "is only for the floor_bid action");
    }
    if (rq->type == KITO_CMD_SET_STEP) {
        const char *s = json_string_value(step);
        if (s != NULL && strcmp(s, "halve") == 0)
            rq->step_mode = KITO_STEP_HALVE;
        else if (s != NULL && strcmp(s, "double") == 0)
            rq->step_mode = KITO_STEP_DOUBLE;
        else if (s != NULL && strcmp(s, "ladder") == 0)
            rq->step_mode = KITO_STEP_LADDER;
        else if (json_is_integer(step) &&
                 kito_validate_amount("step", step, &rq->amount_minor, ve) == KITO_OK)
            rq->step_mode = KITO_STEP_MANUAL;
        else
            return kito_verr_set(ve, "step",
                                 "must be \"halve\", \"double\", \"ladder\" or a whole number of "
                                 "minor units from 1 to %lld",
                                 (long long)KITO_AMOUNT_MAX);
    } else if (step != NULL && !json_is_null(step)) {
        return kito_verr_set(ve, "step", "is only for the step action");
    }
    return KITO_OK;
}

/* POST /v1/lots/{id}/clerk (the sale's organiser or an operator): one clerk action on a live
 * lot, + Idempotency-Key. */
kito_err kito_post_lot_clerk(kito_req *r)
{
    kito_verr ve = {{0}};
    struct kito_bid_request rq = {
        .account_id = r->principal.account_id,
        .operator_role = (r->principal.role & KITO_ROLE_OPERATOR) != 0,
    };
    if (path_lot(r, &rq.lot_id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    if (!read_key(r, rq.account_id, &rq.cmd_id))
        return KITO_OK;
    kito_err e = decode_clerk(r->body, &rq, &ve);
    if (e == KITO_E_VALIDATION) {
        respond_verr(r, &ve);
        return KITO_OK;
    }
    if (e != KITO_OK)
        return e;
    return submit(r, &rq);
}

/* ---- GET /v1/lots/{id}/my-bid -----------------------------------------------------------------
 */

/* GET /v1/lots/{id}/my-bid (buyer): her own standing bid (a tender's sealed bid, a timed or live
 * maximum) and the public view; nobody else's bid is ever shown. */
kito_err kito_get_lot_my_bid(kito_req *r)
{
    uint64_t lot_id;
    struct kito_lot_view v;
    kito_market *m = r->server->market;
    if (path_lot(r, &lot_id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    if (m == NULL)
        return KITO_E_UNAVAILABLE;
    kito_err e = kito_market_lot_view(m, lot_id, &v);
    if (e == KITO_E_UNKNOWN_LOT)
        return KITO_E_NOT_FOUND;
    if (e != KITO_OK)
        return e;
    json_t *view = kito_bidding_render_view(&v, r->principal.account_id);
    if (view != NULL)
        json_object_set_new(view, "id", kito_render_id(KITO_ID_LOT, lot_id));
    kito_respond_json(
        r, 200,
        json_pack("{s:o,s:o,s:o}", "lot_id", kito_render_id(KITO_ID_LOT, lot_id), "bid",
                  render_my_bid(m, lot_id, r->principal.account_id, v.currency), "lot", view));
    return KITO_OK;
}

/* ---- GET /v1/me/bids, GET /v1/me/wins ---------------------------------------------------------
 */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads ?limit and ?cursor (scope) into *limit and *after (lot id, 0 = from the start). Responds
 * and returns false on a bad one. */
static bool me_query(kito_req *r, const char *scope, uint32_t *limit, uint64_t *after)
{
    static const char *const allowed[] = {"cursor", "limit", NULL};
    kito_query q;
    kito_verr ve = {{0}};
    kito_cursor c = {0, 0};
    int64_t lim = 20;
    kito_err e = kito_req_query(r, allowed, &q, &ve);
    if (e == KITO_OK)
        e = kito_query_get_int(&q, "limit", 1, 100, 20, &lim, &ve);
    const char *cursor = kito_query_get(&q, "cursor");
    if (e == KITO_OK && cursor != NULL)
        e = kito_query_cursor_decode(r->server->cursor_key, scope, cursor, &c, &ve);
    if (e != KITO_OK) {
        respond_verr(r, &ve);
        return false;
    }
    *limit = (uint32_t)lim;
    *after = c.id;
    return true;
}

/* The settled wins a page of /v1/me/wins adds to the order books' (api/store/repo_lots.h,
 * kito_lots_won): read on a MySQL worker before the page is put together on the loop. */
typedef struct wins_job {
    uint64_t buyer_id, after;
    uint32_t limit;
    kito_err err;
    size_t n;
    kito_lot_won won[101]; /* limit + 1 at most (limit <= 100) */
} wins_job;

/* Lists the lots in the market she bid on (wins: that were sold to her), and with wins the ones
 * MySQL recorded as sold to her (w; NULL for bids), in lot id order, as a page. */
static void me_page(kito_req *r, const char *scope, uint32_t limit, uint64_t after,
                    const wins_job *w)
{
    uint64_t me = r->principal.account_id;
    kito_market *m = r->server->market;
    kito_bidding *b = r->server->bidding;
    size_t cap, n, kept = 0;
    uint64_t *ids = kito_bidding_ids_scratch(b, &cap);
    kito_market_lot_ids(m, ids, cap, &n);
    if (n > cap)
        n = cap;
    const kito_engine *eng = kito_market_engine(m);
    for (size_t i = 0; i < n; i++) {
        struct kito_my_bid mb;
        struct kito_lot_view v;
        if (ids[i] <= after || kito_engine_my_bid(eng, ids[i], me, &mb) != KITO_OK || !mb.has_bid)
            continue;
        if (w != NULL && (kito_engine_lot_view(eng, ids[i], &v) != KITO_OK ||
                          v.state != KITO_LOT_SOLD || v.leader != me))
            continue;
        ids[kept++] = ids[i];
    }
    /* the recorded wins the books no longer hold (closed before this process started); the
     * scratch holds every lot id the market has, so there is room only past them: when there
     * is none, the page is cut to what fits (its cursor still says where it stopped) */
    for (size_t i = 0; w != NULL && i < w->n && kept < cap; i++) {
        struct kito_lot_view v;
        if (kito_engine_lot_view(eng, w->won[i].lot_id, &v) != KITO_OK)
            ids[kept++] = w->won[i].lot_id;
    }
    qsort(ids, kept, sizeof(*ids), cmp_u64);
    /* both sources are cut at the same place: the worker read the limit + 1 lowest recorded
     * wins above the cursor, so no recorded win below the page's last id is missing */
    if (w != NULL && w->n > limit && kept > 0) {
        uint64_t bound = w->won[w->n - 1].lot_id;
        while (kept > 0 && ids[kept - 1] > bound)
            kept--;
    }
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < kept && i < limit; i++) {
        struct kito_lot_view v;
        json_t *item;
        if (kito_engine_lot_view(eng, ids[i], &v) == KITO_OK) {
            json_t *view = kito_bidding_render_view(&v, me);
            if (view != NULL)
                json_object_set_new(view, "id", kito_render_id(KITO_ID_LOT, ids[i]));
            item = json_pack("{s:o,s:o,s:o}", "lot_id", kito_render_id(KITO_ID_LOT, ids[i]), "bid",
                             render_my_bid(m, ids[i], me, v.currency), "lot", view);
            if (w != NULL && item != NULL)
                json_object_set_new(item, "hammer", kito_render_money(v.price_minor, v.currency));
        } else {
            const kito_lot_won *won = NULL;
            for (size_t k = 0; w != NULL && k < w->n && won == NULL; k++)
                if (w->won[k].lot_id == ids[i])
                    won = &w->won[k];
            if (won == NULL)
                continue;
            item =
                json_pack("{s:o,s:n,s:n,s:o}", "lot_id", kito_render_id(KITO_ID_LOT, ids[i]), "bid",
                          "lot", "hammer", kito_render_money(won->hammer_minor, won->currency));
        }
        json_array_append_new(items, item);
    }
    char cursor[KITO_CURSOR_SIZE];
    const char *next = NULL;
    if (kept > limit &&
        kito_query_cursor_encode(r->server->cursor_key, scope, (kito_cursor){0, ids[limit - 1]},
                                 cursor) == KITO_OK)
        next = cursor;
    kito_respond_json(r, 200, kito_render_page(items, next));
}

/* GET /v1/me/bids (buyer): her standing bids and maximums on the lots this server holds (open,
 * and closed since it started), with each lot's view; lot id order. */
kito_err kito_get_me_bids(kito_req *r)
{
    uint32_t limit;
    uint64_t after;
    if (!me_query(r, "me_bids", &limit, &after))
        return KITO_OK;
    if (r->server->market == NULL || r->server->bidding == NULL)
        return KITO_E_UNAVAILABLE;
    me_page(r, "me_bids", limit, after, NULL);
    return KITO_OK;
}

static kito_err wins_add(void *ud, const kito_lot_won *won)
{
    wins_job *j = ud;
    if (j->n < sizeof(j->won) / sizeof(j->won[0]))
        j->won[j->n++] = *won;
    return KITO_OK;
}

static void wins_run(kito_db_conn *db, void *arg)
{
    wins_job *j = arg;
    j->err = kito_lots_won(db, j->buyer_id, j->after, j->limit + 1, wins_add, j);
    kito_sql_log_failure("wins", j->err);
}

static void wins_done(kito_req *r, void *arg)
{
    wins_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    me_page(r, "me_wins", j->limit, j->after, j);
}

/* GET /v1/me/wins (buyer): the lots she won, with the hammer price: those the order books hold
 * (sold to her, settled or not yet) and those the settlement recorded (durable: a win outlives a
 * restart); lot id order. */
kito_err kito_get_me_wins(kito_req *r)
{
    uint32_t limit;
    uint64_t after;
    if (!me_query(r, "me_wins", &limit, &after))
        return KITO_OK;
    if (r->server->market == NULL || r->server->bidding == NULL)
        return KITO_E_UNAVAILABLE;
    wins_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->buyer_id = r->principal.account_id;
    j->after = after;
    j->limit = limit;
    return kito_req_db(r, wins_run, wins_done, j);
}

/* ---- the watchlist ----------------------------------------------------------------------------
 */

typedef struct watch_job {
    uint64_t buyer_id;
    uint64_t lot_id; /* PUT/DELETE: the lot; GET: the cursor's last lot id */
    uint32_t limit;
    bool put;
    bool changed;
    kito_err err;
    size_t seen;
    uint64_t last;
    json_t *items; /* GET: owned until rendered */
} watch_job;

static void watch_free(void *arg)
{
    watch_job *w = arg;
    json_decref(w->items);
    free(w);
}

static void run_watch_change(kito_db_conn *db, void *arg)
{
    watch_job *w = arg;
    w->err = w->put ? kito_watchlist_put(db, w->buyer_id, w->lot_id, &w->changed)
                    : kito_watchlist_delete(db, w->buyer_id, w->lot_id, &w->changed);
}

static void done_watch_change(kito_req *r, void *arg)
{
    watch_job *w = arg;
    if (w->err == KITO_E_CONFLICT)
        kito_respond_error(r, KITO_E_CONFLICT, "a watchlist holds at most 500 lots");
    else if (w->err != KITO_OK)
        kito_respond_error(r, w->err == KITO_E_NOT_FOUND ? KITO_E_NOT_FOUND : KITO_E_UNAVAILABLE,
                           NULL);
    else
        kito_respond_bytes(r, 204, KITO_JSON_CONTENT_TYPE, "", 0);
}

static kito_err watch_change(kito_req *r, bool put)
{
    watch_job *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    w->buyer_id = r->principal.account_id;
    w->put = put;
    if (path_lot(r, &w->lot_id) != KITO_OK) {
        free(w);
        return KITO_E_NOT_FOUND;
    }
    return kito_req_db_owned(r, run_watch_change, done_watch_change, watch_free, w);
}

/* PUT /v1/me/watchlist/{id} (buyer): watch a lot; idempotent, 204. */
kito_err kito_put_me_watchlist(kito_req *r)
{
    return watch_change(r, true);
}

/* DELETE /v1/me/watchlist/{id} (buyer): stop watching; idempotent, 204. */
kito_err kito_delete_me_watchlist(kito_req *r)
{
    return watch_change(r, false);
}

static kito_err watch_item(void *ud, const kito_watch *row)
{
    watch_job *w = ud;
    if (++w->seen > w->limit)
        return KITO_OK;
    w->last = row->lot_id;
    json_t *item = json_pack("{s:o,s:o,s:o}", "lot_id", kito_render_id(KITO_ID_LOT, row->lot_id),
                             "sale_id", kito_render_id(KITO_ID_SALE, row->sale_id), "added_at",
                             kito_render_time(row->added_at_ms));
    return json_array_append_new(w->items, item) == 0 ? KITO_OK : KITO_E_NOMEM;
}

static void run_watch_list(kito_db_conn *db, void *arg)
{
    watch_job *w = arg;
    w->items = json_array();
    w->err = w->items != NULL
                 ? kito_watchlist_list(db, w->buyer_id, w->lot_id, w->limit, watch_item, w)
                 : KITO_E_NOMEM;
}

static void done_watch_list(kito_req *r, void *arg)
{
    watch_job *w = arg;
    if (w->err != KITO_OK) {
        kito_respond_error(r, KITO_E_UNAVAILABLE, NULL);
        return;
    }
    /* each watched lot with the order book's view, as the lot pages show it */
    size_t i;
    json_t *item;
    kito_market *m = r->server->market;
    json_array_foreach(w->items, i, item)
    {
        uint64_t lot_id = 0;
        struct kito_lot_view v;
        kito_id_parse(KITO_ID_LOT, json_string_value(json_object_get(item, "lot_id")), &lot_id);
        json_t *view = m != NULL && kito_market_lot_view(m, lot_id, &v) == KITO_OK
                           ? kito_bidding_render_view(&v, r->principal.account_id)
                           : json_null();
        json_object_set_new(item, "lot", view);
    }
    char cursor[KITO_CURSOR_SIZE];
    const char *next = NULL;
    if (w->seen > w->limit &&
        kito_query_cursor_encode(r->server->cursor_key, "me_watchlist", (kito_cursor){0, w->last},
                                 cursor) == KITO_OK)
        next = cursor;
    kito_respond_json(r, 200, kito_render_page(w->items, next));
    w->items = NULL;
}

/* GET /v1/me/watchlist (buyer): watched lots in lot id order, each with its live view. */
kito_err kito_get_me_watchlist(kito_req *r)
{
    watch_job *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    w->buyer_id = r->principal.account_id;
    if (!me_query(r, "me_watchlist", &w->limit, &w->lot_id)) {
        free(w);
        return KITO_OK;
    }
    return kito_req_db_owned(r, run_watch_list, done_watch_list, watch_free, w);
}
