// The valuer's certificate form: every member POST /v1/stones/{id}/certificates takes (GIA's
// report-results names), prefilled from the stone as listed, or from its current certificate
// when this is a correction (which supersedes it). The API's errors go beside their field.
import { t } from '/i18n.js';
import { el, fill, getJSON, param, send } from '/api.js';
import { clearErrors, consolePage, field, minorFrom, minorText, showErrors } from '/console/console.js';
import '/console/valuer-strings.js';

const SPECIES = ['corundum', 'beryl', 'zoisite', 'garnet', 'spinel', 'tourmaline', 'quartz', 'feldspar',
  'chrysoberyl', 'topaz', 'zircon', 'olivine', 'cordierite', 'kyanite', 'opal'];
const TRANSPARENCY = ['transparent', 'semitransparent', 'translucent', 'semitranslucent', 'opaque'];
const COUNTRIES = ['KE', 'TZ', 'ZM', 'MW'];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'KES', 'TZS', 'ZMW', 'MWK'];

let stone, current = null, form;

function select(id, key, apiName, values, label = (v) => v, blank = false) {
  const f = field(id, key, { field: apiName }, 'select');
  const s = f.querySelector('select');
  if (blank) s.append(el('option', { value: '', i18n: 'val.none' }));
  s.append(...values.map((v) => el('option', { value: v }, label(v))));
  return f;
}

function buildForm() {
  form = el('form', { id: 'cert-form', novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    el('fieldset', {}, el('legend', { i18n: 'val.form.stone' }),
      el('div', { class: 'grid2' },
        select('species', 'val.f.species', 'species', SPECIES),
        field('variety', 'val.f.variety', { field: 'variety', maxlength: 40 }),
        field('weight', 'val.f.weight_ct', { field: 'weight_ct', inputmode: 'decimal', required: true }),
        field('pieces', 'val.f.pieces', { field: 'piece_count', type: 'number', min: 1, max: 100000, value: 1 }),
        field('shape', 'val.f.shape', { field: 'shape', maxlength: 40, required: true }),
        field('cutting-style', 'val.f.cutting_style', { field: 'cutting_style', maxlength: 60 }))),
    el('fieldset', {}, el('legend', { i18n: 'val.f.measurements_mm' }),
      el('p', { class: 'hint', i18n: 'val.f.measurements_hint' }),
      el('div', { class: 'grid2' },
        field('length', 'val.f.length', { field: 'measurements_mm.length', inputmode: 'decimal' }),
        field('width', 'val.f.width', { field: 'measurements_mm.width', inputmode: 'decimal' }),
        field('depth', 'val.f.depth', { field: 'measurements_mm.depth', inputmode: 'decimal' }))),
    el('fieldset', {}, el('legend', { i18n: 'val.form.appearance' }),
      el('div', { class: 'grid2' },
        field('color', 'val.f.color', { field: 'color', maxlength: 80, required: true }),
        select('transparency', 'val.f.transparency', 'transparency', TRANSPARENCY, (v) => t(`val.tr.${v}`), true),
        field('phenomenon', 'val.f.phenomenon', { field: 'phenomenon', maxlength: 80 }),
        field('treatment', 'val.f.treatment', { field: 'treatment', maxlength: 200 }))),
    el('fieldset', {}, el('legend', { i18n: 'val.f.geographic_origin' }),
      el('div', { class: 'grid2' },
        select('country', 'val.f.country', 'geographic_origin.country', COUNTRIES, (v) => t(`val.country.${v}`)),
        field('region', 'val.f.region', { field: 'geographic_origin.region', maxlength: 80 }),
        field('site', 'val.f.site', { field: 'geographic_origin.site', maxlength: 120 }))),
    el('fieldset', {}, el('legend', { i18n: 'val.f.estimated_value' }),
      el('div', { class: 'grid2' },
        field('low', 'val.f.low', { field: 'estimated_value.low', inputmode: 'decimal', required: true }),
        field('high', 'val.f.high', { field: 'estimated_value.high', inputmode: 'decimal', required: true }),
        select('currency', 'val.f.currency', 'estimated_value.currency', CURRENCIES))),
    stone.photos?.length ? el('fieldset', { id: 'photos' }, el('legend', { i18n: 'val.f.photos' }),
      stone.photos.map((p, i) => el('div', { class: 'field' }, el('label', {},
        el('input', { type: 'checkbox', name: 'photo', value: p.sha256, 'data-field': `photos[${i}]`, checked: true }),
        ' ', el('img', { src: p.url, alt: '', class: 'thumb' }), ' ', t('val.photo_n', { n: i + 1 }))))) : null,
    field('comments', 'val.f.report_comments', { field: 'report_comments', maxlength: 2000 }, 'textarea'),
    el('div', { class: 'actions' }, el('button', { type: 'submit', id: 'issue' })));
  return form;
}

const F = (name) => form.elements.namedItem(name);

function prefill() {
  const d = current?.certificate;
  const o = d ? d.geographic_origin : stone.origin ?? {};
  F('species').value = d?.species ?? stone.species;
  F('variety').value = d?.variety ?? stone.variety ?? '';
  F('weight').value = d ? (d.weight_cct / 100).toFixed(2) : stone.weight_ct;
  F('pieces').value = d?.piece_count ?? stone.piece_count ?? 1;
  F('shape').value = d?.shape ?? stone.shape ?? '';
  F('cutting-style').value = d?.cutting_style ?? '';
  const m = d?.measurements_um;
  F('length').value = m ? (m.length / 1000).toFixed(2) : '';
  F('width').value = m ? (m.width / 1000).toFixed(2) : '';
  F('depth').value = m ? (m.depth / 1000).toFixed(2) : '';
  F('color').value = d?.color ?? stone.colour ?? '';
  F('transparency').value = d?.transparency ?? '';
  F('phenomenon').value = d?.phenomenon ?? '';
  F('treatment').value = d?.treatment ?? '';
  F('country').value = o.country ?? 'TZ';
  F('region').value = o.region ?? '';
  F('site').value = o.site ?? '';
  F('low').value = d ? minorText(d.estimated_value.low) : '';
  F('high').value = d ? minorText(d.estimated_value.high) : '';
  F('currency').value = d?.estimated_value.currency ?? 'USD';
  F('comments').value = d?.report_comments ?? '';
  if (d) for (const c of form.querySelectorAll('input[name=photo]')) c.checked = d.photos.includes(c.value);
}

function body() {
  clearErrors(form);
  const text = (name) => F(name).value.trim() || null;
  const b = {
    species: F('species').value, variety: text('variety'), weight_ct: F('weight').value.trim(),
    piece_count: Number(F('pieces').value || 1), shape: F('shape').value.trim(), cutting_style: text('cutting-style'),
    color: F('color').value.trim(), transparency: F('transparency').value || null,
    phenomenon: text('phenomenon'), treatment: text('treatment'),
    geographic_origin: { country: F('country').value, region: text('region'), site: text('site') },
    report_comments: text('comments'),
    photos: [...form.querySelectorAll('input[name=photo]:checked')].map((c) => c.value),
    supersedes: current ? current.id : null,
  };
  const dims = ['length', 'width', 'depth'].map((n) => F(n).value.trim());
  if (dims.some(Boolean)) b.measurements_mm = { length: dims[0], width: dims[1], depth: dims[2] };
  for (const n of ['low', 'high']) {
    const v = minorFrom(F(n).value);
    if (!v) {
      F(n).setAttribute('aria-invalid', 'true');
      document.getElementById(`${n}-error`).textContent = t('console.err.amount');
      F(n).focus();
      return null;
    }
    b.estimated_value ??= { currency: F('currency').value };
    b.estimated_value[n] = v;
  }
  return b;
}

async function issue(e) {
  e.preventDefault();
  const b = body();
  if (!b) return;
  const button = form.querySelector('#issue');
  button.disabled = true;
  try {
    const c = await send('POST', `/v1/stones/${encodeURIComponent(stone.id)}/certificates`, b);
    location.href = `/console/valuer-certificate.html?id=${encodeURIComponent(c.id)}`;
  } catch (err) {
    showErrors(form, err);
    button.disabled = false;
  }
}

async function init() {
  const id = param('stone');
  if (!id) throw Object.assign(new Error('no stone'), { status: 404 });
  stone = await getJSON(`/v1/stones/${encodeURIComponent(id)}`);
  if (stone.certificate_id) current = await getJSON(`/v1/certificates/${encodeURIComponent(stone.certificate_id)}`);
  fill(document.getElementById('content'),
    el('p', { id: 'about' }),
    buildForm());
  prefill();
  form.addEventListener('submit', issue);
}

function render() {
  const title = current ? t('val.form.correct_title', { id: current.id }) : t('val.form.title');
  document.querySelector('h1').textContent = title;
  document.title = `Kito — ${title}`;
  const name = `${stone.variety || stone.species}, ${stone.weight_ct} ct (${stone.id})`;
  document.getElementById('about').textContent = current
    ? t('val.form.correct_about', { stone: name, id: current.id, version: current.version + 1 })
    : t('val.form.about', { stone: name });
  form.querySelector('#issue').textContent = t(current ? 'val.form.issue_correction' : 'val.form.issue');
}

consolePage(['valuer'], { init, render });
