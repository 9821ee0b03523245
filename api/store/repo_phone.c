/*
 * The phone channel's own reads and writes (api/store/repo_phone.h).
 */
#include "api/store/repo_phone.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/common/crypto.h"
#include "api/common/validate.h"
#include "api/store/audit.h"
#include "api/store/sql.h"

/* One counter, her phone's: the pair rule (her account from her own phone). The address and
 * account rules are unused: the gateway is the only address, and the web's counters stay apart. */
const kito_signin_policy kito_phone_pin_policy = {
    .pair = {.window_s = 15 * 60, .slow_after = 3, .lock_after = 5},
    .lock_s = 30 * 60,
    .delay_max_s = 5 * 60,
};

/* ---- the account of a phone -------------------------------------------------------------- */

typedef struct account_row {
    kito_phone_account *a;
    char hash[KITO_SECRET_STORED_SIZE];
} account_row;

static kito_err account_cb(void *ud, const kito_sql_row *row)
{
    account_row *r = ud;
    r->a->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, r->a->role, sizeof(r->a->role));
    kito_sql_copy(row, 2, r->a->status, sizeof(r->a->status));
    kito_sql_copy(row, 3, r->a->locale, sizeof(r->a->locale));
    kito_sql_copy(row, 4, r->hash, sizeof(r->hash));
    return KITO_OK;
}

static kito_err account_read(kito_db_conn *db, const char *phone, account_row *r)
{
    memset(r->a, 0, sizeof(*r->a));
    r->hash[0] = 0;
    kito_sql_param p[] = {KITO_SQL_TEXT(phone)};
    return kito_sql_query(db,
                          "SELECT id, role, status, locale, secret_hash FROM accounts"
                          " WHERE phone = ?",
                          p, 1, account_cb, r, NULL);
}

kito_err kito_phone_account_get(kito_db_conn *db, const char *phone, kito_phone_account *out)
{
    account_row r = {.a = out};
    return account_read(db, phone, &r);
}

/* ---- the PIN and its per-phone throttle -------------------------------------------------- */

static kito_err counter_read(kito_db_conn *db, const char *phone, kito_signin_counter *c)
{
    memset(c, 0, sizeof(*c));
    kito_sql_param p[] = {KITO_SQL_TEXT(phone)};
    return kito_sql_query(
        db, "SELECT " KITO_SIGNIN_COUNTER_COLUMNS " FROM ussd_pin_failures WHERE phone = ?", p, 1,
        kito_signin_counter_row, c, NULL);
}

/* Counts one wrong PIN (the window starts over once its first failure is older than window_s;
 * ON DUPLICATE KEY UPDATE assigns left to right, each seeing the ones before). */
static kito_err counter_fail(kito_db_conn *db, const char *phone, kito_signin_counter *after)
{
    const kito_signin_policy *pol = &kito_phone_pin_policy;
    kito_sql_param p[] = {KITO_SQL_TEXT(phone), KITO_SQL_U64(pol->pair.window_s),
                          KITO_SQL_U64(pol->pair.lock_after), KITO_SQL_U64(pol->lock_s)};
    kito_err e = kito_sql_exec(
        db,
        "INSERT INTO ussd_pin_failures (phone, failures) VALUES (?, 1)"
        " ON DUPLICATE KEY UPDATE"
        " failures = IF(first_failure_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND, 1, failures + 1),"
        " first_failure_at = IF(failures = 1, UTC_TIMESTAMP(3), first_failure_at),"
        " last_failure_at = UTC_TIMESTAMP(3),"
        " locked_until = IF(failures >= ?, UTC_TIMESTAMP(3) + INTERVAL ? SECOND, NULL)",
        p, 4, NULL);
    return e != KITO_OK ? e : counter_read(db, phone, after);
}

kito_err kito_phone_pin_check(kito_db_conn *db, const char *phone, const char *pin,
                              uint64_t *account_id, uint32_t *tries_left, uint32_t *retry_after_s)
{
    const kito_signin_policy *pol = &kito_phone_pin_policy;
    *account_id = 0;
    *tries_left = 0;
    *retry_after_s = 0;
    kito_signin_counter c;
    kito_err e = counter_read(db, phone, &c);
    if (e != KITO_OK)
        return e;
    if ((e = kito_signin_throttle_check(pol, &pol->pair, &c, retry_after_s)) != KITO_OK)
        return e;
    kito_phone_account a;
    account_row r = {.a = &a};
    if ((e = account_read(db, phone, &r)) != KITO_OK)
        return e;
    if (a.id == 0 || strcmp(a.role, "miner") != 0 || strcmp(a.status, "active") != 0)
        return KITO_E_FORBIDDEN;
    bool match = false;
    if (kito_crypto_secret_verify(pin, strlen(pin), r.hash, &match) != KITO_OK)
        return KITO_E_INTERNAL;
    if (!match) {
        kito_signin_counter after;
        if ((e = counter_fail(db, phone, &after)) != KITO_OK)
            return e;
        if (after.locked_for_ms > 0) {
            *retry_after_s = (uint32_t)((after.locked_for_ms + 999) / 1000);
            return KITO_E_LOCKED;
        }
        *tries_left =
            after.failures < pol->pair.lock_after ? pol->pair.lock_after - after.failures : 0;
        return KITO_E_FORBIDDEN;
    }
    kito_sql_param p[] = {KITO_SQL_TEXT(phone)};
    if ((e = kito_sql_exec(db, "DELETE FROM ussd_pin_failures WHERE phone = ?", p, 1, NULL)) !=
        KITO_OK)
        return e;
    *account_id = a.id;
    return KITO_OK;
}

kito_err kito_phone_pin_set(kito_db_conn *db, uint64_t account_id, const char *new_pin,
                            kito_verr *ve)
{
    kito_err e = kito_validate_pin("pin", new_pin, ve);
    if (e != KITO_OK)
        return e;
    char hash[KITO_SECRET_STORED_SIZE];
    if ((e = kito_crypto_secret_hash(new_pin, strlen(new_pin), NULL, hash, sizeof(hash))) !=
        KITO_OK)
        return e;
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    kito_sql_param hp[] = {KITO_SQL_TEXT(hash), KITO_SQL_U64(account_id)};
    kito_sql_result res = {0};
    e = kito_sql_exec(db,
                      "UPDATE accounts SET secret_hash = ?, updated_at = UTC_TIMESTAMP(3)"
                      " WHERE id = ? AND role = 'miner' AND secret_kind = 'pin'",
                      hp, 2, &res);
    if (e == KITO_OK && res.affected_rows != 1)
        e = KITO_E_NOT_FOUND;
    kito_sql_result revoked = {0};
    if (e == KITO_OK) {
        kito_sql_param sp[] = {KITO_SQL_U64(account_id)};
        e = kito_sql_exec(db,
                          "UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3)"
                          " WHERE account_id = ? AND revoked_at IS NULL",
                          sp, 1, &revoked);
    }
    if (e == KITO_OK) {
        json_t *d = json_pack("{s:s, s:s, s:I}", "kind", "pin", "channel", "ussd",
                              "sessions_revoked", (json_int_t)revoked.affected_rows);
        e = d != NULL ? kito_audit(db, account_id, "account.secret_change", "account", account_id,
                                   d, "ussd")
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    return kito_sql_end(db, e);
}

kito_err kito_phone_set_locale(kito_db_conn *db, uint64_t account_id, const char *locale)
{
    if (strcmp(locale, "en") != 0 && strcmp(locale, "sw") != 0)
        return KITO_E_VALIDATION;
    kito_sql_param p[] = {KITO_SQL_TEXT(locale), KITO_SQL_U64(account_id)};
    size_t rows = 0;
    kito_err e = kito_sql_query(db,
                                "SELECT 1 FROM accounts WHERE id = ? AND role = 'miner'"
                                " AND status = 'active'",
                                p + 1, 1, NULL, NULL, &rows);
    if (e == KITO_OK && rows == 0)
        return KITO_E_NOT_FOUND;
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "UPDATE accounts SET locale = ?, updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ?",
                          p, 2, NULL);
    return e;
}

/* ---- lists for the screens ---------------------------------------------------------------- */

typedef struct stones_ud {
    kito_phone_stone *out;
    size_t max, count;
    bool more; /* a row beyond max came back: the queries ask for max + 1 */
} stones_ud;

static kito_err stone_cb(void *ud, const kito_sql_row *row)
{
    stones_ud *u = ud;
    if (u->count >= u->max) {
        u->more = true;
        return KITO_OK;
    }
    kito_phone_stone *s = &u->out[u->count++];
    memset(s, 0, sizeof(*s));
    s->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, s->label, sizeof(s->label));
    s->weight_cct = kito_sql_i64(row, 2);
    kito_sql_copy(row, 3, s->status, sizeof(s->status));
    s->certified = !kito_sql_is_null(row, 4);
    s->estimate_low = kito_sql_i64(row, 4);
    s->estimate_high = kito_sql_i64(row, 5);
    kito_sql_copy(row, 6, s->estimate_currency, sizeof(s->estimate_currency));
    s->offered = kito_sql_i64(row, 7) != 0;
    s->sale_id = kito_sql_u64(row, 8);
    s->lot_number = (uint32_t)kito_sql_u64(row, 9);
    kito_sql_copy(row, 10, s->lot_state, sizeof(s->lot_state));
    s->hammer_minor = kito_sql_i64(row, 11);
    kito_sql_copy(row, 12, s->hammer_currency, sizeof(s->hammer_currency));
    return KITO_OK;
}

/* The current certificate is the one no other supersedes (schemas/003). */
#define CURRENT_CERT                                                                               \
    "(SELECT c.canonical_json FROM certificates c WHERE c.stone_id = s.id AND NOT EXISTS"          \
    " (SELECT 1 FROM certificates n WHERE n.supersedes_id = c.id) LIMIT 1)"
#define NEWEST_LOT "(SELECT MAX(l2.id) FROM lots l2 WHERE l2.stone_id = s.id)"

kito_err kito_phone_stones(kito_db_conn *db, uint64_t miner_id, bool offerable_only,
                           uint32_t offset, kito_phone_stone *out, size_t max, size_t *count,
                           bool *more)
{
    stones_ud u = {out, max, 0, false};
    kito_sql_param p[] = {KITO_SQL_U64(miner_id), KITO_SQL_U64(max + 1), KITO_SQL_U64(offset)};
    kito_err e = kito_sql_query(
        db,
        offerable_only
            ? "SELECT s.id, COALESCE(s.variety, s.species), s.weight_cct, s.status,"
              " NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL"
              " FROM stones s WHERE s.seller_id = ? AND s.status NOT IN ('sold', 'withdrawn')"
              " AND EXISTS (SELECT 1 FROM certificates c WHERE c.stone_id = s.id)"
              " AND NOT EXISTS (SELECT 1 FROM lots l WHERE l.live_stone_id = s.id)"
              " ORDER BY s.id DESC LIMIT ? OFFSET ?"
            : "SELECT s.id, COALESCE(s.variety, s.species), s.weight_cct, s.status,"
              " JSON_VALUE(" CURRENT_CERT ", '$.estimated_value.low'),"
              " JSON_VALUE(" CURRENT_CERT ", '$.estimated_value.high'),"
              " JSON_VALUE(" CURRENT_CERT ", '$.estimated_value.currency'),"
              " EXISTS (SELECT 1 FROM stone_offers o WHERE o.live_stone_id = s.id),"
              " l.sale_id, l.lot_number, l.state, st.hammer_minor, st.currency"
              " FROM stones s"
              " LEFT JOIN lots l ON l.id = " NEWEST_LOT
              " LEFT JOIN settlements st ON st.lot_id = l.id"
              " WHERE s.seller_id = ? ORDER BY s.id DESC LIMIT ? OFFSET ?",
        p, 3, stone_cb, &u, NULL);
    *count = u.count;
    *more = u.more;
    return e;
}

typedef struct targets_ud {
    kito_phone_target *out;
    size_t max, count;
    bool more;
} targets_ud;

/* id, name[, kind, starts_at ms] */
static kito_err target_cb(void *ud, const kito_sql_row *row)
{
    targets_ud *u = ud;
    if (u->count >= u->max) {
        u->more = true;
        return KITO_OK;
    }
    kito_phone_target *t = &u->out[u->count++];
    memset(t, 0, sizeof(*t));
    t->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, t->name, sizeof(t->name));
    t->kind = 1;
    return KITO_OK;
}

/* id, name, kind, starts_at ms */
static kito_err target_full_cb(void *ud, const kito_sql_row *row)
{
    targets_ud *u = ud;
    size_t before = u->count;
    kito_err e = target_cb(ud, row);
    if (e == KITO_OK && u->count > before) {
        u->out[before].kind = (uint8_t)kito_sql_u64(row, 2);
        u->out[before].starts_at_ms = kito_sql_i64(row, 3);
    }
    return e;
}

kito_err kito_phone_targets(kito_db_conn *db, uint64_t miner_id, uint32_t offset,
                            kito_phone_target *out, size_t max, size_t *count, bool *more)
{
    targets_ud u = {out, max, 0, false};
    kito_sql_param p[] = {KITO_SQL_U64(miner_id), KITO_SQL_U64(max + 1), KITO_SQL_U64(offset)};
    /* a sale takes offers while it is a draft (api/store/repo_offers.c); its organiser must be
     * active for either kind. A draft is not public: she sees the drafts of organisers she has
     * already offered a stone to (any offer, withdrawn or not), never every organiser's */
    kito_err e = kito_sql_query(
        db,
        "SELECT id, name, kind, at_ms FROM ("
        " SELECT s.id, s.title AS name, 2 AS kind, " KITO_SQL_DT_TO_MS(
            "s.starts_at") " AS at_ms,"
                           " 0 AS grp, s.starts_at AS k1, '' AS k2 FROM sales s JOIN accounts a ON "
                           "a.id ="
                           " s.organizer_id WHERE s.status = 'draft' AND s.starts_at > "
                           "UTC_TIMESTAMP(3)"
                           " AND a.status = 'active' AND s.organizer_id IN (SELECT organizer_id"
                           " FROM stone_offers WHERE miner_id = ?)"
                           " UNION ALL SELECT id, name, 1, 0, 1, NULL, name FROM accounts"
                           " WHERE role = 'organizer' AND status = 'active') t"
                           " ORDER BY grp, k1, k2, id LIMIT ? OFFSET ?",
        p, 3, target_full_cb, &u, NULL);
    *count = u.count;
    *more = u.more;
    return e;
}

kito_err kito_phone_associations(kito_db_conn *db, const char *country, kito_phone_target *out,
                                 size_t max, size_t *count)
{
    targets_ud u = {out, max, 0, false};
    kito_sql_param p[] = {KITO_SQL_TEXT(country), KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db,
                                "SELECT id, name FROM associations WHERE country = ?"
                                " ORDER BY name, id LIMIT ?",
                                p, 2, target_cb, &u, NULL);
    *count = u.count;
    return e;
}

typedef struct results_ud {
    kito_phone_result *out;
    size_t max, count;
    bool more;
} results_ud;

static kito_err result_cb(void *ud, const kito_sql_row *row)
{
    results_ud *u = ud;
    if (u->count >= u->max) {
        u->more = true;
        return KITO_OK;
    }
    kito_phone_result *r = &u->out[u->count++];
    memset(r, 0, sizeof(*r));
    r->stone_id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, r->label, sizeof(r->label));
    kito_sql_copy(row, 2, r->currency, sizeof(r->currency));
    r->hammer_minor = kito_sql_i64(row, 3);
    r->commission_minor = kito_sql_i64(row, 4);
    r->royalty_minor = kito_sql_i64(row, 5);
    r->levy_minor = kito_sql_i64(row, 6);
    r->net_minor = kito_sql_i64(row, 7);
    kito_sql_copy(row, 8, r->payout_state, sizeof(r->payout_state));
    r->multiple_tenths =
        kito_sql_is_null(row, 9) || kito_sql_is_null(row, 10)
            ? -1
            : kito_phone_multiple_tenths(kito_sql_i64(row, 9), kito_sql_i64(row, 10));
    return KITO_OK;
}

int64_t kito_phone_multiple_tenths(int64_t net_minor, int64_t offer_minor)
{
    if (offer_minor < 1 || net_minor < 0)
        return -1;
    /* 10 * net / offer, half up, without overflow: nets stay below 10^15 (validate.h) */
    __int128 q = ((__int128)net_minor * 20 + offer_minor) / ((__int128)offer_minor * 2);
    return q > INT64_MAX ? INT64_MAX : (int64_t)q;
}

kito_err kito_phone_results(kito_db_conn *db, uint64_t miner_id, uint32_t offset,
                            kito_phone_result *out, size_t max, size_t *count, bool *more)
{
    results_ud u = {out, max, 0, false};
    kito_sql_param p[] = {KITO_SQL_U64(miner_id), KITO_SQL_U64(max + 1), KITO_SQL_U64(offset)};
    kito_err e = kito_sql_query(
        db,
        "SELECT st.stone_id, COALESCE(s.variety, s.species), st.currency, st.hammer_minor,"
        " st.commission_minor, st.royalty_minor, st.levy_minor, st.miner_net_minor,"
        " (SELECT p.state FROM payouts p WHERE p.settlement_id = st.id ORDER BY p.id DESC LIMIT 1),"
        /* her net in the currency of her local offer: what the payout paid her in it, else the
         * net itself when the sale was in it, else at the newest exchange rate */
        " COALESCE((SELECT p.amount_minor FROM payouts p WHERE p.settlement_id = st.id AND"
        " p.currency = s.local_offer_currency ORDER BY p.id DESC LIMIT 1),"
        " IF(st.currency = s.local_offer_currency, st.miner_net_minor, NULL),"
        " (SELECT ROUND(st.miner_net_minor * r.rate_micros / 1000000) FROM exchange_rates r"
        " WHERE r.from_currency = st.currency AND r.to_currency = s.local_offer_currency AND"
        " r.effective_from <= UTC_TIMESTAMP(3) ORDER BY r.effective_from DESC LIMIT 1)),"
        " s.local_offer_minor"
        " FROM settlements st JOIN stones s ON s.id = st.stone_id"
        " WHERE st.miner_id = ? ORDER BY st.id DESC LIMIT ? OFFSET ?",
        p, 3, result_cb, &u, NULL);
    *count = u.count;
    *more = u.more;
    return e;
}
