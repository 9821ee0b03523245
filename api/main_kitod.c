/*
 * kitod: the Kito server. Configuration comes from KITO_* environment variables
 * (ops/kito.env.sample). Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 2 for bad
 * configuration (including an unreadable certificate or key), 1 for other start failures.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "api/common/log.h"
#include "api/common/config.h"
#include "api/store/db.h"
#include "api/http/server.h"

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs the loop until nothing but closes remain, bounded so a stuck handle cannot hang exit. */
static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++)
        ;
}

int main(void)
{
    static kito_config cfg;
    static kito_server server;
    char err[1600];

    if (kito_config_load_env(&cfg, err, sizeof(err)) != KITO_OK) {
        kito_log(NULL, "bad configuration: %s", err);
        return 2;
    }
    if (kito_db_library_init() != KITO_OK) {
        kito_log(NULL, "cannot initialise the MySQL client library");
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    kito_err e = kito_server_start(&server, &cfg, loop, err, sizeof(err));
    if (e != KITO_OK) {
        kito_log(NULL, "%s", err);
        drain(loop);
        kito_server_dispose(&server);
        uv_walk(loop, close_any, NULL);
        drain(loop);
        uv_loop_close(loop);
        kito_db_library_end();
        return e == KITO_E_CONFIG ? 2 : 1;
    }
    const char *v6 = strchr(cfg.bind, ':') != NULL ? "[" : "";
    const char *v6e = *v6 ? "]" : "";
    if (cfg.http_port != 0)
        printf("kitod listening https://%s%s%s:%u http://%s%s%s:%u\n", v6, cfg.bind, v6e,
               (unsigned)cfg.https_port, v6, cfg.bind, v6e, (unsigned)cfg.http_port);
    else
        printf("kitod listening https://%s%s%s:%u\n", v6, cfg.bind, v6e, (unsigned)cfg.https_port);
    if (cfg.metrics_port != 0)
        printf("kitod metrics http://127.0.0.1:%u/metrics (loopback only)\n",
               (unsigned)cfg.metrics_port);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);

    drain(loop);
    kito_server_dispose(&server);
    uv_walk(loop, close_any, NULL);
    drain(loop);
    if (uv_loop_close(loop) != 0)
        kito_log(NULL, "warning: some handles were still open at exit");
    kito_db_library_end();
    kito_log(NULL, "stopped");
    return server.exit_code;
}
