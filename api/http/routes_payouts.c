/*
 * Payout endpoints (issue 7): the provider's result callback, a miner's payouts, one payout.
 * Thin: parse -> api/money/payouts.h through kito_req_db -> render.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"
#include "api/common/config.h"
#include "api/adapters/mpesa.h"
#include "api/money/payouts.h"
#include "api/common/query.h"
#include "api/common/render.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/common/validate.h"

#define PAGE_MAX 100

static void respond_verr(kito_req *r, const kito_verr *ve)
{
    char msg[KITO_VERR_FIELD_SIZE + KITO_VERR_REASON_SIZE + 4];
    snprintf(msg, sizeof(msg), "%s: %s", ve->field, ve->reason);
    kito_respond_error(r, KITO_E_VALIDATION, msg);
}

/* The request's query string (without '?'), or NULL. */
static const char *query_string(kito_req *r, size_t *len)
{
    *len = 0;
    if (r->h2o->query_at == SIZE_MAX)
        return NULL;
    *len = r->h2o->path.len - r->h2o->query_at - 1;
    return r->h2o->path.base + r->h2o->query_at + 1;
}

/* ---- rendering ------------------------------------------------------------------------------- */

static json_t *render_payout(const kito_payout *p)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "id", kito_render_id(KITO_ID_PAYOUT, p->id));
    bad |= json_object_set_new(o, "settlement_id", kito_render_id("stl", p->settlement_id));
    bad |= json_object_set_new(o, "miner_id", kito_render_id(KITO_ID_ACCOUNT, p->miner_id));
    bad |= json_object_set_new(o, "state", json_string(p->state));
    bad |= json_object_set_new(o, "rail", json_string(p->rail));
    bad |= json_object_set_new(o, "msisdn", json_string(p->msisdn));
    bad |= json_object_set_new(o, "amount", kito_render_money(p->amount_minor, p->currency));
    bad |= json_object_set_new(o, "paid_units", json_integer(p->paid_units));
    bad |= json_object_set_new(o, "remainder", kito_render_money(p->remainder_minor, p->currency));
    bad |= json_object_set_new(o, "source", kito_render_money(p->source_minor, p->source_currency));
    bad |= json_object_set_new(o, "exchange_rate",
                               json_pack("{s:s, s:s, s:I}", "from", p->source_currency, "to",
                                         p->currency, "rate_micros", (json_int_t)p->rate_micros));
    bad |= json_object_set_new(o, "attempts", json_integer(p->attempts));
    bad |= json_object_set_new(o, "created_at", kito_render_time(p->created_ms));
    bad |= json_object_set_new(o, "updated_at", kito_render_time(p->updated_ms));
    bad |= json_object_set_new(
        o, "succeeded_at", p->succeeded_ms != 0 ? kito_render_time(p->succeeded_ms) : json_null());
    /* why a pending payout is not sent yet (issue 15, finding 5), for her and the operator */
    json_t *hold = json_null();
    if (p->held_until_ms != 0 && strcmp(p->state, "pending") == 0)
        hold = json_pack("{s:s, s:o, s:s}", "reason", "wallet_changed", "until",
                         kito_render_time(p->held_until_ms), "detail",
                         "the payout wallet was changed lately; payouts to the new wallet wait "
                         "until the hold ends");
    bad |= json_object_set_new(o, "hold", hold);
    if (bad != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *text_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *render_attempt(const kito_payout_attempt *a)
{
    return json_pack(
        "{s:i, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "attempt_no", (int)a->attempt_no,
        "originator_conversation_id", a->originator_conversation_id, "conversation_id",
        text_or_null(a->conversation_id), "state", a->state, "result_code",
        text_or_null(a->result_code), "result_desc", text_or_null(a->result_desc), "transaction_id",
        text_or_null(a->transaction_id), "created_at", kito_render_time(a->created_ms),
        "updated_at", kito_render_time(a->updated_ms));
}

/* ---- POST /v1/payouts/callbacks/mpesa ------------------------------------------------------- */

typedef struct callback_job {
    kito_mpesa_result res;
    kito_payout_outcome outcome;
    kito_err err;
} callback_job;

static void run_callback(kito_db_conn *db, void *arg)
{
    callback_job *j = arg;
    j->err = kito_payout_apply_result(db, &j->res, &j->outcome);
}

static void done_callback(kito_req *r, void *arg)
{
    callback_job *j = arg;
    if (j->err != KITO_OK) {
        /* not recorded: a 503 makes the provider deliver it again */
        kito_log("payouts", "callback for %s not applied: %s", j->res.originator_conversation_id,
                 kito_err_code(j->err));
        kito_respond_error(r, j->err == KITO_E_CONFLICT ? KITO_E_UNAVAILABLE : j->err, NULL);
        return;
    }
    if (j->outcome == KITO_PAYOUT_UNKNOWN_ATTEMPT)
        kito_log("payouts",
                 "callback for unknown OriginatorConversationID %s: "
                 "ignored",
                 j->res.originator_conversation_id);
    /* Daraja's acknowledgement; the same for a duplicate or an unknown id (nothing changed) */
    kito_respond_json(r, 200, json_pack("{s:i, s:s}", "ResultCode", 0, "ResultDesc", "Accepted"));
}

/* POST /v1/payouts/callbacks/mpesa (public; authenticated by ?token=, KITO_MPESA_CALLBACK_TOKEN,
 * compared in constant time): a B2C result. 200 {"ResultCode":0,"ResultDesc":"Accepted"} once
 * recorded (also for a duplicate, and for an OriginatorConversationID we do not know: ignored and
 * logged); 401 for a missing or wrong token (nothing read, nothing changed); 400 for a body that
 * is not a result; 503 when it could not be recorded (the provider retries). */
kito_err kito_post_payouts_callback_mpesa(kito_req *r)
{
    size_t qlen;
    const char *qs = query_string(r, &qlen);
    kito_query q;
    kito_verr ve = {{0}};
    const char *token = NULL;
    if (kito_query_parse(qs, qlen, &q, &ve) == KITO_OK)
        token = kito_query_get(&q, "token");
    if (!kito_mpesa_token_equal(r->server->cfg->mpesa_callback_token, token,
                                token != NULL ? strlen(token) : 0)) {
        kito_log("payouts", "callback from %s refused: bad token", r->remote);
        kito_respond_error(r, KITO_E_UNAUTHORIZED, "the callback token is missing or wrong");
        return KITO_OK;
    }
    callback_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    char why[200] = "";
    if (kito_mpesa_result_from_json(r->body, &j->res, why, sizeof(why)) != KITO_OK) {
        free(j);
        kito_respond_error(r, KITO_E_BAD_REQUEST, why);
        return KITO_OK;
    }
    return kito_req_db(r, run_callback, done_callback, j);
}

/* ---- POST|PUT /v1/payouts/callbacks/momo -------------------------------------------------- */

typedef struct rail_callback_job {
    kito_rail_result res;
    kito_payout_outcome outcome;
    kito_err err;
} rail_callback_job;

static void run_rail_callback(kito_db_conn *db, void *arg)
{
    rail_callback_job *j = arg;
    j->err = kito_payout_apply_rail_result(db, &j->res, &j->outcome);
}

static void done_rail_callback(kito_req *r, void *arg)
{
    rail_callback_job *j = arg;
    if (j->err != KITO_OK) {
        kito_log("payouts", "MoMo callback for %s not applied: %s (the status enquiry follows)",
                 j->res.reference, kito_err_code(j->err));
        kito_respond_error(r, j->err == KITO_E_CONFLICT ? KITO_E_UNAVAILABLE : j->err, NULL);
        return;
    }
    if (j->outcome == KITO_PAYOUT_UNKNOWN_ATTEMPT)
        kito_log("payouts", "MoMo callback for unknown reference %s: ignored", j->res.reference);
    kito_respond_json(r, 200, json_pack("{s:s}", "status", "accepted"));
}

/* POST or PUT /v1/payouts/callbacks/momo?token=&ref= (public; authenticated by ?token=,
 * KITO_MOMO_CALLBACK_TOKEN, compared in constant time): MTN MoMo's transfer result, its body the
 * status document (api/adapters/rail_momo.c), ref the X-Reference-Id Kito put in the
 * X-Callback-Url. A final result goes through the state machine like a status answer (a
 * duplicate or late one changes nothing; one that disagrees is held); PENDING is acknowledged
 * and ignored. 200 {"status":"accepted"}; 401 for a missing or wrong token (nothing read); 400
 * for no ref or a body that is not a status document; 503 when it could not be recorded (MTN
 * does not retry: the status enquiry resolves it). */
kito_err kito_post_payouts_callback_momo(kito_req *r)
{
    size_t qlen;
    const char *qs = query_string(r, &qlen);
    kito_query q;
    kito_verr ve = {{0}};
    const char *token = NULL, *ref = NULL;
    if (kito_query_parse(qs, qlen, &q, &ve) == KITO_OK) {
        token = kito_query_get(&q, "token");
        ref = kito_query_get(&q, "ref");
    }
    if (!kito_mpesa_token_equal(r->server->cfg->momo_callback_token, token,
                                token != NULL ? strlen(token) : 0)) {
        kito_log("payouts", "MoMo callback from %s refused: bad token", r->remote);
        kito_respond_error(r, KITO_E_UNAUTHORIZED, "the callback token is missing or wrong");
        return KITO_OK;
    }
    if (ref == NULL || ref[0] == '\0' || strlen(ref) >= KITO_RAIL_REF_SIZE) {
        kito_respond_error(r, KITO_E_BAD_REQUEST, "ref (the transfer's X-Reference-Id) is missing");
        return KITO_OK;
    }
    char *text = r->body != NULL ? json_dumps(r->body, JSON_COMPACT) : NULL;
    rail_callback_job *j = text != NULL ? calloc(1, sizeof(*j)) : NULL;
    if (j == NULL) {
        free(text);
        return r->body != NULL ? KITO_E_NOMEM
                               : (kito_respond_error(r, KITO_E_BAD_REQUEST, "no body"), KITO_OK);
    }
    kito_rail_status st = kito_rail_momo.parse_status(200, text, strlen(text), ref, &j->res);
    free(text);
    if (st == KITO_RAIL_STATUS_PENDING) {
        free(j);
        kito_respond_json(r, 200, json_pack("{s:s}", "status", "accepted"));
        return KITO_OK;
    }
    if (st != KITO_RAIL_STATUS_FINAL) {
        free(j);
        kito_respond_error(r, KITO_E_BAD_REQUEST, "the body is not a MoMo transfer status");
        return KITO_OK;
    }
    return kito_req_db(r, run_rail_callback, done_rail_callback, j);
}

/* ---- GET /v1/me/payouts -----------------------------------------------------------------------
 */

typedef struct list_job {
    uint64_t miner_id;
    uint64_t after;
    uint32_t limit;
    char state[17];
    json_t *items;
    uint64_t last_id;
    size_t seen;
    kito_err err;
} list_job;

static kito_err on_list_item(void *ud, const kito_payout *p)
{
    list_job *j = ud;
    j->seen++;
    if (j->seen > j->limit)
        return KITO_OK; /* the one extra row says there is a next page */
    j->last_id = p->id;
    return json_array_append_new(j->items, render_payout(p)) == 0 ? KITO_OK : KITO_E_NOMEM;
}

static void run_list(kito_db_conn *db, void *arg)
{
    list_job *j = arg;
    j->items = json_array();
    j->err = j->items == NULL ? KITO_E_NOMEM
                              : kito_payout_list(db, j->miner_id, j->state[0] ? j->state : NULL,
                                                 j->after, j->limit + 1, on_list_item, j);
}

static void done_list(kito_req *r, void *arg)
{
    list_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    char cursor[KITO_CURSOR_SIZE];
    const char *next = NULL;
    if (j->seen > j->limit &&
        kito_query_cursor_encode(r->server->cursor_key, "me_payouts", (kito_cursor){0, j->last_id},
                                 cursor) == KITO_OK)
        next = cursor;
    kito_respond_json(r, 200, kito_render_page(j->items, next));
    j->items = NULL; /* the page took it */
}

static void list_job_free(void *arg)
{
    list_job *j = arg;
    json_decref(j->items);
    free(j);
}

/* GET /v1/me/payouts (miner): her payouts, id order; ?state=, ?cursor=, ?limit= (1..100). */
kito_err kito_get_me_payouts(kito_req *r)
{
    static const char *const allowed[] = {"state", "cursor", "limit", NULL};
    static const char *const states[] = {"pending", "submitted", "succeeded",
                                         "failed",  "anomaly",   NULL};
    size_t qlen;
    const char *qs = query_string(r, &qlen);
    kito_query q;
    kito_verr ve = {{0}};
    kito_cursor c = {0, 0};
    int64_t limit = 20;
    kito_err e = kito_query_parse(qs, qlen, &q, &ve);
    if (e == KITO_OK)
        e = kito_query_check_allowed(&q, allowed, &ve);
    if (e == KITO_OK)
        e = kito_query_get_int(&q, "limit", 1, PAGE_MAX, 20, &limit, &ve);
    const char *state = e == KITO_OK ? kito_query_get(&q, "state") : NULL;
    if (e == KITO_OK && state != NULL)
        e = kito_validate_enum("state", state, states, NULL, &ve);
    const char *cursor = e == KITO_OK ? kito_query_get(&q, "cursor") : NULL;
    if (e == KITO_OK && cursor != NULL)
        e = kito_query_cursor_decode(r->server->cursor_key, "me_payouts", cursor, &c, &ve);
    if (e != KITO_OK) {
        respond_verr(r, &ve);
        return KITO_OK;
    }
    list_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->miner_id = r->principal.account_id;
    j->after = c.id;
    j->limit = (uint32_t)limit;
    if (state != NULL)
        snprintf(j->state, sizeof(j->state), "%s", state);
    return kito_req_db_owned(r, run_list, done_list, list_job_free, j);
}

/* ---- GET /v1/payouts/{id} -------------------------------------------------------------------- */

typedef struct get_job {
    uint64_t id;
    kito_payout p;
    json_t *attempts;
    kito_err err;
} get_job;

static kito_err on_attempt(void *ud, const kito_payout_attempt *a)
{
    get_job *j = ud;
    return json_array_append_new(j->attempts, render_attempt(a)) == 0 ? KITO_OK : KITO_E_NOMEM;
}

static void run_get(kito_db_conn *db, void *arg)
{
    get_job *j = arg;
    j->attempts = json_array();
    j->err = j->attempts == NULL ? KITO_E_NOMEM : kito_payout_get(db, j->id, &j->p, on_attempt, j);
}

static void done_get(kito_req *r, void *arg)
{
    get_job *j = arg;
    /* a miner sees her own payouts only; another's is "not found", not "forbidden" */
    if (j->err == KITO_OK && r->principal.role == KITO_ROLE_MINER &&
        j->p.miner_id != r->principal.account_id)
        j->err = KITO_E_NOT_FOUND;
    if (j->err != KITO_OK) {
        kito_respond_error(r, j->err, NULL);
        return;
    }
    json_t *o = render_payout(&j->p);
    if (o != NULL)
        json_object_set(o, "attempt_list", j->attempts);
    kito_respond_json(r, 200, o);
}

static void get_job_free(void *arg)
{
    get_job *j = arg;
    json_decref(j->attempts);
    free(j);
}

/* GET /v1/payouts/{id} (operator; the miner herself): the payout and its attempts. 404. */
kito_err kito_get_payout(kito_req *r)
{
    uint64_t key;
    if (kito_req_path_id(r, "id", KITO_ID_PAYOUT, &key) != KITO_OK)
        return KITO_E_NOT_FOUND;
    get_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->id = key;
    return kito_req_db_owned(r, run_get, done_get, get_job_free, j);
}
