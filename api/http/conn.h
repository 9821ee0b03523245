/*
 * A client connection as kitod tracks it (internal to api/http/server.c and api/http/request.c):
 * the uv handle h2o's socket wraps, the rapid-reset guard's bucket, and the link that lets shutdown
 * find every open connection. Loop thread only.
 */
#ifndef KITO_CONN_H
#define KITO_CONN_H

#include <stdbool.h>

#include <h2o.h>
#include <uv.h>

#include "api/http/addr_limit.h"
#include "api/http/h2_guard.h"

struct kito_server;
struct kito_listener;

struct kito_conn {
    uv_tcp_t tcp; /* ours: h2o's libuv socket wraps it; freed in on_conn_closed */
    struct kito_server *server;
    struct kito_listener *listener; /* the one that accepted it */
    kito_addr_key addr;             /* its client's address as counted (api/http/addr_limit.h) */
    bool addr_counted;              /* addr holds one of the per-address counts for it */
    h2o_socket_t *sock;             /* NULL once h2o closed it */
    h2o_linklist_t link;            /* in server->conns until the uv handle is closed */
    kito_h2_guard guard;            /* rapid-reset bucket */
    bool cut;                       /* the guard closed it */
    char remote[64]; /* "addr:port" of the peer, written at its first request; "" before */
};

#endif
