// The edge in workerd, in front of a real origin and Redis, all started here on free loopback
// ports: invalid requests and the tail of a sold-out sale never reach the origin (its /metrics
// prove it), one client's burst is limited without touching others, admitted requests get the
// origin's answers byte for byte, a restock reopens admission within the freshness window, a dead
// origin gives a fast 503 and a restarted one is used again, and the isolate's tables stay
// bounded whatever clients send. Identities: a verified ES256 token's sub keys a client; a forged,
// expired or foreign-key token is refused at the edge; without the operator's trust, X-Client-Id
// and new connections buy nothing, and reservations without identity never reach the origin.
// Reads see the client's own writes; with the origin down, stock reads are served stale.
//
// Needs build/wasi/wasm/core.wasm (edge/config.capnp embeds it), the origin binary
// (STOCKGATE_ORIGIN_BIN, default build/native/origin/stockgate-origin) and npm's workerd.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { generateKeyPairSync } from 'node:crypto';

import {
  cleanups, makeIssuer, originRequests, repoRoot, sleep, startOrigin, startWorkerd, subscribeSse,
} from '../bench/harness.mjs';

const originBin = resolve(repoRoot, process.env.STOCKGATE_ORIGIN_BIN ?? 'build/native/origin/stockgate-origin');
const SKU = 7;

let root;
let origin;
let edge;

// workerd with edge/config.capnp on a free port, pointed at the origin.
const startEdge = (env, options = {}) => startWorkerd(root,
  `edge-${Math.random().toString(36).slice(2, 8)}`, { originPort: origin.port, env, ...options });
const originCount = (route) => originRequests(origin.base, route);

const json = { 'Content-Type': 'application/json' };
let orderSeq = 0;
const reserveBody = (sku, qty = 1) =>
  JSON.stringify({ order_id: `edge-${process.pid}-${orderSeq++}`, items: [{ sku, qty }] });

function reserveVia(base, client, body, token = origin.serviceToken) {
  return fetch(`${base}/v1/reservations`, {
    method: 'POST',
    headers: { ...json, Authorization: `Bearer ${token}`, 'X-Client-Id': client },
    body,
  });
}

async function setStock(sku, onHand) {
  const r = await fetch(`${origin.base}/v1/stock/${sku}`, {
    method: 'PUT',
    headers: { ...json, Authorization: `Bearer ${origin.adminToken}` },
    body: JSON.stringify({ on_hand: onHand }),
  });
  assert.ok(r.status === 200 || r.status === 201, `PUT stock answered ${r.status}`);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'stockgate-edge-test-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));
  origin = await startOrigin(root, 'origin', {
    binary: originBin, sku: SKU, stock: 20,
    env: { STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0' },
  });
  // This edge stands behind a proxy that sets X-Client-Id (the test plays it), so each test
  // client is its own X-Client-Id; the service token (HS256) identifies nobody at the edge.
  edge = await startEdge({
    STOCKGATE_EDGE_TRUST_CLIENT_ID: '1', STOCKGATE_EDGE_JWKS: origin.issuer.jwks,
    STOCKGATE_EDGE_CLIENT_RATE: '5', STOCKGATE_EDGE_CLIENT_BURST: '10',
    STOCKGATE_EDGE_WINDOW_MS: '100', STOCKGATE_EDGE_FRESHNESS_MS: '500',
    STOCKGATE_EDGE_TABLE_CAPACITY: '1000', STOCKGATE_EDGE_ORIGIN_TIMEOUT_MS: '1000',
  });
});

after(() => {
  edge?.stop();
  origin?.stop();
});

describe('edge in workerd', () => {
  // Bodies the core refuses are answered 400 by the edge; the origin's reservation count does
  // not move.
  test('invalid requests never reach the origin', async () => {
    const before = await originCount('/v1/reservations');
    const bad = ['{', '{"order_id":"x"}', '{"order_id":"a b","items":[{"sku":1,"qty":1}]}',
      JSON.stringify({ order_id: 'x', items: [{ sku: 1, qty: 0 }] }), '[]'];
    for (const [i, body] of bad.entries()) {
      const r = await reserveVia(edge.base, `bad-${i}`, body);
      assert.equal(r.status, 400, body);
      assert.equal(r.headers.get('x-stockgate-edge'), 'invalid');
      assert.equal((await r.json()).error.code, 'invalid_request');
    }
    assert.equal(await originCount('/v1/reservations'), before);
  });

  // The edge forwards what can still succeed; once sold out it answers 409 itself and the
  // origin stops seeing the sale. Exactly the stock is sold.
  test('after sell-out the edge answers locally', async () => {
    const sku = 8;
    await setStock(sku, 10);
    const answers = { 201: 0, 409: 0 };
    const edgeTags = {};
    for (let i = 0; i < 40; i++) {
      const r = await reserveVia(edge.base, `buyer-${i}`, reserveBody(sku));
      answers[r.status] = (answers[r.status] ?? 0) + 1;
      edgeTags[r.headers.get('x-stockgate-edge')] = (edgeTags[r.headers.get('x-stockgate-edge')] ?? 0) + 1;
      await r.arrayBuffer();
    }
    assert.equal(answers[201], 10, JSON.stringify(answers));
    assert.equal(answers[409], 30);
    assert.ok(edgeTags.sold_out > 0, JSON.stringify(edgeTags));
    const stock = await (await fetch(`${origin.base}/v1/stock/${sku}`)).json();
    assert.equal(stock.reserved, 10);
    assert.equal(stock.available, 0);
    // From here on nothing reaches the origin.
    const before = await originCount('/v1/reservations');
    for (let i = 0; i < 50; i++) {
      const r = await reserveVia(edge.base, `late-${i}`, reserveBody(sku));
      assert.equal(r.status, 409);
      assert.equal(r.headers.get('x-stockgate-edge'), 'sold_out');
      const e = (await r.json()).error;
      assert.equal(e.code, 'insufficient_stock');
      assert.deepEqual(e.fail_items, [{ sku, requested: 1, available: 0 }]);
    }
    assert.equal(await originCount('/v1/reservations'), before);
  });

  // A restock is seen through the snapshot feed: admission reopens within the freshness window.
  test('restock reopens admission', async () => {
    const sku = 9;
    await setStock(sku, 1);
    assert.equal((await reserveVia(edge.base, 'r1', reserveBody(sku))).status, 201);
    const soldOut = await reserveVia(edge.base, 'r2', reserveBody(sku));
    assert.equal(soldOut.status, 409);
    await setStock(sku, 3);
    const restockedAt = Date.now();
    let reopened = null;
    for (let i = 0; i < 40 && !reopened; i++) {
      const r = await reserveVia(edge.base, `r3-${i}`, reserveBody(sku));
      if (r.status === 201) reopened = Date.now();
      await r.arrayBuffer();
      if (!reopened) await sleep(50);
    }
    assert.ok(reopened, 'admission reopened');
    assert.ok(reopened - restockedAt <= 1000, `reopened after ${reopened - restockedAt} ms`);
  });

  // One client over its burst gets 429 with Retry-After; another client is not affected.
  test('a burst from one client is limited, others are not', async () => {
    const statuses = [];
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${edge.base}/v1/stock/${SKU}`, { headers: { 'X-Client-Id': 'greedy' } });
      statuses.push(r.status);
      if (r.status === 429) {
        assert.equal(r.headers.get('x-stockgate-edge'), 'rate_limited');
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.equal((await r.json()).error.code, 'rate_limited');
      } else {
        await r.arrayBuffer();
      }
    }
    assert.ok(statuses.filter((s) => s === 429).length >= 5, statuses.join(','));
    const other = await fetch(`${edge.base}/v1/stock/${SKU}`, { headers: { 'X-Client-Id': 'polite' } });
    assert.equal(other.status, 200);
  });

  // With the issuer's public keys (and no trusted header), a verified token's sub is the
  // client: two buyers behind one X-Client-Id have buckets of their own; a rotating X-Client-Id
  // is one shared anonymous client; a forged, expired or foreign token is refused at the edge.
  test('identities come from verified tokens only', async () => {
    const keyed = await startEdge({
      STOCKGATE_EDGE_JWKS: origin.issuer.jwks, STOCKGATE_EDGE_CLIENT_RATE: '1',
      STOCKGATE_EDGE_CLIENT_BURST: '3',
    });
    try {
      const sku = 11;
      await setStock(sku, 1000);
      const read = (token, client = 'shared') => fetch(`${keyed.base}/v1/stock?skus=${sku}`, {
        headers: { 'X-Client-Id': client, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      }).then(async (r) => { await r.arrayBuffer(); return r.status; });
      const alice = origin.issuer.mint('buyer', 'alice');
      const bob = origin.issuer.mint('buyer', 'bob');
      const aliceStatuses = [];
      for (let i = 0; i < 6; i++) aliceStatuses.push(await read(alice));
      assert.ok(aliceStatuses.includes(429), aliceStatuses.join(','));
      assert.equal(await read(bob), 200, 'bob has his own bucket');

      // Rotating X-Client-Id without a token: one anonymous client, limited like one.
      const rotating = [];
      for (let i = 0; i < 8; i++) rotating.push(await read('', `rot-${i}`));
      assert.ok(rotating.includes(429), rotating.join(','));

      // Reservations: a buyer's goes through; without a token, with a service token the edge
      // cannot verify, or with a rotating X-Client-Id, none reaches the origin.
      const before = await originCount('/v1/reservations');
      const reserve = (token, client) => fetch(`${keyed.base}/v1/reservations`, {
        method: 'POST', body: reserveBody(sku),
        headers: { ...json, 'X-Client-Id': client, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      });
      const carol = await reserve(origin.issuer.mint('buyer', 'carol'), 'c');
      assert.equal(carol.status, 201, await carol.text());
      for (const [i, token] of ['', origin.serviceToken, ''].entries()) {
        const r = await reserve(token, `anon-${i}`);
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('x-stockgate-edge'), 'invalid');
        assert.equal((await r.json()).error.code, 'unauthenticated');
      }
      // Forged (alice's claims, bad signature), expired, another issuer's key under our kid:
      // refused by the edge; a kid the edge does not know identifies nobody (also refused).
      const forged = `${alice.slice(0, alice.lastIndexOf('.'))}.${'A'.repeat(86)}`;
      const expired = origin.issuer.mint('buyer', 'dave', 1);
      const stranger = makeIssuer(originBin, join(root, 'stranger'), origin.issuer.kid);
      const unknownKid = makeIssuer(originBin, join(root, 'unknown-kid'), 'someone-else');
      await sleep(1100);
      for (const [name, token, message] of [
        ['forged', forged, 'bad signature'], ['expired', expired, 'token expired'],
        ['foreign key', stranger.mint('buyer', 'eve'), 'bad signature'],
        ['unknown kid', unknownKid.mint('buyer', 'eve'), null]]) {
        const r = await reserve(token, name);
        assert.equal(r.status, 401, name);
        const e = (await r.json()).error;
        if (message) assert.equal(e.message, message, name);
      }
      assert.equal(await originCount('/v1/reservations'), before + 1);
      const stats = await keyed.stats();
      assert.ok(stats.refused_tokens >= 3, JSON.stringify(stats));
    } finally {
      keyed.stop();
    }
  });

  // Where the operator allows anonymous buyers, they share one client's budget, whatever
  // X-Client-Id they send (the key is never per connection either).
  test('anonymous buyers share one budget', async () => {
    const open = await startEdge({
      STOCKGATE_EDGE_ANONYMOUS_RESERVATIONS: '1', STOCKGATE_EDGE_CLIENT_RATE: '1',
      STOCKGATE_EDGE_CLIENT_BURST: '3',
    });
    try {
      const sku = 12;
      await setStock(sku, 1000);
      const statuses = [];
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${open.base}/v1/reservations`, {
          method: 'POST', body: reserveBody(sku),
          headers: { ...json, Authorization: `Bearer ${origin.serviceToken}`,
            'X-Client-Id': `rot-${i}` },
        });
        statuses.push(r.status);
        await r.arrayBuffer();
      }
      assert.equal(statuses.filter((st) => st === 201).length, 3, statuses.join(','));
      assert.equal(statuses.filter((st) => st === 429).length, 7, statuses.join(','));
    } finally {
      open.stop();
    }
  });

  // An edge configured with a private key refuses to run: its configuration must not sign.
  test('a JWK Set with a private key is refused', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k' };
    await assert.rejects(startEdge({ STOCKGATE_EDGE_JWKS: JSON.stringify({ keys: [jwk] }) },
      { readyTimeoutMs: 3000 }), /private key/);
  });

  // Read-your-writes: a reservation through the edge drops its cached read of the SKU, so the
  // same client reads its hold at once; so does a release, found by the reservation it answers.
  test('reads through the edge see writes through it', async () => {
    const sku = 13;
    await setStock(sku, 50);
    await sleep(600);
    const stock = async () => {
      const r = await fetch(`${edge.base}/v1/stock/${sku}`, { headers: { 'X-Client-Id': 'ryw' } });
      return { tag: r.headers.get('x-stockgate-edge'), reserved: (await r.json()).reserved };
    };
    assert.equal((await stock()).reserved, 0);
    assert.equal((await stock()).tag, 'cached');
    const body = reserveBody(sku, 2);
    const r = await reserveVia(edge.base, 'ryw', body);
    assert.equal(r.status, 201);
    await r.arrayBuffer();
    assert.deepEqual(await stock(), { tag: 'proxied', reserved: 2 });
    assert.equal((await stock()).tag, 'cached');
    const id = JSON.parse(body).order_id;
    const release = await fetch(`${edge.base}/v1/reservations/${id}/release`, {
      method: 'POST', headers: { Authorization: `Bearer ${origin.serviceToken}`, 'X-Client-Id': 'ryw' },
    });
    assert.equal(release.status, 200);
    assert.equal((await release.json()).status, 'released');
    assert.deepEqual(await stock(), { tag: 'proxied', reserved: 0 });
  });

  // An admitted reservation gets exactly what the origin answers: the same bytes as the same
  // (idempotent) request sent straight to the origin.
  test('admitted requests get the origin answer byte for byte', async () => {
    const body = reserveBody(SKU);
    const first = await reserveVia(origin.base, 'direct', body);
    assert.equal(first.status, 201);
    await first.arrayBuffer();
    const viaEdge = await reserveVia(edge.base, 'bytes', body);
    const direct = await reserveVia(origin.base, 'direct', body);
    assert.equal(viaEdge.headers.get('x-stockgate-edge'), 'admitted');
    assert.equal(viaEdge.status, direct.status);
    assert.equal(viaEdge.headers.get('content-type'), direct.headers.get('content-type'));
    assert.deepEqual(Buffer.from(await viaEdge.arrayBuffer()), Buffer.from(await direct.arrayBuffer()));
    // Proxied reads too, with the Authorization header passed on.
    const id = JSON.parse(body).order_id;
    const get = (base) => fetch(`${base}/v1/reservations/${id}`, {
      headers: { Authorization: `Bearer ${origin.serviceToken}`, 'X-Client-Id': 'reader' },
    });
    const a = await get(edge.base);
    const b = await get(origin.base);
    assert.equal(a.headers.get('x-stockgate-edge'), 'proxied');
    assert.equal(a.status, 200);
    assert.equal(await a.text(), await b.text());
  });

  // Public stock reads are cached for the freshness window, with an Age header.
  test('stock reads are served from the cache when fresh', async () => {
    const sku = 10;
    await setStock(sku, 5);
    await sleep(600); // whatever was cached is stale now
    const first = await fetch(`${edge.base}/v1/stock/${sku}`, { headers: { 'X-Client-Id': 'cache-a' } });
    assert.equal(first.headers.get('x-stockgate-edge'), 'proxied');
    const firstText = await first.text();
    const second = await fetch(`${edge.base}/v1/stock/${sku}`, { headers: { 'X-Client-Id': 'cache-b' } });
    assert.equal(second.headers.get('x-stockgate-edge'), 'cached');
    assert.equal(second.headers.get('age'), '0');
    assert.equal(await second.text(), firstText);
  });

  // `/` and `/demo/*` come from the site directory with their content types; a missing file is
  // the edge's own 404; other methods and every other path still go to the origin.
  test('the demo page is served from the site directory', async () => {
    const site = join(root, 'site');
    mkdirSync(join(site, 'demo'), { recursive: true });
    writeFileSync(join(site, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(site, 'demo', 'm.wasm'), Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]));
    const staticEdge = await startEdge({}, { site });
    try {
      const index = await fetch(`${staticEdge.base}/`);
      assert.equal(index.status, 200);
      assert.equal(index.headers.get('x-stockgate-edge'), 'static');
      assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(await index.text(), '<!doctype html><title>t</title>');
      const wasm = await fetch(`${staticEdge.base}/demo/m.wasm`);
      assert.equal(wasm.headers.get('content-type'), 'application/wasm');
      assert.deepEqual([...new Uint8Array(await wasm.arrayBuffer())], [0, 97, 115, 109, 1, 0, 0, 0]);
      const missing = await fetch(`${staticEdge.base}/demo/nothing.mjs`);
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.get('x-stockgate-edge'), 'static');
      assert.equal((await missing.json()).error.code, 'not_found');
      // A raw path (fetch would normalize it): nothing outside the site directory is served.
      const escape = await new Promise((ok, fail) => {
        const req = httpRequest({ host: '127.0.0.1', port: staticEdge.port,
          path: '/demo/../../../../etc/passwd' }, (res) => {
          let text = '';
          res.on('data', (c) => { text += c; });
          res.on('end', () => ok({ status: res.statusCode, edge: res.headers['x-stockgate-edge'], text }));
        });
        req.on('error', fail);
        req.end();
      });
      assert.equal(escape.status, 404);
      assert.doesNotMatch(escape.text, /root:/);
      const post = await fetch(`${staticEdge.base}/`, { method: 'POST', body: '{}', headers: json });
      assert.equal(post.headers.get('x-stockgate-edge'), 'proxied');
      assert.equal(post.status, 404); // the origin has no route POST /
    } finally {
      staticEdge.stop();
    }
  });

  // The isolate's client table stays at its capacity however many clients appear.
  test('memory stays bounded', async () => {
    const before = await edge.stats();
    for (let i = 0; i < 3000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) =>
        fetch(`${edge.base}/v1/reservations`, {
          method: 'POST', headers: { ...json, 'X-Client-Id': `flood-${i + k}` }, body: '{',
        }).then((r) => r.arrayBuffer())));
    }
    const s = await edge.stats();
    assert.ok(s.client_entries <= 1000, `client entries ${s.client_entries}`);
    assert.ok(s.client_evictions > 0);
    assert.ok(s.wasm_memory_bytes <= Math.max(before.wasm_memory_bytes, 4 << 20),
      `wasm memory ${s.wasm_memory_bytes}`);
  });

  // Live stock for a crowd: many more subscribers than the origin has threads all get the
  // picture and then each change, over one subscription of the edge's to the origin.
  test('the stock feed is fanned out at the edge', async () => {
    const sku = 14;
    await setStock(sku, 100);
    const before = await originCount('/v1/events');
    const n = 300;
    const subscribers = await Promise.all(Array.from({ length: n }, () => subscribeSse(edge.port)));
    try {
      for (const s of subscribers) await s.until((e) => e.items.some((i) => i.sku === sku && i.available === 100));
      await setStock(sku, 77);
      for (const s of subscribers) await s.until((e) => e.items.some((i) => i.sku === sku && i.available === 77));
      assert.ok(await originCount('/v1/events') - before <= 2, 'the origin serves one subscription');
      const stats = await edge.stats();
      assert.ok(stats.feed.subscribers >= n, JSON.stringify(stats.feed));
      assert.equal(subscribers[0].contentType, 'text/event-stream');
      assert.equal(subscribers[0].edge, 'proxied');
    } finally {
      for (const s of subscribers) s.close();
    }
  });

  // With the origin gone the edge answers 503 with Retry-After at once; when it is back, the
  // edge uses it again.
  test('origin down gives a fast 503, and service resumes', async () => {
    await origin.kill();
    const started = Date.now();
    const r = await reserveVia(edge.base, 'down', reserveBody(SKU));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal((await r.json()).error.code, 'unavailable');
    const g = await fetch(`${edge.base}/v1/reservations/none`, { headers: { 'X-Client-Id': 'down-get' } });
    assert.equal(g.status, 503);
    assert.ok(Date.now() - started < 5000);
    // Stock reads are answered from what the edge last knew, marked stale with their age: the
    // last answer for a SKU it has served, the snapshot's availability for one it has not.
    const stale = await fetch(`${edge.base}/v1/stock/${SKU}`, { headers: { 'X-Client-Id': 'stale' } });
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.get('x-stockgate-edge'), 'stale');
    assert.ok(Number(stale.headers.get('age')) >= 0);
    const known = await stale.json();
    assert.equal(known.sku, SKU);
    assert.equal(typeof known.available, 'number');
    const list = await fetch(`${edge.base}/v1/stock?skus=${SKU},8,424242`,
      { headers: { 'X-Client-Id': 'stale' } });
    assert.equal(list.headers.get('x-stockgate-edge'), 'stale');
    const body = await list.json();
    assert.deepEqual(body.items.map((i) => i.sku), [SKU, 8]);
    assert.deepEqual(body.unavailable_skus, [424242]);
    assert.equal(body.items[1].available, 0); // sku 8 sold out above
    await origin.restart();
    let ok = false;
    for (let i = 0; i < 40 && !ok; i++) {
      const again = await reserveVia(edge.base, `up-${i}`, reserveBody(SKU));
      ok = again.status === 201;
      await again.arrayBuffer();
      if (!ok) await sleep(100);
    }
    assert.ok(ok, 'reservations go through again');
  });
});

// An edge for the snapshot feed's tests: X-Client-Id trusted, no client limit, the snapshot polled
// every `windowMs`.
const feedEdge = (name, originPort, windowMs) => startWorkerd(root, name, {
  originPort,
  env: { STOCKGATE_EDGE_TRUST_CLIENT_ID: '1', STOCKGATE_EDGE_CLIENT_RATE: '0',
    STOCKGATE_EDGE_WINDOW_MS: String(windowMs), STOCKGATE_EDGE_FRESHNESS_MS: '500' },
});

// An origin whose store has three partitions: the edge follows the snapshot feed by its cursor
// (one version per partition), so every partition's sell-outs and restocks reach it as deltas.
describe('edge in front of a partitioned origin', () => {
  let o3;
  let e3;
  const put = async (sku, onHand) => {
    const r = await fetch(`${o3.base}/v1/stock/${sku}`, {
      method: 'PUT',
      headers: { ...json, Authorization: `Bearer ${o3.adminToken}` },
      body: JSON.stringify({ on_hand: onHand }),
    });
    assert.ok(r.status === 200 || r.status === 201, `PUT stock answered ${r.status}`);
  };
  // Status and edge tag of a reservation of one unit of `sku` through this edge.
  const reserve = async (sku, client) => {
    const r = await reserveVia(e3.base, client, reserveBody(sku), o3.serviceToken);
    await r.arrayBuffer();
    return `${r.status} ${r.headers.get('x-stockgate-edge')}`;
  };
  const until = async (what, fn) => {
    for (let i = 0; i < 40; i++) {
      if (await fn()) return;
      await sleep(50);
    }
    assert.fail(what);
  };

  before(async () => {
    o3 = await startOrigin(root, 'origin-p3', {
      binary: originBin, sku: 30, stock: 1,
      env: {
        STOCKGATE_REDIS_PARTITIONS: '3', STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0',
      },
    });
    e3 = await feedEdge('edge-p3', o3.port, 100);
  });

  after(() => {
    e3?.stop();
    o3?.stop();
  });

  test('sell-outs and restocks in every partition reach the edge', async () => {
    const skus = [30, 31, 32]; // partitions 0, 1 and 2
    for (const sku of skus) await put(sku, 1);
    for (const sku of skus) assert.equal(await reserve(sku, `p3-${sku}`), '201 admitted');
    for (const sku of skus) {
      await until(`SKU ${sku} answered sold out at the edge`,
        async () => (await reserve(sku, `p3-late-${sku}`)) === '409 sold_out');
    }
    const { snapshot_cursor: cursor } = await e3.stats();
    assert.match(cursor, /^\d+\.\d+\.\d+$/, 'a version per partition');
    // A restock in one partition reopens that SKU; the others stay sold out at the edge.
    await put(31, 2);
    await until('SKU 31 admitted again',
      async () => (await reserve(31, 'p3-again')) === '201 admitted');
    assert.equal(await reserve(30, 'p3-still'), '409 sold_out');
    assert.equal(await reserve(32, 'p3-still'), '409 sold_out');
    assert.notEqual((await e3.stats()).snapshot_cursor, cursor);
    // Deltas that do not name the sold-out SKUs confirm their values: still answered at the edge
    // well past FRESHNESS_MS (500 ms) after their last change.
    await sleep(1200);
    assert.equal(await reserve(30, 'p3-later'), '409 sold_out');
    assert.equal(await reserve(32, 'p3-later'), '409 sold_out');
  });
});

// An origin that does not take the cursor it is given (an origin from before cursors, behind the
// same address during an upgrade, answers 400): the edge starts over from everything at once,
// and its snapshot keeps working.
describe('edge in front of an origin that refuses its cursor', () => {
  let fake;
  let e;
  const seen = [];
  before(async () => {
    fake = createServer((req, res) => {
      const since = new URL(req.url, 'http://x').searchParams.get('since');
      if (!req.url.startsWith('/v1/snapshot')) {
        res.writeHead(404).end();
        return;
      }
      seen.push(since);
      if (since.includes('.')) {
        res.writeHead(400, json).end('{"error":{"code":"invalid_request","message":"since"}}');
        return;
      }
      res.writeHead(200, json).end(JSON.stringify({
        version: 10, cursor: '4.3.3', items: [{ sku: 5, available: 0 }],
      }));
    });
    await new Promise((ok) => fake.listen(0, '127.0.0.1', ok));
    cleanups.unshift(() => fake.close());
    e = await feedEdge('edge-refused', fake.address().port, 50);
  });

  after(() => {
    e?.stop();
    fake?.close();
  });

  test('a refused cursor is dropped for a whole snapshot', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await reserveVia(e.base, `refused-${i}`, reserveBody(5));
      assert.equal(r.status, 409);
      assert.equal(r.headers.get('x-stockgate-edge'), 'sold_out');
      await r.arrayBuffer();
      await sleep(60);
    }
    assert.ok(seen.includes('4.3.3'), `cursors sent: ${seen.join(' ')}`);
    const stats = await e.stats();
    assert.equal(stats.snapshot_failures, 0);
    // Each refusal was followed by a whole snapshot.
    seen.forEach((since, i) => {
      if (since === '4.3.3' && i + 1 < seen.length) assert.equal(seen[i + 1], '0');
    });
  });
});

// A catalog larger than the gate's SKU table (TABLE_CAPACITY): the SKUs a buyer asks for stay
// answered at the edge, though the deltas name none of them after the first snapshot; one the
// table let go comes back with the origin's first 409 for it.
describe('edge with more SKUs than its table holds', () => {
  let fake;
  let e;
  let forwarded = 0;
  before(async () => {
    fake = createServer((req, res) => {
      if (req.url.startsWith('/v1/snapshot')) {
        const since = new URL(req.url, 'http://x').searchParams.get('since');
        const items = since === '0'
          ? Array.from({ length: 150 }, (_, i) => ({ sku: i + 1, available: 0 })) : [];
        res.writeHead(200, json).end(JSON.stringify({ version: 150, cursor: '150', items }));
        return;
      }
      let text = '';
      req.on('data', (c) => { text += c; });
      req.on('end', () => {
        forwarded++;
        const sku = JSON.parse(text).items[0].sku;
        res.writeHead(409, json).end(JSON.stringify({ error: {
          code: 'insufficient_stock', message: 'not enough stock for 1 item(s)',
          fail_items: [{ sku, requested: 1, available: 0 }] } }));
      });
    });
    await new Promise((ok) => fake.listen(0, '127.0.0.1', ok));
    cleanups.unshift(() => fake.close());
    e = await startWorkerd(root, 'edge-small-table', {
      originPort: fake.address().port,
      env: { STOCKGATE_EDGE_TRUST_CLIENT_ID: '1', STOCKGATE_EDGE_CLIENT_RATE: '0',
        STOCKGATE_EDGE_WINDOW_MS: '50', STOCKGATE_EDGE_FRESHNESS_MS: '300',
        STOCKGATE_EDGE_TABLE_CAPACITY: '100' },
    });
  });

  after(() => {
    e?.stop();
    fake?.close();
  });

  test('asked-for SKUs stay answered locally', async () => {
    const tags = async (sku, n) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        const r = await reserveVia(e.base, `table-${sku}-${i}`, reserveBody(sku));
        assert.equal(r.status, 409);
        out.push(r.headers.get('x-stockgate-edge'));
        await r.arrayBuffer();
        await sleep(100);
      }
      return out;
    };
    // SKU 1 was handed first, so the full table let it go; SKU 150 was handed last.
    const first = await tags(1, 12);
    assert.ok(first.slice(1).every((t) => t === 'sold_out'), first.join(' '));
    assert.ok((await tags(150, 12)).every((t) => t === 'sold_out'));
    assert.ok(forwarded <= 1, `${forwarded} forwarded`);
    const stats = await e.stats();
    assert.ok(stats.sku_evictions >= 50, JSON.stringify(stats));
    assert.equal(stats.snapshot_failures, 0);
  });
});
