// Small helpers shared by the pages: API calls, the signed-in buyer, the server's clock and
// formatting. Amounts arrive as integer minor units with a currency (the API's convention); they
// are formatted here and nowhere else. The session is an HttpOnly cookie the server sets at sign-in:
// no script here ever sees or stores it.
import { apply, lang, setAccountLang, setLang, t } from '/i18n.js';

// Server time minus this browser's time (ms), from the Date header of API answers: countdowns
// run on the server's clock, not the browser's.
let clockOffsetMs = 0;
function noteServerDate(res) {
  const d = Date.parse(res.headers.get('date') ?? '');
  // the header has whole seconds: the server's time is on average half a second later
  if (!Number.isNaN(d)) clockOffsetMs = d + 500 - Date.now();
}
export const serverNow = () => Date.now() + clockOffsetMs;

async function call(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  noteServerDate(res);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(data?.error?.message ?? `HTTP ${res.status}`);
    err.status = res.status;
    err.code = data?.error?.code;
    err.body = data;
    throw err;
  }
  return data;
}

export const getJSON = (path) => call('GET', path);
export const send = (method, path, body, headers) => call(method, path, body, headers);

// The signed-in account, or null (asked once per page). The session cookie is HttpOnly, so the
// page keeps a hint (not the session: it grants nothing) that one was set, and a visitor who
// never signed in costs no request.
const HINT = 'kito.signed_in';
let mePromise = null;
export function me() {
  if (!localStorage.getItem(HINT)) return Promise.resolve(null);
  mePromise ??= getJSON('/v1/accounts/me').then((a) => {
    setAccountLang(a.locale);
    return a;
  }).catch(() => {
    localStorage.removeItem(HINT);
    return null;
  });
  return mePromise;
}

export async function signIn(email, password) {
  const s = await send('POST', '/v1/sessions', { email, password, cookie: true });
  localStorage.setItem(HINT, '1');
  return s;
}

export async function signOut() {
  try { await send('DELETE', '/v1/sessions/current'); } catch (_) { /* already signed out */ }
  localStorage.removeItem(HINT);
  location.href = '/';
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

// A close time with its time zone (the buyer's own zone, named).
export function whenZoned(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale(), {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
}

// "2 h 05 min", "4 min 09 s", "12 s" until iso on the server's clock; null once past.
export function timeLeft(iso) {
  if (!iso) return null;
  let s = Math.floor((Date.parse(iso) - serverNow()) / 1000);
  if (s < 0) return null;
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  const p = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${p(m)} min`;
  if (m > 0) return `${m} min ${p(s)} s`;
  return `${s} s`;
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
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// Replaces node's children, leaving out null, undefined and false (which replaceChildren would
// show as the words "null" and "undefined").
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

export function stoneTitle(s) {
  const name = s.variety || s.species || '';
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}, ${s.weight_ct} ct`;
}

export function origin(s) {
  return [s.origin_region, s.origin_country].filter(Boolean).join(', ');
}

export function showError(where, err) {
  console.error(err);
  where.replaceChildren(el('p', { class: 'error', role: 'alert' },
    err.status === 404 ? t('error.not_found') : t('error.generic')));
}

// The translation key that says where a lot stands against its hidden reserve.
export function reserveKey(lot) {
  if (!lot.has_reserve) return 'lot.no_reserve';
  return lot.reserve_met ? 'lot.reserve_met' : 'lot.reserve_not_met';
}

// The buyer's premium on a hammer price, integer half up (DESIGN.md, "Settlement").
export function premium(hammerMinor, bps) {
  return Math.floor((hammerMinor * bps + 5000) / 10000);
}

// Parses "250", "1,250.50" into minor units; null if it is not an amount.
export function parseAmount(text) {
  const v = String(text).replace(/[\s,]/g, '');
  if (!/^\d+(\.\d{1,2})?$/.test(v)) return null;
  const [whole, frac = ''] = v.split('.');
  const minor = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  return Number.isSafeInteger(minor) && minor > 0 ? minor : null;
}

// Amount in minor units as the input shows it: "250" or "250.50".
export function amountText(minor) {
  return minor % 100 === 0 ? String(minor / 100) : (minor / 100).toFixed(2);
}

// The header's links: Sign in / Sign up, or My Kito / Sign out.
async function renderNav() {
  const nav = document.getElementById('account');
  if (!nav) return;
  const who = await me();
  const here = encodeURIComponent(location.pathname + location.search);
  if (who) {
    const out = el('button', { type: 'button', i18n: 'nav.signout' });
    out.addEventListener('click', signOut);
    nav.replaceChildren(el('a', { href: '/me.html', i18n: 'nav.me' }), out);
  } else {
    nav.replaceChildren(el('a', { href: `/signin.html?next=${here}`, i18n: 'nav.signin' }),
      el('a', { href: `/signup.html?next=${here}`, i18n: 'nav.signup' }));
  }
  apply(nav);
}

// Saves her language to her account, one change after another (two quick switches must not
// arrive in the wrong order and leave the account on the language she left); keepalive, so a
// page she leaves at once still saves it.
let langSaved = Promise.resolve();
function saveLang(code) {
  langSaved = langSaved.then(() => fetch('/v1/accounts/me', {
    method: 'PATCH', credentials: 'same-origin', keepalive: true,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ locale: code }),
  })).catch((err) => console.error(err));
}

// Renders a page now and again whenever the visitor switches language.
export function startPage(render) {
  document.getElementById('lang').addEventListener('click', async () => {
    setLang(lang() === 'en' ? 'sw' : 'en');
    render();
    // signed in: her choice is saved to her account (every browser, and what Kito writes to
    // her), not only to this browser
    if (await me()) saveLang(lang());
  });
  const ready = renderNav().then(() => apply());
  apply();
  ready.then(render);
}
