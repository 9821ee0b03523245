#include "api/http/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/db.h"

typedef struct ping_job {
    kito_health *h;
    kito_err result;
    uint64_t started_ms;
    uint64_t finished_ms;
    char error[200];
} ping_job;

static void ping_run(void *worker_state, void *arg)
{
    ping_job *j = arg;
    j->started_ms = kito_db_now_ms();
    j->result = kito_db_ping(worker_state, j->error, sizeof(j->error));
    j->finished_ms = kito_db_now_ms();
}

static void ping_done(void *arg, kito_err status)
{
    ping_job *j = arg;
    kito_health *h = j->h;
    h->ping_in_flight = false;
    if (status == KITO_OK && j->result == KITO_OK) {
        h->mysql_ok = true;
        h->mysql_ok_ms = uv_now(h->loop);
        h->mysql_latency_ms = (double)(j->finished_ms - j->started_ms);
        h->mysql_error[0] = '\0';
    } else {
        h->mysql_ok = false;
        snprintf(h->mysql_error, sizeof(h->mysql_error), "%s",
                 status != KITO_OK ? "the worker pool stopped" : j->error);
    }
    free(j);
}

static void update_gauges(kito_health *h)
{
    if (h->metrics != NULL) {
        h->metrics->redis_up = kito_redis_is_ok(h->redis);
        h->metrics->mysql_up = kito_health_mysql_ok(h);
    }
}

static void on_timer(uv_timer_t *t)
{
    kito_health *h = t->data;
    update_gauges(h);
    if (h->ping_in_flight)
        return;
    ping_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return;
    j->h = h;
    kito_err e = kito_pool_submit(h->pool, ping_run, ping_done, j);
    if (e != KITO_OK) {
        free(j);
        h->mysql_ok = false;
        snprintf(h->mysql_error, sizeof(h->mysql_error), "cannot queue a ping: %s",
                 kito_err_message(e));
        return;
    }
    h->ping_in_flight = true;
    h->ping_sent_ms = uv_now(h->loop);
}

kito_err kito_health_start(kito_health *h, uv_loop_t *loop, kito_pool *pool, kito_redis *redis,
                           kito_metrics *metrics)
{
    memset(h, 0, sizeof(*h));
    h->loop = loop;
    h->pool = pool;
    h->redis = redis;
    h->metrics = metrics;
    snprintf(h->mysql_error, sizeof(h->mysql_error), "not connected yet");
    if (uv_timer_init(loop, &h->timer) != 0)
        return KITO_E_INTERNAL;
    h->timer_open = true;
    h->timer.data = h;
    uv_timer_start(&h->timer, on_timer, 0, KITO_HEALTH_MYSQL_PING_MS);
    return KITO_OK;
}

bool kito_health_mysql_ok(const kito_health *h)
{
    return h->mysql_ok && uv_now(h->loop) - h->mysql_ok_ms <= KITO_HEALTH_MYSQL_STALE_MS;
}

static json_t *service(bool ok, double latency_ms, const char *error)
{
    if (ok)
        return json_pack("{s:b,s:f}", "ok", 1, "latency_ms", latency_ms);
    return json_pack("{s:b,s:s}", "ok", 0, "error", error[0] != '\0' ? error : "unknown");
}

json_t *kito_health_report(kito_health *h, int *http_status)
{
    bool redis_ok = kito_redis_is_ok(h->redis);
    bool mysql_ok = kito_health_mysql_ok(h);
    const char *mysql_error = h->mysql_error;
    if (!mysql_ok && h->mysql_ok)
        mysql_error = "no successful ping recently";
    update_gauges(h);
    *http_status = redis_ok && mysql_ok ? 200 : 503;
    return json_pack("{s:s,s:o,s:o}", "status", redis_ok && mysql_ok ? "ok" : "degraded", "redis",
                     service(redis_ok, h->redis->latency_ms, h->redis->last_error), "mysql",
                     service(mysql_ok, h->mysql_latency_ms, mysql_error));
}

void kito_health_stop(kito_health *h)
{
    if (h->timer_open) {
        h->timer_open = false;
        uv_close((uv_handle_t *)&h->timer, NULL);
    }
}
