/*
 * Stones and photos (api/store/repo_stones.h).
 */
#include "api/store/repo_stones.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/audit.h"
#include "api/common/roles.h"
#include "api/adapters/photos.h"
#include "api/common/render.h"
#include "api/store/repo_provenance.h"
#include "api/store/repo_sms.h"
#include "api/store/sql.h"

const char *const kito_stone_species[] = {
    "corundum",    "beryl", "zoisite", "garnet",  "spinel",     "tourmaline", "quartz", "feldspar",
    "chrysoberyl", "topaz", "zircon",  "olivine", "cordierite", "kyanite",    "opal",   NULL};

const char *const kito_stone_statuses[] = {"draft", "certified", "listed",
                                           "sold",  "withdrawn", NULL};

/* ---- decoding -------------------------------------------------------------------------------- */

static const kito_field origin_fields[] = {
    {.name = "country", .type = KITO_FT_STRING, .required = true, .min = 2, .max = 2},
    {.name = "region", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 80},
    {.name = "site", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 120},
};
static const kito_shape origin_shape = {origin_fields, 3};

#define STONE_FIELDS(req)                                                                          \
    {.name = "species", .type = KITO_FT_STRING, .required = (req), .min = 1, .max = 24},           \
        {.name = "variety", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 40},        \
        {.name = "weight_ct", .type = KITO_FT_DECIMAL, .required = (req)},                         \
        {.name = "piece_count", .type = KITO_FT_INTEGER, .nullable = !(req)},                      \
        {.name = "shape", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 40},          \
        {.name = "colour", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 80},         \
        {.name = "origin", .type = KITO_FT_OBJECT, .required = (req), .shape = &origin_shape},     \
    {                                                                                              \
        .name = "notes", .type = KITO_FT_TEXT, .nullable = true, .min = 1,                         \
        .max = KITO_STONE_NOTES_MAX                                                                \
    }

static const kito_field create_fields[] = {
    STONE_FIELDS(true),
    {.name = "seller_id", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 40},
};
static const kito_shape create_shape = {create_fields,
                                        sizeof(create_fields) / sizeof(*create_fields)};
static const kito_field patch_fields[] = {STONE_FIELDS(false)};
static const kito_shape patch_shape = {patch_fields, sizeof(patch_fields) / sizeof(*patch_fields)};

/* A member's string, or NULL when absent or null. */
static const char *str_or_null(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* True if the member is present (null included): PATCH changes it. */
static bool present(const json_t *obj, const char *name)
{
    return json_object_get(obj, name) != NULL;
}

kito_err kito_stone_input_decode(const json_t *body, bool patch, kito_stone_input *in,
                                 kito_verr *ve)
{
    *in = (kito_stone_input){.piece_count = 1};
    kito_err e = kito_validate_object(body, patch ? &patch_shape : &create_shape, ve);
    if (e != KITO_OK)
        return e;
    if (patch && json_object_size(body) == 0)
        return kito_verr_set(ve, "body", "must change at least one field");
    /* null is "leave out" for required members; kito_validate_object let it through only when
     * nullable, so a PATCH null on species, weight_ct or origin is refused here */
    static const char *const required_in_patch[] = {"species", "weight_ct", "origin"};
    for (size_t i = 0; patch && i < 3; i++)
        if (json_is_null(json_object_get(body, required_in_patch[i])))
            return kito_verr_set(ve, required_in_patch[i], "cannot be removed");

    const json_t *v;
    if ((v = json_object_get(body, "species")) != NULL) {
        in->given |= KITO_STONE_F_SPECIES;
        in->species = json_string_value(v);
        if ((e = kito_validate_enum("species", in->species, kito_stone_species, NULL, ve)) !=
            KITO_OK)
            return e;
    }
    if (present(body, "variety")) {
        in->given |= KITO_STONE_F_VARIETY;
        in->variety = str_or_null(body, "variety");
    }
    if ((v = json_object_get(body, "weight_ct")) != NULL) {
        in->given |= KITO_STONE_F_WEIGHT;
        if ((e = kito_validate_carats("weight_ct", v, &in->weight_cct, ve)) != KITO_OK)
            return e;
    }
    if ((v = json_object_get(body, "piece_count")) != NULL && !json_is_null(v)) {
        in->given |= KITO_STONE_F_PIECES;
        if ((e = kito_validate_int("piece_count", v, 1, 100000, &in->piece_count, ve)) != KITO_OK)
            return e;
    }
    if (present(body, "shape")) {
        in->given |= KITO_STONE_F_SHAPE;
        in->shape = str_or_null(body, "shape");
    }
    if (present(body, "colour")) {
        in->given |= KITO_STONE_F_COLOUR;
        in->colour = str_or_null(body, "colour");
    }
    if ((v = json_object_get(body, "origin")) != NULL) {
        in->given |= KITO_STONE_F_ORIGIN;
        in->origin_country = str_or_null(v, "country");
        in->origin_region = str_or_null(v, "region");
        in->origin_site = str_or_null(v, "site");
        if ((e = kito_validate_origin_country("origin.country", in->origin_country, ve)) != KITO_OK)
            return e;
    }
    if (present(body, "notes")) {
        in->given |= KITO_STONE_F_NOTES;
        in->notes = str_or_null(body, "notes");
    }
    const char *seller = str_or_null(body, "seller_id");
    if (seller != NULL) {
        in->given |= KITO_STONE_F_SELLER;
        if ((e = kito_validate_id("seller_id", KITO_ID_ACCOUNT, seller, &in->seller_id, ve)) !=
            KITO_OK)
            return e;
    }
    return KITO_OK;
}

/* ---- small helpers --------------------------------------------------------------------------- */

static kito_err flag_row(void *ud, const kito_sql_row *row)
{
    (void)row;
    *(bool *)ud = true;
    return KITO_OK;
}

/* "3.12" for 312 hundredths. */
static json_t *render_carats(int64_t cct)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64 ".%02" PRId64, cct / 100, cct % 100);
    return json_string(buf);
}

static json_t *text_or_null(const kito_sql_row *row, unsigned col)
{
    const char *s = kito_sql_text(row, col, NULL);
    return s != NULL ? json_string(s) : json_null();
}

static json_t *photo_url(const char *sha)
{
    char url[96];
    snprintf(url, sizeof(url), "/v1/photos/%s", sha);
    return json_string(url);
}

static kito_err finish(kito_db_conn *db, kito_err e)
{
    return kito_sql_end(db, e);
}

/* ---- create ---------------------------------------------------------------------------------- */

typedef struct account_row {
    bool found;
    char role[16];
    char status[16];
} account_row;

static kito_err account_cb(void *ud, const kito_sql_row *row)
{
    account_row *a = ud;
    a->found = true;
    kito_sql_copy(row, 0, a->role, sizeof(a->role));
    kito_sql_copy(row, 1, a->status, sizeof(a->status));
    return KITO_OK;
}

static json_t *found_payload(const kito_stone_input *in, uint64_t seller, uint64_t listed_by)
{
    json_t *origin = json_pack("{s:s}", "country", in->origin_country);
    if (origin != NULL && in->origin_region != NULL)
        json_object_set_new(origin, "region", json_string(in->origin_region));
    if (origin != NULL && in->origin_site != NULL)
        json_object_set_new(origin, "site", json_string(in->origin_site));
    return json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "species", in->species, "weight_cct",
                     (json_int_t)in->weight_cct, "piece_count", (json_int_t)in->piece_count,
                     "origin", origin, "seller_id", kito_render_id(KITO_ID_ACCOUNT, seller),
                     "listed_by", kito_render_id(KITO_ID_ACCOUNT, listed_by));
}

/* The miner's SMS that her stone was received, with its reference (issue 18), in the listing's
 * transaction: whoever listed it, she hears of it. */
static kito_err received_sms(kito_db_conn *db, uint64_t seller, uint64_t stone_id,
                             const kito_stone_input *in)
{
    char ref[KITO_ID_SIZE], weight[32], key[48];
    kito_id_format(KITO_ID_STONE, stone_id, ref, sizeof(ref));
    snprintf(weight, sizeof(weight), "%" PRId64 ".%02" PRId64, in->weight_cct / 100,
             in->weight_cct % 100);
    snprintf(key, sizeof(key), "stone_received:%" PRIu64, stone_id);
    const char *v[] = {ref, in->variety != NULL ? in->variety : in->species, weight};
    return kito_sms_enqueue(db, seller, KITO_SMS_STONE_RECEIVED, key, v);
}

kito_err kito_stone_create(kito_db_conn *db, const kito_stone_input *in, uint64_t actor_id,
                           unsigned actor_role, const char *ip, uint64_t *stone_id, kito_verr *ve)
{
    uint64_t seller;
    *stone_id = 0;
    if (actor_role == KITO_ROLE_MINER) {
        if (in->seller_id != 0 && in->seller_id != actor_id) {
            kito_verr_set(ve, "seller_id",
                          "a miner lists her own stones only; seller_id must be yours");
            return KITO_E_FORBIDDEN;
        }
        seller = actor_id;
    } else if (actor_role == KITO_ROLE_VALUER) {
        if (in->seller_id == 0)
            return kito_verr_set(
                ve, "seller_id",
                "is required: name the miner you list for, like acc_0000000000001");
        account_row a = {0};
        kito_sql_param p[] = {KITO_SQL_U64(in->seller_id)};
        kito_err e = kito_sql_query(db, "SELECT role, status FROM accounts WHERE id = ?", p, 1,
                                    account_cb, &a, NULL);
        if (e != KITO_OK)
            return e;
        if (!a.found || strcmp(a.role, "miner") != 0 || strcmp(a.status, "active") != 0)
            return kito_verr_set(ve, "seller_id", "must be the id of an active miner's account");
        seller = in->seller_id;
    } else {
        return KITO_E_FORBIDDEN;
    }

    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    kito_sql_param p[] = {
        KITO_SQL_U64(seller),
        KITO_SQL_U64(actor_id),
        KITO_SQL_TEXT(in->species),
        KITO_SQL_TEXT_OR_NULL(in->variety),
        KITO_SQL_I64(in->weight_cct),
        KITO_SQL_I64(in->piece_count),
        KITO_SQL_TEXT_OR_NULL(in->shape),
        KITO_SQL_TEXT_OR_NULL(in->colour),
        KITO_SQL_TEXT(in->origin_country),
        KITO_SQL_TEXT_OR_NULL(in->origin_region),
        KITO_SQL_TEXT_OR_NULL(in->origin_site),
        KITO_SQL_TEXT_OR_NULL(in->notes),
        in->local_offer_minor > 0 ? KITO_SQL_I64(in->local_offer_minor) : KITO_SQL_NULL,
        in->local_offer_minor > 0 ? KITO_SQL_TEXT_OR_NULL(in->local_offer_currency) : KITO_SQL_NULL,
    };
    kito_sql_result res = {0};
    e = kito_sql_exec(db,
                      "INSERT INTO stones (seller_id, listed_by, species, variety, weight_cct,"
                      " piece_count, shape, colour, origin_country, origin_region, origin_site,"
                      " notes, local_offer_minor, local_offer_currency)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      p, sizeof(p) / sizeof(p[0]), &res);
    if (e == KITO_OK) {
        *stone_id = res.insert_id;
        json_t *payload = found_payload(in, seller, actor_id);
        e = payload != NULL ? kito_provenance_append(db, *stone_id, "found", payload, actor_id)
                            : KITO_E_NOMEM;
        if (e == KITO_OK)
            e = kito_audit(db, actor_id, "stone.create", "stone", *stone_id, payload, ip);
        json_decref(payload);
        if (e == KITO_OK)
            e = received_sms(db, seller, *stone_id, in);
    }
    e = finish(db, e);
    if (e != KITO_OK)
        *stone_id = 0;
    return e;
}

/* ---- update ---------------------------------------------------------------------------------- */

typedef struct stone_state {
    bool found;
    uint64_t seller_id;
    char status[16];
    uint64_t certificates;
    bool in_live_lot;
} stone_state;

static kito_err state_cb(void *ud, const kito_sql_row *row)
{
    stone_state *s = ud;
    s->found = true;
    s->seller_id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, s->status, sizeof(s->status));
    s->certificates = kito_sql_u64(row, 2);
    s->in_live_lot = kito_sql_u64(row, 3) != 0;
    return KITO_OK;
}

/* Locks the stone's row and reads what the row rules need. */
static kito_err lock_stone(kito_db_conn *db, uint64_t stone_id, stone_state *st)
{
    *st = (stone_state){0};
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    return kito_sql_query(db,
                          "SELECT s.seller_id, s.status,"
                          " (SELECT COUNT(*) FROM certificates c WHERE c.stone_id = s.id),"
                          " EXISTS (SELECT 1 FROM lots l WHERE l.live_stone_id = s.id)"
                          " FROM stones s WHERE s.id = ? FOR UPDATE",
                          p, 1, state_cb, st, NULL);
}

/* The seller herself or any valuer (field agents act for miners). */
static bool may_change(const stone_state *st, uint64_t actor_id, unsigned actor_role)
{
    return actor_role == KITO_ROLE_VALUER ||
           (actor_role == KITO_ROLE_MINER && st->seller_id == actor_id);
}

kito_err kito_stone_update(kito_db_conn *db, uint64_t stone_id, const kito_stone_input *in,
                           uint64_t actor_id, unsigned actor_role, const char *ip, kito_verr *ve)
{
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    stone_state st;
    if ((e = lock_stone(db, stone_id, &st)) != KITO_OK)
        return finish(db, e);
    if (!st.found)
        return finish(db, KITO_E_NOT_FOUND);
    if (!may_change(&st, actor_id, actor_role)) {
        kito_verr_set(ve, "stone", "only the seller or a valuer may edit this stone");
        return finish(db, KITO_E_FORBIDDEN);
    }
    if (st.in_live_lot || strcmp(st.status, "sold") == 0) {
        kito_verr_set(ve, "stone", "the stone is in a lot or sold, so it can no longer be edited");
        return finish(db, KITO_E_CONFLICT);
    }
    if (st.certificates > 0 && (in->given & KITO_STONE_F_PHYSICAL) != 0) {
        kito_verr_set(ve, "stone",
                      "the stone is certified: its description is the certificate's; a valuer "
                      "issues a correction (supersedes) instead; only notes can change");
        return finish(db, KITO_E_CONFLICT);
    }

    char sql[640] = "UPDATE stones SET updated_at = UTC_TIMESTAMP(3)";
    kito_sql_param p[16];
    size_t n = 0;
    json_t *fields = json_array();
#define SET(flag, clause, name, ...)                                                               \
    do {                                                                                           \
        if ((in->given & (flag)) != 0) {                                                           \
            strcat(sql, clause);                                                                   \
            kito_sql_param vals[] = {__VA_ARGS__};                                                 \
            for (size_t i_ = 0; i_ < sizeof(vals) / sizeof(vals[0]); i_++)                         \
                p[n++] = vals[i_];                                                                 \
            json_array_append_new(fields, json_string(name));                                      \
        }                                                                                          \
    } while (0)
    SET(KITO_STONE_F_SPECIES, ", species = ?", "species", KITO_SQL_TEXT(in->species));
    SET(KITO_STONE_F_VARIETY, ", variety = ?", "variety", KITO_SQL_TEXT_OR_NULL(in->variety));
    SET(KITO_STONE_F_WEIGHT, ", weight_cct = ?", "weight_ct", KITO_SQL_I64(in->weight_cct));
    SET(KITO_STONE_F_PIECES, ", piece_count = ?", "piece_count", KITO_SQL_I64(in->piece_count));
    SET(KITO_STONE_F_SHAPE, ", shape = ?", "shape", KITO_SQL_TEXT_OR_NULL(in->shape));
    SET(KITO_STONE_F_COLOUR, ", colour = ?", "colour", KITO_SQL_TEXT_OR_NULL(in->colour));
    SET(KITO_STONE_F_ORIGIN, ", origin_country = ?, origin_region = ?, origin_site = ?", "origin",
        KITO_SQL_TEXT(in->origin_country), KITO_SQL_TEXT_OR_NULL(in->origin_region),
        KITO_SQL_TEXT_OR_NULL(in->origin_site));
    SET(KITO_STONE_F_NOTES, ", notes = ?", "notes", KITO_SQL_TEXT_OR_NULL(in->notes));
#undef SET
    strcat(sql, " WHERE id = ?");
    p[n++] = KITO_SQL_U64(stone_id);
    e = kito_sql_exec(db, sql, p, n, NULL);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:o}", "fields", fields);
        fields = NULL;
        e = kito_audit(db, actor_id, "stone.update", "stone", stone_id, detail, ip);
        json_decref(detail);
    }
    json_decref(fields);
    return finish(db, e);
}

/* ---- read ------------------------------------------------------------------------------------ */

/* The columns every stone view reads, in this order. */
#define STONE_COLUMNS                                                                              \
    "s.id, s.seller_id, s.listed_by, s.species, s.variety, s.weight_cct, s.piece_count, s.shape,"  \
    " s.colour, s.origin_country, s.origin_region, s.origin_site, s.notes, s.status,"              \
    " " KITO_SQL_DT_TO_MS("s.created_at") ", " KITO_SQL_DT_TO_MS(                                  \
        "s.updated_at") ","                                                                        \
                        " (SELECT c.id FROM certificates c WHERE c.stone_id = s.id ORDER BY "      \
                        "c.version DESC LIMIT 1),"                                                 \
                        " (SELECT ph.sha256 FROM photos ph WHERE ph.stone_id = s.id ORDER BY "     \
                        "ph.id LIMIT 1)"

/* Builds a view from a STONE_COLUMNS row; list views leave out notes and photos. */
static json_t *stone_from_row(const kito_sql_row *row, bool full)
{
    json_t *origin = json_pack("{s:o, s:o, s:o}", "country", text_or_null(row, 9), "region",
                               text_or_null(row, 10), "site", text_or_null(row, 11));
    json_t *v = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o}", "id",
                          kito_render_id(KITO_ID_STONE, kito_sql_u64(row, 0)), "seller_id",
                          kito_render_id(KITO_ID_ACCOUNT, kito_sql_u64(row, 1)), "listed_by",
                          kito_render_id(KITO_ID_ACCOUNT, kito_sql_u64(row, 2)), "species",
                          text_or_null(row, 3), "variety", text_or_null(row, 4), "weight_ct",
                          render_carats(kito_sql_i64(row, 5)), "weight_cct",
                          json_integer(kito_sql_i64(row, 5)), "piece_count",
                          (json_int_t)kito_sql_i64(row, 6), "shape", text_or_null(row, 7), "colour",
                          text_or_null(row, 8), "origin", origin, "status", text_or_null(row, 13));
    if (v == NULL)
        return NULL;
    json_object_set_new(v, "certificate_id",
                        kito_sql_is_null(row, 16)
                            ? json_null()
                            : kito_render_id(KITO_ID_CERTIFICATE, kito_sql_u64(row, 16)));
    if (full) {
        json_object_set_new(v, "notes", text_or_null(row, 12));
    } else {
        const char *cover = kito_sql_text(row, 17, NULL);
        json_object_set_new(v, "cover_photo", cover != NULL ? photo_url(cover) : json_null());
    }
    json_object_set_new(v, "created_at", kito_render_time(kito_sql_i64(row, 14)));
    json_object_set_new(v, "updated_at", kito_render_time(kito_sql_i64(row, 15)));
    return v;
}

static kito_err view_cb(void *ud, const kito_sql_row *row)
{
    json_t **out = ud;
    *out = stone_from_row(row, true);
    return *out != NULL ? KITO_OK : KITO_E_NOMEM;
}

static kito_err photo_cb(void *ud, const kito_sql_row *row)
{
    const char *sha = kito_sql_text(row, 0, NULL);
    json_t *ph = json_pack("{s:s, s:o, s:s, s:I}", "sha256", sha != NULL ? sha : "", "url",
                           photo_url(sha != NULL ? sha : ""), "mime",
                           kito_sql_text(row, 1, NULL) ? kito_sql_text(row, 1, NULL) : "", "bytes",
                           (json_int_t)kito_sql_i64(row, 2));
    return ph != NULL && json_array_append_new(ud, ph) == 0 ? KITO_OK : KITO_E_NOMEM;
}

kito_err kito_stone_view(kito_db_conn *db, uint64_t stone_id, json_t **out)
{
    *out = NULL;
    json_t *v = NULL;
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    kito_err e = kito_sql_query(db, "SELECT " STONE_COLUMNS " FROM stones s WHERE s.id = ?", p, 1,
                                view_cb, &v, NULL);
    if (e != KITO_OK) {
        json_decref(v);
        return e;
    }
    if (v == NULL)
        return KITO_E_NOT_FOUND;
    json_t *photos = json_array();
    e = kito_sql_query(db,
                       "SELECT sha256, mime, bytes FROM photos WHERE stone_id = ?"
                       " ORDER BY id LIMIT 20",
                       p, 1, photo_cb, photos, NULL);
    json_object_set_new(v, "photos", photos);
    if (e != KITO_OK) {
        json_decref(v);
        return e;
    }
    *out = v;
    return KITO_OK;
}

/* A stone as a list shows it. */
static json_t *stone_list_item(const kito_sql_row *row)
{
    return stone_from_row(row, false);
}

kito_err kito_stone_list(kito_db_conn *db, const kito_stone_filter *f, json_t **items, bool *more,
                         kito_cursor *next)
{
    char sql[2400];
    kito_sql_param p[10];
    size_t n = 0;
    int len = snprintf(sql, sizeof(sql), "SELECT " STONE_COLUMNS " FROM stones s WHERE 1 = 1");
#define WHERE(clause, param)                                                                       \
    do {                                                                                           \
        len += snprintf(sql + len, sizeof(sql) - (size_t)len, "%s", clause);                       \
        p[n++] = param;                                                                            \
    } while (0)
    if (f->species != NULL)
        WHERE(" AND s.species = ?", KITO_SQL_TEXT(f->species));
    if (f->country != NULL)
        WHERE(" AND s.origin_country = ?", KITO_SQL_TEXT(f->country));
    if (f->status != NULL)
        WHERE(" AND s.status = ?", KITO_SQL_TEXT(f->status));
    if (f->seller_id != 0)
        WHERE(" AND s.seller_id = ?", KITO_SQL_U64(f->seller_id));
    /* consent (DESIGN.md): driven from the organiser's live offers, a short list, rather than
     * from every stone */
    if (f->offered_to != 0)
        WHERE(" AND s.id IN (SELECT o.stone_id FROM stone_offers o LEFT JOIN sales sa"
              " ON sa.id = o.sale_id WHERE o.organizer_id = ? AND o.withdrawn_at IS NULL"
              " AND (o.sale_id IS NULL OR sa.status = 'draft'))"
              " AND EXISTS (SELECT 1 FROM certificates c WHERE c.stone_id = s.id)"
              " AND s.status NOT IN ('sold', 'withdrawn')"
              " AND NOT EXISTS (SELECT 1 FROM lots l WHERE l.live_stone_id = s.id)",
              KITO_SQL_U64(f->offered_to));
    if (f->min_weight_cct != 0)
        WHERE(" AND s.weight_cct >= ?", KITO_SQL_I64(f->min_weight_cct));
    if (f->max_weight_cct != 0)
        WHERE(" AND s.weight_cct <= ?", KITO_SQL_I64(f->max_weight_cct));
    if (f->after_given)
        WHERE(" AND s.id < ?", KITO_SQL_U64(f->after.id));
#undef WHERE
    snprintf(sql + len, sizeof(sql) - (size_t)len, " ORDER BY s.id DESC LIMIT %u",
             (unsigned)f->limit + 1);
    uint64_t last_id;
    kito_err e = kito_sql_page(db, sql, p, n, f->limit, stone_list_item, items, more, &last_id);
    if (e == KITO_OK)
        *next = (kito_cursor){.sort_key = (int64_t)last_id, .id = last_id};
    return e;
}

kito_err kito_stone_exists(kito_db_conn *db, uint64_t stone_id, bool *exists)
{
    *exists = false;
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    return kito_sql_query(db, "SELECT id FROM stones WHERE id = ?", p, 1, flag_row, exists, NULL);
}

/* ---- photos ---------------------------------------------------------------------------------- */

typedef struct photo_count {
    uint64_t count;
    uint64_t same;
} photo_count;

static kito_err photo_count_cb(void *ud, const kito_sql_row *row)
{
    photo_count *c = ud;
    c->count = kito_sql_u64(row, 0);
    c->same = kito_sql_u64(row, 1);
    return KITO_OK;
}

kito_err kito_stone_photo_add(kito_db_conn *db, uint64_t stone_id, uint64_t actor_id,
                              unsigned actor_role, const char *photo_dir, const void *bytes,
                              size_t len, const char *mime, const char *ip,
                              char sha[KITO_SHA256_HEX_SIZE], bool *created)
{
    *created = false;
    kito_err e = kito_crypto_sha256_hex(bytes, len, sha);
    if (e != KITO_OK)
        return e;
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    stone_state st;
    if ((e = lock_stone(db, stone_id, &st)) != KITO_OK)
        return finish(db, e);
    if (!st.found)
        return finish(db, KITO_E_NOT_FOUND);
    if (!may_change(&st, actor_id, actor_role))
        return finish(db, KITO_E_FORBIDDEN);
    photo_count c = {0};
    kito_sql_param cp[] = {KITO_SQL_TEXT(sha), KITO_SQL_U64(stone_id)};
    e = kito_sql_query(db,
                       "SELECT COUNT(*), COALESCE(SUM(sha256 = ?), 0) FROM photos"
                       " WHERE stone_id = ?",
                       cp, 2, photo_count_cb, &c, NULL);
    if (e != KITO_OK)
        return finish(db, e);
    if (c.same > 0)
        return finish(db, KITO_OK); /* already attached: nothing to write */
    if (c.count >= KITO_STONE_PHOTOS_MAX)
        return finish(db, KITO_E_CONFLICT);
    char stored[KITO_SHA256_HEX_SIZE];
    if ((e = kito_photo_store(photo_dir, bytes, len, stored)) != KITO_OK)
        return finish(db, e);
    kito_sql_param ip_[] = {KITO_SQL_U64(stone_id), KITO_SQL_TEXT(sha), KITO_SQL_TEXT(mime),
                            KITO_SQL_U64(len), KITO_SQL_U64(actor_id)};
    kito_sql_result res = {0};
    e = kito_sql_exec(db,
                      "INSERT INTO photos (stone_id, sha256, mime, bytes, uploaded_by)"
                      " VALUES (?, ?, ?, ?, ?)",
                      ip_, 5, &res);
    if (e == KITO_OK) {
        json_t *detail =
            json_pack("{s:s, s:s, s:I}", "sha256", sha, "mime", mime, "bytes", (json_int_t)len);
        e = kito_audit(db, actor_id, "stone.photo_add", "stone", stone_id, detail, ip);
        json_decref(detail);
    }
    e = finish(db, e);
    *created = e == KITO_OK;
    return e;
}

typedef struct photo_found {
    bool found;
    char mime[16];
    uint64_t bytes;
} photo_found;

static kito_err photo_find_cb(void *ud, const kito_sql_row *row)
{
    photo_found *f = ud;
    f->found = true;
    kito_sql_copy(row, 0, f->mime, sizeof(f->mime));
    f->bytes = kito_sql_u64(row, 1);
    return KITO_OK;
}

kito_err kito_stone_photo_find(kito_db_conn *db, const char *sha, char mime[16], uint64_t *bytes)
{
    photo_found f = {0};
    kito_sql_param p[] = {KITO_SQL_TEXT(sha)};
    kito_err e = kito_sql_query(db, "SELECT mime, bytes FROM photos WHERE sha256 = ? LIMIT 1", p, 1,
                                photo_find_cb, &f, NULL);
    if (e != KITO_OK)
        return e;
    if (!f.found)
        return KITO_E_NOT_FOUND;
    memcpy(mime, f.mime, sizeof(f.mime));
    *bytes = f.bytes;
    return KITO_OK;
}
