/*
 * The one way a handler talks to MySQL: run a job on a MySQL worker thread
 * (api/store/worker_pool.h, api/store/db.h), then finish on the loop thread where it may respond.
 * It wraps the retain / submit / alive / release dance of api/http/request.h so handlers stay thin:
 *
 *     static void run(kito_db_conn *db, void *arg) { struct job *j = arg; j->err = repo_x(db, ...);
 * } static void done(kito_req *r, void *arg) { struct job *j = arg; ... kito_respond_json(...); }
 *     ...
 *     return kito_req_db(r, run, done, job);   // from the handler
 */
#ifndef KITO_REQ_DB_H
#define KITO_REQ_DB_H

#include "api/store/db.h"
#include "api/http/request.h"

typedef void (*kito_req_db_run_fn)(kito_db_conn *db, void *job);
typedef void (*kito_req_db_done_fn)(kito_req *r, void *job);

/* Runs run(db, job) on a worker, then done(r, job) on the loop if r can still be answered (the
 * client may have gone). job must come from malloc/calloc: it is freed with free() after done,
 * or after run when done is skipped. If the pool stopped before run, r gets 503 and done is not
 * called. Returns KITO_OK when the job was queued (the handler then returns KITO_OK too), or
 * KITO_E_UNAVAILABLE when the queue is full (job already freed; return the error). */
kito_err kito_req_db(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done, void *job);
/* (Both pools: a job still queued when r's time limit passes is never run; r gets 504 "timeout"
 * and done is not called. api/http/server.c, "time limits".) */

/* As kito_req_db, for a job that owns more than its own block (a JSON document, a buffer): it is
 * released with job_free(job) instead of free(job), whether or not done ran. */
kito_err kito_req_db_owned(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done,
                           void (*job_free)(void *job), void *job);

/* As kito_req_db and kito_req_db_owned, on the hashing pool (KITO_HASH_WORKERS, each with its
 * own MySQL connection): for a job that hashes or verifies a PIN or password with scrypt (about
 * 0.2 s of CPU), so that a flood of sign-ins never holds up the MySQL workers every other request
 * needs (issue 15). When its queue (KITO_HASH_QUEUE_MAX) is full: KITO_E_BUSY at once (the job
 * freed), which the handler returns: kito_respond_error answers it 503 "busy" with Retry-After. */
kito_err kito_req_db_hash(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done, void *job);
kito_err kito_req_db_hash_owned(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done,
                                void (*job_free)(void *job), void *job);

#endif
