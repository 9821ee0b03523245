/*
 * Lots (issue 4, "Sales and lots"; schemas/004_sales_lots.sql): one certified stone offered in
 * one sale, with an opening price and a hidden reserve. The request decoders (pure) and the
 * repository.
 *
 * lot_number is the catalogue number, given once (the sale's highest + 1) and never reused;
 * position is the 0-based running order, which reordering changes: in a timed or tender sale the
 * lot at position i closes at sale.ends_at + i * stagger_s (DESIGN.md, "Staggered close").
 * Withdrawn lots keep their number and position, so withdrawing one never moves another's
 * closing time.
 *
 * Lots are added, edited and reordered while their sale is a draft, by its organiser or an
 * operator (KITO_E_FORBIDDEN for anyone else); a lot is withdrawn any time before it is sold.
 * A stone goes into a lot only on its miner's consent: a live offer of it to the sale or to the
 * sale's organiser (api/store/repo_offers.h; DESIGN.md, "Consent"), checked in the lot's
 * transaction. A stone can be in one lot that is not unsold or withdrawn (the schema's
 * lots_live_stone key); adding a lot marks the stone 'listed' and appends a 'listed' provenance
 * event (api/store/repo_provenance.h), withdrawing it makes the stone 'certified' again. Every
 * change is audited in its transaction; a refused request changes nothing.
 *
 * Threads: decoders anywhere; the rest on a MySQL worker (api/http/req_db.h).
 */
#ifndef KITO_REPO_LOTS_H
#define KITO_REPO_LOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/store/db.h"
#include "api/store/repo_sales.h"
#include "api/common/validate.h"
#include "engine/err.h"

#define KITO_LOT_REASON_MAX 500 /* code points in a withdrawal reason */

/* POST /v1/sales/{id}/lots, decoded. */
typedef struct kito_lot_input {
    uint64_t stone_id;
    int64_t opening_minor; /* 1 .. KITO_AMOUNT_MAX */
    int64_t reserve_minor; /* opening .. KITO_AMOUNT_MAX when has_reserve */
    bool has_reserve;
    uint32_t position; /* when has_position: 0 .. the sale's lot count */
    bool has_position;
} kito_lot_input;

/* Decodes {"stone_id", "opening", "reserve"?, "position"?} (amounts in minor units of the sale's
 * currency). KITO_E_VALIDATION with ve naming the field; pure. */
kito_err kito_lot_decode(const json_t *body, kito_lot_input *out, kito_verr *ve);

/* PATCH /v1/lots/{id}, decoded: what to change. */
typedef struct kito_lot_patch {
    bool has_opening;
    int64_t opening_minor;
    bool has_reserve;      /* the member was sent */
    int64_t reserve_minor; /* 0 = remove the reserve (null was sent) */
} kito_lot_patch;

/* Decodes {"opening"?, "reserve"? (null removes it)}; at least one member. Pure. */
kito_err kito_lot_patch_decode(const json_t *body, kito_lot_patch *out, kito_verr *ve);

/* Decodes {"lot_ids": ["lot_...", ...]} (1 .. KITO_SALE_LOTS_MAX distinct ids) into ids (cap
 * entries); *n gets the count. Pure. */
kito_err kito_lot_order_decode(const json_t *body, uint64_t *ids, size_t cap, size_t *n,
                               kito_verr *ve);

/* Decodes an optional withdrawal body {"reason"?}: body may be NULL (no body). reason gets ""
 * when none. Pure. */
kito_err kito_lot_withdraw_decode(const json_t *body, char reason[KITO_LOT_REASON_MAX * 4 + 1],
                                  kito_verr *ve);

/* The stone a lot offers, as catalogues show it. */
typedef struct kito_lot_stone {
    char species[25];
    char variety[161];
    int64_t weight_cct; /* hundredths of a carat */
    uint32_t piece_count;
    char shape[161];
    char colour[321];
    char origin_country[3];
    char origin_region[321];
    char cover_sha256[65]; /* the stone's first photo (hex digest); "" when it has none */
} kito_lot_stone;

/* A lot as stored, with its stone and the stone's current certificate. */
typedef struct kito_lot {
    uint64_t id;
    uint64_t sale_id;
    uint64_t stone_id;
    uint64_t certificate_id; /* the stone's current certificate; 0 if none (should not happen) */
    uint32_t lot_number;
    uint32_t position;
    int64_t opening_minor;
    int64_t reserve_minor; /* meaningful when has_reserve; never shown to the public */
    bool has_reserve;
    char state[16]; /* scheduled, open, closing, sold, unsold, withdrawn */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    kito_lot_stone stone;
    /* the result the settlement worker recorded (schemas/009_settlement.sql): durable, so a lot
     * that closed before this process started still shows it (issue 16) */
    bool has_hammer;
    int64_t hammer_minor;
    uint64_t winner_id; /* the buyer it was sold to; 0 unless has_hammer */
} kito_lot;

/* Adds a lot to draft sale sale_id (see the rules above) and reads it back into *out, its sale
 * into *sale. Errors: KITO_E_NOT_FOUND (no sale), KITO_E_FORBIDDEN, KITO_E_VALIDATION (stone_id
 * names no stone or one without a current certificate; position out of range),
 * KITO_E_NO_CONSENT (no live offer of the stone to the sale or its organiser), KITO_E_CONFLICT
 * (the sale is not a draft or is full; the stone is sold, withdrawn, or in another active lot);
 * ve says which. The audit row names the offer the lot rests on. */
kito_err kito_lots_create(kito_db_conn *db, const kito_actor *actor, uint64_t sale_id,
                          const kito_lot_input *in, kito_sale *sale, kito_lot *out, kito_verr *ve);

/* Reads lot id and its sale if actor may see the sale (kito_sale_visible); KITO_E_NOT_FOUND
 * otherwise. */
kito_err kito_lots_get(kito_db_conn *db, const kito_actor *actor, uint64_t id, kito_sale *sale,
                       kito_lot *out);

/* A lot sold to a buyer, as the settlement recorded it. */
typedef struct kito_lot_won {
    uint64_t lot_id;
    int64_t hammer_minor;
    char currency[4];
} kito_lot_won;

typedef kito_err (*kito_lot_won_fn)(void *ud, const kito_lot_won *won);

/* The lots sold to buyer_id that the settlement recorded (lots.winner_id), lot ids above
 * after_id in id order, at most limit. Durable: what GET /v1/me/wins adds to the order books'
 * wins, so a win outlives a restart (issue 16). Worker thread. */
kito_err kito_lots_won(kito_db_conn *db, uint64_t buyer_id, uint64_t after_id, uint32_t limit,
                       kito_lot_won_fn fn, void *ud);

/* Words of a lots search at most (GET /v1/sales/{id}/lots?q=): more are refused. */
#define KITO_LOTS_SEARCH_WORDS 4
/* Bytes of one search word at most. */
#define KITO_LOTS_SEARCH_WORD_MAX 40

/* Filter and position of GET /v1/sales/{id}/lots. */
typedef struct kito_lots_filter {
    const char *state;   /* NULL = any */
    const char *species; /* NULL = any; one of kito_stone_species */
    /* search words (NULL-terminated, at most KITO_LOTS_SEARCH_WORDS): every one must occur, in
     * any case, in the stone's species, variety, colour, shape, origin or the lot number */
    const char *words[KITO_LOTS_SEARCH_WORDS + 1];
    int64_t min_weight_cct, max_weight_cct; /* 0 = unbounded */
    bool has_after;                         /* continue after (after_position, after_id) */
    uint32_t after_position;
    uint64_t after_id;
    uint32_t limit; /* 1..100 */
} kito_lots_filter;

/* Called once per lot in (position, id) order; row valid during the call. */
typedef kito_err (*kito_lot_row_fn)(void *ud, const kito_lot *row);

/* Reads sale sale_id into *sale (KITO_E_NOT_FOUND unless actor may see it), then lists its lots
 * matching f: at most f->limit + 1 rows. */
kito_err kito_lots_list(kito_db_conn *db, const kito_actor *actor, uint64_t sale_id,
                        const kito_lots_filter *f, kito_sale *sale, kito_lot_row_fn fn, void *ud);

/* Changes the opening price and/or reserve of a scheduled lot of a draft sale (the reserve stays
 * at or above the opening). Audits "lot.update". Errors as kito_lots_create. */
kito_err kito_lots_update(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                          const kito_lot_patch *patch, kito_sale *sale, kito_lot *out,
                          kito_verr *ve);

/* Sets the running order of draft sale sale_id: ids must list each of its lots exactly once
 * (KITO_E_VALIDATION naming the first offending element otherwise); the lot at ids[i] gets
 * position i. Audits "lot.reorder". */
kito_err kito_lots_reorder(kito_db_conn *db, const kito_actor *actor, uint64_t sale_id,
                           const uint64_t *ids, size_t n, kito_verr *ve);

/* Checks, changing nothing, that actor may withdraw lot id now (kito_lots_withdraw's rules);
 * fills sale and out. Errors as kito_lots_withdraw. */
kito_err kito_lots_withdraw_check(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                  kito_sale *sale, kito_lot *out, kito_verr *ve);

/* As kito_lots_withdraw once the order book has withdrawn the lot: a lot already recorded as
 * withdrawn (by the settlement worker, from the outbox) is accepted and its stone freed. */
kito_err kito_lots_withdraw_after_engine(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                         const char *reason, kito_sale *sale, kito_lot *out,
                                         kito_verr *ve);

/* Withdraws lot id (any state before sold, unsold or withdrawn; KITO_E_CONFLICT otherwise) and
 * frees its stone. reason ("" = none) goes into the audit row ("lot.withdraw"). */
kito_err kito_lots_withdraw(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                            const char *reason, kito_sale *sale, kito_lot *out, kito_verr *ve);

#endif
