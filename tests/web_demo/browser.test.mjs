// The demo page in Chromium (Debian's, driven by playwright-core) against the whole stack from
// `scripts/stack up`: the page loads from the edge, the live table shows the seeded stock, a small
// sale sells exactly its units and both the table and the chart show it, a bad form field shows
// the core's message (the same words the origin answers with) and sends nothing, and a restock
// from the admin panel reaches the table live and the history view. A screenshot of the page after
// the sale is saved in STOCKGATE_ARTIFACTS_DIR (default build/native/test-artifacts).
//
// Needs the native, wasi and emscripten builds, npm ci and /usr/bin/chromium (scripts/bootstrap).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const artifacts = process.env.STOCKGATE_ARTIFACTS_DIR ?? join(repo, 'build/native/test-artifacts');

let dir;
let state;
let context;
let page;
const pageErrors = [];

function stack(...args) {
  const r = spawnSync(process.execPath, [join(repo, 'scripts/stack.mjs'), ...args, '--dir', dir],
    { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`scripts/stack ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

// A request straight to the origin, for comparing the page with the API's own answers.
async function origin(method, path, body) {
  const r = await fetch(`${state.urls.origin}${path.slice(1)}`, {
    method,
    headers: { Authorization: `Bearer ${state.tokens.admin}`, 'Content-Type': 'application/json' },
    body,
  });
  return { status: r.status, body: await r.json() };
}

const cell = (sku, col) => page.locator(`#stock-table tr[data-sku="${sku}"] td[data-col="${col}"]`);

async function expectCell(sku, col, text, timeout = 10_000) {
  await page.waitForFunction(([s, c, t]) => document.querySelector(
    `#stock-table tr[data-sku="${s}"] td[data-col="${c}"]`)?.textContent === t, [sku, col, text], { timeout });
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/bootstrap installs chromium`);
  dir = mkdtempSync(join(tmpdir(), 'stockgate-web-demo-'));
  stack('up');
  state = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8'));
  // A fresh profile per run, and the flags a sandboxed CI machine needs.
  context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'], // containers often have a small /dev/shm
    viewport: { width: 1200, height: 1500 },
  });
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await context?.close();
  if (dir) {
    spawnSync(process.execPath, [join(repo, 'scripts/stack.mjs'), 'down', '--dir', dir], { timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('web demo in Chromium', () => {
  // The page comes from the edge, takes its tokens from the link and drops them from the address
  // bar, connects the feed, and lists the seeded SKUs with their stock.
  test('the page loads and the table shows the seeded stock', async () => {
    await page.goto(state.urls.page);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
    await page.waitForSelector('#feed[data-state="live"]', { timeout: 10_000 });
    assert.equal(new URL(page.url()).hash, '');
    assert.equal(await page.inputValue('#admin-token'), state.tokens.admin);
    for (const [sku, onHand] of [[1001, 100], [1002, 500], [1003, 1000], [1004, 50], [1005, 10]]) {
      await expectCell(sku, 'on_hand', String(onHand));
      assert.equal(await cell(sku, 'available').textContent(), String(onHand));
      assert.equal(await cell(sku, 'reserved').textContent(), '0');
    }
    assert.equal(await page.locator('#stock-table tr.low').count(), 0, 'no SKU starts low');
    assert.deepEqual(pageErrors, []);
  });

  // 30 units, 120 buyers and two bots through the edge: exactly 30 are sold, the edge answers
  // the tail sold-out itself and limits the bots, and the table, the chart and the origin agree.
  test('a small sale runs to sold-out and the table and chart show it', async () => {
    await page.fill('#sale-form [name="sku"]', '1004');
    await page.fill('#sale-form [name="units"]', '30');
    await page.fill('#sale-form [name="buyers"]', '120');
    await page.fill('#sale-form [name="rate"]', '150');
    await page.fill('#sale-form [name="bots"]', '2');
    await page.click('#sale-start');
    await page.waitForSelector('#sale-totals[data-state="done"]', { timeout: 60_000 });
    assert.equal(await page.textContent('#sale-sold'), '30');
    assert.match(await page.textContent('#sale-message'), /^all 30 units sold: sold 30 of 30 units/);
    assert.ok(Number(await page.textContent('#sale-sold-out-edge')) > 0, 'the edge answered sold-out');
    const sale = await page.evaluate(() => {
      const s = window.stockgateDemo.simulator.sale;
      return { totals: s.totals, bots: s.bots, ms: s.now() - s.startedAt, soldOutAfter: s.soldOutAt - s.startedAt };
    });
    assert.ok(Number(await page.textContent('#sale-rate-limited')) > 0, `the bots were limited: ${JSON.stringify(sale)}`);
    assert.equal(await page.textContent('#sale-errors'), '0');

    await expectCell(1004, 'available', '0');
    await expectCell(1004, 'on_hand', '0');
    await expectCell(1004, 'sold', '30');
    // Seeded with a low-stock threshold of 10: sold out, it is marked low.
    await page.waitForSelector('#stock-table tr.low[data-sku="1004"]', { timeout: 5_000 });
    const truth = await origin('GET', '/v1/stock/1004');
    assert.equal(truth.body.sold, 30);
    assert.equal(truth.body.available, 0);

    const chart = await page.evaluate(() => window.stockgateDemo.simulator.chart.data);
    const [t, admitted, soldOut, rateLimited, sold] = chart;
    assert.ok(t.length >= 2);
    assert.equal(sold.at(-1), 30);
    assert.ok(soldOut.some((v) => v > 0) && rateLimited.some((v) => v > 0) && admitted.some((v) => v > 0));
    assert.equal(await page.locator('#sale-chart canvas').count(), 1);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'web-demo.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });

  // The browser's message for a bad field is the core's, word for word what the origin answers
  // for the same body, and no request leaves the page.
  test('an invalid form input shows the core message and sends nothing', async () => {
    const sent = [];
    const watch = (r) => {
      if (r.method() !== 'GET') sent.push(`${r.method()} ${r.url()}`);
    };
    page.on('request', watch);
    await page.fill('#set-form [name="sku"]', '1001');
    await page.fill('#set-form [name="on_hand"]', '-5');
    await page.click('#set-form button[type="submit"]');
    const shown = await page.textContent('#set-form .message .text');
    const api = await origin('PUT', '/v1/stock/1001', '{"on_hand":-5}');
    assert.equal(api.status, 400);
    assert.equal(shown, api.body.error.message);
    assert.equal(await page.textContent('#set-form .message .code'), api.body.error.code);
    assert.equal(await page.getAttribute('#set-form [name="on_hand"]', 'aria-invalid'), 'true');

    await page.fill('#sale-form [name="units"]', 'lots');
    await page.click('#sale-start');
    const saleShown = await page.textContent('#sale-message .text');
    const saleApi = await origin('PUT', '/v1/stock/1003', '{"on_hand":"lots","reason":"demo sale"}');
    assert.equal(saleApi.status, 400);
    assert.equal(saleShown, saleApi.body.error.message);

    page.off('request', watch);
    assert.deepEqual(sent, []);
  });

  // A restock in the admin panel shows up in the live table without a reload, and in the SKU's
  // history once sync has written it to MariaDB.
  test('a restock in the admin panel appears live', async () => {
    await expectCell(1001, 'on_hand', '100');
    await page.fill('#adjust-form [name="sku"]', '1001');
    await page.fill('#adjust-form [name="delta"]', '25');
    await page.fill('#adjust-form [name="reason"]', 'truck arrived');
    await page.click('#adjust-form button[type="submit"]');
    await page.waitForSelector('#adjust-form .message.ok', { timeout: 5_000 });
    await expectCell(1001, 'on_hand', '125');
    await expectCell(1001, 'available', '125');

    await page.fill('#history-form [name="sku"]', '1001');
    for (const deadline = Date.now() + 10_000; ;) {
      await page.click('#history-form button[type="submit"]');
      await page.waitForSelector('#history-message.ok', { timeout: 5_000 });
      const first = await page.locator('#history-table tbody tr').first().innerText().catch(() => '');
      if (first.includes('truck arrived')) {
        assert.match(first, /adjust\s+25\s+100\s+125/);
        break;
      }
      assert.ok(Date.now() < deadline, 'the restock reached the history view');
      await page.waitForTimeout(250);
    }
    assert.deepEqual(pageErrors, []);
  });
});
