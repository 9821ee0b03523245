/* Current exchange rates (api/store/repo_fx.h). */
#include "api/store/repo_fx.h"

#include <string.h>

#include "api/store/sql.h"

typedef struct fx_list {
    kito_fx_rate_fn fn;
    void *ud;
} fx_list;

static kito_err fx_row(void *ud, const kito_sql_row *row)
{
    fx_list *l = ud;
    kito_fx_rate r = {0};
    kito_sql_copy(row, 0, r.from, sizeof(r.from));
    kito_sql_copy(row, 1, r.to, sizeof(r.to));
    r.rate_micros = kito_sql_i64(row, 2);
    r.effective_from_ms = kito_sql_i64(row, 3);
    return l->fn(l->ud, &r);
}

kito_err kito_fx_current(kito_db_conn *db, const char *from, kito_fx_rate_fn fn, void *ud)
{
    fx_list l = {fn, ud};
    kito_sql_param p[] = {KITO_SQL_TEXT_OR_NULL(from), KITO_SQL_TEXT_OR_NULL(from),
                          KITO_SQL_I64(KITO_FX_PAIRS_MAX)};
    /* the latest row of each pair that is in effect now: the rule the payout worker uses
     * (api/store/repo_payouts.c: ORDER BY effective_from DESC, id DESC LIMIT 1) */
    return kito_sql_query(
        db,
        "SELECT r.from_currency, r.to_currency, r.rate_micros, " KITO_SQL_DT_TO_MS(
            "r.effective_from") " FROM exchange_rates r"
                                " WHERE (? IS NULL OR r.from_currency = ?)"
                                " AND r.effective_from <= UTC_TIMESTAMP(3)"
                                " AND NOT EXISTS (SELECT 1 FROM exchange_rates n"
                                " WHERE n.from_currency = r.from_currency"
                                " AND n.to_currency = r.to_currency"
                                " AND n.effective_from <= UTC_TIMESTAMP(3)"
                                " AND (n.effective_from > r.effective_from"
                                " OR (n.effective_from = r.effective_from"
                                " AND n.id > r.id)))"
                                " ORDER BY r.from_currency, r.to_currency"
                                " LIMIT ?",
        p, sizeof(p) / sizeof(p[0]), fx_row, &l, NULL);
}
