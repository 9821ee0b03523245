// The live sale's browser benchmark (tests/bench/bench_clerk.sh says what it prints).
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { startKitod, startBrowser } from '../browser/kitod.mjs';
import { market } from '../browser/fixtures.mjs';

const PASSWORD = 'bench-pass-2026';
const ACTIONS = Number(process.env.BENCH_CLERK_ACTIONS ?? 300);
const run = `c${process.pid}`;
const kitod = await startKitod();
const { browser } = await startBrowser();
const say = (m) => process.stderr.write(`[bench_clerk] ${m}\n`);

// A bare SSE client: the time each of the lot's seqs first arrives (the baseline: no page).
function feedClient(saleId, lotId) {
  const seen = new Map();
  const ca = readFileSync(`${process.env.KITO_TEST_VAR}/tls/ca.pem`);
  let buf = '';
  const req = get(`${kitod.base}/v1/sales/${saleId}/live`, { ca, headers: { Accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      const now = Date.now();
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (!data) continue;
        const ev = JSON.parse(data.slice(6));
        if (ev.lot_id === lotId && !seen.has(ev.seq)) seen.set(ev.seq, now);
      }
    });
  });
  req.on('error', (e) => say(`feed client: ${e.message}`));
  return { seen, close: () => req.destroy() };
}

const pct = (list, p) => {
  const s = [...list].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

try {
  const m = market(kitod, run, PASSWORD);
  const forum = await m.organiser();
  const stoneId = await m.stone();
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const sale = await kitod.api('POST', '/v1/sales', forum, {
    title: `Bench live sale ${run}`, online: false, venue: 'AICC Arusha', format: 'live', currency: 'USD',
    // ahead at publish; the clerk opens the lot
    starts_at: iso(Date.now() + 120000), buyer_premium_bps: 1000, commission_bps: 0,
  });
  // above the ladder's last rung: every step is flat
  const lot = await kitod.api('POST', `/v1/sales/${sale.id}/lots`, forum, { stone_id: stoneId, opening: 6000000 });
  for (const [i, paddle] of [21, 22].entries()) {
    const acc = await kitod.api('POST', '/v1/accounts', null,
      { role: 'buyer', name: `Floor ${i}`, email: `floor-${i}-${run}@kito.test`, password: PASSWORD });
    await kitod.api('POST', `/v1/sales/${sale.id}/approvals`, forum, { buyer_id: acc.id, paddle_number: paddle });
  }
  const emails = [];
  for (const [i, name] of ['a', 'b', 'c'].entries()) {
    const email = `online-${name}-${run}@kito.test`;
    const acc = await kitod.api('POST', '/v1/accounts', null, { role: 'buyer', name: `Online ${name}`, email, password: PASSWORD });
    await kitod.api('POST', `/v1/sales/${sale.id}/approvals`, forum, { buyer_id: acc.id, paddle_number: 11 + i });
    emails.push(email);
  }
  await kitod.api('POST', `/v1/sales/${sale.id}/publish`, forum, {});

  // three online bidders, each signed in, in her own context, on the live room at 360x640
  const room = `/live-room.html?sale=${sale.id}`;
  const pages = [];
  for (const email of emails) {
    const page = await (await browser.newContext({
      ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 }, locale: 'en-GB',
    })).newPage();
    await page.goto(`${kitod.base}/signin.html?next=${encodeURIComponent(room)}`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${kitod.base}${room}`);
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'Live', null, { timeout: 15000 });
    // when the page shows each seq of the lot, by the wall clock (the same clock as this process's)
    await page.evaluate(() => {
      window.benchSeen = {};
      const note = () => {
        const n = Number(document.querySelector('#room-lot')?.dataset.seq ?? 0);
        if (n > 0 && !(n in window.benchSeen)) window.benchSeen[n] = Date.now();
      };
      new MutationObserver(note).observe(document.getElementById('page'), { subtree: true, childList: true, attributes: true, characterData: true });
    });
    pages.push(page);
  }
  const feed = feedClient(sale.id, lot.id);
  await new Promise((r) => setTimeout(r, 500));

  let n = 0;
  const clerk = (body) => kitod.api('POST', `/v1/lots/${lot.id}/clerk`, forum, body, { 'Idempotency-Key': `bench-${run}-${++n}` });
  await clerk({ action: 'open' });

  // ---- the actions: mostly floor bids by two paddles in turn, a fair warning and a pause and
  // resume in every ten; each waits for all three rooms to show it ---------------------------
  const lat = [], base = [];
  let ask = 6000000, paddle = 21;
  for (let i = 1; i <= ACTIONS; i++) {
    const k = i % 10;
    let body;
    if (k === 4) body = { action: 'pause' };
    else if (k === 5) body = { action: 'resume' };
    else if (k === 9) body = { action: 'fair_warning' };
    else { body = { action: 'floor_bid', paddle, amount: ask }; paddle = paddle === 21 ? 22 : 21; }
    const r = await clerk(body);
    const tAnswer = Date.now();
    if (r.lot?.ask) ask = r.lot.ask.amount;
    const seq = r.seq;
    const seen = await Promise.all(pages.map((p) => p.waitForFunction((s) => window.benchSeen[s], seq, { timeout: 5000, polling: 10 })
      .then((h) => h.jsonValue()).catch(() => null)));
    if (seen.some((s) => s === null)) { say(`action ${i} (${body.action}): a room never showed seq ${seq}`); lat.push(5000); continue; }
    lat.push(Math.max(0, Math.max(...seen) - tAnswer));
    const f = feed.seen.get(seq);
    if (f !== undefined) base.push(Math.max(0, f - tAnswer));
  }
  feed.close();
  say(`${lat.length} actions; the bare feed client saw ${base.length} of them`);
  console.log(`BENCH clerk_to_bidder_ms_p50 ${pct(lat, 50)}`);
  console.log(`BENCH clerk_to_bidder_ms_p99 ${pct(lat, 99)}`);
  console.log(`BENCH clerk_to_feed_ms_p50 ${pct(base, 50)}`);
  console.log(`BENCH clerk_to_feed_ms_p99 ${pct(base, 99)}`);
} finally {
  await browser.close();
  await kitod.stop();
}
