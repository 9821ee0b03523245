/* Walks the whole route table (api/http/routes.c), which is the authorization matrix: every route
 * that names roles refuses anonymous callers with 401 and other roles with 403, and lets its own
 * roles through to the handler; public routes never ask for a token (issue 4). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/http/auth.h"
#include "api/common/crypto.h"
#include "api/http/routes.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(authz, 120);

static const unsigned all_roles[] = {KITO_ROLE_MINER, KITO_ROLE_VALUER, KITO_ROLE_BUYER,
                                     KITO_ROLE_ORGANIZER, KITO_ROLE_OPERATOR};

static const char *method_name(unsigned m)
{
    switch (m) {
    case KITO_METHOD_GET:
        return "GET";
    case KITO_METHOD_POST:
        return "POST";
    case KITO_METHOD_PUT:
        return "PUT";
    case KITO_METHOD_PATCH:
        return "PATCH";
    case KITO_METHOD_DELETE:
        return "DELETE";
    default:
        return "HEAD";
    }
}

/* The pattern with every {param} replaced by an id that names nothing. */
static void concrete_path(const char *pattern, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = pattern; *p != '\0' && n + 20 < cap;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            n += (size_t)snprintf(out + n, cap - n, "x_0000000000zzz");
            p = end != NULL ? end + 1 : p + strlen(p);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

static long call(const kito_route *rt, const char *token)
{
    char path[512], auth[128];
    concrete_path(rt->pattern, path, sizeof(path));
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[1] = auth;
    }
    const char *body =
        rt->method == KITO_METHOD_GET || rt->method == KITO_METHOD_DELETE ? NULL : "{}";
    struct kito_http_resp r;
    int rc = kito_http(&kd, method_name(rt->method), path, body, body ? 2 : 0, headers, 0, &r);
    cr_assert_eq(rc, 0, "%s %s: no response", method_name(rt->method), path);
    long status = r.status;
    kito_http_resp_free(&r);
    return status;
}

Test(authz, every_route_enforces_its_roles)
{
    unsigned long long ids[5];
    char tokens[5][44];
    for (size_t i = 0; i < 5; i++)
        ids[i] = kito_harness_account(kito_role_name(all_roles[i]), NULL, 0);
    size_t n, checked = 0;
    const kito_route *routes = kito_routes_table(65536, &n);
    cr_assert(n > 0);
    for (size_t i = 0; i < n; i++) {
        const kito_route *rt = &routes[i];
        const char *m = method_name(rt->method);
        long anon = call(rt, NULL);
        if ((rt->flags & KITO_ROUTE_SELF_AUTH) != 0) {
            /* a provider's callback: its own secret, never a bearer token or a role */
            cr_assert(rt->roles == 0, "%s %s checks its own secret and roles too", m, rt->pattern);
            cr_assert_eq(anon, 401, "%s %s answered %ld without its secret", m, rt->pattern, anon);
            continue;
        }
        if (rt->roles == 0) {
            cr_assert_neq(anon, 401, "%s %s is public but asked for a token", m, rt->pattern);
            cr_assert_neq(anon, 403, "%s %s is public but refused a visitor", m, rt->pattern);
            continue;
        }
        cr_assert_eq(anon, 401, "%s %s answered %ld to an anonymous caller", m, rt->pattern, anon);
        for (size_t k = 0; k < 5; k++) {
            kito_harness_session(ids[k],
                                 tokens[k]); /* a route may end the session it is called with */
            long st = call(rt, tokens[k]);
            const char *who = kito_role_name(all_roles[k]);
            if (rt->roles & all_roles[k])
                cr_assert(st != 401 && st != 403, "%s %s refused a %s (%ld)", m, rt->pattern, who,
                          st);
            else
                cr_assert_eq(st, 403, "%s %s let a %s through (%ld)", m, rt->pattern, who, st);
            checked++;
        }
    }
    cr_log_info("authz: %zu routes, %zu role checks", n, checked);
}

Test(authz, bad_tokens_are_refused_on_protected_routes)
{
    /* the matrix test covers valid tokens; here: malformed, unknown, expired, revoked */
    size_t n;
    const kito_route *routes = kito_routes_table(65536, &n);
    const kito_route *protected_route = NULL;
    for (size_t i = 0; i < n && protected_route == NULL; i++)
        if (routes[i].roles == KITO_ROLES_ANY && routes[i].method == KITO_METHOD_GET)
            protected_route = &routes[i];
    if (protected_route == NULL)
        cr_skip_test("no GET route open to every signed-in role yet");
    char token[44];
    unsigned long long acc = kito_harness_account("buyer", NULL, 0);
    unsigned long long ses = kito_harness_session(acc, token);
    cr_assert_neq(call(protected_route, token), 401);
    cr_assert_eq(call(protected_route, "not-a-token"), 401);
    char unknown[44];
    cr_assert_eq(kito_crypto_token_new(unknown), KITO_OK);
    cr_assert_eq(call(protected_route, unknown), 401);
    char expired[44];
    unsigned long long s2 = kito_harness_session(acc, expired);
    kito_harness_sql("UPDATE sessions SET created_at = UTC_TIMESTAMP(3) - INTERVAL 2 DAY,"
                     " expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 DAY WHERE id = %llu",
                     s2);
    cr_assert_eq(call(protected_route, expired), 401);
    char suspended[44];
    unsigned long long acc2 = kito_harness_account("buyer", NULL, 0);
    kito_harness_session(acc2, suspended);
    kito_harness_sql("UPDATE accounts SET status = 'suspended' WHERE id = %llu", acc2);
    cr_assert_eq(call(protected_route, suspended), 401);
    (void)ses;
}

/* The session cache (api/http/auth.h): a session revoked in MySQL by another process is served from
 * the cache until its entry runs out. An entry used in its last KITO_AUTH_REFRESH_AHEAD_MS (by
 * token: at least the last half of that) is looked up again in the background, and the
 * revocation is seen then: before the TTL. */
Test(authz, revoked_session_leaves_the_cache_at_the_refresh_ahead)
{
    kito_who b = kito_harness_person("buyer");
    struct kito_http_resp r = kito_harness_call(&kd, &b, NULL, "GET", "/v1/me/watchlist", NULL);
    kito_harness_expect(&r, 200, "first use: cached");
    kito_http_resp_free(&r);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kito_harness_sql("UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3) WHERE account_id = %llu",
                     b.id);
    r = kito_harness_call(&kd, &b, NULL, "GET", "/v1/me/watchlist", NULL);
    kito_harness_expect(&r, 200, "revoked elsewhere: still cached");
    kito_http_resp_free(&r);
    /* into the refresh window (a margin of a second on each side), then poll */
    kito_harness_sleep_ms(KITO_AUTH_CACHE_TTL_MS - KITO_AUTH_REFRESH_AHEAD_MS + 1000);
    long status = 0;
    long elapsed_ms = 0;
    while (elapsed_ms < KITO_AUTH_CACHE_TTL_MS - 1000) {
        r = kito_harness_call(&kd, &b, NULL, "GET", "/v1/me/watchlist", NULL);
        status = r.status;
        kito_http_resp_free(&r);
        clock_gettime(CLOCK_MONOTONIC, &t);
        elapsed_ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (status == 401)
            break;
        cr_assert_eq(status, 200);
        kito_harness_sleep_ms(100);
    }
    cr_assert_eq(status, 401, "the revocation was seen only when the entry ran out (%ld ms)",
                 elapsed_ms);
}

/* Sessions whose tokens fall into one set of the cache all stay cached (api/http/auth.h): with each
 * cached, a revocation made elsewhere is not seen until the entry runs out, so every one of them
 * still answers 200 right after its session is revoked in MySQL. A direct-mapped cache kept only
 * the last of them, and the others (looked up again) answered 401. */
Test(authz, sessions_sharing_a_cache_set_all_stay_cached)
{
    kito_who b = kito_harness_person("buyer");
    char tokens[KITO_AUTH_CACHE_WAYS][44], digest[65];
    size_t set = 0;
    for (int n = 0, tries = 0; n < KITO_AUTH_CACHE_WAYS; tries++) {
        cr_assert_lt(tries, 1000000, "no tokens sharing a cache set found");
        cr_assert(kito_crypto_token_new(tokens[n]) == KITO_OK);
        cr_assert(kito_crypto_token_digest(tokens[n], digest) == KITO_OK);
        if (n == 0)
            set = kito_auth_cache_set(digest);
        else if (kito_auth_cache_set(digest) != set)
            continue;
        kito_harness_session_for(b.id, tokens[n]);
        n++;
    }
    kito_who as = b;
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            kito_harness_sql("UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3)"
                             " WHERE account_id = %llu",
                             b.id);
        for (int n = 0; n < KITO_AUTH_CACHE_WAYS; n++) {
            char what[96];
            snprintf(what, sizeof(what), "session %d of the set, %s", n,
                     round == 0 ? "looked up and cached" : "still cached after the revocation");
            memcpy(as.token, tokens[n], sizeof(as.token));
            struct kito_http_resp r =
                kito_harness_call(&kd, &as, NULL, "GET", "/v1/me/watchlist", NULL);
            kito_harness_expect(&r, 200, what);
            kito_http_resp_free(&r);
        }
    }
}
