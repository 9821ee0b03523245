/*
 * Consent over HTTPS (issue 15; DESIGN.md, "Consent"): a miner, or the valuer who listed her
 * stone, offers it to an organiser or a sale and may withdraw the offer; an organiser lists the
 * stones offered to her, from which her console adds lots (POST /v1/sales/{id}/lots refuses any
 * other stone: api/store/repo_lots.h). Thin handlers (CONVENTIONS.md, 10): decode here, run
 * api/store/repo_offers.c (and api/store/repo_stones.c's list) on a MySQL worker (api/req_db.h),
 * answer on the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/query.h"
#include "api/common/render.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/store/repo_offers.h"
#include "api/store/repo_stones.h"
#include "api/store/sql.h"

/* Everything one request needs on the worker and back on the loop; freed by job_free. */
typedef struct offer_job {
    kito_actor actor; /* actor.ip points into ip */
    char ip[46];
    uint64_t stone_id;
    uint64_t offer_id;
    kito_offer_input in;
    kito_err err;
    kito_verr ve;
    bool created;
    json_t *out; /* owned until rendered: one offer, or a page's items */
    /* lists */
    const uint8_t *cursor_key; /* the server's; outlives the job */
    const char *scope;         /* the list's cursor scope (static storage) */
    bool has_after;
    kito_cursor after;
    uint32_t limit;
    bool more;
    kito_cursor next;
} offer_job;

static offer_job *job_new(kito_req *r)
{
    offer_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->actor.account_id = r->principal.account_id;
    j->actor.role = r->principal.role;
    kito_req_client_ip(r, j->ip);
    j->actor.ip = strcmp(j->ip, "-") != 0 ? j->ip : NULL;
    j->cursor_key = r->server->cursor_key;
    return j;
}

static void job_free(void *arg)
{
    offer_job *j = arg;
    if (j == NULL)
        return;
    json_decref(j->out);
    free(j);
}

/* A repository's refusal: validation with its field, the rules' refusals with their sentence;
 * ours with the stock message (the worker logged the detail: kito_sql_log_failure). */
static void respond_failure(kito_req *r, const offer_job *j)
{
    char msg[KITO_VERR_FIELD_SIZE + KITO_VERR_REASON_SIZE + 4];
    if (j->err == KITO_E_VALIDATION) {
        kito_respond_invalid(r, &j->ve);
        return;
    }
    if (j->err == KITO_E_DB || j->err == KITO_E_INTERNAL || j->err == KITO_E_UNAVAILABLE ||
        j->err == KITO_E_NOMEM || j->err == KITO_E_IO || j->ve.reason[0] == '\0') {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    if (j->ve.field[0] != '\0')
        snprintf(msg, sizeof(msg), "%s: %s", j->ve.field, j->ve.reason);
    else
        snprintf(msg, sizeof(msg), "%s", j->ve.reason);
    kito_respond_error(r, j->err, msg);
}

/* Reads ?cursor= and ?limit= (nothing else) for list scope into j; false (and 422 answered) on a
 * bad query. */
static bool page_query(kito_req *r, offer_job *j, const char *scope)
{
    static const char *const allowed[] = {"cursor", "limit", NULL};
    kito_query q;
    kito_verr ve = {{0}};
    const char *v;
    int64_t limit = 0;
    kito_err e = kito_req_query(r, allowed, &q, &ve);
    if (e == KITO_OK)
        e = kito_query_get_int(&q, "limit", 1, KITO_OFFER_PAGE_MAX, KITO_OFFER_PAGE_DEFAULT, &limit,
                               &ve);
    if (e == KITO_OK && (v = kito_query_get(&q, "cursor")) != NULL) {
        e = kito_query_cursor_decode(j->cursor_key, scope, v, &j->after, &ve);
        j->has_after = e == KITO_OK;
    }
    if (e != KITO_OK) {
        kito_respond_invalid(r, &ve);
        return false;
    }
    j->scope = scope;
    j->limit = (uint32_t)limit;
    return true;
}

static void done_offer(kito_req *r, void *arg)
{
    offer_job *j = arg;
    if (j->err != KITO_OK) {
        respond_failure(r, j);
        return;
    }
    kito_respond_json(r, j->created ? 201 : 200, j->out);
    j->out = NULL;
}

static void done_page(kito_req *r, void *arg)
{
    offer_job *j = arg;
    if (j->err != KITO_OK) {
        respond_failure(r, j);
        return;
    }
    char cursor[KITO_CURSOR_SIZE];
    bool has_cursor =
        j->more && kito_query_cursor_encode(j->cursor_key, j->scope, j->next, cursor) == KITO_OK;
    kito_respond_json(r, 200, kito_render_page(j->out, has_cursor ? cursor : NULL));
    j->out = NULL;
}

/* ---- a stone's offers ------------------------------------------------------------------------ */

static void run_offer_make(kito_db_conn *db, void *arg)
{
    offer_job *j = arg;
    j->err = kito_offers_make(db, &j->actor, j->stone_id, &j->in, &j->created, &j->out, &j->ve);
    kito_sql_log_failure("offer", j->err);
}

/* POST /v1/stones/{id}/offers (the miner, her listing valuer): 201 new, 200 the same live offer
 * again; 403, 404, 409, 422. */
kito_err kito_post_stone_offers(kito_req *r)
{
    uint64_t id;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_STONE, &id);
    if (e != KITO_OK)
        return e;
    kito_verr ve = {{0}};
    kito_offer_input in;
    if (kito_offer_decode(r->body, &in, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    offer_job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    j->in = in;
    return kito_req_db_owned(r, run_offer_make, done_offer, job_free, j);
}

static void run_offer_list(kito_db_conn *db, void *arg)
{
    offer_job *j = arg;
    j->err = kito_offers_list(db, &j->actor, j->stone_id, j->has_after ? &j->after : NULL, j->limit,
                              &j->out, &j->more, &j->next);
    kito_sql_log_failure("offer list", j->err);
}

/* GET /v1/stones/{id}/offers (the miner, her listing valuer, operators: all; an organiser: the
 * ones made to her), newest first, paginated. */
kito_err kito_get_stone_offers(kito_req *r)
{
    uint64_t id;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_STONE, &id);
    if (e != KITO_OK)
        return e;
    offer_job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    if (!page_query(r, j, "offers")) {
        job_free(j);
        return KITO_OK;
    }
    return kito_req_db_owned(r, run_offer_list, done_page, job_free, j);
}

static void run_offer_withdraw(kito_db_conn *db, void *arg)
{
    offer_job *j = arg;
    j->err = kito_offers_withdraw(db, &j->actor, j->stone_id, j->offer_id, &j->out, &j->ve);
    kito_sql_log_failure("offer withdrawal", j->err);
}

/* DELETE /v1/stones/{id}/offers/{offer_id} (the miner, her listing valuer): 200 with the
 * withdrawn offer (also when it already was); 403, 404, 409 while the stone is in a lot. */
kito_err kito_delete_stone_offer(kito_req *r)
{
    uint64_t id, offer_id;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_STONE, &id);
    if (e == KITO_OK)
        e = kito_req_path_id(r, "offer_id", KITO_ID_OFFER, &offer_id);
    if (e != KITO_OK)
        return e;
    offer_job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    j->stone_id = id;
    j->offer_id = offer_id;
    return kito_req_db_owned(r, run_offer_withdraw, done_offer, job_free, j);
}

/* ---- an organiser's offered stones ----------------------------------------------------------- */

static void run_offered_stones(kito_db_conn *db, void *arg)
{
    offer_job *j = arg;
    kito_stone_filter f = {
        .offered_to = j->actor.account_id,
        .after_given = j->has_after,
        .after = j->after,
        .limit = j->limit,
    };
    j->err = kito_stone_list(db, &f, &j->out, &j->more, &j->next);
    if (j->err == KITO_OK)
        j->err = kito_offers_attach(db, j->actor.account_id, j->out);
    kito_sql_log_failure("offered stones", j->err);
}

/* GET /v1/me/offered-stones (organiser): the certified stones offered to her or to one of her
 * draft sales that can go into a lot now, newest first, each with those offers. */
kito_err kito_get_me_offered_stones(kito_req *r)
{
    offer_job *j = job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (!page_query(r, j, "offered_stones")) {
        job_free(j);
        return KITO_OK;
    }
    return kito_req_db_owned(r, run_offered_stones, done_page, job_free, j);
}
