/* Tender (sealed bid) lots: DESIGN.md, Tender. Amounts in cents, default ladder. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/engine.h"

#define USD(x) ((int64_t)(x)*100)
#define LOT 9
#define SELLER 7
#define END_MS INT64_C(1000000)

static kito_engine *eng;
static uint64_t next_id = 1;
static struct kito_event last_ev[KITO_MAX_EVENTS_PER_COMMAND];
static struct kito_outcome last_out;

static void setup(void)
{
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    lim.max_lots = 16;
    lim.max_standing_bids = 256;
    lim.max_live_lots = 1;
    lim.recent_commands = 256;
    cr_assert_eq(kito_engine_create(&lim, NULL, &eng), KITO_OK);
}

static void teardown(void)
{
    kito_engine_free(eng);
}

TestSuite(tender, .init = setup, .fini = teardown);

static void open_tender(int64_t opening, int64_t reserve, uint8_t pricing)
{
    struct kito_lot_config cfg;
    kito_lot_config_init(&cfg);
    cfg.lot_id = LOT;
    cfg.seller_id = SELLER;
    cfg.format = KITO_FORMAT_TENDER;
    cfg.tender_price = pricing;
    cfg.opening_minor = opening;
    cfg.reserve_minor = reserve;
    cfg.starts_at_ms = 0;
    cfg.sale_ends_at_ms = END_MS;
    cr_assert_eq(kito_engine_lot_load(eng, &cfg), KITO_OK);
    struct kito_command applied[2];
    struct kito_event ev[2 * KITO_MAX_EVENTS_PER_COMMAND];
    size_t n, nev;
    kito_engine_tick(eng, 0, applied, 2, &n, ev, 2 * KITO_MAX_EVENTS_PER_COMMAND, &nev);
    cr_assert_eq(n, 1);
}

static kito_err tender(uint64_t buyer, int64_t amount, int64_t now)
{
    struct kito_command c = {.id = next_id++,
                             .lot_id = LOT,
                             .actor = buyer,
                             .amount_minor = amount,
                             .now_ms = now,
                             .type = KITO_CMD_BID,
                             .flags = KITO_CMD_F_APPROVED};
    return kito_engine_apply(eng, &c, last_ev, KITO_MAX_EVENTS_PER_COMMAND, &last_out);
}

static struct kito_event close_ev[KITO_MAX_EVENTS_PER_COMMAND];

/* Closes the lot and returns the result event. */
static const struct kito_event *close_lot(void)
{
    struct kito_command applied[2];
    size_t n, nev;
    cr_assert_eq(
        kito_engine_tick(eng, END_MS, applied, 2, &n, close_ev, KITO_MAX_EVENTS_PER_COMMAND, &nev),
        KITO_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(nev, 1);
    char why[128] = "";
    cr_assert_eq(kito_engine_lot_check(eng, LOT, why, sizeof(why)), KITO_OK, "%s", why);
    return &close_ev[0];
}

static struct kito_lot_view view(void)
{
    struct kito_lot_view v;
    cr_assert_eq(kito_engine_lot_view(eng, LOT, &v), KITO_OK);
    return v;
}

Test(tender, bids_are_sealed_until_close)
{
    open_tender(USD(1000), USD(3000), KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(1, USD(2500), 10), KITO_OK);
    cr_assert_eq(last_out.n_events, 1, "only the bidder's own receipt");
    cr_assert_eq(last_ev[0].type, KITO_EV_BID_ACCEPTED);
    cr_assert_eq(last_ev[0].audience, KITO_AUDIENCE_BIDDER);
    cr_assert_eq(last_ev[0].who, 1);
    cr_assert_eq(last_ev[0].amount_minor, USD(2500));
    cr_assert_eq(last_ev[0].reason, 0, "a tender bidder never learns she leads");
    cr_assert_eq(last_ev[0].price_minor, 0);
    cr_assert_eq(last_ev[0].bid_count, 0);
    cr_assert_eq(tender(2, USD(4000), 20), KITO_OK);
    struct kito_lot_view v = view();
    cr_assert_eq(v.state, KITO_LOT_OPEN);
    cr_assert_eq(v.price_minor, 0);
    cr_assert_eq(v.leader, 0);
    cr_assert_eq(v.bid_count, 0);
    cr_assert_eq(v.seq, 0, "not even the number of commands leaks");
    cr_assert(!v.reserve_met, "the reserve is not hinted at");
    cr_assert_eq(v.ask_minor, USD(1000), "the minimum bid is public");
    struct kito_my_bid mine;
    cr_assert_eq(kito_engine_my_bid(eng, LOT, 2, &mine), KITO_OK);
    cr_assert(mine.has_bid);
    cr_assert_eq(mine.amount_minor, USD(4000));
    cr_assert(!mine.leading);
    cr_assert_eq(kito_engine_my_bid(eng, LOT, 3, &mine), KITO_OK);
    cr_assert(!mine.has_bid);
    /* the view and her bid in one lookup (a bid's answer) say the same as the two calls */
    struct kito_lot_view v2;
    struct kito_my_bid mine2;
    cr_assert_eq(kito_engine_lot_view_mine(eng, LOT, 2, &v2, &mine2), KITO_OK);
    cr_assert_eq(memcmp(&v2, &v, sizeof(v)), 0);
    cr_assert(mine2.has_bid && !mine2.leading);
    cr_assert_eq(mine2.amount_minor, USD(4000));
    cr_assert_eq(kito_engine_lot_view_mine(eng, LOT + 1, 2, &v2, &mine2), KITO_E_UNKNOWN_LOT);
    struct kito_standing_bid bids[4];
    size_t n;
    cr_assert_eq(kito_engine_lot_bids(eng, LOT, bids, 4, &n), KITO_E_BAD_STATE,
                 "not even the organiser before close");
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->type, KITO_EV_SOLD);
    cr_assert_eq(res->who, 2);
    cr_assert_eq(res->amount_minor, USD(4000), "first price");
    cr_assert_eq(kito_engine_lot_bids(eng, LOT, bids, 4, &n), KITO_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(bids[0].bidder, 1);
    cr_assert_eq(bids[0].amount_minor, USD(2500));
    v = view();
    cr_assert_eq(v.leader, 2);
    cr_assert_eq(v.price_minor, USD(4000));
    cr_assert_eq(v.bid_count, 2);
}

Test(tender, equal_bids_go_to_the_earliest)
{
    open_tender(USD(100), 0, KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(5, USD(700), 10), KITO_OK);
    cr_assert_eq(tender(6, USD(700), 20), KITO_OK);
    cr_assert_eq(tender(8, USD(650), 30), KITO_OK);
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->who, 5);
    cr_assert_eq(res->amount_minor, USD(700));
}

Test(tender, a_revision_takes_the_time_of_the_revision)
{
    open_tender(USD(100), 0, KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(5, USD(700), 10), KITO_OK);
    cr_assert_eq(tender(6, USD(700), 20), KITO_OK);
    cr_assert_eq(tender(5, USD(600), 30), KITO_OK, "revisions may go down");
    cr_assert_eq(tender(5, USD(700), 40), KITO_OK);
    cr_assert_eq(tender(5, USD(700), 50), KITO_E_UNCHANGED);
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->who, 6, "5's 700 is now later than 6's");
}

Test(tender, second_price_is_runner_up_plus_a_step_capped_at_the_winner)
{
    open_tender(USD(100), 0, KITO_TENDER_SECOND_PRICE);
    cr_assert_eq(tender(1, USD(1000), 10), KITO_OK);
    cr_assert_eq(tender(2, USD(800), 20), KITO_OK);
    cr_assert_eq(tender(3, USD(300), 30), KITO_OK);
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->who, 1);
    cr_assert_eq(res->amount_minor, USD(850), "800 + step(800) = 50");
}

Test(tender, second_price_capped_and_with_reserve)
{
    open_tender(USD(100), 0, KITO_TENDER_SECOND_PRICE);
    cr_assert_eq(tender(1, USD(1020), 10), KITO_OK);
    cr_assert_eq(tender(2, USD(1000), 20), KITO_OK);
    cr_assert_eq(close_lot()->amount_minor, USD(1020), "min(1020, 1000 + 100)");

    kito_engine_lot_unload(eng, LOT);
    open_tender(USD(100), USD(900), KITO_TENDER_SECOND_PRICE);
    cr_assert_eq(tender(1, USD(1000), 10), KITO_OK);
    cr_assert_eq(tender(2, USD(300), 20), KITO_OK);
    cr_assert_eq(close_lot()->amount_minor, USD(900), "at least the reserve");

    kito_engine_lot_unload(eng, LOT);
    open_tender(USD(400), 0, KITO_TENDER_SECOND_PRICE);
    cr_assert_eq(tender(1, USD(1000), 10), KITO_OK);
    cr_assert_eq(close_lot()->amount_minor, USD(400), "a single bid pays the opening price");

    kito_engine_lot_unload(eng, LOT);
    open_tender(USD(100), 0, KITO_TENDER_SECOND_PRICE);
    cr_assert_eq(tender(1, USD(700), 10), KITO_OK);
    cr_assert_eq(tender(2, USD(700), 20), KITO_OK);
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->who, 1);
    cr_assert_eq(res->amount_minor, USD(700), "a tie pays the tied bid");
}

Test(tender, reserve_not_met_and_no_bids)
{
    open_tender(USD(100), USD(5000), KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(1, USD(4999), 10), KITO_OK);
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->type, KITO_EV_UNSOLD);
    cr_assert_eq(res->reason, KITO_UNSOLD_RESERVE_NOT_MET);
    cr_assert_eq(res->amount_minor, 0);
    cr_assert_eq(res->who, 0);

    kito_engine_lot_unload(eng, LOT);
    open_tender(USD(100), USD(5000), KITO_TENDER_FIRST_PRICE);
    res = close_lot();
    cr_assert_eq(res->type, KITO_EV_UNSOLD);
    cr_assert_eq(res->reason, KITO_UNSOLD_NO_BIDS);

    kito_engine_lot_unload(eng, LOT);
    open_tender(USD(100), USD(5000), KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(1, USD(5000), 10), KITO_OK);
    res = close_lot();
    cr_assert_eq(res->type, KITO_EV_SOLD, "at the reserve is enough");
    cr_assert_eq(res->amount_minor, USD(5000));
}

Test(tender, refusals)
{
    open_tender(USD(100), 0, KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(1, USD(99), 10), KITO_E_BELOW_ASK, "below the minimum bid");
    cr_assert_eq(tender(SELLER, USD(500), 10), KITO_E_OWN_LOT);
    cr_assert_eq(tender(1, USD(500), END_MS), KITO_E_LOT_CLOSED, "at the end is too late");
    cr_assert_eq(tender(1, 0, 10), KITO_E_BAD_AMOUNT);
    struct kito_command c = {.id = 5000,
                             .lot_id = LOT,
                             .actor = 3,
                             .amount_minor = USD(500),
                             .now_ms = 10,
                             .type = KITO_CMD_BID};
    cr_assert_eq(kito_engine_apply(eng, &c, NULL, 0, &last_out), KITO_E_NOT_APPROVED);
    cr_assert_eq(kito_engine_my_bid(eng, LOT, 3, &(struct kito_my_bid){0}), KITO_OK);
    struct kito_command sold = {.lot_id = LOT, .type = KITO_CMD_SOLD};
    cr_assert_eq(kito_engine_apply(eng, &sold, NULL, 0, &last_out), KITO_E_WRONG_FORMAT);
    struct kito_command early = {.lot_id = LOT, .now_ms = END_MS - 1, .type = KITO_CMD_CLOSE};
    cr_assert_eq(kito_engine_apply(eng, &early, NULL, 0, &last_out), KITO_E_NOT_DUE);
    close_lot();
    cr_assert_eq(tender(1, USD(500), 10), KITO_E_LOT_CLOSED, "closed stays closed");
}

Test(tender, no_public_event_before_close_carries_anything)
{
    open_tender(USD(100), USD(777), KITO_TENDER_SECOND_PRICE);
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(tender(1 + (uint64_t)(i % 5), USD(100) + i * USD(37), 10 + i), KITO_OK);
        for (uint32_t k = 0; k < last_out.n_events; k++)
            cr_assert_neq(last_ev[k].audience, KITO_AUDIENCE_PUBLIC);
    }
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->audience, KITO_AUDIENCE_PUBLIC);
    cr_assert_eq(res->type, KITO_EV_SOLD);
}
