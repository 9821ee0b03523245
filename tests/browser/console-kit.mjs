// What the console tests share: sign in through the shared sign-in page, wait for a console page,
// and check a page (axe-core, nothing unset shown, every control reachable by Tab) in English
// and Swahili.
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';

// Waits for a console page's own content (main loses aria-busy).
export const settled = (page) => page.waitForFunction(() => !document.querySelector('main[aria-busy]'));

// A new browser context signed in as email, on path (reached through the sign-in page).
export async function signedIn(browser, base, email, password, path, viewport = { width: 1024, height: 800 }) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport, locale: 'en-GB' });
  const page = await context.newPage();
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  await page.goto(`${base}${path}`);
  await page.waitForURL(/signin\.html/);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === path.split('?')[0]);
  await settled(page);
  return page;
}

const CONTROLS = 'main :is(a[href], button:enabled, input:enabled:not([type=hidden]), select:enabled, textarea:enabled, summary)';

// axe-core finds nothing, no "null", "undefined", "NaN" or untranslated key shows, in English
// then Swahili; then, in English, Tab from the top of the page reaches every visible control in
// main (no control left out of the tab order, no trap).
export async function checkConsolePage(page, path) {
  for (const lang of ['en', 'sw']) {
    if (lang === 'sw') {
      await page.click('#lang');
      await page.waitForFunction(() => document.documentElement.lang === 'sw');
    }
    await settled(page);
    const body = await page.textContent('main');
    assert.ok(!/\bnull\b|\bundefined\b|NaN|\b(?:org|console|val|cert)\.[a-z_]+/.test(body), `${path} (${lang}) shows: ${body}`);
    const { violations } = await new AxeBuilder({ page }).analyze();
    assert.deepEqual(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
      `${path} (${lang}): accessibility violations`);
  }
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const visible = await page.locator(`${CONTROLS}:visible`).count();
  await page.locator('body').focus();
  const seen = new Set();
  for (let i = 0; i < visible + 12 && seen.size < visible; i++) {
    await page.keyboard.press('Tab');
    const key = await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || !a.closest('main') || a.closest('[hidden]')) return null;
      return a.id || `${a.tagName}:${[...a.closest('main').querySelectorAll('*')].indexOf(a)}`;
    });
    if (key) seen.add(key);
  }
  assert.ok(seen.size >= visible, `${path}: Tab reached ${seen.size} of ${visible} controls`);
}
