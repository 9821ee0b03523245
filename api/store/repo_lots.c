/*
 * Lots: decoders and repository (api/store/repo_lots.h).
 */
#include "api/store/repo_lots.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/audit.h"
#include "api/common/render.h"
#include "api/store/repo_offers.h"
#include "api/store/repo_provenance.h"
#include "api/store/sql.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- decoders (pure) ------------------------------------------------------------------------- */

static const kito_field lot_fields[] = {
    {"stone_id", KITO_FT_STRING, .required = true, .max = 32},
    {"opening", KITO_FT_INTEGER, .required = true},
    {"reserve", KITO_FT_INTEGER, .nullable = true},
    {"position", KITO_FT_INTEGER, .nullable = true},
};
static const kito_shape lot_shape = {lot_fields, COUNT(lot_fields)};

static const kito_field patch_fields[] = {
    {"opening", KITO_FT_INTEGER},
    {"reserve", KITO_FT_INTEGER, .nullable = true},
};
static const kito_shape patch_shape = {patch_fields, COUNT(patch_fields)};

static const kito_field order_fields[] = {
    {"lot_ids", KITO_FT_ARRAY, .required = true, .min = 1, .max = KITO_SALE_LOTS_MAX,
     .item = KITO_FT_STRING},
};
static const kito_shape order_shape = {order_fields, COUNT(order_fields)};

static const kito_field withdraw_fields[] = {
    {"reason", KITO_FT_TEXT, .nullable = true, .max = KITO_LOT_REASON_MAX},
};
static const kito_shape withdraw_shape = {withdraw_fields, COUNT(withdraw_fields)};

/* A member that is present and not null, else NULL. */
static const json_t *member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return v != NULL && !json_is_null(v) ? v : NULL;
}

kito_err kito_lot_decode(const json_t *body, kito_lot_input *out, kito_verr *ve)
{
    kito_lot_input in = {0};
    if (kito_validate_object(body, &lot_shape, ve) != KITO_OK ||
        kito_validate_id("stone_id", KITO_ID_STONE, json_string_value(member(body, "stone_id")),
                         &in.stone_id, ve) != KITO_OK ||
        kito_validate_amount("opening", member(body, "opening"), &in.opening_minor, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *v = member(body, "reserve");
    in.has_reserve = v != NULL;
    if (in.has_reserve) {
        if (kito_validate_amount("reserve", v, &in.reserve_minor, ve) != KITO_OK)
            return KITO_E_VALIDATION;
        if (in.reserve_minor < in.opening_minor)
            return kito_verr_set(ve, "reserve", "must be at least the opening price");
    }
    v = member(body, "position");
    in.has_position = v != NULL;
    if (in.has_position) {
        int64_t pos;
        if (kito_validate_int("position", v, 0, KITO_SALE_LOTS_MAX - 1, &pos, ve) != KITO_OK)
            return KITO_E_VALIDATION;
        in.position = (uint32_t)pos;
    }
    *out = in;
    return KITO_OK;
}

kito_err kito_lot_patch_decode(const json_t *body, kito_lot_patch *out, kito_verr *ve)
{
    kito_lot_patch p = {0};
    if (kito_validate_object(body, &patch_shape, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *v = member(body, "opening");
    p.has_opening = v != NULL;
    if (p.has_opening && kito_validate_amount("opening", v, &p.opening_minor, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    p.has_reserve = json_object_get(body, "reserve") != NULL;
    v = member(body, "reserve");
    if (v != NULL && kito_validate_amount("reserve", v, &p.reserve_minor, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    if (!p.has_opening && !p.has_reserve)
        return kito_verr_set(ve, "body", "must change opening or reserve");
    if (p.has_opening && p.reserve_minor != 0 && p.reserve_minor < p.opening_minor)
        return kito_verr_set(ve, "reserve", "must be at least the opening price");
    *out = p;
    return KITO_OK;
}

kito_err kito_lot_order_decode(const json_t *body, uint64_t *ids, size_t cap, size_t *n,
                               kito_verr *ve)
{
    char field[KITO_VERR_FIELD_SIZE];
    if (kito_validate_object(body, &order_shape, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *arr = json_object_get(body, "lot_ids");
    size_t count = json_array_size(arr);
    if (count > cap)
        return kito_verr_set(ve, "lot_ids", "must have at most %zu elements", cap);
    for (size_t i = 0; i < count; i++) {
        snprintf(field, sizeof(field), "lot_ids[%zu]", i);
        if (kito_validate_id(field, KITO_ID_LOT, json_string_value(json_array_get(arr, i)), &ids[i],
                             ve) != KITO_OK)
            return KITO_E_VALIDATION;
        /* quadratic, but bounded by KITO_SALE_LOTS_MAX (half a million compares at worst) */
        for (size_t k = 0; k < i; k++)
            if (ids[k] == ids[i])
                return kito_verr_set(ve, field, "repeats lot_ids[%zu]", k);
    }
    *n = count;
    return KITO_OK;
}

kito_err kito_lot_withdraw_decode(const json_t *body, char reason[KITO_LOT_REASON_MAX * 4 + 1],
                                  kito_verr *ve)
{
    reason[0] = '\0';
    if (body == NULL)
        return KITO_OK;
    if (kito_validate_object(body, &withdraw_shape, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *v = member(body, "reason");
    if (v != NULL) {
        size_t len = json_string_length(v);
        assert(len <= KITO_LOT_REASON_MAX * 4);
        memcpy(reason, json_string_value(v), len);
        reason[len] = '\0';
    }
    return KITO_OK;
}

/* ---- reading lots ---------------------------------------------------------------------------- */

/* The current certificate of a stone is the one nothing supersedes (schemas/003). */
#define CURRENT_CERTIFICATE(stone)                                                                 \
    "(SELECT MAX(c.id) FROM certificates c WHERE c.stone_id = " stone " AND NOT EXISTS"            \
    " (SELECT 1 FROM certificates n WHERE n.supersedes_id = c.id))"

#define LOT_COLUMNS                                                                                \
    "l.id, l.sale_id, l.stone_id, l.lot_number, l.position, l.opening_minor, l.reserve_minor,"     \
    " l.state, " KITO_SQL_DT_TO_MS("l.created_at") ", " KITO_SQL_DT_TO_MS(                         \
        "l.updated_at") ", st.species,"                                                            \
                        " st.variety, st.weight_cct, st.piece_count, st.shape, st.colour, "        \
                        "st.origin_country,"                                                       \
                        " st.origin_region, " CURRENT_CERTIFICATE(                                 \
                            "l.stone_id") ","                                                      \
                                          " (SELECT ph.sha256 FROM photos ph WHERE ph.stone_id = " \
                                          "l.stone_id"                                             \
                                          " ORDER BY ph.id LIMIT 1), l.hammer_minor, l.winner_id"

#define LOT_FROM " FROM lots l JOIN stones st ON st.id = l.stone_id"

static void lot_from_row(const kito_sql_row *row, kito_lot *l)
{
    memset(l, 0, sizeof(*l));
    l->id = kito_sql_u64(row, 0);
    l->sale_id = kito_sql_u64(row, 1);
    l->stone_id = kito_sql_u64(row, 2);
    l->lot_number = (uint32_t)kito_sql_u64(row, 3);
    l->position = (uint32_t)kito_sql_u64(row, 4);
    l->opening_minor = kito_sql_i64(row, 5);
    l->has_reserve = !kito_sql_is_null(row, 6);
    l->reserve_minor = kito_sql_i64(row, 6);
    kito_sql_copy(row, 7, l->state, sizeof(l->state));
    l->created_at_ms = kito_sql_i64(row, 8);
    l->updated_at_ms = kito_sql_i64(row, 9);
    kito_sql_copy(row, 10, l->stone.species, sizeof(l->stone.species));
    kito_sql_copy(row, 11, l->stone.variety, sizeof(l->stone.variety));
    l->stone.weight_cct = kito_sql_i64(row, 12);
    l->stone.piece_count = (uint32_t)kito_sql_u64(row, 13);
    kito_sql_copy(row, 14, l->stone.shape, sizeof(l->stone.shape));
    kito_sql_copy(row, 15, l->stone.colour, sizeof(l->stone.colour));
    kito_sql_copy(row, 16, l->stone.origin_country, sizeof(l->stone.origin_country));
    kito_sql_copy(row, 17, l->stone.origin_region, sizeof(l->stone.origin_region));
    l->certificate_id = kito_sql_u64(row, 18);
    kito_sql_copy(row, 19, l->stone.cover_sha256, sizeof(l->stone.cover_sha256));
    l->has_hammer = !kito_sql_is_null(row, 20);
    l->hammer_minor = l->has_hammer ? kito_sql_i64(row, 20) : 0;
    l->winner_id = l->has_hammer ? kito_sql_u64(row, 21) : 0;
    /* pair assertion (CONVENTIONS.md, 16): what the schema's checks promise */
    assert(l->opening_minor >= 1 && (!l->has_reserve || l->reserve_minor >= l->opening_minor));
    assert(!l->has_hammer || (l->hammer_minor >= 1 && l->winner_id != 0));
}

static kito_err one_lot(void *ud, const kito_sql_row *row)
{
    lot_from_row(row, ud);
    return KITO_OK;
}

static kito_err read_lot(kito_db_conn *db, uint64_t id, bool lock, kito_lot *out)
{
    size_t rows = 0;
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    kito_err e = kito_sql_query(db,
                                lock ? "SELECT " LOT_COLUMNS LOT_FROM " WHERE l.id = ? FOR UPDATE"
                                     : "SELECT " LOT_COLUMNS LOT_FROM " WHERE l.id = ?",
                                p, 1, one_lot, out, &rows);
    if (e == KITO_OK && rows == 0)
        e = KITO_E_NOT_FOUND;
    return e;
}

kito_err kito_lots_get(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *sale,
                       kito_lot *out)
{
    kito_err e = read_lot(db, id, false, out);
    if (e == KITO_OK)
        e = kito_sales_read(db, out->sale_id, sale);
    if (e == KITO_OK && !kito_sale_visible(actor, sale))
        e = KITO_E_NOT_FOUND;
    return e;
}

/* A page of lots, one row at a time to the caller's fn. */
struct lot_page {
    kito_lot_row_fn fn;
    void *ud;
    kito_lot row;
};

static kito_err lot_page_row(void *ud, const kito_sql_row *row)
{
    struct lot_page *c = ud;
    lot_from_row(row, &c->row);
    return c->fn(c->ud, &c->row);
}

/* A search word's LIKE pattern, "%word%" with LIKE's own characters (%, _ and the escape \\)
 * escaped, so a buyer's "50%" finds "50%" and nothing else. */
#define LIKE_WORD_MAX (2 * KITO_LOTS_SEARCH_WORD_MAX + 3)
static const char *like_pattern(const char *word, char out[LIKE_WORD_MAX])
{
    size_t n = 0;
    out[n++] = '%';
    for (const char *c = word; *c != '\0' && n + 3 < LIKE_WORD_MAX; c++) {
        if (*c == '%' || *c == '_' || *c == '\\')
            out[n++] = '\\';
        out[n++] = *c;
    }
    out[n++] = '%';
    out[n] = '\0';
    return out;
}

kito_err kito_lots_list(kito_db_conn *db, const kito_actor *actor, uint64_t sale_id,
                        const kito_lots_filter *f, kito_sale *sale, kito_lot_row_fn fn, void *ud)
{
    kito_err e = kito_sales_read(db, sale_id, sale);
    if (e == KITO_OK && !kito_sale_visible(actor, sale))
        e = KITO_E_NOT_FOUND;
    if (e != KITO_OK)
        return e;
    struct lot_page page = {.fn = fn, .ud = ud};
    char like[KITO_LOTS_SEARCH_WORDS][LIKE_WORD_MAX];
    const char *pat[KITO_LOTS_SEARCH_WORDS] = {NULL};
    for (size_t i = 0; i < KITO_LOTS_SEARCH_WORDS && f->words[i] != NULL; i++)
        pat[i] = like_pattern(f->words[i], like[i]);
    kito_sql_param p[] = {
        KITO_SQL_U64(sale_id),
        KITO_SQL_TEXT_OR_NULL(f->state),
        KITO_SQL_TEXT_OR_NULL(f->state),
        KITO_SQL_TEXT_OR_NULL(f->species),
        KITO_SQL_TEXT_OR_NULL(f->species),
        KITO_SQL_I64(f->min_weight_cct),
        KITO_SQL_I64(f->max_weight_cct),
        KITO_SQL_I64(f->max_weight_cct),
        KITO_SQL_TEXT_OR_NULL(pat[0]),
        KITO_SQL_TEXT_OR_NULL(pat[0]),
        KITO_SQL_TEXT_OR_NULL(pat[1]),
        KITO_SQL_TEXT_OR_NULL(pat[1]),
        KITO_SQL_TEXT_OR_NULL(pat[2]),
        KITO_SQL_TEXT_OR_NULL(pat[2]),
        KITO_SQL_TEXT_OR_NULL(pat[3]),
        KITO_SQL_TEXT_OR_NULL(pat[3]),
        KITO_SQL_I64(f->has_after ? 1 : 0),
        KITO_SQL_U64(f->after_position),
        KITO_SQL_U64(f->after_position),
        KITO_SQL_U64(f->after_id),
        KITO_SQL_U64((uint64_t)f->limit + 1),
    };
    /* what a search word is looked for in: the facts a buyer sees on the lot's card */
#define HAYSTACK                                                                                   \
    "CONCAT_WS(' ', st.species, st.variety, st.colour, st.shape, st.origin_country,"               \
    " st.origin_region, l.lot_number)"
    e = kito_sql_query(db,
                       "SELECT " LOT_COLUMNS LOT_FROM " WHERE l.sale_id = ?"
                       " AND (? IS NULL OR l.state = ?)"
                       " AND (? IS NULL OR st.species = ?)"
                       " AND st.weight_cct >= ? AND (? = 0 OR st.weight_cct <= ?)"
                       " AND (? IS NULL OR " HAYSTACK " LIKE ?)"
                       " AND (? IS NULL OR " HAYSTACK " LIKE ?)"
                       " AND (? IS NULL OR " HAYSTACK " LIKE ?)"
                       " AND (? IS NULL OR " HAYSTACK " LIKE ?)"
                       " AND (? = 0 OR l.position > ? OR (l.position = ? AND l.id > ?))"
                       " ORDER BY l.position, l.id LIMIT ?",
                       p, COUNT(p), lot_page_row, &page, NULL);
#undef HAYSTACK
    return e;
}

struct won_list {
    kito_lot_won_fn fn;
    void *ud;
};

static kito_err won_row(void *ud, const kito_sql_row *row)
{
    struct won_list *l = ud;
    kito_lot_won w = {.lot_id = kito_sql_u64(row, 0), .hammer_minor = kito_sql_i64(row, 1)};
    kito_sql_copy(row, 2, w.currency, sizeof(w.currency));
    assert(w.hammer_minor >= 1); /* pair assertion: the schema's lots_hammer check */
    return l->fn(l->ud, &w);
}

kito_err kito_lots_won(kito_db_conn *db, uint64_t buyer_id, uint64_t after_id, uint32_t limit,
                       kito_lot_won_fn fn, void *ud)
{
    struct won_list l = {fn, ud};
    kito_sql_param p[] = {KITO_SQL_U64(buyer_id), KITO_SQL_U64(after_id), KITO_SQL_U64(limit)};
    return kito_sql_query(db,
                          "SELECT l.id, l.hammer_minor, s.currency FROM lots l"
                          " JOIN sales s ON s.id = l.sale_id"
                          " WHERE l.winner_id = ? AND l.id > ? ORDER BY l.id LIMIT ?",
                          p, COUNT(p), won_row, &l, NULL);
}

/* ---- writing lots ---------------------------------------------------------------------------- */

static kito_err finish(kito_db_conn *db, kito_err e)
{
    return kito_sql_end(db, e);
}

/* Refuses a change to the lots of a sale that is no longer a draft. */
static kito_err require_draft(const kito_sale *s, const char *what, kito_verr *ve)
{
    if (strcmp(s->status, "draft") == 0)
        return KITO_OK;
    kito_verr_set(ve, "", "the sale is %s; %s only while it is a draft", s->status, what);
    return KITO_E_CONFLICT;
}

/* Where query_first puts the first row's columns as integers. */
typedef struct ints {
    bool found;
    int64_t v[4];
    bool null[4];
} ints;

static kito_err first_ints(void *ud, const kito_sql_row *row)
{
    ints *r = ud;
    if (r->found)
        return KITO_OK;
    r->found = true;
    for (unsigned i = 0; i < 4; i++) {
        r->v[i] = kito_sql_i64(row, i);
        r->null[i] = kito_sql_is_null(row, i);
    }
    return KITO_OK;
}

/* Runs a query whose first row has (up to) four integer columns (NULL reads as 0; unused
 * columns read as 0 too). */
static kito_err query_ints(kito_db_conn *db, const char *sql, const kito_sql_param *p, size_t n,
                           ints *out)
{
    *out = (ints){0};
    return kito_sql_query(db, sql, p, n, first_ints, out, NULL);
}

/* The stone may go into a lot of sale: it exists, has a current certificate, its miner has offered
 * it to the sale or its organiser (*offer_id gets that offer; DESIGN.md, "Consent"), it is
 * neither sold nor withdrawn and is in no other active lot. Locks the stone's row first: an offer
 * is withdrawn under the same lock (api/store/repo_offers.h), so it cannot go between this check
 * and the lot's insert. Consent is asked before the stone's state, so an organiser without it
 * learns nothing of where the stone is. */
static kito_err check_stone(kito_db_conn *db, const kito_sale *sale, uint64_t stone_id,
                            uint64_t *offer_id, kito_verr *ve)
{
    ints r;
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    kito_err e =
        query_ints(db,
                   "SELECT " CURRENT_CERTIFICATE(
                       "st.id") ", status = 'sold',"
                                " status = 'withdrawn' FROM stones st WHERE st.id = ? FOR UPDATE",
                   p, 1, &r);
    if (e != KITO_OK)
        return e;
    if (!r.found)
        return kito_verr_set(ve, "stone_id", "is not a stone");
    if (r.null[0])
        return kito_verr_set(ve, "stone_id", "has no current valuation certificate");
    e = kito_offers_consent(db, stone_id, sale->organizer_id, sale->id, offer_id);
    if (e == KITO_E_NO_CONSENT)
        kito_verr_set(ve, "stone_id",
                      "the stone's miner has not offered it to this sale or its organiser");
    if (e != KITO_OK)
        return e;
    if (r.v[1] != 0 || r.v[2] != 0) {
        kito_verr_set(ve, "stone_id", "the stone is %s", r.v[1] != 0 ? "sold" : "withdrawn");
        return KITO_E_CONFLICT;
    }
    e = query_ints(db, "SELECT id FROM lots WHERE live_stone_id = ?", p, 1, &r);
    if (e == KITO_OK && r.found) {
        char lot[KITO_ID_SIZE];
        kito_id_format(KITO_ID_LOT, (uint64_t)r.v[0], lot, sizeof(lot));
        kito_verr_set(ve, "stone_id", "the stone is already in lot %s", lot);
        e = KITO_E_CONFLICT;
    }
    return e;
}

/* The payload of the stone's 'listed' provenance event: where it is offered (never the prices:
 * the provenance chain is public). */
static json_t *listed_payload(uint64_t sale_id, uint64_t lot_id, uint32_t lot_number)
{
    return json_pack("{s:o,s:o,s:I}", "sale_id", kito_render_id(KITO_ID_SALE, sale_id), "lot_id",
                     kito_render_id(KITO_ID_LOT, lot_id), "lot_number", (json_int_t)lot_number);
}

/* The lot's money as an audit detail. */
static json_t *lot_detail(const kito_lot *l, const char *currency)
{
    return json_pack("{s:I,s:I,s:o,s:s}", "lot_number", (json_int_t)l->lot_number, "opening_minor",
                     (json_int_t)l->opening_minor, "reserve_minor",
                     l->has_reserve ? json_integer(l->reserve_minor) : json_null(), "currency",
                     currency);
}

/* Inserts the lot at its position (moving the lots at and after it down one), marks the stone
 * listed, appends its provenance event and audits; the sale is locked and checked. */
static kito_err insert_lot(kito_db_conn *db, const kito_actor *actor, const kito_sale *sale,
                           const kito_lot_input *in, uint64_t offer_id, kito_lot *out,
                           kito_verr *ve)
{
    ints r;
    kito_sql_param ps[] = {KITO_SQL_U64(sale->id)};
    kito_err e = query_ints(db,
                            "SELECT COUNT(*), COALESCE(MAX(lot_number), 0) FROM lots"
                            " WHERE sale_id = ?",
                            ps, 1, &r);
    if (e != KITO_OK)
        return e;
    int64_t count = r.v[0], number = r.v[1] + 1;
    if (count >= KITO_SALE_LOTS_MAX) {
        kito_verr_set(ve, "", "a sale holds at most %d lots", KITO_SALE_LOTS_MAX);
        return KITO_E_CONFLICT;
    }
    int64_t position = in->has_position ? in->position : count;
    if (position > count)
        return kito_verr_set(ve, "position", "must be from 0 to %lld (the sale has %lld lots)",
                             (long long)count, (long long)count);
    kito_sql_param pm[] = {KITO_SQL_U64(sale->id), KITO_SQL_I64(position)};
    e = kito_sql_exec(db,
                      "UPDATE lots SET position = position + 1 WHERE sale_id = ? AND position >= ?",
                      pm, 2, NULL);
    kito_sql_param pi[] = {
        KITO_SQL_U64(sale->id),
        KITO_SQL_U64(in->stone_id),
        KITO_SQL_I64(number),
        KITO_SQL_I64(position),
        KITO_SQL_I64(in->opening_minor),
        in->has_reserve ? KITO_SQL_I64(in->reserve_minor) : KITO_SQL_NULL,
    };
    kito_sql_result res = {0};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO lots (sale_id, stone_id, lot_number, position,"
                          " opening_minor, reserve_minor) VALUES (?, ?, ?, ?, ?, ?)",
                          pi, COUNT(pi), &res);
    kito_sql_param pt[] = {KITO_SQL_U64(in->stone_id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE stones SET status = 'listed', updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ? AND status IN ('draft', 'certified')",
                          pt, 1, NULL);
    if (e == KITO_OK) {
        json_t *payload = listed_payload(sale->id, res.insert_id, (uint32_t)number);
        e = payload != NULL
                ? kito_provenance_append(db, in->stone_id, "listed", payload, actor->account_id)
                : KITO_E_NOMEM;
        json_decref(payload);
    }
    if (e == KITO_OK)
        e = read_lot(db, res.insert_id, false, out);
    if (e == KITO_OK) {
        json_t *detail = lot_detail(out, sale->in.currency);
        json_object_set_new(detail, "sale_id", kito_render_id(KITO_ID_SALE, sale->id));
        json_object_set_new(detail, "stone_id", kito_render_id(KITO_ID_STONE, in->stone_id));
        /* the consent the lot rests on */
        json_object_set_new(detail, "offer_id", kito_render_id(KITO_ID_OFFER, offer_id));
        e = kito_audit(db, actor->account_id, "lot.create", "lot", out->id, detail, actor->ip);
        json_decref(detail);
    }
    return e;
}

kito_err kito_lots_create(kito_db_conn *db, const kito_actor *actor, uint64_t sale_id,
                          const kito_lot_input *in, kito_sale *sale, kito_lot *out, kito_verr *ve)
{
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sales_lock_owned(db, actor, sale_id, sale);
    if (e == KITO_OK)
        e = require_draft(sale, "lots can be added", ve);
    uint64_t offer_id = 0;
    if (e == KITO_OK)
        e = check_stone(db, sale, in->stone_id, &offer_id, ve);
    if (e == KITO_OK)
        e = insert_lot(db, actor, sale, in, offer_id, out, ve);
    if (e == KITO_OK)
        e = kito_sales_read(db, sale_id, sale); /* lot_count changed */
    return finish(db, e);
}

/* Locks lot id's sale (owned by actor) and then the lot, the order every writer uses. */
static kito_err lock_lot(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *sale,
                         kito_lot *lot)
{
    kito_err e = read_lot(db, id, false, lot);
    if (e == KITO_OK)
        e = kito_sales_lock_owned(db, actor, lot->sale_id, sale);
    if (e == KITO_OK)
        e = read_lot(db, id, true, lot);
    return e;
}

kito_err kito_lots_update(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                          const kito_lot_patch *patch, kito_sale *sale, kito_lot *out,
                          kito_verr *ve)
{
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = lock_lot(db, actor, id, sale, out);
    if (e == KITO_OK)
        e = require_draft(sale, "lots can be changed", ve);
    if (e == KITO_OK && strcmp(out->state, "scheduled") != 0) {
        kito_verr_set(ve, "", "the lot is %s", out->state);
        e = KITO_E_CONFLICT;
    }
    kito_lot next = *out;
    if (patch->has_opening)
        next.opening_minor = patch->opening_minor;
    if (patch->has_reserve) {
        next.has_reserve = patch->reserve_minor != 0;
        next.reserve_minor = patch->reserve_minor;
    }
    if (e == KITO_OK && next.has_reserve && next.reserve_minor < next.opening_minor)
        e = kito_verr_set(ve, "reserve", "must be at least the opening price (%lld)",
                          (long long)next.opening_minor);
    kito_sql_param p[] = {
        KITO_SQL_I64(next.opening_minor),
        next.has_reserve ? KITO_SQL_I64(next.reserve_minor) : KITO_SQL_NULL,
        KITO_SQL_U64(id),
    };
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE lots SET opening_minor = ?, reserve_minor = ?,"
                          " updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                          p, COUNT(p), NULL);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:o,s:o}", "from", lot_detail(out, sale->in.currency), "to",
                                   lot_detail(&next, sale->in.currency));
        e = kito_audit(db, actor->account_id, "lot.update", "lot", id, detail, actor->ip);
        json_decref(detail);
    }
    if (e == KITO_OK)
        e = read_lot(db, id, false, out);
    return finish(db, e);
}

/* The sale's lot ids, in the current running order. */
typedef struct id_list {
    uint64_t ids[KITO_SALE_LOTS_MAX];
    size_t n;
} id_list;

static kito_err collect_id(void *ud, const kito_sql_row *row)
{
    id_list *l = ud;
    if (l->n >= KITO_SALE_LOTS_MAX)
        return KITO_E_CAPACITY;
    l->ids[l->n++] = kito_sql_u64(row, 0);
    return KITO_OK;
}

/* Every element of ids is a lot of the sale, and every lot of the sale is there. */
static kito_err check_order(const id_list *have, const uint64_t *ids, size_t n, kito_verr *ve)
{
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t k = 0; k < have->n && !known; k++)
            known = have->ids[k] == ids[i];
        if (!known)
            return kito_verr_set(ve, "lot_ids", "element %zu is not a lot of this sale", i);
    }
    if (n != have->n) /* no repeats (the decoder refuses them) and all known: some are missing */
        return kito_verr_set(ve, "lot_ids", "must list all %zu lots of the sale (%zu given)",
                             have->n, n);
    return KITO_OK;
}

kito_err kito_lots_reorder(kito_db_conn *db, const kito_actor *actor, uint64_t sale_id,
                           const uint64_t *ids, size_t n, kito_verr *ve)
{
    kito_sale sale;
    id_list *have = calloc(1, sizeof(*have));
    json_t *arr = json_array();
    char *text = NULL;
    if (have == NULL || arr == NULL) {
        free(have);
        json_decref(arr);
        return KITO_E_NOMEM;
    }
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sales_lock_owned(db, actor, sale_id, &sale);
    if (e == KITO_OK)
        e = require_draft(&sale, "lots can be reordered", ve);
    kito_sql_param ps[] = {KITO_SQL_U64(sale_id)};
    if (e == KITO_OK)
        e = kito_sql_query(db, "SELECT id FROM lots WHERE sale_id = ? ORDER BY position, id", ps, 1,
                           collect_id, have, NULL);
    if (e == KITO_OK)
        e = check_order(have, ids, n, ve);
    for (size_t i = 0; e == KITO_OK && i < n; i++)
        if (json_array_append_new(arr, json_integer((json_int_t)ids[i])) != 0)
            e = KITO_E_NOMEM;
    if (e == KITO_OK) {
        text = json_dumps(arr, JSON_COMPACT);
        e = text != NULL ? KITO_OK : KITO_E_NOMEM;
    }
    /* one statement for the whole order: the list goes in as a JSON array */
    kito_sql_param p[] = {KITO_SQL_TEXT(text != NULL ? text : "[]"), KITO_SQL_U64(sale_id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE lots l JOIN JSON_TABLE(?, '$[*]' COLUMNS ("
                          " pos FOR ORDINALITY, lot_id BIGINT UNSIGNED PATH '$')) j"
                          " ON j.lot_id = l.id SET l.position = j.pos - 1,"
                          " l.updated_at = UTC_TIMESTAMP(3) WHERE l.sale_id = ?",
                          p, 2, NULL);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:O}", "lot_keys", arr);
        e = kito_audit(db, actor->account_id, "lot.reorder", "sale", sale_id, detail, actor->ip);
        json_decref(detail);
    }
    free(text);
    json_decref(arr);
    free(have);
    return finish(db, e);
}

/* The rules of a withdrawal, inside the caller's transaction: the actor owns the sale and the lot
 * has not ended; with accept_withdrawn, a lot already withdrawn passes too (the order book
 * withdrew it first and the settlement worker has recorded that already). */
static kito_err withdraw_allowed(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                 bool accept_withdrawn, kito_sale *sale, kito_lot *out,
                                 kito_verr *ve)
{
    kito_err e = lock_lot(db, actor, id, sale, out);
    bool withdrawn = e == KITO_OK && strcmp(out->state, "withdrawn") == 0;
    if (e == KITO_OK && (strcmp(out->state, "sold") == 0 || strcmp(out->state, "unsold") == 0 ||
                         (withdrawn && !accept_withdrawn))) {
        kito_verr_set(ve, "", "the lot is %s; it can no longer be withdrawn", out->state);
        e = KITO_E_CONFLICT;
    }
    return e;
}

kito_err kito_lots_withdraw_check(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                  kito_sale *sale, kito_lot *out, kito_verr *ve)
{
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = withdraw_allowed(db, actor, id, false, sale, out, ve);
    kito_sql_rollback(db); /* a check: nothing to keep, and the row locks go */
    return e;
}

/* A withdrawal's arguments, for its transaction body. */
typedef struct withdraw_args {
    const kito_actor *actor;
    uint64_t id;
    const char *reason;
    bool accept_withdrawn;
    kito_sale *sale;
    kito_lot *out;
    kito_verr *ve;
} withdraw_args;

static kito_err withdraw_tx(kito_db_conn *db, void *ud)
{
    const withdraw_args *a = ud;
    const kito_actor *actor = a->actor;
    uint64_t id = a->id;
    const char *reason = a->reason;
    kito_lot *out = a->out;
    kito_sale *sale = a->sale;
    if (a->ve != NULL)
        *a->ve = (kito_verr){{0}}; /* a retried attempt starts clean */
    kito_err e = withdraw_allowed(db, actor, id, a->accept_withdrawn, sale, out, a->ve);
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE lots SET state = 'withdrawn', updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ?",
                          p, 1, NULL);
    /* the stone is free again, unless it has been listed in another lot meanwhile */
    kito_sql_param ps[] = {KITO_SQL_U64(out->stone_id), KITO_SQL_U64(out->stone_id),
                           KITO_SQL_U64(id)};
    if (e == KITO_OK)
        e = kito_sql_exec(
            db,
            "UPDATE stones SET status = 'certified', updated_at = UTC_TIMESTAMP(3)"
            " WHERE id = ? AND status = 'listed' AND NOT EXISTS (SELECT 1 FROM lots"
            " WHERE stone_id = ? AND id <> ? AND state NOT IN ('withdrawn', 'unsold'))",
            ps, 3, NULL);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:s,s:s?}", "from", out->state, "reason",
                                   reason[0] != '\0' ? reason : NULL);
        e = kito_audit(db, actor->account_id, "lot.withdraw", "lot", id, detail, actor->ip);
        json_decref(detail);
    }
    if (e == KITO_OK)
        e = read_lot(db, id, false, out);
    if (e == KITO_OK)
        e = kito_sales_read(db, out->sale_id, sale);
    return e;
}

/* The settlement worker may record the same lot's end from the outbox at this very moment, so
 * InnoDB may pick the withdrawal as a deadlock victim: kito_sql_transaction runs it again. */
static kito_err withdraw(kito_db_conn *db, const kito_actor *actor, uint64_t id, const char *reason,
                         bool accept_withdrawn, kito_sale *sale, kito_lot *out, kito_verr *ve)
{
    withdraw_args a = {actor, id, reason, accept_withdrawn, sale, out, ve};
    return kito_sql_transaction(db, withdraw_tx, &a, KITO_SQL_TX_ATTEMPTS);
}

kito_err kito_lots_withdraw(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                            const char *reason, kito_sale *sale, kito_lot *out, kito_verr *ve)
{
    return withdraw(db, actor, id, reason, false, sale, out, ve);
}

kito_err kito_lots_withdraw_after_engine(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                         const char *reason, kito_sale *sale, kito_lot *out,
                                         kito_verr *ve)
{
    return withdraw(db, actor, id, reason, true, sale, out, ve);
}
