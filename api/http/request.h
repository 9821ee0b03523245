/*
 * The per-request context every handler gets, and the ways to answer.
 *
 * A kito_req lives from the moment kitod sees a request until both h2o has finished with it and
 * every kito_req_retain has been released. A synchronous handler responds before returning and
 * never thinks about this. An asynchronous one (a MySQL job, say) does:
 *
 *     kito_req_retain(r);                        // before handing r to another callback
 *     kito_pool_submit(r->server->pool, run, done, job);
 *     return KITO_OK;                            // "responding later"
 *     ...
 *     static void done(void *job, kito_err st) { // on the loop
 *         if (kito_req_alive(r))                 // false if the client went away meanwhile
 *             kito_respond_json(r, 200, doc);
 *         kito_req_release(r);
 *     }
 *
 * Everything here is for the loop thread only.
 */
#ifndef KITO_REQUEST_H
#define KITO_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>

#include "api/http/access_log.h"
#include "api/http/auth.h"
#include "api/http/router.h"
#include "api/common/query.h"
#include "engine/err.h"

struct kito_server;
struct kito_conn;

typedef struct kito_req {
    h2o_req_t *h2o;             /* NULL once h2o is done with the request (or the client left) */
    struct kito_server *server; /* borrowed: config, loop, redis, pool, metrics */
    const kito_route *route;    /* the matched route; NULL for static files and errors */
    kito_route_match match;     /* path parameters (point into h2o's request: use while alive) */
    json_t *body;    /* KITO_ROUTE_JSON_BODY routes: the parsed object; owned, freed with r */
    unsigned method; /* KITO_METHOD_* bit; 0 for a method Kito does not serve */
    kito_principal principal; /* the signed-in caller (api/http/auth.h); zero when anonymous */

    /* bookkeeping for the server (metrics, access log, rapid-reset guard) */
    uint32_t route_id;         /* metrics route id */
    bool responded;            /* a response was started */
    bool delegated;            /* handed to the static file handler */
    bool is_h2;                /* HTTP/2 stream */
    struct kito_conn *conn;    /* borrowed; outlives r's h2o request */
    size_t bytes_written_mark; /* the socket's bytes_written when the response was produced */
    uint64_t start_us;         /* uv_hrtime at the start, in microseconds */
    uint32_t refs;             /* h2o's reference + kito_req_retain's */
    /* the time limit (KITO_REQUEST_TIMEOUT_MS; api/http/server.c): linked in the server's
     * waiting list, oldest first, from dispatch until r is freed */
    h2o_linklist_t waiting;
    uint64_t deadline_ms; /* uv_now() by which an answer must have started */
    bool timed_out;       /* answered 504 "timeout": a late completion must do nothing */
    char method_text[16];
    char path[KITO_ACCESS_LOG_PATH_MAX + 1]; /* copied for the access log, cut */
    size_t path_len;                         /* of the original path */
    char remote[64];                         /* "addr:port" */
} kito_req;

/* A path parameter by name: its bytes and length (not NUL-terminated), or NULL. */
const char *kito_req_param(const kito_req *r, const char *name, size_t *len);

/* True while the h2o request exists and its time limit has not answered it, i.e. a response can
 * still be sent: false for a late completion of asynchronous work, which must then do nothing
 * but release what it holds. */
bool kito_req_alive(const kito_req *r);

/* Path parameter name as an id of kind prefix (api/common/validate.h, kito_id_parse): KITO_OK
 * with *key, or KITO_E_NOT_FOUND when it is missing or cannot be such an id (a malformed id
 * names nothing, so it is a 404, never a 400). Answers nothing itself. */
kito_err kito_req_path_id(const kito_req *r, const char *name, const char *prefix, uint64_t *key);

/* Parses r's query string (what follows '?'; none: an empty one) into q (kito_query_parse) and
 * refuses a name not in allowed (NULL-terminated; kito_query_check_allowed). KITO_OK, or
 * KITO_E_VALIDATION with ve filled. Answers nothing itself; q points into r's path. */
kito_err kito_req_query(const kito_req *r, const char *const *allowed, kito_query *q,
                        kito_verr *ve);

/* Keeps r (not its h2o request) alive across asynchronous work. */
void kito_req_retain(kito_req *r);

/* Drops a reference taken with kito_req_retain; r may be freed. */
void kito_req_release(kito_req *r);

/* Responds with doc rendered as JSON (Content-Type application/json; charset=utf-8, Cache-Control
 * no-store). Takes doc's reference (doc may be NULL: then a 500 internal error is sent). No-op
 * (doc still released) if r is not alive or already responded. */
void kito_respond_json(kito_req *r, int status, json_t *doc);

/* Responds with err's status and {"error": {"code", "message"}}; message NULL = the stock one.
 * Same no-op rule as kito_respond_json. */
void kito_respond_error(kito_req *r, kito_err err, const char *message);

/* As kito_respond_error, plus an Allow header (405). */
void kito_respond_error_allow(kito_req *r, kito_err err, const char *message, unsigned allow);

/* The client's address (r->remote without its port; an IPv4-mapped IPv6 address written as IPv4)
 * into out, or "-" when unknown. For throttles and the audit trail. */
void kito_req_client_ip(const kito_req *r, char out[46]);

struct kito_verr;

/* Answers 422 validation_failed with the message "<field> <reason>" from ve
 * (api/common/validate.h). Returns KITO_OK, so a handler can `return kito_respond_invalid(r,
 * &ve);`. */
kito_err kito_respond_invalid(kito_req *r, const struct kito_verr *ve);

/* Makes a zeroed kito_req for server s, a spare one if s keeps any, else from calloc; NULL when
 * out of memory. Internal: the server calls it for every request. */
kito_req *kito__req_new(struct kito_server *s);

/* Releases r at once (its JSON body too): kept as one of r->server's spares (up to
 * KITO_REQ_SPARE_MAX), else freed. A kito_req is ~1 KiB, over glibc's small-bin bound, so each
 * calloc of a new one merged every freed small block first (malloc_consolidate): ~3% of a bid's
 * CPU. Internal: the server calls it through the last kito_req_release. */
void kito__req_free(kito_req *r);

/* Frees the spares of s (at server dispose). */
void kito__req_spares_free(struct kito_server *s);

#if defined(__SANITIZE_ADDRESS__)
#define KITO_REQ_SPARE_MAX 0 /* AddressSanitizer must see a kito_req used after its release */
#else
#define KITO_REQ_SPARE_MAX 1024 /* kito_req kept for reuse per server: ~1 MiB */
#endif

/* As kito_respond_bytes, with the Cache-Control value given and, when etag is not NULL, an ETag
 * of "etag" (quoted here). A 304 or a HEAD request sends the headers without a body. */
void kito_respond_bytes_cached(kito_req *r, int status, const char *content_type,
                               const char *cache_control, const char *etag, const char *body,
                               size_t len);

/* Responds with len bytes of body (copied) and the given Content-Type. Same no-op rule. */
void kito_respond_bytes(kito_req *r, int status, const char *content_type, const char *body,
                        size_t len);

#endif
