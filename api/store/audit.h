/*
 * The audit trail (DESIGN.md, "Bad input and faults": every money-moving and state-changing
 * action lands in it). Written in the same transaction as the change it records, so a change
 * without its audit row cannot exist. Read by `kitoctl audit` (kito_audit_list).
 *
 * Who, what, when and from where: actor_id (NULL: kitod itself, its workers), action and entity,
 * at, and ip: the client's address for a request, "ussd" for the phone channel, or the
 * process's origin (kito_audit_set_origin: kitoctl records "kitoctl:<user>@<host>").
 */
#ifndef KITO_AUDIT_H
#define KITO_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/store/db.h"
#include "engine/err.h"

#define KITO_AUDIT_FROM_SIZE 46 /* audit_log.ip: VARCHAR(45) */
#define KITO_AUDIT_LIST_MAX 10000

/* Inserts one audit row on the worker's connection (inside the caller's transaction, if any).
 * actor_id 0 means the system itself. action is dotted lower case ("stone.create"), entity the
 * table family ("stone"); detail may be NULL (borrowed; rendered compactly). ip may be NULL: the
 * process's origin is recorded then, if it has one. Errors as api/store/sql.h. */
kito_err kito_audit(kito_db_conn *db, uint64_t actor_id, const char *action, const char *entity,
                    uint64_t entity_id, const json_t *detail, const char *ip);

/* Sets where this process's actions come from when they carry no client address, e.g.
 * "kitoctl:alice@db1" (copied, cut to KITO_AUDIT_FROM_SIZE - 1 bytes). Called once at start,
 * before any thread, by a program run by a person (kitoctl); kitod sets none. */
void kito_audit_set_origin(const char *origin);

/* One row of the trail, as kito_audit_list reads it. */
typedef struct kito_audit_row {
    uint64_t id;
    int64_t at_ms;
    uint64_t actor_id;   /* 0: the system */
    char actor_role[16]; /* "" for the system */
    char action[65];
    char entity[33];
    uint64_t entity_id;              /* 0: none */
    char from[KITO_AUDIT_FROM_SIZE]; /* "" when not recorded */
    const char *detail_json;         /* borrowed for the callback; NULL when none */
} kito_audit_row;

/* Which rows: every condition given must hold. */
typedef struct kito_audit_filter {
    const char *entity; /* table family ("sale"); NULL: any */
    uint64_t entity_id; /* with entity: that row only; 0: any */
    uint64_t actor_id;  /* 0: anyone ... */
    bool actor_system;  /* ... unless this: only rows without an actor (kitod, its workers) */
    int64_t since_ms;   /* at or after; 0: from the first */
    uint32_t limit;     /* 1 .. KITO_AUDIT_LIST_MAX, newest first */
} kito_audit_filter;

typedef kito_err (*kito_audit_row_fn)(void *ud, const kito_audit_row *row);

/* Calls fn for each row matching f, newest first, at most f->limit. KITO_E_VALIDATION for a
 * limit out of range; otherwise errors as api/store/sql.h or fn's. */
kito_err kito_audit_list(kito_db_conn *db, const kito_audit_filter *f, kito_audit_row_fn fn,
                         void *ud);

#endif
