#include "api/money/payouts.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

#define GROUP_MAX 64 /* settlements one payout group pays at most */

/* Holds every settlement in ids for reason (schemas/028_payout_limits.sql), each in its own
 * statement; logs a hold the first time. */
static kito_err hold_all(kito_db_conn *db, const uint64_t *ids, size_t n, const char *reason,
                         const char *detail)
{
    for (size_t i = 0; i < n; i++) {
        bool is_new = false;
        kito_err e = kito_repo_payout_hold(db, ids[i], reason, detail, &is_new);
        if (e != KITO_OK)
            return e;
        if (is_new)
            logf_("settlement %" PRIu64 ": payout held (%s): %s", ids[i], reason, detail);
    }
    return KITO_OK;
}

/* A payout group planned: its parts and the settlements it pays. */
typedef struct group_plan {
    kito_payout part[KITO_PAYOUT_PARTS_MAX];
    size_t parts;
    uint64_t ids[GROUP_MAX];
    int64_t nets[GROUP_MAX];
    size_t n;
} group_plan;

static kito_err add_attempt_locked(kito_db_conn *db, const kito_payout *p, uint64_t actor_id,
                                   uint32_t *attempt_no);

/* True when rail is one of rails ("mpesa,mtn_momo"). */
static bool rail_in(const char *rails, const char *rail)
{
    size_t len = strlen(rail);
    for (const char *p = rails; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, rail, len) == 0)
            return true;
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* Writes one payout group inside the caller's transaction: its parts, which settlements it pays,
 * their holds gone, an audit row per part, and when its rail sends (send_rails) each part's first
 * attempt (queued: the payout is submitted). KITO_E_CONFLICT when another worker made it. */
static kito_err write_group_locked(kito_db_conn *db, group_plan *g, const char *send_rails)
{
    kito_err e = KITO_OK;
    uint64_t first = 0;
    for (size_t k = 0; e == KITO_OK && k < g->parts; k++) {
        kito_payout *p = &g->part[k];
        uint64_t id = 0;
        if ((e = kito_repo_payout_insert(db, p, &id)) != KITO_OK)
            break;
        if (k == 0)
            first = id;
        json_t *detail = json_pack(
            "{s:I, s:i, s:i, s:i, s:I, s:s, s:I, s:s, s:I, s:I}", "settlement_id",
            (json_int_t)p->settlement_id, "part_no", (int)p->part_no, "parts", (int)p->parts,
            "settlements", (int)g->n, "source_minor", (json_int_t)p->source_minor,
            "source_currency", p->source_currency, "amount_minor", (json_int_t)p->amount_minor,
            "currency", p->currency, "paid_units", (json_int_t)p->paid_units, "rate_micros",
            (json_int_t)p->rate_micros);
        e = detail != NULL ? kito_audit(db, 0, "payout.create", "payout", id, detail, NULL)
                           : KITO_E_NOMEM;
        json_decref(detail);
        bool held = false; /* a wallet she changed to lately waits out its hold (issue 15) */
        if (e == KITO_OK && rail_in(send_rails, p->rail))
            e = kito_repo_payout_wallet_held(db, p->miner_id, p->msisdn, p->rail, &held);
        if (e == KITO_OK && rail_in(send_rails, p->rail) && !held) {
            p->id = id;
            snprintf(p->state, sizeof(p->state), "pending");
            e = add_attempt_locked(db, p, 0, NULL);
        }
    }
    for (size_t i = 0; e == KITO_OK && i < g->n; i++) {
        e = kito_repo_payout_member_insert(db, g->ids[i], first, g->nets[i]);
        if (e == KITO_OK)
            e = kito_repo_payout_unhold(db, g->ids[i]);
    }
    return e;
}

/* Plans the payout of settlement_id (and, below the rail's minimum, of her other waiting sales
 * with it) into g, or holds it with the reason (written at once; *planned false). KITO_E_CONFLICT
 * when a payout pays it already; KITO_E_NOT_FOUND when it cannot be made yet (no payout profile,
 * no exchange rate): logged, retried on a later pass. */
static kito_err plan_one(kito_db_conn *db, const kito_payout_policy *pol, uint64_t settlement_id,
                         group_plan *g, bool *planned)
{
    *planned = false;
    kito_payout_source d;
    kito_err e = kito_repo_payout_source(db, settlement_id, &d);
    if (e != KITO_OK)
        return e;
    if (!d.found)
        return KITO_E_NOT_FOUND; /* the miner has no payout profile */
    const kito_payout_limit *limit =
        pol != NULL ? kito_payout_limit_find(pol->limits, pol->limit_count, d.rail, d.currency)
                    : NULL;
    /* the group: this settlement alone, or with a minimum every waiting sale of hers */
    g->ids[0] = settlement_id;
    g->nets[0] = d.miner_net;
    g->n = 1;
    if (limit != NULL && limit->min_units > 0) {
        e = kito_repo_payout_waiting(db, d.miner_id, d.source_currency, g->ids, g->nets, GROUP_MAX,
                                     &g->n);
        if (e != KITO_OK)
            return e;
        bool in = false;
        for (size_t i = 0; i < g->n; i++)
            in |= g->ids[i] == settlement_id;
        if (!in)
            return KITO_E_CONFLICT; /* paid by a group another pass made */
    }
    kito_payout_source all = d;
    all.miner_net = 0;
    uint64_t anchor = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (__builtin_add_overflow(all.miner_net, g->nets[i], &all.miner_net))
            return KITO_E_VALIDATION;
        anchor = g->ids[i] > anchor ? g->ids[i] : anchor;
    }
    kito_fx_quote q;
    if ((e = kito_fx_quote_for(db, &all, &q)) != KITO_OK)
        return e;
    char detail[400];
    if (q.rate_id != 0 && pol != NULL && pol->fx_max_age_s > 0) {
        int64_t age_s = q.rate_age_ms / 1000;
        if (age_s > (int64_t)pol->fx_max_age_s) {
            snprintf(detail, sizeof(detail),
                     "the newest %s to %s exchange rate is %" PRId64 " s old; a payout converts"
                     " only at a rate at most %u s old (KITO_FX_MAX_AGE_S): record a new one"
                     " (kitoctl fx set)",
                     d.source_currency, d.currency, age_s, pol->fx_max_age_s);
            return hold_all(db, g->ids, g->n, "fx_stale", detail);
        }
    }
    if (limit != NULL && q.whole_units < limit->min_units) {
        snprintf(detail, sizeof(detail),
                 "%s %" PRId64 " from %zu sale%s is below %s's minimum of %s %" PRId64
                 " per transfer: it waits for her next sales on this rail",
                 d.currency, q.whole_units, g->n, g->n == 1 ? "" : "s", d.rail, d.currency,
                 limit->min_units);
        return hold_all(db, g->ids, g->n, "below_minimum", detail);
    }
    kito_payout whole = {
        .settlement_id = anchor,
        .miner_id = d.miner_id,
        .amount_minor = q.local_minor,
        .paid_units = q.whole_units,
        .remainder_minor = q.remainder_minor,
        .source_minor = all.miner_net,
        .exchange_rate_id = q.rate_id,
        .rate_micros = q.rate_micros,
    };
    memcpy(whole.msisdn, d.msisdn, sizeof(whole.msisdn));
    memcpy(whole.rail, d.rail, sizeof(whole.rail));
    memcpy(whole.currency, d.currency, sizeof(whole.currency));
    memcpy(whole.source_currency, d.source_currency, sizeof(whole.source_currency));
    g->parts = kito_payout_split(&whole, limit, d.to_exp, g->part, KITO_PAYOUT_PARTS_MAX);
    if (g->parts == 0) {
        logf_("settlement %" PRIu64 ": no payout: %s %" PRId64
              " would need more than %d transfers of at most %" PRId64,
              settlement_id, d.currency, q.whole_units, KITO_PAYOUT_PARTS_MAX,
              limit != NULL ? limit->max_units : 0);
        return KITO_E_VALIDATION;
    }
    *planned = true;
    return KITO_OK;
}

static bool planned_already(const group_plan *plans, size_t n, uint64_t settlement_id)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < plans[i].n; j++)
            if (plans[i].ids[j] == settlement_id)
                return true;
    return false;
}

kito_err kito_payouts_create_due(kito_db_conn *db, const kito_payout_policy *pol, size_t limit,
                                 size_t *created)
{
    uint64_t ids[KITO_PAYOUT_BATCH];
    *created = 0;
    if (limit > KITO_N(ids))
        limit = KITO_N(ids);
    group_plan *plans = malloc(sizeof(*plans) * limit);
    if (plans == NULL)
        return KITO_E_NOMEM;
    size_t planned = 0;
    const char *send_rails = pol != NULL && pol->send_rails != NULL ? pol->send_rails : "";
    kito_err e = KITO_OK;
    /* the new ones first, then those held, least recently looked at first */
    for (int held = 0; e == KITO_OK && held < 2; held++) {
        size_t n = 0;
        e = kito_repo_payout_due_settlements(db, held == 1, ids, held == 1 ? limit / 2 : limit, &n);
        for (size_t i = 0; e == KITO_OK && i < n && planned < limit; i++) {
            if (planned_already(plans, planned, ids[i]))
                continue;
            bool ok = false;
            kito_err ce = plan_one(db, pol, ids[i], &plans[planned], &ok);
            if (ce == KITO_OK)
                planned += ok;
            else if (ce == KITO_E_UNAVAILABLE)
                e = ce; /* MySQL went away: stop this pass */
            else if (ce != KITO_E_CONFLICT)
                logf_("settlement %" PRIu64 ": no payout yet (%s: %s)", ids[i], kito_err_code(ce),
                      kito_sql_last_error());
        }
    }
    /* One transaction (one commit) for the whole batch; should another worker have made one of
     * them meanwhile, each group again in its own transaction, and that one is skipped. */
    if (e == KITO_OK && planned > 0 && (e = kito_sql_begin(db)) == KITO_OK) {
        for (size_t i = 0; e == KITO_OK && i < planned; i++)
            e = write_group_locked(db, &plans[i], send_rails);
        e = kito_sql_end(db, e);
        if (e == KITO_OK)
            *created = planned;
        if (e == KITO_E_CONFLICT) {
            e = KITO_OK;
            for (size_t i = 0; e == KITO_OK && i < planned; i++) {
                kito_err ge = kito_sql_begin(db);
                if (ge == KITO_OK)
                    ge = kito_sql_end(db, write_group_locked(db, &plans[i], send_rails));
                if (ge == KITO_OK)
                    (*created)++;
                else if (ge != KITO_E_CONFLICT)
                    e = ge;
            }
        }
    }
    free(plans);
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

kito_err kito_payout_resolve(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                             const char *reason, size_t *resolved)
{
    *resolved = 0;
    size_t len = reason != NULL ? strlen(reason) : 0;
    if (len == 0 || len > 500)
        return KITO_E_VALIDATION;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
            return KITO_E_VALIDATION;
    kito_payout p;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    e = kito_repo_payout_load(db, payout_id, true, &p); /* the lock the state machine takes */
    if (e == KITO_OK)
        e = kito_repo_anomaly_resolve(db, payout_id, actor_id, reason, resolved);
    if (e == KITO_OK && *resolved == 0)
        e = KITO_E_BAD_STATE;
    if (e == KITO_OK) {
        json_t *d = json_pack("{s:s, s:I, s:s}", "reason", reason, "reports", (json_int_t)*resolved,
                              "payout_state", p.state);
        e = d != NULL
                ? kito_audit(db, actor_id, "payout.anomaly_resolved", "payout", payout_id, d, NULL)
                : KITO_E_NOMEM;
        json_decref(d);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK)
        *resolved = 0;
    return e;
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
