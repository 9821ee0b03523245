/*
 * Service health for GET /healthz and the up gauges in /metrics: Redis from the kito_redis link
 * (PINGed on the loop), MySQL from a ping job submitted to the worker pool every
 * KITO_HEALTH_MYSQL_PING_MS (the ping itself runs on a worker: MySQL never blocks the loop).
 * Loop thread only.
 */
#ifndef KITO_HEALTH_H
#define KITO_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "api/http/metrics.h"
#include "api/adapters/redis.h"
#include "api/store/worker_pool.h"
#include "engine/err.h"

#define KITO_HEALTH_MYSQL_PING_MS 500
/* MySQL counts as down when no ping succeeded for this long (a ping stuck behind a hung
 * server, or a queue full of slow jobs, shows as an outage rather than as stale "ok"). */
#define KITO_HEALTH_MYSQL_STALE_MS 2500

typedef struct kito_health {
    uv_loop_t *loop;
    kito_pool *pool;       /* borrowed */
    kito_redis *redis;     /* borrowed */
    kito_metrics *metrics; /* borrowed; its up gauges are kept current */
    uv_timer_t timer;
    bool timer_open;
    bool ping_in_flight;
    bool mysql_ok; /* the last ping succeeded */
    uint64_t ping_sent_ms;
    uint64_t mysql_ok_ms; /* when a ping last succeeded */
    double mysql_latency_ms;
    char mysql_error[200];
} kito_health;

/* Starts pinging MySQL through pool. KITO_E_INTERNAL if the timer cannot be created. */
kito_err kito_health_start(kito_health *h, uv_loop_t *loop, kito_pool *pool, kito_redis *redis,
                           kito_metrics *metrics);

/* Whether each service answers now. */
bool kito_health_mysql_ok(const kito_health *h);

/* The /healthz document, {"status": "ok"|"degraded", "redis": {"ok": ...}, "mysql": {...}}, and
 * its status in *http_status (200 when both answer, else 503). New reference; NULL on OOM. */
json_t *kito_health_report(kito_health *h, int *http_status);

/* Stops the timer (closed on the next loop turn). A ping in flight finishes through the pool. */
void kito_health_stop(kito_health *h);

#endif
