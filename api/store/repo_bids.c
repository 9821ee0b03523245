#include "api/store/repo_bids.h"

#include <stdlib.h>
#include <string.h>

#include "api/store/repo_sales.h"
#include "api/store/sql.h"

static uint8_t format_of(const char *s)
{
    if (strcmp(s, "timed") == 0)
        return KITO_FORMAT_TIMED;
    if (strcmp(s, "tender") == 0)
        return KITO_FORMAT_TENDER;
    if (strcmp(s, "live") == 0)
        return KITO_FORMAT_LIVE;
    return 0;
}

static kito_err lot_row(void *ud, const kito_sql_row *row)
{
    kito_bid_lot *l = ud;
    char format[8];
    l->lot_id = kito_sql_u64(row, 0);
    l->sale_id = kito_sql_u64(row, 1);
    l->organizer_id = kito_sql_u64(row, 2);
    l->seller_id = kito_sql_u64(row, 3);
    kito_sql_copy(row, 4, format, sizeof(format));
    l->format = format_of(format);
    kito_sql_copy(row, 5, l->currency, sizeof(l->currency));
    kito_sql_copy(row, 6, l->sale_status, sizeof(l->sale_status));
    kito_sql_copy(row, 7, l->lot_state, sizeof(l->lot_state));
    return l->format != 0 ? KITO_OK : KITO_E_INTERNAL;
}

/* A lot and its sale as kito_bid_lot holds them (lot_row's columns). */
#define LOT_SELECT                                                                                 \
    "SELECT l.id, l.sale_id, s.organizer_id, st.seller_id, s.format, s.currency, s.status,"        \
    " l.state FROM lots l JOIN sales s ON s.id = l.sale_id JOIN stones st ON st.id = l.stone_id"

static kito_err approval_row(void *ud, const kito_sql_row *row)
{
    kito_bid_approval *a = ud;
    a->approved = true;
    a->paddle_number = (uint32_t)kito_sql_u64(row, 0);
    a->limit_minor = kito_sql_i64(row, 1);
    return KITO_OK;
}

kito_err kito_bids_lot_read(kito_db_conn *db, uint64_t lot_id, uint64_t buyer_id, kito_bid_lot *lot,
                            kito_bid_approval *ap)
{
    size_t rows = 0;
    memset(lot, 0, sizeof(*lot));
    kito_sql_param p[] = {KITO_SQL_U64(lot_id)};
    kito_err e = kito_sql_query(db, LOT_SELECT " WHERE l.id = ?", p, 1, lot_row, lot, &rows);
    if (e == KITO_OK && rows == 0)
        e = KITO_E_NOT_FOUND;
    if (e != KITO_OK || buyer_id == 0)
        return e;
    memset(ap, 0, sizeof(*ap));
    kito_sql_param q[] = {KITO_SQL_U64(lot->sale_id), KITO_SQL_U64(buyer_id)};
    return kito_sql_query(db,
                          "SELECT COALESCE(paddle_number, 0), COALESCE(limit_minor, 0)"
                          " FROM sale_approvals WHERE sale_id = ? AND buyer_id = ?",
                          q, 2, approval_row, ap, NULL);
}

/* Collecting rows into an array of cap elements (directory entries, approvals, ids). */
typedef struct rows_out {
    void *out;
    size_t cap, n;
} rows_out;

static kito_err sale_lot_row(void *ud, const kito_sql_row *row)
{
    rows_out *c = ud;
    if (c->n >= c->cap)
        return KITO_OK;
    kito_bid_lot *l = (kito_bid_lot *)c->out + c->n;
    memset(l, 0, sizeof(*l));
    kito_err e = lot_row(l, row);
    if (e == KITO_OK)
        c->n++;
    return e;
}

kito_err kito_bids_sale_lots(kito_db_conn *db, uint64_t sale_id, kito_bid_lot *out, size_t cap,
                             size_t *n)
{
    rows_out c = {out, cap, 0};
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    kito_err e = kito_sql_query(db, LOT_SELECT " WHERE l.sale_id = ? ORDER BY l.position, l.id", p,
                                1, sale_lot_row, &c, NULL);
    *n = c.n;
    return e;
}

/* approval_row's columns, then the buyer. */
static kito_err sale_approval_row(void *ud, const kito_sql_row *row)
{
    rows_out *c = ud;
    if (c->n >= c->cap)
        return KITO_OK;
    kito_bid_buyer_approval *a = (kito_bid_buyer_approval *)c->out + c->n++;
    a->buyer_id = kito_sql_u64(row, 2);
    return approval_row(&a->ap, row);
}

kito_err kito_bids_sale_approvals(kito_db_conn *db, uint64_t sale_id, kito_bid_buyer_approval *out,
                                  size_t cap, size_t *n)
{
    rows_out c = {out, cap, 0};
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    kito_err e =
        kito_sql_query(db,
                       "SELECT COALESCE(paddle_number, 0), COALESCE(limit_minor, 0), buyer_id"
                       " FROM sale_approvals WHERE sale_id = ? ORDER BY buyer_id",
                       p, 1, sale_approval_row, &c, NULL);
    *n = c.n;
    return e;
}

/* Collecting a sale's lot configs. */
typedef struct configs {
    const kito_sale *sale;
    struct kito_lot_config *out;
    size_t cap, n;
} configs;

static kito_err config_row(void *ud, const kito_sql_row *row)
{
    configs *c = ud;
    const kito_sale *s = c->sale;
    if (c->n >= c->cap)
        return KITO_OK;
    struct kito_lot_config *cfg = &c->out[c->n++];
    kito_lot_config_init(cfg);
    cfg->lot_id = kito_sql_u64(row, 0);
    cfg->sale_id = s->id;
    cfg->index_in_sale = (uint32_t)kito_sql_u64(row, 1);
    cfg->opening_minor = kito_sql_i64(row, 2);
    cfg->reserve_minor = kito_sql_i64(row, 3);
    cfg->seller_id = kito_sql_u64(row, 4);
    memcpy(cfg->currency, s->in.currency, sizeof(cfg->currency));
    cfg->format = format_of(s->in.format);
    cfg->tender_price = strcmp(s->in.tender_pricing, "second") == 0 ? KITO_TENDER_SECOND_PRICE
                                                                    : KITO_TENDER_FIRST_PRICE;
    cfg->ladder = s->in.ladder;
    cfg->starts_at_ms = s->in.starts_at_ms;
    /* a live sale's end is only planned: the clerk closes its lots */
    cfg->sale_ends_at_ms = s->in.has_ends_at ? s->in.ends_at_ms : 0;
    cfg->stagger_s = (uint32_t)s->in.stagger_s;
    cfg->soft_close_s = (uint32_t)s->in.soft_close_s;
    return KITO_OK;
}

kito_err kito_bids_sale_configs(kito_db_conn *db, uint64_t sale_id, struct kito_lot_config *out,
                                size_t cap, size_t *n)
{
    *n = 0;
    kito_sale *sale = malloc(sizeof(*sale)); /* ~60 KB: not on a worker's stack */
    if (sale == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_sales_read(db, sale_id, sale);
    configs c = {sale, out, cap, 0};
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    if (e == KITO_OK)
        e = kito_sql_query(db,
                           "SELECT l.id, l.position, l.opening_minor, COALESCE(l.reserve_minor, 0),"
                           " st.seller_id FROM lots l JOIN stones st ON st.id = l.stone_id"
                           " WHERE l.sale_id = ? AND l.state = 'scheduled'"
                           " ORDER BY l.position, l.id",
                           p, 1, config_row, &c, NULL);
    *n = c.n;
    free(sale);
    return e;
}

/* Collecting ids (rows_out of uint64_t). */
static kito_err id_row(void *ud, const kito_sql_row *row)
{
    rows_out *c = ud;
    if (c->n < c->cap)
        ((uint64_t *)c->out)[c->n++] = kito_sql_u64(row, 0);
    return KITO_OK;
}

kito_err kito_bids_active_sales(kito_db_conn *db, uint64_t *out, size_t cap, size_t *n)
{
    rows_out c = {out, cap, 0};
    kito_err e = kito_sql_query(db,
                                "SELECT s.id FROM sales s WHERE s.status IN ('published', 'open')"
                                " AND EXISTS (SELECT 1 FROM lots l WHERE l.sale_id = s.id"
                                " AND l.state = 'scheduled') ORDER BY s.id",
                                NULL, 0, id_row, &c, NULL);
    *n = c.n;
    return e;
}

kito_err kito_bids_paddle_buyer(kito_db_conn *db, uint64_t sale_id, uint32_t paddle,
                                uint64_t *buyer_id)
{
    rows_out c = {buyer_id, 1, 0};
    kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(paddle)};
    kito_err e = kito_sql_query(db,
                                "SELECT buyer_id FROM sale_approvals WHERE sale_id = ?"
                                " AND paddle_number = ?",
                                p, 2, id_row, &c, NULL);
    if (e == KITO_OK && c.n == 0)
        e = KITO_E_NOT_FOUND;
    return e;
}

/* ---- the watchlist --------------------------------------------------------------------------- */

static kito_err count_row(void *ud, const kito_sql_row *row)
{
    *(int64_t *)ud = kito_sql_i64(row, 0);
    return KITO_OK;
}

kito_err kito_watchlist_put(kito_db_conn *db, uint64_t buyer_id, uint64_t lot_id, bool *added)
{
    int64_t visible = 0, watched = 0;
    kito_sql_result res = {0};
    *added = false;
    kito_sql_param lp[] = {KITO_SQL_U64(lot_id)};
    kito_err e = kito_sql_query(db,
                                "SELECT COUNT(*) FROM lots l JOIN sales s ON s.id = l.sale_id"
                                " WHERE l.id = ? AND s.status <> 'draft'",
                                lp, 1, count_row, &visible, NULL);
    if (e == KITO_OK && visible == 0)
        e = KITO_E_NOT_FOUND;
    kito_sql_param bp[] = {KITO_SQL_U64(buyer_id)};
    if (e == KITO_OK)
        e = kito_sql_query(db, "SELECT COUNT(*) FROM watchlist WHERE buyer_id = ?", bp, 1,
                           count_row, &watched, NULL);
    kito_sql_param p[] = {KITO_SQL_U64(buyer_id), KITO_SQL_U64(lot_id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db, "INSERT IGNORE INTO watchlist (buyer_id, lot_id) VALUES (?, ?)", p, 2,
                          &res);
    if (e == KITO_OK && res.affected_rows > 0 && watched >= KITO_WATCHLIST_MAX) {
        /* over the bound: undo this row (a race past the bound by a few rows is harmless) */
        e = kito_sql_exec(db, "DELETE FROM watchlist WHERE buyer_id = ? AND lot_id = ?", p, 2,
                          NULL);
        return e == KITO_OK ? KITO_E_CONFLICT : e;
    }
    *added = e == KITO_OK && res.affected_rows > 0;
    return e;
}

kito_err kito_watchlist_delete(kito_db_conn *db, uint64_t buyer_id, uint64_t lot_id, bool *removed)
{
    kito_sql_result res = {0};
    kito_sql_param p[] = {KITO_SQL_U64(buyer_id), KITO_SQL_U64(lot_id)};
    kito_err e =
        kito_sql_exec(db, "DELETE FROM watchlist WHERE buyer_id = ? AND lot_id = ?", p, 2, &res);
    *removed = e == KITO_OK && res.affected_rows > 0;
    return e;
}

typedef struct watch_rows {
    kito_err (*fn)(void *ud, const kito_watch *row);
    void *ud;
} watch_rows;

static kito_err watch_row(void *ud, const kito_sql_row *row)
{
    watch_rows *w = ud;
    kito_watch v = {kito_sql_u64(row, 0), kito_sql_u64(row, 1), kito_sql_i64(row, 2)};
    return w->fn(w->ud, &v);
}

kito_err kito_watchlist_list(kito_db_conn *db, uint64_t buyer_id, uint64_t after_lot_id,
                             uint32_t limit, kito_err (*fn)(void *ud, const kito_watch *row),
                             void *ud)
{
    watch_rows w = {fn, ud};
    kito_sql_param p[] = {KITO_SQL_U64(buyer_id), KITO_SQL_U64(after_lot_id),
                          KITO_SQL_U64((uint64_t)limit + 1)};
    return kito_sql_query(
        db,
        "SELECT w.lot_id, l.sale_id, " KITO_SQL_DT_TO_MS(
            "w.created_at") " FROM watchlist w JOIN lots l ON l.id = w.lot_id"
                            " WHERE w.buyer_id = ? AND w.lot_id > ? ORDER BY w.lot_id LIMIT ?",
        p, 3, watch_row, &w, NULL);
}
