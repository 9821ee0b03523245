// Sign in and sign up. Both end signed in by the session cookie the server sets (never in
// localStorage), then go back to where the buyer came from (?next=, same site only).
import { apply, t } from '/i18n.js';
import { param, send, signIn, startPage } from '/api.js';

const next = () => {
  const n = param('next');
  return n && n.startsWith('/') && !n.startsWith('//') ? n : '/me.html';
};

function showFailure(err) {
  const box = document.getElementById('form-error');
  let key = 'error.generic';
  if (err.status === 401) key = 'auth.failed';
  else if (err.status === 409) key = 'auth.taken';
  else if (err.status === 429) key = 'auth.throttled';
  if (err.status === 422 && err.message) {
    box.textContent = err.message;
    return;
  }
  box.textContent = t(key);
}

function wire() {
  const other = document.getElementById('other');
  other.href = `${other.getAttribute('href').split('?')[0]}?next=${encodeURIComponent(next())}`;
  const form = document.querySelector('form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    document.getElementById('form-error').textContent = '';
    try {
      if (form.id === 'signup') {
        const country = String(f.get('country') ?? '').trim().toUpperCase();
        await send('POST', '/v1/accounts', {
          role: 'buyer', name: String(f.get('name')).trim(), email: String(f.get('email')).trim(),
          password: String(f.get('password')), country: country || null,
          locale: document.documentElement.lang,
        });
      }
      await signIn(String(f.get('email')).trim(), String(f.get('password')));
      location.href = next();
    } catch (err) {
      showFailure(err);
      button.disabled = false;
    }
  });
}

wire();
startPage(() => apply());
