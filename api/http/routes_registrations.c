/*
 * A buyer's registration for a sale and the organiser's approvals over HTTPS (issue 4): register,
 * standing, approve (paddle, spending limit), revoke, the organiser's list. Thin handlers; the
 * shared job and renderers are api/http/sales_kit.h's. Approve and revoke drop the bidding
 * cache's entry at once (api/live/bidding.h).
 */
#include "api/http/sales_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"
#include "api/live/bidding.h"
#include "api/live/withdrawals.h"
#include "api/http/json.h"
#include "api/common/query.h"
#include "api/common/render.h"
#include "api/store/repo_lots.h"
#include "api/store/repo_registrations.h"
#include "api/store/repo_sales.h"
#include "api/http/req_db.h"
#include "api/store/sql.h"
#include "api/store/worker_pool.h"
#include "api/http/request.h"
#include "api/http/routes.h"
#include "api/http/server.h"

/* ---- registrations and approvals ------------------------------------------------------------- */

static void done_registration(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err != KITO_OK)
        kito__sales_respond_job_err(r, j);
    else
        kito_respond_json(r, j->created ? 201 : 200, kito__render_registration(&j->reg));
}

static void run_register(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_registrations_register(db, &j->actor, j->id, &j->reg, &j->created, &j->ve);
    kito_sql_log_failure("sale register", j->err);
}

/* POST /v1/sales/{id}/registrations (buyer): asks to bid; idempotent (201 first, then 200). */
kito_err kito_post_sale_registrations(kito_req *r)
{
    if (!kito__sales_empty_body(r))
        return KITO_OK;
    return kito__sales_sale_job(r, run_register, done_registration);
}

static void run_standing(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_registrations_standing(db, &j->actor, j->id, &j->reg);
    kito_sql_log_failure("sale standing", j->err);
}

/* GET /v1/sales/{id}/approval (buyer): her own standing in the sale. */
kito_err kito_get_sale_approval(kito_req *r)
{
    return kito__sales_sale_job(r, run_standing, done_registration);
}

static const kito_field approval_fields[] = {
    {"buyer_id", KITO_FT_STRING, .required = true, .max = 32},
    {"paddle_number", KITO_FT_INTEGER, .nullable = true},
    {"limit", KITO_FT_INTEGER, .nullable = true},
};
static const kito_shape approval_shape = {approval_fields, COUNT(approval_fields)};

/* {"buyer_id", "paddle_number"?, "limit"? (null removes it)}. */
static kito_err decode_approval(const json_t *body, kito_approval_input *out, kito_verr *ve)
{
    int64_t paddle = 0;
    if (kito_validate_object(body, &approval_shape, ve) != KITO_OK ||
        kito_validate_id("buyer_id", KITO_ID_ACCOUNT,
                         json_string_value(json_object_get(body, "buyer_id")), &out->buyer_id,
                         ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *v = json_object_get(body, "paddle_number");
    if (v != NULL && !json_is_null(v) &&
        kito_validate_int("paddle_number", v, 1, KITO_PADDLE_MAX, &paddle, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    out->paddle_number = (uint32_t)paddle;
    v = json_object_get(body, "limit");
    out->has_limit = v != NULL;
    out->limit_minor = 0;
    if (v != NULL && !json_is_null(v) &&
        kito_validate_amount("limit", v, &out->limit_minor, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    return KITO_OK;
}

static void run_approve(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_registrations_approve(db, &j->actor, j->id, &j->approval, &j->reg, &j->created,
                                        &j->ve);
    kito_sql_log_failure("sale approve", j->err);
}

/* The bidding code caches approvals (api/live/bidding.h): a change made here takes effect at once.
 */
static void done_approved(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err == KITO_OK)
        kito_bidding_approval_forget(r->server->bidding, j->id, j->approval.buyer_id);
    done_registration(r, arg);
}

/* POST /v1/sales/{id}/approvals (owner): approve (201) or update (200) a buyer's approval. */
kito_err kito_post_sale_approvals(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_req_path_id(r, "id", KITO_ID_SALE, &j->id);
    if (e == KITO_OK && decode_approval(r->body, &j->approval, &j->ve) != KITO_OK)
        e = KITO_E_VALIDATION;
    if (e != KITO_OK)
        return kito__sales_refuse(r, e, j);
    return kito__sales_submit(r, run_approve, done_approved, j);
}

static void run_revoke(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    j->err = kito_registrations_revoke(db, &j->actor, j->id, j->buyer_id, &j->ve);
    kito_sql_log_failure("sale revoke", j->err);
}

static void done_revoke(kito_req *r, void *arg)
{
    kito__sales_job *j = arg;
    if (j->err != KITO_OK) {
        kito__sales_respond_job_err(r, j);
    } else {
        kito_bidding_approval_forget(r->server->bidding, j->id, j->buyer_id); /* issue 5 */
        kito_respond_bytes(r, 204, KITO_JSON_CONTENT_TYPE, "", 0);
    }
}

/* DELETE /v1/sales/{id}/approvals/{buyer_id} (owner): revoke, or decline a pending request. */
kito_err kito_delete_sale_approval(kito_req *r)
{
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK ||
        kito_req_path_id(r, "buyer_id", KITO_ID_ACCOUNT, &j->buyer_id) != KITO_OK) {
        kito__sales_job_free(j);
        return KITO_E_NOT_FOUND;
    }
    return kito__sales_submit(r, run_revoke, done_revoke, j);
}

static kito_err registration_item(void *ud, uint64_t row_id, const kito_registration *row)
{
    kito__sales_job *j = ud;
    if (kito__sales_page_take(j, 0, row_id) &&
        json_array_append_new(j->items, kito__render_registration(row)) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

static void run_registrations(kito_db_conn *db, void *arg)
{
    kito__sales_job *j = arg;
    kito_registrations_filter f = {
        .status = j->status,
        .has_after = j->has_after,
        .after_id = j->after.id,
        .limit = j->limit,
    };
    j->items = json_array();
    j->err = j->items != NULL
                 ? kito_registrations_list(db, &j->actor, j->id, &f, registration_item, j)
                 : KITO_E_NOMEM;
    kito_sql_log_failure("sale registrations", j->err);
}

/* GET /v1/sales/{id}/registrations (owner): pending and approved buyers (filter status). */
kito_err kito_get_sale_registrations(kito_req *r)
{
    static const char *const allowed[] = {"status", "cursor", "limit", NULL};
    static const char *const statuses[] = {"pending", "approved", "declined", "revoked", NULL};
    kito__sales_job *j = kito__sales_job_new(r);
    if (j == NULL)
        return KITO_E_NOMEM;
    if (kito_req_path_id(r, "id", KITO_ID_SALE, &j->id) != KITO_OK) {
        kito__sales_job_free(j);
        return KITO_E_NOT_FOUND;
    }
    if (!kito__sales_page_query(r, j, allowed, "sale_registrations") ||
        !kito__sales_query_enum(r, j, "status", statuses, &j->status)) {
        kito__sales_job_free(j);
        return KITO_OK;
    }
    return kito__sales_submit(r, run_registrations, kito__sales_done_list, j);
}
