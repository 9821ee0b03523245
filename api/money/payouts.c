#include "api/money/payouts.h"

#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/log.h"
#include "api/store/audit.h"
#include "api/common/crypto.h"
#include "api/common/backoff.h"
#include "api/money/ledger.h"
#include "api/adapters/rail.h"
#include "api/store/sql.h"
#include "api/common/validate.h"

/* Ledger account codes (schemas/009_settlement.sql, ledger_accounts). */
enum { LEDGER_MINER_PAYABLE = 2, LEDGER_MOBILE_MONEY_CLEARING = 8, LEDGER_FX_CONVERSION = 9 };

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kito_logv("payouts", fmt, ap);
    va_end(ap);
}

/* ---- reading rows -------------------------------------------------------------------------- */

#define PAYOUT_COLS                                                                                \
    "p.id, p.settlement_id, p.miner_id, p.msisdn, p.rail, p.currency, p.amount_minor,"             \
    " p.paid_units, p.remainder_minor, p.source_minor, p.source_currency, p.exchange_rate_id,"     \
    " p.rate_micros, p.state, p.attempts, p.ledger_transaction_id, " KITO_SQL_DT_TO_MS(            \
        "p.created_at") ", " KITO_SQL_DT_TO_MS("p.updated_at") ", " KITO_SQL_DT_TO_MS("p."         \
                                                                                      "succeeded_" \
                                                                                      "at") ", "   \
                                                                                            "p."   \
                                                                                            "curr" \
                                                                                            "ent_" \
                                                                                            "atte" \
                                                                                            "mpt_" \
                                                                                            "id"

static void read_payout(const kito_sql_row *row, kito_payout *p, uint64_t *current_attempt)
{
    memset(p, 0, sizeof(*p));
    p->id = kito_sql_u64(row, 0);
    p->settlement_id = kito_sql_u64(row, 1);
    p->miner_id = kito_sql_u64(row, 2);
    kito_sql_copy(row, 3, p->msisdn, sizeof(p->msisdn));
    kito_sql_copy(row, 4, p->rail, sizeof(p->rail));
    kito_sql_copy(row, 5, p->currency, sizeof(p->currency));
    p->amount_minor = kito_sql_i64(row, 6);
    p->paid_units = kito_sql_i64(row, 7);
    p->remainder_minor = kito_sql_i64(row, 8);
    p->source_minor = kito_sql_i64(row, 9);
    kito_sql_copy(row, 10, p->source_currency, sizeof(p->source_currency));
    p->exchange_rate_id = kito_sql_u64(row, 11);
    p->rate_micros = kito_sql_i64(row, 12);
    kito_sql_copy(row, 13, p->state, sizeof(p->state));
    p->attempts = (uint32_t)kito_sql_u64(row, 14);
    p->ledger_transaction_id = kito_sql_u64(row, 15);
    p->created_ms = kito_sql_i64(row, 16);
    p->updated_ms = kito_sql_i64(row, 17);
    p->succeeded_ms = kito_sql_i64(row, 18);
    if (current_attempt != NULL)
        *current_attempt = kito_sql_u64(row, 19);
}

typedef struct payout_row {
    kito_payout p;
    uint64_t current_attempt;
    bool found;
} payout_row;

static kito_err on_payout_row(void *ud, const kito_sql_row *row)
{
    payout_row *r = ud;
    read_payout(row, &r->p, &r->current_attempt);
    r->found = true;
    return KITO_OK;
}

/* Reads one payout, locking it for the transaction when lock is true. */
static kito_err load_payout(kito_db_conn *db, uint64_t id, bool lock, payout_row *out)
{
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    memset(out, 0, sizeof(*out));
    kito_err e = kito_sql_query(db,
                                lock ? "SELECT " PAYOUT_COLS " FROM payouts p WHERE p.id = ?"
                                       " FOR UPDATE"
                                     : "SELECT " PAYOUT_COLS " FROM payouts p WHERE p.id = ?",
                                p, KITO_N(p), on_payout_row, out, NULL);
    if (e == KITO_OK && !out->found)
        e = KITO_E_NOT_FOUND;
    return e;
}

/* Collects the first column of every row as an id. */
typedef struct id_list {
    uint64_t ids[KITO_PAYOUT_BATCH];
    size_t n;
} id_list;

static kito_err on_id(void *ud, const kito_sql_row *row)
{
    id_list *l = ud;
    if (l->n < KITO_N(l->ids))
        l->ids[l->n++] = kito_sql_u64(row, 0);
    return KITO_OK;
}

static void format_id(uint64_t id, char out[KITO_ID_SIZE])
{
    if (kito_id_format(KITO_ID_PAYOUT, id, out, KITO_ID_SIZE) != KITO_OK)
        snprintf(out, KITO_ID_SIZE, "pay_?");
}

/* ---- creating payouts ---------------------------------------------------------------------- */

typedef struct due_row {
    bool found;
    uint64_t miner_id;
    char source_currency[4];
    int64_t miner_net;
    char msisdn[17], rail[17], currency[4];
    unsigned from_exp, to_exp;
} due_row;

static kito_err on_due_row(void *ud, const kito_sql_row *row)
{
    due_row *d = ud;
    d->found = true;
    d->miner_id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, d->source_currency, sizeof(d->source_currency));
    d->miner_net = kito_sql_i64(row, 2);
    kito_sql_copy(row, 3, d->msisdn, sizeof(d->msisdn));
    kito_sql_copy(row, 4, d->rail, sizeof(d->rail));
    kito_sql_copy(row, 5, d->currency, sizeof(d->currency));
    d->from_exp = (unsigned)kito_sql_u64(row, 6);
    d->to_exp = (unsigned)kito_sql_u64(row, 7);
    return KITO_OK;
}

typedef struct rate_row {
    bool found;
    uint64_t id;
    int64_t micros;
} rate_row;

static kito_err on_rate_row(void *ud, const kito_sql_row *row)
{
    rate_row *r = ud;
    r->found = true;
    r->id = kito_sql_u64(row, 0);
    r->micros = kito_sql_i64(row, 1);
    return KITO_OK;
}

/* Creates one settlement's payout in one transaction with its audit row. KITO_E_CONFLICT when it
 * exists already (a concurrent worker); KITO_E_NOT_FOUND when it cannot be made yet (no payout
 * profile, no exchange rate): logged, retried on a later pass. */
static kito_err create_one(kito_db_conn *db, uint64_t settlement_id)
{
    due_row d = {0};
    rate_row rate = {0};
    kito_sql_param sp[] = {KITO_SQL_U64(settlement_id)};
    kito_err e = kito_sql_query(
        db,
        "SELECT s.miner_id, s.currency, s.miner_net_minor, mp.payout_msisdn, mp.payout_rail,"
        " c.currency, fc.minor_exponent, tc.minor_exponent"
        " FROM settlements s JOIN miner_profiles mp ON mp.account_id = s.miner_id"
        " JOIN countries c ON c.code = mp.country JOIN currencies fc ON fc.code = s.currency"
        " JOIN currencies tc ON tc.code = c.currency WHERE s.id = ?",
        sp, KITO_N(sp), on_due_row, &d, NULL);
    if (e != KITO_OK)
        return e;
    if (!d.found)
        return KITO_E_NOT_FOUND; /* the miner has no payout profile */
    if (strcmp(d.source_currency, d.currency) == 0) {
        rate.micros = 1000000;
    } else {
        kito_sql_param rp[] = {KITO_SQL_TEXT(d.source_currency), KITO_SQL_TEXT(d.currency)};
        e = kito_sql_query(db,
                           "SELECT id, rate_micros FROM exchange_rates WHERE from_currency = ?"
                           " AND to_currency = ? AND effective_from <= UTC_TIMESTAMP(3)"
                           " ORDER BY effective_from DESC, id DESC LIMIT 1",
                           rp, KITO_N(rp), on_rate_row, &rate, NULL);
        if (e != KITO_OK)
            return e;
        if (!rate.found)
            return KITO_E_NOT_FOUND;
    }
    int64_t local, units, remainder;
    e = kito_mpesa_convert(d.miner_net, d.from_exp, d.to_exp, rate.micros, &local, &units,
                           &remainder);
    if (e != KITO_OK)
        return e;
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    kito_sql_param ip[] = {
        KITO_SQL_U64(settlement_id),
        KITO_SQL_U64(d.miner_id),
        KITO_SQL_TEXT(d.msisdn),
        KITO_SQL_TEXT(d.rail),
        KITO_SQL_TEXT(d.currency),
        KITO_SQL_I64(local),
        KITO_SQL_I64(units),
        KITO_SQL_I64(remainder),
        KITO_SQL_I64(d.miner_net),
        KITO_SQL_TEXT(d.source_currency),
        rate.id != 0 ? KITO_SQL_U64(rate.id) : KITO_SQL_NULL,
        KITO_SQL_I64(rate.micros),
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO payouts (settlement_id, miner_id, msisdn, rail, currency,"
                      " amount_minor, paid_units, remainder_minor, source_minor, source_currency,"
                      " exchange_rate_id, rate_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      ip, KITO_N(ip), &res);
    if (e == KITO_OK) {
        json_t *detail = json_pack(
            "{s:I, s:I, s:s, s:I, s:s, s:I, s:I}", "settlement_id", (json_int_t)settlement_id,
            "source_minor", (json_int_t)d.miner_net, "source_currency", d.source_currency,
            "amount_minor", (json_int_t)local, "currency", d.currency, "paid_units",
            (json_int_t)units, "rate_micros", (json_int_t)rate.micros);
        e = kito_audit(db, 0, "payout.create", "payout", res.insert_id, detail, NULL);
        json_decref(detail);
    }
    return kito_sql_end(db, e);
}

kito_err kito_payouts_create_due(kito_db_conn *db, size_t limit, size_t *created)
{
    /* Only settlements that can be paid now: a miner with a payout profile and a rate to her
     * currency (the others wait silently and never crowd out the rest of the batch). */
    static const char sql[] =
        "SELECT s.id FROM settlements s"
        " JOIN invoices i ON i.settlement_id = s.id AND i.status = 'paid'"
        " JOIN miner_profiles mp ON mp.account_id = s.miner_id"
        " JOIN countries c ON c.code = mp.country"
        " LEFT JOIN payouts p ON p.settlement_id = s.id"
        " WHERE p.id IS NULL AND s.miner_net_minor > 0"
        " AND (s.currency = c.currency OR EXISTS (SELECT 1 FROM exchange_rates r"
        " WHERE r.from_currency = s.currency AND r.to_currency = c.currency"
        " AND r.effective_from <= UTC_TIMESTAMP(3)))"
        " ORDER BY s.id LIMIT ?";
    id_list l = {.n = 0};
    *created = 0;
    if (limit > KITO_N(l.ids))
        limit = KITO_N(l.ids);
    kito_sql_param p[] = {KITO_SQL_U64(limit)};
    kito_err e = kito_sql_query(db, sql, p, KITO_N(p), on_id, &l, NULL);
    for (size_t i = 0; e == KITO_OK && i < l.n; i++) {
        kito_err ce = create_one(db, l.ids[i]);
        if (ce == KITO_OK)
            (*created)++;
        else if (ce == KITO_E_UNAVAILABLE)
            e = ce; /* MySQL went away: stop this pass */
        else if (ce != KITO_E_CONFLICT)
            logf_("settlement %" PRIu64 ": no payout yet (%s: %s)", l.ids[i], kito_err_code(ce),
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
    char ocid[KITO_RAIL_REF_SIZE];
    uint32_t no = p->attempts + 1;
    kito_err e = make_reference(p, no, ocid);
    if (e != KITO_OK)
        return e;
    kito_sql_param ip[] = {KITO_SQL_U64(p->id), KITO_SQL_U64(no), KITO_SQL_TEXT(ocid)};
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO payout_attempts (payout_id, attempt_no,"
                      " originator_conversation_id, request_json) VALUES (?, ?, ?, '{}')",
                      ip, KITO_N(ip), &res);
    if (e != KITO_OK)
        return e; /* another open attempt (payout_attempts_one_open): CONFLICT */
    kito_sql_param up[] = {KITO_SQL_U64(no), KITO_SQL_U64(res.insert_id), KITO_SQL_U64(p->id)};
    e = kito_sql_exec(db,
                      "UPDATE payouts SET state = 'submitted', attempts = ?,"
                      " current_attempt_id = ?, updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                      up, KITO_N(up), NULL);
    if (e != KITO_OK)
        return e;
    json_t *detail = json_pack("{s:i, s:s, s:s}", "attempt_no", (int)no,
                               "originator_conversation_id", ocid, "from_state", p->state);
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
    payout_row pr;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    e = load_payout(db, payout_id, true, &pr);
    if (e == KITO_OK && strcmp(pr.p.state, from_state) != 0)
        e = KITO_E_BAD_STATE;
    if (e == KITO_OK)
        e = add_attempt_locked(db, &pr.p, actor_id, attempt_no);
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
    id_list l = {.n = 0};
    *queued = 0;
    if (limit > KITO_N(l.ids))
        limit = KITO_N(l.ids);
    kito_sql_param p[] = {KITO_SQL_TEXT(rails), KITO_SQL_U64(limit)};
    kito_err e = kito_sql_query(db,
                                "SELECT id FROM payouts WHERE state = 'pending'"
                                " AND FIND_IN_SET(rail, ?) ORDER BY id LIMIT ?",
                                p, KITO_N(p), on_id, &l, NULL);
    for (size_t i = 0; e == KITO_OK && i < l.n; i++) {
        kito_err ae = new_attempt(db, l.ids[i], "pending", 0, NULL);
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
    bool success;
    const char *code; /* the provider's ResultCode / errorCode, or a kito.* reason */
    const char *desc;
    const char *transaction_id; /* success only */
    bool has_amount;
    int64_t amount_units;
    const char *currency; /* what the provider says it paid in; "" or NULL: not reported */
    const char *wallet;   /* the wallet it says it paid; "" or NULL: not reported */
    bool auto_retry;      /* never received: queue a new attempt instead of failing the payout */
    bool local;           /* Kito's own verdict (may fail an attempt that was never sent) */
} finish_req;

typedef struct attempt_key {
    bool found;
    uint64_t id, payout_id;
    char state[17];
} attempt_key;

static kito_err on_attempt_key(void *ud, const kito_sql_row *row)
{
    attempt_key *k = ud;
    k->found = true;
    k->id = kito_sql_u64(row, 0);
    k->payout_id = kito_sql_u64(row, 1);
    kito_sql_copy(row, 2, k->state, sizeof(k->state));
    return KITO_OK;
}

static bool is_final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "anomaly") == 0;
}

/* Posts the payout's ledger transaction (kind 'payout', reference = the payout id: a second
 * post is refused by ledger_transactions_kind_reference). Debits the miner's payable in the
 * sale's currency; credits mobile-money clearing with what was sent; across currencies both
 * sides go through fx_conversion, and the unpaid sub-unit remainder stays in her payable in
 * her currency. Every currency sums to zero. */
static kito_err post_ledger(kito_db_conn *db, const kito_payout *p, const char *txn, uint64_t *txid)
{
    char ref[KITO_ID_SIZE], memo[200];
    format_id(p->id, ref);
    snprintf(memo, sizeof(memo), "payout %s to %s via %s, receipt %s", ref, p->msisdn, p->rail,
             txn);
    const uint64_t miner = p->miner_id;
    int64_t paid_minor = p->amount_minor - p->remainder_minor;
    kito_ledger_line lines[5];
    size_t n = 0;
    if (strcmp(p->source_currency, p->currency) == 0) {
        lines[n++] = (kito_ledger_line){LEDGER_MINER_PAYABLE, miner, paid_minor, p->currency};
        lines[n++] = (kito_ledger_line){LEDGER_MOBILE_MONEY_CLEARING, 0, -paid_minor, p->currency};
    } else {
        lines[n++] =
            (kito_ledger_line){LEDGER_MINER_PAYABLE, miner, p->source_minor, p->source_currency};
        lines[n++] =
            (kito_ledger_line){LEDGER_FX_CONVERSION, 0, -p->source_minor, p->source_currency};
        lines[n++] = (kito_ledger_line){LEDGER_FX_CONVERSION, 0, p->amount_minor, p->currency};
        lines[n++] = (kito_ledger_line){LEDGER_MOBILE_MONEY_CLEARING, 0, -paid_minor, p->currency};
        lines[n++] =
            (kito_ledger_line){LEDGER_MINER_PAYABLE, miner, -p->remainder_minor, p->currency};
    }
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

/* E.164 with or without its '+': the providers drop it, Kito keeps it. */
static const char *digits_of(const char *msisdn)
{
    return msisdn[0] == '+' ? msisdn + 1 : msisdn;
}

const char *kito_payout_disagreement(const kito_payout *p, bool has_amount, int64_t amount_units,
                                     const char *currency, const char *wallet, char *why,
                                     size_t why_size)
{
    assert(p != NULL && why != NULL && why_size > 0);
    if (has_amount && amount_units != p->paid_units) {
        snprintf(why, why_size, "the provider paid %" PRId64 " units, Kito asked for %" PRId64,
                 amount_units, p->paid_units);
        return "amount";
    }
    if (currency != NULL && currency[0] != '\0' && strcmp(currency, p->currency) != 0) {
        snprintf(why, why_size, "the provider paid in %.8s, Kito asked for %s", currency,
                 p->currency);
        return "currency";
    }
    if (wallet != NULL && wallet[0] != '\0' &&
        strcmp(digits_of(wallet), digits_of(p->msisdn)) != 0) {
        snprintf(why, why_size, "the provider paid wallet %.20s, Kito asked for %s", wallet,
                 p->msisdn);
        return "wallet";
    }
    why[0] = '\0';
    return NULL;
}

/* Holds a payout for the operator (schemas/016_payout_anomalies.sql), inside finish's
 * transaction (the payout and the attempt are locked): one payout_anomalies row per report
 * (the same report again changes nothing: *outcome UNCHANGED), the attempt closed as 'anomaly'
 * when close_attempt (an open attempt; a final one is never changed), the payout 'anomaly'
 * whatever it was, and the audit row. Nothing is posted to the ledger. */
static kito_err hold_locked(kito_db_conn *db, const payout_row *pr, uint64_t attempt_id,
                            const char *kind, const char *why, const finish_req *f,
                            bool close_attempt, kito_payout_outcome *outcome)
{
    char pid[KITO_ID_SIZE];
    format_id(pr->p.id, pid);
    const char *currency = f->currency != NULL && f->currency[0] != '\0' ? f->currency : NULL;
    const char *wallet = f->wallet != NULL && f->wallet[0] != '\0' ? f->wallet : NULL;
    kito_sql_param ip[] = {
        KITO_SQL_U64(pr->p.id),
        KITO_SQL_U64(attempt_id),
        KITO_SQL_TEXT(kind),
        KITO_SQL_TEXT(pr->p.state),
        f->has_amount ? KITO_SQL_I64(f->amount_units) : KITO_SQL_NULL,
        KITO_SQL_TEXT_OR_NULL(currency),
        KITO_SQL_TEXT_OR_NULL(wallet),
        KITO_SQL_TEXT_OR_NULL(f->transaction_id),
        KITO_SQL_TEXT(why),
    };
    kito_sql_result res;
    kito_err e = kito_sql_exec(db,
                               "INSERT IGNORE INTO payout_anomalies (payout_id, attempt_id, kind,"
                               " payout_state, reported_amount_units, reported_currency,"
                               " reported_wallet, transaction_id, detail)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, LEFT(?, 512))",
                               ip, KITO_N(ip), &res);
    if (e != KITO_OK)
        return e;
    if (res.affected_rows == 0) {
        *outcome = KITO_PAYOUT_UNCHANGED; /* this report is held already */
        return KITO_OK;
    }
    if (close_attempt) {
        kito_sql_param up[] = {KITO_SQL_TEXT(f->code), KITO_SQL_TEXT(f->desc),
                               KITO_SQL_TEXT_OR_NULL(f->transaction_id),
                               KITO_SQL_TEXT(f->conversation_id), KITO_SQL_U64(attempt_id)};
        e = kito_sql_exec(db,
                          "UPDATE payout_attempts SET state = 'anomaly', result_code = ?,"
                          " result_desc = ?, transaction_id = ?,"
                          " conversation_id = COALESCE(conversation_id, NULLIF(?, '')),"
                          " next_check_at = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                          up, KITO_N(up), NULL);
        if (e != KITO_OK)
            return e;
    }
    kito_sql_param pp[] = {KITO_SQL_U64(pr->p.id)};
    e = kito_sql_exec(db,
                      "UPDATE payouts SET state = 'anomaly', updated_at = UTC_TIMESTAMP(3)"
                      " WHERE id = ?",
                      pp, KITO_N(pp), NULL);
    if (e != KITO_OK)
        return e;
    logf_("ANOMALY %s (%s; the payout was %s): attempt %s: %s; held for the operator", pid, kind,
          pr->p.state, f->ocid, why);
    e = audit_result(db, "payout.anomaly", pr->p.id, attempt_id, f);
    if (e == KITO_OK)
        *outcome = KITO_PAYOUT_ANOMALY;
    return e;
}

/* The state machine's one door for results (see api/money/payouts.h). */
static kito_err finish_locked(kito_db_conn *db, const finish_req *f, const attempt_key *key,
                              kito_payout_outcome *outcome)
{
    payout_row pr;
    attempt_key a = {0};
    /* Lock order everywhere: the payout, then its attempt. */
    kito_err e = load_payout(db, key->payout_id, true, &pr);
    if (e != KITO_OK)
        return e;
    kito_sql_param ap[] = {KITO_SQL_U64(key->id)};
    e = kito_sql_query(db,
                       "SELECT id, payout_id, state FROM payout_attempts WHERE id = ? FOR UPDATE",
                       ap, KITO_N(ap), on_attempt_key, &a, NULL);
    if (e != KITO_OK)
        return e;
    if (!a.found)
        return KITO_E_NOT_FOUND;
    char pid[KITO_ID_SIZE];
    format_id(pr.p.id, pid);
    if (is_final(a.state)) {
        if (f->success && !f->local && strcmp(a.state, "failed") == 0) {
            /* DESIGN.md: a success after a recorded failure is held, never ignored: the payout
             * may have been retried and the miner paid twice */
            char why[200];
            snprintf(why, sizeof(why),
                     "a success for attempt %s, recorded as failed; the payout was %s", f->ocid,
                     pr.p.state);
            return hold_locked(db, &pr, a.id, "success_after_failure", why, f, false, outcome);
        }
        /* duplicate, late or reordered: final states never change */
        if ((strcmp(a.state, "succeeded") == 0) != f->success)
            logf_("%s: a %s result for attempt %s, which already %s: ignored", pid,
                  f->success ? "success" : "failure", f->ocid, a.state);
        *outcome = KITO_PAYOUT_UNCHANGED;
        return KITO_OK;
    }
    if (!f->local && strcmp(a.state, "queued") == 0) {
        /* never sent, so the provider cannot have a result for it */
        logf_("%s: a provider result for attempt %s, which was never sent: ignored", pid, f->ocid);
        *outcome = KITO_PAYOUT_UNCHANGED;
        return KITO_OK;
    }
    if (f->success) {
        char why[200];
        const char *kind = kito_payout_disagreement(&pr.p, f->has_amount, f->amount_units,
                                                    f->currency, f->wallet, why, sizeof(why));
        if (kind == NULL && strcmp(pr.p.state, "submitted") != 0) {
            kind = "success_while_held";
            snprintf(why, sizeof(why), "the provider paid attempt %s but the payout is %s", f->ocid,
                     pr.p.state);
        }
        if (kind != NULL) /* DESIGN.md: a report that disagrees is held, never trusted */
            return hold_locked(db, &pr, a.id, kind, why, f, true, outcome);
        kito_sql_param up[] = {KITO_SQL_TEXT(f->code), KITO_SQL_TEXT(f->desc),
                               KITO_SQL_TEXT(f->transaction_id), KITO_SQL_TEXT(f->conversation_id),
                               KITO_SQL_U64(a.id)};
        e = kito_sql_exec(db,
                          "UPDATE payout_attempts SET state = 'succeeded', result_code = ?,"
                          " result_desc = ?, transaction_id = ?,"
                          " conversation_id = COALESCE(conversation_id, NULLIF(?, '')),"
                          " next_check_at = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                          up, KITO_N(up), NULL);
        uint64_t txid = 0;
        if (e == KITO_OK)
            e = post_ledger(db, &pr.p, f->transaction_id, &txid);
        kito_sql_param pp[] = {KITO_SQL_U64(txid), KITO_SQL_U64(pr.p.id)};
        if (e == KITO_OK)
            e = kito_sql_exec(db,
                              "UPDATE payouts SET state = 'succeeded', ledger_transaction_id = ?,"
                              " succeeded_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)"
                              " WHERE id = ? AND state = 'submitted'",
                              pp, KITO_N(pp), NULL);
        if (e == KITO_OK)
            e = audit_result(db, "payout.succeeded", pr.p.id, a.id, f);
        if (e == KITO_OK)
            *outcome = KITO_PAYOUT_APPLIED_SUCCESS;
        return e;
    }
    kito_sql_param up[] = {KITO_SQL_TEXT(f->code), KITO_SQL_TEXT(f->desc),
                           KITO_SQL_TEXT(f->conversation_id), KITO_SQL_U64(a.id)};
    e = kito_sql_exec(
        db,
        "UPDATE payout_attempts SET state = 'failed', result_code = ?,"
        " result_desc = ?, conversation_id = COALESCE(conversation_id, NULLIF(?, '')),"
        " next_check_at = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
        up, KITO_N(up), NULL);
    if (e == KITO_OK)
        e = audit_result(db, "payout.attempt_failed", pr.p.id, a.id, f);
    bool current = pr.current_attempt == a.id && strcmp(pr.p.state, "submitted") == 0;
    if (e == KITO_OK && current) {
        if (f->auto_retry && pr.p.attempts < KITO_PAYOUT_AUTO_ATTEMPTS) {
            e = add_attempt_locked(db, &pr.p, 0, NULL); /* stays submitted */
        } else {
            kito_sql_param pp[] = {KITO_SQL_U64(pr.p.id)};
            e = kito_sql_exec(db,
                              "UPDATE payouts SET state = 'failed', updated_at = UTC_TIMESTAMP(3)"
                              " WHERE id = ? AND state = 'submitted'",
                              pp, KITO_N(pp), NULL);
        }
    }
    if (e == KITO_OK)
        *outcome = KITO_PAYOUT_APPLIED_FAILURE;
    return e;
}

static kito_err finish(kito_db_conn *db, const finish_req *f, kito_payout_outcome *outcome)
{
    attempt_key key = {0};
    kito_sql_param p[] = {KITO_SQL_TEXT(f->ocid)};
    kito_err e = kito_sql_query(db,
                                "SELECT id, payout_id, state FROM payout_attempts"
                                " WHERE originator_conversation_id = ?",
                                p, KITO_N(p), on_attempt_key, &key, NULL);
    if (e == KITO_OK && !key.found && f->conversation_id[0] != '\0') {
        /* a provider that assigns its own OriginatorConversationID: match its ConversationID */
        kito_sql_param cp[] = {KITO_SQL_TEXT(f->conversation_id)};
        e = kito_sql_query(db,
                           "SELECT id, payout_id, state FROM payout_attempts"
                           " WHERE conversation_id = ? ORDER BY id LIMIT 1",
                           cp, KITO_N(cp), on_attempt_key, &key, NULL);
    }
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
        .success = res->success,
        .code = res->code,
        .desc = res->desc,
        .transaction_id = res->transaction_id,
        .has_amount = res->has_amount,
        .amount_units = res->amount_units,
        .currency = res->currency,
        .wallet = res->wallet,
    };
    kito_err e = finish(db, &f, outcome);
    if (e == KITO_E_CONFLICT && f.success) {
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

/* ---- exchange rates ------------------------------------------------------------------------- */

kito_err kito_fx_set(kito_db_conn *db, const char *from, const char *to, int64_t rate_micros,
                     uint64_t actor_id, uint64_t *id)
{
    if (strcmp(from, to) == 0 || rate_micros <= 0)
        return KITO_E_VALIDATION;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    kito_sql_param p[] = {KITO_SQL_TEXT(from), KITO_SQL_TEXT(to), KITO_SQL_I64(rate_micros),
                          actor_id != 0 ? KITO_SQL_U64(actor_id) : KITO_SQL_NULL};
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO exchange_rates (from_currency, to_currency, rate_micros, set_by)"
                      " VALUES (?, ?, ?, ?)",
                      p, KITO_N(p), &res);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:s, s:s, s:I}", "from", from, "to", to, "rate_micros",
                                   (json_int_t)rate_micros);
        e = kito_audit(db, actor_id, "fx.set", "exchange_rate", res.insert_id, detail, NULL);
        json_decref(detail);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK)
        return e;
    if (id != NULL)
        *id = res.insert_id;
    return KITO_OK;
}

/* ---- reading --------------------------------------------------------------------------------- */

typedef struct list_ctx {
    kito_payout_fn fn;
    void *ud;
} list_ctx;

static kito_err on_list_row(void *ud, const kito_sql_row *row)
{
    list_ctx *c = ud;
    kito_payout p;
    read_payout(row, &p, NULL);
    return c->fn(c->ud, &p);
}

kito_err kito_payout_list(kito_db_conn *db, uint64_t miner_id, const char *state, uint64_t after_id,
                          size_t limit, kito_payout_fn fn, void *ud)
{
    list_ctx c = {fn, ud};
    kito_sql_param p[] = {
        KITO_SQL_U64(after_id),       KITO_SQL_U64(miner_id),       KITO_SQL_U64(miner_id),
        KITO_SQL_TEXT_OR_NULL(state), KITO_SQL_TEXT_OR_NULL(state), KITO_SQL_U64(limit),
    };
    return kito_sql_query(db,
                          "SELECT " PAYOUT_COLS " FROM payouts p WHERE p.id > ?"
                          " AND (? = 0 OR p.miner_id = ?) AND (? IS NULL OR p.state = ?)"
                          " ORDER BY p.id LIMIT ?",
                          p, KITO_N(p), on_list_row, &c, NULL);
}

typedef struct attempt_ctx {
    kito_payout_attempt_fn fn;
    void *ud;
} attempt_ctx;

static kito_err on_attempt_row(void *ud, const kito_sql_row *row)
{
    attempt_ctx *c = ud;
    kito_payout_attempt a;
    memset(&a, 0, sizeof(a));
    a.id = kito_sql_u64(row, 0);
    a.payout_id = kito_sql_u64(row, 1);
    a.attempt_no = (uint32_t)kito_sql_u64(row, 2);
    kito_sql_copy(row, 3, a.originator_conversation_id, sizeof(a.originator_conversation_id));
    kito_sql_copy(row, 4, a.conversation_id, sizeof(a.conversation_id));
    kito_sql_copy(row, 5, a.state, sizeof(a.state));
    kito_sql_copy(row, 6, a.result_code, sizeof(a.result_code));
    kito_sql_copy(row, 7, a.result_desc, sizeof(a.result_desc));
    kito_sql_copy(row, 8, a.transaction_id, sizeof(a.transaction_id));
    a.created_ms = kito_sql_i64(row, 9);
    a.updated_ms = kito_sql_i64(row, 10);
    return c->fn(c->ud, &a);
}

kito_err kito_payout_get(kito_db_conn *db, uint64_t id, kito_payout *out, kito_payout_attempt_fn fn,
                         void *ud)
{
    payout_row pr;
    kito_err e = load_payout(db, id, false, &pr);
    if (e != KITO_OK)
        return e;
    *out = pr.p;
    if (fn == NULL)
        return KITO_OK;
    attempt_ctx c = {fn, ud};
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    return kito_sql_query(
        db,
        "SELECT id, payout_id, attempt_no, originator_conversation_id,"
        " conversation_id, state, result_code, result_desc, transaction_id, " KITO_SQL_DT_TO_MS(
            "created_at") ", " KITO_SQL_DT_TO_MS("updated_at") " FROM payout_attempts"
                                                               " WHERE payout_id = ? ORDER BY"
                                                               " attempt_no",
        p, KITO_N(p), on_attempt_row, &c, NULL);
}

/* ---- the worker ------------------------------------------------------------------------------ */

enum { RAILS_MAX = 3 };

struct kito_payouts {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stop;
    kito_db_params db;
    kito_mpesa_conf mpesa;       /* the Daraja driver's own settings (kito_rail_conf.mpesa) */
    char mpesa_credential[2048]; /* SecurityCredential, made once at start (secret) */
    char paybill[16];            /* KITO_PAY_MPESA_PAYBILL: its C2B URLs are registered */
    bool c2b_registered;
    kito_rail_client clients[RAILS_MAX]; /* one per configured rail */
    size_t rails;
    char rail_names[64]; /* "mpesa,mtn_momo": FIND_IN_SET over the configured rails */
    uint32_t interval_ms;
    uint32_t check_after_ms;
    uint64_t quiet_until_ms; /* throttles the "MySQL unavailable" line */
};

static bool should_abort(void *ud)
{
    kito_payouts *w = ud;
    return atomic_load(&w->stop);
}

static kito_rail_client *client_for(kito_payouts *w, const char *rail)
{
    for (size_t i = 0; i < w->rails; i++)
        if (strcmp(w->clients[i].driver->name, rail) == 0)
            return &w->clients[i];
    return NULL;
}

/* An attempt the worker sends or asks about, with what its rail needs. */
typedef struct work_row {
    uint64_t id, payout_id;
    uint32_t checks;
    int64_t units;
    char state[17];
    char ocid[KITO_RAIL_REF_SIZE];
    char provider_id[KITO_RAIL_REF_SIZE];
    char msisdn[17], rail[17], currency[4], country[3];
} work_row;

typedef struct work_list {
    work_row rows[KITO_PAYOUT_BATCH];
    size_t n;
} work_list;

#define WORK_COLS                                                                                  \
    "a.id, a.payout_id, a.checks, p.paid_units, a.state, a.originator_conversation_id,"            \
    " COALESCE(a.conversation_id, ''), p.msisdn, p.rail, p.currency, COALESCE(mp.country, '')"
#define WORK_FROM                                                                                  \
    " FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id"                                 \
    " LEFT JOIN miner_profiles mp ON mp.account_id = p.miner_id"

static kito_err on_work(void *ud, const kito_sql_row *row)
{
    work_list *l = ud;
    if (l->n >= KITO_N(l->rows))
        return KITO_OK;
    work_row *q = &l->rows[l->n++];
    q->id = kito_sql_u64(row, 0);
    q->payout_id = kito_sql_u64(row, 1);
    q->checks = (uint32_t)kito_sql_u64(row, 2);
    q->units = kito_sql_i64(row, 3);
    kito_sql_copy(row, 4, q->state, sizeof(q->state));
    kito_sql_copy(row, 5, q->ocid, sizeof(q->ocid));
    kito_sql_copy(row, 6, q->provider_id, sizeof(q->provider_id));
    kito_sql_copy(row, 7, q->msisdn, sizeof(q->msisdn));
    kito_sql_copy(row, 8, q->rail, sizeof(q->rail));
    kito_sql_copy(row, 9, q->currency, sizeof(q->currency));
    kito_sql_copy(row, 10, q->country, sizeof(q->country));
    return KITO_OK;
}

/* Fails an attempt for a reason of Kito's or a definite refusal. */
static kito_err fail_attempt(kito_db_conn *db, const char *ocid, const char *code, const char *desc,
                             bool auto_retry)
{
    finish_req f = {.ocid = ocid,
                    .conversation_id = "",
                    .success = false,
                    .code = code,
                    .desc = desc,
                    .auto_retry = auto_retry,
                    .local = true};
    kito_payout_outcome o;
    return finish(db, &f, &o);
}

/* The masked copy of a request that is stored: credentials are secrets. */
static char *masked_request(const json_t *req)
{
    json_t *copy = req != NULL ? json_deep_copy(req) : json_object();
    if (copy == NULL)
        return NULL;
    static const char *const secrets[] = {"SecurityCredential", "pin", "client_secret"};
    for (size_t i = 0; i < KITO_N(secrets); i++)
        if (json_object_get(copy, secrets[i]) != NULL)
            json_object_set_new(copy, secrets[i], json_string("***"));
    char *text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return text;
}

static void transfer_of(const work_row *q, const char *pid, kito_rail_transfer *t)
{
    *t = (kito_rail_transfer){.reference = q->ocid,
                              .amount_units = q->units,
                              .currency = q->currency,
                              .country = q->country,
                              .msisdn = q->msisdn,
                              .remarks = "Kito gemstone sale payout",
                              .payout_id = pid};
}

/* Applies a final result the provider gave (acceptance, status enquiry) for attempt q. */
static kito_err apply_final(kito_db_conn *db, const work_row *q, const char *pid,
                            kito_rail_result *res, const char *how)
{
    /* we asked about this attempt: the answer is about it, whatever id the provider uses */
    kito_rail_copy(res->reference, sizeof(res->reference), q->ocid);
    kito_payout_outcome o;
    kito_err e = kito_payout_apply_rail_result(db, res, &o);
    if (e == KITO_OK && o != KITO_PAYOUT_ANOMALY)
        logf_("%s: attempt %s resolved by %s: %s", pid, q->ocid, how,
              res->success ? "paid" : "not paid");
    return e;
}

/* Sends one queued attempt: claim, send, record. */
static kito_err send_one(kito_payouts *w, kito_db_conn *db, const work_row *q)
{
    char pid[KITO_ID_SIZE];
    format_id(q->payout_id, pid);
    kito_rail_client *c = client_for(w, q->rail);
    if (c == NULL)
        return KITO_OK; /* not configured (the query filters these out) */
    kito_rail_transfer t;
    transfer_of(q, pid, &t);
    kito_rail_request req;
    kito_err e = c->driver->build_transfer(&c->conf, &t, &req);
    if (e == KITO_E_VALIDATION) {
        kito_rail_request_clear(&req);
        logf_("%s: cannot request %" PRId64 " units to %s over %s: failed", pid, q->units,
              q->msisdn, q->rail);
        return fail_attempt(db, q->ocid, "kito.invalid_request",
                            "the amount is below one unit or the wallet number is not valid",
                            false);
    }
    if (e != KITO_OK) {
        kito_rail_request_clear(&req);
        return e;
    }
    char *stored = masked_request(req.body);
    if (stored == NULL) {
        kito_rail_request_clear(&req);
        return KITO_E_NOMEM;
    }
    /* The claim is committed before the request leaves: from here on, a crash leaves the
     * attempt "sending", which is only ever asked about, never sent again. */
    kito_sql_param cp[] = {KITO_SQL_TEXT(stored), KITO_SQL_I64((int64_t)w->check_after_ms * 1000),
                           KITO_SQL_U64(q->id)};
    kito_sql_result res = {0};
    e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE payout_attempts SET state = 'sending', request_json = ?,"
                          " sent_at = UTC_TIMESTAMP(3),"
                          " next_check_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND,"
                          " updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state = 'queued'",
                          cp, KITO_N(cp), &res);
    free(stored);
    /* the money leaves with this request: its audit row commits with the claim (issue 15) */
    if (e == KITO_OK && res.affected_rows == 1) {
        json_t *d = json_pack("{s:s, s:s, s:I, s:s}", "rail", q->rail, "originator_conversation_id",
                              q->ocid, "amount_units", (json_int_t)q->units, "msisdn", q->msisdn);
        e = d != NULL ? kito_audit(db, 0, "payout.send", "payout", q->payout_id, d, NULL)
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK || res.affected_rows != 1) {
        kito_rail_request_clear(&req);
        return e; /* another worker claimed it */
    }
    kito_rail_http h;
    kito_err ce = kito_rail_client_send(c, &req, should_abort, w, &h);
    kito_rail_request_clear(&req);
    kito_rail_answer r;
    c->driver->parse_acceptance(ce == KITO_OK ? h.status : 0, h.body, h.len, q->ocid, &r);
    switch (r.ack) {
    case KITO_RAIL_ACK_ACCEPTED: {
        kito_sql_param ap[] = {r.provider_id[0] != '\0' ? KITO_SQL_TEXT(r.provider_id)
                                                        : KITO_SQL_NULL,
                               KITO_SQL_U64(q->id)};
        e = kito_sql_exec(db,
                          "UPDATE payout_attempts SET state = 'accepted', conversation_id = ?,"
                          " updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state = 'sending'",
                          ap, KITO_N(ap), NULL);
        if (e == KITO_OK && r.final)
            e = apply_final(db, q, pid, &r.result, "the provider's answer");
        break;
    }
    case KITO_RAIL_ACK_REFUSED: {
        char code[64];
        snprintf(code, sizeof(code), "refused:%s", r.code[0] != '\0' ? r.code : "http");
        logf_("%s: attempt %s refused by %s (HTTP %ld %s %s)", pid, q->ocid, q->rail, h.status,
              r.code, r.desc);
        e = fail_attempt(db, q->ocid, code, r.desc, false);
        break;
    }
    case KITO_RAIL_ACK_UNKNOWN:
        logf_("%s: attempt %s over %s: no usable answer (%s%s%ld); its status will be asked for, "
              "it will not be sent again",
              pid, q->ocid, q->rail, ce != KITO_OK ? h.error : "",
              ce != KITO_OK ? ", HTTP " : "HTTP ", h.status);
        break;
    }
    kito_rail_http_free(&h);
    return e;
}

static kito_err send_queued(kito_payouts *w, kito_db_conn *db)
{
    work_list l = {.n = 0};
    kito_sql_param p[] = {KITO_SQL_TEXT(w->rail_names), KITO_SQL_U64(KITO_N(l.rows))};
    kito_err e = kito_sql_query(db,
                                "SELECT " WORK_COLS WORK_FROM
                                " WHERE a.state = 'queued' AND FIND_IN_SET(p.rail, ?)"
                                " AND p.state = 'submitted' ORDER BY a.id LIMIT ?",
                                p, KITO_N(p), on_work, &l, NULL);
    for (size_t i = 0; e == KITO_OK && i < l.n && !atomic_load(&w->stop); i++)
        e = send_one(w, db, &l.rows[i]);
    return e;
}

/* Asks again later: check_after x 2^checks, at most KITO_PAYOUT_CHECK_MAX_MS. */
static kito_err check_later(kito_payouts *w, kito_db_conn *db, const work_row *c,
                            bool provider_has_it)
{
    uint64_t wait = kito_backoff_after(w->check_after_ms, KITO_PAYOUT_CHECK_MAX_MS, c->checks);
    kito_sql_param p[] = {KITO_SQL_I64((int64_t)wait * 1000), KITO_SQL_U64(c->id)};
    return kito_sql_exec(db,
                         provider_has_it
                             ? "UPDATE payout_attempts SET checks = checks + 1,"
                               " state = IF(state = 'sending', 'accepted', state),"
                               " next_check_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND"
                               " WHERE id = ? AND state IN ('sending', 'accepted')"
                             : "UPDATE payout_attempts SET checks = checks + 1,"
                               " next_check_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND"
                               " WHERE id = ? AND state IN ('sending', 'accepted')",
                         p, KITO_N(p), NULL);
}

static kito_err check_one(kito_payouts *w, kito_db_conn *db, const work_row *q)
{
    char pid[KITO_ID_SIZE];
    format_id(q->payout_id, pid);
    kito_rail_client *c = client_for(w, q->rail);
    if (c == NULL)
        return KITO_OK;
    kito_rail_transfer t;
    transfer_of(q, pid, &t);
    kito_rail_request req;
    kito_err e = c->driver->build_status(&c->conf, &t, q->provider_id, &req);
    if (e != KITO_OK) {
        kito_rail_request_clear(&req);
        return e == KITO_E_VALIDATION ? check_later(w, db, q, false) : e;
    }
    kito_rail_http h;
    kito_err ce = kito_rail_client_send(c, &req, should_abort, w, &h);
    kito_rail_request_clear(&req);
    kito_rail_result res;
    kito_rail_status st =
        c->driver->parse_status(ce == KITO_OK ? h.status : 0, h.body, h.len, q->ocid, &res);
    kito_rail_http_free(&h);
    switch (st) {
    case KITO_RAIL_STATUS_FINAL:
        return apply_final(db, q, pid, &res, "a status enquiry");
    case KITO_RAIL_STATUS_NOT_FOUND:
        if (strcmp(q->state, "sending") == 0) {
            /* The provider says it never received the request, and the request timed out long
             * ago (KITO_PAYOUT_CHECK_AFTER_MS > the call timeout): it cannot arrive any more,
             * so a new attempt with a new reference is safe. */
            logf_("%s: attempt %s never reached %s: a new attempt follows", pid, q->ocid, q->rail);
            return fail_attempt(db, q->ocid, "kito.not_received",
                                "the provider has no record of this request", true);
        }
        logf_("ANOMALY %s: %s accepted attempt %s and now does not know it", pid, q->rail, q->ocid);
        return check_later(w, db, q, false);
    case KITO_RAIL_STATUS_PENDING:
        return check_later(w, db, q, true);
    case KITO_RAIL_STATUS_UNKNOWN:
        break;
    }
    return check_later(w, db, q, false);
}

static kito_err check_due(kito_payouts *w, kito_db_conn *db)
{
    work_list l = {.n = 0};
    kito_sql_param p[] = {KITO_SQL_TEXT(w->rail_names), KITO_SQL_U64(KITO_N(l.rows))};
    kito_err e =
        kito_sql_query(db,
                       "SELECT " WORK_COLS WORK_FROM " WHERE a.state IN ('sending', 'accepted')"
                       " AND a.next_check_at <= UTC_TIMESTAMP(3)"
                       " AND FIND_IN_SET(p.rail, ?)"
                       " ORDER BY a.next_check_at, a.id LIMIT ?",
                       p, KITO_N(p), on_work, &l, NULL);
    for (size_t i = 0; e == KITO_OK && i < l.n && !atomic_load(&w->stop); i++)
        e = check_one(w, db, &l.rows[i]);
    return e;
}

/* Registers the paybill's C2B ValidationURL and ConfirmationURL with Daraja (mpesa.h; issue 19,
 * payments in) once per start, retried each pass until it is taken. */
static void register_c2b(kito_payouts *w)
{
    kito_rail_client *c = client_for(w, "mpesa");
    if (w->c2b_registered || w->paybill[0] == '\0' || c == NULL)
        return;
    kito_rail_request req;
    memset(&req, 0, sizeof(req));
    if (kito_mpesa_c2b_register_build(&w->mpesa, w->paybill, &req.body) != KITO_OK) {
        kito_rail_request_clear(&req);
        return;
    }
    snprintf(req.method, sizeof(req.method), "POST");
    snprintf(req.path, sizeof(req.path), "%s", KITO_MPESA_PATH_C2B_REGISTER);
    req.bearer = true;
    kito_rail_http h;
    kito_err e = kito_rail_client_send(c, &req, should_abort, w, &h);
    kito_rail_request_clear(&req);
    kito_mpesa_response r;
    kito_mpesa_response_parse(e == KITO_OK ? h.status : 0, h.body, h.len, &r);
    w->c2b_registered = e == KITO_OK && h.status == 200 && strcmp(r.code, "0") == 0;
    logf_("M-Pesa C2B URLs for paybill %s: %s (HTTP %ld %s)", w->paybill,
          w->c2b_registered ? "registered" : "not registered yet", h.status, r.desc);
    kito_rail_http_free(&h);
}

static void tick(kito_payouts *w, kito_db_conn *db)
{
    register_c2b(w);
    size_t created = 0, queued = 0;
    bool sending = w->rails > 0;
    kito_err e = kito_payouts_create_due(db, KITO_PAYOUT_BATCH, &created);
    if (e == KITO_OK && sending)
        e = kito_payouts_queue_pending(db, w->rail_names, KITO_PAYOUT_BATCH, &queued);
    if (e == KITO_OK && sending)
        e = send_queued(w, db);
    if (e == KITO_OK && sending)
        e = check_due(w, db);
    if (e != KITO_OK) {
        uint64_t now = kito_db_now_ms();
        if (now >= w->quiet_until_ms) {
            logf_("a pass stopped: %s (%s); retrying", kito_err_code(e), kito_sql_last_error());
            w->quiet_until_ms = now + 10000;
        }
    }
}

static void *worker_main(void *arg)
{
    kito_payouts *w = arg;
    kito_db_conn *db = kito_db_worker_ops()->start(&w->db);
    while (!atomic_load(&w->stop)) {
        if (db != NULL)
            tick(w, db);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)w->interval_ms * 1000000u;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_mutex_lock(&w->mu);
        while (!atomic_load(&w->stop) && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
        }
        pthread_mutex_unlock(&w->mu);
    }
    kito_db_worker_ops()->stop(db, &w->db);
    return NULL;
}

/* Adds a configured rail's client. */
static void add_rail(kito_payouts *w, const kito_rail_driver *d, kito_rail_conf conf)
{
    assert(w->rails < RAILS_MAX);
    kito_rail_client *c = &w->clients[w->rails++];
    memset(c, 0, sizeof(*c));
    c->driver = d;
    c->conf = conf;
    size_t used = strlen(w->rail_names);
    snprintf(w->rail_names + used, sizeof(w->rail_names) - used, "%s%s", used > 0 ? "," : "",
             d->name);
}

kito_err kito_payouts_start(const kito_config *cfg, const kito_db_params *db, kito_payouts **out)
{
    *out = NULL;
    kito_payouts *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(w);
        return KITO_E_INTERNAL;
    }
    w->db = *db;
    if (cfg->mpesa_base_url[0] != '\0') {
        /* Daraja wants the initiator password encrypted with M-Pesa's certificate (mpesa.h);
         * a certificate that cannot be used stops the start: payouts would all be refused */
        char why[256] = "";
        kito_err ce = kito_mpesa_security_credential(cfg->mpesa_cert, cfg->mpesa_initiator_password,
                                                     w->mpesa_credential,
                                                     sizeof(w->mpesa_credential), why, sizeof(why));
        if (ce != KITO_OK) {
            kito_log("payouts", "KITO_MPESA_CERT: %s", why);
            free(w);
            return ce;
        }
    }
    w->mpesa = (kito_mpesa_conf){
        .base_url = cfg->mpesa_base_url,
        .initiator = cfg->mpesa_initiator,
        .security_credential = w->mpesa_credential,
        .shortcode = cfg->mpesa_shortcode,
        .callback_base = cfg->mpesa_callback_base,
        .callback_token = cfg->mpesa_callback_token,
        .timeout_ms = cfg->mpesa_timeout_ms,
    };
    /* every rail whose provider is configured (common/config.c checks each is complete) */
    if (cfg->mpesa_base_url[0] != '\0')
        add_rail(w, &kito_rail_mpesa,
                 (kito_rail_conf){.base_url = cfg->mpesa_base_url,
                                  .client_id = cfg->mpesa_consumer_key,
                                  .client_secret = cfg->mpesa_consumer_secret,
                                  .mpesa = &w->mpesa,
                                  .timeout_ms = cfg->mpesa_timeout_ms});
    if (cfg->momo_base_url[0] != '\0')
        add_rail(w, &kito_rail_momo,
                 (kito_rail_conf){.base_url = cfg->momo_base_url,
                                  .client_id = cfg->momo_api_user,
                                  .client_secret = cfg->momo_api_key,
                                  .subscription_key = cfg->momo_subscription_key,
                                  .environment = cfg->momo_target_environment,
                                  .timeout_ms = cfg->mpesa_timeout_ms});
    if (cfg->airtel_base_url[0] != '\0')
        add_rail(w, &kito_rail_airtel,
                 (kito_rail_conf){.base_url = cfg->airtel_base_url,
                                  .client_id = cfg->airtel_client_id,
                                  .client_secret = cfg->airtel_client_secret,
                                  .pin = cfg->airtel_pin,
                                  .timeout_ms = cfg->mpesa_timeout_ms});
    snprintf(w->paybill, sizeof(w->paybill), "%s", cfg->pay.mpesa_paybill);
    w->interval_ms = cfg->payout_interval_ms;
    w->check_after_ms = cfg->payout_check_after_ms;
    atomic_init(&w->stop, false);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return KITO_E_INTERNAL;
    }
    kito_log("payouts", "worker started (rails: %s)",
             w->rails > 0 ? w->rail_names : "none configured: creating payouts only");
    *out = w;
    return KITO_OK;
}

void kito_payouts_stop(kito_payouts *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, true);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
