// After the sale: the published results (revenue, % sold, average per carat, bidders, paid to
// miners, royalties) with their CSV (made by the server: GET /v1/sales/{id}/results.csv), the
// settlements with their invoices, and a buyer's payment recorded against an invoice.
import { apply, t } from '/i18n.js';
import { el, fill, getJSON, money, send } from '/api.js';
import {
  allPages, clearErrors, consolePage, field, minorFrom, minorText, showErrors,
} from '/console/console.js';
import { loadSale, saleHeader } from '/console/organiser-kit.js';

let sale, results = null, settlements = [];

async function load() {
  sale = await loadSale();
  results = null;
  settlements = [];
  if (sale.status === 'draft' || sale.status === 'cancelled') return;
  try {
    results = await getJSON(`/v1/sales/${encodeURIComponent(sale.id)}/results`);
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  settlements = await allPages(`/v1/sales/${encodeURIComponent(sale.id)}/settlements`);
}

const pct = (bps) => `${(bps / 100).toFixed(bps % 100 === 0 ? 0 : 2)} %`;

function figures(r) {
  const item = (key, value) => el('div', {}, el('dt', {}, t(key)), el('dd', {}, value));
  return el('dl', { class: 'figures' },
    item('org.results.revenue', money(r.revenue)),
    item('org.results.sold', t('org.results.sold_of', { sold: r.lots_sold, offered: r.lots_offered })),
    item('org.results.pct_count', pct(r.sold_by_count_bps)),
    item('org.results.pct_weight', pct(r.sold_by_weight_bps)),
    item('org.results.per_carat', money(r.average_per_carat)),
    item('org.results.bidders', String(r.bidders)),
    item('org.results.miners', money(r.paid_to_miners)),
    item('org.results.royalty', money(r.royalty_withheld)));
}

function payForm(s) {
  const inv = s.invoice_number, id = s.invoice_id;
  const f = el('form', { class: 'pay', 'data-invoice': id, novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    field(`amount-${id}`, null, { field: 'amount', inputmode: 'decimal', value: minorText(s.buyer_total.amount) }),
    field(`ref-${id}`, null, { field: 'reference', maxlength: 64, autocomplete: 'off' }),
    field(`method-${id}`, null, { field: 'method' }, 'select'),
    el('button', { type: 'submit' }, t('org.pay.record', { invoice: inv })));
  f.querySelector(`label[for="amount-${id}"]`).textContent = t('org.pay.amount', { invoice: inv });
  f.querySelector(`label[for="ref-${id}"]`).textContent = t('org.pay.reference', { invoice: inv });
  f.querySelector(`label[for="method-${id}"]`).textContent = t('org.pay.method');
  f.querySelector('select').append(...['bank_transfer', 'mobile_money', 'card', 'cash', 'other']
    .map((m) => el('option', { value: m }, t(`org.method.${m}`))));
  return f;
}

function render() {
  const content = document.getElementById('content');
  const csv = `/v1/sales/${encodeURIComponent(sale.id)}/results.csv`;
  fill(content, saleHeader(sale),
    el('p', { id: 'announce', class: 'hint', role: 'status' }),
    el('section', { 'aria-labelledby': 'figures-title' },
      el('h2', { id: 'figures-title' }, t('org.results.figures')),
      results ? [figures(results), el('p', {}, el('a', { href: csv, download: `results-${sale.id}.csv` }, t('org.results.csv')))]
        : el('p', {}, t('org.results.none'))),
    el('section', { 'aria-labelledby': 'settlements-title' },
      el('h2', { id: 'settlements-title' }, t('org.results.settlements')),
      settlements.length === 0 ? el('p', {}, t('org.results.no_settlements')) : el('div', { class: 'table-wrap' },
        el('table', {},
          el('thead', {}, el('tr', {}, ['org.col.lot', 'org.col.hammer', 'org.col.premium', 'org.col.total',
            'org.col.commission', 'org.col.royalty', 'org.col.levy', 'org.col.net', 'org.col.invoice', 'org.col.payment']
            .map((k) => el('th', { scope: 'col' }, t(k))))),
          el('tbody', {}, settlements.map((s) => el('tr', {},
            el('td', {}, s.lot_id), el('td', {}, money(s.hammer)), el('td', {}, money(s.buyer_premium)),
            el('td', {}, money(s.buyer_total)), el('td', {}, money(s.commission)), el('td', {}, money(s.royalty)),
            el('td', {}, money(s.levy)), el('td', {}, money(s.miner_net)),
            el('td', {}, s.invoice_number, el('br'), t(`org.invstatus.${s.invoice_status}`)),
            el('td', {}, s.invoice_status === 'issued' ? payForm(s) : '—'))))))));
  for (const f of content.querySelectorAll('form.pay')) f.addEventListener('submit', (e) => pay(e, f));
}

async function pay(e, f) {
  e.preventDefault();
  clearErrors(f);
  const amountInput = f.querySelector('[data-field="amount"]');
  const amount = minorFrom(amountInput.value);
  if (!amount) {
    amountInput.setAttribute('aria-invalid', 'true');
    document.getElementById(`${amountInput.id}-error`).textContent = t('org.err.amount');
    amountInput.focus();
    return;
  }
  const s = settlements.find((x) => x.invoice_id === f.dataset.invoice);
  try {
    await send('POST', `/v1/invoices/${encodeURIComponent(f.dataset.invoice)}/payments`, {
      amount, reference: f.querySelector('[data-field="reference"]').value.trim(),
      method: f.querySelector('[data-field="method"]').value,
    });
    await load();
    render();
    apply(document.getElementById('content'));
    document.getElementById('announce').textContent = t('org.pay.recorded', { invoice: s.invoice_number });
    document.getElementById('settlements-title').focus();
  } catch (err) {
    showErrors(f, err);
  }
}

consolePage(['organizer', 'operator'], { init: load, render });
