import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKitod, startBrowser } from './kitod.mjs';

let kitod, browser, context;
before(async () => {
  kitod = await startKitod();
  ({ browser, context } = await startBrowser());
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

test('the home page shows the market status from /healthz', async () => {
  const page = await context.newPage();
  await page.goto(`${kitod.base}/`);
  await assert.doesNotReject(page.waitForSelector('#status[data-state="ok"]', { timeout: 10000 }));
  assert.match(await page.textContent('#status'), /bidding and payments are working/);
});

test('a visitor can switch to Swahili and the choice is remembered', async () => {
  const page = await context.newPage();
  await page.goto(`${kitod.base}/`);
  await page.click('#lang');
  assert.equal(await page.textContent('h1'), 'Vito kutoka kwa wanawake wanaovichimba');
  assert.equal(await page.getAttribute('html', 'lang'), 'sw');
  await page.reload();
  assert.equal(await page.textContent('h1'), 'Vito kutoka kwa wanawake wanaovichimba');
  assert.equal(await page.textContent('#lang'), 'English');
});

test('the home page stays small for a 3G phone', async () => {
  const page = await context.newPage();
  // Every body is read before the sum is taken: counting inside the response handler raced the
  // assertion (a body not read yet by 'networkidle' counted as nothing).
  const bodies = [];
  page.on('response', (res) => {
    bodies.push(res.body().then((b) => b.length, () => 0)); // redirects have no body
  });
  await page.goto(`${kitod.base}/`, { waitUntil: 'networkidle' });
  const bytes = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
  assert.ok(bytes > 1000, `only ${bytes} bytes loaded: the page did not load`);
  assert.ok(bytes < 100 * 1024, `first load is ${bytes} bytes; the budget is 100 KB`);
});
