// A live sale's lots as the server has them, kept current by its feed (live.js): shared by the
// clerk's console (console/clerk.js) and the live room (live-room.js). Nothing here guesses:
// a lot changes only by an event of the feed (applied by the lot's seq; older ones are ignored)
// or by a view the server answered with (a refetch, an action's answer, equally by seq).
import { getJSON } from '/api.js';

// The sale's lots in order: Map id -> lot (the API's lot, its order book's fields overlaid).
export async function loadLots(saleId) {
  const l = await getJSON(`/v1/sales/${encodeURIComponent(saleId)}/lots?limit=100`);
  const items = [...l.items].sort((a, b) => a.position - b.position);
  return new Map(items.map((x) => [x.id, { ...x, paused: !!x.paused, seq: x.seq ?? 0 }]));
}

// Applies one feed event to its lot; false if it was older than what the lot shows.
export function applyEvent(lot, type, ev) {
  if (!lot || ev.seq < lot.seq) return false;
  lot.seq = ev.seq;
  lot.state = ev.state;
  if (ev.price !== undefined) lot.price = ev.price;
  if (ev.ask !== undefined) lot.ask = ev.ask;
  if (typeof ev.bid_count === 'number') lot.bid_count = ev.bid_count;
  if (type === 'paused') lot.paused = true;
  if (type === 'resumed') lot.paused = false;
  if (type === 'reserve_met') lot.reserve_met = true;
  if (type === 'sold' && ev.hammer) lot.price = ev.hammer;
  if (type === 'sold' || type === 'unsold' || type === 'withdrawn') lot.paused = false;
  if ('leader' in ev) { lot.leader_token = ev.leader; lot.leader_floor = !!ev.floor; }
  if (type === 'sold') { lot.leader_token = ev.winner; lot.leader_floor = !!ev.floor; }
  return true;
}

// Applies an order book view the server answered with (same fields as the lot's overlay).
export function applyView(lot, v) {
  if (!lot || !v || v.seq < lot.seq) return false;
  for (const k of ['state', 'price', 'ask', 'bid_count', 'reserve_met', 'seq', 'paused']) {
    if (k in v) lot[k] = v[k];
  }
  return true;
}

export const isFinal = (lot) => ['sold', 'unsold', 'withdrawn'].includes(lot.state);
export const isRunning = (lot) => lot.state === 'open' || lot.state === 'closing';

// The lot the room is on: the first running one, else the first not yet offered; null when
// every lot is final.
export function currentLot(lots) {
  const all = [...lots.values()];
  return all.find(isRunning) ?? all.find((l) => l.state === 'scheduled') ?? null;
}
