// The demo page's logic without a browser: its forms turn fields into exactly the bodies the API
// takes and report the core's verdict (both wasm builds), and the simulator ends a sale exactly at
// the stock against a fake edge on a fake clock.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
  adjustmentRequest, bodyOf, jsonValue, saleRequest, setStockRequest,
} from '../../web-demo/forms.mjs';
import { BuyerLogin } from '../../web-demo/login.mjs';
import { BUCKET_MS, Sale, outcomeOf } from '../../web-demo/sale.mjs';
import { loadFlavors } from '../wasm/load.mjs';

let cores;
before(async () => {
  cores = await loadFlavors();
});

describe('forms', () => {
  // Number literals are copied as typed; anything else is a string for the core to refuse.
  test('fields become JSON as typed', () => {
    assert.equal(jsonValue(' 12 '), '12');
    assert.equal(jsonValue('-5'), '-5');
    assert.equal(jsonValue('1e3'), '1e3');
    assert.equal(jsonValue('01'), '"01"');
    assert.equal(jsonValue('ten'), '"ten"');
    assert.equal(bodyOf({ on_hand: '7', per_customer_limit: '', reason: 'a "b"' }),
      '{"on_hand":7,"reason":"a \\"b\\""}');
  });

  for (const flavor of ['wasi', 'emscripten']) {
    // A valid form gives the path and body to send; a bad field gives the core's own words.
    test(`set stock and adjustments (${flavor})`, () => {
      const core = cores[flavor];
      assert.deepEqual(setStockRequest(core, { sku: '1001', on_hand: '100', per_customer_limit: '2' }),
        { path: '/v1/stock/1001', body: '{"on_hand":100,"per_customer_limit":2}' });
      const bad = setStockRequest(core, { sku: '1001', on_hand: '-5' });
      const expected = core.validate('set_stock', '{"on_hand":-5}');
      assert.deepEqual(bad.problem, { field: '/on_hand', message: expected.message,
        code: 'invalid_request', status: 400 });
      assert.ok(expected.message.length > 0);
      const badSku = setStockRequest(core, { sku: 'abc', on_hand: '1' });
      assert.equal(badSku.problem.code, 'invalid_request');
      assert.equal(badSku.problem.message, core.validate('sku', 'abc').message);
      const adj = adjustmentRequest(core, { sku: '7', delta: '+3', request_id: 'r1' });
      assert.equal(adj.problem.field, '/delta'); // "+3" is not JSON
      assert.deepEqual(adjustmentRequest(core, { sku: '7', delta: '-3', request_id: 'r1', reason: 'x' }),
        { path: '/v1/stock/7/adjustments', body: '{"delta":-3,"request_id":"r1","reason":"x"}' });
    });

    // Units are checked as the on_hand they become; the simulator's own numbers by their bounds.
    test(`sale form (${flavor})`, () => {
      const core = cores[flavor];
      const ok = saleRequest(core, { sku: '1005', units: '50', buyers: '400', rate: '200', bots: '3' });
      assert.equal(ok.problem, undefined);
      assert.deepEqual({ ...ok, stock: undefined },
        { sku: 1005, units: 50, buyers: 400, rate: 200, bots: 3, stock: undefined });
      assert.equal(ok.stock.body, '{"on_hand":50,"reason":"demo sale"}');
      const units = saleRequest(core, { sku: '1005', units: 'many', buyers: '1', rate: '1', bots: '0' });
      assert.equal(units.problem.field, 'units');
      assert.equal(units.problem.message,
        core.validate('set_stock', '{"on_hand":"many","reason":"demo sale"}').message);
      assert.equal(saleRequest(core, { sku: '0', units: '5', buyers: '1', rate: '1', bots: '0' }).problem.field, 'sku');
      assert.equal(saleRequest(core, { sku: '5', units: '5', buyers: '0', rate: '1', bots: '0' }).problem.field, 'buyers');
      assert.equal(saleRequest(core, { sku: '5', units: '5', buyers: '1', rate: '9999', bots: '0' }).problem.field, 'rate');
      assert.equal(saleRequest(core, { sku: '5', units: '0', buyers: '1', rate: '1', bots: '0' }).problem.field, 'units');
    });
  }
});

// A fake edge in front of `stock` units: bots (client ids with "bot") are limited after `burst`
// requests, the rest buy while units last, then meet the sold-out wall (answered by the "edge"
// after the first sold-out from the "origin").
function fakeEdge(stock, burst = 5) {
  const seen = new Map();
  const state = { stock, bodies: [], soldOutKnown: false };
  state.send = async (body, clientId) => {
    state.bodies.push(JSON.parse(body));
    const n = (seen.get(clientId) ?? 0) + 1;
    seen.set(clientId, n);
    if (clientId.includes('bot') && n > burst) return { status: 429, code: 'rate_limited', edge: 'rate_limited' };
    if (state.stock > 0) {
      state.stock--;
      return { status: 201, code: '', edge: 'admitted' };
    }
    const edge = state.soldOutKnown ? 'sold_out' : 'admitted';
    state.soldOutKnown = true;
    return { status: 409, code: 'insufficient_stock', edge };
  };
  return state;
}

async function run(sale, clock, limitMs = 120_000) {
  while (sale.state === 'running' && clock.t < limitMs) {
    clock.t += 50;
    sale.tick();
    await new Promise((ok) => setImmediate(ok));
  }
}

describe('sale simulator', () => {
  test('answers are classified by status, code and edge verdict', () => {
    assert.equal(outcomeOf({ status: 201 }), 'sold');
    assert.equal(outcomeOf({ status: 200 }), 'sold');
    assert.equal(outcomeOf({ status: 429 }), 'rate_limited');
    assert.equal(outcomeOf({ status: 409, code: 'insufficient_stock', edge: 'sold_out' }), 'sold_out_edge');
    assert.equal(outcomeOf({ status: 409, code: 'insufficient_stock', edge: 'admitted' }), 'sold_out_origin');
    assert.equal(outcomeOf({ status: 409, code: 'customer_limit_exceeded' }), 'limit');
    assert.equal(outcomeOf({ status: 503, code: 'unavailable' }), 'error');
  });

  // The crowd outnumbers the units: the sale sells every unit, meets the sold-out wall, and ends;
  // the chart's columns agree with the totals.
  test('a sale ends exactly at the stock', async () => {
    const clock = { t: 0 };
    const edge = fakeEdge(40);
    const sale = new Sale({ send: edge.send, now: () => clock.t, sku: 9, units: 40, buyers: 300,
      rate: 200, bots: 2, runId: 'st' });
    await run(sale, clock);
    assert.equal(sale.state, 'done');
    assert.equal(sale.reason, 'all 40 units sold');
    assert.equal(sale.totals.sold, 40);
    assert.equal(edge.stock, 0);
    assert.ok(sale.totals.sold_out_edge > 0 && sale.totals.rate_limited > 0);
    assert.equal(sale.totals.sent, edge.bodies.length);
    const { t, admitted, sold_out: soldOut, rate_limited: limited, sold } = sale.series;
    for (const column of [admitted, soldOut, limited, sold]) assert.equal(column.length, t.length);
    assert.equal(sold.at(-1), 40);
    const total = (column) => Math.round(column.reduce((a, b) => a + b, 0) * BUCKET_MS / 1000);
    assert.equal(total(limited), sale.totals.rate_limited);
    assert.equal(total(soldOut), sale.totals.sold_out_edge + sale.totals.sold_out_origin);
    assert.equal(total(admitted), sale.totals.admitted);
    // Every request is a direct sale of one unit of the SKU, with ids unique per attempt.
    const ids = new Set(edge.bodies.map((b) => b.order_id));
    assert.equal(ids.size, edge.bodies.length);
    assert.ok(edge.bodies.every((b) => b.confirm === true && b.items.length === 1 &&
      b.items[0].sku === 9 && b.items[0].qty === 1 && b.customer_id.startsWith('st-')));
  });

  // The sale shows the bots meeting the rate-limit wall: after the last unit it waits for every bot
  // to be limited, and for no longer than its longer tail when a bot never is.
  test('a sold-out sale waits for every bot to be limited, within bounds', async () => {
    for (const [burst, endsAfter] of [[1000, (soldOutAt) => Math.max(soldOutAt + 2500, 5000)],
      [Infinity, (soldOutAt) => soldOutAt + 15_000]]) {
      const clock = { t: 0 };
      const edge = fakeEdge(40, burst);
      const sale = new Sale({ send: edge.send, now: () => clock.t, sku: 9, units: 40, buyers: 300,
        rate: 200, bots: 2, runId: 'wait' });
      await run(sale, clock);
      assert.equal(sale.reason, 'all 40 units sold');
      assert.equal(sale.bots.every((b) => b.limited), burst !== Infinity);
      const want = endsAfter(sale.soldOutAt);
      assert.ok(clock.t >= want && clock.t <= want + 100, `ended at ${clock.t} ms, expected ${want}`);
    }
  });

  // A bot is a client of its own: a crowd whose requests hang does not hold the bots back.
  test('bots do not wait behind the crowd', async () => {
    const clock = { t: 0 };
    const sale = new Sale({
      send: (body, client) => (client.includes('bot')
        ? Promise.resolve({ status: 429, code: 'rate_limited', edge: 'rate_limited' })
        : new Promise(() => {})),
      now: () => clock.t, sku: 9, units: 10, buyers: 500, rate: 200, bots: 2, runId: 'crowd' });
    await run(sale, clock, 1000);
    assert.equal(sale.waiting, 64);
    for (const bot of sale.bots) assert.ok(bot.attempts >= 190, `bot sent ${bot.attempts} in 1 s at 200/s`);
  });

  // The bots' 64 requests in flight are split evenly among them (one each at least), beside the
  // crowd's 64: with every answer hanging, that is all that is ever sent.
  test('requests in flight are bounded for the crowd and split among the bots', async () => {
    for (const [bots, each] of [[1, 64], [2, 32], [3, 21], [50, 1]]) {
      const clock = { t: 0 };
      const sale = new Sale({ send: () => new Promise(() => {}), now: () => clock.t, sku: 9,
        units: 10, buyers: 500, rate: 1000, bots, runId: 'bound' });
      await run(sale, clock, 2000);
      assert.equal(sale.waiting, 64);
      assert.deepEqual(sale.bots.map((b) => b.inFlight), Array(bots).fill(each));
      assert.equal(sale.inFlight, 64 + bots * each);
      assert.equal(sale.totals.sent, sale.inFlight);
    }
  });

  // Fewer buyers than units: each buys once and the sale ends with stock left.
  test('a sale with fewer buyers than units ends when each has bought', async () => {
    const clock = { t: 0 };
    const edge = fakeEdge(50);
    const sale = new Sale({ send: edge.send, now: () => clock.t, sku: 9, units: 50, buyers: 10,
      rate: 100, bots: 0, runId: 'few' });
    await run(sale, clock);
    assert.equal(sale.state, 'done');
    assert.equal(sale.reason, 'every buyer bought');
    assert.equal(sale.totals.sold, 10);
    assert.equal(edge.stock, 40);
  });

  // With the edge gone every call fails; the sale ends on its own after five minutes.
  test('a sale against a dead edge ends by itself', async () => {
    const clock = { t: 0 };
    const sale = new Sale({ send: async () => ({ status: 0, code: 'network', edge: '' }),
      now: () => clock.t, sku: 9, units: 10, buyers: 50, rate: 20, bots: 0, runId: 'dead' });
    await run(sale, clock, 400_000);
    assert.equal(sale.state, 'done');
    assert.equal(sale.reason, 'stopped after 5 minutes');
    assert.equal(sale.totals.sold, 0);
    assert.ok(sale.totals.error > 0);
  });

  // A send that fails outright, without an answer, is counted as an error like a failed answer.
  test('a send that fails outright counts as an error', async () => {
    const clock = { t: 0 };
    const sale = new Sale({ send: () => Promise.reject(new TypeError('Failed to fetch')),
      now: () => clock.t, sku: 9, units: 10, buyers: 50, rate: 20, bots: 1, runId: 'fail' });
    await run(sale, clock, 1000);
    assert.ok(sale.totals.sent > 0);
    assert.equal(sale.totals.error, sale.totals.sent - sale.inFlight);
    assert.equal(sale.totals.sold, 0);
  });

  // Stop ends a sale at once; nothing more is sent.
  test('stop ends a sale', async () => {
    const clock = { t: 0 };
    const edge = fakeEdge(1000);
    const sale = new Sale({ send: edge.send, now: () => clock.t, sku: 9, units: 1000, buyers: 5000,
      rate: 100, bots: 0, runId: 'stop' });
    await run(sale, clock, 1000);
    sale.stop();
    const sent = sale.totals.sent;
    await run(sale, clock, 2000);
    assert.equal(sale.state, 'stopped');
    assert.equal(sale.totals.sent, sent);
    assert.ok(sent > 50 && sent <= 110, `sent ${sent} in 1 s at 100/s`);
  });
});

describe('buyer login', () => {
  // Tokens asked for in one turn go out as one call, in order; a known customer is not asked
  // for again; a failing login fails every waiting buyer with its message.
  test('batches, remembers and reports failures', async () => {
    const calls = [];
    let fail = false;
    const login = new BuyerLogin({
      url: 'http://login.test/',
      fetchFn: async (url, init) => {
        calls.push({ url, customers: JSON.parse(init.body).customers });
        if (fail) {
          return new Response(JSON.stringify({ error: { code: 'invalid_request', message: 'no' } }),
            { status: 400 });
        }
        return Response.json({ tokens: JSON.parse(init.body).customers.map((c) => `t-${c}`) });
      },
    });
    const first = await Promise.all(['b1', 'b2', 'b1', 'bot1'].map((c) => login.token(c)));
    assert.deepEqual(first, ['t-b1', 't-b2', 't-b1', 't-bot1']);
    assert.deepEqual(calls, [{ url: 'http://login.test/v1/buyer-tokens', customers: ['b1', 'b2', 'bot1'] }]);
    assert.equal(await login.token('b2'), 't-b2');
    assert.equal(calls.length, 1);
    const many = await Promise.all(Array.from({ length: 2500 }, (_, i) => login.token(`m${i}`)));
    assert.equal(many[2499], 't-m2499');
    assert.deepEqual(calls.slice(1).map((c) => c.customers.length), [1000, 1000, 500]);
    fail = true;
    await assert.rejects(login.token('late'), /no/);
  });
});
