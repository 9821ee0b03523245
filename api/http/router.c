#include "api/http/router.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
} METHODS[] = {
    {KITO_METHOD_GET, "GET"},         {KITO_METHOD_HEAD, "HEAD"},   {KITO_METHOD_POST, "POST"},
    {KITO_METHOD_PUT, "PUT"},         {KITO_METHOD_PATCH, "PATCH"}, {KITO_METHOD_DELETE, "DELETE"},
    {KITO_METHOD_OPTIONS, "OPTIONS"},
};

void kito_router_init(kito_router *r)
{
    r->count = 0;
    memset(r->n_by_length, 0, sizeof(r->n_by_length));
}

unsigned kito_method_parse(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++) {
        if (strlen(METHODS[i].name) == len && memcmp(METHODS[i].name, s, len) == 0)
            return METHODS[i].bit;
    }
    return 0;
}

size_t kito_method_allow_header(unsigned mask, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++) {
        if ((mask & METHODS[i].bit) == 0)
            continue;
        int w = snprintf(buf + n, size - n, "%s%s", n > 0 ? ", " : "", METHODS[i].name);
        if (w < 0 || (size_t)w >= size - n) {
            buf[n] = '\0';
            break;
        }
        n += (size_t)w;
    }
    return n;
}

/* Splits an absolute pattern into e->segments. false if it is not well-formed. */
static bool compile(kito_router_entry *e, const char *pattern)
{
    size_t len = strlen(pattern), params = 0;
    if (len == 0 || len > KITO_ROUTE_PATTERN_MAX || pattern[0] != '/')
        return false;
    e->segment_count = 0;
    if (len == 1)
        return true; /* "/" has no segments */
    const char *p = pattern + 1, *end = pattern + len;
    while (p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash != NULL ? slash : end;
        size_t seg_len = (size_t)(seg_end - p);
        if (seg_len == 0 || e->segment_count == KITO_ROUTE_SEGMENTS_MAX)
            return false;
        bool is_param = p[0] == '{';
        if (is_param) {
            if (seg_len < 3 || p[seg_len - 1] != '}' || ++params > KITO_ROUTE_PARAMS_MAX)
                return false;
            for (size_t i = 1; i < seg_len - 1; i++) {
                char c = p[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
                    return false;
            }
            /* a name may appear once */
            for (size_t s = 0; s < e->segment_count; s++) {
                if (e->segments[s].is_param && e->segments[s].len == seg_len - 2 &&
                    memcmp(e->segments[s].text, p + 1, seg_len - 2) == 0)
                    return false;
            }
            e->segments[e->segment_count].text = p + 1;
            e->segments[e->segment_count].len = seg_len - 2;
        } else {
            if (memchr(p, '{', seg_len) != NULL || memchr(p, '}', seg_len) != NULL)
                return false;
            e->segments[e->segment_count].text = p;
            e->segments[e->segment_count].len = seg_len;
        }
        e->segments[e->segment_count].is_param = is_param;
        e->segment_count++;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    return true;
}

static bool one_bit(unsigned v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

kito_err kito_router_add(kito_router *r, const kito_route *route)
{
    if (route == NULL || route->handler == NULL || route->pattern == NULL ||
        !one_bit(route->method))
        return KITO_E_CONFIG;
    if (r->count == KITO_ROUTES_MAX)
        return KITO_E_CAPACITY;
    kito_router_entry *e = &r->entries[r->count];
    e->route = *route;
    if (!compile(e, route->pattern))
        return KITO_E_CONFIG;
    for (size_t i = 0; i < r->count; i++) {
        if (r->entries[i].route.method == route->method &&
            strcmp(r->entries[i].route.pattern, route->pattern) == 0)
            return KITO_E_CONFIG;
    }
    if (e->route.name == NULL)
        e->route.name = e->route.pattern;
    r->by_length[e->segment_count][r->n_by_length[e->segment_count]++] = (uint16_t)r->count;
    r->count++;
    return KITO_OK;
}

/* A request path cut into its segments once, for every entry to compare against (cutting it
 * again per entry was most of a bid's routing: ~90 routes, a memchr per segment each). */
typedef struct path_segments {
    size_t n;
    bool matchable; /* false: no pattern can match (relative, an empty segment, too many) */
    const char *text[KITO_ROUTE_SEGMENTS_MAX];
    size_t len[KITO_ROUTE_SEGMENTS_MAX];
} path_segments;

static void split_path(const char *path, size_t path_len, path_segments *ps)
{
    ps->n = 0;
    ps->matchable = path_len > 0 && path[0] == '/';
    if (!ps->matchable || path_len == 1)
        return; /* "/" has no segments */
    const char *p = path + 1, *end = path + path_len;
    while (true) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *seg_end = slash != NULL ? slash : end;
        if (seg_end == p || ps->n == KITO_ROUTE_SEGMENTS_MAX) {
            ps->matchable = false;
            return;
        }
        ps->text[ps->n] = p;
        ps->len[ps->n] = (size_t)(seg_end - p);
        ps->n++;
        if (slash == NULL)
            return;
        p = slash + 1;
    }
}

/* Matches the path against one entry of as many segments; on success fills params and a score
 * whose higher bits are literal segments (earlier segments weigh more), so literals beat
 * parameters. */
static bool match_entry(const kito_router_entry *e, const path_segments *ps,
                        kito_route_param *params, size_t *param_count, uint32_t *score)
{
    size_t np = 0;
    uint32_t sc = 0;
    assert(e->segment_count == ps->n);
    for (size_t seg = 0; seg < ps->n; seg++) {
        if (e->segments[seg].is_param) {
            params[np].name = e->segments[seg].text;
            params[np].name_len = e->segments[seg].len;
            params[np].value = ps->text[seg];
            params[np].value_len = ps->len[seg];
            np++;
        } else {
            if (ps->len[seg] != e->segments[seg].len ||
                memcmp(ps->text[seg], e->segments[seg].text, ps->len[seg]) != 0)
                return false;
            sc |= 1u << (KITO_ROUTE_SEGMENTS_MAX - 1 - seg);
        }
    }
    *param_count = np;
    *score = sc;
    return true;
}

kito_err kito_router_match(const kito_router *r, unsigned method, const char *path, size_t path_len,
                           kito_route_match *m)
{
    kito_route_param params[KITO_ROUTE_PARAMS_MAX];
    size_t np;
    uint32_t score;
    long best = -1;
    uint32_t best_score = 0;
    unsigned want = method == KITO_METHOD_HEAD ? (KITO_METHOD_HEAD | KITO_METHOD_GET) : method;
    path_segments ps;

    m->route = NULL;
    m->param_count = 0;
    m->allow = 0;
    split_path(path, path_len, &ps);
    size_t n = ps.matchable ? r->n_by_length[ps.n] : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = r->by_length[ps.n][k];
        const kito_router_entry *e = &r->entries[i];
        if (!match_entry(e, &ps, params, &np, &score))
            continue;
        m->allow |= e->route.method;
        if (e->route.method == KITO_METHOD_GET)
            m->allow |= KITO_METHOD_HEAD;
        if ((e->route.method & want) == 0)
            continue;
        /* an explicit HEAD route beats the GET one answering HEAD */
        if (best < 0 || score > best_score || (score == best_score && e->route.method == method)) {
            best = (long)i;
            best_score = score;
            m->param_count = np;
            memcpy(m->params, params, np * sizeof(params[0]));
        }
    }
    if (best >= 0) {
        m->route = &r->entries[best].route;
        m->route_index = (uint32_t)best;
        return KITO_OK;
    }
    return m->allow != 0 ? KITO_E_METHOD_NOT_ALLOWED : KITO_E_NOT_FOUND;
}

const char *kito_route_param_get(const kito_route_match *m, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < m->param_count; i++) {
        if (m->params[i].name_len == n && memcmp(m->params[i].name, name, n) == 0) {
            *len = m->params[i].value_len;
            return m->params[i].value;
        }
    }
    return NULL;
}
