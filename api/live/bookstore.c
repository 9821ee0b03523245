#include "api/live/bookstore.h"

#include <assert.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/adapters/redis.h"
#include "api/common/backoff.h"
#include "api/common/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define TIMER_MS 100
/* Room kept past batch_max_bytes for the MULTI and EXEC that frame a batch. */
#define FRAME_BYTES 64

enum read_kind { READ_IDS = 1, READ_EXISTS = 2, READ_LOT = 3 };

struct bs_read {
    kito_bookstore *bs; /* constant: lets a stale hiredis callback find the store */
    bool in_use;
    uint8_t kind;
    uint64_t lot_id;
    void *ud;
    kito_bookstore_ids_cb ids_cb;
    kito_bookstore_exists_cb exists_cb;
    const struct kito_bookstore_reader *rd;
    /* lot read state */
    kito_err config_status;
    bool config_found;
    uint64_t sale_id, seller_id;
    char currency[4];
    uint32_t next_seq;   /* the seq the next journal entry must carry */
    uint32_t snap_seq;   /* the snapshot covers 1..snap_seq */
    uint32_t hist_next;  /* reading before the snapshot: the seq the next entry must carry */
    uint32_t hist_left;  /* ... entries still to read at most */
    uint32_t hist_asked; /* ... the COUNT of the XREVRANGE in flight */
};

struct kito_bookstore {
    uv_loop_t *loop;
    struct kito_bookstore_params p;
    char host[256];
    char user[128];
    char password[128]; /* secret: never logged */
    bool auth_logged;   /* a refused AUTH was logged since the last good connection */
    struct kito_bookstore_ops ops;
    void *ud;

    redisAsyncContext *ac; /* NULL while disconnected */
    bool connected;        /* TCP connected */
    bool up;               /* SELECT answered */
    bool closing;
    bool sealing;
    uint64_t connect_started_ms;
    uint64_t last_activity_ms;
    kito_backoff backoff; /* reconnect waits */
    uv_timer_t timer;
    uv_timer_t reconnect;
    uv_prepare_t prepare;
    int handles_open;

    /* the collecting batch: RESP, parts[i] = offset of Redis command i (parts[0] = MULTI) */
    char *buf;
    size_t len;
    size_t cap; /* batch_max_bytes + FRAME_BYTES */
    uint32_t *parts;
    uint32_t n_parts;
    uint64_t batch_id;

    bool in_flight;
    uint64_t in_flight_id;
    uint32_t in_flight_commands;

    struct bs_read reads[KITO_BOOKSTORE_READS_MAX];
    uint32_t reads_in_use;
    struct kito_command page[KITO_BOOKSTORE_PAGE];

    struct kito_bookstore_stats st;
};

void kito_bookstore_params_default(struct kito_bookstore_params *p)
{
    memset(p, 0, sizeof(*p));
    p->host = "127.0.0.1";
    p->port = 6379;
    p->db = 0;
    p->batch_max_commands = 16384;
    p->batch_max_bytes = 4u << 20;
    p->timeout_ms = 3000;
}

static void set_error(kito_bookstore *bs, const char *what, const char *detail)
{
    snprintf(bs->st.last_error, sizeof(bs->st.last_error), "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
}

/* ---- RESP writer ---------------------------------------------------------------------------- */

/* Writes into the batch buffer; on overflow remembers it and writes nothing more, so a caller
 * checks once and rolls back (the codec.h model). */
struct w {
    kito_bookstore *bs;
    size_t limit;
    bool overflow;
};

static void w_raw(struct w *w, const void *p, size_t n)
{
    kito_bookstore *bs = w->bs;
    if (w->overflow || bs->len + n > w->limit) {
        w->overflow = true;
        return;
    }
    memcpy(bs->buf + bs->len, p, n);
    bs->len += n;
}

static size_t dec_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t dec_i64(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + dec_u64(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return dec_u64(out, (uint64_t)v);
}

static void w_head(struct w *w, char kind, uint64_t n)
{
    char tmp[24];
    tmp[0] = kind;
    size_t k = 1 + dec_u64(tmp + 1, n);
    tmp[k++] = '\r';
    tmp[k++] = '\n';
    w_raw(w, tmp, k);
}

static void w_bulk(struct w *w, const void *p, size_t n)
{
    w_head(w, '$', n);
    w_raw(w, p, n);
    w_raw(w, "\r\n", 2);
}

static void w_str(struct w *w, const char *s)
{
    w_bulk(w, s, strlen(s));
}

static void w_u64(struct w *w, uint64_t v)
{
    char tmp[24];
    w_bulk(w, tmp, dec_u64(tmp, v));
}

static void w_i64(struct w *w, int64_t v)
{
    char tmp[24];
    w_bulk(w, tmp, dec_i64(tmp, v));
}

/* "lot:{ID}:suffix" into out (at least 64 bytes); returns the length. */
static size_t lot_key(char *out, uint64_t lot_id, const char *suffix)
{
    size_t n = 0;
    memcpy(out, "lot:{", 5);
    n = 5 + dec_u64(out + 5, lot_id);
    out[n++] = '}';
    out[n++] = ':';
    size_t sl = strlen(suffix);
    memcpy(out + n, suffix, sl);
    return n + sl;
}

static void w_lot_key(struct w *w, uint64_t lot_id, const char *suffix)
{
    char key[64];
    w_bulk(w, key, lot_key(key, lot_id, suffix));
}

/* ---- the collecting batch ------------------------------------------------------------------- */

static const char MULTI[] = "*1\r\n$5\r\nMULTI\r\n";
static const char EXEC[] = "*1\r\n$4\r\nEXEC\r\n";

struct mark {
    size_t len;
    uint32_t n_parts;
};

/* Starts one Redis command in the batch (and the MULTI before the first). */
static bool cmd_begin(kito_bookstore *bs, struct w *w, struct mark *m, unsigned argc)
{
    m->len = bs->len;
    m->n_parts = bs->n_parts;
    w->bs = bs;
    w->limit = bs->cap - FRAME_BYTES / 2; /* EXEC always fits */
    w->overflow = false;
    if (bs->n_parts + (bs->n_parts == 0 ? 2 : 1) > bs->p.batch_max_commands + 1)
        return false;
    if (bs->n_parts == 0) {
        bs->parts[bs->n_parts++] = (uint32_t)bs->len;
        w_raw(w, MULTI, sizeof(MULTI) - 1);
    }
    bs->parts[bs->n_parts++] = (uint32_t)bs->len;
    w_head(w, '*', argc);
    return true;
}

static kito_err cmd_end(kito_bookstore *bs, struct w *w, const struct mark *m)
{
    if (!w->overflow)
        return KITO_OK;
    bs->len = m->len;
    bs->n_parts = m->n_parts;
    return KITO_E_CAPACITY;
}

static void rollback(kito_bookstore *bs, const struct mark *m)
{
    bs->len = m->len;
    bs->n_parts = m->n_parts;
}

uint32_t kito_bookstore_pending_commands(const kito_bookstore *bs)
{
    return bs->n_parts == 0 ? 0 : bs->n_parts - 1;
}

static bool fits(const kito_bookstore *bs, uint32_t commands, size_t bytes)
{
    uint32_t have = kito_bookstore_pending_commands(bs);
    size_t frame = bs->n_parts == 0 ? sizeof(MULTI) : 0;
    return have + commands <= bs->p.batch_max_commands &&
           bs->len + frame + bytes <= bs->cap - FRAME_BYTES / 2;
}

static bool seal_and_send(kito_bookstore *bs);
static void go_down(kito_bookstore *bs, const char *why, const char *detail, bool free_ctx);

kito_err kito_bookstore_room(kito_bookstore *bs, uint32_t commands, size_t bytes)
{
    if (fits(bs, commands, bytes))
        return KITO_OK;
    if (!bs->sealing && bs->up && !bs->in_flight && bs->n_parts > 0) {
        if (!seal_and_send(bs)) {
            go_down(bs, "cannot queue the batch", NULL, true);
            return KITO_E_UNAVAILABLE;
        }
        if (fits(bs, commands, bytes))
            return KITO_OK;
    }
    bs->st.capacity_refusals++;
    return KITO_E_CAPACITY;
}

kito_err kito_bookstore_append_command(kito_bookstore *bs, const struct kito_command *cmd)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    uint8_t rec[KITO_COMMAND_ENCODED_MAX];
    size_t rec_len;
    kito_err e = kito_command_encode(cmd, rec, sizeof(rec), &rec_len);
    if (e != KITO_OK)
        return e;
    /* pair assertion (CONVENTIONS.md 16): what goes to Redis decodes to what was meant */
    assert(cmd->seq > 0);
    struct w w;
    struct mark m;
    if (!cmd_begin(bs, &w, &m, 5)) {
        bs->st.capacity_refusals++;
        return KITO_E_CAPACITY;
    }
    char id[32];
    size_t n = dec_u64(id, cmd->seq);
    id[n++] = '-';
    id[n++] = '0';
    w_bulk(&w, "XADD", 4);
    w_lot_key(&w, cmd->lot_id, "journal");
    w_bulk(&w, id, n);
    w_bulk(&w, "c", 1);
    w_bulk(&w, rec, rec_len);
    return cmd_end(bs, &w, &m);
}

static void w_ladder(struct w *w, const struct kito_ladder *l)
{
    char tmp[KITO_LADDER_MAX_RUNGS * 42 + 1];
    size_t n = 0;
    for (uint32_t i = 0; i < l->n_rungs && i < KITO_LADDER_MAX_RUNGS; i++) {
        if (i > 0)
            tmp[n++] = ',';
        n += dec_i64(tmp + n, l->rungs[i].from_minor);
        tmp[n++] = ':';
        n += dec_i64(tmp + n, l->rungs[i].step_minor);
    }
    w_bulk(w, tmp, n);
}

/* A record that did not fit: the batch goes back to how it was before it (first). */
static kito_err refuse(kito_bookstore *bs, const struct mark *first)
{
    rollback(bs, first);
    bs->st.capacity_refusals++;
    return KITO_E_CAPACITY;
}

/* The last command of a lot's load (SADD) or result (SREM): lot_id joins or leaves the set of
 * open lots, or the whole record goes back (refuse). */
static kito_err open_set_last(kito_bookstore *bs, const char verb[4], uint64_t lot_id,
                              const struct mark *first)
{
    struct w w;
    struct mark m;
    if (!cmd_begin(bs, &w, &m, 3))
        return refuse(bs, first);
    w_bulk(&w, verb, 4);
    w_str(&w, KITO_BOOKSTORE_OPEN_KEY);
    w_u64(&w, lot_id);
    if (cmd_end(bs, &w, &m) != KITO_OK)
        return refuse(bs, first);
    return KITO_OK;
}

kito_err kito_bookstore_append_lot(kito_bookstore *bs, const struct kito_lot_config *cfg,
                                   const uint8_t *snap, size_t snap_len)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    struct w w;
    struct mark m;
    struct mark first = {bs->len, bs->n_parts};
    if (!cmd_begin(bs, &w, &m, 2 + 13 * 2))
        goto full;
    w_bulk(&w, "HSET", 4);
    w_lot_key(&w, cfg->lot_id, "config");
    w_str(&w, "sale_id");
    w_u64(&w, cfg->sale_id);
    w_str(&w, "seller_id");
    w_u64(&w, cfg->seller_id);
    w_str(&w, "currency");
    w_bulk(&w, cfg->currency, strnlen(cfg->currency, 3));
    w_str(&w, "format");
    w_u64(&w, cfg->format);
    w_str(&w, "tender_price");
    w_u64(&w, cfg->tender_price);
    w_str(&w, "opening_minor");
    w_i64(&w, cfg->opening_minor);
    w_str(&w, "reserve_minor");
    w_i64(&w, cfg->reserve_minor);
    w_str(&w, "starts_at_ms");
    w_i64(&w, cfg->starts_at_ms);
    w_str(&w, "sale_ends_at_ms");
    w_i64(&w, cfg->sale_ends_at_ms);
    w_str(&w, "index_in_sale");
    w_u64(&w, cfg->index_in_sale);
    w_str(&w, "stagger_s");
    w_u64(&w, cfg->stagger_s);
    w_str(&w, "soft_close_s");
    w_u64(&w, cfg->soft_close_s);
    w_str(&w, "ladder");
    w_ladder(&w, &cfg->ladder);
    if (cmd_end(bs, &w, &m) != KITO_OK)
        goto full;
    if (!cmd_begin(bs, &w, &m, 6))
        goto full;
    w_bulk(&w, "HSET", 4);
    w_lot_key(&w, cfg->lot_id, "snap");
    w_str(&w, "seq");
    w_u64(&w, 0);
    w_str(&w, "data");
    w_bulk(&w, snap, snap_len);
    if (cmd_end(bs, &w, &m) != KITO_OK)
        goto full;
    return open_set_last(bs, "SADD", cfg->lot_id, &first);
full:
    return refuse(bs, &first);
}

kito_err kito_bookstore_append_snapshot(kito_bookstore *bs, uint64_t lot_id, uint32_t seq,
                                        const uint8_t *snap, size_t snap_len)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    struct w w;
    struct mark m;
    if (!cmd_begin(bs, &w, &m, 6)) {
        bs->st.capacity_refusals++;
        return KITO_E_CAPACITY;
    }
    w_bulk(&w, "HSET", 4);
    w_lot_key(&w, lot_id, "snap");
    w_str(&w, "seq");
    w_u64(&w, seq);
    w_str(&w, "data");
    w_bulk(&w, snap, snap_len);
    kito_err e = cmd_end(bs, &w, &m);
    if (e != KITO_OK)
        bs->st.capacity_refusals++;
    return e;
}

static const char *result_name(uint8_t state)
{
    switch (state) {
    case KITO_LOT_SOLD:
        return "sold";
    case KITO_LOT_UNSOLD:
        return "unsold";
    case KITO_LOT_WITHDRAWN:
        return "withdrawn";
    default:
        return "unknown";
    }
}

kito_err kito_bookstore_append_result(kito_bookstore *bs, const struct kito_lot_result *r)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    assert(r->state == KITO_LOT_SOLD || r->state == KITO_LOT_UNSOLD ||
           r->state == KITO_LOT_WITHDRAWN);
    struct w w;
    struct mark m;
    struct mark first = {bs->len, bs->n_parts};
    if (!cmd_begin(bs, &w, &m, 3 + 12 * 2))
        goto full;
    w_bulk(&w, "XADD", 4);
    w_str(&w, KITO_BOOKSTORE_OUTBOX_KEY);
    w_bulk(&w, "*", 1);
    w_str(&w, "lot_id");
    w_u64(&w, r->lot_id);
    w_str(&w, "sale_id");
    w_u64(&w, r->sale_id);
    w_str(&w, "seller_id");
    w_u64(&w, r->seller_id);
    w_str(&w, "winner");
    w_u64(&w, r->winner);
    w_str(&w, "hammer_minor");
    w_i64(&w, r->hammer_minor);
    w_str(&w, "currency");
    w_bulk(&w, r->currency, strnlen(r->currency, 3));
    w_str(&w, "result");
    w_str(&w, result_name(r->state));
    w_str(&w, "reason");
    w_u64(&w, r->unsold_reason);
    w_str(&w, "seq");
    w_u64(&w, r->seq);
    w_str(&w, "ends_at_ms");
    w_i64(&w, r->ends_at_ms);
    w_str(&w, "closed_at_ms");
    w_i64(&w, r->closed_at_ms);
    w_str(&w, "format");
    w_u64(&w, r->format);
    if (cmd_end(bs, &w, &m) != KITO_OK)
        goto full;
    return open_set_last(bs, "SREM", r->lot_id, &first);
full:
    return refuse(bs, &first);
}

/* ---- connection ----------------------------------------------------------------------------- */

static void start_connect(kito_bookstore *bs);
static void finish_read(struct bs_read *rd, kito_err status);

static void on_reconnect(uv_timer_t *t)
{
    start_connect(t->data);
}

static void discard_batch(kito_bookstore *bs)
{
    if (bs->n_parts > 0)
        bs->batch_id++; /* a discarded batch's id is never reused */
    bs->len = 0;
    bs->n_parts = 0;
}

/* The connection is gone (lost, or dropped by us). free_ctx: we drop it (not inside hiredis's
 * own teardown, where freeing again would be a double free). Fails the batch in flight, discards
 * the collecting batch, fails every read, schedules a reconnect, then tells the owner. */
static void go_down(kito_bookstore *bs, const char *why, const char *detail, bool free_ctx)
{
    redisAsyncContext *ac = bs->ac;
    bool was_up = bs->up;
    bs->ac = NULL;
    bs->connected = false;
    bs->up = false;
    set_error(bs, why, detail);
    if (was_up)
        bs->st.drops++;
    if (bs->in_flight) {
        bs->in_flight = false;
        bs->st.batches_failed++;
    }
    discard_batch(bs);
    if (!bs->closing) {
        uv_timer_start(&bs->reconnect, on_reconnect, kito_backoff_next(&bs->backoff), 0);
    }
    if (free_ctx && ac != NULL)
        redisAsyncFree(ac); /* pending callbacks now see a stale context and do nothing */
    if (bs->closing)
        return;
    for (uint32_t i = 0; i < KITO_BOOKSTORE_READS_MAX; i++)
        if (bs->reads[i].in_use)
            finish_read(&bs->reads[i], KITO_E_UNAVAILABLE);
    if (was_up && bs->ops.on_down != NULL)
        bs->ops.on_down(bs->ud);
}

static void on_select(redisAsyncContext *ac, void *reply_, void *privdata)
{
    kito_bookstore *bs = privdata;
    redisReply *reply = reply_;
    if (bs->ac != ac)
        return;
    if (reply == NULL) {
        go_down(bs, "connection lost", NULL, false);
        return;
    }
    if (reply->type != REDIS_REPLY_STATUS) {
        go_down(bs, "SELECT", reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply", true);
        return;
    }
    bs->up = true;
    bs->auth_logged = false;
    kito_backoff_reset(&bs->backoff);
    bs->st.connects++;
    bs->last_activity_ms = uv_now(bs->loop);
    bs->st.last_error[0] = '\0';
    if (bs->ops.on_up != NULL)
        bs->ops.on_up(bs->ud);
}

/* AUTH's answer (queued before SELECT): a refusal drops the connection, logged once until a
 * connection works again (a wrong password is the operator's to fix, not a fault to shout about
 * every backoff). */
static void on_auth(redisAsyncContext *ac, void *reply_, void *privdata)
{
    kito_bookstore *bs = privdata;
    redisReply *reply = reply_;
    if (bs->ac != ac || reply == NULL || reply->type != REDIS_REPLY_ERROR)
        return; /* success, or a loss that SELECT's callback reports */
    if (!bs->auth_logged)
        kito_log("bookstore", "Redis refused AUTH as user %s: %s",
                 bs->user[0] != '\0' ? bs->user : "default", reply->str);
    bs->auth_logged = true;
    go_down(bs, "AUTH", reply->str, true);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    kito_bookstore *bs = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    if (bs == NULL || bs->ac != ac)
        return;
    if (status != REDIS_OK) {
        go_down(bs, "connect", ac->errstr, false); /* hiredis frees ac after this */
        return;
    }
    bs->connected = true;
    if (kito_redis_auth(ac, bs->user, bs->password, on_auth, bs) != REDIS_OK) {
        go_down(bs, "AUTH", "cannot queue", true);
        return;
    }
    if (redisAsyncCommand(ac, on_select, bs, "SELECT %d", bs->p.db) != REDIS_OK)
        go_down(bs, "SELECT", "cannot queue", true);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    kito_bookstore *bs = ac->data;
    if (bs == NULL || bs->ac != ac)
        return;
    go_down(bs, "disconnected", status != REDIS_OK ? ac->errstr : NULL, false);
}

static void start_connect(kito_bookstore *bs)
{
    if (bs->closing || bs->ac != NULL)
        return;
    redisAsyncContext *ac = redisAsyncConnect(bs->host, bs->p.port);
    bs->connect_started_ms = uv_now(bs->loop);
    if (ac == NULL || ac->err) {
        set_error(bs, "connect", ac ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        go_down(bs, "connect", bs->st.last_error, false);
        return;
    }
    ac->data = bs;
    bs->ac = ac;
    if (kito_redis_attach(ac, bs->loop) != REDIS_OK) {
        go_down(bs, "connect", "cannot attach to the loop", true);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void on_timer(uv_timer_t *t)
{
    kito_bookstore *bs = t->data;
    uint64_t now = uv_now(bs->loop);
    if (bs->ac == NULL)
        return;
    if (!bs->up) {
        if (now - bs->connect_started_ms > bs->p.timeout_ms)
            go_down(bs, "connect timed out", NULL, true);
        return;
    }
    if ((bs->in_flight || bs->reads_in_use > 0) && now - bs->last_activity_ms > bs->p.timeout_ms)
        go_down(bs, "Redis did not answer in time", NULL, true);
}

/* ---- sending a batch ------------------------------------------------------------------------ */

static bool seal_and_send(kito_bookstore *bs);

static void on_exec(redisAsyncContext *ac, void *reply_, void *privdata)
{
    kito_bookstore *bs = privdata;
    redisReply *reply = reply_;
    if (bs->ac != ac)
        return;
    if (reply == NULL) {
        go_down(bs, "connection lost with a batch in flight", NULL, false);
        return;
    }
    bs->last_activity_ms = uv_now(bs->loop);
    if (reply->type == REDIS_REPLY_ERROR) {
        go_down(bs, "EXEC", reply->str, true);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != bs->in_flight_commands) {
        go_down(bs, "EXEC", "unexpected reply", true);
        return;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        /* MULTI/EXEC does not roll back: a refused command inside means Redis and memory
         * disagree, so the connection goes and the owner re-reads (bookstore.h) */
        if (reply->element[i]->type == REDIS_REPLY_ERROR) {
            go_down(bs, "a command in the batch failed", reply->element[i]->str, true);
            return;
        }
    }
    uint64_t id = bs->in_flight_id;
    bs->in_flight = false;
    bs->st.batches_ok++;
    bs->st.commands_ok += bs->in_flight_commands;
    /* The next batch goes out before this one's callbacks run, so Redis works on it while the
     * owner answers (group commit keeps Redis busy instead of waiting for the answers). */
    bool sent = bs->n_parts == 0 || seal_and_send(bs);
    if (bs->ops.on_batch != NULL)
        bs->ops.on_batch(bs->ud, id);
    if (!sent && bs->ac == ac)
        go_down(bs, "cannot queue the batch", NULL, true);
}

/* Seals the collecting batch, hands it to hiredis and writes what the socket takes at once
 * (rather than in the loop's next poll phase, which may come only after a whole loop turn of
 * new commands). false if hiredis refused it: the caller must drop the connection. */
static bool seal_and_send(kito_bookstore *bs)
{
    assert(bs->up && !bs->in_flight && bs->n_parts > 0);
    bs->sealing = true;
    if (bs->ops.on_seal != NULL)
        bs->ops.on_seal(bs->ud, bs->batch_id);
    bs->sealing = false;
    if (!bs->up)
        return true; /* the owner's hook cannot drop us, but stay safe: the batch is gone */
    assert(bs->len + sizeof(EXEC) <= bs->cap);
    bs->parts[bs->n_parts++] = (uint32_t)bs->len;
    memcpy(bs->buf + bs->len, EXEC, sizeof(EXEC) - 1);
    bs->len += sizeof(EXEC) - 1;

    uint32_t commands = bs->n_parts - 2;
    bs->in_flight = true;
    bs->in_flight_id = bs->batch_id;
    bs->in_flight_commands = commands;
    bs->last_activity_ms = uv_now(bs->loop);
    bs->st.batches_sent++;
    bs->st.commands_sent += commands;
    bs->st.bytes_sent += bs->len;
    if (commands > bs->st.batch_max_seen)
        bs->st.batch_max_seen = commands;
    redisAsyncContext *ac = bs->ac;
    uint32_t n_parts = bs->n_parts;
    bs->len = 0;
    bs->n_parts = 0;
    bs->batch_id++;
    for (uint32_t i = 0; i < n_parts; i++) {
        size_t off = bs->parts[i];
        size_t end = i + 1 < n_parts ? bs->parts[i + 1] : off + sizeof(EXEC) - 1;
        bool last = i + 1 == n_parts;
        /* hiredis copies the bytes into its output buffer, so ours is free at once */
        if (redisAsyncFormattedCommand(ac, last ? on_exec : NULL, last ? bs : NULL, bs->buf + off,
                                       end - off) != REDIS_OK)
            return false;
    }
    /* Only the socket write: no callback runs and nothing is freed here, so this is safe inside
     * hiredis callbacks and inside kito_bookstore_room. A write error stays in the context and
     * hiredis reports the loss at its next event (on_disconnect). */
    int done = 0;
    (void)redisBufferWrite(&ac->c, &done);
    return true;
}

void kito_bookstore_flush(kito_bookstore *bs)
{
    if (bs->up && !bs->in_flight && bs->n_parts > 0 && !bs->sealing && !seal_and_send(bs))
        go_down(bs, "cannot queue the batch", NULL, true);
}

static void on_prepare(uv_prepare_t *h)
{
    kito_bookstore_flush(h->data);
}

/* ---- reads ---------------------------------------------------------------------------------- */

static struct bs_read *read_alloc(kito_bookstore *bs)
{
    for (uint32_t i = 0; i < KITO_BOOKSTORE_READS_MAX; i++) {
        struct bs_read *rd = &bs->reads[i];
        if (!rd->in_use) {
            memset(rd, 0, sizeof(*rd));
            rd->bs = bs;
            rd->in_use = true;
            bs->reads_in_use++;
            if (bs->reads_in_use == 1)
                bs->last_activity_ms = uv_now(bs->loop);
            return rd;
        }
    }
    return NULL;
}

static void read_release(struct bs_read *rd)
{
    assert(rd->in_use);
    rd->in_use = false;
    rd->bs->reads_in_use--;
}

/* Ends a read and calls its owner (the read slot is free again before the call). */
static void finish_read(struct bs_read *rd, kito_err status)
{
    uint8_t kind = rd->kind;
    void *ud = rd->ud;
    kito_bookstore_ids_cb ids_cb = rd->ids_cb;
    kito_bookstore_exists_cb exists_cb = rd->exists_cb;
    const struct kito_bookstore_reader *r = rd->rd;
    read_release(rd);
    switch (kind) {
    case READ_IDS:
        ids_cb(ud, status, NULL, 0);
        break;
    case READ_EXISTS:
        exists_cb(ud, status, false);
        break;
    case READ_LOT:
        r->on_done(ud, status);
        break;
    }
}

/* A Redis that is still loading its append-only file (or running a script too long) accepts
 * connections and SELECT but refuses the rest for a while: that is a connection that is not
 * ready yet, not damage, so it is dropped and tried again with backoff. */
static bool transient(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR &&
           (strncmp(reply->str, "LOADING", 7) == 0 || strncmp(reply->str, "BUSY", 4) == 0 ||
            strncmp(reply->str, "MASTERDOWN", 10) == 0);
}

/* The common start of a read callback: false if the reply is stale or the connection is lost
 * (then everything was already failed). */
static bool read_reply_ok(redisAsyncContext *ac, struct bs_read *rd, redisReply *reply)
{
    kito_bookstore *bs = rd->bs;
    if (bs->ac != ac || !rd->in_use)
        return false;
    if (reply == NULL) {
        go_down(bs, "connection lost during a read", NULL, false);
        return false;
    }
    if (transient(reply)) {
        go_down(bs, "Redis is not ready", reply->str, true);
        return false;
    }
    bs->last_activity_ms = uv_now(bs->loop);
    return true;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void on_ids(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct bs_read *rd = privdata;
    redisReply *reply = reply_;
    if (!read_reply_ok(ac, rd, reply))
        return;
    if (reply->type != REDIS_REPLY_ARRAY) {
        finish_read(rd, KITO_E_IO);
        return;
    }
    uint64_t *ids = malloc((reply->elements + 1) * sizeof(*ids));
    if (ids == NULL) {
        finish_read(rd, KITO_E_NOMEM);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *e = reply->element[i];
        uint64_t id;
        if (e->type != REDIS_REPLY_STRING || !parse_u64(e->str, e->len, &id) || id == 0) {
            free(ids);
            finish_read(rd, KITO_E_IO);
            return;
        }
        ids[n++] = id;
    }
    kito_bookstore_ids_cb cb = rd->ids_cb;
    void *ud = rd->ud;
    read_release(rd);
    cb(ud, KITO_OK, ids, n);
    free(ids);
}

kito_err kito_bookstore_open_lots(kito_bookstore *bs, kito_bookstore_ids_cb cb, void *ud)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    struct bs_read *rd = read_alloc(bs);
    if (rd == NULL)
        return KITO_E_CAPACITY;
    rd->kind = READ_IDS;
    rd->ids_cb = cb;
    rd->ud = ud;
    if (redisAsyncCommand(bs->ac, on_ids, rd, "SMEMBERS %s", KITO_BOOKSTORE_OPEN_KEY) != REDIS_OK) {
        read_release(rd);
        return KITO_E_UNAVAILABLE;
    }
    return KITO_OK;
}

static void on_exists(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct bs_read *rd = privdata;
    redisReply *reply = reply_;
    if (!read_reply_ok(ac, rd, reply))
        return;
    if (reply->type != REDIS_REPLY_INTEGER) {
        finish_read(rd, KITO_E_IO);
        return;
    }
    kito_bookstore_exists_cb cb = rd->exists_cb;
    void *ud = rd->ud;
    read_release(rd);
    cb(ud, KITO_OK, reply->integer > 0);
}

kito_err kito_bookstore_lot_exists(kito_bookstore *bs, uint64_t lot_id, kito_bookstore_exists_cb cb,
                                   void *ud)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    struct bs_read *rd = read_alloc(bs);
    if (rd == NULL)
        return KITO_E_CAPACITY;
    rd->kind = READ_EXISTS;
    rd->exists_cb = cb;
    rd->ud = ud;
    rd->lot_id = lot_id;
    char key[64];
    size_t kl = lot_key(key, lot_id, "config");
    if (redisAsyncCommand(bs->ac, on_exists, rd, "EXISTS %b", key, kl) != REDIS_OK) {
        read_release(rd);
        return KITO_E_UNAVAILABLE;
    }
    return KITO_OK;
}

static void on_lot_config(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct bs_read *rd = privdata;
    redisReply *reply = reply_;
    if (!read_reply_ok(ac, rd, reply))
        return;
    /* HMGET sale_id seller_id currency; the snapshot reply follows and ends this step */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        rd->config_status = KITO_E_IO;
        return;
    }
    redisReply **e = reply->element;
    if (e[0]->type == REDIS_REPLY_NIL) {
        rd->config_found = false;
        return;
    }
    if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING ||
        e[2]->type != REDIS_REPLY_STRING || e[2]->len != 3 ||
        !parse_u64(e[0]->str, e[0]->len, &rd->sale_id) ||
        !parse_u64(e[1]->str, e[1]->len, &rd->seller_id)) {
        rd->config_status = KITO_E_BAD_SNAPSHOT;
        return;
    }
    memcpy(rd->currency, e[2]->str, 3);
    rd->currency[3] = '\0';
    rd->config_found = true;
}

static kito_err send_range(struct bs_read *rd);

static void on_lot_snap(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct bs_read *rd = privdata;
    redisReply *reply = reply_;
    if (!read_reply_ok(ac, rd, reply))
        return;
    if (rd->config_status != KITO_OK) {
        finish_read(rd, rd->config_status);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        finish_read(rd, KITO_E_IO);
        return;
    }
    redisReply **e = reply->element;
    struct kito_bookstore_lot_head head = {.lot_id = rd->lot_id};
    bool snap_found = e[0]->type == REDIS_REPLY_STRING && e[1]->type == REDIS_REPLY_STRING;
    if (rd->config_found != snap_found) {
        /* written in one MULTI/EXEC: one without the other is damage */
        finish_read(rd, KITO_E_BAD_SNAPSHOT);
        return;
    }
    if (snap_found) {
        uint64_t seq;
        if (!parse_u64(e[0]->str, e[0]->len, &seq) || seq > UINT32_MAX) {
            finish_read(rd, KITO_E_BAD_SNAPSHOT);
            return;
        }
        head.found = true;
        head.sale_id = rd->sale_id;
        head.seller_id = rd->seller_id;
        memcpy(head.currency, rd->currency, 4);
        head.snap_seq = (uint32_t)seq;
        head.snap = (const uint8_t *)e[1]->str;
        head.snap_len = e[1]->len;
        rd->snap_seq = (uint32_t)seq;
        rd->next_seq = (uint32_t)seq + 1;
    }
    kito_err st = rd->rd->on_head(rd->ud, &head);
    if (!rd->in_use)
        return; /* the owner's callback took the connection down */
    if (st != KITO_OK || !head.found) {
        finish_read(rd, st);
        return;
    }
    if ((st = send_range(rd)) != KITO_OK)
        finish_read(rd, st);
}

/* Parses "<seq>-0". */
static bool parse_entry_id(const char *s, size_t n, uint64_t *seq)
{
    if (n < 3 || s[n - 1] != '0' || s[n - 2] != '-')
        return false;
    return parse_u64(s, n - 2, seq);
}

/* Decodes a page of XRANGE / XREVRANGE entries into bs->page: every entry's id must be
 * "<*expect>-0", its record must decode to that seq and to the lot, and *expect moves by step
 * (+1 forwards, -1 backwards) per entry. KITO_E_BAD_COMMAND for anything else (damage). */
static kito_err decode_page(struct bs_read *rd, const redisReply *reply, size_t max,
                            uint32_t *expect, int step, size_t *n_out)
{
    kito_bookstore *bs = rd->bs;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements > max)
        return KITO_E_IO;
    assert(max <= KITO_BOOKSTORE_PAGE);
    size_t n = reply->elements;
    for (size_t i = 0; i < n; i++) {
        redisReply *ent = reply->element[i];
        uint64_t seq;
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING ||
            ent->element[1]->type != REDIS_REPLY_ARRAY || ent->element[1]->elements != 2 ||
            ent->element[1]->element[0]->type != REDIS_REPLY_STRING ||
            ent->element[1]->element[1]->type != REDIS_REPLY_STRING ||
            !parse_entry_id(ent->element[0]->str, ent->element[0]->len, &seq))
            return KITO_E_BAD_COMMAND;
        redisReply *val = ent->element[1]->element[1];
        struct kito_command *c = &bs->page[i];
        /* pair assertion, read side: the record decodes and sits where it was written */
        if (kito_command_decode((const uint8_t *)val->str, val->len, c) != KITO_OK ||
            c->seq != seq || seq != *expect || seq == 0 || c->lot_id != rd->lot_id)
            return KITO_E_BAD_COMMAND;
        *expect = (uint32_t)((int64_t)*expect + step);
    }
    *n_out = n;
    return KITO_OK;
}

static kito_err send_history(struct bs_read *rd);

/* The tail is read: then the entries before the snapshot, if the owner wants them, else done. */
static void history_or_done(struct bs_read *rd)
{
    const struct kito_bookstore_reader *r = rd->rd;
    if (r->on_history == NULL || r->history_max == 0 || rd->snap_seq == 0) {
        finish_read(rd, KITO_OK);
        return;
    }
    rd->hist_next = rd->snap_seq;
    rd->hist_left = rd->snap_seq < r->history_max ? rd->snap_seq : r->history_max;
    kito_err st = send_history(rd);
    if (st != KITO_OK)
        finish_read(rd, st);
}

static void on_lot_range(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct bs_read *rd = privdata;
    redisReply *reply = reply_;
    if (!read_reply_ok(ac, rd, reply))
        return;
    kito_bookstore *bs = rd->bs;
    size_t n;
    kito_err st = decode_page(rd, reply, KITO_BOOKSTORE_PAGE, &rd->next_seq, +1, &n);
    if (st != KITO_OK) {
        finish_read(rd, st);
        return;
    }
    if (n > 0) {
        st = rd->rd->on_commands(rd->ud, bs->page, n);
        if (!rd->in_use)
            return;
        if (st != KITO_OK) {
            finish_read(rd, st);
            return;
        }
    }
    if (n < KITO_BOOKSTORE_PAGE) {
        history_or_done(rd);
        return;
    }
    st = send_range(rd);
    if (st != KITO_OK)
        finish_read(rd, st);
}

static kito_err send_range(struct bs_read *rd)
{
    kito_bookstore *bs = rd->bs;
    if (bs->ac == NULL)
        return KITO_E_UNAVAILABLE;
    char key[64];
    size_t kl = lot_key(key, rd->lot_id, "journal");
    char start[24];
    size_t sl = dec_u64(start, rd->next_seq);
    start[sl++] = '-';
    start[sl++] = '0';
    if (redisAsyncCommand(bs->ac, on_lot_range, rd, "XRANGE %b %b + COUNT %d", key, kl, start, sl,
                          KITO_BOOKSTORE_PAGE) != REDIS_OK)
        return KITO_E_UNAVAILABLE;
    return KITO_OK;
}

static void on_lot_history(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct bs_read *rd = privdata;
    redisReply *reply = reply_;
    if (!read_reply_ok(ac, rd, reply))
        return;
    kito_bookstore *bs = rd->bs;
    size_t n;
    kito_err st = decode_page(rd, reply, rd->hist_asked, &rd->hist_next, -1, &n);
    if (st != KITO_OK) {
        finish_read(rd, st);
        return;
    }
    assert(n <= rd->hist_left);
    rd->hist_left -= (uint32_t)n;
    bool more = true;
    if (n > 0) {
        st = rd->rd->on_history(rd->ud, bs->page, n, &more);
        if (!rd->in_use)
            return;
        if (st != KITO_OK) {
            finish_read(rd, st);
            return;
        }
    }
    /* A short page is the journal's first entry (or, were a journal ever trimmed, the oldest
     * one left): nothing older to read. */
    if (!more || n < rd->hist_asked || rd->hist_left == 0 || rd->hist_next == 0) {
        finish_read(rd, KITO_OK);
        return;
    }
    st = send_history(rd);
    if (st != KITO_OK)
        finish_read(rd, st);
}

static kito_err send_history(struct bs_read *rd)
{
    kito_bookstore *bs = rd->bs;
    if (bs->ac == NULL)
        return KITO_E_UNAVAILABLE;
    assert(rd->hist_next > 0 && rd->hist_left > 0);
    char key[64];
    size_t kl = lot_key(key, rd->lot_id, "journal");
    char end[24];
    size_t el = dec_u64(end, rd->hist_next);
    end[el++] = '-';
    end[el++] = '0';
    rd->hist_asked = rd->hist_left < KITO_BOOKSTORE_PAGE ? rd->hist_left : KITO_BOOKSTORE_PAGE;
    if (redisAsyncCommand(bs->ac, on_lot_history, rd, "XREVRANGE %b %b - COUNT %d", key, kl, end,
                          el, (int)rd->hist_asked) != REDIS_OK)
        return KITO_E_UNAVAILABLE;
    return KITO_OK;
}

kito_err kito_bookstore_lot_read(kito_bookstore *bs, uint64_t lot_id,
                                 const struct kito_bookstore_reader *r, void *ud)
{
    if (!bs->up)
        return KITO_E_UNAVAILABLE;
    struct bs_read *rd = read_alloc(bs);
    if (rd == NULL)
        return KITO_E_CAPACITY;
    rd->kind = READ_LOT;
    rd->rd = r;
    rd->ud = ud;
    rd->lot_id = lot_id;
    rd->config_status = KITO_OK;
    char ckey[64], skey[64];
    size_t cl = lot_key(ckey, lot_id, "config");
    size_t sl = lot_key(skey, lot_id, "snap");
    if (redisAsyncCommand(bs->ac, on_lot_config, rd, "HMGET %b sale_id seller_id currency", ckey,
                          cl) != REDIS_OK ||
        redisAsyncCommand(bs->ac, on_lot_snap, rd, "HMGET %b seq data", skey, sl) != REDIS_OK) {
        /* only when hiredis is tearing the connection down: the loss is reported anyway */
        read_release(rd);
        return KITO_E_UNAVAILABLE;
    }
    return KITO_OK;
}

uint32_t kito_bookstore_reads(const kito_bookstore *bs)
{
    return bs->reads_in_use;
}

/* ---- life ----------------------------------------------------------------------------------- */

kito_err kito_bookstore_create(uv_loop_t *loop, const struct kito_bookstore_params *p,
                               const struct kito_bookstore_ops *ops, void *ud, kito_bookstore **out)
{
    if (p->host == NULL || strlen(p->host) >= sizeof(((kito_bookstore *)0)->host) || p->port <= 0 ||
        p->port > 65535 || p->db < 0 || p->db > 15 || p->batch_max_commands < 8 ||
        p->batch_max_commands > (1u << 22) || p->batch_max_bytes < 4096 ||
        p->batch_max_bytes > (1u << 30) || p->timeout_ms < 10 ||
        (p->user != NULL && strlen(p->user) >= sizeof(((kito_bookstore *)0)->user)) ||
        (p->password != NULL && strlen(p->password) >= sizeof(((kito_bookstore *)0)->password)))
        return KITO_E_CONFIG;
    kito_bookstore *bs = calloc(1, sizeof(*bs));
    if (bs == NULL)
        return KITO_E_NOMEM;
    bs->loop = loop;
    bs->p = *p;
    snprintf(bs->host, sizeof(bs->host), "%s", p->host);
    bs->p.host = bs->host;
    snprintf(bs->user, sizeof(bs->user), "%s", p->user != NULL ? p->user : "");
    snprintf(bs->password, sizeof(bs->password), "%s", p->password != NULL ? p->password : "");
    bs->p.user = bs->user;
    bs->p.password = bs->password;
    if (ops != NULL)
        bs->ops = *ops;
    bs->ud = ud;
    bs->cap = (size_t)p->batch_max_bytes + FRAME_BYTES;
    bs->buf = malloc(bs->cap);
    bs->parts = malloc(((size_t)p->batch_max_commands + 2) * sizeof(*bs->parts));
    if (bs->buf == NULL || bs->parts == NULL) {
        free(bs->buf);
        free(bs->parts);
        free(bs);
        return KITO_E_NOMEM;
    }
    bs->batch_id = 1;
    kito_backoff_init(&bs->backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    set_error(bs, "not connected yet", NULL);
    uv_timer_init(loop, &bs->timer);
    uv_timer_init(loop, &bs->reconnect);
    uv_prepare_init(loop, &bs->prepare);
    bs->timer.data = bs->reconnect.data = bs->prepare.data = bs;
    bs->handles_open = 3;
    uv_timer_start(&bs->timer, on_timer, TIMER_MS, TIMER_MS);
    uv_prepare_start(&bs->prepare, on_prepare);
    start_connect(bs);
    *out = bs;
    return KITO_OK;
}

static void on_handle_closed(uv_handle_t *h)
{
    kito_bookstore *bs = h->data;
    if (--bs->handles_open == 0) {
        explicit_bzero(bs->password, sizeof(bs->password));
        free(bs->buf);
        free(bs->parts);
        free(bs);
    }
}

void kito_bookstore_close(kito_bookstore *bs)
{
    if (bs == NULL || bs->closing)
        return;
    bs->closing = true;
    redisAsyncContext *ac = bs->ac;
    bs->ac = NULL;
    bs->up = false;
    bs->connected = false;
    for (uint32_t i = 0; i < KITO_BOOKSTORE_READS_MAX; i++)
        if (bs->reads[i].in_use)
            read_release(&bs->reads[i]);
    if (ac != NULL)
        redisAsyncFree(ac);
    uv_close((uv_handle_t *)&bs->timer, on_handle_closed);
    uv_close((uv_handle_t *)&bs->reconnect, on_handle_closed);
    uv_close((uv_handle_t *)&bs->prepare, on_handle_closed);
}

bool kito_bookstore_is_up(const kito_bookstore *bs)
{
    return bs->up;
}

uint64_t kito_bookstore_batch_id(const kito_bookstore *bs)
{
    return bs->batch_id;
}

bool kito_bookstore_in_flight(const kito_bookstore *bs)
{
    return bs->in_flight;
}

void kito_bookstore_stats(const kito_bookstore *bs, struct kito_bookstore_stats *out)
{
    *out = bs->st;
}
