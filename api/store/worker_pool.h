/*
 * A small pool of worker threads fed by a bounded queue, for blocking work (MySQL) that must never
 * run on the event loop (DESIGN.md, Threading). A job has a run function, called on a worker
 * thread with that worker's own state (say, its MySQL connection), and a done function, called
 * back on the loop thread once run returned, where the result may touch loop objects.
 *
 * Bounds: `threads` workers and at most `queue_max` jobs submitted and not yet done; a submit
 * beyond that is refused at once (KITO_E_CAPACITY), so a stalled database shows up as errors,
 * not as memory growth. Job slots are allocated when the pool is created; none on submit.
 *
 * Threads: kito_pool_create, kito_pool_submit and kito_pool_stop are for the loop thread only.
 */
#ifndef KITO_WORKER_POOL_H
#define KITO_WORKER_POOL_H

#include <stdint.h>
#include <uv.h>

#include "engine/err.h"

typedef struct kito_pool kito_pool;

/* Per-worker hooks, both called on the worker thread. start returns the worker's state (may be
 * NULL); stop releases it when the pool stops. ud is the pointer given to kito_pool_create. */
typedef struct kito_pool_worker_ops {
    void *(*start)(void *ud);
    void (*stop)(void *state, void *ud);
} kito_pool_worker_ops;

/* Runs on a worker thread: do the blocking work, store the result in arg. Must not touch loop
 * objects (h2o requests, uv handles, hiredis); worker_state is this worker's. */
typedef void (*kito_job_run_fn)(void *worker_state, void *arg);

/* Runs on the loop thread after run returned (status KITO_OK), or without run having been called
 * when the pool stopped first (status KITO_E_UNAVAILABLE). Owns arg again: free it here. */
typedef void (*kito_job_done_fn)(void *arg, kito_err status);

/* Starts `threads` (1..64) workers on loop. queue_max (>= 1) bounds jobs in flight. ops may be
 * NULL. KITO_E_NOMEM or KITO_E_INTERNAL (thread or uv_async creation failed) on failure, with
 * nothing left running. */
kito_err kito_pool_create(uv_loop_t *loop, uint32_t threads, uint32_t queue_max,
                          const kito_pool_worker_ops *ops, void *ud, kito_pool **out);

/* Queues a job. KITO_E_CAPACITY when queue_max jobs are in flight; KITO_E_UNAVAILABLE once the
 * pool is stopping. On failure neither run nor done will be called: arg stays the caller's. */
kito_err kito_pool_submit(kito_pool *p, kito_job_run_fn run, kito_job_done_fn done, void *arg);

/* Jobs submitted and not yet done (queued, running, or waiting for their done call). */
uint32_t kito_pool_in_flight(const kito_pool *p);

/* Stops the pool: workers finish the job they are running (a blocked MySQL call runs into its
 * timeout), then exit; jobs still queued get done(KITO_E_UNAVAILABLE); every done function has
 * been called when this returns. The memory is released once the loop has closed the pool's
 * uv_async handle (run the loop). p may be NULL. Blocks the loop until the workers have exited. */
void kito_pool_stop(kito_pool *p);

#endif
