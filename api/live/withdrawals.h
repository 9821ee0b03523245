/*
 * Withdrawing lots from the order books (a service of the live layer: plain arguments and a
 * completion callback, no HTTP). A lot the books hold is withdrawn in the engine, and the answer
 * waits until Redis has the withdrawal (DESIGN.md, "Durability"): a withdrawn lot takes no more
 * bids, and a lot that sold a moment ago is never withdrawn (the engine refuses it).
 *
 * Two callers today: cancelling a published sale (its lots are in the books from the publish and
 * open at the start: left there they would take binding bids on stones the cancel has freed) and
 * withdrawing one lot (engine first, then the catalogue in MySQL, so the catalogue never shows
 * withdrawn a lot the books have sold).
 *
 * Threads: the loop thread only; done runs on it, once.
 */
#ifndef KITO_WITHDRAWALS_H
#define KITO_WITHDRAWALS_H

#include <stddef.h>
#include <stdint.h>

#include "api/live/market.h"
#include "engine/err.h"

/* The outcome of kito_withdrawals_start: err is KITO_OK when every lot the books hold is
 * withdrawn there and Redis has it (or had it before), else the first failure (an engine refusal
 * such as KITO_E_LOT_CLOSED for a lot that sold, or KITO_E_UNAVAILABLE when Redis failed:
 * then some lots may be withdrawn and others not, and the same call again finishes the job).
 * held counts the lots the books hold (withdrawn now or before); a lot they do not hold (a draft
 * sale's) is left alone and not counted. */
typedef void (*kito_withdrawals_done_fn)(void *ud, kito_err err, size_t held);

/* Withdraws lots[0..n) (copied) in market m as account actor, at now_ms, and calls done when the
 * last one is confirmed: at once (before returning) when there is nothing to withdraw. Returns
 * KITO_OK (done will run or has run), or KITO_E_NOMEM with done never called. m may be NULL (no
 * order books: nothing is held). */
kito_err kito_withdrawals_start(kito_market *m, const uint64_t *lots, size_t n, uint64_t actor,
                                int64_t now_ms, kito_withdrawals_done_fn done, void *ud);

#endif
