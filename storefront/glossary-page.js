// The glossary page: every term of glossary.js in the page's language with its name in the other
// language, and what it means where the glossary says.
import { apply, lang } from '/i18n.js';
import { el, fill, startPage } from '/api.js';
import { MEANINGS, TERMS, WORDS } from '/glossary.js';

const page = document.getElementById('page');

function section(kind, entries) {
  const sw = lang() === 'sw';
  return el('section', { 'aria-labelledby': `g-${kind}` },
    el('h2', { id: `g-${kind}`, i18n: `gloss.${kind}` }),
    el('dl', { class: 'glossary' }, entries.flatMap(([key, [en, swName]]) => {
      const here = sw ? swName : en, other = sw ? en : swName;
      const meaning = MEANINGS[key]?.[sw ? 1 : 0];
      return [
        el('dt', { id: `term-${key.replace(/[^a-z]+/g, '-')}` }, here,
          other !== here ? el('span', { class: 'meta', lang: sw ? 'en' : 'sw' }, ` — ${other}`) : null),
        el('dd', {}, meaning ?? ''),
      ];
    })));
}

function render() {
  fill(page,
    el('h1', { i18n: 'gloss.title' }),
    el('p', { i18n: 'gloss.lede' }),
    Object.entries(TERMS).map(([kind, entries]) => section(kind, Object.entries(entries))),
    section('terms', Object.entries(WORDS)));
  apply(page);
  page.removeAttribute('aria-busy');
}

startPage(render);
