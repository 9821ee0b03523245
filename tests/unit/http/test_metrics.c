/* api/metrics: counting and the Prometheus text. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/metrics.h"

Test(metrics, counts_by_route_and_status)
{
    static kito_metrics m;
    kito_metrics_init(&m);
    kito_metrics_name_route(&m, 0, "/healthz");
    kito_metrics_observe(&m, 0, 200, 300);
    kito_metrics_observe(&m, 0, 200, 300);
    kito_metrics_observe(&m, 0, 503, 2000000);
    kito_metrics_observe(&m, KITO_METRICS_ROUTE_UNMATCHED, 404, 50);
    m.connections_open = 3;
    m.redis_up = true;
    size_t len;
    char *t = kito_metrics_render(&m, &len);
    cr_assert_not_null(t);
    cr_expect_eq(len, strlen(t));
    cr_expect(strstr(t, "kito_http_requests_total{route=\"/healthz\",status=\"200\"} 2\n"), "%s",
              t);
    cr_expect(strstr(t, "kito_http_requests_total{route=\"/healthz\",status=\"503\"} 1\n"));
    cr_expect(strstr(t, "kito_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
    cr_expect(strstr(t, "kito_http_request_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
    cr_expect(strstr(t, "kito_http_request_duration_seconds_bucket{le=\"0.0005\"} 3\n"));
    cr_expect(strstr(t, "kito_http_request_duration_seconds_bucket{le=\"2.5\"} 4\n"));
    cr_expect(strstr(t, "kito_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
    cr_expect(strstr(t, "kito_http_request_duration_seconds_count 4\n"));
    cr_expect(strstr(t, "kito_connections_open 3\n"));
    cr_expect(strstr(t, "kito_redis_up 1\n"));
    cr_expect(strstr(t, "kito_mysql_up 0\n"));
    free(t);
}

Test(metrics, series_table_is_bounded)
{
    static kito_metrics m;
    kito_metrics_init(&m);
    for (uint32_t route = 0; route < 200; route++)
        for (int status = 100; status < 110; status++)
            kito_metrics_observe(&m, route, status, 1);
    cr_expect_eq(m.series_dropped, 2000 - KITO_METRICS_SERIES_MAX);
    cr_expect_eq(m.latency_count, 2000, "the histogram still counts every request");
    kito_metrics_observe(&m, 99999, 200, 1);
    cr_expect_eq(m.series_dropped, 2000 - KITO_METRICS_SERIES_MAX + 1);
}

Test(metrics, labels_are_escaped)
{
    static kito_metrics m;
    kito_metrics_init(&m);
    kito_metrics_name_route(&m, 1, "a\"b\\c");
    kito_metrics_observe(&m, 1, 200, 1);
    char *t = kito_metrics_render(&m, NULL);
    cr_assert_not_null(t);
    cr_expect(strstr(t, "route=\"a\\\"b\\\\c\"") != NULL, "%s", t);
    free(t);
}
