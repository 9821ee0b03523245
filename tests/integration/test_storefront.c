/*
 * What the storefront's pages need of the server (issue 16): the browser's session in an HttpOnly
 * cookie (the same session as a bearer token), cross-site requests refused, bearer clients
 * unchanged, an HTML 404 page for unknown pages, and the security headers on every page.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(storefront, 60);

static char origin_ok[64];

/* One request with up to three header lines (NULL-terminated list), JSON body or NULL. */
static struct kito_http_resp req(const char *method, const char *path, const char *json,
                                 const char *h1, const char *h2, const char *h3)
{
    const char *headers[5] = {"Content-Type: application/json", h1, h2, h3, NULL};
    struct kito_http_resp r;
    int rc = kito_http(&kd, method, path, json, json != NULL ? strlen(json) : 0, headers, 0, &r);
    cr_assert_eq(rc, 0, "%s %s: no response", method, path);
    return r;
}

/* Signs a fresh buyer in as a page does; her cookie header line ("Cookie: __Host-kito=...")
 * goes into cookie. */
static void page_sign_in(char *cookie, size_t cap)
{
    char email[128], body[256], set[512];
    kito_harness_account("buyer", email, sizeof(email));
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"cookie\":true}", email,
             KITO_HARNESS_PASSWORD);
    snprintf(origin_ok, sizeof(origin_ok), "Origin: https://localhost:%d", kd.https_port);
    struct kito_http_resp r = req("POST", "/v1/sessions", body, origin_ok, NULL, NULL);
    kito_harness_expect(&r, 201, "page sign-in");
    cr_assert(json_object_get(r.json, "token") == NULL, "the token stays out of the page's reach");
    cr_assert(json_object_get(r.json, "account") != NULL);
    cr_assert(kito_http_header(&r, "set-cookie", set, sizeof(set)), "no cookie: %s", r.headers);
    cr_assert(strncmp(set, "__Host-kito=", 12) == 0, "%s", set);
    cr_assert(strstr(set, "; HttpOnly") && strstr(set, "; Secure") &&
                  strstr(set, "; SameSite=Lax") && strstr(set, "; Path=/") &&
                  strstr(set, "; Max-Age="),
              "%s", set);
    snprintf(cookie, cap, "Cookie: %.*s", (int)strcspn(set, ";"), set);
    kito_http_resp_free(&r);
}

Test(storefront, a_page_signs_in_with_a_cookie_and_signs_out)
{
    char cookie[160];
    page_sign_in(cookie, sizeof(cookie));
    struct kito_http_resp r = req("GET", "/v1/accounts/me", NULL, cookie, NULL, NULL);
    kito_harness_expect(&r, 200, "me by cookie");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "role")), "buyer");
    kito_http_resp_free(&r);

    /* signing out from another site, or with no Origin: refused, and the session lives on */
    r = req("DELETE", "/v1/sessions/current", NULL, cookie, "Origin: https://evil.example", NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = req("DELETE", "/v1/sessions/current", NULL, cookie, NULL, NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = req("DELETE", "/v1/sessions/current", NULL, cookie, "Origin: http://localhost", NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    /* a same-origin fetch without Origin says so in Sec-Fetch-Site; a cross-site one does not */
    r = req("DELETE", "/v1/sessions/current", NULL, cookie, "Sec-Fetch-Site: cross-site", NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = req("GET", "/v1/accounts/me", NULL, cookie, NULL, NULL);
    kito_harness_expect(&r, 200, "still signed in");
    kito_http_resp_free(&r);

    /* from the page itself: signed out, and the cookie cleared */
    char set[256];
    r = req("DELETE", "/v1/sessions/current", NULL, cookie, origin_ok, NULL);
    kito_harness_expect(&r, 204, "sign out");
    cr_assert(kito_http_header(&r, "set-cookie", set, sizeof(set)));
    cr_assert(strncmp(set, "__Host-kito=;", 13) == 0 && strstr(set, "Max-Age=0") != NULL, "%s",
              set);
    kito_http_resp_free(&r);
    r = req("GET", "/v1/accounts/me", NULL, cookie, NULL, NULL);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    /* a public page's data with the stale cookie: anonymous, not an error */
    r = req("GET", "/v1/sales", NULL, cookie, NULL, NULL);
    kito_harness_expect(&r, 200, "public list with a stale cookie");
    cr_assert(kito_http_header(&r, "set-cookie", set, sizeof(set)) && strstr(set, "Max-Age=0"),
              "a stale cookie is cleared: %s", r.headers);
    kito_http_resp_free(&r);
    r = req("GET", "/v1/sales", NULL, "Cookie: __Host-kito=not-a-token", NULL, NULL);
    kito_harness_expect(&r, 200, "public list with a malformed cookie");
    kito_http_resp_free(&r);
}

Test(storefront, a_cookie_session_starts_only_from_a_kito_page)
{
    char email[128], body[256];
    kito_harness_account("buyer", email, sizeof(email));
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\",\"cookie\":true}", email,
             KITO_HARNESS_PASSWORD);
    struct kito_http_resp r =
        req("POST", "/v1/sessions", body, "Origin: https://evil.example", NULL, NULL);
    kito_assert_error(&r, 403, "forbidden");
    cr_assert(!kito_http_header(&r, "set-cookie", body, sizeof(body)));
    kito_http_resp_free(&r);
    r = req("POST", "/v1/sessions", body, NULL, NULL, NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
}

Test(storefront, bearer_clients_are_unchanged)
{
    char email[128], body[256], auth[128], buf[256];
    kito_harness_account("buyer", email, sizeof(email));
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email,
             KITO_HARNESS_PASSWORD);
    struct kito_http_resp r = req("POST", "/v1/sessions", body, NULL, NULL, NULL);
    kito_harness_expect(&r, 201, "API sign-in");
    const char *token = json_string_value(json_object_get(r.json, "token"));
    cr_assert(token != NULL);
    cr_assert(!kito_http_header(&r, "set-cookie", buf, sizeof(buf)), "no cookie for API clients");
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    kito_http_resp_free(&r);
    /* no Origin needed with a bearer token, and a cookie beside it is not looked at */
    r = req("GET", "/v1/accounts/me", NULL, auth, "Cookie: __Host-kito=not-a-token", NULL);
    kito_harness_expect(&r, 200, "me by bearer");
    kito_http_resp_free(&r);
    r = req("DELETE", "/v1/sessions/current", NULL, auth, NULL, NULL);
    kito_harness_expect(&r, 204, "bearer sign-out without Origin");
    kito_http_resp_free(&r);
}

Test(storefront, unknown_pages_get_an_html_page_and_the_api_json)
{
    char ct[128];
    struct kito_http_resp r = req("GET", "/no-such-page.html", NULL, NULL, NULL, NULL);
    cr_assert_eq(r.status, 404);
    cr_assert(kito_http_header(&r, "content-type", ct, sizeof(ct)));
    cr_assert(strncmp(ct, "text/html", 9) == 0, "%s", ct);
    cr_assert(strstr(r.body, "<html") != NULL && strstr(r.body, "href=\"/\"") != NULL, "%s",
              r.body);
    kito_http_resp_free(&r);
    r = req("GET", "/v1/no-such-thing", NULL, NULL, NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = req("POST", "/no-such-page", "{}", NULL, NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
}

Test(storefront, pages_carry_the_security_headers)
{
    const char *paths[] = {"/", "/lot.html", "/no-such-page", "/v1/sales"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char v[512];
        struct kito_http_resp r = req("GET", paths[i], NULL, NULL, NULL, NULL);
        cr_assert(kito_http_header(&r, "content-security-policy", v, sizeof(v)), "%s: no CSP",
                  paths[i]);
        cr_assert(strstr(v, "default-src 'self'") && strstr(v, "frame-ancestors 'none'") &&
                      strstr(v, "script-src 'self'") && !strstr(v, "unsafe-inline"),
                  "%s: %s", paths[i], v);
        cr_assert(kito_http_header(&r, "referrer-policy", v, sizeof(v)), "%s", paths[i]);
        cr_assert(kito_http_header(&r, "strict-transport-security", v, sizeof(v)), "%s", paths[i]);
        cr_assert(kito_http_header(&r, "x-content-type-options", v, sizeof(v)), "%s", paths[i]);
        kito_http_resp_free(&r);
    }
}

Test(storefront, pages_are_compressed_and_revalidated)
{
    char v[128];
    struct kito_http_resp r = req("GET", "/lot.js", NULL, "Accept-Encoding: gzip", NULL, NULL);
    kito_harness_expect(&r, 200, "a script");
    cr_assert(kito_http_header(&r, "content-encoding", v, sizeof(v)) && strcmp(v, "gzip") == 0,
              "not compressed: %s", r.headers);
    cr_assert(kito_http_header(&r, "cache-control", v, sizeof(v)) && strcmp(v, "no-cache") == 0,
              "%s", r.headers);
    cr_assert(kito_http_header(&r, "etag", v, sizeof(v)), "revalidated by its ETag");
    kito_http_resp_free(&r);
    /* without Accept-Encoding, the bytes as they are */
    r = req("GET", "/lot.js", NULL, NULL, NULL, NULL);
    cr_assert(!kito_http_header(&r, "content-encoding", v, sizeof(v)));
    cr_assert(strstr(r.body, "import") != NULL);
    kito_http_resp_free(&r);
}

/* Issue 16, "Serving": scripts and styles have versioned URLs (api/http/assets.h); the current
 * version is cached for a year, anything else (no version, an old one, a page) is revalidated. */
Test(storefront, versioned_scripts_and_styles_are_cached_for_a_year)
{
    char v[128], url[96], etag[64];
    struct kito_http_resp r = req("GET", "/sale.html", NULL, NULL, NULL, NULL);
    kito_harness_expect(&r, 200, "a page");
    cr_assert(kito_http_header(&r, "cache-control", v, sizeof(v)) && strcmp(v, "no-cache") == 0,
              "a page is revalidated: %s", r.headers);
    cr_assert(strstr(r.body, "href=\"/app.css?v=") != NULL, "%s", r.body);
    const char *script = strstr(r.body, "src=\"/sale.js?v=");
    cr_assert_not_null(script, "%s", r.body);
    script += strlen("src=\"");
    size_t n = strcspn(script, "\"");
    cr_assert_eq(n, strlen("/sale.js?v=") + 12, "a 12-digit version: %.*s", (int)n, script);
    snprintf(url, sizeof(url), "%.*s", (int)n, script);
    kito_http_resp_free(&r);

    r = req("GET", url, NULL, NULL, NULL, NULL);
    kito_harness_expect(&r, 200, url);
    cr_assert(kito_http_header(&r, "cache-control", v, sizeof(v)) &&
                  strcmp(v, "public, max-age=31536000, immutable") == 0,
              "the current version is cached: %s", r.headers);
    cr_assert(kito_http_header(&r, "content-type", v, sizeof(v)) &&
                  strcmp(v, "application/javascript") == 0,
              "%s", r.headers);
    cr_assert(strstr(r.body, "from '/api.js?v=") != NULL, "its imports are versioned too");
    cr_assert(kito_http_header(&r, "etag", etag, sizeof(etag)));
    kito_http_resp_free(&r);

    /* an old version, or none: revalidated; by its ETag, a 304 */
    static const char *const others[] = {"/sale.js?v=000000000000", "/sale.js"};
    for (size_t i = 0; i < 2; i++) {
        r = req("GET", others[i], NULL, NULL, NULL, NULL);
        kito_harness_expect(&r, 200, others[i]);
        cr_assert(kito_http_header(&r, "cache-control", v, sizeof(v)) && strcmp(v, "no-cache") == 0,
                  "%s: %s", others[i], r.headers);
        kito_http_resp_free(&r);
    }
    char inm[96];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    r = req("GET", "/sale.js", NULL, inm, NULL, NULL);
    kito_harness_expect(&r, 304, "unchanged");
    kito_http_resp_free(&r);
}

/* The pair's item in an exchange-rates answer, or NULL (borrowed from r). */
static json_t *fx_item(const struct kito_http_resp *r, const char *from, const char *to, int *count)
{
    json_t *item, *hit = NULL;
    size_t i;
    *count = 0;
    json_array_foreach(json_object_get(r->json, "items"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "from")), from) == 0 &&
            strcmp(json_string_value(json_object_get(item, "to")), to) == 0) {
            hit = item;
            (*count)++;
        }
    }
    return hit;
}

/* Issue 16, "Language and money": estimates in a buyer's currency come from the operator's
 * recorded rates, the current one of each pair (not an older one, not one dated in the future),
 * with the time it took effect, so the page can say "at the rate of <date>". */
Test(storefront, exchange_rates_are_the_current_ones_with_their_date)
{
    kito_harness_sql("INSERT INTO exchange_rates (from_currency, to_currency, rate_micros,"
                     " effective_from) VALUES ('GBP', 'TZS', 3000000000,"
                     " UTC_TIMESTAMP(3) - INTERVAL 2 DAY), ('GBP', 'TZS', 3100000000,"
                     " UTC_TIMESTAMP(3) - INTERVAL 1 HOUR), ('GBP', 'TZS', 9999000000,"
                     " UTC_TIMESTAMP(3) + INTERVAL 1 DAY), ('GBP', 'ZMW', 33500000,"
                     " UTC_TIMESTAMP(3) - INTERVAL 3 DAY)");
    int n;
    struct kito_http_resp r = req("GET", "/v1/exchange-rates?from=GBP", NULL, NULL, NULL, NULL);
    kito_harness_expect(&r, 200, "rates from GBP");
    json_t *tzs = fx_item(&r, "GBP", "TZS", &n);
    cr_assert_eq(n, 1, "one current rate a pair, not %d", n);
    cr_assert_eq(json_integer_value(json_object_get(tzs, "rate_micros")), 3100000000LL,
                 "the latest rate in effect, not an older or a future one");
    const char *since = json_string_value(json_object_get(tzs, "effective_from"));
    cr_assert(since != NULL && strlen(since) >= 20 && since[strlen(since) - 1] == 'Z',
              "a UTC time: %s", since ? since : "(none)");
    cr_assert_not_null(fx_item(&r, "GBP", "ZMW", &n));
    json_t *item;
    size_t i;
    json_array_foreach(json_object_get(r.json, "items"), i, item)
        cr_assert_str_eq(json_string_value(json_object_get(item, "from")), "GBP");
    kito_http_resp_free(&r);

    r = req("GET", "/v1/exchange-rates", NULL, NULL, NULL, NULL);
    kito_harness_expect(&r, 200, "all rates");
    cr_assert_not_null(fx_item(&r, "GBP", "TZS", &n));
    cr_assert_eq(n, 1);
    kito_http_resp_free(&r);

    static const char *const bad[] = {"/v1/exchange-rates?from=XYZ", "/v1/exchange-rates?from=usd",
                                      "/v1/exchange-rates?to=KES"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        r = req("GET", bad[k], NULL, NULL, NULL, NULL);
        kito_assert_error(&r, 422, "validation_failed");
        kito_http_resp_free(&r);
    }
}
