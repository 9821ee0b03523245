#include "api/http/req_db.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "api/http/server.h"

typedef struct call {
    kito_req *r;
    kito_req_db_run_fn run;
    kito_req_db_done_fn done;
    void (*job_free)(void *job);
    void *job;
    uint64_t deadline_ns; /* uv_hrtime() past which the request's time limit has answered it */
    bool skipped;         /* run found the deadline passed and did nothing */
} call;

static void call_run(void *worker, void *arg)
{
    call *c = arg;
    /* a job that waited in the queue past its request's time limit (the request is answered
     * 504, or is about to be) does nothing: no work for an answer nobody gets, and no change
     * made after the client was told the outcome is unknown and may have retried */
    if (c->deadline_ns != 0 && uv_hrtime() > c->deadline_ns) {
        c->skipped = true;
        return;
    }
    c->run(worker, c->job);
}

static void call_done(void *arg, kito_err status)
{
    call *c = arg;
    if (kito_req_alive(c->r)) {
        if (c->skipped)
            kito_respond_error(c->r, KITO_E_TIMEOUT, NULL);
        else if (status == KITO_OK)
            c->done(c->r, c->job);
        else
            kito_respond_error(c->r, KITO_E_UNAVAILABLE, "the server is shutting down");
    }
    kito_req_release(c->r);
    c->job_free(c->job);
    free(c);
}

/* Submits the job to pool; the submit's error (the job freed) when it is refused. */
static kito_err submit(kito_pool *pool, kito_req *r, kito_req_db_run_fn run,
                       kito_req_db_done_fn done, void (*job_free)(void *job), void *job)
{
    call *c = malloc(sizeof(*c));
    if (c == NULL) {
        job_free(job);
        return KITO_E_NOMEM;
    }
    *c = (call){r, run, done, job_free, job, 0, false};
    if (r->deadline_ms != 0) {
        uint64_t now_ms = uv_now(r->server->loop);
        uint64_t left_ms = r->deadline_ms > now_ms ? r->deadline_ms - now_ms : 0;
        c->deadline_ns = uv_hrtime() + left_ms * 1000000u;
    }
    kito_req_retain(r);
    kito_err e = kito_pool_submit(pool, call_run, call_done, c);
    if (e != KITO_OK) {
        kito_req_release(r);
        job_free(job);
        free(c);
    }
    return e;
}

kito_err kito_req_db_owned(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done,
                           void (*job_free)(void *job), void *job)
{
    kito_err e = submit(r->server->pool, r, run, done, job_free, job);
    return e == KITO_OK || e == KITO_E_NOMEM ? e : KITO_E_UNAVAILABLE;
}

kito_err kito_req_db_hash_owned(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done,
                                void (*job_free)(void *job), void *job)
{
    kito_err e = submit(r->server->hash_pool, r, run, done, job_free, job);
    if (e == KITO_E_CAPACITY)
        return KITO_E_BUSY; /* the queue is full: 503 and Retry-After (api/http/request.c) */
    return e == KITO_OK || e == KITO_E_NOMEM ? e : KITO_E_UNAVAILABLE;
}

kito_err kito_req_db_hash(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done, void *job)
{
    return kito_req_db_hash_owned(r, run, done, free, job);
}

kito_err kito_req_db(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done, void *job)
{
    return kito_req_db_owned(r, run, done, free, job);
}
