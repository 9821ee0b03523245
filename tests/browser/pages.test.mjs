// Every storefront page on a 360x640 phone, signed out and signed in, in English and Swahili:
// axe-core finds no accessibility violation, nothing unset is shown ("null", "undefined",
// "1 lots"), and each page's cold load (a fresh browser context, nothing cached) transfers at most
// 100 KB, measured from what the browser received. Prints `# page_kb <page> <KB>`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { startKitod, startBrowser } from './kitod.mjs';
import { market } from './fixtures.mjs';

const PASSWORD = 'pages-pass-2026';
const run = `p${process.pid}-${Date.now() % 100000}`;
let kitod, browser, pages;

before(async () => {
  kitod = await startKitod({ KITO_PAY_BANK_NAME: 'CRDB Bank', KITO_PAY_BANK_ACCOUNT: '0150-2233-4455', KITO_PAY_MPESA_PAYBILL: '522533' });
  ({ browser } = await startBrowser());
  const m = market(kitod, run, PASSWORD);
  const { sale, lot } = await m.sale(`Pages sale ${run}`, 1, 3600);
  pages = {
    home: '/', sale: `/sale.html?id=${sale.id}`, lot: `/lot.html?id=${lot.id}`, me: '/me.html',
    signin: '/signin.html', signup: '/signup.html', glossary: '/glossary.html', notfound: '/no-such-page',
  };
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

async function phone() {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 }, locale: 'en-GB',
  });
  return context.newPage();
}

// Waits for the page's own content (not "Loading…").
async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 10000 });
  await page.waitForLoadState('networkidle');
}

async function checkPage(page, name, langName) {
  await settled(page);
  const body = await page.textContent('body');
  assert.ok(!/\bnull\b|\bundefined\b|\b1 lots\b|\b1 bids\b|NaN/.test(body), `${name} (${langName}) shows: ${body}`);
  const { violations } = await new AxeBuilder({ page }).analyze();
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `${name} (${langName}): accessibility violations`);
}

async function visitAll(signedIn) {
  const page = await phone();
  if (signedIn) {
    const email = `buyer-${run}@kito.test`;
    await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: 'Pages Buyer', email, password: PASSWORD });
    await page.goto(`${kitod.base}/signin.html`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/me\.html$/);
  }
  for (const [name, path] of Object.entries(pages)) {
    await page.goto(`${kitod.base}${path}`);
    await checkPage(page, name, 'English');
    if (name === 'notfound') continue; // one page in both languages, no switch
    // signed in, a switch is saved to her account: wait for it, so the next page starts in English
    const switchTo = async (code) => {
      const saved = signedIn && page.waitForResponse((r) => r.url().endsWith('/v1/accounts/me') && r.request().method() === 'PATCH');
      await page.click('#lang');
      await page.waitForFunction((c) => document.documentElement.lang === c, code);
      if (saved) assert.equal((await saved).status(), 200, `${name}: the language is saved`);
    };
    await switchTo('sw');
    await checkPage(page, name, 'Swahili');
    await switchTo('en');
  }
  await page.context().close();
}

test('no accessibility violations on any page, signed out, in both languages', async () => {
  await visitAll(false);
});

test('no accessibility violations on any page, signed in, in both languages', async () => {
  await visitAll(true);
});

test('each page is at most 100 KB on a cold load', async () => {
  let max = 0;
  for (const [name, path] of Object.entries(pages)) {
    const page = await phone(); // a fresh context: nothing cached
    const responses = [];
    page.on('response', (r) => responses.push(r));
    await page.goto(`${kitod.base}${path}`);
    await settled(page);
    let bytes = 0;
    for (const r of responses) {
      if (/\/v1\/sales\/[^/]+\/live/.test(r.url())) continue; // the live stream never ends
      // photos excluded, thumbnails (the 160 px copies in lists) included
      if (/\/v1\/photos\//.test(r.url()) && !/\/sized\/160$/.test(r.url())) continue;
      const s = await r.request().sizes().catch(() => null);
      if (s) bytes += s.responseBodySize + s.responseHeadersSize;
    }
    const kb = bytes / 1024;
    console.log(`# page_kb ${name} ${kb.toFixed(1)}`);
    assert.ok(bytes > 500, `${name}: only ${bytes} bytes: the page did not load`);
    assert.ok(kb <= 100, `${name}: ${kb.toFixed(1)} KB on a cold load; the budget is 100 KB`);
    max = Math.max(max, kb);
    await page.context().close();
  }
  console.log(`# page_kb_max ${max.toFixed(1)}`);
});
