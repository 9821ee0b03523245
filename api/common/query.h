/*
 * Query strings and pagination cursors for list endpoints (GET /v1/lots?species=beryl&limit=20).
 *
 * The parser is bounded and allocation-free: a kito_query holds at most KITO_QUERY_MAX_PARAMS
 * parameters decoded into its own buffer, and refuses input longer than KITO_QUERY_MAX_BYTES.
 * Rules (application/x-www-form-urlencoded as browsers send it):
 *   - pairs are separated by '&'; empty pairs ("a=1&&b=2", a trailing '&') are skipped;
 *   - a pair without '=' has the value "";
 *   - '+' decodes to a space and %XX (hex, either case) to that byte; a '%' not followed by two
 *     hex digits is an error, so is %00;
 *   - decoded names must be 1 to 32 bytes of [A-Za-z0-9_.-]; decoded values must be valid UTF-8
 *     without control characters;
 *   - a name given twice is refused (KITO_E_VALIDATION naming it): "last wins" would let a proxy
 *     and the server disagree about which value was meant.
 *
 * A cursor is opaque to clients: base64url (no padding) of 25 bytes
 *     version (1) | sort key (int64, big-endian) | id (uint64, big-endian) | tag (8)
 * where tag is the first 8 bytes of HMAC-SHA256(key, scope "\0" the first 17 bytes). The key is
 * the server's secret, so a client cannot forge or edit a cursor; scope ("lots", "sales"...) keeps
 * a cursor of one list from being replayed on another. 34 characters.
 *
 * All functions are thread-safe; a kito_query belongs to one request.
 */
#ifndef KITO_QUERY_H
#define KITO_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/validate.h"
#include "engine/err.h"

#define KITO_QUERY_MAX_PARAMS 32
#define KITO_QUERY_MAX_BYTES 2048
#define KITO_QUERY_NAME_MAX 32

/* One decoded parameter; both strings point into the owning kito_query's buffer. */
typedef struct kito_query_param {
    const char *name;
    const char *value;
} kito_query_param;

/* A parsed query string. Caller-allocated (on the stack is fine: about 2.6 KiB), no cleanup. */
typedef struct kito_query {
    size_t count;                                               /* parameters in params[0..count) */
    kito_query_param params[KITO_QUERY_MAX_PARAMS];             /* in the order given */
    char buf[KITO_QUERY_MAX_BYTES + 2 * KITO_QUERY_MAX_PARAMS]; /* decoded text and NULs */
} kito_query;

/* Parses qs[0..len) (without the '?'; a single leading '?' is skipped) into q, which is reset
 * first. qs need not be NUL-terminated and may be NULL when len is 0. KITO_E_VALIDATION with ve
 * naming the parameter (or "query") when: len > KITO_QUERY_MAX_BYTES, more than
 * KITO_QUERY_MAX_PARAMS pairs, a bad escape, a bad name or value, or a repeated name. On failure q
 * holds no parameters. */
kito_err kito_query_parse(const char *qs, size_t len, kito_query *q, kito_verr *ve);

/* The decoded value of parameter name, or NULL if absent. Borrowed from q. */
const char *kito_query_get(const kito_query *q, const char *name);

/* Refuses any parameter whose name is not in allowed (a NULL-terminated list): KITO_E_VALIDATION
 * naming the first unknown one, so a misspelt filter is reported instead of ignored. */
kito_err kito_query_check_allowed(const kito_query *q, const char *const *allowed, kito_verr *ve);

/* Reads parameter name as a decimal integer in [min, max] into *out; when absent, *out = dflt and
 * KITO_OK. KITO_E_VALIDATION (naming it) if it is not an optionally '-'-signed run of at most 19
 * digits or is out of range. */
kito_err kito_query_get_int(const kito_query *q, const char *name, int64_t min, int64_t max,
                            int64_t dflt, int64_t *out, kito_verr *ve);

/* ---- cursors --------------------------------------------------------------------------------- */

#define KITO_CURSOR_KEY_LEN 32
#define KITO_CURSOR_VERSION 1
/* 34 characters and a NUL. */
#define KITO_CURSOR_SIZE 35

/* A position in a list ordered by (sort_key, id): the last row of the previous page. */
typedef struct kito_cursor {
    int64_t sort_key; /* e.g. ends_at_ms, weight_cct, or the id again for id order */
    uint64_t id;      /* the row's BIGINT key, the tie-breaker */
} kito_cursor;

/* Encodes c for list scope (1 to 32 bytes of [a-z_], e.g. "lots") under the server's key into out.
 * KITO_E_VALIDATION if scope is malformed; KITO_E_INTERNAL on an OpenSSL failure. */
kito_err kito_query_cursor_encode(const uint8_t key[KITO_CURSOR_KEY_LEN], const char *scope,
                                  kito_cursor c, char out[KITO_CURSOR_SIZE]);

/* Decodes a cursor made by kito_query_cursor_encode with the same key and scope into *c.
 * KITO_E_VALIDATION (ve field "cursor") for anything else: wrong length or alphabet, another
 * version, another scope or key, or any edited byte (the tag is compared in constant time). */
kito_err kito_query_cursor_decode(const uint8_t key[KITO_CURSOR_KEY_LEN], const char *scope,
                                  const char *text, kito_cursor *c, kito_verr *ve);

#endif
