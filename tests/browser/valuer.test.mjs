// The valuer's pages (issue 17): a stone from the queue certified in the certificate form (an
// error shown beside the field it names first), its printable page's QR code scanned from a
// screenshot by ZBar (zbarimg) and the URL it holds opened in another browser, a correction that
// supersedes it; then axe and the keyboard on every valuer page and the verify page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKitod, startBrowser } from './kitod.mjs';
import { market } from './fixtures.mjs';
import { checkConsolePage, settled, signedIn } from './console-kit.mjs';

const PASSWORD = 'valuer-pass-2026';
const run = `v${process.pid}-${Date.now() % 100000}`;
const EMAIL = `valuer-${run}@kito.test`;
let kitod, browser, m, valuerToken, stoneId;

before(async () => {
  kitod = await startKitod();
  ({ browser } = await startBrowser());
  m = market(kitod, run, PASSWORD);
  m.kitoctl(['account', 'create', '--role', 'valuer', '--name', 'Grace Valuer', '--email', EMAIL], `${PASSWORD}\n`);
  valuerToken = await m.signIn(EMAIL);
  // a miner's stone listed by the valuer for her, waiting for its certificate
  const phone = `+2557${String(Date.now() + process.pid).slice(-8)}`;
  const miner = await kitod.api('POST', '/v1/accounts', null,
    { role: 'miner', name: 'Rehema Test', phone, pin: '4826', payout: { rail: 'mpesa' } });
  const stone = await kitod.api('POST', '/v1/stones', valuerToken, {
    seller_id: miner.id, species: 'zoisite', variety: 'tanzanite', weight_ct: '3.40', shape: 'cushion',
    colour: 'violetish blue', origin: { country: 'TZ', region: 'Manyara', site: 'Mirerani' },
  });
  stoneId = stone.id;
});
after(async () => {
  await browser?.close();
  await kitod?.stop();
});

// Decodes the QR code shown by the img element: a screenshot of it, read by zbarimg.
async function scan(img) {
  const dir = mkdtempSync(join(tmpdir(), 'kito-qr-'));
  try {
    const file = join(dir, 'qr.png');
    writeFileSync(file, await img.screenshot());
    return execFileSync('zbarimg', ['--quiet', '--raw', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let certId;

test('a valuer certifies a stone from the form and its printed QR code opens the verify page', async () => {
  const page = await signedIn(browser, kitod.base, EMAIL, PASSWORD, '/console/valuer.html');
  const row = page.getByRole('row').filter({ hasText: stoneId });
  await row.getByRole('link', { name: 'Value tanzanite, cushion' }).click();
  await page.waitForURL(/valuer-certify\.html\?stone=/);
  await settled(page);
  // prefilled from the stone as listed
  assert.equal(await page.getByLabel('Species').inputValue(), 'zoisite');
  assert.equal(await page.getByLabel('Weight (ct)').inputValue(), '3.40');
  assert.equal(await page.getByLabel('Shape').inputValue(), 'cushion');
  assert.equal(await page.getByLabel('Color').inputValue(), 'violetish blue');
  assert.equal(await page.getByLabel('Mine site').inputValue(), 'Mirerani');
  await page.getByLabel('Cutting style').fill('mixed cut');
  await page.getByLabel('Length (mm)').fill('9.12');
  await page.getByLabel('Width (mm)').fill('7.05');
  await page.getByLabel('Depth (mm)').fill('4.80');
  await page.getByLabel('Transparency').selectOption('transparent');
  await page.getByLabel('Treatment').fill('none detected');
  await page.getByLabel('From').fill('900');
  await page.getByLabel('To').fill('500');
  await page.getByRole('button', { name: 'Sign and issue the certificate' }).click();
  const high = page.getByLabel('To');
  await page.waitForFunction(() => document.querySelector('#high[aria-invalid="true"]'));
  assert.match(await page.locator('#high-error').textContent(), /must not be below estimated_value\.low/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'high');
  await high.fill('1500');
  await page.getByRole('button', { name: 'Sign and issue the certificate' }).click();
  await page.waitForURL(/valuer-certificate\.html\?id=crt_/);
  await settled(page);
  certId = new URL(page.url()).searchParams.get('id');
  assert.match(await page.textContent('main'), /Genuine: signed by Kito and current/);

  // the printed code: scanned from what the browser drew, it is this certificate's verify page
  const img = page.getByRole('img', { name: /^QR code: opens / });
  await page.waitForFunction(() => document.querySelector('img.qr')?.complete && document.querySelector('img.qr').naturalWidth > 0);
  const url = await scan(img);
  assert.equal(url, `${kitod.base}/verify.html?id=${certId}`);

  // a stranger's phone opens it
  const stranger = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 } });
  const phone = await stranger.newPage();
  await phone.goto(url);
  await phone.getByText('Genuine: signed by Kito and current').waitFor();
  const text = await phone.textContent('main');
  assert.match(text, /zoisite/);
  assert.match(text, /3\.40 ct/);
  assert.match(text, /9\.12 × 7\.05 × 4\.80 mm/);
  assert.match(text, /Mirerani, Manyara, TZ/);

  // read back: the signed document says what the form said
  const cert = await kitod.api('GET', `/v1/certificates/${certId}`);
  assert.equal(cert.stone_id, stoneId);
  assert.equal(cert.certificate.weight_cct, 340);
  assert.deepEqual(cert.certificate.measurements_um, { length: 9120, width: 7050, depth: 4800 });
  assert.equal(cert.certificate.transparency, 'transparent');
  assert.equal(cert.certificate.cutting_style, 'mixed cut');
  assert.deepEqual(cert.certificate.estimated_value, { low: 90000, high: 150000, currency: 'USD' });

  // a correction supersedes it: the form starts from the certificate
  await page.getByRole('link', { name: 'Correct this certificate' }).click();
  await page.waitForURL(/valuer-certify\.html/);
  await settled(page);
  assert.equal(await page.getByLabel('Length (mm)').inputValue(), '9.12');
  assert.match(await page.textContent('main'), new RegExp(`supersedes ${certId}`));
  await page.getByLabel('Weight (ct)').fill('3.38');
  await page.getByRole('button', { name: 'Sign and issue the correction' }).click();
  await page.waitForURL((u) => u.searchParams.get('id') !== certId && /valuer-certificate/.test(u.pathname));
  await settled(page);
  const corrected = new URL(page.url()).searchParams.get('id');
  assert.match(await page.textContent('main'), new RegExp(`Supersedes\\s*${certId}`));
  await phone.reload();
  await phone.getByText('Genuine, but superseded by a correction').waitFor();
  assert.equal(await phone.getByRole('link', { name: `See the correction ${corrected}.` }).count(), 1);
  const again = await kitod.api('GET', `/v1/certificates/${corrected}`);
  assert.equal(again.certificate.supersedes, certId);
  assert.equal(again.certificate.weight_cct, 338);
  assert.equal((await kitod.api('GET', `/v1/certificates/${certId}/verify`)).current, false);
  await stranger.close();
  await page.context().close();
});

test('the valuer pages and the verify page have no accessibility violations, in both languages', async () => {
  assert.ok(certId, 'the first test made a certificate');
  const page = await signedIn(browser, kitod.base, EMAIL, PASSWORD, '/console/valuer.html', { width: 360, height: 640 });
  for (const path of ['/console/valuer.html', `/console/valuer-certify.html?stone=${stoneId}`,
    `/console/valuer-certificate.html?id=${certId}`]) {
    await page.goto(`${kitod.base}${path}`);
    await checkConsolePage(page, path);
  }
  // the public verify page, signed out
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 360, height: 640 } });
  const pub = await context.newPage();
  await pub.goto(`${kitod.base}/verify.html?id=${certId}`);
  await checkConsolePage(pub, '/verify.html');
  await context.close();
  await page.context().close();
});
