import { apply, tn } from '/i18n.js';
import { el, getJSON, showError, startPage, when, fill } from '/api.js';

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

function saleCard(s) {
  return el('li', { class: 'card' },
    el('a', { href: `/sale.html?id=${encodeURIComponent(s.id)}`, class: 'title' }, s.title),
    el('p', { class: 'meta' },
      el('span', { i18n: `format.${s.format}` }), ' · ',
      s.online ? el('span', { i18n: 'sale.online' }) : (s.venue ?? ''), ' · ',
      tn('sale.lot', s.lot_count ?? 0)),
    el('p', { class: 'meta' }, el('span', { i18n: s.status === 'open' ? 'sale.ends' : 'sale.starts' }),
      ' ', when(s.status === 'open' && s.ends_at ? s.ends_at : s.starts_at)),
  );
}

async function listSales() {
  const box = document.getElementById('sales');
  try {
    // Sales a visitor can still take part in: open ones, then those published and to come, each
    // soonest first. (All sales by start time put the oldest, long closed, first: once there were
    // fifty of them the current ones were never shown.)
    const [open, upcoming] = await Promise.all([
      getJSON('/v1/sales?status=open&limit=50'),
      getJSON('/v1/sales?status=published&limit=50'),
    ]);
    const parts = [];
    for (const [key, items] of [['sales.open', open.items], ['sales.upcoming', upcoming.items]]) {
      if (items.length === 0) continue;
      parts.push(el('h3', { i18n: key }), el('ul', { class: 'cards' }, items.map(saleCard)));
    }
    fill(box, ...(parts.length ? parts : [el('p', { i18n: 'sales.none' })]));
    apply(box);
  } catch (err) {
    showError(box, err);
  }
  box.removeAttribute('aria-busy');
}

startPage(listSales);
checkStatus();
