/*
 * The bid service (issue 14): one bid or clerk action from its pre-flight to its answer, with
 * plain arguments and a completion callback -- no HTTP here (api/http/routes_bids.c decodes the
 * request, calls this, renders the answer).
 *
 * Pre-flight, in order: the lot's directory entry (sale, organiser, seller, format) and, for a
 * bid, the buyer's approval in its sale come from the caches of api/live/bidding.h, else from
 * MySQL on a worker (api/store/repo_bids.h; the answer fills the caches); a floor bid's paddle is
 * always asked of MySQL. Then the rules that are not the engine's: a draft sale is invisible to
 * buyers, a bid above the buyer's spending limit is refused, an Idempotency-Key already used for
 * another lot or amount is refused, only the sale's organiser (or an operator) runs its clerk
 * console, clerk actions are for live lots, a floor bid needs an approved paddle. Then the
 * engine command goes to the market (api/live/market.h), and the answer comes when Redis has it
 * in its append-only file (DESIGN.md, "Durability") -- never before. Rate limits are not here:
 * the caller charges kito_bidding_rate first, before it decodes anything, so that a flood of
 * malformed bids is throttled like any other.
 *
 * Idempotency: the command id is derived from (caller, Idempotency-Key) (kito_bid_command_id),
 * so a retry is the same engine command and the engine answers it as a duplicate: the answer
 * is KITO_E_DUPLICATE with the first command's seq. The key is remembered for (lot, amount) from
 * the moment the engine takes the bid (kito_bidding_key_put).
 *
 * Why a file of its own beside api/live/bidding.c: bidding.c is the loop-side state the service
 * reads and writes (caches, limits, keys, activation, the clock); this file is what one bid does
 * with that state. Each stays one concept, and bidding.c stays below ~900 lines.
 *
 * Threading: loop thread only; the MySQL lookups run on the pool's workers and come back to the
 * loop before anything else happens.
 */
#ifndef KITO_BID_SERVICE_H
#define KITO_BID_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "api/common/render.h"
#include "api/live/bidding.h"
#include "engine/engine.h"
#include "engine/err.h"

/* One bid or clerk action, as the caller decoded and checked its shape. */
struct kito_bid_request {
    uint64_t lot_id;
    uint64_t account_id;  /* the caller: the buyer (a bid), the organiser or operator (clerk) */
    uint64_t cmd_id;      /* kito_bid_command_id(account_id, Idempotency-Key) */
    int64_t amount_minor; /* a bid's maximum; clerk: the ask, the floor bid, a manual step */
    uint8_t type;         /* KITO_CMD_BID, or a clerk command (open, set ask, ..., resume) */
    uint8_t step_mode;    /* KITO_CMD_SET_STEP: enum kito_step_mode */
    uint32_t paddle;      /* KITO_CMD_FLOOR_BID: the floor bidder's paddle number */
    bool operator_role;   /* clerk: the caller is an operator, who may run any sale's console */
};

/* How a request ended. Valid during the completion callback only. */
struct kito_bid_answer {
    /* KITO_OK: accepted, and Redis has it; KITO_E_DUPLICATE: a retry of an accepted command (its
     * first answer's seq; for a bid the first bid's amount stands); anything else: refused, and
     * nothing was recorded -- except KITO_E_UNAVAILABLE after the market took the command, when
     * Redis may hold it after all (message says to retry with the same key). */
    kito_err err;
    const char *message;       /* NULL: the code's stock message; else a static text or text[] */
    uint32_t retry_after_s;    /* > 0 (unavailable): worth trying again after that many seconds */
    bool show_ask;             /* a refusal of the auction's: tell the lot's current ask (view) */
    bool has_lot;              /* view is filled (accepted, duplicate, refusals with show_ask) */
    uint32_t seq;              /* accepted/duplicate: the command's seq as the caller may see it (a
                                * bidder sees 0 while the lot's book is sealed: kito_lot_view) */
    struct kito_lot_view view; /* the lot as the command left it (duplicate: as it is now) */
    struct kito_my_bid mine;   /* a bid's answer: the caller's own standing bid in view's book */
    char currency[4];          /* the lot's currency (view's, else the lot directory's) */
    struct kito_bid_request req; /* what was asked (a copy) */
    char text[160];              /* message's storage when it is not static */
};

/* Called exactly once per kito_bid_submit, on the loop, possibly before kito_bid_submit returns.
 * a is borrowed for the call. */
typedef void (*kito_bid_done_fn)(void *ud, const struct kito_bid_answer *a);

/* Runs rq (copied) through the pre-flight and the market on b's state and calls done(ud, answer)
 * once it is decided: accepted only once Redis has the command. Failures are answers:
 * KITO_E_NOT_FOUND (no such lot, or a draft sale to a buyer), KITO_E_FORBIDDEN, KITO_E_VALIDATION
 * (key reused for another bid, unknown paddle), the engine's refusals (show_ask), KITO_E_NOMEM,
 * KITO_E_UNAVAILABLE (MySQL or Redis down, the lot's book still loading, b stopped). A lookup that
 * needed MySQL is carried through even if the caller has gone meanwhile: the request was sent
 * with its Idempotency-Key, and a retry with that key learns the outcome. b may be NULL (every
 * request answers unavailable). */
void kito_bid_submit(kito_bidding *b, const struct kito_bid_request *rq, kito_bid_done_fn done,
                     void *ud);

/* Writes an accepted bid's document (the 201 body) into w:
 * {"bid_id", "seq", "amount", "your_bid": {"amount", "leading", "seq"} | null, "lot": view + "id"}
 * from a (err KITO_OK or KITO_E_DUPLICATE, a bid). On overflow w->failed is set. Pure. */
void kito_bid_write_accepted(kito_jw *w, const struct kito_bid_answer *a);

#define KITO_ID_BID "bid" /* the API id prefix of a bid (its command id) */

#endif
