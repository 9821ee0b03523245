/*
 * GET /v1/sales/{id}/live: the sale's live feed as Server-Sent Events (api/live/feed.h has the
 * design; schemas/openapi/feed.yaml the contract). Public. SSE rather than WebSocket because
 * h2o 2.2.5 upgrades to WebSocket over HTTP/1.1 only, while an SSE response is an ordinary
 * streaming response over HTTP/1.1 and HTTP/2 alike, and browsers reconnect with Last-Event-ID by
 * themselves.
 *
 * The stream is an h2o generator: the feed writes one batch of frames at a time (h2o_send,
 * IN_PROGRESS); proceed says that batch was written; stop says the client left. Over HTTP/1.1
 * the response carries `Transfer-Encoding: chunked` set here, which keeps h2o's chunked encoder
 * out (it would split each write into three TLS records), and the feed writes whole chunks. The
 * first subscription to a sale checks in MySQL that the sale exists and is not a draft (on a
 * worker); later ones find it marked in the feed and skip the database.
 *
 * Public, with an optional session (a bearer token, or a page's cookie: EventSource sends it): a
 * signed-in buyer also gets her own notices (outbid, won) on her stream, nobody else's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/http/conn.h"
#include "api/live/feed.h"
#include "api/common/query.h"
#include "api/store/repo_sales.h"
#include "api/http/req_db.h"
#include "api/http/request.h"
#include "api/http/routes.h"
#include "api/http/server.h"

/* One stream, in the request's memory pool (lives until h2o is done with the request). */
struct feed_stream {
    h2o_generator_t gen; /* first: h2o calls back with &gen */
    h2o_req_t *req;
    kito_conn *conn;
    kito_feed_sub *sub; /* NULL once the feed let go of it */
};

static void sink_write(void *ctx, h2o_iovec_t *bufs, size_t n)
{
    struct feed_stream *st = ctx;
    h2o_send(st->req, bufs, n, H2O_SEND_STATE_IN_PROGRESS);
}

static void sink_end(void *ctx, h2o_iovec_t text)
{
    struct feed_stream *st = ctx;
    st->sub = NULL;
    h2o_send(st->req, &text, 1, H2O_SEND_STATE_FINAL);
}

/* A write stuck for the stall period: shut the socket down, as the rapid-reset guard does, so
 * h2o's own error path closes the connection and calls stop. */
static void sink_abort(void *ctx)
{
    struct feed_stream *st = ctx;
    uv_os_fd_t fd;
    kito_conn *c = st->conn;
    if (c != NULL && c->sock != NULL && !uv_is_closing((uv_handle_t *)&c->tcp) &&
        uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        shutdown(fd, SHUT_RDWR);
}

static const struct kito_feed_sink sink = {sink_write, sink_end, sink_abort, false};
/* HTTP/1.1: the feed writes the chunks itself, one buffer (one TLS record) a write (feed.h). */
static const struct kito_feed_sink sink_chunked = {sink_write, sink_end, sink_abort, true};

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    struct feed_stream *st = (struct feed_stream *)g;
    if (st->sub != NULL)
        kito_feed_written(st->sub);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    struct feed_stream *st = (struct feed_stream *)g;
    if (st->sub != NULL) {
        kito_feed_sub *s = st->sub;
        st->sub = NULL;
        kito_feed_gone(s);
    }
}

/* What the request asked: the sale and where to resume. */
struct feed_ask {
    uint64_t sale_id;
    bool has_last;
    uint64_t last_id;
};

/* Subscribes and starts the response (or answers the refusal). */
static void start_stream(kito_req *r, const struct feed_ask *a)
{
    kito_server *s = r->server;
    h2o_req_t *req = r->h2o;
    if (s->feed == NULL) {
        kito_respond_error(r, KITO_E_UNAVAILABLE, "the live feed is not running");
        return;
    }
    struct feed_stream *st = h2o_mem_alloc_pool(&req->pool, sizeof(*st));
    *st = (struct feed_stream){.gen = {on_proceed, on_stop}, .req = req, .conn = r->conn};
    /* the cases where h2o's chunked encoder would step in (not for HEAD: no body) */
    bool chunked =
        req->version == 0x101 && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    kito_err e = kito_feed_subscribe(s->feed, a->sale_id, a->has_last, a->last_id,
                                     chunked ? &sink_chunked : &sink, st, &st->sub);
    if (e == KITO_E_CAPACITY) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
        kito_respond_error(r, e, "too many live-feed subscribers; retry shortly");
        return;
    }
    if (e != KITO_OK) {
        kito_respond_error(r, e, NULL);
        return;
    }
    /* what kito_respond_* does for every response: the rapid-reset guard's mark */
    r->responded = true;
    if (r->conn != NULL && r->conn->sock != NULL)
        r->bytes_written_mark = r->conn->sock->bytes_written;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/event-stream; charset=utf-8"));
    /* never compressed: every write must leave at once, as one TLS record (feed.h) */
    req->compress_hint = H2O_COMPRESS_HINT_DISABLE;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store, no-transform"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL,
                          H2O_STRLIT("no"));
    if (chunked)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, NULL,
                       H2O_STRLIT("chunked"));
    /* a signed-in buyer's own notices come on her stream too (feed.h, "Private notices") */
    if ((r->principal.role & KITO_ROLE_BUYER) != 0)
        kito_feed_set_viewer(st->sub, r->principal.account_id);
    h2o_start_response(req, &st->gen);
    kito_feed_start(st->sub);
}

/* The sale check on a worker. */
struct feed_job {
    struct feed_ask ask;
    kito_err err;
    kito_sale sale;
};

static void run_check(kito_db_conn *db, void *arg)
{
    struct feed_job *j = arg;
    kito_actor anyone = {0, 0, NULL};
    j->err = kito_sales_get(db, &anyone, j->ask.sale_id, &j->sale);
}

static void done_check(kito_req *r, void *arg)
{
    struct feed_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err == KITO_E_NOT_FOUND ? KITO_E_NOT_FOUND : j->err,
                           j->err == KITO_E_NOT_FOUND ? "no such sale" : NULL);
        return;
    }
    start_stream(r, &j->ask);
    if (r->responded && r->server->feed != NULL)
        kito_feed_mark_public(r->server->feed, j->ask.sale_id);
}

/* Reads a Last-Event-ID value: decimal digits only. */
static bool parse_last_id(const char *v, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

kito_err kito_get_sale_live(kito_req *r)
{
    h2o_req_t *req = r->h2o;
    struct feed_ask a = {0};
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &a.sale_id) != KITO_OK) {
        kito_respond_error(r, KITO_E_NOT_FOUND, "no such sale");
        return KITO_OK;
    }

    kito_query q;
    kito_verr ve = {{0}};
    static const char *const allowed[] = {"last_event_id", NULL};
    kito_err e = kito_req_query(r, allowed, &q, &ve);
    const char *qv = e == KITO_OK ? kito_query_get(&q, "last_event_id") : NULL;
    if (e == KITO_OK && qv != NULL) {
        a.has_last = parse_last_id(qv, strlen(qv), &a.last_id);
        if (!a.has_last)
            e = kito_verr_set(&ve, "last_event_id", "must be an event id (decimal digits)");
    }
    ssize_t h = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
    if (e == KITO_OK && h != -1 && !a.has_last) {
        h2o_iovec_t hv = req->headers.entries[h].value;
        a.has_last = parse_last_id(hv.base, hv.len, &a.last_id);
        if (!a.has_last)
            e = kito_verr_set(&ve, "Last-Event-ID", "must be an event id (decimal digits)");
    }
    if (e != KITO_OK) {
        char msg[KITO_VERR_FIELD_SIZE + KITO_VERR_REASON_SIZE + 4];
        snprintf(msg, sizeof(msg), "%s %s", ve.field, ve.reason);
        kito_respond_error(r, e, msg);
        return KITO_OK;
    }

    if (r->server->feed != NULL && kito_feed_sale_public(r->server->feed, a.sale_id)) {
        start_stream(r, &a);
        return KITO_OK;
    }
    struct feed_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->ask = a;
    return kito_req_db(r, run_check, done_check, j);
}
