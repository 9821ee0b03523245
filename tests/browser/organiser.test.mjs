// The organiser's console (issue 17): a timed sale built from the sale builder alone and published,
// with a validation error shown beside the field it names, lots added from the stones offered to
// her, reordered by keyboard and by drag; then read back through the API (the only API calls
// here besides the arrangement: a valuer and a miner offering stones, as fixtures.mjs does).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKitod, startBrowser } from './kitod.mjs';
import { market } from './fixtures.mjs';
import { checkConsolePage, settled, signedIn as signIn } from './console-kit.mjs';

const PASSWORD = 'organiser-pass-2026';
const run = `o${process.pid}-${Date.now() % 100000}`;
let kitod, browser, m;

before(async () => {
  kitod = await startKitod();
  ({ browser } = await startBrowser());
  m = market(kitod, run, PASSWORD);
  await m.organiser();
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

// A wall time in Dar es Salaam (UTC+3 all year) as a datetime-local input takes it.
const darTime = (ms) => new Date(ms + 3 * 3600 * 1000).toISOString().slice(0, 16);
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

const signedIn = (next, viewport) => signIn(browser, kitod.base, `forum-${run}@kito.test`, PASSWORD, next, viewport);

test('an organiser builds a timed sale in the sale builder, adds and orders lots, and publishes it', async () => {
  const stoneA = await m.stone(), stoneB = await m.stone();
  const page = await signedIn('/console/organiser.html');
  await page.getByRole('link', { name: 'New sale' }).click();
  await page.waitForURL(/organiser-sale\.html$/);
  await settled(page);

  const start = Math.ceil((Date.now() + 2 * 3600 * 1000) / 60000) * 60000;
  const end = start + 24 * 3600 * 1000;
  await page.getByLabel('Title').fill(`Mirerani tanzanite ${run}`);
  await page.getByLabel('Description').fill('Rough and cut tanzanite from women miners of Mirerani.');
  await page.getByLabel('Format').selectOption('timed');
  await page.getByLabel('Venue').fill('Arusha Gem Fair');
  await page.getByLabel('Time zone').selectOption('Africa/Dar_es_Salaam');
  await page.getByLabel('Starts').fill(darTime(start));
  await page.getByLabel('Ends', { exact: true }).fill(darTime(end));
  await page.getByLabel('Currency').selectOption('USD');
  await page.getByLabel("Buyer's premium (%)").fill('12.5');
  await page.getByLabel('Commission (%)').fill('0');
  await page.getByLabel('Soft close (seconds)').fill('90');
  await page.getByLabel('Stagger (seconds)').fill('30');
  assert.equal(await page.getByLabel('Tender pricing').isVisible(), false, 'tender pricing only for tenders');
  await page.getByRole('button', { name: 'Use the USD preset' }).click();
  assert.equal(await page.getByLabel('Step, row 1', { exact: true }).inputValue(), '5');
  // a step below the one before: the API refuses it and the console says so beside that step
  await page.getByLabel('Step, row 2', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Create draft sale' }).click();
  const step2 = page.getByLabel('Step, row 2', { exact: true });
  await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]'));
  assert.equal(await step2.getAttribute('aria-invalid'), 'true');
  const described = await step2.getAttribute('aria-describedby');
  assert.match(await page.locator(`#${described}`).textContent(), /must not be below ladder\[0\]\.step_minor/);
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Step, row 2');
  await step2.fill('10');
  // a custom rung on top of the preset
  await page.getByRole('button', { name: 'Add a row' }).click();
  await page.getByLabel('From price, row 11', { exact: true }).fill('100000');
  await page.getByLabel('Step, row 11', { exact: true }).fill('10000');
  await page.getByRole('button', { name: 'Create draft sale' }).click();
  await page.waitForURL(/organiser-lots\.html\?id=sal_/);
  const saleId = new URL(page.url()).searchParams.get('id');
  await settled(page);

  // lots from the stones offered to her, opening US$100 and US$250 with a reserve
  const offered = page.locator('section', { has: page.getByRole('heading', { name: 'Stones offered to you' }) });
  const groups = offered.getByRole('group');
  assert.equal(await groups.count(), 2);
  await groups.nth(0).getByLabel('Opening price').fill('100');
  await groups.nth(0).getByRole('button', { name: 'Add as a lot' }).click();
  await page.getByRole('status').filter({ hasText: 'Lot 1 added.' }).waitFor();
  await offered.getByRole('group').first().getByLabel('Opening price').fill('250');
  await offered.getByRole('group').first().getByLabel('Reserve (optional)').fill('400');
  await offered.getByRole('button', { name: 'Add as a lot' }).click();
  await page.getByRole('status').filter({ hasText: 'Lot 2 added.' }).waitFor();
  assert.equal(await offered.getByRole('group').count(), 0);

  // keyboard: lot 2 has focus after it was added; Alt+Up moves it before lot 1
  const items = page.locator('#lots > li');
  await page.locator('#lots > li', { hasText: 'Lot 2' }).focus();
  await page.keyboard.press('Alt+ArrowUp');
  await page.getByRole('status').filter({ hasText: 'Lot 2 is now at place 1.' }).waitFor();
  assert.match(await items.nth(0).textContent(), /Lot 2/);
  // drag: lot 1 dropped on the top half of lot 2 goes first again, then its button moves it back
  await page.locator('#lots > li', { hasText: 'Lot 1' }).dragTo(items.nth(0), { targetPosition: { x: 10, y: 5 } });
  await page.getByRole('status').filter({ hasText: 'Lot 1 is now at place 1.' }).waitFor();
  await page.getByRole('button', { name: 'Move lot 1 down' }).click();
  await page.getByRole('status').filter({ hasText: 'Lot 1 is now at place 2.' }).waitFor();

  await page.getByRole('button', { name: 'Publish sale' }).click();
  await page.getByRole('status').filter({ hasText: /^Published/ }).waitFor();

  // read back: what the builder sent is what the sale holds
  const token = m.organiserToken;
  const sale = await kitod.api('GET', `/v1/sales/${saleId}`, token);
  assert.equal(sale.status, 'published');
  assert.equal(sale.format, 'timed');
  assert.equal(sale.venue, 'Arusha Gem Fair');
  assert.equal(sale.starts_at.replace(/\.\d+Z$/, 'Z'), iso(start));
  assert.equal(sale.ends_at.replace(/\.\d+Z$/, 'Z'), iso(end));
  assert.equal(sale.buyer_premium_bps, 1250);
  assert.equal(sale.commission_bps, 0);
  assert.equal(sale.soft_close_s, 90);
  assert.equal(sale.stagger_s, 30);
  assert.equal(sale.ladder.length, 11);
  assert.deepEqual(sale.ladder[1], { from_minor: 10000, step_minor: 1000 });
  assert.deepEqual(sale.ladder[10], { from_minor: 10000000, step_minor: 1000000 });
  const lots = (await kitod.api('GET', `/v1/sales/${saleId}/lots`, token)).items.sort((a, b) => a.position - b.position);
  assert.deepEqual(lots.map((l) => l.lot_number), [2, 1]);
  assert.deepEqual(lots.map((l) => l.stone.id).sort(), [stoneA, stoneB].sort());
  assert.equal(lots[0].opening.amount, 25000);
  assert.equal(lots[0].reserve.amount, 40000);
  assert.equal(lots[1].reserve, null);
  await page.context().close();
});

// axe-core on every organiser page, on a 360x640 phone, in English and Swahili, with nothing
// unset shown; and each page's controls reachable by Tab alone.
test('the organiser console pages have no accessibility violations, in both languages', async () => {
  const { sale } = await m.sale(`Console axe ${run}`, 3600, 3600);
  const draft = await kitod.api('POST', '/v1/sales', m.organiserToken, {
    title: `Draft ${run}`, format: 'live', venue: 'Lusaka Gem Forum', starts_at: iso(Date.now() + 86400000),
  });
  await m.stone();
  const pages = ['/console/organiser.html', '/console/organiser-sale.html', `/console/organiser-sale.html?id=${sale.id}`,
    `/console/organiser-lots.html?id=${draft.id}`, `/console/organiser-lots.html?id=${sale.id}`,
    `/console/organiser-bidders.html?id=${sale.id}`, `/console/organiser-results.html?id=${sale.id}`];
  const page = await signedIn(pages[0], { width: 360, height: 640 });
  for (const path of pages) {
    await page.goto(`${kitod.base}${path}`);
    await checkConsolePage(page, path);
  }
  await page.context().close();
});
