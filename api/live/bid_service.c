#include "api/live/bid_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/live/market.h"
#include "api/store/db.h"
#include "api/store/repo_bids.h"
#include "api/store/worker_pool.h"

/* One request from kito_bid_submit to its answer. */
typedef struct job {
    kito_bidding *b; /* held (kito_bidding_hold) while the job waits on a MySQL worker */
    kito_bid_done_fn done;
    void *ud;
    struct kito_bid_request rq;
    /* the pre-flight's findings (cache or MySQL) */
    kito_err db_err;
    kito_bid_lot lot;
    kito_bid_approval ap;
    uint64_t paddle_buyer; /* a floor bid's paddle holder; 0 = none */
    struct kito_bid_answer a;
} job;

static bool is_clerk(const job *j)
{
    return j->rq.type != KITO_CMD_BID;
}

/* Calls the caller back with j->a and frees j. */
static void finish(job *j)
{
    j->a.req = j->rq;
    if (j->a.currency[0] == '\0')
        memcpy(j->a.currency, j->lot.currency, sizeof(j->a.currency));
    j->done(j->ud, &j->a);
    free(j);
}

/* The lot's public view and the caller's own bid now, in one lookup: what the answer shows. */
static void read_lot(job *j, kito_market *m)
{
    if (m == NULL || kito_market_lot_view_mine(m, j->rq.lot_id, j->rq.account_id, &j->a.view,
                                               &j->a.mine) != KITO_OK)
        return;
    j->a.has_lot = true;
    memcpy(j->a.currency, j->a.view.currency, sizeof(j->a.currency));
}

static void answer_error(job *j, kito_err e, const char *message)
{
    j->a.err = e;
    j->a.message = message;
    finish(j);
}

/* The order book cannot take the command now (message NULL: nothing was recorded). */
static void answer_unavailable(job *j, const char *message)
{
    j->a.err = KITO_E_UNAVAILABLE;
    j->a.retry_after_s = 1;
    j->a.message = message != NULL ? message
                                   : "the order book is not available; nothing was recorded, "
                                     "try again";
    finish(j);
}

/* A refusal of the auction's (the engine's, or the spending limit): with the lot's current ask. */
static void answer_refusal(job *j, kito_err e, const char *message)
{
    if (e == KITO_E_UNAVAILABLE || e == KITO_E_CAPACITY) {
        answer_unavailable(j, message);
        return;
    }
    read_lot(j, kito_bidding_market(j->b));
    j->a.err = e;
    j->a.message = message;
    j->a.show_ask = true;
    finish(j);
}

/* Accepted (KITO_OK) or a duplicate of an accepted command, with seq; the view must be read. */
static void answer_accepted(job *j, kito_err e, uint32_t seq)
{
    j->a.err = e;
    j->a.seq = seq;
    /* a bidder sees seq 0 while the book is sealed: her seq would count the sealed bids */
    if (!is_clerk(j) && j->a.has_lot && j->a.view.seq == 0)
        j->a.seq = j->a.mine.seq = 0;
    finish(j);
}

/* The market's answer to an accepted (or duplicate-in-flight) command: Redis has its batch, or
 * the batch failed. */
static void on_market_answer(void *ud, const struct kito_outcome *out,
                             const struct kito_event *events, size_t n_events)
{
    (void)events;
    (void)n_events;
    job *j = ud;
    if (out->err == KITO_OK || out->err == KITO_E_DUPLICATE) {
        answer_accepted(j, out->err, out->seq);
        return;
    }
    /* never acknowledged, yet Redis may have run the batch and lost only its reply
     * (api/live/market.h, "Failures"): the same key tells which */
    j->a.has_lot = false;
    answer_refusal(j, out->err,
                   "the order book lost its store before confirming this; it may have been "
                   "recorded: retry with the same Idempotency-Key to learn the outcome");
}

/* A lot the market does not hold: why, from what MySQL says. */
static void answer_not_held(job *j)
{
    const char *st = j->lot.sale_status;
    if (strcmp(st, "draft") == 0) {
        if (is_clerk(j))
            answer_error(j, KITO_E_LOT_NOT_OPEN, "the sale is not published yet");
        else
            answer_error(j, KITO_E_NOT_FOUND, NULL);
    } else if ((strcmp(st, "published") == 0 || strcmp(st, "open") == 0) &&
               strcmp(j->lot.lot_state, "scheduled") == 0) {
        /* published, but its lot is not loaded yet (being activated, or Redis was down) */
        answer_unavailable(j, "the lot's order book is being loaded");
    } else {
        answer_error(j, KITO_E_LOT_CLOSED, NULL);
    }
}

/* Submits cmd to the market; answers now unless the market will. */
static void submit(job *j, const struct kito_command *cmd)
{
    kito_market *m = kito_bidding_market(j->b);
    struct kito_outcome now;
    if (m == NULL) {
        answer_unavailable(j, NULL);
        return;
    }
    kito_err e = kito_market_submit(m, cmd, on_market_answer, j, &now);
    switch (e) {
    case KITO_OK:
        /* the key stands for this bid from now: a retry with another lot or amount while the
         * batch is in flight is refused (proceed_bid), not answered as this bid's duplicate */
        if (!is_clerk(j))
            kito_bidding_key_put(j->b, j->rq.cmd_id, j->rq.lot_id, j->rq.amount_minor);
        /* the answer shows the lot as this command left it: read it now, while the lot is warm
         * and before later commands (not yet durable) change it */
        read_lot(j, m);
        return;
    case KITO_E_DUPLICATE:
        read_lot(j, m);
        answer_accepted(j, KITO_E_DUPLICATE, now.seq);
        return;
    case KITO_E_UNKNOWN_LOT:
        answer_not_held(j);
        return;
    default:
        answer_refusal(j, e, NULL);
        return;
    }
}

static void proceed_bid(job *j)
{
    if (strcmp(j->lot.sale_status, "draft") == 0) {
        answer_error(j, KITO_E_NOT_FOUND, NULL); /* a draft is invisible to buyers */
        return;
    }
    if (j->ap.approved && j->ap.limit_minor > 0 && j->rq.amount_minor > j->ap.limit_minor) {
        answer_refusal(j, KITO_E_OVER_LIMIT, NULL);
        return;
    }
    if (!kito_bidding_key_matches(j->b, j->rq.cmd_id, j->rq.lot_id, j->rq.amount_minor)) {
        answer_error(j, KITO_E_VALIDATION,
                     "Idempotency-Key: was already used for a different bid; use a new key for "
                     "a new bid");
        return;
    }
    struct kito_command cmd = {
        .id = j->rq.cmd_id,
        .lot_id = j->rq.lot_id,
        .actor = j->rq.account_id,
        .amount_minor = j->rq.amount_minor,
        .now_ms = kito_bidding_now_ms(),
        .type = KITO_CMD_BID,
        /* the engine refuses an unapproved bid itself, after the own-lot rule */
        .flags = j->ap.approved ? KITO_CMD_F_APPROVED : 0,
    };
    submit(j, &cmd);
}

static void proceed_clerk(job *j)
{
    const struct kito_bid_request *rq = &j->rq;
    bool runs_it = rq->operator_role || j->lot.organizer_id == rq->account_id;
    if (strcmp(j->lot.sale_status, "draft") == 0 && !runs_it) {
        answer_error(j, KITO_E_NOT_FOUND, NULL);
        return;
    }
    if (!runs_it) {
        answer_error(j, KITO_E_FORBIDDEN, "only the sale's organiser runs its clerk console");
        return;
    }
    if (j->lot.format != KITO_FORMAT_LIVE) {
        answer_refusal(j, KITO_E_WRONG_FORMAT,
                       "clerk actions are for live sales; timed and tender lots run by the clock");
        return;
    }
    if (rq->type == KITO_CMD_FLOOR_BID && j->paddle_buyer == 0) {
        snprintf(j->a.text, sizeof(j->a.text),
                 "paddle: no approved buyer holds paddle %u in this sale; approve the floor "
                 "bidder first",
                 (unsigned)rq->paddle);
        answer_error(j, KITO_E_VALIDATION, j->a.text);
        return;
    }
    bool has_amount = rq->type == KITO_CMD_SET_ASK || rq->type == KITO_CMD_FLOOR_BID ||
                      (rq->type == KITO_CMD_SET_STEP && rq->step_mode == KITO_STEP_MANUAL);
    struct kito_command cmd = {
        .id = rq->cmd_id,
        .lot_id = rq->lot_id,
        .actor = rq->type == KITO_CMD_FLOOR_BID ? rq->paddle : rq->account_id,
        .amount_minor = has_amount ? rq->amount_minor : 0,
        .now_ms = kito_bidding_now_ms(),
        .type = rq->type,
        .flags = rq->type == KITO_CMD_FLOOR_BID ? KITO_CMD_F_APPROVED : 0,
        .arg = rq->type == KITO_CMD_SET_STEP ? rq->step_mode : 0,
    };
    submit(j, &cmd);
}

static void proceed(job *j)
{
    if (is_clerk(j))
        proceed_clerk(j);
    else
        proceed_bid(j);
}

/* ---- the lookup: the lot's sale and the caller's approval or paddle, from MySQL ------------ */

static void run_lookup(void *worker, void *arg)
{
    job *j = arg;
    kito_db_conn *db = worker;
    uint64_t buyer = is_clerk(j) ? 0 : j->rq.account_id;
    j->db_err = kito_bids_lot_read(db, j->rq.lot_id, buyer, &j->lot, &j->ap);
    if (j->db_err == KITO_OK && j->rq.type == KITO_CMD_FLOOR_BID) {
        kito_err e = kito_bids_paddle_buyer(db, j->lot.sale_id, j->rq.paddle, &j->paddle_buyer);
        if (e != KITO_OK && e != KITO_E_NOT_FOUND)
            j->db_err = e;
    }
}

static void done_lookup(void *arg, kito_err status)
{
    job *j = arg;
    kito_bidding *b = j->b;
    if (status != KITO_OK) { /* the pool stopped before the lookup ran */
        answer_error(j, KITO_E_UNAVAILABLE, "the server is shutting down");
    } else if (j->db_err != KITO_OK) {
        answer_error(j, j->db_err == KITO_E_NOT_FOUND ? KITO_E_NOT_FOUND : KITO_E_UNAVAILABLE,
                     NULL);
    } else {
        kito_bidding_lot_put(b, &j->lot);
        if (!is_clerk(j))
            kito_bidding_approval_put(b, j->lot.sale_id, j->rq.account_id, &j->ap);
        proceed(j); /* b stopped meanwhile: the market is NULL and the bid answers unavailable */
    }
    kito_bidding_release(b);
}

void kito_bid_submit(kito_bidding *b, const struct kito_bid_request *rq, kito_bid_done_fn done,
                     void *ud)
{
    job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        struct kito_bid_answer a = {.err = KITO_E_NOMEM, .req = *rq};
        done(ud, &a);
        return;
    }
    *j = (job){.b = b, .done = done, .ud = ud, .rq = *rq};
    if (b == NULL) {
        answer_unavailable(j, NULL);
        return;
    }
    /* the caches answer the common case; a floor bid's paddle is always asked of MySQL */
    const kito_bid_lot *l = kito_bidding_lot(b, rq->lot_id);
    if (l != NULL && rq->type != KITO_CMD_FLOOR_BID) {
        j->lot = *l;
        if (is_clerk(j) || kito_bidding_approval(b, l->sale_id, rq->account_id, &j->ap)) {
            proceed(j);
            return;
        }
    }
    kito_pool *pool = kito_bidding_pool(b);
    if (pool == NULL || kito_pool_submit(pool, run_lookup, done_lookup, j) != KITO_OK) {
        answer_error(j, KITO_E_UNAVAILABLE, NULL);
        return;
    }
    kito_bidding_hold(b);
}

/* ---- the accepted bid's document -------------------------------------------------------------
 */

void kito_bid_write_accepted(kito_jw *w, const struct kito_bid_answer *a)
{
    kito_jw_lit(w, "{\"bid_id\":");
    kito_jw_id(w, KITO_ID_BID, a->req.cmd_id);
    kito_jw_lit(w, ",\"seq\":");
    kito_jw_int(w, a->seq);
    kito_jw_lit(w, ",\"amount\":");
    kito_jw_money(w, a->req.amount_minor, a->currency);
    kito_jw_lit(w, ",\"your_bid\":");
    if (a->has_lot && a->mine.has_bid) {
        kito_jw_lit(w, "{\"amount\":");
        kito_jw_money(w, a->mine.amount_minor, a->currency);
        kito_jw_lit(w, ",\"leading\":");
        kito_jw_bool(w, a->mine.leading);
        kito_jw_lit(w, ",\"seq\":");
        kito_jw_int(w, a->mine.seq);
        kito_jw_raw(w, "}", 1);
    } else {
        kito_jw_raw(w, "null", 4);
    }
    kito_jw_lit(w, ",\"lot\":");
    if (a->has_lot)
        kito_bidding_write_view(w, &a->view, a->req.account_id, a->req.lot_id);
    else
        kito_jw_raw(w, "null", 4);
    kito_jw_raw(w, "}", 1);
}
