/*
 * A buyer's registration for a sale and the organiser's approval (DESIGN.md, "a buyer must be
 * approved for the sale"; issue 4): register, standing, approve (paddle number and spending
 * limit), revoke, and the organiser's list. schemas/006_sale_registrations.sql.
 *
 * Threads: a MySQL worker (api/http/req_db.h), with that thread's connection. Each write is one
 * transaction with its audit row, run by kito_sql_transaction (api/store/sql.h): a deadlock or a
 * lock wait timeout is retried, never answered as a conflict (issue 15, finding 12).
 */
#ifndef KITO_REPO_REGISTRATIONS_H
#define KITO_REPO_REGISTRATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/db.h"
#include "api/store/repo_sales.h"
#include "engine/err.h"

/* A buyer's standing in one sale. */
typedef struct kito_registration {
    uint64_t sale_id;
    uint64_t buyer_id;
    char status[16];         /* "none", "pending", "approved", "declined", "revoked" */
    uint32_t paddle_number;  /* approved only; 0 when none */
    int64_t limit_minor;     /* approved only; 0 when no limit */
    int64_t requested_at_ms; /* 0 when the buyer never asked */
    int64_t decided_at_ms;   /* 0 while pending */
    char currency[4];        /* the sale's, for the limit */
    char buyer_name[121 * 4];
    char buyer_email[255];
} kito_registration;

/* The buyer (actor) asks to bid in sale id. Idempotent: a second call changes nothing and reads
 * the standing back (*created false). The sale must be published or open (KITO_E_CONFLICT
 * otherwise; KITO_E_NOT_FOUND for a draft or unknown sale). Audits "sale.register". */
kito_err kito_registrations_register(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                     kito_registration *out, bool *created, kito_verr *ve);

/* The buyer's own standing in sale id (status "none" when she never asked). KITO_E_NOT_FOUND
 * for a sale she cannot see. */
kito_err kito_registrations_standing(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                     kito_registration *out);

/* What the organiser sends to approve a buyer. */
typedef struct kito_approval_input {
    uint64_t buyer_id;
    uint32_t paddle_number; /* 0 = assign the next free one */
    int64_t limit_minor;    /* 0 = no limit */
    bool has_limit;         /* the member was sent (null clears it on an update) */
} kito_approval_input;

/* Approves a buyer for sale id (organiser or operator, the sale not closed, settled or
 * cancelled): creates or updates her approval (paddle number unique in the sale, auto-assigned
 * as the highest + 1 when not given; optional spending limit in the sale's currency) and marks
 * her registration approved. *created tells a new approval from an update. Audits
 * "sale.approve". Errors: KITO_E_NOT_FOUND, KITO_E_FORBIDDEN, KITO_E_VALIDATION (buyer_id is
 * not a buyer account), KITO_E_CONFLICT (the paddle number is taken; the sale has ended). */
kito_err kito_registrations_approve(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                    const kito_approval_input *in, kito_registration *out,
                                    bool *created, kito_verr *ve);

/* Revokes buyer_id's approval (or declines her pending request) in sale id before it closes.
 * Audits "sale.revoke". KITO_E_NOT_FOUND when she has neither; other errors as approve. */
kito_err kito_registrations_revoke(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                   uint64_t buyer_id, kito_verr *ve);

/* Filter and position of GET /v1/sales/{id}/registrations. */
typedef struct kito_registrations_filter {
    const char *status; /* NULL = pending and approved; else one status */
    bool has_after;
    uint64_t after_id; /* registration row id */
    uint32_t limit;
} kito_registrations_filter;

/* Called once per registration in id order; *row valid during the call; row_id is the cursor. */
typedef kito_err (*kito_registration_row_fn)(void *ud, uint64_t row_id,
                                             const kito_registration *row);

/* Lists the registrations of sale id for its organiser (or an operator): at most f->limit + 1
 * rows. Errors: KITO_E_NOT_FOUND, KITO_E_FORBIDDEN. */
kito_err kito_registrations_list(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                 const kito_registrations_filter *f, kito_registration_row_fn fn,
                                 void *ud);

#endif
