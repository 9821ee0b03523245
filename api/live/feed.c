#include "api/live/feed.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/live/bidding.h"
#include "api/common/crypto.h"
#include "api/common/validate.h"
#include "engine/engine.h"

/* A rendered frame, shared by the ring and the writes in flight; also a write's whole buffer
 * (a batch: frames copied together, maybe framed as one HTTP/1.1 chunk), shared by every
 * subscriber that writes the same frames the same way. */
struct frame {
    uint32_t refs;
    uint32_t len;
    char text[];
};

/* One sale's ring and subscribers. */
struct sale {
    uint64_t sale_id; /* 0: free */
    uint64_t base;    /* external id = base + frame number */
    uint64_t head;    /* number of the newest frame (0: none yet) */
    uint64_t first;   /* number of the oldest frame kept (head + 1 when none) */
    struct frame **ring;
    h2o_linklist_t subs; /* kito_feed_sub.sale_link */
    uint32_t n_subs;
    uint32_t n_viewers; /* subscribers with a viewer (kito_feed_set_viewer) */
    uint64_t used_ms;
    bool is_public;
    bool dirty; /* frames added since subscribers were last written to (f->dirty) */
    /* The last batch built for each framing (0 plain, 1 chunked) and the frames it holds: the
     * subscribers at the same cursor share it, so a frame is copied once per turn, not once per
     * subscriber. */
    struct frame *batch[2];
    uint64_t batch_from[2], batch_to[2];
};

struct kito_feed_sub {
    h2o_linklist_t sale_link; /* in sale->subs while live */
    h2o_linklist_t all_link;  /* in f->all until freed */
    kito_feed *f;
    struct sale *sale; /* NULL once dropping */
    const struct kito_feed_sink *sink;
    void *ctx;
    uint64_t next;          /* number of the next frame to write */
    uint64_t write_ms;      /* when the current write started, or the last one finished */
    struct frame *pre;      /* the preamble, written first */
    struct frame *inflight; /* the buffer of the write in flight */
    uint64_t viewer;        /* the signed-in buyer watching (0: anonymous) */
    struct frame *mine;     /* her private frames not yet written (KITO_FEED_MINE_MAX bytes) */
    h2o_iovec_t iov;
    uint8_t framing; /* 1: the sink wants HTTP/1.1 chunks (kito_feed_sink.chunked) */
    bool started;
    bool writing;
    bool dropping;
    h2o_iovec_t end_text;
};

struct kito_feed {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_check_t check; /* writes the dirty sales' subscribers after the poll phase */
    int handles_open; /* timer and check, until closed */
    uint32_t *dirty;  /* indexes of sales with new frames (2 x max_sales) */
    uint32_t n_dirty;
    bool check_on;
    struct kito_feed_limits lim;
    kito_hmac *hmac;           /* keyed with the bidder-token key (kito_feed_bidder_token) */
    struct token_slot *tokens; /* recent bidder tokens, 2 x FEED_TOKEN_SETS (bidder_token) */
    struct sale *sales;
    struct sale *last_hit;
    uint32_t n_sales;
    h2o_linklist_t all; /* every subscriber */
    uint32_t n_subs;
    uint64_t clock_ms; /* without a loop: the last time given */
    bool closing;
    bool freeing;
    struct kito_feed_stats st;
};

/* The fixed texts, plain and as HTTP/1.1 chunks (the end texts with the last, empty chunk). The
 * chunk sizes are checked at compile time. */
#define HEARTBEAT_TEXT ":\n\n"
#define DROPPED_TEXT                                                                               \
    "event: dropped\ndata: {\"reason\":\"slow\",\"message\":\"too far behind; reconnect with "     \
    "Last-Event-ID\"}\n\n"
#define SHUTDOWN_TEXT                                                                              \
    "event: shutdown\ndata: {\"reason\":\"shutdown\",\"message\":\"the server is restarting; "     \
    "reconnect with Last-Event-ID\"}\n\n"
#define CHUNK_END "\r\n0\r\n\r\n"
_Static_assert(sizeof(HEARTBEAT_TEXT) - 1 == 0x3, "heartbeat chunk size");
_Static_assert(sizeof(DROPPED_TEXT) - 1 == 0x61, "dropped chunk size");
_Static_assert(sizeof(SHUTDOWN_TEXT) - 1 == 0x70, "shutdown chunk size");
static const h2o_iovec_t dropped_text[2] = {
    {DROPPED_TEXT, sizeof(DROPPED_TEXT) - 1},
    {"61\r\n" DROPPED_TEXT CHUNK_END, sizeof("61\r\n" DROPPED_TEXT CHUNK_END) - 1}};
static const h2o_iovec_t shutdown_text[2] = {
    {SHUTDOWN_TEXT, sizeof(SHUTDOWN_TEXT) - 1},
    {"70\r\n" SHUTDOWN_TEXT CHUNK_END, sizeof("70\r\n" SHUTDOWN_TEXT CHUNK_END) - 1}};
static struct {
    struct frame f;
    char text[sizeof("3\r\n" HEARTBEAT_TEXT "\r\n")];
} heartbeat_frame[2] = {
    {{UINT32_MAX, sizeof(HEARTBEAT_TEXT) - 1}, HEARTBEAT_TEXT},
    {{UINT32_MAX, sizeof("3\r\n" HEARTBEAT_TEXT "\r\n") - 1}, "3\r\n" HEARTBEAT_TEXT "\r\n"}};

void kito_feed_limits_default(struct kito_feed_limits *lim)
{
    lim->ring_events = 4096;
    lim->backlog_events = 4096;
    lim->max_subscribers = 20000;
    lim->max_sales = 64;
    lim->write_frames = 32;
    lim->heartbeat_ms = 15000;
    lim->stall_ms = 60000;
}

static uint64_t now_ms(const kito_feed *f)
{
    return f->loop != NULL ? uv_now(f->loop) : f->clock_ms;
}

/* ---- frames --------------------------------------------------------------------------------- */

static struct frame *frame_new(const char *text, size_t len)
{
    struct frame *fr = malloc(sizeof(*fr) + len);
    if (fr == NULL)
        return NULL;
    fr->refs = 1;
    fr->len = (uint32_t)len;
    if (text != NULL) /* NULL: the caller fills it */
        memcpy(fr->text, text, len);
    return fr;
}

static void frame_unref(struct frame *fr)
{
    if (fr == NULL || fr->refs == UINT32_MAX) /* static */
        return;
    if (--fr->refs == 0)
        free(fr);
}

static void frame_ref(struct frame *fr)
{
    if (fr->refs != UINT32_MAX)
        fr->refs++;
}

/* ---- sales ---------------------------------------------------------------------------------- */

static struct sale *sale_find(kito_feed *f, uint64_t sale_id)
{
    if (f->last_hit != NULL && f->last_hit->sale_id == sale_id)
        return f->last_hit;
    for (uint32_t i = 0; i < f->lim.max_sales; i++)
        if (f->sales[i].sale_id == sale_id)
            return f->last_hit = &f->sales[i];
    return NULL;
}

static void sale_forget_batches(struct sale *sa)
{
    for (int c = 0; c < 2; c++) {
        frame_unref(sa->batch[c]);
        sa->batch[c] = NULL;
    }
}

static void sale_clear(kito_feed *f, struct sale *sa)
{
    assert(sa->n_subs == 0);
    if (sa->ring != NULL)
        for (uint32_t i = 0; i < f->lim.ring_events; i++) {
            frame_unref(sa->ring[i]);
            sa->ring[i] = NULL;
        }
    sale_forget_batches(sa);
    sa->sale_id = 0;
    sa->is_public = false;
    sa->dirty = false;
    if (f->last_hit == sa)
        f->last_hit = NULL;
    f->n_sales--;
}

/* The sale's ring, made if needed: a free slot, else the one idle longest without subscribers.
 * NULL when every ring has subscribers (or no memory). */
static struct sale *sale_get(kito_feed *f, uint64_t sale_id, uint64_t now)
{
    struct sale *sa = sale_find(f, sale_id);
    if (sa != NULL) {
        sa->used_ms = now;
        return sa;
    }
    struct sale *victim = NULL;
    for (uint32_t i = 0; i < f->lim.max_sales; i++) {
        struct sale *c = &f->sales[i];
        if (c->sale_id == 0) {
            victim = c;
            break;
        }
        if (c->n_subs == 0 && (victim == NULL || c->used_ms < victim->used_ms))
            victim = c;
    }
    if (victim == NULL)
        return NULL;
    if (victim->ring == NULL) {
        victim->ring = calloc(f->lim.ring_events, sizeof(*victim->ring));
        if (victim->ring == NULL)
            return NULL;
    }
    if (victim->sale_id != 0)
        sale_clear(f, victim);
    victim->sale_id = sale_id;
    /* ids keep growing across rings and restarts: the wall clock in ms x 1000 (below 2^53
     * until the year 2255) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t wall = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    victim->base = wall * 1000;
    victim->head = 0;
    victim->first = 1;
    victim->n_subs = 0;
    victim->used_ms = now;
    victim->is_public = false;
    h2o_linklist_init_anchor(&victim->subs);
    f->n_sales++;
    f->last_hit = victim;
    return victim;
}

/* ---- subscribers ---------------------------------------------------------------------------- */

static void feed_release(kito_feed *f);

static void release_inflight(kito_feed_sub *s)
{
    frame_unref(s->inflight);
    s->inflight = NULL;
}

static void unlink_sale(kito_feed_sub *s)
{
    if (s->sale == NULL)
        return;
    h2o_linklist_unlink(&s->sale_link);
    s->sale->n_subs--;
    if (s->viewer != 0)
        s->sale->n_viewers--;
    s->sale = NULL;
}

static void sub_free(kito_feed_sub *s)
{
    kito_feed *f = s->f;
    unlink_sale(s);
    release_inflight(s);
    frame_unref(s->pre);
    frame_unref(s->mine);
    h2o_linklist_unlink(&s->all_link);
    f->n_subs--;
    free(s);
    if (f->freeing && f->n_subs == 0)
        feed_release(f);
}

/* Ends the stream now (no write in flight) and frees the subscriber. */
static void sub_end(kito_feed_sub *s)
{
    const struct kito_feed_sink *sink = s->sink;
    void *ctx = s->ctx;
    h2o_iovec_t text = s->end_text;
    sub_free(s); /* may free the feed too (kito_feed_free): touch neither after this */
    sink->end(ctx, text);
}

/* Leaves the sale at once; the stream ends with texts[framing] once no write is in flight. */
static void sub_drop(kito_feed_sub *s, const h2o_iovec_t texts[2])
{
    unlink_sale(s);
    s->dropping = true;
    s->end_text = texts[s->framing];
    if (!s->writing)
        sub_end(s);
}

/* A write's buffer: pre (may be NULL), then frames from..to of sa's ring (none if from > to),
 * then post (a viewer's private frames; may be NULL), copied together and, if chunked, framed
 * as one HTTP/1.1 chunk, so that the write is one buffer: one TLS record, one copy into the
 * socket. NULL without memory. */
static struct frame *batch_new(const kito_feed *f, const struct sale *sa, const struct frame *pre,
                               uint64_t from, uint64_t to, bool chunked, const struct frame *post)
{
    size_t len = (pre != NULL ? pre->len : 0) + (post != NULL ? post->len : 0);
    for (uint64_t k = from; k <= to; k++)
        len += sa->ring[k % f->lim.ring_events]->len;
    assert(len > 0); /* an empty chunk would end the stream */
    char head[24];
    int head_len = chunked ? snprintf(head, sizeof(head), "%zx\r\n", len) : 0;
    size_t total = len + (size_t)head_len + (chunked ? 2 : 0);
    struct frame *b = malloc(sizeof(*b) + total);
    if (b == NULL)
        return NULL;
    b->refs = 1;
    b->len = (uint32_t)total;
    char *p = b->text;
    memcpy(p, head, (size_t)head_len);
    p += head_len;
    if (pre != NULL) {
        memcpy(p, pre->text, pre->len);
        p += pre->len;
    }
    for (uint64_t k = from; k <= to; k++) {
        const struct frame *fr = sa->ring[k % f->lim.ring_events];
        memcpy(p, fr->text, fr->len);
        p += fr->len;
    }
    if (post != NULL) {
        memcpy(p, post->text, post->len);
        p += post->len;
    }
    if (chunked) {
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    assert((size_t)(p - b->text) == total);
    return b;
}

/* Starts a write of what is waiting, if none is in flight: the preamble (once) and up to
 * write_frames frames, in one buffer. Subscribers at the same cursor share the sale's last batch
 * (a fan-out copies each frame once, not once per subscriber). Without memory for a batch the
 * subscriber is dropped: it reconnects with its Last-Event-ID. */
static void pump(kito_feed_sub *s)
{
    if (!s->started || s->writing || s->dropping)
        return;
    kito_feed *f = s->f;
    struct sale *sa = s->sale;
    uint64_t from = s->next, to = sa->head;
    if (to - from + 1 > f->lim.write_frames && from <= to)
        to = from + f->lim.write_frames - 1;
    uint64_t n = from <= to ? to - from + 1 : 0;
    if (n == 0 && s->pre == NULL && s->mine == NULL)
        return;
    assert(n == 0 || from >= sa->first);
    int c = s->framing;
    struct frame *b;
    const bool own = s->pre != NULL || s->mine != NULL; /* a preamble, private frames */
    if (!own && sa->batch[c] != NULL && sa->batch_from[c] == from && sa->batch_to[c] == to) {
        b = sa->batch[c];
        frame_ref(b);
    } else {
        b = batch_new(f, sa, s->pre, from, to, c != 0, s->mine);
        if (b == NULL) {
            sub_drop(s, dropped_text);
            return;
        }
        if (!own) { /* a preamble or private frames are the subscriber's own: not shared */
            frame_unref(sa->batch[c]);
            sa->batch[c] = b;
            sa->batch_from[c] = from;
            sa->batch_to[c] = to;
            frame_ref(b);
        }
    }
    frame_unref(s->pre);
    s->pre = NULL;
    frame_unref(s->mine);
    s->mine = NULL;
    s->next = to + 1;
    s->inflight = b;
    s->iov = h2o_iovec_init(b->text, b->len);
    s->writing = true;
    s->write_ms = now_ms(f);
    f->st.frames_written += n;
    s->sink->write(s->ctx, &s->iov, 1);
}

/* Drops s if it is too far behind, else writes. */
static void sub_feed(kito_feed_sub *s)
{
    struct sale *sa = s->sale;
    kito_feed *f = s->f;
    if (s->next < sa->first || sa->head + 1 - s->next > f->lim.backlog_events) {
        f->st.dropped_slow++;
        sub_drop(s, dropped_text);
        return;
    }
    pump(s);
}

/* ---- rendering ------------------------------------------------------------------------------ */

/* Recent bidder tokens: a lot's leader is named again in every book event until someone
 * outbids her (a bid below her maximum, a floor bid, a tick), and one HMAC through OpenSSL's
 * provider layer cost as much as rendering the rest of the frame. A set per lot id modulo
 * FEED_TOKEN_SETS (a sale's lots have consecutive ids: up to that many never share a set), two
 * bidders a set (the two in a bidding war), the older one replaced. A miss only recomputes.
 * 8,192 slots of 32 bytes. */
#define FEED_TOKEN_SETS 4096

struct token_slot {
    uint64_t lot_id, who; /* who 0 = empty (never asked: 0 renders null) */
    char token[KITO_FEED_TOKEN_SIZE];
    bool newer; /* the set's way used last */
};

void kito_feed_bidder_token(const kito_feed *f, uint64_t lot_id, uint64_t who,
                            char out[KITO_FEED_TOKEN_SIZE])
{
    uint8_t msg[16], mac[KITO_SHA256_LEN];
    for (int i = 0; i < 8; i++) {
        msg[i] = (uint8_t)(lot_id >> (56 - 8 * i));
        msg[8 + i] = (uint8_t)(who >> (56 - 8 * i));
    }
    if (kito_hmac_sha256(f->hmac, msg, sizeof(msg), mac) != KITO_OK)
        memset(mac, 0, sizeof(mac)); /* cannot happen short of OpenSSL failing: no id leaks */
    static const char hex[] = "0123456789abcdef";
    out[0] = 'b';
    for (int i = 0; i < 6; i++) {
        out[1 + 2 * i] = hex[mac[i] >> 4];
        out[2 + 2 * i] = hex[mac[i] & 15];
    }
    out[13] = '\0';
}

/* kito_feed_bidder_token through the cache; borrowed until the next call. */
static const char *bidder_token(kito_feed *f, uint64_t lot_id, uint64_t who)
{
    struct token_slot *set = &f->tokens[2 * ((lot_id ^ (lot_id >> 32)) % FEED_TOKEN_SETS)];
    struct token_slot *t = &set[0];
    if (set[0].who != who || set[0].lot_id != lot_id) {
        t = &set[1];
        if (set[1].who != who || set[1].lot_id != lot_id) {
            t = set[0].newer ? &set[1] : &set[0]; /* the older */
            kito_feed_bidder_token(f, lot_id, who, t->token);
            t->lot_id = lot_id;
            t->who = who;
        }
    }
    set[0].newer = t == &set[0];
    set[1].newer = t == &set[1];
    return t->token;
}

static const char *format_name(uint8_t fmt)
{
    switch (fmt) {
    case KITO_FORMAT_TIMED:
        return "timed";
    case KITO_FORMAT_TENDER:
        return "tender";
    case KITO_FORMAT_LIVE:
        return "live";
    default:
        return "unknown";
    }
}

static const char *unsold_name(uint8_t r)
{
    switch (r) {
    case KITO_UNSOLD_NO_BIDS:
        return "no_bids";
    case KITO_UNSOLD_RESERVE_NOT_MET:
        return "reserve_not_met";
    case KITO_UNSOLD_PASSED:
        return "passed";
    default:
        return "unknown";
    }
}

/* Whether an event may go on the public feed (feed.h, "Source"). */
static bool is_public(const struct kito_market_note *n, const struct kito_event *ev)
{
    if (ev->audience != KITO_AUDIENCE_PUBLIC || ev->type == 0 || ev->type > KITO_EV_TYPE_MAX ||
        ev->type == KITO_EV_BID_ACCEPTED || ev->type == KITO_EV_OUTBID)
        return false;
    if (n->format == KITO_FORMAT_TENDER)
        switch (ev->type) {
        case KITO_EV_OPENED:
        case KITO_EV_PAUSED:
        case KITO_EV_RESUMED:
        case KITO_EV_SOLD:
        case KITO_EV_UNSOLD:
        case KITO_EV_WITHDRAWN:
            return true;
        default:
            return false;
        }
    return true;
}

/* The frame's JSON is written with api/common/render.h's writer (no printf: this runs for every
 * public event of every bid, watched or not). Money and times that are absent (0) are null. */
static void put_key(kito_jw *w, const char *name)
{
    kito_jw_raw(w, ",\"", 2);
    kito_jw_lit(w, name);
    kito_jw_raw(w, "\":", 2);
}

static void put_money(kito_jw *w, const char *name, int64_t amount, const char *currency)
{
    put_key(w, name);
    if (amount <= 0)
        kito_jw_raw(w, "null", 4);
    else
        kito_jw_money(w, amount, currency);
}

static void put_time(kito_jw *w, const char *name, int64_t ms)
{
    char t[KITO_TIME_SIZE];
    put_key(w, name);
    if (ms > 0 && kito_time_format(ms, t) == KITO_OK)
        kito_jw_string(w, t);
    else
        kito_jw_raw(w, "null", 4);
}

static void put_bidder(kito_feed *f, kito_jw *w, const char *name, uint64_t lot_id, uint64_t who)
{
    put_key(w, name);
    if (who == 0) {
        kito_jw_raw(w, "null", 4);
        return;
    }
    kito_jw_string(w, bidder_token(f, lot_id, who));
    kito_jw_lit(w, (who & KITO_PADDLE_FLAG) != 0 ? ",\"floor\":true" : ",\"floor\":false");
}

/* Renders one event as an SSE frame into buf; its length, or 0 if it does not fit. */
static size_t render(kito_feed *f, uint64_t id, const struct kito_market_note *n,
                     const struct kito_event *ev, char *buf, size_t cap)
{
    char cur[4];
    memcpy(cur, n->currency, 3);
    cur[3] = '\0';
    for (int i = 0; i < 3; i++)
        if (cur[i] < 'A' || cur[i] > 'Z')
            cur[i] = 'X';
    const char *type = kito_event_type_name(ev->type);
    kito_jw w;
    kito_jw_init(&w, buf, cap);
    kito_jw_raw(&w, "id: ", 4);
    kito_jw_int(&w, (int64_t)id); /* (frame numbers stay far below 2^63) */
    kito_jw_raw(&w, "\nevent: ", 8);
    kito_jw_lit(&w, type);
    kito_jw_lit(&w, "\ndata: {\"sale_id\":");
    kito_jw_id(&w, "sal", n->sale_id);
    kito_jw_lit(&w, ",\"lot_id\":");
    kito_jw_id(&w, "lot", n->lot_id);
    kito_jw_lit(&w, ",\"seq\":");
    kito_jw_int(&w, n->seq);
    kito_jw_lit(&w, ",\"type\":\"");
    kito_jw_lit(&w, type);
    kito_jw_lit(&w, "\",\"format\":\"");
    kito_jw_lit(&w, format_name(n->format));
    kito_jw_lit(&w, "\",\"state\":\"");
    kito_jw_lit(&w, kito_lot_state_name(ev->state));
    kito_jw_raw(&w, "\"", 1);
    put_money(&w, "price", ev->price_minor, cur);
    put_money(&w, "ask", ev->ask_minor, cur);
    kito_jw_lit(&w, ",\"bid_count\":");
    kito_jw_int(&w, ev->bid_count);
    if (ev->type == KITO_EV_EXTENDED)
        put_time(&w, "ends_at", ev->at_ms);
    else
        put_time(&w, "at", ev->at_ms);
    switch (ev->type) {
    case KITO_EV_OPENED:
    case KITO_EV_BOOK:
    case KITO_EV_FAIR_WARNING:
        put_bidder(f, &w, "leader", n->lot_id, ev->who);
        break;
    case KITO_EV_STEP_CHANGED:
        put_money(&w, "step", ev->amount_minor, cur);
        break;
    case KITO_EV_BID_UNDONE:
        put_bidder(f, &w, "bidder", n->lot_id, ev->who);
        put_money(&w, "amount", ev->amount_minor, cur);
        break;
    case KITO_EV_SOLD:
        put_bidder(f, &w, "winner", n->lot_id, ev->who);
        put_money(&w, "hammer", ev->amount_minor, cur);
        break;
    case KITO_EV_UNSOLD:
        put_key(&w, "reason");
        kito_jw_string(&w, unsold_name(ev->reason));
        break;
    default:
        break;
    }
    kito_jw_raw(&w, "}\n\n", 3);
    return w.failed ? 0 : w.len;
}

/* ---- publishing ----------------------------------------------------------------------------- */

/* Writes (or drops) every subscriber of sa. */
static void fan_out(struct sale *sa)
{
    h2o_linklist_t *anchor = &sa->subs;
    for (h2o_linklist_t *l = anchor->next, *nx; l != anchor; l = nx) {
        nx = l->next;
        sub_feed(H2O_STRUCT_FROM_MEMBER(kito_feed_sub, sale_link, l));
    }
}

/* After the loop's poll phase: the bid callbacks of the Redis batch that produced the frames
 * have answered their clients, and each subscriber gets all of the turn's frames in one write. */
static void on_check(uv_check_t *h)
{
    kito_feed *f = h->data;
    uint32_t n = f->n_dirty;
    f->n_dirty = 0;
    uv_check_stop(&f->check);
    f->check_on = false;
    for (uint32_t i = 0; i < n; i++) {
        struct sale *sa = &f->sales[f->dirty[i]];
        if (!sa->dirty)
            continue; /* listed twice, or its ring was reused */
        sa->dirty = false;
        fan_out(sa);
    }
}

/* Puts fr (taking its reference) into sa's ring as the next frame. */
static void ring_add(kito_feed *f, struct sale *sa, struct frame *fr)
{
    uint64_t num = sa->head + 1;
    uint32_t slot = (uint32_t)(num % f->lim.ring_events);
    frame_unref(sa->ring[slot]);
    sa->ring[slot] = fr;
    sa->head = num;
    if (num >= f->lim.ring_events + sa->first)
        sa->first = num - f->lim.ring_events + 1;
    f->st.events_published++;
}

/* sa has new frames: its subscribers are written after the poll phase (with a loop), else now. */
static void wake(kito_feed *f, struct sale *sa)
{
    if (f->loop == NULL || sa->n_subs == 0) {
        fan_out(sa);
        return;
    }
    if (sa->dirty)
        return;
    if (f->n_dirty == 2 * f->lim.max_sales) { /* only after many evictions in one turn */
        fan_out(sa);
        return;
    }
    sa->dirty = true;
    f->dirty[f->n_dirty++] = (uint32_t)(sa - f->sales);
    if (!f->check_on) {
        uv_check_start(&f->check, on_check);
        f->check_on = true;
    }
}

/* The private notice an event makes for its bidder, or NULL: her bid taken ("bid_accepted",
 * with her maximum and whether she leads), "outbid", and "won" (her winning a lot is public as
 * a token; this tells her it was her). Floor paddles watch no feed. */
static const char *private_type(const struct kito_event *ev)
{
    if (ev->who == 0 || (ev->who & KITO_PADDLE_FLAG) != 0)
        return NULL;
    switch (ev->type) {
    case KITO_EV_BID_ACCEPTED:
        return "bid_accepted";
    case KITO_EV_OUTBID:
        return "outbid";
    case KITO_EV_SOLD:
        return "won";
    default:
        return NULL;
    }
}

/* Renders a private notice: `event: mine`, no id (it is not in the ring, so it must not move the
 * client's Last-Event-ID). Its length, or 0 if it does not fit. */
static size_t render_mine(kito_feed *f, const struct kito_market_note *n,
                          const struct kito_event *ev, const char *type, char *buf, size_t cap)
{
    char cur[4];
    memcpy(cur, n->currency, 3);
    cur[3] = '\0';
    for (int i = 0; i < 3; i++)
        if (cur[i] < 'A' || cur[i] > 'Z')
            cur[i] = 'X';
    kito_jw w;
    kito_jw_init(&w, buf, cap);
    kito_jw_lit(&w, "event: mine\ndata: {\"sale_id\":");
    kito_jw_id(&w, "sal", n->sale_id);
    kito_jw_lit(&w, ",\"lot_id\":");
    kito_jw_id(&w, "lot", n->lot_id);
    kito_jw_lit(&w, ",\"seq\":");
    kito_jw_int(&w, n->seq);
    kito_jw_lit(&w, ",\"type\":\"");
    kito_jw_lit(&w, type);
    kito_jw_raw(&w, "\"", 1);
    put_bidder(f, &w, "you", n->lot_id, ev->who);
    kito_jw_lit(&w, ",\"leading\":");
    kito_jw_bool(&w,
                 ev->type == KITO_EV_SOLD || (ev->type == KITO_EV_BID_ACCEPTED && ev->reason == 1));
    if (ev->type == KITO_EV_BID_ACCEPTED)
        put_money(&w, "your_max", ev->amount_minor, cur);
    if (ev->type == KITO_EV_SOLD)
        put_money(&w, "hammer", ev->amount_minor, cur);
    put_money(&w, "price", ev->price_minor, cur);
    put_money(&w, "ask", ev->ask_minor, cur);
    kito_jw_raw(&w, "}\n\n", 3);
    return w.failed ? 0 : w.len;
}

/* Appends text to s's private frames; false when that would pass KITO_FEED_MINE_MAX or memory
 * ran out (the caller drops s: it reconnects and refetches). */
static bool mine_add(kito_feed_sub *s, const char *text, size_t len)
{
    size_t have = s->mine != NULL ? s->mine->len : 0;
    if (have + len > KITO_FEED_MINE_MAX)
        return false;
    struct frame *fr = frame_new(NULL, have + len);
    if (fr == NULL)
        return false;
    if (have > 0)
        memcpy(fr->text, s->mine->text, have);
    memcpy(fr->text + have, text, len);
    frame_unref(s->mine);
    s->mine = fr;
    return true;
}

/* Gives each of sa's subscribers watching as ev's bidder her private notice (feed.h,
 * "Private notices"). True if any got one. */
static bool publish_mine(kito_feed *f, struct sale *sa, const struct kito_market_note *n,
                         const struct kito_event *ev)
{
    const char *type = private_type(ev);
    if (type == NULL || sa == NULL || sa->n_viewers == 0)
        return false;
    char buf[KITO_FEED_FRAME_MAX];
    size_t len = 0;
    bool any = false;
    for (h2o_linklist_t *l = sa->subs.next, *nx; l != &sa->subs; l = nx) {
        nx = l->next;
        kito_feed_sub *s = H2O_STRUCT_FROM_MEMBER(kito_feed_sub, sale_link, l);
        if (s->viewer != ev->who)
            continue;
        if (len == 0 && (len = render_mine(f, n, ev, type, buf, sizeof(buf))) == 0)
            return false;
        if (!mine_add(s, buf, len)) {
            f->st.dropped_slow++;
            sub_drop(s, dropped_text);
            continue;
        }
        f->st.events_private++;
        any = true;
    }
    return any;
}

void kito_feed_publish(kito_feed *f, const struct kito_market_note *n, uint64_t now)
{
    if (f->loop == NULL)
        f->clock_ms = now;
    struct sale *sa = NULL;
    bool added = false;
    for (size_t i = 0; i < n->n_events; i++) {
        const struct kito_event *ev = &n->events[i];
        if (private_type(ev) != NULL) {
            struct sale *mine_sa = sa != NULL ? sa : sale_find(f, n->sale_id);
            if (publish_mine(f, mine_sa, n, ev)) {
                sa = mine_sa;
                added = true;
            }
        }
        if (!is_public(n, ev)) {
            f->st.events_filtered++;
            continue;
        }
        if (sa == NULL && (sa = sale_get(f, n->sale_id, now)) == NULL) {
            f->st.events_unkept++;
            continue;
        }
        char buf[KITO_FEED_FRAME_MAX];
        size_t len = render(f, sa->base + sa->head + 1, n, ev, buf, sizeof(buf));
        struct frame *fr = len > 0 ? frame_new(buf, len) : NULL;
        if (fr == NULL) {
            f->st.events_unkept++; /* cannot happen short of memory: the frame is bounded */
            continue;
        }
        ring_add(f, sa, fr);
        added = true;
    }
    if (added)
        wake(f, sa);
}

void kito_feed_resync(kito_feed *f)
{
    for (uint32_t i = 0; i < f->lim.max_sales; i++) {
        struct sale *sa = &f->sales[i];
        if (sa->sale_id == 0)
            continue;
        char sale[32], buf[KITO_FEED_FRAME_MAX];
        kito_id_format("sal", sa->sale_id, sale, sizeof(sale));
        int len = snprintf(buf, sizeof(buf),
                           "id: %" PRIu64 "\nevent: resync\ndata: {\"sale_id\":\"%s\","
                           "\"reason\":\"rebuilt\",\"message\":\"the order books were "
                           "reloaded from storage; refetch the lots\"}\n\n",
                           sa->base + sa->head + 1, sale);
        struct frame *fr = frame_new(buf, (size_t)len);
        if (fr == NULL) {
            /* no memory to tell them: no resume may cross this point, and every subscriber
             * reconnects (to a resync) */
            sa->first = sa->head + 1;
            for (h2o_linklist_t *l = sa->subs.next, *nx; l != &sa->subs; l = nx) {
                nx = l->next;
                sub_drop(H2O_STRUCT_FROM_MEMBER(kito_feed_sub, sale_link, l), dropped_text);
            }
            continue;
        }
        ring_add(f, sa, fr);
        wake(f, sa);
    }
}

void kito_feed_market_rebuilt(void *ud)
{
    kito_feed_resync(ud);
}

void kito_feed_market_listener(void *ud, const struct kito_market_note *note)
{
    kito_feed *f = ud;
    kito_feed_publish(f, note, now_ms(f));
}

/* ---- subscribing ---------------------------------------------------------------------------- */

kito_err kito_feed_subscribe(kito_feed *f, uint64_t sale_id, bool has_last, uint64_t last_id,
                             const struct kito_feed_sink *sink, void *ctx, kito_feed_sub **out)
{
    if (f->closing)
        return KITO_E_UNAVAILABLE;
    if (f->n_subs >= f->lim.max_subscribers) {
        f->st.refused++;
        return KITO_E_CAPACITY;
    }
    uint64_t now = now_ms(f);
    struct sale *sa = sale_get(f, sale_id, now);
    if (sa == NULL) {
        f->st.refused++;
        return KITO_E_CAPACITY;
    }
    kito_feed_sub *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return KITO_E_NOMEM;
    char sale[32], buf[320];
    kito_id_format("sal", sale_id, sale, sizeof(sale));
    uint64_t head_id = sa->base + sa->head;
    int len;
    bool resume = false;
    if (has_last && last_id >= sa->base) {
        uint64_t k = last_id - sa->base; /* the last frame number the client has */
        resume = k <= sa->head && k + 1 >= sa->first && sa->head - k <= f->lim.backlog_events;
    }
    if (resume) {
        /* no id on this frame: the client's last id stays until the missed frames arrive */
        s->next = last_id - sa->base + 1;
        len = snprintf(buf, sizeof(buf),
                       "retry: 2000\nevent: ready\ndata: {\"sale_id\":\"%s\",\"resumed\":true,"
                       "\"missed\":%" PRIu64 "}\n\n",
                       sale, sa->head + 1 - s->next);
        f->st.resumed++;
    } else if (has_last) {
        s->next = sa->head + 1;
        len = snprintf(buf, sizeof(buf),
                       "retry: 2000\nid: %" PRIu64
                       "\nevent: resync\ndata: {\"sale_id\":\"%s\",\"reason\":\"%s\","
                       "\"message\":\"events since your last id are no longer kept; "
                       "refetch the lots\"}\n\n",
                       head_id, sale, last_id > head_id ? "unknown_id" : "gap");
        f->st.resynced++;
    } else {
        s->next = sa->head + 1;
        len = snprintf(buf, sizeof(buf),
                       "retry: 2000\nid: %" PRIu64
                       "\nevent: ready\ndata: {\"sale_id\":\"%s\",\"resumed\":false}\n\n",
                       head_id, sale);
    }
    s->pre = frame_new(buf, (size_t)len);
    if (s->pre == NULL) {
        free(s);
        return KITO_E_NOMEM;
    }
    s->f = f;
    s->sale = sa;
    s->sink = sink;
    s->framing = sink->chunked ? 1 : 0;
    s->ctx = ctx;
    s->write_ms = now;
    h2o_linklist_insert(&sa->subs, &s->sale_link);
    h2o_linklist_insert(&f->all, &s->all_link);
    sa->n_subs++;
    f->n_subs++;
    f->st.subscribed++;
    *out = s;
    return KITO_OK;
}

void kito_feed_set_viewer(kito_feed_sub *s, uint64_t account_id)
{
    assert(!s->started && s->viewer == 0);
    if (account_id == 0 || s->sale == NULL)
        return;
    s->viewer = account_id;
    s->sale->n_viewers++;
}

void kito_feed_start(kito_feed_sub *s)
{
    s->started = true;
    pump(s);
}

void kito_feed_written(kito_feed_sub *s)
{
    release_inflight(s);
    s->writing = false;
    s->write_ms = now_ms(s->f);
    if (s->dropping) {
        sub_end(s);
        return;
    }
    sub_feed(s);
}

void kito_feed_gone(kito_feed_sub *s)
{
    sub_free(s);
}

/* ---- time ----------------------------------------------------------------------------------- */

void kito_feed_tick(kito_feed *f, uint64_t now)
{
    if (f->loop == NULL)
        f->clock_ms = now;
    for (h2o_linklist_t *l = f->all.next, *nx; l != &f->all; l = nx) {
        nx = l->next;
        kito_feed_sub *s = H2O_STRUCT_FROM_MEMBER(kito_feed_sub, all_link, l);
        if (!s->started)
            continue;
        if (s->writing) {
            if (now - s->write_ms >= f->lim.stall_ms && s->sink->abort != NULL) {
                f->st.aborted_stalled++;
                s->write_ms = now; /* once per stall period */
                if (!s->dropping) {
                    unlink_sale(s);
                    s->dropping = true;
                    s->end_text = dropped_text[s->framing];
                }
                s->sink->abort(s->ctx);
            }
            continue;
        }
        if (s->dropping || now - s->write_ms < f->lim.heartbeat_ms)
            continue;
        struct frame *hb = &heartbeat_frame[s->framing].f;
        s->inflight = hb;
        s->iov = h2o_iovec_init(hb->text, hb->len);
        s->writing = true;
        s->write_ms = now;
        s->sink->write(s->ctx, &s->iov, 1);
    }
}

static void on_timer(uv_timer_t *t)
{
    kito_feed *f = t->data;
    kito_feed_tick(f, uv_now(f->loop));
}

/* ---- life ----------------------------------------------------------------------------------- */

/* A fan-out writes to every subscriber in one loop turn, and h2o 2.2.5 takes a 4 KiB buffer from
 * malloc for each TLS write (its TLS output pool) and frees it a turn later. Under glibc's
 * default trim threshold (128 KiB) the top of the heap is given back after every fan-out and
 * page-faulted in again by the next one: measured in a fresh kitod, ~4,600 page faults and ~140
 * brk calls per fan-out to 5,000 subscribers, and about half of the fan-out's CPU time. Keeping
 * up to 8 KiB of free heap a subscriber (the bound) stops the churn. */
static void keep_heap_for_fan_out(uint32_t max_subscribers)
{
#ifdef M_TRIM_THRESHOLD
    size_t keep = (size_t)max_subscribers * 8192;
    if (keep < 128 * 1024)
        keep = 128 * 1024;
    if (keep > INT_MAX)
        keep = INT_MAX;
    mallopt(M_TRIM_THRESHOLD, (int)keep);
#else
    (void)max_subscribers;
#endif
}

kito_err kito_feed_create(uv_loop_t *loop, const struct kito_feed_limits *lim,
                          const uint8_t key[32], kito_feed **out)
{
    if (lim->ring_events < 16 || lim->ring_events > (1u << 24) || lim->backlog_events == 0 ||
        lim->backlog_events > lim->ring_events || lim->max_subscribers == 0 ||
        lim->max_sales == 0 || lim->max_sales > 65536 || lim->write_frames == 0 ||
        lim->write_frames > KITO_FEED_WRITE_MAX || lim->heartbeat_ms == 0 || lim->stall_ms == 0)
        return KITO_E_CONFIG;
    kito_feed *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return KITO_E_NOMEM;
    f->sales = calloc(lim->max_sales, sizeof(*f->sales));
    f->dirty = calloc(2 * (size_t)lim->max_sales, sizeof(*f->dirty));
    f->tokens = calloc(2 * FEED_TOKEN_SETS, sizeof(*f->tokens));
    kito_err e = f->sales == NULL || f->dirty == NULL || f->tokens == NULL
                     ? KITO_E_NOMEM
                     : kito_hmac_new(key, 32, &f->hmac);
    if (e != KITO_OK) {
        free(f->sales);
        free(f->dirty);
        free(f->tokens);
        free(f);
        return e;
    }
    f->lim = *lim;
    h2o_linklist_init_anchor(&f->all);
    f->loop = loop;
    if (loop != NULL) {
        keep_heap_for_fan_out(lim->max_subscribers);
        uv_timer_init(loop, &f->timer);
        f->timer.data = f;
        uv_check_init(loop, &f->check);
        f->check.data = f;
        uv_unref((uv_handle_t *)&f->check);
        f->handles_open = 2;
        uint64_t period = lim->heartbeat_ms / 3 > 0 ? lim->heartbeat_ms / 3 : 1;
        uv_timer_start(&f->timer, on_timer, period, period);
        uv_unref((uv_handle_t *)&f->timer);
    }
    *out = f;
    return KITO_OK;
}

static void free_memory(kito_feed *f)
{
    for (uint32_t i = 0; i < f->lim.max_sales; i++) {
        struct sale *sa = &f->sales[i];
        if (sa->ring != NULL)
            for (uint32_t k = 0; k < f->lim.ring_events; k++)
                frame_unref(sa->ring[k]);
        free(sa->ring);
        sale_forget_batches(sa);
    }
    free(f->sales);
    free(f->dirty);
    free(f->tokens);
    kito_hmac_free(f->hmac);
    free(f);
}

static void on_handle_closed(uv_handle_t *h)
{
    kito_feed *f = h->data;
    if (--f->handles_open > 0)
        return;
    f->loop = NULL; /* marks the handles closed */
    if (f->n_subs == 0)
        free_memory(f);
}

/* Frees the feed once the timer is closed and no subscriber is left. */
static void feed_release(kito_feed *f)
{
    if (f->loop == NULL && f->n_subs == 0)
        free_memory(f);
}

void kito_feed_shutdown(kito_feed *f)
{
    if (f == NULL)
        return;
    f->closing = true;
    for (h2o_linklist_t *l = f->all.next, *nx; l != &f->all; l = nx) {
        nx = l->next;
        kito_feed_sub *s = H2O_STRUCT_FROM_MEMBER(kito_feed_sub, all_link, l);
        if (!s->dropping)
            sub_drop(s, shutdown_text);
    }
}

void kito_feed_free(kito_feed *f)
{
    if (f == NULL)
        return;
    kito_feed_shutdown(f);
    /* Subscribers with a write in flight stay until h2o reports on them (written or gone):
     * their generators point at them. The feed is freed when the last one goes. */
    f->freeing = true;
    if (f->loop != NULL) {
        uv_timer_stop(&f->timer);
        uv_check_stop(&f->check);
        uv_close((uv_handle_t *)&f->timer, on_handle_closed);
        uv_close((uv_handle_t *)&f->check, on_handle_closed);
    } else {
        feed_release(f);
    }
}

/* ---- queries -------------------------------------------------------------------------------- */

bool kito_feed_sale_public(const kito_feed *f, uint64_t sale_id)
{
    for (uint32_t i = 0; i < f->lim.max_sales; i++)
        if (f->sales[i].sale_id == sale_id)
            return f->sales[i].is_public;
    return false;
}

void kito_feed_mark_public(kito_feed *f, uint64_t sale_id)
{
    struct sale *sa = sale_find(f, sale_id);
    if (sa != NULL)
        sa->is_public = true;
}

size_t kito_feed_lot_history(kito_feed *f, uint64_t sale_id, uint64_t lot_id, size_t max,
                             void (*each)(void *ud, const char *data, size_t len), void *ud)
{
    struct sale *sa = sale_find(f, sale_id);
    if (sa == NULL || sa->head < sa->first)
        return 0;
    char lot[40];
    int lot_len = snprintf(lot, sizeof(lot), "\"lot_id\":\"");
    if (kito_id_format("lot", lot_id, lot + lot_len, sizeof(lot) - (size_t)lot_len) != KITO_OK)
        return 0;
    lot_len += (int)strlen(lot + lot_len);
    static const char *const wanted[] = {"\nevent: book\n", "\nevent: bid_undone\n",
                                         "\nevent: sold\n", "\nevent: unsold\n",
                                         "\nevent: withdrawn\n"};
    size_t n = 0;
    for (uint64_t k = sa->head; k >= sa->first && k > 0 && n < max; k--) {
        const struct frame *fr = sa->ring[k % f->lim.ring_events];
        const char *data = memmem(fr->text, fr->len, "\ndata: ", 7);
        if (data == NULL || memmem(fr->text, fr->len, lot, (size_t)lot_len) == NULL)
            continue;
        bool want = false;
        for (size_t w = 0; w < sizeof(wanted) / sizeof(wanted[0]) && !want; w++)
            want = memmem(fr->text, (size_t)(data - fr->text) + 1, wanted[w], strlen(wanted[w])) !=
                   NULL;
        if (!want)
            continue;
        data += 7;
        const char *end = memchr(data, '\n', fr->len - (size_t)(data - fr->text));
        each(ud, data, end != NULL ? (size_t)(end - data) : fr->len - (size_t)(data - fr->text));
        n++;
    }
    return n;
}

uint64_t kito_feed_last_id(const kito_feed *f, uint64_t sale_id)
{
    for (uint32_t i = 0; i < f->lim.max_sales; i++)
        if (f->sales[i].sale_id == sale_id)
            return f->sales[i].base + f->sales[i].head;
    return 0;
}

void kito_feed_stats(const kito_feed *f, struct kito_feed_stats *out)
{
    *out = f->st;
    out->subscribers = f->n_subs;
    out->sales = f->n_sales;
}
