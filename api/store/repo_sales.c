/*
 * Sales and buyer approvals: the sale decoder and the repository (api/store/repo_sales.h).
 */
#include "api/store/repo_sales.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/audit.h"
#include "api/common/roles.h"
#include "api/common/render.h"
#include "api/store/sql.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the decoder (pure) ---------------------------------------------------------------------- */

static const kito_field rung_fields[] = {
    {"from_minor", KITO_FT_INTEGER, .required = true},
    {"step_minor", KITO_FT_INTEGER, .required = true},
};
static const kito_shape rung_shape = {rung_fields, COUNT(rung_fields)};

/* The members of a sale body; REQ is whether the always-required ones are required (POST) or
 * not (PATCH). */
// clang-format off
#define SALE_FIELDS(REQ)                                                                           \
    {"title", KITO_FT_STRING, .required = (REQ), .min = 1, .max = KITO_SALE_TITLE_MAX},            \
    {"description", KITO_FT_TEXT, .nullable = true, .max = KITO_SALE_DESCRIPTION_MAX},             \
    {"venue", KITO_FT_STRING, .nullable = true, .min = 1, .max = KITO_SALE_VENUE_MAX},             \
    {"online", KITO_FT_BOOL},                                                                      \
    {"format", KITO_FT_STRING, .required = (REQ), .max = 8},                                       \
    {"currency", KITO_FT_STRING, .max = 3},                                                        \
    {"starts_at", KITO_FT_STRING, .required = (REQ), .max = 40},                                   \
    {"ends_at", KITO_FT_STRING, .nullable = true, .max = 40},                                      \
    {"time_zone", KITO_FT_STRING, .max = KITO_TIME_ZONE_MAX},                                      \
    {"soft_close_s", KITO_FT_INTEGER},                                                             \
    {"stagger_s", KITO_FT_INTEGER},                                                                \
    {"buyer_premium_bps", KITO_FT_INTEGER},                                                        \
    {"commission_bps", KITO_FT_INTEGER},                                                           \
    {"tender_pricing", KITO_FT_STRING, .nullable = true, .max = 8},                                \
    {"ladder", KITO_FT_ARRAY, .nullable = true, .min = 1, .max = KITO_LADDER_MAX_RUNGS,            \
     .item = KITO_FT_OBJECT, .shape = &rung_shape}
// clang-format on

static const kito_field sale_fields[] = {SALE_FIELDS(true)};
static const kito_shape sale_shape = {sale_fields, COUNT(sale_fields)};
static const kito_field patch_fields[] = {SALE_FIELDS(false)};
static const kito_shape patch_shape = {patch_fields, COUNT(patch_fields)};

static const char *const formats[] = {"timed", "tender", "live", NULL};
static const char *const tender_pricings[] = {"first", "second", NULL};

/* A member that is present and not null, else NULL. */
static const json_t *member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return v != NULL && !json_is_null(v) ? v : NULL;
}

/* True if s is only spaces (a title of "   " says nothing). */
static bool blank(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s != ' ')
            return false;
    return true;
}

/* Copies the string member (already checked by the shape) into buf of cap bytes. */
static void copy_string(const json_t *v, char *buf, size_t cap)
{
    size_t n = json_string_length(v);
    assert(n < cap);
    memcpy(buf, json_string_value(v), n);
    buf[n] = '\0';
}

/* A ladder from its JSON rungs, with a message naming the rung that breaks a rule; the engine's
 * own validation has the last word, so the API and the engine never disagree. */
static kito_err decode_ladder(const json_t *arr, struct kito_ladder *out, kito_verr *ve)
{
    struct kito_ladder_rung rungs[KITO_LADDER_MAX_RUNGS];
    size_t n = json_array_size(arr);
    char field[KITO_VERR_FIELD_SIZE];
    if (n < 1 || n > KITO_LADDER_MAX_RUNGS)
        return kito_verr_set(ve, "ladder", "must have 1 to %d rungs", KITO_LADDER_MAX_RUNGS);
    for (size_t i = 0; i < n; i++) {
        const json_t *rung = json_array_get(arr, i);
        snprintf(field, sizeof(field), "ladder[%zu].from_minor", i);
        if (kito_validate_int(field, json_object_get(rung, "from_minor"), 0, KITO_AMOUNT_MAX_MINOR,
                              &rungs[i].from_minor, ve) != KITO_OK)
            return KITO_E_VALIDATION;
        if (i == 0 && rungs[i].from_minor != 0)
            return kito_verr_set(ve, field, "must be 0: the first rung starts at price 0");
        if (i > 0 && rungs[i].from_minor <= rungs[i - 1].from_minor)
            return kito_verr_set(ve, field, "must be above ladder[%zu].from_minor", i - 1);
        snprintf(field, sizeof(field), "ladder[%zu].step_minor", i);
        if (kito_validate_int(field, json_object_get(rung, "step_minor"), 1, KITO_AMOUNT_MAX_MINOR,
                              &rungs[i].step_minor, ve) != KITO_OK)
            return KITO_E_VALIDATION;
        if (i > 0 && rungs[i].step_minor < rungs[i - 1].step_minor)
            return kito_verr_set(ve, field, "must not be below ladder[%zu].step_minor", i - 1);
    }
    if (kito_ladder_init(out, rungs, n) != KITO_OK)
        return kito_verr_set(ve, "ladder", "is not a valid increment ladder");
    return KITO_OK;
}

/* An optional integer member within [min, max], else dflt. */
static kito_err opt_int(const json_t *body, const char *name, int64_t min, int64_t max,
                        int32_t dflt, int32_t *out, kito_verr *ve)
{
    const json_t *v = member(body, name);
    int64_t n = dflt;
    if (v != NULL && kito_validate_int(name, v, min, max, &n, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    *out = (int32_t)n;
    return KITO_OK;
}

/* The sale's text members: title, description, venue. */
static kito_err decode_texts(const json_t *body, kito_sale_input *in, kito_verr *ve)
{
    copy_string(member(body, "title"), in->title, sizeof(in->title));
    if (blank(in->title))
        return kito_verr_set(ve, "title", "must not be blank");
    const json_t *v = member(body, "description");
    in->has_description = v != NULL && json_string_length(v) > 0;
    if (in->has_description)
        copy_string(v, in->description, sizeof(in->description));
    v = member(body, "venue");
    in->has_venue = v != NULL;
    if (in->has_venue) {
        copy_string(v, in->venue, sizeof(in->venue));
        if (blank(in->venue))
            return kito_verr_set(ve, "venue", "must not be blank");
    }
    return KITO_OK;
}

/* format, online, venue rule, currency. */
static kito_err decode_kind(const json_t *body, kito_sale_input *in, kito_verr *ve)
{
    const char *format = json_string_value(member(body, "format"));
    if (kito_validate_enum("format", format, formats, NULL, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    snprintf(in->format, sizeof(in->format), "%s", format);
    const json_t *online = member(body, "online");
    in->online = online == NULL || json_is_true(online);
    bool live = strcmp(in->format, "live") == 0;
    if (!in->has_venue && (!in->online || live))
        return kito_verr_set(ve, "venue", "is required for %s",
                             live ? "a live sale (the room where the floor bids)"
                                  : "a sale that is not online");
    const json_t *cur = member(body, "currency");
    const char *currency = cur != NULL ? json_string_value(cur) : "USD";
    if (kito_validate_currency("currency", currency, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    snprintf(in->currency, sizeof(in->currency), "%s", currency);
    return KITO_OK;
}

/* starts_at, ends_at and the time zone they were set in. */
static kito_err decode_times(const json_t *body, kito_sale_input *in, kito_verr *ve)
{
    const json_t *zone = member(body, "time_zone");
    const char *tz = zone != NULL ? json_string_value(zone) : "UTC";
    if (kito_validate_time_zone("time_zone", tz, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    snprintf(in->time_zone, sizeof(in->time_zone), "%s", tz);
    if (kito_validate_time("starts_at", json_string_value(member(body, "starts_at")),
                           &in->starts_at_ms, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    const json_t *ends = member(body, "ends_at");
    in->has_ends_at = ends != NULL;
    in->ends_at_ms = 0;
    if (!in->has_ends_at) {
        if (strcmp(in->format, "live") != 0)
            return kito_verr_set(ve, "ends_at", "is required for a %s sale", in->format);
        return KITO_OK;
    }
    if (kito_validate_time("ends_at", json_string_value(ends), &in->ends_at_ms, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    if (in->ends_at_ms <= in->starts_at_ms)
        return kito_verr_set(ve, "ends_at", "must be after starts_at");
    if (in->ends_at_ms - in->starts_at_ms > (int64_t)KITO_SALE_DURATION_MAX_S * 1000)
        return kito_verr_set(ve, "ends_at", "must be at most %d days after starts_at",
                             KITO_SALE_DURATION_MAX_S / 86400);
    return KITO_OK;
}

/* DESIGN.md's default ladder is in US dollars: close enough for EUR and GBP, meaningless (steps
 * of a few shillings) for the local currencies, whose sales must give their own. */
static bool default_ladder_applies(const char *currency)
{
    return strcmp(currency, "USD") == 0 || strcmp(currency, "EUR") == 0 ||
           strcmp(currency, "GBP") == 0;
}

/* The rule numbers: windows, rates, tender pricing and the ladder. */
static kito_err decode_rules(const json_t *body, kito_sale_input *in, kito_verr *ve)
{
    if (opt_int(body, "soft_close_s", 0, KITO_SALE_WINDOW_MAX_S, KITO_SALE_SOFT_CLOSE_DEFAULT_S,
                &in->soft_close_s, ve) != KITO_OK ||
        opt_int(body, "stagger_s", 0, KITO_SALE_WINDOW_MAX_S, KITO_SALE_STAGGER_DEFAULT_S,
                &in->stagger_s, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    in->buyer_premium_bps = KITO_SALE_PREMIUM_DEFAULT_BPS;
    in->commission_bps = KITO_SALE_COMMISSION_DEFAULT_BPS;
    const json_t *v = member(body, "buyer_premium_bps");
    if (v != NULL &&
        kito_validate_bps("buyer_premium_bps", v, &in->buyer_premium_bps, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    v = member(body, "commission_bps");
    if (v != NULL && kito_validate_bps("commission_bps", v, &in->commission_bps, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    snprintf(in->tender_pricing, sizeof(in->tender_pricing), "first");
    v = member(body, "tender_pricing");
    if (v != NULL) {
        if (strcmp(in->format, "tender") != 0)
            return kito_verr_set(ve, "tender_pricing", "applies to tender sales only");
        if (kito_validate_enum("tender_pricing", json_string_value(v), tender_pricings, NULL, ve) !=
            KITO_OK)
            return KITO_E_VALIDATION;
        snprintf(in->tender_pricing, sizeof(in->tender_pricing), "%s", json_string_value(v));
    }
    v = member(body, "ladder");
    if (v != NULL)
        return decode_ladder(v, &in->ladder, ve);
    if (!default_ladder_applies(in->currency))
        return kito_verr_set(ve, "ladder",
                             "is required for a %s sale (the default ladder is in US dollars)",
                             in->currency);
    kito_ladder_default(&in->ladder);
    return KITO_OK;
}

kito_err kito_sale_decode(const json_t *body, kito_sale_input *out, kito_verr *ve)
{
    if (kito_validate_object(body, &sale_shape, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    memset(out, 0, sizeof(*out));
    if (decode_texts(body, out, ve) != KITO_OK || decode_kind(body, out, ve) != KITO_OK ||
        decode_times(body, out, ve) != KITO_OK || decode_rules(body, out, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    assert(kito_ladder_validate(&out->ladder) == KITO_OK);
    return KITO_OK;
}

kito_err kito_sale_patch_check(const json_t *patch, kito_verr *ve)
{
    return kito_validate_object(patch, &patch_shape, ve);
}

static json_t *ladder_to_json(const struct kito_ladder *l)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < l->n_rungs; i++)
        if (json_array_append_new(arr, json_pack("{s:I,s:I}", "from_minor",
                                                 (json_int_t)l->rungs[i].from_minor, "step_minor",
                                                 (json_int_t)l->rungs[i].step_minor)) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *kito_sale_input_to_json(const kito_sale_input *in)
{
    struct kito_ladder dflt;
    kito_ladder_default(&dflt);
    json_t *o =
        json_pack("{s:s,s:b,s:s,s:s,s:o,s:s,s:i,s:i,s:i,s:i}", "title", in->title, "online",
                  in->online, "format", in->format, "currency", in->currency, "starts_at",
                  kito_render_time(in->starts_at_ms), "time_zone", in->time_zone, "soft_close_s",
                  in->soft_close_s, "stagger_s", in->stagger_s, "buyer_premium_bps",
                  in->buyer_premium_bps, "commission_bps", in->commission_bps);
    if (o == NULL)
        return NULL;
    int bad = 0;
    if (in->has_description)
        bad |= json_object_set_new(o, "description", json_string(in->description));
    if (in->has_venue)
        bad |= json_object_set_new(o, "venue", json_string(in->venue));
    if (in->has_ends_at)
        bad |= json_object_set_new(o, "ends_at", kito_render_time(in->ends_at_ms));
    if (strcmp(in->tender_pricing, "first") != 0)
        bad |= json_object_set_new(o, "tender_pricing", json_string(in->tender_pricing));
    /* the default ladder is left out only where decoding would put it back */
    if (!kito_ladder_equal(&in->ladder, &dflt) || !default_ladder_applies(in->currency))
        bad |= json_object_set_new(o, "ladder", ladder_to_json(&in->ladder));
    if (bad != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

kito_err kito_sale_patch_apply(json_t *base, const json_t *patch)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)patch, key, v)
    {
        int rc = json_is_null(v) ? (json_object_del(base, key), 0) : json_object_set(base, key, v);
        if (rc != 0)
            return KITO_E_NOMEM;
    }
    return KITO_OK;
}

bool kito_sale_actor_owns(const kito_actor *actor, uint64_t organizer_id)
{
    if (actor == NULL || actor->account_id == 0)
        return false;
    return actor->role == KITO_ROLE_OPERATOR ||
           (actor->role == KITO_ROLE_ORGANIZER && actor->account_id == organizer_id);
}

bool kito_sale_visible(const kito_actor *actor, const kito_sale *s)
{
    return strcmp(s->status, "draft") != 0 || kito_sale_actor_owns(actor, s->organizer_id);
}

/* ---- reading sales --------------------------------------------------------------------------- */

#define SALE_COLUMNS                                                                               \
    "s.id, s.organizer_id, s.title, s.description, s.venue, s.online, s.format, "                  \
    "s.currency, " KITO_SQL_DT_TO_MS("s.starts_at") ", " KITO_SQL_DT_TO_MS(                        \
        "s.ends_at") ", s.soft_close_s, s.stagger_s, "                                             \
                     "s.buyer_premium_bps, s.commission_bps, s.tender_pricing, s.ladder_json, "    \
                     "s.status, " KITO_SQL_DT_TO_MS("s.created_at") ", " KITO_SQL_DT_TO_MS(        \
                         "s.updated_at") ", "                                                      \
                                         "(SELECT COUNT(*) FROM lots l WHERE l.sale_id = s.id "    \
                                         "AND l.state <> 'withdrawn'), s.time_zone"

/* The stored ladder back into the engine's type; a row that does not hold a valid one is a bug
 * or tampering, never user input (every write went through kito_sale_decode). */
static kito_err ladder_from_text(const char *text, struct kito_ladder *out)
{
    struct kito_ladder_rung rungs[KITO_LADDER_MAX_RUNGS];
    json_t *arr = text != NULL ? json_loads(text, 0, NULL) : NULL;
    size_t n = json_array_size(arr);
    kito_err e = n >= 1 && n <= KITO_LADDER_MAX_RUNGS ? KITO_OK : KITO_E_INTERNAL;
    for (size_t i = 0; e == KITO_OK && i < n; i++) {
        json_t *from = json_object_get(json_array_get(arr, i), "from_minor");
        json_t *step = json_object_get(json_array_get(arr, i), "step_minor");
        if (!json_is_integer(from) || !json_is_integer(step))
            e = KITO_E_INTERNAL;
        else
            rungs[i] =
                (struct kito_ladder_rung){json_integer_value(from), json_integer_value(step)};
    }
    json_decref(arr);
    if (e == KITO_OK && kito_ladder_init(out, rungs, n) != KITO_OK)
        e = KITO_E_INTERNAL;
    return e;
}

static kito_err sale_from_row(const kito_sql_row *row, kito_sale *s)
{
    memset(s, 0, sizeof(*s));
    s->id = kito_sql_u64(row, 0);
    s->organizer_id = kito_sql_u64(row, 1);
    kito_sql_copy(row, 2, s->in.title, sizeof(s->in.title));
    s->in.has_description = !kito_sql_is_null(row, 3);
    kito_sql_copy(row, 3, s->in.description, sizeof(s->in.description));
    s->in.has_venue = !kito_sql_is_null(row, 4);
    kito_sql_copy(row, 4, s->in.venue, sizeof(s->in.venue));
    s->in.online = kito_sql_i64(row, 5) != 0;
    kito_sql_copy(row, 6, s->in.format, sizeof(s->in.format));
    kito_sql_copy(row, 7, s->in.currency, sizeof(s->in.currency));
    s->in.starts_at_ms = kito_sql_i64(row, 8);
    s->in.has_ends_at = !kito_sql_is_null(row, 9);
    s->in.ends_at_ms = kito_sql_i64(row, 9);
    kito_sql_copy(row, 20, s->in.time_zone, sizeof(s->in.time_zone));
    s->in.soft_close_s = (int32_t)kito_sql_i64(row, 10);
    s->in.stagger_s = (int32_t)kito_sql_i64(row, 11);
    s->in.buyer_premium_bps = (int32_t)kito_sql_i64(row, 12);
    s->in.commission_bps = (int32_t)kito_sql_i64(row, 13);
    kito_sql_copy(row, 14, s->in.tender_pricing, sizeof(s->in.tender_pricing));
    kito_sql_copy(row, 16, s->status, sizeof(s->status));
    s->created_at_ms = kito_sql_i64(row, 17);
    s->updated_at_ms = kito_sql_i64(row, 18);
    s->lot_count = (uint32_t)kito_sql_u64(row, 19);
    return ladder_from_text(kito_sql_text(row, 15, NULL), &s->in.ladder);
}

static kito_err one_sale(void *ud, const kito_sql_row *row)
{
    return sale_from_row(row, ud);
}

/* Reads sale id (locked FOR UPDATE when lock is set, inside the caller's transaction). */
static kito_err read_sale(kito_db_conn *db, uint64_t id, bool lock, kito_sale *out)
{
    size_t rows = 0;
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    kito_err e =
        kito_sql_query(db,
                       lock ? "SELECT " SALE_COLUMNS " FROM sales s WHERE s.id = ? FOR UPDATE"
                            : "SELECT " SALE_COLUMNS " FROM sales s WHERE s.id = ?",
                       p, 1, one_sale, out, &rows);
    if (e == KITO_OK && rows == 0)
        e = KITO_E_NOT_FOUND;
    return e;
}

kito_err kito_sales_read(kito_db_conn *db, uint64_t id, kito_sale *out)
{
    return read_sale(db, id, false, out);
}

kito_err kito_sales_read_locked(kito_db_conn *db, uint64_t id, kito_sale *out)
{
    return read_sale(db, id, true, out);
}

kito_err kito_sales_lock_owned(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                               kito_sale *out)
{
    kito_err e = read_sale(db, id, true, out);
    if (e != KITO_OK)
        return e;
    if (!kito_sale_actor_owns(actor, out->organizer_id))
        return KITO_E_FORBIDDEN; /* another organiser: 403 even on a draft (issue 4) */
    return KITO_OK;
}

kito_err kito_sales_get(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *out)
{
    kito_err e = read_sale(db, id, false, out);
    if (e == KITO_OK && !kito_sale_visible(actor, out))
        e = KITO_E_NOT_FOUND;
    return e;
}

/* ---- writing sales --------------------------------------------------------------------------- */

/* Ends a transaction: commit on success, roll back otherwise. */
static kito_err finish(kito_db_conn *db, kito_err e)
{
    return kito_sql_end(db, e);
}

/* Renders in's ladder as stored in ladder_json. Free with free(). */
static char *ladder_text(const struct kito_ladder *l)
{
    json_t *arr = ladder_to_json(l);
    char *s = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

/* The sale's columns as parameters, in the order of the INSERT and UPDATE below. */
static size_t sale_params(const kito_sale_input *in, const char *ladder, char *starts, char *ends,
                          kito_sql_param *p)
{
    kito_sql_time(in->starts_at_ms, starts);
    if (in->has_ends_at)
        kito_sql_time(in->ends_at_ms, ends);
    size_t n = 0;
    p[n++] = KITO_SQL_TEXT(in->title);
    p[n++] = in->has_description ? KITO_SQL_TEXT(in->description) : KITO_SQL_NULL;
    p[n++] = in->has_venue ? KITO_SQL_TEXT(in->venue) : KITO_SQL_NULL;
    p[n++] = KITO_SQL_I64(in->online ? 1 : 0);
    p[n++] = KITO_SQL_TEXT(in->format);
    p[n++] = KITO_SQL_TEXT(in->currency);
    p[n++] = KITO_SQL_TEXT(starts);
    p[n++] = in->has_ends_at ? KITO_SQL_TEXT(ends) : KITO_SQL_NULL;
    p[n++] = KITO_SQL_I64(in->soft_close_s);
    p[n++] = KITO_SQL_I64(in->stagger_s);
    p[n++] = KITO_SQL_I64(in->buyer_premium_bps);
    p[n++] = KITO_SQL_I64(in->commission_bps);
    p[n++] = KITO_SQL_TEXT(in->tender_pricing);
    p[n++] = KITO_SQL_TEXT(ladder);
    p[n++] = KITO_SQL_TEXT(in->time_zone);
    return n;
}

/* The audit detail of a sale: its settings (the description left out for size). */
static json_t *sale_detail(const kito_sale_input *in)
{
    json_t *d = kito_sale_input_to_json(in);
    if (d != NULL)
        json_object_del(d, "description");
    return d;
}

kito_err kito_sales_create(kito_db_conn *db, const kito_actor *actor, const kito_sale_input *in,
                           kito_sale *out)
{
    char starts[KITO_SQL_TIME_SIZE], ends[KITO_SQL_TIME_SIZE];
    kito_sql_param p[18];
    char *ladder = ladder_text(&in->ladder);
    if (ladder == NULL)
        return KITO_E_NOMEM;
    size_t n = sale_params(in, ladder, starts, ends, p);
    p[n++] = KITO_SQL_U64(actor->account_id);
    kito_sql_result res = {0};
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO sales (title, description, venue, online, format, currency,"
                          " starts_at, ends_at, soft_close_s, stagger_s, buyer_premium_bps,"
                          " commission_bps, tender_pricing, ladder_json, time_zone, organizer_id)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          p, n, &res);
    free(ladder);
    if (e == KITO_OK) {
        json_t *detail = sale_detail(in);
        e = kito_audit(db, actor->account_id, "sale.create", "sale", res.insert_id, detail,
                       actor->ip);
        json_decref(detail);
    }
    if (e == KITO_OK)
        e = read_sale(db, res.insert_id, false, out);
    return finish(db, e);
}

kito_err kito_sales_update(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                           const json_t *patch, kito_sale *out, kito_verr *ve)
{
    kito_sale_input next; /* 17 KB; workers run on default 8 MB thread stacks */
    json_t *merged = NULL;
    char *ladder = NULL;
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sales_lock_owned(db, actor, id, out);
    if (e == KITO_OK && strcmp(out->status, "draft") != 0) {
        kito_verr_set(ve, "", "the sale is %s; only a draft can be changed", out->status);
        e = KITO_E_CONFLICT;
    }
    if (e == KITO_OK) {
        merged = kito_sale_input_to_json(&out->in);
        e = merged != NULL ? kito_sale_patch_apply(merged, patch) : KITO_E_NOMEM;
    }
    if (e == KITO_OK)
        e = kito_sale_decode(merged, &next, ve);
    if (e == KITO_OK && strcmp(next.currency, out->in.currency) != 0 && out->lot_count > 0) {
        kito_verr_set(ve, "currency",
                      "cannot change once the sale has lots (their prices are in %s)",
                      out->in.currency);
        e = KITO_E_CONFLICT;
    }
    if (e == KITO_OK) {
        ladder = ladder_text(&next.ladder);
        e = ladder != NULL ? KITO_OK : KITO_E_NOMEM;
    }
    if (e == KITO_OK) {
        char starts[KITO_SQL_TIME_SIZE], ends[KITO_SQL_TIME_SIZE];
        kito_sql_param p[18];
        size_t n = sale_params(&next, ladder, starts, ends, p);
        p[n++] = KITO_SQL_U64(id);
        e = kito_sql_exec(db,
                          "UPDATE sales SET title = ?, description = ?, venue = ?, online = ?,"
                          " format = ?, currency = ?, starts_at = ?, ends_at = ?, soft_close_s = ?,"
                          " stagger_s = ?, buyer_premium_bps = ?, commission_bps = ?,"
                          " tender_pricing = ?, ladder_json = ?, time_zone = ?,"
                          " updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ?",
                          p, n, NULL);
    }
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:O}", "changes", patch);
        e = kito_audit(db, actor->account_id, "sale.update", "sale", id, detail, actor->ip);
        json_decref(detail);
    }
    if (e == KITO_OK)
        e = read_sale(db, id, false, out);
    json_decref(merged);
    free(ladder);
    return finish(db, e);
}

/* Moves a locked, owned sale to status with an audit row. */
static kito_err set_status(kito_db_conn *db, const kito_actor *actor, kito_sale *s,
                           const char *status, const char *action)
{
    kito_sql_param p[] = {KITO_SQL_TEXT(status), KITO_SQL_U64(s->id)};
    kito_err e = kito_sql_exec(db,
                               "UPDATE sales SET status = ?, updated_at = UTC_TIMESTAMP(3)"
                               " WHERE id = ?",
                               p, 2, NULL);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:s,s:s}", "from", s->status, "to", status);
        e = kito_audit(db, actor->account_id, action, "sale", s->id, detail, actor->ip);
        json_decref(detail);
    }
    if (e == KITO_OK)
        e = read_sale(db, s->id, false, s);
    return e;
}

/* True if the sale's start is still ahead (the database's clock, UTC). */
static kito_err starts_in_future(kito_db_conn *db, uint64_t id, bool *future)
{
    size_t rows = 0;
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    kito_err e =
        kito_sql_query(db, "SELECT 1 FROM sales WHERE id = ? AND starts_at > UTC_TIMESTAMP(3)", p,
                       1, NULL, NULL, &rows);
    *future = rows > 0;
    return e;
}

kito_err kito_sales_publish(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *out,
                            kito_verr *ve)
{
    bool future = false;
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sales_lock_owned(db, actor, id, out);
    if (e == KITO_OK && strcmp(out->status, "draft") != 0)
        e = kito_verr_set(ve, "", "the sale is %s; only a draft can be published", out->status);
    else if (e == KITO_OK && out->lot_count == 0)
        e = kito_verr_set(ve, "", "a sale needs at least one lot to be published");
    if (e == KITO_OK)
        e = starts_in_future(db, id, &future);
    if (e == KITO_OK && !future && strcmp(out->in.format, "live") != 0)
        e = kito_verr_set(ve, "starts_at", "must be in the future to publish a %s sale",
                          out->in.format);
    if (e == KITO_E_VALIDATION) /* the rules above: the request is fine, the state is not */
        e = KITO_E_CONFLICT;
    if (e == KITO_OK)
        e = set_status(db, actor, out, "published", "sale.publish");
    return finish(db, e);
}

kito_err kito_sales_cancel(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *out,
                           kito_verr *ve)
{
    bool future = false;
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sales_lock_owned(db, actor, id, out);
    /* cancelled already: nothing to write, and the caller takes its lots out of the order books
     * again (a cancel whose withdrawals Redis refused is finished by repeating it) */
    if (e == KITO_OK && strcmp(out->status, "cancelled") == 0)
        return finish(db, KITO_OK);
    if (e == KITO_OK && strcmp(out->status, "draft") != 0 && strcmp(out->status, "published") != 0)
        e = kito_verr_set(ve, "", "the sale is %s; it can no longer be cancelled", out->status);
    if (e == KITO_OK && strcmp(out->status, "published") == 0) {
        e = starts_in_future(db, id, &future);
        if (e == KITO_OK && !future)
            e = kito_verr_set(ve, "", "the sale has started; it can no longer be cancelled");
    }
    if (e == KITO_E_VALIDATION)
        e = KITO_E_CONFLICT;
    /* free the stones for another sale; a listed stone goes back to certified */
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE stones st JOIN lots l ON l.stone_id = st.id"
                          " SET st.status = 'certified', st.updated_at = UTC_TIMESTAMP(3)"
                          " WHERE l.sale_id = ? AND l.state = 'scheduled' AND st.status = 'listed'",
                          p, 1, NULL);
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE lots SET state = 'withdrawn', updated_at = UTC_TIMESTAMP(3)"
                          " WHERE sale_id = ? AND state = 'scheduled'",
                          p, 1, NULL);
    if (e == KITO_OK)
        e = set_status(db, actor, out, "cancelled", "sale.cancel");
    return finish(db, e);
}

/* A page of sales, one row at a time to the caller's fn. */
struct sale_page {
    kito_sale_row_fn fn;
    void *ud;
    kito_sale row;
};

static kito_err sale_page_row(void *ud, const kito_sql_row *row)
{
    struct sale_page *c = ud;
    kito_err e = sale_from_row(row, &c->row);
    return e == KITO_OK ? c->fn(c->ud, &c->row) : e;
}

kito_err kito_sales_list(kito_db_conn *db, const kito_actor *actor, const kito_sales_filter *f,
                         kito_sale_row_fn fn, void *ud)
{
    char after[KITO_SQL_TIME_SIZE] = "1970-01-01 00:00:00.000";
    if (f->has_after)
        kito_sql_time(f->after_starts_at_ms, after);
    bool all_drafts = actor->role == KITO_ROLE_OPERATOR;
    uint64_t own = actor->role == KITO_ROLE_ORGANIZER ? actor->account_id : 0;
    kito_sql_param p[] = {
        KITO_SQL_I64(all_drafts ? 1 : 0),
        KITO_SQL_U64(own),
        KITO_SQL_TEXT_OR_NULL(f->status),
        KITO_SQL_TEXT_OR_NULL(f->status),
        KITO_SQL_TEXT_OR_NULL(f->format),
        KITO_SQL_TEXT_OR_NULL(f->format),
        KITO_SQL_TEXT_OR_NULL(f->currency),
        KITO_SQL_TEXT_OR_NULL(f->currency),
        KITO_SQL_I64(f->has_after ? 1 : 0),
        KITO_SQL_TEXT(after),
        KITO_SQL_TEXT(after),
        KITO_SQL_U64(f->after_id),
        KITO_SQL_U64((uint64_t)f->limit + 1),
    };
    struct sale_page page = {.fn = fn, .ud = ud};
    return kito_sql_query(db,
                          "SELECT " SALE_COLUMNS " FROM sales s"
                          " WHERE (s.status <> 'draft' OR ? = 1 OR s.organizer_id = ?)"
                          " AND (? IS NULL OR s.status = ?)"
                          " AND (? IS NULL OR s.format = ?)"
                          " AND (? IS NULL OR s.currency = ?)"
                          " AND (? = 0 OR s.starts_at > ? OR (s.starts_at = ? AND s.id > ?))"
                          " ORDER BY s.starts_at, s.id LIMIT ?",
                          p, COUNT(p), sale_page_row, &page, NULL);
}
