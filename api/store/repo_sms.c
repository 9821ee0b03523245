/*
 * The SMS outbox (api/store/repo_sms.h).
 */
#include "api/store/repo_sms.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/common/validate.h"
#include "api/store/sql.h"

/* s as a parameter, SQL NULL when s is NULL or empty */
static kito_sql_param text_or_null(const char *s)
{
    return s != NULL && s[0] != 0 ? KITO_SQL_TEXT(s) : KITO_SQL_NULL;
}

typedef struct who {
    bool found;
    char phone[17];
    char locale[3];
} who;

static kito_err who_cb(void *ud, const kito_sql_row *row)
{
    who *w = ud;
    w->found = !kito_sql_is_null(row, 0);
    kito_sql_copy(row, 0, w->phone, sizeof(w->phone));
    kito_sql_copy(row, 1, w->locale, sizeof(w->locale));
    return KITO_OK;
}

kito_err kito_sms_enqueue(kito_db_conn *db, uint64_t account_id, kito_sms_kind kind,
                          const char *dedupe_key, const char *const *values)
{
    return kito_sms_enqueue_to(db, account_id, NULL, kind, dedupe_key, values);
}

kito_err kito_sms_enqueue_to(kito_db_conn *db, uint64_t account_id, const char *phone,
                             kito_sms_kind kind, const char *dedupe_key, const char *const *values)
{
    who w = {0};
    kito_sql_param p[] = {KITO_SQL_U64(account_id)};
    kito_err e = kito_sql_query(db, "SELECT phone, locale FROM accounts WHERE id = ?", p, 1, who_cb,
                                &w, NULL);
    if (e != KITO_OK)
        return e;
    if (phone != NULL && phone[0] != 0) {
        w.found = true;
        snprintf(w.phone, sizeof(w.phone), "%s", phone);
    }
    if (!w.found)
        return KITO_OK;
    char text[KITO_SMS_TEXT_SIZE];
    kito_sms_text(kind, w.locale, values, text);
    kito_sql_param ip[] = {KITO_SQL_U64(account_id), KITO_SQL_TEXT(w.phone),
                           KITO_SQL_TEXT(kito_sms_kind_name(kind)), KITO_SQL_TEXT(dedupe_key),
                           KITO_SQL_TEXT(text)};
    return kito_sql_exec(db,
                         "INSERT IGNORE INTO sms_outbox (account_id, phone, kind, dedupe_key,"
                         " message) VALUES (?, ?, ?, ?, ?)",
                         ip, KITO_N(ip), NULL);
}

struct kito_sms_batch {
    json_t *rows; /* [{"a", "p", "k", "d", "m"}] */
};

kito_sms_batch *kito_sms_batch_new(void)
{
    kito_sms_batch *b = calloc(1, sizeof(*b));
    if (b != NULL && (b->rows = json_array()) == NULL) {
        free(b);
        b = NULL;
    }
    return b;
}

void kito_sms_batch_free(kito_sms_batch *b)
{
    if (b == NULL)
        return;
    json_decref(b->rows);
    free(b);
}

kito_err kito_sms_batch_add(kito_sms_batch *b, uint64_t account_id, const char *phone,
                            const char *lang, kito_sms_kind kind, const char *dedupe_key,
                            const char *const *values)
{
    if (phone == NULL || phone[0] == 0)
        return KITO_OK;
    char text[KITO_SMS_TEXT_SIZE];
    kito_sms_text(kind, lang, values, text);
    json_t *row = json_pack("{s:I,s:s,s:s,s:s,s:s}", "a", (json_int_t)account_id, "p", phone, "k",
                            kito_sms_kind_name(kind), "d", dedupe_key, "m", text);
    return row != NULL && json_array_append_new(b->rows, row) == 0 ? KITO_OK : KITO_E_NOMEM;
}

size_t kito_sms_batch_count(const kito_sms_batch *b)
{
    return json_array_size(b->rows);
}

kito_err kito_sms_batch_write(kito_db_conn *db, const kito_sms_batch *b)
{
    if (json_array_size(b->rows) == 0)
        return KITO_OK;
    char *doc = json_dumps(b->rows, JSON_COMPACT);
    if (doc == NULL)
        return KITO_E_NOMEM;
    kito_sql_param p[] = {KITO_SQL_TEXT(doc)};
    kito_err e = kito_sql_exec(
        db,
        "INSERT IGNORE INTO sms_outbox (account_id, phone, kind, dedupe_key, message)"
        " SELECT j.a, j.p, j.k, j.d, j.m FROM JSON_TABLE(?, '$[*]' COLUMNS (n FOR ORDINALITY,"
        " a BIGINT UNSIGNED PATH '$.a', p VARCHAR(16) PATH '$.p', k VARCHAR(24) PATH '$.k',"
        " d VARCHAR(80) PATH '$.d', m VARCHAR(480) PATH '$.m')) j ORDER BY j.n",
        p, 1, NULL);
    free(doc);
    return e;
}

static kito_err opened_cb(void *ud, const kito_sql_row *row)
{
    kito_sms_batch *b = ud;
    char ref[KITO_ID_SIZE], key[48], number[24], title[121], cur[4], phone[17], lang[3];
    char opening[KITO_SMS_MONEY_SIZE];
    uint64_t lot = kito_sql_u64(row, 0);
    kito_id_format(KITO_ID_STONE, kito_sql_u64(row, 1), ref, sizeof(ref));
    snprintf(number, sizeof(number), "%" PRIu64, kito_sql_u64(row, 2));
    kito_sms_money(kito_sql_i64(row, 3), opening);
    kito_sql_copy(row, 4, title, sizeof(title));
    kito_sql_copy(row, 5, cur, sizeof(cur));
    kito_sql_copy(row, 7, phone, sizeof(phone));
    kito_sql_copy(row, 8, lang, sizeof(lang));
    snprintf(key, sizeof(key), "lot_opened:%" PRIu64, lot);
    const char *v[] = {ref, title, number, cur, opening};
    return kito_sms_batch_add(b, kito_sql_u64(row, 6), phone, lang, KITO_SMS_LOT_OPENED, key, v);
}

kito_err kito_sms_lots_opened(kito_db_conn *db, const uint64_t *ids, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, json_integer((json_int_t)ids[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    char *doc = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    kito_sms_batch *b = kito_sms_batch_new();
    kito_err e = doc != NULL && b != NULL ? KITO_OK : KITO_E_NOMEM;
    if (e == KITO_OK) {
        kito_sql_param p[] = {KITO_SQL_TEXT(doc)};
        e = kito_sql_query(
            db,
            "SELECT STRAIGHT_JOIN l.id, l.stone_id, l.lot_number, l.opening_minor, s.title,"
            " s.currency, a.id, a.phone, a.locale FROM JSON_TABLE(?, '$[*]' COLUMNS"
            " (l BIGINT UNSIGNED PATH '$')) j JOIN lots l ON l.id = j.l"
            " JOIN sales s ON s.id = l.sale_id JOIN stones st ON st.id = l.stone_id"
            " JOIN accounts a ON a.id = st.seller_id WHERE a.phone IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM sms_outbox o WHERE o.dedupe_key ="
            " CONVERT(CONCAT('lot_opened:', l.id) USING ascii) COLLATE ascii_bin)",
            p, 1, opened_cb, b, NULL);
    }
    if (e == KITO_OK)
        e = kito_sms_batch_write(db, b);
    kito_sms_batch_free(b);
    free(doc);
    return e;
}

typedef struct due_list {
    kito_sms_due *out;
    size_t max, n;
} due_list;

static kito_err due_cb(void *ud, const kito_sql_row *row)
{
    due_list *l = ud;
    if (l->n >= l->max)
        return KITO_OK;
    kito_sms_due *d = &l->out[l->n++];
    d->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, d->phone, sizeof(d->phone));
    kito_sql_copy(row, 2, d->message, sizeof(d->message));
    d->attempts = (uint32_t)kito_sql_u64(row, 3);
    return KITO_OK;
}

kito_err kito_sms_due_list(kito_db_conn *db, kito_sms_due *out, size_t max, size_t *count)
{
    *count = 0;
    due_list l = {out, max, 0};
    kito_sql_param p[] = {KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db,
                                "SELECT id, phone, message, attempts FROM sms_outbox"
                                " WHERE state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(3)"
                                " ORDER BY next_attempt_at, id LIMIT ?",
                                p, 1, due_cb, &l, NULL);
    *count = l.n;
    return e;
}

kito_err kito_sms_claim(kito_db_conn *db, uint64_t id, bool *taken)
{
    *taken = false;
    kito_sql_param u[] = {KITO_SQL_U64(id)};
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "UPDATE sms_outbox SET state = 'sending', updated_at ="
                               " UTC_TIMESTAMP(3) WHERE id = ? AND state = 'pending'",
                               u, 1, &res);
    *taken = e == KITO_OK && res.affected_rows == 1;
    return e;
}

kito_err kito_sms_record(kito_db_conn *db, uint64_t id, kito_sms_outcome outcome,
                         const char *provider_id, const char *status, const char *reason,
                         int64_t retry_at_ms)
{
    static const char *const states[] = {"sent", "pending", "failed", "unknown"};
    char at[KITO_SQL_TIME_SIZE];
    kito_sql_time(outcome == KITO_SMS_RETRY ? retry_at_ms : 0, at);
    kito_sql_param p[] = {
        KITO_SQL_TEXT(states[outcome]),
        text_or_null(provider_id),
        text_or_null(status),
        text_or_null(reason),
        KITO_SQL_I64(outcome == KITO_SMS_RETRY ? 1 : 0),
        KITO_SQL_TEXT(at),
        KITO_SQL_U64(id),
    };
    return kito_sql_exec(db,
                         "UPDATE sms_outbox SET state = ?, attempts = attempts + 1,"
                         " provider_message_id = ?, provider_status = ?, failure_reason = ?,"
                         " next_attempt_at = IF(? = 1, ?, next_attempt_at),"
                         " updated_at = UTC_TIMESTAMP(3) WHERE id = ? AND state = 'sending'",
                         p, KITO_N(p), NULL);
}

kito_err kito_sms_recover(kito_db_conn *db, size_t *count)
{
    kito_sql_result res = {0};
    kito_err e = kito_sql_exec(db,
                               "UPDATE sms_outbox SET state = 'unknown', failure_reason ="
                               " 'the sender stopped during the call', updated_at ="
                               " UTC_TIMESTAMP(3) WHERE state = 'sending'",
                               NULL, 0, &res);
    *count = (size_t)res.affected_rows;
    return e;
}

kito_err kito_sms_report(kito_db_conn *db, const char *provider_id, const char *status,
                         const char *reason, bool *known)
{
    *known = false;
    kito_sql_param p[] = {KITO_SQL_TEXT(provider_id)};
    size_t rows = 0;
    kito_err e = kito_sql_query(db, "SELECT state FROM sms_outbox WHERE provider_message_id = ?", p,
                                1, NULL, NULL, &rows);
    if (e != KITO_OK || rows == 0)
        return e;
    *known = true;
    const char *next = NULL;
    if (strcmp(status, "Success") == 0)
        next = "delivered";
    else if (strcmp(status, "Failed") == 0 || strcmp(status, "Rejected") == 0)
        next = "undeliverable";
    kito_sql_param u[] = {KITO_SQL_TEXT(next != NULL ? next : "sent"), KITO_SQL_TEXT(status),
                          text_or_null(reason), KITO_SQL_TEXT(provider_id)};
    /* only a message still 'sent' moves: a final one (a duplicate report) stays as it is */
    return kito_sql_exec(db,
                         "UPDATE sms_outbox SET state = ?, provider_status = ?,"
                         " failure_reason = COALESCE(?, failure_reason),"
                         " updated_at = UTC_TIMESTAMP(3)"
                         " WHERE provider_message_id = ? AND state = 'sent'",
                         u, KITO_N(u), NULL);
}
