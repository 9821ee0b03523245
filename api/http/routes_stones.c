/*
 * Stones, photos, signed valuation certificates and provenance (issue 4). Thin handlers
 * (CONVENTIONS.md, 10): parse and validate here, do the work in api/store/repo_stones.c,
 * api/store/repo_certificates.c and api/store/repo_provenance.c on a MySQL worker
 * (api/http/req_db.h), answer on the loop. Photo files are written and read on the worker too,
 * never on the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"
#include "api/http/conn.h"
#include "api/http/http_error.h"
#include "api/adapters/photos.h"
#include "api/adapters/thumbs.h"
#include "api/common/qr_svg.h"
#include "api/common/query.h"
#include "api/common/render.h"
#include "api/store/repo_certificates.h"
#include "api/store/repo_provenance.h"
#include "api/store/repo_stones.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/store/sql.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Answers a repository's error: validation with its field, others with the reason if any. */
static void respond_failure(kito_req *r, kito_err e, const kito_verr *ve)
{
    if (e == KITO_E_VALIDATION) {
        kito_respond_invalid(r, ve);
        return;
    }
    /* row rules give a whole sentence as the reason */
    if ((e == KITO_E_CONFLICT || e == KITO_E_FORBIDDEN) && ve->reason[0] != '\0') {
        kito_respond_error(r, e, ve->reason);
        return;
    }
    /* the worker logged the detail (kito_sql_log_failure): MySQL's message is per thread */
    kito_respond_error(r, e, NULL);
}

/* ---- stones ---------------------------------------------------------------------------------- */

typedef struct stone_job {
    kito_err err;
    kito_verr ve;
    uint64_t actor_id;
    unsigned role;
    char ip[46];
    uint64_t stone_id;
    kito_stone_input in; /* borrows r->body, which lives while the job runs (r is retained) */
    json_t *out;
    int status;
} stone_job;

static stone_job *stone_job_new(kito_req *r)
{
    stone_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->actor_id = r->principal.account_id;
    j->role = r->principal.role;
    kito_req_client_ip(r, j->ip);
    return j;
}

static void stone_done(kito_req *r, void *arg)
{
    stone_job *j = arg;
    if (j->err == KITO_OK)
        kito_respond_json(r, j->status, j->out);
    else
        respond_failure(r, j->err, &j->ve);
    j->out = NULL;
}

static void stone_create_run(kito_db_conn *db, void *arg)
{
    stone_job *j = arg;
    j->err = kito_stone_create(db, &j->in, j->actor_id, j->role, j->ip, &j->stone_id, &j->ve);
    if (j->err == KITO_OK)
        j->err = kito_stone_view(db, j->stone_id, &j->out);
    j->status = 201;
    kito_sql_log_failure("stone create", j->err);
}

/* POST /v1/stones (miner, valuer) */
kito_err kito_post_stones(kito_req *r)
{
    kito_verr ve = {{0}};
    kito_stone_input in;
    if (kito_stone_input_decode(r->body, false, &in, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    stone_job *j = stone_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->in = in;
    return kito_req_db(r, stone_create_run, stone_done, j);
}

static void stone_view_run(kito_db_conn *db, void *arg)
{
    stone_job *j = arg;
    j->err = kito_stone_view(db, j->stone_id, &j->out);
    j->status = 200;
    kito_sql_log_failure("stone view", j->err);
}

/* GET /v1/stones/{id} (public) */
kito_err kito_get_stone(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_STONE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    stone_job *j = stone_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    return kito_req_db(r, stone_view_run, stone_done, j);
}

static void stone_update_run(kito_db_conn *db, void *arg)
{
    stone_job *j = arg;
    j->err = kito_stone_update(db, j->stone_id, &j->in, j->actor_id, j->role, j->ip, &j->ve);
    if (j->err == KITO_OK)
        j->err = kito_stone_view(db, j->stone_id, &j->out);
    j->status = 200;
    kito_sql_log_failure("stone update", j->err);
}

/* PATCH /v1/stones/{id} (the seller, a valuer) */
kito_err kito_patch_stone(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_STONE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    kito_verr ve = {{0}};
    kito_stone_input in;
    if (kito_stone_input_decode(r->body, true, &in, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    stone_job *j = stone_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    j->in = in;
    return kito_req_db(r, stone_update_run, stone_done, j);
}

typedef struct list_job {
    kito_err err;
    kito_stone_filter f;
    char species[32], country[4], status[16];
    json_t *items;
    bool more;
    kito_cursor next;
} list_job;

static void list_run(kito_db_conn *db, void *arg)
{
    list_job *j = arg;
    j->err = kito_stone_list(db, &j->f, &j->items, &j->more, &j->next);
    kito_sql_log_failure("stone list", j->err);
}

static void list_done(kito_req *r, void *arg)
{
    list_job *j = arg;
    if (j->err != KITO_OK) {
        kito_verr none = {{0}};
        respond_failure(r, j->err, &none);
        return;
    }
    char cursor[KITO_CURSOR_SIZE];
    bool has_cursor = j->more && kito_query_cursor_encode(r->server->cursor_key, "stones", j->next,
                                                          cursor) == KITO_OK;
    kito_respond_json(r, 200, kito_render_page(j->items, has_cursor ? cursor : NULL));
    j->items = NULL;
}

/* An optional weight filter in carats ("1.5") into hundredths; 0 when absent. */
static kito_err weight_param(const kito_query *q, const char *name, int64_t *cct, kito_verr *ve)
{
    const char *s = kito_query_get(q, name);
    *cct = 0;
    return s != NULL ? kito_validate_carats_text(name, s, cct, ve) : KITO_OK;
}

/* GET /v1/stones (public): filters species, country, min_weight_ct, max_weight_ct, status,
 * seller; cursor and limit. Newest first. */
kito_err kito_get_stones(kito_req *r)
{
    static const char *const allowed[] = {"species",       "country", "min_weight_ct",
                                          "max_weight_ct", "status",  "seller",
                                          "cursor",        "limit",   NULL};
    kito_query q;
    kito_verr ve = {{0}};
    if (kito_req_query(r, allowed, &q, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    list_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_stone_filter *f = &j->f;
    int64_t limit = 0;
    const char *v;
    kito_err e = kito_query_get_int(&q, "limit", 1, KITO_STONE_PAGE_MAX, KITO_STONE_PAGE_DEFAULT,
                                    &limit, &ve);
    if (e == KITO_OK && (v = kito_query_get(&q, "species")) != NULL &&
        (e = kito_validate_enum("species", v, kito_stone_species, NULL, &ve)) == KITO_OK)
        f->species = strcpy(j->species, v);
    if (e == KITO_OK && (v = kito_query_get(&q, "country")) != NULL &&
        (e = kito_validate_origin_country("country", v, &ve)) == KITO_OK)
        f->country = strcpy(j->country, v);
    if (e == KITO_OK && (v = kito_query_get(&q, "status")) != NULL &&
        (e = kito_validate_enum("status", v, kito_stone_statuses, NULL, &ve)) == KITO_OK)
        f->status = strcpy(j->status, v);
    if (e == KITO_OK && (v = kito_query_get(&q, "seller")) != NULL)
        e = kito_validate_id("seller", KITO_ID_ACCOUNT, v, &f->seller_id, &ve);
    if (e == KITO_OK)
        e = weight_param(&q, "min_weight_ct", &f->min_weight_cct, &ve);
    if (e == KITO_OK)
        e = weight_param(&q, "max_weight_ct", &f->max_weight_cct, &ve);
    if (e == KITO_OK && f->max_weight_cct != 0 && f->max_weight_cct < f->min_weight_cct)
        e = kito_verr_set(&ve, "max_weight_ct", "must not be below min_weight_ct");
    if (e == KITO_OK && (v = kito_query_get(&q, "cursor")) != NULL) {
        e = kito_query_cursor_decode(r->server->cursor_key, "stones", v, &f->after, &ve);
        f->after_given = e == KITO_OK;
    }
    if (e != KITO_OK) {
        free(j);
        return kito_respond_invalid(r, &ve);
    }
    f->limit = (uint32_t)limit;
    return kito_req_db(r, list_run, list_done, j);
}

/* ---- photos ---------------------------------------------------------------------------------- */

typedef struct photo_job {
    kito_err err;
    kito_verr ve;
    uint64_t actor_id;
    unsigned role;
    char ip[46];
    uint64_t stone_id;
    const char *photo_dir; /* the server's config: outlives the job */
    const char *mime;      /* static storage */
    char sha[KITO_SHA256_HEX_SIZE];
    bool created;
    size_t len;
    char bytes[]; /* the upload, copied: h2o's request may go while the worker runs */
} photo_job;

static void photo_add_run(kito_db_conn *db, void *arg)
{
    photo_job *j = arg;
    j->err = kito_stone_photo_add(db, j->stone_id, j->actor_id, j->role, j->photo_dir, j->bytes,
                                  j->len, j->mime, j->ip, j->sha, &j->created);
    kito_sql_log_failure("photo add", j->err);
}

static void photo_add_done(kito_req *r, void *arg)
{
    photo_job *j = arg;
    if (j->err == KITO_E_CONFLICT) {
        char msg[96];
        snprintf(msg, sizeof(msg), "a stone has at most %d photos", KITO_STONE_PHOTOS_MAX);
        kito_respond_error(r, j->err, msg);
        return;
    }
    if (j->err != KITO_OK) {
        respond_failure(r, j->err, &j->ve);
        return;
    }
    char url[96];
    snprintf(url, sizeof(url), "/v1/photos/%s", j->sha);
    kito_respond_json(r, j->created ? 201 : 200,
                      json_pack("{s:o, s:s, s:s, s:s, s:I, s:b}", "stone_id",
                                kito_render_id(KITO_ID_STONE, j->stone_id), "sha256", j->sha, "url",
                                url, "mime", j->mime, "bytes", (json_int_t)j->len, "created",
                                j->created));
}

/* POST /v1/stones/{id}/photos (the seller, a valuer): the raw JPEG or PNG as the body. */
kito_err kito_post_stone_photo(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_STONE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    h2o_req_t *req = r->h2o;
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    const char *declared = ct == -1 ? NULL
                                    : kito_photo_content_type(req->headers.entries[ct].value.base,
                                                              req->headers.entries[ct].value.len);
    if (declared == NULL) {
        kito_respond_error(r, KITO_E_UNSUPPORTED_MEDIA,
                           "send the photo as image/jpeg or image/png");
        return KITO_OK;
    }
    kito_verr ve = {{0}};
    size_t len = req->entity.base != NULL ? req->entity.len : 0;
    if (len == 0)
        return kito_respond_invalid(r,
                                    (kito_verr_set(&ve, "body", "must be the photo's bytes"), &ve));
    const char *actual = kito_photo_detect(req->entity.base, len);
    if (actual == NULL || strcmp(actual, declared) != 0) {
        kito_verr_set(&ve, "body", "is not a %s image: its bytes do not match its Content-Type",
                      strcmp(declared, "image/png") == 0 ? "PNG" : "JPEG");
        return kito_respond_invalid(r, &ve);
    }
    photo_job *j = malloc(sizeof(*j) + len);
    if (j == NULL)
        return KITO_E_NOMEM;
    memset(j, 0, sizeof(*j));
    j->actor_id = r->principal.account_id;
    j->role = r->principal.role;
    kito_req_client_ip(r, j->ip);
    j->stone_id = id;
    j->photo_dir = r->server->cfg->photo_dir;
    j->mime = actual;
    j->len = len;
    memcpy(j->bytes, req->entity.base, len);
    return kito_req_db(r, photo_add_run, photo_add_done, j);
}

typedef struct photo_get_job {
    kito_err err;
    const char *photo_dir;
    char sha[KITO_SHA256_HEX_SIZE];
    char mime[16];
    char *bytes; /* malloc'd by kito_photo_read; freed in done */
    size_t len;
} photo_get_job;

/* Responds with a stored photo: content-addressed, so cacheable for a year and immutable. */
static void respond_photo(kito_req *r, int status, const char *mime, const char *sha,
                          const char *body, size_t len)
{
    kito_respond_bytes_cached(r, status, mime, "public, max-age=31536000, immutable", sha, body,
                              len);
}

static void photo_get_run(kito_db_conn *db, void *arg)
{
    photo_get_job *j = arg;
    uint64_t bytes = 0;
    j->err = kito_stone_photo_find(db, j->sha, j->mime, &bytes);
    if (j->err == KITO_OK)
        j->err = kito_photo_read(j->photo_dir, j->sha, &j->bytes, &j->len);
    if (j->err == KITO_OK && j->len != bytes)
        j->err = KITO_E_IO;
    if (j->err == KITO_E_IO)
        kito_log(NULL, "photo %s is missing or damaged under %s", j->sha, j->photo_dir);
    kito_sql_log_failure("photo get", j->err);
}

static void photo_get_done(kito_req *r, void *arg)
{
    photo_get_job *j = arg;
    if (j->err == KITO_OK)
        respond_photo(r, 200, j->mime, j->sha, j->bytes, j->len);
    else
        kito_respond_error(r, j->err == KITO_E_IO ? KITO_E_NOT_FOUND : j->err, NULL);
    free(j->bytes);
    j->bytes = NULL;
}

/* GET /v1/photos/{sha256} (public) */
kito_err kito_get_photo(kito_req *r)
{
    size_t len = 0;
    const char *sha = kito_req_param(r, "sha256", &len);
    if (!kito_photo_sha_valid(sha, len))
        return KITO_E_NOT_FOUND;
    /* A photo's name is its content: whoever holds this ETag holds these bytes. */
    ssize_t inm = h2o_find_header(&r->h2o->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (inm != -1) {
        h2o_iovec_t v = r->h2o->headers.entries[inm].value;
        if (v.len == 66 && v.base[0] == '"' && memcmp(v.base + 1, sha, 64) == 0 &&
            v.base[65] == '"') {
            char s[KITO_SHA256_HEX_SIZE];
            memcpy(s, sha, 64);
            s[64] = '\0';
            respond_photo(r, 304, NULL, s, NULL, 0);
            return KITO_OK;
        }
    }
    photo_get_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    memcpy(j->sha, sha, 64);
    j->photo_dir = r->server->cfg->photo_dir;
    return kito_req_db(r, photo_get_run, photo_get_done, j);
}

/* ---- photos sized for phones (issue 16; api/adapters/thumbs.h) ----------------------------- */

typedef struct sized_job {
    kito_err err;
    const char *photo_dir;
    char sha[KITO_SHA256_HEX_SIZE];
    uint32_t width;
    char etag[KITO_SHA256_HEX_SIZE + 8]; /* "<sha>-w160" */
    char *bytes;                         /* malloc'd; freed in done */
    size_t len;
} sized_job;

static void sized_run(kito_db_conn *db, void *arg)
{
    sized_job *j = arg;
    char mime[16];
    uint64_t bytes = 0;
    j->err = kito_stone_photo_find(db, j->sha, mime, &bytes);
    if (j->err == KITO_OK)
        j->err = kito_thumb_get(j->photo_dir, j->sha, mime, j->width, &j->bytes, &j->len);
    if (j->err == KITO_E_IO || j->err == KITO_E_VALIDATION || j->err == KITO_E_CAPACITY)
        kito_log(NULL, "photo %s: no %u px copy (%s)", j->sha, (unsigned)j->width,
                 kito_err_code(j->err));
    kito_sql_log_failure("photo sized", j->err);
}

static void sized_done(kito_req *r, void *arg)
{
    sized_job *j = arg;
    if (j->err == KITO_OK)
        respond_photo(r, 200, "image/jpeg", j->etag, j->bytes, j->len);
    else
        kito_respond_error(r, KITO_E_NOT_FOUND, NULL);
    free(j->bytes);
    j->bytes = NULL;
}

/* GET /v1/photos/{sha256}/sized/{width} (public): the photo scaled to fit width x width (160 or
 * 640) as a JPEG, made once and kept; content-addressed like the photo, so cached for a year. */
kito_err kito_get_photo_sized(kito_req *r)
{
    size_t len = 0, wlen = 0;
    const char *sha = kito_req_param(r, "sha256", &len);
    const char *ws = kito_req_param(r, "width", &wlen);
    uint32_t width = 0;
    bool digits = ws != NULL && wlen >= 1 && wlen <= 4 && ws[0] != '0'; /* "160", not "0160" */
    for (size_t i = 0; digits && i < wlen; i++) {
        digits = ws[i] >= '0' && ws[i] <= '9';
        width = width * 10 + (uint32_t)(ws[i] - '0');
    }
    if (!kito_photo_sha_valid(sha, len) || !digits || !kito_thumb_width_valid(width))
        return KITO_E_NOT_FOUND;
    sized_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    memcpy(j->sha, sha, 64);
    j->width = width;
    snprintf(j->etag, sizeof(j->etag), "%.64s-w%u", sha, (unsigned)width);
    ssize_t inm = h2o_find_header(&r->h2o->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (inm != -1) {
        h2o_iovec_t v = r->h2o->headers.entries[inm].value;
        size_t n = strlen(j->etag);
        if (v.len == n + 2 && v.base[0] == '"' && memcmp(v.base + 1, j->etag, n) == 0) {
            respond_photo(r, 304, NULL, j->etag, NULL, 0);
            free(j);
            return KITO_OK;
        }
    }
    j->photo_dir = r->server->cfg->photo_dir;
    return kito_req_db(r, sized_run, sized_done, j);
}

/* ---- certificates ---------------------------------------------------------------------------- */

typedef struct cert_job {
    kito_err err;
    kito_verr ve;
    const kito_signer *signer; /* the server's; outlives the job */
    uint64_t actor_id;
    char ip[46];
    uint64_t stone_id;
    uint64_t certificate_id;
    kito_certificate_request req; /* borrows r->body */
    json_t *out;
    int status;
} cert_job;

static void cert_done(kito_req *r, void *arg)
{
    cert_job *j = arg;
    if (j->err == KITO_OK)
        kito_respond_json(r, j->status, j->out);
    else
        respond_failure(r, j->err, &j->ve);
    j->out = NULL;
}

static void cert_issue_run(kito_db_conn *db, void *arg)
{
    cert_job *j = arg;
    j->err = kito_certificate_issue(db, j->signer, j->stone_id, &j->req, j->actor_id, j->ip,
                                    &j->certificate_id, &j->ve);
    if (j->err == KITO_OK)
        j->err = kito_certificate_read(db, j->certificate_id, &j->out);
    j->status = 201;
    kito_sql_log_failure("certificate issue", j->err);
}

static cert_job *cert_job_new(kito_req *r)
{
    cert_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->signer = r->server->signer;
    j->actor_id = r->principal.account_id;
    kito_req_client_ip(r, j->ip);
    return j;
}

/* POST /v1/stones/{id}/certificates (valuer) */
kito_err kito_post_stone_certificate(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_STONE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    kito_verr ve = {{0}};
    kito_certificate_request req;
    if (kito_certificate_request_decode(r->body, &req, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    cert_job *j = cert_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    j->req = req;
    return kito_req_db(r, cert_issue_run, cert_done, j);
}

static void cert_read_run(kito_db_conn *db, void *arg)
{
    cert_job *j = arg;
    j->err = kito_certificate_read(db, j->certificate_id, &j->out);
    j->status = 200;
    kito_sql_log_failure("certificate read", j->err);
}

static void cert_verify_run(kito_db_conn *db, void *arg)
{
    cert_job *j = arg;
    j->err = kito_certificate_verify(db, j->signer, j->certificate_id, &j->out);
    j->status = 200;
    kito_sql_log_failure("certificate verify", j->err);
}

/* GET /v1/certificates/{id} (public) */
kito_err kito_get_certificate(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_CERTIFICATE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    cert_job *j = cert_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->certificate_id = id;
    return kito_req_db(r, cert_read_run, cert_done, j);
}

/* GET /v1/certificates/{id}/verify (public) */
kito_err kito_get_certificate_verify(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_CERTIFICATE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    cert_job *j = cert_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->certificate_id = id;
    return kito_req_db(r, cert_verify_run, cert_done, j);
}

static void cert_exists_run(kito_db_conn *db, void *arg)
{
    cert_job *j = arg;
    j->err = kito_certificate_read(db, j->certificate_id, &j->out);
    json_decref(j->out); /* only whether it exists */
    j->out = NULL;
    kito_sql_log_failure("certificate qr", j->err);
}

/* The verify page a certificate's QR code opens: this server's public address (KITO_PUBLIC_HOST,
 * never the request's Host: a forged Host must not put another site in a printed code). */
static void cert_qr_done(kito_req *r, void *arg)
{
    cert_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    char id[KITO_ID_SIZE], url[KITO_QR_TEXT_MAX];
    int n = -1;
    if (kito_id_format(KITO_ID_CERTIFICATE, j->certificate_id, id, sizeof(id)) == KITO_OK)
        n = snprintf(url, sizeof(url), "https://%s/verify.html?id=%s", r->server->cfg->public_host,
                     id);
    size_t len = 0;
    char *svg = n > 0 && (size_t)n < sizeof(url) ? kito_qr_svg(url, &len) : NULL;
    if (svg == NULL) {
        kito_respond_error(r, KITO_E_INTERNAL, NULL);
        return;
    }
    /* a certificate never changes, nor does its code while the public address stays */
    kito_respond_bytes_cached(r, 200, "image/svg+xml", "public, max-age=86400", NULL, svg, len);
    free(svg);
}

/* GET /v1/certificates/{id}/qr.svg (public): the QR code of the certificate's verify page, for
 * its printable page (issue 17). */
kito_err kito_get_certificate_qr_svg(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_CERTIFICATE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    cert_job *j = cert_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->certificate_id = id;
    return kito_req_db(r, cert_exists_run, cert_qr_done, j);
}

/* GET /.well-known/kito-signing-key.pem (public): the SPKI PEM `openssl pkeyutl -verify -pubin`
 * reads. No MySQL: the key is in memory. */
kito_err kito_get_signing_key_pem(kito_req *r)
{
    char pem[KITO_ED25519_PUB_PEM_SIZE];
    kito_err e = kito_crypto_signer_public_pem(r->server->signer, pem, sizeof(pem));
    if (e != KITO_OK)
        return e;
    kito_respond_bytes(r, 200, "application/x-pem-file", pem, strlen(pem));
    return KITO_OK;
}

static void keys_run(kito_db_conn *db, void *arg)
{
    cert_job *j = arg;
    j->err = kito_signing_keys_list(db, j->signer, &j->out);
    j->status = 200;
    kito_sql_log_failure("signing keys", j->err);
}

/* GET /.well-known/kito-keys.json (public): {key_id: base64 public key} for every key that ever
 * signed, so certificates of a retired key still verify offline. */
kito_err kito_get_signing_keys(kito_req *r)
{
    cert_job *j = cert_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    return kito_req_db(r, keys_run, cert_done, j);
}

/* ---- provenance ------------------------------------------------------------------------------ */

typedef struct prov_job {
    kito_err err;
    uint64_t stone_id;
    json_t *out;
} prov_job;

static json_t *render_provenance(uint64_t stone_id, const kito_provenance_list *l)
{
    json_t *events = json_array();
    for (size_t i = 0; events != NULL && i < l->count; i++) {
        const kito_provenance_event *ev = &l->events[i];
        json_t *o = json_pack(
            "{s:o, s:I, s:s, s:O, s:s, s:s, s:o, s:o}", "id", kito_render_id(KITO_ID_EVENT, ev->id),
            "seq", (json_int_t)ev->seq, "kind", ev->kind, "payload",
            ev->payload != NULL ? ev->payload : json_null(), "prev_hash", ev->prev_hash, "hash",
            ev->hash, "actor_id",
            ev->actor_id != 0 ? kito_render_id(KITO_ID_ACCOUNT, ev->actor_id) : json_null(), "at",
            kito_render_time(ev->at_ms));
        if (o == NULL || json_array_append_new(events, o) != 0) {
            json_decref(events);
            return NULL;
        }
    }
    return json_pack("{s:o, s:o, s:b, s:o}", "stone_id", kito_render_id(KITO_ID_STONE, stone_id),
                     "events", events, "intact", l->check.intact, "broken_at_seq",
                     l->check.intact ? json_null() : json_integer(l->check.broken_at_seq));
}

static void prov_run(kito_db_conn *db, void *arg)
{
    prov_job *j = arg;
    bool found = false;
    j->err = kito_stone_exists(db, j->stone_id, &found);
    if (j->err == KITO_OK && !found)
        j->err = KITO_E_NOT_FOUND;
    if (j->err != KITO_OK) {
        kito_sql_log_failure("provenance", j->err);
        return;
    }
    kito_provenance_list l;
    j->err = kito_sql_log_failure("provenance", kito_provenance_list_read(db, j->stone_id, &l));
    if (j->err != KITO_OK)
        return;
    j->out = render_provenance(j->stone_id, &l);
    kito_provenance_list_free(&l);
    if (j->out == NULL)
        j->err = KITO_E_NOMEM;
    kito_sql_log_failure("provenance", j->err);
}

static void prov_done(kito_req *r, void *arg)
{
    prov_job *j = arg;
    if (j->err == KITO_OK) {
        kito_respond_json(r, 200, j->out);
        j->out = NULL;
    } else {
        kito_verr none = {{0}};
        respond_failure(r, j->err, &none);
    }
}

/* GET /v1/stones/{id}/provenance (public) */
kito_err kito_get_stone_provenance(kito_req *r)
{
    uint64_t id;
    if (kito_req_path_id(r, "id", KITO_ID_STONE, &id) != KITO_OK)
        return KITO_E_NOT_FOUND;
    prov_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    return kito_req_db(r, prov_run, prov_done, j);
}
