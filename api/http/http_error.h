/*
 * One error shape for every failure (issue 2): a kito_err becomes an HTTP status through one
 * mapping and a body {"error": {"code": "<stable code>", "message": "<English sentence>"}}.
 * Pure functions: no h2o, no I/O; any thread.
 */
#ifndef KITO_HTTP_ERROR_H
#define KITO_HTTP_ERROR_H

#include <stddef.h>

#include "engine/err.h"

/* The HTTP status for err: 200 for KITO_OK, 4xx for what the client can fix, 5xx for ours.
 * Every code in KITO_ERR_MAP has a deliberate entry (the switch has no default, so -Wswitch
 * refuses a new code without one); a number outside the map gives 500. */
int kito_http_status(kito_err err);

/* The reason phrase for a status ("Not Found"); "Error" for one we never send. Static storage. */
const char *kito_http_reason(int status);

/* Renders the error body for err into a new NUL-terminated buffer (free with free()); message
 * NULL means kito_err_message(err). The length without the NUL goes to *len (may be NULL).
 * NULL only when memory runs out. */
char *kito_http_error_body(kito_err err, const char *message, size_t *len);

#endif
