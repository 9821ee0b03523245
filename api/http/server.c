#include "api/http/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <h2o/version.h>
#include <openssl/rand.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "api/common/log.h"
#include "api/http/assets.h"
#include "api/live/bidding.h"
#include "api/http/conn.h"
#include "api/http/framing.h"
#include "api/http/routes.h"
#include "api/store/db.h"
#include "api/live/feed.h"
#include "api/http/h2_guard.h"
#include "api/http/http_error.h"
#include "api/http/json.h"
#include "api/http/pages.h"
#include "api/money/payout_worker.h"
#include "api/phone/lot_sms.h"
#include "api/phone/sms_sender.h"
#include "api/money/settlement.h"
#include "api/http/tls.h"

/* The rapid-reset guard reads h2o's HTTP/2 connection state (http2_internal.h): pin the version
 * it was checked against (lib/http2/connection.c of 2.2.5). */
#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "api/http/server.c was written against libh2o 2.2.5; recheck the rapid-reset guard"
#endif

/* Our h2o handlers carry the server. */
typedef struct kito_h2o_handler {
    h2o_handler_t super;
    kito_server *server;
} kito_h2o_handler;

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* ---- connections --------------------------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    kito_conn *c = H2O_STRUCT_FROM_MEMBER(kito_conn, tcp, h);
    kito_server *s = c->server;
    h2o_linklist_unlink(&c->link);
    if (c->addr_counted)
        kito_addr_limit_release(&s->addr_limit, &c->addr);
    if (c->listener->metrics)
        s->ops_connections_open--;
    else
        s->metrics.connections_open--;
    free(c);
}

static void on_sock_close(void *data)
{
    kito_conn *c = data;
    c->sock = NULL;
}

/* The kito_conn behind an h2o request, or NULL. */
static kito_conn *conn_of(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (sock == NULL || sock->on_close.cb != on_sock_close)
        return NULL;
    return sock->on_close.data;
}

static void on_reject_closed(uv_handle_t *h)
{
    free(h);
}

/* Accepts and closes at once: over KITO_MAX_CONNECTIONS (or KITO_METRICS_CONNECTIONS_MAX on the
 * metrics listener), or stopping. */
static void reject(uv_stream_t *listener, kito_server *s)
{
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return;
    uv_tcp_init(s->loop, t);
    if (uv_accept(listener, (uv_stream_t *)t) == 0)
        s->metrics.connections_rejected++;
    uv_close((uv_handle_t *)t, on_reject_closed);
}

/* Counts c against its client's address (issue 15, finding 4: one host's 4,200 idle connections
 * filled KITO_MAX_CONNECTIONS for everyone). false when the address already holds
 * KITO_MAX_CONNECTIONS_PER_ADDRESS public connections, or the client is already gone: the
 * caller closes c. The refusals are logged at most once a second, with how many there were. */
static bool count_address(kito_server *s, kito_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0 ||
        !kito_addr_limit_key((struct sockaddr *)&ss, &c->addr))
        return false;
    uint32_t open;
    if (kito_addr_limit_acquire(&s->addr_limit, &c->addr, &open)) {
        c->addr_counted = true;
        return true;
    }
    s->metrics.connections_rejected_per_address++;
    s->addr_refused_unlogged++;
    uint64_t now = uv_now(s->loop);
    if (s->addr_refused_logged_ms == 0 || now - s->addr_refused_logged_ms >= 1000) {
        char host[NI_MAXHOST];
        size_t hl = h2o_socket_getnumerichost((struct sockaddr *)&ss, (socklen_t)len, host);
        kito_log(NULL,
                 "closing new connections from %.*s: it holds %u, "
                 "KITO_MAX_CONNECTIONS_PER_ADDRESS=%u (%llu refused since the last such line)",
                 hl != SIZE_MAX ? (int)hl : 1, hl != SIZE_MAX ? host : "?", (unsigned)open,
                 (unsigned)s->cfg->max_connections_per_address,
                 (unsigned long long)s->addr_refused_unlogged);
        s->addr_refused_unlogged = 0;
        s->addr_refused_logged_ms = now;
    }
    return false;
}

static void on_connection(uv_stream_t *listener, int status)
{
    kito_listener *l = listener->data;
    kito_server *s = l->server;
    if (status != 0)
        return;
    bool full = l->metrics ? s->ops_connections_open >= KITO_METRICS_CONNECTIONS_MAX
                           : s->metrics.connections_open >= (int64_t)s->cfg->max_connections;
    if (s->stopping || full) {
        reject(listener, s);
        return;
    }
    kito_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        reject(listener, s);
        return;
    }
    c->server = s;
    c->listener = l;
    uv_tcp_init(s->loop, &c->tcp);
    h2o_linklist_insert(&s->conns, &c->link);
    if (l->metrics)
        s->ops_connections_open++;
    else
        s->metrics.connections_open++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    /* the metrics listener is loopback only and bounded on its own: the operator's way in */
    if (!l->metrics && !count_address(s, c)) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    s->metrics.connections_accepted++;
    kito_h2_guard_init(&c->guard, s->cfg->h2_reset_max, uv_now(s->loop));
    c->sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    c->sock->on_close.cb = on_sock_close;
    c->sock->on_close.data = c;
    h2o_accept(&l->accept_ctx, c->sock);
}

/* ---- the rapid-reset guard (CVE-2023-44487) -------------------------------------------------
 *
 * h2o 2.2.5 runs a request's handler as soon as its HEADERS frame is parsed and frees the stream
 * when a RST_STREAM for it arrives, so a client can make us do unbounded work while holding no
 * stream open. What we can observe without patching h2o: the end of every request (a shared
 * chunk in its memory pool, disposed when h2o frees the stream) and the connection socket's
 * bytes_written counter (h2o_socket_t, public, counted when h2o submits a write). A response
 * leaves the server only through a socket write, and h2o submits writes after it has parsed a
 * batch of frames, never in the middle of one. So when a stream ends and the socket has written
 * nothing since its response was produced, the client ended it before the response left: an
 * abandoned stream (a RST_STREAM, or a stream error the client provoked). A stream that ends
 * normally always ends after the write carrying its response.
 *
 * Each abandoned stream costs a token from the connection's bucket (api/http/h2_guard.h:
 * KITO_H2_RESET_MAX tokens, refilled at that rate per second). An empty bucket cuts the
 * connection: shutdown(2) on its socket, so h2o's next read sees end-of-file (and its next write
 * fails) and h2o closes and frees the connection through its own error path: we free nothing.
 * Requests h2o still parses from the batch already read are answered 429 at once, without
 * routing. (h2o's GOAWAY machinery is in http2_internal.h, which needs khash.h, which Debian's
 * libh2o-dev does not ship; so the flood gets a closed socket rather than a GOAWAY.)
 */
static void cut_connection(kito_server *s, kito_conn *c, const char *remote)
{
    if (c->cut)
        return;
    c->cut = true;
    s->metrics.h2_connections_cut++;
    kito_log(NULL,
             "closing an HTTP/2 connection from %s: %llu streams abandoned, more than "
             "KITO_H2_RESET_MAX=%u per second (rapid reset guard)",
             remote, (unsigned long long)c->guard.abandoned, (unsigned)s->cfg->h2_reset_max);
    uv_os_fd_t fd;
    if (c->sock != NULL && !uv_is_closing((uv_handle_t *)&c->tcp) &&
        uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        shutdown(fd, SHUT_RDWR);
}

/* Called at the end of an HTTP/2 stream: whether the client abandoned it. */
static bool h2_stream_abandoned(kito_req *r)
{
    kito_conn *c = r->conn;
    if (c == NULL || c->sock == NULL || c->cut)
        return false;
    if (!r->responded && !r->delegated)
        return true; /* ended before any response was produced */
    return c->sock->bytes_written == r->bytes_written_mark;
}

/* ---- requests ------------------------------------------------------------------------------ */

/* The end of a request: h2o is freeing its memory pool. The h2o_req_t itself is still valid
 * (h2o frees the stream or resets the connection's request after this), its pool-allocated
 * strings we do not touch: what the log needs was copied at the start. */
static void on_req_end(void *p)
{
    kito_req *r = *(kito_req **)p;
    kito_server *s = r->server;
    h2o_req_t *req = r->h2o;
    bool abandoned = r->is_h2 && h2_stream_abandoned(r);
    if (abandoned) {
        s->metrics.h2_streams_abandoned++;
        if (!kito_h2_guard_charge(&r->conn->guard, uv_now(s->loop)))
            cut_connection(s, r->conn, r->remote);
    }
    int status = req->res.status != 0 ? req->res.status : 0;
    uint64_t duration_us = now_us() - r->start_us;
    kito_metrics_observe(&s->metrics, r->route_id, status, duration_us);
    kito_access_entry e = {
        .method = r->method_text,
        .method_len = strlen(r->method_text),
        .path = r->path,
        .path_len = r->path_len > KITO_ACCESS_LOG_PATH_MAX ? r->path_len : strlen(r->path),
        .status = status,
        .bytes = req->bytes_sent,
        .duration_us = duration_us,
        .protocol = r->is_h2                ? "HTTP/2"
                    : req->version == 0x100 ? "HTTP/1.0"
                                            : "HTTP/1.1",
        .remote = r->remote,
        .route =
            s->metrics.route_names[r->route_id] != NULL ? s->metrics.route_names[r->route_id] : "?",
        .abandoned = abandoned,
    };
    kito_access_log_write(&s->access_log, &e);
    r->h2o = NULL;
    kito_req_release(r);
}

/* Masks, in the access log's copy of a path, the value of every `token` query parameter (the
 * payment provider's callback carries its credential there): whoever reads the log must not be
 * able to forge a callback. Same length, so the cut at KITO_ACCESS_LOG_PATH_MAX is unchanged. */
static void mask_secrets(char *path, size_t len)
{
    char *q = memchr(path, '?', len);
    for (char *p = q; p != NULL && p < path + len;) {
        p++; /* past '?' or '&' */
        char *end = memchr(p, '&', (size_t)(path + len - p));
        if (end == NULL)
            end = path + len;
        if (end - p > 6 && memcmp(p, "token=", 6) == 0)
            memset(p + 6, '*', (size_t)(end - p - 6));
        p = end < path + len ? end : NULL;
    }
}

static kito_req *req_new(kito_server *s, h2o_req_t *req)
{
    kito_req *r = kito__req_new(s);
    if (r == NULL)
        return NULL;
    kito_req **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_req_end);
    *slot = r;
    r->refs = 1; /* h2o's, dropped in on_req_end */
    r->h2o = req;
    r->server = s;
    r->start_us = now_us();
    r->route_id = KITO_METRICS_ROUTE_UNMATCHED;
    r->is_h2 = req->version >= 0x200;
    r->conn = conn_of(req);
    if (r->conn != NULL && r->conn->sock != NULL)
        r->bytes_written_mark = r->conn->sock->bytes_written;
    r->method = kito_method_parse(req->method.base, req->method.len);
    size_t ml =
        req->method.len < sizeof(r->method_text) - 1 ? req->method.len : sizeof(r->method_text) - 1;
    memcpy(r->method_text, req->method.base, ml);
    r->path_len = req->path.len;
    size_t pl = req->path.len < KITO_ACCESS_LOG_PATH_MAX ? req->path.len : KITO_ACCESS_LOG_PATH_MAX;
    memcpy(r->path, req->path.base, pl);
    mask_secrets(r->path, pl);
    if (r->conn != NULL && r->conn->remote[0] != '\0') {
        /* a connection's peer never changes: written once, at its first request (getnameinfo
         * and a printf cost more than the rest of this function) */
        memcpy(r->remote, r->conn->remote, sizeof(r->remote));
        return r;
    }
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    char host[NI_MAXHOST];
    size_t hl;
    if (sl != 0 && (hl = h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, host)) != SIZE_MAX)
        snprintf(r->remote, sizeof(r->remote), "%.*s:%d", (int)hl, host,
                 h2o_socket_getport((struct sockaddr *)&ss));
    else
        snprintf(r->remote, sizeof(r->remote), "-");
    if (r->conn != NULL && sl != 0)
        memcpy(r->conn->remote, r->remote, sizeof(r->remote));
    return r;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

/* Plain HTTP: everything moves to https://KITO_PUBLIC_HOST<path> (301 for GET and HEAD, 308
 * otherwise so the method and body are kept). Never to the request's Host: the sender writes it,
 * so a redirect built from it goes wherever the sender chose (an open redirect, and a poisoned
 * entry in any cache between that keys on the path alone; issue 15, finding 9). */
static void redirect_to_https(kito_server *s, kito_req *r)
{
    h2o_req_t *req = r->h2o;
    const char *host = s->cfg->public_host; /* checked by api/common/config.c: host[:port] */

    /* the path, percent-encoding anything outside printable ASCII */
    size_t cap = strlen(host) + 32 + req->path.len * 3;
    char *url = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(url, cap, "https://%s", host);
    size_t at = (size_t)n;
    if (req->path.len == 0 || req->path.base[0] != '/') {
        url[at++] = '/';
    } else {
        static const char hex[] = "0123456789ABCDEF";
        for (size_t i = 0; i < req->path.len; i++) {
            unsigned char ch = (unsigned char)req->path.base[i];
            if (ch <= 0x20 || ch >= 0x7f) {
                url[at++] = '%';
                url[at++] = hex[ch >> 4];
                url[at++] = hex[ch & 15];
            } else {
                url[at++] = (char)ch;
            }
        }
    }
    r->route_id = KITO_METRICS_ROUTE_REDIRECT;
    bool keep_method = r->method != KITO_METHOD_GET && r->method != KITO_METHOD_HEAD;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, url, at);
    kito_respond_bytes(r, keep_method ? 308 : 301, "text/plain; charset=utf-8", "", 0);
}

/* True when the storefront holds a file for this GET/HEAD path (or a directory with an
 * index.html), so h2o's file handler should answer. */
static bool static_file_exists(kito_server *s, h2o_req_t *req)
{
    char full[PATH_MAX];
    const h2o_iovec_t p = req->path_normalized;
    if (p.len == 0 || p.base[0] != '/' || memchr(p.base, '\0', p.len) != NULL)
        return false;
    int n = snprintf(full, sizeof(full), "%s%.*s", s->cfg->storefront_dir, (int)p.len, p.base);
    if (n < 0 || (size_t)n >= sizeof(full) - sizeof("index.html"))
        return false;
    struct stat st;
    if (stat(full, &st) != 0)
        return false;
    if (S_ISREG(st.st_mode))
        return true;
    if (!S_ISDIR(st.st_mode))
        return false;
    strcat(full, p.base[p.len - 1] == '/' ? "index.html" : "/index.html");
    return stat(full, &st) == 0 && S_ISREG(st.st_mode);
}

/* The "v" parameter of the request's query string, or an empty iovec. */
static h2o_iovec_t query_version(const h2o_req_t *req)
{
    if (req->query_at == SIZE_MAX)
        return h2o_iovec_init(NULL, 0);
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp != NULL ? amp : end;
        if (stop - q >= 2 && q[0] == 'v' && q[1] == '=')
            return h2o_iovec_init(q + 2, (size_t)(stop - q - 2));
        q = stop + 1;
    }
    return h2o_iovec_init(NULL, 0);
}

/* A storefront page, script or style from memory, its references versioned (api/http/assets.h):
 * a year's cache for the current version, else no-cache with the hash as ETag. False when the
 * path is not one of them (h2o's file handler may still have it). */
static bool serve_asset(kito_server *s, kito_req *r)
{
    h2o_req_t *req = r->h2o;
    const h2o_iovec_t p = req->path_normalized;
    const kito_asset *x = kito_assets_get(s->assets, p.base, p.len);
    if (x == NULL)
        return false;
    h2o_iovec_t v = query_version(req);
    bool current = v.len == KITO_ASSET_HASH_LEN && memcmp(v.base, x->hash, v.len) == 0;
    r->route_id = KITO_METRICS_ROUTE_STATIC;
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    bool unchanged =
        inm != -1 && req->headers.entries[inm].value.len == KITO_ASSET_HASH_LEN + 2 &&
        memcmp(req->headers.entries[inm].value.base + 1, x->hash, KITO_ASSET_HASH_LEN) == 0;
    kito_respond_bytes_cached(r, unchanged ? 304 : 200, kito_assets_content_type(x->path),
                              current ? "public, max-age=31536000, immutable" : "no-cache", x->hash,
                              x->body, x->body_len);
    return true;
}

/* The route's handler, once api/http/auth.c has resolved and checked the caller. */
static void run_handler(kito_req *r)
{
    kito_err e = r->route->handler(r);
    if (e != KITO_OK)
        kito_respond_error(r, e, NULL);
}

/* ---- time limits (issue 15: "per-request time limits for asynchronous handlers") -------------
 *
 * Every dispatched request gets a deadline, KITO_REQUEST_TIMEOUT_MS after it began, and joins the
 * server's waiting list at its tail: one limit for all, so the list is in deadline order and a
 * tick looks only at its head. A request not answered by its deadline (its MySQL job queued
 * behind a stalled database, its Redis reply not come) is answered 504 "timeout" and marked
 * timed out: kito_req_alive is false from then on, so the completion that comes later (the job's
 * done function, a hiredis callback) skips its answer and only releases what it holds; the
 * kito_req itself lives until its last kito_req_release, as always. A request leaves the list
 * when it is freed (api/http/request.c) or when its deadline passes. Streams (the live feed)
 * have started their answer long before and are never cut. */

static void on_waiting_tick(uv_timer_t *t)
{
    kito_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    while (!h2o_linklist_is_empty(&s->waiting)) {
        kito_req *r = H2O_STRUCT_FROM_MEMBER(kito_req, waiting, s->waiting.next);
        if (r->deadline_ms > now)
            break;
        h2o_linklist_unlink(&r->waiting);
        if (r->h2o == NULL || r->responded || r->timed_out)
            continue;
        kito_log(NULL, "%s %s: no answer within %u ms; answered 504", r->method_text, r->path,
                 (unsigned)s->cfg->request_timeout_ms);
        r->timed_out = true;
        kito_respond_error(r, KITO_E_TIMEOUT,
                           "the request did not finish in time; it may or may not have taken "
                           "effect: retry it (with the same Idempotency-Key for a bid)");
    }
}

/* Starts r's time limit. */
static void wait_for_answer(kito_req *r)
{
    kito_server *s = r->server;
    r->deadline_ms = uv_now(s->loop) + s->cfg->request_timeout_ms;
    h2o_linklist_insert(&s->waiting, &r->waiting);
}

static void dispatch(kito_req *r)
{
    h2o_req_t *req = r->h2o;
    const kito_route *route = r->route;
    char reason[KITO_JSON_REASON_SIZE];

    if (req->entity.base != NULL && req->entity.len > route->body_max) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the request body is %zu bytes; this route accepts at most %zu",
                 req->entity.len, route->body_max);
        kito_respond_error(r, KITO_E_PAYLOAD_TOO_LARGE, msg);
        return;
    }
    if ((route->flags & KITO_ROUTE_JSON_BODY) != 0) {
        /* A body must say it is JSON: a form or text/plain type is what a cross-site HTML form
         * can send without a CORS preflight, so it is refused before parsing. */
        ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        if (req->entity.len > 0 &&
            (ct == -1 || !kito_json_is_content_type(req->headers.entries[ct].value.base,
                                                    req->headers.entries[ct].value.len))) {
            kito_respond_error(r, KITO_E_UNSUPPORTED_MEDIA, "send the body as application/json");
            return;
        }
        kito_err e = kito_json_parse(req->entity.base, req->entity.len, route->body_max,
                                     KITO_JSON_TOP_OBJECT, &r->body, reason);
        if (e != KITO_OK) {
            kito_respond_error(r, e, reason);
            return;
        }
    }
    wait_for_answer(r); /* the session lookup is MySQL work too */
    kito_auth_dispatch(r, run_handler);
}

/* RFC 9112, 6.3 (issue 15, finding 7): a request framed two ways (Content-Length with
 * Transfer-Encoding, Content-Lengths that differ, Transfer-Encoding twice) is answered 400 and its
 * connection closed; h2o 2.2.5 would pick one framing itself (api/http/framing.h). h2o parsed
 * those fields out of req->headers, so the head is read again from the socket's input buffer,
 * where h2o keeps it as received until the response has been sent (lib/http1.c: on_send_complete
 * consumes it). Only HTTP/1.x requests with a body-framing field have req->entity set; no other
 * is read. */
static bool framing_refused(kito_server *s, kito_req *r, h2o_socket_t *sock)
{
    h2o_req_t *req = r->h2o;
    if (r->is_h2 || req->entity.base == NULL || sock == NULL || sock->input == NULL)
        return false;
    kito_framing f = kito_framing_check(sock->input->bytes, sock->input->size);
    if (f == KITO_FRAMING_OK)
        return false;
    req->http1_is_persistent = 0; /* "MUST close the connection after responding" */
    s->metrics.http1_framing_refused++;
    kito_respond_error(r, KITO_E_BAD_REQUEST, kito_framing_message(f));
    return true;
}

/* The loopback metrics listener (issue 15, finding 8: the public /metrics showed the bid route's
 * 201s move while a sealed-bid lot showed no bids). It answers GET /metrics and GET /healthz, the
 * operator's way in when the public side is full (finding 4); anything else is 404. */
static void serve_metrics_listener(kito_req *r)
{
    h2o_iovec_t p = r->h2o->path_normalized;
    bool metrics = h2o_memis(p.base, p.len, H2O_STRLIT("/metrics"));
    bool health = h2o_memis(p.base, p.len, H2O_STRLIT("/healthz"));
    if (!metrics && !health) {
        kito_respond_error(r, KITO_E_NOT_FOUND, "this listener serves /metrics and /healthz");
        return;
    }
    r->route_id = metrics ? KITO_METRICS_ROUTE_OPS_METRICS : KITO_METRICS_ROUTE_OPS_HEALTHZ;
    if (r->method != KITO_METHOD_GET) {
        kito_respond_error_allow(r, KITO_E_METHOD_NOT_ALLOWED, NULL, KITO_METHOD_GET);
        return;
    }
    kito_err e = metrics ? kito_get_metrics(r) : kito_get_healthz(r);
    if (e != KITO_OK)
        kito_respond_error(r, e, NULL);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    kito_server *s = ((kito_h2o_handler *)self)->server;
    kito_req *r = req_new(s, req);
    if (r == NULL) {
        h2o_send_error_503(req, "Service Unavailable", "out of memory", 0);
        return 0;
    }
    if (r->conn != NULL && r->conn->cut) {
        /* the rapid-reset guard closed this connection: spend nothing on what is left */
        static const char body[] =
            "{\"error\":{\"code\":\"rate_limited\",\"message\":\"too many reset streams\"}}";
        kito_respond_bytes(r, 429, KITO_JSON_CONTENT_TYPE, body, sizeof(body) - 1);
        return 0;
    }
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (framing_refused(s, r, sock))
        return 0;
    if (r->conn != NULL && r->conn->listener->metrics) {
        serve_metrics_listener(r);
        return 0;
    }
    if (sock != NULL && sock->ssl == NULL) {
        redirect_to_https(s, r);
        return 0;
    }
    /* every HTTPS response, static files included (the file handler keeps these) */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_STRICT_TRANSPORT_SECURITY, NULL,
                   H2O_STRLIT("max-age=63072000"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0,
                          NULL, H2O_STRLIT("nosniff"));
    kito_pages_security_headers(req);
    h2o_iovec_t path = req->path_normalized;
    kito_err e = kito_router_match(&s->router, r->method, path.base, path.len, &r->match);
    if (e == KITO_OK) {
        r->route = r->match.route;
        r->route_id = r->match.route_index;
        dispatch(r);
        return 0;
    }
    if (e == KITO_E_METHOD_NOT_ALLOWED) {
        kito_respond_error_allow(r, e, NULL, r->match.allow);
        return 0;
    }
    if ((r->method == KITO_METHOD_GET || r->method == KITO_METHOD_HEAD) && serve_asset(s, r))
        return 0;
    if (static_file_exists(s, req)) {
        if (r->method == KITO_METHOD_GET || r->method == KITO_METHOD_HEAD) {
            /* not a versioned asset (api/http/assets.h: photos, icons, a file past the bounds): a
             * browser revalidates each (a 304 by ETag costs a round trip, never a stale file) */
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                           H2O_STRLIT("no-cache"));
            r->route_id = KITO_METRICS_ROUTE_STATIC;
            r->delegated = true;
            return -1; /* h2o's file handler, registered next, answers */
        }
        kito_respond_error_allow(r, KITO_E_METHOD_NOT_ALLOWED, NULL,
                                 KITO_METHOD_GET | KITO_METHOD_HEAD);
        return 0;
    }
    kito_pages_not_found(r); /* an HTML page for a page path, else the JSON error */
    return 0;
}

/* After the file handler: a file that vanished between our check and its open. */
static int on_req_fallback(h2o_handler_t *self, h2o_req_t *req)
{
    static const char body[] =
        "{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\"}}";
    req->res.status = 404;
    req->res.reason = "Not Found";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT(KITO_JSON_CONTENT_TYPE));
    h2o_send_inline(req, body, sizeof(body) - 1);
    return 0;
}

/* ---- listeners ------------------------------------------------------------------------------ */

/* Listens on bind (a numeric address) and port; ssl_ctx NULL for plain HTTP. */
static kito_err listen_on(kito_server *s, kito_listener *l, const char *bind, uint16_t port,
                          SSL_CTX *ssl_ctx, char *err, size_t err_size)
{
    struct sockaddr_storage addr;
    int r;
    if (strchr(bind, ':') != NULL)
        r = uv_ip6_addr(bind, port, (struct sockaddr_in6 *)&addr);
    else
        r = uv_ip4_addr(bind, port, (struct sockaddr_in *)&addr);
    if (r != 0) {
        snprintf(err, err_size, "%s is not an address: %s", bind, uv_strerror(r));
        return KITO_E_CONFIG;
    }
    uv_tcp_init(s->loop, &l->tcp);
    l->open = true;
    l->server = s;
    l->tcp.data = l;
    l->accept_ctx.ctx = &s->ctx;
    l->accept_ctx.hosts = s->globalconf.hosts;
    l->accept_ctx.ssl_ctx = ssl_ctx;
    if ((r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&addr, 0)) != 0 ||
        (r = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection)) != 0) {
        snprintf(err, err_size, "cannot listen on %s port %u: %s", bind, (unsigned)port,
                 uv_strerror(r));
        return KITO_E_IO;
    }
    return KITO_OK;
}

static void close_listener(kito_listener *l)
{
    if (l->open) {
        l->open = false;
        uv_close((uv_handle_t *)&l->tcp, NULL);
    }
}

/* ---- shutdown ------------------------------------------------------------------------------- */

static void close_everything_else(kito_server *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->shutdown_timer))
        uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->waiting_timer))
        uv_close((uv_handle_t *)&s->waiting_timer, NULL);
    kito_health_stop(&s->health);
    kito_settlement_stop(s->settlement); /* an unacknowledged batch is settled after restart */
    s->settlement = NULL;
    kito_bidding_stop(s->bidding); /* no tick into a market being freed */
    kito_market_free(s->market);   /* unanswered bids get unavailable: none was acknowledged */
    s->market = NULL;
    kito_feed_free(s->feed); /* after the market: its listener publishes to the feed */
    s->feed = NULL;
    kito_bidding_free(s->bidding);
    s->bidding = NULL;
    kito_redis_stop(&s->redis);
    kito_payouts_stop(s->payouts); /* joins the thread; an HTTP call in flight is abandoned */
    s->payouts = NULL;
    kito_sms_sender_stop(s->sms);
    s->sms = NULL;
    kito_pool_stop(s->pool);
    s->pool = NULL;
    kito_pool_stop(s->hash_pool);
    s->hash_pool = NULL;
    kito_lot_sms_free(s->lot_sms); /* after the pool: its jobs are done */
    s->lot_sms = NULL;
    kito_access_log_close(&s->access_log);
    if (!uv_is_closing((uv_handle_t *)&s->sigterm))
        uv_close((uv_handle_t *)&s->sigterm, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->sigint))
        uv_close((uv_handle_t *)&s->sigint, NULL);
    /* h2o's own timers keep the loop alive; its context is disposed in kito_server_dispose */
    uv_stop(s->loop);
}

static void force_close_connections(kito_server *s)
{
    for (h2o_linklist_t *n = s->conns.next; n != &s->conns; n = n->next) {
        kito_conn *c = H2O_STRUCT_FROM_MEMBER(kito_conn, link, n);
        uv_os_fd_t fd;
        if (!uv_is_closing((uv_handle_t *)&c->tcp) && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR); /* h2o sees the error and closes through its own path */
    }
}

static void on_shutdown_tick(uv_timer_t *t)
{
    kito_server *s = t->data;
    uint64_t elapsed = uv_now(s->loop) - s->stop_started_ms;
    if (h2o_linklist_is_empty(&s->conns)) {
        uv_timer_stop(t);
        close_everything_else(s);
        return;
    }
    if (!s->forced && elapsed >= s->cfg->shutdown_grace_ms) {
        s->forced = true;
        kito_log(NULL, "grace period over; closing the remaining connections");
        force_close_connections(s);
    } else if (elapsed >= (uint64_t)s->cfg->shutdown_grace_ms + 2000) {
        kito_log(NULL, "connections still open; stopping anyway");
        uv_timer_stop(t);
        close_everything_else(s);
    }
}

void kito_server_stop(kito_server *s)
{
    if (s->stopping) {
        if (!s->forced) {
            s->forced = true;
            force_close_connections(s);
        }
        return;
    }
    s->stopping = true;
    s->stop_started_ms = uv_now(s->loop);
    close_listener(&s->https);
    close_listener(&s->http);
    close_listener(&s->ops);
    if (s->ctx_ready)
        h2o_context_request_shutdown(&s->ctx);
    kito_feed_shutdown(s->feed); /* live-feed streams never end by themselves */
    uv_timer_start(&s->shutdown_timer, on_shutdown_tick, 0, 50);
}

static void on_signal(uv_signal_t *h, int signum)
{
    kito_server *s = h->data;
    kito_log(NULL, "%s received; shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    kito_server_stop(s);
}

/* ---- start ---------------------------------------------------------------------------------- */

/* The order books are rebuilt from Redis before the market takes a bid (DESIGN.md,
 * Durability); until then, and whenever Redis is down, bids are refused as unavailable. */
/* Every lot open in the books gets its miner's lot-opened SMS unless she has it (the outbox's
 * key): a crash between a lot's opening in Redis and its SMS in MySQL loses no message. */
static void sms_for_open_lots(kito_server *s)
{
    size_t n = 0, cap = KITO_LOT_SMS_PENDING_MAX;
    uint64_t *ids = malloc(cap * sizeof(*ids));
    if (ids == NULL)
        return;
    kito_market_lot_ids(s->market, ids, cap, &n);
    for (size_t i = 0; i < n && i < cap; i++) {
        struct kito_lot_view v;
        if (kito_market_lot_view(s->market, ids[i], &v) == KITO_OK &&
            (v.state == KITO_LOT_OPEN || v.state == KITO_LOT_CLOSING))
            kito_lot_sms_opened(s->lot_sms, ids[i]);
    }
    free(ids);
}

/* The market's one listener: the live feed, then the lot-opened SMS. */
static void on_market_note(void *ud, const struct kito_market_note *note)
{
    kito_server *s = ud;
    kito_feed_market_listener(s->feed, note);
    for (size_t i = 0; i < note->n_events; i++)
        if (note->events[i].type == KITO_EV_OPENED)
            kito_lot_sms_opened(s->lot_sms, note->lot_id);
}

static void on_market_rebuilt(void *ud)
{
    kito_server *s = ud;
    kito_feed_market_rebuilt(s->feed);
    sms_for_open_lots(s);
}

static void on_market_recovered(void *ud, kito_err status, const struct kito_market_recovery *r)
{
    kito_server *s = ud;
    if (status != KITO_OK) {
        kito_log(NULL, "order books NOT recovered (%s); bids stay refused", kito_err_code(status));
        return;
    }
    kito_log(NULL,
             "order books recovered: %u lots, %llu commands replayed, %.1f ms "
             "(%u from snapshots, %u damaged; %u command ids remembered, %llu journal entries "
             "read from before the snapshots)",
             r->lots, (unsigned long long)r->commands, r->ms, r->from_snapshots, r->damaged,
             r->remembered, (unsigned long long)r->history);
    /* a crash between a publish and its lots' loading must not lose them (issue 5) */
    kito_bidding_reconcile(s->bidding);
    sms_for_open_lots(s);
}

/* The live feed hears every command Redis confirmed (api/live/feed.h). Its anonymous bidder tokens
 * are keyed by a key derived from the cursor key: stable across restarts, never the key itself. */
static kito_err start_feed(kito_server *s)
{
    struct kito_feed_limits fl;
    uint8_t material[sizeof(s->cursor_key) + 24], key[32];
    kito_feed_limits_default(&fl);
    memcpy(material, s->cursor_key, sizeof(s->cursor_key));
    memcpy(material + sizeof(s->cursor_key), "kito feed bidder key v1", 24);
    kito_err e = kito_crypto_sha256(material, sizeof(material), key);
    if (e == KITO_OK)
        e = kito_feed_create(s->loop, &fl, key, &s->feed);
    OPENSSL_cleanse(material, sizeof(material));
    OPENSSL_cleanse(key, sizeof(key));
    if (e == KITO_OK) {
        kito_market_set_listener(s->market, on_market_note, s);
        kito_market_set_rebuilt_listener(s->market, on_market_rebuilt, s);
    }
    return e;
}

static kito_err start_market(kito_server *s)
{
    struct kito_bookstore_params sp;
    struct kito_market_limits lim;
    kito_bookstore_params_default(&sp);
    sp.host = s->cfg->redis_host;
    sp.port = s->cfg->redis_port;
    sp.user = s->cfg->redis_user;
    sp.password = s->cfg->redis_password;
    kito_market_limits_default(&lim);
    lim.snapshot_every = s->cfg->snapshot_every;
    kito_err e = kito_market_create(s->loop, &sp, &lim, &s->market);
    if (e != KITO_OK)
        return e;
    if ((e = start_feed(s)) != KITO_OK)
        return e;
    struct kito_bidding_params bp = {s->loop, s->market, s->pool, s->cfg};
    if ((e = kito_bidding_create(&bp, &s->bidding)) != KITO_OK)
        return e;
    kito_market_set_replay_listener(s->market, kito_bidding_key_replayed, s->bidding);
    return kito_market_recover(s->market, on_market_recovered, s);
}

/* The settlement worker (api/money/settlement.h): its own thread, Redis and MySQL connections.
 * KITO_SETTLEMENT_TEST_COMMIT_DELAY_MS is for crash tests only (a window before each COMMIT). */
static kito_err start_settlement(kito_server *s)
{
    struct kito_settlement_params sp;
    kito_settlement_params_default(&sp);
    sp.redis_host = s->cfg->redis_host;
    sp.redis_port = s->cfg->redis_port;
    sp.redis_user = s->cfg->redis_user;
    sp.redis_password = s->cfg->redis_password;
    sp.db = (kito_db_params){s->cfg->mysql_host, s->cfg->mysql_port, s->cfg->mysql_user,
                             s->cfg->mysql_password, s->cfg->mysql_db};
    const char *delay = getenv("KITO_SETTLEMENT_TEST_COMMIT_DELAY_MS");
    uint64_t ms;
    if (delay != NULL && kito_config_parse_uint(delay, 0, 600000, &ms))
        sp.commit_delay_ms = (uint32_t)ms;
    return kito_settlement_start(&sp, &s->settlement);
}

static size_t largest_body_limit(const kito_router *r)
{
    size_t max = 0;
    for (size_t i = 0; i < r->count; i++)
        if (r->entries[i].route.body_max > max)
            max = r->entries[i].route.body_max;
    return max;
}

static kito_err setup_h2o(kito_server *s, char *err, size_t err_size)
{
    h2o_config_init(&s->globalconf);
    s->conf_ready = true;
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("kitod"));
    size_t hard = largest_body_limit(&s->router) * 2;
    s->globalconf.max_request_entity_size = hard > KITO_BODY_HARD_MIN ? hard : KITO_BODY_HARD_MIN;
    s->globalconf.http1.upgrade_to_http2 = 0; /* h2 only through TLS ALPN, never h2c */
    /* h2o closes a TLS connection whose handshake has not finished this long after accept (its
     * own 10 s default, now the operator's: issue 15, finding 4). Reads do not extend it. */
    s->globalconf.handshake_timeout = s->cfg->tls_handshake_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    kito_h2o_handler *h = (void *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;

    struct stat st;
    if (stat(s->cfg->storefront_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        kito_log(NULL,
                 "warning: KITO_STOREFRONT_DIR=%s is not a directory; no static "
                 "files will be served",
                 s->cfg->storefront_dir);
    }
    s->assets = calloc(1, sizeof(*s->assets));
    if (s->assets == NULL || kito_assets_load(s->assets, s->cfg->storefront_dir) != KITO_OK) {
        snprintf(err, err_size, "cannot read KITO_STOREFRONT_DIR=%s", s->cfg->storefront_dir);
        return KITO_E_NOMEM;
    }
    static const char *index_files[] = {"index.html", NULL};
    if (h2o_file_register(path, s->cfg->storefront_dir, index_files, NULL, 0) == NULL) {
        snprintf(err, err_size, "cannot serve KITO_STOREFRONT_DIR=%s", s->cfg->storefront_dir);
        return KITO_E_CONFIG;
    }
    /* gzip for clients that ask (pages on a 3G phone: issue 16); the live feed opts out
     * (api/http/routes_feed.c: every write must leave at once) */
    h2o_compress_args_t gz = {.min_size = 512, .gzip = {.quality = 1}, .brotli = {.quality = -1}};
    h2o_compress_register(path, &gz);
    kito_h2o_handler *fb = (void *)h2o_create_handler(path, sizeof(*fb));
    fb->super.on_req = on_req_fallback;
    fb->server = s;
    h2o_context_init(&s->ctx, s->loop, &s->globalconf);
    s->ctx_ready = true;
    return KITO_OK;
}

/* The signing key (made on first start) and the cursor key derived from it: cursors handed out
 * before a restart stay valid, and no second secret file is needed. */
static kito_err load_keys(kito_server *s, char *err, size_t err_size)
{
    bool created = false;
    kito_err e = kito_crypto_signer_load_or_create(s->cfg->signing_key, &s->signer, &created);
    if (e != KITO_OK) {
        snprintf(err, err_size, "cannot load or create the signing key KITO_SIGNING_KEY=%s (%s)",
                 s->cfg->signing_key, kito_err_message(e));
        return e;
    }
    if (created)
        kito_log(NULL, "made a new signing key at %s", s->cfg->signing_key);
    FILE *f = fopen(s->cfg->signing_key, "rb");
    char pem[4096];
    size_t n = f != NULL ? fread(pem, 1, sizeof(pem) - 32, f) : 0;
    if (f != NULL)
        fclose(f);
    if (n == 0) {
        snprintf(err, err_size, "cannot read KITO_SIGNING_KEY=%s", s->cfg->signing_key);
        return KITO_E_CONFIG;
    }
    static const char domain[] = "kito cursor key v1";
    memcpy(pem + n, domain, sizeof(domain) - 1);
    e = kito_crypto_sha256(pem, n + sizeof(domain) - 1, s->cursor_key);
    OPENSSL_cleanse(pem, sizeof(pem));
    return e;
}

kito_err kito_server_start(kito_server *s, const kito_config *cfg, uv_loop_t *loop, char *err,
                           size_t err_size)
{
    kito_err e;
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->loop = loop;
    h2o_linklist_init_anchor(&s->conns);
    kito_metrics_init(&s->metrics);
    kito_router_init(&s->router);
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    h2o_linklist_init_anchor(&s->waiting);
    uv_timer_init(loop, &s->waiting_timer);
    s->waiting_timer.data = s;
    /* a tenth of the limit (20 ms .. 250 ms): a late answer is at most that much later */
    uint64_t tick_ms = cfg->request_timeout_ms / 10;
    tick_ms = tick_ms < 20 ? 20 : tick_ms > 250 ? 250 : tick_ms;
    uv_timer_start(&s->waiting_timer, on_waiting_tick, tick_ms, tick_ms);
    uv_unref((uv_handle_t *)&s->waiting_timer); /* never what keeps the loop running */
    uv_signal_init(loop, &s->sigterm);
    uv_signal_init(loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    signal(SIGPIPE, SIG_IGN);

    if ((e = kito_auth_init(&s->auth)) != KITO_OK) {
        snprintf(err, err_size, "cannot allocate the session cache");
        goto fail;
    }
    uint8_t hash_key[16];
    if (RAND_bytes(hash_key, sizeof(hash_key)) != 1) {
        snprintf(err, err_size, "no random bytes for the per-address connection table");
        e = KITO_E_INTERNAL;
        goto fail;
    }
    if ((e = kito_addr_limit_init(&s->addr_limit, cfg->max_connections,
                                  cfg->max_connections_per_address, hash_key)) != KITO_OK) {
        snprintf(err, err_size, "cannot allocate the per-address connection table (%s)",
                 kito_err_code(e));
        goto fail;
    }
    if ((e = load_keys(s, err, err_size)) != KITO_OK)
        goto fail;
    if ((e = kito_server_add_routes(s)) != KITO_OK) {
        snprintf(err, err_size, "the route table is malformed (%s)", kito_err_code(e));
        goto fail;
    }
    for (size_t i = 0; i < s->router.count; i++)
        kito_metrics_name_route(&s->metrics, (uint32_t)i, s->router.entries[i].route.name);
    if ((e = kito_tls_create(cfg->tls_cert, cfg->tls_key, cfg->http2, &s->ssl_ctx, err,
                             err_size)) != KITO_OK)
        goto fail;
    if ((e = setup_h2o(s, err, err_size)) != KITO_OK)
        goto fail;
    if ((e = kito_access_log_open(&s->access_log, cfg->access_log, loop, err, err_size)) != KITO_OK)
        goto fail;
    if ((e = kito_redis_start(&s->redis, loop, cfg->redis_host, cfg->redis_port, cfg->redis_user,
                              cfg->redis_password)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the Redis link");
        goto fail;
    }
    static kito_db_params db; /* lives as long as the pool: the process */
    db = (kito_db_params){cfg->mysql_host, cfg->mysql_port, cfg->mysql_user, cfg->mysql_password,
                          cfg->mysql_db};
    /* (before the market: the bidding state it starts is given the pool) */
    if ((e = kito_pool_create(loop, cfg->mysql_workers, cfg->mysql_queue_max, kito_db_worker_ops(),
                              &db, &s->pool)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the MySQL workers (%s)", kito_err_code(e));
        goto fail;
    }
    /* scrypt's 0.2 s per sign-in must never hold up the pool above (issue 15): its own
     * threads and connections, and a short queue that answers 503 "busy" when full */
    if ((e = kito_pool_create(loop, cfg->hash_workers, cfg->hash_queue_max, kito_db_worker_ops(),
                              &db, &s->hash_pool)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the hashing workers (%s)", kito_err_code(e));
        goto fail;
    }
    if ((e = kito_lot_sms_create(s->pool, &s->lot_sms)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the lot SMS (%s)", kito_err_code(e));
        goto fail;
    }
    if ((e = start_market(s)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the order books (%s)", kito_err_code(e));
        goto fail;
    }
    if ((e = start_settlement(s)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the settlement worker (%s)", kito_err_code(e));
        goto fail;
    }
    if ((e = kito_payouts_start(cfg, &db, &s->payouts)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the payout worker (%s)", kito_err_code(e));
        goto fail;
    }
    if ((e = kito_sms_sender_start(cfg, &db, &s->sms)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the SMS sender (%s)", kito_err_code(e));
        goto fail;
    }
    if ((e = kito_health_start(&s->health, loop, s->pool, &s->redis, &s->metrics)) != KITO_OK) {
        snprintf(err, err_size, "cannot start the health checks");
        goto fail;
    }
    if ((e = listen_on(s, &s->https, cfg->bind, cfg->https_port, s->ssl_ctx, err, err_size)) !=
        KITO_OK)
        goto fail;
    if (cfg->http_port != 0 &&
        (e = listen_on(s, &s->http, cfg->bind, cfg->http_port, NULL, err, err_size)) != KITO_OK)
        goto fail;
    /* loopback whatever KITO_BIND says: metrics are the operator's (issue 15, finding 8) */
    s->ops.metrics = true;
    if (cfg->metrics_port != 0 &&
        (e = listen_on(s, &s->ops, "127.0.0.1", cfg->metrics_port, NULL, err, err_size)) != KITO_OK)
        goto fail;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    return KITO_OK;

fail:
    close_listener(&s->https);
    close_listener(&s->http);
    close_listener(&s->ops);
    s->stopping = true;
    close_everything_else(s);
    return e;
}

void kito_server_dispose(kito_server *s)
{
    if (s->ctx_ready && !h2o_linklist_is_empty(&s->conns)) {
        /* a connection outlived the grace period and the forced close: disposing the
         * context under it would be a use after free, so leave it to process exit */
        kito_log(NULL, "warning: connections still open at exit");
        s->ctx_ready = false;
        s->conf_ready = false;
    }
    if (s->ctx_ready) {
        /* h2o_context_request_shutdown leaves its GOAWAY timer linked even when every
         * connection closed before it fired; h2o_context_dispose asserts on linked timers */
        if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&s->ctx);
        s->ctx_ready = false;
    }
    if (s->conf_ready) {
        h2o_config_dispose(&s->globalconf);
        s->conf_ready = false;
    }
    if (s->ssl_ctx != NULL) {
        SSL_CTX_free(s->ssl_ctx);
        s->ssl_ctx = NULL;
    }
    kito_auth_dispose(&s->auth);
    /* a connection still open (see above) releases its count when the loop closes it at exit */
    if (h2o_linklist_is_empty(&s->conns))
        kito_addr_limit_dispose(&s->addr_limit);
    kito_crypto_signer_free(s->signer);
    s->signer = NULL;
    kito__req_spares_free(s); /* (last: disposing the context releases requests) */
    kito_assets_free(s->assets);
    free(s->assets);
    s->assets = NULL;
}
