// A certificate's printable page: the signed document, whether it is genuine and current, and a
// QR code (made by the server, GET /v1/certificates/{id}/qr.svg) that opens its public verify
// page. Public, like the certificate; a signed-in valuer also gets "Correct this certificate".
import { t } from '/i18n.js';
import { el, fill, getJSON, param } from '/api.js';
import { consolePage } from '/console/console.js';
import { certificateList, verdictLine } from '/console/valuer-certdoc.js';

let cert, verdict, who;

async function init(account) {
  who = account;
  const id = param('id');
  if (!id) throw Object.assign(new Error('no certificate'), { status: 404 });
  [cert, verdict] = await Promise.all([getJSON(`/v1/certificates/${encodeURIComponent(id)}`),
    getJSON(`/v1/certificates/${encodeURIComponent(id)}/verify`)]);
}

function render() {
  const url = `${location.origin}/verify.html?id=${encodeURIComponent(cert.id)}`;
  const print = el('button', { type: 'button', class: 'no-print' }, t('val.print.print'));
  print.addEventListener('click', () => window.print());
  fill(document.getElementById('content'),
    el('div', { class: 'certificate-print' },
      el('p', { class: 'meta' }, t('val.print.lede', { id: cert.id })),
      verdictLine(verdict),
      certificateList(cert.certificate),
      el('figure', {},
        el('img', { class: 'qr', src: `/v1/certificates/${encodeURIComponent(cert.id)}/qr.svg`, alt: t('val.print.qr_alt', { url }) }),
        el('figcaption', {}, t('val.print.qr_caption'), ' ', el('a', { href: url }, url))),
      el('p', { class: 'hint' }, t('val.print.offline'))),
    el('div', { class: 'actions no-print' }, print,
      who?.role === 'valuer' && verdict.current
        ? el('a', { href: `/console/valuer-certify.html?stone=${encodeURIComponent(cert.stone_id)}` }, t('val.print.correct')) : null,
      who?.role === 'valuer' ? el('a', { href: '/console/valuer.html' }, t('val.print.back')) : null));
}

consolePage(null, { init, render });
