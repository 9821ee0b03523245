// A sale's lots: add lots from the stones offered to her (consent: GET /v1/me/offered-stones),
// opening price and reserve, running order by drag or by keyboard (buttons, or Alt+Up/Down on a
// lot), withdraw; publish and cancel the sale.
import { apply, t, tn } from '/i18n.js';
import { el, fill, money, origin, send, stoneTitle } from '/api.js';
import {
  allPages, clearErrors, confirmDialog, consolePage, errorText, field, minorFrom, minorText, showErrors,
} from '/console/console.js';
import { loadSale, saleHeader } from '/console/organiser-kit.js';

let sale, lots = [], offered = [], bidders = 0;
const live = () => document.getElementById('announce');

async function load() {
  sale = await loadSale();
  lots = await allPages(`/v1/sales/${encodeURIComponent(sale.id)}/lots`);
  lots.sort((a, b) => a.position - b.position);
  offered = [];
  if (sale.status === 'draft') {
    const all = await allPages('/v1/me/offered-stones');
    offered = all.filter((s) => s.offers.some((o) => o.sale_id === null || o.sale_id === sale.id));
  }
  bidders = 0;
  if (sale.status !== 'draft' && sale.status !== 'cancelled') {
    try {
      bidders = (await allPages(`/v1/sales/${encodeURIComponent(sale.id)}/registrations`, 3)).length;
    } catch (_) { bidders = 0; }
  }
}

const editable = () => sale.status === 'draft';

function lotItem(lot, i) {
  const n = lot.lot_number;
  const scheduled = lot.state === 'scheduled';
  const li = el('li', {
    'data-id': lot.id, tabindex: editable() ? 0 : null, draggable: editable() ? 'true' : null,
    'aria-describedby': editable() ? 'order-help' : null,
    'aria-label': t('org.lot.item', { n, title: stoneTitle(lot.stone), pos: i + 1 }),
  },
  el('p', {}, el('strong', {}, t('org.lot.n', { n })), ' · ', stoneTitle(lot.stone), ' · ',
    origin(lot.stone), ' · ', t(`org.lotstate.${lot.state}`)),
  el('p', { class: 'meta' }, `${t('lot.opening')}: ${money(lot.opening)} · ${t('lot.reserve')}: `,
    lot.reserve ? money(lot.reserve) : t('lot.no_reserve')),
  el('div', { class: 'actions' },
    editable() ? [
      el('button', { type: 'button', class: 'secondary', 'data-act': 'up', disabled: i === 0 }, t('org.lot.up', { n })),
      el('button', { type: 'button', class: 'secondary', 'data-act': 'down', disabled: i === lots.length - 1 },
        t('org.lot.down', { n })),
    ] : null,
    ['scheduled', 'open', 'closing'].includes(lot.state)
      ? el('button', { type: 'button', class: 'danger', 'data-act': 'withdraw' }, t('org.lot.withdraw', { n })) : null),
  editable() && scheduled ? priceForm(lot) : null);
  return li;
}

function priceForm(lot) {
  const id = lot.id;
  const f = el('form', { class: 'prices', 'data-id': id, novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    el('div', { class: 'grid2' },
      field(`open-${id}`, 'org.lot.opening', { field: 'opening', inputmode: 'decimal', value: minorText(lot.opening.amount) }),
      field(`res-${id}`, 'org.lot.reserve', { field: 'reserve', inputmode: 'decimal', value: lot.reserve ? minorText(lot.reserve.amount) : '', hint: 'org.lot.reserve_hint' })),
    el('button', { type: 'submit', class: 'secondary' }, t('org.lot.save_prices', { n: lot.lot_number })));
  return el('details', {}, el('summary', {}, t('org.lot.prices', { n: lot.lot_number })), f);
}

function stoneForm(s) {
  const id = s.id;
  const f = el('form', { class: 'add-lot', 'data-stone': id, novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    el('div', { class: 'grid2' },
      field(`open-${id}`, 'org.lot.opening', { field: 'opening', inputmode: 'decimal', required: true }),
      field(`res-${id}`, 'org.lot.reserve', { field: 'reserve', inputmode: 'decimal', hint: 'org.lot.reserve_hint' })),
    el('button', { type: 'submit' }, t('org.lot.add')));
  return el('fieldset', {}, el('legend', {}, `${stoneTitle(s)} · ${origin({ origin_country: s.origin?.country, origin_region: s.origin?.region })}`),
    el('p', { class: 'meta' }, s.certificate_id ? `${t('cert.title')}: ${s.certificate_id}` : ''), f);
}

// Opening and reserve from a price form; null after showing the field's error.
function prices(form) {
  clearErrors(form);
  const [open, res] = form.querySelectorAll('input[data-field="opening"], input[data-field="reserve"]');
  const bad = (input) => {
    input.setAttribute('aria-invalid', 'true');
    document.getElementById(`${input.id}-error`).textContent = t('org.err.amount');
    input.focus();
    return null;
  };
  const opening = minorFrom(open.value);
  if (!opening) return bad(open);
  let reserve = null;
  if (res.value.trim()) {
    reserve = minorFrom(res.value);
    if (!reserve) return bad(res);
  }
  return { opening, reserve };
}

function render() {
  const content = document.getElementById('content');
  const order = el('ol', { class: 'lots-order', id: 'lots' }, lots.map(lotItem));
  const canCancel = sale.status === 'draft' || (sale.status === 'published' && Date.parse(sale.starts_at) > Date.now());
  fill(content, saleHeader(sale),
    el('p', { id: 'announce', class: 'hint', role: 'status' }),
    el('section', { 'aria-labelledby': 'lots-title' },
      el('h2', { id: 'lots-title' }, t('org.lots.order')),
      editable() ? el('p', { class: 'hint', id: 'order-help' }, t('org.lots.order_help')) : null,
      lots.length ? order : el('p', {}, t('org.lots.none'))),
    editable() ? el('section', { 'aria-labelledby': 'offered-title' },
      el('h2', { id: 'offered-title' }, t('org.lots.offered')),
      el('p', { class: 'hint' }, t('org.lots.offered_help', { currency: sale.currency })),
      offered.length ? offered.map(stoneForm) : el('p', {}, t('org.lots.no_offers'))) : null,
    el('section', { 'aria-labelledby': 'sale-actions-title' },
      el('h2', { id: 'sale-actions-title' }, t('org.lots.sale_actions')),
      el('p', { class: 'form-error', role: 'alert', id: 'sale-error' }),
      el('div', { class: 'actions' },
        editable() ? el('button', { type: 'button', id: 'publish' }, t('org.publish')) : null,
        canCancel ? el('button', { type: 'button', class: 'danger', id: 'cancel-sale' }, t('org.cancel_sale')) : null)));
  wire(content);
}

async function reload(focusSelector, message) {
  await load();
  render();
  apply(document.getElementById("content"));
  if (focusSelector) document.querySelector(focusSelector)?.focus();
  if (message) live().textContent = message;
}

async function saveOrder(ids, movedId) {
  try {
    await send('POST', `/v1/sales/${encodeURIComponent(sale.id)}/lots/order`, { lot_ids: ids });
    const lot = lots.find((l) => l.id === movedId);
    await reload(`li[data-id="${movedId}"]`, t('org.lot.moved', { n: lot.lot_number, pos: ids.indexOf(movedId) + 1 }));
  } catch (err) {
    document.getElementById('sale-error').textContent = errorText(err);
  }
}

function move(id, delta) {
  const ids = lots.map((l) => l.id);
  const i = ids.indexOf(id), j = i + delta;
  if (j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  return saveOrder(ids, id);
}

function wire(content) {
  const list = content.querySelector('#lots');
  list?.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    const id = b.closest('li').dataset.id;
    if (b.dataset.act === 'up') await move(id, -1);
    else if (b.dataset.act === 'down') await move(id, 1);
    else if (b.dataset.act === 'withdraw') await withdraw(id);
  });
  list?.addEventListener('keydown', async (e) => {
    if (!editable() || !e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    const li = e.target.closest('li');
    if (!li || e.target !== li) return;
    e.preventDefault();
    await move(li.dataset.id, e.key === 'ArrowUp' ? -1 : 1);
  });
  // drag and drop: the dragged lot goes before the lot it is dropped on (after it, on its lower half)
  let dragged = null;
  list?.addEventListener('dragstart', (e) => {
    const li = e.target.closest('li');
    if (!li) return;
    dragged = li.dataset.id;
    li.classList.add('dragging');
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', dragged);
  });
  list?.addEventListener('dragend', (e) => e.target.closest('li')?.classList.remove('dragging'));
  list?.addEventListener('dragover', (e) => { if (dragged) e.preventDefault(); });
  list?.addEventListener('drop', async (e) => {
    e.preventDefault();
    const target = e.target.closest('li');
    if (!dragged || !target || target.dataset.id === dragged) return;
    const ids = lots.map((l) => l.id).filter((x) => x !== dragged);
    const r = target.getBoundingClientRect();
    let at = ids.indexOf(target.dataset.id);
    if (e.clientY > r.top + r.height / 2) at += 1;
    ids.splice(at, 0, dragged);
    const id = dragged;
    dragged = null;
    await saveOrder(ids, id);
  });
  for (const f of content.querySelectorAll('form.prices')) {
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const p = prices(f);
      if (!p) return;
      try {
        await send('PATCH', `/v1/lots/${encodeURIComponent(f.dataset.id)}`, p);
        await reload(`li[data-id="${f.dataset.id}"]`, t('console.saved'));
      } catch (err) {
        showErrors(f, err);
      }
    });
  }
  for (const f of content.querySelectorAll('form.add-lot')) {
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const p = prices(f);
      if (!p) return;
      const b = f.querySelector('button[type=submit]');
      b.disabled = true;
      try {
        const lot = await send('POST', `/v1/sales/${encodeURIComponent(sale.id)}/lots`, { stone_id: f.dataset.stone, ...p });
        await reload(`li[data-id="${lot.id}"]`, t('org.lot.added', { n: lot.lot_number }));
      } catch (err) {
        showErrors(f, err);
        b.disabled = false;
      }
    });
  }
  content.querySelector('#publish')?.addEventListener('click', publish);
  content.querySelector('#cancel-sale')?.addEventListener('click', cancelSale);
}

async function withdraw(id) {
  const lot = lots.find((l) => l.id === id);
  const ok = await confirmDialog(t('org.lot.withdraw', { n: lot.lot_number }), t('org.lot.withdraw_text'),
    t('org.lot.withdraw_yes'));
  if (!ok) return;
  try {
    await send('POST', `/v1/lots/${encodeURIComponent(id)}/withdraw`, {});
    await reload(`li[data-id="${id}"]`, t('org.lot.withdrawn', { n: lot.lot_number }));
  } catch (err) {
    document.getElementById('sale-error').textContent = errorText(err);
  }
}

async function publish() {
  try {
    await send('POST', `/v1/sales/${encodeURIComponent(sale.id)}/publish`, {});
    await reload('#lots-title', t('org.published'));
  } catch (err) {
    document.getElementById('sale-error').textContent = errorText(err);
    document.getElementById('publish').focus();
  }
}

async function cancelSale() {
  const live = lots.filter((l) => l.state === 'scheduled').length;
  const text = sale.status === 'draft' ? t('org.cancel.draft_text', { lots: tn('org.lots_n', live) })
    : t('org.cancel.published_text', { bidders: tn('org.bidders_n', bidders), lots: tn('org.lots_n', live) });
  const ok = await confirmDialog(t('org.cancel.title', { title: sale.title }), text, t('org.cancel.yes'), t('org.cancel.no'));
  if (!ok) return;
  try {
    await send('POST', `/v1/sales/${encodeURIComponent(sale.id)}/cancel`, {});
    await reload('#lots-title', t('org.cancelled'));
  } catch (err) {
    document.getElementById('sale-error').textContent = errorText(err);
  }
}

consolePage(['organizer', 'operator'], { init: load, render });
