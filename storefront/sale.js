// A sale: its lots (thumbnail, species, weight, origin, price, bids, state, time left), kept
// current by the live feed, and the buyer's registration to bid.
import { apply, t, tn } from '/i18n.js';
import {
  el, getJSON, me, money, origin, param, send, showError, startPage, stoneTitle, timeLeft, when, fill,
 } from '/api.js';
import { openLive } from '/live.js';
import '/console/clerk-strings.js';

const page = document.getElementById('page');
const saleId = param('id');
let sale = null, lots = new Map(), live = null;

function priceLine(lot) {
  if (lot.state === 'sold') return t('lot.sold_at', { x: money(lot.price) });
  if (lot.price) return `${t('lot.price')} ${money(lot.price)}`;
  return `${t('lot.opening')} ${money(lot.opening)}`;
}

function bidsLine(lot) {
  return lot.bid_count > 0 ? tn('lot.bids', lot.bid_count) : t('lot.bids_none');
}

function leftLine(lot) {
  if (lot.state !== 'open' && lot.state !== 'closing') return '';
  const left = timeLeft(lot.ends_at);
  return left ? `${t('lot.time_left')} ${left}` : '';
}

function lotCard(lot) {
  const s = lot.stone;
  const thumb = s.cover_photo
    ? el('img', { src: `${s.cover_photo}`, alt: '', width: 72, height: 72, loading: 'lazy', class: 'thumb' })
    : el('span', { class: 'thumb', 'aria-hidden': 'true' });
  return el('li', { class: 'card lot', 'data-lot': lot.id },
    thumb,
    el('div', {},
      el('a', { href: `/lot.html?id=${encodeURIComponent(lot.id)}`, class: 'title' },
        `${lot.lot_number}. ${stoneTitle(s)}`),
      el('p', { class: 'meta' }, [s.species, s.colour].filter(Boolean).join(' · '), ' · ', origin(s)),
      el('p', { class: 'price', 'data-field': 'price' }, priceLine(lot)),
      el('p', { class: 'meta' },
        el('span', { 'data-field': 'state', class: `state-${lot.state}` }, t(`lot.state.${lot.state}`)),
        ' · ', el('span', { 'data-field': 'bids' }, bidsLine(lot)),
        ' ', el('span', { 'data-field': 'left' }, leftLine(lot))),
    ));
}

function refreshCard(lot) {
  const card = page.querySelector(`[data-lot="${lot.id}"]`);
  if (!card) return;
  card.querySelector('[data-field=price]').textContent = priceLine(lot);
  const st = card.querySelector('[data-field=state]');
  st.textContent = t(`lot.state.${lot.state}`);
  st.className = `state-${lot.state}`;
  card.querySelector('[data-field=bids]').textContent = bidsLine(lot);
  card.querySelector('[data-field=left]').textContent = leftLine(lot);
}

// A live event: applied to its lot if it is newer than what the page shows.
function onEvent(type, ev) {
  const lot = lots.get(ev.lot_id);
  if (!lot || ev.seq < lot.seq) return;
  lot.seq = ev.seq;
  lot.state = ev.state;
  if (ev.price !== undefined) lot.price = ev.price;
  if (ev.ask !== undefined) lot.ask = ev.ask;
  if (typeof ev.bid_count === 'number') lot.bid_count = ev.bid_count;
  if (type === 'extended' && ev.ends_at) lot.ends_at = ev.ends_at;
  if (type === 'sold' && ev.hammer) lot.price = ev.hammer;
  refreshCard(lot);
}

// A live sale's room (buyers) and its clerk's desk (the organiser, an operator).
async function liveLinks() {
  const who = await me();
  const desk = who && ['organizer', 'operator'].includes(who.role);
  return el('p', { class: 'live-links' },
    el('a', { href: `/live-room.html?sale=${encodeURIComponent(saleId)}`, i18n: 'sale.live_room' }),
    desk ? [' · ', el('a', { href: `/console/clerk.html?sale=${encodeURIComponent(saleId)}`, i18n: 'clerk.title' })] : null);
}

async function registration() {
  const box = el('section', { class: 'register', 'aria-labelledby': 'reg-title' },
    el('h2', { id: 'reg-title', i18n: 'reg.title' }));
  const who = await me();
  if (!who) {
    box.append(el('p', {}, el('a', { href: `/signin.html?next=${encodeURIComponent(location.pathname + location.search)}`, i18n: 'reg.signin' })));
    return box;
  }
  if (who.role !== 'buyer') return null;
  const r = await getJSON(`/v1/sales/${encodeURIComponent(saleId)}/approval`);
  const status = el('p', { id: 'reg-status', role: 'status' });
  box.append(status);
  if (r.status === 'none') {
    status.textContent = t('reg.none');
    const b = el('button', { type: 'button', i18n: 'reg.button' });
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        await send('POST', `/v1/sales/${encodeURIComponent(saleId)}/registrations`);
        box.replaceWith(await registration());
        apply(page);
      } catch (err) { showError(status, err); b.disabled = false; }
    });
    box.append(b);
  } else if (r.status === 'approved') {
    status.textContent = t('reg.approved');
    box.append(el('dl', { class: 'facts' },
      el('div', { class: 'row' }, el('dt', { i18n: 'reg.paddle' }), el('dd', { id: 'paddle' }, r.paddle_number ?? '—')),
      el('div', { class: 'row' }, el('dt', { i18n: 'reg.limit' }), el('dd', {}, r.limit ? money(r.limit) : t('reg.no_limit')))));
  } else {
    status.textContent = t(`reg.${r.status}`);
  }
  return box;
}

async function load() {
  const [s, l] = await Promise.all([
    getJSON(`/v1/sales/${encodeURIComponent(saleId)}`),
    getJSON(`/v1/sales/${encodeURIComponent(saleId)}/lots?limit=100`),
  ]);
  sale = s;
  lots = new Map(l.items.map((x) => [x.id, x]));
}

async function render() {
  try {
    if (!sale) await load();
    document.title = `Kito — ${sale.title}`;
    fill(page, 
      el('h1', {}, sale.title),
      el('p', { class: 'meta' }, el('span', { i18n: `format.${sale.format}` }), ' · ',
        sale.online ? el('span', { i18n: 'sale.online' }) : (sale.venue ?? '')),
      el('p', { class: 'meta' }, el('span', { i18n: 'sale.starts' }), ' ', when(sale.starts_at),
        sale.ends_at ? [' · ', el('span', { i18n: 'sale.ends' }), ` ${when(sale.ends_at)}`] : null),
      sale.description ? el('p', {}, sale.description) : null,
      sale.format === 'live' ? await liveLinks() : null,
      el('p', { class: 'meta' }, el('span', { i18n: 'sale.premium' }), ` ${sale.buyer_premium_bps / 100}%`),
      await registration(),
      el('h2', { i18n: 'sale.lots_title' }),
      el('p', { class: 'meta', id: 'live', role: 'status' }),
      el('ul', { class: 'cards', id: 'lots' }, [...lots.values()].map(lotCard)),
    );
    apply(page);
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

async function resync() {
  await load();
  render();
}

startPage(async () => {
  await render();
  if (!live && sale) {
    live = openLive(saleId, {
      event: onEvent,
      resync,
      state: (on) => {
        const s = document.getElementById('live');
        if (s) s.textContent = on ? t('live.on') : t('live.reconnecting');
      },
    });
    window.kitoLive = live;
    setInterval(() => { for (const lot of lots.values()) refreshCard(lot); }, 1000);
  }
});
