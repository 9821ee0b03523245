/* Timed auctions with proxy bidding: worked examples for every rule (DESIGN.md, Timed). Amounts
 * are in cents with the default ladder ($5 below $100, $10 from $100, $20 from $200 ...). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "fixture.h"

TestSuite(timed, .init = fixture_setup, .fini = fixture_teardown);

static void open_lot(uint64_t lot, int64_t opening, int64_t reserve)
{
    struct kito_lot_config cfg = lot_config(lot, KITO_FORMAT_TIMED, opening, reserve);
    load_lot(&cfg);
    tick(0);
}

static kito_err bid(uint64_t buyer, int64_t amount)
{
    return bid_at(LOT, buyer, amount, 1000);
}

/* Snapshot bytes of the lot: a refused command must leave them identical. */
static size_t snap(uint8_t *buf, size_t cap)
{
    size_t len;
    cr_assert_eq(kito_engine_lot_snapshot(eng, LOT, buf, cap, &len), KITO_OK);
    return len;
}

#define ASSERT_REFUSED_UNCHANGED(expr, code)                                                       \
    do {                                                                                           \
        uint8_t a_[4096], b_[4096];                                                                \
        size_t la_ = snap(a_, sizeof(a_));                                                         \
        cr_assert_eq((expr), (code));                                                              \
        cr_assert_eq(last_out.n_events, 0);                                                        \
        size_t lb_ = snap(b_, sizeof(b_));                                                         \
        cr_assert(la_ == lb_ && memcmp(a_, b_, la_) == 0, "a refusal changed the lot");            \
    } while (0)

Test(timed, first_bid_sets_price_to_opening)
{
    open_lot(LOT, USD(100), 0);
    struct kito_lot_view v = view();
    cr_assert_eq(v.state, KITO_LOT_OPEN);
    cr_assert_eq(v.ask_minor, USD(100), "ask is the opening price with no bid");
    cr_assert_eq(bid(1, USD(150)), KITO_OK);
    v = view();
    cr_assert_eq(v.leader, 1);
    cr_assert_eq(v.price_minor, USD(100));
    cr_assert_eq(v.ask_minor, USD(110), "price + step(price)");
    cr_assert_eq(v.bid_count, 1);
    cr_assert(v.reserve_met, "no reserve: met once there is a bid");
    check();
}

Test(timed, bid_below_ask_is_refused_and_changes_nothing)
{
    open_lot(LOT, USD(100), 0);
    ASSERT_REFUSED_UNCHANGED(bid(1, USD(99)), KITO_E_BELOW_ASK);
    cr_assert_eq(bid(1, USD(150)), KITO_OK);
    ASSERT_REFUSED_UNCHANGED(bid(2, USD(105)), KITO_E_BELOW_ASK);
    cr_assert_eq(bid(2, USD(110)), KITO_OK, "exactly the ask is accepted");
}

/* A second bidder against a leader's maximum of $150 (opening $100): who leads at what price, and
 * who is told she is outbid. */
struct second_bidder_case {
    char rule[80]; /* by value: a worker process gets a copy of the case, not our addresses */
    int64_t second_max;
    uint64_t leader;
    int64_t price;
    uint64_t outbid;
};

ParameterizedTestParameters(timed, new_bidder_against_the_leaders_max)
{
    static struct second_bidder_case cases[] = {
        {"below: the proxy holds, runner-up 120 + step 10", USD(120), 1, USD(130), 2},
        {"equal: the earlier wins, capped at her maximum", USD(150), 1, USD(150), 2},
        {"above: the new bidder leads, old leader 150 + step 10", USD(200), 2, USD(160), 1},
    };
    return cr_make_param_array(struct second_bidder_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct second_bidder_case *c, timed, new_bidder_against_the_leaders_max)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(bid(1, USD(150)), KITO_OK);
    cr_assert_eq(bid(2, c->second_max), KITO_OK, "%s", c->rule);
    struct kito_lot_view v = view();
    cr_assert_eq(v.leader, c->leader, "%s: leader %llu", c->rule, (unsigned long long)v.leader);
    cr_assert_eq(v.price_minor, c->price, "%s: price %lld", c->rule, (long long)v.price_minor);
    const struct kito_event *acc = find_ev(KITO_EV_BID_ACCEPTED);
    cr_assert_not_null(acc, "%s", c->rule);
    cr_assert_eq(acc->reason, c->leader == 2, "%s: reason is whether she leads", c->rule);
    const struct kito_event *out = find_ev(KITO_EV_OUTBID);
    cr_assert_not_null(out, "%s", c->rule);
    cr_assert_eq(out->who, c->outbid, "%s: outbid %llu", c->rule, (unsigned long long)out->who);
    cr_assert_eq(out->audience, KITO_AUDIENCE_BIDDER, "%s", c->rule);
    const struct kito_event *book = find_ev(KITO_EV_BOOK);
    cr_assert_not_null(book, "%s", c->rule);
    cr_assert_eq(book->audience, KITO_AUDIENCE_PUBLIC, "%s", c->rule);
    cr_assert_eq(book->who, c->leader, "%s", c->rule);
    cr_assert_eq(book->price_minor, c->price, "%s", c->rule);
    cr_assert_eq(book->amount_minor, 0, "%s: the public never sees a maximum", c->rule);
    cr_assert_eq(book->seq, last_out.seq, "%s", c->rule);
    check();
}

Test(timed, a_narrow_win_is_capped_by_the_new_leaders_own_maximum)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(bid(1, USD(150)), KITO_OK);
    cr_assert_eq(bid(2, USD(200)), KITO_OK);
    cr_assert_eq(bid(3, USD(205)), KITO_OK);
    struct kito_lot_view v = view();
    cr_assert_eq(v.leader, 3);
    cr_assert_eq(v.price_minor, USD(205), "min(205, 200 + 20)");
    check();
}

Test(timed, step_of_runner_up_uses_its_own_rung)
{
    open_lot(LOT, USD(50), 0);
    cr_assert_eq(bid(1, USD(300)), KITO_OK);
    cr_assert_eq(bid(2, USD(98)), KITO_OK, "ask was 50 + 5 = 55");
    cr_assert_eq(view().price_minor, USD(103), "98 + step(98) = 5");
    cr_assert_eq(bid(2, USD(195)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(205), "195 + step(195) = 10");
}

Test(timed, leader_raising_her_max_does_not_raise_the_price)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(bid(1, USD(150)), KITO_OK);
    cr_assert_eq(bid(2, USD(150)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(150));
    cr_assert_eq(bid(1, USD(400)), KITO_OK);
    struct kito_lot_view v = view();
    cr_assert_eq(v.leader, 1);
    cr_assert_eq(v.price_minor, USD(150), "not min(400, 150 + 10)");
    cr_assert_eq(v.bid_count, 3);
    struct kito_my_bid mine;
    cr_assert_eq(kito_engine_my_bid(eng, LOT, 1, &mine), KITO_OK);
    cr_assert(mine.has_bid && mine.leading);
    cr_assert_eq(mine.amount_minor, USD(400));
    ASSERT_REFUSED_UNCHANGED(bid(1, USD(400)), KITO_E_NOT_ABOVE_OWN_MAX);
    ASSERT_REFUSED_UNCHANGED(bid(1, USD(300)), KITO_E_NOT_ABOVE_OWN_MAX);
    check();
}

Test(timed, reserve_reached_by_a_max_above_it_jumps_the_price)
{
    open_lot(LOT, USD(100), USD(250));
    struct kito_lot_view v = view();
    cr_assert(v.has_reserve && !v.reserve_met);
    cr_assert_eq(bid(1, USD(300)), KITO_OK);
    v = view();
    cr_assert_eq(v.price_minor, USD(250), "jumps to the reserve, not to 300");
    cr_assert(v.reserve_met);
    cr_assert_not_null(find_ev(KITO_EV_RESERVE_MET));
    for (uint32_t i = 0; i < last_out.n_events; i++)
        cr_assert_neq(last_ev[i].amount_minor == USD(250) && last_ev[i].type != KITO_EV_BOOK, true,
                      "the reserve amount is in no event field");
    /* The ask is now reserve + step; the next bidder moves the price on from the reserve. */
    cr_assert_eq(view().ask_minor, USD(270));
    ASSERT_REFUSED_UNCHANGED(bid(2, USD(260)), KITO_E_BELOW_ASK);
    cr_assert_eq(bid(2, USD(270)), KITO_OK);
    v = view();
    cr_assert_eq(v.leader, 1);
    cr_assert_eq(v.price_minor, USD(290), "270 + 20");
    check();
}

Test(timed, leader_raising_to_the_reserve_applies_the_reserve_rule)
{
    open_lot(LOT, USD(100), USD(250));
    cr_assert_eq(bid(1, USD(200)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(100));
    cr_assert(!view().reserve_met);
    cr_assert_eq(bid(1, USD(249)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(100), "still below the reserve: nothing moves");
    cr_assert_eq(bid(1, USD(250)), KITO_OK);
    cr_assert_eq(view().price_minor, USD(250), "the raise reached the reserve");
    cr_assert(view().reserve_met);
    cr_assert_not_null(find_ev(KITO_EV_RESERVE_MET));
    check();
}

Test(timed, soft_close_at_exactly_the_window_edge_does_not_extend)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(view().ends_at_ms, END_MS);
    cr_assert_eq(bid_at(LOT, 1, USD(100), END_MS - 120000), KITO_OK);
    cr_assert_eq(view().ends_at_ms, END_MS, "bid time + 120 s is the old end");
    cr_assert_null(find_ev(KITO_EV_EXTENDED));
    cr_assert_eq(bid_at(LOT, 2, USD(110), END_MS - 119999), KITO_OK);
    cr_assert_eq(view().ends_at_ms, END_MS + 1, "one ms inside the window extends by one ms");
    const struct kito_event *ext = find_ev(KITO_EV_EXTENDED);
    cr_assert_not_null(ext);
    cr_assert_eq(ext->at_ms, END_MS + 1);
    cr_assert_eq(ext->audience, KITO_AUDIENCE_PUBLIC);
}

Test(timed, no_bid_at_or_after_the_end_and_close_awards)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(bid_at(LOT, 1, USD(150), END_MS - 1), KITO_OK);
    int64_t end = view().ends_at_ms;
    cr_assert_eq(end, END_MS - 1 + 120000);
    ASSERT_REFUSED_UNCHANGED(bid_at(LOT, 2, USD(500), end), KITO_E_LOT_CLOSED);
    /* The tick closes exactly at the end, not before. */
    cr_assert_eq(kito_engine_next_deadline(eng) <= end, true);
    cr_assert_eq(tick(end - 1), 0, "the lazily noted extension is honoured");
    cr_assert_eq(view().state, KITO_LOT_OPEN);
    cr_assert_eq(tick(end), 1);
    cr_assert_eq(tick_cmds[0].type, KITO_CMD_CLOSE);
    cr_assert_eq(tick_cmds[0].lot_id, LOT);
    cr_assert_eq(tick_cmds[0].seq, 3, "open, bid, close");
    cr_assert_eq(tick_nev, 1);
    cr_assert_eq(tick_ev[0].type, KITO_EV_SOLD);
    cr_assert_eq(tick_ev[0].who, 1);
    cr_assert_eq(tick_ev[0].amount_minor, USD(100), "hammer");
    cr_assert_eq(view().state, KITO_LOT_SOLD);
    cr_assert_eq(kito_engine_next_deadline(eng), INT64_MAX);
    check();
    /* No reopen. */
    struct kito_command reopen = {.lot_id = LOT, .now_ms = end + 1, .type = KITO_CMD_OPEN};
    ASSERT_REFUSED_UNCHANGED(apply(reopen), KITO_E_LOT_CLOSED);
    ASSERT_REFUSED_UNCHANGED(bid_at(LOT, 2, USD(500), end - 5), KITO_E_LOT_CLOSED);
    struct kito_standing_bid bids[4];
    size_t nb;
    cr_assert_eq(kito_engine_lot_bids(eng, LOT, bids, 4, &nb), KITO_OK);
    cr_assert_eq(nb, 1);
}

Test(timed, unsold_with_no_bids_or_reserve_not_met)
{
    open_lot(1, USD(100), 0);
    open_lot(2, USD(100), USD(500));
    cr_assert_eq(bid_at(2, 1, USD(400), 1000), KITO_OK);
    cr_assert_eq(tick(END_MS), 2);
    cr_assert_eq(tick_nev, 2);
    cr_assert_eq(tick_ev[0].lot_id, 1, "ties on the deadline go by lot id");
    cr_assert_eq(tick_ev[0].type, KITO_EV_UNSOLD);
    cr_assert_eq(tick_ev[0].reason, KITO_UNSOLD_NO_BIDS);
    cr_assert_eq(tick_ev[1].lot_id, 2);
    cr_assert_eq(tick_ev[1].type, KITO_EV_UNSOLD);
    cr_assert_eq(tick_ev[1].reason, KITO_UNSOLD_RESERVE_NOT_MET);
}

Test(timed, staggered_end_and_opening_when_due)
{
    struct kito_lot_config cfg = lot_config(LOT, KITO_FORMAT_TIMED, USD(10), 0);
    cfg.starts_at_ms = 5000;
    cfg.index_in_sale = 3;
    load_lot(&cfg);
    cr_assert_eq(view().ends_at_ms, END_MS + 3 * 60 * 1000, "lot 3 ends 3 x 60 s later");
    cr_assert_eq(view().state, KITO_LOT_SCHEDULED);
    ASSERT_REFUSED_UNCHANGED(bid_at(LOT, 1, USD(10), 6000), KITO_E_LOT_NOT_OPEN);
    cr_assert_eq(kito_engine_next_deadline(eng), 5000);
    struct kito_command open = {.lot_id = LOT, .now_ms = 4999, .type = KITO_CMD_OPEN};
    ASSERT_REFUSED_UNCHANGED(apply(open), KITO_E_NOT_DUE);
    tick(4999);
    cr_assert_eq(view().state, KITO_LOT_SCHEDULED);
    tick(5000);
    cr_assert_eq(view().state, KITO_LOT_OPEN);
    cr_assert_eq(view().seq, 1);
    cr_assert_eq(bid_at(LOT, 1, USD(10), 6000), KITO_OK);
    cr_assert_eq(last_out.seq, 2);
}

Test(timed, own_lot_and_unapproved_bids_are_refused)
{
    open_lot(LOT, USD(100), 0);
    ASSERT_REFUSED_UNCHANGED(bid(SELLER, USD(100)), KITO_E_OWN_LOT);
    struct kito_command c = bid_command(LOT, 999, 3, USD(100), 1000);
    c.flags = 0; /* not approved for the sale */
    ASSERT_REFUSED_UNCHANGED(apply(c), KITO_E_NOT_APPROVED);
    c.flags = KITO_CMD_F_APPROVED;
    cr_assert_eq(apply(c), KITO_OK, "a refused id is judged afresh on retry");
}

Test(timed, same_command_id_returns_the_first_outcome_and_changes_nothing)
{
    open_lot(LOT, USD(100), 0);
    struct kito_command c = bid_command(LOT, 0xfeedULL, 1, USD(150), 1000);
    cr_assert_eq(apply(c), KITO_OK);
    uint32_t first = last_out.seq;
    cr_assert_eq(bid(2, USD(120)), KITO_OK);
    ASSERT_REFUSED_UNCHANGED(apply(c), KITO_E_DUPLICATE);
    cr_assert_eq(last_out.seq, first, "the duplicate reports the first seq");
    /* Even a different amount under the same id is the same command. */
    c.amount_minor = USD(900);
    ASSERT_REFUSED_UNCHANGED(apply(c), KITO_E_DUPLICATE);
    /* The same id on another lot is another command. */
    open_lot(43, USD(100), 0);
    c.lot_id = 43;
    cr_assert_eq(apply(c), KITO_OK);
}

Test(timed, amounts_zero_negative_or_too_large_are_refused)
{
    open_lot(LOT, USD(100), 0);
    ASSERT_REFUSED_UNCHANGED(bid(1, 0), KITO_E_BAD_AMOUNT);
    ASSERT_REFUSED_UNCHANGED(bid(1, -USD(100)), KITO_E_BAD_AMOUNT);
    ASSERT_REFUSED_UNCHANGED(bid(1, INT64_MIN), KITO_E_BAD_AMOUNT);
    ASSERT_REFUSED_UNCHANGED(bid(1, KITO_AMOUNT_MAX_MINOR + 1), KITO_E_BAD_AMOUNT);
    ASSERT_REFUSED_UNCHANGED(bid(1, INT64_MAX), KITO_E_BAD_AMOUNT);
    /* The largest amount is fine; the ask after it would pass the bound, so nothing more is
     * accepted -- the sum is refused, never wrapped. */
    cr_assert_eq(bid(1, KITO_AMOUNT_MAX_MINOR), KITO_OK);
    cr_assert_eq(bid(2, KITO_AMOUNT_MAX_MINOR), KITO_OK, "equal max: price at the cap");
    cr_assert_eq(view().price_minor, KITO_AMOUNT_MAX_MINOR);
    cr_assert_eq(view().ask_minor, 0, "no representable ask");
    ASSERT_REFUSED_UNCHANGED(bid(3, KITO_AMOUNT_MAX_MINOR), KITO_E_BAD_AMOUNT);
    check();
}

Test(timed, seq_numbers_have_no_gaps_and_events_carry_them)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(view().seq, 1, "the open was command 1");
    for (int i = 0; i < 20; i++) {
        uint64_t buyer = 1 + (uint64_t)(i % 3);
        kito_err err = bid(buyer, view().ask_minor + (i % 4) * USD(3));
        if (err == KITO_OK) {
            cr_assert_eq(last_out.seq, view().seq);
            for (uint32_t k = 0; k < last_out.n_events; k++)
                cr_assert_eq(last_ev[k].seq, last_out.seq);
        }
        check();
    }
    cr_assert(view().seq > 10);
}

Test(timed, clerk_commands_do_not_apply_to_timed_lots)
{
    open_lot(LOT, USD(100), 0);
    uint8_t types[] = {KITO_CMD_FLOOR_BID, KITO_CMD_SET_ASK, KITO_CMD_UNDO,        KITO_CMD_SOLD,
                       KITO_CMD_PASS,      KITO_CMD_PAUSE,   KITO_CMD_FAIR_WARNING};
    for (size_t i = 0; i < sizeof(types); i++) {
        struct kito_command c = {
            .lot_id = LOT, .actor = 5, .amount_minor = USD(500), .now_ms = 10, .type = types[i]};
        ASSERT_REFUSED_UNCHANGED(apply(c), KITO_E_WRONG_FORMAT);
    }
}

Test(timed, withdraw_ends_the_lot_for_good)
{
    open_lot(LOT, USD(100), 0);
    cr_assert_eq(bid(1, USD(150)), KITO_OK);
    struct kito_command w = {.id = 77, .lot_id = LOT, .actor = 900, .type = KITO_CMD_WITHDRAW};
    cr_assert_eq(apply(w), KITO_OK);
    cr_assert_eq(last_ev[0].type, KITO_EV_WITHDRAWN);
    cr_assert_eq(view().state, KITO_LOT_WITHDRAWN);
    cr_assert_eq(kito_engine_next_deadline(eng), INT64_MAX, "its timer is gone");
    w.id = 78;
    ASSERT_REFUSED_UNCHANGED(apply(w), KITO_E_LOT_CLOSED);
    ASSERT_REFUSED_UNCHANGED(bid(2, USD(500)), KITO_E_LOT_CLOSED);
    check();
}

Test(timed, unknown_lot_and_bad_commands)
{
    struct kito_command c = bid_command(12345, 1, 1, 100, 0);
    cr_assert_eq(kito_engine_apply(eng, &c, NULL, 0, &last_out), KITO_E_UNKNOWN_LOT);
    c.type = 99;
    cr_assert_eq(kito_engine_apply(eng, &c, NULL, 0, &last_out), KITO_E_BAD_COMMAND);
    c.type = KITO_CMD_BID;
    c.flags = 0x80;
    cr_assert_eq(kito_engine_apply(eng, &c, NULL, 0, &last_out), KITO_E_BAD_COMMAND);
    c.flags = KITO_CMD_F_APPROVED;
    c.actor = KITO_PADDLE_BIDDER(5);
    cr_assert_eq(kito_engine_apply(eng, &c, NULL, 0, &last_out), KITO_E_BAD_COMMAND,
                 "online bidder ids are below 2^63");
    c.actor = 0;
    cr_assert_eq(kito_engine_apply(eng, &c, NULL, 0, &last_out), KITO_E_BAD_COMMAND);
}
