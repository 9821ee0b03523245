/*
 * Durable bids benchmark (issue 6). Starts its own Redis instances -- port 6395 with the fast
 * profile (appendfsync everysec) and 6396 with the strict profile (appendfsync always), data
 * under $KITO_BENCH_VAR -- and stops them at the end.
 *
 *   redis_xadd_ceiling_per_sec   redis-benchmark, XADD pipelined 64 deep (50 connections), on
 *                                the fast instance, keys lot:{1..10000}:journal, a payload the size
 *                                of a journaled bid: Redis's own ceiling for what we write.
 *   durable_bids_per_sec         the market (engine + book store) in this process on one loop,
 *                                10,000 open timed lots, CLIENTS simulated clients each with one
 *                                bid outstanding: a bid at the ask (or a step above) from one of
 *                                15 buyers per lot, counted when its callback reports KITO_OK,
 *                                i.e. after Redis answered its batch's EXEC. 1,000,000
 *                                acknowledged bids, fast profile. Group commit is what makes this
 *                                possible: one MULTI/EXEC per batch.
 *   durable_vs_ceiling           the ratio of the two.
 *   durable_bids_per_sec_strict  the same on the strict instance (every batch fsynced before
 *                                EXEC is answered), 400,000 bids.
 *   recovery_seconds_1m          a fresh market recovering the fast instance's books: the
 *                                1,000,000 journaled bids (plus 10,000 opens) over 10,000 lots,
 *                                snapshots every 1,000 commands (so all of it is replayed).
 *
 * CLIENTS simulated clients, twice what one batch holds. They are event-driven, like requests on
 * sockets: a client bids in the loop turn after its answer, and while every client waits for
 * Redis the process sleeps in the loop's poll phase. (Until November 2026 the clients were polled
 * by a uv_idle handle that ran every turn, so the process spun at 100% while it waited and took
 * a core from Redis on a two-core machine; the figures from before then are not comparable.)
 * KITO_BENCH_BIDS scales the bid counts (default 1000000).
 *
 * Measuring recovery alone (a shared machine, where the whole bench is too heavy):
 * KITO_BENCH_DURABLE_ONLY=recovery skips the XADD ceiling and the strict run, fills the fast
 * instance and recovers it KITO_BENCH_RECOVERIES times (default 1), printing each;
 * KITO_BENCH_SNAPSHOT_EVERY sets the market's snapshot_every (default 1,000: with 100 bids a lot
 * nothing is snapshotted past seq 0, so nothing is read from before a snapshot; 30 makes recovery
 * read the ids before the snapshots, issue 15); KITO_BENCH_RECENT_COMMANDS sets the engine's
 * window (default 1,048,576 here, more than the bench's commands, so all of them are remembered;
 * kitod's default is 262,144); KITO_BENCH_DURABLE_PORT moves the fast instance off 6395 (another
 * bench may be using it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/live/market.h"
#include "tests/rng.h"
#include "tests/bench/bench.h"

#define LOTS 10000
#define BUYERS_PER_LOT 15
/* Twice what one batch holds: while a batch is in flight the next one fills (the rest of the
 * clients are told KITO_E_CAPACITY and retry after the next acknowledgement: the market's
 * back-pressure). */
#define CLIENTS 16384
#define BATCH_BIDS 8192
#define PORT_FAST 6395
#define PORT_STRICT 6396
#define T0_MS INT64_C(1700000000000)

static const char *root, *var;
static int port_fast = PORT_FAST;
static uint32_t snapshot_every = 1000;
static uint32_t recent_commands = 1u << 20;

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
    return kito_test_rng_next(&rng);
}

static void die(const char *what)
{
    bench_die("bench_durable", what);
}

static int sh(const char *fmt, const char *a, int port, const char *profile)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), fmt, root, a, port, profile);
    return system(cmd);
}

/* A secret of the bench stores (ops/lib.sh: $KITO_BENCH_VAR/secrets.env, made by redis_start):
 * KITO_REDIS_PASSWORD (kitod's ACL user kito) or KITO_REDIS_ADMIN_PASSWORD (the default user). */
static const char *bench_secret(const char *name)
{
    static char values[2][256];
    static int turn;
    char path[1100], line[256];
    snprintf(path, sizeof(path), "%s/secrets.env", var);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die("cannot read the bench secrets");
    char *out = values[turn++ % 2];
    out[0] = '\0';
    size_t n = strlen(name);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, name, n) == 0 && line[n] == '=') {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(out, 256, "%s", line + n + 1);
        }
    fclose(f);
    if (out[0] == '\0')
        die("a bench secret is missing");
    return out;
}

static void redis_up(const char *name, int port, const char *profile)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", var, name);
    sh("bash -c '. %s/ops/lib.sh; redis_stop %s %d' %s >/dev/null 2>&1", dir, port, "");
    char rm[1100];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    if (system(rm) != 0)
        die("cannot clear the Redis folder");
    if (sh("bash -c '. %s/ops/lib.sh; redis_start %s %d %s'", dir, port, profile) != 0)
        die("cannot start Redis");
}

static void redis_down(const char *name, int port)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", var, name);
    sh("bash -c '. %s/ops/lib.sh; redis_stop %s %d' %s >/dev/null 2>&1", dir, port, "");
}

/* ---- the XADD ceiling ----------------------------------------------------------------------- */

static double xadd_ceiling(size_t payload_len, uint64_t n)
{
    char payload[128];
    memset(payload, 'x', payload_len);
    payload[payload_len] = '\0';
    char cmd[1024];
    /* redis-benchmark takes the password only as -a (ps shows it): this instance is the bench's
     * own, on a bench port, with its own secrets, gone when the bench ends */
    snprintf(cmd, sizeof(cmd),
             "redis-benchmark -p %d --user kito -a %s -P 64 -c 50 -n %llu -r %d -q "
             "XADD 'lot:{__rand_int__}:journal' '*' c %s 2>/dev/null",
             port_fast, bench_secret("KITO_REDIS_PASSWORD"), (unsigned long long)n, LOTS, payload);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        die("cannot run redis-benchmark");
    char line[4096];
    double rps = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        /* "XADD ...: 412345.67 requests per second, p50=..." (the last of \r-separated updates) */
        char *at = strstr(line, " requests per second");
        if (at == NULL)
            continue;
        char *start = at;
        while (start > line && (start[-1] == '.' || (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        rps = atof(start);
    }
    pclose(p);
    if (rps <= 0)
        die("could not read redis-benchmark's figure");
    return rps;
}

/* ---- the market under load ------------------------------------------------------------------ */

struct client {
    bool busy;
};

struct run {
    kito_market *m;
    uv_idle_t idle;
    bool idle_on;
    struct client clients[CLIENTS];
    /* the clients with no bid outstanding (a stack of indices): only they have work to do */
    uint32_t waiting[CLIENTS];
    uint32_t n_waiting;
    uint64_t next_id;
    uint64_t acked;
    uint64_t target;
    uint64_t failed;
    uint64_t loaded;
    bool recovered;
    struct kito_market_recovery rec;
    bool stop;
};

static void on_recovered(void *ud, kito_err st, const struct kito_market_recovery *r)
{
    struct run *run = ud;
    if (st != KITO_OK)
        die("recovery failed");
    run->recovered = true;
    run->rec = *r;
}

static void on_loaded(void *ud, kito_err st)
{
    struct run *run = ud;
    if (st != KITO_OK)
        die("lot load failed");
    run->loaded++;
}

static struct run *g_run;

static void on_idle(uv_idle_t *h);

/* A client has a bid to send: the idle handle runs (once per loop turn) only while one has, so
 * the process sleeps in the poll phase, like a server, while every client waits for Redis. */
static void client_waits(struct run *run, struct client *c)
{
    if (run->stop)
        return;
    run->waiting[run->n_waiting++] = (uint32_t)(c - run->clients);
    if (!run->idle_on) {
        uv_idle_start(&run->idle, on_idle);
        run->idle_on = true;
    }
}

static void on_acked_count(void *ud, const struct kito_outcome *o, const struct kito_event *ev,
                           size_t n)
{
    (void)ev;
    (void)n;
    struct client *c = ud;
    c->busy = false;
    if (o->err == KITO_OK)
        g_run->acked++;
    else
        g_run->failed++;
    client_waits(g_run, c);
}

/* Once per loop turn: every waiting client sends a bid at the ask (or a step above). When the
 * market answers KITO_E_CAPACITY (the collecting batch is full and one is in flight: its
 * back-pressure), the rest wait for the next acknowledgement, which frees room. */
static void on_idle(uv_idle_t *h)
{
    struct run *run = h->data;
    if (run->acked >= run->target) {
        run->stop = true;
        run->n_waiting = 0;
        uv_idle_stop(h);
        run->idle_on = false;
        return;
    }
    while (run->n_waiting > 0) {
        struct client *c = &run->clients[run->waiting[run->n_waiting - 1]];
        uint64_t r = rnd();
        uint64_t lot = 1 + r % LOTS;
        struct kito_lot_view v;
        if (kito_market_lot_view(run->m, lot, &v) != KITO_OK)
            die("a lot vanished");
        uint64_t buyer = 1 + (r >> 20) % BUYERS_PER_LOT;
        if (buyer == v.leader)
            buyer = buyer % BUYERS_PER_LOT + 1;
        struct kito_command b = {.id = ++run->next_id,
                                 .lot_id = lot,
                                 .actor = buyer,
                                 .amount_minor = v.ask_minor + (int64_t)((r >> 40) % 2) * 100,
                                 .now_ms = T0_MS + 1000,
                                 .type = KITO_CMD_BID,
                                 .flags = KITO_CMD_F_APPROVED};
        kito_err e = kito_market_submit(run->m, &b, on_acked_count, c, NULL);
        if (e == KITO_E_CAPACITY)
            break;
        run->n_waiting--;
        if (e == KITO_OK)
            c->busy = true;
        else
            client_waits(run, c); /* refused at once (not expected at the ask): bids anew */
    }
    uv_idle_stop(h);
    run->idle_on = false;
}

static void limits(struct kito_market_limits *lim)
{
    kito_market_limits_default(lim);
    lim->engine.max_lots = 16384;
    lim->engine.max_standing_bids = 1u << 19;
    lim->engine.recent_commands = recent_commands;
    lim->snapshot_every = snapshot_every;
    lim->recover_parallel = KITO_BOOKSTORE_READS_MAX;
}

static void params(struct kito_bookstore_params *p, int port)
{
    kito_bookstore_params_default(p);
    p->host = "127.0.0.1";
    p->port = port;
    p->user = "kito";
    p->password = bench_secret("KITO_REDIS_PASSWORD");
    p->batch_max_commands = BATCH_BIDS + 64; /* ~BATCH_BIDS bids: room() keeps 3 spare */
    p->batch_max_bytes = 8u << 20;
    p->timeout_ms = 10000;
}

static void run_until(uv_loop_t *loop, bool *flag)
{
    while (!*flag)
        uv_run(loop, UV_RUN_ONCE);
}

static kito_market *market_up(uv_loop_t *loop, int port, struct run *run)
{
    struct kito_bookstore_params sp;
    struct kito_market_limits lim;
    params(&sp, port);
    limits(&lim);
    kito_market *m;
    if (kito_market_create(loop, &sp, &lim, &m) != KITO_OK)
        die("cannot create the market");
    run->recovered = false;
    if (kito_market_recover(m, on_recovered, run) != KITO_OK)
        die("cannot recover");
    run_until(loop, &run->recovered);
    return m;
}

static void market_down(uv_loop_t *loop, kito_market *m)
{
    kito_market_free(m);
    for (int i = 0; i < 20; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

static bool g_done;

static void on_tick_acked(void *ud, const struct kito_outcome *o, const struct kito_event *ev,
                          size_t n)
{
    (void)ev;
    (void)n;
    uint64_t *left = ud;
    if (o->err != KITO_OK)
        die("an open failed");
    if (--*left == 0)
        g_done = true;
}

/* Loads and opens LOTS lots. */
static void setup_lots(uv_loop_t *loop, struct run *run)
{
    run->loaded = 0;
    for (uint64_t i = 1; i <= LOTS; i++) {
        struct kito_lot_config cfg;
        kito_lot_config_init(&cfg);
        cfg.lot_id = i;
        cfg.sale_id = 1 + i / 100;
        cfg.seller_id = 1000000 + i;
        cfg.format = KITO_FORMAT_TIMED;
        cfg.opening_minor = 1000;
        cfg.starts_at_ms = T0_MS;
        cfg.sale_ends_at_ms = T0_MS + 30LL * 86400000;
        cfg.soft_close_s = 0;
        while (kito_market_lot_load(run->m, &cfg, on_loaded, run) != KITO_OK)
            uv_run(loop, UV_RUN_NOWAIT); /* batch bound: let one go out */
        if (i % 512 == 0)
            uv_run(loop, UV_RUN_NOWAIT);
    }
    while (run->loaded < LOTS)
        uv_run(loop, UV_RUN_ONCE);
    uint64_t left = 0;
    g_done = false;
    for (;;) {
        size_t applied = 0;
        if (kito_market_tick(run->m, T0_MS, on_tick_acked, &left, &applied) != KITO_OK)
            die("tick failed");
        left += applied;
        if (applied == 0 || kito_market_next_deadline(run->m) > T0_MS)
            break;
        uv_run(loop, UV_RUN_NOWAIT);
    }
    if (left > 0)
        run_until(loop, &g_done);
}

/* Streams bids until target more are acknowledged; returns acknowledged bids per second. */
static double stream(uv_loop_t *loop, struct run *run, uint64_t target)
{
    memset(run->clients, 0, sizeof(run->clients));
    run->acked = 0;
    run->failed = 0;
    run->target = target;
    run->stop = false;
    g_run = run;
    uv_idle_t *idle = &run->idle;
    uv_idle_init(loop, idle);
    idle->data = run;
    run->idle_on = false;
    run->n_waiting = 0;
    struct kito_market_stats before, after;
    kito_market_stats(run->m, &before);
    double t0 = bench_now_s();
    for (int i = CLIENTS - 1; i >= 0; i--)
        client_waits(run, &run->clients[i]);
    while (!run->stop)
        uv_run(loop, UV_RUN_ONCE);
    double dt = bench_now_s() - t0;
    kito_market_stats(run->m, &after);
    uint64_t batches = after.store.batches_ok - before.store.batches_ok;
    fprintf(stderr,
            "  %llu bids acknowledged in %.2f s, %llu batches (%.0f commands a batch, largest "
            "%u), %llu failed, %llu refused\n",
            (unsigned long long)run->acked, dt, (unsigned long long)batches,
            batches ? (double)(after.store.commands_ok - before.store.commands_ok) / batches : 0,
            after.store.batch_max_seen, (unsigned long long)run->failed,
            (unsigned long long)(after.refused - before.refused));
    return (double)run->acked / dt;
}

static void drain(uv_loop_t *loop, struct run *run)
{
    /* wait for every outstanding bid's answer */
    for (;;) {
        bool any = false;
        for (int i = 0; i < CLIENTS; i++)
            any |= run->clients[i].busy;
        if (!any)
            break;
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&run->idle, NULL);
}

int main(void)
{
    root = getenv("KITO_BENCH_ROOT");
    var = getenv("KITO_BENCH_VAR");
    if (root == NULL || var == NULL)
        die("KITO_BENCH_ROOT and KITO_BENCH_VAR must be set (run it through ops/kito bench)");
    uint64_t bids = 1000000;
    if (getenv("KITO_BENCH_BIDS") != NULL)
        bids = strtoull(getenv("KITO_BENCH_BIDS"), NULL, 10);
    const char *only = getenv("KITO_BENCH_DURABLE_ONLY");
    bool only_recovery = only != NULL && strcmp(only, "recovery") == 0;
    int recoveries = 1;
    if (getenv("KITO_BENCH_RECOVERIES") != NULL)
        recoveries = atoi(getenv("KITO_BENCH_RECOVERIES"));
    if (getenv("KITO_BENCH_SNAPSHOT_EVERY") != NULL)
        snapshot_every = (uint32_t)strtoul(getenv("KITO_BENCH_SNAPSHOT_EVERY"), NULL, 10);
    if (getenv("KITO_BENCH_RECENT_COMMANDS") != NULL)
        recent_commands = (uint32_t)strtoul(getenv("KITO_BENCH_RECENT_COMMANDS"), NULL, 10);
    if (getenv("KITO_BENCH_DURABLE_PORT") != NULL)
        port_fast = atoi(getenv("KITO_BENCH_DURABLE_PORT"));
    if (recoveries < 1 || snapshot_every < 1 || port_fast <= 0 || port_fast > 65535)
        die("bad KITO_BENCH_RECOVERIES, KITO_BENCH_SNAPSHOT_EVERY or KITO_BENCH_DURABLE_PORT");

    /* the size of a journaled bid, for the ceiling's payload */
    struct kito_command sample = {.id = 123456789,
                                  .lot_id = 5000,
                                  .actor = 12,
                                  .amount_minor = 250000,
                                  .now_ms = T0_MS + 1000,
                                  .seq = 57,
                                  .type = KITO_CMD_BID,
                                  .flags = KITO_CMD_F_APPROVED};
    uint8_t rec[KITO_COMMAND_ENCODED_MAX];
    size_t rec_len;
    if (kito_command_encode(&sample, rec, sizeof(rec), &rec_len) != KITO_OK)
        die("encode");

    redis_up("durable-fast", port_fast, "fast");
    double ceiling = 0;
    if (!only_recovery) {
        redis_up("durable-strict", PORT_STRICT, "strict");
        fprintf(stderr, "XADD ceiling (redis-benchmark, -P 64, %zu-byte payload)\n", rec_len);
        ceiling = xadd_ceiling(rec_len, bids);
        fprintf(stderr, "  %.0f XADD/s\n", ceiling);
        char flush[1300];
        snprintf(flush, sizeof(flush),
                 "bash -c '. %s/ops/lib.sh; rcli %d %s/secrets.env flushall'"
                 " >/dev/null",
                 root, port_fast, var);
        if (system(flush) != 0)
            die("flushall");
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct run run;

    fprintf(stderr, "durable bids, fast profile (everysec)\n");
    run.m = market_up(&loop, port_fast, &run);
    setup_lots(&loop, &run);
    double fast = stream(&loop, &run, bids);
    drain(&loop, &run);
    uint64_t journaled = 0;
    {
        struct kito_market_stats st;
        kito_market_stats(run.m, &st);
        journaled = st.acked;
    }
    market_down(&loop, run.m);

    double strict = 0;
    if (!only_recovery) {
        fprintf(stderr, "durable bids, strict profile (always)\n");
        run.m = market_up(&loop, PORT_STRICT, &run);
        setup_lots(&loop, &run);
        strict = stream(&loop, &run, bids * 2 / 5);
        drain(&loop, &run);
        market_down(&loop, run.m);
    }

    fprintf(stderr, "recovery of the fast instance (%llu acknowledged commands)\n",
            (unsigned long long)journaled);
    for (int k = 0; k < recoveries; k++) {
        run.m = market_up(&loop, port_fast, &run);
        fprintf(stderr,
                "  %u lots, %llu commands replayed, %u from snapshots, %llu entries read before "
                "them, %u ids remembered, %.0f ms\n",
                run.rec.lots, (unsigned long long)run.rec.commands, run.rec.from_snapshots,
                (unsigned long long)run.rec.history, run.rec.remembered, run.rec.ms);
        if (run.rec.lots != LOTS || run.rec.damaged != 0)
            die("recovery did not find every lot");
        market_down(&loop, run.m);
    }
    uv_loop_close(&loop);

    redis_down("durable-fast", port_fast);
    if (only_recovery) {
        printf("BENCH recovery_seconds_1m %.2f\n", run.rec.ms / 1000.0);
        return 0;
    }
    redis_down("durable-strict", PORT_STRICT);

    printf("BENCH redis_xadd_ceiling_per_sec %.0f\n", ceiling);
    printf("BENCH durable_bids_per_sec %.0f\n", fast);
    printf("BENCH durable_vs_ceiling %.2f\n", fast / ceiling);
    printf("BENCH durable_bids_per_sec_strict %.0f\n", strict);
    printf("BENCH recovery_seconds_1m %.2f\n", run.rec.ms / 1000.0);
    return 0;
}
