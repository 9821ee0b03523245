#include "api/live/withdrawals.h"

#include <stdbool.h>
#include <stdlib.h>

struct withdrawals {
    kito_withdrawals_done_fn done;
    void *ud;
    size_t pending; /* withdrawals submitted and not yet confirmed, + 1 while submitting */
    size_t held;
    kito_err err; /* the first failure */
};

static void step(struct withdrawals *w)
{
    if (--w->pending > 0)
        return;
    w->done(w->ud, w->err, w->held);
    free(w);
}

static void on_withdrawn(void *ud, const struct kito_outcome *out, const struct kito_event *events,
                         size_t n_events)
{
    (void)events;
    (void)n_events;
    struct withdrawals *w = ud;
    if (out->err != KITO_OK && w->err == KITO_OK)
        w->err = out->err;
    step(w);
}

kito_err kito_withdrawals_start(kito_market *m, const uint64_t *lots, size_t n, uint64_t actor,
                                int64_t now_ms, kito_withdrawals_done_fn done, void *ud)
{
    struct withdrawals *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return KITO_E_NOMEM;
    *w = (struct withdrawals){.done = done, .ud = ud, .pending = 1};
    for (size_t i = 0; m != NULL && i < n; i++) {
        struct kito_lot_view v;
        kito_err e = kito_market_lot_view(m, lots[i], &v);
        if (e == KITO_E_UNKNOWN_LOT)
            continue; /* not in the order books */
        w->held++;
        if (e == KITO_OK && v.state == KITO_LOT_WITHDRAWN)
            continue; /* out already */
        struct kito_command cmd = {
            .lot_id = lots[i], .actor = actor, .type = KITO_CMD_WITHDRAW, .now_ms = now_ms};
        w->pending++; /* before the submit: an answer may never free w under us */
        if (e == KITO_OK)
            e = kito_market_submit(m, &cmd, on_withdrawn, w, NULL);
        if (e != KITO_OK) {
            w->pending--;
            if (w->err == KITO_OK)
                w->err = e;
        }
    }
    step(w);
    return KITO_OK;
}
