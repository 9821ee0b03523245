#include "api/store/db.h"

#include <errmsg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/backoff.h"

struct kito_db_conn {
    const kito_db_params *params;
    MYSQL *mysql;         /* NULL when not connected */
    uint64_t retry_at_ms; /* no attempt before this */
    kito_backoff backoff; /* reopen waits (api/common/backoff.h) */
    char last_error[200];
};

uint64_t kito_db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *worker_start(void *ud)
{
    mysql_thread_init();
    kito_db_conn *c = calloc(1, sizeof(*c));
    if (c != NULL) {
        c->params = ud;
        kito_backoff_init(&c->backoff, KITO_DB_BACKOFF_MIN_MS, KITO_DB_BACKOFF_MAX_MS);
    }
    return c;
}

static void worker_stop(void *state, void *ud)
{
    kito_db_conn *c = state;
    (void)ud;
    if (c != NULL) {
        if (c->mysql != NULL)
            mysql_close(c->mysql);
        free(c);
    }
    mysql_thread_end();
}

static const kito_pool_worker_ops WORKER_OPS = {worker_start, worker_stop};

const kito_pool_worker_ops *kito_db_worker_ops(void)
{
    return &WORKER_OPS;
}

kito_err kito_db_library_init(void)
{
    return mysql_library_init(0, NULL, NULL) == 0 ? KITO_OK : KITO_E_DB;
}

void kito_db_library_end(void)
{
    mysql_library_end();
}

static void failed(kito_db_conn *c, const char *why)
{
    if (c->mysql != NULL) {
        mysql_close(c->mysql);
        c->mysql = NULL;
    }
    snprintf(c->last_error, sizeof(c->last_error), "%s", why);
    c->retry_at_ms = kito_db_now_ms() + kito_backoff_next(&c->backoff);
}

void kito_db_broken(kito_db_conn *c, const char *why)
{
    failed(c, why);
}

kito_err kito_db_get(kito_db_conn *c, MYSQL **out, char *err, size_t err_size)
{
    *out = NULL;
    if (c == NULL) {
        snprintf(err, err_size, "the worker has no connection state (out of memory)");
        return KITO_E_UNAVAILABLE;
    }
    if (c->mysql != NULL) {
        *out = c->mysql;
        return KITO_OK;
    }
    uint64_t now = kito_db_now_ms();
    if (now < c->retry_at_ms) {
        snprintf(err, err_size, "%s (retrying in %llu ms)", c->last_error,
                 (unsigned long long)(c->retry_at_ms - now));
        return KITO_E_UNAVAILABLE;
    }
    MYSQL *m = mysql_init(NULL);
    if (m == NULL) {
        failed(c, "mysql_init failed (out of memory)");
        snprintf(err, err_size, "%s", c->last_error);
        return KITO_E_UNAVAILABLE;
    }
    unsigned int timeout = KITO_DB_TIMEOUT_S;
    my_bool no = 0;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_RECONNECT, &no); /* we reconnect ourselves, with backoff */
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const kito_db_params *p = c->params;
    if (mysql_real_connect(m, p->host, p->user, p->password, p->database, p->port, NULL,
                           CLIENT_FOUND_ROWS) == NULL) {
        char why[200];
        snprintf(why, sizeof(why), "connect to %s:%u: %s", p->host, p->port, mysql_error(m));
        mysql_close(m);
        failed(c, why);
        snprintf(err, err_size, "%s", c->last_error);
        return KITO_E_UNAVAILABLE;
    }
    c->mysql = m;
    kito_backoff_reset(&c->backoff);
    c->last_error[0] = '\0';
    *out = m;
    return KITO_OK;
}

kito_err kito_db_ping(kito_db_conn *c, char *err, size_t err_size)
{
    MYSQL *m;
    kito_err e = kito_db_get(c, &m, err, err_size);
    if (e != KITO_OK)
        return e;
    if (mysql_ping(m) != 0) {
        char why[200];
        snprintf(why, sizeof(why), "ping: %s", mysql_error(m));
        failed(c, why);
        snprintf(err, err_size, "%s", c->last_error);
        return KITO_E_UNAVAILABLE;
    }
    return KITO_OK;
}
