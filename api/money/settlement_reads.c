#include "api/money/settlement_reads.h"

#include <string.h>

#include "api/common/render.h"
#include "api/common/validate.h"
#include "api/store/sql.h"

static kito_err found_row(void *ud, const kito_sql_row *row)
{
    uint64_t *organizer = ud;
    *organizer = kito_sql_u64(row, 0);
    return KITO_OK;
}

kito_err kito_settlement_reads_sale_access(kito_db_conn *db, uint64_t sale_id, uint64_t viewer,
                                           bool is_operator)
{
    uint64_t organizer = 0;
    size_t rows = 0;
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    kito_err e = kito_sql_query(db, "SELECT organizer_id FROM sales WHERE id = ?", p, 1, found_row,
                                &organizer, &rows);
    if (e != KITO_OK)
        return e;
    if (rows == 0 || (!is_operator && organizer != viewer))
        return KITO_E_NOT_FOUND; /* another organizer's sale is not hers to know about */
    return KITO_OK;
}

struct list_ctx {
    json_t *items;
    uint32_t limit;
    size_t n;
    bool more;
    kito_err (*render)(const kito_sql_row *row, json_t **out);
};

static kito_err list_row(void *ud, const kito_sql_row *row)
{
    struct list_ctx *c = ud;
    if (c->n == c->limit) {
        c->more = true;
        return KITO_OK;
    }
    json_t *item = NULL;
    kito_err e = c->render(row, &item);
    if (e != KITO_OK)
        return e;
    if (json_array_append_new(c->items, item) != 0)
        return KITO_E_NOMEM;
    c->n++;
    return KITO_OK;
}

static kito_err run_list(kito_db_conn *db, const char *sql, uint64_t owner, uint64_t after_id,
                         uint32_t limit, kito_err (*render)(const kito_sql_row *, json_t **),
                         json_t **items, bool *more)
{
    struct list_ctx c = {json_array(), limit, 0, false, render};
    if (c.items == NULL)
        return KITO_E_NOMEM;
    kito_sql_param p[] = {KITO_SQL_U64(owner), KITO_SQL_U64(after_id), KITO_SQL_I64(limit + 1)};
    kito_err e = kito_sql_query(db, sql, p, KITO_N(p), list_row, &c, NULL);
    if (e != KITO_OK) {
        json_decref(c.items);
        return e;
    }
    *items = c.items;
    *more = c.more;
    return KITO_OK;
}

/* Columns shared by the settlement lists (0..19). */
#define SETTLEMENT_COLUMNS                                                                         \
    "s.id, s.lot_id, s.sale_id, s.stone_id, s.buyer_id, s.miner_id, s.currency, s.hammer_minor,"   \
    " s.buyer_premium_bps, s.buyer_premium_minor, s.shipping_minor, s.buyer_total_minor,"          \
    " s.commission_bps, s.commission_minor, s.royalty_country, s.royalty_rate_bps,"                \
    " s.royalty_minor, s.levy_rate_bps, s.levy_minor, s.miner_net_minor, " KITO_SQL_DT_TO_MS(      \
        "s.closed_at") ", i.id, i.number, i.status"

static json_t *money(const kito_sql_row *row, unsigned col, const char *currency)
{
    return kito_render_money(kito_sql_i64(row, col), currency);
}

static kito_err render_settlement(const kito_sql_row *row, json_t **out)
{
    char cur[4];
    kito_sql_copy(row, 6, cur, sizeof(cur));
    char country[3];
    kito_sql_copy(row, 14, country, sizeof(country));
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= json_object_set_new(o, "id", kito_render_id("stl", kito_sql_u64(row, 0)));
    bad |= json_object_set_new(o, "lot_id", kito_render_id("lot", kito_sql_u64(row, 1)));
    bad |= json_object_set_new(o, "sale_id", kito_render_id("sal", kito_sql_u64(row, 2)));
    bad |= json_object_set_new(o, "stone_id", kito_render_id("stn", kito_sql_u64(row, 3)));
    bad |= json_object_set_new(o, "buyer_id", kito_render_id("acc", kito_sql_u64(row, 4)));
    bad |= json_object_set_new(o, "miner_id", kito_render_id("acc", kito_sql_u64(row, 5)));
    bad |= json_object_set_new(o, "hammer", money(row, 7, cur));
    bad |= json_object_set_new(o, "buyer_premium_bps", json_integer(kito_sql_i64(row, 8)));
    bad |= json_object_set_new(o, "buyer_premium", money(row, 9, cur));
    bad |= json_object_set_new(o, "shipping", money(row, 10, cur));
    bad |= json_object_set_new(o, "buyer_total", money(row, 11, cur));
    bad |= json_object_set_new(o, "commission_bps", json_integer(kito_sql_i64(row, 12)));
    bad |= json_object_set_new(o, "commission", money(row, 13, cur));
    bad |= json_object_set_new(o, "royalty_country", json_string(country));
    bad |= json_object_set_new(o, "royalty_bps", json_integer(kito_sql_i64(row, 15)));
    bad |= json_object_set_new(o, "royalty", money(row, 16, cur));
    bad |= json_object_set_new(o, "levy_bps", json_integer(kito_sql_i64(row, 17)));
    bad |= json_object_set_new(o, "levy", money(row, 18, cur));
    bad |= json_object_set_new(o, "miner_net", money(row, 19, cur));
    bad |= json_object_set_new(o, "closed_at", kito_render_time(kito_sql_i64(row, 20)));
    bad |= json_object_set_new(o, "invoice_id", kito_render_id("inv", kito_sql_u64(row, 21)));
    bad |= json_object_set_new(o, "invoice_number", json_string(kito_sql_text(row, 22, NULL)));
    bad |= json_object_set_new(o, "invoice_status", json_string(kito_sql_text(row, 23, NULL)));
    if (bad) {
        json_decref(o);
        return KITO_E_NOMEM;
    }
    *out = o;
    return KITO_OK;
}

kito_err kito_settlement_reads_sale_settlements(kito_db_conn *db, uint64_t sale_id,
                                                uint64_t after_id, uint32_t limit, json_t **items,
                                                bool *more)
{
    return run_list(db,
                    "SELECT " SETTLEMENT_COLUMNS " FROM settlements s JOIN invoices i ON"
                    " i.settlement_id = s.id WHERE s.sale_id = ? AND s.id > ? ORDER BY s.id"
                    " LIMIT ?",
                    sale_id, after_id, limit, render_settlement, items, more);
}

/* The miner's view: her lot and her money; the buyer stays anonymous to her. */
static kito_err render_miner_sale(const kito_sql_row *row, json_t **out)
{
    kito_err e = render_settlement(row, out);
    if (e == KITO_OK) {
        json_object_del(*out, "buyer_id");
        json_object_del(*out, "invoice_id");
        json_object_del(*out, "invoice_number");
        /* "paid" tells her the buyer has paid, so her payout is on its way */
        json_object_set_new(
            *out, "buyer_paid",
            json_boolean(
                strcmp(json_string_value(json_object_get(*out, "invoice_status")), "paid") == 0));
        json_object_del(*out, "invoice_status");
    }
    return e;
}

kito_err kito_settlement_reads_miner_sales(kito_db_conn *db, uint64_t miner_id, uint64_t after_id,
                                           uint32_t limit, json_t **items, bool *more)
{
    return run_list(db,
                    "SELECT " SETTLEMENT_COLUMNS " FROM settlements s JOIN invoices i ON"
                    " i.settlement_id = s.id WHERE s.miner_id = ? AND s.id > ? ORDER BY s.id"
                    " LIMIT ?",
                    miner_id, after_id, limit, render_miner_sale, items, more);
}

static kito_err render_invoice(const kito_sql_row *row, json_t **out)
{
    char cur[4];
    kito_sql_copy(row, 6, cur, sizeof(cur));
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= json_object_set_new(o, "id", kito_render_id("inv", kito_sql_u64(row, 0)));
    bad |= json_object_set_new(o, "number", json_string(kito_sql_text(row, 1, NULL)));
    bad |= json_object_set_new(o, "status", json_string(kito_sql_text(row, 2, NULL)));
    bad |= json_object_set_new(o, "sale_id", kito_render_id("sal", kito_sql_u64(row, 3)));
    bad |= json_object_set_new(o, "lot_id", kito_render_id("lot", kito_sql_u64(row, 4)));
    bad |= json_object_set_new(o, "amount", money(row, 5, cur));
    bad |= json_object_set_new(o, "paid", money(row, 7, cur));
    bad |= json_object_set_new(o, "hammer", money(row, 8, cur));
    bad |= json_object_set_new(o, "buyer_premium", money(row, 9, cur));
    bad |= json_object_set_new(o, "shipping", money(row, 10, cur));
    bad |= json_object_set_new(o, "issued_at", kito_render_time(kito_sql_i64(row, 11)));
    bad |= json_object_set_new(o, "due_at", kito_render_time(kito_sql_i64(row, 12)));
    bad |= json_object_set_new(o, "paid_at",
                               kito_sql_is_null(row, 13) ? json_null()
                                                         : kito_render_time(kito_sql_i64(row, 13)));
    if (bad) {
        json_decref(o);
        return KITO_E_NOMEM;
    }
    *out = o;
    return KITO_OK;
}

kito_err kito_settlement_reads_buyer_invoices(kito_db_conn *db, uint64_t buyer_id,
                                              uint64_t after_id, uint32_t limit, json_t **items,
                                              bool *more)
{
    return run_list(
        db,
        "SELECT i.id, i.number, i.status, i.sale_id, s.lot_id, i.amount_minor,"
        " i.currency, i.paid_minor, s.hammer_minor, s.buyer_premium_minor,"
        " s.shipping_minor, " KITO_SQL_DT_TO_MS("i.issued_at") ", " KITO_SQL_DT_TO_MS(
            "i.due_at") ", " KITO_SQL_DT_TO_MS("i.paid_at") " FROM invoices i JOIN settlements s ON"
                                                            " s.id = i.settlement_id WHERE "
                                                            "i.buyer_id = ? AND i.id > ? ORDER BY "
                                                            "i.id"
                                                            " LIMIT ?",
        buyer_id, after_id, limit, render_invoice, items, more);
}

struct results_ctx {
    bool found;
    json_t *o;
};

static kito_err results_row(void *ud, const kito_sql_row *row)
{
    struct results_ctx *c = ud;
    c->found = true;
    char cur[4];
    kito_sql_copy(row, 1, cur, sizeof(cur));
    int64_t offered = kito_sql_i64(row, 2), closed = kito_sql_i64(row, 3);
    int64_t sold = kito_sql_i64(row, 4), revenue = kito_sql_i64(row, 5);
    int64_t weight_offered = kito_sql_i64(row, 6), weight_sold = kito_sql_i64(row, 7);
    if (closed == 0)
        return KITO_E_NOT_FOUND;
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= json_object_set_new(o, "sale_id", kito_render_id("sal", kito_sql_u64(row, 0)));
    bad |= json_object_set_new(o, "status", json_string(kito_sql_text(row, 10, NULL)));
    bad |= json_object_set_new(o, "revenue", kito_render_money(revenue, cur));
    bad |= json_object_set_new(o, "lots_offered", json_integer(offered));
    bad |= json_object_set_new(o, "lots_closed", json_integer(closed));
    bad |= json_object_set_new(o, "lots_sold", json_integer(sold));
    /* percentages in basis points of the lots offered (and of their carats), rounded down */
    bad |= json_object_set_new(o, "sold_by_count_bps",
                               json_integer(offered > 0 ? sold * 10000 / offered : 0));
    bad |= json_object_set_new(
        o, "sold_by_weight_bps",
        json_integer(weight_offered > 0 ? weight_sold * 10000 / weight_offered : 0));
    bad |= json_object_set_new(o, "carats_offered_cct", json_integer(weight_offered));
    bad |= json_object_set_new(o, "carats_sold_cct", json_integer(weight_sold));
    /* average per carat: revenue / (weight_cct / 100), half up, in minor units */
    int64_t per_carat = 0;
    if (weight_sold > 0) {
        __int128 num = (__int128)revenue * 100 * 2 + weight_sold;
        per_carat = (int64_t)(num / (2 * (__int128)weight_sold));
    }
    bad |= json_object_set_new(o, "average_per_carat", kito_render_money(per_carat, cur));
    bad |= json_object_set_new(o, "bidders", json_integer(kito_sql_i64(row, 11)));
    bad |= json_object_set_new(o, "bidders_basis", json_string("distinct_winners"));
    bad |= json_object_set_new(o, "paid_to_miners", kito_render_money(kito_sql_i64(row, 8), cur));
    bad |= json_object_set_new(o, "royalty_withheld", kito_render_money(kito_sql_i64(row, 9), cur));
    if (bad) {
        json_decref(o);
        return KITO_E_NOMEM;
    }
    c->o = o;
    return KITO_OK;
}

kito_err kito_settlement_reads_sale_results(kito_db_conn *db, uint64_t sale_id, json_t **out)
{
    struct results_ctx c = {false, NULL};
    kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(sale_id)};
    kito_err e = kito_sql_query(
        db,
        "SELECT s.id, s.currency, COALESCE(SUM(l.state <> 'withdrawn'), 0),"
        " COALESCE(SUM(l.state IN ('sold', 'unsold')), 0), COALESCE(SUM(l.state = 'sold'), 0),"
        " COALESCE(SUM(IF(l.state = 'sold', l.hammer_minor, 0)), 0),"
        " COALESCE(SUM(IF(l.state <> 'withdrawn', st.weight_cct, 0)), 0), COALESCE(SUM(IF(l.state "
        "= 'sold', st.weight_cct, 0)), 0),"
        " (SELECT COALESCE(SUM(x.miner_net_minor), 0) FROM settlements x WHERE x.sale_id = s.id),"
        " (SELECT COALESCE(SUM(x.royalty_minor), 0) FROM settlements x WHERE x.sale_id = s.id),"
        " s.status,"
        " (SELECT COUNT(DISTINCT y.winner_id) FROM lots y WHERE y.sale_id = ? AND y.state = 'sold')"
        " FROM sales s LEFT JOIN lots l ON l.sale_id = s.id LEFT JOIN stones st ON st.id = "
        "l.stone_id"
        " WHERE s.id = ? AND s.status NOT IN ('draft', 'cancelled') GROUP BY s.id",
        p, KITO_N(p), results_row, &c, NULL);
    if (e != KITO_OK)
        return e;
    if (!c.found || c.o == NULL)
        return KITO_E_NOT_FOUND;
    *out = c.o;
    return KITO_OK;
}

/* ---- a sale's results as CSV ------------------------------------------------------------------
 */

static const char *const CSV_HEADER[] = {
    "lot_number", "lot_id",    "state",         "species",        "variety",       "weight_ct",
    "currency",   "hammer",    "buyer_premium", "buyer_total",    "commission",    "royalty",
    "levy",       "miner_net", "buyer_id",      "invoice_number", "invoice_status"};

static kito_err csv_row(void *ud, const kito_sql_row *row)
{
    kito_csv *c = ud;
    char id[KITO_ID_SIZE];
    kito_csv_int(c, kito_sql_i64(row, 0));
    if (kito_id_format(KITO_ID_LOT, kito_sql_u64(row, 1), id, sizeof(id)) != KITO_OK)
        return KITO_E_INTERNAL;
    kito_csv_text(c, id);
    kito_csv_text(c, kito_sql_text(row, 2, NULL));
    kito_csv_text(c, kito_sql_text(row, 3, NULL));
    kito_csv_text(c, kito_sql_is_null(row, 4) ? NULL : kito_sql_text(row, 4, NULL));
    kito_csv_minor(c, kito_sql_i64(row, 5)); /* hundredths of a carat: "3.40" */
    kito_csv_text(c, kito_sql_text(row, 6, NULL));
    bool settled = !kito_sql_is_null(row, 7);
    for (unsigned col = 7; col <= 13; col++) {
        if (settled)
            kito_csv_minor(c, kito_sql_i64(row, col));
        else
            kito_csv_text(c, NULL);
    }
    if (settled) {
        if (kito_id_format(KITO_ID_ACCOUNT, kito_sql_u64(row, 14), id, sizeof(id)) != KITO_OK)
            return KITO_E_INTERNAL;
        kito_csv_text(c, id);
    } else {
        kito_csv_text(c, NULL);
    }
    kito_csv_text(c, kito_sql_is_null(row, 15) ? NULL : kito_sql_text(row, 15, NULL));
    kito_csv_text(c, kito_sql_is_null(row, 16) ? NULL : kito_sql_text(row, 16, NULL));
    kito_csv_end_row(c);
    return c->failed ? KITO_E_NOMEM : KITO_OK;
}

kito_err kito_settlement_reads_sale_results_csv(kito_db_conn *db, uint64_t sale_id, kito_csv *out)
{
    for (size_t i = 0; i < sizeof(CSV_HEADER) / sizeof(CSV_HEADER[0]); i++)
        kito_csv_text(out, CSV_HEADER[i]);
    kito_csv_end_row(out);
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    kito_err e = kito_sql_query(
        db,
        "SELECT l.lot_number, l.id, l.state, st.species, st.variety, st.weight_cct, sa.currency,"
        " x.hammer_minor, x.buyer_premium_minor, x.buyer_total_minor, x.commission_minor,"
        " x.royalty_minor, x.levy_minor, x.miner_net_minor, x.buyer_id, i.number, i.status"
        " FROM lots l JOIN sales sa ON sa.id = l.sale_id JOIN stones st ON st.id = l.stone_id"
        " LEFT JOIN settlements x ON x.lot_id = l.id LEFT JOIN invoices i ON i.settlement_id = x.id"
        " WHERE l.sale_id = ? ORDER BY l.position, l.id",
        p, KITO_N(p), csv_row, out, NULL);
    if (e == KITO_OK && out->failed)
        e = KITO_E_NOMEM;
    return e;
}
