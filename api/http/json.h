/*
 * JSON in and out of HTTP (jansson): parsing a request body with bounds and a clear reason, and
 * rendering a response body. Pure functions: no h2o, no I/O; any thread.
 */
#ifndef KITO_JSON_H
#define KITO_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "engine/err.h"

/* Deepest nesting of arrays and objects a request body may have. jansson's own bound (2048) is
 * far above anything Kito reads; ours keeps recursion in validators shallow. */
#define KITO_JSON_DEPTH_MAX 32

/* The reason a body was refused, for the error message ("line 1, column 7: ..."). */
#define KITO_JSON_REASON_SIZE 200

/* What the body must be at its top level. */
typedef enum kito_json_top {
    KITO_JSON_TOP_OBJECT, /* {...}: every Kito request body */
    KITO_JSON_TOP_ANY,    /* any JSON value */
} kito_json_top;

/* Parses len bytes at body (need not be NUL-terminated) as one JSON document.
 * Refuses, with KITO_E_PAYLOAD_TOO_LARGE, a body longer than max_len; with
 * KITO_E_MALFORMED_JSON, an empty body, invalid JSON or UTF-8, \u0000 in a string, a duplicate
 * member name, nesting deeper than KITO_JSON_DEPTH_MAX, or trailing bytes after the document;
 * with KITO_E_VALIDATION, a document that is not an object when top is KITO_JSON_TOP_OBJECT.
 * On failure reason (if not NULL, KITO_JSON_REASON_SIZE bytes) gets an English sentence and
 * *out is NULL. On success *out owns one new reference (json_decref it). */
kito_err kito_json_parse(const char *body, size_t len, size_t max_len, kito_json_top top,
                         json_t **out, char *reason);

/* Depth of the deepest array/object nesting in the bytes at s (strings skipped; a scalar is 0,
 * "[]" is 1). Stops counting once above limit and returns limit + 1. Does not validate JSON. */
size_t kito_json_depth(const char *s, size_t len, size_t limit);

/* Renders value compactly (no spaces, members in insertion order) into a new NUL-terminated
 * buffer (free with free()); its length without the NUL goes to *len (may be NULL). NULL when
 * memory runs out or value holds a string that is not UTF-8. value is borrowed. */
char *kito_json_render(const json_t *value, size_t *len);

/* The Content-Type every JSON response carries. */
#define KITO_JSON_CONTENT_TYPE "application/json; charset=utf-8"

/* True when a Content-Type header value names JSON: application/json, optionally followed by
 * parameters (";charset=utf-8"), case-insensitive. */
bool kito_json_is_content_type(const char *value, size_t len);

#endif
