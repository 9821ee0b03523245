/*
 * Prepared statements without the ceremony (CONVENTIONS.md, 11: SQL is prepared statements only).
 * For repository code running in a MySQL worker job (api/store/db.h): parameters are typed values,
 * every result column arrives as text (MySQL converts), read back with typed getters.
 *
 * MySQL errors become kito_err here, with the server's message kept per thread for logging
 * (kito_sql_last_error):
 *   duplicate key (1062)                 -> KITO_E_CONFLICT
 *   foreign key or CHECK violation       -> KITO_E_VALIDATION
 *   lock wait timeout / deadlock         -> KITO_E_CONFLICT (kito_sql_transaction retries them)
 *   lost connection, server gone, down   -> KITO_E_UNAVAILABLE (the connection is marked broken)
 *   anything else                        -> KITO_E_DB
 *
 * Threads: a worker thread, with that worker's kito_db_conn, inside one job.
 */
#ifndef KITO_SQL_H
#define KITO_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "api/store/db.h"
#include "engine/err.h"

#define KITO_SQL_PARAMS_MAX 32 /* parameters one statement may take */
#define KITO_SQL_COLUMNS_MAX 48
#define KITO_SQL_VALUE_MAX ((size_t)16 << 20) /* bytes one result value may have */

typedef enum kito_sql_type {
    KITO_SQL_T_NULL,
    KITO_SQL_T_I64,
    KITO_SQL_T_U64,
    KITO_SQL_T_TEXT, /* also binary: len bytes, any content */
} kito_sql_type;

typedef struct kito_sql_param {
    kito_sql_type type;
    int64_t i64;
    uint64_t u64;
    const char *text; /* borrowed for the call */
    size_t len;
} kito_sql_param;

#define KITO_SQL_NULL ((kito_sql_param){.type = KITO_SQL_T_NULL})
#define KITO_SQL_I64(v) ((kito_sql_param){.type = KITO_SQL_T_I64, .i64 = (int64_t)(v)})
#define KITO_SQL_U64(v) ((kito_sql_param){.type = KITO_SQL_T_U64, .u64 = (uint64_t)(v)})
#define KITO_SQL_TEXT(s) ((kito_sql_param){.type = KITO_SQL_T_TEXT, .text = (s), .len = strlen(s)})
#define KITO_SQL_TEXTN(s, n) ((kito_sql_param){.type = KITO_SQL_T_TEXT, .text = (s), .len = (n)})
/* A nullable string: NULL becomes SQL NULL. */
#define KITO_SQL_TEXT_OR_NULL(s) ((s) != NULL ? KITO_SQL_TEXT(s) : KITO_SQL_NULL)

/* On the worker thread, right after a repository call: logs a failure that is the server's own
 * (KITO_E_DB, _INTERNAL, _UNAVAILABLE, _NOMEM, _IO) with MySQL's detail, which is never sent to
 * the client; what names the operation ("sale create"). kito_sql_last_error is per thread, so
 * this cannot wait for the loop. Returns e, so a call can wrap the repository call. */
kito_err kito_sql_log_failure(const char *what, kito_err e);

/* The number of elements of an array (a statement's parameter list, say). */
#define KITO_N(a) (sizeof(a) / sizeof((a)[0]))

/* SQL text for milliseconds since the epoch <-> DATETIME(3) in UTC, whatever the session's time
 * zone (FROM_UNIXTIME and UNIX_TIMESTAMP would convert through it). The one spelling: param is
 * a placeholder or expression in milliseconds, col a DATETIME column or expression. */
#define KITO_SQL_MS_TO_DT(param)                                                                   \
    "(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL (" param " * 1000) MICROSECOND)"
#define KITO_SQL_DT_TO_MS(col)                                                                     \
    "(TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00', " col ") DIV 1000)"

/* "YYYY-MM-DD HH:MM:SS.mmm" and a NUL: a DATETIME(3) literal in UTC. */
#define KITO_SQL_TIME_SIZE 24

/* Writes ms (0 .. KITO_TIME_MAX_MS, api/common/validate.h) as a DATETIME(3) literal, for a text
 * parameter compared with DATETIME columns (where KITO_SQL_MS_TO_DT would hide an index). */
void kito_sql_time(int64_t ms, char out[KITO_SQL_TIME_SIZE]);

/* One fetched row; valid only inside the row callback. */
typedef struct kito_sql_row kito_sql_row;

/* Column col as text (NUL-terminated; *len its length if len is not NULL), or NULL for SQL
 * NULL. */
const char *kito_sql_text(const kito_sql_row *row, unsigned col, size_t *len);

/* Column col as an integer; 0 for NULL or text that is not an integer. */
int64_t kito_sql_i64(const kito_sql_row *row, unsigned col);
uint64_t kito_sql_u64(const kito_sql_row *row, unsigned col);

bool kito_sql_is_null(const kito_sql_row *row, unsigned col);

/* Copies column col into buf (cap bytes, NUL-terminated, cut to fit); "" for NULL. */
void kito_sql_copy(const kito_sql_row *row, unsigned col, char *buf, size_t cap);

/* Called once per row; a code other than KITO_OK stops the fetch and is returned. */
typedef kito_err (*kito_sql_row_fn)(void *ud, const kito_sql_row *row);

typedef struct kito_sql_result {
    uint64_t affected_rows;
    uint64_t insert_id;
} kito_sql_result;

/* Runs a statement that returns no rows (INSERT, UPDATE, DELETE). res may be NULL. */
kito_err kito_sql_exec(kito_db_conn *c, const char *sql, const kito_sql_param *params,
                       size_t nparams, kito_sql_result *res);

/* Runs a query and calls fn for every row. *rows (may be NULL) gets the number of rows seen. */
kito_err kito_sql_query(kito_db_conn *c, const char *sql, const kito_sql_param *params,
                        size_t nparams, kito_sql_row_fn fn, void *ud, size_t *rows);

/* A JSON rendering of one row; NULL when out of memory. */
typedef json_t *(*kito_sql_render_fn)(const kito_sql_row *row);

/* One page of a keyset list: runs sql, which reads at most limit + 1 rows ("LIMIT limit + 1"),
 * each with its id in column 0, and renders the first limit of them with render into *items (a
 * new array, the caller's); the extra row only sets *more. *last_id is the id of the last row on
 * the page (the next page's cursor), 0 for an empty page. On failure *items is NULL. */
kito_err kito_sql_page(kito_db_conn *c, const char *sql, const kito_sql_param *params,
                       size_t nparams, uint32_t limit, kito_sql_render_fn render, json_t **items,
                       bool *more, uint64_t *last_id);

/* Transactions: BEGIN, COMMIT, ROLLBACK on the worker's connection. rollback ignores errors (it
 * is the clean-up path) and may be called when no transaction is open. */
kito_err kito_sql_begin(kito_db_conn *c);
kito_err kito_sql_commit(kito_db_conn *c);
void kito_sql_rollback(kito_db_conn *c);

/* Ends the open transaction by its outcome so far: commits when e is KITO_OK, and rolls back
 * when e is an error or the commit fails. Returns the final outcome. */
kito_err kito_sql_end(kito_db_conn *c, kito_err e);

/* The body of a transaction: its statements, between the BEGIN and the COMMIT that
 * kito_sql_transaction issues (the body issues neither). It may run more than once, so it starts
 * from its inputs every time and sets every output it has (a kito_verr, a row read back) afresh.
 * KITO_OK commits; any other code rolls back and is returned. */
typedef kito_err (*kito_sql_tx_fn)(kito_db_conn *c, void *ud);

/* How many times a write is tried when InnoDB keeps choosing it as the deadlock victim. */
#define KITO_SQL_TX_ATTEMPTS 5

/* Runs fn in a transaction: BEGIN, fn, then COMMIT on KITO_OK or ROLLBACK otherwise. When MySQL
 * gave up a lock on the way (1213 ER_LOCK_DEADLOCK: InnoDB rolled the transaction back to break a
 * cycle; 1205 ER_LOCK_WAIT_TIMEOUT), the request itself conflicted with nothing: the whole
 * transaction is rolled back and run again from BEGIN after a short wait (5 ms, doubling up to
 * 80 ms: api/common/backoff.h), at most attempts times in all (issue 15, finding 12: two
 * organisers' approvals deadlocked and the loser answered 409). Returns fn's outcome or the
 * commit's; KITO_E_UNAVAILABLE when every attempt lost a lock (a server-side condition, not the
 * client's conflict: 503 and try again). Sleeps between attempts: a worker thread only. */
kito_err kito_sql_transaction(kito_db_conn *c, kito_sql_tx_fn fn, void *ud, unsigned attempts);

/* The last MySQL error on this thread ("1062 Duplicate entry ..."), or "". */
const char *kito_sql_last_error(void);

/* The last MySQL error number on this thread, or 0. */
unsigned kito_sql_last_errno(void);

#endif
