/*
 * The live feed (issue 5): every PUBLIC lot event of a sale, as Server-Sent Events, to everyone
 * watching it (GET /v1/sales/{id}/live, api/http/routes_feed.c). Loop thread only.
 *
 * Source. The market calls kito_feed_market_listener for every command once Redis confirmed its
 * batch (api/live/market.h, kito_market_set_listener): nothing reaches the feed that Redis may not
 * hold. Only PUBLIC events pass (engine/event.h); BIDDER events (a maximum, a sealed tender bid,
 * "you were outbid") never do. Tender lots are filtered twice: besides the audience rule only
 * their opened, paused, resumed and final events (sold, unsold, withdrawn) pass, so no trace of a
 * sealed bid can reach the feed even if the engine emitted one by mistake. Bidders appear as an
 * anonymous token per lot (kito_feed_bidder_token: a keyed hash of lot and bidder, stable for a
 * lot, unlinkable across lots), plus "floor": true for paddles.
 *
 * Frames. Each event is rendered once into an SSE frame and shared by every subscriber:
 *     id: <event id>\nevent: <type>\ndata: <one line of JSON>\n\n
 * The event id is a sale-wide counter, contiguous within the feed (a client that sees ids jump
 * knows it missed frames), offset by base = the millisecond the sale's ring was made x 1000, so
 * ids keep growing across restarts of kitod and an id from an earlier ring is recognised as
 * outside the ring. Ids stay below 2^53 (safe in JavaScript). Per-lot seq numbers in the data
 * have gaps by design where a command had no public event (tender bids, absentee maximums).
 *
 * The ring. Per sale, the last ring_events frames (refcounted: the ring holds one reference).
 * A subscriber is a cursor into its sale's ring (the number of the next frame to write), so it
 * costs no memory per event. Writes are one at a time: up to write_frames frames per write, the
 * next write when the sink says the last one finished.
 *
 * Writes. Each write is ONE buffer (a batch: the frames copied together), because h2o 2.2.5
 * turns every buffer of a write into its own TLS record (or several: it caps records at ~1,400
 * bytes for a connection's first 200 KB). Over HTTP/1.1 the route declares
 * `Transfer-Encoding: chunked` itself and the feed frames each batch as one chunk (sink
 * `chunked`): h2o's own chunked encoder would add a chunk header and a CRLF as two more buffers,
 * i.e. three TLS records per write for the client to decrypt instead of one. The bytes on the
 * wire are the same chunked SSE stream either way. Batches are refcounted and the sale keeps its
 * last one per framing: subscribers at the same cursor (after a fan-out, nearly all of them)
 * share it, so a frame is copied once per loop turn, not once per subscriber.
 *
 * Fan-out. Publishing adds frames to the ring at once; with a loop, the sale's subscribers are
 * written from a uv_check handle, after the loop's poll phase: the callbacks of the Redis batch
 * that confirmed the commands (the bidders' answers) run first, and each subscriber gets all the
 * frames of that loop turn in one write rather than one write per event.
 *
 * Resume. A subscriber may give the id of the last event it saw (Last-Event-ID): if every frame
 * after it is still in the ring and there are at most backlog_events of them, it gets exactly
 * those, then the live ones; otherwise it gets `event: resync` (refetch the lot views) and
 * continues from now. A fresh subscriber first gets `event: ready` carrying the current id.
 * After a Redis failure the rings also get an `event: resync` frame of their own (with an id:
 * kito_feed_resync), since the rebuilt books may hold commands the feed never heard of.
 *
 * Bounds.
 *   - Subscribers: max_subscribers per process; past it kito_feed_subscribe answers
 *     KITO_E_CAPACITY (the route answers 503 "capacity" with Retry-After).
 *   - Slow clients: a subscriber more than backlog_events frames behind the newest is dropped:
 *     its stream ends (after an `event: dropped` frame) and it reconnects with Last-Event-ID
 *     (usually to a resync). A write still unfinished after stall_ms cuts its connection (the
 *     sink's abort). Each subscriber holds at most write_frames frames: memory never grows with
 *     a client's slowness, and nothing ever waits for a client. (Without memory for a batch a
 *     subscriber is dropped the same way.)
 *   - Sales: rings for at most max_sales sales at once; a new sale takes the ring of the sale
 *     idle longest that has no subscriber. If all have subscribers, events of further sales are
 *     not kept (counted in events_unkept) and subscribing to them answers KITO_E_CAPACITY.
 *   - Memory: at most max_sales x ring_events frames of at most KITO_FEED_FRAME_MAX bytes (the
 *     defaults: 64 x 4,096 x 640 B = 160 MiB in the worst case; ~300 B a frame in practice),
 *     plus one batch in flight per subscriber (shared when cursors agree) and the last batch of
 *     each framing kept per sale, each at most write_frames frames and a preamble (~21 KiB with
 *     the defaults).
 *   - The heap: a fan-out makes h2o allocate a 4 KiB TLS output buffer per subscriber at once
 *     and free them all a turn later, so with a loop kito_feed_create raises glibc's trim
 *     threshold to 8 KiB x max_subscribers (mallopt, process-wide): free heap up to that size is
 *     kept for the next fan-out instead of being returned and page-faulted back every time.
 * Private notices (issue 16). A subscriber may be a signed-in buyer (kito_feed_set_viewer: the
 * route resolved her session). BIDDER events about her -- her bid taken (with her maximum and
 * whether she leads), outbid -- and her winning a lot reach her stream, and only hers, as
 * `event: mine` frames with no id: they are not in the ring, other subscribers never see them,
 * and they do not move her Last-Event-ID. They carry the lot's seq and her anonymous token
 * ("you"), so her page knows which of the feed's bidders is she. They are written in the same
 * write as the public frames of their loop turn, after them. Bound: KITO_FEED_MINE_MAX bytes
 * waiting per subscriber; past it she is dropped like a slow client (`event: dropped`), and her
 * page refetches on reconnect. Notices missed while disconnected are not replayed: the lot views
 * a page refetches say whether she leads (leader_is_you). Cost: a bid's BIDDER events look at the
 * sale's subscribers only when one of them is signed in (n_viewers > 0).
 * Heartbeat: a comment line to every subscriber idle for heartbeat_ms (proxies keep the stream
 * open and dead peers are found by the write).
 */
#ifndef KITO_FEED_H
#define KITO_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>
#include <uv.h>

#include "api/live/market.h"
#include "engine/err.h"

/* The largest rendered frame (bytes); the renderer's fields are bounded well below it. */
#define KITO_FEED_FRAME_MAX 640
/* The most frames one write carries. */
#define KITO_FEED_WRITE_MAX 64
/* Private frames waiting per subscriber (bytes); a notice is ~300. */
#define KITO_FEED_MINE_MAX 4096
/* Anonymous bidder token: "b" + 12 hex digits + NUL. */
#define KITO_FEED_TOKEN_SIZE 14

typedef struct kito_feed kito_feed;
typedef struct kito_feed_sub kito_feed_sub;

struct kito_feed_limits {
    uint32_t ring_events;     /* frames kept per sale for resume (>= 16) */
    uint32_t backlog_events;  /* a subscriber further behind is dropped (1 .. ring_events) */
    uint32_t max_subscribers; /* per process */
    uint32_t max_sales;       /* rings at once */
    uint32_t write_frames;    /* frames per write (1 .. KITO_FEED_WRITE_MAX) */
    uint32_t heartbeat_ms;    /* a comment to subscribers idle this long */
    uint32_t stall_ms;        /* a write unfinished this long cuts the connection */
};

/* 4,096 frames a sale, backlog 4,096, 20,000 subscribers, 64 sales, 32 frames a write,
 * heartbeat 15 s, stall 60 s. */
void kito_feed_limits_default(struct kito_feed_limits *lim);

/* How a subscriber's bytes leave (api/http/routes_feed.c: an h2o streaming response; unit tests: a
 * fake). Called on the loop, never re-entrantly for one subscriber. */
struct kito_feed_sink {
    /* Writes n buffers (the feed always gives one), keeping the stream open. The buffers stay
     * valid until the sink calls kito_feed_written(sub); there is never more than one write in
     * flight per subscriber. */
    void (*write)(void *ctx, h2o_iovec_t *bufs, size_t n);
    /* Writes text (static storage) and ends the stream. The subscriber is freed before this
     * returns: the sink must not call the feed about it again. */
    void (*end)(void *ctx, h2o_iovec_t text);
    /* A write did not finish within stall_ms: cut the connection. The sink still calls
     * kito_feed_gone (or kito_feed_written) for the subscriber later. May be NULL. */
    void (*abort)(void *ctx);
    /* The transport is HTTP/1.1 and the response declared `Transfer-Encoding: chunked` itself:
     * the feed frames every write as one chunk, and end's text as a last chunk followed by the
     * terminating empty chunk. False: the bytes are the stream itself (HTTP/2, HTTP/1.0). */
    bool chunked;
};

/* Creates the feed. loop may be NULL (unit tests): then no timer runs and the caller calls
 * kito_feed_tick itself. key (32 bytes, copied) keys the anonymous bidder tokens. KITO_E_CONFIG
 * for limits out of range, KITO_E_NOMEM, KITO_E_INTERNAL (OpenSSL could not key the HMAC). */
kito_err kito_feed_create(uv_loop_t *loop, const struct kito_feed_limits *lim,
                          const uint8_t key[32], kito_feed **out);

/* Ends every stream (kito_feed_shutdown) and frees the feed; subscribers whose write is in
 * flight are released without calling their sink again (their connections are being closed).
 * With a loop the memory is freed once the timer handle has closed. Accepts NULL. */
void kito_feed_free(kito_feed *f);

/* Ends every subscriber's stream (`event: shutdown`), as on SIGTERM, and refuses new ones. */
void kito_feed_shutdown(kito_feed *f);

/* The market listener (api/live/market.h): publishes note's public events to its sale's ring and
 * subscribers. ud is the feed. */
void kito_feed_market_listener(void *ud, const struct kito_market_note *note);

/* Publishes one command's events at time now_ms (the clock the feed uses for heartbeats);
 * what kito_feed_market_listener does with uv_now. */
void kito_feed_publish(kito_feed *f, const struct kito_market_note *note, uint64_t now_ms);

/* Adds `event: resync` (reason "rebuilt"), with the next id, to every sale's ring and writes it
 * to the subscribers: events may be missing from the rings that no id gap shows, so subscribers,
 * and clients resuming from an earlier id, must refetch the lot views. Without memory for the
 * frame, a sale's subscribers are dropped and no resume may cross this point. */
void kito_feed_resync(kito_feed *f);

/* The market's rebuilt listener (kito_market_set_rebuilt_listener; ud is the feed): after a Redis
 * failure the market reloads its lots from Redis, which may hold commands whose batch failed
 * (the reply was lost) and whose events the feed therefore never got; kito_feed_resync. */
void kito_feed_market_rebuilt(void *ud);

/* Adds a subscriber to sale_id's feed. has_last/last_id: the Last-Event-ID the client sent.
 * Nothing is written until kito_feed_start. KITO_E_CAPACITY (subscriber or sale bound),
 * KITO_E_UNAVAILABLE (shutting down), KITO_E_NOMEM. */
kito_err kito_feed_subscribe(kito_feed *f, uint64_t sale_id, bool has_last, uint64_t last_id,
                             const struct kito_feed_sink *sink, void *ctx, kito_feed_sub **out);

/* Makes s the stream of signed-in account_id (0: anonymous, nothing changes): her private
 * notices come on it too ("Private notices" above). Call before kito_feed_start. */
void kito_feed_set_viewer(kito_feed_sub *s, uint64_t account_id);

/* Starts writing (the response headers are out): the preamble (`retry`, then `ready` or
 * `resync`), the frames a resume missed, then live frames as they come. */
void kito_feed_start(kito_feed_sub *s);

/* The sink's last write finished: writes what is waiting, or ends a dropped subscriber. */
void kito_feed_written(kito_feed_sub *s);

/* The client left (h2o's stop): releases the subscriber. Never call the sink for it again. */
void kito_feed_gone(kito_feed_sub *s);

/* Heartbeats and stall checks at now_ms (the timer calls it every heartbeat_ms / 3). */
void kito_feed_tick(kito_feed *f, uint64_t now_ms);

/* True if sale_id was marked public (kito_feed_mark_public) and still has a ring: the route
 * may skip its database lookup. */
bool kito_feed_sale_public(const kito_feed *f, uint64_t sale_id);

/* Notes that sale_id exists and is public (the route checked the database). */
void kito_feed_mark_public(kito_feed *f, uint64_t sale_id);

/* The anonymous token for bidder `who` on lot_id, as the feed shows it: "b" + 12 hex digits.
 * Exposed so a bid response can tell a buyer which token is hers. */
void kito_feed_bidder_token(const kito_feed *f, uint64_t lot_id, uint64_t who,
                            char out[KITO_FEED_TOKEN_SIZE]);

struct kito_feed_stats {
    uint64_t events_published; /* frames added to rings */
    uint64_t events_filtered;  /* events kept off the feed (BIDDER audience, tender rule) */
    uint64_t events_private;   /* private notices given to a viewer's stream */
    uint64_t events_unkept;    /* public events of a sale that got no ring (sale bound) */
    uint64_t subscribed;       /* subscriptions accepted */
    uint64_t refused;          /* subscriptions refused (capacity) */
    uint64_t resumed;          /* subscriptions that resumed inside the ring */
    uint64_t resynced;         /* subscriptions told to resync */
    uint64_t dropped_slow;     /* subscribers dropped for their backlog */
    uint64_t aborted_stalled;  /* connections cut for a stalled write */
    uint64_t frames_written;   /* frames handed to sinks */
    uint32_t subscribers;      /* now */
    uint32_t sales;            /* rings now */
};

void kito_feed_stats(const kito_feed *f, struct kito_feed_stats *out);

/* A lot's public history as the feed kept it (issue 16: a lot page's bid history): calls each
 * with the data JSON (len bytes, not NUL-terminated; borrowed for the call) of every `book`,
 * `bid_undone` and final (`sold`, `unsold`, `withdrawn`) frame of lot_id still in its sale's
 * ring, newest first, at most max of them. Returns how many. The ring holds the sale's last
 * ring_events frames since this process started: older history is not there. */
size_t kito_feed_lot_history(kito_feed *f, uint64_t sale_id, uint64_t lot_id, size_t max,
                             void (*each)(void *ud, const char *data, size_t len), void *ud);

/* The external id of the newest frame of sale_id (base + count), or 0 if it has no ring. */
uint64_t kito_feed_last_id(const kito_feed *f, uint64_t sale_id);

#endif
