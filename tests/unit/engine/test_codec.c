/* The journal record of a command, the snapshot of a lot, and replay (DESIGN.md, Durability). */
#include <criterion/criterion.h>
#include <string.h>

#include "fixture.h"

static struct kito_command sample(void)
{
    struct kito_command c =
        bid_command(4242, 0x0123456789abcdefULL, 77, USD(1234), INT64_C(1732700000000));
    c.seq = 17;
    return c;
}

static bool same(const struct kito_command *a, const struct kito_command *b)
{
    return a->id == b->id && a->lot_id == b->lot_id && a->actor == b->actor &&
           a->amount_minor == b->amount_minor && a->now_ms == b->now_ms && a->seq == b->seq &&
           a->type == b->type && a->flags == b->flags && a->arg == b->arg &&
           a->reserved == b->reserved;
}

Test(command, round_trip_is_exact_and_compact)
{
    struct kito_command c = sample(), d;
    uint8_t buf[KITO_COMMAND_ENCODED_MAX];
    size_t len = 0;
    cr_assert_eq(kito_command_encode(&c, buf, sizeof(buf), &len), KITO_OK);
    cr_assert(len <= 40, "a bid is compact (%zu bytes)", len);
    cr_assert_eq(buf[0], KITO_COMMAND_VERSION);
    cr_assert_eq(kito_command_decode(buf, len, &d), KITO_OK);
    cr_assert(same(&c, &d));

    /* Extremes of every field. */
    struct kito_command e = {.id = UINT64_MAX,
                             .lot_id = UINT64_MAX,
                             .actor = UINT64_MAX,
                             .amount_minor = INT64_MIN,
                             .now_ms = INT64_MAX,
                             .seq = UINT32_MAX,
                             .type = KITO_CMD_SET_STEP,
                             .arg = KITO_STEP_DOUBLE};
    cr_assert_eq(kito_command_encode(&e, buf, sizeof(buf), &len), KITO_OK);
    cr_assert(len <= KITO_COMMAND_ENCODED_MAX);
    cr_assert_eq(kito_command_decode(buf, len, &d), KITO_OK);
    cr_assert(same(&e, &d));
}

Test(command, the_encoding_is_fixed_little_endian)
{
    struct kito_command c = {
        .id = 0x0807060504030201ULL, .lot_id = 300, .seq = 1, .type = KITO_CMD_UNDO};
    uint8_t buf[KITO_COMMAND_ENCODED_MAX];
    size_t len;
    cr_assert_eq(kito_command_encode(&c, buf, sizeof(buf), &len), KITO_OK);
    const uint8_t expect[] = {1, KITO_CMD_UNDO, 0,    0,           1, 2, 3, 4, 5, 6, 7,
                              8, 0xac,          0x02, /* 300 */ 1, 0, 0, 0};
    cr_assert_eq(len, sizeof(expect) + 4);
    cr_assert_eq(memcmp(buf, expect, sizeof(expect)), 0, "bytes are stable across machines");
}

Test(command, every_single_bit_flip_is_refused)
{
    struct kito_command c = sample(), d = {0}, untouched = {0};
    uint8_t buf[KITO_COMMAND_ENCODED_MAX];
    size_t len;
    cr_assert_eq(kito_command_encode(&c, buf, sizeof(buf), &len), KITO_OK);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            cr_assert_eq(kito_command_decode(buf, len, &d), KITO_E_BAD_COMMAND, "byte %zu bit %d",
                         i, bit);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert(same(&d, &untouched), "a refused decode leaves the output alone");
    for (size_t n = 0; n < len; n++)
        cr_assert_eq(kito_command_decode(buf, n, &d), KITO_E_BAD_COMMAND, "truncated to %zu", n);
    uint8_t longer[KITO_COMMAND_ENCODED_MAX + 8];
    memcpy(longer, buf, len);
    longer[len] = 0;
    cr_assert_eq(kito_command_decode(longer, len + 1, &d), KITO_E_BAD_COMMAND, "trailing byte");
    cr_assert_eq(kito_command_decode(NULL, 10, &d), KITO_E_BAD_COMMAND);
}

/* Hand-built records with a correct checksum but a bad field must still be refused. */
static kito_err decode_raw(const uint8_t *body, size_t n)
{
    uint8_t buf[KITO_COMMAND_ENCODED_MAX + 8];
    memcpy(buf, body, n);
    /* CRC-32C, bitwise, independent of the engine's table. */
    uint32_t crc = ~0u;
    for (size_t i = 0; i < n; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    crc = ~crc;
    for (int i = 0; i < 4; i++)
        buf[n + (size_t)i] = (uint8_t)(crc >> (8 * i));
    struct kito_command d;
    return kito_command_decode(buf, n + 4, &d);
}

Test(command, well_checksummed_but_invalid_records_are_refused)
{
    const uint8_t good[] = {1, KITO_CMD_BID, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};
    cr_assert_eq(decode_raw(good, sizeof(good)), KITO_OK, "the control case decodes");
    /* One byte of the control case changed. */
    static const struct {
        size_t at;
        uint8_t value;
        const char *why;
    } bad[] = {
        {0, 2, "version 2"},
        {1, 0, "type 0"},
        {1, KITO_CMD_TYPE_MAX + 1, "unknown type"},
        {2, 0x40, "unknown flag"},
        {3, 1, "arg on a bid"},
        {12, 0, "lot id 0"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[sizeof(good)];
        memcpy(b, good, sizeof(b));
        b[bad[i].at] = bad[i].value;
        cr_assert_eq(decode_raw(b, sizeof(b)), KITO_E_BAD_COMMAND, "%s: byte %zu = %#x", bad[i].why,
                     bad[i].at, bad[i].value);
    }
    const uint8_t overlong[] = {1, KITO_CMD_BID, 1,    0, 1, 0, 0, 0, 0, 0, 0,
                                0, 0x85,         0x00, 1, 2, 3, 4};
    cr_assert_eq(decode_raw(overlong, sizeof(overlong)), KITO_E_BAD_COMMAND, "overlong varint");
    uint8_t ten[] = {1,    KITO_CMD_BID, 1,    0,    1,    0,    0,    0,    0,    0, 0, 0, 0xff,
                     0xff, 0xff,         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1, 2, 3, 4};
    cr_assert_eq(decode_raw(ten, sizeof(ten)), KITO_E_BAD_COMMAND, "varint past 64 bits");
    ten[21] = 0x01;
    cr_assert_eq(decode_raw(ten, sizeof(ten)), KITO_OK, "UINT64_MAX lot id is fine");
    const uint8_t big_seq[] = {1, KITO_CMD_BID, 1,    0,    1,    0,    0, 0, 0, 0, 0, 0,
                               5, 0x80,         0x80, 0x80, 0x80, 0x10, 2, 3, 4};
    cr_assert_eq(decode_raw(big_seq, sizeof(big_seq)), KITO_E_BAD_COMMAND, "seq past 32 bits");
}

Test(command, encode_refuses_bad_commands_and_small_buffers)
{
    struct kito_command c = sample();
    uint8_t buf[KITO_COMMAND_ENCODED_MAX];
    size_t len;
    cr_assert_eq(kito_command_encode(&c, buf, 5, &len), KITO_E_CAPACITY);
    c.type = 0;
    cr_assert_eq(kito_command_encode(&c, buf, sizeof(buf), &len), KITO_E_BAD_COMMAND);
    cr_assert_str_eq(kito_command_type_name(KITO_CMD_FLOOR_BID), "floor_bid");
    cr_assert_str_eq(kito_command_type_name(200), "unknown");
    cr_assert_str_eq(kito_event_type_name(KITO_EV_RESERVE_MET), "reserve_met");
    cr_assert_str_eq(kito_event_type_name(0), "unknown");
}

/* ---- snapshots and replay ------------------------------------------------------------------ */

static kito_engine *new_engine(void)
{
    struct kito_engine_limits lim = fixture_limits();
    return fixture_engine(&lim);
}

/* A lot with every field away from its default, so that a round trip that drops one shows. */
static struct kito_lot_config config(uint64_t lot, uint8_t format)
{
    struct kito_lot_config cfg = lot_config(lot, format, USD(100), USD(180));
    cfg.sale_id = 3;
    memcpy(cfg.currency, "TZS", 4);
    cfg.tender_price = KITO_TENDER_SECOND_PRICE;
    cfg.index_in_sale = 2;
    struct kito_ladder_rung rungs[] = {{0, 500}, {USD(150), 1000}};
    cr_assert_eq(kito_ladder_init(&cfg.ladder, rungs, 2), KITO_OK);
    return cfg;
}

/* A journal: every accepted command of a lot, encoded. */
struct journal {
    uint8_t rec[512][KITO_COMMAND_ENCODED_MAX];
    size_t len[512];
    size_t n;
};

static void journal_add(struct journal *j, const struct kito_command *c, uint32_t seq)
{
    struct kito_command copy = *c;
    copy.seq = seq;
    cr_assert_lt(j->n, 512);
    cr_assert_eq(kito_command_encode(&copy, j->rec[j->n], KITO_COMMAND_ENCODED_MAX, &j->len[j->n]),
                 KITO_OK);
    j->n++;
}

/* Applies c and journals it if accepted. */
static kito_err run(kito_engine *e, struct journal *j, struct kito_command c)
{
    struct kito_outcome out;
    struct kito_event ev[KITO_MAX_EVENTS_PER_COMMAND];
    kito_err err = kito_engine_apply(e, &c, ev, KITO_MAX_EVENTS_PER_COMMAND, &out);
    if (err == KITO_OK)
        journal_add(j, &c, out.seq);
    return err;
}

static void run_tick(kito_engine *e, struct journal *j, int64_t now)
{
    struct kito_command applied[8];
    struct kito_event ev[8 * KITO_MAX_EVENTS_PER_COMMAND];
    size_t n, nev;
    kito_engine_tick(e, now, applied, 8, &n, ev, 8 * KITO_MAX_EVENTS_PER_COMMAND, &nev);
    for (size_t i = 0; i < n; i++)
        journal_add(j, &applied[i], applied[i].seq);
}

/* Rebuilds a lot in a fresh engine from its config and journal, and compares. */
static void assert_replay_equal(kito_engine *orig, uint64_t lot, uint8_t format,
                                const struct journal *j)
{
    kito_engine *fresh = new_engine();
    struct kito_lot_config cfg = config(lot, format);
    cr_assert_eq(kito_engine_lot_load(fresh, &cfg), KITO_OK);
    for (size_t i = 0; i < j->n; i++) {
        struct kito_command c;
        cr_assert_eq(kito_command_decode(j->rec[i], j->len[i], &c), KITO_OK);
        struct kito_outcome out;
        cr_assert_eq(kito_engine_replay(fresh, &c, NULL, 0, &out), KITO_OK, "record %zu: %s", i,
                     kito_err_code(out.err));
    }
    char why[128] = "";
    cr_assert(kito_engine_lot_equal(orig, fresh, lot, why, sizeof(why)), "replay differs: %s", why);
    kito_engine_free(fresh);
}

static void assert_snapshot_round_trip(kito_engine *orig, uint64_t lot)
{
    uint8_t buf[8192], again[8192];
    size_t len, len2;
    cr_assert_eq(kito_engine_lot_snapshot_size(orig, lot) <= sizeof(buf), true);
    cr_assert_eq(kito_engine_lot_snapshot(orig, lot, buf, sizeof(buf), &len), KITO_OK);
    cr_assert_eq(len, kito_engine_lot_snapshot_size(orig, lot));
    kito_engine *fresh = new_engine();
    cr_assert_eq(kito_engine_lot_restore(fresh, buf, len), KITO_OK);
    char why[128] = "";
    cr_assert(kito_engine_lot_equal(orig, fresh, lot, why, sizeof(why)), "snapshot differs: %s",
              why);
    cr_assert_eq(kito_engine_lot_snapshot(fresh, lot, again, sizeof(again), &len2), KITO_OK);
    cr_assert(len == len2 && memcmp(buf, again, len) == 0, "snapshot of the restore is the same");
    cr_assert_eq(kito_engine_lot_restore(fresh, buf, len), KITO_E_LOT_EXISTS);
    kito_engine_free(fresh);
}

Test(replay, timed_lot_rebuilt_from_its_journal_equals_the_original)
{
    kito_engine *e = new_engine();
    struct journal j = {0};
    struct kito_lot_config cfg = config(1, KITO_FORMAT_TIMED);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    run_tick(e, &j, 0);
    int64_t end = END_MS + 2 * 60000; /* index_in_sale 2, stagger 60 s */
    cr_assert_eq(run(e, &j, bid_command(1, 1, 10, USD(120), 100)), KITO_OK);
    cr_assert_eq(run(e, &j, bid_command(1, 2, 11, USD(150), 200)), KITO_OK);
    cr_assert_eq(run(e, &j, bid_command(1, 3, 12, USD(128), 300)), KITO_E_BELOW_ASK, "ask 125 + 5");
    cr_assert_eq(run(e, &j, bid_command(1, 4, 10, USD(400), end - 1000)), KITO_OK);
    cr_assert_eq(run(e, &j, bid_command(1, 5, 11, USD(400), end + 5000)), KITO_OK, "extended");
    assert_snapshot_round_trip(e, 1);
    assert_replay_equal(e, 1, KITO_FORMAT_TIMED, &j);
    run_tick(e, &j, end + 200000);
    struct kito_lot_view v;
    kito_engine_lot_view(e, 1, &v);
    cr_assert_eq(v.state, KITO_LOT_SOLD);
    assert_snapshot_round_trip(e, 1);
    assert_replay_equal(e, 1, KITO_FORMAT_TIMED, &j);
    kito_engine_free(e);
}

Test(replay, tender_and_live_lots_round_trip)
{
    kito_engine *e = new_engine();
    struct journal jt = {0}, jl = {0};
    struct kito_lot_config t = config(2, KITO_FORMAT_TENDER), l = config(3, KITO_FORMAT_LIVE);
    cr_assert_eq(kito_engine_lot_load(e, &t), KITO_OK);
    cr_assert_eq(kito_engine_lot_load(e, &l), KITO_OK);
    run_tick(e, &jt, 0);
    for (int i = 0; i < 20; i++)
        run(e, &jt,
            bid_command(2, 100 + (uint64_t)i, 20 + (uint64_t)(i % 6), USD(100 + 13 * i), 10 + i));
    assert_snapshot_round_trip(e, 2);
    assert_replay_equal(e, 2, KITO_FORMAT_TENDER, &jt);

    cr_assert_eq(run(e, &jl, bid_command(3, 1, 30, USD(300), 5)), KITO_OK, "absentee");
    cr_assert_eq(run(e, &jl, bid_command(3, 2, 31, USD(250), 6)), KITO_OK, "absentee");
    assert_snapshot_round_trip(e, 3);
    cr_assert_eq(run(e, &jl, (struct kito_command){.id = 3, .lot_id = 3, .type = KITO_CMD_OPEN}),
                 KITO_OK);
    for (int i = 0; i < 12; i++) {
        struct kito_lot_view v;
        kito_engine_lot_view(e, 3, &v);
        run(e, &jl,
            (struct kito_command){.id = 10 + (uint64_t)i,
                                  .lot_id = 3,
                                  .actor = 1 + (uint64_t)(i % 3),
                                  .amount_minor = v.ask_minor,
                                  .type = KITO_CMD_FLOOR_BID});
        if (i % 4 == 3)
            run(e, &jl,
                (struct kito_command){.id = 100 + (uint64_t)i, .lot_id = 3, .type = KITO_CMD_UNDO});
        if (i == 5)
            run(e, &jl,
                (struct kito_command){
                    .id = 200, .lot_id = 3, .type = KITO_CMD_SET_STEP, .arg = KITO_STEP_HALVE});
        if (i == 7)
            run(e, &jl, (struct kito_command){.id = 201, .lot_id = 3, .type = KITO_CMD_PAUSE});
        if (i == 8)
            run(e, &jl, (struct kito_command){.id = 202, .lot_id = 3, .type = KITO_CMD_RESUME});
    }
    cr_assert_eq(
        run(e, &jl,
            (struct kito_command){
                .id = 300, .lot_id = 3, .amount_minor = USD(5000), .type = KITO_CMD_SET_ASK}),
        KITO_OK);
    assert_snapshot_round_trip(e, 3);
    assert_replay_equal(e, 3, KITO_FORMAT_LIVE, &jl);
    run_tick(e, &jt, END_MS + 1000000);
    assert_snapshot_round_trip(e, 2);
    assert_replay_equal(e, 2, KITO_FORMAT_TENDER, &jt);
    kito_engine_free(e);
}

Test(replay, a_gap_or_a_repeat_in_the_journal_is_refused)
{
    kito_engine *e = new_engine();
    struct kito_lot_config cfg = config(1, KITO_FORMAT_TIMED);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    struct kito_command open = {.lot_id = 1, .now_ms = 0, .seq = 1, .type = KITO_CMD_OPEN};
    struct kito_command b = bid_command(1, 9, 10, USD(100), 5);
    b.seq = 3;
    cr_assert_eq(kito_engine_replay(e, &b, NULL, 0, NULL), KITO_E_BAD_COMMAND, "a gap");
    cr_assert_eq(kito_engine_replay(e, &open, NULL, 0, NULL), KITO_OK);
    cr_assert_eq(kito_engine_replay(e, &open, NULL, 0, NULL), KITO_E_BAD_COMMAND, "a repeat");
    b.seq = 2;
    cr_assert_eq(kito_engine_replay(e, &b, NULL, 0, NULL), KITO_OK);
    /* the window is the rebuild's to refill (kito_engine_remember, in the order of acceptance
     * across lots), not replay's */
    cr_assert_eq(kito_engine_remember(e, 1, b.id, 2), KITO_OK);
    struct kito_outcome out;
    b.seq = 0;
    cr_assert_eq(kito_engine_apply(e, &b, NULL, 0, &out), KITO_E_DUPLICATE);
    cr_assert_eq(out.seq, 2);
    kito_engine_free(e);
}

Test(snapshot, damage_is_refused_never_a_crash)
{
    kito_engine *e = new_engine();
    struct kito_lot_config cfg = config(3, KITO_FORMAT_LIVE);
    cr_assert_eq(kito_engine_lot_load(e, &cfg), KITO_OK);
    struct journal j = {0};
    run(e, &j, bid_command(3, 1, 30, USD(300), 5));
    run(e, &j, (struct kito_command){.id = 2, .lot_id = 3, .type = KITO_CMD_OPEN});
    run(e, &j,
        (struct kito_command){.id = 3,
                              .lot_id = 3,
                              .actor = 4,
                              .amount_minor = USD(200),
                              .type = KITO_CMD_FLOOR_BID});
    uint8_t buf[4096];
    size_t len;
    cr_assert_eq(kito_engine_lot_snapshot(e, 3, buf, sizeof(buf), &len), KITO_OK);
    cr_assert_eq(kito_engine_lot_snapshot(e, 3, buf, 10, &(size_t){0}), KITO_E_CAPACITY);
    cr_assert_eq(kito_engine_lot_snapshot(e, 3, buf, sizeof(buf), &len), KITO_OK);
    kito_engine *f = new_engine();
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            cr_assert_eq(kito_engine_lot_restore(f, buf, len), KITO_E_BAD_SNAPSHOT,
                         "byte %zu bit %d", i, bit);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t n = 0; n < len; n++)
        cr_assert_eq(kito_engine_lot_restore(f, buf, n), KITO_E_BAD_SNAPSHOT, "truncated %zu", n);
    struct kito_engine_memory m;
    kito_engine_memory(f, &m);
    cr_assert_eq(m.lots_loaded, 0, "nothing was left behind");
    cr_assert_eq(m.chunks_used, 0);
    cr_assert_eq(kito_engine_lot_restore(f, buf, len), KITO_OK);
    cr_assert(kito_engine_lot_equal(e, f, 3, NULL, 0));
    kito_engine_free(f);
    kito_engine_free(e);
}

Test(snapshot, equality_notices_a_difference)
{
    kito_engine *a = new_engine(), *b = new_engine();
    struct kito_lot_config cfg = config(1, KITO_FORMAT_TIMED);
    cr_assert_eq(kito_engine_lot_load(a, &cfg), KITO_OK);
    cr_assert_eq(kito_engine_lot_load(b, &cfg), KITO_OK);
    char why[64];
    cr_assert(kito_engine_lot_equal(a, b, 1, why, sizeof(why)));
    struct kito_command open = {.lot_id = 1, .type = KITO_CMD_OPEN};
    kito_engine_apply(a, &open, NULL, 0, NULL);
    kito_engine_apply(b, &open, NULL, 0, NULL);
    struct kito_command c = bid_command(1, 1, 10, USD(120), 100);
    kito_engine_apply(a, &c, NULL, 0, NULL);
    c.amount_minor = USD(121);
    kito_engine_apply(b, &c, NULL, 0, NULL);
    cr_assert(!kito_engine_lot_equal(a, b, 1, why, sizeof(why)));
    cr_assert_str_eq(why, "leader_max_minor");
    cr_assert(!kito_engine_lot_equal(a, b, 99, why, sizeof(why)));
    kito_engine_free(a);
    kito_engine_free(b);
}
