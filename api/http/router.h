/*
 * The router: maps a method and a path to a route (handler, body limit, flags), with `{name}`
 * path segments captured as parameters. Pure: no h2o, no I/O. Built once at start on the loop
 * thread, then read-only (any thread may match).
 *
 * Patterns are absolute paths of literal segments and `{name}` segments: "/v1/lots/{id}/bids".
 * A parameter matches exactly one non-empty segment. When two patterns match one path, the one
 * with a literal segment where the other has a parameter (earliest difference first) wins, so
 * "/v1/lots/search" beats "/v1/lots/{id}". A GET route also answers HEAD.
 */
#ifndef KITO_ROUTER_H
#define KITO_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/* Methods as bits, so a path's allowed methods form one mask (the Allow header). */
enum {
    KITO_METHOD_GET = 1u << 0,
    KITO_METHOD_HEAD = 1u << 1,
    KITO_METHOD_POST = 1u << 2,
    KITO_METHOD_PUT = 1u << 3,
    KITO_METHOD_PATCH = 1u << 4,
    KITO_METHOD_DELETE = 1u << 5,
    KITO_METHOD_OPTIONS = 1u << 6,
};

/* Route flags. */
enum {
    KITO_ROUTE_JSON_BODY = 1u << 0, /* the body is parsed as a JSON object before the handler */
    KITO_ROUTE_AUTH_OPTIONAL =
        1u << 1,                    /* resolve a bearer token if one is sent (api/http/auth.h) */
    KITO_ROUTE_SELF_AUTH = 1u << 2, /* no bearer token: the handler authenticates its caller
                                       itself (a provider's callback with a shared secret) */
};

#define KITO_ROUTES_MAX 256        /* routes one router holds */
#define KITO_ROUTE_SEGMENTS_MAX 16 /* segments in a pattern */
#define KITO_ROUTE_PARAMS_MAX 8    /* `{name}` segments in a pattern */
#define KITO_ROUTE_PATTERN_MAX 200 /* bytes in a pattern */

struct kito_req;

/* A handler answers one request. It returns KITO_OK once it has responded or has taken the
 * request on (asynchronous work that responds later, see api/http/request.h); any other code makes
 * the dispatcher answer with that error's status and JSON shape. */
typedef kito_err (*kito_handler_fn)(struct kito_req *r);

/* One route as the program declares it. Strings must outlive the router (use literals). */
typedef struct kito_route {
    unsigned method;         /* exactly one KITO_METHOD_* bit */
    const char *pattern;     /* "/v1/lots/{id}" */
    kito_handler_fn handler; /* never NULL */
    size_t body_max;         /* bytes the request body may have; 0 = no body allowed */
    unsigned flags;          /* KITO_ROUTE_* */
    const char *name;        /* metrics label; NULL = the pattern */
    unsigned roles;          /* KITO_ROLE_* bits that may call it; 0 = public (api/http/auth.h) */
} kito_route;

/* A captured `{name}` segment; both point into the pattern and the matched path (borrowed). */
typedef struct kito_route_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} kito_route_param;

/* The result of a match. */
typedef struct kito_route_match {
    const kito_route *route; /* the matched route (KITO_OK only) */
    uint32_t route_index;    /* its index in the router, a stable small id for metrics */
    size_t param_count;
    kito_route_param params[KITO_ROUTE_PARAMS_MAX];
    unsigned allow; /* KITO_E_METHOD_NOT_ALLOWED: the methods the path accepts */
} kito_route_match;

typedef struct kito_router_entry {
    kito_route route;
    size_t segment_count;
    struct {
        const char *text; /* literal text, or the parameter's name */
        size_t len;
        bool is_param;
    } segments[KITO_ROUTE_SEGMENTS_MAX];
} kito_router_entry;

/* A router; zero it (or call kito_router_init) before use. Fixed size, no allocation. */
typedef struct kito_router {
    size_t count;
    kito_router_entry entries[KITO_ROUTES_MAX];
    /* the indexes of the entries with n segments, in the order added: a path is compared only
     * with the patterns as long as it is */
    uint16_t by_length[KITO_ROUTE_SEGMENTS_MAX + 1][KITO_ROUTES_MAX];
    uint16_t n_by_length[KITO_ROUTE_SEGMENTS_MAX + 1];
} kito_router;

/* Empties r. */
void kito_router_init(kito_router *r);

/* Adds a copy of route. KITO_E_CONFIG if the pattern is not absolute, has an empty segment, a
 * malformed or repeated `{name}`, too many segments or parameters, if method is not one bit,
 * handler is NULL, or the same method and pattern are already present; KITO_E_CAPACITY if the
 * router holds KITO_ROUTES_MAX routes. These are programming errors: kitod refuses to start. */
kito_err kito_router_add(kito_router *r, const kito_route *route);

/* Matches method (one KITO_METHOD_* bit) and path (no query string, path_len bytes) against r.
 * KITO_OK with m->route and the parameters; KITO_E_METHOD_NOT_ALLOWED when some route has this
 * path but not this method (m->allow lists the methods it has); KITO_E_NOT_FOUND otherwise. */
kito_err kito_router_match(const kito_router *r, unsigned method, const char *path, size_t path_len,
                           kito_route_match *m);

/* The parameter called name in m, or NULL (with *len untouched). */
const char *kito_route_param_get(const kito_route_match *m, const char *name, size_t *len);

/* The KITO_METHOD_* bit for a method token ("GET"), or 0 for one Kito does not serve. */
unsigned kito_method_parse(const char *s, size_t len);

/* Writes the Allow header value for mask ("GET, HEAD, POST") into buf (size bytes,
 * NUL-terminated, truncated if too small); returns its length. */
size_t kito_method_allow_header(unsigned mask, char *buf, size_t size);

#endif
