import { apply } from '/i18n.js';
import { el, getJSON, money, param, reserveKey, showError, startPage, stoneTitle, when } from '/api.js';

const page = document.getElementById('page');

function lotCard(lot) {
  const live = lot.price ? [el('span', { i18n: 'lot.price' }), ' ', money(lot.price)]
    : [el('span', { i18n: 'lot.opening' }), ' ', money(lot.opening)];
  const reserve = reserveKey(lot);
  return el('li', { class: 'card lot', 'data-lot': lot.id },
    el('a', { href: `/lot.html?id=${encodeURIComponent(lot.id)}`, class: 'title' },
      `${lot.lot_number}. ${stoneTitle(lot.stone)}`),
    el('p', { class: 'meta' }, lot.stone.colour ?? '', lot.stone.colour ? ' · ' : '',
      lot.stone.origin_region ? `${lot.stone.origin_region}, ` : '', lot.stone.origin_country),
    el('p', { class: 'price' }, ...live),
    el('p', { class: 'meta' }, el('span', { i18n: reserve }), ' · ',
      el('span', { i18n: 'lot.ends' }), ' ', when(lot.ends_at)),
  );
}

async function render() {
  const id = param('id');
  try {
    const [sale, lots] = await Promise.all([
      getJSON(`/v1/sales/${encodeURIComponent(id)}`),
      getJSON(`/v1/sales/${encodeURIComponent(id)}/lots?limit=100`),
    ]);
    document.title = `Kito — ${sale.title}`;
    page.replaceChildren(
      el('h1', {}, sale.title),
      el('p', { class: 'meta' }, el('span', { i18n: `format.${sale.format}` }), ' · ',
        sale.online ? el('span', { i18n: 'sale.online' }) : sale.venue),
      el('p', { class: 'meta' }, el('span', { i18n: 'sale.starts' }), ' ', when(sale.starts_at),
        sale.ends_at ? ' · ' : '', sale.ends_at ? el('span', { i18n: 'sale.ends' }) : '',
        sale.ends_at ? ` ${when(sale.ends_at)}` : ''),
      sale.description ? el('p', {}, sale.description) : null,
      el('p', { class: 'meta' }, el('span', { i18n: 'sale.premium' }), ` ${sale.buyer_premium_bps / 100}%`),
      el('h2', { i18n: 'sale.lots_title' }),
      el('ul', { class: 'cards', id: 'lots' }, ...lots.items.map(lotCard)),
    );
    apply(page);
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

startPage(render);
