/*
 * Seeded simulation of the engine (issue 3): sales of timed, tender and live lots, random buyers,
 * random command streams (valid bids, bids below the ask, own-lot and unapproved bids, retries
 * of earlier ids, clerk actions, withdrawals) and clock jumps. After every command it checks:
 *   - every lot invariant (kito_engine_lot_check);
 *   - against an independent model of the standing bids: the leader holds the highest maximum,
 *     the earliest on ties; the price is at most the leader's maximum and, with two or more
 *     bidders, at least the runner-up's maximum; every bidder's own view;
 *   - a refused command changed nothing (snapshot bytes identical), a retry returns the first
 *     seq; seq numbers have no gaps and every event carries its command's seq;
 *   - no bid is accepted at or after the end; nothing is sold below the reserve; a tender award
 *     follows first/second price; no public event leaks a sealed bid or a maximum;
 *   - replay: every accepted command goes through the journal encoding into a replica engine
 *     (kito_engine_replay) which must equal the original, field for field;
 *   - snapshot: the lot written out and read back into a scratch engine equals the original.
 * At the end of each sale every lot is rebuilt from its journal in a fresh engine and compared.
 *
 * KITO_SIM_SEED=<n> picks the seed (printed, and named in every failure); KITO_SIM_LOTS=<n> the
 * number of lots (default 2400, in sales of 40).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "tests/rng.h"
#include "engine/internal.h" /* general_path_only, for the replica */

#define SALE_LOTS 40
#define MAX_MODEL_BIDS 64
#define MAX_BIDDERS_PER_LOT 48
#define UNDO_DEPTH 6
#define BUYERS 40
#define RECENT_IDS 32

static unsigned long long g_seed;
static size_t g_step;

#define SIM_ASSERT(cond, ...)                                                                      \
    cr_assert((cond), "seed %llu (re-run: KITO_SIM_SEED=%llu) step %zu: %s [last: %s]", g_seed,    \
              g_seed, g_step, sim_msg(__VA_ARGS__), g_last)

static char g_msg[256];
static char g_last[256]; /* the last command applied, for failure messages */

static const char *sim_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sim_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof(g_msg), fmt, ap);
    va_end(ap);
    return g_msg;
}

/* ---- random ---------------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    return kito_test_rng_next(&rng_state);
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

static bool chance(unsigned percent)
{
    return below(100) < percent;
}

/* ---- the model ------------------------------------------------------------------------------- */

struct mbid {
    uint64_t bidder;
    int64_t max;
    uint32_t seq;
};

struct mundo {
    uint64_t bidder;
    bool created;
    int64_t prev_max;
    uint32_t prev_seq;
};

struct mlot {
    struct kito_lot_config cfg;
    uint32_t seq;
    struct mbid bids[MAX_MODEL_BIDS];
    uint32_t n;
    struct mundo undo[UNDO_DEPTH];
    uint32_t n_undo;
    /* journal of accepted commands, encoded */
    uint8_t (*rec)[KITO_COMMAND_ENCODED_MAX];
    uint8_t *len;
    uint32_t n_rec, cap_rec;
    /* recent accepted ids, for retries */
    struct kito_command recent[RECENT_IDS];
    uint32_t recent_seq[RECENT_IDS];
    uint32_t n_recent;
    bool opened; /* live: the clerk opened it */
};

struct sim {
    kito_engine *eng, *replica, *scratch;
    struct mlot lots[SALE_LOTS];
    int64_t now;
    uint64_t next_id;
    uint64_t next_lot_id;
    /* statistics */
    size_t commands, accepted, refused, duplicates, sold, unsold, withdrawn, ticks;
    size_t by_code[128];                   /* refusals by -code */
    size_t by_type[KITO_CMD_TYPE_MAX + 1]; /* accepted by command type */
};

static struct mbid *mfind(struct mlot *m, uint64_t bidder)
{
    for (uint32_t i = 0; i < m->n; i++) {
        if (m->bids[i].bidder == bidder)
            return &m->bids[i];
    }
    return NULL;
}

/* The best and second-best standing bid: highest maximum, earliest seq on ties. */
static void mtop(const struct mlot *m, const struct mbid **best, const struct mbid **second)
{
    *best = *second = NULL;
    for (uint32_t i = 0; i < m->n; i++) {
        const struct mbid *b = &m->bids[i];
        if (*best == NULL || b->max > (*best)->max ||
            (b->max == (*best)->max && b->seq < (*best)->seq)) {
            *second = *best;
            *best = b;
        } else if (*second == NULL || b->max > (*second)->max ||
                   (b->max == (*second)->max && b->seq < (*second)->seq)) {
            *second = b;
        }
    }
}

static void mset(struct mlot *m, uint64_t bidder, int64_t max, uint32_t seq, bool undoable)
{
    struct mbid *b = mfind(m, bidder);
    if (undoable) {
        if (m->n_undo == UNDO_DEPTH) {
            memmove(&m->undo[0], &m->undo[1], (UNDO_DEPTH - 1) * sizeof(m->undo[0]));
            m->n_undo--;
        }
        m->undo[m->n_undo++] = (struct mundo){.bidder = bidder,
                                              .created = b == NULL,
                                              .prev_max = b ? b->max : 0,
                                              .prev_seq = b ? b->seq : 0};
    }
    if (b == NULL) {
        SIM_ASSERT(m->n < MAX_MODEL_BIDS, "model full");
        b = &m->bids[m->n++];
        b->bidder = bidder;
    }
    b->max = max;
    b->seq = seq;
}

static void mundo_pop(struct mlot *m)
{
    SIM_ASSERT(m->n_undo > 0, "engine undid a bid the model cannot");
    struct mundo u = m->undo[--m->n_undo];
    if (u.created) {
        SIM_ASSERT(m->n > 0 && m->bids[m->n - 1].bidder == u.bidder, "undo of a created bid");
        m->n--;
    } else {
        struct mbid *b = mfind(m, u.bidder);
        SIM_ASSERT(b != NULL, "undo of a missing bid");
        b->max = u.prev_max;
        b->seq = u.prev_seq;
    }
}

static void journal(struct sim *s, struct mlot *m, const struct kito_command *c, uint32_t seq,
                    const struct kito_event *ev, uint32_t n_ev)
{
    struct kito_command copy = *c;
    copy.seq = seq;
    if (m->n_rec == m->cap_rec) {
        m->cap_rec = m->cap_rec ? m->cap_rec * 2 : 64;
        m->rec = realloc(m->rec, m->cap_rec * sizeof(*m->rec));
        m->len = realloc(m->len, m->cap_rec);
        SIM_ASSERT(m->rec && m->len, "out of memory");
    }
    size_t len;
    SIM_ASSERT(kito_command_encode(&copy, m->rec[m->n_rec], KITO_COMMAND_ENCODED_MAX, &len) ==
                   KITO_OK,
               "encode");
    m->len[m->n_rec++] = (uint8_t)len;
    /* Replay through the journal encoding into the replica, and compare at once. */
    struct kito_command back;
    SIM_ASSERT(kito_command_decode(m->rec[m->n_rec - 1], len, &back) == KITO_OK, "decode");
    SIM_ASSERT(memcmp(&back, &copy, sizeof(back)) == 0, "decode(encode(c)) != c");
    struct kito_outcome out;
    struct kito_event rev[KITO_MAX_EVENTS_PER_COMMAND];
    kito_err err = kito_engine_replay(s->replica, &back, rev, KITO_MAX_EVENTS_PER_COMMAND, &out);
    SIM_ASSERT(err == KITO_OK, "replay refused %s: %s", kito_command_type_name(c->type),
               kito_err_code(err));
    SIM_ASSERT(out.seq == seq, "replay seq");
    /* the replica takes the general path: the fast path's events must be the same bytes */
    SIM_ASSERT(out.n_events == n_ev && memcmp(rev, ev, n_ev * sizeof(*ev)) == 0,
               "replay events differ after %s (%u vs %u events)", kito_command_type_name(c->type),
               out.n_events, n_ev);
    char why[96] = "";
    SIM_ASSERT(kito_engine_lot_equal(s->eng, s->replica, m->cfg.lot_id, why, sizeof(why)),
               "replay differs after %s: %s", kito_command_type_name(c->type), why);
}

/* ---- checks ------------------------------------------------------------------------------- */

static struct kito_lot_view view_of(kito_engine *e, uint64_t lot)
{
    struct kito_lot_view v;
    SIM_ASSERT(kito_engine_lot_view(e, lot, &v) == KITO_OK, "view");
    return v;
}

static size_t snapshot(kito_engine *e, uint64_t lot, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    kito_err err = kito_engine_lot_snapshot(e, lot, buf, cap, &len);
    SIM_ASSERT(err == KITO_OK, "snapshot: %s", kito_err_code(err));
    return len;
}

static void check_lot(struct sim *s, struct mlot *m)
{
    uint64_t lot = m->cfg.lot_id;
    char why[128] = "";
    SIM_ASSERT(kito_engine_lot_check(s->eng, lot, why, sizeof(why)) == KITO_OK, "invariant: %s",
               why);
    struct kito_lot_view v = view_of(s->eng, lot);
    bool awarded = v.state == KITO_LOT_SOLD || v.state == KITO_LOT_UNSOLD;
    bool sealed = (m->cfg.format == KITO_FORMAT_TENDER && !awarded) ||
                  (m->cfg.format == KITO_FORMAT_LIVE && !m->opened);
    if (sealed) {
        SIM_ASSERT(v.leader == 0 && v.price_minor == 0 && v.bid_count == 0 && v.seq == 0,
                   "a sealed lot shows its book");
    } else {
        SIM_ASSERT(v.seq == m->seq, "seq %u, model %u", v.seq, m->seq);
        const struct mbid *best, *second;
        mtop(m, &best, &second);
        if (best == NULL) {
            SIM_ASSERT(v.leader == 0, "a leader without bids");
        } else {
            SIM_ASSERT(v.leader == best->bidder, "leader %llu, model %llu (max %lld)",
                       (unsigned long long)v.leader, (unsigned long long)best->bidder,
                       (long long)best->max);
            SIM_ASSERT(v.price_minor <= best->max, "price above the leader's maximum");
            if (second != NULL)
                SIM_ASSERT(v.price_minor >= second->max, "price %lld below the runner-up's %lld",
                           (long long)v.price_minor, (long long)second->max);
        }
    }
    if (v.state == KITO_LOT_SOLD) {
        SIM_ASSERT(v.price_minor >= m->cfg.reserve_minor, "sold below the reserve");
    }
    /* Each bidder's own view. */
    for (uint32_t i = 0; i < m->n; i++) {
        struct kito_my_bid mine;
        SIM_ASSERT(kito_engine_my_bid(s->eng, lot, m->bids[i].bidder, &mine) == KITO_OK, "my bid");
        SIM_ASSERT(mine.has_bid && mine.amount_minor == m->bids[i].max &&
                       mine.seq == m->bids[i].seq,
                   "my bid of %llu", (unsigned long long)m->bids[i].bidder);
        SIM_ASSERT(!sealed || !mine.leading, "a sealed bidder learns she leads");
    }
    /* Snapshot round trip. */
    static uint8_t a[16384], b[16384];
    size_t la = snapshot(s->eng, lot, a, sizeof(a));
    kito_err err = kito_engine_lot_restore(s->scratch, a, la);
    SIM_ASSERT(err == KITO_OK, "restore: %s", kito_err_code(err));
    SIM_ASSERT(kito_engine_lot_equal(s->eng, s->scratch, lot, why, sizeof(why)),
               "snapshot differs: %s", why);
    size_t lb = snapshot(s->scratch, lot, b, sizeof(b));
    SIM_ASSERT(la == lb && memcmp(a, b, la) == 0, "snapshot of the restore differs");
    kito_engine_lot_unload(s->scratch, lot);
}

static void check_events(const struct mlot *m, const struct kito_event *ev, uint32_t n,
                         uint32_t seq, bool tender_sealed_before)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct kito_event *e = &ev[i];
        SIM_ASSERT(e->seq == seq && e->lot_id == m->cfg.lot_id, "event seq/lot");
        SIM_ASSERT(e->type >= 1 && e->type <= KITO_EV_TYPE_MAX, "event type");
        if (e->audience != KITO_AUDIENCE_PUBLIC)
            continue;
        bool may_carry = e->type == KITO_EV_SOLD || e->type == KITO_EV_STEP_CHANGED ||
                         e->type == KITO_EV_ASK_CHANGED ||
                         (e->type == KITO_EV_BID_UNDONE && (e->who & KITO_PADDLE_FLAG));
        SIM_ASSERT(may_carry || e->amount_minor == 0, "public %s carries an amount",
                   kito_event_type_name(e->type));
        if (tender_sealed_before && e->type != KITO_EV_SOLD && e->type != KITO_EV_UNSOLD)
            SIM_ASSERT(e->who == 0 && e->price_minor == 0 && e->bid_count == 0,
                       "a public %s leaks a tender", kito_event_type_name(e->type));
    }
}

/* ---- commands ---------------------------------------------------------------------------- */

static void remember(struct mlot *m, const struct kito_command *c, uint32_t seq)
{
    if (c->id == 0)
        return;
    /* An id forgotten by the engine's window may be accepted again: keep the latest. */
    uint32_t k = m->n_recent < RECENT_IDS ? m->n_recent : (uint32_t)below(RECENT_IDS);
    for (uint32_t j = 0; j < m->n_recent; j++) {
        if (m->recent[j].id == c->id)
            k = j;
    }
    if (k == m->n_recent)
        m->n_recent++;
    m->recent[k] = *c;
    m->recent_seq[k] = seq;
}

/* Results of a lot being closed by a command: checked against the model. */
static void check_result(struct sim *s, struct mlot *m, const struct kito_event *ev, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (ev[i].type == KITO_EV_SOLD) {
            s->sold++;
            const struct mbid *best, *second;
            mtop(m, &best, &second);
            SIM_ASSERT(best != NULL && ev[i].who == best->bidder, "sold to the wrong bidder");
            SIM_ASSERT(ev[i].amount_minor >= m->cfg.reserve_minor, "sold below the reserve");
            SIM_ASSERT(ev[i].amount_minor <= best->max, "hammer above the winner's maximum");
            if (m->cfg.format == KITO_FORMAT_TENDER) {
                int64_t expect = best->max;
                if (m->cfg.tender_price == KITO_TENDER_SECOND_PRICE) {
                    int64_t p = m->cfg.opening_minor > m->cfg.reserve_minor ? m->cfg.opening_minor
                                                                            : m->cfg.reserve_minor;
                    if (second != NULL) {
                        int64_t r = second->max + kito_ladder_step(&m->cfg.ladder, second->max);
                        p = r > p ? r : p;
                    }
                    expect = p < best->max ? p : best->max;
                }
                SIM_ASSERT(ev[i].amount_minor == expect, "tender hammer %lld, expected %lld",
                           (long long)ev[i].amount_minor, (long long)expect);
            }
        } else if (ev[i].type == KITO_EV_UNSOLD) {
            s->unsold++;
            const struct mbid *best, *second;
            mtop(m, &best, &second);
            if (ev[i].reason == KITO_UNSOLD_NO_BIDS)
                SIM_ASSERT(best == NULL, "unsold for no bids with bids");
            if (ev[i].reason == KITO_UNSOLD_RESERVE_NOT_MET && m->cfg.format != KITO_FORMAT_LIVE)
                SIM_ASSERT(best != NULL && best->max < m->cfg.reserve_minor,
                           "unsold below a reserve that was met");
            if (m->cfg.format != KITO_FORMAT_LIVE)
                SIM_ASSERT(ev[i].reason != KITO_UNSOLD_PASSED, "a pass outside live");
        } else if (ev[i].type == KITO_EV_WITHDRAWN) {
            s->withdrawn++;
        }
    }
}

/* The timed price after an accepted bid, from the rules as DESIGN.md states them, computed on
 * the model's book before the bid (written apart from the engine on purpose). */
static int64_t timed_price(const struct mlot *m, const struct kito_lot_view *before,
                           uint64_t bidder, int64_t amount)
{
    const struct mbid *lead, *second;
    mtop(m, &lead, &second);
    const struct kito_ladder *l = &m->cfg.ladder;
    int64_t price, leader_max;
    if (lead == NULL) {
        price = m->cfg.opening_minor;
        leader_max = amount;
    } else if (lead->bidder == bidder) {
        price = before->price_minor; /* raising her own maximum moves nothing... */
        leader_max = amount;
    } else if (amount > lead->max) {
        int64_t r = lead->max + kito_ladder_step(l, lead->max);
        price = amount < r ? amount : r;
        leader_max = amount;
    } else {
        int64_t r = amount + kito_ladder_step(l, amount);
        price = lead->max < r ? lead->max : r;
        leader_max = lead->max;
    }
    /* ...but the reserve rule. */
    if (m->cfg.reserve_minor > 0 && leader_max >= m->cfg.reserve_minor &&
        price < m->cfg.reserve_minor)
        price = m->cfg.reserve_minor;
    return price;
}

static void apply(struct sim *s, struct mlot *m, struct kito_command c)
{
    static uint8_t before[16384], after[16384];
    uint64_t lot = m->cfg.lot_id;
    struct kito_lot_view v0 = view_of(s->eng, lot);
    size_t lb = snapshot(s->eng, lot, before, sizeof(before));
    struct kito_event ev[KITO_MAX_EVENTS_PER_COMMAND];
    struct kito_outcome out;
    kito_err err = kito_engine_apply(s->eng, &c, ev, KITO_MAX_EVENTS_PER_COMMAND, &out);
    snprintf(g_last, sizeof(g_last),
             "%s lot %llu (format %d, state %d, price %lld, leader %llu) actor %llu amount %lld "
             "arg %d -> %s",
             kito_command_type_name(c.type), (unsigned long long)lot, m->cfg.format, v0.state,
             (long long)v0.price_minor, (unsigned long long)v0.leader, (unsigned long long)c.actor,
             (long long)c.amount_minor, c.arg, kito_err_code(err));
    s->commands++;
    g_step++;
    SIM_ASSERT(err == out.err, "return value and outcome differ");
    if (err != KITO_OK) {
        s->refused++;
        if (-err > 0 && -err < 128)
            s->by_code[-err]++;
        size_t la = snapshot(s->eng, lot, after, sizeof(after));
        SIM_ASSERT(la == lb && memcmp(before, after, la) == 0, "refused %s (%s) changed the lot",
                   kito_command_type_name(c.type), kito_err_code(err));
        SIM_ASSERT(out.n_events == 0, "a refusal yielded events");
        if (err == KITO_E_DUPLICATE) {
            s->duplicates++;
            bool known = false;
            for (uint32_t k = 0; k < m->n_recent; k++) {
                if (m->recent[k].id == c.id) {
                    SIM_ASSERT(out.seq == m->recent_seq[k], "duplicate seq %u, first %u", out.seq,
                               m->recent_seq[k]);
                    known = true;
                }
            }
            SIM_ASSERT(known, "a duplicate of an id never accepted");
        } else {
            SIM_ASSERT(out.seq == 0, "a refusal with a seq");
        }
        check_lot(s, m);
        return;
    }
    s->accepted++;
    s->by_type[c.type]++;
    SIM_ASSERT(out.seq == m->seq + 1, "seq gap: %u after %u", out.seq, m->seq);
    m->seq = out.seq;
    bool tender_sealed = m->cfg.format == KITO_FORMAT_TENDER && v0.state != KITO_LOT_SOLD &&
                         v0.state != KITO_LOT_UNSOLD;
    check_events(m, ev, out.n_events, out.seq, tender_sealed);
    if ((c.type == KITO_CMD_BID) && m->cfg.format != KITO_FORMAT_LIVE)
        SIM_ASSERT(c.now_ms < v0.ends_at_ms, "a bid accepted at or after the end");
    bool running = v0.state == KITO_LOT_OPEN || v0.state == KITO_LOT_CLOSING;
    int64_t expect_price = -1;
    if (c.type == KITO_CMD_BID && m->cfg.format == KITO_FORMAT_TIMED)
        expect_price = timed_price(m, &v0, c.actor, c.amount_minor);
    if (c.type == KITO_CMD_BID)
        mset(m, c.actor, c.amount_minor, out.seq, m->cfg.format == KITO_FORMAT_LIVE && running);
    else if (c.type == KITO_CMD_FLOOR_BID)
        mset(m, KITO_PADDLE_BIDDER(c.actor), c.amount_minor, out.seq, true);
    else if (c.type == KITO_CMD_UNDO)
        mundo_pop(m);
    else if (c.type == KITO_CMD_OPEN)
        m->opened = true;
    check_result(s, m, ev, out.n_events);
    if (expect_price >= 0) {
        struct kito_lot_view v1 = view_of(s->eng, m->cfg.lot_id);
        SIM_ASSERT(v1.price_minor == expect_price, "timed price %lld, model %lld",
                   (long long)v1.price_minor, (long long)expect_price);
    }
    remember(m, &c, out.seq);
    journal(s, m, &c, out.seq, ev, out.n_events);
    check_lot(s, m);
}

static void tick(struct sim *s)
{
    s->ticks++;
    for (;;) {
        struct kito_command applied[8];
        struct kito_event ev[8 * KITO_MAX_EVENTS_PER_COMMAND];
        size_t n, nev;
        SIM_ASSERT(kito_engine_tick(s->eng, s->now, applied, 8, &n, ev,
                                    8 * KITO_MAX_EVENTS_PER_COMMAND, &nev) == KITO_OK,
                   "tick");
        size_t e = 0;
        for (size_t i = 0; i < n; i++) {
            struct mlot *m = NULL;
            for (int k = 0; k < SALE_LOTS; k++) {
                if (s->lots[k].cfg.lot_id == applied[i].lot_id)
                    m = &s->lots[k];
            }
            SIM_ASSERT(m != NULL, "tick on an unknown lot");
            SIM_ASSERT(applied[i].seq == m->seq + 1, "tick seq gap");
            m->seq = applied[i].seq;
            uint32_t k0 = (uint32_t)e;
            while (e < nev && ev[e].lot_id == applied[i].lot_id && ev[e].seq == applied[i].seq)
                e++;
            check_events(m, ev + k0, (uint32_t)(e - k0), applied[i].seq, false);
            check_result(s, m, ev + k0, (uint32_t)(e - k0));
            journal(s, m, &applied[i], applied[i].seq, ev + k0, (uint32_t)(e - k0));
            check_lot(s, m);
        }
        SIM_ASSERT(e == nev, "events not matched to commands");
        if (kito_engine_next_deadline(s->eng) > s->now)
            break;
    }
}

static int64_t pick_amount(struct mlot *m, const struct kito_lot_view *v)
{
    int64_t ask = v->ask_minor > 0 ? v->ask_minor : m->cfg.opening_minor;
    int64_t step = kito_ladder_step(&m->cfg.ladder, ask);
    switch (below(10)) {
    case 0:
        return ask - 1 - (int64_t)below((uint64_t)step); /* below the ask */
    case 1:
        return ask;
    case 2: {
        /* around the leader's maximum, to make ties */
        const struct mbid *best, *second;
        mtop(m, &best, &second);
        return best ? best->max : ask;
    }
    case 3:
        return chance(50) ? 0 : -(int64_t)below(1000); /* bad amounts */
    case 4:
        return m->cfg.reserve_minor > 0 ? m->cfg.reserve_minor + (int64_t)below(3) - 1 : ask;
    default:
        return ask + (int64_t)below(6) * step + (int64_t)below((uint64_t)step);
    }
}

static uint64_t pick_buyer(const struct mlot *m)
{
    if (chance(3))
        return m->cfg.seller_id; /* own lot */
    return 1 + below(BUYERS);
}

static void random_command(struct sim *s, struct mlot *m)
{
    struct kito_lot_view v;
    SIM_ASSERT(kito_engine_lot_view(s->eng, m->cfg.lot_id, &v) == KITO_OK, "view");
    struct kito_command c = {.id = s->next_id++, .lot_id = m->cfg.lot_id, .now_ms = s->now};
    if (m->n_recent > 0 && chance(4)) {
        /* A retry of an accepted command, maybe much later. */
        c = m->recent[below(m->n_recent)];
        c.seq = 0;
        c.now_ms = s->now;
        apply(s, m, c);
        return;
    }
    if (chance(1) && chance(20)) {
        c.type = KITO_CMD_WITHDRAW;
        apply(s, m, c);
        return;
    }
    bool live = m->cfg.format == KITO_FORMAT_LIVE;
    if (!live || chance(35)) {
        c.type = KITO_CMD_BID;
        c.actor = pick_buyer(m);
        c.amount_minor = m->cfg.format == KITO_FORMAT_TENDER
                             ? m->cfg.opening_minor - 50 + (int64_t)below(40) * 50
                             : pick_amount(m, &v);
        c.flags = chance(97) ? KITO_CMD_F_APPROVED : 0;
        if (m->cfg.format != KITO_FORMAT_LIVE && chance(2))
            c.now_ms = v.ends_at_ms + (int64_t)below(3) - 1; /* right at the end */
        apply(s, m, c);
        return;
    }
    /* The clerk. */
    c.actor = 900;
    unsigned r = (unsigned)below(100);
    if (v.state == KITO_LOT_SCHEDULED && r < 30) {
        c.type = KITO_CMD_OPEN;
    } else if (r < 60) {
        c.type = KITO_CMD_FLOOR_BID;
        c.actor = 1 + below(6);
        c.amount_minor = chance(85) ? (v.ask_minor > 0 ? v.ask_minor : 100) : pick_amount(m, &v);
    } else if (r < 66) {
        c.type = KITO_CMD_SET_ASK;
        c.amount_minor = v.price_minor + (int64_t)below(3000) - 100;
    } else if (r < 72) {
        c.type = KITO_CMD_SET_STEP;
        c.arg = (uint8_t)(1 + below(4));
        c.amount_minor = c.arg == KITO_STEP_MANUAL ? (int64_t)below(2000) : 0;
    } else if (r < 82) {
        c.type = KITO_CMD_UNDO;
    } else if (r < 88) {
        c.type = KITO_CMD_FAIR_WARNING;
    } else if (r < 91) {
        c.type = KITO_CMD_SOLD;
    } else if (r < 93) {
        c.type = KITO_CMD_PASS;
    } else if (r < 95) {
        c.type = KITO_CMD_PAUSE;
    } else {
        c.type = KITO_CMD_RESUME;
    }
    if (v.paused && chance(40))
        c.type = KITO_CMD_RESUME;
    apply(s, m, c);
}

/* ---- sales ------------------------------------------------------------------------------- */

static void new_lot(struct sim *s, struct mlot *m, int64_t t0, uint32_t index)
{
    free(m->rec);
    free(m->len);
    memset(m, 0, sizeof(*m));
    struct kito_lot_config *cfg = &m->cfg;
    kito_lot_config_init(cfg);
    cfg->lot_id = s->next_lot_id++;
    cfg->sale_id = 1 + cfg->lot_id / SALE_LOTS;
    cfg->seller_id = 1 + below(BUYERS + 10);
    unsigned f = (unsigned)below(100);
    cfg->format = f < 55 ? KITO_FORMAT_TIMED : f < 80 ? KITO_FORMAT_TENDER : KITO_FORMAT_LIVE;
    cfg->tender_price = chance(50) ? KITO_TENDER_FIRST_PRICE : KITO_TENDER_SECOND_PRICE;
    cfg->opening_minor = 100 * (int64_t)(1 + below(2000));
    cfg->reserve_minor = chance(50) ? 0 : cfg->opening_minor * (int64_t)(1 + below(5));
    if (chance(25)) {
        struct kito_ladder_rung r[4] = {{0, 1 + (int64_t)below(300)}};
        size_t n = 1 + below(4);
        for (size_t i = 1; i < n; i++) {
            r[i].from_minor = r[i - 1].from_minor + 1 + (int64_t)below(100000);
            r[i].step_minor = r[i - 1].step_minor + (int64_t)below(2000);
        }
        SIM_ASSERT(kito_ladder_init(&cfg->ladder, r, n) == KITO_OK, "random ladder");
    }
    cfg->starts_at_ms = t0 + (int64_t)below(300000);
    cfg->sale_ends_at_ms = t0 + 1200000 + (int64_t)below(600000);
    cfg->index_in_sale = index;
    cfg->stagger_s = (uint32_t)below(90);
    cfg->soft_close_s = chance(20) ? 0 : (uint32_t)below(180);
    SIM_ASSERT(kito_engine_lot_load(s->eng, cfg) == KITO_OK, "load");
    SIM_ASSERT(kito_engine_lot_load(s->replica, cfg) == KITO_OK, "load replica");
    check_lot(s, m);
}

/* Rebuild every lot of the sale from its journal in a fresh engine and compare. */
static void rebuild_and_compare(struct sim *s, const struct kito_engine_limits *lim)
{
    kito_engine *fresh;
    SIM_ASSERT(kito_engine_create(lim, NULL, &fresh) == KITO_OK, "create");
    for (int k = 0; k < SALE_LOTS; k++) {
        struct mlot *m = &s->lots[k];
        SIM_ASSERT(kito_engine_lot_load(fresh, &m->cfg) == KITO_OK, "load fresh");
        for (uint32_t i = 0; i < m->n_rec; i++) {
            struct kito_command c;
            SIM_ASSERT(kito_command_decode(m->rec[i], m->len[i], &c) == KITO_OK, "decode");
            SIM_ASSERT(kito_engine_replay(fresh, &c, NULL, 0, NULL) == KITO_OK, "rebuild");
        }
        char why[96] = "";
        SIM_ASSERT(kito_engine_lot_equal(s->eng, fresh, m->cfg.lot_id, why, sizeof(why)),
                   "rebuilt lot differs: %s", why);
    }
    kito_engine_free(fresh);
}

static bool lot_final(struct sim *s, const struct mlot *m)
{
    struct kito_lot_view v = view_of(s->eng, m->cfg.lot_id);
    return v.state == KITO_LOT_SOLD || v.state == KITO_LOT_UNSOLD || v.state == KITO_LOT_WITHDRAWN;
}

static void run_sale(struct sim *s, const struct kito_engine_limits *lim, size_t per_lot)
{
    size_t commands = SALE_LOTS * per_lot;
    /* Keep a sale's simulated length near an hour whatever the command count. */
    uint64_t step_ms = 90000 / per_lot, jump_per_mille = 600 / per_lot;
    int64_t t0 = s->now;
    for (uint32_t k = 0; k < SALE_LOTS; k++)
        new_lot(s, &s->lots[k], t0, k);
    for (size_t i = 0; i < commands; i++) {
        /* The clock: small steps, sometimes a jump; a tick every few commands. */
        s->now += (int64_t)below(step_ms);
        if (below(1000) < jump_per_mille)
            s->now += (int64_t)below(300000);
        if (chance(10))
            tick(s);
        /* Mostly lots still in play; sometimes a finished one, to see it refuse. */
        struct mlot *m = &s->lots[below(SALE_LOTS)];
        for (int tries = 0; tries < 8 && lot_final(s, m) && chance(95); tries++)
            m = &s->lots[below(SALE_LOTS)];
        random_command(s, m);
    }
    /* Finish: the clerk ends live lots, time runs out for the others. */
    for (int k = 0; k < SALE_LOTS; k++) {
        struct mlot *m = &s->lots[k];
        if (m->cfg.format != KITO_FORMAT_LIVE)
            continue;
        struct kito_lot_view v = view_of(s->eng, m->cfg.lot_id);
        if (v.paused)
            apply(s, m,
                  (struct kito_command){
                      .id = s->next_id++, .lot_id = m->cfg.lot_id, .type = KITO_CMD_RESUME});
        if (v.state == KITO_LOT_SCHEDULED)
            apply(s, m,
                  (struct kito_command){
                      .id = s->next_id++, .lot_id = m->cfg.lot_id, .type = KITO_CMD_OPEN});
        apply(s, m,
              (struct kito_command){
                  .id = s->next_id++, .lot_id = m->cfg.lot_id, .type = KITO_CMD_SOLD});
        apply(s, m,
              (struct kito_command){
                  .id = s->next_id++, .lot_id = m->cfg.lot_id, .type = KITO_CMD_PASS});
    }
    s->now += 24 * 3600 * 1000;
    tick(s);
    for (int k = 0; k < SALE_LOTS; k++) {
        struct kito_lot_view v = view_of(s->eng, s->lots[k].cfg.lot_id);
        SIM_ASSERT(v.state == KITO_LOT_SOLD || v.state == KITO_LOT_UNSOLD ||
                       v.state == KITO_LOT_WITHDRAWN,
                   "lot %llu still %d after the sale", (unsigned long long)v.lot_id, v.state);
        if (v.state != KITO_LOT_WITHDRAWN && s->lots[k].cfg.format != KITO_FORMAT_LIVE)
            SIM_ASSERT(v.state != KITO_LOT_SOLD || v.price_minor >= s->lots[k].cfg.reserve_minor,
                       "sold below the reserve");
    }
    rebuild_and_compare(s, lim);
    for (int k = 0; k < SALE_LOTS; k++) {
        SIM_ASSERT(kito_engine_lot_unload(s->eng, s->lots[k].cfg.lot_id) == KITO_OK, "unload");
        SIM_ASSERT(kito_engine_lot_unload(s->replica, s->lots[k].cfg.lot_id) == KITO_OK, "unload");
    }
    struct kito_engine_memory mem;
    kito_engine_memory(s->eng, &mem);
    SIM_ASSERT(mem.lots_loaded == 0 && mem.chunks_used == 0, "unload leaked chunks");
}

static unsigned long long env_number(const char *name, unsigned long long fallback)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return fallback;
    return strtoull(v, NULL, 0);
}

static void simulate(unsigned long long seed, size_t lots, size_t commands_per_lot)
{
    g_seed = seed;
    g_step = 0;
    rng_state = seed;
    fprintf(stderr, "sim: seed %llu, %zu lots (re-run one with KITO_SIM_SEED=%llu)\n", seed, lots,
            seed);
    struct kito_engine_limits lim;
    kito_engine_limits_default(&lim);
    lim.max_lots = SALE_LOTS;
    lim.max_standing_bids = SALE_LOTS * MAX_BIDDERS_PER_LOT;
    lim.max_bidders_per_lot = MAX_BIDDERS_PER_LOT;
    lim.max_live_lots = SALE_LOTS;
    lim.live_undo_depth = UNDO_DEPTH;
    lim.recent_commands = 4096;
    lim.max_ladders = SALE_LOTS + 1;
    static struct sim s;
    memset(&s, 0, sizeof(s));
    s.next_id = 1;
    s.next_lot_id = 1;
    s.now = INT64_C(1700000000000);
    SIM_ASSERT(kito_engine_create(&lim, NULL, &s.eng) == KITO_OK, "create");
    SIM_ASSERT(kito_engine_create(&lim, NULL, &s.replica) == KITO_OK, "create replica");
    s.replica->general_path_only = true; /* so that every fast path is checked against it */
    SIM_ASSERT(kito_engine_create(&lim, NULL, &s.scratch) == KITO_OK, "create scratch");
    size_t sales = (lots + SALE_LOTS - 1) / SALE_LOTS;
    for (size_t i = 0; i < sales; i++)
        run_sale(&s, &lim, commands_per_lot);
    fprintf(stderr,
            "sim: %zu commands: %zu accepted, %zu refused (%zu duplicates); %zu ticks; "
            "%zu sold, %zu unsold, %zu withdrawn\n",
            s.commands, s.accepted, s.refused, s.duplicates, s.ticks, s.sold, s.unsold,
            s.withdrawn);
    fprintf(stderr, "sim: refused:");
    for (int k = 1; k < 128; k++) {
        if (s.by_code[k])
            fprintf(stderr, " %s %zu", kito_err_code((kito_err)-k), s.by_code[k]);
    }
    fprintf(stderr, "\nsim: accepted:");
    for (int k = 1; k <= KITO_CMD_TYPE_MAX; k++)
        fprintf(stderr, " %s %zu", kito_command_type_name((uint8_t)k), s.by_type[k]);
    fprintf(stderr, "\n");
    /* The stream must have exercised the rules, or the checks above prove little. */
    cr_assert_gt(s.accepted, s.commands / 5);
    cr_assert_gt(s.refused, s.commands / 10);
    cr_assert_gt(s.duplicates, 0);
    cr_assert_gt(s.sold, sales * 5);
    cr_assert_gt(s.unsold, sales);
    for (int k = 0; k < SALE_LOTS; k++) {
        free(s.lots[k].rec);
        free(s.lots[k].len);
    }
    kito_engine_free(s.eng);
    kito_engine_free(s.replica);
    kito_engine_free(s.scratch);
}

Test(sim, seeded_random_sales, .timeout = 300)
{
    unsigned long long seed = env_number("KITO_SIM_SEED", 20241127ULL);
    size_t lots = (size_t)env_number("KITO_SIM_LOTS", 2400);
    simulate(seed, lots, 60);
}

Test(sim, deep_books, .timeout = 300)
{
    /* Fewer lots, many more commands each: books up to the bidder limit, long undo chains. */
    unsigned long long seed = env_number("KITO_SIM_SEED", 777ULL) ^ 0x5bd1e995ULL;
    simulate(seed, SALE_LOTS * 2, 400);
}
