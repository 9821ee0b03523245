#include "api/money/payouts.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/common/crypto.h"
#include "api/common/log.h"
#include "api/money/ledger.h"
#include "api/store/audit.h"
#include "api/store/sql.h"

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kito_logv("payouts", fmt, ap);
    va_end(ap);
}

/* ---- creating payouts ---------------------------------------------------------------------- */

/* Creates one settlement's payout in one transaction with its audit row. KITO_E_CONFLICT when it
 * exists already (a concurrent worker); KITO_E_NOT_FOUND when it cannot be made yet (no payout
 * profile, no exchange rate): logged, retried on a later pass. */
static kito_err create_one(kito_db_conn *db, uint64_t settlement_id)
{
    kito_payout_source d;
    kito_err e = kito_repo_payout_source(db, settlement_id, &d);
    if (e != KITO_OK)
        return e;
    if (!d.found)
        return KITO_E_NOT_FOUND; /* the miner has no payout profile */
    kito_fx_quote q;
    if ((e = kito_fx_quote_for(db, &d, &q)) != KITO_OK)
        return e;
    kito_payout p = {
        .settlement_id = settlement_id,
        .miner_id = d.miner_id,
        .amount_minor = q.local_minor,
        .paid_units = q.whole_units,
        .remainder_minor = q.remainder_minor,
        .source_minor = d.miner_net,
        .exchange_rate_id = q.rate_id,
        .rate_micros = q.rate_micros,
    };
    memcpy(p.msisdn, d.msisdn, sizeof(p.msisdn));
    memcpy(p.rail, d.rail, sizeof(p.rail));
    memcpy(p.currency, d.currency, sizeof(p.currency));
    memcpy(p.source_currency, d.source_currency, sizeof(p.source_currency));
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    uint64_t id = 0;
    e = kito_repo_payout_insert(db, &p, &id);
    if (e == KITO_OK) {
        json_t *detail = json_pack(
            "{s:I, s:I, s:s, s:I, s:s, s:I, s:I}", "settlement_id", (json_int_t)settlement_id,
            "source_minor", (json_int_t)d.miner_net, "source_currency", d.source_currency,
            "amount_minor", (json_int_t)q.local_minor, "currency", d.currency, "paid_units",
            (json_int_t)q.whole_units, "rate_micros", (json_int_t)q.rate_micros);
        e = kito_audit(db, 0, "payout.create", "payout", id, detail, NULL);
        json_decref(detail);
    }
    return kito_sql_end(db, e);
}

kito_err kito_payouts_create_due(kito_db_conn *db, size_t limit, size_t *created)
{
    uint64_t ids[KITO_PAYOUT_BATCH];
    size_t n = 0;
    *created = 0;
    if (limit > KITO_N(ids))
        limit = KITO_N(ids);
    kito_err e = kito_repo_payout_due_settlements(db, ids, limit, &n);
    for (size_t i = 0; e == KITO_OK && i < n; i++) {
        kito_err ce = create_one(db, ids[i]);
        if (ce == KITO_OK)
            (*created)++;
        else if (ce == KITO_E_UNAVAILABLE)
            e = ce; /* MySQL went away: stop this pass */
        else if (ce != KITO_E_CONFLICT)
            logf_("settlement %" PRIu64 ": no payout yet (%s: %s)", ids[i], kito_err_code(ce),
                  kito_sql_last_error());
    }
    return e;
}

/* ---- attempts -------------------------------------------------------------------------------- */

/* A new reference for attempt attempt_no, in the form the payout's rail wants (rail.h). */
static kito_err make_reference(const kito_payout *p, uint32_t attempt_no,
                               char out[KITO_RAIL_REF_SIZE])
{
    uint8_t rnd[16];
    kito_err e = kito_crypto_random(rnd, sizeof(rnd));
    if (e != KITO_OK)
        return e;
    const kito_rail_driver *d = kito_rail_find(p->rail);
    (d != NULL ? d : &kito_rail_mpesa)->make_reference(p->id, attempt_no, rnd, out);
    return KITO_OK;
}

/* Inside a transaction that holds the payout's row lock: adds attempt attempts+1 (queued) and
 * moves the payout to submitted. */
static kito_err add_attempt_locked(kito_db_conn *db, const kito_payout *p, uint64_t actor_id,
                                   uint32_t *attempt_no)
{
    char ref[KITO_RAIL_REF_SIZE];
    uint32_t no = p->attempts + 1;
    kito_err e = make_reference(p, no, ref);
    if (e != KITO_OK)
        return e;
    uint64_t attempt_id = 0;
    e = kito_repo_attempt_insert(db, p->id, no, ref, &attempt_id);
    if (e != KITO_OK)
        return e; /* another open attempt (payout_attempts_one_open): CONFLICT */
    if ((e = kito_repo_payout_set_submitted(db, p->id, no, attempt_id)) != KITO_OK)
        return e;
    json_t *detail = json_pack("{s:i, s:s, s:s}", "attempt_no", (int)no,
                               "originator_conversation_id", ref, "from_state", p->state);
    e = kito_audit(db, actor_id, "payout.attempt", "payout", p->id, detail, NULL);
    json_decref(detail);
    if (e == KITO_OK && attempt_no != NULL)
        *attempt_no = no;
    return e;
}

/* A new attempt for a payout in from_state, in its own transaction. */
static kito_err new_attempt(kito_db_conn *db, uint64_t payout_id, const char *from_state,
                            uint64_t actor_id, uint32_t *attempt_no)
{
    kito_payout p;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    e = kito_repo_payout_load(db, payout_id, true, &p);
    if (e == KITO_OK && strcmp(p.state, from_state) != 0)
        e = KITO_E_BAD_STATE;
    if (e == KITO_OK)
        e = add_attempt_locked(db, &p, actor_id, attempt_no);
    return kito_sql_end(db, e);
}

kito_err kito_payout_retry(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                           uint32_t *attempt_no)
{
    return new_attempt(db, payout_id, "failed", actor_id, attempt_no);
}

kito_err kito_payouts_queue_pending(kito_db_conn *db, const char *rails, size_t limit,
                                    size_t *queued)
{
    uint64_t ids[KITO_PAYOUT_BATCH];
    size_t n = 0;
    *queued = 0;
    if (limit > KITO_N(ids))
        limit = KITO_N(ids);
    kito_err e = kito_repo_payout_pending(db, rails, ids, limit, &n);
    for (size_t i = 0; e == KITO_OK && i < n; i++) {
        kito_err ae = new_attempt(db, ids[i], "pending", 0, NULL);
        if (ae == KITO_OK)
            (*queued)++;
        else if (ae == KITO_E_UNAVAILABLE)
            e = ae;
        /* BAD_STATE / CONFLICT: another worker got there first */
    }
    return e;
}

/* ---- results --------------------------------------------------------------------------------- */

/* A result in Kito's terms, from a callback, a status answer or a definite refusal. */
typedef struct finish_req {
    const char *ocid;
    const char *conversation_id; /* "" when unknown */
    const char *code;            /* the provider's result code, or a kito.* reason */
    const char *desc;
    const char *transaction_id; /* success only */
    kito_payout_report report;
} finish_req;

/* Posts the payout's ledger transaction (kind 'payout', reference = the payout id: a second
 * post is refused by ledger_transactions_kind_reference); the lines are
 * kito_payout_ledger_lines'. */
static kito_err post_ledger(kito_db_conn *db, const kito_payout *p, const char *txn, uint64_t *txid)
{
    char ref[KITO_ID_SIZE], memo[200];
    kito_payout_format_id(p->id, ref);
    snprintf(memo, sizeof(memo), "payout %s to %s via %s, receipt %s", ref, p->msisdn, p->rail,
             txn);
    kito_ledger_line lines[KITO_PAYOUT_LEDGER_LINES];
    size_t n = kito_payout_ledger_lines(p, lines);
    /* balanced per currency, always: kito_ledger_post refuses anything else */
    return kito_ledger_post(db, "payout", ref, p->source_currency, memo, lines, n, txid);
}

static kito_err audit_result(kito_db_conn *db, const char *action, uint64_t payout_id,
                             uint64_t attempt_id, const finish_req *f)
{
    json_t *detail =
        json_pack("{s:I, s:s, s:s, s:s, s:s}", "attempt_id", (json_int_t)attempt_id,
                  "originator_conversation_id", f->ocid, "code", f->code, "desc", f->desc,
                  "transaction_id", f->transaction_id != NULL ? f->transaction_id : "");
    kito_err e = kito_audit(db, 0, action, "payout", payout_id, detail, NULL);
    json_decref(detail);
    return e;
}

static const char *reported(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* Holds a payout for the operator (schemas/016_payout_anomalies.sql), inside finish's
 * transaction (the payout and the attempt are locked): one payout_anomalies row per report
 * (the same report again changes nothing: *outcome UNCHANGED), the attempt closed as 'anomaly'
 * when close_attempt (an open attempt; a final one is never changed), the payout 'anomaly'
 * whatever it was, and the audit row. Nothing is posted to the ledger. */
static kito_err hold_locked(kito_db_conn *db, const kito_payout *p, uint64_t attempt_id,
                            const char *kind, const char *why, const finish_req *f,
                            bool close_attempt, kito_payout_outcome *outcome)
{
    char pid[KITO_ID_SIZE];
    kito_payout_format_id(p->id, pid);
    kito_payout_anomaly_row row = {
        .payout_id = p->id,
        .attempt_id = attempt_id,
        .kind = kind,
        .payout_state = p->state,
        .detail = why,
        .has_amount = f->report.has_amount,
        .amount_units = f->report.amount_units,
        .currency = reported(f->report.currency),
        .wallet = reported(f->report.wallet),
        .transaction_id = f->transaction_id,
    };
    bool inserted = false;
    kito_err e = kito_repo_anomaly_insert(db, &row, &inserted);
    if (e != KITO_OK)
        return e;
    if (!inserted) {
        *outcome = KITO_PAYOUT_UNCHANGED; /* this report is held already */
        return KITO_OK;
    }
    if (close_attempt &&
        (e = kito_repo_attempt_close(db, attempt_id, "anomaly", f->code, f->desc, f->transaction_id,
                                     f->conversation_id)) != KITO_OK)
        return e;
    if ((e = kito_repo_payout_set_state(db, p->id, "anomaly", NULL)) != KITO_OK)
        return e;
    logf_("ANOMALY %s (%s; the payout was %s): attempt %s: %s; held for the operator", pid, kind,
          p->state, f->ocid, why);
    e = audit_result(db, "payout.anomaly", p->id, attempt_id, f);
    if (e == KITO_OK)
        *outcome = KITO_PAYOUT_ANOMALY;
    return e;
}

/* The state machine's one door for results (see api/money/payouts.h): decides with
 * kito_payout_decide and writes what it decided. */
static kito_err finish_locked(kito_db_conn *db, const finish_req *f,
                              const kito_payout_attempt_key *key, kito_payout_outcome *outcome)
{
    kito_payout p;
    kito_payout_attempt_key a;
    /* Lock order everywhere: the payout, then its attempt. */
    kito_err e = kito_repo_payout_load(db, key->payout_id, true, &p);
    if (e == KITO_OK)
        e = kito_repo_attempt_lock(db, key->id, &a);
    if (e != KITO_OK)
        return e;
    char pid[KITO_ID_SIZE], why[200];
    kito_payout_format_id(p.id, pid);
    const char *kind = NULL;
    kito_payout_step step =
        kito_payout_decide(&p, a.id, a.state, f->ocid, &f->report, &kind, why, sizeof(why));
    switch (step) {
    case KITO_PAYOUT_STEP_IGNORE:
        if (!kito_payout_state_final(a.state))
            logf_("%s: a provider result for attempt %s, which was never sent: ignored", pid,
                  f->ocid);
        else if ((strcmp(a.state, "succeeded") == 0) != f->report.success)
            logf_("%s: a %s result for attempt %s, which already %s: ignored", pid,
                  f->report.success ? "success" : "failure", f->ocid, a.state);
        *outcome = KITO_PAYOUT_UNCHANGED;
        return KITO_OK;
    case KITO_PAYOUT_STEP_HOLD_FAILED:
        return hold_locked(db, &p, a.id, kind, why, f, false, outcome);
    case KITO_PAYOUT_STEP_HOLD: /* DESIGN.md: a report that disagrees is held, never trusted */
        return hold_locked(db, &p, a.id, kind, why, f, true, outcome);
    case KITO_PAYOUT_STEP_SUCCEED: {
        uint64_t txid = 0;
        e = kito_repo_attempt_close(db, a.id, "succeeded", f->code, f->desc, f->transaction_id,
                                    f->conversation_id);
        if (e == KITO_OK)
            e = post_ledger(db, &p, f->transaction_id, &txid);
        if (e == KITO_OK)
            e = kito_repo_payout_set_succeeded(db, p.id, txid);
        if (e == KITO_OK)
            e = audit_result(db, "payout.succeeded", p.id, a.id, f);
        if (e == KITO_OK)
            *outcome = KITO_PAYOUT_APPLIED_SUCCESS;
        return e;
    }
    case KITO_PAYOUT_STEP_FAIL_AND_RETRY:
    case KITO_PAYOUT_STEP_FAIL_PAYOUT:
    case KITO_PAYOUT_STEP_FAIL_ATTEMPT:
        break;
    }
    e = kito_repo_attempt_close(db, a.id, "failed", f->code, f->desc, NULL, f->conversation_id);
    if (e == KITO_OK)
        e = audit_result(db, "payout.attempt_failed", p.id, a.id, f);
    if (e == KITO_OK && step == KITO_PAYOUT_STEP_FAIL_AND_RETRY)
        e = add_attempt_locked(db, &p, 0, NULL); /* stays submitted */
    else if (e == KITO_OK && step == KITO_PAYOUT_STEP_FAIL_PAYOUT)
        e = kito_repo_payout_set_state(db, p.id, "failed", "submitted");
    if (e == KITO_OK)
        *outcome = KITO_PAYOUT_APPLIED_FAILURE;
    return e;
}

static kito_err finish(kito_db_conn *db, const finish_req *f, kito_payout_outcome *outcome)
{
    kito_payout_attempt_key key;
    kito_err e = kito_repo_attempt_find(db, f->ocid, f->conversation_id, &key);
    if (e != KITO_OK)
        return e;
    if (!key.found) {
        *outcome = KITO_PAYOUT_UNKNOWN_ATTEMPT;
        return KITO_OK;
    }
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    e = finish_locked(db, f, &key, outcome);
    return kito_sql_end(db, e);
}

kito_err kito_payout_apply_rail_result(kito_db_conn *db, const kito_rail_result *res,
                                       kito_payout_outcome *outcome)
{
    finish_req f = {
        .ocid = res->reference,
        .conversation_id = res->provider_id,
        .code = res->code,
        .desc = res->desc,
        .transaction_id = res->transaction_id,
        .report = {.success = res->success,
                   .has_amount = res->has_amount,
                   .amount_units = res->amount_units,
                   .currency = res->currency,
                   .wallet = res->wallet},
    };
    kito_err e = finish(db, &f, outcome);
    if (e == KITO_E_CONFLICT && f.report.success) {
        /* the transaction id is already another attempt's: never count one payment twice */
        logf_("ANOMALY: transaction %s for %s is already recorded on another attempt",
              res->transaction_id, res->reference);
        *outcome = KITO_PAYOUT_ANOMALY;
        return KITO_OK;
    }
    return e;
}

kito_err kito_payout_apply_result(kito_db_conn *db, const kito_mpesa_result *res,
                                  kito_payout_outcome *outcome)
{
    kito_rail_result r;
    kito_rail_mpesa_result(res, &r);
    return kito_payout_apply_rail_result(db, &r, outcome);
}

kito_err kito_payout_fail_attempt(kito_db_conn *db, const char *reference, const char *code,
                                  const char *desc, bool auto_retry)
{
    finish_req f = {.ocid = reference,
                    .conversation_id = "",
                    .code = code,
                    .desc = desc,
                    .report = {.success = false, .auto_retry = auto_retry, .local = true}};
    kito_payout_outcome o;
    return finish(db, &f, &o);
}

/* ---- reading --------------------------------------------------------------------------------- */

kito_err kito_payout_list(kito_db_conn *db, uint64_t miner_id, const char *state, uint64_t after_id,
                          size_t limit, kito_payout_fn fn, void *ud)
{
    return kito_repo_payout_list(db, miner_id, state, after_id, limit, fn, ud);
}

kito_err kito_payout_get(kito_db_conn *db, uint64_t id, kito_payout *out, kito_payout_attempt_fn fn,
                         void *ud)
{
    kito_err e = kito_repo_payout_load(db, id, false, out);
    if (e != KITO_OK || fn == NULL)
        return e;
    return kito_repo_payout_attempts(db, id, fn, ud);
}
