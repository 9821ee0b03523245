// Small helpers shared by the pages: API calls and formatting. Amounts arrive as integer minor
// units with a currency (the API's convention); they are formatted here and nowhere else.
import { apply, lang, setLang, t } from '/i18n.js';

export async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(body?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    err.code = body?.error?.code;
    throw err;
  }
  return body;
}

const locale = () => (lang() === 'sw' ? 'sw-TZ' : 'en-GB');

// All supported currencies (USD, EUR, GBP, KES, TZS, ZMW, MWK) have two minor digits.
export function money(m) {
  if (!m || typeof m.amount !== 'number') return '—';
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: m.currency })
    .format(m.amount / 100);
}

export function when(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' })
    .format(new Date(iso));
}

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

// Builds an element: el('a', {href: '/x', class: 'c'}, 'text', child...). Text is never parsed as
// HTML, so nothing from the API can inject markup.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'i18n') e.dataset.i18n = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function stoneTitle(s) {
  const name = s.variety || s.species;
  return `${name[0].toUpperCase()}${name.slice(1)}, ${s.weight_ct} ct`;
}

export function showError(where, err) {
  where.replaceChildren(el('p', { class: 'error', role: 'alert' },
    err.status === 404 ? t('error.not_found') : t('error.generic')));
}

// The translation key that says where a lot stands against its hidden reserve.
export function reserveKey(lot) {
  if (!lot.has_reserve) return 'lot.no_reserve';
  return lot.reserve_met ? 'lot.reserve_met' : 'lot.reserve_not_met';
}

// Renders a page now and again whenever the visitor switches language.
export function startPage(render) {
  document.getElementById('lang').addEventListener('click', () => {
    setLang(lang() === 'en' ? 'sw' : 'en');
    render();
  });
  apply();
  render();
}
