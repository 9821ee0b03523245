/*
 * Valuation certificates (api/store/repo_certificates.h).
 */
#include "api/store/repo_certificates.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/store/audit.h"
#include "api/common/canonical_json.h"
#include "api/adapters/photos.h"
#include "api/common/render.h"
#include "api/store/repo_provenance.h"
#include "api/store/repo_sms.h"
#include "api/store/sql.h"

const char *const kito_certificate_transparencies[] = {
    "transparent", "semitransparent", "translucent", "semitranslucent", "opaque", NULL};

/* ---- decoding -------------------------------------------------------------------------------- */

static const kito_field measure_fields[] = {
    {.name = "length", .type = KITO_FT_DECIMAL, .required = true},
    {.name = "width", .type = KITO_FT_DECIMAL, .required = true},
    {.name = "depth", .type = KITO_FT_DECIMAL, .required = true},
};
static const kito_shape measure_shape = {measure_fields, 3};

static const kito_field origin_fields[] = {
    {.name = "country", .type = KITO_FT_STRING, .required = true, .min = 2, .max = 2},
    {.name = "region", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 80},
    {.name = "site", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 120},
};
static const kito_shape origin_shape = {origin_fields, 3};

static const kito_field value_fields[] = {
    {.name = "low", .type = KITO_FT_INTEGER, .required = true},
    {.name = "high", .type = KITO_FT_INTEGER, .required = true},
    {.name = "currency", .type = KITO_FT_STRING, .required = true, .min = 3, .max = 3},
};
static const kito_shape value_shape = {value_fields, 3};

static const kito_field request_fields[] = {
    {.name = "weight_ct", .type = KITO_FT_DECIMAL, .required = true},
    {.name = "piece_count", .type = KITO_FT_INTEGER, .nullable = true},
    {.name = "shape", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 40},
    {.name = "cutting_style", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 60},
    {.name = "measurements_mm", .type = KITO_FT_OBJECT, .nullable = true, .shape = &measure_shape},
    {.name = "color", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 80},
    {.name = "transparency", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 20},
    {.name = "phenomenon", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 80},
    {.name = "treatment", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 200},
    {.name = "species", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 24},
    {.name = "variety", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 40},
    {.name = "geographic_origin", .type = KITO_FT_OBJECT, .required = true, .shape = &origin_shape},
    {.name = "photos",
     .type = KITO_FT_ARRAY,
     .nullable = true,
     .max = KITO_STONE_PHOTOS_MAX,
     .item = KITO_FT_STRING},
    {.name = "estimated_value", .type = KITO_FT_OBJECT, .required = true, .shape = &value_shape},
    {.name = "report_comments",
     .type = KITO_FT_TEXT,
     .nullable = true,
     .min = 1,
     .max = KITO_CERTIFICATE_COMMENTS_MAX},
    {.name = "supersedes", .type = KITO_FT_STRING, .nullable = true, .min = 1, .max = 40},
};
static const kito_shape request_shape = {request_fields,
                                         sizeof(request_fields) / sizeof(request_fields[0])};

/* A length in millimetres with at most 2 decimals (the carat parser's grammar) into
 * micrometres. */
static kito_err millimetres(const char *field, const json_t *v, int64_t *um, kito_verr *ve)
{
    int64_t hundredths;
    kito_verr ignored;
    if (kito_validate_carats(field, v, &hundredths, &ignored) != KITO_OK ||
        hundredths * 10 > KITO_CERTIFICATE_MM_MAX_UM)
        return kito_verr_set(ve, field,
                             "must be a length in millimetres above 0 and at most 1000, with at "
                             "most 2 decimals, like 8.12");
    *um = hundredths * 10;
    return KITO_OK;
}

static const char *member_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

kito_err kito_certificate_request_decode(const json_t *body, kito_certificate_request *req,
                                         kito_verr *ve)
{
    *req = (kito_certificate_request){.piece_count = 1};
    kito_err e = kito_validate_object(body, &request_shape, ve);
    if (e != KITO_OK)
        return e;
    const json_t *v;
    if ((e = kito_validate_carats("weight_ct", json_object_get(body, "weight_ct"), &req->weight_cct,
                                  ve)) != KITO_OK)
        return e;
    if ((v = json_object_get(body, "piece_count")) != NULL && !json_is_null(v) &&
        (e = kito_validate_int("piece_count", v, 1, 100000, &req->piece_count, ve)) != KITO_OK)
        return e;
    req->shape = member_str(body, "shape");
    req->cutting_style = member_str(body, "cutting_style");
    if ((v = json_object_get(body, "measurements_mm")) != NULL && !json_is_null(v)) {
        req->has_measurements = true;
        if ((e = millimetres("measurements_mm.length", json_object_get(v, "length"),
                             &req->length_um, ve)) != KITO_OK ||
            (e = millimetres("measurements_mm.width", json_object_get(v, "width"), &req->width_um,
                             ve)) != KITO_OK ||
            (e = millimetres("measurements_mm.depth", json_object_get(v, "depth"), &req->depth_um,
                             ve)) != KITO_OK)
            return e;
    }
    req->color = member_str(body, "color");
    req->transparency = member_str(body, "transparency");
    if (req->transparency != NULL &&
        (e = kito_validate_enum("transparency", req->transparency, kito_certificate_transparencies,
                                NULL, ve)) != KITO_OK)
        return e;
    req->phenomenon = member_str(body, "phenomenon");
    req->treatment = member_str(body, "treatment");
    req->species = member_str(body, "species");
    if ((e = kito_validate_enum("species", req->species, kito_stone_species, NULL, ve)) != KITO_OK)
        return e;
    req->variety = member_str(body, "variety");
    v = json_object_get(body, "geographic_origin");
    req->origin_country = member_str(v, "country");
    req->origin_region = member_str(v, "region");
    req->origin_site = member_str(v, "site");
    if ((e = kito_validate_origin_country("geographic_origin.country", req->origin_country, ve)) !=
        KITO_OK)
        return e;
    const json_t *photos = json_object_get(body, "photos");
    for (size_t i = 0; json_is_array(photos) && i < json_array_size(photos); i++) {
        char field[32];
        snprintf(field, sizeof(field), "photos[%zu]", i);
        const json_t *p = json_array_get(photos, i);
        const char *sha = json_string_value(p);
        if (!kito_photo_sha_valid(sha, json_string_length(p)))
            return kito_verr_set(ve, field, "must be a photo's SHA-256 (64 lowercase hex digits)");
        for (size_t k = 0; k < i; k++)
            if (strcmp(req->photos[k], sha) == 0)
                return kito_verr_set(ve, field, "is listed twice");
        req->photos[req->photo_count++] = sha;
    }
    v = json_object_get(body, "estimated_value");
    if ((e = kito_validate_amount("estimated_value.low", json_object_get(v, "low"), &req->value_low,
                                  ve)) != KITO_OK ||
        (e = kito_validate_amount("estimated_value.high", json_object_get(v, "high"),
                                  &req->value_high, ve)) != KITO_OK)
        return e;
    if (req->value_high < req->value_low)
        return kito_verr_set(ve, "estimated_value.high", "must not be below estimated_value.low");
    req->currency = member_str(v, "currency");
    if ((e = kito_validate_currency("estimated_value.currency", req->currency, ve)) != KITO_OK)
        return e;
    req->report_comments = member_str(body, "report_comments");
    const char *sup = member_str(body, "supersedes");
    if (sup != NULL && (e = kito_validate_id("supersedes", KITO_ID_CERTIFICATE, sup,
                                             &req->supersedes_id, ve)) != KITO_OK)
        return e;
    return KITO_OK;
}

/* ---- the document ---------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

kito_err kito_certificate_document(const kito_certificate_request *req,
                                   const kito_certificate_meta *meta, json_t **out)
{
    *out = NULL;
    char issued[KITO_TIME_SIZE];
    if (meta->certificate_id == 0 || meta->stone_id == 0 || meta->valuer_id == 0 ||
        meta->version == 0 || meta->key_id == NULL || meta->valuer_name == NULL ||
        kito_time_format(meta->issued_at_ms, issued) != KITO_OK)
        return KITO_E_VALIDATION;
    json_t *photos = json_array();
    for (size_t i = 0; photos != NULL && i < req->photo_count; i++)
        json_array_append_new(photos, json_string(req->photos[i]));
    json_t *measures =
        req->has_measurements
            ? json_pack("{s:I, s:I, s:I}", "length", (json_int_t)req->length_um, "width",
                        (json_int_t)req->width_um, "depth", (json_int_t)req->depth_um)
            : json_null();
    json_t *doc = json_pack(
        "{s:s, s:o, s:I, s:o, s:o, s:s, s:s, s:{s:o, s:s}}", "format", KITO_CERTIFICATE_FORMAT,
        "id", kito_render_id(KITO_ID_CERTIFICATE, meta->certificate_id), "version",
        (json_int_t)meta->version, "supersedes",
        meta->supersedes_id != 0 ? kito_render_id(KITO_ID_CERTIFICATE, meta->supersedes_id)
                                 : json_null(),
        "stone_id", kito_render_id(KITO_ID_STONE, meta->stone_id), "issued_at", issued, "key_id",
        meta->key_id, "valuer", "id", kito_render_id(KITO_ID_ACCOUNT, meta->valuer_id), "name",
        meta->valuer_name);
    json_t *body = json_pack(
        "{s:s, s:o, s:I, s:I, s:s, s:o, s:o, s:s, s:o, s:o, s:o,"
        " s:{s:s, s:o, s:o}, s:o, s:{s:I, s:I, s:s}, s:o}",
        "species", req->species, "variety", str_or_null(req->variety), "weight_cct",
        (json_int_t)req->weight_cct, "piece_count", (json_int_t)req->piece_count, "shape",
        req->shape, "cutting_style", str_or_null(req->cutting_style), "measurements_um", measures,
        "color", req->color, "transparency", str_or_null(req->transparency), "phenomenon",
        str_or_null(req->phenomenon), "treatment", str_or_null(req->treatment), "geographic_origin",
        "country", req->origin_country, "region", str_or_null(req->origin_region), "site",
        str_or_null(req->origin_site), "photos", photos, "estimated_value", "low",
        (json_int_t)req->value_low, "high", (json_int_t)req->value_high, "currency", req->currency,
        "report_comments", str_or_null(req->report_comments));
    if (doc == NULL || body == NULL || json_object_update(doc, body) != 0) {
        json_decref(doc);
        json_decref(body);
        return KITO_E_NOMEM;
    }
    json_decref(body);
    *out = doc;
    return KITO_OK;
}

/* ---- issue ----------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static kito_err finish(kito_db_conn *db, kito_err e)
{
    return kito_sql_end(db, e);
}

typedef struct stone_lock {
    bool found;
    char status[16];
    bool in_live_lot;
} stone_lock;

static kito_err stone_lock_cb(void *ud, const kito_sql_row *row)
{
    stone_lock *s = ud;
    s->found = true;
    kito_sql_copy(row, 0, s->status, sizeof(s->status));
    s->in_live_lot = kito_sql_u64(row, 1) != 0;
    return KITO_OK;
}

typedef struct cert_ref {
    bool found;
    uint64_t id;
    uint64_t stone_id;
    uint32_t version;
} cert_ref;

static kito_err cert_ref_cb(void *ud, const kito_sql_row *row)
{
    cert_ref *c = ud;
    c->found = true;
    c->id = kito_sql_u64(row, 0);
    c->stone_id = kito_sql_u64(row, 1);
    c->version = (uint32_t)kito_sql_u64(row, 2);
    return KITO_OK;
}

static kito_err text_cb(void *ud, const kito_sql_row *row)
{
    kito_sql_copy(row, 0, ud, 128);
    return KITO_OK;
}

static kito_err u64_cb(void *ud, const kito_sql_row *row)
{
    *(uint64_t *)ud = kito_sql_u64(row, 0);
    return KITO_OK;
}

kito_err kito_signing_key_register(kito_db_conn *db, const kito_signer *signer)
{
    char pub[KITO_ED25519_PUB_B64_SIZE];
    kito_crypto_signer_public_b64(signer, pub);
    kito_sql_param p[] = {KITO_SQL_TEXT(kito_crypto_signer_key_id(signer)), KITO_SQL_TEXT(pub)};
    return kito_sql_exec(
        db, "INSERT IGNORE INTO signing_keys (key_id, public_key_b64) VALUES (?, ?)", p, 2, NULL);
}

/* Checks the chain rules; *version and the supersedes id to write come out. */
static kito_err check_chain(kito_db_conn *db, uint64_t stone_id, uint64_t supersedes_id,
                            uint32_t *version, kito_verr *ve)
{
    cert_ref cur = {0};
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    kito_err e = kito_sql_query(db,
                                "SELECT id, stone_id, version FROM certificates WHERE stone_id = ?"
                                " ORDER BY version DESC LIMIT 1 FOR UPDATE",
                                p, 1, cert_ref_cb, &cur, NULL);
    if (e != KITO_OK)
        return e;
    if (supersedes_id == 0) {
        if (cur.found) {
            char id[KITO_ID_SIZE];
            kito_id_format(KITO_ID_CERTIFICATE, cur.id, id, sizeof(id));
            kito_verr_set(ve, "supersedes",
                          "the stone already has certificate %s; a correction names it in "
                          "supersedes",
                          id);
            return KITO_E_CONFLICT;
        }
        *version = 1;
        return KITO_OK;
    }
    if (cur.found && cur.id == supersedes_id) {
        *version = cur.version + 1;
        return KITO_OK;
    }
    cert_ref old = {0};
    kito_sql_param q[] = {KITO_SQL_U64(supersedes_id)};
    e = kito_sql_query(db, "SELECT id, stone_id, version FROM certificates WHERE id = ?", q, 1,
                       cert_ref_cb, &old, NULL);
    if (e != KITO_OK)
        return e;
    if (old.found && old.stone_id == stone_id) {
        kito_verr_set(ve, "supersedes",
                      "that certificate is already superseded; supersede the current one");
        return KITO_E_CONFLICT;
    }
    return kito_verr_set(ve, "supersedes", "must be a certificate of this stone");
}

/* Every photo named must be attached to the stone. */
static kito_err check_photos(kito_db_conn *db, uint64_t stone_id,
                             const kito_certificate_request *req, kito_verr *ve)
{
    for (size_t i = 0; i < req->photo_count; i++) {
        uint64_t n = 0;
        kito_sql_param p[] = {KITO_SQL_U64(stone_id), KITO_SQL_TEXT(req->photos[i])};
        kito_err e =
            kito_sql_query(db, "SELECT COUNT(*) FROM photos WHERE stone_id = ? AND sha256 = ?", p,
                           2, u64_cb, &n, NULL);
        if (e != KITO_OK)
            return e;
        if (n == 0) {
            char field[32];
            snprintf(field, sizeof(field), "photos[%zu]", i);
            return kito_verr_set(ve, field, "is not a photo of this stone; upload it first");
        }
    }
    return KITO_OK;
}

/* Signs the document of row id and stores it in the row. */
static kito_err sign_and_store(kito_db_conn *db, const kito_signer *signer, const json_t *doc,
                               uint64_t id, char canonical_sha[KITO_SHA256_HEX_SIZE])
{
    char *canonical = NULL;
    size_t len = 0;
    kito_err e = kito_canonical_json(doc, &canonical, &len);
    if (e != KITO_OK)
        return e;
    char sig[KITO_ED25519_SIG_B64_SIZE];
    if ((e = kito_crypto_sign(signer, canonical, len, sig)) == KITO_OK &&
        (e = kito_crypto_sha256_hex(canonical, len, canonical_sha)) == KITO_OK) {
        kito_sql_param p[] = {KITO_SQL_TEXTN(canonical, len), KITO_SQL_TEXT(sig), KITO_SQL_U64(id)};
        e = kito_sql_exec(db,
                          "UPDATE certificates SET canonical_json = ?, signature = ? WHERE id = ?",
                          p, 3, NULL);
    }
    free(canonical);
    return e;
}

/* The stone's description becomes the current certificate's. */
static kito_err sync_stone(kito_db_conn *db, uint64_t stone_id, const kito_certificate_request *r)
{
    kito_sql_param p[] = {
        KITO_SQL_TEXT(r->species),
        KITO_SQL_TEXT_OR_NULL(r->variety),
        KITO_SQL_I64(r->weight_cct),
        KITO_SQL_I64(r->piece_count),
        KITO_SQL_TEXT(r->shape),
        KITO_SQL_TEXT(r->color),
        KITO_SQL_TEXT(r->origin_country),
        KITO_SQL_TEXT_OR_NULL(r->origin_region),
        KITO_SQL_TEXT_OR_NULL(r->origin_site),
        KITO_SQL_U64(stone_id),
    };
    return kito_sql_exec(db,
                         "UPDATE stones SET species = ?, variety = ?, weight_cct = ?,"
                         " piece_count = ?, shape = ?, colour = ?, origin_country = ?,"
                         " origin_region = ?, origin_site = ?,"
                         " status = IF(status = 'draft', 'certified', status),"
                         " updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                         p, sizeof(p) / sizeof(p[0]), NULL);
}

/* The miner's SMS that her stone is certified, with the estimate (issue 18), in the issue's
 * transaction: one per certificate, a correction included (its estimate may differ). */
static kito_err certified_sms(kito_db_conn *db, uint64_t stone_id, uint64_t certificate_id,
                              const kito_certificate_request *req)
{
    uint64_t seller = 0;
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    kito_err e = kito_sql_query(db, "SELECT seller_id FROM stones WHERE id = ?", p, 1, u64_cb,
                                &seller, NULL);
    if (e != KITO_OK || seller == 0)
        return e;
    char ref[KITO_ID_SIZE], low[KITO_SMS_MONEY_SIZE], high[KITO_SMS_MONEY_SIZE], key[48];
    kito_id_format(KITO_ID_STONE, stone_id, ref, sizeof(ref));
    kito_sms_money(req->value_low, low);
    kito_sms_money(req->value_high, high);
    snprintf(key, sizeof(key), "certified:%" PRIu64, certificate_id);
    const char *v[] = {ref, low, high, req->currency};
    return kito_sms_enqueue(db, seller, KITO_SMS_CERTIFIED, key, v);
}

/* A placeholder the row holds for the moment between its insert (which gives the id the
 * document names) and the update with the real signature, inside one transaction. */
#define PLACEHOLDER_SIG                                                                            \
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

kito_err kito_certificate_issue(kito_db_conn *db, const kito_signer *signer, uint64_t stone_id,
                                const kito_certificate_request *req, uint64_t valuer_id,
                                const char *ip, uint64_t *certificate_id, kito_verr *ve)
{
    *certificate_id = 0;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    stone_lock st = {0};
    kito_sql_param sp[] = {KITO_SQL_U64(stone_id)};
    e = kito_sql_query(db,
                       "SELECT s.status, EXISTS (SELECT 1 FROM lots l WHERE l.live_stone_id = s.id)"
                       " FROM stones s WHERE s.id = ? FOR UPDATE",
                       sp, 1, stone_lock_cb, &st, NULL);
    if (e != KITO_OK)
        return finish(db, e);
    if (!st.found)
        return finish(db, KITO_E_NOT_FOUND);
    if (st.in_live_lot || strcmp(st.status, "sold") == 0) {
        kito_verr_set(ve, "stone", "the stone is in a lot or sold; withdraw the lot first");
        return finish(db, KITO_E_CONFLICT);
    }
    uint32_t version = 0;
    if ((e = check_chain(db, stone_id, req->supersedes_id, &version, ve)) != KITO_OK)
        return finish(db, e);
    if ((e = check_photos(db, stone_id, req, ve)) != KITO_OK)
        return finish(db, e);
    char name[128] = "";
    kito_sql_param vp[] = {KITO_SQL_U64(valuer_id)};
    if ((e = kito_sql_query(db, "SELECT name FROM accounts WHERE id = ?", vp, 1, text_cb, name,
                            NULL)) != KITO_OK)
        return finish(db, e);
    if ((e = kito_signing_key_register(db, signer)) != KITO_OK)
        return finish(db, e);

    const char *key_id = kito_crypto_signer_key_id(signer);
    int64_t issued_ms = now_ms();
    kito_sql_param ip_[] = {
        KITO_SQL_U64(stone_id),
        KITO_SQL_U64(version),
        req->supersedes_id != 0 ? KITO_SQL_U64(req->supersedes_id) : KITO_SQL_NULL,
        KITO_SQL_TEXT(PLACEHOLDER_SIG),
        KITO_SQL_TEXT(key_id),
        KITO_SQL_U64(valuer_id),
        KITO_SQL_I64(issued_ms),
    };
    kito_sql_result res = {0};
    e = kito_sql_exec(db,
                      "INSERT INTO certificates (stone_id, version, supersedes_id, canonical_json,"
                      " signature, key_id, valuer_id, issued_at) VALUES (?, ?, ?, '{}', ?, ?, ?,"
                      " " KITO_SQL_MS_TO_DT("?") ")",
                      ip_, KITO_N(ip_), &res);
    if (e != KITO_OK)
        return finish(db, e);
    uint64_t id = res.insert_id;
    kito_certificate_meta meta = {.certificate_id = id,
                                  .version = version,
                                  .supersedes_id = req->supersedes_id,
                                  .stone_id = stone_id,
                                  .valuer_id = valuer_id,
                                  .valuer_name = name,
                                  .issued_at_ms = issued_ms,
                                  .key_id = key_id};
    json_t *doc = NULL;
    char canonical_sha[KITO_SHA256_HEX_SIZE];
    if ((e = kito_certificate_document(req, &meta, &doc)) == KITO_OK)
        e = sign_and_store(db, signer, doc, id, canonical_sha);
    json_decref(doc);
    if (e == KITO_OK)
        e = sync_stone(db, stone_id, req);
    if (e == KITO_OK) {
        json_t *payload = json_pack(
            "{s:o, s:I, s:o, s:s, s:s}", "certificate_id", kito_render_id(KITO_ID_CERTIFICATE, id),
            "version", (json_int_t)version, "supersedes",
            req->supersedes_id != 0 ? kito_render_id(KITO_ID_CERTIFICATE, req->supersedes_id)
                                    : json_null(),
            "canonical_sha256", canonical_sha, "key_id", key_id);
        e = payload != NULL ? kito_provenance_append(db, stone_id, "valued", payload, valuer_id)
                            : KITO_E_NOMEM;
        if (e == KITO_OK)
            e = kito_audit(db, valuer_id,
                           req->supersedes_id != 0 ? "certificate.correct" : "certificate.issue",
                           "certificate", id, payload, ip);
        json_decref(payload);
    }
    if (e == KITO_OK)
        e = certified_sms(db, stone_id, id, req);
    e = finish(db, e);
    if (e == KITO_OK)
        *certificate_id = id;
    return e;
}

/* ---- read and verify ------------------------------------------------------------------------- */

typedef struct cert_row {
    bool found;
    uint64_t id, stone_id, supersedes_id, superseded_by;
    uint32_t version;
    char *canonical; /* malloc'd */
    size_t canonical_len;
    char signature[KITO_ED25519_SIG_B64_SIZE];
    char key_id[KITO_KEY_ID_SIZE];
} cert_row;

static kito_err cert_row_cb(void *ud, const kito_sql_row *row)
{
    cert_row *c = ud;
    size_t len = 0;
    const char *text = kito_sql_text(row, 4, &len);
    c->canonical = malloc(len + 1);
    if (c->canonical == NULL)
        return KITO_E_NOMEM;
    memcpy(c->canonical, text != NULL ? text : "", len);
    c->canonical[len] = '\0';
    c->canonical_len = len;
    c->found = true;
    c->id = kito_sql_u64(row, 0);
    c->stone_id = kito_sql_u64(row, 1);
    c->version = (uint32_t)kito_sql_u64(row, 2);
    c->supersedes_id = kito_sql_u64(row, 3);
    kito_sql_copy(row, 5, c->signature, sizeof(c->signature));
    kito_sql_copy(row, 6, c->key_id, sizeof(c->key_id));
    c->superseded_by = kito_sql_u64(row, 7);
    return KITO_OK;
}

static kito_err read_row(kito_db_conn *db, uint64_t id, cert_row *c)
{
    *c = (cert_row){0};
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    kito_err e = kito_sql_query(
        db,
        "SELECT c.id, c.stone_id, c.version, c.supersedes_id, c.canonical_json, c.signature,"
        " c.key_id, (SELECT n.id FROM certificates n WHERE n.supersedes_id = c.id)"
        " FROM certificates c WHERE c.id = ?",
        p, 1, cert_row_cb, c, NULL);
    if (e == KITO_OK && !c->found)
        e = KITO_E_NOT_FOUND;
    if (e != KITO_OK) {
        free(c->canonical);
        c->canonical = NULL;
    }
    return e;
}

static json_t *id_or_null(const char *prefix, uint64_t key)
{
    return key != 0 ? kito_render_id(prefix, key) : json_null();
}

kito_err kito_certificate_read(kito_db_conn *db, uint64_t certificate_id, json_t **out)
{
    *out = NULL;
    cert_row c;
    kito_err e = read_row(db, certificate_id, &c);
    if (e != KITO_OK)
        return e;
    json_t *doc = json_loadb(c.canonical, c.canonical_len, JSON_REJECT_DUPLICATES, NULL);
    *out = json_pack("{s:o, s:o, s:I, s:o, s:s%, s:s, s:s, s:s, s:o}", "id",
                     kito_render_id(KITO_ID_CERTIFICATE, c.id), "stone_id",
                     kito_render_id(KITO_ID_STONE, c.stone_id), "version", (json_int_t)c.version,
                     "certificate", doc != NULL ? doc : json_null(), "canonical", c.canonical,
                     c.canonical_len, "signature", c.signature, "key_id", c.key_id, "algorithm",
                     "Ed25519", "superseded_by", id_or_null(KITO_ID_CERTIFICATE, c.superseded_by));
    free(c.canonical);
    return *out != NULL ? KITO_OK : KITO_E_NOMEM;
}

/* True when the signed document names this row: id, stone and version. */
static bool names_row(const cert_row *c)
{
    json_t *doc = json_loadb(c->canonical, c->canonical_len, JSON_REJECT_DUPLICATES, NULL);
    char id[KITO_ID_SIZE], stone[KITO_ID_SIZE];
    kito_id_format(KITO_ID_CERTIFICATE, c->id, id, sizeof(id));
    kito_id_format(KITO_ID_STONE, c->stone_id, stone, sizeof(stone));
    const char *doc_id = json_string_value(json_object_get(doc, "id"));
    const char *doc_stone = json_string_value(json_object_get(doc, "stone_id"));
    const json_t *ver = json_object_get(doc, "version");
    bool ok = doc_id != NULL && strcmp(doc_id, id) == 0 && doc_stone != NULL &&
              strcmp(doc_stone, stone) == 0 && json_is_integer(ver) &&
              json_integer_value(ver) == (json_int_t)c->version;
    json_decref(doc);
    return ok;
}

kito_err kito_certificate_verify(kito_db_conn *db, const kito_signer *signer,
                                 uint64_t certificate_id, json_t **out)
{
    *out = NULL;
    cert_row c;
    kito_err e = read_row(db, certificate_id, &c);
    if (e != KITO_OK)
        return e;
    /* The running key is the trust anchor for its own certificates: a row in signing_keys could
     * be edited as easily as the certificate. Retired keys come from the table. */
    char pub[128] = "";
    if (strcmp(c.key_id, kito_crypto_signer_key_id(signer)) == 0) {
        kito_crypto_signer_public_b64(signer, pub);
    } else {
        kito_sql_param p[] = {KITO_SQL_TEXT(c.key_id)};
        e = kito_sql_query(db, "SELECT public_key_b64 FROM signing_keys WHERE key_id = ?", p, 1,
                           text_cb, pub, NULL);
    }
    bool valid = false;
    if (e == KITO_OK && pub[0] != '\0' &&
        kito_crypto_verify_b64(pub, c.canonical, c.canonical_len, c.signature, &valid) != KITO_OK)
        valid = false;
    kito_provenance_check chain = {0};
    if (e == KITO_OK)
        e = kito_provenance_verify(db, c.stone_id, &chain);
    if (e == KITO_OK) {
        bool genuine = valid && names_row(&c);
        *out = json_pack("{s:o, s:o, s:b, s:b, s:o, s:b, s:s}", "certificate_id",
                         kito_render_id(KITO_ID_CERTIFICATE, c.id), "stone_id",
                         kito_render_id(KITO_ID_STONE, c.stone_id), "genuine", genuine, "current",
                         c.superseded_by == 0, "superseded_by",
                         id_or_null(KITO_ID_CERTIFICATE, c.superseded_by),
                         "stone_provenance_intact", chain.intact, "key_id", c.key_id);
        if (*out == NULL)
            e = KITO_E_NOMEM;
    }
    free(c.canonical);
    return e;
}

/* ---- keys ------------------------------------------------------------------------------------ */

static kito_err key_cb(void *ud, const kito_sql_row *row)
{
    const char *id = kito_sql_text(row, 0, NULL);
    const char *pub = kito_sql_text(row, 1, NULL);
    if (id != NULL && pub != NULL)
        json_object_set_new(ud, id, json_string(pub));
    return KITO_OK;
}

kito_err kito_signing_keys_list(kito_db_conn *db, const kito_signer *signer, json_t **out)
{
    json_t *keys = json_object();
    if (keys == NULL)
        return KITO_E_NOMEM;
    kito_err e = kito_sql_query(db,
                                "SELECT key_id, public_key_b64 FROM signing_keys ORDER BY key_id"
                                " LIMIT 100",
                                NULL, 0, key_cb, keys, NULL);
    if (e != KITO_OK) {
        json_decref(keys);
        return e;
    }
    char pub[KITO_ED25519_PUB_B64_SIZE];
    kito_crypto_signer_public_b64(signer, pub);
    json_object_set_new(keys, kito_crypto_signer_key_id(signer), json_string(pub));
    *out = keys;
    return KITO_OK;
}
