// The storefront's browser benchmark (tests/bench/bench_browser.sh says what it prints).
import { startKitod, startBrowser } from '../browser/kitod.mjs';
import { market } from '../browser/fixtures.mjs';

const PASSWORD = 'bench-pass-2026';
const BIDS = Number(process.env.BENCH_BROWSER_BIDS ?? 200);
const run = `b${process.pid}`;
const kitod = await startKitod({ KITO_BID_BUYER_RATE: '1000', KITO_BID_BUYER_BURST: '1000' });
const { browser } = await startBrowser();
const say = (m) => process.stderr.write(`[bench_browser] ${m}\n`);

try {
  const m = market(kitod, run, PASSWORD);
  // above the ladder's last rung: every step is a flat US$5,000
  const { sale, lot } = await m.sale(`Bench sale ${run}`, 1, 1800, 6000000);
  const forum = m.organiserToken;

  const phone = async () => (await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 }, locale: 'en-GB',
  })).newPage();

  // ---- cold loads -------------------------------------------------------------------------
  const pages = { home: '/', sale: `/sale.html?id=${sale.id}`, lot: `/lot.html?id=${lot.id}`,
    me: '/me.html', signin: '/signin.html', signup: '/signup.html' };
  let kbMax = 0;
  for (const [name, path] of Object.entries(pages)) {
    const page = await phone();
    const responses = [];
    page.on('response', (r) => responses.push(r));
    await page.goto(`${kitod.base}${path}`, { waitUntil: 'networkidle' });
    let bytes = 0;
    for (const r of responses) {
      if (/\/live/.test(r.url())) continue;
      const s = await r.request().sizes().catch(() => null);
      if (s) bytes += s.responseBodySize + s.responseHeadersSize;
    }
    say(`${name}: ${(bytes / 1024).toFixed(1)} KB`);
    kbMax = Math.max(kbMax, bytes / 1024);
    await page.context().close();
  }

  // ---- two buyers, each on her lot page ---------------------------------------------------
  const buyers = [];
  for (const who of ['a', 'b']) {
    const email = `bench-${who}-${run}@kito.test`;
    const acc = await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: `Bench ${who}`, email, password: PASSWORD });
    await kitod.api('POST', `/v1/sales/${sale.id}/approvals`, forum, { buyer_id: acc.id });
    const token = (await kitod.api('POST', '/v1/sessions', null, { email, password: PASSWORD })).token;
    const page = await phone();
    await page.goto(`${kitod.base}/signin.html?next=${encodeURIComponent(`/lot.html?id=${lot.id}`)}`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('#lot-state');
    await page.waitForFunction(() => document.querySelector('#lot-state')?.textContent === 'Open', null, { timeout: 15000 });
    // when the page shows each bid count, by the wall clock (the same clock as this process's)
    await page.evaluate(() => {
      window.benchSeen = {};
      const note = () => {
        const n = parseInt(document.querySelector('#bid-count')?.textContent ?? '', 10);
        if (n > 0 && !(n in window.benchSeen)) window.benchSeen[n] = Date.now();
      };
      new MutationObserver(note).observe(document.getElementById('page'), { subtree: true, childList: true, characterData: true });
    });
    buyers.push({ token, page });
  }

  // ---- 200 bids in turn, each waiting for the other page to show it -------------------------
  const lat = [];
  let amount = 6000000;
  for (let i = 1; i <= BIDS; i++) {
    const me = buyers[i % 2], other = buyers[(i + 1) % 2];
    amount += 2000000; // two steps and more above the last maximum: always takes the lead
    await kitod.api('POST', `/v1/lots/${lot.id}/bids`, me.token, { amount }, { 'Idempotency-Key': `bench-${run}-${i}` });
    const t201 = Date.now();
    const seen = await other.page.waitForFunction((n) => window.benchSeen[n], i, { timeout: 5000, polling: 10 })
      .then((h) => h.jsonValue()).catch(() => null);
    if (seen === null) { say(`bid ${i}: the other page never showed it`); lat.push(5000); continue; }
    lat.push(Math.max(0, seen - t201));
  }
  lat.sort((x, y) => x - y);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)];
  console.log(`BENCH page_kb_max ${kbMax.toFixed(1)}`);
  console.log(`BENCH lot_page_update_ms_p50 ${pct(50)}`);
  console.log(`BENCH lot_page_update_ms_p99 ${pct(99)}`);
} finally {
  await browser.close();
  await kitod.stop();
}
