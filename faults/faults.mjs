// Fault injection under a running flash sale. For each scenario a fresh stack comes up on free
// loopback ports (Redis with AOF `appendfsync always`, MariaDB, stockgate-sync, the origin, the
// edge in workerd); a crowd of clients buys through the edge, retrying a failed call with the same
// idempotency key as a real order service would; one part is killed, paused or stopped and brought
// back while the sale goes on; then the sale stops, sync drains, and the run audits:
//
//   - every reservation a client got a 2xx for exists in Redis in the state the client was told,
//     and in the MariaDB history (its ledger events and its reservation row);
//   - no ledger event is in the history twice;
//   - no SKU is oversold: on_hand + sold equals the starting stock, 0 <= reserved <= on_hand,
//     reserved equals the live holds, and sold lies between what clients were told was sold and
//     that plus the calls whose answer they never got;
//   - `stockgate-sync check` finds no drift.
//
// It prints a table (fault, requests, acknowledged, lost, oversold, duplicates, recovery) and
// exits 1 if any scenario lost, oversold or duplicated anything or failed its checks.
//
//   faults/run [--short] [--scenarios a,b] [--report docs/reliability.md] [--workers N]
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import {
  freePort, freePortRange, logTail, onExit, parseOptions, repoRoot, run, sleep, startWorkerd, versionOf,
  writeMarkedSection,
} from '../bench/harness.mjs';

const execFileAsync = promisify(execFile);
const BIN = {
  origin: join(repoRoot, 'build/native/origin/stockgate-origin'),
  sync: join(repoRoot, 'build/native/sync/stockgate-sync'),
};
// Three SKUs that sell all through the run, and one that sells out early: oversell would show
// at its boundary.
const STOCK = { 11: 1_000_000, 12: 1_000_000, 13: 1_000_000, 14: 400 };
const SKUS = Object.keys(STOCK).map(Number);
const CLUSTER_NODES = 6;
const CLUSTER_NODE_TIMEOUT_MS = 1000;
// On the cluster the keyspace has a partition per master (as `scripts/stack up --cluster` runs
// it): SKU S in partition S mod 3 (origin/store/keyspace.h), so the holds of SKUs 11 and 12 span
// two partitions. One Redis has one partition.
const CLUSTER_PARTITIONS = 3;
const partitionPrefix = (k) => `sg:{p${k}}`; // the prefix of every key of partition k

// --- the stack, with every part restartable ---------------------------------------------------

// A process started by one of the repository's start scripts (daemonized; prints its pid).
class ScriptServer {
  constructor(script, port, dir) {
    Object.assign(this, { script, port, dir, pid: 0 });
  }

  // Asynchronous: the crowd keeps buying while a server starts (MariaDB's crash recovery takes
  // seconds).
  async start() {
    const { stdout } = await execFileAsync(join(repoRoot, 'scripts', this.script),
      [String(this.port), this.dir]);
    this.pid = Number(stdout.trim().split('\n').at(-1));
    const pid = this.pid;
    onExit(() => signal(pid, 'SIGKILL'));
  }

  signal(sig) {
    signal(this.pid, sig);
  }
}

// A Redis Cluster of 3 masters and 3 replicas (scripts/cluster-start, AOF always, a 1 s node
// timeout), each node restartable; the store's keys all live in one slot (the partition's).
class ClusterServers {
  constructor(port, dir) {
    Object.assign(this, { port, dir, seeds: '' });
    this.ports = Array.from({ length: CLUSTER_NODES }, (_, i) => port + i);
  }

  // Starts the nodes that are down (all at first) and waits until the cluster is whole.
  async start() {
    const { stdout } = await execFileAsync(join(repoRoot, 'scripts/cluster-start'),
      [String(this.port), this.dir, '--node-timeout-ms', String(CLUSTER_NODE_TIMEOUT_MS)]);
    this.seeds = stdout.trim().split('\n').at(-1);
    for (const port of this.ports) {
      const pid = this.pidOf(port);
      onExit(() => signal(pid, 'SIGKILL'));
    }
  }

  pidOf(port) {
    return Number(readFileSync(join(this.dir, `node-${port - this.port}`, 'redis.pid'), 'utf8'));
  }

  // A node that answers, for redis-cli -c.
  live() {
    return this.ports.find((p) => run('redis-cli', ['-p', String(p), 'PING'], { allowFail: true })
      .stdout.trim() === 'PONG');
  }

  // CLUSTER NODES as a node that answers sees it: [{id, port, flags, master, slots: [[a, b]]}].
  nodes(asked = this.live()) {
    const out = run('redis-cli', ['-p', String(asked), 'CLUSTER', 'NODES'], { allowFail: true }).stdout;
    return out.trim().split('\n').filter(Boolean).map((line) => {
      const [id, addr, flags, master, , , , , ...ranges] = line.split(' ');
      return { id, port: Number(addr.split('@')[0].split(':')[1]), flags, master,
        slots: ranges.filter((r) => !r.startsWith('[')).map((r) => r.split('-').map(Number)) };
    });
  }

  // The port of the master serving `slot`, as every live node agrees, else 0.
  masterOf(slot) {
    const seen = new Set();
    for (const p of this.ports) {
      if (!alive(this.pidOf(p))) continue;
      const m = this.nodes(p).find((n) => n.flags.includes('master') && !n.flags.includes('fail') &&
        n.slots.some(([a, b = a]) => slot >= a && slot <= b));
      seen.add(m ? m.port : 0);
    }
    return seen.size === 1 ? [...seen][0] : 0;
  }

  replicaOf(masterPort) {
    const nodes = this.nodes();
    const master = nodes.find((n) => n.port === masterPort);
    return nodes.find((n) => n.master === master.id)?.port ?? 0;
  }

  signal(port, sig) {
    signal(this.pidOf(port), sig);
  }

  async stop() {
    for (const port of this.ports) {
      signal(this.pidOf(port), 'SIGCONT');
      signal(this.pidOf(port), 'SIGKILL');
    }
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

// False for a process that has exited, zombies included (a daemon's parent is gone, and
// whoever inherits it may be slow to reap).
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

async function gone(pid) {
  while (alive(pid)) await sleep(20);
}

// A binary we spawn ourselves, its output appended to a log.
class Child {
  constructor(name, cmd, args, env, logPath) {
    Object.assign(this, { name, cmd, args, env, logPath, child: null });
  }

  start() {
    const fd = openSync(this.logPath, 'a');
    this.child = spawn(this.cmd, this.args, { env: { ...process.env, ...this.env },
      stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const c = this.child;
    onExit(() => c.kill('SIGKILL'));
  }

  get pid() {
    return this.child.pid;
  }

  async kill() {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((ok) => c.once('exit', ok));
    c.kill('SIGKILL');
    await exited;
  }
}

async function until(what, check, timeoutMs = 20_000) {
  for (const deadline = Date.now() + timeoutMs; ;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready in ${timeoutMs} ms`);
    await sleep(50);
  }
}

const ok = async (url) => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;

// The audit's requests to the origin, tried once more when the connection fails: a pooled
// keep-alive connection the origin closes as idle just as it is reused fails that way. An origin
// that is down fails both tries, and the audit with it.
async function auditFetch(url, init) {
  try {
    return await fetch(url, init);
  } catch {
    await sleep(100);
    return fetch(url, init);
  }
}

async function startStack(root, { cluster }) {
  const s = { root, partitions: cluster ? CLUSTER_PARTITIONS : 1 };
  s.partitionOf = (sku) => sku % s.partitions;
  if (cluster) {
    s.cluster = new ClusterServers(await freePortRange(2 * CLUSTER_NODES), join(root, 'cluster'));
    await s.cluster.start();
    s.slots = Array.from({ length: s.partitions }, (_, k) => Number(run('redis-cli',
      ['-p', String(s.cluster.port), 'CLUSTER', 'KEYSLOT', partitionPrefix(k)]).stdout.trim()));
    // The faults strike the partition of the SKU that sells out (and of half the spanning holds).
    s.slot = s.slots[s.partitionOf(14)];
    // A partition's master now (redis-cli -c would follow redirects, but prints a line for each).
    s.redisCli = (k) => ['-p', String(s.cluster.masterOf(s.slots[k]))];
  } else {
    s.redis = new ScriptServer('redis-start', await freePort(), join(root, 'redis'));
    await s.redis.start();
    s.redisCli = () => ['-p', String(s.redis.port)];
  }
  const redisArgs = cluster
    ? ['--redis-cluster', s.cluster.seeds, '--redis-partitions', String(s.partitions)]
    : ['--redis', `127.0.0.1:${s.redis.port}`];
  s.mariadb = new ScriptServer('mariadb-start', await freePort(), join(root, 'mariadb'));
  await s.mariadb.start();
  s.mysql = `mysql://root@127.0.0.1:${s.mariadb.port}/stockgate`;
  const common = [...redisArgs, '--mysql', s.mysql];
  s.syncArgs = common;
  run(BIN.sync, [...common, 'migrate']);
  s.sync = new Child('sync', BIN.sync, [...common, '--consumer', 'faults', 'run'], {},
    join(root, 'sync.log'));
  s.sync.start();
  s.secret = randomBytes(32).toString('hex');
  s.originPort = await freePort();
  s.origin = new Child('origin', BIN.origin, [], {
    STOCKGATE_JWT_SECRET: s.secret,
    STOCKGATE_LISTEN: `127.0.0.1:${s.originPort}`,
    ...(cluster ? { STOCKGATE_REDIS_CLUSTER: s.cluster.seeds,
      STOCKGATE_REDIS_PARTITIONS: String(s.partitions) }
      : { STOCKGATE_REDIS: `127.0.0.1:${s.redis.port}` }),
    STOCKGATE_MYSQL: s.mysql,
    STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0',
    STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND: '0',
    STOCKGATE_RATE_LIMITS_ADMIN_RATE_PER_SECOND: '0',
    STOCKGATE_LOG_LEVEL: 'warn',
  }, join(root, 'origin.log'));
  s.originBase = `http://127.0.0.1:${s.originPort}`;
  s.startOrigin = async () => {
    s.origin.start();
    await until('origin', () => ok(`${s.originBase}/healthz`));
  };
  await s.startOrigin();
  const token = (role) => run(BIN.origin, ['token', '--role', role, '--sub', `faults-${role}`,
    '--ttl', '3600'], { env: { STOCKGATE_JWT_SECRET: s.secret } }).stdout.trim();
  s.admin = token('admin');
  s.service = token('service');
  for (const [sku, units] of Object.entries(STOCK)) {
    const r = await fetch(`${s.originBase}/v1/stock/${sku}`, {
      method: 'PUT', body: JSON.stringify({ on_hand: units }),
      headers: { Authorization: `Bearer ${s.admin}`, 'Content-Type': 'application/json' },
    });
    if (!r.ok) throw new Error(`seeding SKU ${sku}: ${r.status} ${await r.text()}`);
  }
  // The edge: no per-client limit (the crowd is a few busy clients) and a generous origin
  // deadline, so that what the audit sees is the faults', not the limits'.
  s.edgePort = await freePort();
  s.startEdge = async () => {
    s.edge = await startWorkerd(root, 'edge', {
      originPort: s.originPort, port: s.edgePort,
      // No identities here: every caller shares the anonymous budget, which is unlimited.
      env: { STOCKGATE_EDGE_CLIENT_RATE: '0', STOCKGATE_EDGE_ORIGIN_TIMEOUT_MS: '3000',
        STOCKGATE_EDGE_ANONYMOUS_RESERVATIONS: '1' },
    });
  };
  await s.startEdge();
  s.edgeBase = `http://127.0.0.1:${s.edgePort}`;
  return s;
}

// --- the crowd ---------------------------------------------------------------------------------

const RETRYABLE = new Set([0, 502, 503, 504]);

// One API call, retried with the same body (the same idempotency key) on no answer or a 503
// until `deadlineMs`. Returns the final {status, json}, or {status: 0} when no answer came.
async function call(base, token, method, path, body, deadlineMs) {
  for (let backoff = 25; ;) {
    let status = 0;
    let json = null;
    try {
      const r = await fetch(`${base}${path}`, {
        method, body, signal: AbortSignal.timeout(4000),
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      });
      status = r.status;
      json = await r.json().catch(() => null);
    } catch {
      status = 0;
    }
    if (!RETRYABLE.has(status) || Date.now() + backoff > deadlineMs) return { status, json };
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 400);
  }
}

class Crowd {
  constructor(stack, { workers, retryMs }) {
    Object.assign(this, { stack, workers, retryMs });
    this.orders = new Map(); // order_id -> {items, states: allowed Redis states, acked}
    this.requests = 0;
    this.successes = []; // ms of every 2xx answer
    this.stopping = false;
    this.seq = 0;
  }

  async op(method, path, body) {
    this.requests++;
    const r = await call(this.stack.edgeBase, this.stack.service, method, path, body,
      Date.now() + this.retryMs);
    if (r.status >= 200 && r.status < 300) this.successes.push(Date.now());
    return r;
  }

  // A direct sale of one unit (70%), or a hold of two SKUs that is then confirmed or released.
  async worker(w) {
    while (!this.stopping) {
      const id = `f${w}-${this.seq++}`;
      const sale = Math.random() < 0.7;
      const items = sale
        ? [{ sku: SKUS[Math.floor(Math.random() * SKUS.length)], qty: 1 }]
        : [{ sku: 11, qty: 1 + Math.floor(Math.random() * 2) }, { sku: 12, qty: 1 }];
      const order = { items, states: new Set(['absent', sale ? 'confirmed' : 'reserved']), acked: false };
      this.orders.set(id, order);
      const r = await this.op('POST', '/v1/reservations',
        JSON.stringify({ order_id: id, items, ttl_seconds: 3600, confirm: sale }));
      if (r.status === 200 || r.status === 201) {
        order.acked = true;
        order.states = new Set([sale ? 'confirmed' : 'reserved']);
      } else if (!RETRYABLE.has(r.status)) {
        // A definite refusal (sold out, ...): nothing made. A 503 is no answer: the call may
        // have been applied just before the origin gave up on Redis.
        order.states = new Set(['absent']);
      }
      if (sale || !order.acked || this.stopping) continue;
      const next = Math.random() < 0.5 ? 'confirm' : 'release';
      const done = { confirm: 'confirmed', release: 'released' }[next];
      order.states.add(done); // until the answer comes, either state is right
      const t = await this.op('POST', `/v1/reservations/${id}/${next}`, '{}');
      if (t.status === 200) order.states = new Set([done]);
      else if (!RETRYABLE.has(t.status)) order.states.delete(done);
    }
  }

  start() {
    this.running = Promise.all(Array.from({ length: this.workers }, (_, w) => this.worker(w)));
  }

  async stop() {
    this.stopping = true;
    await this.running;
  }

  // The longest stretch without a 2xx answer in [from, to], and the first 2xx after `after`.
  stall(from, to) {
    let longest = 0;
    let prev = from;
    for (const t of this.successes) {
      if (t < from) continue;
      if (t > to) break;
      longest = Math.max(longest, t - prev);
      prev = t;
    }
    return Math.max(longest, to - prev);
  }

  firstSuccessAfter(t0) {
    const t = this.successes.find((x) => x >= t0);
    return t === undefined ? null : t - t0;
  }
}

// --- the scenarios -----------------------------------------------------------------------------

function scenarios(o) {
  const pause = o.short ? 1000 : 5000;
  const mariadbDown = o.short ? 3000 : 30_000;
  const down = o.short ? 300 : 1000; // how long a killed part stays down
  // Past the node timeout, so that the cluster fails the master over.
  const clusterPause = o.short ? 4 * CLUSTER_NODE_TIMEOUT_MS : 10_000;
  return {
    redis_kill: {
      fault: 'SIGKILL Redis (AOF always), restart',
      async inject(s) {
        const pid = s.redis.pid;
        s.redis.signal('SIGKILL');
        await gone(pid);
        await sleep(down);
        await s.redis.start();
      },
    },
    origin_kill: {
      fault: 'SIGKILL origin, restart',
      async inject(s) {
        await s.origin.kill();
        await sleep(down);
        await s.startOrigin();
      },
    },
    sync_kill: {
      fault: 'SIGKILL sync, restart',
      async inject(s) {
        await s.sync.kill();
        await sleep(down);
        s.sync.start();
      },
    },
    mariadb_stop: {
      fault: `MariaDB killed and down ${mariadbDown / 1000} s`,
      async inject(s) {
        const pid = s.mariadb.pid;
        s.mariadb.signal('SIGKILL');
        await gone(pid);
        await sleep(mariadbDown);
        await s.mariadb.start();
      },
    },
    edge_kill: {
      fault: 'SIGKILL edge (workerd), restart',
      async inject(s) {
        await s.edge.kill();
        await sleep(down);
        await s.startEdge();
      },
    },
    redis_pause: {
      fault: `Redis paused (SIGSTOP) ${pause / 1000} s`,
      async inject(s) {
        s.redis.signal('SIGSTOP');
        await sleep(pause);
        s.redis.signal('SIGCONT');
      },
    },
    cluster_master_kill: {
      cluster: true,
      fault: 'Cluster: SIGKILL the master of the sold-out SKU\'s partition; its replica takes over; restart',
      async inject(s) {
        const master = s.cluster.masterOf(s.slot);
        s.cluster.signal(master, 'SIGKILL');
        await gone(s.cluster.pidOf(master));
        await until('a replica to take over', () => {
          const now = s.cluster.masterOf(s.slot);
          return now !== 0 && now !== master;
        }, 30_000);
        await sleep(down);
        await s.cluster.start(); // the old master rejoins as a replica
      },
    },
    cluster_replica_kill: {
      cluster: true,
      fault: 'Cluster: SIGKILL the replica of the sold-out SKU\'s master, restart',
      async inject(s) {
        const replica = s.cluster.replicaOf(s.cluster.masterOf(s.slot));
        s.cluster.signal(replica, 'SIGKILL');
        await gone(s.cluster.pidOf(replica));
        await sleep(down);
        await s.cluster.start();
      },
    },
    cluster_master_pause: {
      cluster: true,
      fault: `Cluster: the sold-out SKU's master paused (SIGSTOP) past the node timeout, ${clusterPause / 1000} s; returns as a replica`,
      async inject(s) {
        const master = s.cluster.masterOf(s.slot);
        s.cluster.signal(master, 'SIGSTOP');
        await sleep(clusterPause);
        s.cluster.signal(master, 'SIGCONT');
        await until('the old master to rejoin as a replica', () =>
          s.cluster.nodes().find((n) => n.port === master)?.flags.includes('slave'), 30_000);
        await s.cluster.start(); // starts nothing; waits until the replica is linked again
      },
    },
    cluster_move_slot: {
      cluster: true,
      fault: 'Cluster: the sold-out SKU\'s partition moved to another master (cluster-move-slot)',
      async inject(s) {
        const from = s.cluster.masterOf(s.slot);
        const to = s.cluster.nodes().find((n) => n.flags.includes('master') &&
          !n.flags.includes('fail') && n.port !== from).port;
        await execFileAsync(join(repoRoot, 'scripts/cluster-move-slot'),
          [`127.0.0.1:${s.cluster.live()}`, String(s.slot), `127.0.0.1:${to}`]);
        if (s.cluster.masterOf(s.slot) !== to) throw new Error(`slot ${s.slot} did not move to ${to}`);
      },
    },
  };
}

// --- the audit ---------------------------------------------------------------------------------

// Each order's status as Redis holds it: the first field of its record ("status|items|..."),
// read in every partition of its items (an order spanning partitions has a part in each, all of
// one status once settled; "mixed" when they differ).
function redisStates(s, crowd, ids) {
  const seen = ids.map(() => []);
  for (let k = 0; k < s.partitions; k++) {
    const asked = [];
    ids.forEach((id, i) => {
      if (crowd.orders.get(id).items.some(({ sku }) => s.partitionOf(sku) === k)) asked.push(i);
    });
    if (asked.length === 0) continue;
    const input = asked.map((i) => `GET ${partitionPrefix(k)}:res:${ids[i]}`).join('\n');
    const out = run('redis-cli', s.redisCli(k), { input }).stdout.split('\n');
    asked.forEach((i, j) => seen[i].push([k, (out[j] || '').split('|')[0] || 'absent']));
  }
  return seen.map((parts) => {
    const states = parts.map(([, state]) => state);
    return { state: new Set(states).size === 1 ? states[0] : `mixed ${states.join('/')}`,
      byPartition: new Map(parts) };
  });
}

function sqlRows(s, query) {
  const out = run('mariadb', ['--no-defaults', '-h', '127.0.0.1', '-P', String(s.mariadb.port),
    '-u', 'root', '--batch', '--skip-column-names', 'stockgate', '-e', query]).stdout;
  return out.split('\n').filter(Boolean).map((line) => line.split('\t'));
}

// The flat name/value reply of XINFO on partition k as an object (one value per line).
function xinfo(s, k, ...args) {
  const lines = run('redis-cli', [...s.redisCli(k), 'XINFO', ...args]).stdout.split('\n');
  const o = {};
  for (let i = 0; i + 1 < lines.length; i += 2) o[lines[i]] = lines[i + 1];
  return o;
}

// Every decision on an order spanning partitions has reached its parts (the origin's, or the
// sweeper's within seconds when a part could not be told at once: lua/directory.lua).
async function settled(s) {
  await until('decisions to reach every part', () => Array.from({ length: s.partitions },
    (_, k) => run('redis-cli', [...s.redisCli(k), 'ZCARD', `${partitionPrefix(k)}:unsettled`])
      .stdout.trim() === '0').every(Boolean), 60_000);
}

// Sync has caught up when its group has been handed every entry (lag 0, or as many entries read
// as were added) and has acknowledged them all. (The stream's last generated id is no test: an
// entry carrying k events moves it k - 1 ids past the entry's own, see lua/common.lua.)
async function drained(s) {
  await until('sync to drain the outboxes', () => Array.from({ length: s.partitions }, (_, k) => {
    const stream = xinfo(s, k, 'STREAM', `${partitionPrefix(k)}:ledger`);
    const group = xinfo(s, k, 'GROUPS', `${partitionPrefix(k)}:ledger`);
    const delivered = group.lag === '0' || group['entries-read'] === stream['entries-added'];
    return group.pending === '0' && delivered;
  }).every(Boolean), 60_000);
}

async function audit(s, crowd) {
  const problems = [];
  const ids = [...crowd.orders.keys()];
  const read = redisStates(s, crowd, ids);
  const states = read.map((r) => r.state);
  // A part held for an order whose claim never reached home (every retry failed, so its outcome
  // stayed unknown to the client): no order by that id exists, and the sweeper gives the part
  // back 60 s after it was placed. Its units are held until then, and counted as such.
  const unclaimed = new Set();
  for (const [i, id] of ids.entries()) {
    const order = crowd.orders.get(id);
    if (s.partitions === 1 || order.acked ||
      !(states[i] === 'reserved' || states[i].startsWith('mixed'))) continue;
    const r = await auditFetch(`${s.originBase}/v1/reservations/${id}`,
      { headers: { Authorization: `Bearer ${s.service}` } });
    if (r.status === 404) unclaimed.add(id);
  }
  let lost = 0;
  let unknown = 0;
  const ackedSold = Object.fromEntries(SKUS.map((k) => [k, 0]));
  const maybeSold = Object.fromEntries(SKUS.map((k) => [k, 0]));
  const liveHolds = Object.fromEntries(SKUS.map((k) => [k, 0]));
  ids.forEach((id, i) => {
    const order = crowd.orders.get(id);
    const state = states[i];
    if (!order.states.has(state) && !unclaimed.has(id)) {
      if (order.acked) lost++;
      problems.push(`order ${id}: Redis says ${state}, the client allows ${[...order.states].join('|')}`);
    }
    if (order.states.size > 1) unknown++;
    for (const { sku, qty } of order.items) {
      if (unclaimed.has(id)) {
        if (read[i].byPartition.get(s.partitionOf(sku)) === 'reserved') liveHolds[sku] += qty;
        continue;
      }
      if (state === 'confirmed') {
        if (order.acked && order.states.size === 1) ackedSold[sku] += qty;
        else maybeSold[sku] += qty;
      }
      if (state === 'reserved') liveHolds[sku] += qty;
    }
  });

  // The history: every event once, every order's events there, every row's state Redis's.
  const events = sqlRows(s, 'SELECT ref, op, sku, COUNT(*) FROM inventory_history ' +
    "WHERE op IN ('reserve','confirm','release') GROUP BY ref, op, sku");
  const eventCount = new Map(events.map(([ref, op, sku, n]) => [`${ref}/${op}/${sku}`, Number(n)]));
  // Each (order, SKU) is held once and released or confirmed at most once; with partitions a part
  // given back (its order failed elsewhere) may be held again by a retry, a release for each
  // extra hold.
  const count = (ref, op, sku) => eventCount.get(`${ref}/${op}/${sku}`) ?? 0;
  const duplicates = events.filter(([ref, op, sku]) => {
    const [reserves, releases] = [count(ref, 'reserve', sku), count(ref, 'release', sku)];
    if (op === 'confirm') return count(ref, op, sku) > 1;
    if (s.partitions === 1) return count(ref, op, sku) > 1;
    return op === 'reserve' && (reserves - releases > 1 || reserves - releases < 0);
  }).length;
  if (duplicates) problems.push(`${duplicates} (order, op, sku) events are in the history more than once`);
  const rows = new Map(sqlRows(s, 'SELECT order_id, status FROM reservations'));
  ids.forEach((id, i) => {
    const state = states[i];
    if (state === 'absent' || unclaimed.has(id)) return;
    const order = crowd.orders.get(id);
    const ops = { reserved: ['reserve'], confirmed: ['reserve', 'confirm'], released: ['reserve', 'release'] }[state];
    if (!ops) return; // a state no client allows: reported above
    const missing = order.items.some(({ sku }) => ops.some((op) => !eventCount.has(`${id}/${op}/${sku}`)));
    if (missing || rows.get(id) !== state) {
      if (order.acked) lost++;
      problems.push(`order ${id} (${state} in Redis): history ${missing ? 'lacks events' : 'has them'}, row says ${rows.get(id)}`);
    }
  });

  // Stock: conservation and bounds per SKU, from the origin.
  const r = await auditFetch(`${s.originBase}/v1/stock?skus=${SKUS.join(',')}`);
  const stock = new Map((await r.json()).items.map((x) => [x.sku, x]));
  let oversold = 0;
  for (const sku of SKUS) {
    const x = stock.get(sku);
    const bad = [];
    if (x.on_hand + x.sold !== STOCK[sku]) bad.push(`on_hand ${x.on_hand} + sold ${x.sold} != ${STOCK[sku]}`);
    if (x.reserved < 0 || x.reserved > x.on_hand) bad.push(`reserved ${x.reserved} outside [0, ${x.on_hand}]`);
    if (x.sold > STOCK[sku]) bad.push(`sold ${x.sold} > ${STOCK[sku]}`);
    if (x.reserved !== liveHolds[sku]) bad.push(`reserved ${x.reserved} != live holds ${liveHolds[sku]}`);
    // Every confirmed order in Redis is one of the clients' (acknowledged, or of unknown outcome).
    if (x.sold !== ackedSold[sku] + maybeSold[sku]) {
      bad.push(`sold ${x.sold} != ${ackedSold[sku]} units acknowledged + ${maybeSold[sku]} of unknown outcome`);
    }
    if (bad.length) {
      oversold += x.sold > STOCK[sku] || x.reserved > x.on_hand ? 1 : 0;
      problems.push(`SKU ${sku}: ${bad.join('; ')}`);
    }
  }
  const check = run(BIN.sync, [...s.syncArgs, 'check'], { allowFail: true });
  if (check.status !== 0) problems.push(`stockgate-sync check:\n${check.stdout}${check.stderr}`);
  return {
    acked: [...crowd.orders.values()].filter((x) => x.acked).length,
    unknown, lost, oversold, duplicates, problems, unclaimed: unclaimed.size,
  };
}

// --- one scenario ------------------------------------------------------------------------------

async function runScenario(name, scenario, o) {
  const root = mkdtempSync(join(tmpdir(), `stockgate-fault-${name}-`));
  const s = await startStack(root, { cluster: !!scenario.cluster });
  const crowd = new Crowd(s, { workers: o.workers, retryMs: o.retryMs });
  try {
    crowd.start();
    await sleep(o.beforeMs);
    const t0 = Date.now();
    await scenario.inject(s);
    const t1 = Date.now();
    await sleep(o.afterMs);
    await crowd.stop();
    const stopped = Date.now();
    await until('origin back', () => ok(`${s.originBase}/readyz`), 30_000);
    // A drain that never completes shows as the check's failure in the audit.
    await settled(s).catch(() => {});
    await drained(s).catch(() => {});
    const a = await audit(s, crowd);
    return {
      name, fault: scenario.fault, requests: crowd.requests, ...a,
      faultMs: t1 - t0,
      stallMs: crowd.stall(t0, stopped),
      recoveryMs: crowd.firstSuccessAfter(t1),
    };
  } catch (e) {
    for (const log of ['origin.log', 'sync.log', 'edge.log']) {
      try {
        process.stderr.write(`--- ${log}\n${logTail(join(root, log))}\n`);
      } catch {
        // No such log.
      }
    }
    throw e;
  } finally {
    crowd.stopping = true;
    await s.edge?.kill?.().catch(() => {});
    await s.origin.kill();
    await s.sync.kill();
    if (s.cluster) {
      await s.cluster.stop();
    } else {
      s.redis.signal('SIGCONT');
      s.redis.signal('SIGKILL');
    }
    s.mariadb.signal('SIGKILL');
    await gone(s.mariadb.pid);
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  }
}

// --- report ------------------------------------------------------------------------------------

const fmtMs = (ms) => (ms === null ? 'never' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

function table(results) {
  const head = '| fault | requests | acknowledged | unknown outcome | lost | oversold | duplicates | ' +
    'longest stall | recovery | checks |';
  const rule = '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|';
  const rows = results.map((r) => `| ${r.fault} | ${r.requests.toLocaleString('en')} | ` +
    `${r.acked.toLocaleString('en')} | ${r.unknown} | ${r.lost} | ${r.oversold} | ${r.duplicates} | ` +
    `${fmtMs(r.stallMs)} | ${fmtMs(r.recoveryMs)} | ${r.problems.length ? 'FAILED' : 'pass'} |`);
  return [head, rule, ...rows].join('\n');
}

function machine() {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
    `Redis ${versionOf('redis-server', ['--version'])}; ` +
    `MariaDB ${versionOf('mariadbd', ['--version']).replace(/-MariaDB$/, '')}`;
}

async function main() {
  const o = parseOptions(process.argv.slice(2), {
    short: false, scenarios: '', report: '', workers: 16, keep: false,
  }, { script: import.meta.url });
  Object.assign(o, o.short
    ? { beforeMs: 1000, afterMs: 1500, retryMs: 8000 }
    : { beforeMs: 3000, afterMs: 5000, retryMs: 15_000 });
  for (const path of Object.values(BIN)) {
    if (!existsSync(path)) throw new Error(`${path} is missing: cmake --preset native && cmake --build --preset native`);
  }
  const all = scenarios(o);
  const names = o.scenarios ? o.scenarios.split(',') : Object.keys(all);
  for (const n of names) if (!all[n]) throw new Error(`unknown scenario ${n}: ${Object.keys(all).join(', ')}`);
  const results = [];
  o.startedAt = Date.now();
  for (const n of names) {
    process.stderr.write(`faults: ${n} (${all[n].fault}) ...\n`);
    const r = await runScenario(n, all[n], o);
    process.stderr.write(`faults: ${n}: ${r.requests} requests, ${r.acked} acknowledged, ` +
      `${r.lost} lost, ${r.oversold} oversold, ${r.duplicates} duplicates, ` +
      `recovery ${fmtMs(r.recoveryMs)}` +
      `${r.unclaimed ? `, ${r.unclaimed} unclaimed part(s) awaiting the sweeper` : ''}${r.problems.length ? `\n  ${r.problems.slice(0, 20).join('\n  ')}` : ''}\n`);
    results.push(r);
  }
  const text = table(results);
  process.stdout.write(`${text}\n`);
  if (o.report) {
    writeMarkedSection(resolve(repoRoot, o.report), 'faults/run', report(results, o, text));
    process.stderr.write(`faults: wrote the fault section of ${o.report}\n`);
  }
  const failed = results.filter((r) => r.problems.length || r.lost || r.oversold || r.duplicates);
  process.stdout.write(`${results.length - failed.length} passed, ${failed.length} failed\n`);
  process.exitCode = failed.length ? 1 : 0;
}

function report(results, o, text) {
  return `${PREAMBLE(o, machine())}\n${text}\n\n${EXPLAIN}`;
}

const minutes = (ms) => Math.max(1, Math.round(ms / 60_000));
const PREAMBLE = (o, m) => `This section is written by \`faults/run --report docs/reliability.md\` (about
${minutes(Date.now() - o.startedAt)} minutes here); rerun it to reproduce the table. Machine: ${m}. The
counts depend on the machine's speed; the zeros must not.

Each row is one scenario on a fresh stack on loopback: Redis (origin/redis.conf: AOF,
\`appendfsync always\`), MariaDB, \`stockgate-sync\`, the origin and the edge in workerd. In the
"Cluster" rows Redis is a Redis Cluster of 3 masters and 3 replicas (\`scripts/cluster-start\`,
the same config, a ${CLUSTER_NODE_TIMEOUT_MS / 1000} s node timeout), the keyspace has
${CLUSTER_PARTITIONS} partitions (a partition per master; the holds of two SKUs span two of them)
and the origin acknowledges a write once a replica holds it (\`WAIT 1\`). ${o.workers}
clients buy through the edge without pause: 70% direct sales of one unit of a random SKU
(three SKUs with a million units, one with 400 that sells out early), 30% holds of two SKUs then
confirmed or released. A call that gets no answer or a 503 is retried with the same order id
for up to ${o.retryMs / 1000} s, as an order service would. The fault hits ${o.beforeMs / 1000} s into the sale; the
sale runs ${o.afterMs / 1000} s past the part's return, then stops, sync drains, and the audit runs.
`;

const EXPLAIN = `- **requests**: every HTTP call the clients made, retries included.
- **acknowledged**: reservations a client got a 2xx for.
- **unknown outcome**: calls whose answer a client never got within its retry time (the
  audit accepts either outcome for those, and nothing else).
- **lost**: acknowledged reservations missing from Redis, in another state than the client was
  told, or missing from the MariaDB history (events or reservation row).
- **oversold**: SKUs with \`sold\` above the starting stock or \`reserved\` above \`on_hand\`.
  Besides, every SKU must satisfy \`on_hand + sold\` = starting stock, \`reserved\` = the live
  holds, and \`sold\` = the units of the orders Redis holds as confirmed, each of them a
  client's order that was acknowledged or of unknown outcome; any miss fails the scenario
  (column **checks**).
- **duplicates**: (order, operation, SKU) ledger events present more than once in the history.
- **longest stall**: the longest time, from the fault to the end of the sale, in which no call
  got a 2xx.
- **recovery**: from the part's return (restart or SIGCONT) to the first 2xx after it.
- **checks**: pass when all of the above hold and \`stockgate-sync check\` finds no drift between
  Redis, the ledger and MariaDB.

What each fault exercises:

- **SIGKILL Redis**: every acknowledged call was fsynced to the AOF before its answer; Redis
  restarts from the AOF, the origin reloads its scripts (NOSCRIPT), sync resumes its consumer
  group from the stream in the AOF.
- **SIGKILL origin**: the edge answers 503 meanwhile; calls are retried with their idempotency
  keys and get the first outcome.
- **SIGKILL sync**: the sale is untouched; the restarted sync re-reads its own pending entries
  and the history gets each event once.
- **MariaDB down**: the sale is untouched; sync retries its batch until MariaDB is back and then
  drains the backlog.
- **SIGKILL edge**: clients get connection errors and retry; a new workerd serves on the same port.
- **Redis paused**: the origin's Redis calls time out (500 ms), the answers are fast 503s, and
  the sale resumes on SIGCONT.
- **Cluster: master killed**: calls fail fast until the cluster promotes the replica (node
  timeout plus election); the origin's client reads the slot map again and follows it. Every
  acknowledged write was on the replica before its answer.
- **Cluster: replica killed**: writes wait for a replica acknowledgement that does not come and
  are answered 503 (outcome unknown) until the replica is back; retries replay the first outcome.
- **Cluster: master paused**: the cluster fails the silent master over; on SIGCONT the old
  master finds itself replaced, drops what it held (only unacknowledged writes can be there) and
  rejoins as a replica.
- In the three scenarios above the struck master has one replica, so while one of the pair is
  gone no write can be acknowledged by a replica: writes are answered 503 (and retried) until
  the pair is whole again, which the longest stall shows. That is the price of never
  acknowledging a write a failover could lose; two replicas per master keep writes going
  through the loss of one.
- **Cluster: slot moved**: while the partition's slot moves, every operation on either node answers
  503 (each would see half the keys); afterwards the client follows \`MOVED\` to the new master.
- With partitions the audit first waits until every decision on an order spanning partitions
  has reached its parts (one a part could not take at once, during a failover or a slot move, is
  carried by sync's sweeper within seconds), reads each order in every partition of its items,
  and counts a part whose order never reached its home (the client saw no answer, so the outcome
  stayed unknown) as a hold the sweeper gives back 60 s after it was placed, not as a sale.
`;

main().catch((e) => {
  process.stderr.write(`faults: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
