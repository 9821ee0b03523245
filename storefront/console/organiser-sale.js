// The sale builder: every member POST /v1/sales takes (PATCH /v1/sales/{id} while a draft), the
// API's validation errors beside the field they name, times entered in a named time zone.
import { t } from '/i18n.js';
import { el, fill, param, send, whenZoned } from '/api.js';
import {
  bpsFrom, bpsText, clearErrors, consolePage, defaultZone, field, isoToZoned, minorFrom, minorText,
  showErrors, zonedToIso, ZONES,
} from '/console/console.js';
import { loadSale, saleHeader } from '/console/organiser-kit.js';

const CURRENCIES = ['USD', 'EUR', 'GBP', 'KES', 'TZS', 'ZMW', 'MWK'];

// Increment ladders offered as presets, [from, step] in minor units. USD, EUR and GBP: DESIGN.md's
// table (the API's default). The local currencies: the same steps at about their rate to the
// dollar, rounded to amounts people say (KES ~130, TZS ~2,500, ZMW ~25, MWK ~1,750 to US$1).
const DESIGN_LADDER = [[0, 500], [10000, 1000], [20000, 2000], [50000, 5000], [100000, 10000],
  [200000, 20000], [500000, 50000], [1000000, 100000], [2000000, 200000], [5000000, 500000]];
const PRESETS = {
  USD: DESIGN_LADDER, EUR: DESIGN_LADDER, GBP: DESIGN_LADDER,
  KES: [[0, 50000], [1000000, 100000], [2000000, 200000], [5000000, 500000], [10000000, 1000000],
    [20000000, 2000000], [50000000, 5000000], [100000000, 10000000]],
  TZS: [[0, 1000000], [25000000, 2500000], [50000000, 5000000], [125000000, 10000000],
    [250000000, 25000000], [500000000, 50000000], [1250000000, 100000000], [2500000000, 250000000]],
  ZMW: [[0, 10000], [250000, 25000], [500000, 50000], [1250000, 100000], [2500000, 250000],
    [5000000, 500000], [12500000, 1000000], [25000000, 2500000]],
  MWK: [[0, 1000000], [20000000, 2000000], [50000000, 5000000], [100000000, 10000000],
    [200000000, 20000000], [500000000, 50000000], [1000000000, 100000000]],
};

let sale = null; // the draft being edited, or null for a new sale
let form;

function option(value, key, selected) {
  return el('option', { value, i18n: key, selected: value === selected }, value);
}

// One ladder row: its from and step inputs (API names ladder[i].from_minor, ladder[i].step_minor).
function ladderRow(from, step) {
  const tr = el('tr');
  tr.append(el('td', {}, el('input', { class: 'from', inputmode: 'decimal', value: minorText(from) })),
    el('td', {}, el('input', { class: 'step', inputmode: 'decimal', value: minorText(step) })),
    el('td', {}, el('button', { type: 'button', class: 'secondary remove' })),
    el('td', { class: 'field-error', 'aria-live': 'polite' }));
  return tr;
}

// Numbers each row's labels, names and error paragraphs after a row is added or removed.
function relabelLadder() {
  [...form.querySelectorAll('#ladder-rows tr')].forEach((tr, i) => {
    const err = tr.querySelector('.field-error');
    err.id = `ladder-${i}-error`;
    for (const [cls, key, api] of [['from', 'org.ladder.from_n', 'from_minor'], ['step', 'org.ladder.step_n', 'step_minor']]) {
      const input = tr.querySelector(`.${cls}`);
      input.id = `ladder-${i}-${cls}`;
      input.dataset.field = `ladder[${i}].${api}`;
      input.setAttribute('aria-label', t(key, { n: i + 1 }));
      input.setAttribute('aria-describedby', err.id);
    }
    tr.querySelector('.remove').textContent = t('org.ladder.remove_n', { n: i + 1 });
  });
}

function setLadder(rows) {
  fill(form.querySelector('#ladder-rows'), rows.map(([f, s]) => ladderRow(f, s)));
  relabelLadder();
}

function buildForm() {
  const zone = defaultZone();
  form = el('form', { id: 'sale-form', novalidate: true },
    el('p', { class: 'form-error', role: 'alert' }),
    el('fieldset', {}, el('legend', { i18n: 'org.builder.about' }),
      field('title', 'org.f.title', { field: 'title', required: true, maxlength: 120, autocomplete: 'off' }),
      field('description', 'org.f.description', { field: 'description', maxlength: 4000 }, 'textarea'),
      el('div', { class: 'grid2' },
        (() => {
          const f = field('format', 'org.f.format', { field: 'format' }, 'select');
          f.querySelector('select').append(option('timed', 'format.timed', 'timed'),
            option('tender', 'format.tender'), option('live', 'format.live'));
          return f;
        })(),
        field('venue', 'org.f.venue', { field: 'venue', maxlength: 120, hint: 'org.f.venue_hint' })),
      el('div', { class: 'field' },
        el('label', {}, el('input', { type: 'checkbox', id: 'online', 'data-field': 'online', checked: true }),
          ' ', el('span', { i18n: 'org.f.online' })))),
    el('fieldset', {}, el('legend', { i18n: 'org.builder.when' }),
      (() => {
        const f = field('zone', 'org.f.zone', { field: 'time_zone', hint: 'org.f.zone_hint' }, 'select');
        f.querySelector('select').append(...ZONES.map((z) => el('option', { value: z, selected: z === zone }, z)));
        return f;
      })(),
      el('div', { class: 'grid2' },
        field('starts', 'org.f.starts', { field: 'starts_at', type: 'datetime-local', required: true }),
        field('ends', 'org.f.ends', { field: 'ends_at', type: 'datetime-local', hint: 'org.f.ends_hint' })),
      el('p', { id: 'utc-preview', class: 'hint', 'aria-live': 'polite' })),
    el('fieldset', {}, el('legend', { i18n: 'org.builder.terms' }),
      el('div', { class: 'grid2' },
        (() => {
          const f = field('currency', 'org.f.currency', { field: 'currency' }, 'select');
          f.querySelector('select').append(...CURRENCIES.map((c) => el('option', { value: c }, c)));
          return f;
        })(),
        field('premium', 'org.f.premium', { field: 'buyer_premium_bps', inputmode: 'decimal', value: '10' }),
        field('commission', 'org.f.commission', { field: 'commission_bps', inputmode: 'decimal', value: '5' }),
        field('soft-close', 'org.f.soft_close', { field: 'soft_close_s', type: 'number', min: 0, max: 3600, value: 120, hint: 'org.f.soft_close_hint' }),
        field('stagger', 'org.f.stagger', { field: 'stagger_s', type: 'number', min: 0, max: 3600, value: 60, hint: 'org.f.stagger_hint' }),
        (() => {
          const f = field('tender-pricing', 'org.f.tender_pricing', { field: 'tender_pricing' }, 'select');
          f.id = 'tender-pricing-field';
          f.querySelector('select').append(option('first', 'org.tender.first', 'first'), option('second', 'org.tender.second'));
          return f;
        })())),
    el('fieldset', { id: 'ladder' }, el('legend', { i18n: 'org.ladder.title' }),
      el('p', { class: 'hint', i18n: 'org.ladder.hint' }),
      el('div', { class: 'table-wrap' }, el('table', {},
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', i18n: 'org.ladder.from' }),
          el('th', { scope: 'col', i18n: 'org.ladder.step' }), el('td'), el('td'))),
        el('tbody', { id: 'ladder-rows' }))),
      el('p', { class: 'field-error', id: 'ladder-error', 'aria-live': 'polite' }),
      el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'secondary', id: 'ladder-add', i18n: 'org.ladder.add' }),
        el('button', { type: 'button', class: 'secondary', id: 'ladder-preset' }))),
    el('div', { class: 'actions' }, el('button', { type: 'submit', id: 'save' })),
    el('p', { id: 'saved', role: 'status' }));
  // the ladder's own error (its length) goes under the table
  form.querySelector('#ladder-error').previousElementSibling.dataset.field = 'ladder';
  form.querySelector('#ladder .table-wrap').setAttribute('aria-describedby', 'ladder-error');
  form.querySelector('#ladder .table-wrap').tabIndex = -1;
  return form;
}

function fillFrom(s) {
  const select = form.elements.zone;
  if (s.time_zone && ![...select.options].some((o) => o.value === s.time_zone)) {
    select.append(el('option', { value: s.time_zone }, s.time_zone));
  }
  select.value = s.time_zone ?? select.value;
  const zone = select.value;
  form.elements.title.value = s.title;
  form.elements.description.value = s.description ?? '';
  form.elements.format.value = s.format;
  form.elements.venue.value = s.venue ?? '';
  form.elements.online.checked = s.online !== false;
  form.elements.starts.value = isoToZoned(s.starts_at, zone);
  form.elements.ends.value = isoToZoned(s.ends_at, zone);
  form.elements.currency.value = s.currency;
  form.elements.premium.value = bpsText(s.buyer_premium_bps);
  form.elements.commission.value = bpsText(s.commission_bps);
  form.elements['soft-close'].value = s.soft_close_s;
  form.elements.stagger.value = s.stagger_s;
  form.elements['tender-pricing'].value = s.tender_pricing ?? 'first';
  setLadder(s.ladder.map((r) => [r.from_minor, r.step_minor]));
}

function syncFormat() {
  form.querySelector('#tender-pricing-field').hidden = form.elements.format.value !== 'tender';
  const cur = form.elements.currency.value;
  form.querySelector('#ladder-preset').textContent = t('org.ladder.preset', { currency: cur });
  const zone = form.elements.zone.value;
  const s = zonedToIso(form.elements.starts.value, zone), e = zonedToIso(form.elements.ends.value, zone);
  form.querySelector('#utc-preview').textContent = s
    ? t('org.f.utc_preview', { starts: whenZoned(s), ends: e ? whenZoned(e) : '—' }) : '';
}

// Reads the form into the API's body; a value that cannot be read is shown beside its field and
// null returned (nothing is sent).
function body() {
  clearErrors(form);
  const local = (input, key) => {
    input.setAttribute('aria-invalid', 'true');
    document.getElementById(input.getAttribute('aria-describedby').split(' ')[0]).textContent = t(key);
    input.focus();
    return null;
  };
  const zone = form.elements.zone.value;
  const b = {
    title: form.elements.title.value.trim(), description: form.elements.description.value.trim() || null,
    venue: form.elements.venue.value.trim() || null, online: form.elements.online.checked, format: form.elements.format.value,
    starts_at: zonedToIso(form.elements.starts.value, zone), ends_at: zonedToIso(form.elements.ends.value, zone),
    time_zone: zone,
  };
  if (!b.starts_at) return local(form.elements.starts, 'org.err.when');
  if (form.elements.ends.value && !b.ends_at) return local(form.elements.ends, 'org.err.when');
  if (!sale || sale.currency !== form.elements.currency.value || sale.lot_count === 0) b.currency = form.elements.currency.value;
  for (const [input, name] of [[form.elements.premium, 'buyer_premium_bps'], [form.elements.commission, 'commission_bps']]) {
    const v = bpsFrom(input.value);
    if (v === null) return local(input, 'org.err.percent');
    b[name] = v;
  }
  for (const [input, name] of [[form.elements['soft-close'], 'soft_close_s'], [form.elements.stagger, 'stagger_s']]) {
    if (!/^\d+$/.test(input.value)) return local(input, 'org.err.seconds');
    b[name] = Number(input.value);
  }
  if (b.format === 'tender') b.tender_pricing = form.elements['tender-pricing'].value;
  else if (sale?.tender_pricing) b.tender_pricing = null;
  b.ladder = [];
  for (const tr of form.querySelectorAll('#ladder-rows tr')) {
    const from = minorFrom(tr.querySelector('.from').value), step = minorFrom(tr.querySelector('.step').value);
    if (from === null) return local(tr.querySelector('.from'), 'org.err.amount');
    if (step === null) return local(tr.querySelector('.step'), 'org.err.amount');
    b.ladder.push({ from_minor: from, step_minor: step });
  }
  return b;
}

async function save(e) {
  e.preventDefault();
  const b = body();
  if (!b) return;
  const button = form.querySelector('#save');
  button.disabled = true;
  try {
    if (sale) {
      sale = await send('PATCH', `/v1/sales/${encodeURIComponent(sale.id)}`, b);
      fillFrom(sale);
      form.querySelector('#saved').textContent = t('console.saved');
    } else {
      const created = await send('POST', '/v1/sales', b);
      location.href = `/console/organiser-lots.html?id=${encodeURIComponent(created.id)}`;
    }
  } catch (err) {
    showErrors(form, err);
  } finally {
    button.disabled = false;
  }
}

async function init() {
  if (param('id')) sale = await loadSale();
  const content = document.getElementById('content');
  fill(content, sale ? saleHeader(sale) : null, buildForm());
  if (sale) fillFrom(sale);
  else setLadder(PRESETS.USD);
  if (sale && sale.status !== 'draft') {
    for (const fs of form.querySelectorAll('fieldset')) fs.disabled = true;
    form.querySelector('#save').hidden = true;
    form.prepend(el('p', { class: 'meta', i18n: 'org.builder.locked' }));
  }
  form.addEventListener('submit', save);
  form.addEventListener('input', syncFormat);
  form.addEventListener('change', syncFormat);
  form.querySelector('#ladder-add').addEventListener('click', () => {
    const rows = form.querySelector('#ladder-rows');
    rows.append(ladderRow(null, null));
    relabelLadder();
    rows.lastElementChild.querySelector('.from').focus();
  });
  form.querySelector('#ladder-preset').addEventListener('click', () => {
    setLadder(PRESETS[form.elements.currency.value]);
    form.querySelector('#ladder-rows .from').focus();
  });
  form.querySelector('#ladder-rows').addEventListener('click', (e) => {
    const b = e.target.closest('button.remove');
    if (!b) return;
    const tr = b.closest('tr');
    const next = tr.nextElementSibling ?? tr.previousElementSibling;
    tr.remove();
    relabelLadder();
    (next?.querySelector('.remove') ?? form.querySelector('#ladder-add')).focus();
  });
}

function render() {
  document.querySelector('h1').textContent = sale ? t('org.builder.edit_title') : t('org.builder.new_title');
  document.title = `Kito — ${document.querySelector('h1').textContent}`;
  form.querySelector('#save').textContent = t(sale ? 'org.builder.save' : 'org.builder.create');
  relabelLadder();
  syncFormat();
}

consolePage(['organizer', 'operator'], { init, render });
