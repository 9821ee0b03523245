/*
 * The rules of one lot (DESIGN.md, "Auction rules"). Every handler first checks everything that
 * can refuse the command and only then changes the lot, so a refusal changes nothing; the
 * handlers never allocate (chunks come from the engine's pool, checked before use).
 */
#include <stddef.h>
#include <string.h>

#include "engine/internal.h"

/* ---- standing bids ---------------------------------------------------------------------- */

uint32_t kito__chunk_at(const kito_engine *eng, const struct kito__lot *lot, uint32_t c)
{
    assert(c < (lot->n_bidders + KITO__CHUNK_BIDS - 1) / KITO__CHUNK_BIDS);
    if (c < KITO__CHUNK_DIR)
        return kito__lot_chunk_dir(lot, c);
    uint32_t idx = kito__lot_chunk_dir(lot, KITO__CHUNK_DIR - 1);
    for (uint32_t k = KITO__CHUNK_DIR - 1; k < c; k++)
        idx = eng->chunks[idx].next;
    return idx;
}

/* kito__entry_find past the fingerprinted entries: walks the chain from the chunk holding entry
 * 16. */
static bool entry_find_chain(const kito_engine *eng, const struct kito__lot *lot, uint64_t bidder,
                             struct kito__entry_ref *ref)
{
    uint32_t k = KITO__FP_BIDS;
    uint32_t c = kito__chunk_at(eng, lot, k / KITO__CHUNK_BIDS);
    for (;;) {
        struct kito__chunk *ch = &eng->chunks[c];
        for (uint32_t i = k % KITO__CHUNK_BIDS; i < KITO__CHUNK_BIDS && k < lot->n_bidders;
             i++, k++) {
            struct kito__bid *b = kito__chunk_bid(ch, i);
            if (b->bidder == bidder) {
                ref->bid = b;
                ref->index = k;
                return true;
            }
        }
        if (k >= lot->n_bidders)
            return false;
        c = ch->next;
    }
}

/* kito__entry_find, inline for the timed fast path. */
static inline __attribute__((always_inline)) bool entry_find(const kito_engine *eng,
                                                             const struct kito__lot *lot,
                                                             uint64_t bidder,
                                                             struct kito__entry_ref *ref)
{
    assert(bidder != 0);
    /* The first 16 entries through their fingerprints: one line of the lot, then the one chunk
     * line of each candidate (nearly always just hers). */
    for (unsigned m = kito__fp_match(lot, kito__bidder_fp(bidder)); m != 0; m &= m - 1) {
        uint32_t k = (uint32_t)__builtin_ctz(m);
        struct kito__bid *b = kito__chunk_bid(&eng->chunks[lot->chunk_dir[k / KITO__CHUNK_BIDS]],
                                              k % KITO__CHUNK_BIDS);
        if (b->bidder == bidder) {
            ref->bid = b;
            ref->index = k;
            return true;
        }
    }
    return lot->n_bidders > KITO__FP_BIDS && entry_find_chain(eng, lot, bidder, ref);
}

bool kito__entry_find(const kito_engine *eng, const struct kito__lot *lot, uint64_t bidder,
                      struct kito__entry_ref *ref)
{
    return entry_find(eng, lot, bidder, ref);
}

void kito__entry_at(const kito_engine *eng, const struct kito__lot *lot, uint32_t index,
                    struct kito__entry_ref *ref)
{
    assert(index < lot->n_bidders);
    uint32_t c = kito__chunk_at(eng, lot, index / KITO__CHUNK_BIDS);
    ref->bid = kito__chunk_bid(&eng->chunks[c], index % KITO__CHUNK_BIDS);
    ref->index = index;
}

kito_err kito__entry_can_add(const kito_engine *eng, const struct kito__lot *lot)
{
    if (lot->n_bidders >= eng->lim.max_bidders_per_lot)
        return KITO_E_CAPACITY;
    if (lot->n_bidders % KITO__CHUNK_BIDS == 0 && eng->chunk_free == KITO__NONE)
        return KITO_E_CAPACITY;
    return KITO_OK;
}

void kito__entry_append(kito_engine *eng, struct kito__lot *lot, uint64_t bidder, int64_t max_minor,
                        uint32_t seq)
{
    assert(kito__entry_can_add(eng, lot) == KITO_OK);
    uint32_t i = lot->n_bidders % KITO__CHUNK_BIDS;
    if (i == 0) {
        uint32_t c = eng->chunk_free;
        eng->chunk_free = eng->chunks[c].next;
        eng->chunks_used++;
        memset(&eng->chunks[c], 0, sizeof(eng->chunks[c]));
        eng->chunks[c].next = KITO__NONE;
        if (lot->bids_head == KITO__NONE)
            lot->bids_head = c;
        else
            eng->chunks[lot->bids_tail].next = c;
        lot->bids_tail = c;
        uint32_t number = lot->n_bidders / KITO__CHUNK_BIDS;
        if (number < KITO__CHUNK_DIR_HOT)
            lot->chunk_dir[number] = c;
        else if (number < KITO__CHUNK_DIR)
            lot->chunk_dir_cold[number - KITO__CHUNK_DIR_HOT] = c;
    }
    struct kito__bid *b = kito__chunk_bid(&eng->chunks[lot->bids_tail], i);
    b->bidder = bidder;
    b->max_minor = max_minor;
    b->seq = seq;
    if (lot->n_bidders < KITO__FP_BIDS)
        lot->bidder_fp[lot->n_bidders] = kito__bidder_fp(bidder);
    lot->n_bidders++;
}

static void chunk_free(kito_engine *eng, uint32_t c)
{
    eng->chunks[c].next = eng->chunk_free;
    eng->chunk_free = c;
    assert(eng->chunks_used > 0);
    eng->chunks_used--;
}

/* Removes the last entry (undo of the bid that created it). */
static void entry_pop(kito_engine *eng, struct kito__lot *lot)
{
    assert(lot->n_bidders > 0);
    lot->n_bidders--;
    uint32_t i = lot->n_bidders % KITO__CHUNK_BIDS;
    struct kito__bid *b = kito__chunk_bid(&eng->chunks[lot->bids_tail], i);
    b->bidder = 0;
    b->max_minor = 0;
    b->seq = 0;
    if (lot->n_bidders < KITO__FP_BIDS)
        lot->bidder_fp[lot->n_bidders] = 0;
    if (i != 0)
        return;
    uint32_t old_tail = lot->bids_tail;
    if (lot->n_bidders == 0) {
        lot->bids_head = lot->bids_tail = KITO__NONE;
    } else {
        uint32_t c = kito__chunk_at(eng, lot, lot->n_bidders / KITO__CHUNK_BIDS - 1);
        assert(eng->chunks[c].next == old_tail);
        eng->chunks[c].next = KITO__NONE;
        lot->bids_tail = c;
    }
    chunk_free(eng, old_tail);
}

void kito__entries_free(kito_engine *eng, struct kito__lot *lot)
{
    uint32_t c = lot->bids_head;
    while (c != KITO__NONE) {
        uint32_t next = eng->chunks[c].next;
        chunk_free(eng, c);
        c = next;
    }
    lot->bids_head = lot->bids_tail = KITO__NONE;
    lot->n_bidders = 0;
    memset(lot->bidder_fp, 0, sizeof(lot->bidder_fp));
}

/* ---- prices ------------------------------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* a + b, or INT64_MAX past it: used where the result is capped by a valid amount anyway. */
static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

kito_err kito__lot_ask_compute(const kito_engine *eng, const struct kito__lot *lot,
                               int64_t *ask_minor)
{
    const struct kito__live *lv = kito__lot_live(eng, lot);
    if (lv != NULL && lv->ask_override_minor > 0) {
        *ask_minor = lv->ask_override_minor;
        return KITO_OK;
    }
    if (lot->leader == 0) {
        *ask_minor = lot->opening_minor;
        return KITO_OK;
    }
    int64_t ask;
    if (__builtin_add_overflow(lot->price_minor, kito__lot_step(eng, lot, lot->price_minor),
                               &ask) ||
        ask > KITO_AMOUNT_MAX_MINOR)
        return KITO_E_BAD_AMOUNT;
    *ask_minor = ask;
    return KITO_OK;
}

int64_t kito__lot_deadline(const struct kito__lot *lot)
{
    if (lot->format == KITO_FORMAT_LIVE)
        return INT64_MAX;
    if (lot->state == KITO_LOT_SCHEDULED)
        return lot->starts_at_ms;
    if (lot->state == KITO_LOT_OPEN)
        return lot->ends_at_ms;
    return INT64_MAX;
}

static bool reserve_met(const struct kito__lot *lot)
{
    return lot->leader != 0 && lot->price_minor >= lot->reserve_minor;
}

bool kito__lot_sealed(const struct kito__lot *lot)
{
    if (lot->format == KITO_FORMAT_TENDER)
        return lot->state != KITO_LOT_SOLD && lot->state != KITO_LOT_UNSOLD;
    if (lot->format == KITO_FORMAT_LIVE)
        return kito__live_never_opened(lot);
    return false;
}

void kito__lot_view(const kito_engine *eng, const struct kito__lot *lot, struct kito_lot_view *out)
{
    memset(out, 0, sizeof(*out));
    out->lot_id = lot->lot_id;
    out->format = lot->format;
    out->state = lot->state;
    out->opening_minor = lot->opening_minor;
    out->ends_at_ms = lot->format == KITO_FORMAT_LIVE ? 0 : lot->ends_at_ms;
    out->paused = (lot->flags & KITO__F_PAUSED) != 0;
    out->has_reserve = lot->reserve_minor > 0;
    memcpy(out->currency, lot->currency, sizeof(out->currency));
    if (kito__lot_sealed(lot)) {
        out->ask_minor = kito__state_final(lot->state) ? 0 : lot->opening_minor;
        return;
    }
    out->seq = lot->seq;
    out->leader = lot->leader;
    out->price_minor = lot->price_minor;
    out->bid_count = lot->bid_count;
    out->reserve_met = reserve_met(lot);
    if (!kito__state_final(lot->state) && kito__lot_ask(eng, lot, &out->ask_minor) != KITO_OK)
        out->ask_minor = 0;
}

/* ---- events ------------------------------------------------------------------------------ */

static inline struct kito_event *emit(struct kito__emit *em, uint8_t type, uint8_t audience,
                                      uint64_t who, int64_t amount_minor)
{
    assert(em->n < KITO_MAX_EVENTS_PER_COMMAND);
    struct kito_event *ev = em->buf != NULL ? &em->buf[em->n++] : &em->scratch;
    /* Every field is written once: these here, the public state by finalize_events. */
    ev->lot_id = em->lot_id;
    ev->who = who;
    ev->amount_minor = amount_minor;
    ev->at_ms = em->at_ms;
    ev->seq = em->seq;
    /* type, audience, state, reason and the tail padding: one store, so that events are equal
     * byte for byte whatever the buffer held */
    memset(&ev->type, 0, sizeof(*ev) - offsetof(struct kito_event, type));
    ev->type = type;
    ev->audience = audience;
    return ev;
}

/* The reserve rule (DESIGN.md, Timed): when the leader's maximum reaches the reserve and the
 * price is below it, the price jumps to the reserve. True when the public flag flips (then
 * RESERVE_MET is due). */
static inline bool reserve_rule(struct kito__lot *lot, bool was_met)
{
    if (lot->reserve_minor > 0 && lot->leader != 0 && lot->leader_max_minor >= lot->reserve_minor &&
        lot->price_minor < lot->reserve_minor)
        lot->price_minor = lot->reserve_minor;
    return lot->reserve_minor > 0 && !was_met && reserve_met(lot);
}

/* reserve_rule, emitting RESERVE_MET when the flag flips. */
static inline void reserve_jump(struct kito__lot *lot, bool was_met, struct kito__emit *em)
{
    if (reserve_rule(lot, was_met))
        emit(em, KITO_EV_RESERVE_MET, KITO_AUDIENCE_PUBLIC, 0, 0);
}

/* The proxy rule (DESIGN.md, Timed) for a new maximum `amount` of bidder, who is not the leader
 * and met `ask`: leader, runner-up and price move. Returns who is to be told she was outbid (0 =
 * nobody). The one place the rule is written: the general path (proxy_bid) and the timed fast
 * path (timed_bid_fast) both call it. */
static inline uint64_t proxy_move(kito_engine *eng, struct kito__lot *lot, uint64_t bidder,
                                  int64_t amount, int64_t ask)
{
    uint64_t outbid = 0;
    int64_t price;
    if (lot->leader == 0) {
        lot->leader = bidder;
        lot->leader_max_minor = amount;
        price = ask; /* the opening price, or the ask the clerk called */
    } else if (amount > lot->leader_max_minor) {
        outbid = lot->leader;
        lot->runner = lot->leader;
        lot->runner_max_minor = lot->leader_max_minor;
        lot->leader = bidder;
        lot->leader_max_minor = amount;
        price = min64(amount, add_sat(lot->runner_max_minor,
                                      kito__lot_step(eng, lot, lot->runner_max_minor)));
    } else {
        /* At or below the leader's maximum: her proxy answers; ties go to the earlier. */
        outbid = bidder;
        lot->runner = bidder;
        lot->runner_max_minor = amount;
        price = min64(lot->leader_max_minor, add_sat(amount, kito__lot_step(eng, lot, amount)));
    }
    /* Never below the ask just met (a no-op on a timed lot with a non-decreasing ladder; on a
     * live lot the bidder accepted the ask the clerk called). */
    price = max64(price, ask);
    assert(price >= lot->price_minor && price <= lot->leader_max_minor);
    lot->price_minor = price;
    return outbid;
}

/* ---- live undo history ------------------------------------------------------------------- */

static void undo_record(kito_engine *eng, struct kito__lot *lot, uint64_t bidder, int64_t amount,
                        bool found, const struct kito__entry_ref *ref)
{
    struct kito__live *lv = kito__lot_live(eng, lot);
    if (lv == NULL || lot->state == KITO_LOT_SCHEDULED)
        return; /* absentee bids before open are not undoable: the clerk did not take them */
    uint32_t depth = eng->lim.live_undo_depth;
    if (lv->undo_len == depth) {
        /* Full: forget the oldest; the clerk can undo the last `depth` bids. */
        lv->undo_start = (lv->undo_start + 1) % depth;
        lv->undo_len--;
    }
    struct kito__undo *u = kito__live_undo(eng, lot->live_id, lv->undo_len);
    lv->undo_len++;
    u->leader = lot->leader;
    u->runner = lot->runner;
    u->bidder = bidder;
    u->leader_max_minor = lot->leader_max_minor;
    u->runner_max_minor = lot->runner_max_minor;
    u->price_minor = lot->price_minor;
    u->ask_override_minor = lv->ask_override_minor;
    u->amount_minor = amount;
    u->bid_count = lot->bid_count;
    u->created = found ? 0 : 1;
    u->entry_index = found ? ref->index : lot->n_bidders;
    u->prev_max_minor = found ? ref->bid->max_minor : 0;
    u->prev_seq = found ? ref->bid->seq : 0;
}

/* Live lots only: the format test is inline so that a timed bid pays no call for it. */
static inline void undo_push(kito_engine *eng, struct kito__lot *lot, uint64_t bidder,
                             int64_t amount, bool found, const struct kito__entry_ref *ref)
{
    if (lot->format == KITO_FORMAT_LIVE)
        undo_record(eng, lot, bidder, amount, found, ref);
}

/* ---- bids ---------------------------------------------------------------------------------- */

static void entry_set(kito_engine *eng, struct kito__lot *lot, bool found,
                      const struct kito__entry_ref *ref, uint64_t bidder, int64_t amount,
                      uint32_t seq)
{
    if (found) {
        ref->bid->max_minor = amount;
        ref->bid->seq = seq;
    } else {
        kito__entry_append(eng, lot, bidder, amount, seq);
    }
}

/* On a live lot whose price reached the ask the clerk called: that ask no longer applies. */
static inline void live_drop_passed_ask(kito_engine *eng, struct kito__lot *lot)
{
    struct kito__live *lv = kito__lot_live(eng, lot);
    if (lv != NULL && lv->ask_override_minor != 0 && lv->ask_override_minor <= lot->price_minor)
        lv->ask_override_minor = 0;
}

/* After a bid on a live lot: the called ask is used up and a bid under fair warning reopens. */
static inline void live_after_bid(kito_engine *eng, struct kito__lot *lot)
{
    struct kito__live *lv = kito__lot_live(eng, lot);
    if (lv == NULL)
        return;
    lv->ask_override_minor = 0;
    if (lot->state == KITO_LOT_CLOSING)
        lot->state = KITO_LOT_OPEN;
}

static void emit_bid_events(struct kito__lot *lot, uint64_t bidder, int64_t amount,
                            struct kito__emit *em)
{
    struct kito_event *ev = emit(em, KITO_EV_BID_ACCEPTED, KITO_AUDIENCE_BIDDER, bidder, amount);
    ev->reason = lot->leader == bidder ? 1 : 0;
    emit(em, KITO_EV_BOOK, KITO_AUDIENCE_PUBLIC, lot->leader, 0);
}

/* A maximum against the book: timed bids and live online bids after open. */
static kito_err proxy_bid(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                          struct kito__emit *em)
{
    uint64_t bidder = cmd->actor;
    int64_t amount = cmd->amount_minor;
    struct kito__entry_ref ref;
    bool found = kito__entry_find(eng, lot, bidder, &ref);
    bool was_met = reserve_met(lot);
    bool raising = bidder == lot->leader;

    if (raising) {
        assert(found);
        if (amount <= lot->leader_max_minor)
            return KITO_E_NOT_ABOVE_OWN_MAX;
        /* Raising her own maximum moves nothing but the reserve rule. */
        undo_push(eng, lot, bidder, amount, found, &ref);
        entry_set(eng, lot, found, &ref, bidder, amount, em->seq);
        lot->leader_max_minor = amount;
    } else {
        int64_t ask;
        kito_err err = kito__lot_ask(eng, lot, &ask);
        if (err != KITO_OK)
            return err;
        if (amount < ask)
            return KITO_E_BELOW_ASK;
        if (!found && (err = kito__entry_can_add(eng, lot)) != KITO_OK)
            return err;

        undo_push(eng, lot, bidder, amount, found, &ref);
        entry_set(eng, lot, found, &ref, bidder, amount, em->seq);
        uint64_t outbid = proxy_move(eng, lot, bidder, amount, ask);
        if (outbid != 0)
            emit(em, KITO_EV_OUTBID, KITO_AUDIENCE_BIDDER, outbid, 0);
    }
    lot->bid_count++;
    reserve_jump(lot, was_met, em);
    /* The leader raising her own maximum is not a bid against the room: the called ask and a
     * fair warning stand, unless the reserve jump took the price to or past the called ask; then
     * the ask goes back to the ladder (the room is asked for more than the new price). */
    if (!raising)
        live_after_bid(eng, lot);
    else
        live_drop_passed_ask(eng, lot);
    emit_bid_events(lot, bidder, amount, em);
    return KITO_OK;
}

static kito_err timed_bid(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                          struct kito__emit *em)
{
    if (lot->state == KITO_LOT_SCHEDULED)
        return KITO_E_LOT_NOT_OPEN;
    /* No bid is accepted at or after the end, even before a tick has closed the lot. */
    if (lot->state != KITO_LOT_OPEN || cmd->now_ms >= lot->ends_at_ms)
        return KITO_E_LOT_CLOSED;
    kito_err err = proxy_bid(eng, lot, cmd, em);
    if (err != KITO_OK)
        return err;
    /* Soft close (DESIGN.md, Timed): a bid within soft_close of the end moves the end to bid
     * time + soft_close. At exactly the window's edge that is the old end: nothing moves. */
    if (lot->soft_close_ms > 0) {
        int64_t new_end = cmd->now_ms + (int64_t)lot->soft_close_ms;
        if (new_end > lot->ends_at_ms) {
            lot->ends_at_ms = new_end;
            struct kito_event *ev = emit(em, KITO_EV_EXTENDED, KITO_AUDIENCE_PUBLIC, 0, 0);
            ev->at_ms = new_end;
        }
    }
    return KITO_OK;
}

static kito_err tender_bid(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                           struct kito__emit *em)
{
    if (lot->state == KITO_LOT_SCHEDULED)
        return KITO_E_LOT_NOT_OPEN;
    if (lot->state != KITO_LOT_OPEN || cmd->now_ms >= lot->ends_at_ms)
        return KITO_E_LOT_CLOSED;
    if (cmd->amount_minor < lot->opening_minor)
        return KITO_E_BELOW_ASK;
    struct kito__entry_ref ref;
    bool found = kito__entry_find(eng, lot, cmd->actor, &ref);
    if (found && ref.bid->max_minor == cmd->amount_minor)
        return KITO_E_UNCHANGED;
    kito_err err;
    if (!found && (err = kito__entry_can_add(eng, lot)) != KITO_OK)
        return err;
    /* One standing bid per buyer, revisable either way; a revision takes its own time. */
    entry_set(eng, lot, found, &ref, cmd->actor, cmd->amount_minor, em->seq);
    lot->bid_count++;
    emit(em, KITO_EV_BID_ACCEPTED, KITO_AUDIENCE_BIDDER, cmd->actor, cmd->amount_minor);
    return KITO_OK;
}

/* Live, before open: an absentee maximum, executed as a proxy when the clerk opens. */
static kito_err absentee_bid(kito_engine *eng, struct kito__lot *lot,
                             const struct kito_command *cmd, struct kito__emit *em)
{
    uint64_t bidder = cmd->actor;
    int64_t amount = cmd->amount_minor;
    if (amount < lot->opening_minor)
        return KITO_E_BELOW_ASK;
    struct kito__entry_ref ref;
    bool found = kito__entry_find(eng, lot, bidder, &ref);
    if (found && amount <= ref.bid->max_minor)
        return KITO_E_NOT_ABOVE_OWN_MAX;
    kito_err err;
    if (!found && (err = kito__entry_can_add(eng, lot)) != KITO_OK)
        return err;

    entry_set(eng, lot, found, &ref, bidder, amount, em->seq);
    /* Keep the best two maximums, the earlier on ties; maximums only rise. */
    if (bidder == lot->leader) {
        lot->leader_max_minor = amount;
    } else if (lot->leader == 0 || amount > lot->leader_max_minor) {
        lot->runner = lot->leader;
        lot->runner_max_minor = lot->leader_max_minor;
        lot->leader = bidder;
        lot->leader_max_minor = amount;
    } else if (bidder == lot->runner || lot->runner == 0 || amount > lot->runner_max_minor) {
        lot->runner = bidder;
        lot->runner_max_minor = amount;
    }
    lot->bid_count++;
    emit(em, KITO_EV_BID_ACCEPTED, KITO_AUDIENCE_BIDDER, bidder, amount);
    return KITO_OK;
}

/* Live: the clerk enters a floor bid -- a fixed amount, not a maximum. */
static kito_err floor_bid(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                          struct kito__emit *em)
{
    uint64_t bidder = KITO_PADDLE_BIDDER(cmd->actor);
    int64_t amount = cmd->amount_minor;
    if (bidder == lot->leader)
        return KITO_E_ALREADY_LEADING;
    int64_t ask;
    kito_err err = kito__lot_ask(eng, lot, &ask);
    if (err != KITO_OK)
        return err;
    if (amount < ask)
        return KITO_E_BELOW_ASK;
    struct kito__entry_ref ref;
    bool found = kito__entry_find(eng, lot, bidder, &ref);
    if (!found && (err = kito__entry_can_add(eng, lot)) != KITO_OK)
        return err;

    bool was_met = reserve_met(lot);
    undo_push(eng, lot, bidder, amount, found, &ref);
    entry_set(eng, lot, found, &ref, bidder, amount, em->seq);
    if (lot->leader == 0 || amount > lot->leader_max_minor) {
        if (lot->leader != 0)
            emit(em, KITO_EV_OUTBID, KITO_AUDIENCE_BIDDER, lot->leader, 0);
        lot->runner = lot->leader;
        lot->runner_max_minor = lot->leader_max_minor;
        lot->leader = bidder;
        lot->leader_max_minor = amount;
        lot->price_minor = amount;
    } else {
        /* A proxy (online or absentee) holds: it answers one step above, within its maximum. */
        emit(em, KITO_EV_OUTBID, KITO_AUDIENCE_BIDDER, bidder, 0);
        lot->runner = bidder;
        lot->runner_max_minor = amount;
        lot->price_minor =
            min64(lot->leader_max_minor, add_sat(amount, kito__lot_step(eng, lot, amount)));
    }
    assert(lot->price_minor >= amount || lot->leader == bidder);
    lot->bid_count++;
    reserve_jump(lot, was_met, em);
    live_after_bid(eng, lot);
    emit_bid_events(lot, bidder, amount, em);
    return KITO_OK;
}

static kito_err bid(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                    struct kito__emit *em)
{
    if (cmd->actor == lot->seller_id)
        return KITO_E_OWN_LOT;
    if (!(cmd->flags & KITO_CMD_F_APPROVED))
        return KITO_E_NOT_APPROVED;
    switch (lot->format) {
    case KITO_FORMAT_TIMED:
        return timed_bid(eng, lot, cmd, em);
    case KITO_FORMAT_TENDER:
        return tender_bid(eng, lot, cmd, em);
    default:
        if (lot->state == KITO_LOT_SCHEDULED)
            return absentee_bid(eng, lot, cmd, em);
        if (lot->flags & KITO__F_PAUSED)
            return KITO_E_LOT_PAUSED;
        return proxy_bid(eng, lot, cmd, em);
    }
}

/* ---- opening and closing -------------------------------------------------------------------- */

static kito_err open_lot(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                         struct kito__emit *em)
{
    if (lot->state != KITO_LOT_SCHEDULED)
        return KITO_E_BAD_STATE;
    if (lot->format != KITO_FORMAT_LIVE) {
        if (cmd->now_ms < lot->starts_at_ms)
            return KITO_E_NOT_DUE;
        lot->state = KITO_LOT_OPEN;
        kito__heap_set(eng, kito__lot_slot(eng, lot), lot->ends_at_ms);
        emit(em, KITO_EV_OPENED, KITO_AUDIENCE_PUBLIC, 0, 0);
        return KITO_OK;
    }
    /* Live: execute the absentee maximums as proxies (price as a timed lot). */
    lot->state = KITO_LOT_OPEN;
    lot->flags |= KITO__F_OPENED;
    emit(em, KITO_EV_OPENED, KITO_AUDIENCE_PUBLIC, lot->leader, 0);
    if (lot->leader != 0) {
        int64_t price = lot->opening_minor;
        if (lot->runner != 0)
            price = max64(price, min64(lot->leader_max_minor,
                                       add_sat(lot->runner_max_minor,
                                               kito__lot_step(eng, lot, lot->runner_max_minor))));
        lot->price_minor = price;
        reserve_jump(lot, false, em);
        emit(em, KITO_EV_BOOK, KITO_AUDIENCE_PUBLIC, lot->leader, 0);
    }
    return KITO_OK;
}

static void finish(kito_engine *eng, struct kito__lot *lot, uint8_t state)
{
    lot->state = state;
    lot->flags &= (uint8_t)~KITO__F_PAUSED;
    if (lot->heap_pos != KITO__NONE)
        kito__heap_remove(eng, kito__lot_slot(eng, lot));
}

static void sell(kito_engine *eng, struct kito__lot *lot, struct kito__emit *em)
{
    assert(lot->leader != 0 && lot->price_minor >= lot->reserve_minor);
    assert(lot->price_minor <= lot->leader_max_minor);
    finish(eng, lot, KITO_LOT_SOLD);
    emit(em, KITO_EV_SOLD, KITO_AUDIENCE_PUBLIC, lot->leader, lot->price_minor);
}

static void no_sale(kito_engine *eng, struct kito__lot *lot, uint8_t reason, struct kito__emit *em)
{
    finish(eng, lot, KITO_LOT_UNSOLD);
    struct kito_event *ev = emit(em, KITO_EV_UNSOLD, KITO_AUDIENCE_PUBLIC, 0, 0);
    ev->reason = reason;
}

/* Tender award: the highest bid, the earliest on ties; the runner-up likewise among the rest. */
static void tender_award(kito_engine *eng, struct kito__lot *lot)
{
    uint64_t best = 0, second = 0;
    int64_t best_amt = 0, second_amt = 0;
    uint32_t best_seq = 0, second_seq = 0;
    for (uint32_t k = 0; k < lot->n_bidders; k++) {
        struct kito__entry_ref ref;
        kito__entry_at(eng, lot, k, &ref);
        uint64_t b = ref.bid->bidder;
        int64_t amt = ref.bid->max_minor;
        uint32_t seq = ref.bid->seq;
        if (best == 0 || amt > best_amt || (amt == best_amt && seq < best_seq)) {
            second = best, second_amt = best_amt, second_seq = best_seq;
            best = b, best_amt = amt, best_seq = seq;
        } else if (second == 0 || amt > second_amt || (amt == second_amt && seq < second_seq)) {
            second = b, second_amt = amt, second_seq = seq;
        }
    }
    lot->leader = best;
    lot->leader_max_minor = best_amt;
    lot->runner = second;
    lot->runner_max_minor = second_amt;
    if (best == 0)
        return;
    int64_t price = best_amt;
    if (lot->tender_price == KITO_TENDER_SECOND_PRICE) {
        price = max64(lot->opening_minor, lot->reserve_minor);
        if (second != 0)
            price = max64(price, add_sat(second_amt, kito__lot_step(eng, lot, second_amt)));
        price = min64(price, best_amt);
    }
    lot->price_minor = price;
}

static kito_err close_lot(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                          struct kito__emit *em)
{
    if (lot->format == KITO_FORMAT_LIVE)
        return KITO_E_WRONG_FORMAT;
    if (lot->state != KITO_LOT_OPEN)
        return KITO_E_BAD_STATE;
    if (cmd->now_ms < lot->ends_at_ms)
        return KITO_E_NOT_DUE;
    if (lot->format == KITO_FORMAT_TENDER)
        tender_award(eng, lot);
    if (lot->leader == 0)
        no_sale(eng, lot, KITO_UNSOLD_NO_BIDS, em);
    else if (lot->leader_max_minor < lot->reserve_minor)
        no_sale(eng, lot, KITO_UNSOLD_RESERVE_NOT_MET, em);
    else
        sell(eng, lot, em);
    return KITO_OK;
}

/* ---- the clerk ------------------------------------------------------------------------------ */

static kito_err set_ask(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                        struct kito__emit *em)
{
    if (lot->state != KITO_LOT_OPEN && lot->state != KITO_LOT_CLOSING)
        return KITO_E_BAD_STATE;
    if (cmd->amount_minor <= 0 || cmd->amount_minor > KITO_AMOUNT_MAX_MINOR)
        return KITO_E_BAD_AMOUNT;
    if (lot->leader != 0 && cmd->amount_minor <= lot->price_minor)
        return KITO_E_ASK_NOT_ABOVE_PRICE;
    kito__lot_live(eng, lot)->ask_override_minor = cmd->amount_minor;
    emit(em, KITO_EV_ASK_CHANGED, KITO_AUDIENCE_PUBLIC, 0, cmd->amount_minor);
    return KITO_OK;
}

static kito_err set_step(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                         struct kito__emit *em)
{
    if (lot->state != KITO_LOT_SCHEDULED && lot->state != KITO_LOT_OPEN &&
        lot->state != KITO_LOT_CLOSING)
        return KITO_E_BAD_STATE;
    struct kito__live *lv = kito__lot_live(eng, lot);
    int64_t at = lot->leader != 0 ? lot->price_minor : lot->opening_minor;
    int64_t current = kito__lot_step(eng, lot, at);
    int64_t step = 0; /* 0: back to the ladder */
    switch (cmd->arg) {
    case KITO_STEP_MANUAL:
        step = cmd->amount_minor;
        break;
    case KITO_STEP_HALVE:
        step = current / 2;
        break;
    case KITO_STEP_DOUBLE:
        if (__builtin_mul_overflow(current, 2, &step))
            return KITO_E_BAD_AMOUNT;
        break;
    default:
        assert(cmd->arg == KITO_STEP_LADDER);
        break;
    }
    if (cmd->arg != KITO_STEP_LADDER && (step <= 0 || step > KITO_AMOUNT_MAX_MINOR))
        return KITO_E_BAD_AMOUNT;
    lv->step_override_minor = step;
    lv->ask_override_minor = 0;
    emit(em, KITO_EV_STEP_CHANGED, KITO_AUDIENCE_PUBLIC, 0, kito__lot_step(eng, lot, at));
    return KITO_OK;
}

static kito_err undo(kito_engine *eng, struct kito__lot *lot, struct kito__emit *em)
{
    if (lot->state != KITO_LOT_OPEN && lot->state != KITO_LOT_CLOSING)
        return KITO_E_BAD_STATE;
    struct kito__live *lv = kito__lot_live(eng, lot);
    if (lv->undo_len == 0)
        return KITO_E_NOTHING_TO_UNDO;
    const struct kito__undo *u = kito__live_undo(eng, lot->live_id, lv->undo_len - 1);
    lv->undo_len--;
    if (u->created) {
        assert(u->entry_index == lot->n_bidders - 1);
        entry_pop(eng, lot);
    } else {
        struct kito__entry_ref ref;
        kito__entry_at(eng, lot, u->entry_index, &ref);
        assert(ref.bid->bidder == u->bidder);
        ref.bid->max_minor = u->prev_max_minor;
        ref.bid->seq = u->prev_seq;
    }
    lot->leader = u->leader;
    lot->runner = u->runner;
    lot->leader_max_minor = u->leader_max_minor;
    lot->runner_max_minor = u->runner_max_minor;
    lot->price_minor = u->price_minor;
    lot->bid_count = u->bid_count;
    lv->ask_override_minor = u->ask_override_minor;
    /* A floor bid was called out loud; an online bid is a secret maximum. */
    emit(em, KITO_EV_BID_UNDONE, KITO_AUDIENCE_PUBLIC, u->bidder,
         (u->bidder & KITO_PADDLE_FLAG) ? u->amount_minor : 0);
    emit(em, KITO_EV_BOOK, KITO_AUDIENCE_PUBLIC, lot->leader, 0);
    return KITO_OK;
}

static kito_err clerk(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                      struct kito__emit *em)
{
    if (lot->format != KITO_FORMAT_LIVE)
        return KITO_E_WRONG_FORMAT;
    bool paused = (lot->flags & KITO__F_PAUSED) != 0;
    if (cmd->type == KITO_CMD_RESUME) {
        if (!paused)
            return KITO_E_BAD_STATE;
        lot->flags &= (uint8_t)~KITO__F_PAUSED;
        emit(em, KITO_EV_RESUMED, KITO_AUDIENCE_PUBLIC, 0, 0);
        return KITO_OK;
    }
    if (paused)
        return KITO_E_LOT_PAUSED;
    bool running = lot->state == KITO_LOT_OPEN || lot->state == KITO_LOT_CLOSING;
    switch (cmd->type) {
    case KITO_CMD_FLOOR_BID:
        if (!running)
            return KITO_E_LOT_NOT_OPEN;
        return floor_bid(eng, lot, cmd, em);
    case KITO_CMD_SET_ASK:
        return set_ask(eng, lot, cmd, em);
    case KITO_CMD_SET_STEP:
        return set_step(eng, lot, cmd, em);
    case KITO_CMD_UNDO:
        return undo(eng, lot, em);
    case KITO_CMD_FAIR_WARNING:
        if (lot->state != KITO_LOT_OPEN)
            return KITO_E_BAD_STATE;
        lot->state = KITO_LOT_CLOSING;
        emit(em, KITO_EV_FAIR_WARNING, KITO_AUDIENCE_PUBLIC, lot->leader, 0);
        return KITO_OK;
    case KITO_CMD_SOLD:
        if (!running)
            return KITO_E_BAD_STATE;
        if (lot->leader == 0)
            return KITO_E_NO_BID;
        if (lot->price_minor < lot->reserve_minor)
            return KITO_E_RESERVE_NOT_MET;
        sell(eng, lot, em);
        return KITO_OK;
    case KITO_CMD_PASS:
        if (!running)
            return KITO_E_BAD_STATE;
        no_sale(eng, lot,
                lot->leader == 0                        ? KITO_UNSOLD_NO_BIDS
                : lot->price_minor < lot->reserve_minor ? KITO_UNSOLD_RESERVE_NOT_MET
                                                        : KITO_UNSOLD_PASSED,
                em);
        return KITO_OK;
    case KITO_CMD_PAUSE:
        if (!running)
            return KITO_E_BAD_STATE;
        lot->flags |= KITO__F_PAUSED;
        emit(em, KITO_EV_PAUSED, KITO_AUDIENCE_PUBLIC, 0, 0);
        return KITO_OK;
    }
    assert(0 && "not a clerk command");
    return KITO_E_BAD_COMMAND;
}

/* ---- the timed bid, in one pass ------------------------------------------------------------ */

/* One event of a timed bid: emit's fields, then the public state finalize_events would stamp
 * (a timed lot that took a bid is open, never sealed), written at once because the book has
 * already moved. */
static inline struct kito_event *timed_event(struct kito__emit *em, const struct kito__lot *lot,
                                             uint8_t type, uint8_t audience, uint64_t who,
                                             int64_t amount_minor, uint8_t reason)
{
    struct kito_event *ev = emit(em, type, audience, who, amount_minor);
    ev->reason = reason;
    ev->state = lot->state;
    ev->price_minor = lot->price_minor;
    ev->ask_minor = lot->ask_minor;
    ev->bid_count = lot->bid_count;
    return ev;
}

/* A bid on a timed lot: bid, timed_bid and proxy_bid for this one format, then the ask refresh,
 * with the events written once each after the book has moved instead of emitted and then stamped
 * (kito__lot_apply's general path). The same checks in the same order, the same changes, the same
 * events byte for byte (shown by hashing every output of the bench stream against the general
 * path, engine/README.md, Performance; the simulation checks every rule after each command, and
 * replays every accepted command into a replica that takes the general path, comparing the lot
 * and the events each time). Keep the two in step: a rule changed in proxy_bid or timed_bid must
 * change here too. */
static kito_err timed_bid_fast(kito_engine *eng, struct kito__lot *lot,
                               const struct kito_command *cmd, struct kito__emit *em)
{
    uint64_t bidder = cmd->actor;
    int64_t amount = cmd->amount_minor;
    if (bidder == lot->seller_id)
        return KITO_E_OWN_LOT;
    if (!(cmd->flags & KITO_CMD_F_APPROVED))
        return KITO_E_NOT_APPROVED;
    if (lot->state == KITO_LOT_SCHEDULED)
        return KITO_E_LOT_NOT_OPEN;
    /* No bid is accepted at or after the end, even before a tick has closed the lot. */
    if (lot->state != KITO_LOT_OPEN || cmd->now_ms >= lot->ends_at_ms)
        return KITO_E_LOT_CLOSED;

    struct kito__entry_ref ref;
    bool found = entry_find(eng, lot, bidder, &ref);
    bool was_met = reserve_met(lot);
    uint64_t outbid = 0; /* who is told she was outbid, 0 = nobody */
    if (bidder == lot->leader) {
        assert(found);
        if (amount <= lot->leader_max_minor)
            return KITO_E_NOT_ABOVE_OWN_MAX;
        /* Raising her own maximum moves nothing but the reserve rule. */
        ref.bid->max_minor = amount;
        ref.bid->seq = em->seq;
        lot->leader_max_minor = amount;
    } else {
        int64_t ask = lot->ask_minor;
        if (ask == 0)
            return KITO_E_BAD_AMOUNT; /* the ask would pass the maximum amount */
        if (amount < ask)
            return KITO_E_BELOW_ASK;
        kito_err err;
        if (!found && (err = kito__entry_can_add(eng, lot)) != KITO_OK)
            return err;
        entry_set(eng, lot, found, &ref, bidder, amount, em->seq);
        outbid = proxy_move(eng, lot, bidder, amount, ask);
    }
    lot->bid_count++;
    bool reserve_now_met = reserve_rule(lot, was_met);
    /* Soft close (DESIGN.md, Timed), as timed_bid. */
    bool extended = false;
    if (lot->soft_close_ms > 0 && cmd->now_ms + (int64_t)lot->soft_close_ms > lot->ends_at_ms) {
        lot->ends_at_ms = cmd->now_ms + (int64_t)lot->soft_close_ms;
        extended = true;
    }
    /* kito__lot_refresh_ask for a timed lot with a leader: the price plus the ladder's step. */
    int64_t next_ask;
    lot->ask_minor = __builtin_add_overflow(
                         lot->price_minor, kito__lot_step(eng, lot, lot->price_minor), &next_ask) ||
                             next_ask > KITO_AMOUNT_MAX_MINOR
                         ? 0
                         : next_ask;

    assert(em->n == 0);
    if (em->buf == NULL)
        return KITO_OK;
    /* The order of the general path: outbid, reserve met, bid accepted, book, extended. */
    if (outbid != 0)
        timed_event(em, lot, KITO_EV_OUTBID, KITO_AUDIENCE_BIDDER, outbid, 0, 0);
    if (reserve_now_met)
        timed_event(em, lot, KITO_EV_RESERVE_MET, KITO_AUDIENCE_PUBLIC, 0, 0, 0);
    timed_event(em, lot, KITO_EV_BID_ACCEPTED, KITO_AUDIENCE_BIDDER, bidder, amount,
                lot->leader == bidder ? 1 : 0);
    timed_event(em, lot, KITO_EV_BOOK, KITO_AUDIENCE_PUBLIC, lot->leader, 0, 0);
    if (extended)
        timed_event(em, lot, KITO_EV_EXTENDED, KITO_AUDIENCE_PUBLIC, 0, 0, 0)->at_ms =
            lot->ends_at_ms;
    return KITO_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

/* Stamps the public state after the command on its events (what kito__lot_view reports). */
static void finalize_events(const struct kito__lot *lot, struct kito__emit *em)
{
    if (em->buf == NULL || em->n == 0)
        return;
    int64_t price = 0, ask = 0;
    uint32_t bid_count = 0;
    bool final = kito__state_final(lot->state);
    if (kito__lot_sealed(lot)) {
        ask = final ? 0 : lot->opening_minor;
    } else {
        price = lot->price_minor;
        bid_count = lot->bid_count;
        if (!final)
            ask = lot->ask_minor; /* 0 when it would pass the maximum amount */
    }
    uint8_t state = lot->state;
    for (uint32_t k = 0; k < em->n; k++) {
        struct kito_event *ev = &em->buf[k];
        ev->state = state;
        ev->price_minor = price;
        ev->ask_minor = ask;
        ev->bid_count = bid_count;
    }
}

kito_err kito__lot_apply(kito_engine *eng, struct kito__lot *lot, const struct kito_command *cmd,
                         struct kito__emit *em)
{
    if (kito__state_final(lot->state))
        return KITO_E_LOT_CLOSED;
    if (cmd->type == KITO_CMD_BID && lot->format == KITO_FORMAT_TIMED && !eng->general_path_only)
        return timed_bid_fast(eng, lot, cmd, em);
    kito_err err;
    switch (cmd->type) {
    case KITO_CMD_BID:
        err = bid(eng, lot, cmd, em);
        break;
    case KITO_CMD_OPEN:
        if (lot->format == KITO_FORMAT_LIVE && (lot->flags & KITO__F_PAUSED))
            return KITO_E_LOT_PAUSED;
        err = open_lot(eng, lot, cmd, em);
        break;
    case KITO_CMD_CLOSE:
        err = close_lot(eng, lot, cmd, em);
        break;
    case KITO_CMD_WITHDRAW: {
        finish(eng, lot, KITO_LOT_WITHDRAWN);
        emit(em, KITO_EV_WITHDRAWN, KITO_AUDIENCE_PUBLIC, 0, 0);
        err = KITO_OK;
        break;
    }
    default:
        err = clerk(eng, lot, cmd, em);
        break;
    }
    if (err != KITO_OK) {
        assert(em->n == 0);
        return err;
    }
    kito__lot_refresh_ask(eng, lot);
    finalize_events(lot, em);
    return KITO_OK;
}
