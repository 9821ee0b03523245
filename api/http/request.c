#include "api/http/request.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/conn.h"
#include "api/http/http_error.h"
#include "api/http/json.h"
#include "api/http/server.h"
#include "api/common/validate.h"

void kito__req_free(kito_req *r)
{
    if (h2o_linklist_is_linked(&r->waiting))
        h2o_linklist_unlink(&r->waiting);
    json_decref(r->body);
    kito_server *s = r->server;
    if (KITO_REQ_SPARE_MAX > 0 && s != NULL && s->n_spare_reqs + 1 <= KITO_REQ_SPARE_MAX) {
        r->h2o = (h2o_req_t *)s->spare_reqs; /* (the link while spare) */
        s->spare_reqs = r;
        s->n_spare_reqs++;
        return;
    }
    free(r);
}

kito_req *kito__req_new(kito_server *s)
{
    kito_req *r = s->spare_reqs;
    if (r == NULL)
        return calloc(1, sizeof(*r));
    s->spare_reqs = (kito_req *)r->h2o;
    s->n_spare_reqs--;
    memset(r, 0, sizeof(*r));
    return r;
}

void kito__req_spares_free(kito_server *s)
{
    while (s->spare_reqs != NULL) {
        kito_req *r = s->spare_reqs;
        s->spare_reqs = (kito_req *)r->h2o;
        free(r);
    }
    s->n_spare_reqs = 0;
}

bool kito_req_alive(const kito_req *r)
{
    return r->h2o != NULL && !r->timed_out;
}

void kito_req_retain(kito_req *r)
{
    r->refs++;
}

void kito_req_release(kito_req *r)
{
    assert(r->refs > 0);
    if (--r->refs == 0)
        kito__req_free(r);
}

kito_err kito_req_query(const kito_req *r, const char *const *allowed, kito_query *q, kito_verr *ve)
{
    const h2o_req_t *req = r->h2o;
    const char *qs = NULL;
    size_t len = 0;
    if (req->query_at != SIZE_MAX) {
        qs = req->path.base + req->query_at + 1;
        len = req->path.len - req->query_at - 1;
    }
    kito_err e = kito_query_parse(qs, len, q, ve);
    return e == KITO_OK ? kito_query_check_allowed(q, allowed, ve) : e;
}

kito_err kito_req_path_id(const kito_req *r, const char *name, const char *prefix, uint64_t *key)
{
    size_t len = 0;
    char text[KITO_ID_SIZE + 1];
    const char *v = kito_req_param(r, name, &len);
    if (v == NULL || len >= sizeof(text))
        return KITO_E_NOT_FOUND;
    memcpy(text, v, len);
    text[len] = '\0';
    return kito_id_parse(prefix, text, key) == KITO_OK ? KITO_OK : KITO_E_NOT_FOUND;
}

const char *kito_req_param(const kito_req *r, const char *name, size_t *len)
{
    return kito_route_param_get(&r->match, name, len);
}

/* Marks the response produced: for the guard, what the socket had written by then. */
static bool begin_response(kito_req *r)
{
    if (r->h2o == NULL || r->responded)
        return false;
    r->responded = true;
    if (r->conn != NULL && r->conn->sock != NULL)
        r->bytes_written_mark = r->conn->sock->bytes_written;
    return true;
}

void kito_respond_bytes_cached(kito_req *r, int status, const char *content_type,
                               const char *cache_control, const char *etag, const char *body,
                               size_t len)
{
    if (!begin_response(r))
        return;
    h2o_req_t *req = r->h2o;
    req->res.status = status;
    req->res.reason = kito_http_reason(status);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, cache_control,
                   strlen(cache_control));
    if (etag != NULL) {
        h2o_iovec_t v =
            h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("\"")),
                       h2o_iovec_init(etag, strlen(etag)), h2o_iovec_init(H2O_STRLIT("\"")));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, v.base, v.len);
    }
    if (status == 304 || r->method == KITO_METHOD_HEAD) {
        static h2o_generator_t no_body = {NULL, NULL};
        if (status != 304)
            req->res.content_length = len;
        h2o_start_response(req, &no_body);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    req->res.content_length = len;
    h2o_send_inline(req, body, len);
}

void kito_respond_bytes(kito_req *r, int status, const char *content_type, const char *body,
                        size_t len)
{
    kito_respond_bytes_cached(r, status, content_type, "no-store", NULL, body, len);
}

void kito_respond_json(kito_req *r, int status, json_t *doc)
{
    if (doc == NULL) {
        kito_respond_error(r, KITO_E_INTERNAL, NULL);
        return;
    }
    size_t len;
    char *text = kito_json_render(doc, &len);
    json_decref(doc);
    if (text == NULL) {
        kito_respond_error(r, KITO_E_INTERNAL, "the response could not be rendered");
        return;
    }
    kito_respond_bytes(r, status, KITO_JSON_CONTENT_TYPE, text, len);
    free(text);
}

void kito_respond_error_allow(kito_req *r, kito_err err, const char *message, unsigned allow)
{
    if (r->h2o == NULL || r->responded)
        return;
    if (err == KITO_E_BUSY) /* a full queue of scrypt jobs drains in about a second */
        h2o_add_header(&r->h2o->pool, &r->h2o->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       H2O_STRLIT("1"));
    if (allow != 0) {
        char value[96];
        size_t n = kito_method_allow_header(allow, value, sizeof(value));
        h2o_add_header(&r->h2o->pool, &r->h2o->res.headers, H2O_TOKEN_ALLOW, NULL,
                       h2o_strdup(&r->h2o->pool, value, n).base, n);
    }
    size_t len;
    char *body = kito_http_error_body(err, message, &len);
    if (body == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}";
        kito_respond_bytes(r, 503, KITO_JSON_CONTENT_TYPE, oom, sizeof(oom) - 1);
        return;
    }
    kito_respond_bytes(r, kito_http_status(err), KITO_JSON_CONTENT_TYPE, body, len);
    free(body);
}

void kito_respond_error(kito_req *r, kito_err err, const char *message)
{
    kito_respond_error_allow(r, err, message, 0);
}

void kito_req_client_ip(const kito_req *r, char out[46])
{
    const char *s = r->remote;
    if (strncmp(s, "::ffff:", 7) == 0 && strchr(s + 7, '.') != NULL)
        s += 7;
    const char *colon = strrchr(s, ':');
    size_t n = colon != NULL && colon != s ? (size_t)(colon - s) : strlen(s);
    if (n == 0 || n > 45) {
        strcpy(out, "-");
        return;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

kito_err kito_respond_invalid(kito_req *r, const kito_verr *ve)
{
    char msg[KITO_VERR_FIELD_SIZE + KITO_VERR_REASON_SIZE + 2];
    snprintf(msg, sizeof(msg), "%s %s", ve->field, ve->reason);
    kito_respond_error(r, KITO_E_VALIDATION, msg);
    return KITO_OK;
}
