#include "api/money/reconcile.h"

#include <stdio.h>
#include <string.h>

#include "api/common/validate.h"
#include "api/money/payouts.h"
#include "api/store/sql.h"

struct reconcile_ctx {
    kito_reconcile_fn fn;
    void *ud;
    const char *kind;
    size_t findings;
};

static kito_err reconcile_row(void *ud, const kito_sql_row *row)
{
    struct reconcile_ctx *c = ud;
    c->findings++;
    uint64_t id = kito_sql_u64(row, 0);
    const char *what = kito_sql_text(row, 1, NULL);
    if (strncmp(c->kind, "payout_", 7) == 0) {
        /* payouts are named as the API and kitoctl name them: "payout pay_..." */
        char pid[KITO_ID_SIZE], line[1024];
        if (kito_id_format(KITO_ID_PAYOUT, id, pid, sizeof(pid)) != KITO_OK)
            snprintf(pid, sizeof(pid), "pay_?");
        snprintf(line, sizeof(line), "payout %s %s", pid, what != NULL ? what : "");
        return c->fn(c->ud, c->kind, id, line);
    }
    return c->fn(c->ud, c->kind, id, what);
}

kito_err kito_reconcile(kito_db_conn *db, kito_reconcile_fn fn, void *ud, size_t *findings)
{
    static const struct {
        const char *kind;
        const char *sql;
    } checks[] = {
        {"ledger_unbalanced",
         "SELECT t.id, CONCAT('ledger transaction ', t.id, ' (', t.kind, ' ', t.reference,"
         " ') sums to ', COALESCE(SUM(e.amount_minor), 0), ' ', COALESCE(e.currency, t.currency),"
         " IF(COUNT(e.id) = 0, ' (no entries)', ''))"
         " FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id"
         " GROUP BY t.id, e.currency HAVING COALESCE(SUM(e.amount_minor), 0) <> 0"
         " OR COUNT(e.id) = 0 ORDER BY t.id"},
        {"invoice_mismatch",
         "SELECT i.id, CONCAT('invoice ', i.number, ' is ', i.status, ' with paid_minor ',"
         " i.paid_minor, ' of ', i.amount_minor, ' but its payments sum to ',"
         " COALESCE(p.total, 0)) FROM invoices i LEFT JOIN (SELECT invoice_id,"
         " SUM(amount_minor) AS total FROM payments GROUP BY invoice_id) p ON p.invoice_id = i.id"
         " WHERE COALESCE(p.total, 0) <> i.paid_minor"
         " OR (i.status = 'paid') <> (COALESCE(p.total, 0) = i.amount_minor)"
         " OR (i.status = 'void' AND COALESCE(p.total, 0) <> 0) ORDER BY i.id"},
        {"settlement_parts",
         "SELECT s.id, CONCAT('settlement ', s.id, ' (lot ', s.lot_id, ') parts do not add up:"
         " hammer ', s.hammer_minor, ' premium ', s.buyer_premium_minor, ' total ',"
         " s.buyer_total_minor, ' commission ', s.commission_minor, ' royalty ', s.royalty_minor,"
         " ' levy ', s.levy_minor, ' net ', s.miner_net_minor, IF(i.amount_minor <>"
         " s.buyer_total_minor, CONCAT('; invoice ', i.amount_minor), ''))"
         " FROM settlements s LEFT JOIN invoices i ON i.settlement_id = s.id"
         " WHERE s.buyer_total_minor <> s.hammer_minor + s.buyer_premium_minor + s.shipping_minor"
         " OR s.miner_net_minor <> s.hammer_minor - s.commission_minor - s.royalty_minor"
         " - s.levy_minor OR i.id IS NULL OR i.amount_minor <> s.buyer_total_minor ORDER BY s.id"},
        {"settlement_ledger",
         "SELECT s.id, CONCAT('settlement ', s.id, ' (lot ', s.lot_id, ') and its ledger"
         " transaction ', s.ledger_transaction_id, ' disagree') FROM settlements s JOIN"
         " (SELECT transaction_id,"
         " SUM(IF(account_code = 1, amount_minor, 0)) AS receivable,"
         " SUM(IF(account_code = 2, -amount_minor, 0)) AS payable,"
         " SUM(IF(account_code = 3, -amount_minor, 0)) AS revenue,"
         " SUM(IF(account_code = 4, -amount_minor, 0)) AS royalty,"
         " SUM(IF(account_code = 5, -amount_minor, 0)) AS levy"
         " FROM ledger_entries GROUP BY transaction_id) l"
         " ON l.transaction_id = s.ledger_transaction_id"
         " WHERE l.receivable <> s.buyer_total_minor OR l.payable <> s.miner_net_minor"
         " OR l.revenue <> s.buyer_premium_minor + s.commission_minor"
         " OR l.royalty <> s.royalty_minor OR l.levy <> s.levy_minor ORDER BY s.id"},
        /* issue 19, "Anomalies are held, not trusted": every report held for the operator */
        {"payout_anomaly",
         "SELECT a.payout_id, CONCAT('(', p.rail, ' ', p.msisdn,"
         " ', asked ', p.paid_units, ' ', p.currency, ') held since ',"
         " DATE_FORMAT(a.created_at, '%Y-%m-%dT%H:%i:%sZ'), ': ', a.kind, ' on attempt ',"
         " t.attempt_no, ' (', t.originator_conversation_id, ', provider transaction ',"
         " COALESCE(a.transaction_id, '-'), '): ', a.detail) FROM payout_anomalies a"
         " JOIN payouts p ON p.id = a.payout_id JOIN payout_attempts t ON t.id = a.attempt_id"
         " WHERE a.resolved_at IS NULL ORDER BY a.id"},
        /* per rail and day: what the providers confirmed paying against what the ledger
         * credited to mobile-money clearing for those payouts (issue 19) */
        {"rail_totals",
         "SELECT 0, CONCAT(x.d, ' ', x.rail, ' ', x.currency, ': the providers confirmed ',"
         " x.units, ' units (', x.provider_minor, ' minor) over ', x.n, ' payouts, the ledger"
         " credited ', x.ledger_minor) FROM (SELECT DATE_FORMAT(t.updated_at, '%Y-%m-%d') d,"
         " p.rail, p.currency, COUNT(*) n, SUM(p.paid_units) units,"
         " CAST(SUM(p.paid_units) * POW(10, c.minor_exponent) AS SIGNED) provider_minor,"
         " CAST(COALESCE(SUM(l.clearing), 0) AS SIGNED) ledger_minor"
         " FROM payout_attempts t JOIN payouts p ON p.id = t.payout_id"
         " JOIN currencies c ON c.code = p.currency"
         " LEFT JOIN (SELECT transaction_id, -SUM(amount_minor) AS clearing FROM ledger_entries"
         " WHERE account_code = 8 GROUP BY transaction_id) l"
         " ON l.transaction_id = p.ledger_transaction_id WHERE t.state = 'succeeded'"
         " GROUP BY d, p.rail, p.currency, c.minor_exponent) x"
         " WHERE x.provider_minor <> x.ledger_minor ORDER BY x.d, x.rail, x.currency"},
        /* an attempt whose outcome is still unknown a day after it was sent */
        {"payout_unknown",
         "SELECT t.payout_id, CONCAT('attempt ', t.attempt_no, ' (',"
         " t.originator_conversation_id, ') is ', t.state, ' since ',"
         " DATE_FORMAT(t.sent_at, '%Y-%m-%dT%H:%i:%sZ'), ' after ', t.checks, ' status"
         " queries') FROM payout_attempts t WHERE t.state IN ('sending', 'accepted')"
         " AND t.sent_at < UTC_TIMESTAMP(3) - INTERVAL 1 DAY ORDER BY t.id"},
    };
    struct reconcile_ctx c = {fn, ud, NULL, 0};
    for (size_t i = 0; i < KITO_N(checks); i++) {
        c.kind = checks[i].kind;
        kito_err e = kito_sql_query(db, checks[i].sql, NULL, 0, reconcile_row, &c, NULL);
        if (e != KITO_OK)
            return e;
    }
    *findings = c.findings;
    return KITO_OK;
}

static kito_err on_total(void *ud, const kito_sql_row *row)
{
    struct {
        kito_payout_total_fn fn;
        void *ud;
    } *c = ud;
    kito_payout_total t;
    memset(&t, 0, sizeof(t));
    kito_sql_copy(row, 0, t.day, sizeof(t.day));
    kito_sql_copy(row, 1, t.rail, sizeof(t.rail));
    kito_sql_copy(row, 2, t.currency, sizeof(t.currency));
    t.payouts = kito_sql_i64(row, 3);
    t.provider_units = kito_sql_i64(row, 4);
    t.provider_minor = kito_sql_i64(row, 5);
    t.ledger_minor = kito_sql_i64(row, 6);
    return c->fn(c->ud, &t);
}

kito_err kito_reconcile_payout_totals(kito_db_conn *db, kito_payout_total_fn fn, void *ud)
{
    struct {
        kito_payout_total_fn fn;
        void *ud;
    } c = {fn, ud};
    return kito_sql_query(
        db,
        "SELECT DATE_FORMAT(t.updated_at, '%Y-%m-%d'), p.rail, p.currency, COUNT(*),"
        " SUM(p.paid_units), CAST(SUM(p.paid_units) * POW(10, c.minor_exponent) AS SIGNED),"
        " CAST(COALESCE(SUM(l.clearing), 0) AS SIGNED)"
        " FROM payout_attempts t JOIN payouts p ON p.id = t.payout_id"
        " JOIN currencies c ON c.code = p.currency"
        " LEFT JOIN (SELECT transaction_id, -SUM(amount_minor) AS clearing FROM ledger_entries"
        " WHERE account_code = 8 GROUP BY transaction_id) l"
        " ON l.transaction_id = p.ledger_transaction_id"
        " WHERE t.state = 'succeeded'"
        " GROUP BY DATE_FORMAT(t.updated_at, '%Y-%m-%d'), p.rail, p.currency, c.minor_exponent"
        " ORDER BY 1, p.rail, p.currency",
        NULL, 0, on_total, &c, NULL);
}
