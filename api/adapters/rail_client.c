/* The shared HTTP client of the payout rails (api/adapters/rail.h): libcurl, one call at a time
 * on the payout worker thread, the OAuth token cached per rail. */
#include "api/adapters/rail.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/log.h"

#define RAIL_BODY_MAX 65536      /* a provider answer larger than this is refused */
#define RAIL_TOKEN_RETRY_MS 2000 /* the wait after a token request failed */

void kito_rail_copy(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return;
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

void kito_rail_request_clear(kito_rail_request *r)
{
    if (r == NULL)
        return;
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

kito_err kito_rail_request_header(kito_rail_request *r, const char *fmt, ...)
{
    for (size_t i = 0; i < KITO_RAIL_HEADERS_MAX; i++) {
        if (r->headers[i][0] != '\0')
            continue;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(r->headers[i], sizeof(r->headers[i]), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(r->headers[i])) {
            r->headers[i][0] = '\0';
            return KITO_E_CAPACITY;
        }
        return KITO_OK;
    }
    return KITO_E_CAPACITY;
}

void kito_rail_http_free(kito_rail_http *h)
{
    if (h == NULL)
        return;
    free(h->body);
    h->body = NULL;
    h->len = 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct call_state {
    kito_rail_http *out;
    size_t cap;
    bool too_big;
    kito_rail_abort_fn abort_fn;
    void *abort_ud;
} call_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    call_state *cs = ud;
    size_t n = size * nmemb;
    kito_rail_http *h = cs->out;
    if (h->len + n > RAIL_BODY_MAX) {
        cs->too_big = true;
        return 0;
    }
    if (h->len + n + 1 > cs->cap) {
        size_t cap = cs->cap == 0 ? 1024 : cs->cap;
        while (cap < h->len + n + 1)
            cap *= 2;
        char *b = realloc(h->body, cap);
        if (b == NULL)
            return 0;
        h->body = b;
        cs->cap = cap;
    }
    memcpy(h->body + h->len, data, n);
    h->len += n;
    h->body[h->len] = '\0';
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    call_state *cs = ud;
    (void)dt, (void)dn, (void)ut, (void)un;
    return cs->abort_fn != NULL && cs->abort_fn(cs->abort_ud) ? 1 : 0;
}

/* One HTTP exchange, with token (may be NULL) as the bearer when r->bearer. */
static kito_err perform(const kito_rail_conf *conf, const kito_rail_request *r, const char *token,
                        kito_rail_abort_fn abort_fn, void *abort_ud, kito_rail_http *out)
{
    memset(out, 0, sizeof(*out));
    char url[1024];
    int n = snprintf(url, sizeof(url), "%s%s", conf->base_url, r->path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        snprintf(out->error, sizeof(out->error), "the provider URL is too long");
        return KITO_E_CONFIG;
    }
    char *payload = r->body != NULL ? json_dumps(r->body, JSON_COMPACT) : NULL;
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Accept: application/json");
    bool ok = c != NULL && hdr != NULL && (r->body == NULL || payload != NULL);
    if (ok && r->body != NULL)
        ok = curl_slist_append(hdr, "Content-Type: application/json") != NULL;
    for (size_t i = 0; ok && i < KITO_RAIL_HEADERS_MAX && r->headers[i][0] != '\0'; i++)
        ok = curl_slist_append(hdr, r->headers[i]) != NULL;
    char auth[KITO_RAIL_TOKEN_SIZE + 32];
    if (ok && r->bearer && token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        ok = curl_slist_append(hdr, auth) != NULL;
    }
    if (!ok) {
        free(payload);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdr);
        return KITO_E_NOMEM;
    }
    call_state cs = {.out = out, .abort_fn = abort_fn, .abort_ud = abort_ud};
    long timeout = conf->timeout_ms > 0 ? (long)conf->timeout_ms : 10000;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload != NULL ? payload : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, payload != NULL ? (long)strlen(payload) : 0L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout < 5000 ? timeout : 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cs);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &cs);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    CURLcode rc = curl_easy_perform(c);
    kito_err e = KITO_OK;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        out->status = 0;
        snprintf(out->error, sizeof(out->error), "%s%s", curl_easy_strerror(rc),
                 cs.too_big ? " (answer too large)" : "");
        e = KITO_E_UNAVAILABLE;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    free(payload);
    return e;
}

/* Fetches a new token into c. KITO_E_UNAVAILABLE when none came. */
static kito_err fetch_token(kito_rail_client *c, kito_rail_abort_fn abort_fn, void *abort_ud)
{
    kito_rail_request tr;
    memset(&tr, 0, sizeof(tr));
    c->token[0] = '\0';
    /* a provider that just refused a token is not asked again at every send: once per
     * RAIL_TOKEN_RETRY_MS at most */
    if (now_ms() < c->token_retry_at_ms)
        return KITO_E_UNAVAILABLE;
    kito_err e = c->driver->build_token(&c->conf, &tr);
    if (e != KITO_OK) {
        kito_rail_request_clear(&tr);
        return e;
    }
    kito_rail_http h;
    e = perform(&c->conf, &tr, NULL, abort_fn, abort_ud, &h);
    kito_rail_request_clear(&tr);
    int64_t life_s = 0;
    if (e == KITO_OK &&
        c->driver->parse_token(h.status, h.body, h.len, c->token, sizeof(c->token), &life_s)) {
        /* refresh before it expires: a fifth of its life early, at least 10 s, at most 5 min */
        int64_t margin_s = life_s / 5;
        margin_s = margin_s < 10 ? 10 : margin_s > 300 ? 300 : margin_s;
        int64_t use_s = life_s > margin_s ? life_s - margin_s : 0;
        c->token_refresh_at_ms = now_ms() + use_s * 1000;
        c->tokens_fetched++;
        kito_rail_http_free(&h);
        return KITO_OK;
    }
    kito_log("rails", "%s: no token (HTTP %ld%s%s)", c->driver->name, e == KITO_OK ? h.status : 0,
             e == KITO_OK ? "" : ", ", e == KITO_OK ? "" : h.error);
    c->token[0] = '\0';
    c->token_retry_at_ms = now_ms() + RAIL_TOKEN_RETRY_MS;
    kito_rail_http_free(&h);
    return e == KITO_E_NOMEM ? e : KITO_E_UNAVAILABLE;
}

kito_err kito_rail_client_authorize(kito_rail_client *c, kito_rail_abort_fn abort_fn,
                                    void *abort_ud)
{
    if (c->driver->build_token == NULL)
        return KITO_OK;
    if (c->token[0] != '\0' && now_ms() < c->token_refresh_at_ms)
        return KITO_OK;
    return fetch_token(c, abort_fn, abort_ud);
}

kito_err kito_rail_client_send(kito_rail_client *c, const kito_rail_request *r,
                               kito_rail_abort_fn abort_fn, void *abort_ud, kito_rail_http *out)
{
    memset(out, 0, sizeof(*out));
    bool oauth = r->bearer && c->driver->build_token != NULL;
    if (oauth && (c->token[0] == '\0' || now_ms() >= c->token_refresh_at_ms)) {
        kito_err e = fetch_token(c, abort_fn, abort_ud);
        if (e != KITO_OK) {
            snprintf(out->error, sizeof(out->error), "no OAuth token from the provider");
            return e;
        }
    }
    kito_err e = perform(&c->conf, r, oauth ? c->token : NULL, abort_fn, abort_ud, out);
    if (e == KITO_OK && out->status == 401 && oauth) {
        /* the token was refused (revoked, expired early): one new token, one more try */
        kito_log("rails", "%s: 401 with a cached token: refreshing it once", c->driver->name);
        kito_rail_http_free(out);
        e = fetch_token(c, abort_fn, abort_ud);
        if (e != KITO_OK) {
            memset(out, 0, sizeof(*out));
            snprintf(out->error, sizeof(out->error), "no OAuth token from the provider");
            return e;
        }
        e = perform(&c->conf, r, c->token, abort_fn, abort_ud, out);
    }
    return e;
}

const kito_rail_driver *kito_rail_find(const char *name)
{
    static const kito_rail_driver *const all[] = {&kito_rail_mpesa, &kito_rail_momo,
                                                  &kito_rail_airtel};
    for (size_t i = 0; name != NULL && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
