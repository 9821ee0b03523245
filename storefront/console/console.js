// The consoles' shared frame (organiser, clerk, valuer): who may open a page, the console's own
// navigation, and the helpers every console form uses (a field's error beside the field, amounts
// in minor units, times in a named time zone). Each console page imports this file and its own
// strings; shared strings are in console-strings.js.
import { apply, t } from '/i18n.js';
import { el, fill, getJSON, me, startPage } from '/api.js';
import '/console/console-strings.js';

// The console's areas, by role: one line each. The clerk's console adds its own line here.
const AREAS = [
  { roles: ['organizer', 'operator'], href: '/console/organiser.html', key: 'console.nav.sales' },
  { roles: ['valuer'], href: '/console/valuer.html', key: 'console.nav.valuer' },
];

function renderConsoleNav(who) {
  const nav = document.getElementById('console-nav');
  if (!nav) return;
  const here = location.pathname;
  fill(nav, AREAS.filter((a) => a.roles.includes(who.role)).map((a) => el('a', {
    href: a.href, i18n: a.key, 'aria-current': here === a.href ? 'page' : null,
  })));
  apply(nav);
}

// consolePage(roles, { init(who), render(who) }): signs the visitor in first (the shared sign-in
// page, back here after), refuses another role, then runs init once and render now and after
// every switch of language. A page that is public (the printable certificate) passes roles null.
export function consolePage(roles, { init = async () => {}, render = () => {} }) {
  let who = null, started = false;
  startPage(async () => {
    if (!started) {
      started = true;
      who = await me();
      if (roles && !who) {
        location.href = `/signin.html?next=${encodeURIComponent(location.pathname + location.search)}`;
        return;
      }
      if (roles && !roles.includes(who.role)) {
        const main = document.querySelector('main');
        fill(main, el('h1', { i18n: 'console.title' }),
          el('p', { class: 'error', role: 'alert', i18n: 'console.wrong_role' }));
        main.removeAttribute('aria-busy');
        apply(main);
        return;
      }
      if (who) renderConsoleNav(who);
      try {
        await init(who);
      } catch (err) {
        pageError(err);
        return;
      }
    }
    apply();
    await render(who);
    apply(); // what render made with data-i18n
    document.querySelector('main')?.removeAttribute('aria-busy');
  });
}

// Shows a failure that stops the page (the sale does not exist, the server is down).
export function pageError(err) {
  console.error(err);
  const main = document.querySelector('main');
  const key = err.status === 404 ? 'error.not_found' : err.status === 403 ? 'console.forbidden' : 'error.generic';
  fill(main, el('p', { class: 'error', role: 'alert', i18n: key }));
  main.removeAttribute('aria-busy');
  apply(main);
}

// The API's validation errors name their field first: "ladder[1].step_minor: must not be below
// ladder[0].step_minor" (api/http/sales_kit.c), or without the colon, "estimated_value.high must
// not be below estimated_value.low" (api/http/request.c, kito_respond_invalid). The field's input carries data-field with that
// name; the message goes in the paragraph after it (its aria-describedby), the input is marked
// invalid and focused. An error that names no field of this form goes to the form's alert.
export function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) p.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  const box = form.querySelector('.form-error');
  if (box) box.textContent = '';
}

export function showErrors(form, err) {
  clearErrors(form);
  const m = /^([A-Za-z_][\w.[\]]*):? (.+)$/.exec(err.message ?? '');
  const input = m ? form.querySelector(`[data-field="${CSS.escape(m[1])}"]`) : null;
  if (input) {
    const p = document.getElementById(input.getAttribute('aria-describedby')?.split(' ')[0] ?? '');
    if (p) p.textContent = m[2];
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const box = form.querySelector('.form-error');
  box.textContent = errorText(err);
}

// A sentence for a failed request: the server's own for validation and conflicts (English, but
// exact), else one of ours.
export function errorText(err) {
  if (err.code === 'validation_failed' || err.status === 409 || err.status === 422) return err.message;
  if (err.status === 403) return err.code === 'no_consent' ? t('console.no_consent') : t('console.forbidden');
  if (err.status === 404) return t('error.not_found');
  return t('error.generic');
}

// A labelled input with its error paragraph: field(id, labelKey, attrs) -> [label, input, p].
// attrs.field is the API's name for it (data-field), attrs.hint a key for a line of help.
export function field(id, labelKey, attrs = {}, tag = 'input') {
  const { hint, field: apiName, ...rest } = attrs;
  const described = [`${id}-error`, hint ? `${id}-hint` : null].filter(Boolean).join(' ');
  const input = el(tag, { id, name: id, 'data-field': apiName, 'aria-describedby': described, ...rest });
  return el('div', { class: 'field' },
    el('label', { for: id, i18n: labelKey }),
    hint ? el('p', { class: 'hint', id: `${id}-hint`, i18n: hint }) : null,
    input,
    el('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' }));
}

// "1,250.50" -> 125050 minor units; zero allowed (a ladder's first rung); null if not an amount.
export function minorFrom(text) {
  const v = String(text ?? '').replace(/[\s,]/g, '');
  if (!/^\d+(\.\d{1,2})?$/.test(v)) return null;
  const [whole, frac = ''] = v.split('.');
  const minor = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  return Number.isSafeInteger(minor) ? minor : null;
}

// 125050 -> "1250.50", 1000 -> "10": the text an input shows.
export function minorText(minor) {
  if (minor === null || minor === undefined) return '';
  return minor % 100 === 0 ? String(minor / 100) : (minor / 100).toFixed(2);
}

// Percent with up to 2 decimals -> basis points ("12.5" -> 1250); null if not one.
export const bpsFrom = (text) => minorFrom(text);
export const bpsText = (bps) => minorText(bps);

// The time zones a sale may be set in: the four countries', UTC, and the buyers' usual ones.
export const ZONES = ['Africa/Nairobi', 'Africa/Dar_es_Salaam', 'Africa/Lusaka', 'Africa/Blantyre', 'UTC',
  'Europe/London', 'Europe/Paris', 'America/New_York', 'Asia/Dubai', 'Asia/Kolkata', 'Asia/Bangkok', 'Asia/Hong_Kong'];

function zoneParts(utcMs, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(utcMs));
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

// The zone's offset from UTC at that instant, in ms.
function zoneOffsetMs(utcMs, zone) {
  const p = zoneParts(utcMs, zone);
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(utcMs / 1000) * 1000;
}

// "2026-12-01T09:00" read as a wall time in zone -> "2026-12-01T06:00:00Z"; null if empty.
export function zonedToIso(local, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(local ?? '');
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let utc = wall - zoneOffsetMs(wall, zone);
  utc = wall - zoneOffsetMs(utc, zone); // once more across a change of offset
  return new Date(utc).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// "2026-12-01T06:00:00Z" -> "2026-12-01T09:00" in zone (for a datetime-local input).
export function isoToZoned(iso, zone) {
  if (!iso) return '';
  const p = zoneParts(Date.parse(iso), zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

// "1 Dec 2026, 09:00 EAT": a time in a named zone (a sale's), with the zone's short name.
export function whenIn(iso, zone) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(document.documentElement.lang === 'sw' ? 'sw-TZ' : 'en-GB', {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    timeZone: zone || 'UTC', timeZoneName: 'short',
  }).format(new Date(iso));
}

// The browser's own zone when it is one of ZONES, else Nairobi.
export function defaultZone() {
  const z = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return ZONES.includes(z) ? z : 'Africa/Nairobi';
}

// Asks a question in a modal <dialog> (focus moves into it, Escape says no): resolves true when
// the person chose the confirming button. text is the sentence that says what will happen.
export function confirmDialog(title, text, yesLabel, noLabel = t('console.cancel')) {
  return new Promise((resolve) => {
    const yes = el('button', { type: 'button', class: 'danger' }, yesLabel);
    const no = el('button', { type: 'button', class: 'secondary' }, noLabel);
    const d = el('dialog', { 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-text' },
      el('h2', { id: 'dialog-title' }, title), el('p', { id: 'dialog-text' }, text),
      el('div', { class: 'actions' }, no, yes));
    const done = (v) => { d.close(); d.remove(); resolve(v); };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.append(d);
    d.showModal();
    no.focus();
  });
}

// Every page of a paginated list (at most pages x 100 items).
export async function allPages(path, pages = 10) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < pages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const res = await getJSON(`${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...res.items);
    cursor = res.next_cursor;
    if (!cursor) break;
  }
  return items;
}
