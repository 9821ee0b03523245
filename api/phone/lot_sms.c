/*
 * The lot-opened SMS (api/phone/lot_sms.h).
 */
#include "api/phone/lot_sms.h"

#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"
#include "api/store/repo_sms.h"
#include "api/store/sql.h"

struct kito_lot_sms {
    kito_pool *pool;
    uint64_t *pending; /* lots told of and not yet in a job */
    size_t n, cap;
    bool in_flight;
    bool stopped; /* the pool refused: no more jobs */
};

typedef struct job {
    kito_lot_sms *t;
    uint64_t *ids;
    size_t n;
    kito_err result;
} job;

static void job_run(void *worker, void *arg)
{
    job *j = arg;
    j->result = kito_sms_lots_opened(worker, j->ids, j->n);
}

static void submit(kito_lot_sms *t);

static void job_done(void *arg, kito_err status)
{
    job *j = arg;
    kito_lot_sms *t = j->t;
    t->in_flight = false;
    if (status != KITO_OK) {
        t->stopped = true;
    }
    bool failed = status == KITO_OK && j->result != KITO_OK;
    if (failed) {
        kito_sql_log_failure("lot opened sms", j->result);
        /* put them back for the next lot's job (not at once: MySQL may be down); the outbox's
         * key makes a second try harmless */
        for (size_t i = 0; i < j->n && t->n < t->cap; i++)
            t->pending[t->n++] = j->ids[i];
    }
    free(j->ids);
    free(j);
    if (!t->stopped && !failed)
        submit(t);
}

static void submit(kito_lot_sms *t)
{
    if (t->in_flight || t->n == 0 || t->stopped)
        return;
    job *j = calloc(1, sizeof(*j));
    uint64_t *ids = malloc(t->n * sizeof(*ids));
    if (j == NULL || ids == NULL) {
        free(j);
        free(ids);
        return; /* tried again with the next lot */
    }
    memcpy(ids, t->pending, t->n * sizeof(*ids));
    *j = (job){.t = t, .ids = ids, .n = t->n};
    if (kito_pool_submit(t->pool, job_run, job_done, j) != KITO_OK) {
        free(ids);
        free(j);
        return; /* the queue is full: tried again with the next lot */
    }
    t->n = 0;
    t->in_flight = true;
}

kito_err kito_lot_sms_create(kito_pool *pool, kito_lot_sms **out)
{
    *out = NULL;
    kito_lot_sms *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return KITO_E_NOMEM;
    t->pool = pool;
    *out = t;
    return KITO_OK;
}

void kito_lot_sms_opened(kito_lot_sms *t, uint64_t lot_id)
{
    if (t == NULL || t->stopped)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap == 0 ? 64 : t->cap * 2;
        if (cap > KITO_LOT_SMS_PENDING_MAX)
            cap = KITO_LOT_SMS_PENDING_MAX;
        uint64_t *p = cap > t->cap ? realloc(t->pending, cap * sizeof(*p)) : NULL;
        if (p == NULL) {
            kito_log("sms", "lot %llu opened but %zu lots wait already: no SMS until a restart",
                     (unsigned long long)lot_id, t->n);
            return;
        }
        t->pending = p;
        t->cap = cap;
    }
    t->pending[t->n++] = lot_id;
    submit(t);
}

void kito_lot_sms_free(kito_lot_sms *t)
{
    if (t == NULL)
        return;
    free(t->pending);
    free(t);
}
