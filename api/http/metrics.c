#include "api/http/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds of the latency buckets, in microseconds (rendered in seconds). */
static const uint64_t BUCKET_US[KITO_METRICS_BUCKETS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

void kito_metrics_init(kito_metrics *m)
{
    memset(m, 0, sizeof(*m));
    m->route_names[KITO_METRICS_ROUTE_STATIC] = "static";
    m->route_names[KITO_METRICS_ROUTE_UNMATCHED] = "unmatched";
    m->route_names[KITO_METRICS_ROUTE_REDIRECT] = "redirect";
    m->route_names[KITO_METRICS_ROUTE_OPS_METRICS] = "/metrics (loopback)";
    m->route_names[KITO_METRICS_ROUTE_OPS_HEALTHZ] = "/healthz (loopback)";
}

void kito_metrics_name_route(kito_metrics *m, uint32_t route, const char *name)
{
    if (route < KITO_METRICS_ROUTE_COUNT)
        m->route_names[route] = name;
}

void kito_metrics_observe(kito_metrics *m, uint32_t route, int status, uint64_t duration_us)
{
    if (route >= KITO_METRICS_ROUTE_COUNT || status < 0 || status > 999) {
        m->series_dropped++;
    } else {
        uint32_t h = (route * 1000u + (uint32_t)status) * 2654435761u;
        size_t i = h % KITO_METRICS_SERIES_MAX, probes = 0;
        for (; probes < KITO_METRICS_SERIES_MAX; probes++, i = (i + 1) % KITO_METRICS_SERIES_MAX) {
            if (m->series[i].route == 0) {
                m->series[i].route = (uint16_t)(route + 1);
                m->series[i].status = (uint16_t)status;
                m->series[i].count = 1;
                break;
            }
            if (m->series[i].route == route + 1 && m->series[i].status == status) {
                m->series[i].count++;
                break;
            }
        }
        if (probes == KITO_METRICS_SERIES_MAX)
            m->series_dropped++;
    }
    for (size_t b = 0; b < KITO_METRICS_BUCKETS; b++) {
        if (duration_us <= BUCKET_US[b]) {
            m->latency_buckets[b]++;
            break;
        }
    }
    m->latency_count++;
    m->latency_sum_us += duration_us;
}

/* A growable text buffer; on allocation failure it stops growing and remembers it. */
typedef struct text {
    char *buf;
    size_t len, cap;
    bool failed;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *nb = realloc(t->buf, cap);
        if (nb == NULL) {
            t->failed = true;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

/* Appends name as a label value: backslash, quote and newline escaped. */
static void add_label(text *t, const char *name)
{
    for (const char *p = name != NULL ? name : "unknown"; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            add(t, "\\%c", *p);
        else if (*p == '\n')
            add(t, "\\n");
        else
            add(t, "%c", *p);
    }
}

char *kito_metrics_render(const kito_metrics *m, size_t *len)
{
    text t = {.buf = malloc(4096), .cap = 4096};
    if (t.buf == NULL)
        return NULL;
    t.buf[0] = '\0';

    add(&t, "# HELP kito_http_requests_total HTTP requests answered, by route and status.\n"
            "# TYPE kito_http_requests_total counter\n");
    for (size_t i = 0; i < KITO_METRICS_SERIES_MAX; i++) {
        if (m->series[i].route == 0)
            continue;
        add(&t, "kito_http_requests_total{route=\"");
        add_label(&t, m->route_names[m->series[i].route - 1]);
        add(&t, "\",status=\"%u\"} %llu\n", (unsigned)m->series[i].status,
            (unsigned long long)m->series[i].count);
    }
    add(&t,
        "# HELP kito_http_requests_uncounted_total Requests left out of kito_http_requests_total "
        "(too many distinct series).\n# TYPE kito_http_requests_uncounted_total counter\n"
        "kito_http_requests_uncounted_total %llu\n",
        (unsigned long long)m->series_dropped);

    add(&t, "# HELP kito_http_request_duration_seconds Time from the request's start to the end "
            "of its response.\n# TYPE kito_http_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < KITO_METRICS_BUCKETS; b++) {
        cumulative += m->latency_buckets[b];
        add(&t, "kito_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
            (double)BUCKET_US[b] / 1e6, (unsigned long long)cumulative);
    }
    add(&t,
        "kito_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
        "kito_http_request_duration_seconds_sum %.6f\n"
        "kito_http_request_duration_seconds_count %llu\n",
        (unsigned long long)m->latency_count, (double)m->latency_sum_us / 1e6,
        (unsigned long long)m->latency_count);

    add(&t,
        "# HELP kito_connections_open Client connections open now.\n"
        "# TYPE kito_connections_open gauge\nkito_connections_open %lld\n"
        "# HELP kito_connections_accepted_total Client connections accepted.\n"
        "# TYPE kito_connections_accepted_total counter\nkito_connections_accepted_total %llu\n"
        "# HELP kito_connections_rejected_total Connections closed at once because "
        "KITO_MAX_CONNECTIONS were open (the metrics listener has a bound of its own), or kitod "
        "was stopping.\n"
        "# TYPE kito_connections_rejected_total counter\nkito_connections_rejected_total %llu\n"
        "# HELP kito_connections_rejected_per_address_total Connections closed at once because "
        "their address held KITO_MAX_CONNECTIONS_PER_ADDRESS.\n"
        "# TYPE kito_connections_rejected_per_address_total counter\n"
        "kito_connections_rejected_per_address_total %llu\n"
        "# HELP kito_http1_framing_refused_total HTTP/1.1 requests answered 400 and closed: "
        "Content-Length with Transfer-Encoding, Content-Lengths that differ, Transfer-Encoding "
        "twice (RFC 9112, 6.3).\n"
        "# TYPE kito_http1_framing_refused_total counter\nkito_http1_framing_refused_total %llu\n"
        "# HELP kito_h2_streams_abandoned_total HTTP/2 streams the client ended before the "
        "response left.\n"
        "# TYPE kito_h2_streams_abandoned_total counter\nkito_h2_streams_abandoned_total %llu\n"
        "# HELP kito_h2_connections_cut_total HTTP/2 connections closed by the rapid-reset "
        "guard.\n"
        "# TYPE kito_h2_connections_cut_total counter\nkito_h2_connections_cut_total %llu\n"
        "# HELP kito_redis_up 1 when Redis answers PING.\n"
        "# TYPE kito_redis_up gauge\nkito_redis_up %d\n"
        "# HELP kito_mysql_up 1 when MySQL answers ping.\n"
        "# TYPE kito_mysql_up gauge\nkito_mysql_up %d\n",
        (long long)m->connections_open, (unsigned long long)m->connections_accepted,
        (unsigned long long)m->connections_rejected,
        (unsigned long long)m->connections_rejected_per_address,
        (unsigned long long)m->http1_framing_refused, (unsigned long long)m->h2_streams_abandoned,
        (unsigned long long)m->h2_connections_cut, m->redis_up ? 1 : 0, m->mysql_up ? 1 : 0);

    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    if (len != NULL)
        *len = t.len;
    return t.buf;
}
