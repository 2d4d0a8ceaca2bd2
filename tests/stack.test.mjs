// scripts/stack brings the whole stack up on loopback in a data dir, and takes down exactly what
// it started: a reservation through the edge lands in the MariaDB history via sync, `status`
// reports each part, `down` (and Ctrl-C on the foreground form) leaves no part running.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const stack = join(repo, 'scripts/stack');
const dirs = [];

function newDir() {
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-stack-test-'));
  dirs.push(dir);
  return dir;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

after(() => {
  for (const dir of dirs) {
    spawnSync(stack, ['down', '--dir', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

// True once the order's reserve event of the SKU is in the history (sync wrote it), within 5 s.
async function synced(state, sku, ref) {
  for (let i = 0; i < 50; i++) {
    const history = await (await fetch(`${state.urls.origin}v1/stock/${sku}/history`, {
      headers: { Authorization: `Bearer ${state.tokens.admin}` },
    })).json();
    if (history.items?.some((e) => e.ref === ref && e.op === 'reserve')) return true;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return false;
}

// A write as the order service makes it: a 503 `unavailable` means the outcome is unknown (on the
// cluster, for one, no replica acknowledged the write in time on a loaded machine), so it is sent
// again with the same key until it has an answer. `retried` tells the caller that a 200 may stand
// for a first 201 whose answer was lost.
async function write(url, init) {
  for (let attempt = 0; ; attempt++) {
    const r = await fetch(url, init);
    const text = await r.text();
    if (r.status !== 503 || attempt === 9) return { status: r.status, text, retried: attempt > 0 };
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

// up, a sale through the edge recorded in the history, status, down.
test('up serves a reservation end to end, and down stops every part', async () => {
  const dir = newDir();
  const out = execFileSync(stack, ['up', '--dir', dir], { encoding: 'utf8' });
  assert.match(out, /stockgate is up/);
  const state = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8'));
  assert.deepEqual(Object.keys(state.pids).sort(),
    ['edge', 'login', 'mariadb', 'origin', 'redis', 'sync']);
  const shown = spawnSync(stack, ['status', '--dir', dir], { encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stdout);
  // The origin serves the seeds' gRPC services too, and status asks their health check.
  assert.match(shown.stdout, /^grpc +up .*127\.0\.0\.1:\d+$/m);
  // ES256 only: the verifiers get public keys, and no HS256 secret exists.
  assert.ok(!existsSync(join(dir, 'jwt-secret')));
  const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8'));
  assert.ok(jwks.keys.length === 1 && !('d' in jwks.keys[0]));
  for (const token of Object.values(state.tokens)) {
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url')).alg, 'ES256');
  }

  const seeded = await (await fetch(`${state.urls.edge}v1/stock/1001`)).json();
  assert.equal(seeded.on_hand, 100);
  const r = await fetch(`${state.urls.edge}v1/reservations`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${state.tokens.service}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ order_id: 'stack-1', items: [{ sku: 1001, qty: 1 }], customer_id: 'c1' }),
  });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('x-stockgate-edge'), 'admitted');
  // A buyer's token from the demo login reserves for that buyer; without a token the edge
  // answers itself.
  const login = await fetch(`${state.urls.login}v1/buyer-tokens`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ customers: ['c7'] }),
  });
  assert.equal(login.status, 200);
  const [buyer] = (await login.json()).tokens;
  const own = await fetch(`${state.urls.edge}v1/reservations`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${buyer}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ order_id: 'stack-2', items: [{ sku: 1002, qty: 1 }] }),
  });
  assert.equal(own.status, 201);
  assert.equal((await own.json()).customer_id, 'c7');
  const anonymous = await fetch(`${state.urls.edge}v1/reservations`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Client-Id': 'anyone' },
    body: JSON.stringify({ order_id: 'stack-3', items: [{ sku: 1002, qty: 1 }] }),
  });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('x-stockgate-edge'), 'invalid');
  assert.ok(await synced(state, 1001, 'stack-1'), 'synced');
  // The origin and sync hold their own Redis users' connections, no default-user one.
  const clients = spawnSync('redis-cli', ['-p', String(state.ports.redis), 'CLIENT', 'LIST'],
    { encoding: 'utf8' }).stdout;
  assert.match(clients, /user=stockgate-origin/);
  assert.match(clients, /user=stockgate-sync/);
  assert.equal((clients.match(/user=default/g) ?? []).length, 1, 'only redis-cli itself');
  // And to MariaDB, as their own users: sync writes the history, the origin reads it.
  const sessions = spawnSync('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P',
    String(state.ports.mariadb), '-u', 'root', '--batch', '--skip-column-names', '-e',
    'SELECT DISTINCT user FROM information_schema.processlist'], { encoding: 'utf8' }).stdout;
  assert.match(sessions, /^stockgate_sync$/m);
  assert.match(sessions, /^stockgate_origin$/m);
  // Over TLS: the migration made those users REQUIRE SSL, and the server counted the handshakes.
  const required = spawnSync('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P',
    String(state.ports.mariadb), '-u', 'root', '--batch', '--skip-column-names', '-e',
    "SELECT user, ssl_type FROM mysql.user WHERE user LIKE 'stockgate%' ORDER BY user"],
  { encoding: 'utf8' }).stdout;
  assert.equal(required, 'stockgate_origin\tANY\nstockgate_sync\tANY\n');
  // The origin and sync serve their metrics, valid by promtool's check.
  for (const [url, series] of [
    [`${state.urls.origin}metrics`, /^stockgate_store_batch_total\{what="operations"\} [1-9]/m],
    [`http://127.0.0.1:${state.ports.sync}/metrics`, /^stockgate_sync_backlog\{what="pending"\} /m],
  ]) {
    const text = await (await fetch(url)).text();
    assert.match(text, series, url);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(promtool.status, 0, `${url}: ${promtool.stdout}${promtool.stderr}`);
  }

  execFileSync(stack, ['down', '--dir', dir]);
  for (const pid of Object.values(state.pids)) assert.ok(!alive(pid), `pid ${pid} still runs`);
  assert.equal(spawnSync(stack, ['status', '--dir', dir]).status, 1);

  // Every line the origin and sync wrote in this run is one JSON object of the documented shape.
  for (const log of ['origin.log', 'sync.log']) {
    const lines = readFileSync(join(dir, log), 'utf8').split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 2, `${log}: ${lines.length} lines`);
    for (const line of lines) {
      let entry;
      assert.doesNotThrow(() => { entry = JSON.parse(line); }, `${log}: not JSON: ${line}`);
      assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `${log}: ${line}`);
      assert.equal(typeof entry.level, 'string', `${log}: ${line}`);
      assert.equal(typeof entry.log?.msg, 'string', `${log}: ${line}`);
    }
  }
});

// The foreground form stops everything on Ctrl-C (SIGINT) and exits 0.
test('Ctrl-C on the foreground form stops everything', async () => {
  const dir = newDir();
  const child = spawn(stack, ['up', '--dir', dir, '--foreground'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((ok) => child.on('exit', (code) => ok(code)));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  // `up` bounds each of its own steps; on a loaded machine they can add up to minutes. The wait
  // ends when it prints, or exits without printing (then its stderr says why).
  for (let i = 0; i < 1800 && !out.includes('stockgate is up') && child.exitCode === null; i++) {
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.match(out, /stockgate is up/, `up --foreground did not come up; its stderr:\n${err}`);
  const state = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8'));
  await new Promise((ok) => setTimeout(ok, 300));
  assert.equal(child.exitCode, null, 'the foreground form stays attached');
  assert.equal(spawnSync(stack, ['status', '--dir', dir]).status, 0);
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  for (const pid of Object.values(state.pids)) assert.ok(!alive(pid), `pid ${pid} still runs`);
});

// --cluster: Redis as a cluster of 3 masters and 3 replicas with the keyspace in 3 partitions;
// the sale (an order spanning partitions too), the history and status work the same, the origin
// waits for a replica, and down stops every node.
test('up --cluster runs the stack on a Redis Cluster', async () => {
  const dir = newDir();
  const out = execFileSync(stack, ['up', '--dir', dir, '--cluster'], { encoding: 'utf8' });
  assert.match(out, /redis cluster 127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){5}/);
  const state = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8'));
  const status = spawnSync(stack, ['status', '--dir', dir], { encoding: 'utf8' });
  assert.equal(status.status, 0, status.stdout);
  assert.match(status.stdout, /^redis +up .*cluster 127\.0\.0\.1:/m);
  const nodePids = () => Array.from({ length: 6 }, (_, i) => Number(readFileSync(
    join(dir, 'redis-cluster', `node-${i}`, 'redis.pid'), 'utf8')));
  assert.ok(nodePids().every(alive));

  // Each write is retried with its key while the answer is 503 (see write()).
  const service = { Authorization: `Bearer ${state.tokens.service}`, 'Content-Type': 'application/json' };
  const created = (r) => r.status === 201 || (r.retried && r.status === 200);
  const r = await write(`${state.urls.edge}v1/reservations`, {
    method: 'POST',
    headers: service,
    body: JSON.stringify({ order_id: 'cluster-1', items: [{ sku: 1003, qty: 2 }], customer_id: 'c1' }),
  });
  assert.ok(created(r), `${r.status} ${r.text}`);
  assert.ok(await synced(state, 1003, 'cluster-1'), 'synced');
  // SKUs 1003 and 1004 lie in partitions 1 and 2: one order, two parts, sold as one.
  const spanning = await write(`${state.urls.edge}v1/reservations`, {
    method: 'POST',
    headers: service,
    body: JSON.stringify({ order_id: 'cluster-2', items: [{ sku: 1003, qty: 1 }, { sku: 1004, qty: 1 }],
      customer_id: 'c2' }),
  });
  assert.ok(created(spanning), `${spanning.status} ${spanning.text}`);
  const confirmed = await write(`${state.urls.edge}v1/reservations/cluster-2/confirm`,
    { method: 'POST', headers: service, body: '{}' });
  assert.equal(confirmed.status, 200, confirmed.text);
  assert.equal(JSON.parse(confirmed.text).status, 'confirmed');
  assert.ok(await synced(state, 1003, 'cluster-2'), 'synced in partition 1');
  assert.ok(await synced(state, 1004, 'cluster-2'), 'synced in partition 2');
  const started = readFileSync(join(dir, 'origin.log'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l)).find((e) => e.log.msg === 'listening');
  assert.equal(started.log.replica_acks, 1, 'writes wait for a replica');
  assert.equal(started.log.partitions, 3, 'a partition per master');
  assert.match(started.log.redis, /^cluster /);

  const nodes = nodePids();
  execFileSync(stack, ['down', '--dir', dir]);
  for (const pid of [...Object.values(state.pids), ...nodes]) {
    assert.ok(!alive(pid), `pid ${pid} still runs`);
  }
});
