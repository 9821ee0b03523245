/*
 * Consent: offers of stones to organisers and sales (api/store/repo_offers.h).
 */
#include "api/store/repo_offers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/render.h"
#include "api/common/roles.h"
#include "api/store/audit.h"
#include "api/store/repo_sms.h"
#include "api/store/sql.h"

/* ---- decoding (pure) ------------------------------------------------------------------------- */

static const kito_field offer_fields[] = {
    {"organizer_id", KITO_FT_STRING, .nullable = true, .max = 32},
    {"sale_id", KITO_FT_STRING, .nullable = true, .max = 32},
};
static const kito_shape offer_shape = {offer_fields, KITO_N(offer_fields)};

kito_err kito_offer_decode(const json_t *body, kito_offer_input *out, kito_verr *ve)
{
    kito_offer_input in = {0};
    if (kito_validate_object(body, &offer_shape, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const char *org = json_string_value(json_object_get(body, "organizer_id"));
    const char *sale = json_string_value(json_object_get(body, "sale_id"));
    if (org != NULL && sale != NULL)
        return kito_verr_set(ve, "sale_id",
                             "give organizer_id (any of her sales) or sale_id (that sale only), "
                             "not both");
    if (org == NULL && sale == NULL)
        return kito_verr_set(ve, "organizer_id",
                             "is required: the organiser to offer the stone to (or give sale_id)");
    if (org != NULL &&
        kito_validate_id("organizer_id", KITO_ID_ACCOUNT, org, &in.organizer_id, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    if (sale != NULL && kito_validate_id("sale_id", KITO_ID_SALE, sale, &in.sale_id, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    *out = in;
    return KITO_OK;
}

/* ---- the stone and who speaks for it --------------------------------------------------------- */

typedef struct stone_row {
    bool found;
    uint64_t seller_id;
    uint64_t listed_by;
    char status[16];
    bool certified;       /* has a certificate (the newest of its chain is current) */
    uint64_t live_lot_id; /* the lot that holds it (not unsold or withdrawn), 0 if none */
} stone_row;

static kito_err stone_cb(void *ud, const kito_sql_row *row)
{
    stone_row *s = ud;
    s->found = true;
    s->seller_id = kito_sql_u64(row, 0);
    s->listed_by = kito_sql_u64(row, 1);
    kito_sql_copy(row, 2, s->status, sizeof(s->status));
    s->certified = kito_sql_i64(row, 3) != 0;
    s->live_lot_id = kito_sql_u64(row, 4);
    return KITO_OK;
}

/* Reads the stone; lock takes its row for the transaction (the lock api/store/repo_lots.c takes
 * before it checks consent, so offers, withdrawals and lots of one stone run one at a time). */
static kito_err read_stone(kito_db_conn *db, uint64_t stone_id, bool lock, stone_row *st)
{
    *st = (stone_row){0};
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    kito_err e =
        kito_sql_query(db,
                       lock ? "SELECT s.seller_id, s.listed_by, s.status,"
                              " EXISTS (SELECT 1 FROM certificates c WHERE c.stone_id = s.id),"
                              " (SELECT l.id FROM lots l WHERE l.live_stone_id = s.id)"
                              " FROM stones s WHERE s.id = ? FOR UPDATE"
                            : "SELECT s.seller_id, s.listed_by, s.status,"
                              " EXISTS (SELECT 1 FROM certificates c WHERE c.stone_id = s.id),"
                              " (SELECT l.id FROM lots l WHERE l.live_stone_id = s.id)"
                              " FROM stones s WHERE s.id = ?",
                       p, 1, stone_cb, st, NULL);
    if (e == KITO_OK && !st->found)
        e = KITO_E_NOT_FOUND;
    return e;
}

/* The role actor speaks for the stone's miner in ("miner": she herself; "valuer": the valuer who
 * listed it for her, on her behalf), or NULL when she does not (DESIGN.md, "Consent"). */
static const char *speaker(const stone_row *st, const kito_actor *actor)
{
    if (actor->role == KITO_ROLE_MINER && actor->account_id == st->seller_id)
        return "miner";
    if (actor->role == KITO_ROLE_VALUER && actor->account_id == st->listed_by)
        return "valuer";
    return NULL;
}

static kito_err refuse_speaker(kito_verr *ve)
{
    kito_verr_set(ve, "",
                  "only the stone's miner, or the valuer who listed it for her, may offer it or "
                  "withdraw an offer");
    return KITO_E_FORBIDDEN;
}

/* The stone can go into a lot now (the rules of api/store/repo_lots.c's check_stone). */
static kito_err require_available(const stone_row *st, kito_verr *ve)
{
    if (!st->certified) {
        kito_verr_set(ve, "",
                      "the stone has no valuation certificate yet; offer it once certified");
        return KITO_E_CONFLICT;
    }
    if (strcmp(st->status, "sold") == 0 || strcmp(st->status, "withdrawn") == 0) {
        kito_verr_set(ve, "", "the stone is %s", st->status);
        return KITO_E_CONFLICT;
    }
    if (st->live_lot_id != 0) {
        char lot[KITO_ID_SIZE];
        kito_id_format(KITO_ID_LOT, st->live_lot_id, lot, sizeof(lot));
        kito_verr_set(ve, "", "the stone is in lot %s", lot);
        return KITO_E_CONFLICT;
    }
    return KITO_OK;
}

/* ---- offer views ----------------------------------------------------------------------------- */

#define OFFER_COLUMNS                                                                              \
    "o.id, o.stone_id, o.miner_id, o.organizer_id, o.sale_id, o.offered_by, " KITO_SQL_DT_TO_MS(   \
        "o.created_at") ", " KITO_SQL_DT_TO_MS("o.withdrawn_at") ", o.withdrawn_by"

static json_t *id_or_null(const char *prefix, const kito_sql_row *row, unsigned col)
{
    return kito_sql_is_null(row, col) ? json_null()
                                      : kito_render_id(prefix, kito_sql_u64(row, col));
}

static json_t *offer_from_row(const kito_sql_row *row)
{
    bool live = kito_sql_is_null(row, 7);
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:b}", "id",
                     kito_render_id(KITO_ID_OFFER, kito_sql_u64(row, 0)), "stone_id",
                     kito_render_id(KITO_ID_STONE, kito_sql_u64(row, 1)), "miner_id",
                     kito_render_id(KITO_ID_ACCOUNT, kito_sql_u64(row, 2)), "organizer_id",
                     kito_render_id(KITO_ID_ACCOUNT, kito_sql_u64(row, 3)), "sale_id",
                     id_or_null(KITO_ID_SALE, row, 4), "offered_by",
                     kito_render_id(KITO_ID_ACCOUNT, kito_sql_u64(row, 5)), "on_behalf",
                     kito_sql_u64(row, 5) != kito_sql_u64(row, 2), "created_at",
                     kito_render_time(kito_sql_i64(row, 6)), "withdrawn_at",
                     live ? json_null() : kito_render_time(kito_sql_i64(row, 7)), "withdrawn_by",
                     id_or_null(KITO_ID_ACCOUNT, row, 8), "live", live);
}

static kito_err offer_cb(void *ud, const kito_sql_row *row)
{
    json_t **out = ud;
    json_decref(*out);
    *out = offer_from_row(row);
    return *out != NULL ? KITO_OK : KITO_E_NOMEM;
}

/* Reads offer id of stone_id (lock: for the transaction) into *out; KITO_E_NOT_FOUND if the
 * stone has no such offer. */
static kito_err read_offer(kito_db_conn *db, uint64_t stone_id, uint64_t id, bool lock,
                           json_t **out)
{
    *out = NULL;
    kito_sql_param p[] = {KITO_SQL_U64(id), KITO_SQL_U64(stone_id)};
    kito_err e = kito_sql_query(db,
                                lock ? "SELECT " OFFER_COLUMNS " FROM stone_offers o"
                                       " WHERE o.id = ? AND o.stone_id = ? FOR UPDATE"
                                     : "SELECT " OFFER_COLUMNS " FROM stone_offers o"
                                       " WHERE o.id = ? AND o.stone_id = ?",
                                p, 2, offer_cb, out, NULL);
    if (e == KITO_OK && *out == NULL)
        e = KITO_E_NOT_FOUND;
    if (e != KITO_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return e;
}

/* ---- making an offer ------------------------------------------------------------------------- */

typedef struct target_row {
    bool found;
    uint64_t organizer_id;
    char status[16]; /* the sale's, or the organiser account's */
    char role[16];   /* the organiser account's role */
} target_row;

static kito_err target_cb(void *ud, const kito_sql_row *row)
{
    target_row *t = ud;
    t->found = true;
    t->organizer_id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, t->status, sizeof(t->status));
    kito_sql_copy(row, 2, t->role, sizeof(t->role));
    return KITO_OK;
}

/* Resolves the offer's target to its organiser: a draft sale (locked in share mode, so it stays
 * a draft of that organiser until the offer is written) or an active organiser account. */
static kito_err resolve_target(kito_db_conn *db, const kito_offer_input *in, uint64_t *organizer_id,
                               kito_verr *ve)
{
    target_row t = {0};
    kito_err e;
    if (in->sale_id != 0) {
        kito_sql_param p[] = {KITO_SQL_U64(in->sale_id)};
        e = kito_sql_query(db,
                           "SELECT organizer_id, status, '' FROM sales WHERE id = ?"
                           " LOCK IN SHARE MODE",
                           p, 1, target_cb, &t, NULL);
        if (e != KITO_OK)
            return e;
        if (!t.found)
            return kito_verr_set(ve, "sale_id", "is not a sale");
        if (strcmp(t.status, "draft") != 0) {
            kito_verr_set(ve, "sale_id", "the sale is %s; lots are added only to a draft sale",
                          t.status);
            return KITO_E_CONFLICT;
        }
    } else {
        kito_sql_param p[] = {KITO_SQL_U64(in->organizer_id)};
        e = kito_sql_query(db, "SELECT id, status, role FROM accounts WHERE id = ?", p, 1,
                           target_cb, &t, NULL);
        if (e != KITO_OK)
            return e;
        if (!t.found || strcmp(t.role, "organizer") != 0 || strcmp(t.status, "active") != 0)
            return kito_verr_set(ve, "organizer_id", "is not an active organiser");
    }
    *organizer_id = t.organizer_id;
    return KITO_OK;
}

static kito_err first_u64(void *ud, const kito_sql_row *row)
{
    *(uint64_t *)ud = kito_sql_u64(row, 0);
    return KITO_OK;
}

/* The miner's SMS that her stone was offered (issue 18), in the offer's transaction. */
static kito_err name_cb(void *ud, const kito_sql_row *row)
{
    kito_sql_copy(row, 0, ud, 61);
    return KITO_OK;
}

static kito_err offer_sms(kito_db_conn *db, uint64_t miner_id, uint64_t stone_id,
                          uint64_t organizer_id, uint64_t offer_id)
{
    char name[61] = "", ref[KITO_ID_SIZE], key[48];
    kito_sql_param p[] = {KITO_SQL_U64(organizer_id)};
    kito_err e =
        kito_sql_query(db, "SELECT name FROM accounts WHERE id = ?", p, 1, name_cb, name, NULL);
    if (e != KITO_OK)
        return e;
    kito_id_format(KITO_ID_STONE, stone_id, ref, sizeof(ref));
    snprintf(key, sizeof(key), "offered:%" PRIu64, offer_id);
    const char *v[] = {ref, name};
    return kito_sms_enqueue(db, miner_id, KITO_SMS_OFFERED, key, v);
}

kito_err kito_offers_make(kito_db_conn *db, const kito_actor *actor, uint64_t stone_id,
                          const kito_offer_input *in, bool *created, json_t **out, kito_verr *ve)
{
    *created = false;
    *out = NULL;
    stone_row st;
    uint64_t organizer_id = 0, offer_id = 0;
    const char *role = NULL;
    kito_err e = kito_sql_begin(db);
    /* the sale before the stone, the order a lot takes them in (api/store/repo_lots.c), so an offer
     * and a lot of the same stone and sale wait for each other instead of deadlocking; the
     * stone is read again once locked */
    if (e == KITO_OK)
        e = read_stone(db, stone_id, false, &st);
    if (e == KITO_OK && speaker(&st, actor) == NULL)
        e = refuse_speaker(ve);
    if (e == KITO_OK)
        e = resolve_target(db, in, &organizer_id, ve);
    if (e == KITO_OK)
        e = read_stone(db, stone_id, true, &st);
    if (e == KITO_OK && (role = speaker(&st, actor)) == NULL)
        e = refuse_speaker(ve);
    if (e == KITO_OK)
        e = require_available(&st, ve);
    /* the same live offer again: answered as it stands (schemas/012: stone_offers_live) */
    kito_sql_param pf[] = {KITO_SQL_U64(stone_id), KITO_SQL_U64(organizer_id),
                           KITO_SQL_U64(in->sale_id)};
    if (e == KITO_OK)
        e = kito_sql_query(db,
                           "SELECT id FROM stone_offers WHERE live_stone_id = ?"
                           " AND organizer_id = ? AND sale_key = ? FOR UPDATE",
                           pf, KITO_N(pf), first_u64, &offer_id, NULL);
    if (e == KITO_OK && offer_id == 0) {
        kito_sql_param pi[] = {
            KITO_SQL_U64(stone_id),
            KITO_SQL_U64(st.seller_id),
            KITO_SQL_U64(st.listed_by),
            KITO_SQL_U64(organizer_id),
            in->sale_id != 0 ? KITO_SQL_U64(in->sale_id) : KITO_SQL_NULL,
            KITO_SQL_U64(actor->account_id),
            KITO_SQL_TEXT(role),
        };
        kito_sql_result res = {0};
        e = kito_sql_exec(db,
                          "INSERT INTO stone_offers (stone_id, miner_id, listed_by, organizer_id,"
                          " sale_id, offered_by, offered_by_role) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          pi, KITO_N(pi), &res);
        offer_id = res.insert_id;
        if (e == KITO_OK) {
            /* an agent's offer is recorded as made on the miner's behalf (DESIGN.md, "Consent") */
            json_t *detail = json_pack(
                "{s:o, s:o, s:o, s:s, s:o}", "offer_id", kito_render_id(KITO_ID_OFFER, offer_id),
                "organizer_id", kito_render_id(KITO_ID_ACCOUNT, organizer_id), "sale_id",
                in->sale_id != 0 ? kito_render_id(KITO_ID_SALE, in->sale_id) : json_null(),
                "offered_as", role, "on_behalf_of",
                strcmp(role, "miner") != 0 ? kito_render_id(KITO_ID_ACCOUNT, st.seller_id)
                                           : json_null());
            e = detail != NULL ? kito_audit(db, actor->account_id, "stone.offer", "stone", stone_id,
                                            detail, actor->ip)
                               : KITO_E_NOMEM;
            json_decref(detail);
        }
        if (e == KITO_OK)
            e = offer_sms(db, st.seller_id, stone_id, organizer_id, offer_id);
        *created = e == KITO_OK;
    }
    if (e == KITO_OK)
        e = read_offer(db, stone_id, offer_id, false, out);
    e = kito_sql_end(db, e);
    if (e != KITO_OK) {
        *created = false;
        json_decref(*out);
        *out = NULL;
    }
    return e;
}

/* ---- listing a stone's offers ---------------------------------------------------------------- */

kito_err kito_offers_list(kito_db_conn *db, const kito_actor *actor, uint64_t stone_id,
                          const kito_cursor *after, uint32_t limit, json_t **items, bool *more,
                          kito_cursor *next)
{
    *items = NULL;
    *more = false;
    stone_row st;
    kito_err e = read_stone(db, stone_id, false, &st);
    if (e != KITO_OK)
        return e;
    /* the miner, her listing valuer and operators see every offer; an organiser the ones made to
     * her; another miner or valuer nothing */
    bool everything = speaker(&st, actor) != NULL || actor->role == KITO_ROLE_OPERATOR;
    if (!everything && actor->role != KITO_ROLE_ORGANIZER)
        return KITO_E_FORBIDDEN;
    char sql[512];
    kito_sql_param p[3];
    size_t n = 0;
    int len = snprintf(sql, sizeof(sql),
                       "SELECT " OFFER_COLUMNS " FROM stone_offers o"
                       " WHERE o.stone_id = ?");
    p[n++] = KITO_SQL_U64(stone_id);
    if (!everything) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND o.organizer_id = ?");
        p[n++] = KITO_SQL_U64(actor->account_id);
    }
    if (after != NULL) {
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, " AND o.id < ?");
        p[n++] = KITO_SQL_U64(after->id);
    }
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY o.id DESC LIMIT %u",
             (unsigned)limit + 1);
    uint64_t last_id;
    e = kito_sql_page(db, sql, p, n, limit, offer_from_row, items, more, &last_id);
    if (e == KITO_OK)
        *next = (kito_cursor){.sort_key = (int64_t)last_id, .id = last_id};
    return e;
}

/* ---- withdrawing ----------------------------------------------------------------------------- */

kito_err kito_offers_withdraw(kito_db_conn *db, const kito_actor *actor, uint64_t stone_id,
                              uint64_t offer_id, json_t **out, kito_verr *ve)
{
    *out = NULL;
    stone_row st;
    json_t *offer = NULL;
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = read_stone(db, stone_id, true, &st);
    if (e == KITO_OK && speaker(&st, actor) == NULL)
        e = refuse_speaker(ve);
    if (e == KITO_OK)
        e = read_offer(db, stone_id, offer_id, true, &offer);
    bool live = e == KITO_OK && json_is_true(json_object_get(offer, "live"));
    /* a sale that holds the stone holds it on this consent: the lot goes first (withdrawn or
     * unsold), then the offer */
    if (live && st.live_lot_id != 0) {
        char lot[KITO_ID_SIZE];
        kito_id_format(KITO_ID_LOT, st.live_lot_id, lot, sizeof(lot));
        kito_verr_set(ve, "",
                      "the stone is in lot %s; the offer can be withdrawn once that lot is "
                      "withdrawn or unsold",
                      lot);
        e = KITO_E_CONFLICT;
    }
    kito_sql_param p[] = {KITO_SQL_U64(actor->account_id), KITO_SQL_U64(offer_id)};
    if (e == KITO_OK && live)
        e = kito_sql_exec(db,
                          "UPDATE stone_offers SET withdrawn_at = UTC_TIMESTAMP(3),"
                          " withdrawn_by = ? WHERE id = ? AND withdrawn_at IS NULL",
                          p, KITO_N(p), NULL);
    if (e == KITO_OK && live) {
        json_t *detail = json_pack(
            "{s:o, s:O, s:O, s:s, s:o}", "offer_id", kito_render_id(KITO_ID_OFFER, offer_id),
            "organizer_id", json_object_get(offer, "organizer_id"), "sale_id",
            json_object_get(offer, "sale_id"), "withdrawn_as", speaker(&st, actor), "on_behalf_of",
            actor->account_id != st.seller_id ? kito_render_id(KITO_ID_ACCOUNT, st.seller_id)
                                              : json_null());
        e = detail != NULL ? kito_audit(db, actor->account_id, "stone.offer_withdraw", "stone",
                                        stone_id, detail, actor->ip)
                           : KITO_E_NOMEM;
        json_decref(detail);
    }
    if (e == KITO_OK && live) {
        json_decref(offer);
        e = read_offer(db, stone_id, offer_id, false, &offer);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK) {
        json_decref(offer);
        return e;
    }
    *out = offer;
    return KITO_OK;
}

/* ---- consent for a lot ----------------------------------------------------------------------- */

kito_err kito_offers_consent(kito_db_conn *db, uint64_t stone_id, uint64_t organizer_id,
                             uint64_t sale_id, uint64_t *offer_id)
{
    *offer_id = 0;
    kito_sql_param p[] = {KITO_SQL_U64(stone_id), KITO_SQL_U64(organizer_id),
                          KITO_SQL_U64(sale_id)};
    /* sale_key 0 is an offer to the organiser (any of her sales); a sale's own offer is named
     * first, as the closer consent */
    kito_err e = kito_sql_query(db,
                                "SELECT id FROM stone_offers WHERE live_stone_id = ?"
                                " AND organizer_id = ? AND sale_key IN (0, ?)"
                                " ORDER BY sale_key DESC LIMIT 1 LOCK IN SHARE MODE",
                                p, KITO_N(p), first_u64, offer_id, NULL);
    if (e == KITO_OK && *offer_id == 0)
        e = KITO_E_NO_CONSENT;
    return e;
}

/* ---- an organiser's offered stones ----------------------------------------------------------- */

typedef struct attach_state {
    json_t *items;
    json_t *by_stone; /* stone id text -> the item's "offers" array (borrowed) */
} attach_state;

static kito_err attach_cb(void *ud, const kito_sql_row *row)
{
    attach_state *as = ud;
    char stone[KITO_ID_SIZE];
    if (kito_id_format(KITO_ID_STONE, kito_sql_u64(row, 0), stone, sizeof(stone)) != KITO_OK)
        return KITO_E_INTERNAL;
    json_t *offers = json_object_get(as->by_stone, stone);
    if (offers == NULL)
        return KITO_OK; /* not on this page */
    json_t *o = json_pack(
        "{s:o, s:o, s:o}", "id", kito_render_id(KITO_ID_OFFER, kito_sql_u64(row, 1)), "sale_id",
        id_or_null(KITO_ID_SALE, row, 2), "created_at", kito_render_time(kito_sql_i64(row, 3)));
    return o != NULL && json_array_append_new(offers, o) == 0 ? KITO_OK : KITO_E_NOMEM;
}

kito_err kito_offers_attach(kito_db_conn *db, uint64_t organizer_id, json_t *items)
{
    attach_state as = {.items = items, .by_stone = json_object()};
    json_t *keys = json_array();
    char *text = NULL;
    kito_err e = as.by_stone != NULL && keys != NULL ? KITO_OK : KITO_E_NOMEM;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *id = json_string_value(json_object_get(item, "id"));
        uint64_t key = 0;
        json_t *offers = json_array();
        if (e == KITO_OK && (id == NULL || kito_id_parse(KITO_ID_STONE, id, &key) != KITO_OK))
            e = KITO_E_INTERNAL;
        if (e == KITO_OK && (offers == NULL || json_object_set(item, "offers", offers) != 0 ||
                             json_object_set(as.by_stone, id, offers) != 0 ||
                             json_array_append_new(keys, json_integer((json_int_t)key)) != 0))
            e = KITO_E_NOMEM;
        json_decref(offers);
    }
    if (e == KITO_OK && json_array_size(keys) > 0) {
        text = json_dumps(keys, JSON_COMPACT);
        e = text != NULL ? KITO_OK : KITO_E_NOMEM;
    }
    /* one statement for the page: its stone keys go in as a JSON array */
    kito_sql_param p[] = {KITO_SQL_TEXT(text != NULL ? text : "[]"), KITO_SQL_U64(organizer_id)};
    if (e == KITO_OK && text != NULL)
        e = kito_sql_query(db,
                           "SELECT o.stone_id, o.id, o.sale_id, " KITO_SQL_DT_TO_MS(
                               "o.created_at") " FROM JSON_TABLE(?, '$[*]' COLUMNS (sid BIGINT "
                                               "UNSIGNED PATH '$')) j"
                                               " JOIN stone_offers o ON o.live_stone_id = j.sid"
                                               " AND o.organizer_id = ?"
                                               " LEFT JOIN sales sa ON sa.id = o.sale_id"
                                               " WHERE o.sale_id IS NULL OR sa.status = 'draft'"
                                               " ORDER BY o.stone_id, o.id",
                           p, KITO_N(p), attach_cb, &as, NULL);
    free(text);
    json_decref(keys);
    json_decref(as.by_stone);
    return e;
}
