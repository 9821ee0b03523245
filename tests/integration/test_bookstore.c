/*
 * The durable order books (issue 6) against the real test Redis (strict profile: appendfsync
 * always), no mocks: group commit, recovery, replay equality, Redis down and back, the
 * settlement outbox, and the crash test (a child process streaming bids is killed with SIGKILL
 * at random moments, 20 rounds, KITO_SOAK=1 for 200; some rounds also SIGKILL Redis).
 *
 * Keys live in Redis database 1, flushed at the start of each test, so the other integration
 * programs' keys in database 0 are never touched.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/live/market.h"
#include "tests/integration/harness.h"
#include "tests/rng.h"

#define DB 1
#define T0_MS INT64_C(1700000000000)

/* ---- plumbing ------------------------------------------------------------------------------- */

static int redis_port(void)
{
    const char *p = getenv("KITO_TEST_REDIS_PORT");
    return p != NULL ? atoi(p) : 6391;
}

static redisContext *sync_redis(void)
{
    redisContext *c = NULL;
    for (int i = 0; i < 100; i++) {
        c = redisConnect("127.0.0.1", redis_port());
        if (c != NULL && !c->err)
            break;
        if (c != NULL)
            redisFree(c);
        c = NULL;
        usleep(100 * 1000);
    }
    cr_assert_not_null(c, "cannot connect to the test Redis");
    redisReply *r = redisCommand(c, "AUTH %s", getenv("KITO_TEST_REDIS_ADMIN_PASSWORD"));
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "the test Redis refused the admin");
    freeReplyObject(r);
    r = redisCommand(c, "SELECT %d", DB);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    return c;
}

static void flushdb(void)
{
    redisContext *c = sync_redis();
    redisReply *r = redisCommand(c, "FLUSHDB");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(c);
}

static void store_params(struct kito_bookstore_params *p, uint32_t batch_max_commands)
{
    kito_bookstore_params_default(p);
    p->host = "127.0.0.1";
    p->port = redis_port();
    p->user = "kito";
    p->password = getenv("KITO_TEST_REDIS_PASSWORD");
    p->db = DB;
    p->timeout_ms = 2000;
    if (batch_max_commands != 0)
        p->batch_max_commands = batch_max_commands;
}

static void market_limits(struct kito_market_limits *l, uint32_t snapshot_every)
{
    kito_market_limits_default(l);
    l->engine.max_lots = 4096;
    l->engine.max_standing_bids = 1 << 16;
    l->engine.max_live_lots = 16;
    l->engine.recent_commands = 1 << 16;
    l->engine.max_ladders = 16;
    l->snapshot_every = snapshot_every;
}

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

/* A loop with a 5 ms wake-up timer, so UV_RUN_ONCE never blocks for long. */
static void loop_init(uv_loop_t *loop, uv_timer_t *wake)
{
    cr_assert_eq(uv_loop_init(loop), 0);
    uv_timer_init(loop, wake);
    uv_timer_start(wake, on_wake, 5, 5);
}

static void loop_fini(uv_loop_t *loop, uv_timer_t *wake)
{
    uv_close((uv_handle_t *)wake, NULL);
    for (int i = 0; i < 50; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(loop), 0, "handles left open");
}

typedef bool (*cond_fn)(void *arg);

static bool run_until(uv_loop_t *loop, cond_fn cond, void *arg, int timeout_ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    while (!cond(arg)) {
        if (uv_hrtime() > end)
            return false;
        uv_run(loop, UV_RUN_ONCE);
    }
    return true;
}

static void spin(uv_loop_t *loop, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (uv_hrtime() < end)
        uv_run(loop, UV_RUN_ONCE);
}

struct recovered {
    bool done;
    kito_err status;
    struct kito_market_recovery r;
};

static void on_recovered(void *ud, kito_err status, const struct kito_market_recovery *r)
{
    struct recovered *rc = ud;
    rc->done = true;
    rc->status = status;
    rc->r = *r;
}

static bool recovered_done(void *arg)
{
    return ((struct recovered *)arg)->done;
}

static kito_market *market_new(uv_loop_t *loop, uint32_t snapshot_every,
                               uint32_t batch_max_commands, struct recovered *rc)
{
    struct kito_bookstore_params sp;
    struct kito_market_limits lim;
    store_params(&sp, batch_max_commands);
    market_limits(&lim, snapshot_every);
    kito_market *m;
    cr_assert_eq(kito_market_create(loop, &sp, &lim, &m), KITO_OK);
    memset(rc, 0, sizeof(*rc));
    cr_assert_eq(kito_market_recover(m, on_recovered, rc), KITO_OK);
    cr_assert(run_until(loop, recovered_done, rc, 20000), "recovery did not finish");
    cr_assert_eq(rc->status, KITO_OK);
    cr_assert(kito_market_ready(m));
    return m;
}

static void market_del(uv_loop_t *loop, kito_market *m)
{
    kito_market_free(m);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static void lot_cfg(struct kito_lot_config *c, uint64_t lot_id, int64_t ends_at_ms)
{
    kito_lot_config_init(c);
    c->lot_id = lot_id;
    c->sale_id = 500 + lot_id % 3;
    c->seller_id = 900;
    c->format = KITO_FORMAT_TIMED;
    c->opening_minor = 1000;
    c->reserve_minor = 0;
    c->starts_at_ms = T0_MS;
    c->sale_ends_at_ms = ends_at_ms;
    c->index_in_sale = 0;
    c->soft_close_s = 0;
}

struct counter {
    int want;
    int ok;
    int unavailable;
    int other;
};

static void on_loaded(void *ud, kito_err st)
{
    struct counter *c = ud;
    if (st == KITO_OK)
        c->ok++;
    else if (st == KITO_E_UNAVAILABLE)
        c->unavailable++;
    else
        c->other++;
}

static bool counter_done(void *arg)
{
    struct counter *c = arg;
    return c->ok + c->unavailable + c->other >= c->want;
}

static void on_acked(void *ud, const struct kito_outcome *o, const struct kito_event *ev, size_t n)
{
    (void)ev;
    (void)n;
    struct counter *c = ud;
    if (o->err == KITO_OK)
        c->ok++;
    else if (o->err == KITO_E_UNAVAILABLE)
        c->unavailable++;
    else
        c->other++;
}

/* Loads lots with the given configs and opens them (tick at T0). */
static void load_and_open(uv_loop_t *loop, kito_market *m, const struct kito_lot_config *cfgs,
                          size_t n)
{
    struct counter c = {.want = (int)n};
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(kito_market_lot_load(m, &cfgs[i], on_loaded, &c), KITO_OK);
    cr_assert(run_until(loop, counter_done, &c, 5000));
    cr_assert_eq(c.ok, (int)n, "lot loads: %d ok, %d unavailable, %d other", c.ok, c.unavailable,
                 c.other);
    struct counter t = {0};
    size_t applied = 0;
    cr_assert_eq(kito_market_tick(m, T0_MS, on_acked, &t, &applied), KITO_OK);
    cr_assert_eq(applied, n);
    t.want = (int)n;
    cr_assert(run_until(loop, counter_done, &t, 5000));
    cr_assert_eq(t.ok, (int)n);
}

static struct kito_command bid(uint64_t id, uint64_t lot, uint64_t buyer, int64_t amount,
                               int64_t now_ms)
{
    return (struct kito_command){.id = id,
                                 .lot_id = lot,
                                 .actor = buyer,
                                 .amount_minor = amount,
                                 .now_ms = now_ms,
                                 .type = KITO_CMD_BID,
                                 .flags = KITO_CMD_F_APPROVED};
}

/* A bid at the lot's ask (or a bit above) from a buyer who is not the leader. */
static struct kito_command next_bid(kito_market *m, uint64_t id, uint64_t lot, uint64_t salt)
{
    struct kito_lot_view v;
    cr_assert_eq(kito_market_lot_view(m, lot, &v), KITO_OK);
    uint64_t buyer = 1 + salt % 7;
    if (buyer == v.leader)
        buyer = buyer % 7 + 1;
    return bid(id, lot, buyer, v.ask_minor + (int64_t)(salt % 3) * 100, T0_MS + 1000);
}

/* ---- reading the journal back directly (the test's own reader) ------------------------------ */

struct jentry {
    struct kito_command cmd;
};

/* The whole journal of lot, decoded, seq 1.. in order; *n entries (caller frees). */
static struct jentry *journal_read(redisContext *c, uint64_t lot, size_t *n)
{
    size_t cap = 1024, len = 0;
    struct jentry *out = malloc(cap * sizeof(*out));
    char start[32] = "-";
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE lot:{%llu}:journal %s + COUNT 10000",
                                     (unsigned long long)lot, start);
        cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            redisReply *v = e->element[1]->element[1];
            if (len == cap)
                out = realloc(out, (cap *= 2) * sizeof(*out));
            cr_assert_eq(kito_command_decode((const uint8_t *)v->str, v->len, &out[len].cmd),
                         KITO_OK);
            cr_assert_eq(out[len].cmd.seq, len + 1, "journal of lot %llu has a gap at %zu",
                         (unsigned long long)lot, len + 1);
            len++;
        }
        size_t got = r->elements;
        freeReplyObject(r);
        if (got < 10000)
            break;
        snprintf(start, sizeof(start), "%zu-0", len + 1);
    }
    *n = len;
    return out;
}

static int64_t xlen(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "XLEN %s", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    int64_t n = r->integer;
    freeReplyObject(r);
    return n;
}

/* A fresh engine with the lots' configs, the whole journal replayed from seq 1. */
static kito_engine *replay_engine(redisContext *c, const struct kito_lot_config *cfgs, size_t n)
{
    struct kito_market_limits lim;
    market_limits(&lim, 1000);
    kito_engine *e;
    cr_assert_eq(kito_engine_create(&lim.engine, NULL, &e), KITO_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(kito_engine_lot_load(e, &cfgs[i]), KITO_OK);
        size_t len;
        struct jentry *j = journal_read(c, cfgs[i].lot_id, &len);
        for (size_t k = 0; k < len; k++)
            cr_assert_eq(kito_engine_replay(e, &j[k].cmd, NULL, 0, NULL), KITO_OK,
                         "replay of lot %llu seq %zu", (unsigned long long)cfgs[i].lot_id, k + 1);
        free(j);
    }
    return e;
}

static void assert_same_lot(const kito_engine *a, const kito_engine *b, uint64_t lot)
{
    char why[128] = "";
    cr_assert(kito_engine_lot_equal(a, b, lot, why, sizeof(why)), "lot %llu differs: %s",
              (unsigned long long)lot, why);
    size_t na = kito_engine_lot_snapshot_size(a, lot), nb = kito_engine_lot_snapshot_size(b, lot);
    cr_assert_eq(na, nb);
    uint8_t *ba = malloc(na), *bb = malloc(nb);
    size_t la, lb;
    cr_assert_eq(kito_engine_lot_snapshot(a, lot, ba, na, &la), KITO_OK);
    cr_assert_eq(kito_engine_lot_snapshot(b, lot, bb, nb, &lb), KITO_OK);
    cr_assert(la == lb && memcmp(ba, bb, la) == 0, "lot %llu: snapshots differ byte for byte",
              (unsigned long long)lot);
    free(ba);
    free(bb);
}

TestSuite(bookstore, .timeout = 900);

/* ---- group commit --------------------------------------------------------------------------- */

Test(bookstore, group_commit_one_batch_per_loop_turn)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *m = market_new(&loop, 1000, 0, &rc);
    struct kito_lot_config cfgs[8];
    for (int i = 0; i < 8; i++)
        lot_cfg(&cfgs[i], 101 + i, T0_MS + 3600000);
    load_and_open(&loop, m, cfgs, 8);
    redisContext *g_rc = sync_redis();

    struct kito_market_stats before, after;
    kito_market_stats(m, &before);
    /* 400 bids in one loop turn: each lot gets 50 in a row, ask-checked as they go */
    struct counter c = {.want = 400};
    int64_t journal_before[8];
    for (int i = 0; i < 8; i++) {
        char key[64];
        snprintf(key, sizeof(key), "lot:{%d}:journal", 101 + i);
        journal_before[i] = xlen(g_rc, key);
    }
    for (int k = 0; k < 400; k++) {
        struct kito_command b = next_bid(m, 10000 + k, 101 + k % 8, (uint64_t)k);
        struct kito_outcome now;
        cr_assert_eq(kito_market_submit(m, &b, on_acked, &c, &now), KITO_OK, "bid %d: %s", k,
                     kito_err_code(now.err));
    }
    /* nothing is acknowledged, nor in Redis, before the loop turns */
    cr_assert_eq(c.ok, 0);
    for (int i = 0; i < 8; i++) {
        char key[64];
        snprintf(key, sizeof(key), "lot:{%d}:journal", 101 + i);
        cr_assert_eq(xlen(g_rc, key), journal_before[i]);
    }
    cr_assert(run_until(&loop, counter_done, &c, 5000));
    cr_assert_eq(c.ok, 400);
    kito_market_stats(m, &after);
    cr_assert_eq(after.store.batches_sent - before.store.batches_sent, 1,
                 "400 bids of one loop turn went out in %llu batches",
                 (unsigned long long)(after.store.batches_sent - before.store.batches_sent));
    cr_assert_eq(after.store.commands_ok - before.store.commands_ok, 400);
    cr_assert_eq(after.acked - before.acked, 400);
    for (int i = 0; i < 8; i++) {
        char key[64];
        snprintf(key, sizeof(key), "lot:{%d}:journal", 101 + i);
        cr_assert_eq(xlen(g_rc, key), journal_before[i] + 50);
    }
    redisFree(g_rc);
    market_del(&loop, m);
    loop_fini(&loop, &wake);
}

/* Acknowledgement only after Redis: at the moment of each callback, the command's journal
 * entry is already readable from Redis. */
struct ack_probe {
    redisContext *rc;
    uint64_t lot;
    int ok;
    int found;
};

static void on_acked_probe(void *ud, const struct kito_outcome *o, const struct kito_event *ev,
                           size_t n)
{
    (void)ev;
    (void)n;
    struct ack_probe *p = ud;
    if (o->err != KITO_OK)
        return;
    p->ok++;
    redisReply *r = redisCommand(p->rc, "XRANGE lot:{%llu}:journal %u-0 %u-0",
                                 (unsigned long long)p->lot, o->seq, o->seq);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1)
        p->found++;
    freeReplyObject(r);
}

static bool probe_done(void *arg)
{
    return ((struct ack_probe *)arg)->ok >= 100;
}

Test(bookstore, acknowledged_only_after_redis_has_it)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *m = market_new(&loop, 1000, 0, &rc);
    struct kito_lot_config cfg;
    lot_cfg(&cfg, 7, T0_MS + 3600000);
    load_and_open(&loop, m, &cfg, 1);
    struct ack_probe p = {.rc = sync_redis(), .lot = 7};
    for (int k = 0; k < 100; k++) {
        struct kito_command b = next_bid(m, 1 + k, 7, (uint64_t)k);
        cr_assert_eq(kito_market_submit(m, &b, on_acked_probe, &p, NULL), KITO_OK);
        if (k % 10 == 9)
            uv_run(&loop, UV_RUN_NOWAIT); /* several batches */
    }
    cr_assert(run_until(&loop, probe_done, &p, 5000));
    cr_assert_eq(p.found, 100, "%d of 100 acknowledged bids were not in Redis at the ack",
                 100 - p.found);
    redisFree(p.rc);
    market_del(&loop, m);
    loop_fini(&loop, &wake);
}

/* The bound: a collecting batch that is full while another is in flight refuses at once with
 * KITO_E_CAPACITY and changes nothing; once the loop turns, everything accepted is acknowledged. */
Test(bookstore, batch_bound_refuses_with_capacity)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *m = market_new(&loop, 1000, 32, &rc);
    struct kito_lot_config cfg;
    lot_cfg(&cfg, 9, T0_MS + 3600000);
    load_and_open(&loop, m, &cfg, 1);
    struct counter c = {0};
    int accepted = 0;
    kito_err e = KITO_OK;
    struct kito_lot_view before, after;
    for (int k = 0; k < 1000 && e == KITO_OK; k++) {
        struct kito_command b = next_bid(m, 1 + k, 9, (uint64_t)k);
        cr_assert_eq(kito_market_lot_view(m, 9, &before), KITO_OK);
        e = kito_market_submit(m, &b, on_acked, &c, NULL);
        if (e == KITO_OK)
            accepted++;
    }
    cr_assert_eq(e, KITO_E_CAPACITY);
    cr_assert_eq(kito_market_lot_view(m, 9, &after), KITO_OK);
    cr_assert_eq(after.seq, before.seq, "a refused command changed the lot");
    cr_assert_eq(after.price_minor, before.price_minor);
    struct kito_market_stats st;
    kito_market_stats(m, &st);
    cr_assert_eq(st.store.batches_sent, 3, "lot load, open, then one full batch in flight");
    cr_assert(accepted >= 2 * (32 / 3 - 1), "only %d accepted before the bound", accepted);
    c.want = accepted;
    cr_assert(run_until(&loop, counter_done, &c, 5000));
    cr_assert_eq(c.ok, accepted);
    struct kito_command b = next_bid(m, 5000, 9, 1);
    cr_assert_eq(kito_market_submit(m, &b, on_acked, &c, NULL), KITO_OK);
    market_del(&loop, m);
    loop_fini(&loop, &wake);
}

/* Redis is kept busy: when a batch is confirmed, the batch that collected meanwhile is sent
 * before the confirmed batch's callbacks run (ops/REDIS.md, "Writing"). Its own callbacks still
 * wait for its own EXEC. */
struct order_probe {
    kito_market *m;
    uint64_t sent_before;
    uint64_t sent_at_first_answer;
    int answered;
    int ok;
    uint32_t last_seq;
    bool in_order;
};

static void on_acked_order(void *ud, const struct kito_outcome *o, const struct kito_event *ev,
                           size_t n)
{
    (void)ev;
    (void)n;
    struct order_probe *p = ud;
    if (p->answered++ == 0) {
        struct kito_market_stats st;
        kito_market_stats(p->m, &st);
        p->sent_at_first_answer = st.store.batches_sent;
    }
    if (o->err == KITO_OK) {
        p->ok++;
        p->in_order &= o->seq > p->last_seq;
        p->last_seq = o->seq;
    }
}

static bool order_done(void *arg)
{
    return ((struct order_probe *)arg)->answered >= 40;
}

Test(bookstore, next_batch_goes_out_before_the_answers)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *m = market_new(&loop, 1000, 32, &rc);
    struct kito_lot_config cfg;
    lot_cfg(&cfg, 13, T0_MS + 3600000);
    load_and_open(&loop, m, &cfg, 1);
    struct kito_market_stats st;
    kito_market_stats(m, &st);
    struct order_probe p = {.m = m, .sent_before = st.store.batches_sent, .in_order = true};
    /* 40 bids in one loop turn with room for ~30 a batch: the first batch is sealed and sent when
     * it is full, the rest collect behind it */
    for (int k = 0; k < 40; k++) {
        struct kito_command b = next_bid(m, 100 + k, 13, (uint64_t)k);
        struct kito_outcome now;
        cr_assert_eq(kito_market_submit(m, &b, on_acked_order, &p, &now), KITO_OK, "bid %d: %s", k,
                     kito_err_code(now.err));
    }
    kito_market_stats(m, &st);
    cr_assert_eq(st.store.batches_sent, p.sent_before + 1);
    cr_assert_eq(p.answered, 0, "answered before Redis confirmed");
    cr_assert(run_until(&loop, order_done, &p, 5000));
    cr_assert_eq(p.ok, 40);
    cr_assert(p.in_order, "answers out of order");
    cr_assert_eq(p.sent_at_first_answer, p.sent_before + 2,
                 "the second batch was not on its way when the first one's answers ran");
    kito_market_stats(m, &st);
    cr_assert_eq(st.store.batches_ok, st.store.batches_sent);
    market_del(&loop, m);
    loop_fini(&loop, &wake);
}

/* ---- recovery and replay equality ----------------------------------------------------------- */

#define REC_LOTS 20

static void bid_rounds(uv_loop_t *loop, kito_market *m, const struct kito_lot_config *cfgs,
                       size_t n_lots, int rounds, int per_round, uint64_t id0)
{
    struct counter c = {0};
    uint64_t id = id0;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < per_round; k++) {
            uint64_t lot = cfgs[(size_t)(r * 7 + k) % n_lots].lot_id;
            struct kito_command b = next_bid(m, id, lot, id * 2654435761u);
            id++;
            struct kito_outcome now;
            cr_assert_eq(kito_market_submit(m, &b, on_acked, &c, &now), KITO_OK, "%s",
                         kito_err_code(now.err));
            c.want++;
        }
        uv_run(loop, UV_RUN_NOWAIT);
    }
    cr_assert(run_until(loop, counter_done, &c, 10000));
    cr_assert_eq(c.ok, c.want);
}

Test(bookstore, recovery_rebuilds_every_lot)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *a = market_new(&loop, 50, 0, &rc);
    cr_assert_eq(rc.r.lots, 0);
    struct kito_lot_config cfgs[REC_LOTS];
    for (int i = 0; i < REC_LOTS; i++)
        lot_cfg(&cfgs[i], 1000 + i, T0_MS + 3600000);
    load_and_open(&loop, a, cfgs, REC_LOTS);
    bid_rounds(&loop, a, cfgs, REC_LOTS, 40, 50, 1);

    struct recovered rb;
    kito_market *b = market_new(&loop, 50, 0, &rb);
    cr_assert_eq(rb.r.lots, REC_LOTS);
    cr_assert_eq(rb.r.damaged, 0);
    cr_assert(rb.r.from_snapshots > 0, "no lot was restored from a later snapshot");
    cr_assert(rb.r.commands < 2000 + REC_LOTS,
              "replayed %llu commands: the snapshots did not shorten the replay",
              (unsigned long long)rb.r.commands);
    cr_assert(rb.r.ms > 0);
    cr_log_info("recovered %u lots, %llu commands, %.1f ms", rb.r.lots,
                (unsigned long long)rb.r.commands, rb.r.ms);
    for (int i = 0; i < REC_LOTS; i++)
        assert_same_lot(kito_market_engine(a), kito_market_engine(b), cfgs[i].lot_id);

    /* the recovered market goes on where the first left off */
    market_del(&loop, a);
    bid_rounds(&loop, b, cfgs, REC_LOTS, 2, 20, 900000);
    market_del(&loop, b);
    loop_fini(&loop, &wake);
}

Test(bookstore, replay_twice_is_byte_for_byte_equal)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *a = market_new(&loop, 64, 0, &rc);
    struct kito_lot_config cfgs[6];
    for (int i = 0; i < 6; i++)
        lot_cfg(&cfgs[i], 77 + i, T0_MS + 3600000);
    load_and_open(&loop, a, cfgs, 6);
    bid_rounds(&loop, a, cfgs, 6, 20, 30, 1);
    market_del(&loop, a);

    struct recovered r1, r2;
    kito_market *b = market_new(&loop, 64, 0, &r1);
    kito_market *c = market_new(&loop, 64, 0, &r2);
    redisContext *rcx = sync_redis();
    kito_engine *full = replay_engine(rcx, cfgs, 6);
    for (int i = 0; i < 6; i++) {
        assert_same_lot(kito_market_engine(b), kito_market_engine(c), cfgs[i].lot_id);
        /* snapshot + tail equals the whole journal replayed from seq 1 */
        assert_same_lot(kito_market_engine(b), full, cfgs[i].lot_id);
    }
    kito_engine_free(full);
    redisFree(rcx);
    market_del(&loop, b);
    market_del(&loop, c);
    loop_fini(&loop, &wake);
}

/* ---- Redis down ----------------------------------------------------------------------------- */

static bool market_ready(void *arg)
{
    return kito_market_ready(arg);
}

Test(bookstore, redis_down_refuses_rolls_back_and_recovers)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *a = market_new(&loop, 40, 0, &rc);
    struct kito_lot_config cfgs[6];
    for (int i = 0; i < 6; i++)
        lot_cfg(&cfgs[i], 300 + i, T0_MS + 3600000);
    load_and_open(&loop, a, cfgs, 6);
    bid_rounds(&loop, a, cfgs, 6, 10, 30, 1);
    struct kito_lot_view v_before[6];
    for (int i = 0; i < 6; i++)
        cr_assert_eq(kito_market_lot_view(a, cfgs[i].lot_id, &v_before[i]), KITO_OK);

    /* bids accepted into the collecting batch, then Redis dies before the batch goes out */
    struct counter c = {0};
    for (int k = 0; k < 30; k++) {
        struct kito_command b = next_bid(a, 50000 + k, cfgs[k % 3].lot_id, (uint64_t)k);
        cr_assert_eq(kito_market_submit(a, &b, on_acked, &c, NULL), KITO_OK);
        c.want++;
    }
    cr_assert_eq(kito_harness_service("redis_kill"), 0);
    cr_assert(run_until(&loop, counter_done, &c, 5000));
    cr_assert_eq(c.ok, 0, "%d bids were acknowledged without Redis", c.ok);
    cr_assert_eq(c.unavailable, 30);
    cr_assert(!kito_market_ready(a));
    /* the touched lots left the engine: no view shows what Redis never stored */
    struct kito_lot_view v;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(kito_market_lot_view(a, cfgs[i].lot_id, &v), KITO_E_UNAVAILABLE);
    for (int i = 3; i < 6; i++) {
        cr_assert_eq(kito_market_lot_view(a, cfgs[i].lot_id, &v), KITO_OK);
        cr_assert_eq(v.seq, v_before[i].seq);
    }
    /* while down: refused at once */
    struct kito_command b = bid(60000, cfgs[4].lot_id, 3, 10000000, T0_MS + 2000);
    struct kito_outcome now;
    cr_assert_eq(kito_market_submit(a, &b, on_acked, &c, &now), KITO_E_UNAVAILABLE);
    size_t applied;
    cr_assert_eq(kito_market_tick(a, T0_MS + 7200000, NULL, NULL, &applied), KITO_E_UNAVAILABLE);
    cr_assert_eq(applied, 0);
    spin(&loop, 300);

    cr_assert_eq(kito_harness_service("redis_start"), 0);
    cr_assert(run_until(&loop, market_ready, a, 10000), "the market did not come back");
    /* memory equals Redis: a market recovered from Redis has the same lots */
    struct recovered rb;
    kito_market *bm = market_new(&loop, 40, 0, &rb);
    for (int i = 0; i < 6; i++) {
        assert_same_lot(kito_market_engine(a), kito_market_engine(bm), cfgs[i].lot_id);
        cr_assert_eq(kito_market_lot_view(a, cfgs[i].lot_id, &v), KITO_OK);
        cr_assert_eq(v.seq, v_before[i].seq, "lot %d: nothing acknowledged was lost", i);
        cr_assert_eq(v.price_minor, v_before[i].price_minor);
    }
    market_del(&loop, bm);
    /* and takes bids again */
    struct counter c2 = {.want = 12};
    for (int k = 0; k < 12; k++) {
        struct kito_command nb = next_bid(a, 70000 + k, cfgs[k % 6].lot_id, (uint64_t)k);
        cr_assert_eq(kito_market_submit(a, &nb, on_acked, &c2, NULL), KITO_OK);
    }
    cr_assert(run_until(&loop, counter_done, &c2, 5000));
    cr_assert_eq(c2.ok, 12);
    struct kito_market_stats st;
    kito_market_stats(a, &st);
    cr_assert(st.store.drops >= 1 && st.failed == 30 && st.lots_resynced >= 3);
    market_del(&loop, a);
    loop_fini(&loop, &wake);
}

/* ---- the idempotency window across a restart and a rebuild (issue 15) ----------------------- */

#define WIN 64       /* the window: recent_commands */
#define WIN_BIDS 155 /* bids placed, past the window and past several snapshots a lot */
#define WIN_SNAP 10  /* snapshot_every */

/* What the replay listener heard. */
struct replayed {
    uint64_t ids[WIN_BIDS];
    size_t n;
};

static void on_replayed(void *ud, const struct kito_command *c)
{
    struct replayed *r = ud;
    if (r->n < WIN_BIDS)
        r->ids[r->n] = c->id;
    r->n++;
}

static kito_market *market_window(uv_loop_t *loop, struct replayed *rp, struct recovered *rc)
{
    struct kito_bookstore_params sp;
    struct kito_market_limits lim;
    store_params(&sp, 0);
    market_limits(&lim, WIN_SNAP);
    lim.engine.recent_commands = WIN;
    kito_market *m;
    cr_assert_eq(kito_market_create(loop, &sp, &lim, &m), KITO_OK);
    memset(rp, 0, sizeof(*rp));
    kito_market_set_replay_listener(m, on_replayed, rp);
    memset(rc, 0, sizeof(*rc));
    cr_assert_eq(kito_market_recover(m, on_recovered, rc), KITO_OK);
    cr_assert(run_until(loop, recovered_done, rc, 20000), "recovery did not finish");
    cr_assert_eq(rc->status, KITO_OK);
    return m;
}

static uint32_t snap_seq_of(redisContext *c, uint64_t lot)
{
    redisReply *r = redisCommand(c, "HGET lot:{%llu}:snap seq", (unsigned long long)lot);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    uint32_t seq = (uint32_t)strtoul(r->str, NULL, 10);
    freeReplyObject(r);
    return seq;
}

/* The latest WIN bids (by their time) are each a duplicate with their first seq, and the replay
 * listener heard exactly those (in no particular order). */
static void assert_window(kito_market *m, const struct replayed *rp,
                          const struct kito_command *sent, const uint32_t *seqs, const char *when)
{
    cr_assert_eq(rp->n, WIN, "%s: the replay listener heard %zu commands, want the latest %d", when,
                 rp->n, WIN);
    for (size_t i = WIN_BIDS - WIN; i < WIN_BIDS; i++) {
        size_t heard = 0;
        for (size_t j = 0; j < WIN; j++)
            heard += rp->ids[j] == sent[i].id;
        cr_assert_eq(heard, 1, "%s: the listener heard id %llu %zu times", when,
                     (unsigned long long)sent[i].id, heard);
        struct kito_outcome now;
        struct counter c = {0};
        kito_err e = kito_market_submit(m, &sent[i], on_acked, &c, &now);
        cr_assert_eq(e, KITO_E_DUPLICATE, "%s: the retry of bid %zu (lot %llu seq %u) got %s", when,
                     i, (unsigned long long)sent[i].lot_id, seqs[i], kito_err_code(e));
        cr_assert_eq(now.seq, seqs[i], "%s: bid %zu answered with seq %u, want %u", when, i,
                     now.seq, seqs[i]);
    }
}

/* Issue 15, finding 0: recovery restores a lot's snapshot and replays only the journal after
 * it, so the window held only the commands after each lot's last snapshot. The latest
 * recent_commands ids, before and after the snapshots, are remembered across a restart and
 * across a rebuild after a Redis failure. */
Test(bookstore, the_latest_ids_are_remembered_across_snapshots_restarts_and_rebuilds)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct replayed rp;
    struct recovered rc;
    kito_market *a = market_window(&loop, &rp, &rc);
    struct kito_lot_config cfgs[3];
    for (int i = 0; i < 3; i++)
        lot_cfg(&cfgs[i], 400 + i, T0_MS + 3600000);
    load_and_open(&loop, a, cfgs, 3);
    /* 155 bids, 10 a batch (the last 5 after the last snapshots), the lots in turn, each
     * stamped 1 ms after the one before */
    static struct kito_command sent[WIN_BIDS];
    static uint32_t seqs[WIN_BIDS];
    for (size_t r = 0; r * 10 < WIN_BIDS; r++) {
        size_t n = WIN_BIDS - r * 10 < 10 ? WIN_BIDS - r * 10 : 10;
        struct counter c = {.want = (int)n};
        for (size_t k = 0; k < n; k++) {
            size_t i = r * 10 + k;
            sent[i] = next_bid(a, 7000 + i, cfgs[i % 3].lot_id, i);
            sent[i].now_ms = T0_MS + 1000 + (int64_t)i;
            struct kito_outcome now;
            cr_assert_eq(kito_market_submit(a, &sent[i], on_acked, &c, &now), KITO_OK, "%s",
                         kito_err_code(now.err));
            seqs[i] = now.seq;
        }
        cr_assert(run_until(&loop, counter_done, &c, 5000));
        cr_assert_eq(c.ok, (int)n);
    }
    /* the premise: most of the window's commands are before their lot's snapshot, some after */
    redisContext *rx = sync_redis();
    size_t before_snap = 0;
    for (size_t i = WIN_BIDS - WIN; i < WIN_BIDS; i++)
        before_snap += seqs[i] <= snap_seq_of(rx, sent[i].lot_id);
    cr_assert(before_snap > WIN / 2 && before_snap < WIN, "%zu of the window are before a snapshot",
              before_snap);
    market_del(&loop, a);

    /* a restart */
    kito_market *b = market_window(&loop, &rp, &rc);
    cr_assert_eq(rc.r.lots, 3);
    assert_window(b, &rp, sent, seqs, "after a restart");

    /* a rebuild after a Redis failure, in the same process */
    memset(&rp, 0, sizeof(rp));
    cr_assert_eq(kito_harness_service("redis_kill"), 0);
    spin(&loop, 200);
    cr_assert(!kito_market_ready(b), "the market did not see Redis go");
    cr_assert_eq(kito_harness_service("redis_start"), 0);
    cr_assert(run_until(&loop, market_ready, b, 10000), "the market did not come back");
    assert_window(b, &rp, sent, seqs, "after a rebuild");
    market_del(&loop, b);

    /* a record before the snapshot is damage like any other: the lot is left out */
    redisFree(rx);
    rx = sync_redis();
    uint32_t snap = snap_seq_of(rx, cfgs[0].lot_id);
    cr_assert_gt(snap, 2);
    redisReply *r = redisCommand(rx, "XDEL lot:{%llu}:journal %u-0",
                                 (unsigned long long)cfgs[0].lot_id, snap - 1);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    redisFree(rx);
    kito_market *d = market_window(&loop, &rp, &rc);
    cr_assert_eq(rc.r.lots, 2);
    cr_assert_eq(rc.r.damaged, 1);
    struct kito_lot_view v;
    cr_assert_eq(kito_market_lot_view(d, cfgs[0].lot_id, &v), KITO_E_UNAVAILABLE);
    market_del(&loop, d);
    loop_fini(&loop, &wake);
}

/* ---- the settlement outbox ------------------------------------------------------------------ */

static const char *field(redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str;
    return NULL;
}

Test(bookstore, closed_lots_reach_the_outbox_exactly_once)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *a = market_new(&loop, 1000, 0, &rc);
    int64_t end = T0_MS + 60000;
    struct kito_lot_config cfgs[4];
    for (int i = 0; i < 4; i++)
        lot_cfg(&cfgs[i], 40 + i, end);
    cfgs[2].reserve_minor = 1000000; /* never met */
    memcpy(cfgs[3].currency, "KES", 4);
    /* a lot that stays open (ends later) */
    struct kito_lot_config later;
    lot_cfg(&later, 49, end + 3600000);
    load_and_open(&loop, a, cfgs, 4);
    struct counter lc = {.want = 1};
    cr_assert_eq(kito_market_lot_load(a, &later, on_loaded, &lc), KITO_OK);
    cr_assert(run_until(&loop, counter_done, &lc, 5000));
    cr_assert_eq(lc.ok, 1);
    struct counter t = {0};
    size_t applied;
    cr_assert_eq(kito_market_tick(a, T0_MS, on_acked, &t, &applied), KITO_OK);
    t.want = (int)applied;
    cr_assert(run_until(&loop, counter_done, &t, 5000));

    /* lot 40: two buyers; lot 41: one; lot 42: under the reserve; lot 43 (KES): none */
    struct counter c = {.want = 4};
    struct kito_command bids[] = {
        bid(1, 40, 11, 5000, T0_MS + 100), bid(2, 40, 12, 7000, T0_MS + 200),
        bid(3, 41, 13, 1000, T0_MS + 300), bid(4, 42, 14, 2000, T0_MS + 400)};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(kito_market_submit(a, &bids[i], on_acked, &c, NULL), KITO_OK);
    cr_assert(run_until(&loop, counter_done, &c, 5000));
    cr_assert_eq(c.ok, 4);
    struct kito_lot_view v40;
    cr_assert_eq(kito_market_lot_view(a, 40, &v40), KITO_OK);

    struct counter cl = {0};
    cr_assert_eq(kito_market_tick(a, end, on_acked, &cl, &applied), KITO_OK);
    cr_assert_eq(applied, 4);
    cl.want = 4;
    cr_assert(run_until(&loop, counter_done, &cl, 5000));
    cr_assert_eq(cl.ok, 4);
    cr_assert_eq(kito_market_tick(a, end + 1000, on_acked, &cl, &applied), KITO_OK);
    cr_assert_eq(applied, 0);

    redisContext *rcx = sync_redis();
    redisReply *r = redisCommand(rcx, "XRANGE %s - +", KITO_BOOKSTORE_OUTBOX_KEY);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    cr_assert_eq(r->elements, 4, "%zu outbox entries", r->elements);
    bool seen[4] = {false};
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        int lot = atoi(field(f, "lot_id"));
        cr_assert(lot >= 40 && lot <= 43);
        cr_assert(!seen[lot - 40], "lot %d twice in the outbox", lot);
        seen[lot - 40] = true;
        cr_assert_eq(atoll(field(f, "sale_id")), (long long)cfgs[lot - 40].sale_id);
        cr_assert_str_eq(field(f, "seller_id"), "900");
        cr_assert_eq(atoll(field(f, "ends_at_ms")), end);
        cr_assert_eq(atoll(field(f, "closed_at_ms")), end);
        /* the closing command is the lot's last journal entry */
        char key[64];
        snprintf(key, sizeof(key), "lot:{%d}:journal", lot);
        cr_assert_eq(atoll(field(f, "seq")), xlen(rcx, key));
        if (lot == 40) {
            cr_assert_str_eq(field(f, "result"), "sold");
            cr_assert_str_eq(field(f, "winner"), "12");
            cr_assert_eq(atoll(field(f, "hammer_minor")), v40.price_minor);
            cr_assert_str_eq(field(f, "currency"), "USD");
        } else if (lot == 41) {
            cr_assert_str_eq(field(f, "result"), "sold");
            cr_assert_str_eq(field(f, "winner"), "13");
            cr_assert_str_eq(field(f, "hammer_minor"), "1000");
        } else if (lot == 42) {
            cr_assert_str_eq(field(f, "result"), "unsold");
            cr_assert_eq(atoi(field(f, "reason")), KITO_UNSOLD_RESERVE_NOT_MET);
            cr_assert_str_eq(field(f, "winner"), "0");
        } else {
            cr_assert_str_eq(field(f, "result"), "unsold");
            cr_assert_eq(atoi(field(f, "reason")), KITO_UNSOLD_NO_BIDS);
            cr_assert_str_eq(field(f, "currency"), "KES");
        }
    }
    freeReplyObject(r);
    r = redisCommand(rcx, "SMEMBERS %s", KITO_BOOKSTORE_OPEN_KEY);
    cr_assert(r != NULL && r->elements == 1 && strcmp(r->element[0]->str, "49") == 0,
              "the open set keeps only the open lot");
    freeReplyObject(r);

    /* a restart neither reloads the closed lots nor closes them again */
    market_del(&loop, a);
    struct recovered rb;
    kito_market *b = market_new(&loop, 1000, 0, &rb);
    cr_assert_eq(rb.r.lots, 1);
    cr_assert_eq(kito_market_tick(b, end + 5000, NULL, NULL, &applied), KITO_OK);
    spin(&loop, 50);
    cr_assert_eq(xlen(rcx, KITO_BOOKSTORE_OUTBOX_KEY), 4);
    redisFree(rcx);
    market_del(&loop, b);
    loop_fini(&loop, &wake);
}

/* A second load of an id Redis already holds is refused, even by a fresh market. */
Test(bookstore, lot_load_refuses_an_existing_id)
{
    flushdb();
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *a = market_new(&loop, 1000, 0, &rc);
    struct kito_lot_config cfg;
    lot_cfg(&cfg, 5, T0_MS + 1000);
    load_and_open(&loop, a, &cfg, 1);
    cr_assert_eq(kito_market_lot_load(a, &cfg, on_loaded, NULL), KITO_E_LOT_EXISTS);
    struct kito_lot_config bad = cfg;
    bad.lot_id = 6;
    bad.opening_minor = 0;
    cr_assert_eq(kito_market_lot_load(a, &bad, on_loaded, NULL), KITO_E_BAD_AMOUNT);
    /* close it (final lots leave the open set), then try again from a new market */
    size_t applied;
    struct counter t = {.want = 1};
    cr_assert_eq(kito_market_tick(a, T0_MS + 1000, on_acked, &t, &applied), KITO_OK);
    cr_assert(run_until(&loop, counter_done, &t, 5000));
    market_del(&loop, a);
    struct recovered rb;
    kito_market *b = market_new(&loop, 1000, 0, &rb);
    cr_assert_eq(rb.r.lots, 0);
    struct counter c = {.want = 1};
    cr_assert_eq(kito_market_lot_load(b, &cfg, on_loaded, &c), KITO_OK);
    cr_assert(run_until(&loop, counter_done, &c, 5000));
    cr_assert_eq(c.other, 1, "a closed lot's id was loaded again");
    market_del(&loop, b);
    loop_fini(&loop, &wake);
}

/* ---- the crash test ------------------------------------------------------------------------- */

#define CRASH_LOTS 6
#define CRASH_CLIENTS 24
#define CRASH_BUYERS 12

/* What the parent learned from the child's lines: every submitted bid by id. */
struct sub {
    uint64_t id; /* 0: empty */
    uint64_t lot;
    uint64_t actor;
    int64_t amount;
    uint32_t acked_seq; /* 0: not acknowledged */
};

struct subs {
    struct sub *t;
    size_t cap; /* power of two */
    size_t n;
};

static struct sub *subs_slot(struct subs *s, uint64_t id)
{
    size_t i = (size_t)(id * 0x9e3779b97f4a7c15ULL) & (s->cap - 1);
    while (s->t[i].id != 0 && s->t[i].id != id)
        i = (i + 1) & (s->cap - 1);
    return &s->t[i];
}

static struct sub *subs_put(struct subs *s, uint64_t id)
{
    if ((s->n + 1) * 2 > s->cap) {
        struct subs g = {calloc(s->cap * 2, sizeof(struct sub)), s->cap * 2, 0};
        for (size_t i = 0; i < s->cap; i++)
            if (s->t[i].id != 0) {
                *subs_slot(&g, s->t[i].id) = s->t[i];
                g.n++;
            }
        free(s->t);
        *s = g;
    }
    struct sub *e = subs_slot(s, id);
    if (e->id == 0) {
        e->id = id;
        s->n++;
    }
    return e;
}

/* ---- the child: a market streaming bids from simulated clients ---- */

struct cclient {
    bool busy;
    uint64_t id;
    uint64_t lot;
};

struct child {
    kito_market *m;
    int fd;
    uint32_t round;
    uint32_t counter;
    uint64_t rng;
    uint64_t lots[CRASH_LOTS];
    struct cclient clients[CRASH_CLIENTS];
    bool ready;
};

static uint64_t child_rnd(struct child *c)
{
    return kito_test_rng_next(&c->rng);
}

static void child_line(struct child *c, const char *line, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, line, n); /* < PIPE_BUF: one atomic write */
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        line += w;
        n -= (size_t)w;
    }
}

/* The child's state: one per child process. */
static struct child g_child;

static void child_acked(void *ud, const struct kito_outcome *o, const struct kito_event *ev,
                        size_t n)
{
    (void)ev;
    (void)n;
    struct cclient *cl = ud;
    cl->busy = false;
    if (o->err != KITO_OK)
        return;
    /* written only now that Redis has confirmed the batch */
    char line[96];
    int k = snprintf(line, sizeof(line), "A %llu %llu %u\n", (unsigned long long)cl->id,
                     (unsigned long long)cl->lot, o->seq);
    child_line(&g_child, line, (size_t)k);
}

static void child_recovered(void *ud, kito_err st, const struct kito_market_recovery *r)
{
    (void)r;
    struct child *c = ud;
    if (st != KITO_OK)
        _exit(4);
    c->ready = true;
    child_line(c, "R\n", 2);
}

/* Once per loop turn: every idle client sends a bid at or a little above the ask. */
static void child_idle(uv_idle_t *h)
{
    struct child *c = h->data;
    if (!c->ready)
        return;
    for (int i = 0; i < CRASH_CLIENTS; i++) {
        struct cclient *cl = &c->clients[i];
        if (cl->busy)
            continue;
        uint64_t lot = c->lots[child_rnd(c) % CRASH_LOTS];
        struct kito_lot_view v;
        if (kito_market_lot_view(c->m, lot, &v) != KITO_OK)
            return; /* rebuilding after a Redis failure */
        uint64_t buyer = 1 + child_rnd(c) % CRASH_BUYERS;
        int64_t amount = v.ask_minor + (int64_t)(child_rnd(c) % 4) * 50;
        uint64_t id = ((uint64_t)c->round << 32) | ++c->counter;
        char line[128];
        int k = snprintf(line, sizeof(line), "S %llu %llu %llu %lld\n", (unsigned long long)id,
                         (unsigned long long)lot, (unsigned long long)buyer, (long long)amount);
        child_line(c, line, (size_t)k); /* before submitting: the parent knows every bid sent */
        struct kito_command b = bid(id, lot, buyer, amount, T0_MS + 1000 + c->counter);
        cl->id = id;
        cl->lot = lot;
        kito_err e = kito_market_submit(c->m, &b, child_acked, cl, NULL);
        if (e == KITO_OK)
            cl->busy = true;
        else if (e == KITO_E_UNAVAILABLE || e == KITO_E_CAPACITY)
            return;
    }
}

static void child_main(int fd, uint32_t round, const uint64_t *lots)
{
    alarm(120); /* never outlive a lost parent */
    struct child *c = &g_child;
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->round = round;
    c->rng = 0x1234567ULL * (round + 1);
    memcpy(c->lots, lots, sizeof(c->lots));
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        _exit(5);
    struct kito_bookstore_params sp;
    struct kito_market_limits lim;
    store_params(&sp, 0);
    market_limits(&lim, 64);
    if (kito_market_create(&loop, &sp, &lim, &c->m) != KITO_OK ||
        kito_market_recover(c->m, child_recovered, c) != KITO_OK)
        _exit(6);
    uv_idle_t idle;
    uv_idle_init(&loop, &idle);
    idle.data = c;
    uv_idle_start(&idle, child_idle);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(7);
}

/* ---- the parent ---- */

struct pipe_reader {
    int fd;
    char buf[1 << 16];
    size_t len;
    bool ready;
    bool eof;
    uint64_t acked_after_mark; /* acknowledgements since the mark */
};

static void parse_line(struct subs *s, struct pipe_reader *pr, char *line)
{
    unsigned long long id, lot, actor, seq;
    long long amount;
    if (line[0] == 'R') {
        pr->ready = true;
    } else if (line[0] == 'S' &&
               sscanf(line, "S %llu %llu %llu %lld", &id, &lot, &actor, &amount) == 4) {
        struct sub *e = subs_put(s, id);
        e->lot = lot;
        e->actor = actor;
        e->amount = amount;
    } else if (line[0] == 'A' && sscanf(line, "A %llu %llu %llu", &id, &lot, &seq) == 3) {
        struct sub *e = subs_slot(s, id);
        cr_assert_eq(e->id, id, "acknowledged bid %llu was never submitted", id);
        cr_assert_eq(e->lot, lot);
        e->acked_seq = (uint32_t)seq;
        pr->acked_after_mark++;
    } else {
        cr_assert_fail("bad line from the child: %s", line);
    }
}

/* Reads what the child wrote for up to ms milliseconds (or until EOF). */
static void pipe_pump(struct subs *s, struct pipe_reader *pr, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (!pr->eof) {
        int64_t left = (int64_t)(end - uv_hrtime()) / 1000000;
        if ((int64_t)(end - uv_hrtime()) <= 0)
            break;
        struct pollfd pfd = {.fd = pr->fd, .events = POLLIN};
        int r = poll(&pfd, 1, (int)(left > 0 ? left : 1));
        if (r <= 0)
            continue;
        ssize_t n = read(pr->fd, pr->buf + pr->len, sizeof(pr->buf) - pr->len - 1);
        if (n <= 0) {
            pr->eof = true;
            break;
        }
        pr->len += (size_t)n;
        char *start = pr->buf, *nl;
        pr->buf[pr->len] = '\0';
        while ((nl = memchr(start, '\n', pr->len - (size_t)(start - pr->buf))) != NULL) {
            *nl = '\0';
            parse_line(s, pr, start);
            start = nl + 1;
        }
        /* a line cut by the kill stays incomplete and is dropped at EOF: never acted upon */
        pr->len -= (size_t)(start - pr->buf);
        memmove(pr->buf, start, pr->len);
    }
}

static void wait_ready_or(struct subs *s, struct pipe_reader *pr, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (!pr->ready && !pr->eof && uv_hrtime() < end)
        pipe_pump(s, pr, 10);
}

struct crash_totals {
    uint64_t acked;
    uint64_t journaled_bids;
    uint32_t killed_in_recovery;
    uint32_t redis_rounds;
};

/* After a kill: recover into a fresh market and check the books against the child's lines. */
static void crash_verify(const struct kito_lot_config *cfgs, struct subs *s,
                         struct crash_totals *tot)
{
    uv_loop_t loop;
    uv_timer_t wake;
    loop_init(&loop, &wake);
    struct recovered rc;
    kito_market *v = market_new(&loop, 64, 0, &rc);
    cr_assert_eq(rc.r.lots, CRASH_LOTS);
    cr_assert_eq(rc.r.damaged, 0);
    redisContext *rcx = sync_redis();
    uint64_t bids = 0;
    size_t *lens = calloc(CRASH_LOTS, sizeof(size_t));
    struct jentry **js = calloc(CRASH_LOTS, sizeof(*js));
    for (int i = 0; i < CRASH_LOTS; i++) {
        js[i] = journal_read(rcx, cfgs[i].lot_id, &lens[i]);
        for (size_t k = 0; k < lens[i]; k++) {
            const struct kito_command *c = &js[i][k].cmd;
            if (c->type != KITO_CMD_BID)
                continue;
            bids++;
            /* no bid appears that was never submitted */
            struct sub *e = subs_slot(s, c->id);
            cr_assert_eq(e->id, c->id, "lot %llu seq %u: bid %llu was never submitted",
                         (unsigned long long)c->lot_id, c->seq, (unsigned long long)c->id);
            cr_assert(e->lot == c->lot_id && e->actor == c->actor && e->amount == c->amount_minor,
                      "bid %llu differs from what was submitted", (unsigned long long)c->id);
        }
    }
    /* every acknowledged bid is in the book, at its seq (its order), with its amount */
    uint64_t acked = 0;
    for (size_t i = 0; i < s->cap; i++) {
        const struct sub *e = &s->t[i];
        if (e->id == 0 || e->acked_seq == 0)
            continue;
        acked++;
        int li = -1;
        for (int k = 0; k < CRASH_LOTS; k++)
            if (cfgs[k].lot_id == e->lot)
                li = k;
        cr_assert(li >= 0);
        cr_assert(e->acked_seq <= lens[li], "acknowledged bid %llu (lot %llu seq %u) is lost",
                  (unsigned long long)e->id, (unsigned long long)e->lot, e->acked_seq);
        const struct kito_command *c = &js[li][e->acked_seq - 1].cmd;
        cr_assert(c->id == e->id && c->amount_minor == e->amount,
                  "lot %llu seq %u holds bid %llu, acknowledged was %llu",
                  (unsigned long long)e->lot, e->acked_seq, (unsigned long long)c->id,
                  (unsigned long long)e->id);
    }
    /* prices and leaders (all state) equal a replay of the journal through a fresh engine */
    kito_engine *full = replay_engine(rcx, cfgs, CRASH_LOTS);
    for (int i = 0; i < CRASH_LOTS; i++)
        assert_same_lot(kito_market_engine(v), full, cfgs[i].lot_id);
    kito_engine_free(full);
    for (int i = 0; i < CRASH_LOTS; i++)
        free(js[i]);
    free(js);
    free(lens);
    tot->acked = acked;
    tot->journaled_bids = bids;
    redisFree(rcx);
    market_del(&loop, v);
    loop_fini(&loop, &wake);
}

Test(bookstore, crash_kill9_loses_no_acknowledged_bid)
{
    const char *soak = getenv("KITO_SOAK");
    int rounds = soak != NULL && strcmp(soak, "1") == 0 ? 200 : 20;
    flushdb();
    struct kito_lot_config cfgs[CRASH_LOTS];
    uint64_t lots[CRASH_LOTS];
    {
        uv_loop_t loop;
        uv_timer_t wake;
        loop_init(&loop, &wake);
        struct recovered rc;
        kito_market *m = market_new(&loop, 64, 0, &rc);
        for (int i = 0; i < CRASH_LOTS; i++) {
            lot_cfg(&cfgs[i], 600 + i, T0_MS + 10LL * 86400000);
            lots[i] = cfgs[i].lot_id;
        }
        load_and_open(&loop, m, cfgs, CRASH_LOTS);
        market_del(&loop, m);
        loop_fini(&loop, &wake);
    }
    struct subs s = {calloc(1 << 16, sizeof(struct sub)), 1 << 16, 0};
    struct crash_totals tot = {0};
    uint64_t rng = 0xdecafbadULL;
    for (int round = 1; round <= rounds; round++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(rng >> 33);
        bool early = round % 5 == 3;        /* killed at once: maybe mid-recovery */
        bool redis_round = round % 10 == 7; /* Redis SIGKILLed under load, then the child */
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(fds[1], (uint32_t)round, lots);
        }
        close(fds[1]);
        struct pipe_reader *pr = calloc(1, sizeof(*pr));
        pr->fd = fds[0];
        if (early) {
            pipe_pump(&s, pr, (int)(r % 80));
            if (!pr->ready)
                tot.killed_in_recovery++;
        } else {
            wait_ready_or(&s, pr, 20000);
            cr_assert(pr->ready, "round %d: the child did not recover", round);
            pipe_pump(&s, pr, 20 + (int)(r % 400));
        }
        if (redis_round) {
            tot.redis_rounds++;
            cr_assert_eq(kito_harness_service("redis_kill"), 0);
            pipe_pump(&s, pr, 50);
            cr_assert_eq(kito_harness_service("redis_start"), 0);
            pr->acked_after_mark = 0;
            /* the child reconnects and rebuilds on its own, then acknowledges again */
            uint64_t end = uv_hrtime() + 15000000000ull;
            while (pr->acked_after_mark < 50 && uv_hrtime() < end)
                pipe_pump(&s, pr, 20);
            cr_assert(pr->acked_after_mark >= 50,
                      "round %d: no acknowledgements after Redis came back", round);
            pipe_pump(&s, pr, (int)(r % 200));
        }
        kill(pid, SIGKILL);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %d: the child exited by itself (status %d)", round, status);
        pipe_pump(&s, pr, 2000); /* what it wrote before it died */
        close(fds[0]);
        free(pr);
        crash_verify(cfgs, &s, &tot);
    }
    cr_log_info("crash test: %d rounds (%u killed during recovery, %u with Redis SIGKILLed), "
                "%llu acknowledged bids all present, %llu bids in the journals, %zu submitted",
                rounds, tot.killed_in_recovery, tot.redis_rounds, (unsigned long long)tot.acked,
                (unsigned long long)tot.journaled_bids, s.n);
    fprintf(stderr,
            "crash test: %d rounds (%u killed during recovery, %u with Redis SIGKILLed), %llu "
            "acknowledged bids all present, %llu bids in the journals, %zu submitted\n",
            rounds, tot.killed_in_recovery, tot.redis_rounds, (unsigned long long)tot.acked,
            (unsigned long long)tot.journaled_bids, s.n);
    cr_assert(tot.acked > (uint64_t)rounds * 10, "too few bids were acknowledged to mean much");
    free(s.t);
}
