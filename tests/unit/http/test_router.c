/* api/router: matching, parameters, precedence, and 404 versus 405. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/http/router.h"

static kito_err h_a(struct kito_req *r)
{
    (void)r;
    return KITO_OK;
}

static kito_err h_b(struct kito_req *r)
{
    (void)r;
    return KITO_OK;
}

static kito_router rt;

static void setup(void)
{
    kito_router_init(&rt);
    const kito_route routes[] = {
        {KITO_METHOD_GET, "/healthz", h_a, 0, 0, NULL},
        {KITO_METHOD_GET, "/v1/lots/{id}", h_a, 0, 0, NULL},
        {KITO_METHOD_GET, "/v1/lots/search", h_b, 0, 0, "lot search"},
        {KITO_METHOD_POST, "/v1/lots/{lot_id}/bids", h_b, 1024, KITO_ROUTE_JSON_BODY, NULL},
        {KITO_METHOD_GET, "/v1/lots/{lot_id}/bids", h_a, 0, 0, NULL},
        {KITO_METHOD_DELETE, "/v1/sales/{sale}/lots/{lot}", h_a, 0, 0, NULL},
        {KITO_METHOD_GET, "/", h_b, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        cr_assert_eq(kito_router_add(&rt, &routes[i]), KITO_OK, "%s", routes[i].pattern);
}

TestSuite(router, .init = setup);

static kito_err match(unsigned method, const char *path, kito_route_match *m)
{
    return kito_router_match(&rt, method, path, strlen(path), m);
}

Test(router, literal_match)
{
    kito_route_match m;
    cr_assert_eq(match(KITO_METHOD_GET, "/healthz", &m), KITO_OK);
    cr_expect_str_eq(m.route->pattern, "/healthz");
    cr_expect_eq(m.param_count, 0);
    cr_expect_eq(m.route_index, 0);
    cr_assert_eq(match(KITO_METHOD_GET, "/", &m), KITO_OK);
    cr_expect_str_eq(m.route->pattern, "/");
}

Test(router, params_are_captured)
{
    kito_route_match m;
    size_t len;
    cr_assert_eq(match(KITO_METHOD_DELETE, "/v1/sales/sal-7/lots/lot-42", &m), KITO_OK);
    cr_expect_eq(m.param_count, 2);
    const char *v = kito_route_param_get(&m, "sale", &len);
    cr_assert_not_null(v);
    cr_expect_eq(len, 5);
    cr_expect_eq(memcmp(v, "sal-7", 5), 0);
    v = kito_route_param_get(&m, "lot", &len);
    cr_assert_not_null(v);
    cr_expect_eq(len, 6);
    cr_expect_eq(memcmp(v, "lot-42", 6), 0);
    cr_expect_null(kito_route_param_get(&m, "nope", &len));
}

Test(router, method_selects_among_same_pattern)
{
    kito_route_match m;
    cr_assert_eq(match(KITO_METHOD_POST, "/v1/lots/9/bids", &m), KITO_OK);
    cr_expect_eq(m.route->handler, h_b);
    cr_expect_eq(m.route->body_max, 1024);
    cr_expect_eq(m.route->flags, KITO_ROUTE_JSON_BODY);
    cr_assert_eq(match(KITO_METHOD_GET, "/v1/lots/9/bids", &m), KITO_OK);
    cr_expect_eq(m.route->handler, h_a);
}

Test(router, literal_beats_param)
{
    kito_route_match m;
    cr_assert_eq(match(KITO_METHOD_GET, "/v1/lots/search", &m), KITO_OK);
    cr_expect_str_eq(m.route->pattern, "/v1/lots/search");
    cr_expect_str_eq(m.route->name, "lot search");
    cr_assert_eq(match(KITO_METHOD_GET, "/v1/lots/searc", &m), KITO_OK);
    cr_expect_str_eq(m.route->pattern, "/v1/lots/{id}");
    cr_expect_str_eq(m.route->name, "/v1/lots/{id}", "the name defaults to the pattern");
}

Test(router, head_is_answered_by_get)
{
    kito_route_match m;
    cr_assert_eq(match(KITO_METHOD_HEAD, "/healthz", &m), KITO_OK);
    cr_expect_eq(m.route->method, KITO_METHOD_GET);
}

Test(router, unknown_path_is_404)
{
    kito_route_match m;
    const char *paths[] = {"/nope",          "/healthz/", "/healthz/x", "/v1/lots", "/v1/lots/",
                           "/v1/lots//bids", "//healthz", "",           "healthz",  "/HEALTHZ"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        cr_expect_eq(match(KITO_METHOD_GET, paths[i], &m), KITO_E_NOT_FOUND, "%s matched",
                     paths[i]);
}

Test(router, known_path_wrong_method_is_405_with_allow)
{
    kito_route_match m;
    char allow[64];
    cr_assert_eq(match(KITO_METHOD_PUT, "/v1/lots/3/bids", &m), KITO_E_METHOD_NOT_ALLOWED);
    cr_expect_eq(m.allow, KITO_METHOD_GET | KITO_METHOD_HEAD | KITO_METHOD_POST);
    kito_method_allow_header(m.allow, allow, sizeof(allow));
    cr_expect_str_eq(allow, "GET, HEAD, POST");
    cr_assert_eq(match(KITO_METHOD_POST, "/healthz", &m), KITO_E_METHOD_NOT_ALLOWED);
    cr_expect_eq(m.allow, KITO_METHOD_GET | KITO_METHOD_HEAD);
    cr_assert_eq(match(0, "/healthz", &m), KITO_E_METHOD_NOT_ALLOWED, "unknown method");
}

Test(router, bad_patterns_are_refused)
{
    kito_router r;
    kito_router_init(&r);
    const char *bad[] = {
        "",      "x",    "/a//b",  "/a/",      "/{}",
        "/{Id}", "/{id", "/a{id}", "/{a}/{a}", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kito_route route = {KITO_METHOD_GET, bad[i], h_a, 0, 0, NULL};
        cr_expect_eq(kito_router_add(&r, &route), KITO_E_CONFIG, "accepted %s", bad[i]);
    }
    kito_route two_methods = {KITO_METHOD_GET | KITO_METHOD_POST, "/x", h_a, 0, 0, NULL};
    cr_expect_eq(kito_router_add(&r, &two_methods), KITO_E_CONFIG);
    kito_route no_handler = {KITO_METHOD_GET, "/x", NULL, 0, 0, NULL};
    cr_expect_eq(kito_router_add(&r, &no_handler), KITO_E_CONFIG);
    kito_route ok = {KITO_METHOD_GET, "/x", h_a, 0, 0, NULL};
    cr_expect_eq(kito_router_add(&r, &ok), KITO_OK);
    cr_expect_eq(kito_router_add(&r, &ok), KITO_E_CONFIG, "duplicate");
    cr_expect_eq(r.count, 1);
}

Test(router, capacity_is_bounded)
{
    static kito_router r;
    static char patterns[KITO_ROUTES_MAX + 1][16];
    kito_router_init(&r);
    for (int i = 0; i <= KITO_ROUTES_MAX; i++) {
        snprintf(patterns[i], sizeof(patterns[i]), "/r%d", i);
        kito_route route = {KITO_METHOD_GET, patterns[i], h_a, 0, 0, NULL};
        cr_expect_eq(kito_router_add(&r, &route), i < KITO_ROUTES_MAX ? KITO_OK : KITO_E_CAPACITY);
    }
}

Test(router, methods)
{
    cr_expect_eq(kito_method_parse("GET", 3), KITO_METHOD_GET);
    cr_expect_eq(kito_method_parse("DELETE", 6), KITO_METHOD_DELETE);
    cr_expect_eq(kito_method_parse("get", 3), 0, "methods are case-sensitive");
    cr_expect_eq(kito_method_parse("BREW", 4), 0);
    char small[8];
    kito_method_allow_header(KITO_METHOD_GET | KITO_METHOD_OPTIONS, small, sizeof(small));
    cr_expect_str_eq(small, "GET", "truncated at a whole method");
}
