/*
 * What the bidding code (issue 5) reads from MySQL: the engine configuration of a published
 * sale's lots (DESIGN.md, "Auction rules"; schemas/004_sales_lots.sql), the sale a lot belongs to
 * and who runs it, a buyer's approval in a sale, and the buyer behind a floor paddle. Reads only:
 * the order books themselves live in the engine and Redis (api/live/market.h), never here.
 *
 * Threads: a MySQL worker (api/http/req_db.h), with that worker's connection.
 */
#ifndef KITO_REPO_BIDS_H
#define KITO_REPO_BIDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/db.h"
#include "engine/engine.h"
#include "engine/err.h"

/* A lot as the bid and clerk handlers need it: fixed once its sale is published. */
typedef struct kito_bid_lot {
    uint64_t lot_id;
    uint64_t sale_id;
    uint64_t organizer_id; /* the sale's organiser: she runs the clerk console */
    uint64_t seller_id;    /* the stone's seller: she may not bid on it */
    uint8_t format;        /* enum kito_format */
    char currency[4];
    char sale_status[16]; /* draft, published, open, closed, settled, cancelled */
    char lot_state[16];   /* as MySQL has it (the engine's state is the live one) */
} kito_bid_lot;

/* A buyer's approval in one sale (sale_approvals). */
typedef struct kito_bid_approval {
    bool approved;
    uint32_t paddle_number; /* 0 = none */
    int64_t limit_minor;    /* 0 = no spending limit */
} kito_bid_approval;

/* Reads lot lot_id and its sale into *lot, and, when buyer_id is not 0, the buyer's approval in
 * that sale into *ap (approved = false when there is none; ap may be NULL when buyer_id is 0).
 * KITO_E_NOT_FOUND if there is no such lot; errors as api/store/sql.h. */
kito_err kito_bids_lot_read(kito_db_conn *db, uint64_t lot_id, uint64_t buyer_id, kito_bid_lot *lot,
                            kito_bid_approval *ap);

/* The engine configuration of every lot of sale sale_id that is still 'scheduled' in MySQL
 * (withdrawn lots are left out), in running order: ids, the seller (the stone's), currency,
 * format, tender pricing, opening, reserve, the sale's ladder, starts_at, ends_at (timed and
 * tender; the engine adds position x stagger_s), soft close. Writes at most cap configs; *n gets
 * the count written. KITO_E_NOT_FOUND if the sale does not exist. */
kito_err kito_bids_sale_configs(kito_db_conn *db, uint64_t sale_id, struct kito_lot_config *out,
                                size_t cap, size_t *n);

/* The directory entry (as kito_bids_lot_read reads it) of every lot of sale sale_id, in running
 * order; at most cap, *n gets the count written. For warming the bid path's caches when a sale
 * is activated. */
kito_err kito_bids_sale_lots(kito_db_conn *db, uint64_t sale_id, kito_bid_lot *out, size_t cap,
                             size_t *n);

/* A buyer's approval in a sale, as a row of a sale's list. */
typedef struct kito_bid_buyer_approval {
    uint64_t buyer_id;
    kito_bid_approval ap;
} kito_bid_buyer_approval;

/* Every approval of sale sale_id (approved = true in each), by buyer id; at most cap, *n gets
 * the count written. */
kito_err kito_bids_sale_approvals(kito_db_conn *db, uint64_t sale_id, kito_bid_buyer_approval *out,
                                  size_t cap, size_t *n);

/* Ids of the sales whose lots belong in the market: published or open, with at least one lot
 * still 'scheduled'. At most cap; *n gets the count written. */
kito_err kito_bids_active_sales(kito_db_conn *db, uint64_t *out, size_t cap, size_t *n);

/* The buyer holding paddle `paddle` in sale sale_id (an approved buyer): *buyer_id, or
 * KITO_E_NOT_FOUND. */
kito_err kito_bids_paddle_buyer(kito_db_conn *db, uint64_t sale_id, uint32_t paddle,
                                uint64_t *buyer_id);

/* ---- the watchlist (schemas/008_watchlist.sql) ------------------------------------------------
 */

#define KITO_WATCHLIST_MAX 500 /* lots one buyer may watch */

/* Adds lot_id to buyer_id's watchlist; idempotent (*added false when it was there). The lot must
 * exist in a sale that is not a draft (KITO_E_NOT_FOUND otherwise); KITO_E_CONFLICT past
 * KITO_WATCHLIST_MAX lots. */
kito_err kito_watchlist_put(kito_db_conn *db, uint64_t buyer_id, uint64_t lot_id, bool *added);

/* Removes lot_id from buyer_id's watchlist; idempotent (*removed false when it was not there). */
kito_err kito_watchlist_delete(kito_db_conn *db, uint64_t buyer_id, uint64_t lot_id, bool *removed);

/* One watched lot. */
typedef struct kito_watch {
    uint64_t lot_id;
    uint64_t sale_id;
    int64_t added_at_ms;
} kito_watch;

/* buyer_id's watched lots with lot id > after_lot_id, in lot id order, at most limit + 1 rows
 * (the extra one tells another page exists); fn is called per row (row valid during the call). */
kito_err kito_watchlist_list(kito_db_conn *db, uint64_t buyer_id, uint64_t after_lot_id,
                             uint32_t limit, kito_err (*fn)(void *ud, const kito_watch *row),
                             void *ud);

#endif
