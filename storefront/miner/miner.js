// The miner's own page (issue 18, "Miner and agent web pages"): for a miner with a smartphone,
// what the USSD menu shows -- her stones and the state of each, her results (hammer, commission,
// royalty, levy, her net) and her payouts -- after signing in with her phone and PIN. The session
// is the server's HttpOnly cookie, as on every page (api.js).
import './strings.js';
import { apply, t } from '/i18n.js';
import { el, fill, getJSON, me, money, send, showError, signOut, startPage, stoneTitle, when } from '/api.js';

const page = document.getElementById('page');

function section(id, titleKey, items) {
  return el('section', { 'aria-labelledby': `${id}-title`, id },
    el('h2', { id: `${id}-title`, i18n: titleKey }),
    items.length ? el('ul', { class: 'cards' }, items) : el('p', { class: 'meta', i18n: 'miner.none' }));
}

function signInForm() {
  const error = el('p', { class: 'error', role: 'alert', id: 'form-error' });
  const form = el('form', { class: 'form', id: 'miner-signin', novalidate: true },
    el('label', { for: 'phone', i18n: 'miner.phone' }),
    el('input', { id: 'phone', name: 'phone', type: 'tel', inputmode: 'tel', autocomplete: 'tel', required: true }),
    el('label', { for: 'pin', i18n: 'miner.pin' }),
    el('input', { id: 'pin', name: 'pin', type: 'password', inputmode: 'numeric', autocomplete: 'current-password', required: true }),
    error,
    el('button', { type: 'submit', i18n: 'miner.signin' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      await send('POST', '/v1/sessions', { phone: form.phone.value.trim(), pin: form.pin.value, cookie: true });
      localStorage.setItem('kito.signed_in', '1'); // a hint, not the session (api.js)
      location.reload();
    } catch (e) {
      error.textContent = t(e.status === 401 || e.status === 422 ? 'miner.signin_failed' : 'error.generic');
    }
  });
  return form;
}

const breakdown = (s) => el('dl', { class: 'breakdown' },
  el('dt', { i18n: 'miner.hammer' }), el('dd', {}, money(s.hammer)),
  el('dt', { i18n: 'miner.commission' }), el('dd', {}, money(s.commission)),
  el('dt', { i18n: 'miner.royalty' }), el('dd', {}, money(s.royalty)),
  el('dt', { i18n: 'miner.levy' }), el('dd', {}, money(s.levy)),
  el('dt', { i18n: 'miner.net' }), el('dd', {}, el('strong', {}, money(s.miner_net))));

async function render() {
  const who = await me();
  if (!who) {
    fill(page, el('h1', { i18n: 'miner.signin_title' }), signInForm(), el('p', { class: 'meta', i18n: 'miner.ussd' }));
    apply(page);
    page.removeAttribute('aria-busy');
    return;
  }
  if (who.role !== 'miner') {
    fill(page, el('h1', { i18n: 'miner.title' }), el('p', { class: 'warn', i18n: 'miner.not_miner' }));
    apply(page);
    page.removeAttribute('aria-busy');
    return;
  }
  try {
    const [stones, sales, payouts] = await Promise.all([
      getJSON(`/v1/stones?seller=${encodeURIComponent(who.id)}&limit=50`),
      getJSON('/v1/me/sales?limit=50'),
      getJSON('/v1/me/payouts?limit=50'),
    ]);
    const stoneItems = stones.items.map((s) => el('li', { class: 'card' },
      el('h3', {}, stoneTitle(s)),
      el('p', { class: 'meta' }, `${t('miner.reference')} ${s.id}`),
      el('p', {}, t(`miner.status.${s.status}`))));
    const resultItems = sales.items.map((s) => el('li', { class: 'card' },
      el('h3', {}, `${t('miner.reference')} ${s.stone_id}`),
      breakdown(s),
      el('p', { class: 'meta' }, t(s.invoice_status === 'paid' ? 'miner.buyer_paid' : 'miner.buyer_not_paid'),
        s.closed_at ? ` · ${when(s.closed_at)}` : '')));
    const payoutItems = payouts.items.map((p) => el('li', { class: 'card' },
      el('h3', {}, money(p.amount)),
      el('p', { class: p.state === 'succeeded' ? 'ok' : p.state === 'failed' ? 'warn' : 'meta' },
        `${t(`miner.payout.${p.state}`)} · ${t('miner.to')} ${p.msisdn}`),
      el('p', { class: 'meta' }, `${t('miner.reference')} ${p.id}`)));
    const out = el('button', { type: 'button', id: 'signout', i18n: 'miner.signout' });
    out.addEventListener('click', signOut);
    fill(page,
      el('h1', { i18n: 'miner.title' }),
      el('p', { class: 'meta' }, who.name),
      section('payouts', 'miner.payouts', payoutItems),
      section('results', 'miner.results', resultItems),
      section('stones', 'miner.stones', stoneItems),
      out);
    apply(page);
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

startPage(render);
