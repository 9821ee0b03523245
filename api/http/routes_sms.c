/*
 * POST /v1/sms/callbacks/delivery: Africa's Talking's SMS delivery reports (issue 18;
 * api/adapters/africastalking.h): a form POST with id (the messageId the send returned),
 * status (Success, Failed, Rejected, Sent, Submitted, Buffered), phoneNumber, networkCode,
 * failureReason. Authenticated by ?token= (KITO_SMS_CALLBACK_TOKEN, constant time; the access log
 * masks `token` values). Thin: parse, then api/store/repo_sms.h on a worker. A duplicate report,
 * or one for an id Kito never sent, changes nothing and is acknowledged so the gateway stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/common/log.h"
#include "api/common/query.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/store/repo_sms.h"
#include "api/store/sql.h"

typedef struct report_job {
    char id[64];
    char status[40];
    char reason[160];
    bool known;
    kito_err err;
} report_job;

static void run_report(kito_db_conn *db, void *arg)
{
    report_job *j = arg;
    j->err = kito_sql_log_failure("sms report",
                                  kito_sms_report(db, j->id, j->status, j->reason, &j->known));
}

static void done_report(kito_req *r, void *arg)
{
    report_job *j = arg;
    if (j->err != KITO_OK) {
        kito_respond_error(r, KITO_E_UNAVAILABLE, NULL); /* the gateway delivers it again */
        return;
    }
    if (!j->known)
        kito_log("sms", "delivery report for unknown message %s: ignored", j->id);
    kito_respond_json(r, 200, json_pack("{s:b}", "received", 1));
}

/* POST /v1/sms/callbacks/delivery (public; ?token=): 200 {"received": true}; 401; 400. */
kito_err kito_post_sms_delivery(kito_req *r)
{
    kito_query q;
    kito_verr ve = {{0}};
    h2o_req_t *req = r->h2o;
    const char *token = NULL;
    if (req->query_at != SIZE_MAX &&
        kito_query_parse(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, &q,
                         &ve) == KITO_OK)
        token = kito_query_get(&q, "token");
    const char *want = r->server->cfg->sms_callback_token;
    size_t n = strlen(want);
    if (n == 0 || token == NULL || strlen(token) != n || CRYPTO_memcmp(want, token, n) != 0) {
        kito_log("sms", "delivery report from %s refused: bad token", r->remote);
        kito_respond_error(r, KITO_E_UNAUTHORIZED, "the callback token is missing or wrong");
        return KITO_OK;
    }
    if (kito_query_parse(req->entity.base, req->entity.len, &q, &ve) != KITO_OK) {
        kito_respond_error(r, KITO_E_BAD_REQUEST, "the body must be the gateway's form");
        return KITO_OK;
    }
    const char *id = kito_query_get(&q, "id");
    const char *status = kito_query_get(&q, "status");
    const char *reason = kito_query_get(&q, "failureReason");
    if (id == NULL || status == NULL || id[0] == 0 || strlen(id) >= 64 || strlen(status) >= 40) {
        kito_respond_error(r, KITO_E_BAD_REQUEST, "id and status are required");
        return KITO_OK;
    }
    report_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->status, sizeof(j->status), "%s", status);
    snprintf(j->reason, sizeof(j->reason), "%s", reason != NULL ? reason : "");
    return kito_req_db(r, run_report, done_report, j);
}
