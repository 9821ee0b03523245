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
  assert.equal(sale.time_zone, 'Africa/Dar_es_Salaam');
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
  // the builder shows the published sale's times in the zone they were set in, and no Save
  await page.goto(`${kitod.base}/console/organiser-sale.html?id=${saleId}`);
  await settled(page);
  assert.equal(await page.getByLabel('Time zone').inputValue(), 'Africa/Dar_es_Salaam');
  assert.equal(await page.getByLabel('Starts').inputValue(), darTime(start));
  assert.equal(await page.getByRole('button', { name: 'Save changes' }).count(), 0);
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

// The rest of her work on a sale, in the console: bidders approved with a paddle and a limit,
// declined, changed; after the sale, the results, a payment recorded against the invoice and the
// CSV the server makes; and a cancel whose dialog says what it does to the bidders. The buyers'
// own steps (sign up, ask to bid, one bid) go through the API: they are not the organiser's.
test('bidders, after the sale (results, payment, CSV) and cancel, from the console', async () => {
  const { sale, lot } = await m.sale(`After ${run}`, 25, 6);
  const buyer = async (name) => {
    const email = `${name.toLowerCase()}-${run}@kito.test`;
    const acc = await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name, email, password: PASSWORD });
    const token = await m.signIn(email);
    return { ...acc, token };
  };
  const amina = await buyer('Amina'), bea = await buyer('Bea');
  for (const b of [amina, bea]) await kitod.api('POST', `/v1/sales/${sale.id}/registrations`, b.token, {});

  const page = await signedIn(`/console/organiser-bidders.html?id=${sale.id}`);
  await page.getByLabel('Paddle number for Amina').fill('7');
  await page.getByLabel('Spending limit for Amina (USD)').fill('5000');
  await page.getByRole('button', { name: 'Approve Amina' }).click();
  await page.getByRole('status').filter({ hasText: 'Amina is approved with paddle 7.' }).waitFor();
  await page.getByRole('button', { name: 'Decline Bea' }).click();
  const dialog = page.getByRole('dialog', { name: 'Decline Bea' });
  assert.match(await dialog.textContent(), /cannot bid in this sale/);
  await dialog.getByRole('button', { name: 'Decline Bea' }).click();
  await page.getByRole('status').filter({ hasText: 'Bea: declined' }).waitFor();
  await page.getByLabel('Spending limit for Amina (USD)').fill('6000');
  await page.getByRole('button', { name: 'Save Amina' }).click();
  await page.getByRole('status').filter({ hasText: 'Amina is approved with paddle 7.' }).waitFor();
  const approved = (await kitod.api('GET', `/v1/sales/${sale.id}/registrations?status=approved`, m.organiserToken)).items;
  assert.deepEqual(approved.map((r) => [r.buyer_id, r.paddle_number, r.limit.amount]), [[amina.id, 7, 600000]]);
  const declined = (await kitod.api('GET', `/v1/sales/${sale.id}/registrations?status=declined`, m.organiserToken)).items;
  assert.deepEqual(declined.map((r) => r.buyer_id), [bea.id]);

  // Amina's one bid once the sale opens; the lot closes and settles
  for (let i = 0; ; i++) {
    try {
      await kitod.api('POST', `/v1/lots/${lot.id}/bids`, amina.token, { amount: 10000 }, { 'Idempotency-Key': `bid-${run}` });
      break;
    } catch (err) {
      if (i > 60) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  let settlements = [];
  for (let i = 0; i < 60 && settlements.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    settlements = (await kitod.api('GET', `/v1/sales/${sale.id}/settlements`, m.organiserToken)).items;
  }
  assert.equal(settlements.length, 1, 'the lot settled');
  const inv = settlements[0].invoice_number;

  await page.goto(`${kitod.base}/console/organiser-results.html?id=${sale.id}`);
  await settled(page);
  const figures = await page.locator('dl.figures').textContent();
  assert.match(figures, /Revenue \(hammer\)US\$100\.00/);
  assert.match(figures, /Lots sold1 of 1/);
  assert.match(figures, /Sold by count100 %/);
  assert.match(figures, /Average per caratUS\$29\.41/); // 100.00 / 3.40 ct
  assert.match(figures, /Winning bidders1/);
  assert.equal(await page.getByLabel(`Amount received for ${inv}`).inputValue(), '110');
  await page.getByLabel(`Bank or payer reference for ${inv}`).fill(`CRDB-${run}`);
  await page.getByRole('button', { name: `Record payment for ${inv}` }).click();
  await page.getByRole('status').filter({ hasText: `Payment recorded for ${inv}.` }).waitFor();
  assert.match(await page.locator('tbody').textContent(), /paid/);
  const after = (await kitod.api('GET', `/v1/sales/${sale.id}/settlements`, m.organiserToken)).items;
  assert.equal(after[0].invoice_status, 'paid');

  const [download] = await Promise.all([page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download the results (CSV)' }).click()]);
  assert.equal(download.suggestedFilename(), `results-${sale.id}.csv`);
  const { readFileSync } = await import('node:fs');
  const csv = readFileSync(await download.path(), 'utf8').split('\r\n');
  assert.equal(csv[0], 'lot_number,lot_id,state,species,variety,weight_ct,currency,hammer,buyer_premium,'
    + 'buyer_total,commission,royalty,levy,miner_net,buyer_id,invoice_number,invoice_status');
  assert.equal(csv[1], `1,${lot.id},sold,zoisite,tanzanite,3.40,USD,100.00,10.00,110.00,0.00,6.00,0.00,94.00,${amina.id},${inv},paid`);
  assert.equal(csv[2], '');

  // cancel: the dialog says what it does to the one approved bidder before anything happens
  const { sale: doomed } = await m.sale(`Doomed ${run}`, 3600, 3600);
  await kitod.api('POST', `/v1/sales/${doomed.id}/registrations`, amina.token, {});
  await page.goto(`${kitod.base}/console/organiser-lots.html?id=${doomed.id}`);
  await settled(page);
  await page.getByRole('button', { name: 'Cancel sale' }).click();
  const confirm = page.getByRole('dialog');
  assert.match(await confirm.textContent(), /can no longer bid in it; 1 bidder registered or approved lose their place/);
  await confirm.getByRole('button', { name: 'Keep the sale' }).click();
  assert.equal((await kitod.api('GET', `/v1/sales/${doomed.id}`, m.organiserToken)).status, 'published');
  await page.getByRole('button', { name: 'Cancel sale' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel the sale' }).click();
  await page.getByRole('status').filter({ hasText: 'The sale is cancelled.' }).waitFor();
  assert.equal((await kitod.api('GET', `/v1/sales/${doomed.id}`, m.organiserToken)).status, 'cancelled');
  await page.context().close();
});
