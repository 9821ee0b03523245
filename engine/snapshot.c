/*
 * One lot written out and read back (snapshot), compared field for field (equality), and checked
 * against the rules (invariants). Snapshot format v1, little-endian, fixed width:
 *
 *   "KLOT" | u8 version=1 | u8 format | u8 state | u8 flags | u8 tender_price | 3 x u8 zero
 *   u64 lot_id, sale_id, seller_id | 4 x char currency
 *   u32 seq, bid_count, soft_close_ms, n_bidders
 *   i64 opening, reserve, starts_at_ms, ends_at_ms, price, leader_max, runner_max
 *   u64 leader, runner
 *   u32 n_rungs | n_rungs x (i64 from, i64 step)
 *   n_bidders x (u64 bidder, i64 max, u32 seq)
 *   live only: i64 ask_override, i64 step_override, u32 n_undo,
 *              n_undo x (u64 leader, runner, bidder | i64 leader_max, runner_max, price,
 *                        ask_override, prev_max, amount | u32 prev_seq, bid_count, entry_index
 *                        | u8 created), oldest first
 *   u32 CRC-32C of everything before it
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/codec.h"
#include "engine/internal.h"

#define SNAPSHOT_MAGIC "KLOT"
#define SNAPSHOT_VERSION 1
#define BID_BYTES (8 + 8 + 4)
#define UNDO_BYTES (3 * 8 + 6 * 8 + 3 * 4 + 1)

static void write_lot(const kito_engine *eng, const struct kito__lot *lot, struct kito__writer *w)
{
    kito__put_bytes(w, SNAPSHOT_MAGIC, 4);
    kito__put_u8(w, SNAPSHOT_VERSION);
    kito__put_u8(w, lot->format);
    kito__put_u8(w, lot->state);
    kito__put_u8(w, lot->flags);
    kito__put_u8(w, lot->tender_price);
    kito__put_bytes(w, "\0\0\0", 3);
    kito__put_u64(w, lot->lot_id);
    kito__put_u64(w, lot->sale_id);
    kito__put_u64(w, lot->seller_id);
    kito__put_bytes(w, lot->currency, 4);
    kito__put_u32(w, lot->seq);
    kito__put_u32(w, lot->bid_count);
    kito__put_u32(w, lot->soft_close_ms);
    kito__put_u32(w, lot->n_bidders);
    kito__put_u64(w, (uint64_t)lot->opening_minor);
    kito__put_u64(w, (uint64_t)lot->reserve_minor);
    kito__put_u64(w, (uint64_t)lot->starts_at_ms);
    kito__put_u64(w, (uint64_t)lot->ends_at_ms);
    kito__put_u64(w, (uint64_t)lot->price_minor);
    kito__put_u64(w, (uint64_t)lot->leader_max_minor);
    kito__put_u64(w, (uint64_t)lot->runner_max_minor);
    kito__put_u64(w, lot->leader);
    kito__put_u64(w, lot->runner);
    const struct kito_ladder *ladder = kito__lot_ladder(eng, lot);
    kito__put_u32(w, ladder->n_rungs);
    for (uint32_t i = 0; i < ladder->n_rungs; i++) {
        kito__put_u64(w, (uint64_t)ladder->rungs[i].from_minor);
        kito__put_u64(w, (uint64_t)ladder->rungs[i].step_minor);
    }
    for (uint32_t k = 0; k < lot->n_bidders; k++) {
        struct kito__entry_ref ref;
        kito__entry_at(eng, lot, k, &ref);
        kito__put_u64(w, ref.bid->bidder);
        kito__put_u64(w, (uint64_t)ref.bid->max_minor);
        kito__put_u32(w, ref.bid->seq);
    }
    const struct kito__live *lv = kito__lot_live(eng, lot);
    if (lv != NULL) {
        kito__put_u64(w, (uint64_t)lv->ask_override_minor);
        kito__put_u64(w, (uint64_t)lv->step_override_minor);
        kito__put_u32(w, lv->undo_len);
        for (uint32_t k = 0; k < lv->undo_len; k++) {
            const struct kito__undo *u = kito__live_undo(eng, lot->live_id, k);
            kito__put_u64(w, u->leader);
            kito__put_u64(w, u->runner);
            kito__put_u64(w, u->bidder);
            kito__put_u64(w, (uint64_t)u->leader_max_minor);
            kito__put_u64(w, (uint64_t)u->runner_max_minor);
            kito__put_u64(w, (uint64_t)u->price_minor);
            kito__put_u64(w, (uint64_t)u->ask_override_minor);
            kito__put_u64(w, (uint64_t)u->prev_max_minor);
            kito__put_u64(w, (uint64_t)u->amount_minor);
            kito__put_u32(w, u->prev_seq);
            kito__put_u32(w, u->bid_count);
            kito__put_u32(w, u->entry_index);
            kito__put_u8(w, (uint8_t)u->created);
        }
    }
}

size_t kito_engine_lot_snapshot_size(const kito_engine *eng, uint64_t lot_id)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return 0;
    struct kito__writer w = {0};
    write_lot(eng, lot, &w);
    return w.len + 4;
}

kito_err kito_engine_lot_snapshot(const kito_engine *eng, uint64_t lot_id, uint8_t *buf, size_t cap,
                                  size_t *len)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    struct kito__writer w = {.buf = buf, .cap = cap};
    write_lot(eng, lot, &w);
    if (w.overflow)
        return KITO_E_CAPACITY;
    kito__put_u32(&w, kito__crc32c(0, buf, w.len));
    if (w.overflow)
        return KITO_E_CAPACITY;
    *len = w.len;
    return KITO_OK;
}

static bool amount_ok(int64_t a, bool zero_ok)
{
    return (zero_ok ? a >= 0 : a > 0) && a <= KITO_AMOUNT_MAX_MINOR;
}

kito_err kito_engine_lot_restore(kito_engine *eng, const uint8_t *buf, size_t len)
{
    if (buf == NULL || len < 8)
        return KITO_E_BAD_SNAPSHOT;
    struct kito__reader tail = {.p = buf + len - 4, .len = 4};
    if (kito__get_u32(&tail) != kito__crc32c(0, buf, len - 4))
        return KITO_E_BAD_SNAPSHOT;
    struct kito__reader r = {.p = buf, .len = len - 4};

    /* Read the fixed part into a scratch lot, validate, then allocate. */
    struct kito__lot s;
    memset(&s, 0, sizeof(s));
    char magic[4];
    kito__get_bytes(&r, magic, 4);
    uint8_t version = kito__get_u8(&r);
    s.format = kito__get_u8(&r);
    s.state = kito__get_u8(&r);
    s.flags = kito__get_u8(&r);
    s.tender_price = kito__get_u8(&r);
    uint8_t zero[3];
    kito__get_bytes(&r, zero, 3);
    s.lot_id = kito__get_u64(&r);
    s.sale_id = kito__get_u64(&r);
    s.seller_id = kito__get_u64(&r);
    kito__get_bytes(&r, s.currency, 4);
    s.seq = kito__get_u32(&r);
    s.bid_count = kito__get_u32(&r);
    s.soft_close_ms = kito__get_u32(&r);
    s.n_bidders = kito__get_u32(&r);
    s.opening_minor = (int64_t)kito__get_u64(&r);
    s.reserve_minor = (int64_t)kito__get_u64(&r);
    s.starts_at_ms = (int64_t)kito__get_u64(&r);
    s.ends_at_ms = (int64_t)kito__get_u64(&r);
    s.price_minor = (int64_t)kito__get_u64(&r);
    s.leader_max_minor = (int64_t)kito__get_u64(&r);
    s.runner_max_minor = (int64_t)kito__get_u64(&r);
    s.leader = kito__get_u64(&r);
    s.runner = kito__get_u64(&r);
    struct kito_ladder ladder;
    memset(&ladder, 0, sizeof(ladder));
    ladder.n_rungs = kito__get_u32(&r);
    if (r.bad || memcmp(magic, SNAPSHOT_MAGIC, 4) != 0 || version != SNAPSHOT_VERSION || zero[0] ||
        zero[1] || zero[2] || ladder.n_rungs == 0 || ladder.n_rungs > KITO_LADDER_MAX_RUNGS)
        return KITO_E_BAD_SNAPSHOT;
    for (uint32_t i = 0; i < ladder.n_rungs; i++) {
        ladder.rungs[i].from_minor = (int64_t)kito__get_u64(&r);
        ladder.rungs[i].step_minor = (int64_t)kito__get_u64(&r);
    }
    bool live = s.format == KITO_FORMAT_LIVE;
    if (r.bad || kito_ladder_validate(&ladder) != KITO_OK || s.lot_id == 0 ||
        s.format < KITO_FORMAT_TIMED || s.format > KITO_FORMAT_LIVE ||
        s.state < KITO_LOT_SCHEDULED || s.state > KITO_LOT_WITHDRAWN || (s.flags & ~KITO__F_ALL) ||
        (!live && s.flags) ||
        ((s.flags & KITO__F_PAUSED) &&
         (!live || (s.state != KITO_LOT_OPEN && s.state != KITO_LOT_CLOSING))) ||
        (s.format == KITO_FORMAT_TENDER ? (s.tender_price != KITO_TENDER_FIRST_PRICE &&
                                           s.tender_price != KITO_TENDER_SECOND_PRICE)
                                        : s.tender_price != 0) ||
        (!live && s.state == KITO_LOT_CLOSING) || !amount_ok(s.opening_minor, false) ||
        !amount_ok(s.reserve_minor, true) || !amount_ok(s.price_minor, true) ||
        !amount_ok(s.leader_max_minor, true) || !amount_ok(s.runner_max_minor, true) ||
        (!live && s.ends_at_ms <= s.starts_at_ms) || (live && (s.ends_at_ms || s.starts_at_ms)) ||
        s.soft_close_ms > 86400u * 1000u || (s.format != KITO_FORMAT_TIMED && s.soft_close_ms))
        return KITO_E_BAD_SNAPSHOT;
    for (int i = 0; i < 3; i++) {
        if (s.currency[i] < 'A' || s.currency[i] > 'Z')
            return KITO_E_BAD_SNAPSHOT;
    }
    if (s.currency[3] != '\0')
        return KITO_E_BAD_SNAPSHOT;
    /* Never trust a count before checking that its bytes are there. */
    size_t bids_at = r.pos;
    if (s.n_bidders > (r.len - r.pos) / BID_BYTES)
        return KITO_E_BAD_SNAPSHOT;
    r.pos += (size_t)s.n_bidders * BID_BYTES;
    int64_t ask_override = 0, step_override = 0;
    uint32_t n_undo = 0;
    size_t undo_at = 0;
    if (live) {
        ask_override = (int64_t)kito__get_u64(&r);
        step_override = (int64_t)kito__get_u64(&r);
        n_undo = kito__get_u32(&r);
        undo_at = r.pos;
        if (r.bad || !amount_ok(ask_override, true) || !amount_ok(step_override, true) ||
            n_undo > (r.len - r.pos) / UNDO_BYTES)
            return KITO_E_BAD_SNAPSHOT;
        r.pos += (size_t)n_undo * UNDO_BYTES;
    }
    if (r.bad || r.pos != r.len)
        return KITO_E_BAD_SNAPSHOT;
    if (n_undo > eng->lim.live_undo_depth)
        return KITO_E_CAPACITY;

    struct kito__lot *lot;
    kito_err err = kito__lot_alloc(eng, s.lot_id, &ladder, live, s.n_bidders, &lot);
    if (err != KITO_OK)
        return err;
    /* Copy the scratch lot over the new one, keeping the engine's bookkeeping fields. */
    uint16_t ladder_id = lot->ladder_id;
    uint32_t live_id = lot->live_id;
    *lot = s;
    lot->ladder_id = ladder_id;
    lot->live_id = live_id;
    lot->heap_pos = KITO__NONE;
    lot->bids_head = lot->bids_tail = KITO__NONE;
    lot->n_bidders = 0;

    kito_err bad = KITO_OK;
    r.pos = bids_at;
    for (uint32_t k = 0; k < s.n_bidders; k++) {
        uint64_t bidder = kito__get_u64(&r);
        int64_t max = (int64_t)kito__get_u64(&r);
        uint32_t seq = kito__get_u32(&r);
        if (bidder == 0 || !amount_ok(max, false) || seq == 0 || seq > s.seq)
            bad = KITO_E_BAD_SNAPSHOT;
        kito__entry_append(eng, lot, bidder, max, seq);
    }
    if (live) {
        struct kito__live *lv = kito__lot_live(eng, lot);
        lv->ask_override_minor = ask_override;
        lv->step_override_minor = step_override;
        r.pos = undo_at;
        /* Created entries must be the last ones, newest undo record first. */
        uint32_t count = lot->n_bidders;
        for (uint32_t k = 0; k < n_undo; k++) {
            struct kito__undo *u = kito__live_undo(eng, lot->live_id, k);
            u->leader = kito__get_u64(&r);
            u->runner = kito__get_u64(&r);
            u->bidder = kito__get_u64(&r);
            u->leader_max_minor = (int64_t)kito__get_u64(&r);
            u->runner_max_minor = (int64_t)kito__get_u64(&r);
            u->price_minor = (int64_t)kito__get_u64(&r);
            u->ask_override_minor = (int64_t)kito__get_u64(&r);
            u->prev_max_minor = (int64_t)kito__get_u64(&r);
            u->amount_minor = (int64_t)kito__get_u64(&r);
            u->prev_seq = kito__get_u32(&r);
            u->bid_count = kito__get_u32(&r);
            u->entry_index = kito__get_u32(&r);
            u->created = kito__get_u8(&r);
            lv->undo_len++;
            if (u->created > 1 || !amount_ok(u->leader_max_minor, true) ||
                !amount_ok(u->runner_max_minor, true) || !amount_ok(u->price_minor, true) ||
                !amount_ok(u->ask_override_minor, true) || !amount_ok(u->prev_max_minor, true) ||
                !amount_ok(u->amount_minor, false) || u->bidder == 0)
                bad = KITO_E_BAD_SNAPSHOT;
        }
        for (uint32_t k = n_undo; k-- > 0 && bad == KITO_OK;) {
            const struct kito__undo *u = kito__live_undo(eng, lot->live_id, k);
            if (u->entry_index >= count) {
                bad = KITO_E_BAD_SNAPSHOT;
                break;
            }
            struct kito__entry_ref ref;
            kito__entry_at(eng, lot, u->entry_index, &ref);
            if (ref.bid->bidder != u->bidder || (u->created && u->entry_index != count - 1))
                bad = KITO_E_BAD_SNAPSHOT;
            if (u->created)
                count--;
        }
    }
    kito__lot_refresh_ask(eng, lot);
    if (bad == KITO_OK && !live &&
        (lot->state == KITO_LOT_SCHEDULED || lot->state == KITO_LOT_OPEN))
        kito__heap_set(eng, kito__lot_slot(eng, lot), kito__lot_deadline(lot));
    /* The lot must satisfy every rule; the bidder-uniqueness check is quadratic, so it runs for
     * lots of up to 512 bidders (the CRC already rules out accidental damage). */
    if (bad == KITO_OK && kito__lot_check(eng, lot, lot->n_bidders <= 512, NULL, 0) != KITO_OK)
        bad = KITO_E_BAD_SNAPSHOT;
    if (bad != KITO_OK) {
        kito__lot_release(eng, lot);
        return bad;
    }
    return KITO_OK;
}

/* ---- equality ------------------------------------------------------------------------------ */

static bool differ(char *why, size_t cap, const char *fmt, ...)
{
    if (why != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return false;
}

#define SAME(field)                                                                                \
    do {                                                                                           \
        if (x->field != y->field)                                                                  \
            return differ(why, why_cap, "%s", #field);                                             \
    } while (0)

bool kito_engine_lot_equal(const kito_engine *a, const kito_engine *b, uint64_t lot_id, char *why,
                           size_t why_cap)
{
    const struct kito__lot *x = kito__lot_find(a, lot_id), *y = kito__lot_find(b, lot_id);
    if (x == NULL || y == NULL)
        return differ(why, why_cap, "lot not loaded in %s", x == NULL ? "a" : "b");
    SAME(lot_id);
    SAME(leader);
    SAME(leader_max_minor);
    SAME(price_minor);
    SAME(ends_at_ms);
    SAME(seller_id);
    SAME(seq);
    SAME(bid_count);
    SAME(state);
    SAME(format);
    SAME(flags);
    SAME(tender_price);
    SAME(runner);
    SAME(runner_max_minor);
    SAME(opening_minor);
    SAME(reserve_minor);
    SAME(n_bidders);
    SAME(soft_close_ms);
    SAME(sale_id);
    SAME(starts_at_ms);
    if (memcmp(x->currency, y->currency, sizeof(x->currency)) != 0)
        return differ(why, why_cap, "currency");
    if (!kito_ladder_equal(kito__lot_ladder(a, x), kito__lot_ladder(b, y)))
        return differ(why, why_cap, "ladder");
    if ((x->heap_pos == KITO__NONE) != (y->heap_pos == KITO__NONE))
        return differ(why, why_cap, "timer");
    for (uint32_t k = 0; k < x->n_bidders; k++) {
        struct kito__entry_ref p, q;
        kito__entry_at(a, x, k, &p);
        kito__entry_at(b, y, k, &q);
        if (p.bid->bidder != q.bid->bidder || p.bid->max_minor != q.bid->max_minor ||
            p.bid->seq != q.bid->seq)
            return differ(why, why_cap, "bid %u", k);
    }
    const struct kito__live *lx = kito__lot_live(a, x), *ly = kito__lot_live(b, y);
    if ((lx == NULL) != (ly == NULL))
        return differ(why, why_cap, "live block");
    if (lx != NULL) {
        if (lx->ask_override_minor != ly->ask_override_minor)
            return differ(why, why_cap, "ask_override_minor");
        if (lx->step_override_minor != ly->step_override_minor)
            return differ(why, why_cap, "step_override_minor");
        if (lx->undo_len != ly->undo_len)
            return differ(why, why_cap, "undo_len");
        for (uint32_t k = 0; k < lx->undo_len; k++) {
            const struct kito__undo *u = kito__live_undo(a, x->live_id, k);
            const struct kito__undo *v = kito__live_undo(b, y->live_id, k);
            if (u->leader != v->leader || u->runner != v->runner || u->bidder != v->bidder ||
                u->leader_max_minor != v->leader_max_minor ||
                u->runner_max_minor != v->runner_max_minor || u->price_minor != v->price_minor ||
                u->ask_override_minor != v->ask_override_minor ||
                u->prev_max_minor != v->prev_max_minor || u->amount_minor != v->amount_minor ||
                u->prev_seq != v->prev_seq || u->bid_count != v->bid_count ||
                u->entry_index != v->entry_index || u->created != v->created)
                return differ(why, why_cap, "undo %u", k);
        }
    }
    return true;
}

/* ---- invariants ------------------------------------------------------------------------------ */

#define RULE(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            differ(why, why_cap, __VA_ARGS__);                                                     \
            return KITO_E_INTERNAL;                                                                \
        }                                                                                          \
    } while (0)

static kito_err check_book(const kito_engine *eng, const struct kito__lot *lot, bool full,
                           char *why, size_t why_cap)
{
    /* The chain holds exactly the entries. */
    uint32_t chunks = 0, tail = KITO__NONE;
    for (uint32_t c = lot->bids_head; c != KITO__NONE; c = eng->chunks[c].next) {
        RULE(c < eng->n_chunks && chunks <= lot->n_bidders, "chunk chain");
        tail = c;
        chunks++;
    }
    RULE(chunks == (lot->n_bidders + KITO__CHUNK_BIDS - 1) / KITO__CHUNK_BIDS, "chunk count");
    RULE(tail == lot->bids_tail, "chunk tail");
    uint32_t c = lot->bids_head;
    for (uint32_t k = 0; k < chunks && k < KITO__CHUNK_DIR; k++, c = eng->chunks[c].next)
        RULE(kito__lot_chunk_dir(lot, k) == c, "chunk directory");
    for (uint32_t k = 0; k < KITO__FP_BIDS; k++) {
        struct kito__entry_ref f;
        if (k < lot->n_bidders)
            kito__entry_at(eng, lot, k, &f);
        RULE(lot->bidder_fp[k] == (k < lot->n_bidders ? kito__bidder_fp(f.bid->bidder) : 0),
             "bidder fingerprint %u", k);
    }

    bool tender_sealed = lot->format == KITO_FORMAT_TENDER &&
                         (lot->state == KITO_LOT_SCHEDULED || lot->state == KITO_LOT_OPEN);
    bool tender_unawarded = lot->format == KITO_FORMAT_TENDER && lot->state == KITO_LOT_WITHDRAWN;
    uint64_t leader_seq = 0;
    bool leader_seen = false, runner_seen = false;
    for (uint32_t k = 0; k < lot->n_bidders; k++) {
        struct kito__entry_ref e;
        kito__entry_at(eng, lot, k, &e);
        uint64_t b = e.bid->bidder;
        int64_t m = e.bid->max_minor;
        RULE(b != 0 && amount_ok(m, false), "bid %u is empty", k);
        RULE(e.bid->seq >= 1 && e.bid->seq <= lot->seq, "bid %u seq", k);
        if (lot->format == KITO_FORMAT_TENDER)
            RULE(m >= lot->opening_minor, "tender bid %u below the opening price", k);
        if (b == lot->leader) {
            RULE(m == lot->leader_max_minor, "the leader's bid is not her maximum");
            leader_seq = e.bid->seq;
            leader_seen = true;
        }
        if (b == lot->runner && lot->runner != 0) {
            RULE(m == lot->runner_max_minor, "the runner-up's bid is not her maximum");
            runner_seen = true;
        }
        if (full) {
            for (uint32_t j = k + 1; j < lot->n_bidders; j++) {
                struct kito__entry_ref f;
                kito__entry_at(eng, lot, j, &f);
                RULE(f.bid->bidder != b, "bidder %u appears twice", k);
            }
        }
    }
    if (tender_sealed || tender_unawarded) {
        RULE(lot->leader == 0 && lot->runner == 0 && lot->price_minor == 0,
             "a sealed tender has a leader or a price");
        return KITO_OK;
    }
    if (lot->leader == 0) {
        RULE(lot->runner == 0 && lot->price_minor == 0 && lot->leader_max_minor == 0 &&
                 lot->runner_max_minor == 0,
             "a book without a leader has a price");
        RULE(lot->n_bidders == 0, "a lot with bids has no leader");
        return KITO_OK;
    }
    RULE(leader_seen, "the leader has no bid");
    RULE(lot->runner == 0 || runner_seen, "the runner-up has no bid");
    RULE(lot->runner != lot->leader, "leader and runner-up are the same bidder");
    RULE(lot->runner != 0 || lot->n_bidders == 1, "two bidders but no runner-up");
    /* The leader holds the highest maximum, the earliest on ties; the runner-up the next. */
    for (uint32_t k = 0; k < lot->n_bidders; k++) {
        struct kito__entry_ref e;
        kito__entry_at(eng, lot, k, &e);
        if (e.bid->bidder == lot->leader)
            continue;
        int64_t m = e.bid->max_minor;
        RULE(m < lot->leader_max_minor || (m == lot->leader_max_minor && e.bid->seq > leader_seq),
             "bid %u beats the leader", k);
        RULE(m <= lot->runner_max_minor, "bid %u beats the runner-up", k);
    }
    if (lot->format == KITO_FORMAT_LIVE && kito__live_never_opened(lot)) {
        /* Absentee maximums only: no price until the clerk opens. */
        RULE(lot->price_minor == 0, "a price before the live lot opened");
        return KITO_OK;
    }
    RULE(lot->price_minor >= 1 && lot->price_minor <= lot->leader_max_minor,
         "the price is above the leader's maximum");
    RULE(lot->runner == 0 || lot->price_minor >= lot->runner_max_minor,
         "the price is below the runner-up's maximum");
    if (lot->format != KITO_FORMAT_LIVE)
        RULE(lot->price_minor >= lot->opening_minor, "the price is below the opening price");
    if (lot->reserve_minor > 0 && lot->leader_max_minor >= lot->reserve_minor)
        RULE(lot->price_minor >= lot->reserve_minor, "the reserve rule did not apply");
    return KITO_OK;
}

kito_err kito_engine_lot_check(const kito_engine *eng, uint64_t lot_id, char *why, size_t why_cap)
{
    const struct kito__lot *lot = kito__lot_find(eng, lot_id);
    if (lot == NULL)
        return KITO_E_UNKNOWN_LOT;
    return kito__lot_check(eng, lot, true, why, why_cap);
}

kito_err kito__lot_check(const kito_engine *eng, const struct kito__lot *lot, bool full, char *why,
                         size_t why_cap)
{
    RULE(lot->format >= KITO_FORMAT_TIMED && lot->format <= KITO_FORMAT_LIVE, "format");
    RULE(lot->state >= KITO_LOT_SCHEDULED && lot->state <= KITO_LOT_WITHDRAWN, "state");
    RULE(lot->bid_count <= lot->seq, "more bids than commands");
    bool live = lot->format == KITO_FORMAT_LIVE;
    RULE(live == (lot->live_id != KITO__NONE), "live block");
    int64_t ask;
    RULE(lot->ask_minor == (kito__lot_ask_compute(eng, lot, &ask) == KITO_OK ? ask : 0),
         "cached ask");
    RULE(!(lot->flags & KITO__F_PAUSED) ||
             (live && (lot->state == KITO_LOT_OPEN || lot->state == KITO_LOT_CLOSING)),
         "paused outside a running live lot");
    RULE((lot->flags & ~KITO__F_ALL) == 0 && (live || lot->flags == 0), "flags");
    if (live && lot->state != KITO_LOT_WITHDRAWN)
        RULE(((lot->flags & KITO__F_OPENED) != 0) == (lot->state != KITO_LOT_SCHEDULED),
             "opened flag and state disagree");
    if (live) {
        const struct kito__live *lv = kito__lot_live(eng, lot);
        RULE(lv->lot_slot == kito__lot_slot(eng, lot), "live block owner");
        RULE(lv->undo_len <= eng->lim.live_undo_depth, "undo history");
        RULE(lv->ask_override_minor == 0 || lot->leader == 0 ||
                 lv->ask_override_minor > lot->price_minor,
             "the called ask is not above the price");
        RULE(lot->heap_pos == KITO__NONE, "a live lot has a timer");
    } else {
        RULE(lot->state != KITO_LOT_CLOSING, "closing outside a live lot");
        RULE(lot->ends_at_ms > lot->starts_at_ms, "ends before it starts");
        bool waiting = lot->state == KITO_LOT_SCHEDULED || lot->state == KITO_LOT_OPEN;
        RULE(waiting == (lot->heap_pos != KITO__NONE), "timer presence");
        if (waiting) {
            RULE(lot->heap_pos < eng->heap_n &&
                     eng->heap[lot->heap_pos].slot == kito__lot_slot(eng, lot),
                 "timer slot");
            RULE(eng->heap[lot->heap_pos].deadline_ms <= kito__lot_deadline(lot),
                 "timer later than the deadline");
        }
    }
    if (lot->state == KITO_LOT_SOLD) {
        RULE(lot->leader != 0, "sold without a winner");
        RULE(lot->price_minor >= lot->reserve_minor, "sold below the reserve");
    }
    return check_book(eng, lot, full, why, why_cap);
}
