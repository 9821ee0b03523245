import { apply, lang, setLang } from '/i18n.js';

async function checkStatus() {
  const el = document.getElementById('status');
  let state = 'degraded';
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = await res.json();
    if (res.ok && body.status === 'ok') state = 'ok';
  } catch (_) { /* offline or unreachable: degraded */ }
  el.dataset.state = state;
  el.dataset.i18n = `status.${state}`;
  apply(el.parentElement);
}

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'en' ? 'sw' : 'en');
});
apply();
checkStatus();
