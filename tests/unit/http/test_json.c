/* api/json: request bodies parsed with bounds and reasons; responses rendered compactly. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/json.h"
#include "api/common/validate.h"

static kito_err parse(const char *s, size_t max, kito_json_top top, json_t **out, char *reason)
{
    return kito_json_parse(s, strlen(s), max, top, out, reason);
}

Test(json, good_object)
{
    json_t *doc;
    char reason[KITO_JSON_REASON_SIZE];
    cr_assert_eq(parse("{\"amount_minor\": 1500, \"lot\": \"lot-1\"}", 1024, KITO_JSON_TOP_OBJECT,
                       &doc, reason),
                 KITO_OK, "%s", reason);
    cr_expect_eq(json_integer_value(json_object_get(doc, "amount_minor")), 1500);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "lot")), "lot-1");
    json_decref(doc);
}

Test(json, body_need_not_be_nul_terminated)
{
    const char buf[] = {'{', '}', 'X'};
    json_t *doc;
    cr_assert_eq(kito_json_parse(buf, 2, 10, KITO_JSON_TOP_OBJECT, &doc, NULL), KITO_OK);
    json_decref(doc);
}

Test(json, malformed_bodies)
{
    const char *bad[] = {
        "{",           "{\"a\":}",        "{\"a\":1,}",          "nul",
        "{\"a\":1} x", "{'a':1}",         "{\"a\":\"\\u0000\"}", "{\"a\":1,\"a\":2}",
        "\xff\xfe",    "{\"a\":\"\xc3\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *doc = (json_t *)1;
        char reason[KITO_JSON_REASON_SIZE] = "";
        cr_expect_eq(parse(bad[i], 1024, KITO_JSON_TOP_OBJECT, &doc, reason), KITO_E_MALFORMED_JSON,
                     "accepted: %s", bad[i]);
        cr_expect_null(doc);
        cr_expect_neq(reason[0], '\0', "no reason for %s", bad[i]);
    }
}

Test(json, empty_body_is_malformed)
{
    json_t *doc;
    char reason[KITO_JSON_REASON_SIZE];
    cr_expect_eq(kito_json_parse("", 0, 10, KITO_JSON_TOP_OBJECT, &doc, reason),
                 KITO_E_MALFORMED_JSON);
    cr_expect_eq(kito_json_parse(NULL, 0, 10, KITO_JSON_TOP_OBJECT, &doc, reason),
                 KITO_E_MALFORMED_JSON);
}

/* jansson quotes the bytes near an error; the reason goes into a JSON error body, so it is
 * always UTF-8 without control characters (found by fuzz_validate_json). */
Test(json, reason_is_always_utf8)
{
    json_t *doc;
    char reason[KITO_JSON_REASON_SIZE];
    static const char *const bodies[] = {"{\"a\":1,\"b\"\xa7"
                                         "co}",
                                         "{\"a\":\xff}", "{\"a\":\x01}", "{\"a\": tru\xc3}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        cr_expect_eq(parse(bodies[i], 100, KITO_JSON_TOP_OBJECT, &doc, reason),
                     KITO_E_MALFORMED_JSON);
        cr_expect(reason[0] != '\0');
        cr_expect(kito_utf8_valid(reason, strlen(reason), NULL), "body %zu: %s", i, reason);
        for (const char *c = reason; *c != '\0'; c++)
            cr_expect((unsigned char)*c >= 0x20, "body %zu: a control character", i);
    }
}

/* Expects body (with at most max bytes and top) to be refused with code, for a reason that
 * contains part. */
static void expect_refused(const char *body, size_t max, kito_json_top top, kito_err code,
                           const char *part)
{
    json_t *doc;
    char reason[KITO_JSON_REASON_SIZE] = "";
    cr_expect_eq(parse(body, max, top, &doc, reason), code, "%.60s", body);
    cr_expect(strstr(reason, part) != NULL, "%s", reason);
}

Test(json, reason_says_where)
{
    expect_refused("{\n  \"a\": tru }", 100, KITO_JSON_TOP_OBJECT, KITO_E_MALFORMED_JSON, "line 2");
}

Test(json, too_large)
{
    expect_refused("{\"a\":\"0123456789\"}", 10, KITO_JSON_TOP_OBJECT, KITO_E_PAYLOAD_TOO_LARGE,
                   "at most 10");
}

Test(json, too_deep_and_just_deep_enough)
{
    char deep[2 * (KITO_JSON_DEPTH_MAX + 1) + 1], ok[2 * KITO_JSON_DEPTH_MAX + 1];
    memset(deep, '[', KITO_JSON_DEPTH_MAX + 1);
    memset(deep + KITO_JSON_DEPTH_MAX + 1, ']', KITO_JSON_DEPTH_MAX + 1);
    deep[sizeof(deep) - 1] = '\0';
    memset(ok, '[', KITO_JSON_DEPTH_MAX);
    memset(ok + KITO_JSON_DEPTH_MAX, ']', KITO_JSON_DEPTH_MAX);
    ok[sizeof(ok) - 1] = '\0';
    expect_refused(deep, 1 << 20, KITO_JSON_TOP_ANY, KITO_E_MALFORMED_JSON, "nested");
    json_t *doc;
    char reason[KITO_JSON_REASON_SIZE];
    cr_assert_eq(parse(ok, 1 << 20, KITO_JSON_TOP_ANY, &doc, reason), KITO_OK, "%s", reason);
    json_decref(doc);
    /* a million brackets: refused without recursing */
    size_t n = 1000000;
    char *huge = malloc(n + 1);
    memset(huge, '{', n);
    huge[n] = '\0';
    cr_expect_eq(parse(huge, n, KITO_JSON_TOP_ANY, &doc, reason), KITO_E_MALFORMED_JSON);
    free(huge);
}

Test(json, depth_skips_brackets_in_strings)
{
    const char *s = "{\"a\":\"[[[[\\\"[[[\",\"b\":[1]}";
    cr_expect_eq(kito_json_depth(s, strlen(s), 32), 2);
    cr_expect_eq(kito_json_depth("42", 2, 32), 0);
}

Test(json, top_level_must_be_an_object)
{
    json_t *doc;
    char reason[KITO_JSON_REASON_SIZE];
    cr_expect_eq(parse("[1,2]", 100, KITO_JSON_TOP_OBJECT, &doc, reason), KITO_E_VALIDATION);
    cr_expect_null(doc);
    cr_expect_eq(parse("\"x\"", 100, KITO_JSON_TOP_OBJECT, &doc, reason), KITO_E_VALIDATION);
    cr_assert_eq(parse("[1,2]", 100, KITO_JSON_TOP_ANY, &doc, reason), KITO_OK);
    json_decref(doc);
}

Test(json, render_is_compact_and_ordered)
{
    json_t *doc = json_pack("{s:i,s:s,s:[b,n]}", "z", 1, "a", "é\"", "m", 1);
    size_t len;
    char *s = kito_json_render(doc, &len);
    cr_assert_not_null(s);
    cr_expect_str_eq(s, "{\"z\":1,\"a\":\"é\\\"\",\"m\":[true,null]}");
    cr_expect_eq(len, strlen(s));
    free(s);
    json_decref(doc);
}

Test(json, content_type)
{
    cr_expect(kito_json_is_content_type("application/json", 16));
    const char *a = "Application/JSON; charset=utf-8";
    cr_expect(kito_json_is_content_type(a, strlen(a)));
    const char *b = "application/jsonp";
    cr_expect_not(kito_json_is_content_type(b, strlen(b)));
    const char *c = "text/plain";
    cr_expect_not(kito_json_is_content_type(c, strlen(c)));
}
