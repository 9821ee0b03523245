/*
 * Process metrics in the Prometheus text exposition format (GET /metrics on the loopback metrics
 * listener, KITO_METRICS_PORT; never on the public port: issue 15, finding 8): requests by route
 * and status, a request latency histogram, connections, the HTTP/2 reset guard, and whether Redis
 * and MySQL answer. Plain counters owned by the loop thread: no locks, no allocation when counting.
 */
#ifndef KITO_METRICS_H
#define KITO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http/router.h"

/* Route ids are router indexes (0 .. KITO_ROUTES_MAX - 1) and these. */
enum {
    KITO_METRICS_ROUTE_STATIC = KITO_ROUTES_MAX, /* files from the storefront */
    KITO_METRICS_ROUTE_UNMATCHED,                /* 404 and 405 answered by the router */
    KITO_METRICS_ROUTE_REDIRECT,                 /* the plain-HTTP listener */
    KITO_METRICS_ROUTE_OPS_METRICS,              /* GET /metrics on the metrics listener */
    KITO_METRICS_ROUTE_OPS_HEALTHZ,              /* GET /healthz on the metrics listener */
    KITO_METRICS_ROUTE_COUNT
};

#define KITO_METRICS_SERIES_MAX 1024 /* distinct (route, status) pairs counted */
#define KITO_METRICS_BUCKETS 16      /* latency histogram buckets, +Inf apart */

typedef struct kito_metrics {
    const char *route_names[KITO_METRICS_ROUTE_COUNT]; /* labels; borrowed, NULL = unused */
    struct {
        uint16_t route;  /* route id + 1; 0 = empty slot */
        uint16_t status; /* HTTP status */
        uint64_t count;
    } series[KITO_METRICS_SERIES_MAX]; /* open addressing on (route, status) */
    uint64_t series_dropped;           /* requests not counted because the table was full */
    uint64_t latency_buckets[KITO_METRICS_BUCKETS]; /* cumulative at render time, not here */
    uint64_t latency_count;
    uint64_t latency_sum_us;
    int64_t connections_open;      /* gauge */
    uint64_t connections_accepted; /* counter */
    uint64_t connections_rejected; /* closed at once: over KITO_MAX_CONNECTIONS (or the metrics
                                      listener's KITO_METRICS_CONNECTIONS_MAX), or stopping */
    uint64_t connections_rejected_per_address; /* closed at once: the client's address held
                                                  KITO_MAX_CONNECTIONS_PER_ADDRESS */
    uint64_t http1_framing_refused;            /* 400 + close: ambiguous framing (RFC 9112, 6.3) */
    uint64_t h2_streams_abandoned; /* streams the client ended before our response left */
    uint64_t h2_connections_cut;   /* connections closed by the rapid-reset guard */
    bool redis_up;
    bool mysql_up;
} kito_metrics;

/* Zeroes m and names the special routes. */
void kito_metrics_init(kito_metrics *m);

/* Labels route id (a router index) with name (borrowed; must outlive m). */
void kito_metrics_name_route(kito_metrics *m, uint32_t route, const char *name);

/* Counts one finished request. Never fails: beyond KITO_METRICS_SERIES_MAX distinct pairs the
 * request only counts in series_dropped (and the histogram). */
void kito_metrics_observe(kito_metrics *m, uint32_t route, int status, uint64_t duration_us);

/* Renders everything as Prometheus text into a new NUL-terminated buffer (free with free());
 * its length goes to *len. NULL when memory runs out. */
char *kito_metrics_render(const kito_metrics *m, size_t *len);

#endif
