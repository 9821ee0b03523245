// Estimates in the buyer's currency (issue 16, "Language and money"): the sale currency is the
// one she pays in; beside it, if she chose another currency, an amount converted at the
// operator's recorded rate (GET /v1/exchange-rates), always labelled as an estimate with the
// rate and its date. Her choice is kept in this browser (a preference, not a secret).
import { addStrings, t } from '/i18n.js';
import { el, getJSON, money } from '/api.js';

addStrings({
  en: {
    'fx.label': 'Estimate in',
    'fx.none': 'No estimate',
    'fx.estimate': 'About {x}',
    'fx.note': 'An estimate at 1 {from} = {rate} {to}, the rate recorded on {date}. You pay in {from}.',
  },
  sw: {
    'fx.label': 'Makadirio kwa',
    'fx.none': 'Bila makadirio',
    'fx.estimate': 'Takriban {x}',
    'fx.note': 'Makadirio kwa 1 {from} = {rate} {to}, kiwango kilichorekodiwa tarehe {date}. Unalipa kwa {from}.',
  },
});

const KEY = 'kito.currency';
let rates = null; // to -> { rate_micros, effective_from }, for the sale currency asked

export const chosen = () => localStorage.getItem(KEY) ?? '';

// Loads the rates from currency from (once a page); an error leaves no estimate, never a wrong one.
export async function loadRates(from) {
  if (rates) return rates;
  try {
    const r = await getJSON(`/v1/exchange-rates?from=${encodeURIComponent(from)}`);
    rates = new Map(r.items.map((x) => [x.to, x]));
  } catch (err) {
    console.error(err);
    rates = new Map();
  }
  return rates;
}

// amount in the chosen currency, rounded half up to the minor unit (all of Kito's currencies have
// two minor digits), or null when no estimate is wanted or possible.
export function convert(m) {
  const to = chosen();
  const r = rates?.get(to);
  if (!m || !r || to === m.currency) return null;
  // minor x rate_micros can pass 2^53: BigInt keeps it exact
  const minor = (BigInt(m.amount) * BigInt(r.rate_micros) + 500000n) / 1000000n;
  return { amount: Number(minor), currency: to, rate: r, from: m.currency };
}

// The labelled estimate of m (an element), or null.
export function estimateEl(m, id) {
  const e = convert(m);
  if (!e) return null;
  const date = new Intl.DateTimeFormat(document.documentElement.lang === 'sw' ? 'sw-TZ' : 'en-GB',
    { dateStyle: 'medium' }).format(new Date(e.rate.effective_from));
  const rate = (e.rate.rate_micros / 1e6).toLocaleString(document.documentElement.lang === 'sw' ? 'sw-TZ' : 'en-GB',
    { maximumFractionDigits: 6 });
  return el('p', { class: 'meta estimate', id },
    el('strong', {}, t('fx.estimate', { x: money({ amount: e.amount, currency: e.currency }) })), ' ',
    t('fx.note', { from: e.from, rate, to: e.currency, date }));
}

// The "Estimate in" select: no estimate, or one of the currencies a rate exists for.
export function currencySelect(onChange) {
  const select = el('select', { id: 'fx-currency', name: 'currency' },
    el('option', { value: '' }, t('fx.none')),
    [...(rates?.keys() ?? [])].sort().map((c) => el('option', { value: c }, c)));
  select.value = rates?.has(chosen()) ? chosen() : '';
  select.addEventListener('change', () => {
    if (select.value) localStorage.setItem(KEY, select.value); else localStorage.removeItem(KEY);
    onChange();
  });
  return el('p', { class: 'form fx' }, el('label', { for: 'fx-currency', i18n: 'fx.label' }), select);
}
