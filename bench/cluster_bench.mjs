// A sale of many SKUs on a Redis Cluster of one master and of three, in one run: reservations per
// second through one origin, and the work each master did (its CPU seconds and EVALSHA calls from
// INFO, and the reservations of the partitions it serves). The keyspace has the same partitions
// in both (SKU S in partition S mod N), spread over the masters by their slots; no replicas, so
// the master count is the only difference. On a machine of few CPUs the masters, the origin and
// wrk share them, so the wall-clock rate cannot grow with the masters; the work per master shows
// what N masters on N machines would each carry.
//
//   node bench/cluster_bench.mjs [--partitions 12] [--skus 120] [--clients 256] [--seconds 10]
//                                [--origin BIN]
//       JSON to stdout (bench/run keeps it as bench/results/cluster.json)
//   node bench/cluster_bench.mjs --smoke
//       2 s at 16 clients on each cluster: every answer a reservation, every reservation counted
//       on the master of its partition; no timings are judged
//
// Loopback only; the clusters (scripts/cluster-start, origin/redis.conf: AOF, appendfsync always)
// and the origin run on free ports in a temp dir. Needs redis-server, redis-cli and wrk.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

import {
  cleanups, freePort, freePortRange, http, onExit, parseOptions, parseWrk, repoRoot, run,
  runTimed, sleep, versionOf,
} from './harness.mjs';

const log = (msg) => process.stderr.write(`cluster_bench: ${msg}\n`);
const WRK_SCRIPT = join(repoRoot, 'bench/wrk/reserve.lua');
const STOCK = 100_000_000;

function parseArgs(argv) {
  const o = parseOptions(argv, {
    smoke: false,
    partitions: 12,
    skus: 120,
    clients: 256,
    seconds: 10,
    origin: 'build/native/origin/stockgate-origin',
  }, { script: import.meta.url, paths: ['origin'] });
  if (o.smoke) Object.assign(o, { clients: 16, seconds: 2 });
  o.resolvePaths();
  return o;
}

const cli = (port, ...args) => run('redis-cli', ['-p', String(port), ...args]).stdout;

// INFO fields as numbers: { used_cpu_sys, used_cpu_user, evalsha }.
function work(port) {
  const info = cli(port, 'INFO', 'all');
  const field = (name) => Number((info.match(new RegExp(`^${name}:([0-9.]+)`, 'm')) || [])[1] || 0);
  const evalsha = Number((info.match(/^cmdstat_evalsha:calls=(\d+)/m) || [])[1] || 0);
  return { cpu_s: field('used_cpu_sys') + field('used_cpu_user'), evalsha };
}

// The masters of a cluster and the slot ranges each serves.
function masters(port) {
  const out = cli(port, 'CLUSTER', 'NODES').trim().split('\n');
  return out.map((line) => line.split(' ')).filter((f) => f[2].includes('master'))
    .map((f) => ({
      port: Number(f[1].split(':')[1].split('@')[0]),
      ranges: f.slice(8).map((r) => r.split('-').map(Number)).map(([a, b]) => [a, b ?? a]),
    }));
}

async function runCluster(root, o, count) {
  const dir = join(root, `cluster-${count}`);
  const port = await freePortRange(2 * count);
  const started = run(join(repoRoot, 'scripts/cluster-start'),
    [String(port), dir, '--masters', String(count), '--replicas', '0']);
  onExit(() => run(join(repoRoot, 'scripts/cluster-start'), ['--stop', dir], { allowFail: true }));
  const seeds = started.stdout.trim().split('\n').at(-1);
  const originPort = await freePort();
  const secret = randomBytes(32).toString('hex');
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STOCKGATE_'))),
    STOCKGATE_JWT_SECRET: secret,
    STOCKGATE_LISTEN: `127.0.0.1:${originPort}`,
    STOCKGATE_REDIS_CLUSTER: seeds,
    STOCKGATE_REDIS_PARTITIONS: String(o.partitions),
    STOCKGATE_REDIS_REPLICA_ACKS: '0',
    STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0',
    STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND: '0',
    STOCKGATE_RATE_LIMITS_ADMIN_RATE_PER_SECOND: '0',
    STOCKGATE_LOG_LEVEL: 'warn',
  };
  const logFd = openSync(join(root, `origin-${count}.log`), 'a');
  const origin = spawn(o.origin, [], { env, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const stopOrigin = onExit(() => origin.kill('SIGKILL'));
  const base = `http://127.0.0.1:${originPort}`;
  for (let i = 0; ; i++) {
    try {
      if ((await http('GET', `${base}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('the origin did not start');
    await sleep(50);
  }
  const token = (role) => run(o.origin, ['token', '--role', role, '--sub', 'bench', '--ttl', '3600'],
    { env: { STOCKGATE_JWT_SECRET: secret } }).stdout.trim();
  const admin = token('admin');
  for (let sku = 1; sku <= o.skus; sku++) {
    const r = await http('PUT', `${base}/v1/stock/${sku}`, {
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ on_hand: STOCK }),
    });
    if (r.status !== 201) throw new Error(`PUT /v1/stock/${sku}: ${r.status} ${r.text}`);
  }
  const nodes = masters(port);
  const wrk = (seconds, prefix) => {
    const r = runTimed('wrk', [`-t${Math.min(2, cpus().length)}`, `-c${o.clients}`,
      `-d${seconds}s`, '--latency', '-s', WRK_SCRIPT, base, '--', prefix, `1-${o.skus}`],
    { env: { STOCKGATE_BENCH_TOKEN: token('service') } });
    return parseWrk(r.stdout);
  };
  wrk(1, 'warm');
  const before = nodes.map((n) => work(n.port));
  const reservedBefore = await reservedBySku(base, o.skus);
  const result = wrk(o.seconds, 'bench');
  const after = nodes.map((n) => work(n.port));
  const reserved = await reservedBySku(base, o.skus);
  // Each partition's reservations, on the master serving its slot.
  const slotOf = (p) => Number(cli(port, 'CLUSTER', 'KEYSLOT', `sg:{p${p}}`).trim());
  const perMaster = nodes.map((n, i) => ({
    port: n.port,
    partitions: [],
    reservations: 0,
    cpu_s: after[i].cpu_s - before[i].cpu_s,
    evalsha: after[i].evalsha - before[i].evalsha,
  }));
  for (let p = 0; p < o.partitions; p++) {
    const slot = slotOf(p);
    const m = perMaster[nodes.findIndex((n) => n.ranges.some(([a, b]) => slot >= a && slot <= b))];
    m.partitions.push(p);
    for (let sku = 1; sku <= o.skus; sku++) {
      if (sku % o.partitions === p) m.reservations += reserved[sku] - reservedBefore[sku];
    }
  }
  stopOrigin();
  run(join(repoRoot, 'scripts/cluster-start'), ['--stop', dir]);
  const made = perMaster.reduce((n, m) => n + m.reservations, 0);
  return {
    masters: count,
    ok: result.ok,
    requests: result.requests,
    errors: result.errors,
    seconds: result.seconds,
    rate: result.ok / result.seconds,
    p50_ms: result.p50_ms,
    p99_ms: result.p99_ms,
    reservations_made: made,
    // wrk stops with up to one request per connection in flight: those reserve unanswered.
    all_calls_reserved: made >= result.ok && made - result.ok <= 2 * o.clients &&
      result.ok === result.requests,
    per_master: perMaster,
  };
}

async function reservedBySku(base, skus) {
  const list = Array.from({ length: skus }, (_, i) => i + 1);
  const r = await http('GET', `${base}/v1/stock?skus=${list.join(',')}`);
  if (r.status !== 200) throw new Error(`GET /v1/stock: ${r.status} ${r.text}`);
  const out = {};
  for (const item of JSON.parse(r.text).items) out[item.sku] = item.reserved;
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'stockgate-cluster-bench-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const runs = [];
  for (const count of [1, 3]) {
    log(`${count} master(s): ${o.skus} SKUs in ${o.partitions} partitions, ${o.clients} clients, ${o.seconds} s`);
    runs.push(await runCluster(root, o, count));
  }
  const bad = runs.filter((r) => !r.all_calls_reserved || r.ok === 0);
  const out = {
    context: {
      partitions: o.partitions, skus: o.skus, clients: o.clients, seconds: o.seconds,
      nproc: cpus().length, load_before: loadavg()[0],
      redis_version: versionOf('redis-server', ['--version']),
      wrk_version: versionOf('wrk', ['-v']),
    },
    command: `node bench/cluster_bench.mjs --partitions ${o.partitions} --skus ${o.skus} ` +
      `--clients ${o.clients} --seconds ${o.seconds}`,
    runs,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  if (bad.length > 0) {
    log(`calls not matched by reservations on ${bad.map((r) => r.masters).join(', ')} master(s)`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  log(e.stack || String(e));
  process.exitCode = 1;
}).finally(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});
