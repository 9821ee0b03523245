#include "api/store/audit.h"

#include <stdlib.h>

#include "api/store/sql.h"

kito_err kito_audit(kito_db_conn *db, uint64_t actor_id, const char *action, const char *entity,
                    uint64_t entity_id, const json_t *detail, const char *ip)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (detail != NULL && text == NULL)
        return KITO_E_NOMEM;
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
