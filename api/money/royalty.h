/*
 * Royalty rates (DESIGN.md, "Settlement and payouts": royalty = hammer x the rate of the stone's
 * country and mineral, a table the operator maintains with `kitoctl royalty set`) and the rule
 * that picks the one that applies. The rule is kito_royalty_pick, pure and unit-tested
 * (tests/unit/money/test_royalty.c); the settlement writer and the rate list both use it.
 *
 * Threads: the SQL functions on a MySQL worker or kitoctl, with that thread's connection;
 * kito_royalty_pick anywhere.
 */
#ifndef KITO_ROYALTY_H
#define KITO_ROYALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/db.h"
#include "engine/err.h"

typedef struct kito_royalty_rate {
    uint64_t id;
    char country[3];
    char species[25]; /* a stones.species name, or "*" for every species of the country */
    char form[8];     /* rough | cut */
    int32_t rate_bps;
    int64_t effective_from_ms;
    uint64_t set_by; /* 0 = the system (kitoctl) */
    char source[201];
    bool current; /* the rate in force now for its (country, species, form) */
} kito_royalty_rate;

/* Adds a rate effective from effective_from_ms (0 = now), with an audit row, in one
 * transaction. KITO_E_CONFLICT if the same key already has a rate from that instant;
 * KITO_E_VALIDATION for an unknown country. *id_out (may be NULL) gets the new id. */
kito_err kito_royalty_set(kito_db_conn *db, const char *country, const char *species,
                          const char *form, int32_t rate_bps, int64_t effective_from_ms,
                          const char *source, uint64_t actor_id, uint64_t *id_out);

typedef kito_err (*kito_royalty_fn)(void *ud, const kito_royalty_rate *r);

/* Every rate (country, species, form, newest first), with `current` set on the ones in force
 * (by kito_royalty_pick at the database's clock). */
kito_err kito_royalty_list(kito_db_conn *db, kito_royalty_fn fn, void *ud);

/* Every rate into *rates (n of them; free(*rates) after), and the database's clock now in *now_ms,
 * so that a caller picks with kito_royalty_pick at the same instant for a whole batch. The table
 * is the operator's and small (a row per country, species, form and change of law); the array
 * grows with it. KITO_E_NOMEM, or an api/store/sql.h error. */
kito_err kito_royalty_load(kito_db_conn *db, kito_royalty_rate **rates, size_t *n, int64_t *now_ms);

/* The royalty rule (DESIGN.md, "Settlement and payouts"; schemas/009_settlement.sql): which of
 * the n rates applies to a stone of country and species sold in form ("rough" or "cut") at
 * at_ms. Among the country's rates for that form that are in force (effective_from_ms <= at_ms),
 * a rate for the stone's own species wins over the country's "*" rate whatever their dates; among
 * those, the latest effective_from_ms, then the highest id (the later entry of two set for the
 * same instant). Returns its index in rates, or -1 when none applies (settlement then waits for
 * the operator). Pure. */
ptrdiff_t kito_royalty_pick(const kito_royalty_rate *rates, size_t n, const char *country,
                            const char *species, const char *form, int64_t at_ms);

#endif
