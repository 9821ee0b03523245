/*
 * The live feed in isolation (api/live/feed.h): synthetic market notes in, SSE bytes out through a
 * fake sink. Ring wrap, resume inside and outside the ring, the backlog bound, the subscriber
 * bound, tender and bidder-only events kept off, anonymous bidders, heartbeats, stalls, sale
 * eviction and shutdown.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/live/feed.h"
#include "engine/engine.h"

static const uint8_t key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* ---- a fake sink --------------------------------------------------------------------------- */

struct fake {
    kito_feed_sub *sub;
    char buf[1 << 20];
    size_t len;
    int writes;
    bool writing;
    bool ended;
    int aborted;
};

static void fk_append(struct fake *fk, const char *p, size_t n)
{
    cr_assert(fk->len + n < sizeof(fk->buf));
    memcpy(fk->buf + fk->len, p, n);
    fk->len += n;
    fk->buf[fk->len] = '\0';
}

static void fk_write(void *ctx, h2o_iovec_t *bufs, size_t n)
{
    struct fake *fk = ctx;
    cr_assert(!fk->writing, "two writes in flight");
    cr_assert(!fk->ended);
    for (size_t i = 0; i < n; i++)
        fk_append(fk, bufs[i].base, bufs[i].len);
    fk->writes++;
    fk->writing = true;
}

static void fk_end(void *ctx, h2o_iovec_t text)
{
    struct fake *fk = ctx;
    cr_assert(!fk->writing, "end while a write is in flight");
    fk_append(fk, text.base, text.len);
    fk->ended = true;
    fk->sub = NULL;
}

static void fk_abort(void *ctx)
{
    struct fake *fk = ctx;
    fk->aborted++;
}

static const struct kito_feed_sink fake_sink = {fk_write, fk_end, fk_abort};

/* Acknowledges writes until nothing is in flight. */
static void drain(struct fake *fk)
{
    while (fk->writing && !fk->ended) {
        fk->writing = false;
        kito_feed_written(fk->sub);
    }
}

/* ---- the fixture: a feed and its fakes, freed after each test (pass or fail) ---------------- */

static kito_feed *feed; /* made by make() */
static void *owned[16]; /* fakes and chunky sinks, freed after the feed */
static size_t n_owned;

static void *own(size_t size)
{
    cr_assert_lt(n_owned, sizeof(owned) / sizeof(owned[0]));
    owned[n_owned] = calloc(1, size);
    cr_assert_not_null(owned[n_owned]);
    return owned[n_owned++];
}

static void teardown(void)
{
    kito_feed_free(feed);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
}

TestSuite(feed, .fini = teardown);

/* The feed of the test with *lim (limits and key borrowed); freed by the fixture. */
static kito_feed *make_with(const struct kito_feed_limits *lim, const uint8_t k[32])
{
    cr_assert_null(feed, "one feed a test");
    cr_assert_eq(kito_feed_create(NULL, lim, k, &feed), KITO_OK);
    return feed;
}

static kito_feed *make(uint32_t ring, uint32_t backlog, uint32_t subs, uint32_t sales)
{
    struct kito_feed_limits lim;
    kito_feed_limits_default(&lim);
    lim.ring_events = ring;
    lim.backlog_events = backlog;
    lim.max_subscribers = subs;
    lim.max_sales = sales;
    return make_with(&lim, key);
}

/* Frees the feed before the test ends (what follows checks what happens after). */
static void free_feed(void)
{
    kito_feed_free(feed);
    feed = NULL;
}

static struct fake *subscribe(kito_feed *f, uint64_t sale, bool has_last, uint64_t last)
{
    struct fake *fk = own(sizeof(*fk));
    cr_assert_eq(kito_feed_subscribe(f, sale, has_last, last, &fake_sink, fk, &fk->sub), KITO_OK);
    kito_feed_start(fk->sub);
    return fk;
}

/* A new subscriber to the sale (no Last-Event-ID) whose preamble was written. */
static struct fake *watch(kito_feed *f, uint64_t sale)
{
    struct fake *fk = subscribe(f, sale, false, 0);
    drain(fk);
    return fk;
}

/* ---- frames -------------------------------------------------------------------------------- */

struct fr {
    uint64_t id; /* 0 = none */
    char event[32];
    char data[700];
};

/* Splits the bytes into frames (comments skipped); returns the count. */
static size_t frames(const char *buf, struct fr *out, size_t cap)
{
    size_t n = 0;
    const char *p = buf;
    while (*p != '\0') {
        const char *end = strstr(p, "\n\n");
        if (end == NULL)
            break;
        struct fr f = {0};
        bool any = false;
        for (const char *l = p; l < end;) {
            const char *nl = memchr(l, '\n', (size_t)(end - l));
            if (nl == NULL)
                nl = end;
            size_t ll = (size_t)(nl - l);
            if (ll > 4 && strncmp(l, "id: ", 4) == 0) {
                f.id = strtoull(l + 4, NULL, 10);
                any = true;
            } else if (ll > 7 && strncmp(l, "event: ", 7) == 0) {
                snprintf(f.event, sizeof(f.event), "%.*s", (int)(ll - 7), l + 7);
                any = true;
            } else if (ll > 6 && strncmp(l, "data: ", 6) == 0) {
                snprintf(f.data, sizeof(f.data), "%.*s", (int)(ll - 6), l + 6);
                any = true;
            }
            l = nl + 1;
        }
        if (any && n < cap)
            out[n++] = f;
        p = end + 2;
    }
    return n;
}

/* ---- notes --------------------------------------------------------------------------------- */

/* Publishes one command's events ev[0 .. n) as the market does: a note of their lot and seq. */
static void publish(kito_feed *f, uint64_t sale, uint8_t format, const char *currency,
                    const struct kito_event *ev, size_t n, uint64_t now)
{
    struct kito_market_note note = {
        .lot_id = ev[0].lot_id, .sale_id = sale, .seq = ev[0].seq, .format = format};
    snprintf(note.currency, sizeof(note.currency), "%s", currency);
    note.events = ev;
    note.n_events = n;
    kito_feed_publish(f, &note, now);
}

/* A timed bid's events: BID_ACCEPTED (bidder), OUTBID (bidder), BOOK (public). */
static void publish_bid(kito_feed *f, uint64_t sale, uint64_t lot, uint32_t seq, uint64_t who,
                        int64_t price, uint64_t now)
{
    struct kito_event ev[3] = {
        {.lot_id = lot,
         .who = who,
         .amount_minor = price + 5000,
         .type = KITO_EV_BID_ACCEPTED,
         .audience = KITO_AUDIENCE_BIDDER,
         .seq = seq,
         .state = KITO_LOT_OPEN},
        {.lot_id = lot,
         .who = 77,
         .type = KITO_EV_OUTBID,
         .audience = KITO_AUDIENCE_BIDDER,
         .seq = seq,
         .state = KITO_LOT_OPEN},
        {.lot_id = lot,
         .who = who,
         .price_minor = price,
         .ask_minor = price + 1000,
         .at_ms = 1795000000000,
         .seq = seq,
         .bid_count = seq,
         .type = KITO_EV_BOOK,
         .audience = KITO_AUDIENCE_PUBLIC,
         .state = KITO_LOT_OPEN},
    };
    publish(f, sale, KITO_FORMAT_TIMED, "USD", ev, 3, now);
}

static struct fr fs[8192];

Test(feed, live_frames_public_only)
{
    kito_feed *f = make(64, 64, 10, 4);
    struct fake *a = watch(f, 5);
    for (uint32_t s = 1; s <= 5; s++) {
        publish_bid(f, 5, 900, s, 1000 + s, 10000 * s, 1000);
        drain(a);
    }
    size_t n = frames(a->buf, fs, 8192);
    cr_assert_eq(n, 6, "ready + 5 book frames, got %zu:\n%s", n, a->buf);
    cr_assert_str_eq(fs[0].event, "ready");
    cr_assert_str_eq(fs[1].event, "book");
    for (size_t i = 1; i < n; i++) {
        cr_assert_eq(fs[i].id, fs[0].id + i, "ids contiguous after ready");
        char want[64];
        snprintf(want, sizeof(want), "\"seq\":%zu,", i);
        cr_assert(strstr(fs[i].data, want) != NULL, "%s", fs[i].data);
        cr_assert(strstr(fs[i].data, "\"lot_id\":\"lot_") != NULL);
        cr_assert(strstr(fs[i].data, "\"leader\":\"b") != NULL, "%s", fs[i].data);
    }
    cr_assert(strstr(a->buf, "bid_accepted") == NULL);
    cr_assert(strstr(a->buf, "outbid") == NULL);
    cr_assert(strstr(a->buf, "\"amount\":15000") == NULL, "a maximum leaked");
    cr_assert(strstr(a->buf, "\"price\":{\"amount\":10000,\"currency\":\"USD\"}") != NULL);
    struct kito_feed_stats st;
    kito_feed_stats(f, &st);
    cr_assert_eq(st.events_published, 5);
    cr_assert_eq(st.events_filtered, 10);
}

Test(feed, tender_events_never_appear)
{
    kito_feed *f = make(64, 64, 10, 4);
    struct fake *a = watch(f, 6);
    /* a sealed bid (bidder only), then a public BOOK the engine must never emit for a tender:
     * the feed keeps it off anyway; then the close result */
    struct kito_event ev[] = {
        {.lot_id = 1,
         .who = 501,
         .amount_minor = 123456,
         .type = KITO_EV_BID_ACCEPTED,
         .audience = KITO_AUDIENCE_BIDDER,
         .seq = 2,
         .state = KITO_LOT_OPEN},
        {.lot_id = 1,
         .who = 501,
         .price_minor = 123456,
         .type = KITO_EV_BOOK,
         .audience = KITO_AUDIENCE_PUBLIC,
         .seq = 2,
         .state = KITO_LOT_OPEN},
        {.lot_id = 1,
         .who = 501,
         .type = KITO_EV_RESERVE_MET,
         .audience = KITO_AUDIENCE_PUBLIC,
         .seq = 2,
         .state = KITO_LOT_OPEN},
    };
    publish(f, 6, KITO_FORMAT_TENDER, "USD", ev, 3, 10);
    drain(a);
    struct kito_event sold = {.lot_id = 1,
                              .who = 501,
                              .amount_minor = 123456,
                              .price_minor = 123456,
                              .type = KITO_EV_SOLD,
                              .audience = KITO_AUDIENCE_PUBLIC,
                              .seq = 3,
                              .state = KITO_LOT_SOLD};
    publish(f, 6, KITO_FORMAT_TENDER, "USD", &sold, 1, 20);
    drain(a);
    size_t k = frames(a->buf, fs, 8192);
    cr_assert_eq(k, 2, "ready + sold only:\n%s", a->buf);
    cr_assert_str_eq(fs[1].event, "sold");
    cr_assert(strstr(fs[1].data, "\"hammer\":{\"amount\":123456") != NULL, "%s", fs[1].data);
    char tok[KITO_FEED_TOKEN_SIZE], want[64];
    kito_feed_bidder_token(f, 1, 501, tok);
    snprintf(want, sizeof(want), "\"winner\":\"%s\",\"floor\":false", tok);
    cr_assert(strstr(fs[1].data, want) != NULL, "%s", fs[1].data);
    /* the account id as a JSON value anywhere (not "501" inside a random token or an event
     * id, which a run once had by chance) */
    static const char *const leaks[] = {":501,", ":501}", "\"501\""};
    for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
        cr_assert(strstr(a->buf, leaks[i]) == NULL, "the winner's account id leaked:\n%s", a->buf);
}

Test(feed, bidder_tokens_anonymous_and_per_lot)
{
    kito_feed *f = make(64, 64, 10, 4);
    char a[KITO_FEED_TOKEN_SIZE], b[KITO_FEED_TOKEN_SIZE], c[KITO_FEED_TOKEN_SIZE];
    kito_feed_bidder_token(f, 1, 42, a);
    kito_feed_bidder_token(f, 1, 42, b);
    kito_feed_bidder_token(f, 2, 42, c);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c, "the same buyer is unlinkable across lots");
    cr_assert_eq(strlen(a), 13);
    /* another key: other tokens */
    struct kito_feed_limits lim;
    kito_feed_limits_default(&lim);
    uint8_t k2[32] = {9};
    kito_feed *other;
    cr_assert_eq(kito_feed_create(NULL, &lim, k2, &other), KITO_OK);
    kito_feed_bidder_token(other, 1, 42, b);
    cr_assert_str_neq(a, b);
    kito_feed_free(other);
}

/* Frames name each leader with her token however often and in whatever order leaders repeat
 * (the feed keeps recent tokens: a lot's leader is named in every book event), across more lots
 * and bidders than the token cache has slots. */
Test(feed, leader_tokens_stay_right_when_leaders_repeat)
{
    kito_feed *f = make(16, 16, 10, 4);
    struct fake *a = subscribe(f, 7, false, 0);
    drain(a);
    uint32_t seq = 0;
    for (uint64_t round = 0; round < 3; round++)
        for (uint64_t lot = 1; lot <= 3000; lot++) {
            uint64_t who = 100 + (lot + round) % 3; /* three bidders take turns on every lot */
            a->len = 0;
            a->buf[0] = '\0';
            publish_bid(f, 7, lot, ++seq, who, 1000, 1);
            drain(a);
            char tok[KITO_FEED_TOKEN_SIZE], want[64];
            kito_feed_bidder_token(f, lot, who, tok);
            snprintf(want, sizeof(want), "\"leader\":\"%s\",", tok);
            cr_assert(strstr(a->buf, want) != NULL, "lot %llu, bidder %llu: %s",
                      (unsigned long long)lot, (unsigned long long)who, a->buf);
        }
}

Test(feed, floor_bidder_marked)
{
    kito_feed *f = make(64, 64, 10, 4);
    struct fake *a = watch(f, 7);
    publish_bid(f, 7, 3, 1, KITO_PADDLE_BIDDER(12), 5000, 1);
    drain(a);
    cr_assert(strstr(a->buf, "\"floor\":true") != NULL, "%s", a->buf);
}

Test(feed, resume_inside_ring_exactly_the_missed_frames)
{
    kito_feed *f = make(16, 16, 10, 4);
    struct fake *a = watch(f, 5);
    for (uint32_t s = 1; s <= 30; s++) { /* the ring wraps almost twice */
        publish_bid(f, 5, 900 + s % 3, s, 1, 100 * s, 1000);
        drain(a);
    }
    size_t n = frames(a->buf, fs, 8192);
    cr_assert_eq(n, 31);
    uint64_t last_seen = fs[20].id; /* the client saw 20 frames, then left */
    kito_feed_gone(a->sub);
    struct fake *b = subscribe(f, 5, true, last_seen);
    drain(b);
    n = frames(b->buf, fs, 8192);
    cr_assert_eq(n, 11, "ready + the 10 missed:\n%s", b->buf);
    cr_assert_str_eq(fs[0].event, "ready");
    cr_assert_eq(fs[0].id, 0, "the ready frame of a resume carries no id");
    cr_assert(strstr(fs[0].data, "\"missed\":10") != NULL, "%s", fs[0].data);
    for (size_t i = 1; i < n; i++) {
        cr_assert_eq(fs[i].id, last_seen + i);
        char want[32];
        snprintf(want, sizeof(want), "\"seq\":%zu,", 20 + i);
        cr_assert(strstr(fs[i].data, want) != NULL, "%s", fs[i].data);
    }
    /* and then live ones */
    publish_bid(f, 5, 901, 31, 1, 9999, 1000);
    drain(b);
    n = frames(b->buf, fs, 8192);
    cr_assert_eq(n, 12);
    cr_assert_eq(fs[11].id, last_seen + 11);
    /* resuming at the newest id: nothing missed */
    struct fake *c = subscribe(f, 5, true, fs[11].id);
    drain(c);
    cr_assert_eq(frames(c->buf, fs, 8192), 1);
    cr_assert(strstr(c->buf, "\"missed\":0") != NULL);
}

/* After the market rebuilt its books (a Redis failure), every ring gets a resync frame with the
 * next id: a live subscriber reads it in line, and a client resuming from before it replays it
 * among the missed frames, so nobody skips the unannounced changes silently. */
Test(feed, resync_frame_after_a_rebuild)
{
    kito_feed *f = make(16, 16, 10, 4);
    struct fake *a = watch(f, 5);
    publish_bid(f, 5, 900, 1, 1, 100, 1000);
    drain(a);
    size_t n = frames(a->buf, fs, 8192);
    cr_assert_eq(n, 2);
    uint64_t last_seen = fs[1].id;
    kito_feed_market_rebuilt(f);
    publish_bid(f, 5, 900, 3, 1, 300, 1000);
    drain(a);
    n = frames(a->buf, fs, 8192);
    cr_assert_eq(n, 4, "%s", a->buf);
    cr_assert_str_eq(fs[2].event, "resync");
    cr_assert_eq(fs[2].id, last_seen + 1, "the resync frame takes the next id");
    cr_assert(strstr(fs[2].data, "\"reason\":\"rebuilt\"") != NULL, "%s", fs[2].data);
    cr_assert(strstr(fs[2].data, "\"sale_id\":\"sal_") != NULL, "%s", fs[2].data);
    cr_assert_eq(fs[3].id, last_seen + 2);
    struct fake *b = subscribe(f, 5, true, last_seen);
    drain(b);
    n = frames(b->buf, fs, 8192);
    cr_assert_eq(n, 3, "ready + resync + the bid:\n%s", b->buf);
    cr_assert_str_eq(fs[1].event, "resync");
    cr_assert_str_eq(fs[2].event, "book");
}

Test(feed, resume_outside_ring_resyncs)
{
    kito_feed *f = make(16, 16, 10, 4);
    struct fake *a = watch(f, 5);
    uint64_t first_id = 0;
    for (uint32_t s = 1; s <= 40; s++) {
        publish_bid(f, 5, 900, s, 1, 100 * s, 1000);
        drain(a);
    }
    size_t n = frames(a->buf, fs, 8192);
    first_id = fs[1].id;
    uint64_t head = fs[n - 1].id;
    /* 39 frames missed, 16 kept: resync */
    struct fake *b = subscribe(f, 5, true, first_id);
    drain(b);
    n = frames(b->buf, fs, 8192);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(fs[0].event, "resync");
    cr_assert_eq(fs[0].id, head, "resync carries the current id");
    cr_assert(strstr(fs[0].data, "\"reason\":\"gap\"") != NULL);
    /* the oldest kept frame's predecessor is still a resume (nothing missing) */
    struct fake *c = subscribe(f, 5, true, head - 16);
    drain(c);
    cr_assert_eq(frames(c->buf, fs, 8192), 17);
    /* one before that is not */
    struct fake *d = subscribe(f, 5, true, head - 17);
    drain(d);
    cr_assert_eq(frames(d->buf, fs, 8192), 1);
    cr_assert_str_eq(fs[0].event, "resync");
    /* an id from the future (another process's ring) */
    struct fake *e = subscribe(f, 5, true, head + 5);
    drain(e);
    frames(e->buf, fs, 8192);
    cr_assert_str_eq(fs[0].event, "resync");
    cr_assert(strstr(fs[0].data, "unknown_id") != NULL);
    /* an id from before this ring existed (an earlier process) */
    struct fake *g = subscribe(f, 5, true, 12345);
    drain(g);
    frames(g->buf, fs, 8192);
    cr_assert_str_eq(fs[0].event, "resync");
    struct kito_feed_stats st;
    kito_feed_stats(f, &st);
    cr_assert_eq(st.resynced, 4);
    cr_assert_eq(st.resumed, 1);
}

Test(feed, backlog_bound_drops_the_slow_subscriber)
{
    kito_feed *f = make(64, 20, 10, 4);
    struct fake *slow = subscribe(f, 5, false, 0); /* its first write never completes */
    struct fake *fast = watch(f, 5);
    for (uint32_t s = 1; s <= 20; s++) {
        publish_bid(f, 5, 900, s, 1, 100 * s, 1000);
        drain(fast);
    }
    cr_assert(!slow->ended, "20 behind is within the bound");
    publish_bid(f, 5, 900, 21, 1, 2100, 1000);
    drain(fast);
    cr_assert(!slow->ended, "its write is in flight: the end waits for it");
    struct kito_feed_stats st;
    kito_feed_stats(f, &st);
    cr_assert_eq(st.dropped_slow, 1);
    /* more events do not reach it or cost it anything */
    int writes = slow->writes;
    for (uint32_t s = 22; s <= 200; s++) {
        publish_bid(f, 5, 900, s, 1, 100 * s, 1000);
        drain(fast);
    }
    cr_assert_eq(slow->writes, writes);
    slow->writing = false;
    kito_feed_written(slow->sub);
    cr_assert(slow->ended);
    cr_assert(strstr(slow->buf, "event: dropped") != NULL);
    cr_assert(!fast->ended);
    cr_assert_eq(frames(fast->buf, fs, 8192), 201);
    kito_feed_stats(f, &st);
    cr_assert_eq(st.subscribers, 1);
}

Test(feed, idle_slow_subscriber_dropped_at_once)
{
    /* a subscriber not writing but far behind (e.g. just resumed at the edge) is ended now */
    kito_feed *f = make(16, 4, 10, 4);
    struct fake *a = watch(f, 5);
    /* a batch of 8 events in one command: more than the backlog at once */
    struct kito_event ev[8];
    for (int i = 0; i < 8; i++)
        ev[i] = (struct kito_event){.lot_id = 3,
                                    .type = KITO_EV_PAUSED,
                                    .audience = KITO_AUDIENCE_PUBLIC,
                                    .seq = 1,
                                    .state = KITO_LOT_OPEN};
    publish(f, 5, KITO_FORMAT_LIVE, "EUR", ev, 8, 1);
    cr_assert(a->ended);
    cr_assert(strstr(a->buf, "event: dropped") != NULL);
}

Test(feed, subscriber_bound)
{
    kito_feed *f = make(16, 16, 2, 4);
    struct fake *a = subscribe(f, 5, false, 0);
    struct fake *b = subscribe(f, 6, false, 0);
    struct fake c = {0};
    cr_assert_eq(kito_feed_subscribe(f, 5, false, 0, &fake_sink, &c, &c.sub), KITO_E_CAPACITY);
    drain(a);
    kito_feed_gone(a->sub);
    cr_assert_eq(kito_feed_subscribe(f, 5, false, 0, &fake_sink, &c, &c.sub), KITO_OK);
    kito_feed_gone(c.sub);
    kito_feed_gone(b->sub);
}

Test(feed, sale_rings_bounded_and_reused)
{
    kito_feed *f = make(16, 16, 10, 2);
    publish_bid(f, 1, 10, 1, 1, 100, 1);
    publish_bid(f, 2, 20, 1, 1, 100, 2);
    watch(f, 2); /* sale 2 has a subscriber */
    /* sale 3 takes sale 1's ring (idle, no subscriber) */
    publish_bid(f, 3, 30, 1, 1, 100, 3);
    cr_assert_eq(kito_feed_last_id(f, 1), 0);
    cr_assert_neq(kito_feed_last_id(f, 3), 0);
    watch(f, 3);
    /* both rings have subscribers: sale 4 gets none */
    publish_bid(f, 4, 40, 1, 1, 100, 4);
    struct kito_feed_stats st;
    kito_feed_stats(f, &st);
    cr_assert_eq(st.events_unkept, 1);
    struct fake c = {0};
    cr_assert_eq(kito_feed_subscribe(f, 4, false, 0, &fake_sink, &c, &c.sub), KITO_E_CAPACITY);
}

Test(feed, heartbeat_and_stall)
{
    struct kito_feed_limits lim;
    kito_feed_limits_default(&lim);
    lim.heartbeat_ms = 1000;
    lim.stall_ms = 5000;
    kito_feed *f = make_with(&lim, key);
    kito_feed_tick(f, 100);
    struct fake *a = watch(f, 5);
    size_t before = a->len;
    kito_feed_tick(f, 600);
    cr_assert_eq(a->len, before, "not idle long enough");
    kito_feed_tick(f, 1200);
    cr_assert_eq(a->len, before + 3);
    cr_assert_str_eq(a->buf + before, ":\n\n");
    /* the heartbeat's write never finishes: a stall */
    kito_feed_tick(f, 4000);
    cr_assert_eq(a->aborted, 0);
    kito_feed_tick(f, 6300);
    cr_assert_eq(a->aborted, 1);
    struct kito_feed_stats st;
    kito_feed_stats(f, &st);
    cr_assert_eq(st.aborted_stalled, 1);
    /* h2o then reports the client gone */
    kito_feed_gone(a->sub);
    kito_feed_stats(f, &st);
    cr_assert_eq(st.subscribers, 0);
}

Test(feed, shutdown_ends_every_stream)
{
    kito_feed *f = make(16, 16, 10, 4);
    struct fake *a = watch(f, 5);
    struct fake *b = subscribe(f, 6, false, 0); /* write in flight */
    kito_feed_shutdown(f);
    cr_assert(a->ended);
    cr_assert(strstr(a->buf, "event: shutdown") != NULL);
    cr_assert(!b->ended);
    struct fake c = {0};
    cr_assert_eq(kito_feed_subscribe(f, 5, false, 0, &fake_sink, &c, &c.sub), KITO_E_UNAVAILABLE);
    free_feed(); /* b still holds the feed until its write is answered */
    b->writing = false;
    kito_feed_written(b->sub);
    cr_assert(b->ended);
}

Test(feed, frame_fields)
{
    kito_feed *f = make(16, 16, 10, 4);
    struct fake *a = watch(f, 5);
    struct kito_event ev[] = {
        {.lot_id = 9,
         .who = 0,
         .at_ms = 1795000120000,
         .price_minor = 5000,
         .ask_minor = 5500,
         .seq = 4,
         .bid_count = 2,
         .type = KITO_EV_EXTENDED,
         .audience = KITO_AUDIENCE_PUBLIC,
         .state = KITO_LOT_OPEN},
        {.lot_id = 9,
         .amount_minor = 250,
         .seq = 4,
         .type = KITO_EV_STEP_CHANGED,
         .audience = KITO_AUDIENCE_PUBLIC,
         .state = KITO_LOT_OPEN},
        {.lot_id = 9,
         .seq = 4,
         .reason = KITO_UNSOLD_RESERVE_NOT_MET,
         .type = KITO_EV_UNSOLD,
         .audience = KITO_AUDIENCE_PUBLIC,
         .state = KITO_LOT_UNSOLD},
    };
    publish(f, 5, KITO_FORMAT_LIVE, "KES", ev, 3, 1);
    drain(a);
    size_t k = frames(a->buf, fs, 8192);
    cr_assert_eq(k, 4);
    cr_assert_str_eq(fs[1].event, "extended");
    cr_assert(strstr(fs[1].data, "\"ends_at\":\"") != NULL, "%s", fs[1].data);
    cr_assert(strstr(fs[1].data, "\"format\":\"live\"") != NULL);
    cr_assert(strstr(fs[2].data, "\"step\":{\"amount\":250,\"currency\":\"KES\"}") != NULL, "%s",
              fs[2].data);
    cr_assert(strstr(fs[3].data, "\"reason\":\"reserve_not_met\"") != NULL);
    cr_assert(strstr(fs[3].data, "\"state\":\"unsold\"") != NULL);
    cr_assert(strstr(fs[3].data, "\"price\":null") != NULL);
}

/* ---- HTTP/1.1 chunks and shared writes ----------------------------------------------------- */

/* A sink that wants chunks: every write must be ONE buffer holding one whole chunk of whole
 * frames; the payloads are kept in buf (so frames() reads them as before), the raw bytes in raw. */
struct chunky {
    struct fake fk; /* first: the fake's callbacks reach it */
    char raw[1 << 16];
    size_t raw_len;
    const char *last_base; /* the last write's buffer */
    bool closed;           /* the empty chunk was seen */
};

static void ck_take(struct chunky *c, const char *p, size_t n, bool final)
{
    cr_assert_lt(c->raw_len + n, sizeof(c->raw));
    memcpy(c->raw + c->raw_len, p, n);
    c->raw_len += n;
    char *end;
    unsigned long size = strtoul(p, &end, 16);
    cr_assert(end > p && end[0] == '\r' && end[1] == '\n', "not a chunk: %.*s", (int)n, p);
    const char *payload = end + 2;
    size_t used = (size_t)(payload - p) + size + 2;
    cr_assert(size > 0 && used <= n && payload[size] == '\r' && payload[size + 1] == '\n',
              "a broken chunk: %.*s", (int)n, p);
    cr_assert(payload[size - 2] == '\n' && payload[size - 1] == '\n', "partial frame in a chunk");
    fk_append(&c->fk, payload, size);
    if (final) {
        cr_assert_eq(n - used, 5, "the last chunk and nothing but the terminator");
        cr_assert(memcmp(p + used, "0\r\n\r\n", 5) == 0);
        c->closed = true;
    } else {
        cr_assert_eq(used, n, "one write, one chunk");
    }
}

static void ck_write(void *ctx, h2o_iovec_t *bufs, size_t n)
{
    struct chunky *c = ctx;
    cr_assert_eq(n, 1, "a write is one buffer (one TLS record)");
    fk_write(&c->fk, bufs, 0);
    c->last_base = bufs[0].base;
    ck_take(c, bufs[0].base, bufs[0].len, false);
}

static void ck_end(void *ctx, h2o_iovec_t text)
{
    struct chunky *c = ctx;
    cr_assert(!c->fk.writing, "end while a write is in flight");
    ck_take(c, text.base, text.len, true);
    c->fk.ended = true;
    c->fk.sub = NULL;
}

static const struct kito_feed_sink chunk_sink = {ck_write, ck_end, fk_abort, true};

static struct chunky *subscribe_chunked(kito_feed *f, uint64_t sale)
{
    struct chunky *c = own(sizeof(*c));
    cr_assert_eq(kito_feed_subscribe(f, sale, false, 0, &chunk_sink, c, &c->fk.sub), KITO_OK);
    kito_feed_start(c->fk.sub);
    return c;
}

Test(feed, chunked_writes_one_buffer_shared_by_subscribers)
{
    kito_feed *f = make(64, 64, 10, 4);
    struct chunky *a = subscribe_chunked(f, 5), *b = subscribe_chunked(f, 5);
    struct fake *plain = subscribe(f, 5, false, 0);
    cr_assert_neq(a->last_base, b->last_base, "a preamble is each subscriber's own");
    drain(&a->fk);
    drain(&b->fk);
    drain(plain);
    for (uint32_t s = 1; s <= 3; s++) {
        publish_bid(f, 5, 900, s, 1000 + s, 10000 * s, 1000);
        cr_assert_eq(a->last_base, b->last_base, "one shared buffer for the same frames");
        drain(&a->fk);
        drain(&b->fk);
        drain(plain);
    }
    /* a subscriber behind gets the frames it lacks in one chunk of its own */
    for (uint32_t s = 4; s <= 6; s++) {
        publish_bid(f, 5, 900, s, 1000 + s, 10000 * s, 1000);
        drain(&b->fk);
        drain(plain);
    }
    int writes = a->fk.writes;
    drain(&a->fk); /* its write of frame 4 finished: frames 5 and 6 follow, together */
    cr_assert_eq(a->fk.writes, writes + 1);
    cr_assert_eq(b->fk.writes, writes + 2);
    /* the same bytes as a plain subscriber gets, once unframed */
    cr_assert_str_eq(a->fk.buf, plain->buf);
    cr_assert_str_eq(b->fk.buf, plain->buf);
    size_t n = frames(a->fk.buf, fs, 8192);
    cr_assert_eq(n, 7, "%s", a->fk.buf);
    cr_assert(strstr(a->raw, "transfer") == NULL);
    kito_feed_shutdown(f);
    cr_assert(a->closed && b->closed, "shutdown ends each chunked stream with the empty chunk");
    cr_assert(strstr(a->fk.buf, "event: shutdown") != NULL);
    cr_assert(plain->ended && strstr(plain->buf, "0\r\n\r\n") == NULL, "plain streams unframed");
}

Test(feed, chunked_heartbeat_drop_and_batch_bound)
{
    struct kito_feed_limits lim;
    kito_feed_limits_default(&lim);
    lim.ring_events = 64;
    lim.backlog_events = 20;
    lim.write_frames = 4;
    lim.heartbeat_ms = 1000;
    kito_feed *f = make_with(&lim, key);
    kito_feed_tick(f, 100);
    struct chunky *a = subscribe_chunked(f, 5), *slow = subscribe_chunked(f, 5);
    drain(&a->fk);
    kito_feed_tick(f, 1200);
    cr_assert_str_eq(a->fk.buf + strlen(a->fk.buf) - 3, ":\n\n", "a heartbeat, as a chunk");
    drain(&a->fk);
    /* a is slow for a while (writes in flight, unacknowledged): then at most write_frames
     * frames a write */
    for (uint32_t s = 1; s <= 10; s++)
        publish_bid(f, 5, 900, s, 1000 + s, 10000 * s, 1200);
    int before = a->fk.writes;
    drain(&a->fk);
    cr_assert_eq(a->fk.writes - before, 3, "10 frames, 4 a write: 4 + 4 + 2 after the first");
    cr_assert_eq(frames(a->fk.buf, fs, 8192), 11);
    /* the never-acknowledging subscriber falls past the backlog: dropped, its end is a chunk */
    for (uint32_t s = 11; s <= 25; s++) {
        publish_bid(f, 5, 900, s, 1000 + s, 10000 * s, 1200);
        drain(&a->fk);
    }
    cr_assert(!slow->fk.ended, "the drop waits for its write in flight");
    slow->fk.writing = false;
    kito_feed_written(slow->fk.sub);
    cr_assert(slow->fk.ended && slow->closed);
    cr_assert(strstr(slow->fk.buf, "event: dropped") != NULL);
}
