// A signed certificate's document as a definition list (GIA's report-results names, in the
// visitor's language): the valuer's printable page and the public verify page show the same.
import { t } from '/i18n.js';
import { el, money, when } from '/api.js';
import '/console/valuer-strings.js';

const mm = (um) => (um / 1000).toFixed(2);

export function certificateList(doc) {
  const row = (key, value) => (value === null || value === undefined || value === ''
    ? null : el('div', { class: 'row' }, el('dt', {}, t(key)), el('dd', {}, value)));
  const m = doc.measurements_um;
  const o = doc.geographic_origin ?? {};
  const ev = doc.estimated_value;
  return el('dl', {},
    row('val.f.species', doc.species), row('val.f.variety', doc.variety),
    row('val.f.weight', `${(doc.weight_cct / 100).toFixed(2)} ct`),
    row('val.f.pieces', doc.piece_count > 1 ? String(doc.piece_count) : null),
    row('val.f.shape', doc.shape), row('val.f.cutting_style', doc.cutting_style),
    row('val.f.measurements', m ? `${mm(m.length)} × ${mm(m.width)} × ${mm(m.depth)} mm` : null),
    row('val.f.color', doc.color), row('val.f.transparency', doc.transparency ? t(`val.tr.${doc.transparency}`) : null),
    row('val.f.phenomenon', doc.phenomenon), row('val.f.treatment', doc.treatment),
    row('val.f.origin', [o.site, o.region, o.country].filter(Boolean).join(', ')),
    row('val.f.estimate', ev ? `${money({ amount: ev.low, currency: ev.currency })} – ${money({ amount: ev.high, currency: ev.currency })}` : null),
    row('val.f.comments', doc.report_comments),
    row('val.f.valuer', doc.valuer?.name), row('val.f.issued', when(doc.issued_at)),
    row('val.f.version', String(doc.version)), row('val.f.supersedes', doc.supersedes),
    row('val.f.stone', doc.stone_id), row('val.f.key', doc.key_id));
}

// The verdict of GET /v1/certificates/{id}/verify as one sentence and its class.
export function verdictLine(v) {
  if (!v.genuine) return el('p', { class: 'error', role: 'alert' }, t('cert.not_genuine'));
  if (!v.current) {
    return el('p', { class: 'warn' }, t('cert.superseded'), ' ',
      el('a', { href: `/verify.html?id=${encodeURIComponent(v.superseded_by)}` }, t('val.see_correction', { id: v.superseded_by })));
  }
  return el('p', { class: 'ok' }, t('cert.genuine'));
}
