#include "api/http/auth.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common/config.h"
#include "api/common/log.h"
#include "api/common/crypto.h"
#include "api/http/request.h"
#include "api/http/server.h"
#include "api/store/sql.h"

struct kito_auth_slot {
    char token_sha256[65]; /* "" when empty */
    kito_principal principal;
    uint64_t valid_until_ms; /* loop time (uv_now) */
    bool refreshing;         /* a background lookup of this entry is out */
    bool session_ends;       /* valid_until_ms is the session's own end: nothing to refresh */
};

kito_err kito_auth_init(kito_auth *a)
{
    memset(a, 0, sizeof(*a));
    a->slots = calloc(KITO_AUTH_CACHE_SLOTS, sizeof(*a->slots));
    return a->slots != NULL ? KITO_OK : KITO_E_NOMEM;
}

void kito_auth_dispose(kito_auth *a)
{
    if (a == NULL)
        return;
    free(a->slots);
    a->slots = NULL;
}

/* The value of n (<= 8) hex digits of a token digest, which is uniformly random. */
static unsigned long digest_bits(const char *hex, size_t n)
{
    char d[9];
    memcpy(d, hex, n);
    d[n] = '\0';
    return strtoul(d, NULL, 16);
}

size_t kito_auth_cache_set(const char *token_sha256)
{
    return digest_bits(token_sha256, 8) % KITO_AUTH_CACHE_SETS; /* digits 0..7 */
}

static struct kito_auth_slot *set_of(kito_auth *a, const char *hex)
{
    return &a->slots[kito_auth_cache_set(hex) * KITO_AUTH_CACHE_WAYS];
}

/* The session's entry, or NULL. */
static struct kito_auth_slot *slot_find(kito_auth *a, const char *hex)
{
    struct kito_auth_slot *set = set_of(a, hex);
    for (size_t i = 0; i < KITO_AUTH_CACHE_WAYS; i++)
        if (strcmp(set[i].token_sha256, hex) == 0)
            return &set[i];
    return NULL;
}

/* Where the session goes: its own entry, else an empty one of its set, else the one of its set
 * that runs out first (valid at now or not). */
static struct kito_auth_slot *slot_claim(kito_auth *a, const char *hex)
{
    struct kito_auth_slot *own = slot_find(a, hex);
    if (own != NULL)
        return own;
    struct kito_auth_slot *set = set_of(a, hex), *pick = &set[0];
    for (size_t i = 0; i < KITO_AUTH_CACHE_WAYS; i++) {
        if (set[i].token_sha256[0] == '\0')
            return &set[i];
        if (set[i].valid_until_ms < pick->valid_until_ms)
            pick = &set[i];
    }
    return pick;
}

void kito_auth_forget(kito_auth *a, const char *token_sha256)
{
    struct kito_auth_slot *s = slot_find(a, token_sha256);
    if (s != NULL)
        memset(s, 0, sizeof(*s));
}

/* ---- the dispatcher's side ------------------------------------------------------------------ */

typedef void (*run_fn)(kito_req *r);

static void unauthorized(kito_req *r, const char *why)
{
    if (kito_req_alive(r))
        h2o_add_header(&r->h2o->pool, &r->h2o->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer"));
    kito_respond_error(r, KITO_E_UNAUTHORIZED, why);
}

/* The role check of the route table, then the handler. */
static void authorize(kito_req *r, const kito_principal *p, run_fn run)
{
    r->principal = *p;
    unsigned need = r->route->roles;
    if (need != 0 && (need & p->role) == 0) {
        char msg[120];
        snprintf(msg, sizeof(msg), "a %s account may not do this", kito_role_name(p->role));
        kito_respond_error(r, KITO_E_FORBIDDEN, msg);
        return;
    }
    run(r);
}

typedef struct lookup_job {
    kito_req *r; /* NULL: a background refresh of a cached entry */
    kito_server *server;
    run_fn run;
    bool anonymous_if_stale; /* a cookie on an optional route: unknown session = anonymous */
    char token_sha256[65];
    kito_err status; /* KITO_OK found and live; UNAUTHORIZED not found/expired/idle; else failure */
    kito_principal principal;
    int64_t ms_left;      /* until the session's absolute expiry */
    int64_t idle_ms;      /* since its last recorded use (last_seen_at, else created_at) */
    int64_t idle_left_ms; /* until it ends for idleness, once this lookup's use is recorded */
} lookup_job;

static kito_err lookup_row(void *ud, const kito_sql_row *row)
{
    lookup_job *j = ud;
    const char *role = kito_sql_text(row, 2, NULL);
    const char *status = kito_sql_text(row, 3, NULL);
    j->principal.session_id = kito_sql_u64(row, 0);
    j->principal.account_id = kito_sql_u64(row, 1);
    j->principal.role = role != NULL ? kito_role_parse(role, strlen(role)) : 0;
    j->idle_ms = kito_sql_i64(row, 4);
    j->ms_left = kito_sql_i64(row, 5);
    j->principal.session_expires_ms = kito_sql_i64(row, 6);
    bool live = status != NULL && strcmp(status, "active") == 0 && kito_sql_is_null(row, 7) &&
                j->ms_left > 0 && j->principal.role != 0;
    j->status = live ? KITO_OK : KITO_E_UNAUTHORIZED;
    return KITO_OK;
}

/* Idle timeout (issue 15): a session unused for its role's KITO_SESSION_IDLE_<ROLE>_S ends. A
 * lookup is a use (a request missed the cache, or hit it close to running out), so a live
 * session's last_seen_at is moved to now here -- but only when it is at least
 * KITO_SESSION_TOUCH_S old: one MySQL write per session per touch interval at most, never one
 * per request. The recorded use can lag the real one by the touch interval plus a cache TTL, so
 * a session may end that much before its limit, never after. Sets j->status and
 * j->idle_left_ms. */
static void idle_check(void *worker, lookup_job *j)
{
    const kito_config *cfg = j->server->cfg;
    const int64_t limit_ms = (int64_t)kito_config_session_idle_s(cfg, j->principal.role) * 1000;
    if (j->idle_ms >= limit_ms) {
        j->status = KITO_E_UNAUTHORIZED;
        return;
    }
    int64_t idle_ms = j->idle_ms;
    if (idle_ms >= (int64_t)cfg->session_touch_s * 1000) {
        kito_sql_param p[] = {KITO_SQL_U64(j->principal.session_id)};
        kito_err e = kito_sql_exec(
            worker, "UPDATE sessions SET last_seen_at = UTC_TIMESTAMP(3) WHERE id = ?", p, 1, NULL);
        if (e == KITO_OK)
            idle_ms = 0;
        else /* the session still works; its use is recorded at a later lookup */
            kito_sql_log_failure("session touch", e);
    }
    j->idle_left_ms = limit_ms - idle_ms;
}

static void lookup_run(void *worker, void *arg)
{
    lookup_job *j = arg;
    static const char sql[] =
        "SELECT s.id, s.account_id, a.role, a.status,"
        " TIMESTAMPDIFF(MICROSECOND, COALESCE(s.last_seen_at, s.created_at), UTC_TIMESTAMP(3))"
        " DIV 1000,"
        " TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), s.expires_at) DIV 1000,"
        " " KITO_SQL_DT_TO_MS("s.expires_at") ", s.revoked_at"
                                              " FROM sessions s JOIN accounts a ON a.id = "
                                              "s.account_id WHERE s.token_sha256 = ?";
    kito_sql_param p[] = {KITO_SQL_TEXT(j->token_sha256)};
    j->status = KITO_E_UNAUTHORIZED;
    kito_err e = kito_sql_query(worker, sql, p, 1, lookup_row, j, NULL);
    if (e != KITO_OK) {
        kito_log(NULL, "session lookup failed: %s", kito_sql_last_error());
        j->status = e == KITO_E_UNAVAILABLE ? KITO_E_UNAVAILABLE : KITO_E_INTERNAL;
        return;
    }
    if (j->status == KITO_OK)
        idle_check(worker, j);
}

/* Caches what a lookup found live. */
static void cache_put(kito_server *server, lookup_job *j)
{
    memcpy(j->principal.token_sha256, j->token_sha256, sizeof(j->token_sha256));
    struct kito_auth_slot *s = slot_claim(&server->auth, j->token_sha256);
    uint64_t ttl =
        j->ms_left < KITO_AUTH_CACHE_TTL_MS ? (uint64_t)j->ms_left : KITO_AUTH_CACHE_TTL_MS;
    const bool session_ends = ttl < KITO_AUTH_CACHE_TTL_MS;
    /* never served from the cache past its idle end; a use before then refreshes it */
    if (j->idle_left_ms < (int64_t)ttl)
        ttl = j->idle_left_ms > 0 ? (uint64_t)j->idle_left_ms : 0;
    memcpy(s->token_sha256, j->token_sha256, sizeof(s->token_sha256));
    s->principal = j->principal;
    s->valid_until_ms = uv_now(server->loop) + ttl;
    s->refreshing = false;
    s->session_ends = session_ends;
}

/* A background refresh is back: a live session stays cached for another TTL, a revoked or
 * expired one leaves the cache now; on a failure the entry runs out as it would have. */
static void refresh_done(lookup_job *j, kito_err st)
{
    struct kito_auth_slot *s = slot_find(&j->server->auth, j->token_sha256);
    if (s != NULL) { /* still cached */
        if (st == KITO_OK)
            cache_put(j->server, j);
        else if (st == KITO_E_UNAUTHORIZED)
            memset(s, 0, sizeof(*s));
        else
            s->refreshing = false;
    }
    free(j);
}

static void lookup_done(void *arg, kito_err pool_status)
{
    lookup_job *j = arg;
    kito_req *r = j->r;
    kito_err st = pool_status != KITO_OK ? KITO_E_UNAVAILABLE : j->status;
    if (r == NULL) {
        refresh_done(j, st);
        return;
    }
    if (kito_req_alive(r)) {
        if (st == KITO_OK) {
            cache_put(r->server, j);
            authorize(r, &j->principal, j->run);
        } else if (st == KITO_E_UNAUTHORIZED && j->anonymous_if_stale) {
            kito_auth_set_cookie(r, NULL, 0); /* stale: not looked up again */
            j->run(r);
        } else if (st == KITO_E_UNAUTHORIZED) {
            unauthorized(r, "the session is unknown, expired, idle too long or signed out; sign in "
                            "again");
        } else {
            kito_respond_error(r, st, NULL);
        }
    }
    kito_req_release(r);
    free(j);
}

/* The bearer token of r into digest; KITO_E_NOT_FOUND when there is no Authorization header,
 * KITO_E_UNAUTHORIZED when it is not a token of ours. */
static kito_err bearer_digest(kito_req *r, char digest[65])
{
    h2o_req_t *req = r->h2o;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i == -1)
        return KITO_E_NOT_FOUND;
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char scheme[] = "Bearer ";
    if (v.len <= sizeof(scheme) - 1 || strncasecmp(v.base, scheme, sizeof(scheme) - 1) != 0)
        return KITO_E_UNAUTHORIZED;
    char token[KITO_TOKEN_SIZE];
    size_t n = v.len - (sizeof(scheme) - 1);
    if (n >= sizeof(token))
        return KITO_E_UNAUTHORIZED;
    memcpy(token, v.base + sizeof(scheme) - 1, n);
    token[n] = '\0';
    return kito_crypto_token_digest(token, digest) == KITO_OK ? KITO_OK : KITO_E_UNAUTHORIZED;
}

/* The session cookie's token into digest; KITO_E_NOT_FOUND when there is none,
 * KITO_E_UNAUTHORIZED when its value is not a token of ours. HTTP/2 clients may send each cookie
 * in a header of its own, so every Cookie header is read. */
static kito_err cookie_digest(kito_req *r, char digest[65])
{
    static const char name[] = KITO_SESSION_COOKIE "=";
    const h2o_headers_t *hs = &r->h2o->headers;
    for (ssize_t i = -1; (i = h2o_find_header(hs, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = hs->entries[i].value;
        size_t at = 0;
        while (at < v.len) {
            while (at < v.len && (v.base[at] == ' ' || v.base[at] == ';'))
                at++;
            size_t end = at;
            while (end < v.len && v.base[end] != ';')
                end++;
            size_t n = end - at;
            if (n >= sizeof(name) - 1 && memcmp(v.base + at, name, sizeof(name) - 1) == 0) {
                char token[KITO_TOKEN_SIZE];
                size_t tn = n - (sizeof(name) - 1);
                if (tn == 0 || tn >= sizeof(token))
                    return KITO_E_UNAUTHORIZED;
                memcpy(token, v.base + at + sizeof(name) - 1, tn);
                token[tn] = '\0';
                return kito_crypto_token_digest(token, digest) == KITO_OK ? KITO_OK
                                                                          : KITO_E_UNAUTHORIZED;
            }
            at = end;
        }
    }
    return KITO_E_NOT_FOUND;
}

void kito_auth_set_cookie(kito_req *r, const char *token, long long max_age_s)
{
    if (!kito_req_alive(r))
        return;
    h2o_req_t *req = r->h2o;
    enum { COOKIE_MAX = 160 };
    char *v = h2o_mem_alloc_pool(&req->pool, COOKIE_MAX);
    int n =
        snprintf(v, COOKIE_MAX, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; Secure; SameSite=Lax",
                 KITO_SESSION_COOKIE, token != NULL ? token : "", token != NULL ? max_age_s : 0);
    if (n > 0 && n < COOKIE_MAX)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v, (size_t)n);
}

bool kito_auth_same_origin(const kito_req *r)
{
    const h2o_req_t *req = r->h2o;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i == -1) {
        ssize_t f = h2o_find_header_by_str(&req->headers, H2O_STRLIT("sec-fetch-site"), -1);
        return f != -1 && h2o_memis(req->headers.entries[f].value.base,
                                    req->headers.entries[f].value.len, H2O_STRLIT("same-origin"));
    }
    static const char scheme[] = "https://";
    h2o_iovec_t o = req->headers.entries[i].value, host = req->authority;
    return host.len > 0 && o.len == sizeof(scheme) - 1 + host.len &&
           memcmp(o.base, scheme, sizeof(scheme) - 1) == 0 &&
           strncasecmp(o.base + sizeof(scheme) - 1, host.base, host.len) == 0;
}

/* How long before its entry runs out a session is refreshed: between half of and all of
 * KITO_AUTH_REFRESH_AHEAD_MS, by the token's digest, so that sessions cached together (after a
 * restart, at a sale's opening) are not looked up again together. */
static uint64_t refresh_ahead_ms(const struct kito_auth_slot *s)
{
    unsigned long h = digest_bits(s->token_sha256 + 8, 4); /* (the set took digits 0..7) */
    const uint64_t half = KITO_AUTH_REFRESH_AHEAD_MS / 2;
    return half + h * half / 0x10000;
}

/* Looks a cached session up again in the background while it is still served from the cache,
 * so that a busy buyer's requests do not wait for MySQL each time her entry runs out. */
static void refresh(kito_server *server, struct kito_auth_slot *s)
{
    lookup_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return; /* the entry runs out and is looked up on demand */
    j->server = server;
    memcpy(j->token_sha256, s->token_sha256, sizeof(j->token_sha256));
    if (kito_pool_submit(server->pool, lookup_run, lookup_done, j) != KITO_OK) {
        free(j);
        return;
    }
    s->refreshing = true;
    server->auth.refreshes++;
}

void kito_auth_dispatch(kito_req *r, run_fn run)
{
    assert(r->route != NULL);
    const bool required = r->route->roles != 0;
    const bool optional = (r->route->flags & KITO_ROUTE_AUTH_OPTIONAL) != 0;
    if (!required && !optional) {
        run(r);
        return;
    }
    char digest[65];
    bool via_cookie = false;
    kito_err e = bearer_digest(r, digest);
    if (e == KITO_E_NOT_FOUND) {
        e = cookie_digest(r, digest);
        via_cookie = e != KITO_E_NOT_FOUND;
    }
    if (e == KITO_E_NOT_FOUND || (via_cookie && e != KITO_OK && !required)) {
        if (via_cookie)
            kito_auth_set_cookie(r, NULL, 0); /* not a token of ours: drop it */
        if (required)
            unauthorized(r, "this needs `Authorization: Bearer <token>`; sign in first");
        else
            run(r);
        return;
    }
    if (e != KITO_OK) {
        unauthorized(r, via_cookie ? "the session cookie is malformed; sign in again"
                                   : "the bearer token is malformed");
        return;
    }
    /* a page's session: what changes something must come from our own pages (auth.h) */
    if (via_cookie && r->method != KITO_METHOD_GET && r->method != KITO_METHOD_HEAD &&
        !kito_auth_same_origin(r)) {
        kito_respond_error(r, KITO_E_FORBIDDEN,
                           "a request signed in by cookie must come from a Kito page (Origin)");
        return;
    }

    kito_auth *a = &r->server->auth;
    struct kito_auth_slot *s = slot_find(a, digest);
    uint64_t now = uv_now(r->server->loop);
    if (s != NULL && now < s->valid_until_ms) {
        a->hits++;
        if (!s->refreshing && !s->session_ends && s->valid_until_ms - now < refresh_ahead_ms(s))
            refresh(r->server, s);
        authorize(r, &s->principal, run);
        return;
    }
    a->misses++;
    lookup_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        kito_respond_error(r, KITO_E_NOMEM, NULL);
        return;
    }
    j->r = r;
    j->server = r->server;
    j->run = run;
    j->anonymous_if_stale = via_cookie && !required;
    memcpy(j->token_sha256, digest, sizeof(digest));
    kito_req_retain(r);
    e = kito_pool_submit(r->server->pool, lookup_run, lookup_done, j);
    if (e != KITO_OK) {
        kito_respond_error(r, KITO_E_UNAVAILABLE, "too many requests are waiting for the database");
        kito_req_release(r);
        free(j);
    }
}
