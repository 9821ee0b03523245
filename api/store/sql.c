#include "api/store/sql.h"

#include <assert.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api/common/backoff.h"
#include "api/common/log.h"
#include "api/common/validate.h"

struct kito_sql_row {
    unsigned ncols;
    char *bufs[KITO_SQL_COLUMNS_MAX];
    unsigned long lengths[KITO_SQL_COLUMNS_MAX];
    my_bool nulls[KITO_SQL_COLUMNS_MAX];
};

static _Thread_local char last_error[320];
static _Thread_local unsigned last_errno;

const char *kito_sql_last_error(void)
{
    return last_error;
}

unsigned kito_sql_last_errno(void)
{
    return last_errno;
}

/* Maps a MySQL error to a kito_err, remembering the message; marks the connection broken when the
 * server is gone so the next job reconnects. */
static kito_err fail(kito_db_conn *c, unsigned no, const char *msg)
{
    last_errno = no;
    snprintf(last_error, sizeof(last_error), "%u %s", no, msg != NULL ? msg : "");
    switch (no) {
    case ER_DUP_ENTRY:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
        return KITO_E_CONFLICT;
    case ER_NO_REFERENCED_ROW_2:
    case ER_ROW_IS_REFERENCED_2:
    case ER_CONSTRAINT_FAILED:
        return KITO_E_VALIDATION;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
        kito_db_broken(c, last_error);
        return KITO_E_UNAVAILABLE;
    default:
        return KITO_E_DB;
    }
}

static kito_err stmt_fail(kito_db_conn *c, MYSQL_STMT *st)
{
    return fail(c, mysql_stmt_errno(st), mysql_stmt_error(st));
}

static kito_err bind_params(kito_db_conn *c, MYSQL_STMT *st, const kito_sql_param *params, size_t n,
                            MYSQL_BIND *binds)
{
    if (mysql_stmt_param_count(st) != n) {
        snprintf(last_error, sizeof(last_error), "statement takes %lu parameters, %zu given",
                 mysql_stmt_param_count(st), n);
        return KITO_E_INTERNAL;
    }
    memset(binds, 0, sizeof(MYSQL_BIND) * n);
    for (size_t i = 0; i < n; i++) {
        const kito_sql_param *p = &params[i];
        switch (p->type) {
        case KITO_SQL_T_NULL:
            binds[i].buffer_type = MYSQL_TYPE_NULL;
            break;
        case KITO_SQL_T_I64:
            binds[i].buffer_type = MYSQL_TYPE_LONGLONG;
            binds[i].buffer = (void *)&p->i64;
            break;
        case KITO_SQL_T_U64:
            binds[i].buffer_type = MYSQL_TYPE_LONGLONG;
            binds[i].buffer = (void *)&p->u64;
            binds[i].is_unsigned = 1;
            break;
        case KITO_SQL_T_TEXT:
            binds[i].buffer_type = MYSQL_TYPE_STRING;
            binds[i].buffer = (void *)(p->text != NULL ? p->text : "");
            binds[i].buffer_length = p->len;
            break;
        }
    }
    if (n > 0 && mysql_stmt_bind_param(st, binds) != 0)
        return stmt_fail(c, st);
    return KITO_OK;
}

/* Prepares sql with params on the worker's connection. *out is the statement to close. */
static kito_err prepare(kito_db_conn *c, const char *sql, const kito_sql_param *params, size_t n,
                        MYSQL_STMT **out)
{
    if (n > KITO_SQL_PARAMS_MAX)
        return KITO_E_INTERNAL;
    MYSQL *db;
    char why[200];
    kito_err e = kito_db_get(c, &db, why, sizeof(why));
    if (e != KITO_OK) {
        last_errno = 0;
        snprintf(last_error, sizeof(last_error), "%s", why);
        return e;
    }
    MYSQL_STMT *st = mysql_stmt_init(db);
    if (st == NULL)
        return fail(c, mysql_errno(db), mysql_error(db));
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
        e = stmt_fail(c, st);
        mysql_stmt_close(st);
        return e;
    }
    MYSQL_BIND binds[KITO_SQL_PARAMS_MAX];
    if ((e = bind_params(c, st, params, n, binds)) != KITO_OK || mysql_stmt_execute(st) != 0) {
        if (e == KITO_OK)
            e = stmt_fail(c, st);
        mysql_stmt_close(st);
        return e;
    }
    *out = st;
    return KITO_OK;
}

kito_err kito_sql_exec(kito_db_conn *c, const char *sql, const kito_sql_param *params,
                       size_t nparams, kito_sql_result *res)
{
    MYSQL_STMT *st;
    kito_err e = prepare(c, sql, params, nparams, &st);
    if (e != KITO_OK)
        return e;
    if (res != NULL) {
        res->affected_rows = mysql_stmt_affected_rows(st);
        res->insert_id = mysql_stmt_insert_id(st);
    }
    mysql_stmt_close(st);
    return KITO_OK;
}

static void free_row(kito_sql_row *row)
{
    for (unsigned i = 0; i < row->ncols; i++)
        free(row->bufs[i]);
}

kito_err kito_sql_query(kito_db_conn *c, const char *sql, const kito_sql_param *params,
                        size_t nparams, kito_sql_row_fn fn, void *ud, size_t *rows)
{
    MYSQL_STMT *st;
    size_t seen = 0;
    kito_err e = prepare(c, sql, params, nparams, &st);
    if (e != KITO_OK)
        return e;

    kito_sql_row row = {.ncols = mysql_stmt_field_count(st)};
    MYSQL_BIND binds[KITO_SQL_COLUMNS_MAX];
    size_t caps[KITO_SQL_COLUMNS_MAX];
    if (row.ncols > KITO_SQL_COLUMNS_MAX) {
        mysql_stmt_close(st);
        return KITO_E_INTERNAL;
    }
    memset(binds, 0, sizeof(binds));
    for (unsigned i = 0; i < row.ncols; i++) {
        caps[i] = 256;
        row.bufs[i] = malloc(caps[i]);
        if (row.bufs[i] == NULL) {
            row.ncols = i;
            e = KITO_E_NOMEM;
            goto out;
        }
        binds[i].buffer_type = MYSQL_TYPE_STRING;
        binds[i].buffer = row.bufs[i];
        binds[i].buffer_length = caps[i] - 1; /* room for the NUL */
        binds[i].length = &row.lengths[i];
        binds[i].is_null = &row.nulls[i];
    }
    if (row.ncols > 0 && mysql_stmt_bind_result(st, binds) != 0) {
        e = stmt_fail(c, st);
        goto out;
    }
    for (;;) {
        int rc = mysql_stmt_fetch(st);
        if (rc == MYSQL_NO_DATA)
            break;
        if (rc == 1) {
            e = stmt_fail(c, st);
            goto out;
        }
        bool rebind = false;
        for (unsigned i = 0; i < row.ncols; i++) {
            if (row.nulls[i])
                continue;
            if (row.lengths[i] + 1 > caps[i]) { /* truncated: grow and fetch this column again */
                if (row.lengths[i] + 1 > KITO_SQL_VALUE_MAX) {
                    e = KITO_E_CAPACITY;
                    goto out;
                }
                char *p = realloc(row.bufs[i], row.lengths[i] + 1);
                if (p == NULL) {
                    e = KITO_E_NOMEM;
                    goto out;
                }
                row.bufs[i] = p;
                caps[i] = row.lengths[i] + 1;
                binds[i].buffer = p;
                binds[i].buffer_length = caps[i] - 1;
                if (mysql_stmt_fetch_column(st, &binds[i], i, 0) != 0) {
                    e = stmt_fail(c, st);
                    goto out;
                }
                rebind = true;
            }
            row.bufs[i][row.lengths[i]] = '\0';
        }
        /* the statement still points at the old buffers: the next row must go to the new ones */
        if (rebind && mysql_stmt_bind_result(st, binds) != 0) {
            e = stmt_fail(c, st);
            goto out;
        }
        seen++;
        if (fn != NULL && (e = fn(ud, &row)) != KITO_OK)
            goto out;
    }
out:
    free_row(&row);
    mysql_stmt_close(st);
    if (rows != NULL)
        *rows = seen;
    return e;
}

const char *kito_sql_text(const kito_sql_row *row, unsigned col, size_t *len)
{
    if (col >= row->ncols || row->nulls[col])
        return NULL;
    if (len != NULL)
        *len = row->lengths[col];
    return row->bufs[col];
}

bool kito_sql_is_null(const kito_sql_row *row, unsigned col)
{
    return col >= row->ncols || row->nulls[col];
}

int64_t kito_sql_i64(const kito_sql_row *row, unsigned col)
{
    const char *s = kito_sql_text(row, col, NULL);
    return s != NULL ? strtoll(s, NULL, 10) : 0;
}

uint64_t kito_sql_u64(const kito_sql_row *row, unsigned col)
{
    const char *s = kito_sql_text(row, col, NULL);
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

void kito_sql_copy(const kito_sql_row *row, unsigned col, char *buf, size_t cap)
{
    size_t len = 0;
    const char *s = kito_sql_text(row, col, &len);
    if (cap == 0)
        return;
    if (s == NULL)
        len = 0;
    if (len >= cap)
        len = cap - 1;
    if (len > 0)
        memcpy(buf, s, len);
    buf[len] = '\0';
}

static kito_err plain(kito_db_conn *c, const char *sql)
{
    MYSQL *db;
    char why[200];
    kito_err e = kito_db_get(c, &db, why, sizeof(why));
    if (e != KITO_OK) {
        snprintf(last_error, sizeof(last_error), "%s", why);
        return e;
    }
    if (mysql_query(db, sql) != 0)
        return fail(c, mysql_errno(db), mysql_error(db));
    return KITO_OK;
}

kito_err kito_sql_begin(kito_db_conn *c)
{
    return plain(c, "START TRANSACTION");
}

kito_err kito_sql_commit(kito_db_conn *c)
{
    return plain(c, "COMMIT");
}

void kito_sql_rollback(kito_db_conn *c)
{
    MYSQL *db;
    char why[200];
    if (kito_db_get(c, &db, why, sizeof(why)) == KITO_OK)
        (void)mysql_query(db, "ROLLBACK");
}

kito_err kito_sql_end(kito_db_conn *c, kito_err e)
{
    if (e == KITO_OK)
        e = kito_sql_commit(c);
    if (e != KITO_OK)
        kito_sql_rollback(c);
    return e;
}

/* The last statement lost a lock rather than failing on its own. */
static bool lock_lost(void)
{
    return last_errno == ER_LOCK_DEADLOCK || last_errno == ER_LOCK_WAIT_TIMEOUT;
}

kito_err kito_sql_transaction(kito_db_conn *c, kito_sql_tx_fn fn, void *ud, unsigned attempts)
{
    assert(fn != NULL && attempts >= 1);
    kito_backoff wait;
    kito_backoff_init(&wait, 5, 80);
    kito_err e = KITO_OK;
    for (unsigned attempt = 1; attempt <= attempts; attempt++) {
        last_errno = 0; /* an older statement's deadlock must not make this attempt look lost */
        e = kito_sql_begin(c);
        if (e == KITO_OK)
            e = fn(c, ud);
        e = kito_sql_end(c, e);
        if (e != KITO_E_CONFLICT || !lock_lost())
            return e;
        if (attempt == attempts)
            break;
        uint32_t ms = kito_backoff_next(&wait);
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    kito_log("sql", "a transaction lost its locks %u times in a row (%s); giving up", attempts,
             last_error);
    return KITO_E_UNAVAILABLE;
}

void kito_sql_time(int64_t ms, char out[KITO_SQL_TIME_SIZE])
{
    char t[KITO_TIME_SIZE];
    kito_err e = kito_time_format(ms, t); /* "2026-11-27T15:00:00Z" or "...:00.250Z" */
    assert(e == KITO_OK);
    (void)e;
    size_t n = strlen(t);
    assert(n == 20 || n == 24);
    memcpy(out, t, 19); /* "YYYY-MM-DD HH:MM:SS" */
    out[10] = ' ';
    memcpy(out + 19, n == 24 ? t + 19 : ".000", 4); /* ".mmm" */
    out[23] = '\0';
}

kito_err kito_sql_log_failure(const char *what, kito_err e)
{
    if (e == KITO_E_DB || e == KITO_E_INTERNAL || e == KITO_E_UNAVAILABLE || e == KITO_E_NOMEM ||
        e == KITO_E_IO)
        kito_log(NULL, "%s: %s (%s)", what, kito_err_code(e), kito_sql_last_error());
    return e;
}

typedef struct page_state {
    json_t *items;
    uint32_t limit;
    bool more;
    uint64_t last_id;
    kito_sql_render_fn render;
} page_state;

static kito_err page_row(void *ud, const kito_sql_row *row)
{
    page_state *ps = ud;
    if (json_array_size(ps->items) == ps->limit) {
        ps->more = true; /* the extra row, read only to know that another page follows */
        return KITO_OK;
    }
    json_t *v = ps->render(row);
    if (v == NULL || json_array_append_new(ps->items, v) != 0)
        return KITO_E_NOMEM;
    ps->last_id = kito_sql_u64(row, 0);
    return KITO_OK;
}

kito_err kito_sql_page(kito_db_conn *c, const char *sql, const kito_sql_param *params,
                       size_t nparams, uint32_t limit, kito_sql_render_fn render, json_t **items,
                       bool *more, uint64_t *last_id)
{
    page_state ps = {.items = json_array(), .limit = limit, .render = render};
    *items = NULL;
    *more = false;
    *last_id = 0;
    if (ps.items == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_sql_query(c, sql, params, nparams, page_row, &ps, NULL);
    if (e != KITO_OK) {
        json_decref(ps.items);
        return e;
    }
    *items = ps.items;
    *more = ps.more;
    *last_id = ps.last_id;
    return KITO_OK;
}
