#include "api/store/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/sql.h"

/* Set once at start (kito_audit_set_origin), read by every thread after. */
static char origin[KITO_AUDIT_FROM_SIZE];

void kito_audit_set_origin(const char *o)
{
    snprintf(origin, sizeof(origin), "%s", o != NULL ? o : "");
}

kito_err kito_audit(kito_db_conn *db, uint64_t actor_id, const char *action, const char *entity,
                    uint64_t entity_id, const json_t *detail, const char *ip)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (detail != NULL && text == NULL)
        return KITO_E_NOMEM;
    if (ip == NULL && origin[0] != '\0')
        ip = origin;
    kito_sql_param p[] = {
        actor_id != 0 ? KITO_SQL_U64(actor_id) : KITO_SQL_NULL,
        KITO_SQL_TEXT(action),
        KITO_SQL_TEXT(entity),
        entity_id != 0 ? KITO_SQL_U64(entity_id) : KITO_SQL_NULL,
        KITO_SQL_TEXT_OR_NULL(text),
        KITO_SQL_TEXT_OR_NULL(ip),
    };
    kito_err e = kito_sql_exec(db,
                               "INSERT INTO audit_log (actor_id, action, entity, entity_id,"
                               " detail_json, ip) VALUES (?, ?, ?, ?, ?, ?)",
                               p, sizeof(p) / sizeof(p[0]), NULL);
    free(text);
    return e;
}

struct list_ctx {
    kito_audit_row_fn fn;
    void *ud;
};

static kito_err list_row(void *ud, const kito_sql_row *row)
{
    const struct list_ctx *ctx = ud;
    kito_audit_row r = {
        .id = kito_sql_u64(row, 0),
        .at_ms = kito_sql_i64(row, 1),
        .actor_id = kito_sql_u64(row, 2),
        .entity_id = kito_sql_u64(row, 6),
        .detail_json = kito_sql_text(row, 8, NULL),
    };
    kito_sql_copy(row, 3, r.actor_role, sizeof(r.actor_role));
    kito_sql_copy(row, 4, r.action, sizeof(r.action));
    kito_sql_copy(row, 5, r.entity, sizeof(r.entity));
    kito_sql_copy(row, 7, r.from, sizeof(r.from));
    return ctx->fn(ctx->ud, &r);
}

kito_err kito_audit_list(kito_db_conn *db, const kito_audit_filter *f, kito_audit_row_fn fn,
                         void *ud)
{
    if (f->limit < 1 || f->limit > KITO_AUDIT_LIST_MAX)
        return KITO_E_VALIDATION;
    /* The statement is made of fixed pieces, one per filter given, so that MySQL can use the
     * index that fits (audit_log_entity, audit_log_actor, audit_log_at); values are bound. */
    char sql[1024] = "SELECT l.id, " KITO_SQL_DT_TO_MS(
        "l.at") ", l.actor_id, a.role, l.action, l.entity,"
                " l.entity_id, l.ip, l.detail_json"
                " FROM audit_log l LEFT JOIN accounts a ON a.id = l.actor_id WHERE 1 = 1";
    kito_sql_param p[5];
    size_t n = 0;
    char since[KITO_SQL_TIME_SIZE];
    if (f->entity != NULL) {
        strcat(sql, " AND l.entity = ?");
        p[n++] = KITO_SQL_TEXT(f->entity);
        if (f->entity_id != 0) {
            strcat(sql, " AND l.entity_id = ?");
            p[n++] = KITO_SQL_U64(f->entity_id);
        }
    }
    if (f->actor_system)
        strcat(sql, " AND l.actor_id IS NULL");
    else if (f->actor_id != 0) {
        strcat(sql, " AND l.actor_id = ?");
        p[n++] = KITO_SQL_U64(f->actor_id);
    }
    if (f->since_ms > 0) {
        kito_sql_time(f->since_ms, since);
        strcat(sql, " AND l.at >= ?");
        p[n++] = KITO_SQL_TEXT(since);
    }
    strcat(sql, " ORDER BY l.id DESC LIMIT ?");
    p[n++] = KITO_SQL_U64(f->limit);
    struct list_ctx ctx = {fn, ud};
    return kito_sql_query(db, sql, p, n, list_row, &ctx, NULL);
}
