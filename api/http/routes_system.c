/*
 * System routes: health, metrics, and the JSON echo. Thin handlers (CONVENTIONS.md, 10): the
 * work is in api/http/health.c and api/http/metrics.c.
 */
#include <stdlib.h>

#include "api/http/health.h"
#include "api/http/routes.h"
#include "api/http/metrics.h"
#include "api/http/request.h"
#include "api/http/server.h"

/* GET /healthz: 200 when Redis and MySQL both answer, 503 otherwise. */
kito_err kito_get_healthz(kito_req *r)
{
    int status;
    json_t *doc = kito_health_report(&r->server->health, &status);
    kito_respond_json(r, status, doc);
    return KITO_OK;
}

/* GET /metrics: Prometheus text format 0.0.4. Served on the loopback metrics listener only
 * (KITO_METRICS_PORT): the counters by route and status tell who bid when, which a sealed-bid
 * (tender) lot must not show the public (issue 15, finding 8). */
kito_err kito_get_metrics(kito_req *r)
{
    size_t len;
    r->server->metrics.redis_up = kito_redis_is_ok(&r->server->redis);
    r->server->metrics.mysql_up = kito_health_mysql_ok(&r->server->health);
    char *text = kito_metrics_render(&r->server->metrics, &len);
    if (text == NULL)
        return KITO_E_NOMEM;
    kito_respond_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return KITO_OK;
}

/* POST /v1/echo: returns {"echo": <the body>}. A cheap end-to-end check of the JSON path (body
 * limit, content type, parser) for clients and tests; it reads and writes no state. */
kito_err kito_post_echo(kito_req *r)
{
    kito_respond_json(r, 200, json_pack("{s:O}", "echo", r->body));
    return KITO_OK;
}
