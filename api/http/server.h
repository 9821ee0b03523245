/*
 * The kitod server: one uv loop running h2o (TLS listener, plain-HTTP redirect listener, the
 * loopback metrics listener), the Redis link, the MySQL worker pool, health checks, metrics, the
 * access log, the rapid-reset guard and clean shutdown on SIGTERM/SIGINT.
 *
 * Request flow (api/http/server.c): our h2o handler sees every request first. It makes a kito_req,
 * refuses an HTTP/1.1 request framed two ways (api/http/framing.h), answers the metrics listener's
 * two paths, redirects plain HTTP, matches the router, enforces the route's body limit and parses
 * JSON, then calls the route's handler; a path the router does not know is served from the
 * storefront directory if such a file exists, else answered 404 in the JSON error shape.
 */
#ifndef KITO_SERVER_H
#define KITO_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "api/http/access_log.h"
#include "api/http/addr_limit.h"
#include "api/http/auth.h"
#include "api/common/config.h"
#include "api/common/crypto.h"
#include "api/http/health.h"
#include "api/live/market.h"
#include "api/http/metrics.h"
#include "api/adapters/redis.h"
#include "api/http/request.h"
#include "api/http/router.h"
#include "api/store/worker_pool.h"
#include "engine/err.h"

/* The body size h2o itself buffers at most (its max_request_entity_size): twice the largest
 * route limit, at least this, so that a body over a route's limit but under this bound is
 * answered by us with 413 payload_too_large. Beyond it h2o refuses on its own: HTTP/1.1 gets
 * h2o's plain-text 413 and the connection closed; HTTP/2 gets RST_STREAM(REFUSED_STREAM). */
#define KITO_BODY_HARD_MIN ((size_t)1 << 20)

/* Connections the loopback metrics listener (KITO_METRICS_PORT) holds at most; beyond it a new
 * one is closed at once. Its own bound, outside KITO_MAX_CONNECTIONS and the per-address limit,
 * so that a full public side still leaves the operator /healthz and /metrics (issue 15, finding
 * 4); small, since only the operator and a local scraper connect there. */
#define KITO_METRICS_CONNECTIONS_MAX 16

typedef struct kito_listener {
    uv_tcp_t tcp;
    h2o_accept_ctx_t accept_ctx;
    struct kito_server *server;
    bool open;
    bool metrics; /* the loopback metrics listener: /metrics and /healthz only, plain HTTP */
} kito_listener;

/* One accepted client connection. */
typedef struct kito_conn kito_conn;

typedef struct kito_server {
    const kito_config *cfg; /* borrowed */
    uv_loop_t *loop;        /* borrowed */
    h2o_globalconf_t globalconf;
    bool conf_ready;
    h2o_context_t ctx;
    bool ctx_ready;
    SSL_CTX *ssl_ctx;
    kito_listener https;
    kito_listener http; /* used when cfg->http_port != 0 */
    kito_listener ops;  /* 127.0.0.1:cfg->metrics_port, used when it is not 0 (issue 15, 8) */
    kito_addr_limit addr_limit;      /* public connections per client address (issue 15, 4) */
    uint32_t ops_connections_open;   /* on the metrics listener: KITO_METRICS_CONNECTIONS_MAX */
    uint64_t addr_refused_unlogged;  /* per-address refusals since the last log line about them */
    uint64_t addr_refused_logged_ms; /* uv_now of that line; at most one a second */
    kito_router router;
    kito_metrics metrics;
    kito_access_log access_log;
    kito_redis redis;
    kito_pool *pool;        /* MySQL workers */
    kito_pool *hash_pool;   /* MySQL workers of their own for jobs that hash a PIN or password
                               (KITO_HASH_WORKERS; api/http/req_db.h, kito_req_db_hash) */
    kito_market *market;    /* the order books (api/live/market.h); rebuilt from Redis at start */
    struct kito_feed *feed; /* the live feed (api/live/feed.h); fed by the market's listener */
    struct kito_bidding *bidding; /* api/live/bidding.h: activation, clock, caches, rate limits */
    struct kito_payouts *payouts; /* api/money/payouts.h: the payout worker thread */
    struct kito_sms_sender *sms;  /* api/phone/sms_sender.h: the SMS sender thread, or NULL */
    struct kito_lot_sms *lot_sms; /* api/phone/lot_sms.h: lots opened -> their miners' SMS */
    struct kito_settlement
        *settlement; /* api/money/settlement.h: outbox -> MySQL, its own thread */
    kito_health health;
    kito_auth auth;       /* session cache */
    kito_signer *signer;  /* the platform's Ed25519 key (certificates) */
    kito_req *spare_reqs; /* released requests kept for reuse (api/http/request.h) */
    uint32_t n_spare_reqs;
    uint8_t cursor_key[32];     /* authenticates pagination cursors (api/common/query.h) */
    struct kito_assets *assets; /* the storefront's pages, scripts and styles, versioned */
    h2o_linklist_t conns;       /* kito_conn.link */
    uv_signal_t sigterm, sigint;
    uv_timer_t shutdown_timer;
    h2o_linklist_t waiting;   /* kito_req.waiting: dispatched requests by deadline (their
                                 time limits: KITO_REQUEST_TIMEOUT_MS) */
    uv_timer_t waiting_timer; /* checks the oldest of them */
    bool stopping;
    bool forced;
    uint64_t stop_started_ms;
    int exit_code;
} kito_server;

/* Builds the server on loop from cfg: TLS context, router (kito_server_add_routes), h2o config,
 * access log, Redis link, MySQL pool and health checks; binds and listens on its ports (HTTPS,
 * plain HTTP, the loopback metrics port) and installs the signal handlers. On failure writes one
 * sentence into err and returns KITO_E_CONFIG (bad certificate or key, storefront problems),
 * KITO_E_IO (cannot bind) or another code; what was started is stopped again (run the loop to let
 * handles close). */
kito_err kito_server_start(kito_server *s, const kito_config *cfg, uv_loop_t *loop, char *err,
                           size_t err_size);

/* The route table (api/http/routes.c, the authorization matrix): adds every route to s->router.
 * KITO_E_CONFIG if one is malformed (a programming error). */
kito_err kito_server_add_routes(kito_server *s);

/* Begins a graceful stop, as SIGTERM does: stop accepting, let in-flight requests finish for up
 * to cfg->shutdown_grace_ms, close what remains, stop Redis, MySQL and the timers. The loop
 * returns from uv_run once everything is closed. Idempotent; a second call forces the close. */
void kito_server_stop(kito_server *s);

/* Releases what remains after uv_run returned (h2o context and config, TLS context). */
void kito_server_dispose(kito_server *s);

#endif
