// Issue 17, a live sale of five lots run from the clerk's desk by keyboard alone, with three
// online bidders in the live room, each in her own browser context at 360x640, and floor bids
// by paddle. It holds an undo, a fair warning, a pause, a refused action, a pass, the step and ask
// set by hand, an absentee maximum, and a lot that closes on an online bid that came in just
// before the hammer (the desk warns and sells only on a second S). At the end the desk and every room show the same
// result for every lot, equal to the settlement rows in MySQL. axe finds nothing on the desk or
// the room. The arranging (accounts, stones, the sale, approvals) is the organiser's and
// valuer's work, through the API; the bidders sign in and register through the pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import AxeBuilder from '@axe-core/playwright';
import { startKitod, startBrowser } from './kitod.mjs';
import { market } from './fixtures.mjs';

const PASSWORD = 'clerk-pass-2026';
const run = `${process.pid}-${Date.now() % 100000}`;
const FLOOR = [21, 22]; // the room's paddles
const ONLINE = [11, 12, 13];
const LATE_MS = 1100; // past the desk's late-bid window: "sold" goes at once

let kitod, browser;
before(async () => {
  kitod = await startKitod();
  ({ browser } = await startBrowser());
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function within(ms, fn, what) {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - t0;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

const text = async (page, sel) => (await page.locator(sel).first().textContent({ timeout: 3000 }).catch(() => '')) ?? '';

function mysql(sql) {
  return execFileSync('mariadb', ['-h127.0.0.1', `-P${process.env.KITO_TEST_MYSQL_PORT}`, '-ukito',
    `-p${process.env.KITO_TEST_MYSQL_PASSWORD}`, 'kito', '-N', '-B', '-e', sql], { encoding: 'utf8' }).trim();
}

async function noViolations(page, name) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `${name}: accessibility violations`);
}

async function signIn(page, email, next) {
  await page.goto(`${kitod.base}/signin.html?next=${encodeURIComponent(next)}`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${kitod.base}${next}`);
}

// Results as a page shows them: lot number -> "sold:<hammer minor>" | "unsold".
async function results(page) {
  return page.$$eval('#results li', (lis) => lis.map((li) => `${li.dataset.state}:${li.dataset.hammer}`));
}

test('a five-lot live sale run from the clerk desk by keyboard, with three online bidders', async () => {
  const m = market(kitod, run, PASSWORD);
  const forum = await m.organiser();
  const stones = [];
  for (let i = 0; i < 5; i++) stones.push(await m.stone());

  // the sale: five lots, the third with a reserve no one reaches
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const title = `Clerk sale ${run}`;
  const sale = await kitod.api('POST', '/v1/sales', forum, {
    title, online: false, venue: 'AICC Arusha', format: 'live', currency: 'USD',
    // a live lot opens when the clerk opens it: the start only has to be ahead at publish, also on a loaded machine
    starts_at: iso(Date.now() + 120000), buyer_premium_bps: 1000, commission_bps: 0,
  });
  const lots = [];
  for (let i = 0; i < 5; i++) {
    lots.push(await kitod.api('POST', `/v1/sales/${sale.id}/lots`, forum,
      { stone_id: stones[i], opening: 10000, ...(i === 2 ? { reserve: 5000000 } : {}) }));
  }
  // floor bidders are registered at the desk (approved with their paddles, no web page)
  for (const [i, paddle] of FLOOR.entries()) {
    const acc = await kitod.api('POST', '/v1/accounts', null,
      { role: 'buyer', name: `Floor ${i}`, email: `floor-${i}-${run}@kito.test`, password: PASSWORD });
    await kitod.api('POST', `/v1/sales/${sale.id}/approvals`, forum, { buyer_id: acc.id, paddle_number: paddle });
  }
  await kitod.api('POST', `/v1/sales/${sale.id}/publish`, forum, {});
  // an absentee maximum on lot 5, left before the sale (paddle 21's holder, through the API)
  const absentee = (await kitod.api('POST', '/v1/sessions', null, { email: `floor-0-${run}@kito.test`, password: PASSWORD })).token;
  await kitod.api('POST', `/v1/lots/${lots[4].id}/bids`, absentee, { amount: 12000 }, { 'Idempotency-Key': `absentee-${run}` });

  // three online bidders: each signs in and registers from the sale page, on her own phone
  const room = `/live-room.html?sale=${sale.id}`;
  const bidders = [];
  for (const [i, name] of ['Asha', 'Baraka', 'Chausiku'].entries()) {
    const email = `${name.toLowerCase()}-${run}@kito.test`;
    const acc = await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name, email, password: PASSWORD });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 }, locale: 'en-GB' });
    const page = await context.newPage();
    await signIn(page, email, `/sale.html?id=${sale.id}`);
    await page.getByRole('button', { name: 'Register to bid' }).click();
    await page.getByText('waiting for the organiser to approve you').waitFor();
    await kitod.api('POST', `/v1/sales/${sale.id}/approvals`, forum, { buyer_id: acc.id, paddle_number: ONLINE[i] });
    await page.reload();
    await page.getByRole('link', { name: /live room/i }).click();
    await page.waitForURL(`${kitod.base}${room}`);
    bidders.push(page);
  }
  const [asha, baraka, chausiku] = bidders;

  // the clerk signs in, straight to her desk
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  const desk = await ctx.newPage();
  const errors = [];
  for (const p of [desk, ...bidders]) p.on('pageerror', (e) => errors.push(String(e)));
  await signIn(desk, `forum-${run}@kito.test`, `/console/clerk.html?sale=${sale.id}`);
  await desk.getByRole('heading', { name: /Clerk's desk/ }).waitFor();
  await within(5000, async () => (await text(desk, '#live')) === 'Live', 'the desk is on the feed');
  for (const p of bidders) await within(5000, async () => (await text(p, '#live')) === 'Live', 'a room is on the feed');
  await noViolations(desk, 'the clerk desk');
  await noViolations(asha, 'the live room');

  // every action on the desk is a button naming its key
  const keys = await desk.$$eval('.keys button', (bs) => bs.map((b) => b.getAttribute('aria-keyshortcuts')));
  assert.deepEqual(keys.sort(), ['A', 'D', 'H', 'L', 'N', 'O', 'P', 'R', 'S', 'T', 'U', 'W', 'X'].sort());

  const key = async (k) => { await desk.locator('body').press(k); };
  const deskSays = (re, what) => within(5000, async () => re.test(await text(desk, '#clerk-message')), what);
  const standing = (page) => text(page, page === desk ? '#clerk-standing' : '#room-price');
  const allShow = async (re, what) => {
    await within(5000, async () => re.test(await standing(desk)), `desk: ${what}`);
    for (const p of bidders) await within(5000, async () => re.test(await standing(p)), `room: ${what}`);
  };
  const paddle = async (n) => {
    await desk.keyboard.type(String(n));
    await desk.keyboard.press('Enter');
  };
  const tapBid = async (page, re) => {
    const b = page.getByRole('button', { name: /^Bid US\$/ });
    await within(5000, async () => re.test(await b.textContent()) && await b.isEnabled(), `bid button ${re}`);
    await b.click();
    await page.getByText(/Your bid of .* is in\./).waitFor({ timeout: 5000 });
  };

  // ---- lot 1: open, online, floor, floor, undo, fair warning, sold to the floor --------------
  await desk.keyboard.press('S'); // a refused action: nothing to sell before the lot is open
  await deskSays(/Refused: .*\(/, 'sold before open is refused with its reason');
  await key('O');
  for (const p of bidders) await p.getByRole('button', { name: 'Bid US$100.00' }).waitFor({ timeout: 5000 });
  await tapBid(asha, /US\$100\.00/);
  await allShow(/US\$100\.00/, 'Asha at 100');
  assert.match(await text(desk, '#clerk-source'), /Online bidder .*paddle 11|Online bidder/);
  await paddle(21); // the floor at the ask, 110
  await allShow(/US\$110\.00/, 'paddle 21 at 110');
  assert.match(await text(desk, '#clerk-source'), /Floor, paddle 21/);
  assert.match(await text(asha, '#room-price'), /floor/);
  await paddle(22);
  await allShow(/US\$120\.00/, 'paddle 22 at 120');
  await key('U'); // undo: paddle 22's bid was a mistake
  await allShow(/US\$110\.00/, 'undone back to 110');
  assert.match(await text(desk, '#clerk-source'), /Floor, paddle 21/);
  assert.match(await text(desk, '#clerk-history'), /undone/);
  await key('W');
  for (const p of bidders) await p.getByText('Fair warning: last chance to bid.').waitFor({ timeout: 5000 });
  await sleep(LATE_MS);
  await key('S');
  await within(5000, async () => /Sold US\$110\.00/.test(await text(desk, '#clerk-state')), 'lot 1 sold on the desk');
  for (const p of bidders) await p.getByText('Lot 1 sold for US$110.00.').waitFor({ timeout: 5000 });

  // ---- lot 2: closes on an online bid that came in as the clerk went to sell ----------------
  await key('N');
  await within(3000, async () => /Lot 2/.test(await text(desk, '#lot-title')), 'the desk moves to lot 2');
  await key('O');
  await paddle(21); // 100 on the floor
  await allShow(/US\$100\.00/, 'lot 2: paddle 21 at 100');
  await tapBid(baraka, /US\$110\.00/);
  await allShow(/US\$110\.00/, 'lot 2: Baraka at 110');
  await tapBid(chausiku, /US\$120\.00/);
  await within(5000, async () => /US\$120\.00/.test(await standing(desk)), 'lot 2: the desk shows Chausiku');
  await key('S'); // within a second of Chausiku's bid: the desk asks again
  await deskSays(/An online bid came in .* US\$120\.00/, 'the late-bid warning');
  assert.doesNotMatch(await text(desk, '#clerk-state'), /Sold/, 'sold was not sent on the first S');
  await key('S');
  await within(5000, async () => /Sold US\$120\.00/.test(await text(desk, '#clerk-state')), 'lot 2 sold');
  await chausiku.getByText('Lot 2 sold for US$120.00: you won it.').waitFor({ timeout: 5000 });
  await baraka.getByText('Lot 2 sold for US$120.00.').waitFor({ timeout: 5000 });

  // ---- lot 3: a bid under the reserve, passed --------------------------------------------------
  await key('N');
  await within(3000, async () => /Lot 3/.test(await text(desk, '#lot-title')), 'lot 3');
  await key('O');
  await tapBid(asha, /US\$100\.00/);
  await allShow(/US\$100\.00/, 'lot 3: Asha at 100');
  assert.match(await text(desk, '#clerk-reserve'), /US\$50,000\.00 \(not met\)/);
  await sleep(LATE_MS);
  await key('S'); // the engine refuses: the reserve is not met
  await deskSays(/Refused: .*reserve_not_met/, 'sold under the reserve is refused');
  await key('X');
  await within(5000, async () => /Not sold/.test(await text(desk, '#clerk-state')), 'lot 3 passed');
  for (const p of bidders) await p.getByText('Lot 3 was not sold.').waitFor({ timeout: 5000 });
  await key('N');

  // ---- lot 4: the step and the ask by hand, a pause, the floor wins --------------------------
  await within(3000, async () => /Lot 4/.test(await text(desk, '#lot-title')), 'lot 4');
  await key('O');
  await within(5000, async () => /US\$100\.00/.test(await text(desk, '#clerk-ask')), 'lot 4 open at 100');
  await key('T'); // a manual step of 25
  await desk.keyboard.type('25');
  await desk.keyboard.press('Enter');
  await within(5000, async () => /US\$25\.00/.test(await text(desk, '#clerk-step')), 'step 25');
  await key('D');
  await within(5000, async () => /US\$50\.00/.test(await text(desk, '#clerk-step')), 'step doubled');
  await key('H');
  await within(5000, async () => /US\$25\.00/.test(await text(desk, '#clerk-step')), 'step halved');
  await key('L');
  await deskSays(/Set step: done/, 'back to the ladder');
  await key('A'); // the auctioneer calls 150
  await desk.keyboard.type('150');
  await desk.keyboard.press('Enter');
  await within(5000, async () => /US\$150\.00/.test(await text(desk, '#clerk-ask')), 'ask 150 on the desk');
  await tapBid(baraka, /US\$150\.00/);
  await allShow(/US\$150\.00/, 'lot 4: Baraka at 150');
  await key('P');
  for (const p of bidders) await p.getByText('The auctioneer has paused bidding.').waitFor({ timeout: 5000 });
  assert.equal(await asha.getByRole('button', { name: /^Bid US\$/ }).isDisabled(), true, 'no bidding while paused');
  await paddle(22);
  await deskSays(/Refused: .*lot_paused/, 'a floor bid while paused is refused');
  await key('R');
  await within(5000, async () => !/Paused/.test(await text(desk, '#clerk-state')), 'resumed');
  await paddle(22);
  await allShow(/US\$160\.00/, 'lot 4: paddle 22 at 160');
  await sleep(LATE_MS);
  await key('W');
  await key('S');
  await within(5000, async () => /Sold US\$160\.00/.test(await text(desk, '#clerk-state')), 'lot 4 sold');

  // ---- lot 5: an absentee maximum against two online bidders, sold online ------------------
  await key('N');
  await within(3000, async () => /Lot 5/.test(await text(desk, '#lot-title')), 'lot 5');
  await key('O');
  await allShow(/US\$100\.00/, 'lot 5 opens on the absentee maximum, at the opening');
  assert.match(await text(desk, '#clerk-source'), /Absentee bidder/);
  await tapBid(chausiku, /US\$110\.00/); // the absentee's proxy answers, to 120
  await allShow(/US\$120\.00/, 'lot 5: the absentee answers Chausiku at 120');
  assert.match(await text(desk, '#clerk-source'), /Absentee bidder/);
  await tapBid(asha, /US\$130\.00/);
  await allShow(/US\$130\.00/, 'lot 5: Asha at 130, over the absentee maximum');
  assert.match(await text(desk, '#clerk-source'), /Online bidder/);
  await asha.getByText('You are the highest bidder.').waitFor({ timeout: 5000 });
  await sleep(LATE_MS);
  await key('S');
  await within(5000, async () => /Sold US\$130\.00/.test(await text(desk, '#clerk-state')), 'lot 5 sold');
  await asha.getByText('Lot 5 sold for US$130.00: you won it.').waitFor({ timeout: 5000 });
  await key('N');
  await deskSays(/This is the last lot\./, 'no lot after the last');

  // ---- the same hammer everywhere, and in MySQL ---------------------------------------------
  const want = ['sold:11000', 'sold:12000', 'unsold:', 'sold:16000', 'sold:13000'];
  await within(5000, async () => JSON.stringify(await results(desk)) === JSON.stringify(want), 'the desk results');
  for (const p of bidders) {
    await within(5000, async () => JSON.stringify(await results(p)) === JSON.stringify(want), 'a room shows the results');
  }
  let rows = '';
  await within(15000, () => {
    rows = mysql(`SELECT l.lot_number, st.hammer_minor FROM settlements st JOIN lots l ON l.id = st.lot_id
      JOIN sales s ON s.id = st.sale_id WHERE s.title = '${title}' ORDER BY l.lot_number`);
    return rows.split('\n').length === 4;
  }, 'four settlements in MySQL');
  assert.equal(rows.replace(/\t/g, ':').split('\n').join(' '), '1:11000 2:12000 4:16000 5:13000');
  // the desk is the sale's organiser's: a buyer, and another organiser, are told so
  await asha.goto(`${kitod.base}/console/clerk.html?sale=${sale.id}`);
  await asha.getByText('This page is for another kind of account.').waitFor({ timeout: 5000 });
  m.kitoctl(['account', 'create', '--role', 'organizer', '--name', 'Other Forum', '--email', `other-${run}@kito.test`], `${PASSWORD}\n`);
  const other = await (await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB' })).newPage();
  await signIn(other, `other-${run}@kito.test`, `/console/clerk.html?sale=${sale.id}`);
  await other.getByText("Only the sale's organiser (or an operator) can run its desk.").waitFor({ timeout: 5000 });
  assert.equal(await other.locator('.keys button').count(), 0, 'no desk for another organiser');
  await noViolations(desk, 'the clerk desk, after the sale');
  await noViolations(chausiku, 'the live room, after the sale');
  assert.deepEqual(errors, [], 'no script error on any page');
});
