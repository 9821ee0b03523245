// The live room (issue 17): the buyer's side of a live sale, at a phone's size. The lot the
// clerk is selling, its photo, the standing bid, the next ask and one tap to bid it; the clerk's
// fair warning and pause; each lot's end (sold, passed); what comes next; the results so far.
// Kept current by the sale's feed (live.js), applied by seq (live-lots.js): the room shows what
// the server has, never a bid before the server took it.
import '/console/clerk-strings.js';
import { apply, t } from '/i18n.js';
import { el, fill, getJSON, me, money, param, send, showError, startPage, stoneTitle } from '/api.js';
import { openLive } from '/live.js';
import { applyEvent, applyView, isRunning, loadLots } from '/live-lots.js';

const page = document.getElementById('page');
const saleId = param('sale');
let sale = null, lots = new Map(), live = null, who = null, approval = null;
const you = new Map(); // lot id -> her anonymous token on that lot (from her own notices)
let banner = { key: null, vars: null }; // the last lot's end (sold, won, not sold)
let note = ''; // her last bid's answer

const running = () => [...lots.values()].find(isRunning) ?? null;
const upcoming = () => [...lots.values()].filter((l) => l.state === 'scheduled');

function standing(lot) {
  const token = you.get(lot.id);
  if (!token || !lot.price) return '';
  if (lot.leader_token === token) return t('room.leading');
  return t('room.outbid');
}

function bidButton(lot) {
  if (!who) {
    return el('p', {}, el('a', { href: `/signin.html?next=${encodeURIComponent(location.pathname + location.search)}`, i18n: 'room.signin' }));
  }
  if (who.role !== 'buyer') return null;
  if (approval?.status !== 'approved') return el('p', { i18n: 'room.not_approved' });
  const ask = lot.ask ?? lot.opening;
  const b = el('button', { type: 'button', id: 'bid-now', class: 'bid-now', disabled: lot.paused || null },
    t('room.bid', { x: money(ask) }));
  b.addEventListener('click', () => bid(lot.id, ask));
  return b;
}

async function bid(lotId, ask) {
  const lot = lots.get(lotId);
  const b = document.getElementById('bid-now');
  if (b) b.disabled = true;
  try {
    const r = await send('POST', `/v1/lots/${encodeURIComponent(lotId)}/bids`, { amount: ask.amount },
      { 'Idempotency-Key': crypto.randomUUID() });
    applyView(lot, r.lot);
    note = t('room.bid_sent', { x: money(ask) });
  } catch (err) {
    if (err.code === 'below_ask' && err.body?.ask) note = t('room.too_low', { x: money(err.body.ask) });
    else if (err.status === 403) note = t('room.not_approved');
    else note = err.message || t('error.generic');
  }
  update();
}

function currentPanel() {
  const lot = running();
  if (!lot) {
    const next = upcoming()[0];
    return el('section', { id: 'room-lot', 'aria-labelledby': 'now-title' },
      el('h2', { id: 'now-title', i18n: 'room.now' }),
      el('p', { id: 'room-state' }, t(next ? 'room.waiting' : 'room.over')));
  }
  return el('section', { id: 'room-lot', 'aria-labelledby': 'now-title', 'data-lot': lot.id, 'data-seq': String(lot.seq) },
    el('h2', { id: 'now-title' }, `${t('room.now')}: ${t('clerk.lot', { n: lot.lot_number })}, ${stoneTitle(lot.stone)}`),
    lot.stone.cover_photo
      ? el('img', { src: lot.stone.cover_photo, alt: stoneTitle(lot.stone), width: 320, height: 320, class: 'cover' })
      : null,
    el('dl', { class: 'facts' },
      el('div', { class: 'row' }, el('dt', { i18n: 'room.price' }), el('dd', { id: 'room-price' },
        lot.price ? `${money(lot.price)} (${t(lot.leader_floor ? 'room.floor' : 'room.online')})` : t('clerk.no_bid'))),
      el('div', { class: 'row' }, el('dt', { i18n: 'room.ask' }), el('dd', { id: 'room-ask', class: 'room-ask' }, money(lot.ask ?? lot.opening)))),
    el('p', { id: 'room-warning', class: 'banner', role: 'alert' },
      lot.paused ? t('room.paused') : lot.state === 'closing' ? t('room.fair_warning') : ''),
    el('p', { id: 'room-standing', class: 'standing', role: 'status' }, standing(lot)),
    bidButton(lot),
    el('p', { id: 'room-note', class: 'meta', role: 'status' }, note));
}

function resultText(lot) {
  if (lot.state === 'sold') return t('clerk.result_sold', { x: money(lot.price) });
  if (lot.state === 'unsold') return t('clerk.result_unsold');
  if (lot.state === 'withdrawn') return t('clerk.result_withdrawn');
  return t('clerk.result_pending');
}

function restPanel() {
  const next = upcoming().slice(0, 4);
  return el('div', {},
    el('section', { 'aria-labelledby': 'next-title' },
      el('h2', { id: 'next-title', i18n: 'room.next' }),
      next.length === 0 ? el('p', { class: 'meta' }, '—')
        : el('ol', { id: 'room-next', class: 'history' }, next.map((l) => el('li', {},
          `${t('clerk.lot', { n: l.lot_number })}: ${stoneTitle(l.stone)} · ${t('clerk.opening')} ${money(l.opening)}`)))),
    el('section', { 'aria-labelledby': 'results-title' },
      el('h2', { id: 'results-title', i18n: 'clerk.results' }),
      el('ul', { id: 'results', class: 'results' }, [...lots.values()].map((l) => el('li', {
        'data-lot': l.id, 'data-state': l.state, 'data-hammer': l.state === 'sold' ? String(l.price?.amount) : '',
      }, `${t('clerk.lot', { n: l.lot_number })}: ${resultText(l)}`)))));
}

function bannerText() {
  return banner.key ? t(banner.key, banner.vars) : '';
}

function draw() {
  document.title = `Kito — ${t('room.title')} — ${sale.title}`;
  fill(page,
    el('h1', {}, `${t('room.title')}: ${sale.title}`),
    el('p', { class: 'meta', id: 'live', role: 'status' }),
    el('p', { id: 'room-last', class: 'banner', role: 'status' }, bannerText()),
    el('div', { id: 'current-slot' }, currentPanel()),
    el('div', { id: 'rest-slot' }, restPanel()));
  apply(page);
}

// Redraws in place; the bid button keeps its focus when it stays the same lot's.
function update() {
  if (!sale) return;
  const focused = document.activeElement?.id === 'bid-now';
  const swap = (slot, node) => { const s = document.getElementById(slot); if (s) { fill(s, node); apply(s); } };
  const last = document.getElementById('room-last');
  if (last) last.textContent = bannerText();
  swap('current-slot', currentPanel());
  swap('rest-slot', restPanel());
  if (focused) document.getElementById('bid-now')?.focus();
}

function onEvent(type, ev) {
  const lot = lots.get(ev.lot_id);
  if (!lot) return;
  const before = lot.id;
  if (!applyEvent(lot, type, ev)) return;
  if (type === 'sold') {
    const won = you.get(before) && you.get(before) === ev.winner;
    banner = { key: won ? 'room.sold_you' : 'room.sold', vars: { n: lot.lot_number, x: money(lot.price) } };
    note = '';
  } else if (type === 'unsold') {
    banner = { key: 'room.unsold', vars: { n: lot.lot_number } };
    note = '';
  } else if (type === 'opened') {
    note = '';
  }
  update();
}

function onMine(n) {
  if (n.you) you.set(n.lot_id, n.you);
  update();
}

async function load() {
  const [s, l] = await Promise.all([getJSON(`/v1/sales/${encodeURIComponent(saleId)}`), loadLots(saleId)]);
  sale = s;
  lots = l;
  approval = who?.role === 'buyer'
    ? await getJSON(`/v1/sales/${encodeURIComponent(saleId)}/approval`).catch(() => null) : null;
}

async function render() {
  try {
    who = await me();
    if (!sale) await load();
    draw();
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

startPage(async () => {
  await render();
  if (live || !sale) return;
  live = openLive(saleId, {
    event: onEvent,
    mine: onMine,
    resync: async () => { try { await load(); update(); } catch (err) { console.error(err); } },
    state: (on) => {
      const s = document.getElementById('live');
      if (s) s.textContent = on ? t('live.on') : t('live.reconnecting');
    },
  });
  window.kitoLive = live;
});
