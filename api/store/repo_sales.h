/*
 * Sales and per-sale buyer approvals (issue 4, "Sales and lots"; DESIGN.md, "Auction rules"):
 * the request decoder for a sale (pure, fuzzed by tests/fuzz/fuzz_sale.c) and the repository
 * over the sales, sale_registrations and sale_approvals tables (schemas/004_sales_lots.sql,
 * schemas/006_sale_registrations.sql).
 *
 * A sale's life: draft -> published -> (open -> closed -> settled, with bidding, issue 5), or
 * cancelled from draft or published before it starts. Only the organiser who created it, or an
 * operator, changes it (KITO_E_FORBIDDEN for anyone else); a draft is invisible (KITO_E_NOT_FOUND)
 * to everyone but them.
 *
 * Buyers ask to bid (a registration, 'pending'); the organiser approves them with a paddle number
 * and an optional spending limit (a sale_approvals row, and the registration turns 'approved'),
 * may approve a buyer who never asked (a known floor bidder), and may revoke an approval or
 * decline a request before the sale closes. The bidding code (issue 5) asks sale_approvals only.
 *
 * Every change writes its audit row (api/store/audit.h) in the same transaction; a refused request
 * changes nothing. Functions taking a kito_db_conn run on a MySQL worker (api/http/req_db.h); the
 * others are pure and run anywhere.
 */
#ifndef KITO_REPO_SALES_H
#define KITO_REPO_SALES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/store/db.h"
#include "api/common/validate.h"
#include "engine/err.h"
#include "engine/ladder.h"

#define KITO_SALE_TITLE_MAX 120               /* code points */
#define KITO_SALE_DESCRIPTION_MAX 4000        /* code points */
#define KITO_SALE_VENUE_MAX 120               /* code points */
#define KITO_SALE_WINDOW_MAX_S 3600           /* soft_close_s and stagger_s: 0 .. this */
#define KITO_SALE_DURATION_MAX_S (90 * 86400) /* ends_at - starts_at: at most 90 days */
#define KITO_SALE_SOFT_CLOSE_DEFAULT_S 120    /* DESIGN.md, Timed */
#define KITO_SALE_STAGGER_DEFAULT_S 60        /* DESIGN.md, Staggered close */
#define KITO_SALE_PREMIUM_DEFAULT_BPS 1000    /* DESIGN.md, Settlement: 10% */
#define KITO_SALE_COMMISSION_DEFAULT_BPS 500  /* DESIGN.md, Settlement: 5% */
#define KITO_SALE_LOTS_MAX 1000               /* lots one sale holds, withdrawn ones included */
#define KITO_PAGE_ROWS_MAX 101                /* rows a list reads: a page of 100 and one more */
#define KITO_PADDLE_MAX 99999                 /* paddle numbers run 1 .. this */

/* What a client sets on a sale, decoded and validated; every default applied. */
typedef struct kito_sale_input {
    char title[KITO_SALE_TITLE_MAX * 4 + 1];
    char description[KITO_SALE_DESCRIPTION_MAX * 4 + 1]; /* "" when none */
    bool has_description;
    char venue[KITO_SALE_VENUE_MAX * 4 + 1]; /* "" when none */
    bool has_venue;
    bool online;      /* buyers may bid online (default true) */
    char format[8];   /* "timed", "tender" or "live" */
    char currency[4]; /* ISO 4217, one of api/common/validate.h's (default USD) */
    int64_t starts_at_ms;
    int64_t ends_at_ms; /* 0 when has_ends_at is false (live sales only) */
    bool has_ends_at;
    char time_zone[KITO_TIME_ZONE_MAX + 1]; /* IANA name the times were set in (default "UTC") */
    int32_t soft_close_s;
    int32_t stagger_s;
    int32_t buyer_premium_bps;
    int32_t commission_bps;
    char tender_pricing[8];    /* "first" or "second"; "first" for other formats */
    struct kito_ladder ladder; /* valid (kito_ladder_validate) */
} kito_sale_input;

/* Decodes a POST /v1/sales body into *out (pure; any thread; body borrowed). Checks, in order:
 * the shape (unknown members, types, lengths), then each field, then the rules between fields:
 *   format timed|tender|live; online default true; venue required when online is false or the
 *   format is live (a floor needs a room); currency default USD; starts_at required; ends_at
 *   required except for live sales, after starts_at and at most KITO_SALE_DURATION_MAX_S later;
 *   soft_close_s and stagger_s 0..3600 (defaults 120, 60); buyer_premium_bps and commission_bps
 *   0..10000 (defaults 1000, 500); tender_pricing first|second, for tender sales only (default
 *   first); ladder a list of {"from_minor", "step_minor"} rungs valid for the engine
 *   (engine/ladder.h), defaulting to DESIGN.md's table for USD, EUR and GBP and required for the
 *   local currencies (KES, TZS, ZMW, MWK), where a ladder in US cents would be meaningless.
 * KITO_E_VALIDATION at the first problem with ve naming the field ("ladder[1].step_minor").
 * *out is fully written only on KITO_OK. */
kito_err kito_sale_decode(const json_t *body, kito_sale_input *out, kito_verr *ve);

/* The shape of a PATCH /v1/sales/{id} body: the members of POST /v1/sales, all optional; null
 * clears a nullable member (description, venue, ends_at, tender_pricing, ladder). */
kito_err kito_sale_patch_check(const json_t *patch, kito_verr *ve);

/* Renders in as a POST /v1/sales body that kito_sale_decode reads back to the same input
 * (defaults left out: a ladder equal to the default and tender_pricing "first"). New reference,
 * NULL on allocation failure. */
json_t *kito_sale_input_to_json(const kito_sale_input *in);

/* Applies patch (already checked by kito_sale_patch_check) onto base, a body made by
 * kito_sale_input_to_json: members set to null are removed, others replaced. Both borrowed. */
kito_err kito_sale_patch_apply(json_t *base, const json_t *patch);

/* The caller of a repository function: account and role (KITO_ROLE_*; api/http/auth.h), 0 when
 * anonymous, and the client address for the audit trail (may be NULL). */
typedef struct kito_actor {
    uint64_t account_id;
    unsigned role;
    const char *ip;
} kito_actor;

/* True if actor may change (and see the drafts and reserves of) a sale organised by
 * organizer_id: that organiser or any operator. */
bool kito_sale_actor_owns(const kito_actor *actor, uint64_t organizer_id);

/* A sale as stored. */
typedef struct kito_sale {
    uint64_t id;
    uint64_t organizer_id;
    kito_sale_input in;
    char status[16];    /* draft, published, open, closed, settled, cancelled */
    uint32_t lot_count; /* lots not withdrawn */
    int64_t created_at_ms;
    int64_t updated_at_ms;
} kito_sale;

/* Inserts a draft sale organised by actor, audits it ("sale.create"), and reads it back into
 * *out. Errors as api/store/sql.h. */
kito_err kito_sales_create(kito_db_conn *db, const kito_actor *actor, const kito_sale_input *in,
                           kito_sale *out);

/* Reads sale id into *out if actor may see it (not a draft, or actor owns it); KITO_E_NOT_FOUND
 * otherwise. */
kito_err kito_sales_get(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *out);

/* Applies a PATCH body (checked by kito_sale_patch_check) to draft sale id: merges it onto the
 * stored sale, decodes the result as a new sale (ve names the field on KITO_E_VALIDATION),
 * refuses a currency change once the sale has lots (KITO_E_CONFLICT), writes it, audits
 * ("sale.update") and reads it back into *out. KITO_E_NOT_FOUND, KITO_E_FORBIDDEN (not the
 * owner), KITO_E_CONFLICT (not a draft). */
kito_err kito_sales_update(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                           const json_t *patch, kito_sale *out, kito_verr *ve);

/* draft -> published: the sale needs at least one lot that is not withdrawn, and for timed and
 * tender sales a start in the future. Audits "sale.publish". Errors: KITO_E_NOT_FOUND,
 * KITO_E_FORBIDDEN, KITO_E_CONFLICT (ve->reason says which rule). */
kito_err kito_sales_publish(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *out,
                            kito_verr *ve);

/* draft or published (before it starts) -> cancelled; its lots are withdrawn so their stones
 * can be offered again. Audits "sale.cancel". A cancelled sale is answered as it is (KITO_OK,
 * nothing written): cancel is idempotent. Errors as kito_sales_publish. */
kito_err kito_sales_cancel(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *out,
                           kito_verr *ve);

/* Filters and position of GET /v1/sales. */
typedef struct kito_sales_filter {
    const char *status;   /* NULL = any the caller may see */
    const char *format;   /* NULL = any */
    const char *currency; /* NULL = any */
    bool has_after;       /* continue after (after_starts_at_ms, after_id) */
    int64_t after_starts_at_ms;
    uint64_t after_id;
    uint32_t limit; /* 1..100 rows */
} kito_sales_filter;

/* Called once per sale, in (starts_at, id) order. row is valid only during the call. */
typedef kito_err (*kito_sale_row_fn)(void *ud, const kito_sale *row);

/* Lists the sales actor may see (everything but drafts; plus her own drafts for an organiser,
 * all drafts for an operator) matching f, at most f->limit + 1 rows (the extra one tells the
 * caller another page exists). */
kito_err kito_sales_list(kito_db_conn *db, const kito_actor *actor, const kito_sales_filter *f,
                         kito_sale_row_fn fn, void *ud);

/* ---- for the other repositories of a sale (lots, registrations)
 * ------------------------------------------------------------------------ */

/* Locks sale id (SELECT ... FOR UPDATE) inside the caller's transaction and reads it into *out.
 * KITO_E_NOT_FOUND if there is none; KITO_E_FORBIDDEN if actor does not own it. */
kito_err kito_sales_lock_owned(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                               kito_sale *out);

/* Reads sale id without locking; KITO_E_NOT_FOUND if it does not exist. No visibility check. */
kito_err kito_sales_read(kito_db_conn *db, uint64_t id, kito_sale *out);

/* kito_sales_read, the row locked FOR UPDATE until the caller's transaction ends. */
kito_err kito_sales_read_locked(kito_db_conn *db, uint64_t id, kito_sale *out);

/* True if actor may see sale s (it is not a draft, or actor owns it). */
bool kito_sale_visible(const kito_actor *actor, const kito_sale *s);

#endif
