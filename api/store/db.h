/*
 * MySQL (MariaDB Connector/C) connections for worker threads: one connection per worker, opened
 * lazily, reopened with exponential backoff after a failure. Use it from jobs run on a
 * kito_pool created with kito_db_worker_ops(): the job's worker_state is a kito_db_conn.
 *
 * Call mysql_library_init (kito_db_library_init) on the main thread before starting workers.
 */
#ifndef KITO_DB_H
#define KITO_DB_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "api/store/worker_pool.h"
#include "engine/err.h"

/* Connect, read and write timeouts of every connection: a dead server costs a job this long. */
#define KITO_DB_TIMEOUT_S 2
/* Reconnect backoff: first wait, and the cap it doubles up to. */
#define KITO_DB_BACKOFF_MIN_MS 100
#define KITO_DB_BACKOFF_MAX_MS 2000

/* Where to connect; strings borrowed (from kito_config) and must outlive the pool. */
typedef struct kito_db_params {
    const char *host;
    unsigned port;
    const char *user;
    const char *password;
    const char *database;
} kito_db_params;

/* One worker's connection state. Opaque to jobs except through the functions below. */
typedef struct kito_db_conn kito_db_conn;

/* Worker hooks for kito_pool_create; ud must be a kito_db_params*. */
const kito_pool_worker_ops *kito_db_worker_ops(void);

/* mysql_library_init; KITO_E_DB if it fails. Main thread, before any worker starts. */
kito_err kito_db_library_init(void);

/* mysql_library_end; after every worker has stopped. */
void kito_db_library_end(void);

/* The worker's connection, opened now if needed. KITO_E_UNAVAILABLE (with an English reason in
 * err, err_size bytes) while the server cannot be reached or the backoff since the last failure
 * has not elapsed. The MYSQL* is the worker's: use it only within the current job. */
kito_err kito_db_get(kito_db_conn *c, MYSQL **out, char *err, size_t err_size);

/* Reports that the connection failed mid-use (say CR_SERVER_GONE_ERROR): it is closed and the
 * next kito_db_get reconnects after the backoff. */
void kito_db_broken(kito_db_conn *c, const char *why);

/* Pings the server (connecting first if needed). KITO_OK or KITO_E_UNAVAILABLE with a reason. */
kito_err kito_db_ping(kito_db_conn *c, char *err, size_t err_size);

/* Milliseconds on CLOCK_MONOTONIC; any thread. */
uint64_t kito_db_now_ms(void);

#endif
