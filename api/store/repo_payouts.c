#include "api/store/repo_payouts.h"

#include <stdio.h>
#include <string.h>

#include "api/store/sql.h"

void kito_payout_format_id(uint64_t id, char out[KITO_ID_SIZE])
{
    if (kito_id_format(KITO_ID_PAYOUT, id, out, KITO_ID_SIZE) != KITO_OK)
        snprintf(out, KITO_ID_SIZE, "pay_?");
}

/* ---- payouts --------------------------------------------------------------------------------- */

/* clang-format off */
#define PAYOUT_COLS                                                                                \
    "p.id, p.settlement_id, p.miner_id, p.msisdn, p.rail, p.currency, p.amount_minor,"             \
    " p.paid_units, p.remainder_minor, p.source_minor, p.source_currency, p.exchange_rate_id,"     \
    " p.rate_micros, p.state, p.attempts, p.ledger_transaction_id, "                               \
    KITO_SQL_DT_TO_MS("p.created_at") ", " KITO_SQL_DT_TO_MS("p.updated_at") ", "                  \
    KITO_SQL_DT_TO_MS("p.succeeded_at") ", p.current_attempt_id, p.part_no, p.parts, "            \
    KITO_SQL_DT_TO_MS(KITO_PAYOUT_HELD_UNTIL_SQL("p"))
/* clang-format on */

static void read_payout(const kito_sql_row *row, kito_payout *p)
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
    p->current_attempt_id = kito_sql_u64(row, 19);
    p->part_no = (uint32_t)kito_sql_u64(row, 20);
    p->parts = (uint32_t)kito_sql_u64(row, 21);
    p->held_until_ms = kito_sql_is_null(row, 22) ? 0 : kito_sql_i64(row, 22);
}

typedef struct payout_one {
    kito_payout *p;
    bool found;
} payout_one;

static kito_err on_payout_one(void *ud, const kito_sql_row *row)
{
    payout_one *r = ud;
    read_payout(row, r->p);
    r->found = true;
    return KITO_OK;
}

kito_err kito_repo_payout_load(kito_db_conn *db, uint64_t id, bool lock, kito_payout *out)
{
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    payout_one r = {out, false};
    memset(out, 0, sizeof(*out));
    kito_err e = kito_sql_query(db,
                                lock ? "SELECT " PAYOUT_COLS " FROM payouts p WHERE p.id = ?"
                                       " FOR UPDATE"
                                     : "SELECT " PAYOUT_COLS " FROM payouts p WHERE p.id = ?",
                                p, KITO_N(p), on_payout_one, &r, NULL);
    if (e == KITO_OK && !r.found)
        e = KITO_E_NOT_FOUND;
    return e;
}

typedef struct list_ctx {
    kito_payout_fn fn;
    void *ud;
} list_ctx;

static kito_err on_list_row(void *ud, const kito_sql_row *row)
{
    list_ctx *c = ud;
    kito_payout p;
    read_payout(row, &p);
    return c->fn(c->ud, &p);
}

kito_err kito_repo_payout_list(kito_db_conn *db, uint64_t miner_id, const char *state,
                               uint64_t after_id, size_t limit, kito_payout_fn fn, void *ud)
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

kito_err kito_repo_payout_attempts(kito_db_conn *db, uint64_t payout_id, kito_payout_attempt_fn fn,
                                   void *ud)
{
    attempt_ctx c = {fn, ud};
    kito_sql_param p[] = {KITO_SQL_U64(payout_id)};
    return kito_sql_query(
        db,
        "SELECT id, payout_id, attempt_no, originator_conversation_id,"
        " conversation_id, state, result_code, result_desc, transaction_id, " KITO_SQL_DT_TO_MS(
            "created_at") ", " KITO_SQL_DT_TO_MS("updated_at") " FROM payout_attempts WHERE "
                                                               "payout_id = ? ORDER BY attempt_no",
        p, KITO_N(p), on_attempt_row, &c, NULL);
}

static kito_err on_source_row(void *ud, const kito_sql_row *row)
{
    kito_payout_source *d = ud;
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

kito_err kito_repo_payout_source(kito_db_conn *db, uint64_t settlement_id, kito_payout_source *out)
{
    memset(out, 0, sizeof(*out));
    kito_sql_param sp[] = {KITO_SQL_U64(settlement_id)};
    return kito_sql_query(
        db,
        "SELECT s.miner_id, s.currency, s.miner_net_minor, mp.payout_msisdn, mp.payout_rail,"
        " c.currency, fc.minor_exponent, tc.minor_exponent"
        " FROM settlements s JOIN miner_profiles mp ON mp.account_id = s.miner_id"
        " JOIN countries c ON c.code = mp.country JOIN currencies fc ON fc.code = s.currency"
        " JOIN currencies tc ON tc.code = c.currency WHERE s.id = ?",
        sp, KITO_N(sp), on_source_row, out, NULL);
}

/* Collects the first column of every row as an id. */
typedef struct id_list {
    uint64_t *ids;
    size_t max, n;
} id_list;

static kito_err on_id(void *ud, const kito_sql_row *row)
{
    id_list *l = ud;
    if (l->n < l->max)
        l->ids[l->n++] = kito_sql_u64(row, 0);
    return KITO_OK;
}

kito_err kito_repo_payout_due_settlements(kito_db_conn *db, bool held, uint64_t *ids, size_t max,
                                          size_t *n)
{
    /* Only settlements that can be paid now or are held: a miner with a payout profile and a
     * rate to her currency (the others wait silently and never crowd out the rest of the
     * batch); the held ones apart, least recently looked at first, so they never crowd out
     * the rest either. */
#define DUE_FROM                                                                                   \
    " FROM settlements s"                                                                          \
    " JOIN invoices i ON i.settlement_id = s.id AND i.status = 'paid'"                             \
    " JOIN miner_profiles mp ON mp.account_id = s.miner_id"                                        \
    " JOIN countries c ON c.code = mp.country"                                                     \
    " LEFT JOIN payout_members m ON m.settlement_id = s.id"                                        \
    " LEFT JOIN payout_holds h ON h.settlement_id = s.id"                                          \
    " WHERE m.settlement_id IS NULL AND s.miner_net_minor > 0"                                     \
    " AND (s.currency = c.currency OR EXISTS (SELECT 1 FROM exchange_rates r"                      \
    " WHERE r.from_currency = s.currency AND r.to_currency = c.currency"                           \
    " AND r.effective_from <= UTC_TIMESTAMP(3)))"
    static const char unheld[] =
        "SELECT s.id" DUE_FROM " AND h.settlement_id IS NULL ORDER BY s.id LIMIT ?";
    static const char held_sql[] =
        "SELECT s.id" DUE_FROM " AND h.settlement_id IS NOT NULL ORDER BY h.updated_at, s.id"
        " LIMIT ?";
#undef DUE_FROM
    id_list l = {ids, max, 0};
    kito_sql_param p[] = {KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db, held ? held_sql : unheld, p, KITO_N(p), on_id, &l, NULL);
    *n = l.n;
    return e;
}

typedef struct waiting_list {
    uint64_t *ids;
    int64_t *nets;
    size_t max, n;
} waiting_list;

static kito_err on_waiting(void *ud, const kito_sql_row *row)
{
    waiting_list *l = ud;
    if (l->n < l->max) {
        l->ids[l->n] = kito_sql_u64(row, 0);
        l->nets[l->n++] = kito_sql_i64(row, 1);
    }
    return KITO_OK;
}

kito_err kito_repo_payout_waiting(kito_db_conn *db, uint64_t miner_id, const char *source_currency,
                                  uint64_t *ids, int64_t *nets, size_t max, size_t *n)
{
    waiting_list l = {ids, nets, max, 0};
    kito_sql_param p[] = {KITO_SQL_U64(miner_id), KITO_SQL_TEXT(source_currency),
                          KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db,
                                "SELECT s.id, s.miner_net_minor FROM settlements s"
                                " JOIN invoices i ON i.settlement_id = s.id AND i.status = 'paid'"
                                " LEFT JOIN payout_members m ON m.settlement_id = s.id"
                                " WHERE m.settlement_id IS NULL AND s.miner_id = ?"
                                " AND s.currency = ? AND s.miner_net_minor > 0"
                                " ORDER BY s.id LIMIT ?",
                                p, KITO_N(p), on_waiting, &l, NULL);
    *n = l.n;
    return e;
}

kito_err kito_repo_payout_member_insert(kito_db_conn *db, uint64_t settlement_id,
                                        uint64_t payout_id, int64_t source_minor)
{
    kito_sql_param p[] = {KITO_SQL_U64(settlement_id), KITO_SQL_U64(payout_id),
                          KITO_SQL_I64(source_minor)};
    return kito_sql_exec(db,
                         "INSERT INTO payout_members (settlement_id, payout_id, source_minor)"
                         " VALUES (?, ?, ?)",
                         p, KITO_N(p), NULL);
}

kito_err kito_repo_payout_hold(kito_db_conn *db, uint64_t settlement_id, const char *reason,
                               const char *detail, bool *is_new)
{
    kito_sql_param p[] = {KITO_SQL_U64(settlement_id), KITO_SQL_TEXT(reason),
                          KITO_SQL_TEXT(detail)};
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(
        db,
        "INSERT INTO payout_holds (settlement_id, reason, detail) VALUES (?, ?, LEFT(?, 512))"
        " ON DUPLICATE KEY UPDATE updated_at = UTC_TIMESTAMP(3),"
        " created_at = IF(reason = VALUES(reason), created_at, UTC_TIMESTAMP(3)),"
        " reason = VALUES(reason), detail = VALUES(detail)",
        p, KITO_N(p), &res);
    if (is_new != NULL)
        *is_new = e == KITO_OK && res.affected_rows == 1; /* 2: an existing row updated */
    return e;
}

kito_err kito_repo_payout_unhold(kito_db_conn *db, uint64_t settlement_id)
{
    kito_sql_param p[] = {KITO_SQL_U64(settlement_id)};
    return kito_sql_exec(db, "DELETE FROM payout_holds WHERE settlement_id = ?", p, KITO_N(p),
                         NULL);
}

kito_err kito_repo_payout_insert(kito_db_conn *db, const kito_payout *p, uint64_t *id)
{
    kito_sql_param ip[] = {
        KITO_SQL_U64(p->settlement_id),
        KITO_SQL_U64(p->part_no > 0 ? p->part_no : 1),
        KITO_SQL_U64(p->parts > 0 ? p->parts : 1),
        KITO_SQL_U64(p->miner_id),
        KITO_SQL_TEXT(p->msisdn),
        KITO_SQL_TEXT(p->rail),
        KITO_SQL_TEXT(p->currency),
        KITO_SQL_I64(p->amount_minor),
        KITO_SQL_I64(p->paid_units),
        KITO_SQL_I64(p->remainder_minor),
        KITO_SQL_I64(p->source_minor),
        KITO_SQL_TEXT(p->source_currency),
        p->exchange_rate_id != 0 ? KITO_SQL_U64(p->exchange_rate_id) : KITO_SQL_NULL,
        KITO_SQL_I64(p->rate_micros),
    };
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "INSERT INTO payouts (settlement_id, part_no, parts, miner_id,"
                               " msisdn, rail, currency, amount_minor, paid_units, remainder_minor,"
                               " source_minor, source_currency, exchange_rate_id, rate_micros)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               ip, KITO_N(ip), &res);
    if (e == KITO_OK)
        *id = res.insert_id;
    return e;
}

static kito_err on_found(void *ud, const kito_sql_row *row)
{
    (void)row;
    *(bool *)ud = true;
    return KITO_OK;
}

kito_err kito_repo_payout_wallet_held(kito_db_conn *db, uint64_t miner_id, const char *msisdn,
                                      const char *rail, bool *held)
{
    *held = false;
    kito_sql_param p[] = {KITO_SQL_U64(miner_id), KITO_SQL_TEXT(msisdn), KITO_SQL_TEXT(rail)};
    return kito_sql_query(db,
                          "SELECT 1 FROM payout_wallet_changes w WHERE w.account_id = ?"
                          " AND w.new_msisdn = ? AND w.new_rail = ?"
                          " AND w.hold_until > UTC_TIMESTAMP(3) LIMIT 1",
                          p, KITO_N(p), on_found, held, NULL);
}

kito_err kito_repo_payout_pending(kito_db_conn *db, const char *rails, uint64_t *ids, size_t max,
                                  size_t *n)
{
    id_list l = {ids, max, 0};
    /* a new wallet's payouts wait out her change's hold (issue 15, finding 5) */
    /* clang-format off */
    static const char sql[] =
        "SELECT p.id FROM payouts p WHERE p.state = 'pending' AND FIND_IN_SET(p.rail, ?)"
        " AND " KITO_PAYOUT_HELD_UNTIL_SQL("p") " IS NULL"
        " ORDER BY p.id LIMIT ?";
    /* clang-format on */
    kito_sql_param p[] = {KITO_SQL_TEXT(rails), KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db, sql, p, KITO_N(p), on_id, &l, NULL);
    *n = l.n;
    return e;
}

kito_err kito_repo_payout_set_submitted(kito_db_conn *db, uint64_t payout_id, uint32_t attempts,
                                        uint64_t attempt_id)
{
    kito_sql_param up[] = {KITO_SQL_U64(attempts), KITO_SQL_U64(attempt_id),
                           KITO_SQL_U64(payout_id)};
    return kito_sql_exec(db,
                         "UPDATE payouts SET state = 'submitted', attempts = ?,"
                         " current_attempt_id = ?, updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                         up, KITO_N(up), NULL);
}

kito_err kito_repo_payout_set_state(kito_db_conn *db, uint64_t payout_id, const char *state,
                                    const char *only_from)
{
    kito_sql_param pp[] = {KITO_SQL_TEXT(state), KITO_SQL_U64(payout_id),
                           KITO_SQL_TEXT_OR_NULL(only_from), KITO_SQL_TEXT_OR_NULL(only_from)};
    return kito_sql_exec(db,
                         "UPDATE payouts SET state = ?, updated_at = UTC_TIMESTAMP(3)"
                         " WHERE id = ? AND (? IS NULL OR state = ?)",
                         pp, KITO_N(pp), NULL);
}

kito_err kito_repo_payout_set_succeeded(kito_db_conn *db, uint64_t payout_id,
                                        uint64_t ledger_transaction_id)
{
    kito_sql_param pp[] = {KITO_SQL_U64(ledger_transaction_id), KITO_SQL_U64(payout_id)};
    return kito_sql_exec(db,
                         "UPDATE payouts SET state = 'succeeded', ledger_transaction_id = ?,"
                         " succeeded_at = UTC_TIMESTAMP(3), updated_at = UTC_TIMESTAMP(3)"
                         " WHERE id = ? AND state = 'submitted'",
                         pp, KITO_N(pp), NULL);
}

/* ---- attempts -------------------------------------------------------------------------------- */

kito_err kito_repo_attempt_insert(kito_db_conn *db, uint64_t payout_id, uint32_t attempt_no,
                                  const char *reference, uint64_t *attempt_id)
{
    kito_sql_param ip[] = {KITO_SQL_U64(payout_id), KITO_SQL_U64(attempt_no),
                           KITO_SQL_TEXT(reference)};
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "INSERT INTO payout_attempts (payout_id, attempt_no,"
                               " originator_conversation_id, request_json) VALUES (?, ?, ?, '{}')",
                               ip, KITO_N(ip), &res);
    if (e == KITO_OK)
        *attempt_id = res.insert_id;
    return e;
}

static kito_err on_attempt_key(void *ud, const kito_sql_row *row)
{
    kito_payout_attempt_key *k = ud;
    k->found = true;
    k->id = kito_sql_u64(row, 0);
    k->payout_id = kito_sql_u64(row, 1);
    kito_sql_copy(row, 2, k->state, sizeof(k->state));
    return KITO_OK;
}

kito_err kito_repo_attempt_find(kito_db_conn *db, const char *reference,
                                const char *conversation_id, kito_payout_attempt_key *out)
{
    memset(out, 0, sizeof(*out));
    kito_sql_param p[] = {KITO_SQL_TEXT(reference)};
    kito_err e = kito_sql_query(db,
                                "SELECT id, payout_id, state FROM payout_attempts"
                                " WHERE originator_conversation_id = ?",
                                p, KITO_N(p), on_attempt_key, out, NULL);
    if (e == KITO_OK && !out->found && conversation_id != NULL && conversation_id[0] != '\0') {
        /* a provider that assigns its own OriginatorConversationID: match its ConversationID */
        kito_sql_param cp[] = {KITO_SQL_TEXT(conversation_id)};
        e = kito_sql_query(db,
                           "SELECT id, payout_id, state FROM payout_attempts"
                           " WHERE conversation_id = ? ORDER BY id LIMIT 1",
                           cp, KITO_N(cp), on_attempt_key, out, NULL);
    }
    return e;
}

kito_err kito_repo_attempt_lock(kito_db_conn *db, uint64_t attempt_id, kito_payout_attempt_key *out)
{
    memset(out, 0, sizeof(*out));
    kito_sql_param ap[] = {KITO_SQL_U64(attempt_id)};
    kito_err e = kito_sql_query(
        db, "SELECT id, payout_id, state FROM payout_attempts WHERE id = ? FOR UPDATE", ap,
        KITO_N(ap), on_attempt_key, out, NULL);
    if (e == KITO_OK && !out->found)
        e = KITO_E_NOT_FOUND;
    return e;
}

kito_err kito_repo_attempt_close(kito_db_conn *db, uint64_t attempt_id, const char *state,
                                 const char *code, const char *desc, const char *transaction_id,
                                 const char *conversation_id)
{
    kito_sql_param up[] = {KITO_SQL_TEXT(state),
                           KITO_SQL_TEXT(code),
                           KITO_SQL_TEXT(desc),
                           KITO_SQL_TEXT_OR_NULL(transaction_id),
                           KITO_SQL_TEXT(conversation_id != NULL ? conversation_id : ""),
                           KITO_SQL_U64(attempt_id)};
    return kito_sql_exec(db,
                         "UPDATE payout_attempts SET state = ?, result_code = ?,"
                         " result_desc = ?, transaction_id = COALESCE(?, transaction_id),"
                         " conversation_id = COALESCE(conversation_id, NULLIF(?, '')),"
                         " next_check_at = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                         up, KITO_N(up), NULL);
}

kito_err kito_repo_anomaly_insert(kito_db_conn *db, const kito_payout_anomaly_row *r,
                                  bool *inserted)
{
    kito_sql_param ip[] = {
        KITO_SQL_U64(r->payout_id),
        KITO_SQL_U64(r->attempt_id),
        KITO_SQL_TEXT(r->kind),
        KITO_SQL_TEXT(r->payout_state),
        r->has_amount ? KITO_SQL_I64(r->amount_units) : KITO_SQL_NULL,
        KITO_SQL_TEXT_OR_NULL(r->currency),
        KITO_SQL_TEXT_OR_NULL(r->wallet),
        KITO_SQL_TEXT_OR_NULL(r->transaction_id),
        KITO_SQL_TEXT(r->detail),
    };
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "INSERT IGNORE INTO payout_anomalies (payout_id, attempt_id, kind,"
                               " payout_state, reported_amount_units, reported_currency,"
                               " reported_wallet, transaction_id, detail)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?, LEFT(?, 512))",
                               ip, KITO_N(ip), &res);
    if (e == KITO_OK)
        *inserted = res.affected_rows > 0;
    return e;
}

kito_err kito_repo_anomaly_resolve(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                                   const char *reason, size_t *resolved)
{
    kito_sql_param p[] = {actor_id != 0 ? KITO_SQL_U64(actor_id) : KITO_SQL_NULL,
                          KITO_SQL_TEXT(reason), KITO_SQL_U64(payout_id)};
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "UPDATE payout_anomalies SET resolved_at = UTC_TIMESTAMP(3),"
                               " resolved_by = ?, resolution = ? WHERE payout_id = ?"
                               " AND resolved_at IS NULL",
                               p, KITO_N(p), &res);
    *resolved = e == KITO_OK ? (size_t)res.affected_rows : 0;
    return e;
}

/* ---- the worker's rows ----------------------------------------------------------------------- */

#define WORK_COLS                                                                                  \
    "a.id, a.payout_id, a.checks, p.paid_units, a.state, a.originator_conversation_id,"            \
    " COALESCE(a.conversation_id, ''), p.msisdn, p.rail, p.currency, COALESCE(mp.country, '')"
#define WORK_FROM                                                                                  \
    " FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id"                                 \
    " LEFT JOIN miner_profiles mp ON mp.account_id = p.miner_id"

typedef struct work_list {
    kito_payout_work *rows;
    size_t max, n;
} work_list;

static kito_err on_work(void *ud, const kito_sql_row *row)
{
    work_list *l = ud;
    if (l->n >= l->max)
        return KITO_OK;
    kito_payout_work *q = &l->rows[l->n++];
    memset(q, 0, sizeof(*q));
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

kito_err kito_repo_work_queued(kito_db_conn *db, const char *rails, kito_payout_work *out,
                               size_t max, size_t *n)
{
    work_list l = {out, max, 0};
    kito_sql_param p[] = {KITO_SQL_TEXT(rails), KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db,
                                "SELECT " WORK_COLS WORK_FROM
                                " WHERE a.state = 'queued' AND FIND_IN_SET(p.rail, ?)"
                                " AND p.state = 'submitted' ORDER BY a.id LIMIT ?",
                                p, KITO_N(p), on_work, &l, NULL);
    *n = l.n;
    return e;
}

kito_err kito_repo_work_due_checks(kito_db_conn *db, const char *rails, kito_payout_work *out,
                                   size_t max, size_t *n)
{
    work_list l = {out, max, 0};
    kito_sql_param p[] = {KITO_SQL_TEXT(rails), KITO_SQL_U64(max)};
    kito_err e =
        kito_sql_query(db,
                       "SELECT " WORK_COLS WORK_FROM " WHERE a.state IN ('sending', 'accepted')"
                       " AND a.next_check_at <= UTC_TIMESTAMP(3)"
                       " AND FIND_IN_SET(p.rail, ?)"
                       " ORDER BY a.next_check_at, a.id LIMIT ?",
                       p, KITO_N(p), on_work, &l, NULL);
    *n = l.n;
    return e;
}

kito_err kito_repo_attempt_claim(kito_db_conn *db, uint64_t attempt_id, const char *request_json,
                                 uint32_t check_after_ms, bool *claimed)
{
    kito_sql_param cp[] = {KITO_SQL_TEXT(request_json),
                           KITO_SQL_I64((int64_t)check_after_ms * 1000), KITO_SQL_U64(attempt_id)};
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "UPDATE payout_attempts SET state = 'sending', request_json = ?,"
                               " sent_at = UTC_TIMESTAMP(3),"
                               " next_check_at = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND,"
                               " updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state = 'queued'",
                               cp, KITO_N(cp), &res);
    *claimed = e == KITO_OK && res.affected_rows == 1;
    return e;
}

kito_err kito_repo_attempt_accepted(kito_db_conn *db, uint64_t attempt_id, const char *provider_id)
{
    kito_sql_param ap[] = {
        provider_id != NULL && provider_id[0] != '\0' ? KITO_SQL_TEXT(provider_id) : KITO_SQL_NULL,
        KITO_SQL_U64(attempt_id)};
    return kito_sql_exec(db,
                         "UPDATE payout_attempts SET state = 'accepted', conversation_id = ?,"
                         " updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state = 'sending'",
                         ap, KITO_N(ap), NULL);
}

kito_err kito_repo_attempt_check_later(kito_db_conn *db, uint64_t attempt_id, uint64_t wait_ms,
                                       bool provider_has_it)
{
    kito_sql_param p[] = {KITO_SQL_I64((int64_t)wait_ms * 1000), KITO_SQL_U64(attempt_id)};
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

/* ---- exchange rates -------------------------------------------------------------------------- */

static kito_err on_rate_row(void *ud, const kito_sql_row *row)
{
    kito_fx_rate *r = ud;
    r->found = true;
    r->id = kito_sql_u64(row, 0);
    r->micros = kito_sql_i64(row, 1);
    r->effective_ms = kito_sql_i64(row, 2);
    r->age_ms = kito_sql_i64(row, 3);
    return KITO_OK;
}

kito_err kito_repo_fx_current(kito_db_conn *db, const char *from, const char *to, kito_fx_rate *out)
{
    memset(out, 0, sizeof(*out));
    kito_sql_param rp[] = {KITO_SQL_TEXT(from), KITO_SQL_TEXT(to)};
    return kito_sql_query(
        db,
        /* clang-format off */
        "SELECT id, rate_micros, " KITO_SQL_DT_TO_MS("effective_from") ","
        " TIMESTAMPDIFF(MICROSECOND, effective_from, UTC_TIMESTAMP(3)) DIV 1000"
        " FROM exchange_rates WHERE from_currency = ?"
        " AND to_currency = ? AND effective_from <= UTC_TIMESTAMP(3)"
        " ORDER BY effective_from DESC, id DESC LIMIT 1",
        /* clang-format on */
        rp, KITO_N(rp), on_rate_row, out, NULL);
}

kito_err kito_repo_fx_insert(kito_db_conn *db, const char *from, const char *to,
                             int64_t rate_micros, uint64_t actor_id, uint64_t *id)
{
    kito_sql_param p[] = {KITO_SQL_TEXT(from), KITO_SQL_TEXT(to), KITO_SQL_I64(rate_micros),
                          actor_id != 0 ? KITO_SQL_U64(actor_id) : KITO_SQL_NULL};
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "INSERT INTO exchange_rates (from_currency, to_currency,"
                               " rate_micros, set_by) VALUES (?, ?, ?, ?)",
                               p, KITO_N(p), &res);
    if (e == KITO_OK)
        *id = res.insert_id;
    return e;
}
