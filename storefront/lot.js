// A lot: photos, the certificate and its check, the bid box (next ask, maximum bid, fee preview),
// where the buyer stands, bid history, a countdown on the server's clock, watch; kept current by
// the live feed (live.js).
import { apply, t, tn } from '/i18n.js';
import {
  amountText, el, getJSON, me, money, origin, param, parseAmount, premium, send, showError,
  startPage, timeLeft, when, whenZoned, fill,
 } from '/api.js';
import { stoneName, term } from '/glossary.js';
import { currencySelect, estimateEl, loadRates } from '/fx.js';
import { openLive } from '/live.js';
import { payInstructions, row } from '/pay.js';

const page = document.getElementById('page');
const lotId = param('id');
let lot = null, sale = null, stone = null, cert = null, who = null, approval = null;
let mine = { bid: null, token: null, leading: false }; // the buyer's own standing
let watching = false, extended = false, live = null, invoice = null;
const history = []; // {token, floor, price, at}, newest first

// The certificate as its valuer signed it, and whether Kito's signature over it holds.
function certificate() {
  const { doc, check } = cert;
  const c = doc.certificate;
  const ok = check.genuine && check.current;
  const g = c.geographic_origin ?? {};
  const ev = c.estimated_value;
  return el('section', { class: 'certificate', 'aria-labelledby': 'cert-title' },
    el('h2', { id: 'cert-title', i18n: 'cert.title' }),
    el('p', { id: 'cert-check', class: ok ? 'ok' : 'warn', 'data-genuine': String(check.genuine) },
      el('span', { i18n: ok ? 'cert.genuine' : check.genuine ? 'cert.superseded' : 'cert.not_genuine' }),
      ` (${c.id}, v${c.version})`),
    el('dl', {},
      row('cert.species', `${term('species', c.species)}${c.variety ? ` (${term('variety', c.variety)})` : ''}`),
      row('cert.weight', `${(c.weight_cct / 100).toFixed(2)} ct`),
      row('cert.shape', [term('shape', c.shape), term('cut', c.cutting_style)].filter(Boolean).join(', ')),
      row('cert.color', term('colour', c.color)),
      row('cert.transparency', term('transparency', c.transparency)),
      row('cert.treatment', term('treatment', c.treatment)),
      row('cert.origin', [g.site, g.region, g.country].filter(Boolean).join(', ')),
      ev ? row('cert.estimate', `${money({ amount: ev.low, currency: ev.currency })} – ${money({ amount: ev.high, currency: ev.currency })}`) : null,
      c.valuer ? row('cert.valuer', `${c.valuer.name}, ${when(c.issued_at)}`) : null,
    ),
    el('p', { class: 'meta' }, el('span', { i18n: check.stone_provenance_intact ? 'cert.chain_ok' : 'cert.chain_broken' })),
    el('p', {}, el('a', { href: '/glossary.html', i18n: 'gloss.link' })),
  );
}

function photos() {
  const list = stone?.photos ?? [];
  if (list.length === 0) return null;
  return el('div', { class: 'photos' }, list.slice(0, 6).map((p, i) =>
    // sized for phones: 640 px for 320 CSS px on a 2x screen (GET /v1/photos/{sha256}/sized/640)
    el('img', { src: `${p.url}/sized/640`, alt: `${stoneName(lot.stone)} — ${i + 1}`, width: 320, height: 320,
      loading: i === 0 ? 'eager' : 'lazy', decoding: 'async' })));
}

const final = () => ['sold', 'unsold', 'withdrawn'].includes(lot.state);

// "You are the highest bidder" and its kin, from what the page knows of her.
function standingKey() {
  if (!who || !mine.bid) return null;
  if (lot.state === 'sold') return mine.leading ? 'you.won' : 'you.lost';
  if (final()) return mine.leading ? null : 'you.lost';
  return mine.leading ? 'you.leading' : 'you.outbid';
}

function stateText() {
  if (lot.state === 'sold') return t('lot.sold_at', { x: money(lot.price) });
  return t(`lot.state.${lot.state}`);
}

function feeLine(amountMinor) {
  const h = { amount: amountMinor, currency: lot.opening.currency };
  const p = { amount: premium(amountMinor, sale.buyer_premium_bps), currency: h.currency };
  const total = { amount: h.amount + p.amount, currency: h.currency };
  return t('bid.fees', { h: money(h), p: money(p), t: money(total) });
}

function bidBox() {
  const box = el('section', { class: 'bidbox', 'aria-labelledby': 'bid-title' },
    el('h2', { id: 'bid-title', i18n: 'bid.title' }));
  if (final() || lot.state === 'scheduled' && sale.format === 'live') {
    if (final()) box.append(el('p', { i18n: 'bid.closed' }));
    return box;
  }
  if (!who) {
    box.append(el('p', {}, el('a', { href: `/signin.html?next=${encodeURIComponent(location.pathname + location.search)}`, i18n: 'bid.signin' })));
    return box;
  }
  if (who.role !== 'buyer') return null;
  if (approval?.status !== 'approved') {
    box.append(el('p', {}, el('span', { i18n: 'bid.not_approved' }), ' ',
      el('a', { href: `/sale.html?id=${encodeURIComponent(lot.sale_id)}`, i18n: 'reg.button' })));
    return box;
  }
  const ask = lot.ask?.amount ?? lot.opening.amount;
  const input = el('input', { id: 'max-bid', name: 'amount', inputmode: 'decimal', autocomplete: 'off',
    value: amountText(ask), 'aria-describedby': 'proxy-note next-ask fee-preview' });
  const fee = el('p', { id: 'fee-preview', class: 'meta', 'aria-live': 'polite' }, feeLine(ask));
  input.addEventListener('input', () => {
    const v = parseAmount(input.value);
    fee.textContent = v ? feeLine(v) : '';
  });
  const msg = el('p', { id: 'bid-message', role: 'alert' });
  const form = el('form', { class: 'form', novalidate: true },
    el('p', { id: 'next-ask' }, t('bid.next', { x: money({ amount: ask, currency: lot.opening.currency }) })),
    el('label', { for: 'max-bid' }, `${t('bid.max')} (${lot.opening.currency})`),
    input,
    el('p', { id: 'proxy-note', class: 'meta', i18n: 'bid.proxy' }),
    fee,
    el('button', { type: 'submit', i18n: 'bid.button' }),
    msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const amount = parseAmount(input.value);
    if (!amount) { msg.textContent = t('bid.bad_amount'); return; }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const r = await send('POST', `/v1/lots/${encodeURIComponent(lotId)}/bids`, { amount },
        { 'Idempotency-Key': crypto.randomUUID() });
      if (r.your_bid) {
        mine.bid = r.your_bid;
        mine.leading = r.your_bid.leading;
      }
      applyView(r.lot);
      msg.textContent = t('bid.placed');
    } catch (err) {
      if (err.code === 'below_ask' && err.body?.ask) {
        msg.textContent = t('bid.too_low', { x: money(err.body.ask) });
      } else if (err.status === 403) {
        msg.textContent = t('bid.not_approved');
      } else {
        msg.textContent = err.message || t('error.generic');
      }
    }
    button.disabled = false;
  });
  box.append(form);
  return box;
}

function watchButton() {
  if (!who || who.role !== 'buyer') return null;
  const b = el('button', { type: 'button', id: 'watch', 'aria-pressed': String(watching), i18n: 'watch.button' });
  const note = el('span', { class: 'meta', id: 'watch-note', i18n: watching ? 'watch.on' : 'watch.off' });
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await send(watching ? 'DELETE' : 'PUT', `/v1/me/watchlist/${encodeURIComponent(lotId)}`);
      watching = !watching;
      b.setAttribute('aria-pressed', String(watching));
      note.dataset.i18n = watching ? 'watch.on' : 'watch.off';
      apply(note.parentElement);
    } catch (_) { /* unchanged */ }
    b.disabled = false;
  });
  return el('p', { class: 'watch' }, b, ' ', note);
}

function historyList() {
  return el('section', { 'aria-labelledby': 'history-title' },
    el('h2', { id: 'history-title', i18n: 'history.title' }),
    history.length === 0 ? el('p', { class: 'meta', i18n: 'history.none' })
      : el('ol', { id: 'history', class: 'history' }, history.map((h) => el('li', {},
        el('span', {}, money(h.price)), ' · ',
        el('span', {}, `${t('history.bidder')} ${h.token ?? '—'}`,
          h.token && h.token === mine.token ? ` ${t('history.you')}` : '',
          h.floor ? ` ${t('history.floor')}` : ''),
        ' · ', el('time', { datetime: h.at ?? '' }, h.at ? new Date(h.at).toLocaleTimeString() : '')))));
}

function invoiceBox() {
  if (!(who && lot.state === 'sold' && mine.leading)) return null;
  if (!invoice) return el('p', { id: 'invoice', class: 'meta', i18n: 'inv.waiting' });
  return el('section', { id: 'invoice', 'aria-labelledby': 'inv-title' },
    el('h2', { id: 'inv-title' }, `${t('inv.number')} ${invoice.inv.number}`),
    payInstructions(invoice.inv, invoice.methods));
}

let invoiceTries = 0;
async function fetchInvoice() {
  if (invoice || invoiceTries > 30) return;
  invoiceTries++;
  try {
    const [list, methods] = await Promise.all([getJSON('/v1/me/invoices?limit=100'), getJSON('/v1/payment-methods')]);
    const inv = list.items.find((i) => i.lot_id === lotId);
    if (inv) { invoice = { inv, methods }; update(); return; }
  } catch (_) { /* try again */ }
  setTimeout(fetchInvoice, 1000); // settlement runs after the close, usually within a second
}

// The countdown's value: time left on the server's clock, or "Closed" once it has run out.
function countdownText() {
  if (final()) return stateText();
  return timeLeft(lot.ends_at) ?? t('lot.closed');
}

function standingEl() {
  const standing = standingKey();
  return el('p', { id: 'standing', role: 'status', class: standing ? `standing ${standing.replace('.', '-')}` : 'standing' },
    standing ? t(standing) : '');
}

function factsEl() {
  const s = lot.stone;
  return el('dl', { class: 'facts', id: 'facts' },
    row('lot.species', [term('species', s.species), term('variety', s.variety)].filter(Boolean).join(' — ')),
    row('lot.weight', `${s.weight_ct} ct`),
    row('lot.origin', origin(s)),
    row('lot.state', stateText(), { id: 'lot-state' }),
    lot.price && lot.state !== 'sold' ? row('lot.price', money(lot.price), { id: 'price' }) : null,
    row('lot.opening', money(lot.opening)),
    row('lot.bids', lot.bid_count > 0 ? tn('lot.bids', lot.bid_count) : t('lot.bids_none'), { id: 'bid-count' }),
    lot.ends_at ? row('lot.closes', whenZoned(lot.ends_at), { id: 'closes' }) : null,
    final() ? null : row('lot.time_left', countdownText(), { id: 'countdown' }),
    el('div', { class: 'row' }, el('dt', { i18n: 'lot.reserve' }), el('dd', { i18n: lot.has_reserve ? (lot.reserve_met ? 'lot.reserve_met' : 'lot.reserve_not_met') : 'lot.no_reserve' })),
  );
}

const slot = (id, child) => el('div', { id }, child);

// The price (or the hammer, or the opening) in her chosen currency, labelled as an estimate.
function fxSlot() {
  if (!sale) return slot('fx-slot', null);
  const select = currencySelect(() => {
    const old = document.getElementById('fx-slot');
    if (old) { const n = fxSlot(); old.replaceWith(n); apply(n); }
  });
  return slot('fx-slot', [select.querySelector('option:nth-child(2)') ? select : null, estimateSlot()]);
}
const estimateSlot = () => slot('estimate-slot', estimateEl(lot.price ?? lot.opening, 'estimate'));

// The whole page, once (and after a language switch or a resync).
function draw() {
  fill(page, 
    el('p', { class: 'meta' }, el('a', { href: `/sale.html?id=${encodeURIComponent(lot.sale_id)}`, i18n: 'lot.back' })),
    el('h1', {}, `${lot.lot_number}. ${stoneName(lot.stone)}`),
    photos(),
    standingEl(),
    factsEl(),
    fxSlot(),
    slot('extended-slot', extended && !final() ? el('p', { class: 'meta', i18n: 'lot.extended' }) : null),
    slot('invoice-slot', invoiceBox()),
    slot('bid-slot', bidBox()),
    watchButton(),
    el('p', { class: 'meta', id: 'live', role: 'status' }),
    slot('history-slot', historyList()),
    cert ? certificate() : null,
  );
  apply(page);
  drawnFinal = final();
}

// What an event changes, in place: a buyer typing her bid keeps her input and its focus.
let drawnFinal = false;
function update() {
  const swap = (id, node) => {
    const old = document.getElementById(id);
    if (old && node) { old.replaceWith(node); apply(node); }
  };
  const st = document.getElementById('standing'), fresh = standingEl();
  if (st) { st.className = fresh.className; st.textContent = fresh.textContent; }
  swap('facts', factsEl());
  swap('estimate-slot', estimateSlot());
  swap('extended-slot', slot('extended-slot', extended && !final() ? el('p', { class: 'meta', i18n: 'lot.extended' }) : null));
  swap('invoice-slot', slot('invoice-slot', invoiceBox()));
  swap('history-slot', slot('history-slot', historyList()));
  if (final() !== drawnFinal) {
    swap('bid-slot', slot('bid-slot', bidBox()));
    drawnFinal = final();
  } else {
    const ask = lot.ask?.amount;
    const next = document.getElementById('next-ask');
    const input = document.getElementById('max-bid');
    if (ask && next) next.textContent = t('bid.next', { x: money({ amount: ask, currency: lot.opening.currency }) });
    if (ask && input && document.activeElement !== input && (parseAmount(input.value) ?? 0) < ask) {
      input.value = amountText(ask);
      document.getElementById('fee-preview').textContent = feeLine(ask);
    }
  }
}

// The order book's view of the lot (a bid's answer, a refetch) over what the page shows.
function applyView(v) {
  if (!v || v.seq < lot.seq) return;
  Object.assign(lot, {
    state: v.state, price: v.price, ask: v.ask, bid_count: v.bid_count, seq: v.seq,
    ends_at: v.ends_at ?? lot.ends_at, reserve_met: v.reserve_met,
  });
  if (who && mine.bid) mine.leading = v.leader_is_you;
  update();
}

function onEvent(type, ev) {
  if (ev.lot_id !== lotId || ev.seq < lot.seq) return;
  lot.seq = ev.seq;
  lot.state = ev.state;
  if (ev.price !== undefined) lot.price = ev.price;
  if (ev.ask !== undefined) lot.ask = ev.ask;
  if (typeof ev.bid_count === 'number') lot.bid_count = ev.bid_count;
  if (type === 'reserve_met') lot.reserve_met = true;
  if (type === 'extended' && ev.ends_at) { lot.ends_at = ev.ends_at; extended = true; }
  if (type === 'book' && ev.price && !history.some((h) => h.seq === ev.seq)) {
    history.unshift({ seq: ev.seq, token: ev.leader, floor: ev.floor, price: ev.price, at: ev.at });
    if (mine.bid) mine.leading = ev.leader === mine.token;
  }
  if (type === 'sold') {
    if (ev.hammer) lot.price = ev.hammer;
    if (mine.bid) mine.leading = ev.winner === mine.token || mine.leading;
    if (mine.leading) fetchInvoice();
  }
  update();
}

// Her own notices (outbid, won) arrive on her stream, at once.
function onMine(n) {
  if (n.lot_id !== lotId) return;
  mine.token = n.you;
  if (n.type === 'bid_accepted') { mine.bid = mine.bid ?? { amount: n.your_max }; mine.leading = n.leading; }
  if (n.type === 'outbid') { mine.bid = mine.bid ?? {}; mine.leading = false; }
  if (n.type === 'won') { mine.bid = mine.bid ?? {}; mine.leading = true; fetchInvoice(); }
  update();
}

async function load() {
  lot = await getJSON(`/v1/lots/${encodeURIComponent(lotId)}`);
  // the bid history the server's feed kept, newest first; live events add to it
  history.length = 0;
  for (const h of lot.history ?? []) {
    if (h.type === 'book' && h.price) history.push({ seq: h.seq, token: h.leader, floor: h.floor, price: h.price, at: h.at });
  }
  document.title = `Kito — ${stoneName(lot.stone)}`;
  const id = lot.stone.certificate_id;
  const [s, st, c, mb, ap, wl] = await Promise.all([
    getJSON(`/v1/sales/${encodeURIComponent(lot.sale_id)}`),
    getJSON(`/v1/stones/${encodeURIComponent(lot.stone.id)}`).catch(() => null),
    id ? Promise.all([getJSON(`/v1/certificates/${encodeURIComponent(id)}`),
      getJSON(`/v1/certificates/${encodeURIComponent(id)}/verify`)]).catch(() => null) : null,
    who?.role === 'buyer' ? getJSON(`/v1/lots/${encodeURIComponent(lotId)}/my-bid`).catch(() => null) : null,
    who?.role === 'buyer' ? getJSON(`/v1/sales/${encodeURIComponent(lot.sale_id)}/approval`).catch(() => null) : null,
    who?.role === 'buyer' ? getJSON('/v1/me/watchlist?limit=100').catch(() => null) : null,
  ]);
  sale = s;
  await loadRates(sale.currency);
  stone = st;
  cert = c ? { doc: c[0], check: c[1] } : null;
  approval = ap;
  watching = !!wl?.items?.some((w) => w.lot_id === lotId);
  if (mb?.bid) { mine.bid = mb.bid; mine.leading = mb.bid.leading; }
  // a lot the books no longer hold (it closed before the server last started): her win is what
  // the settlement recorded
  else if (who?.role === 'buyer' && lot.state === 'sold' && lot.leader_is_you) { mine.bid = {}; mine.leading = true; }
  if (who && lot.state === 'sold' && mine.leading) fetchInvoice();
}

async function render() {
  try {
    if (!lot) await load();
    draw();
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

startPage(async () => {
  who = await me();
  await render();
  if (live || !lot) return;
  live = openLive(lot.sale_id, {
    event: onEvent,
    mine: onMine,
    resync: async () => { lot = null; await render(); },
    state: (on) => {
      const s = document.getElementById('live');
      if (s) s.textContent = on ? t('live.on') : t('live.reconnecting');
    },
  });
  window.kitoLive = live;
  setInterval(() => {
    const c = document.getElementById('countdown');
    if (c && lot) c.textContent = countdownText();
  }, 1000);
});
