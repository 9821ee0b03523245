/*
 * The route table of kitod, and with it the authorization matrix (issue 4): for every method and
 * path, the handler, the body limit and the roles that may call it (0 = public; api/auth.h).
 * The dispatcher enforces the roles before any handler runs; tests walk this table
 * (tests/integration/test_authz.c). Row-level rules (only the seller edits her stone) are the
 * repositories' and are tested there.
 */
#include "api/routes.h"

#include "api/auth.h"
#include "api/server.h"

#define JSON KITO_ROUTE_JSON_BODY
#define OPT KITO_ROUTE_AUTH_OPTIONAL
#define ANY KITO_ROLES_ANY
#define MINER KITO_ROLE_MINER
#define VALUER KITO_ROLE_VALUER
#define BUYER KITO_ROLE_BUYER
#define ORGANIZER KITO_ROLE_ORGANIZER
#define OPERATOR KITO_ROLE_OPERATOR
#define GET KITO_METHOD_GET
#define POST KITO_METHOD_POST
#define PUT KITO_METHOD_PUT
#define PATCH KITO_METHOD_PATCH
#define DELETE KITO_METHOD_DELETE

/* A body limit for routes without a JSON body of their own size: the configured JSON limit. */
#define JSON_MAX 0

static const kito_route table[] = {
    /* method, pattern, handler, body_max, flags, metrics name, roles */

    /* ---- system ---- */
    {GET, "/healthz", kito_get_healthz, 0, 0, NULL, 0},
    {GET, "/metrics", kito_get_metrics, 0, 0, NULL, 0},
    {POST, "/v1/echo", kito_post_echo, JSON_MAX, JSON, NULL, 0},

    /* ---- accounts and sessions ---- */

    /* ---- stones, photos, certificates, provenance ---- */

    /* ---- sales, lots, approvals ---- */
};

const kito_route *kito_routes_table(size_t json_body_max, size_t *count)
{
    static kito_route routes[sizeof(table) / sizeof(table[0])];
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        routes[i] = table[i];
        if ((routes[i].flags & JSON) != 0 && routes[i].body_max == JSON_MAX)
            routes[i].body_max = json_body_max;
    }
    *count = sizeof(table) / sizeof(table[0]);
    return routes;
}

kito_err kito_server_add_routes(kito_server *s)
{
    size_t n;
    const kito_route *routes = kito_routes_table(s->cfg->json_body_max, &n);
    for (size_t i = 0; i < n; i++) {
        kito_err e = kito_router_add(&s->router, &routes[i]);
        if (e != KITO_OK)
            return e;
    }
    return KITO_OK;
}
