/*
 * Provenance of a stone (DESIGN.md, "Valuation certificates"): the events found, valued, listed,
 * sold and shipped, chained by hash so that editing, removing or reordering any event is
 * detected. Stored in provenance_events (schemas/003_stones_certificates.sql); append-only.
 *
 * The hash recipe (anyone can re-verify a chain from GET /v1/stones/{id}/provenance with it):
 *
 *     hash(event) = lowercase hex of SHA-256 over the canonical JSON (api/common/canonical_json.h,
 *                   RFC 8785 restricted to integers) of the object
 *         {"at":        event time, RFC 3339 UTC as api/common/validate.h kito_time_format writes
 * it
 *                       ("2026-11-27T15:00:00Z", or "...:00.250Z" when the milliseconds are not 0),
 *          "kind":      "found" | "valued" | "listed" | "sold" | "shipped",
 *          "payload":   the event's payload object (integers only, no reals),
 *          "prev_hash": the previous event's hash, or 64 '0' digits for seq 1,
 *          "seq":       1, 2, 3 ... without gaps,
 *          "stone_id":  the stone's public id, "stn_0000000000001"}
 *
 * i.e. exactly the bytes `{"at":"...","kind":"...","payload":{...},"prev_hash":"...","seq":N,
 * "stone_id":"stn_..."}` with members sorted and no whitespace. (schemas/003 sketches an older
 * recipe in a comment, prev_hash outside the JSON; this one is what the code does.)
 *
 * Threads: the functions taking a kito_db_conn run on a MySQL worker (api/http/req_db.h), inside
 * the caller's transaction when one is open; the pure ones run anywhere.
 */
#ifndef KITO_REPO_PROVENANCE_H
#define KITO_REPO_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/common/crypto.h"
#include "api/store/db.h"
#include "engine/err.h"

/* Events one stone may have; appends beyond it are refused with KITO_E_CAPACITY, and verify
 * reads at most this many (a stone is found, valued a few times, listed a few times, sold and
 * shipped: a few dozen at most). */
#define KITO_PROVENANCE_EVENTS_MAX 1000

/* 64 '0' digits: the prev_hash of the first event. */
#define KITO_PROVENANCE_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* True if kind is one of found, valued, listed, sold, shipped. */
bool kito_provenance_kind_valid(const char *kind);

/* Computes an event's hash by the recipe above into out (64 hex digits and a NUL). payload NULL
 * means {}; prev_hash must be 64 lowercase hex digits. KITO_E_VALIDATION if kind, prev_hash, seq
 * (>= 1), at_ms (kito_time_format's range) or the payload (a real, an integer beyond 2^53, bad
 * UTF-8) cannot be hashed; KITO_E_NOMEM / KITO_E_INTERNAL otherwise. Pure; any thread. */
kito_err kito_provenance_hash(uint64_t stone_id, uint32_t seq, const char *kind,
                              const json_t *payload, const char *prev_hash, int64_t at_ms,
                              char out[KITO_SHA256_HEX_SIZE]);

/* Appends one event to the stone's chain on db, inside the caller's transaction (call it between
 * kito_sql_begin and kito_sql_commit; without a transaction it still works, each statement then
 * committing on its own). It locks the stone's row (SELECT ... FOR UPDATE, which also serialises
 * the very first append when no event row exists yet to lock) and the stone's last event, then
 * inserts seq = last + 1, prev_hash = last hash (KITO_PROVENANCE_GENESIS for the first), at = now
 * (UTC, milliseconds), hash by the recipe above, payload stored as its canonical JSON.
 * kind: found, valued, listed, sold or shipped. payload (borrowed; NULL = {}) must be an object
 * of strings, integers, booleans, nulls, arrays and objects (no reals). actor_id 0 = the system.
 * Errors: KITO_E_VALIDATION for a bad kind or payload; KITO_E_NOT_FOUND if the stone does not
 * exist; KITO_E_CAPACITY beyond KITO_PROVENANCE_EVENTS_MAX; otherwise as api/store/sql.h
 * (KITO_E_CONFLICT on a lock wait timeout or deadlock: roll back and retry). On error the caller
 * rolls its transaction back. */
kito_err kito_provenance_append(kito_db_conn *db, uint64_t stone_id, const char *kind,
                                const json_t *payload, uint64_t actor_id);

/* The outcome of recomputing a stone's chain. */
typedef struct kito_provenance_check {
    bool intact;            /* every event's seq, prev_hash and hash are as the recipe says */
    uint32_t events;        /* events read */
    uint32_t broken_at_seq; /* the first seq found broken (0 when intact); for a missing event,
                               the seq that was expected at that place */
} kito_provenance_check;

/* Reads the stone's events in seq order and recomputes the chain into *result: seq must run
 * 1, 2, 3 ... without gaps, each prev_hash must equal the previous hash (genesis for seq 1), and
 * each stored hash must equal the recipe's hash of the stored fields (the payload as stored, re-
 * canonicalised; an unparseable payload counts as broken). A stone with no events is intact.
 * KITO_OK with *result filled, whatever it says; errors only for the database (api/store/sql.h) or
 * memory. Read-only. */
kito_err kito_provenance_verify(kito_db_conn *db, uint64_t stone_id, kito_provenance_check *result);

/* One stored event, as read for the public provenance view. */
typedef struct kito_provenance_event {
    uint64_t id;
    uint32_t seq;
    char kind[8];
    json_t *payload; /* owned: the stored payload parsed, or NULL if it does not parse */
    char prev_hash[KITO_SHA256_HEX_SIZE];
    char hash[KITO_SHA256_HEX_SIZE];
    uint64_t actor_id; /* 0 = the system */
    int64_t at_ms;
} kito_provenance_event;

/* A stone's events in seq order plus the chain check. Free with kito_provenance_list_free. */
typedef struct kito_provenance_list {
    kito_provenance_event *events; /* malloc'd, count entries */
    size_t count;
    kito_provenance_check check;
} kito_provenance_list;

/* Reads up to KITO_PROVENANCE_EVENTS_MAX events of the stone into *out and checks the chain as
 * kito_provenance_verify does. Errors as api/store/sql.h, KITO_E_NOMEM; *out is then empty. */
kito_err kito_provenance_list_read(kito_db_conn *db, uint64_t stone_id, kito_provenance_list *out);

/* Frees what kito_provenance_list_read allocated; out may be zeroed. */
void kito_provenance_list_free(kito_provenance_list *list);

#endif
