// Starts a kitod for one browser test file against the test command's Redis and MariaDB
// (ops/test.sh exports KITO_TEST_*), and a headless Debian Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, mkdirSync, readFileSync } from 'node:fs';
import { get, request } from 'node:https';
import { chromium } from 'playwright-core';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through "ops/kito test browser"`);
  return v;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// True once url answers at all (any status): the server is up.
function answers(url) {
  return new Promise((resolve) => {
    const req = get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => { res.resume(); resolve(true); });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
  });
}

// extra: more environment for kitod (KITO_PAY_* settings, say).
export async function startKitod(extra = {}) {
  const root = need('KITO_TEST_ROOT'), v = need('KITO_TEST_VAR');
  const https = await freePort(), http = await freePort(), metrics = await freePort();
  mkdirSync(`${v}/logs`, { recursive: true });
  mkdirSync(`${v}/keys`, { recursive: true });
  const log = openSync(`${v}/logs/kitod-browser-${https}.log`, 'a');
  const env = {
    ...process.env,
    KITO_BIND: '127.0.0.1', KITO_HTTPS_PORT: String(https), KITO_HTTP_PORT: String(http),
    KITO_METRICS_PORT: String(metrics),
    KITO_TLS_CERT: `${v}/tls/cert.pem`, KITO_TLS_KEY: `${v}/tls/key.pem`,
    KITO_REDIS_HOST: '127.0.0.1', KITO_REDIS_PORT: need('KITO_TEST_REDIS_PORT'),
    KITO_REDIS_USER: 'kito', KITO_REDIS_PASSWORD: need('KITO_TEST_REDIS_PASSWORD'),
    KITO_MYSQL_HOST: '127.0.0.1', KITO_MYSQL_PORT: need('KITO_TEST_MYSQL_PORT'),
    KITO_MYSQL_USER: 'kito', KITO_MYSQL_PASSWORD: need('KITO_TEST_MYSQL_PASSWORD'), KITO_MYSQL_DB: 'kito',
    KITO_STOREFRONT_DIR: `${root}/storefront`, KITO_SIGNING_KEY: `${v}/keys/signing-ed25519.pem`,
    KITO_ACCESS_LOG: '-',
    ...extra,
  };
  const proc = spawn(`${need('KITO_TEST_BUILD')}/api/kitod`, [], { env, stdio: ['ignore', log, log] });
  const base = `https://localhost:${https}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`kitod exited with ${proc.exitCode}`);
    if (await answers(`${base}/healthz`)) break;
    if (i >= 200) { proc.kill('SIGKILL'); throw new Error('kitod did not answer /healthz in 10 s'); }
    await new Promise((r) => setTimeout(r, 50));
  }
  const ca = readFileSync(`${v}/tls/ca.pem`);
  return {
    base,
    // One API call as a non-browser client (an organiser's step, say): the parsed JSON body, or
    // an error with the status for anything but 2xx.
    api(method, path, token, body, headers = {}) {
      return new Promise((resolve, reject) => {
        const data = body === undefined ? null : JSON.stringify(body);
        const req = request(`${base}${path}`, {
          method, ca, headers: {
            Accept: 'application/json', ...headers,
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
            ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
          },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => { text += c; });
          res.on('end', () => {
            const json = text ? JSON.parse(text) : null;
            if (res.statusCode >= 200 && res.statusCode < 300) resolve(json);
            else reject(Object.assign(new Error(`${method} ${path}: ${res.statusCode} ${text}`), { status: res.statusCode }));
          });
        });
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
      });
    },
    // Uploads raw bytes (a photo) with a bearer token: the parsed JSON answer.
    upload(path, token, bytes, type) {
      return new Promise((resolve, reject) => {
        const req = request(`${base}${path}`, {
          method: 'POST', ca, headers: {
            Accept: 'application/json', Authorization: `Bearer ${token}`, 'Content-Type': type,
            'Content-Length': bytes.length,
          },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => { text += c; });
          res.on('end', () => (res.statusCode < 300 ? resolve(JSON.parse(text))
            : reject(new Error(`POST ${path}: ${res.statusCode} ${text}`))));
        });
        req.on('error', reject);
        req.end(bytes);
      });
    },
    // what kitoctl needs to reach the same database
    mysqlEnv: {
      KITO_MYSQL_HOST: env.KITO_MYSQL_HOST, KITO_MYSQL_PORT: env.KITO_MYSQL_PORT,
      KITO_MYSQL_USER: env.KITO_MYSQL_USER, KITO_MYSQL_PASSWORD: env.KITO_MYSQL_PASSWORD,
      KITO_MYSQL_DB: env.KITO_MYSQL_DB,
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

// Chromium trusts nothing it was not told about; the test certificate is self-signed, so the
// browser is told to accept it (the API tests verify TLS for real against the test CA).
export async function startBrowser() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  return { browser, context };
}
