// The sale's live feed (GET /v1/sales/{id}/live, Server-Sent Events) for the sale and lot pages.
// Events are applied by each lot's seq (an event older than what the page shows is ignored);
// after a drop the feed is reopened with the last event id, so the server replays what was
// missed; on `resync` (too much missed, or the server reloaded its books) the page refetches
// everything. A signed-in buyer's own notices (`mine`: bid taken, outbid, won) come on the same
// stream; the session cookie goes with it.
//
// Event ids are contiguous within the feed (api/live/feed.h): an id that jumps past the last one
// seen means frames were missed on this very connection, and the page resyncs as on `resync`.
//
// handlers: { event(type, data, id), mine(data), resync(), state(connected: boolean) }
const TYPES = ['opened', 'book', 'reserve_met', 'extended', 'ask_changed', 'step_changed',
  'fair_warning', 'paused', 'resumed', 'bid_undone', 'sold', 'unsold', 'withdrawn'];

export function openLive(saleId, handlers) {
  let es = null, lastId = null, timer = null, closed = false, failures = 0;
  const url = () => `/v1/sales/${encodeURIComponent(saleId)}/live` +
    (lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : '');

  function connect() {
    es = new EventSource(url());
    es.addEventListener('open', () => { failures = 0; handlers.state?.(true); });
    for (const type of TYPES) {
      es.addEventListener(type, (e) => {
        const gap = lastId !== null && e.lastEventId && Number(e.lastEventId) > Number(lastId) + 1;
        if (e.lastEventId) lastId = e.lastEventId;
        // (the refetch the resync makes holds this event's effect too)
        if (gap) handlers.resync();
        else handlers.event(type, JSON.parse(e.data), e.lastEventId);
      });
    }
    es.addEventListener('ready', (e) => { if (e.lastEventId) lastId = e.lastEventId; });
    es.addEventListener('resync', (e) => {
      if (e.lastEventId) lastId = e.lastEventId;
      handlers.resync();
    });
    es.addEventListener('mine', (e) => handlers.mine?.(JSON.parse(e.data)));
    // A drop (or `dropped`, `shutdown`, which end the stream): the browser would reconnect by
    // itself, but to the URL it first opened, whose last_event_id is stale by then; reconnect
    // here with the newest id instead.
    // Waits grow (1, 2, 4 ... 30 s) while the server keeps refusing (full, restarting).
    const retry = () => cut(Math.min(30000, 1000 * 2 ** Math.min(failures++, 5)));
    es.addEventListener('error', retry);
    for (const end of ['dropped', 'shutdown']) es.addEventListener(end, retry);
  }

  function reconnectSoon(afterMs = 500) {
    if (closed || timer) return;
    timer = setTimeout(() => { timer = null; if (!closed) connect(); }, afterMs);
  }

  // Drops the connection as a network failure would, and reconnects from the last id after
  // afterMs (a test cuts it for longer, to miss events on purpose).
  function cut(afterMs = 500) {
    es?.close();
    handlers.state?.(false);
    reconnectSoon(afterMs);
  }

  connect();
  return {
    cut,
    close() { closed = true; es?.close(); },
    get lastId() { return lastId; },
  };
}
