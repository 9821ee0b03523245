/* Bidding over HTTPS against the real Redis and MariaDB (issue 5): sales are built through the
 * API (stones and certificates arranged in SQL), published with short windows (they open a
 * second or two later and close a few seconds after), and watched by polling. Checks prices and
 * leaders against DESIGN.md's rules after every bid, soft close, the close landing in Redis's
 * settlement outbox, tender privacy and ties, a live sale driven by the clerk, idempotent
 * retries, refusals with their codes and the current ask, rate limits, and Redis going away. */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/http/http_error.h"
#include "api/common/validate.h"
#include "api/live/bidding.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(bidding, 240);

/* ---- helpers --------------------------------------------------------------------------------- */

typedef kito_who who;

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A request as w (may be NULL) with a printf-style body (NULL: none). */
#define call(w, method, path, ...) kito_harness_callf(&kd, w, NULL, method, path, __VA_ARGS__)

static const char *str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    cr_assert(s != NULL, "no string member %s", name);
    return s;
}

/* An amount member ({"amount": N, ...}) of o, or -1 when it is null. */
static long long money(const json_t *o, const char *name)
{
    const json_t *m = json_object_get(o, name);
    if (json_is_null(m))
        return -1;
    cr_assert(json_is_object(m), "%s is not money", name);
    return (long long)json_integer_value(json_object_get(m, "amount"));
}

static long long integer(const json_t *o, const char *name)
{
    return (long long)json_integer_value(json_object_get(o, name));
}

static bool boolean(const json_t *o, const char *name)
{
    return json_is_true(json_object_get(o, name));
}

static const char *rfc3339(long long ms, char buf[KITO_TIME_SIZE])
{
    cr_assert_eq(kito_time_format(ms, buf), KITO_OK);
    return buf;
}

/* A stone of a fresh miner (returned in *seller), certified. */
static void new_stone(who *seller, char id[KITO_ID_SIZE])
{
    *seller = kito_harness_person("miner");
    kito_harness_stone(seller->id, seller->id, true, id);
}

/* A sale built and published through the API. */
typedef struct sale {
    who org;
    who seller[4];
    char id[KITO_ID_SIZE];
    char lots[4][KITO_ID_SIZE];
    unsigned long long lot_keys[4];
    long long starts_ms, ends_ms;
} sale;

/* Creates a sale of format with n lots (opening 10000 each, reserve `reserve` on lot 0 when > 0),
 * starting start_in_ms from now and ending end_in_ms from now (0: a live sale without an end);
 * extra are more members. Approves buyers[0..nb) with paddles 1.. (paddles[i] when given). Does
 * not publish. */
static void build_sale(sale *s, const char *format, int n, long long reserve, long start_in_ms,
                       long end_in_ms, const char *extra, const who *buyers, int nb,
                       const int *paddles)
{
    char a[KITO_TIME_SIZE], b[KITO_TIME_SIZE], path[160], body[512];
    memset(s, 0, sizeof(*s));
    s->org = kito_harness_person("organizer");
    s->starts_ms = now_ms() + start_in_ms;
    s->ends_ms = end_in_ms > 0 ? now_ms() + end_in_ms : 0;
    if (end_in_ms > 0)
        snprintf(body, sizeof(body),
                 "{\"title\":\"Tunduru sapphires\",\"format\":\"%s\",\"starts_at\":\"%s\","
                 "\"ends_at\":\"%s\"%s}",
                 format, rfc3339(s->starts_ms, a), rfc3339(s->ends_ms, b), extra);
    else
        snprintf(body, sizeof(body),
                 "{\"title\":\"Arusha trade forum\",\"format\":\"%s\",\"venue\":\"AICC Arusha\","
                 "\"starts_at\":\"%s\"%s}",
                 format, rfc3339(s->starts_ms, a), extra);
    struct kito_http_resp r = kito_harness_call(&kd, &s->org, NULL, "POST", "/v1/sales", body);
    kito_harness_expect(&r, 201, "create sale");
    snprintf(s->id, sizeof(s->id), "%s", str(r.json, "id"));
    kito_http_resp_free(&r);
    for (int i = 0; i < n; i++) {
        char stone[KITO_ID_SIZE];
        new_stone(&s->seller[i], stone);
        kito_harness_offer(stone, s->org.id); /* the miner's consent (DESIGN.md) */
        snprintf(path, sizeof(path), "/v1/sales/%s/lots", s->id);
        if (i == 0 && reserve > 0)
            r = call(&s->org, "POST", path,
                     "{\"stone_id\":\"%s\",\"opening\":10000,\"reserve\":%lld}", stone, reserve);
        else
            r = call(&s->org, "POST", path, "{\"stone_id\":\"%s\",\"opening\":10000}", stone);
        kito_harness_expect(&r, 201, "add lot");
        snprintf(s->lots[i], KITO_ID_SIZE, "%s", str(r.json, "id"));
        uint64_t k = 0;
        kito_id_parse(KITO_ID_LOT, s->lots[i], &k);
        s->lot_keys[i] = k;
        kito_http_resp_free(&r);
    }
    for (int i = 0; i < nb; i++) {
        snprintf(path, sizeof(path), "/v1/sales/%s/approvals", s->id);
        r = call(&s->org, "POST", path, "{\"buyer_id\":\"%s\",\"paddle_number\":%d}", buyers[i].acc,
                 paddles != NULL ? paddles[i] : i + 1);
        kito_harness_expect(&r, 201, "approve");
        kito_http_resp_free(&r);
    }
}

static void publish(sale *s)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", s->id);
    struct kito_http_resp r = call(&s->org, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);
}

/* GET /v1/lots/{id} as w (NULL: anonymous); the caller frees. */
static struct kito_http_resp get_lot(const who *w, const char *lot)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/lots/%s", lot);
    struct kito_http_resp r = call(w, "GET", path, NULL);
    kito_harness_expect(&r, 200, "get lot");
    return r;
}

/* Polls the lot until its state is want; fails after timeout_ms. */
static void wait_state(const char *lot, const char *want, long timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    char last[32] = "";
    while (now_ms() < end) {
        struct kito_http_resp r = get_lot(NULL, lot);
        snprintf(last, sizeof(last), "%s", str(r.json, "state"));
        kito_http_resp_free(&r);
        if (strcmp(last, want) == 0)
            return;
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("lot %s never became %s (last %s)", lot, want, last);
}

static int key_counter;

/* A bid of amount by w on lot with a fresh key (written into key_out when not NULL). */
static struct kito_http_resp bid_key(const who *w, const char *lot, long long amount,
                                     const char *key)
{
    char path[160], body[64];
    snprintf(path, sizeof(path), "/v1/lots/%s/bids", lot);
    snprintf(body, sizeof(body), "{\"amount\":%lld}", amount);
    return kito_harness_call(&kd, w, key, "POST", path, body);
}

static struct kito_http_resp bid(const who *w, const char *lot, long long amount)
{
    char key[64];
    snprintf(key, sizeof(key), "k-%d-%d-%lld", (int)getpid(), ++key_counter, now_ms());
    return bid_key(w, lot, amount, key);
}

/* A bid that must be accepted; checks the view it returns: price, leading, ask. */
static void bid_ok(const who *w, const char *lot, long long amount, long long price, bool leads,
                   long long ask)
{
    struct kito_http_resp r = bid(w, lot, amount);
    kito_harness_expect(&r, 201, "bid");
    const json_t *view = json_object_get(r.json, "lot");
    cr_assert_eq(money(view, "price"), price, "bid %lld: price %lld, want %lld", amount,
                 money(view, "price"), price);
    cr_assert_eq(boolean(view, "leader_is_you"), leads, "bid %lld: leader_is_you", amount);
    cr_assert_eq(money(view, "ask"), ask, "bid %lld: ask %lld, want %lld", amount,
                 money(view, "ask"), ask);
    cr_assert(strncmp(str(r.json, "bid_id"), "bid_", 4) == 0);
    kito_http_resp_free(&r);
}

/* A refused bid: status, code and the ask in the body. */
static void bid_refused(const who *w, const char *lot, long long amount, long status,
                        const char *code, long long ask)
{
    struct kito_http_resp r = bid(w, lot, amount);
    kito_assert_error(&r, status, code);
    if (ask >= 0)
        cr_assert_eq(money(r.json, "ask"), ask, "refusal of %lld: ask %lld, want %lld", amount,
                     money(r.json, "ask"), ask);
    kito_http_resp_free(&r);
}

/* The settlement outbox entry of lot_key: fields into a JSON object, or NULL when absent. */
static json_t *outbox_entry(unsigned long long lot_key)
{
    redisContext *c = kito_harness_redis();
    redisReply *r = redisCommand(c, "XRANGE outbox:settlement - +");
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    json_t *found = NULL;
    char want[32];
    snprintf(want, sizeof(want), "%llu", lot_key);
    for (size_t i = 0; i < r->elements && found == NULL; i++) {
        redisReply *fields = r->element[i]->element[1];
        json_t *o = json_object();
        for (size_t f = 0; f + 1 < fields->elements; f += 2)
            json_object_set_new(o, fields->element[f]->str,
                                json_string(fields->element[f + 1]->str));
        if (strcmp(json_string_value(json_object_get(o, "lot_id")), want) == 0)
            found = o;
        else
            json_decref(o);
    }
    freeReplyObject(r);
    redisFree(c);
    return found;
}

/* Waits for the lot's outbox entry. */
static json_t *wait_outbox(unsigned long long lot_key, long timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (now_ms() < end) {
        json_t *o = outbox_entry(lot_key);
        if (o != NULL)
            return o;
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("no outbox entry for lot %llu", lot_key);
    return NULL;
}

static const char *field(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s != NULL ? s : "";
}

/* ---- timed: proxy bidding from first bid to close -------------------------------------------- */

Test(bidding, timed_sale_proxy_bidding_to_close)
{
    who b[4] = {kito_harness_person("buyer"), kito_harness_person("buyer"),
                kito_harness_person("buyer"), kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 2500, 9000, ",\"soft_close_s\":0", b, 3, NULL);
    struct kito_http_resp r;

    /* before publishing, a buyer cannot see the lot at all */
    bid_refused(&b[0], s.lots[0], 10000, 404, "not_found", -1);
    publish(&s);

    /* published but not open yet: the engine says so, with the opening price as the ask */
    bid_refused(&b[0], s.lots[0], 10000, 409, "lot_not_open", 10000);
    r = get_lot(NULL, s.lots[0]);
    cr_assert_str_eq(str(r.json, "state"), "scheduled");
    cr_assert_eq(money(r.json, "ask"), 10000);
    kito_http_resp_free(&r);
    wait_state(s.lots[0], "open", 6000);

    /* proxy bidding (DESIGN.md, Timed); the $100 ladder rung steps by $10 = 1000 cents */
    bid_ok(&b[0], s.lots[0], 10000, 10000, true, 11000);           /* A: opening */
    bid_refused(&b[1], s.lots[0], 10500, 422, "below_ask", 11000); /* B below the ask */
    bid_ok(&b[1], s.lots[0], 15000, 11000, true, 12000);           /* B leads at A + step */
    bid_ok(&b[2], s.lots[0], 12000, 13000, false, 14000);          /* C: B's proxy answers */
    bid_ok(&b[0], s.lots[0], 20000, 16000, true, 17000);           /* A: B's max + step */
    bid_refused(&b[1], s.lots[0], 16500, 422, "below_ask", 17000);
    bid_ok(&b[0], s.lots[0], 25000, 16000, true, 17000); /* raising her own max moves nothing */
    bid_refused(&b[0], s.lots[0], 24000, 422, "not_above_own_max", 17000);

    /* the public view and each bidder's */
    r = get_lot(NULL, s.lots[0]);
    cr_assert_eq(money(r.json, "price"), 16000);
    cr_assert_eq(integer(r.json, "bid_count"), 5);
    cr_assert(!boolean(r.json, "leader_is_you"));
    cr_assert(boolean(r.json, "reserve_met"));
    long long seq = integer(r.json, "seq");
    kito_http_resp_free(&r);
    r = get_lot(&b[0], s.lots[0]);
    cr_assert(boolean(r.json, "leader_is_you"));
    kito_http_resp_free(&r);
    r = get_lot(&b[1], s.lots[0]);
    cr_assert(!boolean(r.json, "leader_is_you"));
    kito_http_resp_free(&r);
    char path[160];
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", s.id);
    r = call(&b[0], "GET", path, NULL);
    kito_harness_expect(&r, 200, "sale lots");
    const json_t *item = json_array_get(json_object_get(r.json, "items"), 0);
    cr_assert_eq(money(item, "price"), 16000);
    cr_assert(boolean(item, "leader_is_you"));
    cr_assert_eq(integer(item, "seq"), seq);
    kito_http_resp_free(&r);

    /* refusals that change nothing: unapproved, the seller (a miner cannot bid at all),
     * malformed amounts */
    bid_refused(&b[3], s.lots[0], 30000, 403, "not_approved", 17000);
    r = bid(&s.seller[0], s.lots[0], 30000);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    const char *bad[] = {"{\"amount\":\"17000\"}",
                         "{\"amount\":-5}",
                         "{\"amount\":0}",
                         "{\"amount\":17000.5}",
                         "{}",
                         "{\"amount\":null}",
                         "{\"amount\":1000000000000000000}",
                         "{\"amount\":17000,\"x\":1}"};
    snprintf(path, sizeof(path), "/v1/lots/%s/bids", s.lots[0]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = kito_harness_call(&kd, &b[1 + i % 3], "malformed-1", "POST", path,
                              bad[i]); /* rate limits */
        kito_assert_error(&r, 422, "validation_failed");
        kito_http_resp_free(&r);
    }
    r = kito_harness_call(&kd, &b[1], NULL, "POST", path, "{\"amount\":30000}");
    kito_assert_error(&r, 400, "bad_request"); /* no Idempotency-Key */
    kito_http_resp_free(&r);
    r = get_lot(NULL, s.lots[0]);
    cr_assert_eq(integer(r.json, "seq"), seq, "a refused bid changed the lot");
    cr_assert_eq(money(r.json, "price"), 16000);
    kito_http_resp_free(&r);

    /* /v1/me/bids and the close */
    r = call(&b[2], "GET", "/v1/me/bids", NULL);
    kito_harness_expect(&r, 200, "me bids");
    bool seen = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(r.json, "items"), i, v)
    {
        if (strcmp(str(v, "lot_id"), s.lots[0]) == 0) {
            seen = true;
            cr_assert_eq(money(json_object_get(v, "bid"), "amount"), 12000);
            cr_assert(!boolean(json_object_get(v, "bid"), "leading"));
        }
    }
    cr_assert(seen, "C's bid is not in /v1/me/bids");
    kito_http_resp_free(&r);

    wait_state(s.lots[0], "sold", 12000);
    json_t *o = wait_outbox(s.lot_keys[0], 3000);
    char want[32];
    snprintf(want, sizeof(want), "%llu", b[0].id);
    cr_assert_str_eq(field(o, "result"), "sold");
    cr_assert_str_eq(field(o, "winner"), want);
    cr_assert_str_eq(field(o, "hammer_minor"), "16000");
    cr_assert_str_eq(field(o, "currency"), "USD");
    json_decref(o);
    bid_refused(&b[1], s.lots[0], 30000, 409, "lot_closed", -1);

    r = call(&b[0], "GET", "/v1/me/wins", NULL);
    kito_harness_expect(&r, 200, "me wins");
    seen = false;
    json_array_foreach(json_object_get(r.json, "items"), i, v)
    {
        if (strcmp(str(v, "lot_id"), s.lots[0]) == 0) {
            seen = true;
            cr_assert_eq(money(v, "hammer"), 16000);
        }
    }
    cr_assert(seen, "the lot is not in A's wins");
    kito_http_resp_free(&r);
    r = call(&b[1], "GET", "/v1/me/wins", NULL);
    json_array_foreach(json_object_get(r.json, "items"), i, v)
        cr_assert_str_neq(str(v, "lot_id"), s.lots[0], "B did not win");
    kito_http_resp_free(&r);
}

/* ---- idempotent retries ---------------------------------------------------------------------- */

Test(bidding, idempotent_retries)
{
    who b[2] = {kito_harness_person("buyer"), kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 1500, 60000, "", b, 2, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);

    struct kito_http_resp r1 = bid_key(&b[0], s.lots[0], 10000, "retry-me-1");
    kito_harness_expect(&r1, 201, "first");
    struct kito_http_resp r2 = bid_key(&b[0], s.lots[0], 10000, "retry-me-1");
    kito_harness_expect(&r2, 201, "retry");
    cr_assert_str_eq(str(r1.json, "bid_id"), str(r2.json, "bid_id"));
    cr_assert_eq(integer(r1.json, "seq"), integer(r2.json, "seq"));
    char hdr[16];
    cr_assert(kito_http_header(&r2, "idempotent-replayed", hdr, sizeof(hdr)));
    cr_assert_eq(integer(json_object_get(r2.json, "lot"), "bid_count"), 1, "the retry doubled");
    kito_http_resp_free(&r1);
    kito_http_resp_free(&r2);

    /* the same key from another buyer is another bid */
    r1 = bid_key(&b[1], s.lots[0], 11000, "retry-me-1");
    kito_harness_expect(&r1, 201, "other buyer, same key");
    cr_assert_eq(integer(json_object_get(r1.json, "lot"), "bid_count"), 2);
    kito_http_resp_free(&r1);

    /* a key reused for a different amount is refused, and changes nothing */
    r1 = bid_key(&b[0], s.lots[0], 30000, "retry-me-1");
    kito_assert_error(&r1, 422, "validation_failed");
    kito_http_resp_free(&r1);
    /* an idempotency key must be visible ASCII, 1..64 characters */
    r1 = bid_key(&b[0], s.lots[0], 30000, "");
    kito_assert_error(&r1, 400, "bad_request");
    kito_http_resp_free(&r1);
    char long_key[80];
    memset(long_key, 'k', 65);
    long_key[65] = '\0';
    r1 = bid_key(&b[0], s.lots[0], 30000, long_key);
    kito_assert_error(&r1, 400, "bad_request");
    kito_http_resp_free(&r1);

    r1 = get_lot(NULL, s.lots[0]);
    cr_assert_eq(integer(r1.json, "bid_count"), 2);
    cr_assert_eq(money(r1.json, "price"), 11000);
    kito_http_resp_free(&r1);

    /* the organiser sets a spending limit, then revokes: both apply at once (approvals cache) */
    char path[160];
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals", s.id);
    r1 = call(&s.org, "POST", path, "{\"buyer_id\":\"%s\",\"limit\":15000}", b[1].acc);
    kito_harness_expect(&r1, 200, "set a limit");
    kito_http_resp_free(&r1);
    bid_refused(&b[1], s.lots[0], 20000, 422, "over_limit", 12000);
    bid_ok(&b[1], s.lots[0], 14000, 11000, true, 12000); /* she leads: raising moves nothing */
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals/%s", s.id, b[1].acc);
    r1 = call(&s.org, "DELETE", path, NULL);
    kito_harness_expect(&r1, 204, "revoke");
    kito_http_resp_free(&r1);
    bid_refused(&b[1], s.lots[0], 15000, 403, "not_approved", 12000);

    /* the journal holds each accepted bid once */
    char n[32];
    const char *port = getenv("KITO_TEST_REDIS_PORT");
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %s XLEN 'lot:{%llu}:journal'", port ? port : "6391",
             s.lot_keys[0]);
    cr_assert_eq(kito_harness_sh(cmd, n, sizeof(n)), 0);
    cr_assert_eq(atoi(n), 4, "journal: open + 3 bids, got %s", n); /* OPEN by the clock */
}

/* The entries of lot_key's journal in Redis. */
static int journal_len(unsigned long long lot_key)
{
    char n[32], cmd[200];
    const char *port = getenv("KITO_TEST_REDIS_PORT");
    snprintf(cmd, sizeof(cmd), "redis-cli -p %s XLEN 'lot:{%llu}:journal'", port ? port : "6391",
             lot_key);
    cr_assert_eq(kito_harness_sh(cmd, n, sizeof(n)), 0);
    return atoi(n);
}

/* A retry that arrives while the first bid's batch is still in flight (Redis stopped for a
 * moment) with another amount is refused, as it is once the first is confirmed: it must not be
 * answered 201 with the amount it asked for, nor take over the key. */
Test(bidding, idempotent_retry_in_flight_with_another_amount_is_refused)
{
    who b[1] = {kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 1500, 60000, "", b, 1, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);

    /* Redis stopped now, and woken in 1.5 s (within the book store's 3 s timeout) */
    kito_harness_redis_pause(1.5);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) { /* the first arrival: waits for Redis */
        struct kito_http_resp r = bid_key(&b[0], s.lots[0], 10000, "in-flight-1");
        long long got[2] = {r.status, r.status == 201 ? money(r.json, "amount") : -1};
        ssize_t w = write(fds[1], got, sizeof(got));
        _exit(w == (ssize_t)sizeof(got) ? 0 : 1);
    }
    close(fds[1]);
    kito_harness_sleep_ms(500); /* the first is in the engine, its batch at Redis */
    struct kito_http_resp r = bid_key(&b[0], s.lots[0], 20000, "in-flight-1");
    long long first[2] = {0, 0};
    cr_assert_eq(read(fds[0], first, sizeof(first)), (ssize_t)sizeof(first));
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    /* whichever reached kitod first (the child, unless the machine is slow) has the key */
    int64_t won = 10000, lost = 20000;
    if (first[0] == 201) {
        cr_assert_eq(first[1], 10000);
        kito_assert_error(&r, 422, "validation_failed");
    } else {
        cr_assert_eq(first[0], 422, "neither arrival was refused: %lld", first[0]);
        kito_harness_expect(&r, 201, "the second arrival, first at kitod");
        cr_assert_eq(money(r.json, "amount"), 20000);
        won = 20000, lost = 10000;
    }
    kito_http_resp_free(&r);

    /* the key still stands for the first bid */
    r = bid_key(&b[0], s.lots[0], won, "in-flight-1");
    kito_harness_expect(&r, 201, "retry of the first");
    cr_assert_eq(money(r.json, "amount"), won);
    kito_http_resp_free(&r);
    r = bid_key(&b[0], s.lots[0], lost, "in-flight-1");
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    cr_assert_eq(journal_len(s.lot_keys[0]), 2, "journal: open + 1 bid");
}

static void restart_redis(void);

/* Redis stalls past kitod's 3 s timeout with the bid's batch in hand, then runs it: the bid is
 * in the book and binding, so the 503 must not tell the buyer that nothing was recorded, and
 * her retry with the same key finds the bid (201, replayed) without placing it twice. */
Test(bidding, a_bid_whose_answer_was_lost_is_found_by_its_key, .fini = restart_redis)
{
    who b[1] = {kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 1500, 120000, "", b, 1, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);

    kito_harness_redis_pause(5);
    struct kito_http_resp r = bid_key(&b[0], s.lots[0], 10000, "lost-answer-1");
    kito_assert_error(&r, 503, "unavailable");
    cr_assert(strstr(r.body, "nothing was recorded") == NULL,
              "a bid Redis may hold was answered as not recorded: %s", r.body);
    kito_http_resp_free(&r);

    kito_harness_sleep_ms(2500); /* Redis runs the batch when it wakes */
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
    long long count = -1;
    for (int i = 0; i < 100 && count != 1; i++) {
        char path[160];
        snprintf(path, sizeof(path), "/v1/lots/%s", s.lots[0]);
        r = call(NULL, "GET", path, NULL);
        if (r.status == 200)
            count = integer(r.json, "bid_count");
        kito_http_resp_free(&r);
        kito_harness_sleep_ms(100);
    }
    cr_assert_eq(count, 1, "the premise: Redis ran the batch whose answer was lost");
    r = bid_key(&b[0], s.lots[0], 10000, "lost-answer-1");
    kito_harness_expect(&r, 201, "the retry with the same key");
    char hdr[16];
    cr_assert(kito_http_header(&r, "idempotent-replayed", hdr, sizeof(hdr)));
    cr_assert_eq(integer(json_object_get(r.json, "lot"), "bid_count"), 1, "placed twice");
    kito_http_resp_free(&r);
    cr_assert_eq(journal_len(s.lot_keys[0]), 2, "journal: open + 1 bid");
}

/* The same key reused for another amount or another lot after kitod restarts is refused as
 * before the restart: the engine answers the first bid's id as a duplicate (its window is
 * rebuilt from the journal), which must not become a 201 for an amount never bid, and a key
 * is not a fresh key on another lot. */
Test(bidding, idempotent_key_reused_after_restart_is_refused)
{
    who b[1] = {kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 2, 0, 1500, 60000, "", b, 1, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    wait_state(s.lots[1], "open", 5000);
    struct kito_http_resp r1 = bid_key(&b[0], s.lots[0], 10000, "restart-key-1");
    kito_harness_expect(&r1, 201, "first");

    kito_harness_kitod_stop(&kd, 5000);
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);

    struct kito_http_resp r = bid_key(&b[0], s.lots[0], 12000, "restart-key-1");
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    r = bid_key(&b[0], s.lots[1], 10000, "restart-key-1");
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    r = bid_key(&b[0], s.lots[0], 10000, "restart-key-1");
    kito_harness_expect(&r, 201, "retry after the restart");
    cr_assert_str_eq(str(r.json, "bid_id"), str(r1.json, "bid_id"));
    cr_assert_eq(integer(r.json, "seq"), integer(r1.json, "seq"));
    cr_assert_eq(money(r.json, "amount"), 10000);
    kito_http_resp_free(&r);
    kito_http_resp_free(&r1);
    cr_assert_eq(journal_len(s.lot_keys[0]), 2, "lot 0: open + 1 bid");
    cr_assert_eq(journal_len(s.lot_keys[1]), 1, "lot 1: open only");
}

/* ---- idempotency past a lot's snapshot, across kill -9 and a Redis failure (issue 15) ------- */

/* kitod snapshots a lot every 10 commands here (default 1,000), so a few bids pass one. */
static const char *const snapshot_every_10[] = {"KITO_SNAPSHOT_EVERY=10", NULL};

static void kitod_restart_with(const char *const *env)
{
    kito_harness_kitod_stop(&kd, 5000);
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
}

/* kill -9: no goodbye, whatever was in flight is lost; then started again. */
static void kitod_kill9_restart_with(const char *const *env)
{
    cr_assert(kd.pid > 0);
    cr_assert_eq(kill(kd.pid, SIGKILL), 0);
    int st;
    cr_assert_eq(waitpid(kd.pid, &st, 0), kd.pid);
    kd.pid = 0;
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
}

static redisContext *test_redis(void)
{
    return kito_harness_redis();
}

/* The seq lot_key's snapshot covers in Redis. */
static long snapshot_seq(unsigned long long lot_key)
{
    redisContext *c = test_redis();
    redisReply *r = redisCommand(c, "HGET lot:{%llu}:snap seq", lot_key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING, "lot %llu has no snapshot", lot_key);
    long seq = atol(r->str);
    freeReplyObject(r);
    redisFree(c);
    return seq;
}

/* How many entries of lot_key's journal carry the command of w's Idempotency-Key key. */
static int journal_count(unsigned long long lot_key, const who *w, const char *key)
{
    uint64_t id = kito_bid_command_id(w->id, key, strlen(key));
    redisContext *c = test_redis();
    redisReply *r = redisCommand(c, "XRANGE lot:{%llu}:journal - +", lot_key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    int n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *v = r->element[i]->element[1]->element[1];
        struct kito_command cmd;
        cr_assert_eq(kito_command_decode((const uint8_t *)v->str, v->len, &cmd), KITO_OK);
        n += cmd.id == id;
    }
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* n bids by b[0] and b[1] in turn, each at the ask the one before left (timed), or n distinct
 * sealed bids (tender, from 16000 up): n accepted commands. */
static void bids_in_turn(const who *b, const char *lot, int n, bool tender)
{
    long long amount = tender ? 16000 : -1;
    for (int k = 0; k < n; k++) {
        if (!tender && amount < 0) {
            struct kito_http_resp v = get_lot(NULL, lot);
            amount = money(v.json, "ask");
            kito_http_resp_free(&v);
        }
        struct kito_http_resp r = bid(&b[k % 2], lot, amount);
        kito_harness_expect(&r, 201, "a bid in turn");
        amount = tender ? amount + 1 : money(json_object_get(r.json, "lot"), "ask");
        kito_http_resp_free(&r);
    }
}

/* Issue 15, finding 0: a buyer's bid (key K, seq 2) is binding; other buyers push the lot past a
 * snapshot; kitod is killed and restarted. Her retry with K is the same bid (201, replayed, the
 * same seq), not a new bid judged against the book (it was 422 below_ask); the key still stands
 * for that bid (another amount is refused, as before a restart, not placed as a new bid); and
 * the same holds once the market has rebuilt itself after Redis died. */
Test(bidding, a_retry_is_replayed_after_a_restart_though_the_lot_snapshotted_past_it,
     .fini = restart_redis)
{
    kitod_restart_with(snapshot_every_10);
    who b[3] = {kito_harness_person("buyer"), kito_harness_person("buyer"),
                kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 1500, 120000, "", b, 3, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    struct kito_http_resp r1 = bid_key(&b[0], s.lots[0], 10000, "past-snapshot-1");
    kito_harness_expect(&r1, 201, "her bid");
    cr_assert_eq(integer(r1.json, "seq"), 2, "open, then her bid");
    bids_in_turn(&b[1], s.lots[0], 12, false);
    cr_assert_geq(snapshot_seq(s.lot_keys[0]), 10, "the premise: the lot snapshotted past her bid");

    kitod_kill9_restart_with(snapshot_every_10);
    struct kito_http_resp r = bid_key(&b[0], s.lots[0], 10000, "past-snapshot-1");
    char hdr[16] = "";
    cr_expect_eq(r.status, 201, "the retry after a restart: %ld %s", r.status, r.body);
    cr_expect(kito_http_header(&r, "idempotent-replayed", hdr, sizeof(hdr)),
              "the retry is not a replay: %s", r.body);
    if (r.status == 201) {
        cr_expect_eq(integer(r.json, "seq"), 2);
        cr_expect_str_eq(str(r.json, "bid_id"), str(r1.json, "bid_id"));
    }
    kito_http_resp_free(&r);
    r = bid_key(&b[0], s.lots[0], 90000, "past-snapshot-1");
    cr_expect_eq(r.status, 422, "the key reused for another amount after a restart: %ld %s",
                 r.status, r.body);
    kito_http_resp_free(&r);
    cr_expect_eq(journal_count(s.lot_keys[0], &b[0], "past-snapshot-1"), 1,
                 "the key's bid was placed again");

    /* Redis dies and comes back: the market rebuilds itself in the same process */
    cr_assert_eq(kito_harness_service("redis_kill"), 0);
    cr_assert_eq(kito_harness_service("redis_start"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
    long long end = now_ms() + 10000;
    do {
        r = bid_key(&b[0], s.lots[0], 10000, "past-snapshot-1");
        if (r.status != 503)
            break;
        kito_http_resp_free(&r);
        kito_harness_sleep_ms(100);
    } while (now_ms() < end);
    cr_expect_eq(r.status, 201, "the retry after a rebuild: %ld %s", r.status, r.body);
    cr_expect(kito_http_header(&r, "idempotent-replayed", hdr, sizeof(hdr)),
              "the retry after a rebuild is not a replay: %s", r.body);
    kito_http_resp_free(&r);
    kito_http_resp_free(&r1);
    cr_expect_eq(journal_count(s.lot_keys[0], &b[0], "past-snapshot-1"), 1);
}

/* The reviewer's tender case: she bids 15000 (K1) and revises to 12000 (K2); the lot passes a
 * snapshot; kitod is killed and restarted; her retry of K1 must be the first command answered
 * again, not a revision back to 15000 (it was: 201 without Idempotent-Replayed, her sealed bid
 * 15000 again, K1's command twice in the journal). */
Test(bidding, a_tender_retry_after_a_restart_does_not_undo_her_revision)
{
    kitod_restart_with(snapshot_every_10);
    who b[3] = {kito_harness_person("buyer"), kito_harness_person("buyer"),
                kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "tender", 1, 0, 1500, 120000, "", b, 3, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    struct kito_http_resp r = bid_key(&b[0], s.lots[0], 15000, "tender-k1");
    kito_harness_expect(&r, 201, "K1");
    kito_http_resp_free(&r);
    r = bid_key(&b[0], s.lots[0], 12000, "tender-k2");
    kito_harness_expect(&r, 201, "K2, a revision down");
    kito_http_resp_free(&r);
    bids_in_turn(&b[1], s.lots[0], 12, true);
    cr_assert_geq(snapshot_seq(s.lot_keys[0]), 10, "the premise: the lot snapshotted past K1, K2");

    kitod_kill9_restart_with(snapshot_every_10);
    r = bid_key(&b[0], s.lots[0], 15000, "tender-k1");
    char hdr[16] = "";
    cr_expect_eq(r.status, 201, "the retry of K1: %ld %s", r.status, r.body);
    cr_expect(kito_http_header(&r, "idempotent-replayed", hdr, sizeof(hdr)),
              "the retry of K1 is not a replay: %s", r.body);
    kito_http_resp_free(&r);
    char path[160];
    snprintf(path, sizeof(path), "/v1/lots/%s/my-bid", s.lots[0]);
    r = call(&b[0], "GET", path, NULL);
    kito_harness_expect(&r, 200, "my bid");
    cr_expect_eq(money(json_object_get(r.json, "bid"), "amount"), 12000,
                 "her sealed bid went back to the retried K1: %s", r.body);
    kito_http_resp_free(&r);
    cr_expect_eq(journal_count(s.lot_keys[0], &b[0], "tender-k1"), 1,
                 "K1's command is in the journal twice");
}

/* ---- soft close ------------------------------------------------------------------------------ */

Test(bidding, soft_close_extends_the_end)
{
    who b[2] = {kito_harness_person("buyer"), kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 1500, 5000, ",\"soft_close_s\":3", b, 2, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    bid_ok(&b[0], s.lots[0], 10000, 10000, true, 11000);
    /* wait until half a second before the planned end, then bid inside the window */
    while (now_ms() < s.ends_ms - 700)
        kito_harness_sleep_ms(50);
    long long at = now_ms();
    struct kito_http_resp r = bid(&b[1], s.lots[0], 12000);
    kito_harness_expect(&r, 201, "late bid");
    char planned[KITO_TIME_SIZE], moved[KITO_TIME_SIZE];
    rfc3339(s.ends_ms, planned);
    const char *ends = str(json_object_get(r.json, "lot"), "ends_at");
    snprintf(moved, sizeof(moved), "%s", ends);
    cr_assert(strcmp(moved, planned) > 0, "ends_at %s did not move past %s", moved, planned);
    int64_t moved_ms = 0;
    kito_verr ve;
    cr_assert_eq(kito_validate_time("ends_at", moved, &moved_ms, &ve), KITO_OK);
    cr_assert(moved_ms >= at + 3000 - 50 && moved_ms <= now_ms() + 3000,
              "new end %lld is not bid time + soft_close", (long long)moved_ms);
    kito_http_resp_free(&r);

    /* still open after the planned end; sold after the new one */
    while (now_ms() < s.ends_ms + 500)
        kito_harness_sleep_ms(50);
    r = get_lot(NULL, s.lots[0]);
    cr_assert_str_eq(str(r.json, "state"), "open", "closed at the planned end despite soft close");
    cr_assert_str_eq(str(r.json, "ends_at"), moved);
    kito_http_resp_free(&r);
    wait_state(s.lots[0], "sold", 6000);
    json_t *o = wait_outbox(s.lot_keys[0], 3000);
    cr_assert_str_eq(field(o, "hammer_minor"), "11000");
    json_decref(o);
}

/* ---- tender ---------------------------------------------------------------------------------- */

/* A sealed book shows seq 0 because every accepted command takes the next seq: a seq in a
 * bidder's own answer would count the sealed bids placed before hers. */
Test(bidding, a_tender_bid_answer_does_not_count_the_sealed_bids)
{
    who b[3] = {kito_harness_person("buyer"), kito_harness_person("buyer"),
                kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "tender", 1, 0, 1500, 60000, "", b, 3, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    struct kito_http_resp r = bid(&b[0], s.lots[0], 15000);
    kito_harness_expect(&r, 201, "A's sealed bid");
    kito_http_resp_free(&r);
    r = bid(&b[1], s.lots[0], 16000);
    kito_harness_expect(&r, 201, "B's sealed bid");
    kito_http_resp_free(&r);
    r = bid(&b[2], s.lots[0], 17000);
    kito_harness_expect(&r, 201, "C's sealed bid");
    cr_assert_eq(integer(json_object_get(r.json, "lot"), "seq"), 0, "the view is sealed");
    cr_assert_eq(integer(r.json, "seq"), 0, "C's answer counts the bids before hers: %s", r.body);
    cr_assert_eq(integer(json_object_get(r.json, "your_bid"), "seq"), 0, "%s", r.body);
    kito_http_resp_free(&r);
    char path[160];
    snprintf(path, sizeof(path), "/v1/lots/%s/my-bid", s.lots[0]);
    r = call(&b[2], "GET", path, NULL);
    kito_harness_expect(&r, 200, "my bid");
    cr_assert_eq(integer(json_object_get(r.json, "bid"), "seq"), 0, "%s", r.body);
    kito_http_resp_free(&r);
}

Test(bidding, tender_tie_goes_to_the_earliest_and_stays_sealed)
{
    who b[3] = {kito_harness_person("buyer"), kito_harness_person("buyer"),
                kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "tender", 1, 0, 1500, 6000, "", b, 3, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);

    struct kito_http_resp r = bid(&b[2], s.lots[0], 15000);
    kito_harness_expect(&r, 201, "C's sealed bid");
    const json_t *view = json_object_get(r.json, "lot");
    cr_assert_eq(money(view, "price"), -1, "a tender view shows a price");
    cr_assert_eq(integer(view, "bid_count"), 0);
    cr_assert(!boolean(view, "leader_is_you"));
    cr_assert_eq(money(json_object_get(r.json, "your_bid"), "amount"), 15000);
    kito_http_resp_free(&r);
    bid_ok(&b[0], s.lots[0], 20000, -1, false, 10000); /* A first at 20000 */
    kito_harness_sleep_ms(20);
    bid_ok(&b[1], s.lots[0], 20000, -1, false, 10000); /* B ties later */
    bid_ok(&b[2], s.lots[0], 18000, -1, false, 10000); /* C revises (up or down allowed) */
    bid_refused(&b[2], s.lots[0], 9000, 422, "below_ask", 10000);

    /* my-bid: her own only */
    char path[160];
    snprintf(path, sizeof(path), "/v1/lots/%s/my-bid", s.lots[0]);
    r = call(&b[1], "GET", path, NULL);
    kito_harness_expect(&r, 200, "my bid");
    cr_assert_eq(money(json_object_get(r.json, "bid"), "amount"), 20000);
    cr_assert(!boolean(json_object_get(r.json, "bid"), "leading"), "a sealed bid says it leads");
    kito_http_resp_free(&r);
    r = call(&b[2], "GET", path, NULL);
    cr_assert_eq(money(json_object_get(r.json, "bid"), "amount"), 18000);
    kito_http_resp_free(&r);
    who d = kito_harness_person("buyer");
    r = call(&d, "GET", path, NULL);
    kito_harness_expect(&r, 200, "my bid, none");
    cr_assert(json_is_null(json_object_get(r.json, "bid")));
    kito_http_resp_free(&r);
    r = call(NULL, "GET", path, NULL);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);

    /* the public view reveals nothing before close */
    r = get_lot(NULL, s.lots[0]);
    cr_assert(json_is_null(json_object_get(r.json, "price")));
    cr_assert_eq(integer(r.json, "bid_count"), 0);
    cr_assert_eq(integer(r.json, "seq"), 0);
    cr_assert(!boolean(r.json, "reserve_met"));
    kito_http_resp_free(&r);
    r = get_lot(&b[0], s.lots[0]);
    cr_assert(!boolean(r.json, "leader_is_you"));
    kito_http_resp_free(&r);

    wait_state(s.lots[0], "sold", 9000);
    json_t *o = wait_outbox(s.lot_keys[0], 3000);
    char want[32];
    snprintf(want, sizeof(want), "%llu", b[0].id);
    cr_assert_str_eq(field(o, "winner"), want, "the tie went to the later bid");
    cr_assert_str_eq(field(o, "hammer_minor"), "20000"); /* first price */
    json_decref(o);
    r = get_lot(&b[0], s.lots[0]);
    cr_assert(boolean(r.json, "leader_is_you"));
    cr_assert_eq(money(r.json, "price"), 20000);
    kito_http_resp_free(&r);
}

/* ---- live ------------------------------------------------------------------------------------ */

static struct kito_http_resp clerk(const who *w, const char *lot, const char *body)
{
    char path[160], key[64];
    snprintf(path, sizeof(path), "/v1/lots/%s/clerk", lot);
    snprintf(key, sizeof(key), "clerk-%d-%d-%lld", (int)getpid(), ++key_counter, now_ms());
    return kito_harness_call(&kd, w, key, "POST", path, body);
}

static void clerk_ok(const who *w, const char *lot, const char *body, long long price,
                     const char *state)
{
    struct kito_http_resp r = clerk(w, lot, body);
    kito_harness_expect(&r, 200, body);
    const json_t *view = json_object_get(r.json, "lot");
    cr_assert_eq(money(view, "price"), price, "%s: price %lld, want %lld", body,
                 money(view, "price"), price);
    cr_assert_str_eq(str(view, "state"), state, "%s", body);
    kito_http_resp_free(&r);
}

Test(bidding, live_sale_floor_online_absentee_and_undo)
{
    who b[3] = {kito_harness_person("buyer"), kito_harness_person("buyer"),
                kito_harness_person("buyer")}; /* A online, B floor, C */
    int paddles[3] = {11, 7, 12};
    sale s;
    build_sale(&s, "live", 1, 0, 0, 0, "", b, 3, paddles);
    publish(&s);

    /* A's absentee maximum before the lot opens: sealed */
    struct kito_http_resp r = bid(&b[0], s.lots[0], 30000);
    kito_harness_expect(&r, 201, "absentee");
    cr_assert_eq(integer(json_object_get(r.json, "lot"), "bid_count"), 0);
    cr_assert_str_eq(str(json_object_get(r.json, "lot"), "state"), "scheduled");
    kito_http_resp_free(&r);
    r = get_lot(NULL, s.lots[0]);
    cr_assert(json_is_null(json_object_get(r.json, "price")));
    kito_http_resp_free(&r);

    /* the clerk: only the sale's organiser; only live lots */
    who other = kito_harness_person("organizer");
    r = clerk(&other, s.lots[0], "{\"action\":\"open\"}");
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = clerk(&b[0], s.lots[0], "{\"action\":\"open\"}");
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = clerk(&s.org, s.lots[0], "{\"action\":\"dance\"}");
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    r = clerk(&s.org, s.lots[0], "{\"action\":\"floor_bid\",\"amount\":11000}");
    kito_assert_error(&r, 422, "validation_failed"); /* no paddle */
    kito_http_resp_free(&r);

    /* open: the absentee maximum is executed as a proxy, at the opening price */
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"open\"}", 10000, "open");
    r = get_lot(&b[0], s.lots[0]);
    cr_assert(boolean(r.json, "leader_is_you"));
    cr_assert_eq(money(r.json, "ask"), 11000);
    kito_http_resp_free(&r);

    /* a floor bid (paddle 7 = B) at the ask; A's proxy answers one step above */
    r = clerk(&s.org, s.lots[0], "{\"action\":\"floor_bid\",\"paddle\":7,\"amount\":11000}");
    kito_harness_expect(&r, 200, "floor bid");
    const json_t *view = json_object_get(r.json, "lot");
    cr_assert_eq(money(view, "price"), 12000);
    cr_assert_str_eq(str(json_object_get(view, "leader"), "buyer_id"), b[0].acc);
    kito_http_resp_free(&r);
    r = clerk(&s.org, s.lots[0], "{\"action\":\"floor_bid\",\"paddle\":99,\"amount\":13000}");
    kito_assert_error(&r, 422, "validation_failed"); /* nobody holds paddle 99 */
    kito_http_resp_free(&r);

    /* an online bid (C) below A's maximum: A's proxy answers */
    bid_ok(&b[2], s.lots[0], 13000, 14000, false, 15000);

    /* the floor outbids A's maximum; then the clerk undoes it */
    r = clerk(&s.org, s.lots[0], "{\"action\":\"floor_bid\",\"paddle\":7,\"amount\":35000}");
    kito_harness_expect(&r, 200, "floor bid over the max");
    view = json_object_get(r.json, "lot");
    cr_assert_eq(money(view, "price"), 35000);
    cr_assert_eq(integer(json_object_get(view, "leader"), "paddle"), 7);
    kito_http_resp_free(&r);
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"undo\"}", 14000, "open");
    r = get_lot(&b[0], s.lots[0]);
    cr_assert(boolean(r.json, "leader_is_you"), "undo did not give the lead back to A");
    kito_http_resp_free(&r);

    /* the step and the ask */
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"step\",\"step\":\"double\"}", 14000, "open");
    r = get_lot(NULL, s.lots[0]);
    cr_assert_eq(money(r.json, "ask"), 16000);
    kito_http_resp_free(&r);
    r = clerk(&s.org, s.lots[0], "{\"action\":\"step\",\"step\":\"triple\"}");
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"pause\"}", 14000, "open");
    bid_refused(&b[2], s.lots[0], 20000, 409, "lot_paused", -1);
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"resume\"}", 14000, "open");

    /* fair warning, hammer */
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"fair_warning\"}", 14000, "closing");
    clerk_ok(&s.org, s.lots[0], "{\"action\":\"sold\"}", 14000, "sold");
    r = clerk(&s.org, s.lots[0], "{\"action\":\"open\"}");
    kito_assert_error(&r, 409, "lot_closed"); /* never reopened */
    kito_http_resp_free(&r);
    json_t *o = wait_outbox(s.lot_keys[0], 3000);
    char want[32];
    snprintf(want, sizeof(want), "%llu", b[0].id);
    cr_assert_str_eq(field(o, "winner"), want);
    cr_assert_str_eq(field(o, "hammer_minor"), "14000");
    json_decref(o);

    /* clerk actions are for live sales */
    sale t;
    build_sale(&t, "timed", 1, 0, 60000, 120000, "", b, 1, NULL);
    publish(&t);
    r = clerk(&t.org, t.lots[0], "{\"action\":\"open\"}");
    kito_assert_error(&r, 422, "wrong_format");
    kito_http_resp_free(&r);
}

/* ---- abuse and faults ------------------------------------------------------------------------ */

Test(bidding, too_fast_is_rate_limited)
{
    who b[1] = {kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 60000, 120000, "", b, 1, NULL);
    publish(&s);
    int limited = 0;
    char retry[16] = "";
    for (int i = 0; i < 20; i++) {
        struct kito_http_resp r = bid(&b[0], s.lots[0], 10000);
        if (r.status == 429) {
            kito_assert_error(&r, 429, "rate_limited");
            cr_assert(kito_http_header(&r, "retry-after", retry, sizeof(retry)));
            limited++;
        } else {
            kito_assert_error(&r, 409, "lot_not_open");
        }
        kito_http_resp_free(&r);
    }
    cr_assert(limited >= 5, "only %d of 20 rapid bids were limited", limited);
    cr_assert(atoi(retry) >= 1);
    kito_harness_sleep_ms(1500); /* the bucket refills */
    struct kito_http_resp r = bid(&b[0], s.lots[0], 10000);
    kito_assert_error(&r, 409, "lot_not_open");
    kito_http_resp_free(&r);
}

static void restart_redis(void)
{
    kito_harness_service("redis_start");
}

Test(bidding, redis_down_is_503_and_nothing_is_acknowledged, .fini = restart_redis)
{
    who b[2] = {kito_harness_person("buyer"), kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 1, 0, 1500, 120000, "", b, 2, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    bid_ok(&b[0], s.lots[0], 10000, 10000, true, 11000);

    cr_assert_eq(kito_harness_service("redis_stop"), 0);
    struct kito_http_resp r = bid_key(&b[1], s.lots[0], 12000, "during-outage");
    kito_assert_error(&r, 503, "unavailable");
    kito_http_resp_free(&r);
    r = bid(&b[1], s.lots[0], 13000);
    kito_assert_error(&r, 503, "unavailable");
    kito_http_resp_free(&r);

    cr_assert_eq(kito_harness_service("redis_start"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200);
    /* the market rebuilds from Redis, then takes bids again: the retry is judged afresh */
    long long end = now_ms() + 10000;
    long status = 0;
    while (now_ms() < end) {
        r = bid_key(&b[1], s.lots[0], 12000, "during-outage");
        status = r.status;
        if (status == 201) {
            const json_t *view = json_object_get(r.json, "lot");
            cr_assert_eq(integer(view, "bid_count"), 2, "a refused bid was kept: %s", r.body);
            cr_assert_eq(money(view, "price"), 11000);
            cr_assert(boolean(view, "leader_is_you"));
        } else {
            kito_assert_error(&r, 503, "unavailable");
        }
        kito_http_resp_free(&r);
        if (status == 201)
            break;
        kito_harness_sleep_ms(200);
    }
    cr_assert_eq(status, 201, "bids never came back after Redis did");
}

/* ---- a sale's opening needs no MySQL round trip per bid ----------------------------------------
 */

static void restart_mysql(void)
{
    kito_harness_service("mysql_start");
    kito_harness_wait_health(&kd, 200, 10000);
}

/* Activation warms the lot directory and the approvals cache: the first bid on each lot, by each
 * buyer, is judged without MySQL (here MySQL is down while they arrive; before the warm-up each
 * such bid waited for a MySQL read, and a sale's opening rush queued on them). */
Test(bidding, opening_bids_need_no_mysql, .fini = restart_mysql)
{
    who b[2] = {kito_harness_person("buyer"), kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 2, 0, 1500, 120000, "", b, 2, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 5000);
    for (int i = 0; i < 2; i++) { /* signed in: their sessions are known to kitod */
        struct kito_http_resp r = call(&b[i], "GET", "/v1/me/watchlist", NULL);
        kito_harness_expect(&r, 200, "watchlist");
        kito_http_resp_free(&r);
    }
    cr_assert_eq(kito_harness_service("mysql_stop"), 0);
    bid_ok(&b[0], s.lots[0], 10000, 10000, true, 11000);
    bid_ok(&b[1], s.lots[1], 10000, 10000, true, 11000);
    bid_ok(&b[1], s.lots[0], 12000, 11000, true, 12000);
}

/* ---- activation after a crash ---------------------------------------------------------------- */

Test(bidding, published_sale_missing_from_the_market_is_loaded_at_start)
{
    who b[1] = {kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 2, 0, 2500, 60000, "", b, 1, NULL);
    /* published in MySQL but never loaded: a crash between the commit and the load */
    uint64_t sale_key = 0;
    kito_id_parse(KITO_ID_SALE, s.id, &sale_key);
    kito_harness_sql("UPDATE sales SET status = 'published' WHERE id = %llu",
                     (unsigned long long)sale_key);
    struct kito_http_resp r = bid(&b[0], s.lots[0], 10000);
    kito_assert_error(&r, 503, "unavailable"); /* published, not loaded: try again */
    kito_http_resp_free(&r);

    kito_harness_kitod_stop(&kd, 5000);
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);
    wait_state(s.lots[0], "open", 8000);
    wait_state(s.lots[1], "open", 2000);
    r = get_lot(NULL, s.lots[1]);
    char ends[KITO_TIME_SIZE];
    rfc3339(s.ends_ms + 60000, ends); /* position 1: one stagger later */
    cr_assert_str_eq(str(r.json, "ends_at"), ends);
    kito_http_resp_free(&r);
    bid_ok(&b[0], s.lots[1], 10000, 10000, true, 11000);
}

/* ---- the watchlist --------------------------------------------------------------------------- */

Test(bidding, watchlist)
{
    who b[1] = {kito_harness_person("buyer")};
    sale s, draft;
    build_sale(&s, "timed", 3, 0, 60000, 120000, "", b, 1, NULL);
    publish(&s);
    build_sale(&draft, "timed", 1, 0, 60000, 120000, "", NULL, 0, NULL);
    char path[160];
    for (int i = 2; i >= 0; i--) {
        snprintf(path, sizeof(path), "/v1/me/watchlist/%s", s.lots[i]);
        for (int twice = 0; twice < 2; twice++) { /* idempotent */
            struct kito_http_resp r = call(&b[0], "PUT", path, NULL);
            kito_harness_expect(&r, 204, "watch");
            kito_http_resp_free(&r);
        }
    }
    snprintf(path, sizeof(path), "/v1/me/watchlist/%s", draft.lots[0]);
    struct kito_http_resp r = call(&b[0], "PUT", path, NULL);
    kito_assert_error(&r, 404, "not_found"); /* a draft's lot is invisible */
    kito_http_resp_free(&r);
    r = call(&b[0], "PUT", "/v1/me/watchlist/lot_zzz", NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/me/watchlist/%s", s.lots[1]);
    r = call(&b[0], "DELETE", path, NULL);
    kito_harness_expect(&r, 204, "unwatch");
    kito_http_resp_free(&r);

    r = call(&b[0], "GET", "/v1/me/watchlist?limit=1", NULL);
    kito_harness_expect(&r, 200, "watchlist page 1");
    json_t *items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 1);
    cr_assert_str_eq(str(json_array_get(items, 0), "lot_id"), s.lots[0]);
    const json_t *view = json_object_get(json_array_get(items, 0), "lot");
    cr_assert_str_eq(str(view, "state"), "scheduled");
    cr_assert_eq(money(view, "ask"), 10000);
    snprintf(path, sizeof(path), "/v1/me/watchlist?limit=1&cursor=%s", str(r.json, "next_cursor"));
    kito_http_resp_free(&r);
    r = call(&b[0], "GET", path, NULL);
    kito_harness_expect(&r, 200, "watchlist page 2");
    items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 1);
    cr_assert_str_eq(str(json_array_get(items, 0), "lot_id"), s.lots[2]);
    cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
    kito_http_resp_free(&r);

    /* somebody else's list is her own */
    who other = kito_harness_person("buyer");
    r = call(&other, "GET", "/v1/me/watchlist", NULL);
    kito_harness_expect(&r, 200, "other's watchlist");
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 0);
    kito_http_resp_free(&r);
}

/* Withdrawing a lot of a running sale goes through the order book first: the lot takes no more
 * bids, its outbox entry says withdrawn, and a lot that has ended can no longer be withdrawn. */
Test(bidding, withdrawing_a_running_lot_stops_its_bidding)
{
    who b[2] = {kito_harness_person("buyer"), kito_harness_person("buyer")};
    sale s;
    build_sale(&s, "timed", 2, 0, 1500, 4000, ",\"soft_close_s\":0,\"stagger_s\":0", b, 2, NULL);
    publish(&s);
    wait_state(s.lots[0], "open", 6000);
    bid_ok(&b[0], s.lots[0], 10000, 10000, true, 11000);

    char path[160];
    snprintf(path, sizeof(path), "/v1/lots/%s/withdraw", s.lots[0]);
    who other = kito_harness_person("organizer");
    struct kito_http_resp r = call(&other, "POST", path, NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    bid_ok(&b[1], s.lots[0], 12000, 11000, true, 12000); /* still running after the refusal */

    r = call(&s.org, "POST", path, "{\"reason\":\"the miner asked for it back\"}");
    kito_harness_expect(&r, 200, "withdraw a running lot");
    cr_assert_str_eq(str(r.json, "state"), "withdrawn");
    kito_http_resp_free(&r);
    bid_refused(&b[0], s.lots[0], 20000, 409, "lot_closed", -1);
    json_t *entry = wait_outbox(s.lot_keys[0], 3000);
    cr_assert(entry != NULL, "no outbox entry for the withdrawn lot");
    cr_assert_str_eq(field(entry, "result"), "withdrawn");
    json_decref(entry);

    /* the other lot runs to its end and sells; then it cannot be withdrawn */
    bid_ok(&b[0], s.lots[1], 10000, 10000, true, 11000);
    wait_state(s.lots[1], "sold", 8000);
    snprintf(path, sizeof(path), "/v1/lots/%s/withdraw", s.lots[1]);
    r = call(&s.org, "POST", path, NULL);
    cr_assert(r.status == 409, "withdrawing a sold lot answered %ld: %s", r.status, r.body);
    kito_http_resp_free(&r);
}
