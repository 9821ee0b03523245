// An invoice and how to pay it: amount, due date, reference, and the payment methods the operator
// configured (GET /v1/payment-methods). Shared by the lot page and My Kito.
import { t } from '/i18n.js';
import { el, money, whenZoned } from '/api.js';

// A <dt>/<dd> pair, or null when there is no value (never "null" or "undefined" on a page).
export function row(labelKey, value, attrs = {}) {
  if (value === null || value === undefined || value === '') return null;
  return el('div', { class: 'row' }, el('dt', { i18n: labelKey }), el('dd', attrs, value));
}

// How to pay an invoice: amount, due date, reference, and the methods the operator configured.
export function payInstructions(inv, methods) {
  return el('div', { class: 'invoice' },
    el('dl', { class: 'facts' },
      row('inv.hammer', money(inv.hammer)),
      row('inv.premium', money(inv.buyer_premium)),
      row('inv.amount', money(inv.amount)),
      row('inv.due', whenZoned(inv.due_at)),
      row('inv.status', t(`inv.status.${inv.status}`)),
      row('inv.reference', inv.number)),
    inv.status === 'paid' ? null : el('details', { class: 'pay' },
      el('summary', { i18n: 'inv.pay' }),
      methods.bank_transfer ? el('div', {}, el('h3', { i18n: 'inv.bank' }), el('dl', { class: 'facts' },
        row('inv.bank_name', methods.bank_transfer.bank_name),
        row('inv.account_name', methods.bank_transfer.account_name),
        row('inv.account', methods.bank_transfer.account),
        row('inv.swift', methods.bank_transfer.swift),
        row('inv.reference', inv.number))) : null,
      methods.mpesa_paybill ? el('div', {}, el('h3', { i18n: 'inv.mpesa' }), el('dl', { class: 'facts' },
        row('inv.paybill', methods.mpesa_paybill.paybill),
        row('inv.mpesa_account', inv.number),
        row('inv.amount', money(inv.amount)))) : null));
}

