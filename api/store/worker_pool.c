#include "api/store/worker_pool.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct job {
    struct job *next;
    kito_job_run_fn run;
    kito_job_done_fn done;
    void *arg;
} job;

struct kito_pool {
    uv_loop_t *loop;
    uv_async_t async; /* workers wake the loop through it when jobs are done */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *slots;         /* queue_max job records, allocated once */
    job *free_list;     /* loop thread only */
    job *queue_head;    /* under mu: submitted, not yet taken */
    job *queue_tail;    /* under mu */
    job *done_head;     /* under mu: run finished, done not yet called (LIFO, reversed on use) */
    bool stopping;      /* under mu */
    uint32_t in_flight; /* loop thread only */
    uint32_t threads_started;
    pthread_t *threads;
    kito_pool_worker_ops ops;
    void *ud;
};

static void *worker_main(void *arg)
{
    kito_pool *p = arg;
    void *state = p->ops.start != NULL ? p->ops.start(p->ud) : NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->queue_head == NULL && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping)
            break;
        job *j = p->queue_head;
        p->queue_head = j->next;
        if (p->queue_head == NULL)
            p->queue_tail = NULL;
        pthread_mutex_unlock(&p->mu);

        j->run(state, j->arg);

        pthread_mutex_lock(&p->mu);
        j->next = p->done_head;
        p->done_head = j;
        uv_async_send(&p->async);
    }
    pthread_mutex_unlock(&p->mu);
    if (p->ops.stop != NULL)
        p->ops.stop(state, p->ud);
    return NULL;
}

/* Calls the done function of every finished job, in the order they finished. Loop thread. */
static void deliver_done(kito_pool *p)
{
    pthread_mutex_lock(&p->mu);
    job *list = p->done_head;
    p->done_head = NULL;
    pthread_mutex_unlock(&p->mu);
    job *rev = NULL;
    while (list != NULL) {
        job *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev != NULL) {
        job *next = rev->next;
        kito_job_done_fn done = rev->done;
        void *arg = rev->arg;
        rev->next = p->free_list;
        p->free_list = rev;
        assert(p->in_flight > 0);
        p->in_flight--;
        done(arg, KITO_OK);
        rev = next;
    }
}

static void on_async(uv_async_t *a)
{
    deliver_done(a->data);
}

static void free_pool(kito_pool *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->slots);
    free(p);
}

static void on_async_closed(uv_handle_t *h)
{
    free_pool(h->data);
}

kito_err kito_pool_create(uv_loop_t *loop, uint32_t threads, uint32_t queue_max,
                          const kito_pool_worker_ops *ops, void *ud, kito_pool **out)
{
    *out = NULL;
    if (threads == 0 || threads > 64 || queue_max == 0)
        return KITO_E_CONFIG;
    kito_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return KITO_E_NOMEM;
    p->slots = calloc(queue_max, sizeof(job));
    p->threads = calloc(threads, sizeof(pthread_t));
    if (p->slots == NULL || p->threads == NULL) {
        free(p->slots);
        free(p->threads);
        free(p);
        return KITO_E_NOMEM;
    }
    for (uint32_t i = 0; i < queue_max; i++) {
        p->slots[i].next = p->free_list;
        p->free_list = &p->slots[i];
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->loop = loop;
    if (ops != NULL)
        p->ops = *ops;
    p->ud = ud;
    if (uv_async_init(loop, &p->async, on_async) != 0) {
        free_pool(p);
        return KITO_E_INTERNAL;
    }
    p->async.data = p;
    for (uint32_t i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            kito_pool_stop(p);
            return KITO_E_INTERNAL;
        }
        p->threads_started++;
    }
    *out = p;
    return KITO_OK;
}

kito_err kito_pool_submit(kito_pool *p, kito_job_run_fn run, kito_job_done_fn done, void *arg)
{
    assert(run != NULL && done != NULL);
    if (p->free_list == NULL)
        return KITO_E_CAPACITY;
    job *j = p->free_list;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return KITO_E_UNAVAILABLE;
    }
    p->free_list = j->next;
    j->next = NULL;
    j->run = run;
    j->done = done;
    j->arg = arg;
    if (p->queue_tail != NULL)
        p->queue_tail->next = j;
    else
        p->queue_head = j;
    p->queue_tail = j;
    p->in_flight++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return KITO_OK;
}

uint32_t kito_pool_in_flight(const kito_pool *p)
{
    return p->in_flight;
}

void kito_pool_stop(kito_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    job *queued = p->queue_head;
    p->queue_head = p->queue_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->threads_started; i++)
        pthread_join(p->threads[i], NULL);
    deliver_done(p); /* jobs that ran before the workers saw `stopping` */
    while (queued != NULL) {
        job *next = queued->next;
        kito_job_done_fn done = queued->done;
        void *arg = queued->arg;
        queued->next = p->free_list;
        p->free_list = queued;
        p->in_flight--;
        done(arg, KITO_E_UNAVAILABLE);
        queued = next;
    }
    uv_close((uv_handle_t *)&p->async, on_async_closed);
}
