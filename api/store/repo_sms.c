/*
 * The SMS outbox (api/store/repo_sms.h).
 */
#include "api/store/repo_sms.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

kito_err kito_sms_claim(kito_db_conn *db, kito_sms_due *out, size_t max, size_t *count)
{
    *count = 0;
    due_list l = {out, max, 0};
    kito_sql_param p[] = {KITO_SQL_U64(max)};
    kito_err e = kito_sql_query(db,
                                "SELECT id, phone, message, attempts FROM sms_outbox"
                                " WHERE state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(3)"
                                " ORDER BY next_attempt_at, id LIMIT ?",
                                p, 1, due_cb, &l, NULL);
    /* marked one by one: a row another sender took meanwhile is dropped from the list */
    for (size_t i = 0; e == KITO_OK && i < l.n; i++) {
        kito_sql_param u[] = {KITO_SQL_U64(out[i].id)};
        kito_sql_result res = {0};
        e = kito_sql_exec(db,
                          "UPDATE sms_outbox SET state = 'sending', updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ? AND state = 'pending'",
                          u, 1, &res);
        if (e == KITO_OK && res.affected_rows == 1)
            out[(*count)++] = out[i];
    }
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
