// The page a certificate's QR code opens (issue 17): is this certificate genuine and current, and
// what it says. Public; the same check as GET /v1/certificates/{id}/verify.
import { t } from '/i18n.js';
import { el, fill, getJSON, param, showError, startPage } from '/api.js';
import { certificateList, verdictLine } from '/console/valuer-certdoc.js';

let cert = null, verdict = null, failure = null;

async function load() {
  const id = param('id');
  try {
    if (!id) throw Object.assign(new Error('no certificate'), { status: 404 });
    [cert, verdict] = await Promise.all([getJSON(`/v1/certificates/${encodeURIComponent(id)}`),
      getJSON(`/v1/certificates/${encodeURIComponent(id)}/verify`)]);
  } catch (err) {
    failure = err;
  }
}

function render() {
  const page = document.getElementById('page');
  page.removeAttribute('aria-busy');
  document.title = `Kito — ${t('val.verify.title')}`;
  if (failure) {
    fill(page, el('h1', {}, t('val.verify.title')));
    page.append(el('div', { id: 'why' }));
    showError(page.querySelector('#why'), failure);
    return;
  }
  fill(page, el('h1', {}, t('val.verify.title')),
    el('p', { class: 'meta' }, t('val.print.lede', { id: cert.id })),
    verdictLine(verdict),
    el('p', {}, t(verdict.stone_provenance_intact ? 'cert.chain_ok' : 'cert.chain_broken')),
    certificateList(cert.certificate),
    el('p', { class: 'hint' }, t('val.print.offline')));
}

const loaded = load();
startPage(async () => { await loaded; render(); });
