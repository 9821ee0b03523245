/*
 * Payments in by M-Pesa paybill (issue 19): Daraja's C2B validation and confirmation callbacks
 * (api/adapters/mpesa.h has the protocol; api/money/c2b.h the rules). Public, authenticated like
 * the payout callbacks: the ?token= Kito registered with the URLs (KITO_MPESA_CALLBACK_TOKEN).
 * Thin: parse -> money/c2b.h through kito_req_db -> Daraja's answer.
 */
#include <stdlib.h>
#include <string.h>

#include "api/adapters/mpesa.h"
#include "api/common/config.h"
#include "api/common/log.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/money/c2b.h"

typedef struct c2b_job {
    kito_mpesa_c2b in;
    bool validation;
    bool known;
    kito_c2b_outcome out;
    kito_err err;
} c2b_job;

static void run_c2b(kito_db_conn *db, void *arg)
{
    c2b_job *j = arg;
    j->err = j->validation ? kito_c2b_validate(db, j->in.bill_ref, &j->known)
                           : kito_c2b_confirm(db, &j->in, &j->out);
}

static void done_c2b(kito_req *r, void *arg)
{
    c2b_job *j = arg;
    if (j->err != KITO_OK) {
        /* not recorded: 503 makes M-Pesa deliver it again (the TransID keeps it once) */
        kito_log("payments", "M-Pesa %s %s not handled: %s",
                 j->validation ? "validation" : "confirmation", j->in.trans_id,
                 kito_err_code(j->err));
        kito_respond_error(r, j->err == KITO_E_CONFLICT ? KITO_E_UNAVAILABLE : j->err, NULL);
        return;
    }
    if (j->validation) {
        /* Daraja's answers: "0" accepts; C2B00012 is "invalid account number" */
        kito_log("payments", "M-Pesa validation %s for account %s: %s", j->in.trans_id,
                 j->in.bill_ref, j->known ? "accepted" : "refused (unknown account number)");
        kito_respond_json(
            r, 200,
            j->known ? json_pack("{s:s, s:s}", "ResultCode", "0", "ResultDesc", "Accepted")
                     : json_pack("{s:s, s:s}", "ResultCode", "C2B00012", "ResultDesc", "Rejected"));
        return;
    }
    kito_log("payments", "M-Pesa %s KES %lld.%02lld for %s: %s (applied %lld, credit %lld)%s",
             j->in.trans_id, (long long)(j->in.amount_minor / 100),
             (long long)(j->in.amount_minor % 100), j->in.bill_ref, j->out.state,
             (long long)j->out.applied_minor, (long long)j->out.credit_minor,
             j->out.replay ? ", a repeat: nothing changed" : "");
    kito_respond_json(r, 200, json_pack("{s:i, s:s}", "ResultCode", 0, "ResultDesc", "Accepted"));
}

static kito_err c2b(kito_req *r, bool validation)
{
    if (!kito_mpesa_callback_authorized(r))
        return KITO_OK;
    c2b_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    char why[200] = "";
    if (kito_mpesa_c2b_from_json(r->body, &j->in, why, sizeof(why)) != KITO_OK) {
        free(j);
        kito_respond_error(r, KITO_E_BAD_REQUEST, why);
        return KITO_OK;
    }
    const char *paybill = r->server->cfg->pay.mpesa_paybill;
    if (validation && paybill[0] != '\0' && strcmp(j->in.short_code, paybill) != 0) {
        free(j);
        kito_respond_json(
            r, 200, json_pack("{s:s, s:s}", "ResultCode", "C2B00015", "ResultDesc", "Rejected"));
        return KITO_OK;
    }
    j->validation = validation;
    return kito_req_db(r, run_c2b, done_c2b, j);
}

kito_err kito_post_payments_mpesa_validation(kito_req *r)
{
    return c2b(r, true);
}

kito_err kito_post_payments_mpesa_confirmation(kito_req *r)
{
    return c2b(r, false);
}
