// The miner's own page (issue 18, "Miner and agent web pages"; storefront/miner/): a miner with a
// smartphone signs in with her phone and PIN on a 360x640 screen and sees her stones, results and
// payouts, in English and Swahili, with no accessibility violation, in at most 50 KB on a cold
// load. A buyer who signs in there is told the page is not for her account.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { startKitod, startBrowser } from './kitod.mjs';

let kitod, browser;
const phoneNumber = `+2557${String(Date.now()).slice(-8)}`;

before(async () => {
  kitod = await startKitod();
  ({ browser } = await startBrowser());
  await kitod.api('POST', '/v1/accounts', null,
    { role: 'miner', name: 'Zawadi Test', phone: phoneNumber, pin: '4826', payout: { rail: 'mpesa' } });
  const token = (await kitod.api('POST', '/v1/sessions', null, { phone: phoneNumber, pin: '4826' })).token;
  await kitod.api('POST', '/v1/stones', token, {
    species: 'zoisite', variety: 'tanzanite', weight_ct: '2.75', origin: { country: 'TZ', site: 'Mirerani' },
  });
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

async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 10000 });
  await page.waitForLoadState('networkidle');
}

async function noViolations(page, what) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `${what}: accessibility violations`);
}

test('a miner signs in with her phone and PIN and sees her stones, in both languages', async () => {
  const page = await phone();
  let bytes = 0;
  page.on('response', async (r) => {
    const s = await r.request().sizes().catch(() => null);
    if (s) bytes += s.responseBodySize + s.responseHeadersSize;
  });
  await page.goto(`${kitod.base}/miner/`);
  await settled(page);
  await noViolations(page, 'sign-in form');
  await page.getByLabel(/Phone number/).fill(phoneNumber);
  await page.getByLabel('PIN').fill('0000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'The phone number or PIN is not right.' }).waitFor();
  await page.getByLabel('PIN').fill('4826');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'My stones and my money' }).waitFor();
  await settled(page);
  const stones = page.getByRole('region', { name: 'My stones' });
  await stones.getByText('Tanzanite, 2.75 ct').waitFor();
  await stones.getByText('Waiting for valuation').waitFor();
  assert.ok(await page.getByRole('region', { name: 'My payouts' }).getByText('Nothing yet.').isVisible());
  const body = await page.textContent('body');
  assert.ok(!/\bnull\b|\bundefined\b|NaN|miner\.status/.test(body), body);
  await noViolations(page, 'her page (English)');
  await page.click('#lang');
  await page.getByRole('heading', { name: 'Mawe yangu na pesa zangu' }).waitFor();
  await page.getByRole('region', { name: 'Mawe yangu' }).getByText('Inasubiri uthamini').waitFor();
  await noViolations(page, 'her page (Swahili)');
  const kb = bytes / 1024;
  console.log(`# page_kb miner ${kb.toFixed(1)}`);
  assert.ok(kb <= 50 * 2, `${kb.toFixed(1)} KB over two loads`);
  await page.context().close();
});

test('the page is at most 50 KB on a cold load', async () => {
  const page = await phone();
  const responses = [];
  page.on('response', (r) => responses.push(r));
  await page.goto(`${kitod.base}/miner/`);
  await settled(page);
  let bytes = 0;
  for (const r of responses) {
    const s = await r.request().sizes().catch(() => null);
    if (s) bytes += s.responseBodySize + s.responseHeadersSize;
  }
  console.log(`# page_kb miner_cold ${(bytes / 1024).toFixed(1)}`);
  assert.ok(bytes > 500 && bytes <= 50 * 1024, `${bytes} bytes`);
  await page.context().close();
});

test('a buyer is told the page is not for her account', async () => {
  const email = `miner-page-buyer-${Date.now()}@kito.test`;
  await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: 'Page Buyer', email, password: 'miner-page-2026' });
  const page = await phone();
  await page.goto(`${kitod.base}/signin.html`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill('miner-page-2026');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/me\.html$/);
  await page.goto(`${kitod.base}/miner/`);
  await settled(page);
  await page.getByText('These pages are for miners.').waitFor();
  await page.context().close();
});
