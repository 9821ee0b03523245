// A sale's bidders: requests to approve (paddle number and spending limit) or decline, approved
// buyers to change or revoke, and a floor bidder approved without having asked.
import { apply, t } from '/i18n.js';
import { el, fill, money, send, when } from '/api.js';
import {
  allPages, clearErrors, confirmDialog, consolePage, errorText, field, minorFrom, minorText, showErrors,
} from '/console/console.js';
import { loadSale, saleHeader } from '/console/organiser-kit.js';

let sale, regs = {};
const STATUSES = ['pending', 'approved', 'declined', 'revoked'];

async function load() {
  sale = await loadSale();
  regs = {};
  if (sale.status === 'draft') return;
  const base = `/v1/sales/${encodeURIComponent(sale.id)}/registrations`;
  for (const s of STATUSES) regs[s] = await allPages(`${base}?status=${s}`);
}

const who = (r) => r.buyer?.name || r.buyer_id;
const open = () => !['closed', 'settled', 'cancelled', 'draft'].includes(sale.status);

// The paddle and limit inputs of one buyer's row, and the row's buttons.
function decideForm(r) {
  const id = r.buyer_id, name = who(r);
  const f = el('form', { class: 'decide', 'data-buyer': id, novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    field(`paddle-${id}`, null, { field: 'paddle_number', type: 'number', min: 1, max: 99999, value: r.paddle_number ?? '', placeholder: t('org.bidders.auto') }),
    field(`limit-${id}`, null, { field: 'limit', inputmode: 'decimal', value: r.limit ? minorText(r.limit.amount) : '', placeholder: t('org.bidders.no_limit') }),
    el('div', { class: 'actions' },
      el('button', { type: 'submit' }, t(r.status === 'approved' ? 'org.bidders.save' : 'org.bidders.approve', { name })),
      el('button', { type: 'button', class: 'danger', 'data-act': r.status === 'approved' ? 'revoke' : 'decline' },
        t(r.status === 'approved' ? 'org.bidders.revoke' : 'org.bidders.decline', { name }))));
  // the labels name the buyer (one form per row)
  f.querySelector(`label[for="paddle-${CSS.escape(id)}"]`).textContent = t('org.bidders.paddle_for', { name });
  f.querySelector(`label[for="limit-${CSS.escape(id)}"]`).textContent = t('org.bidders.limit_for', { name, currency: sale.currency });
  return f;
}

function table(list, decide) {
  if (!list?.length) return el('p', {}, t('org.bidders.none'));
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, ['org.bidders.col.buyer', 'org.bidders.col.asked', 'org.bidders.col.paddle',
      'org.bidders.col.limit', 'org.bidders.col.status', decide ? 'org.bidders.col.actions' : null]
      .filter(Boolean).map((k) => el('th', { scope: 'col' }, t(k))))),
    el('tbody', {}, list.map((r) => el('tr', { 'data-buyer': r.buyer_id },
      el('td', {}, who(r), r.buyer?.email ? el('br') : null, r.buyer?.email ?? ''),
      el('td', {}, r.requested_at ? when(r.requested_at) : '—'),
      el('td', {}, r.paddle_number ?? '—'),
      el('td', {}, r.limit ? money(r.limit) : t('org.bidders.no_limit')),
      el('td', {}, t(`org.regstatus.${r.status}`)),
      decide ? el('td', {}, decideForm(r)) : null)))));
}

function render() {
  const content = document.getElementById('content');
  if (sale.status === 'draft') {
    fill(content, saleHeader(sale), el('p', {}, t('org.bidders.none')));
    return;
  }
  const floor = el('form', { id: 'floor', novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    el('div', { class: 'grid2' },
      field('floor-buyer', 'org.bidders.buyer_id', { field: 'buyer_id', autocomplete: 'off' }),
      field('floor-paddle', 'org.bidders.paddle', { field: 'paddle_number', type: 'number', min: 1, max: 99999 }),
      field('floor-limit', 'org.bidders.limit', { field: 'limit', inputmode: 'decimal' })),
    el('button', { type: 'submit', i18n: 'org.bidders.approve_floor' }));
  fill(content, saleHeader(sale),
    el('p', { id: 'announce', class: 'hint', role: 'status' }),
    el('section', { 'aria-labelledby': 'pending-title' },
      el('h2', { id: 'pending-title' }, t('org.bidders.pending')), table(regs.pending, open())),
    el('section', { 'aria-labelledby': 'approved-title' },
      el('h2', { id: 'approved-title' }, t('org.bidders.approved')), table(regs.approved, open())),
    el('section', { 'aria-labelledby': 'closed-title' },
      el('h2', { id: 'closed-title' }, t('org.bidders.closed')),
      table([...(regs.declined ?? []), ...(regs.revoked ?? [])], false)),
    open() ? el('section', { 'aria-labelledby': 'floor-title' },
      el('h2', { id: 'floor-title' }, t('org.bidders.floor')), floor) : null);
  wire(content);
}

async function reload(message, focus) {
  await load();
  render();
  apply(document.getElementById('content'));
  document.getElementById('announce').textContent = message;
  (focus && document.querySelector(focus))?.focus();
}

// Reads paddle and limit; null after showing what is wrong.
function terms(f) {
  clearErrors(f);
  const [paddle, limit] = [f.querySelector('[data-field="paddle_number"]'), f.querySelector('[data-field="limit"]')];
  const out = { paddle_number: paddle.value ? Number(paddle.value) : null, limit: null };
  if (limit.value.trim()) {
    out.limit = minorFrom(limit.value);
    if (!out.limit) {
      limit.setAttribute('aria-invalid', 'true');
      document.getElementById(`${limit.id}-error`).textContent = t('org.err.amount');
      limit.focus();
      return null;
    }
  }
  return out;
}

async function approve(f, buyerId) {
  const b = terms(f);
  if (!b) return;
  try {
    const r = await send('POST', `/v1/sales/${encodeURIComponent(sale.id)}/approvals`, { buyer_id: buyerId, ...b });
    await reload(t('org.bidders.approved_msg', { name: who(r), paddle: r.paddle_number }), `tr[data-buyer="${buyerId}"] button`);
  } catch (err) {
    showErrors(f, err);
  }
}

function wire(content) {
  for (const f of content.querySelectorAll('form.decide')) {
    const id = f.dataset.buyer;
    f.addEventListener('submit', (e) => { e.preventDefault(); approve(f, id); });
    f.querySelector('[data-act]').addEventListener('click', async (e) => {
      const act = e.target.dataset.act;
      const r = [...regs.pending, ...regs.approved].find((x) => x.buyer_id === id);
      const ok = await confirmDialog(e.target.textContent, t(`org.bidders.${act}_text`), e.target.textContent);
      if (!ok) return;
      try {
        await send('DELETE', `/v1/sales/${encodeURIComponent(sale.id)}/approvals/${encodeURIComponent(id)}`);
        await reload(`${who(r)}: ${t(`org.regstatus.${act === 'revoke' ? 'revoked' : 'declined'}`)}`, '#pending-title');
      } catch (err) {
        f.querySelector('.form-error').textContent = errorText(err);
      }
    });
  }
  const floor = content.querySelector('#floor');
  floor?.addEventListener('submit', (e) => {
    e.preventDefault();
    approve(floor, floor.querySelector('#floor-buyer').value.trim());
  });
}

consolePage(['organizer', 'operator'], { init: load, render });
