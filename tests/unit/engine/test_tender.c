/* Tender (sealed bid) lots: DESIGN.md, Tender. Amounts in cents, default ladder. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "fixture.h"

TestSuite(tender, .init = fixture_setup, .fini = fixture_teardown);

static void open_tender(int64_t opening, int64_t reserve, uint8_t pricing)
{
    struct kito_lot_config cfg = lot_config(LOT, KITO_FORMAT_TENDER, opening, reserve);
    cfg.tender_price = pricing;
    load_lot(&cfg);
    cr_assert_eq(tick(0), 1);
}

static kito_err tender(uint64_t buyer, int64_t amount, int64_t now)
{
    return bid_at(LOT, buyer, amount, now);
}

/* Closes the lot and returns the result event. */
static const struct kito_event *close_lot(void)
{
    cr_assert_eq(tick(END_MS), 1);
    cr_assert_eq(tick_nev, 1);
    check();
    return &tick_ev[0];
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

/* A sealed-bid auction from open to close: the bids, in order, and the result. */
struct tender_case {
    char rule[80]; /* by value: a worker process gets a copy of the case, not our addresses */
    uint8_t pricing;
    int64_t opening, reserve;
    struct {
        uint64_t buyer;
        int64_t amount;
    } bids[3];
    uint8_t result, reason; /* KITO_EV_SOLD or KITO_EV_UNSOLD with its reason */
    uint64_t winner;
    int64_t hammer;
};

#define FIRST KITO_TENDER_FIRST_PRICE
#define SECOND KITO_TENDER_SECOND_PRICE
#define SOLD KITO_EV_SOLD, 0
#define UNSOLD(why) KITO_EV_UNSOLD, KITO_UNSOLD_##why

ParameterizedTestParameters(tender, close_awards_by_the_rules)
{
    /* A case on two lines (clang-format would spread each over eight). */
    // clang-format off
    static struct tender_case cases[] = {
        {"equal bids go to the earliest", FIRST, USD(100), 0,
         {{5, USD(700)}, {6, USD(700)}, {8, USD(650)}}, SOLD, 5, USD(700)},
        {"second price: runner-up 800 + step(800) = 50", SECOND, USD(100), 0,
         {{1, USD(1000)}, {2, USD(800)}, {3, USD(300)}}, SOLD, 1, USD(850)},
        {"second price capped at the winner: min(1020, 1000 + 100)", SECOND, USD(100), 0,
         {{1, USD(1020)}, {2, USD(1000)}}, SOLD, 1, USD(1020)},
        {"second price is at least the reserve", SECOND, USD(100), USD(900),
         {{1, USD(1000)}, {2, USD(300)}}, SOLD, 1, USD(900)},
        {"a single bid pays the opening price", SECOND, USD(400), 0,
         {{1, USD(1000)}}, SOLD, 1, USD(400)},
        {"a tie pays the tied bid", SECOND, USD(100), 0,
         {{1, USD(700)}, {2, USD(700)}}, SOLD, 1, USD(700)},
        {"below the reserve is unsold", FIRST, USD(100), USD(5000),
         {{1, USD(4999)}}, UNSOLD(RESERVE_NOT_MET), 0, 0},
        {"no bids", FIRST, USD(100), USD(5000),
         {{0}}, UNSOLD(NO_BIDS), 0, 0},
        {"at the reserve is enough", FIRST, USD(100), USD(5000),
         {{1, USD(5000)}}, SOLD, 1, USD(5000)},
    };
    // clang-format on
    return cr_make_param_array(struct tender_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct tender_case *c, tender, close_awards_by_the_rules)
{
    open_tender(c->opening, c->reserve, c->pricing);
    for (size_t i = 0; i < sizeof(c->bids) / sizeof(c->bids[0]) && c->bids[i].buyer != 0; i++)
        cr_assert_eq(tender(c->bids[i].buyer, c->bids[i].amount, 10 * (int64_t)(i + 1)), KITO_OK,
                     "%s: bid %zu", c->rule, i);
    const struct kito_event *res = close_lot();
    cr_assert_eq(res->type, c->result, "%s: %s", c->rule, kito_event_type_name(res->type));
    cr_assert_eq(res->reason, c->reason, "%s: reason %u", c->rule, res->reason);
    cr_assert_eq(res->who, c->winner, "%s: won by %llu", c->rule, (unsigned long long)res->who);
    cr_assert_eq(res->amount_minor, c->hammer, "%s: hammer %lld", c->rule,
                 (long long)res->amount_minor);
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

Test(tender, refusals)
{
    open_tender(USD(100), 0, KITO_TENDER_FIRST_PRICE);
    cr_assert_eq(tender(1, USD(99), 10), KITO_E_BELOW_ASK, "below the minimum bid");
    cr_assert_eq(tender(SELLER, USD(500), 10), KITO_E_OWN_LOT);
    cr_assert_eq(tender(1, USD(500), END_MS), KITO_E_LOT_CLOSED, "at the end is too late");
    cr_assert_eq(tender(1, 0, 10), KITO_E_BAD_AMOUNT);
    struct kito_command c = bid_command(LOT, 5000, 3, USD(500), 10);
    c.flags = 0; /* not approved for the sale */
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
