// LiveFeed (edge/live_feed.mjs), the edge's fan-out of the stock feed, against a fake origin feed
// the test writes: one upstream subscription serves every subscriber; a new subscriber gets the
// whole picture at once, merged from the origin's first picture and its changes; a subscriber that
// does not read is dropped after a bounded number of events while the others get every event; a
// broken upstream is reopened and its first event taken as a whole new picture; the upstream
// closes with the last subscriber; an origin that refuses the feed has its answer passed on;
// `low_stock` events are passed on as they come, and the picture keeps each item's low_stock mark.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LiveFeed, parseBlock, takeBlocks } from '../edge/live_feed.mjs';

const encoder = new TextEncoder();
const tick = () => new Promise((ok) => setTimeout(ok, 5));

// A fake origin: each subscription is a stream the test pushes SSE text into.
function fakeOrigin() {
  const o = { subscriptions: [], status: 200 };
  o.fetch = async (request) => {
    assert.equal(new URL(request.url).pathname, '/v1/events');
    if (o.status !== 200) {
      return new Response('{"error":{"code":"unauthenticated","message":"missing bearer token"}}',
        { status: o.status, headers: { 'Content-Type': 'application/json' } });
    }
    let controller;
    const sub = { cancelled: false };
    const body = new ReadableStream({
      start(c) { controller = c; },
      cancel() { sub.cancelled = true; },
    });
    sub.push = (text) => controller.enqueue(encoder.encode(text));
    sub.end = () => controller.close();
    o.subscriptions.push(sub);
    return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
  };
  return o;
}

const stockEvent = (version, items) =>
  `event: stock\ndata: ${JSON.stringify({ version, items: items.map(([sku, available]) => ({ sku, available })) })}\n\n`;

// Reads a subscriber's stream in the background, collecting its stock events.
function collect(response) {
  const out = { events: [], low: [], comments: 0, ended: false, failed: false };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const [blocks, rest] = takeBlocks(buffer + value);
        buffer = rest;
        for (const block of blocks) {
          const { comment, event, data } = parseBlock(block);
          if (comment) out.comments++;
          if (event === 'stock' && data) out.events.push(JSON.parse(data));
          if (event === 'low_stock' && data) out.low.push(JSON.parse(data));
        }
      }
      out.ended = true;
    } catch {
      out.failed = true;
    }
  })();
  out.cancel = () => reader.cancel();
  return out;
}

describe('LiveFeed', () => {
  test('one upstream for every subscriber; the picture is merged; slow ones are dropped', async () => {
    const origin = fakeOrigin();
    const feed = new LiveFeed({ origin: origin.fetch, maxQueued: 16, sleep: async () => {} });
    const a = collect(feed.subscribe());
    const b = collect(feed.subscribe());
    const slow = feed.subscribe(); // never read
    assert.equal(slow.headers.get('content-type'), 'text/event-stream');
    await tick();
    assert.equal(origin.subscriptions.length, 1, 'one upstream subscription');
    const up = origin.subscriptions[0];
    up.push(stockEvent(1, [[1, 10], [2, 20]]));
    for (let v = 2; v <= 101; v++) up.push(stockEvent(v, [[1, 10 - (v % 10)]]));
    up.push(': keep-alive\n\n');
    await tick();
    await tick();
    assert.equal(a.events.length, 101);
    assert.equal(b.events.length, 101);
    assert.deepEqual(a.events.map((e) => e.version), Array.from({ length: 101 }, (_, i) => i + 1));
    assert.equal(a.comments, 1);
    assert.equal(feed.stats.dropped_slow, 1, JSON.stringify(feed.stats));
    assert.equal(feed.stats.subscribers, 2);

    // A late subscriber gets the whole picture at once: sku 1 as of the last change, sku 2 from
    // the first picture.
    const late = collect(feed.subscribe());
    await tick();
    assert.equal(late.events.length, 1);
    assert.equal(late.events[0].version, 101);
    assert.deepEqual(late.events[0].items.sort((x, y) => x.sku - y.sku),
      [{ available: 9, sku: 1 }, { available: 20, sku: 2 }]);
    assert.equal(origin.subscriptions.length, 1, 'still one upstream');

    // The upstream breaks: it is reopened, and its first event is the whole picture.
    up.end();
    await tick();
    assert.equal(origin.subscriptions.length, 2);
    origin.subscriptions[1].push(stockEvent(102, [[1, 3]]));
    await tick();
    assert.equal(a.events.at(-1).version, 102);
    const after = collect(feed.subscribe());
    await tick();
    assert.deepEqual(after.events[0].items, [{ available: 3, sku: 1 }], 'sku 2 left the picture');

    // The last subscriber leaving closes the upstream.
    for (const s of [a, b, late, after]) await s.cancel();
    await tick();
    origin.subscriptions[1].push(stockEvent(103, [[1, 2]]));
    await tick();
    assert.equal(feed.stats.subscribers, 0);
    assert.ok(origin.subscriptions[1].cancelled, 'upstream cancelled');
    assert.equal(feed.upstream, null);
  });

  test('low_stock events pass through; the picture keeps low_stock marks', async () => {
    const origin = fakeOrigin();
    const feed = new LiveFeed({ origin: origin.fetch, sleep: async () => {} });
    const a = collect(feed.subscribe());
    await tick();
    const up = origin.subscriptions[0];
    up.push('event: stock\ndata: {"items":[{"available":9,"sku":1},{"available":1,"low_stock":true,"sku":2}],"version":1}\n\n');
    up.push('event: low_stock\ndata: {"available":1,"low_stock":true,"low_stock_threshold":2,"sku":2}\n\n');
    await tick();
    assert.deepEqual(a.low, [{ available: 1, low_stock: true, low_stock_threshold: 2, sku: 2 }]);
    const late = collect(feed.subscribe());
    await tick();
    assert.deepEqual(late.events[0].items.sort((x, y) => x.sku - y.sku),
      [{ available: 9, sku: 1 }, { available: 1, low_stock: true, sku: 2 }]);
    assert.deepEqual(late.low, [], 'crossings are news, not part of the picture');
    await a.cancel();
    await late.cancel();
  });

  test('a refused feed passes the origin answer on, and a full feed says so', async () => {
    const origin = fakeOrigin();
    origin.status = 401;
    const feed = new LiveFeed({ origin: origin.fetch, maxSubscribers: 1, sleep: async () => {} });
    const first = collect(feed.subscribe());
    await tick();
    assert.ok(first.ended || first.failed, 'the stream of a refused feed ends');
    const refused = feed.subscribe();
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error.code, 'unauthenticated');

    origin.status = 200;
    const one = collect(feed.subscribe());
    const full = feed.subscribe();
    assert.equal(full.status, 503);
    assert.equal(full.headers.get('retry-after'), '5');
    await one.cancel();
  });
});
