// The seeds' gRPC services with a client no one here wrote: npm's @grpc/grpc-js, loading the
// repo's .proto files with @grpc/proto-loader, against a real origin (grpc_listen), Redis,
// MariaDB and sync, all started here on free loopback ports. Every method of both services, bad
// input (nothing changes), the role matrix with forged and expired tokens, idempotent retries, a
// concurrent lock race on one SKU that sells exactly its stock, per-client rate limits, history
// after sync, grpc.health.v1.Health and server reflection, and Redis killed: UNAVAILABLE fast and
// the health check NOT_SERVING.
//
// Needs the origin and sync binaries (STOCKGATE_ORIGIN_BIN, STOCKGATE_SYNC_BIN; default
// build/native), mariadb-server and redis-server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cleanups, freePort, logTail, onExit, repoRoot, run, sleep, startMariadb, startOrigin,
} from '../bench/harness.mjs';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const originBin = resolve(repoRoot, process.env.STOCKGATE_ORIGIN_BIN ?? 'build/native/origin/stockgate-origin');
const syncBin = resolve(repoRoot, process.env.STOCKGATE_SYNC_BIN ?? 'build/native/sync/stockgate-sync');
const PROTO_ROOT = join(repoRoot, 'origin/grpc/proto');
const HEALTH_PROTO = join(repoRoot, 'node_modules/grpc-health-check/proto/health/v1/health.proto');
const REFLECTION_PROTO =
  join(repoRoot, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto');
const SKU = 7;

const load = (file, includeDirs = [PROTO_ROOT]) => grpc.loadPackageDefinition(protoLoader.loadSync(file, {
  keepCase: true, longs: Number, enums: String, defaults: true, includeDirs,
}));
const seed000 = load('inventory/inventory.proto').inventory;
const seed004 = load('inventory/v1/inventory.proto').inventory.v1;
const health = load(HEALTH_PROTO, []).grpc.health.v1;
const reflection = load(REFLECTION_PROTO, []).grpc.reflection.v1alpha;

let root;
let maria;
let origin;
let grpcPort;
let v0;
let v1;
let sync;

function bearer(token) {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return md;
}

// One unary call: resolves { value } or { error } (a grpc status), never throws.
function call(client, method, request, token, { deadlineMs = 5000, metadata } = {}) {
  const md = metadata ?? bearer(token);
  return new Promise((ok) => {
    client[method](request, md, { deadline: Date.now() + deadlineMs }, (error, value) =>
      ok(error ? { error } : { value }));
  });
}

async function expectOk(client, method, request, token, options) {
  const r = await call(client, method, request, token, options);
  assert.ok(!r.error, `${method}: ${r.error?.code} ${r.error?.details}`);
  return r.value;
}

async function expectCode(client, method, request, token, code) {
  const r = await call(client, method, request, token);
  assert.ok(r.error, `${method} succeeded: ${JSON.stringify(r.value)}`);
  assert.equal(r.error.code, code, `${method}: ${r.error.code} ${r.error.details}`);
  return r.error;
}

const stockOf = async (sku) => (await expectOk(v1, 'GetStock', { book_id: sku }, origin.serviceToken));

function startSync(database) {
  const logPath = join(root, 'sync.log');
  const fd = openSync(logPath, 'a');
  const child = spawn(syncBin, [
    '--redis', `127.0.0.1:${origin.redis.port}`,
    '--mysql', `mysql://root@127.0.0.1:${maria.port}/${database}`,
    '--stats-interval-ms', '3600000',
  ], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = onExit(() => child.kill('SIGKILL'));
  return { child, logPath, stop };
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'stockgate-grpc-'));
  maria = await startMariadb(root);
  grpcPort = await freePort();
  origin = await startOrigin(root, 'origin', {
    binary: originBin, sku: SKU, stock: 100,
    env: {
      STOCKGATE_GRPC_LISTEN: `127.0.0.1:${grpcPort}`,
      STOCKGATE_MYSQL: `mysql://root@127.0.0.1:${maria.port}/grpc`,
    },
  });
  sync = startSync('grpc');
  const address = `127.0.0.1:${grpcPort}`;
  v0 = new seed000.InventoryService(address, grpc.credentials.createInsecure());
  v1 = new seed004.InventoryService(address, grpc.credentials.createInsecure());
});

after(() => {
  v0?.close();
  v1?.close();
  for (const c of cleanups.splice(0).reverse()) c();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('seed 000: inventory.InventoryService', () => {
  test('SetInventory, GetInventory, BatchGetInventory, AddInventory, ReduceInventory', async () => {
    const set = await expectOk(v0, 'SetInventory', { product_id: 11, stock: 40, operator: 'ops' }, origin.adminToken);
    assert.deepEqual([set.product_id, set.stock, set.locked, set.available], [11, 40, 0, 40]);
    assert.ok(set.updated_at.seconds > 0);
    const got = await expectOk(v0, 'GetInventory', { product_id: 11 }, origin.serviceToken);
    assert.equal(got.available, 40);
    // Unknown SKUs are left out of a batch.
    const batch = await expectOk(v0, 'BatchGetInventory', { product_ids: [11, SKU, 999] }, origin.serviceToken);
    assert.deepEqual(batch.inventories.map((i) => i.product_id).sort((a, b) => a - b), [SKU, 11]);
    const added = await expectOk(v0, 'AddInventory', { product_id: 11, quantity: 10, operator: 'ops', remark: 'truck' }, origin.adminToken);
    assert.equal(added.stock, 50);
    const reduced = await expectOk(v0, 'ReduceInventory', { product_id: 11, quantity: 5 }, origin.adminToken);
    assert.equal(reduced.stock, 45);
    // With an idempotency-key, a retried add adds once.
    const md = bearer(origin.adminToken);
    md.set('idempotency-key', 'truck-7');
    await expectOk(v0, 'AddInventory', { product_id: 11, quantity: 5 }, null, { metadata: md });
    const again = await expectOk(v0, 'AddInventory', { product_id: 11, quantity: 5 }, null, { metadata: md });
    assert.equal(again.stock, 50);
    await expectCode(v0, 'GetInventory', { product_id: 999 }, origin.serviceToken, grpc.status.NOT_FOUND);
  });

  test('LockInventory is all-or-nothing with fail_items; unlock and confirm', async () => {
    await expectOk(v0, 'SetInventory', { product_id: 12, stock: 3 }, origin.adminToken);
    const items = [{ product_id: 12, quantity: 2 }, { product_id: 11, quantity: 1 }];
    const locked = await expectOk(v0, 'LockInventory', { lock_key: 'g-lock-1', items, timeout_seconds: 600 }, origin.serviceToken);
    assert.equal(locked.success, true);
    const replay = await expectOk(v0, 'LockInventory', { lock_key: 'g-lock-1', items, timeout_seconds: 600 }, origin.serviceToken);
    assert.equal(replay.success, true);
    assert.match(replay.message, /already/);
    // The same key with other items: ALREADY_EXISTS, nothing changes.
    await expectCode(v0, 'LockInventory', { lock_key: 'g-lock-1', items: [{ product_id: 12, quantity: 1 }] }, origin.serviceToken, grpc.status.ALREADY_EXISTS);
    const short = await expectOk(v0, 'LockInventory', {
      lock_key: 'g-lock-2', items: [{ product_id: 11, quantity: 1 }, { product_id: 12, quantity: 2 }],
    }, origin.serviceToken);
    assert.equal(short.success, false);
    assert.deepEqual(short.fail_items.map((f) => [f.product_id, f.quantity, f.available]), [[12, 2, 1]]);
    // Errors carry the API's JSON body in the trailer stockgate-error-bin; the standard details
    // header, which clients decode as google.rpc.Status, is not used.
    const refusedSale = await expectCode(v0, 'Sell', { order_sn: 'g-sell-short', goods_info: [{ goods_id: 12, num: 5 }] }, origin.serviceToken, grpc.status.FAILED_PRECONDITION);
    const body = JSON.parse(refusedSale.metadata.get('stockgate-error-bin')[0].toString());
    assert.equal(body.error.code, 'insufficient_stock');
    assert.deepEqual(body.error.fail_items, [{ sku: 12, requested: 5, available: 1 }]);
    assert.deepEqual(refusedSale.metadata.get('grpc-status-details-bin'), []);
    const s12 = await expectOk(v0, 'GetInventory', { product_id: 12 }, origin.serviceToken);
    assert.deepEqual([s12.stock, s12.locked, s12.available], [3, 2, 1]);

    await expectOk(v0, 'UnlockInventory', { lock_key: 'g-lock-1' }, origin.serviceToken);
    await expectOk(v0, 'UnlockInventory', { lock_key: 'g-lock-1' }, origin.serviceToken);  // a retry
    assert.equal((await expectOk(v0, 'GetInventory', { product_id: 12 }, origin.serviceToken)).locked, 0);
    await expectCode(v0, 'ConfirmInventoryReduce', { lock_key: 'g-lock-1' }, origin.serviceToken, grpc.status.FAILED_PRECONDITION);
    await expectCode(v0, 'UnlockInventory', { lock_key: 'no-such-lock' }, origin.serviceToken, grpc.status.NOT_FOUND);

    await expectOk(v0, 'LockInventory', { lock_key: 'g-lock-3', items: [{ product_id: 12, quantity: 3 }] }, origin.serviceToken);
    await expectOk(v0, 'ConfirmInventoryReduce', { lock_key: 'g-lock-3' }, origin.serviceToken);
    const sold = await expectOk(v0, 'GetInventory', { product_id: 12 }, origin.serviceToken);
    assert.deepEqual([sold.stock, sold.locked, sold.available], [0, 0, 0]);
  });

  test('SetInv, InvDetail, Sell, Reback (section 3)', async () => {
    await expectOk(v0, 'SetInv', { goods_id: 13, num: 10 }, origin.adminToken);
    assert.deepEqual(await expectOk(v0, 'InvDetail', { goods_id: 13 }, origin.serviceToken), { goods_id: 13, num: 10 });
    const order = { order_sn: 'sn-1', goods_info: [{ goods_id: 13, num: 4 }] };
    await expectOk(v0, 'Sell', order, origin.serviceToken);
    await expectOk(v0, 'Sell', order, origin.serviceToken);  // a retry sells once
    assert.equal((await expectOk(v0, 'InvDetail', { goods_id: 13 }, origin.serviceToken)).num, 6);
    await expectCode(v0, 'Sell', { order_sn: 'sn-2', goods_info: [{ goods_id: 13, num: 7 }] }, origin.serviceToken, grpc.status.FAILED_PRECONDITION);
    // Reback names the order's goods; other goods are refused, changing nothing.
    await expectCode(v0, 'Reback', { order_sn: 'sn-1', goods_info: [{ goods_id: 13, num: 1 }] }, origin.serviceToken, grpc.status.INVALID_ARGUMENT);
    await expectOk(v0, 'Reback', order, origin.serviceToken);
    await expectOk(v0, 'Reback', order, origin.serviceToken);  // a retry gives back once
    assert.equal((await expectOk(v0, 'InvDetail', { goods_id: 13 }, origin.serviceToken)).num, 10);
  });
});

describe('seed 004: inventory.v1.InventoryService', () => {
  test('RestockInventory, GetStock, BatchGetStock, DeductStock, ReleaseStock as its grpcurl examples', async () => {
    await expectOk(v0, 'SetInventory', { product_id: 21, stock: 0 }, origin.adminToken);
    const restocked = await expectOk(v1, 'RestockInventory', { book_id: 21, quantity: 100 }, origin.adminToken);
    assert.deepEqual([restocked.message, restocked.current_stock], ['restocked', 100]);
    const first = await expectOk(v1, 'DeductStock', { book_id: 21, quantity: 5, order_id: 1001 }, origin.serviceToken);
    assert.equal(first.remaining_stock, 95);
    const retry = await expectOk(v1, 'DeductStock', { book_id: 21, quantity: 5, order_id: 1001 }, origin.serviceToken);
    assert.equal(retry.remaining_stock, 95);
    assert.notEqual(retry.message, first.message);
    await expectCode(v1, 'DeductStock', { book_id: 21, quantity: 200, order_id: 1002 }, origin.serviceToken, grpc.status.FAILED_PRECONDITION);
    const stock = await expectOk(v1, 'GetStock', { book_id: 21 }, origin.serviceToken);
    assert.deepEqual([stock.book_id, stock.stock, stock.locked_stock, stock.total_stock], [21, 95, 0, 95]);
    const released = await expectOk(v1, 'ReleaseStock', { book_id: 21, quantity: 5, order_id: 1001 }, origin.serviceToken);
    assert.equal(released.current_stock, 100);
    const again = await expectOk(v1, 'ReleaseStock', { book_id: 21, quantity: 5, order_id: 1001 }, origin.serviceToken);
    assert.equal(again.current_stock, 100);
    // An order of two books is two deductions with the same order_id, as in the seed (its key is
    // the book and the order): both sell, and each is released on its own.
    await expectOk(v0, 'SetInventory', { product_id: 24, stock: 10 }, origin.adminToken);
    await expectOk(v1, 'DeductStock', { book_id: 21, quantity: 2, order_id: 7001 }, origin.serviceToken);
    const second = await expectOk(v1, 'DeductStock', { book_id: 24, quantity: 3, order_id: 7001 }, origin.serviceToken);
    assert.equal(second.remaining_stock, 7);
    assert.equal((await expectOk(v1, 'ReleaseStock', { book_id: 24, quantity: 3, order_id: 7001 }, origin.serviceToken)).current_stock, 10);
    assert.equal((await stockOf(21)).stock, 98);
    await expectOk(v1, 'ReleaseStock', { book_id: 21, quantity: 2, order_id: 7001 }, origin.serviceToken);
    const batch = await expectOk(v1, 'BatchGetStock', { book_ids: [21, SKU] }, origin.serviceToken);
    assert.equal(batch.stocks.length, 2);
    await expectCode(v1, 'ReleaseStock', { book_id: 21, quantity: 5, order_id: 4040 }, origin.serviceToken, grpc.status.NOT_FOUND);
  });

  test('concurrent deductions of one SKU sell exactly its stock', async () => {
    await expectOk(v0, 'SetInventory', { product_id: 22, stock: 20 }, origin.adminToken);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      call(v1, 'DeductStock', { book_id: 22, quantity: 1, order_id: 50_000 + i }, origin.serviceToken)));
    const ok = results.filter((r) => !r.error).length;
    const refused = results.filter((r) => r.error?.code === grpc.status.FAILED_PRECONDITION).length;
    assert.equal(ok, 20);
    assert.equal(refused, 80);
    const s = await stockOf(22);
    assert.deepEqual([s.stock, s.total_stock], [0, 0]);
    // The same race through LockInventory: exactly the stock is held.
    await expectOk(v0, 'SetInventory', { product_id: 23, stock: 15 }, origin.adminToken);
    const locks = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      call(v0, 'LockInventory', { lock_key: `race-${i}`, items: [{ product_id: 23, quantity: 1 }] }, origin.serviceToken)));
    assert.equal(locks.filter((r) => r.value?.success).length, 15);
    assert.equal(locks.filter((r) => r.value && !r.value.success).length, 45);
    assert.equal((await stockOf(23)).locked_stock, 15);
  });
});

describe('bad input and credentials', () => {
  test('bad input is INVALID_ARGUMENT and changes nothing', async () => {
    const before = await stockOf(SKU);
    const bad = [
      [v0, 'LockInventory', { lock_key: '', items: [{ product_id: SKU, quantity: 1 }] }],
      [v0, 'LockInventory', { lock_key: 'bad key!', items: [{ product_id: SKU, quantity: 1 }] }],
      [v0, 'LockInventory', { lock_key: 'b-1', items: [] }],
      [v0, 'LockInventory', { lock_key: 'b-1', items: [{ product_id: SKU, quantity: 0 }] }],
      [v0, 'LockInventory', { lock_key: 'b-1', items: [{ product_id: SKU, quantity: -1 }] }],
      [v0, 'LockInventory', { lock_key: 'b-1', items: [{ product_id: 0, quantity: 1 }] }],
      [v0, 'LockInventory', { lock_key: 'b-1', items: [{ product_id: SKU, quantity: 1 }, { product_id: SKU, quantity: 1 }] }],
      [v0, 'LockInventory', { lock_key: 'b-1', items: [{ product_id: SKU, quantity: 1 }], timeout_seconds: 86_401 }],
      [v0, 'AddInventory', { product_id: SKU, quantity: -5 }],
      [v0, 'SetInventory', { product_id: SKU, stock: -1 }],
      [v0, 'GetInventory', { product_id: -3 }],
      [v0, 'BatchGetInventory', { product_ids: [] }],
      [v0, 'GetInventoryHistory', { product_id: SKU, page_size: 5000 }],
      [v1, 'DeductStock', { book_id: SKU, quantity: 1, order_id: 0 }],
      [v1, 'RestockInventory', { book_id: SKU, quantity: -1 }],
      [v1, 'GetStock', { book_id: '18446744073709551615' }],
    ];
    for (const [client, method, request] of bad) {
      await expectCode(client, method, request, origin.adminToken, grpc.status.INVALID_ARGUMENT);
    }
    // A message over the API's 64 KiB body limit is refused unread.
    await expectCode(v0, 'LockInventory', { lock_key: 'x'.repeat(70_000), items: [] }, origin.serviceToken, grpc.status.RESOURCE_EXHAUSTED);
    assert.deepEqual(await stockOf(SKU), before);
  });

  test('roles, forged and expired tokens', async () => {
    const lock = { lock_key: 'auth-1', items: [{ product_id: SKU, quantity: 1 }] };
    await expectCode(v0, 'LockInventory', lock, null, grpc.status.UNAUTHENTICATED);
    const forged = run(originBin, ['token', '--role', 'service', '--sub', 'x', '--ttl', '60'],
      { env: { STOCKGATE_JWT_SECRET: 'f'.repeat(64) } }).stdout.trim();
    await expectCode(v0, 'LockInventory', lock, forged, grpc.status.UNAUTHENTICATED);
    // Signed with the origin's own secret, expired a minute ago.
    const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({
      sub: 'orders', role: 'service', exp: Math.floor(Date.now() / 1000) - 60 })}`;
    const expired = `${unsigned}.${createHmac('sha256', origin.secret).update(unsigned).digest('base64url')}`;
    await expectCode(v0, 'LockInventory', lock, expired, grpc.status.UNAUTHENTICATED);
    await expectCode(v0, 'LockInventory', lock, origin.token('viewer'), grpc.status.PERMISSION_DENIED);
    await expectCode(v0, 'SetInventory', { product_id: SKU, stock: 1 }, origin.serviceToken, grpc.status.PERMISSION_DENIED);
    await expectCode(v1, 'RestockInventory', { book_id: SKU, quantity: 1 }, origin.serviceToken, grpc.status.PERMISSION_DENIED);
    await expectCode(v0, 'GetInventoryHistory', { product_id: SKU }, origin.token('buyer', 'c1'), grpc.status.PERMISSION_DENIED);
    // A buyer may not confirm; stock reads are public.
    await expectCode(v0, 'ConfirmInventoryReduce', { lock_key: 'g-lock-3' }, origin.token('buyer', 'c1'), grpc.status.PERMISSION_DENIED);
    assert.equal((await expectOk(v1, 'GetStock', { book_id: SKU }, null)).book_id, SKU);
    assert.equal((await stockOf(SKU)).locked_stock, 0);
  });
});

describe('history, health and reflection', () => {
  test('GetInventoryHistory and GetInventoryLogs page what sync wrote', async () => {
    await expectOk(v0, 'SetInventory', { product_id: 31, stock: 10 }, origin.adminToken);
    await expectOk(v1, 'DeductStock', { book_id: 31, quantity: 2, order_id: 3001 }, origin.serviceToken);
    await expectOk(v1, 'RestockInventory', { book_id: 31, quantity: 5 }, origin.adminToken);
    const viewer = origin.token('viewer');
    let history;
    for (const deadline = Date.now() + 20_000; ;) {
      const r = await call(v0, 'GetInventoryHistory', { product_id: 31, page: 1, page_size: 10 }, viewer);
      if (!r.error && r.value.total >= 4) { history = r.value; break; }
      if (Date.now() > deadline) assert.fail(`history not synced: ${JSON.stringify(r)}\n${logTail(sync.logPath)}`);
      await sleep(200);
    }
    // Newest first: restock, deduct (lock + confirm), set.
    assert.equal(history.total, 4);
    assert.deepEqual(history.history.map((h) => h.operation_type), ['ADD', 'CONFIRM', 'LOCK', 'SET']);
    assert.ok(history.history.every((h) => h.product_id === 31 && h.created_at.seconds > 0));
    const page2 = await expectOk(v0, 'GetInventoryHistory', { product_id: 31, page: 2, page_size: 3 }, viewer);
    assert.deepEqual(page2.history.map((h) => h.operation_type), ['SET']);
    const future = { seconds: Math.floor(Date.now() / 1000) + 3600, nanos: 0 };
    const none = await expectOk(v0, 'GetInventoryHistory', { product_id: 31, start_time: future }, viewer);
    assert.equal(none.history.length, 0);
    const logs = await expectOk(v1, 'GetInventoryLogs', { book_id: 31 }, viewer);
    assert.deepEqual(logs.logs.map((l) => l.change_type), ['restock', 'deduct', 'lock', 'set']);
    assert.equal(logs.logs[1].order_id, 3001);
  });

  test('health and reflection, as generic tools use them', async () => {
    const checker = new health.Health(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    for (const service of ['', 'inventory.InventoryService', 'inventory.v1.InventoryService']) {
      const r = await new Promise((ok) => checker.Check({ service }, (e, v) => ok(e ?? v)));
      assert.equal(r.status, 'SERVING', `${service}: ${JSON.stringify(r)}`);
    }
    checker.close();
    const client = new reflection.ServerReflection(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const stream = client.ServerReflectionInfo();
    const answer = new Promise((ok, fail) => { stream.on('data', ok); stream.on('error', fail); });
    stream.write({ list_services: '' });
    const services = (await answer).list_services_response.service.map((s) => s.name);
    stream.end();
    client.close();
    for (const name of ['inventory.InventoryService', 'inventory.v1.InventoryService', 'grpc.health.v1.Health']) {
      assert.ok(services.includes(name), `${name} not in ${services}`);
    }
  });

  test('per-client rate limits: RESOURCE_EXHAUSTED', async () => {
    const limitedPort = await freePort();
    const limited = await startOrigin(root, 'limited', {
      binary: originBin, sku: SKU, stock: 10,
      env: {
        STOCKGATE_GRPC_LISTEN: `127.0.0.1:${limitedPort}`,
        STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND: '0.5', STOCKGATE_RATE_LIMITS_READS_BURST: '5',
      },
    });
    const c = new seed004.InventoryService(`127.0.0.1:${limitedPort}`, grpc.credentials.createInsecure());
    const md = () => { const m = new grpc.Metadata(); return m; };
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await call(c, 'GetStock', { book_id: SKU }, null, { metadata: md() }));
    assert.equal(results.filter((r) => !r.error).length, 5);
    assert.ok(results.slice(5).every((r) => r.error?.code === grpc.status.RESOURCE_EXHAUSTED));
    // A deduction's follow-up stock read is not charged again: sales keep answering OK with the
    // stock left while the reads bucket is empty.
    for (let i = 0; i < 8; i++) {
      const sale = await expectOk(c, 'DeductStock', { book_id: SKU, quantity: 1, order_id: 900 + i }, limited.serviceToken);
      assert.equal(sale.remaining_stock, 9 - i);
    }
    // Another client keeps its own budget.
    assert.ok(!(await call(c, 'GetStock', { book_id: SKU }, limited.token('viewer', 'someone-else'))).error);
    c.close();
    limited.stop();
  });
});

describe('the grpcio example of docs/api.md', () => {
  test('runs as written with Debian\'s python3-grpcio and python3-grpc-tools', async () => {
    const docs = readFileSync(join(repoRoot, 'docs/api.md'), 'utf8');
    const example = /^```python\n([\s\S]*?)^```$/m.exec(docs)?.[1];
    assert.ok(example, 'no python example in docs/api.md');
    const dir = join(root, 'python');
    run('mkdir', ['-p', dir]);
    // The example's comment shows how to compile the protos; run that command.
    const protos = ['inventory/inventory.proto', 'inventory/v1/inventory.proto'];
    const shown = example.split('\n').filter((l) => l.startsWith('#'))
      .map((l) => l.replace(/^#\s*/, '').replace(/\\$/, '')).join(' ').replace(/\s+/g, ' ');
    assert.ok(shown.includes('python3 -m grpc_tools.protoc -I origin/grpc/proto --python_out=. ' +
      `--grpc_python_out=. ${protos.join(' ')}`), shown);
    run('/usr/bin/python3', ['-m', 'grpc_tools.protoc', '-I', PROTO_ROOT, `--python_out=${dir}`,
      `--grpc_python_out=${dir}`, ...protos]);
    await expectOk(v0, 'SetInventory', { product_id: SKU, stock: 100 }, origin.adminToken);
    const before = await expectOk(v0, 'GetInventory', { product_id: SKU }, origin.serviceToken);
    const script = `import os, sys\nsys.path.insert(0, ${JSON.stringify(dir)})\n` +
      `SERVICE_TOKEN = os.environ["SERVICE_TOKEN"]\n` +
      example.replaceAll('127.0.0.1:9090', `127.0.0.1:${grpcPort}`);
    const r = run('/usr/bin/python3', ['-c', script], { env: { SERVICE_TOKEN: origin.serviceToken } });
    assert.equal(r.stdout.trim(), '');
    // It locked one unit and confirmed it: sold.
    const after = await expectOk(v0, 'GetInventory', { product_id: SKU }, origin.serviceToken);
    assert.deepEqual([after.stock, after.locked], [before.stock - 1, 0]);
  });
});

describe('TLS', () => {
  test('with the HTTP listener\'s certificate: TLS clients are served, plaintext ones are not', async () => {
    const dir = join(root, 'tls');
    run('mkdir', ['-p', dir]);
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const [httpPort, tlsPort] = [await freePort(), await freePort()];
    const logPath = join(root, 'origin-tls.log');
    const fd = openSync(logPath, 'a');
    const child = spawn(originBin, [], {
      env: {
        PATH: process.env.PATH,
        STOCKGATE_JWT_SECRET: origin.secret,
        STOCKGATE_REDIS: `127.0.0.1:${origin.redis.port}`,
        STOCKGATE_LISTEN: `127.0.0.1:${httpPort}`,
        STOCKGATE_GRPC_LISTEN: `127.0.0.1:${tlsPort}`,
        STOCKGATE_TLS_CERT_FILE: join(dir, 'cert.pem'),
        STOCKGATE_TLS_KEY_FILE: join(dir, 'key.pem'),
      },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const stop = onExit(() => child.kill('SIGKILL'));
    try {
      const ca = readFileSync(join(dir, 'cert.pem'));
      const secure = new seed004.InventoryService(`127.0.0.1:${tlsPort}`, grpc.credentials.createSsl(ca));
      let answer;
      for (const deadline = Date.now() + 10_000; ;) {
        answer = await call(secure, 'GetStock', { book_id: SKU }, null, { deadlineMs: 1000 });
        if (!answer.error || Date.now() > deadline) break;
        await sleep(100);
      }
      assert.ok(!answer.error, `${answer.error?.details}\n${logTail(logPath)}`);
      assert.equal(answer.value.book_id, SKU);
      secure.close();
      const plain = new seed004.InventoryService(`127.0.0.1:${tlsPort}`, grpc.credentials.createInsecure());
      const refused = await call(plain, 'GetStock', { book_id: SKU }, null, { deadlineMs: 2000 });
      assert.ok(refused.error, 'a plaintext client was answered');
      plain.close();
    } finally {
      stop();
    }
  });
});

describe('dependency loss', () => {
  test('Redis paused: calls end at their deadline, and the server keeps answering', async () => {
    process.kill(origin.redis.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const calls = Array.from({ length: 64 }, (_, i) => call(v0, 'LockInventory',
        { lock_key: `paused-${i}`, items: [{ product_id: SKU, quantity: 1 }] }, origin.serviceToken,
        { deadlineMs: 300 }));
      // Meanwhile the health service answers at once (no thread is held by the calls).
      const checker = new health.Health(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
      const checked = await new Promise((ok) => checker.Check({ service: '' },
        { deadline: Date.now() + 1000 }, (e, v) => ok(e ?? v)));
      checker.close();
      assert.ok(checked.status !== undefined, `health did not answer: ${checked.details}`);
      const results = await Promise.all(calls);
      assert.ok(results.every((r) => r.error?.code === grpc.status.DEADLINE_EXCEEDED),
        JSON.stringify(results.map((r) => r.error?.code ?? 'ok')));
      assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
    } finally {
      process.kill(origin.redis.pid, 'SIGCONT');
    }
    // Once Redis is back, calls succeed again.
    for (const deadline = Date.now() + 5000; ;) {
      const r = await call(v1, 'GetStock', { book_id: SKU }, origin.serviceToken);
      if (!r.error) break;
      if (Date.now() > deadline) assert.fail(`no answer after Redis resumed: ${r.error.details}`);
      await sleep(100);
    }
  });

  test('Redis killed: UNAVAILABLE fast, health NOT_SERVING', async () => {
    origin.redis.stop();
    const started = Date.now();
    const e = await expectCode(v0, 'LockInventory', { lock_key: 'down-1', items: [{ product_id: SKU, quantity: 1 }] }, origin.serviceToken, grpc.status.UNAVAILABLE);
    assert.ok(Date.now() - started < 2000, `UNAVAILABLE after ${Date.now() - started} ms`);
    assert.ok(e.details.length > 0);
    const checker = new health.Health(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    let status;
    for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
      status = await new Promise((ok) => checker.Check({ service: 'inventory.v1.InventoryService' }, (er, v) => ok(er ?? v)));
      if (status.status === 'NOT_SERVING') break;
      await sleep(100);
    }
    checker.close();
    assert.equal(status.status, 'NOT_SERVING');
  });
});
