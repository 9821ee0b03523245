/* api/access_log: one valid JSON object per line, whatever the client sent. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "api/http/access_log.h"

Test(access_log, a_line_is_json_with_every_field)
{
    const char path[] = "/v1/\"x\"\\\n\x01\xff?q=1";
    kito_access_entry e = {"GET", 3,    path,     sizeof(path) - 1, 404,
                           61,    1234, "HTTP/2", "127.0.0.1:5000", "unmatched",
                           true};
    char line[8192];
    size_t n = kito_access_log_format(&e, 1700000000123LL, line, sizeof(line));
    cr_assert(n > 0 && line[n - 1] == '\n');
    cr_expect_null(memchr(line, '\n', n - 1), "one line only");
    json_error_t jerr;
    json_t *doc = json_loadb(line, n, 0, &jerr);
    cr_assert_not_null(doc, "%s: %s", line, jerr.text);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "time")), "2023-11-14T22:13:20.123Z");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "method")), "GET");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "path")),
                     "/v1/\"x\"\\\n\x01\xc3\xbf?q=1");
    cr_expect_eq(json_integer_value(json_object_get(doc, "status")), 404);
    cr_expect_eq(json_integer_value(json_object_get(doc, "bytes")), 61);
    cr_expect_eq(json_integer_value(json_object_get(doc, "duration_us")), 1234);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "protocol")), "HTTP/2");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "remote")), "127.0.0.1:5000");
    cr_expect_str_eq(json_string_value(json_object_get(doc, "route")), "unmatched");
    cr_expect(json_is_true(json_object_get(doc, "abandoned")));
    json_decref(doc);
}

Test(access_log, long_paths_are_cut)
{
    static char path[5000];
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    kito_access_entry e = {"GET", 3,          path, sizeof(path), 200,  0,
                           1,     "HTTP/1.1", "-",  "static",     false};
    char line[1024 + 6 * KITO_ACCESS_LOG_PATH_MAX];
    size_t n = kito_access_log_format(&e, 0, line, sizeof(line));
    json_t *doc = json_loadb(line, n, 0, NULL);
    cr_assert_not_null(doc, "%s", line);
    const char *p = json_string_value(json_object_get(doc, "path"));
    cr_expect_eq(strlen(p), KITO_ACCESS_LOG_PATH_MAX + 3);
    cr_expect_str_eq(p + KITO_ACCESS_LOG_PATH_MAX, "...");
    cr_expect_null(json_object_get(doc, "abandoned"));
    json_decref(doc);
}

/* The line byte for byte (written by hand since it runs per request; it was printf's). */
Test(access_log, the_exact_line)
{
    kito_access_entry e = {"POST",
                           4,
                           "/v1/lots/lot_1/bids",
                           19,
                           201,
                           450,
                           4828,
                           "HTTP/1.1",
                           "127.0.0.1:5000",
                           "/v1/lots/{id}/bids",
                           false};
    char line[2048];
    size_t n = kito_access_log_format(&e, 1700000000005LL, line, sizeof(line));
    const char want[] = "{\"time\":\"2023-11-14T22:13:20.005Z\",\"method\":\"POST\",\"path\":"
                        "\"/v1/lots/lot_1/bids\",\"status\":201,\"bytes\":450,\"duration_us\":"
                        "4828,\"protocol\":\"HTTP/1.1\",\"remote\":\"127.0.0.1:5000\",\"route\":"
                        "\"/v1/lots/{id}/bids\"}\n";
    cr_expect_str_eq(line, want);
    cr_expect_eq(n, sizeof(want) - 1);
    e.abandoned = true;
    e.status = 0;
    n = kito_access_log_format(&e, 0, line, sizeof(line));
    cr_expect_str_eq(line, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"method\":\"POST\",\"path\":"
                           "\"/v1/lots/lot_1/bids\",\"status\":0,\"bytes\":450,\"duration_us\":"
                           "4828,\"protocol\":\"HTTP/1.1\",\"remote\":\"127.0.0.1:5000\",\"route\":"
                           "\"/v1/lots/{id}/bids\",\"abandoned\":true}\n");
    /* a short buffer: cut, never overrun, still a C string */
    char small[24];
    memset(small, 'x', sizeof(small));
    n = kito_access_log_format(&e, 0, small, sizeof(small));
    cr_expect_eq(n, sizeof(small) - 1);
    cr_expect_eq(strlen(small), n);
}
