#include "api/live/bidding.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/log.h"
#include "api/common/crypto.h"
#include "api/common/render.h"
#include "api/common/validate.h"
#include "api/live/bookstore.h"
#include "api/live/market.h"
#include "api/store/repo_sales.h"
#include "api/store/worker_pool.h"

/* ---- pure helpers ---------------------------------------------------------------------------- */

bool kito_idempotency_key_valid(const char *key, size_t len)
{
    if (key == NULL || len == 0 || len > KITO_IDEMPOTENCY_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return false;
    return true;
}

uint64_t kito_bid_command_id(uint64_t account_id, const char *key, size_t len)
{
    uint8_t buf[8 + KITO_IDEMPOTENCY_KEY_MAX], digest[KITO_SHA256_LEN];
    assert(len <= KITO_IDEMPOTENCY_KEY_MAX);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(account_id >> (56 - 8 * i));
    memcpy(buf + 8, key, len);
    kito_err e = kito_crypto_sha256(buf, 8 + len, digest);
    assert(e == KITO_OK);
    (void)e;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | digest[i];
    return id != 0 ? id : 1;
}

bool kito_bucket_take(kito_bucket *b, int64_t now_ms, double rate, double burst,
                      int64_t *retry_after_ms)
{
    assert(rate > 0 && burst >= 1);
    if (b->at_ms == 0 || now_ms < b->at_ms) {
        b->tokens = burst;
        b->at_ms = now_ms;
    } else {
        b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->at_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    if (retry_after_ms != NULL) {
        double wait = (1.0 - b->tokens) * 1000.0 / rate;
        *retry_after_ms = (int64_t)wait + 1;
    }
    return false;
}

int64_t kito_bidding_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_money_or_null(kito_jw *w, int64_t minor, const char *currency)
{
    if (minor > 0)
        kito_jw_money(w, minor, currency);
    else
        kito_jw_raw(w, "null", 4);
}

void kito_bidding_write_view(kito_jw *w, const struct kito_lot_view *v, uint64_t viewer,
                             uint64_t lot_id)
{
    kito_jw_lit(w, "{\"state\":");
    kito_jw_string(w, kito_lot_state_name(v->state));
    kito_jw_lit(w, ",\"price\":");
    write_money_or_null(w, v->price_minor, v->currency);
    kito_jw_lit(w, ",\"ask\":");
    write_money_or_null(w, v->ask_minor, v->currency);
    kito_jw_lit(w, ",\"opening\":");
    kito_jw_money(w, v->opening_minor, v->currency);
    kito_jw_lit(w, ",\"bid_count\":");
    kito_jw_int(w, (int)v->bid_count);
    kito_jw_lit(w, ",\"reserve_met\":");
    if (v->bid_count > 0) /* null until bidding starts (and so while a book is sealed) */
        kito_jw_bool(w, v->reserve_met);
    else
        kito_jw_raw(w, "null", 4);
    kito_jw_lit(w, ",\"has_reserve\":");
    kito_jw_bool(w, v->has_reserve);
    kito_jw_lit(w, ",\"ends_at\":");
    if (v->ends_at_ms > 0)
        kito_jw_time(w, v->ends_at_ms);
    else
        kito_jw_raw(w, "null", 4);
    kito_jw_lit(w, ",\"seq\":");
    kito_jw_int(w, (int)v->seq);
    kito_jw_lit(w, ",\"paused\":");
    kito_jw_bool(w, v->paused);
    kito_jw_lit(w, ",\"leader_is_you\":");
    kito_jw_bool(w, viewer != 0 && v->leader == viewer);
    if (lot_id != 0) {
        kito_jw_lit(w, ",\"id\":");
        kito_jw_id(w, KITO_ID_LOT, lot_id);
    }
    kito_jw_raw(w, "}", 1);
}

json_t *kito_bidding_render_view(const struct kito_lot_view *v, uint64_t viewer)
{
    /* One renderer for the view (kito_bidding_write_view), read back: two copies of the member
     * list had to be kept equal by a test. The view is ~330 bytes; 1 KiB leaves room for any
     * currency and time the engine holds. */
    char buf[1024];
    kito_jw w;
    kito_jw_init(&w, buf, sizeof(buf));
    kito_bidding_write_view(&w, v, viewer, 0);
    return w.failed ? NULL : json_loadb(w.buf, w.len, 0, NULL); /* (failed: a time out of range) */
}

/* ---- the state ------------------------------------------------------------------------------- */

typedef struct approval_slot {
    uint64_t sale_id, buyer_id; /* 0 = empty */
    int64_t expires_ms;
    kito_bid_approval ap;
} approval_slot;

typedef struct key_slot {
    uint64_t cmd_id; /* 0 = empty */
    uint64_t lot_id;
    int64_t amount;
    int64_t at_ms; /* when the command was stamped: of two keys in one slot the newer stays */
} key_slot;

typedef struct bucket_slot {
    uint64_t key; /* 0 = empty */
    kito_bucket bucket;
} bucket_slot;

struct activation;

struct reconcile;

struct kito_bidding {
    uv_loop_t *loop;
    kito_market *market;    /* NULL after kito_bidding_stop */
    kito_pool *pool;        /* NULL after kito_bidding_stop */
    const kito_config *cfg; /* the rate limits; NULL: none */
    uv_timer_t tick;
    uv_timer_t retry;
    int handles_open;
    bool retry_armed;
    bool reconciling;
    bool stopped; /* kito_bidding_stop: the market may be going: load nothing more */
    kito_bid_lot *lots;
    approval_slot *approvals;
    key_slot *keys;
    bucket_slot *buyers;
    bucket_slot *addrs;
    uint64_t *ids;
    size_t ids_cap;
    uint64_t approvals_forgotten; /* kito_bidding_approval_forget calls (act_warm) */
    struct activation *acts;      /* in flight, doubly linked */
    struct reconcile *rec;        /* the open-sales read in flight, if any */
    uint32_t holds;               /* kito_bidding_hold without its release */
    bool freed;                   /* kito_bidding_free ran: the memory goes with the last hold */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void on_tick(uv_timer_t *t);
static void on_retry(uv_timer_t *t);

kito_err kito_bidding_create(const struct kito_bidding_params *p, kito_bidding **out)
{
    kito_bidding *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return KITO_E_NOMEM;
    b->loop = p->loop;
    b->market = p->market;
    b->pool = p->pool;
    b->cfg = p->cfg;
    b->ids_cap = 65536;
    b->lots = calloc(KITO_BIDDING_LOTS, sizeof(*b->lots));
    b->approvals = calloc(KITO_BIDDING_APPROVALS, sizeof(*b->approvals));
    b->keys = calloc(KITO_BIDDING_KEYS, sizeof(*b->keys));
    b->buyers = calloc(KITO_BIDDING_BUCKETS, sizeof(*b->buyers));
    b->addrs = calloc(KITO_BIDDING_BUCKETS, sizeof(*b->addrs));
    b->ids = calloc(b->ids_cap, sizeof(*b->ids));
    if (b->lots == NULL || b->approvals == NULL || b->keys == NULL || b->buyers == NULL ||
        b->addrs == NULL || b->ids == NULL) {
        free(b->lots);
        free(b->approvals);
        free(b->keys);
        free(b->buyers);
        free(b->addrs);
        free(b->ids);
        free(b);
        return KITO_E_NOMEM;
    }
    uv_timer_init(b->loop, &b->tick);
    uv_timer_init(b->loop, &b->retry);
    b->tick.data = b->retry.data = b;
    b->handles_open = 2;
    uv_timer_start(&b->tick, on_tick, KITO_BIDDING_TICK_MS, KITO_BIDDING_TICK_MS);
    *out = b;
    return KITO_OK;
}

void kito_bidding_stop(kito_bidding *b)
{
    if (b == NULL)
        return;
    b->stopped = true;
    b->market = NULL;
    b->pool = NULL;
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->retry);
}

kito_market *kito_bidding_market(const kito_bidding *b)
{
    return b->market;
}

kito_pool *kito_bidding_pool(const kito_bidding *b)
{
    return b->pool;
}

static void free_memory(kito_bidding *b)
{
    free(b->lots);
    free(b->approvals);
    free(b->keys);
    free(b->buyers);
    free(b->addrs);
    free(b->ids);
    free(b);
}

void kito_bidding_hold(kito_bidding *b)
{
    b->holds++;
}

void kito_bidding_release(kito_bidding *b)
{
    assert(b->holds > 0);
    if (--b->holds == 0 && b->freed && b->handles_open == 0)
        free_memory(b);
}

/* ---- the clock ------------------------------------------------------------------------------- */

/* Timed and tender lots open and close by the clock (DESIGN.md, Formats): the engine says when
 * (next_deadline, never later than the truth), the market journals the OPEN/CLOSE commands and a
 * close's outbox entry. One tick a timer turn is bounded by the market's batch; what is left is
 * still due at the next turn. */
static void on_tick(uv_timer_t *t)
{
    kito_bidding *b = t->data;
    kito_market *m = b->market;
    if (m == NULL || !kito_market_ready(m))
        return;
    int64_t now = kito_bidding_now_ms();
    if (kito_market_next_deadline(m) > now)
        return;
    size_t n = 0;
    kito_market_tick(m, now, NULL, NULL, &n);
}

/* ---- activation ------------------------------------------------------------------------------ */

typedef struct activation {
    kito_bidding *b; /* NULL once b was freed while the MySQL job ran */
    struct activation *prev, *next;
    uint64_t sale_id;
    kito_bidding_activated_fn done; /* NULL when nobody waits */
    void *done_ud;
    struct kito_lot_config *cfgs;
    size_t n;
    kito_err db_err;
    /* the caches' warm-up: read with the configs, put in when they are back (act_warm) */
    kito_bid_lot *dir;
    size_t dir_n;
    kito_bid_buyer_approval *aps;
    size_t aps_n;
    uint64_t forgotten_at_start; /* b->approvals_forgotten when the read was submitted */
    size_t next_cfg;             /* the next of cfgs to load */
    uint32_t pending;            /* loads waiting for the market */
    bool issuing;                /* inside act_pump */
    bool in_db;
    bool failed; /* a load failed for Redis or capacity: retry */
    bool chain;  /* part of a reconcile pass */
    /* reconcile: the sales still to activate after this one */
    uint64_t *rest;
    size_t rest_n;
} activation;

static void act_link(kito_bidding *b, activation *a)
{
    a->b = b;
    a->prev = NULL;
    a->next = b->acts;
    if (b->acts != NULL)
        b->acts->prev = a;
    b->acts = a;
}

static void act_unlink(activation *a)
{
    if (a->b == NULL)
        return;
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        a->b->acts = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
}

static void act_free(activation *a)
{
    if (a->done != NULL)
        a->done(a->done_ud); /* the publish committed: its caller may say so */
    free(a->cfgs);
    free(a->dir);
    free(a->aps);
    free(a->rest);
    free(a);
}

static void arm_retry(kito_bidding *b)
{
    if (b->retry_armed)
        return;
    b->retry_armed = true;
    uv_timer_start(&b->retry, on_retry, KITO_BIDDING_RETRY_MS, 0);
}

static void act_start(kito_bidding *b, activation *a);

/* Every load of a has been answered. */
static void act_finish(activation *a)
{
    kito_bidding *b = a->b;
    act_unlink(a);
    if (a->failed || a->db_err != KITO_OK) {
        kito_log(NULL, "sale %llu: some lots not loaded yet (%s); retrying in %d ms",
                 (unsigned long long)a->sale_id,
                 kito_err_code(a->db_err != KITO_OK ? a->db_err : KITO_E_UNAVAILABLE),
                 KITO_BIDDING_RETRY_MS);
        arm_retry(b);
    }
    uint64_t *rest = a->rest;
    size_t rest_n = a->rest_n;
    bool chain = a->chain;
    a->rest = NULL;
    act_free(a);
    if (chain && rest_n == 0)
        b->reconciling = false;
    if (rest_n > 0) { /* reconcile: the next sale */
        activation *next = calloc(1, sizeof(*next));
        if (next == NULL) {
            free(rest);
            b->reconciling = false;
            arm_retry(b);
            return;
        }
        next->sale_id = rest[0];
        next->chain = true;
        memmove(rest, rest + 1, (rest_n - 1) * sizeof(*rest));
        next->rest = rest;
        next->rest_n = rest_n - 1;
        act_start(b, next);
    } else {
        free(rest);
    }
}

static void act_pump(activation *a);

static void on_loaded(void *ud, kito_err status)
{
    activation *a = ud;
    if (status != KITO_OK && status != KITO_E_LOT_EXISTS) {
        a->failed = true;
        if (status != KITO_E_UNAVAILABLE && status != KITO_E_CAPACITY)
            kito_log(NULL, "sale %llu: a lot was not loaded (%s)", (unsigned long long)a->sale_id,
                     kito_err_code(status));
    }
    assert(a->pending > 0);
    a->pending--;
    act_pump(a);
}

static void act_run(void *worker, void *arg)
{
    activation *a = arg;
    a->cfgs = calloc(KITO_SALE_LOTS_MAX, sizeof(*a->cfgs));
    a->db_err = a->cfgs != NULL
                    ? kito_bids_sale_configs(worker, a->sale_id, a->cfgs, KITO_SALE_LOTS_MAX, &a->n)
                    : KITO_E_NOMEM;
    if (a->db_err != KITO_OK || a->n == 0)
        return;
    /* The warm-up is best effort: a failure here leaves the caches to fill on first use. */
    a->dir = calloc(KITO_SALE_LOTS_MAX, sizeof(*a->dir));
    a->aps = calloc(KITO_BIDDING_WARM_APPROVALS, sizeof(*a->aps));
    if (a->dir == NULL ||
        kito_bids_sale_lots(worker, a->sale_id, a->dir, KITO_SALE_LOTS_MAX, &a->dir_n) != KITO_OK)
        a->dir_n = 0;
    if (a->aps == NULL ||
        kito_bids_sale_approvals(worker, a->sale_id, a->aps, KITO_BIDDING_WARM_APPROVALS,
                                 &a->aps_n) != KITO_OK)
        a->aps_n = 0;
}

/* Puts what act_run read into the lot directory and the approvals cache, so that the first bids
 * of a sale's opening (every lot's first, every buyer's first) do not each wait for MySQL. The
 * approvals are skipped if one was forgotten (revoked or changed here) while they were read:
 * they may be older than the change. */
static void act_warm(activation *a)
{
    kito_bidding *b = a->b;
    for (size_t i = 0; i < a->dir_n; i++)
        kito_bidding_lot_put(b, &a->dir[i]);
    if (b->approvals_forgotten == a->forgotten_at_start)
        for (size_t i = 0; i < a->aps_n; i++)
            kito_bidding_approval_put(b, a->sale_id, a->aps[i].buyer_id, &a->aps[i].ap);
    free(a->dir);
    free(a->aps);
    a->dir = NULL;
    a->aps = NULL;
    a->dir_n = a->aps_n = 0;
}

static void act_loaded_all(activation *a);

static void act_done(void *arg, kito_err status)
{
    activation *a = arg;
    a->in_db = false;
    if (a->b == NULL) { /* the server stopped meanwhile */
        act_free(a);
        return;
    }
    if (status != KITO_OK)
        a->db_err = status;
    else
        act_warm(a);
    act_loaded_all(a);
}

/* Issues a's next loads, at most KITO_BIDDING_LOADS_AT_ONCE waiting at a time: each load holds
 * one of the book store's KITO_BOOKSTORE_READS_MAX reads until Redis answers, and a load refused
 * for capacity would leave its lot unloaded until the retry timer (a sale of 1,000 lots would
 * open to bids 256 lots every KITO_BIDDING_RETRY_MS). Called again by every answer; finishes a
 * once every load has been answered. */
static void act_pump(activation *a)
{
    if (a->b == NULL || a->issuing)
        return;
    a->issuing = true; /* an answer arriving while we issue (a failure) must not recurse */
    kito_market *m = a->b->market;
    while (a->db_err == KITO_OK && a->next_cfg < a->n && a->pending < KITO_BIDDING_LOADS_AT_ONCE) {
        const struct kito_lot_config *cfg = &a->cfgs[a->next_cfg];
        struct kito_lot_view v;
        if (m == NULL || a->b->stopped) { /* (kito_market_free answers our loads) */
            a->failed = true;
            break;
        }
        if (kito_market_lot_view(m, cfg->lot_id, &v) == KITO_OK) {
            a->next_cfg++; /* already held */
            continue;
        }
        kito_err e = kito_market_lot_load(m, cfg, on_loaded, a);
        if (e == KITO_E_CAPACITY && a->pending > 0)
            break; /* the reads are busy (ours among them): go on as ours are answered */
        a->next_cfg++;
        if (e == KITO_OK)
            a->pending++;
        else if (e != KITO_E_LOT_EXISTS)
            a->failed = true;
    }
    a->issuing = false;
    if (a->pending == 0)
        act_finish(a);
}

/* Loads a's configs into the market; finishes when every load is answered. */
static void act_loaded_all(activation *a)
{
    if (a->db_err != KITO_OK && a->db_err != KITO_E_NOT_FOUND)
        kito_log(NULL, "sale %llu: cannot read its lots (%s)", (unsigned long long)a->sale_id,
                 kito_err_code(a->db_err));
    if (a->db_err == KITO_E_NOT_FOUND) {
        a->db_err = KITO_OK; /* gone: nothing to load */
        a->n = 0;
    }
    a->next_cfg = 0;
    act_pump(a);
}

static void act_start(kito_bidding *b, activation *a)
{
    act_link(b, a);
    a->in_db = true;
    a->forgotten_at_start = b->approvals_forgotten;
    if (b->pool == NULL || kito_pool_submit(b->pool, act_run, act_done, a) != KITO_OK) {
        a->in_db = false;
        a->db_err = KITO_E_UNAVAILABLE;
        act_loaded_all(a);
    }
}

void kito_bidding_activate_sale(kito_bidding *b, uint64_t sale_id, kito_bidding_activated_fn done,
                                void *ud)
{
    activation *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        if (done != NULL)
            done(ud);
        if (b != NULL)
            arm_retry(b);
        return;
    }
    a->sale_id = sale_id;
    a->done = done;
    a->done_ud = ud;
    if (b == NULL) {
        act_free(a);
        return;
    }
    act_start(b, a);
}

/* ---- reconcile ------------------------------------------------------------------------------- */

typedef struct reconcile {
    kito_bidding *b; /* NULL once b was freed while the MySQL job ran */
    uint64_t *ids;
    size_t n;
    kito_err err;
} reconcile;

static void rec_run(void *worker, void *arg)
{
    reconcile *c = arg;
    c->err = kito_bids_active_sales(worker, c->ids, KITO_BIDDING_ACTIVE_SALES_MAX, &c->n);
}

static void rec_done(void *arg, kito_err status)
{
    reconcile *c = arg;
    kito_bidding *b = c->b;
    if (status != KITO_OK)
        c->err = status;
    if (b == NULL) { /* freed meanwhile */
        free(c->ids);
        free(c);
        return;
    }
    b->rec = NULL;
    if (c->err != KITO_OK || c->n == 0) {
        if (c->err != KITO_OK) {
            kito_log(NULL, "cannot list the published sales (%s); retrying", kito_err_code(c->err));
            arm_retry(b);
        }
        b->reconciling = false;
        free(c->ids);
        free(c);
        return;
    }
    activation *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        b->reconciling = false;
        arm_retry(b);
        free(c->ids);
        free(c);
        return;
    }
    a->sale_id = c->ids[0];
    a->chain = true;
    memmove(c->ids, c->ids + 1, (c->n - 1) * sizeof(*c->ids));
    a->rest = c->ids;
    a->rest_n = c->n - 1;
    free(c);
    act_start(b, a);
}

void kito_bidding_reconcile(kito_bidding *b)
{
    if (b == NULL || b->reconciling)
        return;
    reconcile *c = calloc(1, sizeof(*c));
    uint64_t *ids = calloc(KITO_BIDDING_ACTIVE_SALES_MAX, sizeof(*ids));
    if (c == NULL || ids == NULL || b->pool == NULL) {
        free(c);
        free(ids);
        arm_retry(b);
        return;
    }
    *c = (reconcile){.b = b, .ids = ids};
    b->reconciling = true;
    if (kito_pool_submit(b->pool, rec_run, rec_done, c) != KITO_OK) {
        b->reconciling = false;
        free(ids);
        free(c);
        arm_retry(b);
        return;
    }
    b->rec = c;
}

static void on_retry(uv_timer_t *t)
{
    kito_bidding *b = t->data;
    b->retry_armed = false;
    if (b->market == NULL || !kito_market_ready(b->market) || b->reconciling) {
        arm_retry(b);
        return;
    }
    kito_bidding_reconcile(b);
}

static void on_handle_closed(uv_handle_t *h)
{
    kito_bidding *b = h->data;
    if (--b->handles_open > 0 || b->holds > 0)
        return;
    free_memory(b);
}

void kito_bidding_free(kito_bidding *b)
{
    if (b == NULL)
        return;
    kito_bidding_stop(b);
    b->freed = true;
    if (b->rec != NULL)
        b->rec->b = NULL; /* its job frees it */
    while (b->acts != NULL) {
        activation *a = b->acts;
        act_unlink(a);
        a->b = NULL;
        if (!a->in_db)
            act_free(a); /* its loads were answered or will never be */
    }
    uv_close((uv_handle_t *)&b->tick, on_handle_closed);
    uv_close((uv_handle_t *)&b->retry, on_handle_closed);
}

/* ---- caches ---------------------------------------------------------------------------------- */

/* The lot directory and the approvals cache are KITO_BIDDING_WAYS-way set-associative: a key
 * lives in one set of that many slots, newest first, and a put into a full set evicts its oldest.
 * (Direct-mapped, a sale of 1,000 lots put about 30 pairs of lots into shared slots, and bids on
 * those lots evicted each other and went to MySQL every time.) */
#define SETS(slots) ((slots) / KITO_BIDDING_WAYS)

static kito_bid_lot *lot_set(kito_bidding *b, uint64_t lot_id)
{
    return &b->lots[(mix(lot_id) & (SETS(KITO_BIDDING_LOTS) - 1)) * KITO_BIDDING_WAYS];
}

const kito_bid_lot *kito_bidding_lot(kito_bidding *b, uint64_t lot_id)
{
    const kito_bid_lot *set = lot_set(b, lot_id);
    for (size_t i = 0; lot_id != 0 && i < KITO_BIDDING_WAYS; i++)
        if (set[i].lot_id == lot_id)
            return &set[i];
    return NULL;
}

void kito_bidding_lot_put(kito_bidding *b, const kito_bid_lot *lot)
{
    if (strcmp(lot->sale_status, "draft") == 0)
        return;
    kito_bid_lot *set = lot_set(b, lot->lot_id);
    size_t i = 0; /* the lot's own slot, else the oldest */
    while (i < KITO_BIDDING_WAYS - 1 && set[i].lot_id != lot->lot_id)
        i++;
    memmove(&set[1], &set[0], i * sizeof(*set));
    set[0] = *lot;
}

static approval_slot *approval_set(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id)
{
    return &b->approvals[(mix(sale_id * 0x9e3779b97f4a7c15ULL ^ buyer_id) &
                          (SETS(KITO_BIDDING_APPROVALS) - 1)) *
                         KITO_BIDDING_WAYS];
}

bool kito_bidding_approval(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id,
                           kito_bid_approval *out)
{
    const approval_slot *set = approval_set(b, sale_id, buyer_id);
    for (size_t i = 0; sale_id != 0 && i < KITO_BIDDING_WAYS; i++) {
        const approval_slot *a = &set[i];
        if (a->sale_id == sale_id && a->buyer_id == buyer_id) {
            if (a->expires_ms <= (int64_t)uv_now(b->loop))
                return false;
            *out = a->ap;
            return true;
        }
    }
    return false;
}

void kito_bidding_approval_put(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id,
                               const kito_bid_approval *ap)
{
    if (!ap->approved)
        return;
    approval_slot *set = approval_set(b, sale_id, buyer_id);
    size_t i = 0; /* the pair's own slot, else the oldest */
    while (i < KITO_BIDDING_WAYS - 1 && (set[i].sale_id != sale_id || set[i].buyer_id != buyer_id))
        i++;
    memmove(&set[1], &set[0], i * sizeof(*set));
    set[0] = (approval_slot){sale_id, buyer_id,
                             (int64_t)uv_now(b->loop) + KITO_BIDDING_APPROVAL_TTL_MS, *ap};
}

void kito_bidding_approval_forget(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id)
{
    if (b == NULL)
        return;
    b->approvals_forgotten++;
    if (buyer_id != 0) {
        approval_slot *set = approval_set(b, sale_id, buyer_id);
        for (size_t i = 0; i < KITO_BIDDING_WAYS; i++)
            if (set[i].sale_id == sale_id && set[i].buyer_id == buyer_id)
                memset(&set[i], 0, sizeof(set[i]));
        return;
    }
    for (size_t i = 0; i < KITO_BIDDING_APPROVALS; i++)
        if (b->approvals[i].sale_id == sale_id)
            memset(&b->approvals[i], 0, sizeof(b->approvals[i]));
}

/* FNV-1a of the address without its port. */
static uint64_t addr_key(const char *addr)
{
    size_t len = strlen(addr);
    const char *colon = strrchr(addr, ':');
    if (colon != NULL)
        len = (size_t)(colon - addr);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)addr[i];
        h *= 0x100000001b3ULL;
    }
    return h != 0 ? h : 1;
}

static bool charge(bucket_slot *table, uint64_t key, int64_t now, double rate, double burst,
                   int64_t *retry_ms)
{
    bucket_slot *s = &table[mix(key) & (KITO_BIDDING_BUCKETS - 1)];
    if (s->key != key)
        *s = (bucket_slot){.key = key};
    return kito_bucket_take(&s->bucket, now, rate, burst, retry_ms);
}

kito_err kito_bidding_rate(kito_bidding *b, uint64_t buyer_id, const char *addr,
                           int64_t *retry_after_s)
{
    int64_t now = (int64_t)uv_now(b->loop) + 1; /* never 0: 0 marks an unused bucket */
    int64_t wait_ms = 0;
    const kito_config *cfg = b->cfg;
    if (cfg == NULL)
        return KITO_OK;
    bool ok =
        charge(b->addrs, addr_key(addr), now, cfg->bid_addr_rate, cfg->bid_addr_burst, &wait_ms) &&
        charge(b->buyers, buyer_id, now, cfg->bid_buyer_rate, cfg->bid_buyer_burst, &wait_ms);
    if (ok)
        return KITO_OK;
    *retry_after_s = (wait_ms + 999) / 1000;
    if (*retry_after_s < 1)
        *retry_after_s = 1;
    return KITO_E_RATE_LIMITED;
}

bool kito_bidding_key_matches(kito_bidding *b, uint64_t cmd_id, uint64_t lot_id, int64_t amount)
{
    const key_slot *k = &b->keys[mix(cmd_id) & (KITO_BIDDING_KEYS - 1)];
    return k->cmd_id != cmd_id || (k->lot_id == lot_id && k->amount == amount);
}

void kito_bidding_key_put(kito_bidding *b, uint64_t cmd_id, uint64_t lot_id, int64_t amount)
{
    b->keys[mix(cmd_id) & (KITO_BIDDING_KEYS - 1)] =
        (key_slot){cmd_id, lot_id, amount, kito_bidding_now_ms()};
}

void kito_bidding_key_replayed(void *ud, const struct kito_command *cmd)
{
    kito_bidding *b = ud;
    if (cmd->type != KITO_CMD_BID || cmd->id == 0)
        return;
    /* The market hands the rebuilt commands over in no particular order: the slot keeps the
     * newer of two keys, as it would have in running order. */
    key_slot *k = &b->keys[mix(cmd->id) & (KITO_BIDDING_KEYS - 1)];
    if (k->cmd_id == 0 || k->at_ms <= cmd->now_ms)
        *k = (key_slot){cmd->id, cmd->lot_id, cmd->amount_minor, cmd->now_ms};
}

uint64_t *kito_bidding_ids_scratch(kito_bidding *b, size_t *cap)
{
    *cap = b->ids_cap;
    return b->ids;
}

/* ---- lot views ------------------------------------------------------------------------------- */

void kito_bidding_overlay_lot(const kito_market *m, uint64_t viewer, json_t *lot)
{
    uint64_t lot_id;
    struct kito_lot_view v;
    if (!json_is_object(lot) ||
        kito_id_parse(KITO_ID_LOT, json_string_value(json_object_get(lot, "id")), &lot_id) !=
            KITO_OK)
        return;
    if (m == NULL || kito_market_lot_view(m, lot_id, &v) != KITO_OK) {
        /* not in the books: never loaded, or closed before this process started, when the
         * result MySQL recorded ("hammer", and "leader_is_you" for the winner, from
         * api/http/sales_kit.c) is what stands */
        const json_t *hammer = json_object_get(lot, "hammer");
        json_object_set_new(lot, "price",
                            json_is_object(hammer) ? json_deep_copy(hammer) : json_null());
        json_object_set_new(lot, "ask", json_null());
        json_object_set_new(lot, "bid_count", json_integer(0));
        json_object_set_new(lot, "seq", json_null());
        json_object_set_new(lot, "paused", json_false());
        if (!json_is_true(json_object_get(lot, "leader_is_you")))
            json_object_set_new(lot, "leader_is_you", json_false());
        return;
    }
    json_t *view = kito_bidding_render_view(&v, viewer);
    if (view == NULL)
        return;
    static const char *const keys[] = {"state",       "price", "ask",    "bid_count",
                                       "reserve_met", "seq",   "paused", "leader_is_you"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_set(lot, keys[i], json_object_get(view, keys[i]));
    if (v.ends_at_ms > 0) /* soft close may have moved it past the planned end */
        json_object_set(lot, "ends_at", json_object_get(view, "ends_at"));
    json_decref(view);
}

void kito_bidding_overlay_items(const kito_market *m, uint64_t viewer, json_t *items)
{
    json_t *arr = json_is_array(items) ? items : json_object_get(items, "items");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) kito_bidding_overlay_lot(m, viewer, v);
}
