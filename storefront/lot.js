import { apply } from '/i18n.js';
import { el, getJSON, money, param, reserveKey, showError, startPage, stoneTitle, when } from '/api.js';

const page = document.getElementById('page');

function row(labelKey, value) {
  if (value === null || value === undefined || value === '') return null;
  return el('div', { class: 'row' }, el('dt', { i18n: labelKey }), el('dd', {}, value));
}

// The certificate as its valuer signed it, and whether Kito's signature over it holds.
async function certificate(id) {
  const [doc, check] = await Promise.all([
    getJSON(`/v1/certificates/${encodeURIComponent(id)}`),
    getJSON(`/v1/certificates/${encodeURIComponent(id)}/verify`),
  ]);
  const c = doc.certificate;
  const ok = check.genuine && check.current;
  return el('section', { class: 'certificate', 'aria-labelledby': 'cert-title' },
    el('h2', { id: 'cert-title', i18n: 'cert.title' }),
    el('p', { id: 'cert-check', class: ok ? 'ok' : 'warn', 'data-genuine': String(check.genuine) },
      el('span', { i18n: ok ? 'cert.genuine' : check.genuine ? 'cert.superseded' : 'cert.not_genuine' }),
      ` (${c.id}, v${c.version})`),
    el('dl', {},
      row('cert.species', `${c.species}${c.variety ? ` (${c.variety})` : ''}`),
      row('cert.weight', `${(c.weight_cct / 100).toFixed(2)} ct`),
      row('cert.shape', [c.shape, c.cutting_style].filter(Boolean).join(', ')),
      row('cert.color', c.color),
      row('cert.transparency', c.transparency),
      row('cert.treatment', c.treatment),
      row('cert.origin', [c.geographic_origin.site, c.geographic_origin.region,
        c.geographic_origin.country].filter(Boolean).join(', ')),
      row('cert.estimate', `${money({ amount: c.estimated_value.low, currency: c.estimated_value.currency })} – ${money({ amount: c.estimated_value.high, currency: c.estimated_value.currency })}`),
      row('cert.valuer', `${c.valuer.name}, ${when(c.issued_at)}`),
    ),
    el('p', { class: 'meta' }, el('span', { i18n: check.stone_provenance_intact ? 'cert.chain_ok' : 'cert.chain_broken' })),
  );
}

async function render() {
  const id = param('id');
  try {
    const lot = await getJSON(`/v1/lots/${encodeURIComponent(id)}`);
    document.title = `Kito — ${stoneTitle(lot.stone)}`;
    const reserve = reserveKey(lot);
    const parts = [
      el('p', { class: 'meta' }, el('a', { href: `/sale.html?id=${encodeURIComponent(lot.sale_id)}`, i18n: 'lot.back' })),
      el('h1', {}, `${lot.lot_number}. ${stoneTitle(lot.stone)}`),
      el('dl', { class: 'facts' },
        row('lot.opening', money(lot.opening)),
        lot.price ? row('lot.price', money(lot.price)) : null,
        lot.ask ? row('lot.ask', money(lot.ask)) : null,
        row('lot.ends', when(lot.ends_at)),
        el('div', { class: 'row' }, el('dt', { i18n: 'lot.reserve' }), el('dd', { i18n: reserve })),
      ),
    ];
    page.replaceChildren(...parts);
    if (lot.stone.certificate_id) page.append(await certificate(lot.stone.certificate_id));
    apply(page);
  } catch (err) {
    showError(page, err);
  }
  page.removeAttribute('aria-busy');
}

startPage(render);
