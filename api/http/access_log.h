/*
 * The access log: one JSON object per line per finished request, e.g.
 *   {"time":"2024-05-01T12:00:00.123Z","method":"GET","path":"/healthz","status":200,
 *    "bytes":97,"duration_us":412,"protocol":"HTTP/2","remote":"127.0.0.1:51234",
 *    "route":"/healthz"}
 * (one line; wrapped here). Written to stdout ("-") or appended to a file, through a stdio
 * buffer flushed every KITO_ACCESS_LOG_FLUSH_MS and at close, so a busy server does not pay a
 * write(2) per request. Loop thread only.
 */
#ifndef KITO_ACCESS_LOG_H
#define KITO_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "engine/err.h"

#define KITO_ACCESS_LOG_FLUSH_MS 200
/* Longest path written; longer ones are cut and end in "...". */
#define KITO_ACCESS_LOG_PATH_MAX 512

typedef struct kito_access_log {
    FILE *out;     /* stdout or our file */
    bool owns_out; /* fclose at close */
    bool dirty;    /* written since the last flush */
    uv_timer_t flush_timer;
    bool timer_open;
} kito_access_log;

/* One finished request, as the server saw it. Strings borrowed for the call. */
typedef struct kito_access_entry {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    int status;
    uint64_t bytes;       /* response body bytes */
    uint64_t duration_us; /* from the request's start to the end of its response */
    const char *protocol; /* "HTTP/1.1", "HTTP/2" */
    const char *remote;   /* "addr:port" */
    const char *route;    /* route label, as in /metrics */
    bool abandoned;       /* the client ended the stream before the response left */
} kito_access_entry;

/* Opens the log: "-" for stdout, else the file at path (created 0640, appended). loop may be NULL
 * (no periodic flush; tests). KITO_E_IO with errno's message in err if the file cannot be opened.
 */
kito_err kito_access_log_open(kito_access_log *log, const char *path, uv_loop_t *loop, char *err,
                              size_t err_size);

/* Formats one entry as a JSON line into buf (size bytes; truncated at KITO_ACCESS_LOG_PATH_MAX
 * for the path so a line always fits 1024 + that); returns the length written, newline
 * included. Pure; exposed for tests. */
size_t kito_access_log_format(const kito_access_entry *e, int64_t unix_ms, char *buf, size_t size);

/* Appends one entry. Never fails loudly: a full disk loses lines, not requests. */
void kito_access_log_write(kito_access_log *log, const kito_access_entry *e);

/* Flushes, stops the timer (closed on the next loop turn) and closes a file. */
void kito_access_log_close(kito_access_log *log);

#endif
