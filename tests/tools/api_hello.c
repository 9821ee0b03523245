/*
 * api_hello: a bare libh2o HTTPS "hello" server -- the ceiling the API benchmark compares kitod
 * against (tests/bench/bench_api.sh). Same TLS context as kitod (api/http/tls.c: Mozilla
 * intermediate, ALPN h2 + http/1.1), same libh2o and libuv, one loop, nothing else: no router,
 * no auth, no logging, no Redis, no MySQL.
 *
 *   api_hello PORT CERT KEY
 *
 * Answers every request 200 with a 30-byte JSON body and its Content-Length, as kitod answers.
 * Stops on SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>
#include <uv.h>

#include "api/http/tls.h"

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    static const char body[] = "{\"hello\":\"kito\",\"ok\":true}\n\n\n\n";
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    /* a Content-Length, as kitod's responses have (api/http/request.c): without it h2o 2.2.5 sends
     * the body chunked (size line, body and end as separate writes, so more TLS records), and
     * the ceiling came out about a quarter lower than a like-for-like one */
    req->res.content_length = sizeof(body) - 1;
    h2o_send_inline(req, body, sizeof(body) - 1);
    return 0;
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *listener, int status)
{
    if (status != 0)
        return;
    uv_tcp_t *conn = malloc(sizeof(*conn));
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, on_close);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, on_close);
    h2o_accept(&accept_ctx, sock);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: api_hello PORT CERT KEY\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    h2o_config_init(&config);
    config.server_name = h2o_iovec_init(H2O_STRLIT("kito-hello"));
    config.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof(*h));
    h->on_req = on_req;
    h2o_context_init(&ctx, loop, &config);

    char err[512];
    SSL_CTX *ssl = NULL;
    if (kito_tls_create(argv[2], argv[3], true, &ssl, err, sizeof(err)) != KITO_OK) {
        fprintf(stderr, "api_hello: %s\n", err);
        return 1;
    }
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    accept_ctx.ssl_ctx = ssl;

    static uv_tcp_t listener;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &listener);
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    int r;
    if ((r = uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0)) != 0 ||
        (r = uv_listen((uv_stream_t *)&listener, 1024, on_accept)) != 0) {
        fprintf(stderr, "api_hello: cannot listen on port %s: %s\n", argv[1], uv_strerror(r));
        return 1;
    }
    static uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    printf("api_hello listening https://127.0.0.1:%s\n", argv[1]);
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
