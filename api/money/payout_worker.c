#include "api/money/payout_worker.h"

#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/adapters/rail.h"
#include "api/common/backoff.h"
#include "api/common/log.h"
#include "api/money/payouts.h"
#include "api/store/audit.h"
#include "api/store/repo_payouts.h"
#include "api/store/sql.h"

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kito_logv("payouts", fmt, ap);
    va_end(ap);
}

enum {
    RAILS_MAX = 4,
    LANE_CAP = 64, /* jobs one rail holds waiting for a sender */
    WORK_SELECT = 2 * LANE_CAP + 2 * KITO_PAYOUT_SENDERS_MAX, /* rows one pass reads per rail:
                                 more than the lane can hold plus what its senders have in hand,
                                 so rows already dispatched never hide new ones */
};

typedef enum job_kind { JOB_SEND, JOB_CHECK } job_kind;

typedef struct job {
    job_kind kind;
    kito_payout_work row;
} job;

typedef struct lane lane;

/* One sender thread of a rail: its own MySQL connection and its own client (the token is
 * shared through the lane). */
typedef struct sender {
    lane *lane;
    pthread_t thread;
    bool started;
    kito_rail_client client;
    uint64_t token_gen; /* the lane's token generation client.token holds */
} sender;

/* A configured rail: its jobs, at most LANE_CAP waiting, and its senders (bounded: at most
 * KITO_PAYOUT_SENDERS requests in flight to one provider). busy holds the attempt ids waiting
 * or in a sender's hands, so a pass never hands the same attempt out twice; the claim
 * (queued -> sending, committed before the request leaves) is what makes a send happen at most
 * once even across processes. */
struct lane {
    kito_payouts *w;
    const kito_rail_driver *driver;
    kito_rail_conf conf;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job ring[LANE_CAP];
    size_t head, count;
    uint64_t busy[LANE_CAP + KITO_PAYOUT_SENDERS_MAX];
    size_t nbusy;
    char token[KITO_RAIL_TOKEN_SIZE]; /* the freshest token a sender fetched */
    int64_t token_refresh_at_ms;
    uint64_t token_gen;
    sender senders[KITO_PAYOUT_SENDERS_MAX];
    size_t nsenders;
};

struct kito_payouts {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stop;
    kito_db_params db;
    kito_mpesa_conf mpesa; /* the Daraja driver's own settings (kito_rail_conf.mpesa) */
    char momo_callback[1280]; /* MoMo's X-Callback-Url without its &ref=; "" for none */
    lane lanes[RAILS_MAX]; /* one per configured rail */
    size_t rails;
    char rail_names[64]; /* "mpesa,mtn_momo": FIND_IN_SET over the configured rails */
    uint32_t interval_ms;
    uint32_t check_after_ms;
    uint32_t senders;          /* per rail */
    kito_payout_policy policy; /* limits and the rate\'s age, from the configuration */
    kito_payout_limit limits[KITO_PAYOUT_LIMITS_MAX];
    uint64_t quiet_until_ms;            /* throttles the "MySQL unavailable" line */
    kito_payout_work rows[WORK_SELECT]; /* the pass thread's */
};

static bool should_abort(void *ud)
{
    kito_payouts *w = ud;
    return atomic_load(&w->stop);
}

/* The masked copy of a request that is stored: credentials are secrets. */
static char *masked_request(const json_t *req)
{
    json_t *copy = req != NULL ? json_deep_copy(req) : json_object();
    if (copy == NULL)
        return NULL;
    static const char *const secrets[] = {"SecurityCredential", "pin", "client_secret"};
    for (size_t i = 0; i < KITO_N(secrets); i++)
        if (json_object_get(copy, secrets[i]) != NULL)
            json_object_set_new(copy, secrets[i], json_string("***"));
    char *text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return text;
}

static void transfer_of(const kito_payout_work *q, const char *pid, kito_rail_transfer *t)
{
    *t = (kito_rail_transfer){.reference = q->ocid,
                              .amount_units = q->units,
                              .currency = q->currency,
                              .country = q->country,
                              .msisdn = q->msisdn,
                              .remarks = "Kito gemstone sale payout",
                              .payout_id = pid};
}

/* Applies a final result the provider gave (acceptance, status enquiry) for attempt q. */
static kito_err apply_final(kito_db_conn *db, const kito_payout_work *q, const char *pid,
                            kito_rail_result *res, const char *how)
{
    /* we asked about this attempt: the answer is about it, whatever id the provider uses */
    kito_rail_copy(res->reference, sizeof(res->reference), q->ocid);
    kito_payout_outcome o;
    kito_err e = kito_payout_apply_rail_result(db, res, &o);
    if (e == KITO_OK && o != KITO_PAYOUT_ANOMALY)
        logf_("%s: attempt %s resolved by %s: %s", pid, q->ocid, how,
              res->success ? "paid" : "not paid");
    return e;
}

/* Sends one queued attempt: claim, send, record. */
static kito_err send_one(sender *s, kito_db_conn *db, const kito_payout_work *q)
{
    char pid[KITO_ID_SIZE];
    kito_payout_format_id(q->payout_id, pid);
    kito_payouts *w = s->lane->w;
    kito_rail_client *c = &s->client;
    kito_rail_transfer t;
    transfer_of(q, pid, &t);
    kito_rail_request req;
    kito_err e = c->driver->build_transfer(&c->conf, &t, &req);
    if (e == KITO_E_VALIDATION) {
        kito_rail_request_clear(&req);
        logf_("%s: cannot request %" PRId64 " units to %s over %s: failed", pid, q->units,
              q->msisdn, q->rail);
        return kito_payout_fail_attempt(
            db, q->ocid, "kito.invalid_request",
            "the amount is below one unit or the wallet number is not valid", false);
    }
    if (e != KITO_OK) {
        kito_rail_request_clear(&req);
        return e;
    }
    char *stored = masked_request(req.body);
    if (stored == NULL) {
        kito_rail_request_clear(&req);
        return KITO_E_NOMEM;
    }
    /* The claim is committed before the request leaves: from here on, a crash leaves the
     * attempt "sending", which is only ever asked about, never sent again. */
    bool claimed = false;
    e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_repo_attempt_claim(db, q->id, stored, w->check_after_ms, &claimed);
    free(stored);
    /* the money leaves with this request: its audit row commits with the claim (issue 15) */
    if (e == KITO_OK && claimed) {
        json_t *d = json_pack("{s:s, s:s, s:I, s:s}", "rail", q->rail, "originator_conversation_id",
                              q->ocid, "amount_units", (json_int_t)q->units, "msisdn", q->msisdn);
        e = d != NULL ? kito_audit(db, 0, "payout.send", "payout", q->payout_id, d, NULL)
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK || !claimed) {
        kito_rail_request_clear(&req);
        return e; /* another worker claimed it */
    }
    kito_rail_http h;
    kito_err ce = kito_rail_client_send(c, &req, should_abort, w, &h);
    kito_rail_request_clear(&req);
    kito_rail_answer r;
    c->driver->parse_acceptance(ce == KITO_OK ? h.status : 0, h.body, h.len, q->ocid, &r);
    switch (r.ack) {
    case KITO_RAIL_ACK_ACCEPTED: {
        e = kito_repo_attempt_accepted(db, q->id, r.provider_id);
        if (e == KITO_OK && r.final)
            e = apply_final(db, q, pid, &r.result, "the provider's answer");
        break;
    }
    case KITO_RAIL_ACK_REFUSED: {
        char code[64];
        snprintf(code, sizeof(code), "refused:%s", r.code[0] != '\0' ? r.code : "http");
        logf_("%s: attempt %s refused by %s (HTTP %ld %s %s)", pid, q->ocid, q->rail, h.status,
              r.code, r.desc);
        e = kito_payout_fail_attempt(db, q->ocid, code, r.desc, false);
        break;
    }
    case KITO_RAIL_ACK_UNKNOWN:
        logf_("%s: attempt %s over %s: no usable answer (%s%s%ld); its status will be asked for, "
              "it will not be sent again",
              pid, q->ocid, q->rail, ce != KITO_OK ? h.error : "",
              ce != KITO_OK ? ", HTTP " : "HTTP ", h.status);
        break;
    }
    kito_rail_http_free(&h);
    return e;
}

/* Asks again later: check_after x 2^checks, at most KITO_PAYOUT_CHECK_MAX_MS. */
static kito_err check_later(kito_payouts *w, kito_db_conn *db, const kito_payout_work *c,
                            bool provider_has_it)
{
    uint64_t wait = kito_backoff_after(w->check_after_ms, KITO_PAYOUT_CHECK_MAX_MS, c->checks);
    return kito_repo_attempt_check_later(db, c->id, wait, provider_has_it);
}

static kito_err check_one(sender *s, kito_db_conn *db, const kito_payout_work *q)
{
    char pid[KITO_ID_SIZE];
    kito_payout_format_id(q->payout_id, pid);
    kito_payouts *w = s->lane->w;
    kito_rail_client *c = &s->client;
    kito_rail_transfer t;
    transfer_of(q, pid, &t);
    kito_rail_request req;
    kito_err e = c->driver->build_status(&c->conf, &t, q->provider_id, &req);
    if (e != KITO_OK) {
        kito_rail_request_clear(&req);
        return e == KITO_E_VALIDATION ? check_later(w, db, q, false) : e;
    }
    kito_rail_http h;
    kito_err ce = kito_rail_client_send(c, &req, should_abort, w, &h);
    kito_rail_request_clear(&req);
    kito_rail_result res;
    kito_rail_status st =
        c->driver->parse_status(ce == KITO_OK ? h.status : 0, h.body, h.len, q->ocid, &res);
    kito_rail_http_free(&h);
    switch (st) {
    case KITO_RAIL_STATUS_FINAL:
        return apply_final(db, q, pid, &res, "a status enquiry");
    case KITO_RAIL_STATUS_NOT_FOUND:
        if (strcmp(q->state, "sending") == 0) {
            /* The provider says it never received the request, and the request timed out long
             * ago (KITO_PAYOUT_CHECK_AFTER_MS > the call timeout): it cannot arrive any more,
             * so a new attempt with a new reference is safe. */
            logf_("%s: attempt %s never reached %s: a new attempt follows", pid, q->ocid, q->rail);
            return kito_payout_fail_attempt(db, q->ocid, "kito.not_received",
                                            "the provider has no record of this request", true);
        }
        logf_("ANOMALY %s: %s accepted attempt %s and now does not know it", pid, q->rail, q->ocid);
        return check_later(w, db, q, false);
    case KITO_RAIL_STATUS_PENDING:
        return check_later(w, db, q, true);
    case KITO_RAIL_STATUS_UNKNOWN:
        break;
    }
    return check_later(w, db, q, false);
}

/* ---- the senders ----------------------------------------------------------------------------- */

/* Takes the lane's token when it is newer than the sender's. */
static void token_in(sender *s)
{
    lane *l = s->lane;
    pthread_mutex_lock(&l->mu);
    if (l->token_gen != s->token_gen) {
        memcpy(s->client.token, l->token, sizeof(l->token));
        s->client.token_refresh_at_ms = l->token_refresh_at_ms;
        s->token_gen = l->token_gen;
    }
    pthread_mutex_unlock(&l->mu);
}

/* Gives the lane the token the sender fetched (fetched: tokens_fetched before the call). */
static void token_out(sender *s, uint32_t fetched)
{
    if (s->client.tokens_fetched == fetched)
        return;
    lane *l = s->lane;
    pthread_mutex_lock(&l->mu);
    memcpy(l->token, s->client.token, sizeof(l->token));
    l->token_refresh_at_ms = s->client.token_refresh_at_ms;
    s->token_gen = ++l->token_gen;
    pthread_mutex_unlock(&l->mu);
}

static bool busy_has(const lane *l, uint64_t id)
{
    for (size_t i = 0; i < l->nbusy; i++)
        if (l->busy[i] == id)
            return true;
    return false;
}

static void busy_drop(lane *l, uint64_t id)
{
    for (size_t i = 0; i < l->nbusy; i++)
        if (l->busy[i] == id) {
            l->busy[i] = l->busy[--l->nbusy];
            return;
        }
}

static void log_failure(kito_payouts *w, kito_err e)
{
    uint64_t now = kito_db_now_ms();
    pthread_mutex_lock(&w->mu);
    bool say = now >= w->quiet_until_ms;
    if (say)
        w->quiet_until_ms = now + 10000;
    pthread_mutex_unlock(&w->mu);
    if (say)
        logf_("a pass stopped: %s (%s); retrying", kito_err_code(e), kito_sql_last_error());
}

static void *sender_main(void *arg)
{
    sender *s = arg;
    lane *l = s->lane;
    kito_payouts *w = l->w;
    kito_db_conn *db = kito_db_worker_ops()->start(&w->db);
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!atomic_load(&w->stop) && l->count == 0)
            pthread_cond_wait(&l->cv, &l->mu);
        if (atomic_load(&w->stop)) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        job j = l->ring[l->head];
        l->head = (l->head + 1) % LANE_CAP;
        l->count--;
        pthread_mutex_unlock(&l->mu);
        if (db == NULL)
            db = kito_db_worker_ops()->start(&w->db);
        if (db != NULL) {
            token_in(s);
            uint32_t fetched = s->client.tokens_fetched;
            kito_err e = j.kind == JOB_SEND ? send_one(s, db, &j.row) : check_one(s, db, &j.row);
            token_out(s, fetched);
            if (e != KITO_OK)
                log_failure(w, e);
        }
        /* a job that failed here is still queued (or due) in MySQL: a later pass hands it out
         * again */
        pthread_mutex_lock(&l->mu);
        busy_drop(l, j.row.id);
        pthread_mutex_unlock(&l->mu);
    }
    kito_db_worker_ops()->stop(db, &w->db);
    return NULL;
}

/* Hands rows to their lane, skipping those it has already and stopping when it is full. */
static size_t dispatch(lane *l, job_kind kind, const kito_payout_work *rows, size_t n)
{
    size_t given = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n && l->count < LANE_CAP; i++) {
        if (busy_has(l, rows[i].id))
            continue;
        assert(l->nbusy < KITO_N(l->busy));
        l->busy[l->nbusy++] = rows[i].id;
        l->ring[(l->head + l->count) % LANE_CAP] = (job){kind, rows[i]};
        l->count++;
        given++;
    }
    if (given > 0)
        pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return given;
}

/* ---- the pass ------------------------------------------------------------------------------- */

/* One pass: create, queue, hand out sends and status enquiries. *more says that there was
 * work, so the next pass should come soon. */
static void tick(kito_payouts *w, kito_db_conn *db, bool *more)
{
    size_t created = 0, queued = 0, given = 0;
    bool sending = w->rails > 0;
    *more = false;
    kito_err e = kito_payouts_create_due(db, &w->policy, KITO_PAYOUT_BATCH, &created);
    if (e == KITO_OK && sending)
        e = kito_payouts_queue_pending(db, w->rail_names, KITO_PAYOUT_BATCH, &queued);
    kito_payout_work *rows = w->rows;
    for (size_t r = 0; e == KITO_OK && r < w->rails; r++) {
        lane *l = &w->lanes[r];
        size_t n = 0;
        e = kito_repo_work_queued(db, l->driver->name, rows, WORK_SELECT, &n);
        if (e == KITO_OK)
            given += dispatch(l, JOB_SEND, rows, n);
        if (e == KITO_OK)
            e = kito_repo_work_due_checks(db, l->driver->name, rows, WORK_SELECT, &n);
        if (e == KITO_OK)
            given += dispatch(l, JOB_CHECK, rows, n);
    }
    *more = created > 0 || queued > 0 || given > 0;
    if (e != KITO_OK)
        log_failure(w, e);
}

static void *worker_main(void *arg)
{
    kito_payouts *w = arg;
    kito_db_conn *db = kito_db_worker_ops()->start(&w->db);
    while (!atomic_load(&w->stop)) {
        bool more = false;
        if (db == NULL)
            db = kito_db_worker_ops()->start(&w->db);
        if (db != NULL)
            tick(w, db, &more);
        /* with work about, the next pass comes soon: the senders free room in their lanes */
        uint32_t wait_ms = more && w->interval_ms > KITO_PAYOUT_BUSY_PASS_MS
                               ? KITO_PAYOUT_BUSY_PASS_MS
                               : w->interval_ms;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)wait_ms * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_mutex_lock(&w->mu);
        while (!atomic_load(&w->stop) && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
        }
        pthread_mutex_unlock(&w->mu);
    }
    kito_db_worker_ops()->stop(db, &w->db);
    return NULL;
}

/* Adds a configured rail's lane. */
static void add_rail(kito_payouts *w, const kito_rail_driver *d, kito_rail_conf conf)
{
    assert(w->rails < RAILS_MAX);
    lane *l = &w->lanes[w->rails++];
    l->w = w;
    l->driver = d;
    l->conf = conf;
    size_t used = strlen(w->rail_names);
    snprintf(w->rail_names + used, sizeof(w->rail_names) - used, "%s%s", used > 0 ? "," : "",
             d->name);
}

/* Stops and joins every thread started so far (the pass thread when pass_started). */
static void stop_threads(kito_payouts *w, bool pass_started)
{
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, true);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (pass_started)
        pthread_join(w->thread, NULL);
    for (size_t r = 0; r < w->rails; r++) {
        lane *l = &w->lanes[r];
        pthread_mutex_lock(&l->mu);
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        for (size_t i = 0; i < l->nsenders; i++)
            if (l->senders[i].started)
                pthread_join(l->senders[i].thread, NULL);
    }
}

static void free_payouts(kito_payouts *w)
{
    for (size_t r = 0; r < w->rails; r++) {
        pthread_mutex_destroy(&w->lanes[r].mu);
        pthread_cond_destroy(&w->lanes[r].cv);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

kito_err kito_payouts_start(const kito_config *cfg, const kito_db_params *db, kito_payouts **out)
{
    *out = NULL;
    kito_payouts *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        return KITO_E_INTERNAL;
    }
    w->db = *db;
    w->mpesa = (kito_mpesa_conf){
        .base_url = cfg->mpesa_base_url,
        .initiator = cfg->mpesa_initiator,
        .security_credential = cfg->mpesa_security_credential,
        .shortcode = cfg->mpesa_shortcode,
        .callback_base = cfg->mpesa_callback_base,
        .callback_token = cfg->mpesa_callback_token,
        .timeout_ms = cfg->mpesa_timeout_ms,
    };
    /* every rail whose provider is configured (common/config.c checks each is complete) */
    if (cfg->mpesa_base_url[0] != '\0')
        add_rail(w, &kito_rail_mpesa,
                 (kito_rail_conf){.base_url = cfg->mpesa_base_url,
                                  .mpesa = &w->mpesa,
                                  .timeout_ms = cfg->mpesa_timeout_ms});
    if (cfg->momo_callback_base[0] != '\0')
        snprintf(w->momo_callback, sizeof(w->momo_callback),
                 "%s/v1/payouts/callbacks/momo?token=%s", cfg->momo_callback_base,
                 cfg->momo_callback_token);
    if (cfg->momo_base_url[0] != '\0')
        add_rail(w, &kito_rail_momo,
                 (kito_rail_conf){.base_url = cfg->momo_base_url,
                                  .client_id = cfg->momo_api_user,
                                  .client_secret = cfg->momo_api_key,
                                  .subscription_key = cfg->momo_subscription_key,
                                  .environment = cfg->momo_target_environment,
                                  .callback_url = w->momo_callback,
                                  .timeout_ms = cfg->mpesa_timeout_ms});
    if (cfg->airtel_base_url[0] != '\0')
        add_rail(w, &kito_rail_airtel,
                 (kito_rail_conf){.base_url = cfg->airtel_base_url,
                                  .client_id = cfg->airtel_client_id,
                                  .client_secret = cfg->airtel_client_secret,
                                  .pin = cfg->airtel_pin,
                                  .timeout_ms = cfg->mpesa_timeout_ms});
    w->interval_ms = cfg->payout_interval_ms;
    w->check_after_ms = cfg->payout_check_after_ms;
    w->senders = cfg->payout_senders;
    memcpy(w->limits, cfg->payout_limits, sizeof(w->limits));
    w->policy = (kito_payout_policy){.limits = w->limits,
                                     .limit_count = cfg->payout_limit_count,
                                     .fx_max_age_s = cfg->fx_max_age_s,
                                     .send_rails = w->rail_names};
    if (w->senders < 1 || w->senders > KITO_PAYOUT_SENDERS_MAX)
        w->senders = 1;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    bool ok = true;
    for (size_t r = 0; r < w->rails; r++) {
        lane *l = &w->lanes[r];
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->cv, NULL);
        for (size_t i = 0; ok && i < w->senders; i++) {
            sender *s = &l->senders[l->nsenders++];
            s->lane = l;
            s->client.driver = l->driver;
            s->client.conf = l->conf;
            s->started = ok = pthread_create(&s->thread, NULL, sender_main, s) == 0;
        }
    }
    if (!ok || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        stop_threads(w, false);
        free_payouts(w);
        return KITO_E_INTERNAL;
    }
    kito_log("payouts", "worker started (rails: %s; %u senders per rail)",
             w->rails > 0 ? w->rail_names : "none configured: creating payouts only", w->senders);
    *out = w;
    return KITO_OK;
}

void kito_payouts_stop(kito_payouts *w)
{
    if (w == NULL)
        return;
    stop_threads(w, true);
    free_payouts(w);
}
