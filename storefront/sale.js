// A sale: its lots (thumbnail, species, weight, origin, price, bids, state, time left), kept
// current by the live feed, and the buyer's registration to bid.
import { addStrings, apply, t, tn } from '/i18n.js';
import {
  amountText, el, getJSON, me, money, origin, param, parseAmount, send, showError, startPage, timeLeft, when, fill,
 } from '/api.js';
import { openLive } from '/live.js';
import '/console/clerk-strings.js';
import { TERMS, stoneName, term } from '/glossary.js';

addStrings({
  en: {
    'find.title': 'Find a stone', 'find.q': 'Search', 'find.q_hint': 'For example: tanzanite, blue, Manyara',
    'find.species': 'Species', 'find.any_species': 'All species', 'find.min_weight': 'Lightest (ct)',
    'find.max_weight': 'Heaviest (ct)', 'find.min_price': 'Lowest price', 'find.max_price': 'Highest price',
    'find.show': 'Show lots', 'find.clear': 'Clear', 'find.found_one': '1 lot found', 'find.found_many': '{n} lots found',
    'find.none': 'No lot matches; try fewer words or a wider range.', 'find.more': 'Show more lots',
    'find.bad': 'Weights are carats (for example 1.5) and prices amounts (for example 250).',
  },
  sw: {
    'find.title': 'Tafuta jiwe', 'find.q': 'Tafuta', 'find.q_hint': 'Kwa mfano: tanzanite, bluu, Manyara',
    'find.species': 'Aina', 'find.any_species': 'Aina zote', 'find.min_weight': 'Uzito wa chini (ct)',
    'find.max_weight': 'Uzito wa juu (ct)', 'find.min_price': 'Bei ya chini', 'find.max_price': 'Bei ya juu',
    'find.show': 'Onyesha loti', 'find.clear': 'Futa', 'find.found_one': 'Loti 1 imepatikana', 'find.found_many': 'Loti {n} zimepatikana',
    'find.none': 'Hakuna loti inayolingana; jaribu maneno machache au kiwango kipana zaidi.', 'find.more': 'Onyesha loti zaidi',
    'find.bad': 'Uzito ni karati (kwa mfano 1.5) na bei ni kiasi (kwa mfano 250).',
  },
});

const page = document.getElementById('page');
const saleId = param('id');
let sale = null, lots = new Map(), live = null, next = null;

// The filters, as the lots list takes them (GET /v1/sales/{id}/lots; prices in minor units) and
// as the page's address keeps them, so a reload or a shared link shows the same lots.
const FILTERS = ['q', 'species', 'min_weight_ct', 'max_weight_ct', 'min_price', 'max_price'];
const filters = Object.fromEntries(FILTERS.map((k) => [k, param(k) ?? '']));

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
    ? el('img', { src: `${s.cover_photo}/sized/160`, alt: '', width: 72, height: 72, loading: 'lazy', class: 'thumb' })
    : el('span', { class: 'thumb', 'aria-hidden': 'true' });
  return el('li', { class: 'card lot', 'data-lot': lot.id },
    thumb,
    el('div', {},
      el('a', { href: `/lot.html?id=${encodeURIComponent(lot.id)}`, class: 'title' },
        `${lot.lot_number}. ${stoneName(s)}`),
      el('p', { class: 'meta' }, [term('species', s.species), term('colour', s.colour)].filter(Boolean).join(' · '),
        ' · ', origin(s)),
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

function lotsPath(cursor) {
  const q = new URLSearchParams({ limit: '100' });
  for (const k of FILTERS) if (filters[k]) q.set(k, filters[k]);
  if (cursor) q.set('cursor', cursor);
  return `/v1/sales/${encodeURIComponent(saleId)}/lots?${q}`;
}

// One more page of lots; a price filter can make a page short (the server applies it to the
// order books' prices after reading the page), so short pages are followed a few times.
async function loadMore(cursor) {
  let got = 0;
  for (let i = 0; i < 10; i++) {
    const l = await getJSON(lotsPath(cursor));
    for (const x of l.items) lots.set(x.id, x);
    got += l.items.length;
    cursor = l.next_cursor;
    if (!cursor || got >= 20) break;
  }
  next = cursor;
}

async function load() {
  const [s] = await Promise.all([
    getJSON(`/v1/sales/${encodeURIComponent(saleId)}`),
    (async () => { lots = new Map(); await loadMore(null); })(),
  ]);
  sale = s;
}

function foundLine() {
  if (lots.size === 0) return t('find.none');
  return next ? '' : tn('find.found', lots.size);
}

function lotList() {
  const more = next ? el('button', { type: 'button', id: 'more-lots', i18n: 'find.more' }) : null;
  more?.addEventListener('click', async () => {
    more.disabled = true;
    try { await loadMore(next); } catch (err) { showError(document.getElementById('found'), err); }
    showLots();
  });
  return [
    el('p', { class: 'meta', id: 'found', role: 'status' }, foundLine()),
    el('ul', { class: 'cards', id: 'lots' }, [...lots.values()].map(lotCard)),
    more,
  ];
}

function showLots() {
  const box = document.getElementById('lot-list');
  if (!box) return;
  fill(box, lotList());
  apply(box);
  box.removeAttribute('aria-busy');
}

// The filter form: a search, species, weight and price; sent to the server, which filters.
function findForm() {
  const cur = sale.currency;
  const field = (id, key, labelKey, attrs = {}) => [
    el('label', { for: id }, `${t(labelKey)}${attrs.currency ? ` (${cur})` : ''}`),
    el('input', { id, name: key, value: attrs.value ?? filters[key], inputmode: attrs.inputmode, type: attrs.type ?? 'text',
      autocomplete: 'off', 'aria-describedby': attrs.describedby }),
  ];
  const species = el('select', { id: 'find-species', name: 'species' },
    el('option', { value: '' }, t('find.any_species')),
    Object.keys(TERMS.species).map((k) => el('option', { value: k }, term('species', k))));
  species.value = filters.species;
  const price = (k) => (filters[k] ? amountText(Number(filters[k])) : '');
  const msg = el('p', { id: 'find-error', class: 'warn', role: 'alert' });
  const form = el('form', { class: 'form find', role: 'search', 'aria-labelledby': 'find-title' },
    el('h2', { id: 'find-title', i18n: 'find.title' }),
    field('find-q', 'q', 'find.q', { type: 'search', describedby: 'find-q-hint' }),
    el('p', { id: 'find-q-hint', class: 'meta', i18n: 'find.q_hint' }),
    el('label', { for: 'find-species', i18n: 'find.species' }), species,
    el('div', { class: 'pair' },
      el('div', {}, field('find-min-weight', 'min_weight_ct', 'find.min_weight', { inputmode: 'decimal' })),
      el('div', {}, field('find-max-weight', 'max_weight_ct', 'find.max_weight', { inputmode: 'decimal' }))),
    el('div', { class: 'pair' },
      el('div', {}, field('find-min-price', 'min_price', 'find.min_price', { inputmode: 'decimal', currency: true, value: price('min_price') })),
      el('div', {}, field('find-max-price', 'max_price', 'find.max_price', { inputmode: 'decimal', currency: true, value: price('max_price') }))),
    el('div', { class: 'actions' },
      el('button', { type: 'submit', i18n: 'find.show' }),
      el('button', { type: 'reset', class: 'secondary', i18n: 'find.clear' })),
    msg);
  const submit = async (values) => {
    msg.textContent = '';
    Object.assign(filters, values);
    const url = new URL(location.href);
    for (const k of FILTERS) if (filters[k]) url.searchParams.set(k, filters[k]); else url.searchParams.delete(k);
    history.replaceState(null, '', url);
    const list = document.getElementById('lot-list');
    list?.setAttribute('aria-busy', 'true'); // until the server's answer is shown
    try { lots = new Map(); await loadMore(null); } catch (err) {
      list?.removeAttribute('aria-busy');
      if (err.status === 422) { msg.textContent = t('find.bad'); return; }
      throw err;
    }
    showLots();
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const v = (k) => String(f.get(k) ?? '').trim();
    const amount = (k) => {
      if (!v(k)) return '';
      const minor = parseAmount(v(k));
      return minor ? String(minor) : 'x'; // 'x': the server names the bad one
    };
    submit({ q: v('q'), species: v('species'), min_weight_ct: v('min_weight_ct'), max_weight_ct: v('max_weight_ct'),
      min_price: amount('min_price'), max_price: amount('max_price') }).catch((err) => showError(msg, err));
  });
  form.addEventListener('reset', (e) => {
    e.preventDefault();
    for (const input of form.querySelectorAll('input')) input.value = '';
    species.value = '';
    submit(Object.fromEntries(FILTERS.map((k) => [k, '']))).catch((err) => showError(msg, err));
  });
  return form;
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
      findForm(),
      el('p', { class: 'meta', id: 'live', role: 'status' }),
      el('div', { id: 'lot-list' }, lotList()),
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
