// The demo's phone page (issue 18; sims/phone/, served by at_sms_sim): a person types a miner's
// number, dials the USSD menu, answers screen by screen and reads the SMS the number got -- as a
// journey on a 360x640 screen, through the sim's dial to a real kitod's USSD callback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { startKitod, startBrowser } from './kitod.mjs';

const TOKEN = 'phone-page-ussd-secret-0123456789';
let kitod, browser, sim, simBase;
const phoneNumber = `+2556${String(Date.now()).slice(-8)}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  kitod = await startKitod({ KITO_USSD_CALLBACK_TOKEN: TOKEN });
  ({ browser } = await startBrowser());
  const port = await freePort();
  const v = process.env.KITO_TEST_VAR;
  const log = openSync(`${v}/logs/at_sms_sim-phone.log`, 'a');
  sim = spawn(`${process.env.KITO_TEST_BUILD}/sims/at_sms_sim`, ['--port', String(port),
    '--cacert', `${v}/tls/ca.pem`, '--ussd-url', `${kitod.base}/v1/ussd?token=${TOKEN}`,
    '--phone-dir', `${process.env.KITO_TEST_ROOT}/sims/phone`], { stdio: ['ignore', log, log] });
  simBase = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${simBase}/healthz`)).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  await kitod.api('POST', '/v1/accounts', null,
    { role: 'miner', name: 'Rehema Test', phone: phoneNumber, pin: '4826', payout: { rail: 'mpesa' } });
});
after(async () => {
  sim?.kill('SIGTERM');
  await browser?.close();
  await kitod?.stop();
});

test('a person dials the menu on the phone page, answers, and switches it to Swahili', async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, locale: 'en-GB' });
  const page = await context.newPage();
  await page.goto(`${simBase}/phone`);
  await page.getByLabel('Phone number').fill(phoneNumber);
  await page.getByRole('button', { name: 'Dial *384*18#' }).click();
  const screen = page.getByRole('status');
  await screen.filter({ hasText: '1 List a stone' }).waitFor();
  const { violations } = await new AxeBuilder({ page }).analyze();
  assert.deepEqual(violations.map((v) => v.id), [], 'accessibility violations');
  await page.getByLabel('Your answer').fill('7');
  await page.getByRole('button', { name: 'Send' }).click();
  await screen.filter({ hasText: '2 Kiswahili' }).waitFor();
  await page.getByLabel('Your answer').fill('2');
  await page.getByRole('button', { name: 'Send' }).click();
  await screen.filter({ hasText: 'Kito itatumia Kiswahili sasa.' }).waitFor();
  await page.getByLabel('Your answer').fill('0');
  await page.getByRole('button', { name: 'Send' }).click();
  await screen.filter({ hasText: 'Asante kwa kutumia Kito.' }).waitFor();
  assert.ok(await page.getByLabel('Your answer').isHidden(), 'the session ended: no answer box');
  // the page in Swahili, and her (empty) inbox
  await page.getByRole('button', { name: 'Kiswahili' }).click();
  await page.getByRole('heading', { name: 'Simu ya mchimbaji' }).waitFor();
  await page.getByText('Bado hakuna SMS kwa namba hii.').waitFor();
  await context.close();
});
