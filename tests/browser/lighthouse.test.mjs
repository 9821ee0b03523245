// Lighthouse 12.2.3 with its default mobile settings (a mid-range phone, simulated slow 4G and a
// 4x slower CPU) on the home, sale, lot and My Kito pages, signed in. Accessibility, best practices
// and SEO must score at least 95: those audits read the page, not the clock. The performance score
// is simulated from the main-thread tasks this machine measured, so on a loaded CI machine it moves
// with the load (a full run saw the lot page at 88, then 98 alone): a test must not depend on it
// (README, "Figures are honest"). The test asserts what performance is made of that does not
// move: bytes on the wire, requests, DOM size, text compression, no unsized images; the score itself
// is printed, and `ops/kito bench` reports it (KITO_LH_BENCH=1: `BENCH lighthouse_performance_min`
// beside the 404 page's score, the floor of a page with nothing to load).
// Prints `# lighthouse <page> <scores>`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import lighthouse from 'lighthouse';
import { startKitod } from './kitod.mjs';
import { market } from './fixtures.mjs';

const PASSWORD = 'lighthouse-pass-2026';
const run = `lh${process.pid}-${Date.now() % 100000}`;
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
const READ_FROM_THE_PAGE = ['accessibility', 'best-practices', 'seo'];
// budgets for a phone on slow 3G: under 100 KB a page, 25 requests, 800 elements
const BUDGET = { bytes: 100 * 1024, requests: 25, dom: 800 };
const BENCH = process.env.KITO_LH_BENCH === '1';
let kitod, ctx, port, pages;

before(async () => {
  kitod = await startKitod({ KITO_PAY_BANK_NAME: 'CRDB Bank', KITO_PAY_BANK_ACCOUNT: '0150-2233-4455', KITO_PAY_MPESA_PAYBILL: '522533' });
  const { sale, lot } = await market(kitod, run, PASSWORD).sale(`Lighthouse sale ${run}`, 1, 3600);
  port = 9200 + (process.pid % 700);
  // a persistent context is the browser's default one: the tabs Lighthouse opens share its cookie
  ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'kito-lh-')), {
    executablePath: '/usr/bin/chromium', headless: true, ignoreHTTPSErrors: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', `--remote-debugging-port=${port}`,
      '--ignore-certificate-errors', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const email = `buyer-${run}@kito.test`;
  await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: 'Lighthouse Buyer', email, password: PASSWORD });
  const page = await ctx.newPage();
  await page.goto(`${kitod.base}/signin.html`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/me\.html$/);
  await page.close();
  pages = { home: '/', sale: `/sale.html?id=${sale.id}`, lot: `/lot.html?id=${lot.id}`, me: '/me.html' };
});
after(async () => {
  await ctx?.close();
  await kitod?.stop();
});

async function audit(path) {
  const r = await lighthouse(`${kitod.base}${path}`, { port, logLevel: 'error', output: 'json', onlyCategories: CATEGORIES });
  const score = Object.fromEntries(CATEGORIES.map((c) => [c, Math.round((r.lhr.categories[c].score ?? 0) * 100)]));
  return { score, audits: r.lhr.audits };
}

test('Lighthouse (mobile): accessibility, best practices and SEO at least 95, and performance within its budgets, on home, sale, lot and My Kito', async () => {
  const perf = [];
  for (const [name, path] of Object.entries(pages)) {
    const { score, audits } = await audit(path);
    perf.push(score.performance);
    console.log(`# lighthouse ${name} ${CATEGORIES.map((c) => `${c}=${score[c]}`).join(' ')}`);
    for (const c of READ_FROM_THE_PAGE) assert.ok(score[c] >= 95, `${name}: ${c} ${score[c]} < 95`);
    const bytes = audits['total-byte-weight'].numericValue;
    const requests = audits['network-requests'].details.items.length;
    const dom = audits['dom-size'].numericValue;
    console.log(`# lighthouse ${name} bytes=${Math.round(bytes)} requests=${requests} dom=${dom}`);
    assert.ok(bytes <= BUDGET.bytes, `${name}: ${bytes} bytes > ${BUDGET.bytes}`);
    assert.ok(requests <= BUDGET.requests, `${name}: ${requests} requests > ${BUDGET.requests}`);
    assert.ok(dom <= BUDGET.dom, `${name}: ${dom} elements > ${BUDGET.dom}`);
    for (const a of ['uses-text-compression', 'unsized-images', 'render-blocking-resources'])
      assert.notEqual(audits[a].score, 0, `${name}: ${a}: ${audits[a].displayValue ?? ''}`);
  }
  if (BENCH) {
    const floor = (await audit('/no-such-page')).score.performance;
    console.log(`BENCH lighthouse_performance_min ${Math.min(...perf)}`);
    console.log(`BENCH lighthouse_performance_404 ${floor}`);
  }
});
