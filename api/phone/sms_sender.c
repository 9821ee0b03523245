/*
 * The SMS sender (api/phone/sms_sender.h).
 */
#include "api/phone/sms_sender.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "api/adapters/africastalking.h"
#include "api/common/backoff.h"
#include "api/common/log.h"
#include "api/store/repo_sms.h"
#include "api/store/sql.h"

struct kito_sms_sender {
    kito_db_params db;
    kito_at_conf at;
    uint32_t interval_ms;
    atomic_bool stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void send_one(kito_sms_sender *w, kito_db_conn *db, const kito_sms_due *m)
{
    kito_at_result r;
    kito_at_sms_send(&w->at, m->phone, m->message, &r);
    kito_sms_outcome o = KITO_SMS_UNKNOWN;
    int64_t retry_at = 0;
    switch (r.verdict) {
    case KITO_AT_TAKEN:
        o = KITO_SMS_SENT;
        break;
    case KITO_AT_REFUSED:
        o = KITO_SMS_FAILED;
        break;
    case KITO_AT_TRY_LATER:
        o = m->attempts + 1 >= KITO_SMS_ATTEMPTS_MAX ? KITO_SMS_FAILED : KITO_SMS_RETRY;
        retry_at =
            (int64_t)kito_db_now_ms() + (int64_t)kito_backoff_after(1000, 600000, m->attempts + 1);
        break;
    case KITO_AT_UNKNOWN:
        o = KITO_SMS_UNKNOWN;
        break;
    }
    kito_err e = kito_sms_record(db, m->id, o, r.message_id, r.status,
                                 o == KITO_SMS_SENT ? NULL : r.status, retry_at);
    if (e != KITO_OK)
        kito_sql_log_failure("sms record", e);
    if (o != KITO_SMS_SENT)
        kito_log("sms", "message %llu to %s: %s (%s, status %d)", (unsigned long long)m->id,
                 m->phone,
                 o == KITO_SMS_RETRY    ? "not taken, will retry"
                 : o == KITO_SMS_FAILED ? "failed"
                                        : "outcome unknown, not resent",
                 r.status, r.status_code);
}

static void tick(kito_sms_sender *w, kito_db_conn *db)
{
    kito_sms_due due[KITO_SMS_BATCH];
    size_t n = 0;
    kito_err e = kito_sms_due_list(db, due, KITO_SMS_BATCH, &n);
    if (e != KITO_OK) {
        kito_sql_log_failure("sms due", e);
        return;
    }
    for (size_t i = 0; i < n && !atomic_load(&w->stop); i++) {
        bool taken = false;
        if ((e = kito_sms_claim(db, due[i].id, &taken)) != KITO_OK) {
            kito_sql_log_failure("sms claim", e);
            return;
        }
        if (taken)
            send_one(w, db, &due[i]);
    }
}

static void *worker_main(void *arg)
{
    kito_sms_sender *w = arg;
    kito_db_conn *db = kito_db_worker_ops()->start(&w->db);
    bool recovered = false;
    while (!atomic_load(&w->stop)) {
        if (db != NULL && !recovered) {
            size_t n = 0;
            recovered = kito_sms_recover(db, &n) == KITO_OK;
            if (n > 0)
                kito_log("sms", "%zu messages were being sent when kitod stopped: marked unknown",
                         n);
        }
        if (db != NULL && recovered)
            tick(w, db);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)w->interval_ms * 1000000u;
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

kito_err kito_sms_sender_start(const kito_config *cfg, const kito_db_params *db,
                               kito_sms_sender **out)
{
    *out = NULL;
    if (cfg->at_base_url[0] == '\0') {
        kito_log("sms", "KITO_AT_BASE_URL unset: messages wait in the outbox");
        return KITO_OK;
    }
    kito_sms_sender *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    w->db = *db;
    w->at = (kito_at_conf){cfg->at_base_url, cfg->at_username, cfg->at_api_key, cfg->at_sender,
                           cfg->at_timeout_ms};
    w->interval_ms = cfg->sms_interval_ms;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return KITO_E_INTERNAL;
    }
    kito_log("sms", "sender started (%s)", cfg->at_base_url);
    *out = w;
    return KITO_OK;
}

void kito_sms_sender_stop(kito_sms_sender *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, true);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
