// My Kito's account section: change password (with the current one; the server signs out every
// other session of hers) and the language her account keeps.
import { addStrings, apply, lang, setLang, t } from '/i18n.js';
import { el, send } from '/api.js';

addStrings({
  en: {
    'acct.title': 'Your account',
    'acct.password_title': 'Change password',
    'acct.current': 'Current password',
    'acct.new': 'New password',
    'acct.change': 'Change password',
    'acct.changed': 'Your password is changed. Every other device where you were signed in has been signed out.',
    'acct.wrong_current': 'The current password is not right.',
    'acct.same': 'The new password must differ from the current one.',
    'acct.language': 'Language for pages and messages',
    'acct.language_saved': 'Saved to your account.',
  },
  sw: {
    'acct.title': 'Akaunti yako',
    'acct.password_title': 'Badilisha nenosiri',
    'acct.current': 'Nenosiri la sasa',
    'acct.new': 'Nenosiri jipya',
    'acct.change': 'Badilisha nenosiri',
    'acct.changed': 'Nenosiri lako limebadilishwa. Umetolewa kwenye kila kifaa kingine ulichokuwa umeingia.',
    'acct.wrong_current': 'Nenosiri la sasa si sahihi.',
    'acct.same': 'Nenosiri jipya lazima liwe tofauti na la sasa.',
    'acct.language': 'Lugha ya kurasa na ujumbe',
    'acct.language_saved': 'Imehifadhiwa kwenye akaunti yako.',
  },
});

function passwordForm() {
  const msg = el('p', { id: 'password-message', role: 'alert' });
  const current = el('input', { id: 'current-password', name: 'current', type: 'password',
    autocomplete: 'current-password', required: true });
  const next = el('input', { id: 'new-password', name: 'new', type: 'password', autocomplete: 'new-password',
    minlength: 8, required: true, 'aria-describedby': 'new-password-rule' });
  const form = el('form', { class: 'form', id: 'change-password' },
    el('label', { for: 'current-password', i18n: 'acct.current' }), current,
    el('label', { for: 'new-password', i18n: 'acct.new' }), next,
    el('p', { id: 'new-password-rule', class: 'meta', i18n: 'auth.password_rule' }),
    el('button', { type: 'submit', i18n: 'acct.change' }),
    msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    msg.className = '';
    if (current.value === next.value) { msg.textContent = t('acct.same'); msg.className = 'warn'; return; }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await send('POST', '/v1/accounts/me/secret', { current: current.value, new: next.value });
      form.reset();
      msg.textContent = t('acct.changed');
      msg.className = 'ok';
    } catch (err) {
      msg.className = 'warn';
      if (err.status === 403) msg.textContent = t('acct.wrong_current');
      else if (err.status === 429) msg.textContent = t('auth.throttled');
      else if (err.status === 422 && err.message) msg.textContent = err.message;
      else msg.textContent = t('error.generic');
    }
    button.disabled = false;
  });
  return form;
}

// The language select mirrors the header's switch; both save to her account (api.js).
let languageSaved = false; // the page re-renders on a switch: the message outlives one render
function languageField(onChange) {
  const select = el('select', { id: 'account-language', name: 'locale' },
    el('option', { value: 'en', lang: 'en' }, 'English'),
    el('option', { value: 'sw', lang: 'sw' }, 'Kiswahili'));
  select.value = lang();
  const saved = el('span', { id: 'language-saved', class: 'meta', role: 'status' },
    languageSaved ? t('acct.language_saved') : '');
  select.addEventListener('change', async () => {
    const code = select.value;
    languageSaved = false;
    setLang(code);
    onChange();
    try {
      await send('PATCH', '/v1/accounts/me', { locale: code });
      languageSaved = true;
      const s = document.getElementById('language-saved');
      if (s) s.textContent = t('acct.language_saved');
    } catch (err) { console.error(err); }
  });
  return el('div', { class: 'form' },
    el('label', { for: 'account-language', i18n: 'acct.language' }), select, saved);
}

export function accountSection(onLanguageChange) {
  const s = el('section', { id: 'account-settings', 'aria-labelledby': 'account-title' },
    el('h2', { id: 'account-title', i18n: 'acct.title' }),
    languageField(onLanguageChange),
    el('h3', { i18n: 'acct.password_title' }),
    passwordForm());
  apply(s);
  return s;
}
