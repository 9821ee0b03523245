// My Kito: my bids (winning or outbid), wins, watchlist, invoices with how to pay them, and her
// account (password, language: account.js).
import { apply, t } from '/i18n.js';
import { el, getJSON, me, money, showError, startPage, fill } from '/api.js';
import { stoneName } from '/glossary.js';
import { payInstructions } from '/pay.js';
import { accountSection } from '/account.js';

const page = document.getElementById('page');
const names = new Map(); // lot id -> "3. Tanzanite, 4.02 ct"

async function lotName(id) {
  if (!names.has(id)) {
    names.set(id, getJSON(`/v1/lots/${encodeURIComponent(id)}`)
      .then((l) => `${l.lot_number}. ${stoneName(l.stone)}`).catch(() => id));
  }
  return names.get(id);
}

const lotLink = async (id) => el('a', { href: `/lot.html?id=${encodeURIComponent(id)}` }, await lotName(id));

function section(id, titleKey, items) {
  return el('section', { 'aria-labelledby': `${id}-title`, id },
    el('h2', { id: `${id}-title`, i18n: titleKey }),
    items.length ? el('ul', { class: 'cards' }, items) : el('p', { class: 'meta', i18n: 'me.none' }));
}

async function render() {
  const who = await me();
  if (!who) {
    fill(page, el('h1', { i18n: 'me.title' }),
      el('p', {}, el('a', { href: '/signin.html?next=%2Fme.html', i18n: 'me.signin' })));
    apply(page);
    page.removeAttribute('aria-busy');
    return;
  }
  try {
    const [bids, wins, watch, invoices, methods] = await Promise.all([
      getJSON('/v1/me/bids?limit=50'), getJSON('/v1/me/wins?limit=50'),
      getJSON('/v1/me/watchlist?limit=50'), getJSON('/v1/me/invoices?limit=50'),
      getJSON('/v1/payment-methods'),
    ]);
    const bidItems = await Promise.all(bids.items.map(async (b) => el('li', { class: 'card' },
      await lotLink(b.lot_id),
      el('p', { class: b.bid.leading ? 'ok' : 'warn' }, t(b.bid.leading ? 'me.winning' : 'me.outbid')),
      el('p', { class: 'meta' }, `${t('me.your_max')} ${money(b.bid.amount)}`,
        b.lot ? ` · ${t('lot.price')} ${money(b.lot.price)} · ${t(`lot.state.${b.lot.state}`)}` : ''))));
    const winItems = await Promise.all(wins.items.map(async (w) => el('li', { class: 'card' },
      await lotLink(w.lot_id),
      el('p', { class: 'ok' }, `${t('you.won')} · ${money(w.hammer ?? w.lot?.price)}`))));
    const watchItems = await Promise.all(watch.items.map(async (w) => el('li', { class: 'card' },
      await lotLink(w.lot_id),
      w.lot ? el('p', { class: 'meta' }, `${t(`lot.state.${w.lot.state}`)} · ${money(w.lot.price ?? w.lot.opening)}`) : null)));
    const invItems = await Promise.all(invoices.items.map(async (inv) => el('li', { class: 'card invoice-card' },
      el('h3', {}, `${t('inv.number')} ${inv.number}`),
      await lotLink(inv.lot_id),
      payInstructions(inv, methods))));
    fill(page, 
      el('h1', { i18n: 'me.title' }),
      el('p', { class: 'meta' }, who.name),
      section('invoices', 'me.invoices', invItems),
      section('wins', 'me.wins', winItems),
      section('bids', 'me.bids', bidItems),
      section('watchlist', 'me.watchlist', watchItems),
      accountSection(render),
    );
    apply(page);
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

startPage(render);
