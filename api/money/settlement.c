#include "api/money/settlement.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "api/common/log.h"
#include "api/common/backoff.h"
#include "api/money/settlement_writer.h"
#include "api/store/lease.h"
#include "api/store/sql.h"

#define OUTBOX_KEY "outbox:settlement"

/* ---- the worker ------------------------------------------------------------------------------ */

struct kito_settlement {
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock; /* guards stats */
    struct kito_settlement_stats stats;
    /* copied parameters */
    char redis_host[256];
    int redis_port, redis_db;
    char redis_user[128], redis_password[128]; /* AUTH; the password is secret, never logged */
    char db_host[256], db_user[128], db_password[128], db_name[128];
    kito_db_params db_params;
    char consumer[64];
    uint32_t batch, commit_delay_ms;
    /* thread state */
    redisContext *redis;
    kito_db_conn *db;
    bool leased;          /* this worker's connection held the settlement lease at its last look */
    kito_backoff backoff; /* waits after a failure (api/common/backoff.h) */
    uint64_t retry_pending_at_ms;      /* next time to re-read our own pending entries */
    uint64_t claim_at_ms;              /* next XAUTOCLAIM */
    bool read_pending;                 /* re-read our pending entries before new ones */
    bool from_pending;                 /* the batch in hand came from our pending entries */
    struct kito_outbox_entry *entries; /* batch entries (KITO_SETTLEMENT_BATCH_MAX) */
    uint8_t *outcome;                  /* per entry: enum kito_settle_outcome */
    char (*why)[200];                  /* per entry: a reject's reason */
};

void kito_settlement_params_default(struct kito_settlement_params *p)
{
    memset(p, 0, sizeof(*p));
    p->redis_host = "127.0.0.1";
    p->redis_port = 6379;
    p->consumer = "kitod";
    p->batch = 256;
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Sleeps ms in slices, returning early when asked to stop. */
static void nap(kito_settlement *w, uint32_t ms)
{
    while (ms > 0 && !atomic_load(&w->stop)) {
        uint32_t slice = ms > 50 ? 50 : ms;
        sleep_ms(slice);
        ms -= slice;
    }
}

static void stat_add(kito_settlement *w, size_t offset, uint64_t n)
{
    pthread_mutex_lock(&w->lock);
    *(uint64_t *)((char *)&w->stats + offset) += n;
    pthread_mutex_unlock(&w->lock);
}
#define STAT(w, field, n) stat_add((w), offsetof(struct kito_settlement_stats, field), (n))

static void failed(kito_settlement *w, const char *what, const char *detail)
{
    uint32_t wait_ms = kito_backoff_next(&w->backoff);
    kito_log("settlement", "%s (%s); retrying in %u ms", what, detail != NULL ? detail : "",
             wait_ms);
    STAT(w, failures, 1);
    w->read_pending = true; /* whatever was delivered and not acked is ours to redo */
    nap(w, wait_ms);
}

static void redis_drop(kito_settlement *w)
{
    if (w->redis != NULL)
        redisFree(w->redis);
    w->redis = NULL;
}

/* A command with printf-free arguments; NULL (connection dropped) on a transport error. */
static redisReply *command(kito_settlement *w, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(w->redis, argc, argv, lens);
    if (r == NULL) {
        kito_log("settlement", "Redis: %s", w->redis->errstr);
        redis_drop(w);
    }
    return r;
}

/* Connects, SELECTs the database and makes the group (from 0, MKSTREAM) if missing. */
static bool redis_ready(kito_settlement *w)
{
    if (w->redis != NULL)
        return true;
    struct timeval tv = {2, 0};
    w->redis = redisConnectWithTimeout(w->redis_host, w->redis_port, tv);
    if (w->redis == NULL || w->redis->err) {
        char detail[160];
        snprintf(detail, sizeof(detail), "%s", w->redis != NULL ? w->redis->errstr : "no memory");
        redis_drop(w);
        failed(w, "cannot connect to Redis", detail);
        return false;
    }
    struct timeval rw = {(KITO_SETTLEMENT_BLOCK_MS / 1000) + 5, 0};
    redisSetTimeout(w->redis, rw);
    if (w->redis_password[0] != '\0') {
        /* "AUTH user password", or "AUTH password" for the default user */
        const bool named = w->redis_user[0] != '\0';
        const char *auth[] = {"AUTH", named ? w->redis_user : w->redis_password, w->redis_password};
        redisReply *a = command(w, named ? 3 : 2, auth, NULL);
        if (a == NULL)
            return (failed(w, "Redis dropped the connection at AUTH", NULL), false);
        char detail[160];
        bool refused = a->type == REDIS_REPLY_ERROR;
        snprintf(detail, sizeof(detail), "%s", refused ? a->str : "");
        freeReplyObject(a);
        if (refused) {
            redis_drop(w);
            failed(w, "Redis refused AUTH", detail);
            return false;
        }
    }
    char db[16];
    snprintf(db, sizeof(db), "%d", w->redis_db);
    const char *sel[] = {"SELECT", db};
    redisReply *r = command(w, 2, sel, NULL);
    bool ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (r != NULL)
        freeReplyObject(r);
    const char *grp[] = {"XGROUP", "CREATE", OUTBOX_KEY, KITO_SETTLEMENT_GROUP, "0", "MKSTREAM"};
    if (ok && (r = command(w, 6, grp, NULL)) != NULL) {
        /* BUSYGROUP: it exists already, which is the normal case */
        ok = r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0;
        if (!ok)
            kito_log("settlement", "XGROUP CREATE: %s", r->str);
        freeReplyObject(r);
    } else
        ok = false;
    if (!ok) {
        redis_drop(w);
        failed(w, "Redis refused the consumer group set-up", NULL);
        return false;
    }
    w->read_pending = true;
    return true;
}

/* Fills w->entries from an XREADGROUP or XAUTOCLAIM entry array. Entries that do not parse are
 * kept with result 0 and their reason (they are rejected, not retried). */
static size_t take_entries(kito_settlement *w, const redisReply *arr)
{
    size_t n = 0;
    for (size_t i = 0; i < arr->elements && n < w->batch; i++) {
        const redisReply *it = arr->element[i];
        if (it->type != REDIS_REPLY_ARRAY || it->elements != 2 ||
            it->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = it->element[0]->str;
        const redisReply *kv = it->element[1];
        const char *fields[64];
        size_t lens[64], nf = 0;
        /* a pending entry deleted from the stream comes back with nil fields */
        if (kv->type == REDIS_REPLY_ARRAY)
            for (size_t k = 0; k < kv->elements && nf < 64; k++) {
                if (kv->element[k]->type != REDIS_REPLY_STRING)
                    continue;
                fields[nf] = kv->element[k]->str;
                lens[nf++] = kv->element[k]->len;
            }
        struct kito_outbox_entry *e = &w->entries[n];
        w->why[n][0] = '\0';
        w->outcome[n] = 0;
        if (kito_outbox_entry_parse(id, fields, lens, nf, e, w->why[n], sizeof(w->why[n])) !=
            KITO_OK) {
            memset(e, 0, sizeof(*e));
            snprintf(e->id, sizeof(e->id), "%s", kito_outbox_entry_id_valid(id) ? id : "0-0");
            w->outcome[n] = KITO_SETTLE_REJECT;
        }
        n++;
    }
    return n;
}

/* Reads up to batch entries: our pending ones (id 0) when due, then ones idle at another
 * consumer, then new ones. *n = 0 and true when there is nothing; false on a Redis failure. */
static bool read_batch(kito_settlement *w, size_t *n)
{
    char count[16];
    snprintf(count, sizeof(count), "%u", w->batch);
    *n = 0;
    w->from_pending = false;
    uint64_t now = kito_db_now_ms();
    if (w->read_pending || now >= w->retry_pending_at_ms) {
        const char *argv[] = {"XREADGROUP", "GROUP",    KITO_SETTLEMENT_GROUP,
                              w->consumer,  "COUNT",    count,
                              "STREAMS",    OUTBOX_KEY, "0"};
        redisReply *r = command(w, 9, argv, NULL);
        if (r == NULL)
            return false;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
            *n = take_entries(w, r->element[0]->element[1]);
        freeReplyObject(r);
        w->retry_pending_at_ms = now + KITO_SETTLEMENT_RETRY_MS;
        w->from_pending = *n > 0;
        if (*n == 0)
            w->read_pending = false;
        else
            return true;
    }
    if (now >= w->claim_at_ms) {
        char idle[16];
        snprintf(idle, sizeof(idle), "%u", KITO_SETTLEMENT_CLAIM_IDLE_MS);
        const char *argv[] = {"XAUTOCLAIM", OUTBOX_KEY, KITO_SETTLEMENT_GROUP,
                              w->consumer,  idle,       "0-0",
                              "COUNT",      count};
        redisReply *r = command(w, 8, argv, NULL);
        if (r == NULL)
            return false;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
            r->element[1]->type == REDIS_REPLY_ARRAY)
            *n = take_entries(w, r->element[1]);
        freeReplyObject(r);
        w->claim_at_ms = now + KITO_SETTLEMENT_CLAIM_IDLE_MS / 4;
        if (*n > 0)
            return true;
    }
    char block[16];
    snprintf(block, sizeof(block), "%u", KITO_SETTLEMENT_BLOCK_MS);
    const char *argv[] = {"XREADGROUP", "GROUP", KITO_SETTLEMENT_GROUP,
                          w->consumer,  "COUNT", count,
                          "BLOCK",      block,   "STREAMS",
                          OUTBOX_KEY,   ">"};
    redisReply *r = command(w, 11, argv, NULL);
    if (r == NULL)
        return false;
    if (r->type == REDIS_REPLY_ERROR) {
        /* NOGROUP: the stream or group was deleted under us; make it again */
        kito_log("settlement", "XREADGROUP: %s", r->str);
        freeReplyObject(r);
        redis_drop(w);
        return false;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        *n = take_entries(w, r->element[0]->element[1]);
    freeReplyObject(r);
    return true;
}

/* XACK every entry whose outcome is final (not WAIT). false on a Redis failure (the entries stay
 * pending and are settled again: a replay, harmless). */
static bool ack(kito_settlement *w, size_t n)
{
    const char *argv[3 + KITO_SETTLEMENT_BATCH_MAX];
    size_t argc = 0;
    argv[argc++] = "XACK";
    argv[argc++] = OUTBOX_KEY;
    argv[argc++] = KITO_SETTLEMENT_GROUP;
    for (size_t i = 0; i < n; i++)
        if (w->outcome[i] != KITO_SETTLE_WAIT)
            argv[argc++] = w->entries[i].id;
    if (argc == 3)
        return true;
    redisReply *r = command(w, (int)argc, argv, NULL);
    if (r == NULL)
        return false;
    bool ok = r->type == REDIS_REPLY_INTEGER;
    if (!ok)
        kito_log("settlement", "XACK: %s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
    freeReplyObject(r);
    return ok;
}

/* Settles entries[from..to) in one transaction. KITO_OK after COMMIT; otherwise rolled back. */
static kito_err settle_range(kito_settlement *w, size_t from, size_t to)
{
    struct kito_outbox_entry batch[KITO_SETTLEMENT_BATCH_MAX];
    struct kito_settle_report reports[KITO_SETTLEMENT_BATCH_MAX];
    size_t index[KITO_SETTLEMENT_BATCH_MAX], n = 0;
    kito_err e = kito_sql_begin(w->db);
    for (size_t i = from; e == KITO_OK && i < to; i++) {
        if (w->outcome[i] == KITO_SETTLE_REJECT && w->entries[i].lot_id == 0)
            e = kito_settlement_writer_reject(w->db, &w->entries[i], w->why[i]); /* unparsable */
        else {
            index[n] = i;
            batch[n++] = w->entries[i];
        }
    }
    if (e == KITO_OK)
        e = kito_settlement_writer_apply_batch(w->db, batch, n, reports);
    uint64_t sales[KITO_SETTLEMENT_BATCH_MAX];
    size_t n_sales = 0;
    for (size_t k = 0; e == KITO_OK && k < n; k++) {
        size_t i = index[k];
        w->outcome[i] = (uint8_t)reports[k].outcome;
        snprintf(w->why[i], sizeof(w->why[i]), "%s", reports[k].reason);
        if (reports[k].outcome == KITO_SETTLE_REJECT)
            e = kito_settlement_writer_reject(w->db, &w->entries[i], reports[k].reason);
        if (reports[k].outcome == KITO_SETTLE_SETTLED || reports[k].outcome == KITO_SETTLE_FINAL) {
            size_t s = 0;
            while (s < n_sales && sales[s] != w->entries[i].sale_id)
                s++;
            if (s == n_sales)
                sales[n_sales++] = w->entries[i].sale_id;
        }
    }
    for (size_t k = 0; e == KITO_OK && k < n_sales; k++)
        e = kito_settlement_writer_sale_close(w->db, sales[k]);
    if (e == KITO_OK && w->commit_delay_ms > 0)
        sleep_ms(w->commit_delay_ms); /* tests: a window to kill -9 inside the transaction */
    if (e == KITO_OK)
        e = kito_sql_commit(w->db);
    if (e != KITO_OK)
        kito_sql_rollback(w->db);
    return e;
}

static void count_outcomes(kito_settlement *w, size_t n)
{
    struct kito_settlement_stats add = {0};
    size_t first_wait = 0;
    for (size_t i = 0; i < n; i++) {
        switch (w->outcome[i]) {
        case KITO_SETTLE_SETTLED:
            add.settled++;
            break;
        case KITO_SETTLE_REPLAY:
            add.replays++;
            break;
        case KITO_SETTLE_FINAL:
            add.finals++;
            break;
        case KITO_SETTLE_REJECT:
            add.rejected++;
            kito_log("settlement", "entry %s (lot %" PRIu64 ") rejected: %s", w->entries[i].id,
                     w->entries[i].lot_id, w->why[i]);
            break;
        case KITO_SETTLE_WAIT:
            if (add.waiting++ == 0)
                first_wait = i;
            break;
        }
        if (w->outcome[i] != KITO_SETTLE_WAIT)
            add.entries++;
    }
    pthread_mutex_lock(&w->lock);
    w->stats.entries += add.entries;
    w->stats.settled += add.settled;
    w->stats.replays += add.replays;
    w->stats.finals += add.finals;
    w->stats.rejected += add.rejected;
    /* waiting entries (for the operator, or after a lock conflict) are retried every few
     * seconds: say so when their number changes */
    bool changed = add.waiting > 0 && add.waiting != w->stats.waiting;
    w->stats.waiting = add.waiting;
    pthread_mutex_unlock(&w->lock);
    if (changed)
        kito_log("settlement", "%" PRIu64 " lots wait to be retried (lot %" PRIu64 ": %s)",
                 add.waiting, w->entries[first_wait].lot_id, w->why[first_wait]);
}

/* True if the last statement lost a lock (ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT): transient. */
static bool lock_lost(void)
{
    unsigned no = kito_sql_last_errno();
    return no == 1213 || no == 1205;
}

/* One batch: settle in one transaction; if that fails for a reason other than MySQL being
 * down, settle entry by entry so that one bad entry is rejected alone. Then ack. */
static void handle_batch(kito_settlement *w, size_t n)
{
    uint8_t parsed[KITO_SETTLEMENT_BATCH_MAX];
    memcpy(parsed, w->outcome, n);
    kito_err e = settle_range(w, 0, n);
    if (e != KITO_OK && e != KITO_E_UNAVAILABLE) {
        kito_log("settlement", "batch of %zu failed (%s: %s); one by one", n, kito_err_code(e),
                 kito_sql_last_error());
        e = KITO_OK;
        for (size_t i = 0; i < n && e != KITO_E_UNAVAILABLE; i++) {
            w->outcome[i] = parsed[i];
            e = settle_range(w, i, i + 1);
            if (e == KITO_E_CONFLICT && lock_lost()) {
                /* a deadlock or a lock wait timeout says nothing about the entry: it stays
                 * pending and is settled on a later pass, never rejected */
                w->outcome[i] = KITO_SETTLE_WAIT;
                snprintf(w->why[i], sizeof(w->why[i]), "MySQL lock conflict, retried: %s",
                         kito_sql_last_error());
                e = KITO_OK;
            } else if (e != KITO_OK && e != KITO_E_UNAVAILABLE) {
                /* this entry alone cannot be written: keep it with the reason, in a transaction
                 * of its own, and move on */
                char reason[200];
                snprintf(reason, sizeof(reason), "MySQL refused the settlement: %s",
                         kito_sql_last_error());
                w->outcome[i] = KITO_SETTLE_REJECT;
                snprintf(w->why[i], sizeof(w->why[i]), "%s", reason);
                e = kito_sql_begin(w->db);
                if (e == KITO_OK)
                    e = kito_settlement_writer_reject(w->db, &w->entries[i], reason);
                if (e == KITO_OK)
                    e = kito_sql_commit(w->db);
                if (e != KITO_OK) {
                    kito_sql_rollback(w->db);
                    if (e != KITO_E_UNAVAILABLE)
                        w->outcome[i] = KITO_SETTLE_WAIT; /* try again later */
                    e = e == KITO_E_UNAVAILABLE ? e : KITO_OK;
                }
            }
        }
    }
    if (e == KITO_E_UNAVAILABLE) {
        failed(w, "MySQL is unavailable; nothing acknowledged", kito_sql_last_error());
        return;
    }
    kito_backoff_reset(&w->backoff);
    count_outcomes(w, n);
    size_t acked = 0;
    for (size_t i = 0; i < n; i++)
        acked += w->outcome[i] != KITO_SETTLE_WAIT;
    /* our pending entries are done when a read returns less than a batch, or only entries that
     * wait for the operator (those are retried every KITO_SETTLEMENT_RETRY_MS) */
    if (w->from_pending && (n < w->batch || acked == 0))
        w->read_pending = false;
    if (!ack(w, n))
        failed(w, "XACK failed; the batch will be replayed (harmless)", NULL);
}

static void *worker_main(void *arg)
{
    kito_settlement *w = arg;
    w->db = kito_db_worker_ops()->start(&w->db_params);
    if (w->db == NULL) {
        kito_log("settlement", "out of memory; worker not running");
        return NULL;
    }
    while (!atomic_load(&w->stop)) {
        if (!redis_ready(w))
            continue;
        char why[200];
        if (kito_db_ping(w->db, why, sizeof(why)) != KITO_OK) {
            failed(w, "MySQL is unavailable", why);
            continue;
        }
        /* one settlement worker across the nodes: the one whose connection holds the lease */
        bool held;
        if (kito_store_lease_hold(w->db, KITO_LEASE_SETTLEMENT, &held) != KITO_OK) {
            failed(w, "MySQL is unavailable (the settlement lease)", kito_sql_last_error());
            continue;
        }
        if (held != w->leased)
            kito_log("settlement", held ? "holding the settlement lease: settling"
                                        : "another node holds the settlement lease: standing by");
        w->leased = held;
        if (!held) {
            nap(w, KITO_SETTLEMENT_STANDBY_MS);
            continue;
        }
        size_t n;
        if (!read_batch(w, &n)) {
            failed(w, "Redis read failed", NULL);
            continue;
        }
        if (n > 0)
            handle_batch(w, n);
    }
    redis_drop(w);
    kito_db_worker_ops()->stop(w->db, &w->db_params);
    return NULL;
}

kito_err kito_settlement_start(const struct kito_settlement_params *p, kito_settlement **out)
{
    if (p->batch == 0 || p->batch > KITO_SETTLEMENT_BATCH_MAX || p->consumer == NULL ||
        p->consumer[0] == '\0' || strlen(p->consumer) >= 64 ||
        (p->redis_user != NULL && strlen(p->redis_user) >= 128) ||
        (p->redis_password != NULL && strlen(p->redis_password) >= 128))
        return KITO_E_CONFIG;
    kito_settlement *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    w->entries = calloc(KITO_SETTLEMENT_BATCH_MAX, sizeof(*w->entries));
    w->outcome = calloc(KITO_SETTLEMENT_BATCH_MAX, 1);
    w->why = calloc(KITO_SETTLEMENT_BATCH_MAX, sizeof(*w->why));
    if (w->entries == NULL || w->outcome == NULL || w->why == NULL)
        goto nomem;
    snprintf(w->redis_host, sizeof(w->redis_host), "%s", p->redis_host);
    w->redis_port = p->redis_port;
    snprintf(w->redis_user, sizeof(w->redis_user), "%s", p->redis_user ? p->redis_user : "");
    snprintf(w->redis_password, sizeof(w->redis_password), "%s",
             p->redis_password ? p->redis_password : "");
    kito_backoff_init(&w->backoff, KITO_SETTLEMENT_BACKOFF_MIN_MS, KITO_SETTLEMENT_BACKOFF_MAX_MS);
    w->redis_db = p->redis_db;
    snprintf(w->db_host, sizeof(w->db_host), "%s", p->db.host != NULL ? p->db.host : "");
    snprintf(w->db_user, sizeof(w->db_user), "%s", p->db.user != NULL ? p->db.user : "");
    snprintf(w->db_password, sizeof(w->db_password), "%s",
             p->db.password != NULL ? p->db.password : "");
    snprintf(w->db_name, sizeof(w->db_name), "%s", p->db.database != NULL ? p->db.database : "");
    w->db_params = (kito_db_params){w->db_host, p->db.port, w->db_user, w->db_password, w->db_name};
    snprintf(w->consumer, sizeof(w->consumer), "%s", p->consumer);
    w->batch = p->batch;
    w->commit_delay_ms = p->commit_delay_ms;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->lock, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        free(w->entries);
        free(w->outcome);
        free(w->why);
        free(w);
        return KITO_E_INTERNAL;
    }
    *out = w;
    return KITO_OK;
nomem:
    free(w->entries);
    free(w->outcome);
    free(w->why);
    free(w);
    return KITO_E_NOMEM;
}

void kito_settlement_stop(kito_settlement *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    explicit_bzero(w->db_password, sizeof(w->db_password));
    explicit_bzero(w->redis_password, sizeof(w->redis_password));
    free(w->entries);
    free(w->outcome);
    free(w->why);
    free(w);
}

void kito_settlement_stats(kito_settlement *w, struct kito_settlement_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}
