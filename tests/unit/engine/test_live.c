/* Live (trade forum) lots: the clerk's commands, floor and online bids, absentee maximums
 * (DESIGN.md, Live). Amounts in cents, default ladder ($20 steps from $200, $50 from $500). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "fixture.h"

#define UNDO_DEPTH 3

static void setup(void)
{
    struct kito_engine_limits lim = fixture_limits();
    lim.max_live_lots = 2;
    lim.live_undo_depth = UNDO_DEPTH;
    eng = fixture_engine(&lim);
}

TestSuite(live, .init = setup, .fini = fixture_teardown);

static void load(int64_t opening, int64_t reserve)
{
    struct kito_lot_config cfg = lot_config(LOT, KITO_FORMAT_LIVE, opening, reserve);
    load_lot(&cfg);
}

/* A command of the clerk's (or a bid) with the next id; checks the lot after it. */
static kito_err cmd(uint8_t type, uint64_t actor, int64_t amount, uint8_t arg)
{
    uint64_t id = next_id++;
    struct kito_command c = bid_command(LOT, id, actor, amount, 1000 + (int64_t)id);
    c.type = type;
    c.flags = type == KITO_CMD_BID ? KITO_CMD_F_APPROVED : 0;
    c.arg = arg;
    kito_err err = apply(c);
    check();
    return err;
}

static kito_err online(uint64_t buyer, int64_t max)
{
    return cmd(KITO_CMD_BID, buyer, max, 0);
}

static kito_err floor_bid(uint64_t paddle, int64_t amount)
{
    return cmd(KITO_CMD_FLOOR_BID, paddle, amount, 0);
}

static kito_err clerk(uint8_t type)
{
    return cmd(type, 900, 0, 0);
}

static bool has_public_event(void)
{
    for (uint32_t i = 0; i < last_out.n_events; i++) {
        if (last_ev[i].audience == KITO_AUDIENCE_PUBLIC)
            return true;
    }
    return false;
}

Test(live, absentee_maximums_against_floor_bids)
{
    load(USD(100), USD(300));
    cr_assert_eq(online(1, USD(500)), KITO_OK, "absentee A");
    cr_assert(!has_public_event(), "absentee bids are not public");
    cr_assert_eq(online(2, USD(350)), KITO_OK, "absentee B");
    cr_assert_eq(view().leader, 0, "sealed until the clerk opens");
    cr_assert_eq(view().price_minor, 0);

    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    struct kito_lot_view v = view();
    cr_assert_eq(v.state, KITO_LOT_OPEN);
    cr_assert_eq(v.leader, 1, "A's absentee leads");
    cr_assert_eq(v.price_minor, USD(370), "B's 350 + step 20");
    cr_assert(v.reserve_met);
    cr_assert_eq(v.ask_minor, USD(390));
    cr_assert_eq(last_ev[0].type, KITO_EV_OPENED);

    cr_assert_eq(floor_bid(12, USD(390)), KITO_OK);
    v = view();
    cr_assert_eq(v.leader, 1, "the absentee answers on the book");
    cr_assert_eq(v.price_minor, USD(410));
    cr_assert_eq(floor_bid(12, USD(430)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(450));
    cr_assert_eq(floor_bid(12, USD(470)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(490));
    cr_assert_eq(view().ask_minor, USD(510));
    cr_assert_eq(floor_bid(12, USD(510)), KITO_OK);
    v = view();
    cr_assert_eq(v.leader, KITO_PADDLE_BIDDER(12), "past A's maximum: the floor leads");
    cr_assert_eq(v.price_minor, USD(510), "a floor bid is a fixed amount");
    cr_assert_eq(floor_bid(12, USD(560)), KITO_E_ALREADY_LEADING);

    cr_assert_eq(online(3, USD(600)), KITO_OK, "an online proxy joins");
    v = view();
    cr_assert_eq(v.leader, 3);
    cr_assert_eq(v.price_minor, USD(560), "510 + step 50");

    cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_OK);
    cr_assert_eq(last_ev[0].type, KITO_EV_BID_UNDONE);
    cr_assert_eq(last_ev[0].who, 3);
    v = view();
    cr_assert_eq(v.leader, KITO_PADDLE_BIDDER(12));
    cr_assert_eq(v.price_minor, USD(510));
    struct kito_my_bid mine;
    cr_assert_eq(kito_engine_my_bid(eng, LOT, 3, &mine), KITO_OK);
    cr_assert(!mine.has_bid, "the undone bid is gone");
    cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_OK);
    v = view();
    cr_assert_eq(v.leader, 1);
    cr_assert_eq(v.price_minor, USD(490));
    cr_assert_eq(kito_engine_my_bid(eng, LOT, KITO_PADDLE_BIDDER(12), &mine), KITO_OK);
    cr_assert_eq(mine.amount_minor, USD(470), "the paddle's earlier bid stands again");

    cr_assert_eq(clerk(KITO_CMD_FAIR_WARNING), KITO_OK);
    cr_assert_eq(view().state, KITO_LOT_CLOSING);
    cr_assert_eq(clerk(KITO_CMD_SOLD), KITO_OK);
    cr_assert_eq(last_ev[0].type, KITO_EV_SOLD);
    cr_assert_eq(last_ev[0].who, 1);
    cr_assert_eq(last_ev[0].amount_minor, USD(490));
    cr_assert_eq(view().state, KITO_LOT_SOLD);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_E_LOT_CLOSED, "no reopen after sold");
    cr_assert_eq(floor_bid(13, USD(1000)), KITO_E_LOT_CLOSED);
}

/* Online bids before the clerk opens are absentee maximums; the open executes them as proxies. */
struct absentee_case {
    char rule[64]; /* by value: a worker process gets a copy of the case, not our addresses */
    int64_t opening, reserve;
    struct {
        uint64_t buyer;
        int64_t max;
        kito_err err;
    } bids[3];
    uint64_t leader;
    int64_t price;
    bool reserve_met_event; /* only a lot with a reserve has one */
};

ParameterizedTestParameters(live, the_open_executes_the_absentee_maximums)
{
    static struct absentee_case cases[] = {
        // clang-format off
        {"a lone absentee opens at the opening price", USD(100), 0,
         {{1, USD(500), KITO_OK}, {1, USD(400), KITO_E_NOT_ABOVE_OWN_MAX},
          {2, USD(99), KITO_E_BELOW_ASK}},
         1, USD(100), false},
        {"equal absentees go to the earlier", USD(100), 0,
         {{1, USD(300), KITO_OK}, {2, USD(300), KITO_OK}, {3, USD(200), KITO_OK}},
         1, USD(300), false},
        {"an absentee's max covers the reserve: the price jumps to it", USD(100), USD(1000),
         {{1, USD(2000), KITO_OK}, {2, USD(300), KITO_OK}},
         1, USD(1000), true},
        // clang-format on
    };
    return cr_make_param_array(struct absentee_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct absentee_case *c, live, the_open_executes_the_absentee_maximums)
{
    load(c->opening, c->reserve);
    for (size_t i = 0; i < sizeof(c->bids) / sizeof(c->bids[0]) && c->bids[i].buyer != 0; i++)
        cr_assert_eq(online(c->bids[i].buyer, c->bids[i].max), c->bids[i].err, "%s: bid %zu",
                     c->rule, i);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK, "%s", c->rule);
    struct kito_lot_view v = view();
    cr_assert_eq(v.leader, c->leader, "%s: leader %llu", c->rule, (unsigned long long)v.leader);
    cr_assert_eq(v.price_minor, c->price, "%s: price %lld", c->rule, (long long)v.price_minor);
    cr_assert_eq(find_ev(KITO_EV_RESERVE_MET) != NULL, c->reserve_met_event, "%s: reserve_met",
                 c->rule);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_E_BAD_STATE, "%s: opened twice", c->rule);
}

Test(live, set_ask_and_step)
{
    load(USD(100), 0);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(view().ask_minor, USD(100));
    cr_assert_eq(cmd(KITO_CMD_SET_ASK, 900, USD(80), 0), KITO_OK, "start below the opening");
    cr_assert_eq(view().ask_minor, USD(80));
    cr_assert_eq(last_ev[0].type, KITO_EV_ASK_CHANGED);
    cr_assert_eq(floor_bid(4, USD(80)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(80));
    cr_assert_eq(view().ask_minor, USD(85), "the called ask is used up");
    cr_assert_eq(cmd(KITO_CMD_SET_ASK, 900, USD(80), 0), KITO_E_ASK_NOT_ABOVE_PRICE);
    cr_assert_eq(cmd(KITO_CMD_SET_ASK, 900, 0, 0), KITO_E_BAD_AMOUNT);
    cr_assert_eq(cmd(KITO_CMD_SET_ASK, 900, USD(200), 0), KITO_OK);
    cr_assert_eq(floor_bid(5, USD(150)), KITO_E_BELOW_ASK);
    cr_assert_eq(online(6, USD(300)), KITO_OK, "an online max at a called ask");
    cr_assert_eq(view().price_minor, USD(200), "the online bidder accepted the ask called");
    cr_assert_eq(view().leader, 6);

    /* Step: ladder 20 at 200. */
    cr_assert_eq(view().ask_minor, USD(220));
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 0, KITO_STEP_HALVE), KITO_OK);
    cr_assert_eq(last_ev[0].amount_minor, USD(10));
    cr_assert_eq(view().ask_minor, USD(210));
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 0, KITO_STEP_DOUBLE), KITO_OK);
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 0, KITO_STEP_DOUBLE), KITO_OK);
    cr_assert_eq(view().ask_minor, USD(240));
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 2500, KITO_STEP_MANUAL), KITO_OK);
    cr_assert_eq(view().ask_minor, USD(225));
    /* The proxy answers floor bids with the clerk's step too. */
    cr_assert_eq(floor_bid(5, USD(225)), KITO_OK);
    cr_assert_eq(view().leader, 6);
    cr_assert_eq(view().price_minor, USD(250), "225 + the manual 25");
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 0, KITO_STEP_LADDER), KITO_OK);
    cr_assert_eq(view().ask_minor, USD(270));
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 1, KITO_STEP_MANUAL), KITO_OK);
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 0, KITO_STEP_HALVE), KITO_E_BAD_AMOUNT,
                 "a step cannot halve below one minor unit");
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, -5, KITO_STEP_MANUAL), KITO_E_BAD_AMOUNT);
    cr_assert_eq(cmd(KITO_CMD_SET_STEP, 900, 0, 9), KITO_E_BAD_COMMAND);
}

Test(live, undo_is_bounded_and_needs_a_bid)
{
    load(USD(100), 0);
    cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_E_BAD_STATE, "not open yet");
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_E_NOTHING_TO_UNDO);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(floor_bid(1 + (uint64_t)(i % 2), view().ask_minor), KITO_OK);
    cr_assert_eq(view().price_minor, USD(140), "100, 110, 120, 130, 140");
    for (int i = 0; i < UNDO_DEPTH; i++)
        cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_OK);
    cr_assert_eq(view().price_minor, USD(110));
    cr_assert_eq(view().bid_count, 2);
    cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_E_NOTHING_TO_UNDO, "only the last 3 bids");
}

Test(live, fair_warning_and_a_late_bid)
{
    load(USD(100), 0);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_FAIR_WARNING), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_FAIR_WARNING), KITO_E_BAD_STATE);
    cr_assert_eq(floor_bid(3, USD(100)), KITO_OK);
    cr_assert_eq(view().state, KITO_LOT_OPEN, "a bid under fair warning reopens");
    cr_assert_eq(clerk(KITO_CMD_FAIR_WARNING), KITO_OK);
    /* The leader raising her own max is not a bid against the room: the warning stands. */
    cr_assert_eq(online(8, USD(200)), KITO_OK);
    cr_assert_eq(view().leader, 8);
    cr_assert_eq(view().state, KITO_LOT_OPEN);
    cr_assert_eq(clerk(KITO_CMD_FAIR_WARNING), KITO_OK);
    cr_assert_eq(online(8, USD(300)), KITO_OK);
    cr_assert_eq(view().state, KITO_LOT_CLOSING);
    cr_assert_eq(clerk(KITO_CMD_SOLD), KITO_OK);
}

Test(live, sold_needs_a_bid_at_the_reserve_and_pass_says_why)
{
    load(USD(100), USD(1000));
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_SOLD), KITO_E_NO_BID);
    cr_assert_eq(floor_bid(3, USD(500)), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_SOLD), KITO_E_RESERVE_NOT_MET, "nothing sold below the reserve");
    cr_assert_eq(clerk(KITO_CMD_PASS), KITO_OK);
    cr_assert_eq(last_ev[0].type, KITO_EV_UNSOLD);
    cr_assert_eq(last_ev[0].reason, KITO_UNSOLD_RESERVE_NOT_MET);
    cr_assert_eq(view().state, KITO_LOT_UNSOLD);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_E_LOT_CLOSED, "no reopen after a pass");

    kito_engine_lot_unload(eng, LOT);
    load(USD(100), 0);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_PASS), KITO_OK);
    cr_assert_eq(last_ev[0].reason, KITO_UNSOLD_NO_BIDS);

    kito_engine_lot_unload(eng, LOT);
    load(USD(100), 0);
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(floor_bid(3, USD(100)), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_PASS), KITO_OK);
    cr_assert_eq(last_ev[0].reason, KITO_UNSOLD_PASSED);
}

Test(live, pause_and_resume)
{
    load(USD(100), 0);
    cr_assert_eq(clerk(KITO_CMD_PAUSE), KITO_E_BAD_STATE, "not running yet");
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(clerk(KITO_CMD_RESUME), KITO_E_BAD_STATE);
    cr_assert_eq(clerk(KITO_CMD_PAUSE), KITO_OK);
    cr_assert(view().paused);
    cr_assert_eq(floor_bid(3, USD(100)), KITO_E_LOT_PAUSED);
    cr_assert_eq(online(4, USD(100)), KITO_E_LOT_PAUSED);
    cr_assert_eq(clerk(KITO_CMD_SOLD), KITO_E_LOT_PAUSED);
    cr_assert_eq(clerk(KITO_CMD_PAUSE), KITO_E_LOT_PAUSED);
    cr_assert_eq(clerk(KITO_CMD_RESUME), KITO_OK);
    cr_assert(!view().paused);
    cr_assert_eq(floor_bid(3, USD(100)), KITO_OK);
}

Test(live, commands_that_do_not_fit_the_state_or_format)
{
    load(USD(100), 0);
    cr_assert_eq(floor_bid(3, USD(100)), KITO_E_LOT_NOT_OPEN);
    cr_assert_eq(clerk(KITO_CMD_SOLD), KITO_E_BAD_STATE);
    cr_assert_eq(clerk(KITO_CMD_FAIR_WARNING), KITO_E_BAD_STATE);
    cr_assert_eq(clerk(KITO_CMD_CLOSE), KITO_E_WRONG_FORMAT, "live lots close by the hammer");
    cr_assert_eq(online(SELLER, USD(100)), KITO_E_OWN_LOT);
    cr_assert_eq(clerk(KITO_CMD_WITHDRAW), KITO_OK);
    cr_assert_eq(view().state, KITO_LOT_WITHDRAWN);
    struct kito_standing_bid bids[1];
    size_t n = 99;
    cr_assert_eq(kito_engine_lot_bids(eng, LOT, bids, 1, &n), KITO_OK);
    cr_assert_eq(n, 0);
}

Test(live, live_lot_capacity_is_enforced)
{
    load(USD(100), 0);
    struct kito_lot_config cfg = lot_config(100, KITO_FORMAT_LIVE, 100, 0);
    load_lot(&cfg);
    cfg.lot_id = 101;
    cr_assert_eq(kito_engine_lot_load(eng, &cfg), KITO_E_CAPACITY, "max_live_lots is 2");
    cr_assert_eq(kito_engine_lot_unload(eng, 100), KITO_OK);
    cr_assert_eq(kito_engine_lot_load(eng, &cfg), KITO_OK, "the block is reused");
}

/* Found by the simulation (seed 7): the leader raising her own maximum past the reserve makes the
 * price jump to the reserve; an ask the clerk called at or below that price no longer applies. */
Test(live, reserve_jump_past_a_called_ask_returns_the_ask_to_the_ladder)
{
    load(USD(100), USD(400));
    cr_assert_eq(clerk(KITO_CMD_OPEN), KITO_OK);
    cr_assert_eq(online(1, USD(150)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(100));
    cr_assert_eq(cmd(KITO_CMD_SET_ASK, 900, USD(300), 0), KITO_OK, "the clerk calls 300");
    cr_assert_eq(view().ask_minor, USD(300));
    cr_assert_eq(online(1, USD(450)), KITO_OK, "the leader raises her maximum past the reserve");
    struct kito_lot_view v = view();
    cr_assert_eq(v.price_minor, USD(400), "the reserve jump");
    cr_assert(v.reserve_met);
    cr_assert_eq(v.ask_minor, USD(420), "400 + step 20, not the stale 300");
    cr_assert_eq(clerk(KITO_CMD_UNDO), KITO_OK);
    v = view();
    cr_assert_eq(v.price_minor, USD(100), "undo restores the price");
    cr_assert_eq(v.ask_minor, USD(300), "and the called ask");
}
