// The organiser's sales: her drafts and published sales, newest start first, and "New sale".
import { t, tn } from '/i18n.js';
import { el, fill, getJSON } from '/api.js';
import { consolePage, whenIn } from '/console/console.js';
import '/console/organiser-strings.js';

let mine = [];

async function init(who) {
  // GET /v1/sales lists every published sale and, for her, her own drafts: keep hers.
  let cursor = null;
  mine = [];
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ limit: '100' });
    if (cursor) q.set('cursor', cursor);
    const res = await getJSON(`/v1/sales?${q}`);
    mine.push(...res.items.filter((s) => who.role === 'operator' || s.organizer_id === who.id));
    cursor = res.next_cursor;
    if (!cursor) break;
  }
  mine.sort((a, b) => b.starts_at.localeCompare(a.starts_at));
}

function render() {
  const rows = mine.map((s) => el('tr', {},
    el('td', {}, el('a', { href: `/console/organiser-sale.html?id=${encodeURIComponent(s.id)}` }, s.title)),
    el('td', {}, t(`format.${s.format}`)),
    el('td', {}, t(`org.status.${s.status}`)),
    el('td', {}, whenIn(s.starts_at, s.time_zone)),
    el('td', {}, tn('org.lots_n', s.lot_count ?? 0))));
  fill(document.getElementById('content'),
    el('p', {}, el('a', { href: '/console/organiser-sale.html', class: 'button-link' }, t('org.new_sale'))),
    mine.length === 0 ? el('p', {}, t('org.no_sales')) : el('div', { class: 'table-wrap' },
      el('table', {},
        el('caption', { class: 'meta' }, t('org.sales.caption')),
        el('thead', {}, el('tr', {}, ['org.col.title', 'org.col.format', 'org.col.status', 'org.col.starts', 'org.col.lots']
          .map((k) => el('th', { scope: 'col' }, t(k))))),
        el('tbody', {}, rows))));
}

consolePage(['organizer', 'operator'], { init, render });
