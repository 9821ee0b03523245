#include "api/live/market.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"

/* Lot states in the market's own table (the engine knows nothing of Redis). */
enum {
    LOT_CHECKING = 1, /* lot_load: waiting for Redis to say the id is free; not in the engine */
    LOT_READY = 2,    /* in the engine, usable */
    LOT_RESYNC = 3,   /* not in the engine; to be read back from Redis */
    LOT_READING = 4,  /* being read back */
    LOT_GONE = 5,     /* read back and not in Redis: released when the read ends */
    LOT_DAMAGED = 6,  /* its records in Redis do not decode or replay; not in the engine */
};

enum { PEND_COMMAND = 1, PEND_LOAD = 2 };

struct mk_pending {
    uint8_t kind;
    kito_market_submit_cb cb;
    kito_market_load_cb load_cb;
    void *ud;
    struct kito_outcome out;
    struct kito_event ev[KITO_MAX_EVENTS_PER_COMMAND];
    /* for the listener: set when the command was journaled (not for duplicates or loads) */
    bool journaled;
    uint8_t format;
    char currency[4];
    uint64_t lot_id;
    uint64_t sale_id;
};

/* One batch's waiting answers and touched lots. Three, indexed by batch id % MK_BATCHES: the
 * one being answered (the book store sends the next batch before it reports this one), the one
 * in flight and the one collecting. */
#define MK_BATCHES 3
struct mk_batch {
    struct mk_pending *pend;
    uint32_t n_pend;
    uint32_t *touched; /* lot slots */
    uint32_t n_touched;
};

struct mk_lot {
    uint64_t lot_id; /* 0: free slot */
    uint64_t sale_id;
    uint64_t seller_id;
    uint64_t touched_batch; /* the last batch that journaled a record of this lot */
    uint32_t seq;           /* the lot's seq in the engine (confirmed or not) */
    uint32_t snap_seq;      /* seq covered by the newest snapshot written */
    uint32_t next_free;
    char currency[4];
    uint8_t state;
    uint8_t format;
};

/* A lot being read back (one per read in progress). */
struct mk_read {
    kito_market *m;
    uint32_t slot;
    bool in_use;
    bool loaded; /* restored into the engine */
};

struct load_ctx {
    kito_market *m;
    struct kito_lot_config cfg;
    kito_market_load_cb cb;
    void *ud;
    uint32_t slot;
};

enum { RECOVER_IDLE = 0, RECOVER_IDS = 1, RECOVER_LOTS = 2, RECOVER_DONE = 3 };

struct kito_market {
    uv_loop_t *loop;
    kito_engine *eng;
    kito_bookstore *bs;
    struct kito_market_limits lim;
    uint32_t batch_cap; /* pending answers and touched lots per batch */
    struct mk_batch batch[MK_BATCHES];
    uint64_t confirmed_id; /* the last batch Redis confirmed */

    /* the lot table: slots + open-addressing index (slot + 1; 0 = empty) */
    struct mk_lot *lots;
    uint32_t max_lots;
    uint32_t free_head; /* slot + 1; 0 = none */
    uint32_t *index;
    uint32_t index_mask;
    uint32_t n_lots;

    /* rebuilding lots: a queue of slots to read back */
    uint32_t *queue;
    uint32_t q_head, q_n;
    uint32_t reading;
    struct mk_read reads[KITO_BOOKSTORE_READS_MAX];
    int recover_phase;
    bool ids_in_flight;
    kito_market_recover_cb recover_cb;
    void *recover_ud;
    struct kito_market_recovery rec;
    uint64_t recover_start_ns;
    bool ready;
    bool recovered; /* the first recovery finished (its callback was called) */
    bool dirty;     /* a failure happened: rebuild everything at the next connect */
    bool freeing;

    uint8_t *scratch; /* snapshots */
    size_t scratch_cap;
    struct kito_market_stats st;
    struct kito_bookstore_reader reader;
    kito_market_listener_fn listener; /* confirmed commands (the live feed) */
    void *listener_ud;
    kito_market_replay_fn replay_listener; /* replayed commands (the idempotency keys) */
    void *replay_ud;
    kito_market_rebuilt_fn rebuilt_listener; /* rebuilt after a failure (the live feed) */
    void *rebuilt_ud;
    bool unheard; /* a failed batch held journaled commands: Redis may have run it */

    /* While rebuilding: the newest journaled commands with an id read back so far, before and
     * after the snapshots, at most recent_commands: appended until full, then a min-heap by
     * cmd_older (recent_heap), so the oldest goes first; remembered in the window once every lot
     * is read (recent_remember). Allocated for a rebuild and freed after it: recent_commands x
     * 48 bytes (12.6 MB at the default 262,144). */
    struct kito_command *recent;
    uint32_t recent_n;
    bool recent_heap;
};

void kito_market_limits_default(struct kito_market_limits *lim)
{
    memset(lim, 0, sizeof(*lim));
    kito_engine_limits_default(&lim->engine);
    lim->snapshot_every = 1000;
    lim->recover_parallel = 128;
}

/* ---- the lot table -------------------------------------------------------------------------- */

static uint32_t hash_id(uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (uint32_t)id;
}

static struct mk_lot *lot_find(const kito_market *m, uint64_t lot_id)
{
    for (uint32_t i = hash_id(lot_id) & m->index_mask;; i = (i + 1) & m->index_mask) {
        uint32_t v = m->index[i];
        if (v == 0)
            return NULL;
        if (m->lots[v - 1].lot_id == lot_id)
            return &m->lots[v - 1];
    }
}

static uint32_t slot_of(const kito_market *m, const struct mk_lot *l)
{
    return (uint32_t)(l - m->lots);
}

/* Inserts a new lot (not present). NULL when the table is full. */
static struct mk_lot *lot_insert(kito_market *m, uint64_t lot_id)
{
    assert(lot_find(m, lot_id) == NULL);
    if (m->free_head == 0)
        return NULL;
    uint32_t slot = m->free_head - 1;
    struct mk_lot *l = &m->lots[slot];
    m->free_head = l->next_free;
    memset(l, 0, sizeof(*l));
    l->lot_id = lot_id;
    uint32_t i = hash_id(lot_id) & m->index_mask;
    while (m->index[i] != 0)
        i = (i + 1) & m->index_mask;
    m->index[i] = slot + 1;
    m->n_lots++;
    return l;
}

/* Removes a lot from the table (backward-shift delete keeps probing chains whole). */
static void lot_remove(kito_market *m, struct mk_lot *l)
{
    uint32_t slot = slot_of(m, l);
    uint32_t i = hash_id(l->lot_id) & m->index_mask;
    while (m->index[i] != slot + 1)
        i = (i + 1) & m->index_mask;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m->index_mask;
        uint32_t v = m->index[j];
        if (v == 0)
            break;
        uint32_t home = hash_id(m->lots[v - 1].lot_id) & m->index_mask;
        /* can the entry at j move back to i? only if home is not in (i, j] cyclically */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->index[i] = v;
            i = j;
        }
    }
    m->index[i] = 0;
    l->lot_id = 0;
    l->next_free = m->free_head;
    m->free_head = slot + 1;
    m->n_lots--;
}

/* ---- answering ------------------------------------------------------------------------------ */

static void answer(kito_market *m, struct mk_pending *p, kito_err status)
{
    if (status != KITO_OK) {
        p->out.err = status;
        p->out.n_events = 0;
        m->st.unavailable++;
        if (p->kind == PEND_COMMAND)
            m->st.failed++;
    } else if (p->kind == PEND_COMMAND && p->out.err == KITO_OK) {
        m->st.acked++;
    }
    if (status == KITO_OK && p->kind == PEND_COMMAND && p->journaled && m->listener != NULL) {
        struct kito_market_note note = {.lot_id = p->lot_id,
                                        .sale_id = p->sale_id,
                                        .seq = p->out.seq,
                                        .format = p->format,
                                        .events = p->ev,
                                        .n_events = p->out.n_events};
        memcpy(note.currency, p->currency, 4);
        m->listener(m->listener_ud, &note);
    }
    if (p->kind == PEND_LOAD) {
        if (p->load_cb != NULL)
            p->load_cb(p->ud, status);
    } else if (p->cb != NULL) {
        p->cb(p->ud, &p->out, p->ev, p->out.n_events);
    }
}

/* Answers a batch's waiting commands, in order. The array is detached first so that callbacks
 * may submit again (into the collecting batch, which is the other array). */
static void answer_batch(kito_market *m, struct mk_batch *b, kito_err status)
{
    uint32_t n = b->n_pend;
    b->n_pend = 0;
    b->n_touched = 0;
    for (uint32_t i = 0; i < n; i++)
        answer(m, &b->pend[i], status);
}

static void touch(kito_market *m, struct mk_lot *l, uint64_t batch_id)
{
    if (l->touched_batch == batch_id)
        return;
    struct mk_batch *b = &m->batch[batch_id % MK_BATCHES];
    assert(b->n_touched < m->batch_cap);
    b->touched[b->n_touched++] = slot_of(m, l);
    l->touched_batch = batch_id;
}

/* ---- the idempotency window across a rebuild ------------------------------------------------ */

/* The window's order. The engine remembers the latest recent_commands ids in the order it
 * accepted them, engine-wide; a journal gives that order within a lot (seq) but not across lots,
 * so the rebuild chooses the latest by the time each command was stamped with (now_ms, the
 * market's clock), then the lot and the seq: the same choice wherever that clock never steps
 * back. Where it does (a wall clock set back by s seconds), commands within s of each other may
 * be taken in the wrong order, which moves the window's edge by at most those commands; an id
 * accepted twice still answers with its later seq (kito_engine_remember keeps the higher one). */
static bool cmd_older(const struct kito_command *a, const struct kito_command *b)
{
    if (a->now_ms != b->now_ms)
        return a->now_ms < b->now_ms;
    if (a->lot_id != b->lot_id)
        return a->lot_id < b->lot_id;
    return a->seq < b->seq;
}

static void recent_sift_down(struct kito_command *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, least = i;
        if (l < n && cmd_older(&h[l], &h[least]))
            least = l;
        if (r < n && cmd_older(&h[r], &h[least]))
            least = r;
        if (least == i)
            return;
        struct kito_command t = h[i];
        h[i] = h[least];
        h[least] = t;
        i = least;
    }
}

/* A fresh set for a rebuild. KITO_E_NOMEM. */
static kito_err recent_start(kito_market *m)
{
    if (m->recent == NULL) {
        m->recent = malloc((size_t)m->lim.engine.recent_commands * sizeof(*m->recent));
        if (m->recent == NULL)
            return KITO_E_NOMEM;
    }
    m->recent_n = 0;
    m->recent_heap = false;
    return KITO_OK;
}

/* Offers a journaled command read back to the window's rebuild. Returns false if the set is full
 * and c is older than everything in it: then c cannot be among the latest recent_commands, and
 * neither can anything older (the caller reading backwards stops there). Commands without an id
 * (the clock's OPEN/CLOSE) are never in the window: true. Until the set is full a command is
 * appended (O(1)); the first time it is full it becomes a heap (O(recent_commands), once). */
static bool recent_offer(kito_market *m, const struct kito_command *c)
{
    if (c->id == 0)
        return true;
    struct kito_command *h = m->recent;
    uint32_t cap = m->lim.engine.recent_commands;
    assert(h != NULL && m->recent_n <= cap);
    if (m->recent_n < cap) {
        h[m->recent_n++] = *c;
        return true;
    }
    if (!m->recent_heap) {
        for (uint32_t i = cap / 2; i-- > 0;)
            recent_sift_down(h, cap, i);
        m->recent_heap = true;
    }
    if (!cmd_older(&h[0], c))
        return false;
    h[0] = *c;
    recent_sift_down(h, cap, 0);
    return true;
}

/* Every lot is read: the kept commands' ids go into the window, and to the replay listener. In
 * no particular order, and that is exact: they are at most recent_commands ids going into a fresh
 * window, so they all land in its first generation, which the window forgets as a whole once
 * recent_commands newer ids have come after it -- the order within it changes nothing (and
 * sorting a million commands cost 0.35-0.42 s of a 2 s recovery in bench_durable). The listener
 * gets each command's time to order collisions itself (api/live/bidding.c keeps the newer).
 * Commands of lots that did not come back (damaged, gone) are left out: those lots take no
 * commands. Frees the set. */
static void recent_remember(kito_market *m)
{
    struct kito_command *h = m->recent;
    uint32_t n = m->recent_n;
    if (h == NULL)
        return;
    assert(n <= m->lim.engine.recent_commands); /* one generation of the window */
    for (uint32_t k = 0; k < n; k++) {
        const struct kito_command *c = &h[k];
        const struct mk_lot *l = lot_find(m, c->lot_id);
        if (l == NULL || l->state != LOT_READY)
            continue;
        kito_err e = kito_engine_remember(m->eng, c->lot_id, c->id, c->seq);
        assert(e == KITO_OK); /* a decoded record has a lot, an id (checked) and a seq */
        (void)e;
        m->rec.remembered++;
        if (m->replay_listener != NULL)
            m->replay_listener(m->replay_ud, c);
    }
    free(h);
    m->recent = NULL;
    m->recent_n = 0;
}

/* ---- rebuilding lots from Redis ------------------------------------------------------------- */

static void pump(kito_market *m);

static void enqueue(kito_market *m, struct mk_lot *l)
{
    assert(m->q_n < m->max_lots);
    l->state = LOT_RESYNC;
    m->queue[(m->q_head + m->q_n) % m->max_lots] = slot_of(m, l);
    m->q_n++;
}

static kito_err on_head(void *ud, const struct kito_bookstore_lot_head *h)
{
    struct mk_read *r = ud;
    kito_market *m = r->m;
    struct mk_lot *l = &m->lots[r->slot];
    if (!h->found) {
        l->state = LOT_GONE; /* e.g. a lot whose creation batch failed before Redis ran it */
        return KITO_OK;
    }
    kito_err e = kito_engine_lot_restore(m->eng, h->snap, h->snap_len);
    if (e != KITO_OK)
        return e;
    r->loaded = true;
    struct kito_lot_view v;
    e = kito_engine_lot_view(m->eng, l->lot_id, &v);
    assert(e == KITO_OK);
    l->sale_id = h->sale_id;
    l->seller_id = h->seller_id;
    memcpy(l->currency, h->currency, 4);
    l->format = v.format;
    l->seq = h->snap_seq;
    l->snap_seq = h->snap_seq;
    if (h->snap_seq > 0)
        m->rec.from_snapshots++;
    return KITO_OK;
}

static kito_err on_commands(void *ud, const struct kito_command *cmds, size_t n)
{
    struct mk_read *r = ud;
    kito_market *m = r->m;
    struct mk_lot *l = &m->lots[r->slot];
    for (size_t i = 0; i < n; i++) {
        struct kito_outcome out;
        kito_err e = kito_engine_replay(m->eng, &cmds[i], NULL, 0, &out);
        if (e != KITO_OK) {
            kito_log("market", "lot %llu: journal entry %u does not replay (%s)",
                     (unsigned long long)l->lot_id, cmds[i].seq, kito_err_code(e));
            return e;
        }
        l->seq = cmds[i].seq;
        recent_offer(m, &cmds[i]);
    }
    m->rec.commands += n;
    return KITO_OK;
}

/* Entries before the snapshot, newest first: only their ids are wanted (the snapshot holds their
 * effect). Reading stops at the first one too old for the window. */
static kito_err on_history(void *ud, const struct kito_command *cmds, size_t n, bool *more)
{
    struct mk_read *r = ud;
    kito_market *m = r->m;
    m->rec.history += n;
    for (size_t i = 0; i < n && *more; i++)
        *more = recent_offer(m, &cmds[i]);
    return KITO_OK;
}

static void on_read_done(void *ud, kito_err status)
{
    struct mk_read *r = ud;
    kito_market *m = r->m;
    struct mk_lot *l = &m->lots[r->slot];
    r->in_use = false;
    m->reading--;
    if (status == KITO_OK && l->state == LOT_GONE) {
        lot_remove(m, l);
    } else if (status == KITO_OK) {
        l->state = LOT_READY;
        l->touched_batch = 0;
        m->rec.lots++;
        m->st.lots_resynced++;
    } else if (status == KITO_E_UNAVAILABLE) {
        /* the connection went: the whole engine is rebuilt once it is back (on_up) */
        if (r->loaded)
            kito_engine_lot_unload(m->eng, l->lot_id);
        l->state = LOT_RESYNC;
        return;
    } else {
        if (r->loaded)
            kito_engine_lot_unload(m->eng, l->lot_id);
        l->state = LOT_DAMAGED;
        m->rec.damaged++;
        kito_log("market", "lot %llu is damaged in Redis (%s); left out",
                 (unsigned long long)l->lot_id, kito_err_code(status));
    }
    if (!m->freeing)
        pump(m);
}

static void finish_rebuild(kito_market *m)
{
    if (m->recover_phase == RECOVER_LOTS)
        recent_remember(m); /* before the first command can be taken */
    m->ready = true;
    if (m->recover_phase != RECOVER_LOTS)
        return;
    m->recover_phase = RECOVER_DONE;
    m->rec.ms = (double)(uv_hrtime() - m->recover_start_ns) / 1e6;
    if (!m->recovered) {
        m->recovered = true;
        if (m->recover_cb != NULL)
            m->recover_cb(m->recover_ud, KITO_OK, &m->rec);
    } else {
        m->st.lots_resynced += m->rec.lots;
        kito_log("market",
                 "rebuilt from Redis after a failure: %u lots, %llu commands, "
                 "%u command ids remembered (%llu read from before the snapshots), %.1f ms",
                 m->rec.lots, (unsigned long long)m->rec.commands, m->rec.remembered,
                 (unsigned long long)m->rec.history, m->rec.ms);
        if (m->unheard && m->rebuilt_listener != NULL)
            m->rebuilt_listener(m->rebuilt_ud);
        m->unheard = false;
    }
}

/* After a failure, memory must equal Redis, and that includes the engine's window of command
 * ids: an id of a command Redis never stored must not answer a retry with "duplicate". The
 * engine cannot forget single ids, so the market starts over with a fresh engine and reads
 * every open lot back, as at start (snapshot + journal tail). The old engine served the views of
 * the lots the failure did not touch until now. */
static kito_err start_over(kito_market *m)
{
    kito_engine *fresh;
    kito_err e = recent_start(m);
    if (e != KITO_OK)
        return e;
    e = kito_engine_create(&m->lim.engine, NULL, &fresh);
    if (e != KITO_OK)
        return e;
    kito_engine_free(m->eng);
    m->eng = fresh;
    uint32_t index_size = m->index_mask + 1;
    memset(m->index, 0, index_size * sizeof(*m->index));
    memset(m->lots, 0, m->max_lots * sizeof(*m->lots));
    for (uint32_t i = 0; i < m->max_lots; i++)
        m->lots[i].next_free = i + 2 <= m->max_lots ? i + 2 : 0;
    m->free_head = m->max_lots > 0 ? 1 : 0;
    m->n_lots = 0;
    m->q_head = m->q_n = 0;
    m->reading = 0;
    memset(m->reads, 0, sizeof(m->reads));
    memset(&m->rec, 0, sizeof(m->rec));
    m->recover_phase = RECOVER_IDS;
    m->dirty = false;
    m->st.rebuilds++;
    return KITO_OK;
}

static void on_open_ids(void *ud, kito_err status, const uint64_t *ids, size_t n)
{
    kito_market *m = ud;
    m->ids_in_flight = false;
    if (status != KITO_OK) {
        if (status == KITO_E_UNAVAILABLE)
            return; /* asked again once Redis is back (on_up) */
        kito_log("market", "cannot read the open set (%s)", kito_err_code(status));
        if (!m->recovered && m->recover_cb != NULL)
            m->recover_cb(m->recover_ud, status, &m->rec);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (lot_find(m, ids[i]) != NULL)
            continue;
        struct mk_lot *l = lot_insert(m, ids[i]);
        if (l == NULL) {
            kito_log("market", "%zu open lots in Redis, room for %u", n, m->max_lots);
            if (m->recover_cb != NULL)
                m->recover_cb(m->recover_ud, KITO_E_CAPACITY, &m->rec);
            return;
        }
        enqueue(m, l);
    }
    m->recover_phase = RECOVER_LOTS;
    pump(m);
}

/* Moves the rebuild along: asks for the open set first (recovery), then reads lots back, at most
 * recover_parallel at once; when none is left the market is ready. */
static void pump(kito_market *m)
{
    if (!kito_bookstore_is_up(m->bs) || m->recover_phase == RECOVER_IDLE)
        return;
    if (m->recover_phase == RECOVER_IDS) {
        if (!m->ids_in_flight) {
            m->recover_start_ns = uv_hrtime();
            if (kito_bookstore_open_lots(m->bs, on_open_ids, m) == KITO_OK)
                m->ids_in_flight = true;
        }
        return;
    }
    while (m->q_n > 0 && m->reading < m->lim.recover_parallel) {
        uint32_t slot = m->queue[m->q_head];
        struct mk_read *r = NULL;
        for (uint32_t i = 0; i < m->lim.recover_parallel; i++)
            if (!m->reads[i].in_use) {
                r = &m->reads[i];
                break;
            }
        assert(r != NULL);
        r->m = m;
        r->slot = slot;
        r->loaded = false;
        if (kito_bookstore_lot_read(m->bs, m->lots[slot].lot_id, &m->reader, r) != KITO_OK)
            return; /* down (or reads full): on_up / on_read_done pump again */
        r->in_use = true;
        m->lots[slot].state = LOT_READING;
        m->q_head = (m->q_head + 1) % m->max_lots;
        m->q_n--;
        m->reading++;
    }
    if (m->q_n == 0 && m->reading == 0 && !m->ready)
        finish_rebuild(m);
}

/* ---- book store events ---------------------------------------------------------------------- */

static void on_up(void *ud)
{
    kito_market *m = ud;
    if (m->dirty) {
        kito_err e = start_over(m);
        if (e != KITO_OK) {
            kito_log("market", "cannot rebuild (%s); retrying at the next connect",
                     kito_err_code(e));
            return;
        }
    }
    pump(m);
}

/* A batch failed or the connection went: nothing waiting is acknowledged, and every lot a
 * waiting command touched leaves the engine until it is read back from Redis (market.h). */
static void on_down(void *ud)
{
    kito_market *m = ud;
    m->ready = false;
    if (m->recover_phase != RECOVER_IDLE)
        m->dirty = true; /* rebuilt from Redis at the next connect (start_over) */
    for (int k = 0; k < MK_BATCHES; k++) {
        struct mk_batch *b = &m->batch[k];
        for (uint32_t i = 0; i < b->n_touched; i++) {
            struct mk_lot *l = &m->lots[b->touched[i]];
            if (l->state != LOT_READY)
                continue;
            /* its memory holds commands Redis may not have: no view shows them meanwhile */
            kito_engine_lot_unload(m->eng, l->lot_id);
            l->touched_batch = 0;
            l->state = LOT_RESYNC;
        }
        b->n_touched = 0;
    }
    for (int k = 0; k < MK_BATCHES; k++)
        for (uint32_t i = 0; i < m->batch[k].n_pend; i++)
            m->unheard |= m->batch[k].pend[i].journaled;
    /* answers last, so a callback finds the market consistent */
    for (int k = 0; k < MK_BATCHES; k++)
        answer_batch(m, &m->batch[k], KITO_E_UNAVAILABLE);
}

static void on_batch(void *ud, uint64_t batch_id)
{
    kito_market *m = ud;
    m->confirmed_id = batch_id;
    answer_batch(m, &m->batch[batch_id % MK_BATCHES], KITO_OK);
}

static bool ensure_scratch(kito_market *m, size_t n)
{
    if (n <= m->scratch_cap)
        return true;
    size_t cap = m->scratch_cap ? m->scratch_cap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(m->scratch, cap);
    if (p == NULL)
        return false;
    m->scratch = p;
    m->scratch_cap = cap;
    return true;
}

/* Writes the due snapshots of the lots this batch touched, in the same MULTI/EXEC. A snapshot
 * that does not fit waits for a later batch (recovery then replays a little more). */
static void on_seal(void *ud, uint64_t batch_id)
{
    kito_market *m = ud;
    struct mk_batch *b = &m->batch[batch_id % MK_BATCHES];
    for (uint32_t i = 0; i < b->n_touched; i++) {
        struct mk_lot *l = &m->lots[b->touched[i]];
        if (l->state != LOT_READY || l->seq - l->snap_seq < m->lim.snapshot_every)
            continue;
        size_t need = kito_engine_lot_snapshot_size(m->eng, l->lot_id), len;
        if (need == 0 || !ensure_scratch(m, need) ||
            kito_engine_lot_snapshot(m->eng, l->lot_id, m->scratch, m->scratch_cap, &len) !=
                KITO_OK)
            continue;
        if (kito_bookstore_append_snapshot(m->bs, l->lot_id, l->seq, m->scratch, len) == KITO_OK) {
            l->snap_seq = l->seq;
            m->st.snapshots++;
        }
    }
}

/* ---- life ----------------------------------------------------------------------------------- */

kito_err kito_market_create(uv_loop_t *loop, const struct kito_bookstore_params *store,
                            const struct kito_market_limits *lim, kito_market **out)
{
    if (lim->snapshot_every == 0 || lim->recover_parallel == 0 ||
        lim->recover_parallel > KITO_BOOKSTORE_READS_MAX)
        return KITO_E_CONFIG;
    kito_market *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return KITO_E_NOMEM;
    m->loop = loop;
    m->lim = *lim;
    m->max_lots = lim->engine.max_lots;
    m->batch_cap = store->batch_max_commands;
    kito_err e = kito_engine_create(&lim->engine, NULL, &m->eng);
    if (e != KITO_OK) {
        free(m);
        return e;
    }
    uint32_t index_size = 1;
    while (index_size < 2 * (uint64_t)m->max_lots)
        index_size <<= 1;
    m->index_mask = index_size - 1;
    m->index = calloc(index_size, sizeof(*m->index));
    m->lots = calloc(m->max_lots, sizeof(*m->lots));
    m->queue = calloc(m->max_lots, sizeof(*m->queue));
    for (int k = 0; k < MK_BATCHES; k++) {
        m->batch[k].pend = calloc(m->batch_cap, sizeof(struct mk_pending));
        m->batch[k].touched = calloc(m->batch_cap, sizeof(uint32_t));
    }
    bool batches_ok = true;
    for (int k = 0; k < MK_BATCHES; k++)
        batches_ok &= m->batch[k].pend != NULL && m->batch[k].touched != NULL;
    if (m->index == NULL || m->lots == NULL || m->queue == NULL || !batches_ok) {
        e = KITO_E_NOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < m->max_lots; i++)
        m->lots[i].next_free = i + 2 <= m->max_lots ? i + 2 : 0;
    m->free_head = m->max_lots > 0 ? 1 : 0;
    m->reader = (struct kito_bookstore_reader){.on_head = on_head,
                                               .on_commands = on_commands,
                                               .on_history = on_history,
                                               .on_done = on_read_done,
                                               .history_max = lim->engine.recent_commands};
    struct kito_bookstore_ops ops = {on_up, on_down, on_batch, on_seal};
    if ((e = kito_bookstore_create(loop, store, &ops, m, &m->bs)) != KITO_OK)
        goto fail;
    *out = m;
    return KITO_OK;
fail:
    kito_engine_free(m->eng);
    free(m->index);
    free(m->lots);
    free(m->queue);
    for (int k = 0; k < MK_BATCHES; k++) {
        free(m->batch[k].pend);
        free(m->batch[k].touched);
    }
    free(m);
    return e;
}

void kito_market_free(kito_market *m)
{
    if (m == NULL)
        return;
    m->freeing = true;
    m->ready = false;
    kito_bookstore_close(m->bs); /* calls nothing back */
    for (int k = 0; k < MK_BATCHES; k++)
        answer_batch(m, &m->batch[k], KITO_E_UNAVAILABLE);
    kito_engine_free(m->eng);
    free(m->index);
    free(m->lots);
    free(m->queue);
    for (int k = 0; k < MK_BATCHES; k++) {
        free(m->batch[k].pend);
        free(m->batch[k].touched);
    }
    free(m->scratch);
    free(m->recent);
    free(m);
}

kito_err kito_market_recover(kito_market *m, kito_market_recover_cb cb, void *ud)
{
    if (m->recover_phase != RECOVER_IDLE)
        return KITO_E_BAD_STATE;
    kito_err e = recent_start(m);
    if (e != KITO_OK)
        return e;
    m->recover_cb = cb;
    m->recover_ud = ud;
    m->recover_phase = RECOVER_IDS;
    pump(m);
    return KITO_OK;
}

bool kito_market_ready(const kito_market *m)
{
    return m->ready && kito_bookstore_is_up(m->bs);
}

/* ---- commands ------------------------------------------------------------------------------- */

/* The lot's result if the events say it just became final. */
static bool final_result(const kito_market *m, const struct mk_lot *l,
                         const struct kito_command *cmd, const struct kito_event *ev, size_t n,
                         struct kito_lot_result *r)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t t = ev[i].type;
        if (t != KITO_EV_SOLD && t != KITO_EV_UNSOLD && t != KITO_EV_WITHDRAWN)
            continue;
        memset(r, 0, sizeof(*r));
        r->lot_id = l->lot_id;
        r->sale_id = l->sale_id;
        r->seller_id = l->seller_id;
        memcpy(r->currency, l->currency, 4);
        r->format = l->format;
        r->seq = cmd->seq;
        r->closed_at_ms = cmd->now_ms;
        if (t == KITO_EV_SOLD) {
            r->state = KITO_LOT_SOLD;
            r->winner = ev[i].who;
            r->hammer_minor = ev[i].amount_minor;
        } else if (t == KITO_EV_UNSOLD) {
            r->state = KITO_LOT_UNSOLD;
            r->unsold_reason = ev[i].reason;
        } else {
            r->state = KITO_LOT_WITHDRAWN;
        }
        struct kito_lot_view v;
        if (kito_engine_lot_view(m->eng, l->lot_id, &v) == KITO_OK)
            r->ends_at_ms = v.ends_at_ms;
        return true;
    }
    return false;
}

/* Journals an applied command (and the lot's result if it ended the lot) into the collecting
 * batch. Room was checked before the command was applied, so this cannot fail. */
static void journal(kito_market *m, struct mk_lot *l, const struct kito_command *cmd,
                    const struct kito_event *ev, size_t n_ev, uint64_t batch_id)
{
    kito_err e = kito_bookstore_append_command(m->bs, cmd);
    assert(e == KITO_OK);
    l->seq = cmd->seq;
    touch(m, l, batch_id);
    struct kito_lot_result r;
    if (final_result(m, l, cmd, ev, n_ev, &r)) {
        e = kito_bookstore_append_result(m->bs, &r);
        assert(e == KITO_OK);
        m->st.results++;
    }
    (void)e;
}

/* Marks a pending answer as a journaled command of lot l, for the listener. */
static void note_journaled(struct mk_pending *p, const struct mk_lot *l)
{
    p->journaled = true;
    p->format = l->format;
    memcpy(p->currency, l->currency, 4);
    p->lot_id = l->lot_id;
    p->sale_id = l->sale_id;
}

void kito_market_set_listener(kito_market *m, kito_market_listener_fn fn, void *ud)
{
    m->listener = fn;
    m->listener_ud = ud;
}

void kito_market_set_rebuilt_listener(kito_market *m, kito_market_rebuilt_fn fn, void *ud)
{
    m->rebuilt_listener = fn;
    m->rebuilt_ud = ud;
}

void kito_market_set_replay_listener(kito_market *m, kito_market_replay_fn fn, void *ud)
{
    m->replay_listener = fn;
    m->replay_ud = ud;
}

/* Room for one command's records and one answer in the collecting batch: returns the batch id
 * or 0 (KITO_E_CAPACITY). */
static uint64_t reserve(kito_market *m)
{
    if (kito_bookstore_room(m->bs, 3,
                            KITO_BOOKSTORE_COMMAND_BYTES_MAX + KITO_BOOKSTORE_RESULT_BYTES_MAX) !=
        KITO_OK)
        return 0;
    uint64_t id = kito_bookstore_batch_id(m->bs);
    const struct mk_batch *b = &m->batch[id % MK_BATCHES];
    if (b->n_pend >= m->batch_cap || b->n_touched >= m->batch_cap)
        return 0;
    return id;
}

kito_err kito_market_submit(kito_market *m, const struct kito_command *cmd,
                            kito_market_submit_cb cb, void *ud, struct kito_outcome *now)
{
    struct kito_outcome local;
    if (now == NULL)
        now = &local;
    memset(now, 0, sizeof(*now));
    m->st.submitted++;
    if (!kito_market_ready(m)) {
        m->st.unavailable++;
        return now->err = KITO_E_UNAVAILABLE;
    }
    struct mk_lot *l = lot_find(m, cmd->lot_id);
    if (l == NULL || l->state == LOT_CHECKING) {
        m->st.refused++;
        return now->err = KITO_E_UNKNOWN_LOT;
    }
    if (l->state != LOT_READY) {
        m->st.unavailable++;
        return now->err = KITO_E_UNAVAILABLE;
    }
    if (cmd->seq != 0) {
        m->st.refused++;
        return now->err = KITO_E_BAD_COMMAND;
    }
    uint64_t id = reserve(m);
    if (id == 0) {
        m->st.capacity++;
        return now->err = KITO_E_CAPACITY;
    }
    struct mk_batch *b = &m->batch[id % MK_BATCHES];
    struct mk_pending *p = &b->pend[b->n_pend];
    kito_err e = kito_engine_apply(m->eng, cmd, p->ev, KITO_MAX_EVENTS_PER_COMMAND, &p->out);
    if (e == KITO_E_DUPLICATE && l->touched_batch > m->confirmed_id) {
        /* the first arrival is not durable yet: answer with it, not before */
        struct mk_batch *wb = &m->batch[l->touched_batch % MK_BATCHES];
        if (wb->n_pend >= m->batch_cap) {
            m->st.capacity++;
            return now->err = KITO_E_CAPACITY;
        }
        struct mk_pending *w = &wb->pend[wb->n_pend++];
        *w = (struct mk_pending){.kind = PEND_COMMAND, .cb = cb, .ud = ud, .out = p->out};
        return KITO_OK;
    }
    if (e != KITO_OK) {
        *now = p->out;
        m->st.refused++;
        return e;
    }
    struct kito_command c = *cmd;
    c.seq = p->out.seq;
    journal(m, l, &c, p->ev, p->out.n_events, id);
    p->kind = PEND_COMMAND;
    p->cb = cb;
    p->load_cb = NULL;
    p->ud = ud;
    note_journaled(p, l);
    b->n_pend++;
    m->st.accepted++;
    *now = p->out;
    return KITO_OK;
}

kito_err kito_market_tick(kito_market *m, int64_t now_ms, kito_market_submit_cb cb, void *ud,
                          size_t *n_applied)
{
    size_t n = 0;
    if (n_applied != NULL)
        *n_applied = 0;
    if (!kito_market_ready(m))
        return KITO_E_UNAVAILABLE;
    while (kito_engine_next_deadline(m->eng) <= now_ms) {
        uint64_t id = reserve(m);
        if (id == 0) {
            m->st.capacity++;
            break;
        }
        struct mk_batch *b = &m->batch[id % MK_BATCHES];
        struct mk_pending *p = &b->pend[b->n_pend];
        struct kito_command c;
        size_t k = 0, n_ev = 0;
        kito_engine_tick(m->eng, now_ms, &c, 1, &k, p->ev, KITO_MAX_EVENTS_PER_COMMAND, &n_ev);
        if (k == 0)
            break; /* the deadline was an early key: nothing due after all */
        struct mk_lot *l = lot_find(m, c.lot_id);
        assert(l != NULL && l->state == LOT_READY);
        journal(m, l, &c, p->ev, n_ev, id);
        p->kind = PEND_COMMAND; /* p->ev holds the events the tick wrote */
        p->cb = cb;
        p->load_cb = NULL;
        p->ud = ud;
        p->out = (struct kito_outcome){.err = KITO_OK, .seq = c.seq, .n_events = (uint32_t)n_ev};
        note_journaled(p, l);
        b->n_pend++;
        m->st.accepted++;
        n++;
    }
    if (n_applied != NULL)
        *n_applied = n;
    return KITO_OK;
}

int64_t kito_market_next_deadline(const kito_market *m)
{
    return kito_engine_next_deadline(m->eng);
}

/* ---- loading a lot -------------------------------------------------------------------------- */

/* Ends a lot_load that failed before reaching a batch. */
static void load_done(struct load_ctx *c, kito_err status, bool keep_lot)
{
    kito_market *m = c->m;
    if (!keep_lot)
        lot_remove(m, &m->lots[c->slot]);
    if (status == KITO_E_UNAVAILABLE)
        m->st.unavailable++;
    kito_market_load_cb cb = c->cb;
    void *ud = c->ud;
    free(c);
    if (cb != NULL)
        cb(ud, status);
}

static void on_exists(void *ud, kito_err status, bool exists)
{
    struct load_ctx *c = ud;
    kito_market *m = c->m;
    if (m->freeing) {
        free(c);
        return;
    }
    if (status != KITO_OK)
        return load_done(c, status, false);
    if (exists)
        return load_done(c, KITO_E_LOT_EXISTS, false);
    if (!kito_market_ready(m))
        return load_done(c, KITO_E_UNAVAILABLE, false);
    kito_err e = kito_engine_lot_load(m->eng, &c->cfg);
    if (e != KITO_OK)
        return load_done(c, e, false);
    size_t need = kito_engine_lot_snapshot_size(m->eng, c->cfg.lot_id), len = 0;
    if (!ensure_scratch(m, need)) {
        kito_engine_lot_unload(m->eng, c->cfg.lot_id);
        return load_done(c, KITO_E_NOMEM, false);
    }
    if (kito_bookstore_room(m->bs, 3, KITO_BOOKSTORE_LOT_BYTES_MAX + need) != KITO_OK) {
        kito_engine_lot_unload(m->eng, c->cfg.lot_id);
        m->st.capacity++;
        return load_done(c, KITO_E_CAPACITY, false);
    }
    uint64_t id = kito_bookstore_batch_id(m->bs);
    struct mk_batch *b = &m->batch[id % MK_BATCHES];
    if (b->n_pend >= m->batch_cap || b->n_touched >= m->batch_cap) {
        kito_engine_lot_unload(m->eng, c->cfg.lot_id);
        m->st.capacity++;
        return load_done(c, KITO_E_CAPACITY, false);
    }
    e = kito_engine_lot_snapshot(m->eng, c->cfg.lot_id, m->scratch, m->scratch_cap, &len);
    assert(e == KITO_OK);
    e = kito_bookstore_append_lot(m->bs, &c->cfg, m->scratch, len);
    assert(e == KITO_OK);
    (void)e;
    struct mk_lot *l = &m->lots[c->slot];
    l->state = LOT_READY;
    l->sale_id = c->cfg.sale_id;
    l->seller_id = c->cfg.seller_id;
    memcpy(l->currency, c->cfg.currency, 4);
    l->format = c->cfg.format;
    l->seq = 0;
    l->snap_seq = 0;
    touch(m, l, id);
    b->pend[b->n_pend++] = (struct mk_pending){.kind = PEND_LOAD, .load_cb = c->cb, .ud = c->ud};
    free(c);
}

kito_err kito_market_lot_load(kito_market *m, const struct kito_lot_config *cfg,
                              kito_market_load_cb cb, void *ud)
{
    if (!kito_market_ready(m))
        return KITO_E_UNAVAILABLE;
    if (lot_find(m, cfg->lot_id) != NULL)
        return KITO_E_LOT_EXISTS;
    /* the engine validates the config; the lot leaves again until Redis says the id is free,
     * so the tick never touches a lot Redis does not have */
    kito_err e = kito_engine_lot_load(m->eng, cfg);
    if (e != KITO_OK)
        return e;
    kito_engine_lot_unload(m->eng, cfg->lot_id);
    struct load_ctx *c = malloc(sizeof(*c));
    if (c == NULL)
        return KITO_E_NOMEM;
    struct mk_lot *l = lot_insert(m, cfg->lot_id);
    if (l == NULL) {
        free(c);
        return KITO_E_CAPACITY;
    }
    l->state = LOT_CHECKING;
    *c = (struct load_ctx){.m = m, .cfg = *cfg, .cb = cb, .ud = ud, .slot = slot_of(m, l)};
    if ((e = kito_bookstore_lot_exists(m->bs, cfg->lot_id, on_exists, c)) != KITO_OK) {
        lot_remove(m, l);
        free(c);
        return e;
    }
    return KITO_OK;
}

/* ---- views ---------------------------------------------------------------------------------- */

kito_err kito_market_lot_view(const kito_market *m, uint64_t lot_id, struct kito_lot_view *out)
{
    const struct mk_lot *l = lot_find(m, lot_id);
    if (l == NULL || l->state == LOT_CHECKING)
        return KITO_E_UNKNOWN_LOT;
    if (l->state != LOT_READY)
        return KITO_E_UNAVAILABLE;
    return kito_engine_lot_view(m->eng, lot_id, out);
}

kito_err kito_market_lot_view_mine(const kito_market *m, uint64_t lot_id, uint64_t bidder,
                                   struct kito_lot_view *view, struct kito_my_bid *mine)
{
    const struct mk_lot *l = lot_find(m, lot_id);
    if (l == NULL || l->state == LOT_CHECKING)
        return KITO_E_UNKNOWN_LOT;
    if (l->state != LOT_READY)
        return KITO_E_UNAVAILABLE;
    return kito_engine_lot_view_mine(m->eng, lot_id, bidder, view, mine);
}

const kito_engine *kito_market_engine(const kito_market *m)
{
    return m->eng;
}

void kito_market_lot_ids(const kito_market *m, uint64_t *out, size_t cap, size_t *n)
{
    size_t k = 0;
    for (uint32_t i = 0; i < m->max_lots; i++) {
        const struct mk_lot *l = &m->lots[i];
        if (l->lot_id == 0 || l->state != LOT_READY)
            continue;
        if (k < cap)
            out[k] = l->lot_id;
        k++;
    }
    *n = k;
}

void kito_market_stats(const kito_market *m, struct kito_market_stats *out)
{
    *out = m->st;
    kito_bookstore_stats(m->bs, &out->store);
}
