// What the organiser's pages share: her sale (loaded once per page), the sale's own navigation
// (details, lots, bidders, after the sale) and its one-line summary.
import { apply, t } from '/i18n.js';
import { el, getJSON, param } from '/api.js';
import { whenIn } from '/console/console.js';
import '/console/organiser-strings.js';

export async function loadSale() {
  const id = param('id');
  if (!id) throw Object.assign(new Error('no sale'), { status: 404 });
  return getJSON(`/v1/sales/${encodeURIComponent(id)}`);
}

const TABS = [
  ['organiser-sale.html', 'org.tab.details'], ['organiser-lots.html', 'org.tab.lots'],
  ['organiser-bidders.html', 'org.tab.bidders'], ['organiser-results.html', 'org.tab.results'],
];

// The sale's heading block: title, status, format and times, and its tabs.
export function saleHeader(sale) {
  const here = location.pathname.split('/').pop();
  const nav = el('nav', { class: 'subnav', 'aria-label': t('org.tab.nav') },
    TABS.map(([page, key]) => el('a', {
      href: `/console/${page}?id=${encodeURIComponent(sale.id)}`, i18n: key,
      'aria-current': page === here ? 'page' : null,
    })));
  const box = el('div', {},
    el('p', { class: 'meta' },
      el('strong', {}, sale.title), ' · ', t(`org.status.${sale.status}`), ' · ', t(`format.${sale.format}`),
      ' · ', `${t('sale.starts')} ${whenIn(sale.starts_at, sale.time_zone)}`,
      sale.ends_at ? ` · ${t('sale.ends')} ${whenIn(sale.ends_at, sale.time_zone)}` : '',
      sale.time_zone ? ` (${sale.time_zone})` : ''),
    nav);
  apply(box);
  return box;
}
