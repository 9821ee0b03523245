// Issue 16's buyer tools, each played in the page as a buyer would, on a 360x640 phone, in
// separate browser contexts (one per device): changing her password signs her other devices out;
// her language is saved to her account and follows her to a new device; the sale page's filters
// and search find lots (the server filters); stone facts are translated from the glossary, and
// the glossary page lists the terms in both languages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { startKitod, startBrowser } from './kitod.mjs';
import { market } from './fixtures.mjs';

const PASSWORD = 'tools-pass-2026';
const NEW_PASSWORD = 'tools-new-pass-2027';
const run = `t${process.pid}-${Date.now() % 100000}`;
let kitod, browser, m;

before(async () => {
  kitod = await startKitod();
  ({ browser } = await startBrowser());
  m = market(kitod, run, PASSWORD);
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

async function phone(locale = 'en-GB') {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 }, locale,
  });
  return context.newPage();
}

async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 10000 });
}

async function signIn(page, email, password, sw = false) {
  await page.goto(`${kitod.base}/signin.html?next=%2Fme.html`);
  await page.getByLabel(sw ? 'Barua pepe' : 'E-mail address').fill(email);
  await page.getByLabel(sw ? 'Nenosiri' : 'Password').fill(password);
  await page.getByRole('button', { name: sw ? 'Ingia' : 'Sign in' }).click();
}

async function noViolations(page, what) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `${what}: accessibility violations`);
}

test('changing her password in the page signs her other devices out', async () => {
  const email = `pw-${run}@kito.test`;
  await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: 'Pat Test', email, password: PASSWORD });
  const phoneA = await phone(), phoneB = await phone();
  for (const p of [phoneA, phoneB]) {
    await signIn(p, email, PASSWORD);
    await p.waitForURL(/\/me\.html$/);
    await p.getByRole('heading', { name: 'Your account' }).waitFor();
  }

  // a wrong current password changes nothing
  await phoneA.getByLabel('Current password').fill('not-my-password');
  await phoneA.getByLabel('New password').fill(NEW_PASSWORD);
  await phoneA.getByRole('button', { name: 'Change password' }).click();
  await phoneA.getByText('The current password is not right.').waitFor();
  await phoneB.reload();
  await phoneB.getByRole('heading', { name: 'Your account' }).waitFor(); // B still signed in

  // the right one: changed, and B is signed out
  await phoneA.getByLabel('Current password').fill(PASSWORD);
  await phoneA.getByLabel('New password').fill(NEW_PASSWORD);
  await phoneA.getByRole('button', { name: 'Change password' }).click();
  await phoneA.getByText(/Your password is changed/).waitFor();
  await noViolations(phoneA, 'My Kito after a password change');
  await phoneA.reload();
  await phoneA.getByRole('heading', { name: 'Your account' }).waitFor(); // A stays signed in
  await phoneB.reload();
  await phoneB.getByRole('link', { name: 'Sign in to see your bids, wins and invoices.' }).waitFor();

  // on B the old password no longer works, the new one does
  await signIn(phoneB, email, PASSWORD);
  await phoneB.getByText('The e-mail address and password do not match an account.').waitFor();
  await signIn(phoneB, email, NEW_PASSWORD);
  await phoneB.waitForURL(/\/me\.html$/);
  await phoneB.getByRole('heading', { name: 'Your account' }).waitFor();
  for (const p of [phoneA, phoneB]) await p.context().close();
});

test('her language is saved to her account and follows her to a new device', async () => {
  const email = `lang-${run}@kito.test`;
  await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: 'Lina Test', email, password: PASSWORD });
  const first = await phone();
  await signIn(first, email, PASSWORD);
  await first.waitForURL(/\/me\.html$/);
  await first.getByRole('heading', { name: 'Your account' }).waitFor();
  assert.equal(await first.evaluate(() => document.documentElement.lang), 'en');
  const saved = first.waitForResponse((r) => r.url().endsWith('/v1/accounts/me') && r.request().method() === 'PATCH');
  await first.getByLabel('Language for pages and messages').selectOption('sw');
  assert.equal((await saved).status(), 200);
  await first.getByRole('heading', { name: 'Akaunti yako' }).waitFor();
  await first.getByText('Imehifadhiwa kwenye akaunti yako.').waitFor();
  const token = await m.signIn(email);
  assert.equal((await kitod.api('GET', '/v1/accounts/me', token)).locale, 'sw', 'the account keeps it');

  // a new device whose browser asks for English: once she signs in, the pages are in Swahili
  const second = await phone('en-GB');
  await signIn(second, email, PASSWORD);
  await second.waitForURL(/\/me\.html$/);
  await second.getByRole('heading', { name: 'Kito Changu' }).waitFor();
  assert.equal(await second.evaluate(() => document.documentElement.lang), 'sw');
  await second.goto(`${kitod.base}/`);
  await settled(second);
  assert.equal(await second.evaluate(() => document.documentElement.lang), 'sw');

  // the header's switch saves too: back to English, and a third device agrees
  const back = second.waitForResponse((r) => r.url().endsWith('/v1/accounts/me') && r.request().method() === 'PATCH');
  await second.getByRole('button', { name: 'English' }).click();
  assert.equal((await back).status(), 200);
  assert.equal((await kitod.api('GET', '/v1/accounts/me', token)).locale, 'en');
  const third = await phone('sw-TZ'); // a browser that asks for Swahili: the account's English wins
  await signIn(third, email, PASSWORD, true);
  await third.waitForURL(/\/me\.html$/);
  await third.getByRole('heading', { name: 'My Kito' }).waitFor();
  for (const p of [first, second, third]) await p.context().close();
});

test('the sale page filters lots by species, weight and price, and searches them', async () => {
  const { sale } = await m.sale(`Find sale ${run}`, 5, 3600, 40000, [
    { opening: 90000, species: 'corundum', variety: 'ruby', weight_ct: '1.50', colour: 'red', treatment: 'heated' },
    { opening: 120000, species: 'beryl', variety: 'emerald', weight_ct: '5.20', colour: 'green' },
    { opening: 60000, species: 'corundum', variety: 'sapphire', weight_ct: '2.10', colour: 'blue' },
  ]);
  const page = await phone();
  await page.goto(`${kitod.base}/sale.html?id=${sale.id}`);
  await settled(page);
  const titles = async () => (await page.locator('#lots .title').allTextContents()).map((s) => s.replace(/^\d+\. /, ''));
  // the list is busy from the click until the server's answer is shown
  const show = async () => {
    await page.getByRole('button', { name: 'Show lots' }).click();
    await page.waitForFunction(() => !document.querySelector('#lot-list[aria-busy="true"]'));
  };
  assert.deepEqual(await titles(), ['Tanzanite, 3.40 ct', 'Ruby, 1.50 ct', 'Emerald, 5.20 ct', 'Sapphire, 2.10 ct']);

  await page.getByLabel('Species').selectOption({ label: 'corundum' });
  await show();
  assert.deepEqual(await titles(), ['Ruby, 1.50 ct', 'Sapphire, 2.10 ct']);
  assert.equal(await page.locator('#found').textContent(), '2 lots found');

  await page.getByLabel('Species').selectOption('');
  await page.getByLabel('Lightest (ct)').fill('2');
  await page.getByLabel('Heaviest (ct)').fill('4');
  await show();
  assert.deepEqual(await titles(), ['Tanzanite, 3.40 ct', 'Sapphire, 2.10 ct']);

  await page.getByLabel('Lightest (ct)').fill('');
  await page.getByLabel('Heaviest (ct)').fill('');
  await page.getByLabel('Lowest price (USD)').fill('600');
  await page.getByLabel('Highest price (USD)').fill('1,000');
  await show();
  assert.deepEqual(await titles(), ['Ruby, 1.50 ct', 'Sapphire, 2.10 ct']);
  assert.match(page.url(), /min_price=60000/, 'the filters are in the address');

  // a reload keeps them; the search narrows further; the form is accessible
  await page.reload();
  await settled(page);
  assert.deepEqual(await titles(), ['Ruby, 1.50 ct', 'Sapphire, 2.10 ct']);
  await page.getByRole('searchbox', { name: 'Search' }).fill('red');
  await show();
  assert.deepEqual(await titles(), ['Ruby, 1.50 ct']);
  assert.equal(await page.locator('#found').textContent(), '1 lot found');
  await noViolations(page, 'sale page with filters');

  await page.getByRole('searchbox', { name: 'Search' }).fill('diamond');
  await show();
  await page.getByText('No lot matches; try fewer words or a wider range.').waitFor();
  await page.getByLabel('Lightest (ct)').fill('heavy');
  await show();
  await page.getByText('Weights are carats (for example 1.5) and prices amounts (for example 250).').waitFor();

  await page.getByRole('button', { name: 'Clear' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#lots .title').length === 4);
  assert.doesNotMatch(page.url(), /min_price|q=/);
  await page.context().close();
});

test('stone facts are translated from the glossary, and the glossary page has both languages', async () => {
  const { lots } = await m.sale(`Glossary sale ${run}`, 5, 3600, 40000, [
    { opening: 90000, species: 'corundum', variety: 'ruby', weight_ct: '1.50', colour: 'red', treatment: 'heated' },
  ]);
  const page = await phone('sw-TZ');
  await page.goto(`${kitod.base}/lot.html?id=${lots[1].id}`);
  await settled(page);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'sw');
  await page.getByRole('heading', { name: /Yakuti nyekundu, 1\.50 ct/ }).waitFor();
  const cert = await page.locator('.certificate').textContent();
  for (const want of ['korundamu (yakuti nyekundu)', 'nyekundu', 'imepashwa moto', 'angavu', 'mto, ukataji mchanganyiko']) {
    assert.ok(cert.includes(want), `${want} in ${cert}`);
  }
  await page.getByRole('link', { name: 'Maneno haya yana maana gani?' }).click();
  await page.getByRole('heading', { name: 'Faharasa' }).waitFor();
  await settled(page);
  const sw = await page.locator('main').textContent();
  assert.match(sw, /yakuti nyekundu — ruby/);
  assert.match(sw, /Madini ya tanzanite/);
  await noViolations(page, 'glossary (Swahili)');
  await page.click('#lang');
  await page.getByRole('heading', { name: 'Glossary' }).waitFor();
  const en = await page.locator('main').textContent();
  assert.match(en, /ruby — yakuti nyekundu/);
  assert.match(en, /The mineral of tanzanite/);
  assert.match(en, /carat — karati/);
  await noViolations(page, 'glossary (English)');
  await page.context().close();
});

test('a lot shows an estimate in her currency, labelled with the rate and its date', async () => {
  m.kitoctl(['fx', 'set', '--from', 'USD', '--to', 'KES', '--rate', '129.50']);
  const { lot } = await m.sale(`Estimate sale ${run}`, 1, 3600, 40000);
  const page = await phone();
  await page.goto(`${kitod.base}/lot.html?id=${lot.id}`);
  await settled(page);
  assert.equal(await page.locator('#estimate').count(), 0, 'no estimate until she asks for one');
  await page.getByLabel('Estimate in').selectOption('KES');
  const est = await page.locator('#estimate').textContent();
  assert.match(est, /About KES\s?51,800\.00/);
  const today = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium' }).format(new Date());
  assert.ok(est.includes(`An estimate at 1 USD = 129.5 KES, the rate recorded on ${today}. You pay in USD.`), est);
  assert.match(await page.locator('#facts').textContent(), /US\$400\.00/, 'the sale currency stays');
  await noViolations(page, 'lot page with an estimate');
  await page.reload();
  await settled(page);
  assert.match(await page.locator('#estimate').textContent(), /About KES\s?51,800\.00/, 'her choice is remembered');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'sw');
  assert.match(await page.locator('#estimate').textContent(), /Takriban .*Unalipa kwa USD\./);
  await page.context().close();
});

// A 16x16 JPEG (the API's tests' own), a stone's photo.
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJ' +
  'DRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ' +
  'EBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAA' +
  'AQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAA' +
  'AAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSl' +
  'H9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO' +
  '1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gE' +
  'KcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z', 'base64');

test('photos come sized for phones: 160 px in the sale\'s list, 640 px on the lot page', async () => {
  const { sale, lots } = await m.sale(`Photo sale ${run}`, 5, 3600, 40000, [{ opening: 50000, photo: JPEG }]);
  const page = await phone();
  const sized = [];
  page.on('response', (r) => { if (/\/v1\/photos\//.test(r.url())) sized.push([r.url(), r.status(), r.headers()['content-type']]); });
  await page.goto(`${kitod.base}/sale.html?id=${sale.id}`);
  await settled(page);
  const thumb = page.locator(`[data-lot="${lots[1].id}"] img.thumb`);
  await thumb.waitFor();
  assert.match(await thumb.getAttribute('src'), /^\/v1\/photos\/[0-9a-f]{64}\/sized\/160$/);
  await thumb.scrollIntoViewIfNeeded(); // lazy: it loads once it is near the screen
  await page.waitForFunction((id) => document.querySelector(`[data-lot="${id}"] img.thumb`).complete, lots[1].id);
  assert.ok(await thumb.evaluate((img) => img.naturalWidth > 0), 'the thumbnail loaded');
  await page.goto(`${kitod.base}/lot.html?id=${lots[1].id}`);
  await settled(page);
  const photo = page.locator('.photos img').first();
  assert.match(await photo.getAttribute('src'), /\/sized\/640$/);
  await page.waitForFunction(() => document.querySelector('.photos img').complete);
  assert.ok(await photo.evaluate((img) => img.naturalWidth > 0), 'the photo loaded');
  assert.ok(sized.length >= 2 && sized.every(([, status, type]) => status === 200 && type === 'image/jpeg'),
    JSON.stringify(sized));
  await page.context().close();
});
