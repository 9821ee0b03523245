/*
 * The audit trail (DESIGN.md, "Bad input and faults": every money-moving and state-changing
 * action lands in it). Written in the same transaction as the change it records, so a change
 * without its audit row cannot exist.
 */
#ifndef KITO_AUDIT_H
#define KITO_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "api/store/db.h"
#include "engine/err.h"

/* Inserts one audit row on the worker's connection (inside the caller's transaction, if any).
 * actor_id 0 means the system itself. action is dotted lower case ("stone.create"), entity the
 * table family ("stone"); detail may be NULL (borrowed; rendered compactly). ip may be NULL.
 * Errors as api/store/sql.h. */
kito_err kito_audit(kito_db_conn *db, uint64_t actor_id, const char *action, const char *entity,
                    uint64_t entity_id, const json_t *detail, const char *ip);

#endif
