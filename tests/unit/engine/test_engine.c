/* The engine as a whole: limits and what happens at them, allocation, loading, the idempotency
 * window, batches. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static struct kito_engine_limits small_limits(void)
{
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    lim.max_lots = 4;
    lim.max_standing_bids = 12; /* two chunks of 6 */
    lim.max_bidders_per_lot = 8;
    lim.max_live_lots = 1;
    lim.live_undo_depth = 4;
    lim.recent_commands = 4;
    lim.max_ladders = 2;
    return lim;
}

static kito_engine *make(struct kito_engine_limits lim)
{
    return fixture_engine(&lim);
}

static void load_open(kito_engine *e, uint64_t lot)
{
    struct kito_lot_config cfg;
    kito_lot_config_init(&cfg);
    cfg.lot_id = lot;
    cfg.seller_id = 1;
    cfg.opening_minor = USD(10);
    cfg.sale_ends_at_ms = 1000000;
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    struct kito_command open = {.lot_id = lot, .type = KITO_CMD_OPEN};
    cr_assert_eq(kito_engine_apply(e, &open, NULL, 0, NULL), KITO_OK);
}

static kito_err bid(kito_engine *e, uint64_t lot, uint64_t id, uint64_t buyer, int64_t amount,
                    struct kito_outcome *out)
{
    struct kito_command c = bid_command(lot, id, buyer, amount, 10);
    return kito_engine_apply(e, &c, NULL, 0, out);
}

Test(engine, limits_are_validated)
{
    struct kito_engine_limits lim = small_limits();
    kito_engine *e = (kito_engine *)0x1;
    lim.max_lots = 0;
    cr_assert_eq(kito_engine_create(&lim, NULL, &e), KITO_E_CONFIG);
    lim = small_limits();
    lim.max_live_lots = 5;
    cr_assert_eq(kito_engine_create(&lim, NULL, &e), KITO_E_CONFIG);
    lim = small_limits();
    lim.live_undo_depth = 0;
    cr_assert_eq(kito_engine_create(&lim, NULL, &e), KITO_E_CONFIG);
    lim = small_limits();
    lim.recent_commands = 0;
    cr_assert_eq(kito_engine_create(&lim, NULL, &e), KITO_E_CONFIG);
    cr_assert_eq(kito_engine_create(NULL, NULL, &e), KITO_E_CONFIG);
    cr_assert_eq(e, (kito_engine *)0x1, "out untouched on failure");
    kito_engine_free(NULL);
}

/* An allocator that fails at the Nth call and counts what is outstanding (nghttp2 style). */
struct failing {
    int calls, fail_at;
    size_t outstanding;
};

static void *failing_alloc(void *ctx, size_t size)
{
    struct failing *f = ctx;
    if (++f->calls == f->fail_at)
        return NULL;
    f->outstanding += size;
    return aligned_alloc(64, (size + 63) & ~(size_t)63);
}

static void failing_free(void *ctx, void *p, size_t size)
{
    struct failing *f = ctx;
    f->outstanding -= size;
    free(p);
}

Test(engine, every_allocation_failure_is_clean)
{
    struct kito_engine_limits lim = small_limits();
    int n_allocs = 0;
    {
        struct failing f = {0};
        struct kito_allocator a = {failing_alloc, failing_free, &f};
        kito_engine *e;
        cr_assert_eq(kito_engine_create(&lim, &a, &e), KITO_OK);
        n_allocs = f.calls;
        struct kito_engine_memory m;
        kito_engine_memory(e, &m);
        cr_assert_geq(m.total_bytes, f.outstanding, "the accounting covers every allocation");
        kito_engine_free(e);
        cr_assert_eq(f.outstanding, 0);
    }
    cr_assert_gt(n_allocs, 5);
    for (int k = 1; k <= n_allocs; k++) {
        struct failing f = {.fail_at = k};
        struct kito_allocator a = {failing_alloc, failing_free, &f};
        kito_engine *e = NULL;
        cr_assert_eq(kito_engine_create(&lim, &a, &e), KITO_E_NOMEM, "fail at %d", k);
        cr_assert_null(e);
        cr_assert_eq(f.outstanding, 0, "nothing leaked when allocation %d failed", k);
    }
}

Test(engine, lot_config_is_validated)
{
    kito_engine *e = make(small_limits());
    struct kito_lot_config cfg;
    kito_lot_config_init(&cfg);
    cfg.lot_id = 1;
    cfg.opening_minor = 100;
    cfg.sale_ends_at_ms = 1000;
    struct kito_lot_config bad = cfg;
    bad.lot_id = 0;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_COMMAND);
    bad = cfg;
    memcpy(bad.currency, "usd", 4);
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_COMMAND);
    bad = cfg;
    bad.format = 9;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_COMMAND);
    bad = cfg;
    bad.starts_at_ms = 1000;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_COMMAND, "ends before it starts");
    bad = cfg;
    bad.opening_minor = 0;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_AMOUNT);
    bad = cfg;
    bad.reserve_minor = -1;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_AMOUNT);
    bad = cfg;
    bad.ladder.rungs[1].step_minor = 0;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_LADDER);
    bad = cfg;
    bad.index_in_sale = UINT32_MAX;
    bad.stagger_s = UINT32_MAX;
    bad.sale_ends_at_ms = INT64_MAX - 5;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_COMMAND, "stagger overflow");
    bad = cfg;
    bad.format = KITO_FORMAT_TENDER;
    bad.tender_price = 3;
    cr_assert_eq(kito_engine_lot_load(e, &bad), KITO_E_BAD_COMMAND);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_E_LOT_EXISTS);
    kito_engine_free(e);
}

Test(engine, lot_and_ladder_capacity)
{
    kito_engine *e = make(small_limits());
    for (uint64_t lot = 1; lot <= 4; lot++)
        load_open(e, lot);
    struct kito_lot_config cfg;
    kito_lot_config_init(&cfg);
    cfg.lot_id = 5;
    cfg.opening_minor = 100;
    cfg.sale_ends_at_ms = 1000;
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_E_CAPACITY, "max_lots");
    cr_assert_eq(kito_engine_lot_unload(e, 2), KITO_OK);
    cr_assert_eq(kito_engine_lot_unload(e, 2), KITO_E_UNKNOWN_LOT);
    struct kito_lot_view v;
    cr_assert_eq(kito_engine_lot_view(e, 2, &v), KITO_E_UNKNOWN_LOT);
    cr_assert_eq(kito_engine_lot_view(e, 3, &v), KITO_OK, "others survive the index deletion");
    cr_assert_eq(kito_engine_lot_view(e, 4, &v), KITO_OK);
    /* A second ladder fits, a third does not (max_ladders = 2). */
    struct kito_ladder_rung r1[] = {{0, 7}}, r2[] = {{0, 9}};
    cr_assert_eq(kito_ladder_init(&cfg.ladder, r1, 1), KITO_OK);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    cr_assert_eq(kito_engine_lot_unload(e, 5), KITO_OK);
    cfg.lot_id = 6;
    cr_assert_eq(kito_ladder_init(&cfg.ladder, r2, 1), KITO_OK);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK, "the unused ladder slot is reused");
    cr_assert_eq(kito_engine_lot_unload(e, 6), KITO_OK);
    kito_engine_free(e);
}

Test(engine, bidder_capacity_refuses_and_changes_nothing)
{
    kito_engine *e = make(small_limits());
    load_open(e, 1);
    load_open(e, 2);
    /* Lot 1 takes 8 bidders: both chunks (6 + 2). */
    int64_t amount = USD(10);
    for (uint64_t b = 10; b < 18; b++) {
        cr_assert_eq(bid(e, 1, b, b, amount, NULL), KITO_OK);
        amount += USD(5);
    }
    struct kito_outcome out;
    cr_assert_eq(bid(e, 1, 100, 99, USD(1000), &out), KITO_E_CAPACITY, "max_bidders_per_lot");
    cr_assert_eq(out.seq, 0);
    cr_assert_eq(bid(e, 2, 101, 50, USD(10), NULL), KITO_E_CAPACITY, "the chunk pool is empty");
    cr_assert_eq(bid(e, 1, 102, 17, USD(1000), NULL), KITO_OK, "an existing bidder still bids");
    cr_assert_eq(kito_engine_lot_unload(e, 1), KITO_OK);
    cr_assert_eq(bid(e, 2, 103, 50, USD(10), NULL), KITO_OK, "unload returned the chunks");
    struct kito_engine_memory m;
    kito_engine_memory(e, &m);
    cr_assert_eq(m.chunks_used, 1);
    kito_engine_free(e);
}

Test(engine, idempotency_window_is_bounded_as_stated)
{
    struct kito_engine_limits lim = small_limits();
    lim.max_standing_bids = 600;
    lim.max_bidders_per_lot = 100;
    lim.recent_commands = 4;
    kito_engine *e = make(lim);
    load_open(e, 1);
    for (uint64_t id = 1; id <= 20; id++) {
        struct kito_lot_view v;
        cr_assert_eq(kito_engine_lot_view(e, 1, &v), KITO_OK);
        cr_assert_eq(bid(e, 1, id, 100 + id, v.ask_minor, NULL), KITO_OK);
        /* The latest `recent_commands` ids are always remembered... */
        for (uint64_t back = 0; back < 4 && back < id; back++) {
            struct kito_outcome out;
            cr_assert_eq(bid(e, 1, id - back, 1, USD(1), &out), KITO_E_DUPLICATE,
                         "id %llu after %llu", (unsigned long long)(id - back),
                         (unsigned long long)id);
            cr_assert_eq(out.seq, (uint32_t)(id - back) + 1);
        }
    }
    /* ...and at most twice as many: id 1 is long forgotten and judged afresh. */
    cr_assert_eq(bid(e, 1, 1, 101, USD(1), NULL), KITO_E_BELOW_ASK);
    kito_engine_free(e);
}

/* ---- kito_engine_remember: the window refilled from a journal (DESIGN.md, "Durability") ---- */

Test(engine, a_remembered_id_is_a_duplicate_and_nothing_is_applied)
{
    struct kito_engine_limits lim = small_limits();
    struct failing f = {0};
    struct kito_allocator a = {failing_alloc, failing_free, &f};
    kito_engine *e;
    cr_assert_eq(kito_engine_create(&lim, &a, &e), KITO_OK);
    load_open(e, 1);
    int calls = f.calls;
    /* seq 7 of lot 1, which this engine never saw (its snapshot covered it) */
    cr_assert_eq(kito_engine_remember(e, 1, 500, 7), KITO_OK);
    cr_assert_eq(f.calls, calls, "remembering allocated");
    struct kito_outcome out;
    cr_assert_eq(bid(e, 1, 500, 50, USD(10), &out), KITO_E_DUPLICATE);
    cr_assert_eq(out.seq, 7, "the retry is answered with the remembered seq");
    struct kito_lot_view v;
    cr_assert_eq(kito_engine_lot_view(e, 1, &v), KITO_OK);
    cr_assert_eq(v.seq, 1, "nothing was applied (the open only)");
    cr_assert_eq(v.bid_count, 0);
    /* ids are per lot: the same id on another lot is another command */
    load_open(e, 2);
    cr_assert_eq(bid(e, 2, 500, 50, USD(10), &out), KITO_OK);
    cr_assert_eq(out.seq, 2);
    /* a lot that is not loaded (closed and unloaded) keeps its ids, as after acceptance */
    cr_assert_eq(kito_engine_remember(e, 9, 501, 3), KITO_OK);
    cr_assert_eq(bid(e, 9, 501, 50, USD(10), &out), KITO_E_DUPLICATE);
    cr_assert_eq(out.seq, 3);
    kito_engine_free(e);
    cr_assert_eq(f.outstanding, 0);
}

Test(engine, remember_refuses_zeros_and_remembers_nothing)
{
    kito_engine *e = make(small_limits());
    load_open(e, 1);
    cr_assert_eq(kito_engine_remember(e, 0, 500, 2), KITO_E_BAD_COMMAND);
    cr_assert_eq(kito_engine_remember(e, 1, 0, 2), KITO_E_BAD_COMMAND,
                 "id 0 is never deduplicated");
    cr_assert_eq(kito_engine_remember(e, 1, 500, 0), KITO_E_BAD_COMMAND);
    struct kito_outcome out;
    cr_assert_eq(bid(e, 1, 500, 50, USD(10), &out), KITO_OK);
    cr_assert_eq(out.seq, 2);
    kito_engine_free(e);
}

/* The window's bound holds for remembered ids as for accepted ones: oldest first, the latest
 * recent_commands of both together are remembered, older ones age out. */
Test(engine, remembered_ids_age_out_in_order_with_accepted_ones)
{
    struct kito_engine_limits lim = small_limits();
    lim.max_standing_bids = 600;
    lim.max_bidders_per_lot = 100;
    lim.recent_commands = 4;
    kito_engine *e = make(lim);
    load_open(e, 1);
    /* a journal's ids 1..10 at seqs 2..11, over two lots, remembered in order */
    for (uint64_t id = 1; id <= 10; id++)
        cr_assert_eq(kito_engine_remember(e, 1 + id % 2, id, (uint32_t)id + 1), KITO_OK);
    for (uint64_t id = 7; id <= 10; id++) {
        struct kito_outcome out;
        cr_assert_eq(bid(e, 1 + id % 2, id, 1, USD(1), &out), KITO_E_DUPLICATE, "id %llu",
                     (unsigned long long)id);
        cr_assert_eq(out.seq, (uint32_t)id + 1);
    }
    /* then commands are accepted: the remembered ids are the older ones now */
    for (uint64_t id = 11; id <= 14; id++) {
        struct kito_lot_view v;
        cr_assert_eq(kito_engine_lot_view(e, 1, &v), KITO_OK);
        cr_assert_eq(bid(e, 1, id, 100 + id, v.ask_minor, NULL), KITO_OK);
    }
    struct kito_outcome out;
    cr_assert_eq(bid(e, 1, 11, 1, USD(1), &out), KITO_E_DUPLICATE);
    for (uint64_t id = 15; id <= 22; id++) {
        struct kito_lot_view v;
        cr_assert_eq(kito_engine_lot_view(e, 1, &v), KITO_OK);
        cr_assert_eq(bid(e, 1, id, 100 + id, v.ask_minor, NULL), KITO_OK);
    }
    /* 12 accepted since: id 9 (lot 2 is not loaded) is long forgotten */
    cr_assert_eq(bid(e, 2, 9, 1, USD(1), NULL), KITO_E_UNKNOWN_LOT);
    kito_engine_free(e);
}

Test(engine, an_id_remembered_twice_keeps_the_later_seq_and_one_place)
{
    struct kito_engine_limits lim = small_limits();
    lim.recent_commands = 2;
    kito_engine *e = make(lim);
    load_open(e, 1);
    struct kito_outcome out;
    cr_assert_eq(kito_engine_remember(e, 1, 50, 3), KITO_OK);
    cr_assert_eq(kito_engine_remember(e, 1, 50, 9), KITO_OK);
    cr_assert_eq(kito_engine_remember(e, 1, 50, 4), KITO_OK, "an older seq arriving late");
    cr_assert_eq(bid(e, 1, 50, 1, USD(1), &out), KITO_E_DUPLICATE);
    cr_assert_eq(out.seq, 9);
    /* one place: with it, 51 fills the first generation and 52, 53 the second, so 50 stays;
     * had it taken three, 53 would have cleared it */
    cr_assert_eq(kito_engine_remember(e, 1, 51, 10), KITO_OK);
    cr_assert_eq(kito_engine_remember(e, 1, 52, 11), KITO_OK);
    cr_assert_eq(kito_engine_remember(e, 1, 53, 12), KITO_OK);
    cr_assert_eq(bid(e, 1, 50, 1, USD(1), &out), KITO_E_DUPLICATE);
    cr_assert_eq(out.seq, 9);
    kito_engine_free(e);
}

/* A journal may hold an id twice (accepted again after the window forgot it): replay applies
 * both and leaves the window to kito_engine_remember. */
Test(engine, replay_applies_an_id_the_window_holds_and_leaves_the_window_alone)
{
    kito_engine *e = make(small_limits());
    load_open(e, 1);
    cr_assert_eq(kito_engine_remember(e, 1, 70, 2), KITO_OK);
    struct kito_command c = {.id = 70,
                             .lot_id = 1,
                             .actor = 5,
                             .amount_minor = USD(10),
                             .now_ms = 10,
                             .seq = 2,
                             .type = KITO_CMD_BID,
                             .flags = KITO_CMD_F_APPROVED};
    struct kito_outcome out;
    cr_assert_eq(kito_engine_replay(e, &c, NULL, 0, &out), KITO_OK, "%s", kito_err_code(out.err));
    cr_assert_eq(out.seq, 2);
    struct kito_lot_view v;
    cr_assert_eq(kito_engine_lot_view(e, 1, &v), KITO_OK);
    c.id = 71;
    c.seq = 3;
    c.actor = 6;
    c.amount_minor = v.ask_minor;
    cr_assert_eq(kito_engine_replay(e, &c, NULL, 0, &out), KITO_OK, "%s", kito_err_code(out.err));
    /* id 71 was replayed, not remembered: a new arrival of it is a new command */
    cr_assert_eq(kito_engine_lot_view(e, 1, &v), KITO_OK);
    cr_assert_eq(bid(e, 1, 71, 7, v.ask_minor, &out), KITO_OK);
    cr_assert_eq(out.seq, 4);
    kito_engine_free(e);
}

Test(engine, a_batch_equals_the_same_commands_one_by_one)
{
    kito_engine *a = make(fixture_limits()), *b = make(fixture_limits());
    for (uint64_t lot = 1; lot <= 40; lot++) {
        load_open(a, lot);
        load_open(b, lot);
    }
    enum { N = 2000 };
    static struct kito_command cmds[N];
    static struct kito_outcome oa[N], ob[N];
    static struct kito_event ea[N * 4], eb[N * 4];
    uint64_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cmds[i] = (struct kito_command){.id = (i % 50 == 7) ? i - 3 : i + 1,
                                        .lot_id = 1 + (x >> 33) % 41,
                                        .actor = 2 + (x >> 20) % 9,
                                        .amount_minor = USD(10) + (int64_t)((x >> 40) % 2000) * 50,
                                        .now_ms = 100,
                                        .type = KITO_CMD_BID,
                                        .flags = KITO_CMD_F_APPROVED};
    }
    size_t nea = 0;
    for (size_t i = 0; i < N; i++) {
        kito_engine_apply(a, &cmds[i], &ea[nea], KITO_MAX_EVENTS_PER_COMMAND, &oa[i]);
        nea += oa[i].n_events;
        cr_assert_lt(nea, N * 4 - KITO_MAX_EVENTS_PER_COMMAND);
    }
    size_t done = 0, neb = 0;
    while (done < N) {
        size_t nev;
        size_t k = kito_engine_apply_batch(b, cmds + done, N - done, ob + done, eb + neb,
                                           N * 4 - neb, &nev);
        cr_assert_gt(k, 0);
        done += k;
        neb += nev;
    }
    cr_assert_eq(nea, neb);
    cr_assert_eq(memcmp(ea, eb, nea * sizeof(ea[0])), 0, "same events");
    int accepted = 0, refused = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(oa[i].err, ob[i].err);
        cr_assert_eq(oa[i].seq, ob[i].seq);
        accepted += oa[i].err == KITO_OK;
        refused += oa[i].err != KITO_OK;
    }
    cr_assert_gt(accepted, 100);
    cr_assert_gt(refused, 100, "the mix has refusals (unknown lot 41, below ask, duplicates)");
    for (uint64_t lot = 1; lot <= 40; lot++)
        cr_assert(kito_engine_lot_equal(a, b, lot, NULL, 0));
    /* A batch stops when the event buffer cannot hold another command's events. */
    struct kito_event small[KITO_MAX_EVENTS_PER_COMMAND + 3];
    size_t nev = 99;
    cr_assert_eq(
        kito_engine_apply_batch(b, cmds, N, ob, small, KITO_MAX_EVENTS_PER_COMMAND - 1, &nev), 0);
    cr_assert_eq(nev, 0);
    kito_engine_free(a);
    kito_engine_free(b);
}

Test(engine, tick_respects_its_buffers)
{
    kito_engine *e = make(fixture_limits());
    for (uint64_t lot = 1; lot <= 10; lot++) {
        struct kito_lot_config cfg;
        kito_lot_config_init(&cfg);
        cfg.lot_id = lot;
        cfg.opening_minor = 100;
        cfg.starts_at_ms = (int64_t)lot;
        cfg.sale_ends_at_ms = 1000;
        cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    }
    struct kito_command applied[3];
    struct kito_event ev[KITO_MAX_EVENTS_PER_COMMAND];
    size_t n, nev, total = 0;
    cr_assert_eq(kito_engine_next_deadline(e), 1);
    while (kito_engine_next_deadline(e) <= 10) {
        cr_assert_eq(kito_engine_tick(e, 10, applied, 3, &n, ev, KITO_MAX_EVENTS_PER_COMMAND, &nev),
                     KITO_OK);
        cr_assert_eq(n, 1, "room for one command's events only");
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(applied[i].type, KITO_CMD_OPEN);
            cr_assert_eq(applied[i].lot_id, total + i + 1, "earliest deadline first");
        }
        total += n;
    }
    cr_assert_eq(total, 10);
    cr_assert_eq(kito_engine_next_deadline(e), 1000);
    kito_engine_free(e);
}

Test(engine, memory_accounting_states_the_per_lot_cost)
{
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    kito_engine *e = make(lim);
    struct kito_engine_memory m;
    kito_engine_memory(e, &m);
    cr_assert_eq(m.chunk_bytes, 128);
    /* 192 B record + 16..32 B index + 16 B heap + 4 B free list */
    cr_assert_geq(m.lot_slot_bytes, 228);
    cr_assert_leq(m.lot_slot_bytes, 244);
    cr_assert_eq(m.live_slot_bytes, 32 + 4 + 32 * 88);
    cr_assert_eq(m.chunks_total, (1048576 + 5) / 6);
    cr_assert_lt(m.total_bytes, (size_t)60 << 20, "defaults stay small (%zu)", m.total_bytes);
    kito_engine_free(e);
}

/* The one spelling of the lot states (the API, MySQL's lots.state and the feed use it). */
Test(engine, lot_state_names)
{
    const char *want[] = {"scheduled", "open", "closing", "sold", "unsold", "withdrawn"};
    for (uint8_t s = 1; s <= KITO_LOT_STATE_MAX; s++)
        cr_assert_str_eq(kito_lot_state_name(s), want[s - 1]);
    cr_assert_str_eq(kito_lot_state_name(0), "unknown");
    cr_assert_str_eq(kito_lot_state_name(KITO_LOT_STATE_MAX + 1), "unknown");
}
