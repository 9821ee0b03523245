/*
 * Engine benchmark (issue 3). One thread, 100,000 open timed lots, a pre-generated stream of
 * 10,000,000 commands, then memory for 1,000,000 lots with 10 bidders each.
 *
 * The stream. Bids concentrate the way a marketplace's do: 70% of them go to a hot 10% of the
 * lots. Each lot has its own pool of 15 buyers. Amounts are chosen against the lot's real ask
 * (a generator engine runs the stream as it is made): mostly the ask plus 0-2 steps, 4% one cent
 * under it (refused below_ask), 1% from the seller (own_lot), 1% unapproved, 1% retries of an
 * earlier command id (duplicate). Lots end between 20 minutes and 4 hours after the start and
 * the stream covers an hour, so about a sixth of the lots close under it (later bids refused
 * lot_closed; bids in a lot's last two minutes extend it). Every 1,000 commands the clock moves
 * 360 ms and a tick runs (opening and closing what is due), as an event loop turn would.
 *
 * Pass 1, throughput: the stream in batches of 64 through kito_engine_apply_batch, events
 * written to a buffer, CLOCK_MONOTONIC read once per batch. bids/s = bid commands (accepted or
 * refused) / total wall time of the stream, ticks included. Also printed, for a shared machine:
 * the same count over the thread's CPU time, and the median batch.
 * Pass 2, latency: the same stream on a fresh engine through kito_engine_apply one command at a
 * time; every 16th command is timed alone with serialised rdtsc reads (lfence), less the cost
 * of the timer itself (the minimum of 10,000 empty back-to-back reads), converted with the TSC
 * frequency measured against CLOCK_MONOTONIC. engine_bid_p99_ns is the 99th percentile of those
 * individual bid commands. The p99 of a 64-command batch in pass 1 is printed too.
 * Memory: an engine sized for exactly 1,000,000 lots with 10 bidders each (chunk-granular: 12
 * slots a lot), all loaded, 10 bidders placed on each; bytes per open lot = every byte the engine
 * allocated / lots (the fixed idempotency window and the timer heap included), checked against the
 * RSS growth from /proc/self/statm.
 *
 * KITO_BENCH_COMMANDS and KITO_BENCH_LOTS shrink the run; KITO_BENCH_MEM=0 skips the 1M test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "engine/engine.h"
#include "tests/rng.h"
#include "tests/bench/bench.h"

#define BATCH 64
#define TICK_EVERY 1000
#define TICK_STEP_MS 360
#define BUYERS_PER_LOT 15
#define SAMPLE_EVERY 16

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
    return kito_test_rng_next(&rng);
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

static uint64_t env_u64(const char *name, uint64_t fallback)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : fallback;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, kito_err err)
{
    fprintf(stderr, "bench: %s: %s\n", what, kito_err_code(err));
    exit(1);
}

#define START_MS INT64_C(1700000000000)
#define LOT_ID(i) (UINT64_C(5000000) + (uint64_t)(i))
#define SELLER(i) (UINT64_C(9000000000) + (uint64_t)(i) % 5000)

static kito_engine *make_engine(uint32_t lots)
{
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    lim.max_lots = lots;
    lim.max_standing_bids = lots * BUYERS_PER_LOT;
    lim.max_live_lots = 0;
    kito_engine *e;
    kito_err err = kito_engine_create(&lim, NULL, &e);
    if (err != KITO_OK)
        die("create", err);
    for (uint32_t i = 0; i < lots; i++) {
        struct kito_lot_config cfg;
        kito_lot_config_init(&cfg);
        cfg.lot_id = LOT_ID(i);
        cfg.sale_id = 1 + i / 100;
        cfg.seller_id = SELLER(i);
        uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        cfg.opening_minor = 1000 + (int64_t)((h >> 20) % 100000);
        cfg.reserve_minor = (h >> 40) % 10 < 3 ? cfg.opening_minor * 3 : 0;
        cfg.starts_at_ms = START_MS - 1000;
        cfg.sale_ends_at_ms = START_MS + 1200000 + (int64_t)((h >> 8) % 13200000);
        if ((err = kito_engine_lot_load(e, &cfg)) != KITO_OK)
            die("load", err);
    }
    /* Open everything. */
    static struct kito_command applied[4096];
    static struct kito_event ev[4096];
    size_t n, nev;
    do {
        kito_engine_tick(e, START_MS, applied, 4096, &n, ev, 4096, &nev);
    } while (kito_engine_next_deadline(e) <= START_MS);
    return e;
}

struct stream {
    struct kito_command *cmds;
    size_t n;
    size_t bids;
};

/* Generates the stream against a generator engine, so amounts meet real asks. */
static void generate(struct stream *s, uint32_t lots, size_t n)
{
    kito_engine *gen = make_engine(lots);
    s->cmds = malloc(n * sizeof(*s->cmds));
    s->n = n;
    s->bids = 0;
    if (!s->cmds) {
        perror("malloc");
        exit(1);
    }
    uint32_t hot = lots / 10 ? lots / 10 : 1;
    int64_t now = START_MS;
    uint64_t next_id = 1;
    size_t accepted = 0;
    for (size_t k = 0; k < n; k++) {
        if (k % TICK_EVERY == 0 && k > 0) {
            now += TICK_STEP_MS;
            struct kito_command applied[512];
            struct kito_event ev[4096];
            size_t na, nev;
            do
                kito_engine_tick(gen, now, applied, 512, &na, ev, 4096, &nev);
            while (kito_engine_next_deadline(gen) <= now);
        }
        uint32_t i = below(100) < 70 ? (uint32_t)below(hot) : (uint32_t)below(lots);
        struct kito_command c = {.id = next_id++,
                                 .lot_id = LOT_ID(i),
                                 .now_ms = now,
                                 .type = KITO_CMD_BID,
                                 .flags = KITO_CMD_F_APPROVED};
        c.actor = 1 + ((uint64_t)i * 7919 + below(BUYERS_PER_LOT)) % 50000000;
        struct kito_lot_view v;
        kito_engine_lot_view(gen, c.lot_id, &v);
        int64_t ask = v.ask_minor > 0 ? v.ask_minor : v.opening_minor;
        struct kito_ladder l;
        kito_ladder_default(&l);
        unsigned r = (unsigned)below(100);
        c.amount_minor = ask + (int64_t)below(3) * kito_ladder_step(&l, ask);
        if (r < 4)
            c.amount_minor = ask - 1;
        else if (r < 5)
            c.actor = SELLER(i);
        else if (r < 6)
            c.flags = 0;
        else if (r < 7 && k > 1000) {
            c = s->cmds[k - 1 - below(1000)]; /* a client retry */
            c.now_ms = now;
        }
        s->cmds[k] = c;
        s->bids += c.type == KITO_CMD_BID;
        struct kito_outcome out;
        kito_engine_apply(gen, &c, NULL, 0, &out);
        accepted += out.err == KITO_OK;
    }
    printf("stream: %zu commands, %zu bids, %.1f%% accepted by the generator\n", n, s->bids,
           100.0 * (double)accepted / (double)n);
    kito_engine_free(gen);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t percentile(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t k = (size_t)(p * (double)(n - 1));
    return v[k];
}

static void tick_all(kito_engine *e, int64_t now)
{
    static struct kito_command applied[512];
    static struct kito_event ev[4096];
    size_t na, nev;
    do
        kito_engine_tick(e, now, applied, 512, &na, ev, 4096, &nev);
    while (kito_engine_next_deadline(e) <= now);
}

/* Pass 1: batches through kito_engine_apply_batch. Returns bids per second. */
static double pass_throughput(const struct stream *s, uint32_t lots, uint64_t *batch_p99_ns,
                              uint64_t *batch_p50_ns, double *cpu_bids_per_sec,
                              size_t *accepted_out)
{
    kito_engine *e = make_engine(lots);
    size_t n_batches = s->n / BATCH + s->n / TICK_EVERY + 2;
    uint64_t *batch_ns = malloc(n_batches * sizeof(*batch_ns));
    static struct kito_outcome outs[BATCH];
    static struct kito_event events[BATCH * KITO_MAX_EVENTS_PER_COMMAND];
    size_t nb = 0, accepted = 0;
    int64_t now = START_MS;
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    uint64_t prev = now_ns();
    for (size_t k = 0; k < s->n;) {
        if (k % TICK_EVERY == 0 && k > 0) {
            now += TICK_STEP_MS;
            tick_all(e, now);
        }
        size_t want = TICK_EVERY - k % TICK_EVERY;
        if (want > BATCH)
            want = BATCH;
        if (want > s->n - k)
            want = s->n - k;
        size_t nev;
        size_t done = kito_engine_apply_batch(e, s->cmds + k, want, outs, events,
                                              sizeof(events) / sizeof(events[0]), &nev);
        for (size_t j = 0; j < done; j++)
            accepted += outs[j].err == KITO_OK;
        k += done;
        uint64_t t = now_ns();
        if (done == BATCH)
            batch_ns[nb++] = t - prev;
        prev = t;
    }
    double elapsed = bench_now_s() - t0;
    *cpu_bids_per_sec = (double)s->bids / (bench_cpu_s() - c0);
    *batch_p99_ns = percentile(batch_ns, nb, 0.99);
    *batch_p50_ns = percentile(batch_ns, nb, 0.50);
    *accepted_out = accepted;
    free(batch_ns);
    kito_engine_free(e);
    return (double)s->bids / elapsed;
}

static inline uint64_t tsc(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

/* Pass 2: one command at a time, every SAMPLE_EVERY-th timed alone. Returns p99 in ns. */
static double pass_latency(const struct stream *s, uint32_t lots, double *p50_ns, double *p999_ns,
                           size_t *accepted_out)
{
    /* The TSC's rate and the timer's own cost. */
    double c0 = bench_now_s();
    uint64_t r0 = tsc();
    while (bench_now_s() - c0 < 0.05)
        ;
    double ns_per_tick = (bench_now_s() - c0) * 1e9 / (double)(tsc() - r0);
    uint64_t overhead = UINT64_MAX;
    for (int i = 0; i < 10000; i++) {
        uint64_t a = tsc(), b = tsc();
        if (b - a < overhead)
            overhead = b - a;
    }
    kito_engine *e = make_engine(lots);
    uint64_t *samples = malloc((s->n / SAMPLE_EVERY + 1) * sizeof(*samples));
    size_t ns = 0, accepted = 0;
    int64_t now = START_MS;
    struct kito_event ev[KITO_MAX_EVENTS_PER_COMMAND];
    for (size_t k = 0; k < s->n; k++) {
        if (k % TICK_EVERY == 0 && k > 0) {
            now += TICK_STEP_MS;
            tick_all(e, now);
        }
        struct kito_outcome out;
        if (k % SAMPLE_EVERY == 0) {
            uint64_t a = tsc();
            kito_engine_apply(e, &s->cmds[k], ev, KITO_MAX_EVENTS_PER_COMMAND, &out);
            uint64_t b = tsc();
            samples[ns++] = b - a > overhead ? b - a - overhead : 0;
        } else {
            kito_engine_apply(e, &s->cmds[k], ev, KITO_MAX_EVENTS_PER_COMMAND, &out);
        }
        accepted += out.err == KITO_OK;
    }
    *accepted_out = accepted;
    double p99 = (double)percentile(samples, ns, 0.99) * ns_per_tick;
    *p50_ns = (double)percentile(samples, ns, 0.50) * ns_per_tick;
    *p999_ns = (double)percentile(samples, ns, 0.999) * ns_per_tick;
    printf("latency: %zu samples, timer overhead %.1f ns subtracted, TSC %.3f GHz\n", ns,
           (double)overhead * ns_per_tick, 1.0 / ns_per_tick);
    free(samples);
    kito_engine_free(e);
    return p99;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* 1,000,000 lots x 10 bidders. Returns engine bytes per open lot. */
static double memory_test(uint32_t lots, uint32_t bidders)
{
    size_t rss0 = rss_bytes();
    double t0 = bench_now_s();
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    lim.max_lots = lots;
    /* Bids are held in chunks of KITO_ENGINE_CHUNK_BIDS: 10 bidders take 2 chunks (12 slots). */
    uint32_t slots =
        (bidders + KITO_ENGINE_CHUNK_BIDS - 1) / KITO_ENGINE_CHUNK_BIDS * KITO_ENGINE_CHUNK_BIDS;
    lim.max_standing_bids = lots * slots;
    lim.max_live_lots = 0;
    kito_engine *e;
    kito_err err = kito_engine_create(&lim, NULL, &e);
    if (err != KITO_OK)
        die("create 1M", err);
    for (uint32_t i = 0; i < lots; i++) {
        struct kito_lot_config cfg;
        kito_lot_config_init(&cfg);
        cfg.lot_id = LOT_ID(i);
        cfg.seller_id = 1;
        cfg.opening_minor = 1000;
        cfg.starts_at_ms = START_MS - 1;
        cfg.sale_ends_at_ms = START_MS + 3600000;
        if ((err = kito_engine_lot_load(e, &cfg)) != KITO_OK)
            die("load 1M", err);
        struct kito_command open = {
            .lot_id = cfg.lot_id, .now_ms = START_MS, .type = KITO_CMD_OPEN};
        kito_engine_apply(e, &open, NULL, 0, NULL);
        for (uint32_t b = 0; b < bidders; b++) {
            struct kito_lot_view v;
            kito_engine_lot_view(e, cfg.lot_id, &v);
            struct kito_command c = {.id = (uint64_t)i * bidders + b + 1,
                                     .lot_id = cfg.lot_id,
                                     .actor = 100 + b,
                                     .amount_minor = v.ask_minor,
                                     .now_ms = START_MS,
                                     .type = KITO_CMD_BID,
                                     .flags = KITO_CMD_F_APPROVED};
            if ((err = kito_engine_apply(e, &c, NULL, 0, NULL)) != KITO_OK)
                die("bid 1M", err);
        }
    }
    size_t rss1 = rss_bytes();
    struct kito_engine_memory m;
    kito_engine_memory(e, &m);
    printf("memory: %u lots x %u bidders: engine allocated %.1f MiB (%.0f B/lot), RSS grew "
           "%.1f MiB (%.0f B/lot); per lot slot %zu B + %u chunks of %zu B; id window %.1f MiB; "
           "built in %.1f s\n",
           lots, bidders, (double)m.total_bytes / 1048576.0, (double)m.total_bytes / (double)lots,
           (double)(rss1 - rss0) / 1048576.0, (double)(rss1 - rss0) / (double)lots,
           m.lot_slot_bytes, (bidders + KITO_ENGINE_CHUNK_BIDS - 1) / KITO_ENGINE_CHUNK_BIDS,
           m.chunk_bytes, (double)m.id_window_bytes / 1048576.0, bench_now_s() - t0);
    if (m.total_bytes >= (size_t)1 << 30)
        printf("memory: OVER 1 GiB\n");
    double per_lot = (double)m.total_bytes / (double)lots;
    kito_engine_free(e);
    return per_lot;
}

int main(void)
{
    uint32_t lots = (uint32_t)env_u64("KITO_BENCH_LOTS", 100000);
    size_t n = (size_t)env_u64("KITO_BENCH_COMMANDS", 10000000);
    bool mem = env_u64("KITO_BENCH_MEM", 1) != 0;

    struct stream s;
    double g0 = bench_now_s();
    generate(&s, lots, n);
    printf("stream generated in %.1f s (not timed)\n", bench_now_s() - g0);

    uint64_t batch_p99, batch_p50;
    size_t acc1, acc2;
    double cpu_bids_per_sec;
    double bids_per_sec =
        pass_throughput(&s, lots, &batch_p99, &batch_p50, &cpu_bids_per_sec, &acc1);
    printf("throughput: %.2f M bid commands/s over %zu commands in batches of %d "
           "(%.1f%% accepted); batch of %d p99 %.0f ns (%.1f ns per command)\n",
           bids_per_sec / 1e6, n, BATCH, 100.0 * (double)acc1 / (double)n, BATCH, (double)batch_p99,
           (double)batch_p99 / BATCH);
    printf("throughput on thread CPU time: %.2f M bid commands/s; batch of %d p50 %.0f ns (%.1f ns "
           "per command)\n",
           cpu_bids_per_sec / 1e6, BATCH, (double)batch_p50, (double)batch_p50 / BATCH);
    double p50 = 0, p999 = 0, p99 = 0;
    acc2 = acc1;
    if (env_u64("KITO_BENCH_LATENCY", 1))
        p99 = pass_latency(&s, lots, &p50, &p999, &acc2);
    printf("latency of single commands: p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns\n", p50, p99, p999);
    if (acc1 != acc2) {
        fprintf(stderr, "bench: the two passes disagree (%zu vs %zu accepted)\n", acc1, acc2);
        return 1;
    }
    double bytes_per_lot = 0;
    if (mem)
        bytes_per_lot = memory_test(1000000, 10);
    else
        printf("memory: skipped (KITO_BENCH_MEM=0)\n");
    free(s.cmds);
    printf("BENCH engine_bids_per_sec %.0f\n", bids_per_sec);
    printf("BENCH engine_bid_p99_ns %.0f\n", p99);
    printf("BENCH engine_bytes_per_open_lot %.0f\n", bytes_per_lot);
    return 0;
}
