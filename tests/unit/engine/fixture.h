/*
 * The set-up the engine's worked examples share (test_timed.c, test_tender.c, test_live.c, and
 * the pure helpers in test_codec.c and test_engine.c): one engine per test with small limits, a
 * lot config, the approved bid command, and helpers that apply commands and assert as they go.
 *
 * A test program includes this header once. Everything is static; the suite state (eng, next_id,
 * last_ev, last_out, the tick buffers) belongs to a suite that creates `eng` in its .init (see
 * fixture_setup) and frees it in .fini (fixture_teardown), so a failed assertion leaks nothing.
 * Criterion runs every test in its own process: the state starts afresh in each test.
 */
#ifndef KITO_TEST_ENGINE_FIXTURE_H
#define KITO_TEST_ENGINE_FIXTURE_H

#include <criterion/criterion.h>

#include "engine/engine.h"

/* Amounts in the worked examples are in cents of whole dollars. */
#define USD(x) ((int64_t)(x)*100)
/* The lot the examples bid on, its seller (whose own bids are refused) and its sale's end. */
#define LOT 42
#define SELLER 7
#define END_MS INT64_C(10000000)

/* ---- pure helpers (no suite state) --------------------------------------------------------- */

/* The default limits with the three big tables cut down, so that an engine per test is cheap
 * (the defaults are sized for production: 51 MB). Every worked example fits. */
static inline struct kito_engine_limits fixture_limits(void)
{
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    lim.max_lots = 64;
    lim.max_standing_bids = 1024;
    lim.recent_commands = 1024;
    return lim;
}

/* Creates an engine for *lim with the C library's allocator; free it with kito_engine_free. */
static inline kito_engine *fixture_engine(const struct kito_engine_limits *lim)
{
    kito_engine *e = NULL;
    cr_assert_eq(kito_engine_create(lim, NULL, &e), KITO_OK);
    return e;
}

/* A lot of SELLER in sale 1, with the default ladder, open from 0 to END_MS (the times do not
 * apply to live lots). */
static inline struct kito_lot_config lot_config(uint64_t lot, uint8_t format, int64_t opening_minor,
                                                int64_t reserve_minor)
{
    struct kito_lot_config cfg;
    kito_lot_config_init(&cfg);
    cfg.lot_id = lot;
    cfg.sale_id = 1;
    cfg.seller_id = SELLER;
    cfg.format = format;
    cfg.opening_minor = opening_minor;
    cfg.reserve_minor = reserve_minor;
    cfg.starts_at_ms = 0;
    cfg.sale_ends_at_ms = END_MS;
    return cfg;
}

/* An approved online bid: buyer's maximum (timed, live) or sealed bid (tender) on lot. */
static inline struct kito_command bid_command(uint64_t lot, uint64_t id, uint64_t buyer,
                                              int64_t amount_minor, int64_t now_ms)
{
    return (struct kito_command){.id = id,
                                 .lot_id = lot,
                                 .actor = buyer,
                                 .amount_minor = amount_minor,
                                 .now_ms = now_ms,
                                 .type = KITO_CMD_BID,
                                 .flags = KITO_CMD_F_APPROVED};
}

/* ---- the suite's engine -------------------------------------------------------------------- */

/* The engine of the running test, the next command id, and what the last command applied with
 * apply() returned. Unused by the programs that only take the pure helpers. */
static kito_engine *eng __attribute__((unused));
static uint64_t next_id __attribute__((unused)) = 1;
static struct kito_event last_ev[KITO_MAX_EVENTS_PER_COMMAND] __attribute__((unused));
static struct kito_outcome last_out __attribute__((unused));

/* What the last tick() applied: tick_cmds[0 .. its return value) and tick_ev[0 .. tick_nev). */
#define FIXTURE_TICK_CAP 16
static struct kito_command tick_cmds[FIXTURE_TICK_CAP] __attribute__((unused));
static struct kito_event tick_ev[FIXTURE_TICK_CAP * KITO_MAX_EVENTS_PER_COMMAND]
    __attribute__((unused));
static size_t tick_nev __attribute__((unused));

/* Suite .init and .fini for an engine with fixture_limits(). */
static inline void fixture_setup(void)
{
    struct kito_engine_limits lim = fixture_limits();
    eng = fixture_engine(&lim);
}

static inline void fixture_teardown(void)
{
    kito_engine_free(eng);
}

/* Asserts every invariant of LOT (kito_engine_lot_check). */
static inline void check(void)
{
    char why[128] = "";
    cr_assert_eq(kito_engine_lot_check(eng, LOT, why, sizeof(why)), KITO_OK, "%s", why);
}

/* The public view of LOT. */
static inline struct kito_lot_view view(void)
{
    struct kito_lot_view v;
    cr_assert_eq(kito_engine_lot_view(eng, LOT, &v), KITO_OK);
    return v;
}

/* Loads cfg into the engine (asserting it is accepted). */
static inline void load_lot(const struct kito_lot_config *cfg)
{
    cr_assert_eq(kito_engine_lot_load(eng, cfg), KITO_OK);
}

/* Applies c; its events and outcome are left in last_ev and last_out. */
static inline kito_err apply(struct kito_command c)
{
    return kito_engine_apply(eng, &c, last_ev, KITO_MAX_EVENTS_PER_COMMAND, &last_out);
}

/* An approved bid with the next command id (see bid_command). */
static inline kito_err bid_at(uint64_t lot, uint64_t buyer, int64_t amount_minor, int64_t now_ms)
{
    return apply(bid_command(lot, next_id++, buyer, amount_minor, now_ms));
}

/* The first event of the last command of this type, NULL if none. */
static inline const struct kito_event *find_ev(uint8_t type)
{
    for (uint32_t i = 0; i < last_out.n_events; i++) {
        if (last_ev[i].type == type)
            return &last_ev[i];
    }
    return NULL;
}

/* Runs the engine's clock at now (asserting KITO_OK); returns how many commands it applied. */
static inline size_t tick(int64_t now)
{
    size_t n;
    cr_assert_eq(kito_engine_tick(eng, now, tick_cmds, FIXTURE_TICK_CAP, &n, tick_ev,
                                  sizeof(tick_ev) / sizeof(tick_ev[0]), &tick_nev),
                 KITO_OK);
    return n;
}

#endif
