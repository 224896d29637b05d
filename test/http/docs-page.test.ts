import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { startHarness, type Harness } from '../helpers/harness.ts';

/**
 * The docs page (Swagger UI at /docs) is public, as /openapi.json is, and works in a browser:
 * headless Chromium (Debian's, driven by playwright-core) opens it on a loopback port and finds
 * the card operations listed. Requests leaving the loopback address are refused, so the page
 * needs nothing but emboss. The store does not matter here: PGlite only.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CARD_PATHS = ['/cards/embosser/l8vf', '/cards/embosser/card-pan-l8v2', '/cards/pin/security-codes', '/account/v2/instantCard'];

describe('the docs page', () => {
  let h: Harness;
  let base = '';
  before(async () => {
    h = await startHarness('pglite');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  });
  after(async () => { await h.close(); });

  test('the page, its assets and the document answer without authentication; the API still asks for it', async () => {
    for (const url of ['/docs', '/docs/', '/docs/json', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', '/openapi.json']) {
      const res = await fetch(base + url);
      assert.equal(res.status, 200, `${url}: ${res.status}`);
      await res.arrayBuffer();
    }
    const api = await fetch(`${base}/cards/embosser/l8vf`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(api.status, 401);
  });

  test('headless Chromium loads /docs and lists the card operations', { timeout: 90_000 }, async () => {
    // Not skipped when missing: .ci/run installs Debian's chromium, and a docs page nobody opened is untested.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium (.ci/run does)`);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('response', (res) => { if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`); });
      // Nothing but emboss: any request elsewhere is aborted (and reported).
      await page.route((url) => url.origin !== base, async (route) => {
        problems.push(`outside request ${route.request().url()}`);
        await route.abort();
      });

      const res = await page.goto(`${base}/docs`, { waitUntil: 'load', timeout: 20_000 });
      assert.equal(res?.status(), 200);
      await page.locator('.swagger-ui .info .title').filter({ hasText: 'emboss API' }).waitFor({ state: 'visible', timeout: 20_000 });
      for (const path of CARD_PATHS) {
        const op = page.locator(`.opblock-summary-path[data-path="${path}"]`).first();
        await op.waitFor({ state: 'visible', timeout: 10_000 });
        assert.equal((await op.innerText()).replace(/\u200b/g, ''), path);
      }
      // Listed as the POST it is, with its summary.
      const cardAdd = page.locator('.opblock.opblock-post', { has: page.locator('.opblock-summary-path[data-path="/cards/embosser/l8vf"]') });
      assert.match(await cardAdd.locator('.opblock-summary-method').innerText(), /^POST$/);
      assert.match(await cardAdd.locator('.opblock-summary-description').innerText(), /^Card Add/);
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
    }
  });
});
