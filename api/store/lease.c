/* Leases between kitod nodes: see lease.h. */
#include "api/store/lease.h"

#include <string.h>

#include "api/store/sql.h"

static kito_err held_cb(void *ud, const kito_sql_row *row)
{
    *(bool *)ud = kito_sql_i64(row, 0) == 1;
    return KITO_OK;
}

kito_err kito_store_lease_hold(kito_db_conn *db, const char *name, bool *held)
{
    /* IS_USED_LOCK first: GET_LOCK again on a lock this connection holds would count it twice
     * (MariaDB's named locks nest), and NULL (a lock nobody holds) is not our connection id.
     * GET_LOCK answers 1 (taken), 0 (another connection holds it) or NULL (an error). */
    kito_sql_param p[] = {KITO_SQL_TEXT(name), KITO_SQL_TEXT(name)};
    *held = false;
    return kito_sql_query(db,
                          "SELECT IF(IS_USED_LOCK(?) <=> CONNECTION_ID(), 1, "
                          "COALESCE(GET_LOCK(?, 0), 0))",
                          p, 2, held_cb, held, NULL);
}
