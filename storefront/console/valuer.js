// The valuer's queue: stones listed and waiting for their first certificate (status draft), and
// certified stones whose certificate she may correct.
import { t } from '/i18n.js';
import { el, fill, getJSON, when } from '/api.js';
import { consolePage } from '/console/console.js';
import '/console/valuer-strings.js';

const lists = { draft: { items: [], next: null }, certified: { items: [], next: null } };

async function more(status) {
  const l = lists[status];
  const q = new URLSearchParams({ status, limit: '50' });
  if (l.next) q.set('cursor', l.next);
  const res = await getJSON(`/v1/stones?${q}`);
  l.items.push(...res.items);
  l.next = res.next_cursor;
}

async function init() {
  await Promise.all([more('draft'), more('certified')]);
}

function table(status) {
  const l = lists[status];
  if (l.items.length === 0) return el('p', {}, t(status === 'draft' ? 'val.queue.empty' : 'console.none'));
  const action = status === 'draft' ? 'val.queue.value' : 'val.queue.correct';
  return [el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, ['val.col.stone', 'val.col.weight', 'val.col.origin', 'val.col.listed', 'val.col.action']
      .map((k) => el('th', { scope: 'col' }, t(k))))),
    el('tbody', {}, l.items.map((s) => {
      const name = `${s.variety || s.species}${s.shape ? `, ${s.shape}` : ''}`;
      return el('tr', {},
        el('td', {}, name, el('br'), el('span', { class: 'meta' }, s.id)),
        el('td', {}, `${s.weight_ct} ct${s.piece_count > 1 ? ` · ${t('val.pieces', { n: s.piece_count })}` : ''}`),
        el('td', {}, [s.origin?.site, s.origin?.region, s.origin?.country].filter(Boolean).join(', ')),
        el('td', {}, when(s.created_at)),
        el('td', {}, el('a', { href: `/console/valuer-certify.html?stone=${encodeURIComponent(s.id)}` },
          t(action, { stone: name })),
        s.certificate_id ? [el('br'), el('a', { href: `/console/valuer-certificate.html?id=${encodeURIComponent(s.certificate_id)}` },
          t('val.queue.print', { id: s.certificate_id }))] : null));
    })))),
  l.next ? el('button', { type: 'button', class: 'secondary', 'data-more': status }, t('console.more')) : null];
}

function render() {
  const content = document.getElementById('content');
  fill(content,
    el('section', { 'aria-labelledby': 'draft-title' },
      el('h2', { id: 'draft-title' }, t('val.queue.waiting')), table('draft')),
    el('section', { 'aria-labelledby': 'certified-title' },
      el('h2', { id: 'certified-title' }, t('val.queue.certified')), table('certified')));
  for (const b of content.querySelectorAll('[data-more]')) {
    b.addEventListener('click', async () => {
      await more(b.dataset.more);
      render();
      content.querySelector(`#${b.dataset.more}-title`)?.focus();
    });
  }
}

consolePage(['valuer'], { init, render });
