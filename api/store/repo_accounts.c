#include "api/store/repo_accounts.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/audit.h"
#include "api/store/repo_sms.h"
#include "api/common/crypto.h"
#include "api/common/render.h"
#include "api/store/sql.h"

/* ---- pure rules ------------------------------------------------------------------------------ */

/* The mobile-money rails of each market country (DEMO-DATA.md), the usual one first: that is the
 * default when kitoctl makes a miner without --rail. */
static const struct {
    const char *country;
    const char *rails[4];
} country_rails[] = {
    {"KE", {"mpesa", "airtel_money", NULL}},
    {"TZ", {"mpesa", "tigo_pesa", "airtel_money", NULL}},
    {"ZM", {"mtn_momo", "airtel_money", NULL}},
    {"MW", {"airtel_money", "tnm_mpamba", NULL}},
};

static const char *const *rails_of(const char *cc)
{
    for (size_t i = 0; i < sizeof(country_rails) / sizeof(country_rails[0]); i++)
        if (cc != NULL && strcmp(country_rails[i].country, cc) == 0)
            return country_rails[i].rails;
    return NULL;
}

bool kito_account_rail_allowed(const char *cc, const char *rail)
{
    const char *const *rails = rails_of(cc);
    for (size_t i = 0; rails != NULL && rails[i] != NULL; i++)
        if (rail != NULL && strcmp(rails[i], rail) == 0)
            return true;
    return false;
}

kito_err kito_account_payout_validate(const char *field_prefix, const char *cc, const char *msisdn,
                                      const char *rail, kito_verr *ve)
{
    char field[64];
    snprintf(field, sizeof(field), "%s.msisdn", field_prefix);
    kito_err e = kito_validate_phone(field, msisdn, ve);
    if (e != KITO_OK)
        return e;
    const char *msisdn_cc = kito_validate_phone_country(msisdn);
    if (msisdn_cc == NULL || strcmp(msisdn_cc, cc) != 0)
        return kito_verr_set(ve, field, "must be a mobile number of your country (%s)", cc);
    snprintf(field, sizeof(field), "%s.rail", field_prefix);
    static const char *const all_rails[] = {"mpesa",    "airtel_money", "tigo_pesa",
                                            "mtn_momo", "tnm_mpamba",   NULL};
    e = kito_validate_enum(field, rail, all_rails, NULL, ve);
    if (e != KITO_OK)
        return e;
    if (!kito_account_rail_allowed(cc, rail)) {
        char list[96] = "";
        const char *const *rails = rails_of(cc);
        for (size_t i = 0; rails[i] != NULL; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     rails[i]);
        return kito_verr_set(ve, field, "is not a payout rail in %s (use one of %s)", cc, list);
    }
    return KITO_OK;
}

static bool copy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= cap)
        return false;
    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
    return true;
}

kito_err kito_account_new_validate(kito_account_new *out, const char *role, const char *name,
                                   const char *phone, const char *email, const char *country,
                                   const char *locale, const char *secret, const char *msisdn,
                                   const char *rail, kito_verr *ve)
{
    static const char *const roles[] = {"miner", "valuer", "buyer", "organizer", "operator", NULL};
    static const char *const locales[] = {"en", "sw", NULL};
    memset(out, 0, sizeof(*out));
    kito_err e;
    if ((e = kito_validate_enum("role", role != NULL ? role : "", roles, NULL, ve)) != KITO_OK)
        return e;
    const bool miner = strcmp(role, "miner") == 0;
    if ((e = kito_validate_text("name", name != NULL ? name : "", 1, 120, 0, ve)) != KITO_OK)
        return e;
    if (phone != NULL && (e = kito_validate_phone("phone", phone, ve)) != KITO_OK)
        return e;
    if (email != NULL && (e = kito_validate_email("email", email, ve)) != KITO_OK)
        return e;
    if (country != NULL && (e = kito_validate_country("country", country, ve)) != KITO_OK)
        return e;
    if (locale != NULL && (e = kito_validate_enum("locale", locale, locales, NULL, ve)) != KITO_OK)
        return e;

    if (miner) {
        /* a miner is her phone: registration, sign-in, USSD and payouts all hang on it */
        if (phone == NULL)
            return kito_verr_set(ve, "phone", "is required for a miner");
        if (email != NULL)
            return kito_verr_set(ve, "email", "is not used for a miner; she signs in by phone");
        const char *cc = kito_validate_phone_country(phone);
        if (cc == NULL)
            return kito_verr_set(ve, "phone",
                                 "must be a number in Kenya (+254), Tanzania (+255), Zambia "
                                 "(+260) or Malawi (+265)");
        if (country != NULL && strcmp(country, cc) != 0)
            return kito_verr_set(ve, "country", "must be the country of the phone number (%s)", cc);
        if ((e = kito_validate_pin("pin", secret != NULL ? secret : "", ve)) != KITO_OK)
            return e;
        if (rail == NULL)
            rail = rails_of(cc)[0];
        if (msisdn == NULL)
            msisdn = phone;
        if ((e = kito_account_payout_validate("payout", cc, msisdn, rail, ve)) != KITO_OK)
            return e;
        copy(out->country, sizeof(out->country), cc);
        copy(out->payout_msisdn, sizeof(out->payout_msisdn), msisdn);
        copy(out->payout_rail, sizeof(out->payout_rail), rail);
        out->secret_is_pin = true;
    } else {
        if (msisdn != NULL || rail != NULL)
            return kito_verr_set(ve, "payout", "only miners have a payout wallet");
        if (strcmp(role, "buyer") == 0 && email == NULL)
            return kito_verr_set(ve, "email", "is required for a buyer");
        if (email == NULL && phone == NULL)
            return kito_verr_set(ve, "email", "an e-mail address or a phone number is required");
        if ((e = kito_validate_password("password", secret != NULL ? secret : "", ve)) != KITO_OK)
            return e;
        copy(out->country, sizeof(out->country), country);
    }
    if (!copy(out->secret, sizeof(out->secret), secret))
        return kito_verr_set(ve, miner ? "pin" : "password", "is too long");
    copy(out->role, sizeof(out->role), role);
    copy(out->name, sizeof(out->name), name);
    copy(out->phone, sizeof(out->phone), phone);
    copy(out->email, sizeof(out->email), email);
    copy(out->locale, sizeof(out->locale), locale != NULL ? locale : "en");
    return KITO_OK;
}

static json_t *text_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

json_t *kito_account_view(const kito_account *a)
{
    json_t *v = json_object();
    if (v == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(v, "id", kito_render_id("acc", a->id));
    bad |= json_object_set_new(v, "role", json_string(a->role));
    bad |= json_object_set_new(v, "name", json_string(a->name));
    bad |= json_object_set_new(v, "phone", text_or_null(a->phone));
    bad |= json_object_set_new(v, "email", text_or_null(a->email));
    bad |= json_object_set_new(v, "country", text_or_null(a->country));
    bad |= json_object_set_new(v, "locale", json_string(a->locale));
    bad |= json_object_set_new(v, "status", json_string(a->status));
    bad |= json_object_set_new(v, "created_at", kito_render_time(a->created_at_ms));
    if (strcmp(a->role, "miner") == 0) {
        json_t *m = json_null();
        if (a->has_profile)
            m = json_pack(
                "{s:o, s:{s:s, s:s, s:o}}", "association_id",
                a->association_id != 0 ? kito_render_id("asn", a->association_id) : json_null(),
                "payout", "msisdn", a->payout_msisdn, "rail", a->payout_rail, "held_until",
                a->payout_held_until_ms != 0 ? kito_render_time(a->payout_held_until_ms)
                                             : json_null());
        bad |= json_object_set_new(v, "miner", m);
    }
    if (bad != 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *kito_association_view(const kito_association *a)
{
    return json_pack("{s:o, s:s, s:s, s:i, s:o}", "id", kito_render_id("asn", a->id), "name",
                     a->name, "country", a->country, "levy_bps", (int)a->levy_bps, "created_at",
                     kito_render_time(a->created_at_ms));
}

/* ---- MySQL ----------------------------------------------------------------------------------- */

/* Milliseconds since the epoch of a UTC DATETIME column, whatever the session's time zone. */

/* When payouts to her current wallet stop waiting after her change to it (issue 15, finding 5;
 * the payouts' own rule: api/store/repo_payouts.h, KITO_PAYOUT_HELD_UNTIL_SQL), or NULL. */
#define HELD_UNTIL_SQL                                                                             \
    "(SELECT MAX(w.hold_until) FROM payout_wallet_changes w WHERE w.account_id = a.id"             \
    " AND w.new_msisdn = m.payout_msisdn AND w.new_rail = m.payout_rail"                           \
    " AND w.hold_until > UTC_TIMESTAMP(3))"

/* clang-format off */
#define ACCOUNT_COLUMNS                                                                            \
    "a.id, a.role, a.name, a.phone, a.email, a.country, a.locale, a.status, "                      \
    KITO_SQL_DT_TO_MS("a.created_at") ", m.account_id, m.association_id, m.payout_msisdn,"        \
    " m.payout_rail, " KITO_SQL_DT_TO_MS(HELD_UNTIL_SQL)
/* clang-format on */

static void account_from_row(const kito_sql_row *row, kito_account *a)
{
    memset(a, 0, sizeof(*a));
    a->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, a->role, sizeof(a->role));
    kito_sql_copy(row, 2, a->name, sizeof(a->name));
    kito_sql_copy(row, 3, a->phone, sizeof(a->phone));
    kito_sql_copy(row, 4, a->email, sizeof(a->email));
    kito_sql_copy(row, 5, a->country, sizeof(a->country));
    kito_sql_copy(row, 6, a->locale, sizeof(a->locale));
    kito_sql_copy(row, 7, a->status, sizeof(a->status));
    a->created_at_ms = kito_sql_i64(row, 8);
    a->has_profile = !kito_sql_is_null(row, 9);
    a->association_id = kito_sql_u64(row, 10);
    kito_sql_copy(row, 11, a->payout_msisdn, sizeof(a->payout_msisdn));
    kito_sql_copy(row, 12, a->payout_rail, sizeof(a->payout_rail));
    a->payout_held_until_ms = kito_sql_is_null(row, 13) ? 0 : kito_sql_i64(row, 13);
}

static kito_err account_row(void *ud, const kito_sql_row *row)
{
    account_from_row(row, ud);
    return KITO_OK;
}

kito_err kito_repo_account_get(kito_db_conn *db, uint64_t id, kito_account *out)
{
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    size_t rows = 0;
    kito_err e =
        kito_sql_query(db,
                       "SELECT " ACCOUNT_COLUMNS " FROM accounts a LEFT JOIN miner_profiles"
                       " m ON m.account_id = a.id WHERE a.id = ?",
                       p, 1, account_row, out, &rows);
    if (e != KITO_OK)
        return e;
    return rows == 1 ? KITO_OK : KITO_E_NOT_FOUND;
}

static kito_err association_country_row(void *ud, const kito_sql_row *row)
{
    kito_sql_copy(row, 0, ud, 3);
    return KITO_OK;
}

/* The association must exist and be in the miner's country (a levy is a national arrangement). */
static kito_err check_association(kito_db_conn *db, uint64_t id, const char *cc, kito_verr *ve)
{
    char country[3] = "";
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    size_t rows = 0;
    kito_err e = kito_sql_query(db, "SELECT country FROM associations WHERE id = ?", p, 1,
                                association_country_row, country, &rows);
    if (e != KITO_OK)
        return e;
    if (rows == 0)
        return kito_verr_set(ve, "association_id", "names no association");
    if (strcmp(country, cc) != 0)
        return kito_verr_set(ve, "association_id", "is an association in %s, not in %s", country,
                             cc);
    return KITO_OK;
}

kito_err kito_repo_account_create(kito_db_conn *db, const kito_account_new *in, const char *action,
                                  uint64_t actor_id, bool actor_self, const char *ip,
                                  kito_account *out, kito_verr *ve)
{
    char hash[KITO_SECRET_STORED_SIZE];
    kito_err e = kito_crypto_secret_hash(in->secret, strlen(in->secret), NULL, hash, sizeof(hash));
    if (e != KITO_OK)
        return e;
    const bool miner = strcmp(in->role, "miner") == 0;
    assert(!miner || in->phone[0] != '\0');
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    if (miner && in->association_id != 0 &&
        (e = check_association(db, in->association_id, in->country, ve)) != KITO_OK)
        goto out_rollback;
    kito_sql_param p[] = {
        KITO_SQL_TEXT(in->role),
        KITO_SQL_TEXT(in->name),
        in->phone[0] != '\0' ? KITO_SQL_TEXT(in->phone) : KITO_SQL_NULL,
        in->email[0] != '\0' ? KITO_SQL_TEXT(in->email) : KITO_SQL_NULL,
        KITO_SQL_TEXT(in->secret_is_pin ? "pin" : "password"),
        KITO_SQL_TEXT(hash),
        in->country[0] != '\0' ? KITO_SQL_TEXT(in->country) : KITO_SQL_NULL,
        KITO_SQL_TEXT(in->locale[0] != '\0' ? in->locale : "en"),
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO accounts (role, name, phone, email, secret_kind, secret_hash,"
                      " country, locale) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      p, sizeof(p) / sizeof(p[0]), &res);
    if (e != KITO_OK)
        goto out_rollback;
    const uint64_t id = res.insert_id;
    if (miner) {
        kito_sql_param mp[] = {
            KITO_SQL_U64(id),
            in->association_id != 0 ? KITO_SQL_U64(in->association_id) : KITO_SQL_NULL,
            KITO_SQL_TEXT(in->country),
            KITO_SQL_TEXT(in->payout_msisdn),
            KITO_SQL_TEXT(in->payout_rail),
        };
        e = kito_sql_exec(db,
                          "INSERT INTO miner_profiles (account_id, association_id, country,"
                          " payout_msisdn, payout_rail) VALUES (?, ?, ?, ?, ?)",
                          mp, sizeof(mp) / sizeof(mp[0]), NULL);
        if (e != KITO_OK)
            goto out_rollback;
    }
    json_t *detail = json_pack("{s:s, s:s?}", "role", in->role, "country",
                               in->country[0] != '\0' ? in->country : NULL);
    e = detail != NULL
            ? kito_audit(db, actor_self ? id : actor_id, action, "account", id, detail, ip)
            : KITO_E_NOMEM;
    json_decref(detail);
    if (e != KITO_OK)
        goto out_rollback;
    if ((e = kito_sql_commit(db)) != KITO_OK)
        goto out_rollback;
    return kito_repo_account_get(db, id, out);

out_rollback:
    kito_sql_rollback(db);
    return e;
}

/* Inside kito_repo_account_update's transaction, with cur's row locked: moves her payouts to
 * (msisdn, rail) and records the change, its SMS and its audit row (the header says why). */
static kito_err wallet_change_locked(kito_db_conn *db, const kito_account *cur, const char *msisdn,
                                     const char *rail, const kito_account_patch *p, const char *ip)
{
    const char *channel = p->channel != NULL ? p->channel : "api";
    kito_sql_param up[] = {KITO_SQL_TEXT(msisdn), KITO_SQL_TEXT(rail), KITO_SQL_U64(cur->id)};
    kito_err e = kito_sql_exec(db,
                               "UPDATE miner_profiles SET payout_msisdn = ?, payout_rail = ?,"
                               " updated_at = UTC_TIMESTAMP(3) WHERE account_id = ?",
                               up, 3, NULL);
    if (e != KITO_OK)
        return e;
    kito_sql_param cp[] = {
        KITO_SQL_U64(cur->id),
        KITO_SQL_TEXT(cur->payout_msisdn),
        KITO_SQL_TEXT(cur->payout_rail),
        KITO_SQL_TEXT(msisdn),
        KITO_SQL_TEXT(rail),
        KITO_SQL_TEXT(channel),
        KITO_SQL_U64(p->payout_hold_s),
        ip != NULL && ip[0] != 0 ? KITO_SQL_TEXT(ip) : KITO_SQL_NULL,
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO payout_wallet_changes (account_id, old_msisdn, old_rail,"
                      " new_msisdn, new_rail, channel, hold_until, ip) VALUES (?, ?, ?, ?, ?, ?,"
                      " UTC_TIMESTAMP(3) + INTERVAL ? SECOND, ?)",
                      cp, KITO_N(cp), &res);
    if (e != KITO_OK)
        return e;
    /* the old number hears of it (and her own phone, when the old wallet was another number) */
    char hours[16], key[48];
    snprintf(hours, sizeof(hours), "%u", (p->payout_hold_s + 3599) / 3600);
    const char *v[] = {cur->payout_msisdn, msisdn, hours};
    snprintf(key, sizeof(key), "wallet_changed:%" PRIu64, res.insert_id);
    e = kito_sms_enqueue_to(db, cur->id, cur->payout_msisdn, KITO_SMS_WALLET_CHANGED, key, v);
    if (e == KITO_OK && cur->phone[0] != 0 && strcmp(cur->phone, cur->payout_msisdn) != 0) {
        snprintf(key, sizeof(key), "wallet_changed:%" PRIu64 ":phone", res.insert_id);
        e = kito_sms_enqueue_to(db, cur->id, cur->phone, KITO_SMS_WALLET_CHANGED, key, v);
    }
    if (e != KITO_OK)
        return e;
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "old_msisdn", cur->payout_msisdn,
                          "old_rail", cur->payout_rail, "new_msisdn", msisdn, "new_rail", rail,
                          "channel", channel, "hold_s", (json_int_t)p->payout_hold_s);
    e = d != NULL
            ? kito_audit(db, cur->id, "account.payout_wallet_change", "account", cur->id, d, ip)
            : KITO_E_NOMEM;
    json_decref(d);
    return e;
}

kito_err kito_repo_account_update(kito_db_conn *db, uint64_t id, const kito_account_patch *p,
                                  const char *ip, kito_account *out, kito_verr *ve)
{
    kito_account cur;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    kito_sql_param idp[] = {KITO_SQL_U64(id)};
    size_t rows = 0;
    /* FOR UPDATE: two concurrent patches of rail and number must not mix into a wallet that
     * neither of them validated */
    e = kito_sql_query(db,
                       "SELECT " ACCOUNT_COLUMNS " FROM accounts a LEFT JOIN miner_profiles m"
                       " ON m.account_id = a.id WHERE a.id = ? FOR UPDATE",
                       idp, 1, account_row, &cur, &rows);
    if (e == KITO_OK && rows == 0)
        e = KITO_E_NOT_FOUND;
    if (e != KITO_OK)
        goto out_rollback;
    json_t *changed = json_array();
    if (changed == NULL) {
        e = KITO_E_NOMEM;
        goto out_rollback;
    }
    if (p->has_payout_msisdn || p->has_payout_rail) {
        if (!cur.has_profile) {
            e = kito_verr_set(ve, "payout", "only miners have a payout wallet");
            goto out_free;
        }
        const char *msisdn = p->has_payout_msisdn ? p->payout_msisdn : cur.payout_msisdn;
        const char *rail = p->has_payout_rail ? p->payout_rail : cur.payout_rail;
        char cc[3];
        kito_sql_param cp[] = {KITO_SQL_U64(id)};
        e = kito_sql_query(db, "SELECT country FROM miner_profiles WHERE account_id = ?", cp, 1,
                           association_country_row, cc, NULL);
        if (e != KITO_OK)
            goto out_free;
        if ((e = kito_account_payout_validate("payout", cc, msisdn, rail, ve)) != KITO_OK)
            goto out_free;
        if (strcmp(msisdn, cur.payout_msisdn) != 0 || strcmp(rail, cur.payout_rail) != 0) {
            if ((e = wallet_change_locked(db, &cur, msisdn, rail, p, ip)) != KITO_OK)
                goto out_free;
            json_array_append_new(changed, json_string("payout"));
        }
    }
    if (p->has_name || p->has_locale) {
        kito_sql_param up[] = {KITO_SQL_TEXT(p->has_name ? p->name : cur.name),
                               KITO_SQL_TEXT(p->has_locale ? p->locale : cur.locale),
                               KITO_SQL_U64(id)};
        e = kito_sql_exec(db,
                          "UPDATE accounts SET name = ?, locale = ?, updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ?",
                          up, 3, NULL);
        if (e != KITO_OK)
            goto out_free;
        if (p->has_name)
            json_array_append_new(changed, json_string("name"));
        if (p->has_locale)
            json_array_append_new(changed, json_string("locale"));
    }
    json_t *detail = json_pack("{s:O}", "changed", changed);
    e = detail != NULL ? kito_audit(db, id, "account.update", "account", id, detail, ip)
                       : KITO_E_NOMEM;
    json_decref(detail);
    if (e != KITO_OK)
        goto out_free;
    json_decref(changed);
    if ((e = kito_sql_commit(db)) != KITO_OK)
        goto out_rollback;
    return kito_repo_account_get(db, id, out);

out_free:
    json_decref(changed);
out_rollback:
    kito_sql_rollback(db);
    return e;
}

typedef struct list_ctx {
    kito_account_fn fn;
    void *ud;
} list_ctx;

static kito_err list_row(void *ud, const kito_sql_row *row)
{
    list_ctx *c = ud;
    kito_account a;
    account_from_row(row, &a);
    return c->fn(c->ud, &a);
}

kito_err kito_repo_account_list(kito_db_conn *db, const char *role, uint64_t after_id,
                                uint32_t limit, kito_account_fn fn, void *ud)
{
    kito_sql_param p[] = {KITO_SQL_U64(after_id), KITO_SQL_TEXT_OR_NULL(role),
                          KITO_SQL_TEXT_OR_NULL(role), KITO_SQL_U64(limit)};
    list_ctx c = {fn, ud};
    return kito_sql_query(db,
                          "SELECT " ACCOUNT_COLUMNS " FROM accounts a LEFT JOIN miner_profiles m"
                          " ON m.account_id = a.id WHERE a.id > ? AND (? IS NULL OR a.role = ?)"
                          " ORDER BY a.id LIMIT ?",
                          p, 4, list_row, &c, NULL);
}

static void association_from_row(const kito_sql_row *row, kito_association *a)
{
    memset(a, 0, sizeof(*a));
    a->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, a->name, sizeof(a->name));
    kito_sql_copy(row, 2, a->country, sizeof(a->country));
    a->levy_bps = (int32_t)kito_sql_i64(row, 3);
    a->created_at_ms = kito_sql_i64(row, 4);
}

static kito_err association_row(void *ud, const kito_sql_row *row)
{
    association_from_row(row, ud);
    return KITO_OK;
}

#define ASSOCIATION_COLUMNS "id, name, country, levy_bps, " KITO_SQL_DT_TO_MS("created_at")

kito_err kito_repo_association_create(kito_db_conn *db, const char *name, const char *country,
                                      int32_t levy_bps, uint64_t actor_id, const char *ip,
                                      kito_association *out)
{
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    kito_sql_param p[] = {KITO_SQL_TEXT(name), KITO_SQL_TEXT(country), KITO_SQL_I64(levy_bps)};
    kito_sql_result res;
    e = kito_sql_exec(db, "INSERT INTO associations (name, country, levy_bps) VALUES (?, ?, ?)", p,
                      3, &res);
    if (e != KITO_OK)
        goto out_rollback;
    json_t *detail =
        json_pack("{s:s, s:s, s:i}", "name", name, "country", country, "levy_bps", (int)levy_bps);
    e = detail != NULL ? kito_audit(db, actor_id, "association.create", "association",
                                    res.insert_id, detail, ip)
                       : KITO_E_NOMEM;
    json_decref(detail);
    if (e != KITO_OK)
        goto out_rollback;
    if ((e = kito_sql_commit(db)) != KITO_OK)
        goto out_rollback;
    kito_sql_param idp[] = {KITO_SQL_U64(res.insert_id)};
    size_t rows = 0;
    e = kito_sql_query(db, "SELECT " ASSOCIATION_COLUMNS " FROM associations WHERE id = ?", idp, 1,
                       association_row, out, &rows);
    return e == KITO_OK && rows != 1 ? KITO_E_INTERNAL : e;

out_rollback:
    kito_sql_rollback(db);
    return e;
}

typedef struct association_list_ctx {
    kito_association_fn fn;
    void *ud;
    uint32_t limit, seen;
} association_list_ctx;

static kito_err association_list_row(void *ud, const kito_sql_row *row)
{
    association_list_ctx *c = ud;
    if (++c->seen > c->limit)
        return KITO_OK; /* the look-ahead row: there is a next page */
    kito_association a;
    association_from_row(row, &a);
    return c->fn(c->ud, &a);
}

kito_err kito_repo_association_list(kito_db_conn *db, const char *country, uint64_t after_id,
                                    uint32_t limit, kito_association_fn fn, void *ud, bool *more)
{
    kito_sql_param p[] = {KITO_SQL_U64(after_id), KITO_SQL_TEXT_OR_NULL(country),
                          KITO_SQL_TEXT_OR_NULL(country), KITO_SQL_U64((uint64_t)limit + 1)};
    association_list_ctx c = {fn, ud, limit, 0};
    kito_err e = kito_sql_query(db,
                                "SELECT " ASSOCIATION_COLUMNS " FROM associations WHERE id > ?"
                                " AND (? IS NULL OR country = ?) ORDER BY id LIMIT ?",
                                p, 4, association_list_row, &c, NULL);
    *more = c.seen > limit;
    return e;
}
