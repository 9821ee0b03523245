// A visitor browses the market that ops/demo-data.sh makes through the real API: the sales on
// the home page, a sale's lots, a lot with its signed certificate checked by the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startKitod, startBrowser } from './kitod.mjs';

let kitod, browser;
// A fresh visitor: no language choice or anything else left by an earlier test.
const visitor = async () => (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
before(async () => {
  kitod = await startKitod();
  const root = process.env.KITO_TEST_ROOT, v = process.env.KITO_TEST_VAR;
  execFileSync(`${root}/ops/demo-data.sh`,
    [kitod.base, `${v}/tls/ca.pem`, `${process.env.KITO_TEST_BUILD}/api/kitoctl`],
    { env: { ...process.env, ...kitod.mysqlEnv, KITO_DEMO_FORCE: '1' }, stdio: 'pipe' });
  ({ browser } = await startBrowser());
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

test('a visitor finds a sale, opens a lot and sees its certificate is genuine', async () => {
  const page = await visitor();
  await page.goto(`${kitod.base}/`);
  await page.getByRole('link', { name: /Arusha Gem Fair/ }).first().click();
  await page.waitForSelector('#lots li');
  assert.match(await page.textContent('h1'), /Arusha Gem Fair/);
  assert.equal(await page.locator('#lots li').count(), 3);
  const body = await page.textContent('main');
  assert.ok(!/reserve"?\s*:/i.test(body), 'no reserve amount on a public page');
  await page.locator('#lots li a').first().click();
  await page.waitForSelector('#cert-check');
  assert.equal(await page.getAttribute('#cert-check', 'data-genuine'), 'true');
  assert.match(await page.textContent('#cert-check'), /Genuine: signed by Kito and current/);
  assert.match(await page.textContent('main'), /Grace Achieng/);
});

test('the lot page speaks Swahili', async () => {
  const page = await visitor();
  await page.goto(`${kitod.base}/`);
  await page.getByRole('link', { name: /Online: Tanzanite/ }).first().click();
  await page.waitForSelector('#lots li');
  await page.locator('#lots li a').first().click();
  await page.waitForSelector('#cert-check');
  await page.click('#lang');
  await page.waitForSelector('text=Cheti cha uthamini');
  assert.match(await page.textContent('#cert-check'), /Halali/);
});

test('an unknown lot says so instead of breaking', async () => {
  const page = await visitor();
  await page.goto(`${kitod.base}/lot.html?id=lot_0000000000zzz`);
  await page.waitForSelector('[role=alert]');
  assert.equal(await page.textContent('[role=alert]'), 'Not found.');
});
