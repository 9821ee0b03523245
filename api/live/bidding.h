/*
 * The loop-side half of bidding over HTTPS (issue 5): what kitod keeps in memory next to the
 * market (api/live/market.h) so that a bid costs no MySQL round trip in the common case.
 *
 *   - Sale activation: when a sale is published, and at start once the market has recovered, the
 *     sale's scheduled lots are read from MySQL (api/store/repo_bids.h) and loaded into the market
 *     (kito_market_lot_load). A lot the market or Redis already holds is refused by the market
 *     and skipped, so activation is idempotent; loads that fail because Redis is down are retried
 *     every KITO_BIDDING_RETRY_MS until they succeed.
 *     The same read warms the caches below with the sale's lots and (up to
 *     KITO_BIDDING_WARM_APPROVALS) approvals, so that a sale's opening rush -- every lot's first
 *     bid, every buyer's first bid -- does not queue on MySQL.
 *   - The clock: a uv timer every KITO_BIDDING_TICK_MS calls kito_market_tick when the engine's
 *     next deadline is due, so timed and tender lots open and close on time (soft close and
 *     stagger are the engine's); a closing lot's result goes to the outbox (the market does it).
 *   - A lot directory: lot -> sale, organiser, seller, format (KITO_BIDDING_LOTS slots,
 *     KITO_BIDDING_WAYS-way set-associative; a miss is read from MySQL). Entries never go stale
 *     once the sale is published: these facts are fixed from then on.
 *   - The approvals cache: (sale, buyer) -> approved, paddle, spending limit; set-associative
 *     like the lot directory. Only approvals are cached (KITO_BIDDING_APPROVAL_TTL_MS); an
 *     unapproved buyer is asked of MySQL each time, so a fresh approval works at once. This
 *     process's approve and revoke endpoints drop the entry at once
 *     (kito_bidding_approval_forget); a change made by another process takes effect within the
 *     TTL.
 *   - Rate limits: token buckets per buyer (KITO_BID_BUYER_RATE per second, burst
 *     KITO_BID_BUYER_BURST) and per client address (KITO_BID_ADDR_RATE, KITO_BID_ADDR_BURST;
 *     settings of api/common/config.h with these names, defaults 5/10 and 50/100), in
 *     direct-mapped tables (a collision resets the bucket it lands on: at worst one extra burst).
 *   - Idempotency keys: the engine command id of a bid is the first 8 bytes of
 *     SHA-256(buyer id as 8 bytes big-endian || key), so a retry with the same key from the same
 *     buyer is the same engine command and the engine's window answers it as a duplicate. A
 *     small table remembers what each key was used for (lot and amount) from the moment its bid
 *     is accepted, and is refilled from the journal when the market rebuilds (the commands whose
 *     ids the engine's window holds again, before the lots' snapshots too; of two keys that share
 *     a slot the newer stays), so that a key reused for a different bid is refused instead of
 *     silently answered with the first one -- while the first is in flight, and after a restart.
 *
 * The bid path itself -- a bid or clerk action from its pre-flight to its answer -- is the service
 * in api/live/bid_service.h, which runs on this state.
 *
 * Nothing here knows HTTP: callers pass plain values and get answers through callbacks.
 * Everything is for the loop thread only, except the pure helpers marked "pure".
 */
#ifndef KITO_BIDDING_H
#define KITO_BIDDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <uv.h>

#include "api/common/config.h"
#include "api/common/render.h"
#include "api/store/repo_bids.h"
#include "api/store/worker_pool.h"
#include "engine/engine.h"
#include "engine/err.h"

struct kito_market;

#define KITO_BIDDING_TICK_MS 100           /* how often the clock looks at the deadline */
#define KITO_BIDDING_RETRY_MS 5000         /* activation retry after a failed load */
#define KITO_BIDDING_LOADS_AT_ONCE 128     /* an activation's lot loads waiting at once */
#define KITO_BIDDING_LOTS 16384            /* lot directory slots */
#define KITO_BIDDING_APPROVALS 16384       /* approvals cache slots */
#define KITO_BIDDING_WAYS 8                /* slots per set in those two caches */
#define KITO_BIDDING_APPROVAL_TTL_MS 30000 /* a cached approval is trusted this long */
#define KITO_BIDDING_WARM_APPROVALS 4096   /* a sale's approvals cached at its activation */
#define KITO_BIDDING_KEYS 16384            /* idempotency keys remembered (lot, amount) */
#define KITO_BIDDING_BUCKETS 16384         /* rate-limit buckets per kind */
#define KITO_IDEMPOTENCY_KEY_MAX 64        /* characters in an Idempotency-Key */
#define KITO_BIDDING_ACTIVE_SALES_MAX 4096 /* sales reconciled in one pass */

typedef struct kito_bidding kito_bidding;

/* ---- pure helpers ---------------------------------------------------------------------------- */

/* True if key[0..len) is a valid Idempotency-Key: 1 .. KITO_IDEMPOTENCY_KEY_MAX visible ASCII
 * characters (0x21 .. 0x7e). Pure. */
bool kito_idempotency_key_valid(const char *key, size_t len);

/* The engine command id for (account, key): the first 8 bytes of SHA-256(account as 8 bytes
 * big-endian || key), big-endian; never 0 (a 0 becomes 1: id 0 means "not deduplicated"). Pure. */
uint64_t kito_bid_command_id(uint64_t account_id, const char *key, size_t len);

/* A token bucket: tokens refill at rate per second up to burst. Zeroed = full on first use. */
typedef struct kito_bucket {
    double tokens;
    int64_t at_ms; /* last refill; 0 = never used */
} kito_bucket;

/* Takes one token at now_ms: true if there was one; otherwise false and *retry_after_ms (may be
 * NULL) gets the wait until the next token. Pure. */
bool kito_bucket_take(kito_bucket *b, int64_t now_ms, double rate, double burst,
                      int64_t *retry_after_ms);

/* The wall clock in ms since the epoch (the engine's time base: commands carry it). */
int64_t kito_bidding_now_ms(void);

/* Writes the public view of a lot as a JSON object into w (api/common/render.h): state, price,
 * ask, opening, bid_count, reserve_met, has_reserve, ends_at (timed and tender), seq, paused,
 * leader_is_you (viewer is the leader; viewer 0 = anonymous), then "id" when lot_id is not 0.
 * The engine's view already hides a sealed book (tender before close, live before the clerk
 * opens), so nothing here can reveal one. This is the one renderer of a lot's view: the bid's 201
 * writes it straight into its body, every other document gets it through
 * kito_bidding_render_view. On overflow w->failed is set. Pure. */
void kito_bidding_write_view(kito_jw *w, const struct kito_lot_view *v, uint64_t viewer,
                             uint64_t lot_id);

/* kito_bidding_write_view's bytes as a jansson object (id left out), for documents built with
 * jansson (my-bid, the buyer's lists, the watchlist, lot pages). New reference, or NULL when out of
 * memory. Pure. */
json_t *kito_bidding_render_view(const struct kito_lot_view *v, uint64_t viewer);

/* ---- the loop-side state -----------------------------------------------------------------------
 */

/* What the loop-side state works with; all borrowed, and all must outlive it (the market and the
 * pool until kito_bidding_stop). */
struct kito_bidding_params {
    uv_loop_t *loop;            /* the loop every callback runs on */
    struct kito_market *market; /* the order books; NULL: every bid answers unavailable */
    kito_pool *pool;            /* MySQL workers (kito_db_worker_ops); NULL: no lookups, no loads */
    const kito_config *cfg;     /* the rate limits (bid_buyer_rate, ...); NULL: no limits */
};

/* Creates the state from *p (copied) and starts the clock timer. KITO_E_NOMEM. */
kito_err kito_bidding_create(const struct kito_bidding_params *p, kito_bidding **out);

/* Stops the timers and lets go of the market and the pool: call before either is freed. From
 * then on bids answer unavailable and nothing is loaded. Accepts NULL. */
void kito_bidding_stop(kito_bidding *b);

/* The market and the MySQL pool given at create (borrowed), NULL after kito_bidding_stop. */
struct kito_market *kito_bidding_market(const kito_bidding *b);
kito_pool *kito_bidding_pool(const kito_bidding *b);

/* Keeps b's memory (not its work: it may be stopped and freed meanwhile, then every call but
 * kito_bidding_market/pool, which answer NULL, and the caches is off limits) until the matching
 * kito_bidding_release: for a request waiting on a MySQL worker. */
void kito_bidding_hold(kito_bidding *b);
void kito_bidding_release(kito_bidding *b);

/* Frees everything (after the market is freed, so that no market callback still points here);
 * activations still waiting call their done callbacks. Timer handles close when the loop runs.
 * Accepts NULL. */
void kito_bidding_free(kito_bidding *b);

/* Loads the lots of every published or open sale that the market does not hold yet (after the
 * market recovered: a crash between publish and load loses nothing). Asynchronous; retried on
 * failure. */
void kito_bidding_reconcile(kito_bidding *b);

/* Called once an activation's loads have all been answered (or could not be issued). Loads that
 * failed are retried in the background: this only says the first attempt is over. */
typedef void (*kito_bidding_activated_fn)(void *ud);

/* Activates sale sale_id just published: loads its scheduled lots into the market, then calls
 * done(ud) (done may be NULL) once every load has been answered -- at once, from inside this call,
 * when b is NULL or out of memory -- so that a publish can answer when its lots take bids. Loads
 * that fail for Redis are retried in the background (the publish itself has committed and
 * stands). */
void kito_bidding_activate_sale(kito_bidding *b, uint64_t sale_id, kito_bidding_activated_fn done,
                                void *ud);

/* The cached directory entry for lot_id, or NULL. Borrowed until the next put. */
const kito_bid_lot *kito_bidding_lot(kito_bidding *b, uint64_t lot_id);

/* Caches lot (copied) when its sale is published or beyond (a draft's facts may still change). */
void kito_bidding_lot_put(kito_bidding *b, const kito_bid_lot *lot);

/* The cached approval of buyer_id in sale_id: true and *out when cached and fresh. */
bool kito_bidding_approval(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id,
                           kito_bid_approval *out);

/* Caches an approval read from MySQL (only approved ones are kept). */
void kito_bidding_approval_put(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id,
                               const kito_bid_approval *ap);

/* Drops the cached approval of buyer_id in sale_id (after this process approved, changed or
 * revoked it). buyer_id 0 drops every entry of the sale. Accepts b == NULL. */
void kito_bidding_approval_forget(kito_bidding *b, uint64_t sale_id, uint64_t buyer_id);

/* Charges one bid to buyer_id and to the client address addr ("ip" or "ip:port"; the port is
 * ignored). KITO_OK, or KITO_E_RATE_LIMITED with *retry_after_s (>= 1) filled. */
kito_err kito_bidding_rate(kito_bidding *b, uint64_t buyer_id, const char *addr,
                           int64_t *retry_after_s);

/* True unless cmd_id was confirmed earlier for another lot or amount (a key reused for a
 * different bid). */
bool kito_bidding_key_matches(kito_bidding *b, uint64_t cmd_id, uint64_t lot_id, int64_t amount);

/* Remembers that cmd_id was accepted for (lot_id, amount). */
void kito_bidding_key_put(kito_bidding *b, uint64_t cmd_id, uint64_t lot_id, int64_t amount);

/* The market's replay listener (kito_market_set_replay_listener; ud is the kito_bidding): a bid
 * read back from the journal is remembered as kito_bidding_key_put would, so that after a restart
 * a key the engine answers as a duplicate is still refused for a different lot or amount -- unless
 * its slot holds a newer key (by now_ms): the bids come in no particular order. */
void kito_bidding_key_replayed(void *ud, const struct kito_command *cmd);

/* Overlays market m's view of the lot whose "id" member is in lot (a lot as
 * api/http/routes_sales.c renders it) onto lot: state, price, ask, bid_count, reserve_met, ends_at,
 * seq, paused, leader_is_you (viewer: the caller's account id, 0 = anonymous). A lot the market
 * does not hold (or m NULL) keeps its MySQL fields and gets price/ask/seq null. */
void kito_bidding_overlay_lot(const struct kito_market *m, uint64_t viewer, json_t *lot);

/* As kito_bidding_overlay_lot for every element of a list page's "items" array (or of items when
 * it is an array itself). */
void kito_bidding_overlay_items(const struct kito_market *m, uint64_t viewer, json_t *items);

/* A scratch array of the market's lot ids, sized for the engine's lot limit; *cap gets its
 * length. Borrowed; valid until the next call. */
uint64_t *kito_bidding_ids_scratch(kito_bidding *b, size_t *cap);

#endif
