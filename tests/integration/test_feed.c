/*
 * The live feed over HTTPS (issue 5): GET /v1/sales/{id}/live as Server-Sent Events against a
 * real kitod, with bids placed through POST /v1/lots/{id}/bids. An SSE client (libcurl multi,
 * streaming write callback) subscribes, sees every public event of real bids, disconnects, misses
 * some, reconnects with Last-Event-ID and receives exactly the missed frames in order, with
 * contiguous ids and per-lot seqs. Tender bids never appear; bad requests are refused. Over
 * HTTP/1.1 every write is one chunk in one TLS record (a raw OpenSSL client checks the wire).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(feed, 120);

/* ---- people and sales ----------------------------------------------------------------------- */

typedef kito_who who;

#define person kito_harness_person
#define expect kito_harness_expect
#define at kito_harness_at

/* A request as w (may be NULL) with an Idempotency-Key (may be NULL) and a printf-style body. */
#define call(w, method, path, idem, ...) kito_harness_callf(&kd, w, idem, method, path, __VA_ARGS__)

/* A certified stone of the test miner, offered to organiser org (the miner's consent). */
static void new_stone(unsigned long long org, char id[KITO_ID_SIZE])
{
    kito_harness_offered_stone(org, id);
}

struct sale {
    who org;
    who buyer[3];
    char id[KITO_ID_SIZE];
    char lot[2][KITO_ID_SIZE];
    int start_s; /* the sale starts this long after it is published */
};

/* A draft sale of format with two lots (opening 10,000) and three approved buyers, to start
 * start_s seconds after publish() publishes it. Not published. */
static void make_sale(struct sale *s, const char *format, int start_s)
{
    char a[KITO_TIME_SIZE], b[KITO_TIME_SIZE], path[160];
    s->start_s = start_s;
    s->org = person("organizer");
    struct kito_http_resp r =
        call(&s->org, "POST", "/v1/sales", NULL,
             "{\"title\":\"Live feed test\",\"format\":\"%s\",\"starts_at\":\"%s\","
             "\"ends_at\":\"%s\"}",
             format, at(start_s, a), at(600, b));
    expect(&r, 201, "create sale");
    snprintf(s->id, sizeof(s->id), "%s", json_string_value(json_object_get(r.json, "id")));
    kito_http_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        char stone[KITO_ID_SIZE];
        new_stone(s->org.id, stone);
        snprintf(path, sizeof(path), "/v1/sales/%s/lots", s->id);
        r = call(&s->org, "POST", path, NULL, "{\"stone_id\":\"%s\",\"opening\":10000}", stone);
        expect(&r, 201, "add lot");
        snprintf(s->lot[i], KITO_ID_SIZE, "%s", json_string_value(json_object_get(r.json, "id")));
        kito_http_resp_free(&r);
    }
    for (int i = 0; i < 3; i++) {
        s->buyer[i] = person("buyer");
        snprintf(path, sizeof(path), "/v1/sales/%s/approvals", s->id);
        r = call(&s->org, "POST", path, NULL, "{\"buyer_id\":\"%s\"}", s->buyer[i].acc);
        cr_assert(r.status == 201 || r.status == 200, "approve: %ld %s", r.status, r.body);
        kito_http_resp_free(&r);
    }
}

static void publish(struct sale *s)
{
    char path[160], a[KITO_TIME_SIZE];
    /* the start counts from now: making the buyers (scrypt) and stones can take seconds on a
     * loaded machine, and a test that subscribes after publishing must be there before the lots
     * open (a full run saw them open before the subscription: no "opened" event to wait for) */
    snprintf(path, sizeof(path), "/v1/sales/%s", s->id);
    struct kito_http_resp r =
        call(&s->org, "PATCH", path, NULL, "{\"starts_at\":\"%s\"}", at(s->start_s, a));
    expect(&r, 200, "the sale's start, from now");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", s->id);
    r = call(&s->org, "POST", path, NULL, NULL);
    cr_assert(r.status == 200 || r.status == 201, "publish: %ld %s", r.status, r.body);
    kito_http_resp_free(&r);
}

/* A bid that must be accepted (201). */
static void bid(const who *w, const char *lot, long amount)
{
    static unsigned n;
    char path[160], key[64];
    snprintf(path, sizeof(path), "/v1/lots/%s/bids", lot);
    snprintf(key, sizeof(key), "feed-%d-%u-%ld", (int)getpid(), ++n, amount);
    struct kito_http_resp r = call(w, "POST", path, key, "{\"amount\":%ld}", amount);
    expect(&r, 201, "bid");
    kito_http_resp_free(&r);
}

/* ---- an SSE client ------------------------------------------------------------------------- */

struct frame {
    unsigned long long id; /* 0 = the frame had none */
    char event[32];
    char data[1024];
};

struct sse {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    struct curl_slist *resolve;
    char *buf;
    size_t len, cap;
    size_t parsed; /* bytes of buf split into frames */
    struct frame fr[512];
    size_t n;
    int running;
    long status;
    char ctype[128];
};

static size_t sse_collect(char *p, size_t size, size_t n, void *ud)
{
    struct sse *c = ud;
    size_t k = size * n;
    if (c->len + k + 1 > c->cap) {
        c->cap = (c->len + k + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
        cr_assert(c->buf != NULL);
    }
    memcpy(c->buf + c->len, p, k);
    c->len += k;
    c->buf[c->len] = '\0';
    /* split complete frames */
    for (;;) {
        char *start = c->buf + c->parsed;
        char *end = strstr(start, "\n\n");
        if (end == NULL)
            break;
        struct frame f = {0};
        bool any = false;
        for (char *l = start; l < end;) {
            char *nl = memchr(l, '\n', (size_t)(end - l));
            if (nl == NULL)
                nl = end;
            int ll = (int)(nl - l);
            if (ll > 4 && strncmp(l, "id: ", 4) == 0)
                f.id = strtoull(l + 4, NULL, 10), any = true;
            else if (ll > 7 && strncmp(l, "event: ", 7) == 0)
                snprintf(f.event, sizeof(f.event), "%.*s", ll - 7, l + 7), any = true;
            else if (ll > 6 && strncmp(l, "data: ", 6) == 0)
                snprintf(f.data, sizeof(f.data), "%.*s", ll - 6, l + 6), any = true;
            l = nl + 1;
        }
        if (any && c->n < sizeof(c->fr) / sizeof(c->fr[0]))
            c->fr[c->n++] = f;
        c->parsed = (size_t)(end + 2 - c->buf);
    }
    return k;
}

static size_t sse_header(char *p, size_t size, size_t n, void *ud)
{
    struct sse *c = ud;
    size_t k = size * n;
    if (k > 14 && strncasecmp(p, "content-type:", 13) == 0)
        snprintf(c->ctype, sizeof(c->ctype), "%.*s", (int)(k - 13), p + 13);
    return k;
}

/* Opens the feed of sale; last (may be NULL) goes as Last-Event-ID, or in the query when
 * in_query; extra (may be NULL) is one more header line (a session: Authorization or Cookie). */
static void sse_open_with(struct sse *c, const char *sale, const char *last, bool in_query, bool h2,
                          const char *extra)
{
    memset(c, 0, sizeof(*c));
    char url[256], resolve[64], hdr[96];
    if (last != NULL && in_query)
        snprintf(url, sizeof(url), "https://localhost:%d/v1/sales/%s/live?last_event_id=%s",
                 kd.https_port, sale, last);
    else
        snprintf(url, sizeof(url), "https://localhost:%d/v1/sales/%s/live", kd.https_port, sale);
    snprintf(resolve, sizeof(resolve), "localhost:%d:127.0.0.1", kd.https_port);
    c->resolve = curl_slist_append(NULL, resolve);
    c->hdrs = curl_slist_append(NULL, "Accept: text/event-stream");
    if (last != NULL && !in_query) {
        snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s", last);
        c->hdrs = curl_slist_append(c->hdrs, hdr);
    }
    if (extra != NULL)
        c->hdrs = curl_slist_append(c->hdrs, extra);
    c->easy = curl_easy_init();
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_RESOLVE, c->resolve);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->easy, CURLOPT_CAINFO, kito_harness_var("tls/ca.pem"));
    curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION,
                     h2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, sse_collect);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, sse_header);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    c->multi = curl_multi_init();
    curl_multi_add_handle(c->multi, c->easy);
    c->running = 1;
}

static void sse_open(struct sse *c, const char *sale, const char *last, bool in_query, bool h2)
{
    sse_open_with(c, sale, last, in_query, h2, NULL);
}

/* Runs the transfer until the client holds at least want frames (or the stream ended, or
 * timeout_ms passed). Returns the count. */
static size_t sse_wait(struct sse *c, size_t want, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (c->n < want && c->running) {
        curl_multi_perform(c->multi, &c->running);
        if (c->n >= want || !c->running)
            break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > timeout_ms)
            break;
        curl_multi_poll(c->multi, NULL, 0, 50, NULL);
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
    return c->n;
}

/* Lets the transfer run for ms (to show nothing more arrives). */
static void sse_idle(struct sse *c, int ms)
{
    sse_wait(c, (size_t)-1, ms);
}

static void sse_close(struct sse *c)
{
    curl_multi_remove_handle(c->multi, c->easy);
    curl_easy_cleanup(c->easy);
    curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->hdrs);
    curl_slist_free_all(c->resolve);
    free(c->buf);
}

/* The value of "name":<number> in a frame's data, or -1. */
static long long data_int(const struct frame *f, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *p = strstr(f->data, pat);
    return p != NULL ? atoll(p + strlen(pat)) : -1;
}

/* Copies "name":"<string>" from a frame's data into out ("" when absent). */
static const char *data_str(const struct frame *f, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", name);
    const char *p = strstr(f->data, pat);
    out[0] = '\0';
    if (p != NULL) {
        p += strlen(pat);
        const char *q = strchr(p, '"');
        snprintf(out, cap, "%.*s", (int)(q - p), p);
    }
    return out;
}

/* Index of the first frame of type event at or after from, or -1. */
static long find_event(const struct sse *c, size_t from, const char *event)
{
    for (size_t i = from; i < c->n; i++)
        if (strcmp(c->fr[i].event, event) == 0)
            return (long)i;
    return -1;
}

static size_t count_event(const struct sse *c, const char *event)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += strcmp(c->fr[i].event, event) == 0;
    return k;
}

/* Waits until the client has seen `n` frames of event. */
static void wait_events(struct sse *c, const char *event, size_t n, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (count_event(c, event) < n) {
        sse_wait(c, c->n + 1, 200);
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        cr_assert(ms < timeout_ms && c->running, "waited %ld ms for %zu %s events; have %zu:\n%s",
                  ms, n, event, count_event(c, event), c->buf ? c->buf : "");
    }
}

/* ---- tests ---------------------------------------------------------------------------------- */

Test(feed, disconnect_and_resume_without_missing_an_event)
{
    struct sale s;
    make_sale(&s, "timed", 3);
    publish(&s);

    struct sse a;
    sse_open(&a, s.id, NULL, false, false);
    cr_assert_geq(sse_wait(&a, 1, 5000), 1, "no ready frame: status %ld", a.status);
    cr_assert_eq(a.status, 200);
    cr_assert(strstr(a.ctype, "text/event-stream") != NULL, "content type %s", a.ctype);
    cr_assert_str_eq(a.fr[0].event, "ready");
    cr_assert_neq(a.fr[0].id, 0, "a fresh subscriber gets the current id");
    unsigned long long id0 = a.fr[0].id;

    /* both lots open at the sale's start (kitod's clock) */
    wait_events(&a, "opened", 2, 10000);

    /* six bids, alternating buyers and lots: every maximum above the last */
    long amount = 20000;
    for (int i = 0; i < 6; i++) {
        bid(&s.buyer[i % 3], s.lot[i % 2], amount);
        amount += 20000;
    }
    wait_events(&a, "book", 6, 5000);
    /* every frame so far: ids contiguous from the ready frame's */
    for (size_t i = 1; i < a.n; i++)
        cr_assert_eq(a.fr[i].id, id0 + i, "frame %zu id %llu, want %llu", i, a.fr[i].id, id0 + i);
    cr_assert(strstr(a.buf, "bid_accepted") == NULL && strstr(a.buf, "outbid") == NULL,
              "a bidder-only event reached the feed");
    for (int i = 0; i < 3; i++) {
        char num[32];
        snprintf(num, sizeof(num), "%llu", s.buyer[i].id);
        cr_assert(strstr(a.buf, s.buyer[i].acc) == NULL, "a buyer's account id leaked");
    }

    /* per lot: seq grows by one per public command (opened = 1, then one book per bid) */
    long long last_seq[2] = {0, 0};
    for (size_t i = 1; i < a.n; i++) {
        char lot[KITO_ID_SIZE];
        data_str(&a.fr[i], "lot_id", lot, sizeof(lot));
        int k = strcmp(lot, s.lot[0]) == 0 ? 0 : 1;
        cr_assert(k == 1 ? strcmp(lot, s.lot[1]) == 0 : true, "frame of another lot: %s", lot);
        long long seq = data_int(&a.fr[i], "seq");
        cr_assert(seq == last_seq[k] + 1 || seq == last_seq[k], "lot %d: seq %lld after %lld (gap)",
                  k, seq, last_seq[k]);
        last_seq[k] = seq;
    }
    unsigned long long last_seen = a.fr[a.n - 1].id;
    char last_text[32];
    snprintf(last_text, sizeof(last_text), "%llu", last_seen);
    sse_close(&a); /* the client leaves */

    /* more happens meanwhile */
    for (int i = 0; i < 5; i++) {
        bid(&s.buyer[(i + 1) % 3], s.lot[i % 2], amount);
        amount += 20000;
    }

    /* back, with Last-Event-ID: exactly the five missed frames, in order, then live ones */
    struct sse b;
    sse_open(&b, s.id, last_text, false, false);
    sse_wait(&b, 6, 5000);
    cr_assert_eq(b.n, 6, "ready + 5 missed, got %zu:\n%s", b.n, b.buf ? b.buf : "");
    cr_assert_str_eq(b.fr[0].event, "ready");
    cr_assert_eq(b.fr[0].id, 0, "the ready frame of a resume has no id");
    cr_assert(strstr(b.fr[0].data, "\"resumed\":true") != NULL, "%s", b.fr[0].data);
    for (size_t i = 1; i < 6; i++) {
        cr_assert_str_eq(b.fr[i].event, "book");
        cr_assert_eq(b.fr[i].id, last_seen + i, "missed frame %zu has id %llu, want %llu", i,
                     b.fr[i].id, last_seen + i);
        char lot[KITO_ID_SIZE];
        data_str(&b.fr[i], "lot_id", lot, sizeof(lot));
        int k = strcmp(lot, s.lot[0]) == 0 ? 0 : 1;
        long long seq = data_int(&b.fr[i], "seq");
        cr_assert_eq(seq, last_seq[k] + 1, "lot %d: seq %lld after %lld", k, seq, last_seq[k]);
        last_seq[k] = seq;
    }
    sse_idle(&b, 300);
    cr_assert_eq(b.n, 6, "nothing more than the missed frames");
    bid(&s.buyer[0], s.lot[1], amount + 100000);
    wait_events(&b, "book", 6, 5000);
    cr_assert_eq(b.fr[6].id, last_seen + 6);
    cr_assert_eq(data_int(&b.fr[6], "seq"), last_seq[1] + 1);

    /* the same resume through the query string (clients that cannot set headers) */
    struct sse c;
    sse_open(&c, s.id, last_text, true, false);
    sse_wait(&c, 7, 5000);
    cr_assert_eq(c.n, 7, "%s", c.buf ? c.buf : "");
    for (size_t i = 1; i < 7; i++)
        cr_assert_eq(c.fr[i].id, last_seen + i);

    /* an id the server never gave (or from a ring that is gone): resync, then live */
    struct sse d;
    sse_open(&d, s.id, "12345", false, false);
    sse_wait(&d, 1, 5000);
    cr_assert_str_eq(d.fr[0].event, "resync");
    cr_assert_eq(d.fr[0].id, last_seen + 6, "resync carries the current id");
    sse_close(&b);
    sse_close(&c);
    sse_close(&d);
}

/* The frames of event `mine` whose data has "type":"<type>". */
static size_t count_mine(const struct sse *c, const char *type)
{
    char pat[48];
    snprintf(pat, sizeof(pat), "\"type\":\"%s\"", type);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        k += strcmp(c->fr[i].event, "mine") == 0 && strstr(c->fr[i].data, pat) != NULL;
    return k;
}

/* A buyer watching the sale signed in (by bearer token, or by a page's session cookie) gets her
 * own notices on her stream, without ids, and nobody else does (issue 16). */
Test(feed, private_notices_reach_their_buyer_and_nobody_else)
{
    /* a test before this one stalls Redis (SIGSTOP) and may leave before it wakes: start once it
     * answers again, or the lots would not open in time */
    static const char ping[] = "redis-cli -p \"$KITO_TEST_REDIS_PORT\" ping";
    for (int i = 0; i < 100 && kito_harness_sh(ping, NULL, 0) != 0; i++)
        kito_harness_sleep_ms(100);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
    struct sale s;
    make_sale(&s, "timed", 2);
    publish(&s);
    char h0[128], h1[128];
    snprintf(h0, sizeof(h0), "Authorization: Bearer %s", s.buyer[0].token);
    snprintf(h1, sizeof(h1), "Cookie: theme=dark; __Host-kito=%s", s.buyer[1].token);
    struct sse a, b, anon;
    sse_open_with(&a, s.id, NULL, false, false, h0);
    sse_open_with(&b, s.id, NULL, false, true, h1); /* and over HTTP/2 */
    /* (a browser asks for gzip: the stream is never compressed, its frames parse as they come) */
    sse_open_with(&anon, s.id, NULL, false, false, "Accept-Encoding: gzip");
    cr_assert_geq(sse_wait(&a, 1, 5000), 1); /* connected: the ready frame */
    cr_assert_geq(sse_wait(&b, 1, 5000), 1);
    cr_assert_geq(sse_wait(&anon, 1, 5000), 1);
    cr_assert_eq(b.status, 200);
    wait_events(&a, "opened", 2, 20000); /* the lots are open */

    bid(&s.buyer[0], s.lot[0], 20000);
    wait_events(&a, "mine", 1, 2000);
    cr_assert_eq(count_mine(&a, "bid_accepted"), 1, "%s", a.buf);
    long i = find_event(&a, 0, "mine");
    cr_assert_eq(a.fr[i].id, 0, "a private notice has no id");
    cr_assert(strstr(a.fr[i].data, "\"leading\":true") != NULL, "%s", a.fr[i].data);
    cr_assert(strstr(a.fr[i].data, "\"your_max\":{\"amount\":20000") != NULL, "%s", a.fr[i].data);
    /* her token on the lot is the one the public book event shows as leader */
    char you[32], leader[32];
    data_str(&a.fr[i], "you", you, sizeof(you));
    data_str(&a.fr[find_event(&a, 0, "book")], "leader", leader, sizeof(leader));
    cr_assert_str_eq(you, leader);

    bid(&s.buyer[1], s.lot[0], 40000); /* outbids buyer 0 */
    wait_events(&a, "mine", 2, 2000);
    cr_assert_eq(count_mine(&a, "outbid"), 1, "buyer 0 hears she was outbid:\n%s", a.buf);
    wait_events(&b, "mine", 1, 2000);
    cr_assert_eq(count_mine(&b, "bid_accepted"), 1, "%s", b.buf);
    wait_events(&anon, "book", 2, 2000);
    sse_idle(&anon, 300);
    sse_idle(&b, 100);
    cr_assert_eq(count_event(&anon, "mine"), 0, "an anonymous watcher got a notice:\n%s", anon.buf);
    cr_assert_eq(count_event(&b, "mine"), 1, "buyer 1 got only her own notice:\n%s", b.buf);
    cr_assert(strstr(anon.buf, "your_max") == NULL && strstr(anon.buf, "outbid") == NULL);
    /* buyer 2, signed in but not bidding, hears nothing private */
    char h2[128];
    snprintf(h2, sizeof(h2), "Authorization: Bearer %s", s.buyer[2].token);
    struct sse c;
    sse_open_with(&c, s.id, NULL, false, false, h2);
    sse_wait(&c, 1, 5000);
    bid(&s.buyer[0], s.lot[0], 60000);
    wait_events(&c, "book", 1, 2000);
    wait_events(&b, "mine", 2, 2000);
    cr_assert_eq(count_mine(&b, "outbid"), 1, "%s", b.buf);
    sse_idle(&c, 200);
    cr_assert_eq(count_event(&c, "mine"), 0, "%s", c.buf);

    /* the lot carries its public history from the feed: three book events, newest first */
    char path[96];
    snprintf(path, sizeof(path), "/v1/lots/%s", s.lot[0]);
    struct kito_http_resp r = call(NULL, "GET", path, NULL, NULL);
    expect(&r, 200, "lot");
    json_t *h = json_object_get(r.json, "history");
    cr_assert(json_is_array(h) && json_array_size(h) == 3, "history: %s", r.body);
    long long prev = 1LL << 40;
    for (size_t k = 0; k < 3; k++) {
        json_t *e = json_array_get(h, k);
        cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "book");
        long long seq = json_integer_value(json_object_get(e, "seq"));
        cr_assert_lt(seq, prev, "newest first");
        prev = seq;
    }
    cr_assert(strstr(r.body, s.buyer[0].acc) == NULL && strstr(r.body, "your_max") == NULL);
    kito_http_resp_free(&r);
    sse_close(&a);
    sse_close(&b);
    sse_close(&c);
    sse_close(&anon);
}

Test(feed, over_http2_too)
{
    struct sale s;
    make_sale(&s, "timed", 2);
    publish(&s);
    struct sse a;
    sse_open(&a, s.id, NULL, false, true);
    sse_wait(&a, 1, 5000);
    long version = 0;
    curl_easy_getinfo(a.easy, CURLINFO_HTTP_VERSION, &version);
    cr_assert_eq(version, CURL_HTTP_VERSION_2_0, "not HTTP/2");
    wait_events(&a, "opened", 2, 10000);
    bid(&s.buyer[0], s.lot[0], 15000);
    wait_events(&a, "book", 1, 5000);
    long i = find_event(&a, 0, "book");
    cr_assert(strstr(a.fr[i].data, "\"leader\":\"b") != NULL, "%s", a.fr[i].data);
    cr_assert(strstr(a.fr[i].data, "\"price\":{\"amount\":10000,\"currency\":\"USD\"}") != NULL,
              "%s", a.fr[i].data);
    cr_assert(strstr(a.buf, "15000") == NULL, "the bidder's maximum leaked: %s", a.buf);
    sse_close(&a);
}

static void redis_wake(void)
{
    kito_harness_service("redis_start"); /* (running again by now: this only checks) */
}

/* A batch whose answer is lost (Redis stalls past kitod's 3 s timeout, then runs it): the bidder
 * gets 503, kitod rebuilds the lot from Redis -- bid included -- and the feed, which never saw
 * that bid's events, must tell its subscribers to resync instead of silently going on. */
Test(feed, a_bid_stored_after_its_batch_failed_is_not_silently_skipped, .fini = redis_wake)
{
    struct sale s;
    make_sale(&s, "timed", 2);
    publish(&s);
    struct sse a;
    sse_open(&a, s.id, NULL, false, false);
    sse_wait(&a, 1, 5000);
    wait_events(&a, "opened", 2, 10000);
    bid(&s.buyer[0], s.lot[0], 20000);
    wait_events(&a, "book", 1, 5000);

    kito_harness_redis_pause(5);
    char path[160];
    snprintf(path, sizeof(path), "/v1/lots/%s/bids", s.lot[0]);
    struct kito_http_resp r = call(&s.buyer[1], "POST", path, "lost-answer", "{\"amount\":40000}");
    expect(&r, 503, "a bid whose batch timed out");
    kito_http_resp_free(&r);
    kito_harness_sleep_ms(2500); /* Redis runs the batch when it wakes */
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
    long long count = -1;
    snprintf(path, sizeof(path), "/v1/lots/%s", s.lot[0]);
    for (int i = 0; i < 100 && count != 2; i++) {
        r = call(NULL, "GET", path, NULL, NULL);
        if (r.status == 200)
            count = (long long)json_integer_value(json_object_get(r.json, "bid_count"));
        kito_http_resp_free(&r);
        kito_harness_sleep_ms(100);
    }
    cr_assert_eq(count, 2, "the premise: Redis ran the batch whose answer was lost");

    bid(&s.buyer[2], s.lot[0], 80000);
    wait_events(&a, "book", 2, 5000);
    long first = find_event(&a, 0, "book");
    long second = find_event(&a, (size_t)first + 1, "book");
    long long s1 = data_int(&a.fr[first], "seq"), s2 = data_int(&a.fr[second], "seq");
    long resync = find_event(&a, (size_t)first + 1, "resync");
    cr_assert(s2 == s1 + 1 || (resync > first && resync < second),
              "lot seq %lld then %lld with no resync between:\n%s", s1, s2, a.buf);
    for (size_t i = 1; i < a.n; i++)
        cr_assert_eq(a.fr[i].id, a.fr[0].id + i, "ids stay contiguous");
    sse_close(&a);
}

Test(feed, tender_bids_never_appear)
{
    struct sale s;
    make_sale(&s, "tender", 2);
    publish(&s);
    struct sse a;
    sse_open(&a, s.id, NULL, false, false);
    sse_wait(&a, 1, 5000);
    wait_events(&a, "opened", 2, 10000);
    size_t before = a.n;
    bid(&s.buyer[0], s.lot[0], 31337);
    bid(&s.buyer[1], s.lot[0], 42424);
    bid(&s.buyer[0], s.lot[0], 33333); /* a revision */
    sse_idle(&a, 800);
    cr_assert_eq(a.n, before, "a tender bid reached the feed:\n%s", a.buf);
    cr_assert(strstr(a.buf, "31337") == NULL && strstr(a.buf, "42424") == NULL);
    sse_close(&a);
}

Test(feed, refusals)
{
    struct kito_http_resp r;
    /* a sale that does not exist, a malformed id */
    r = call(NULL, "GET", "/v1/sales/sal_0000000zzzzzz/live", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = call(NULL, "GET", "/v1/sales/nope/live", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    /* a draft is nobody's business */
    struct sale s;
    make_sale(&s, "timed", 60);
    char path[160];
    snprintf(path, sizeof(path), "/v1/sales/%s/live", s.id);
    r = call(NULL, "GET", path, NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    publish(&s);
    /* malformed resume points */
    const char *hdr[] = {"Last-Event-ID: abc", NULL};
    cr_assert_eq(kito_http(&kd, "GET", path, NULL, 0, hdr, 0, &r), 0);
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/live?last_event_id=-1", s.id);
    r = call(NULL, "GET", path, NULL, NULL);
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/live?since=1", s.id);
    r = call(NULL, "GET", path, NULL, NULL);
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    /* POST is not a method of the feed */
    snprintf(path, sizeof(path), "/v1/sales/%s/live", s.id);
    r = call(NULL, "POST", path, NULL, NULL);
    cr_assert_eq(r.status, 405);
    kito_http_resp_free(&r);
}

Test(feed, shutdown_ends_the_stream)
{
    struct sale s;
    make_sale(&s, "timed", 60);
    publish(&s);
    struct sse a;
    sse_open(&a, s.id, NULL, false, false);
    sse_wait(&a, 1, 5000);
    cr_assert_eq(a.n, 1);
    kill(kd.pid, SIGTERM);
    sse_wait(&a, 2, 5000);
    cr_assert_str_eq(a.fr[1].event, "shutdown", "%s", a.buf);
    sse_idle(&a, 3000);
    cr_assert(!a.running, "the stream ended");
    /* ended properly: over HTTP/1.1, the last chunk and the empty chunk that closes the body */
    int left = 0;
    CURLMsg *m = curl_multi_info_read(a.multi, &left);
    cr_assert(m != NULL && m->msg == CURLMSG_DONE, "no transfer result");
    cr_assert_eq(m->data.result, CURLE_OK, "the stream did not end cleanly: %s",
                 curl_easy_strerror(m->data.result));
    int st = kito_harness_kitod_stop(&kd, 5000);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kitod did not stop cleanly: %d", st);
    sse_close(&a);
}

/* ---- the wire over HTTP/1.1 ------------------------------------------------------------------ */

/* Reads one TLS record's plaintext (OpenSSL's SSL_read never returns more than one record).
 * Returns its length, 0 at the end of the stream, -1 after timeout_ms without data. */
static int read_record(SSL *ssl, int fd, char *buf, int cap, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int r = SSL_read(ssl, buf, cap);
    return r > 0 ? r : SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

/* Checks that rec[0..len) is exactly one whole HTTP/1.1 chunk of whole SSE frames and appends
 * its payload to out. */
static void one_chunk(const char *rec, int len, char *out, size_t cap)
{
    char *end;
    unsigned long size = strtoul(rec, &end, 16);
    cr_assert(end > rec && end[0] == '\r' && end[1] == '\n', "not a chunk: %.*s", len, rec);
    const char *payload = end + 2;
    cr_assert_gt(size, 0, "an empty chunk ended the stream");
    cr_assert_eq((long)(payload - rec) + (long)size + 2, len,
                 "a record holds more or less than one chunk (size %lu, record %d): %.*s", size,
                 len, len, rec);
    cr_assert(payload[size] == '\r' && payload[size + 1] == '\n', "chunk not closed by CRLF");
    cr_assert(size >= 2 && payload[size - 2] == '\n' && payload[size - 1] == '\n',
              "a chunk must end on a whole frame: %.*s", (int)size, payload);
    size_t have = strlen(out);
    cr_assert_lt(have + size, cap);
    memcpy(out + have, payload, size);
    out[have + size] = '\0';
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

Test(feed, http1_one_chunk_per_tls_record)
{
    struct sale s;
    make_sale(&s, "timed", 2);
    publish(&s);

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    cr_assert_eq(SSL_CTX_load_verify_locations(ctx, kito_harness_var("tls/ca.pem"), NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)kd.https_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    cr_assert_eq(SSL_connect(ssl), 1, "TLS handshake");
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "GET /v1/sales/%s/live HTTP/1.1\r\nHost: localhost\r\n"
                     "Accept: text/event-stream\r\n\r\n",
                     s.id);
    cr_assert_eq(SSL_write(ssl, req, n), n);

    /* the head, in its own record or records */
    static char rec[1 << 15], head[4096], body[1 << 16];
    head[0] = body[0] = '\0';
    char *eoh = NULL;
    while (eoh == NULL) {
        int r = read_record(ssl, fd, rec, sizeof(rec) - 1, 5000);
        cr_assert_gt(r, 0, "no response head");
        rec[r] = '\0';
        cr_assert_lt(strlen(head) + (size_t)r, sizeof(head));
        strcat(head, rec);
        eoh = strstr(head, "\r\n\r\n");
        if (eoh != NULL && eoh[4] != '\0') /* the head's record also carried body bytes */
            one_chunk(eoh + 4, (int)strlen(eoh + 4), body, sizeof(body));
    }
    eoh[4] = '\0';
    for (char *p = head; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    cr_assert(strncmp(head, "http/1.1 200", 12) == 0, "%s", head);
    cr_assert_eq(count_of(head, "transfer-encoding:"), 1, "one Transfer-Encoding header: %s", head);
    cr_assert(strstr(head, "transfer-encoding: chunked\r\n") != NULL, "%s", head);
    cr_assert(strstr(head, "content-length:") == NULL, "%s", head);

    /* then every record is one whole chunk: the preamble, the lots opening, three bids */
    long amount = 20000;
    int bids = 0;
    for (int turns = 0; count_of(body, "event: book\n") < 3 && turns < 50; turns++) {
        if (count_of(body, "event: opened\n") == 2 && bids == count_of(body, "event: book\n") &&
            bids < 3) {
            bid(&s.buyer[bids % 3], s.lot[0], amount);
            amount += 20000;
            bids++;
        }
        int r = read_record(ssl, fd, rec, sizeof(rec) - 1, 10000);
        cr_assert_gt(r, 0, "the stream stalled or ended; so far:\n%s", body);
        one_chunk(rec, r, body, sizeof(body));
    }
    cr_assert(strncmp(body, "retry: 2000\n", 12) == 0, "%s", body);
    cr_assert_eq(count_of(body, "event: ready\n"), 1, "%s", body);
    cr_assert_eq(count_of(body, "event: opened\n"), 2, "%s", body);
    cr_assert_eq(count_of(body, "event: book\n"), 3, "%s", body);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}
