/* Foundation: kitod over real TLS against the test Redis and MariaDB (issue 2). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(foundation, 60);

Test(foundation, healthz_over_http2_reports_both_services)
{
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", "/healthz", NULL, 0, NULL, KITO_HTTP_H2, &r), 0);
    cr_assert_eq(r.status, 200, "body: %s", r.body);
    cr_assert_eq(r.http_version, CURL_HTTP_VERSION_2_0, "negotiated HTTP version %ld",
                 r.http_version);
    cr_assert(r.json != NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    cr_assert(json_is_true(json_object_get(json_object_get(r.json, "redis"), "ok")));
    cr_assert(json_is_true(json_object_get(json_object_get(r.json, "mysql"), "ok")));
    char ct[128];
    cr_assert(kito_http_header(&r, "content-type", ct, sizeof(ct)));
    cr_assert(strstr(ct, "application/json") != NULL, "content-type %s", ct);
    kito_http_resp_free(&r);
}

Test(foundation, healthz_over_http1)
{
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", "/healthz", NULL, 0, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.http_version, CURL_HTTP_VERSION_1_1);
    kito_http_resp_free(&r);
}

Test(foundation, plain_http_redirects_to_https_keeping_path_and_query)
{
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", "/lots/7?lang=sw", NULL, 0, NULL, KITO_HTTP_PLAIN, &r), 0);
    cr_assert(r.status == 301 || r.status == 308, "status %ld", r.status);
    char loc[512], want[512];
    cr_assert(kito_http_header(&r, "location", loc, sizeof(loc)));
    snprintf(want, sizeof(want), ":%d/lots/7?lang=sw", kd.https_port);
    cr_assert(strncmp(loc, "https://", 8) == 0, "location %s", loc);
    cr_assert(strstr(loc, want) != NULL, "location %s, expected it to end in %s", loc, want);
    kito_http_resp_free(&r);
}

Test(foundation, unknown_path_is_404_in_the_error_shape)
{
    struct kito_http_resp r;
    kito_http_ok(&kd, "GET", "/v1/no-such-thing", NULL, &r);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
}

Test(foundation, wrong_method_is_405_with_allow)
{
    struct kito_http_resp r;
    kito_http_ok(&kd, "DELETE", "/healthz", NULL, &r);
    kito_assert_error(&r, 405, "method_not_allowed");
    char allow[64];
    cr_assert(kito_http_header(&r, "allow", allow, sizeof(allow)));
    cr_assert(strstr(allow, "GET") != NULL, "allow %s", allow);
    kito_http_resp_free(&r);
}

/* on the loopback metrics listener: the public port answers /metrics 404 (test_edge.c) */
Test(foundation, metrics_are_prometheus_text_and_count_requests)
{
    struct kito_http_resp r;
    kito_http_ok(&kd, "GET", "/v1/no-such-thing", NULL, &r);
    kito_http_resp_free(&r);
    cr_assert_eq(kito_http(&kd, "GET", "/metrics", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0);
    cr_assert_eq(r.status, 200);
    char ct[128];
    cr_assert(kito_http_header(&r, "content-type", ct, sizeof(ct)));
    cr_assert(strstr(ct, "text/plain") != NULL, "content-type %s", ct);
    cr_assert(strstr(r.body, "# TYPE") != NULL, "no TYPE lines: %.400s", r.body);
    cr_assert(strstr(r.body, "404") != NULL, "the 404 above is not counted: %.2000s", r.body);
    cr_assert(strstr(r.body, "_bucket{") != NULL, "no latency histogram: %.2000s", r.body);
    kito_http_resp_free(&r);
}

Test(foundation, storefront_index_is_served)
{
    struct kito_http_resp r;
    kito_http_ok(&kd, "GET", "/", NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "<html") != NULL || strstr(r.body, "<!doctype") != NULL ||
                  strstr(r.body, "<!DOCTYPE") != NULL,
              "not HTML: %.200s", r.body);
    kito_http_resp_free(&r);
}

Test(foundation, hostile_requests_do_not_crash_the_server)
{
    static const char *const paths[] = {
        "/%00", "/..%2f..%2fetc/passwd", "/v1/%ff%fe", "/healthz?%%%", "/////", "/v1/lots/%",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct kito_http_resp r;
        kito_http_ok(&kd, "GET", paths[i], NULL, &r);
        cr_assert(r.status >= 200 && r.status < 500, "%s: status %ld", paths[i], r.status);
        cr_assert(strstr(r.body, "root:") == NULL, "%s leaked a file", paths[i]);
        kito_http_resp_free(&r);
    }
    struct kito_http_resp r;
    kito_http_ok(&kd, "GET", "/healthz", NULL, &r);
    cr_assert_eq(r.status, 200, "server unhealthy after hostile requests");
    kito_http_resp_free(&r);
}

Test(foundation, sigterm_exits_cleanly)
{
    int st = kito_harness_kitod_stop(&kd, 8000);
    cr_assert(WIFEXITED(st), "kitod did not exit by itself on SIGTERM (status %d)", st);
    cr_assert_eq(WEXITSTATUS(st), 0, "exit code %d; see %s", WEXITSTATUS(st), kd.log_path);
}
