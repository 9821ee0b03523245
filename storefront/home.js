import { apply } from '/i18n.js';
import { el, getJSON, showError, startPage, when } from '/api.js';

async function checkStatus() {
  const status = document.getElementById('status');
  let state = 'degraded';
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = await res.json();
    if (res.ok && body.status === 'ok') state = 'ok';
  } catch (_) { /* offline or unreachable: degraded */ }
  status.dataset.state = state;
  status.dataset.i18n = `status.${state}`;
  apply(status.parentElement);
}

async function listSales() {
  const list = document.getElementById('sales');
  try {
    // Sales a visitor can still take part in: open ones, then those published and to come, each
    // soonest first. (All sales by start time put the oldest, long closed, first: once there were
    // fifty of them the current ones were never shown.)
    const [open, upcoming] = await Promise.all([
      getJSON('/v1/sales?status=open&limit=50'),
      getJSON('/v1/sales?status=published&limit=50'),
    ]);
    const items = [...open.items, ...upcoming.items];
    list.replaceChildren(...items.map((s) => el('li', { class: 'card' },
      el('a', { href: `/sale.html?id=${encodeURIComponent(s.id)}`, class: 'title' }, s.title),
      el('p', { class: 'meta' },
        el('span', { i18n: `format.${s.format}` }), ' · ',
        s.online ? el('span', { i18n: 'sale.online' }) : s.venue, ' · ',
        `${s.lot_count} `, el('span', { i18n: 'sale.lots' })),
      el('p', { class: 'meta' }, el('span', { i18n: 'sale.starts' }), ' ', when(s.starts_at)),
    )));
    if (items.length === 0) list.replaceChildren(el('li', { i18n: 'sales.none' }));
    apply(list);
  } catch (err) {
    showError(list, err);
  }
  list.removeAttribute('aria-busy');
}

startPage(listSales);
checkStatus();
