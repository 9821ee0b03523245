/*
 * The settlement outbox's entry (ops/REDIS.md, "outbox:settlement"): what api/live/bookstore.c
 * writes when a lot becomes final, and what the settlement worker reads. Pure: parsing and
 * printing only, any thread.
 */
#ifndef KITO_OUTBOX_H
#define KITO_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

#define KITO_OUTBOX_ENTRY_ID_SIZE 42 /* "<ms>-<seq>" and a NUL */

enum kito_outbox_result {
    KITO_OUTBOX_SOLD = 1,
    KITO_OUTBOX_UNSOLD = 2,
    KITO_OUTBOX_WITHDRAWN = 3,
};

/* One outbox entry as api/live/bookstore.c writes it (kito_bookstore_append_result). */
struct kito_outbox_entry {
    char id[KITO_OUTBOX_ENTRY_ID_SIZE]; /* the stream entry id */
    uint64_t lot_id;
    uint64_t sale_id;
    uint64_t seller_id;
    uint64_t winner;      /* the buying account; 0 unless sold */
    int64_t hammer_minor; /* 0 unless sold */
    char currency[4];
    enum kito_outbox_result result;
    uint32_t reason; /* enum kito_unsold_reason, or 0 */
    uint32_t seq;
    int64_t ends_at_ms;
    int64_t closed_at_ms;
    uint32_t format;
};

/* True if id is a stream entry id "<ms>-<seq>" (decimal, at most KITO_OUTBOX_ENTRY_ID_SIZE - 1
 * characters). Pure. */
bool kito_outbox_entry_id_valid(const char *id);

/* Parses an entry from its id and its field/value pairs (fields[2i] the name, fields[2i+1] the
 * value, lens their lengths; n the number of strings). Pure. KITO_E_VALIDATION, with one English
 * sentence in why (why_size bytes), when a field is missing, repeated, not a number or out of
 * range, the result is unknown, or a sold entry lacks a winner or a positive hammer (and an
 * unsold one has them). Unknown fields are ignored (a later writer may add some). */
kito_err kito_outbox_entry_parse(const char *id, const char *const *fields, const size_t *lens,
                                 size_t n, struct kito_outbox_entry *out, char *why,
                                 size_t why_size);

/* The entry as a JSON object text (for settlement_rejects), NUL-terminated in out. Pure. */
void kito_outbox_entry_json(const struct kito_outbox_entry *e, char *out, size_t out_size);

#endif
