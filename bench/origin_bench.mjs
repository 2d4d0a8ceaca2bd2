// Reservations per second through the origin, compared in one run with the paths it stands
// between: the same script driven straight at Redis by redis-benchmark (one call at a time per
// client, and pipelined: the ceiling of one Redis core), and the seed designs' MySQL deductions:
// the hot row (one UPDATE per sale on one InnoDB row, by mariadb-slap), the version check and the
// SELECT ... FOR UPDATE transaction (by stockgate-mysql-load). The origin is driven twice, by the
// project's load tool and by wrk (a tool anyone can rerun), and once more with Redis at
// `appendfsync everysec` to show the price of durability. Every side runs at the same
// concurrency against its own private server (loopback, free ports, a temp dir), and every call
// must be a real reservation: the script and the UPDATE always succeed, and the counters are
// checked against the calls afterwards.
//
//   node bench/origin_bench.mjs [--concurrency 32,256,1024] [--seconds 9] [--rounds 3]
//                               [--origin BIN] [--load BIN]
//       JSON to stdout (bench/run keeps it as bench/results/origin.json); per concurrency, each
//       side is measured for --seconds in all, over --rounds that interleave the sides
//   node bench/origin_bench.mjs --smoke
//       a few hundred calls per side at concurrency 4: everything starts, answers and is counted
//       right; no timings are judged
//
// Durability is the shipped one on every side but the everysec row: Redis (raw and behind the
// origin) with origin/redis.conf (AOF, appendfsync always); MariaDB with
// innodb_flush_log_at_trx_commit=1 (scripts/mariadb-start). Needs redis-server, redis-cli,
// redis-benchmark, wrk, mariadbd, mariadb-install-db, mariadb-admin, mariadb and mariadb-slap.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  cleanups, freePort, http, machineCpuMs, median, parseOptions, parseWrk, processCpuMs, repoRoot,
  run,
  runTimed,
  startMariadb, startOrigin, startRedis, turn, versionOf,
} from './harness.mjs';

const SKU = 1;
const STOCK = 2_000_000_000; // units on hand on every side: far more than any run reserves
// A day: no hold expires during a run, however long the slow MySQL sides make it (an expired
// hold gives its unit back, and the check that every call reserved one would fail).
const TTL_SECONDS = 86400;
const KEY_PREFIX = 'sg'; // the origin's default redis_key_prefix
const PARTITION = `${KEY_PREFIX}:{p0}`; // the prefix of every key (origin/store/keyspace.h)
const PIPELINE = 32; // calls each redis-benchmark client keeps in flight on the pipelined side
const WRK_SCRIPT = join(repoRoot, 'bench/wrk/reserve.lua');
const HOT_ROW_SQL = 'UPDATE inventory SET stocks = stocks - 1 WHERE goods = 1 AND stocks >= 1';
const SMOKE_CALLS = 200;

function parseArgs(argv) {
  const o = parseOptions(argv, {
    smoke: false,
    concurrency: [32, 256, 1024],
    seconds: 9, // measured seconds per side and concurrency, split over the rounds
    rounds: 3,
    origin: 'build/native/origin/stockgate-origin',
    load: 'build/native/bench/stockgate-origin-load',
    mysqlLoad: 'build/native/bench/stockgate-mysql-load',
    grpcLoad: 'build/native/bench/stockgate-grpc-load',
  }, { script: import.meta.url, paths: ['origin', 'load', 'mysqlLoad', 'grpcLoad'] });
  if (o.smoke) {
    o.concurrency = [4];
    o.rounds = 1;
  }
  if (!o.concurrency.every((c) => Number.isInteger(c) && c >= 1 && c <= 1024)) {
    throw new Error('--concurrency takes integers 1..1024, comma-separated');
  }
  if (!(o.seconds > 0)) throw new Error('--seconds must be positive');
  if (!(Number.isInteger(o.rounds) && o.rounds >= 1)) throw new Error('--rounds must be >= 1');
  o.roundSeconds = o.seconds / o.rounds;
  o.resolvePaths();
  return o;
}

const log = (msg) => process.stderr.write(`origin_bench: ${msg}\n`);

// --- CPU accounting ------------------------------------------------------------------------

// CPU used by the given server processes and by the whole machine while fn() runs. fn returns
// { clientCpuMs, clientUserMs, ... }; the result gains the samples, in ms, which aggregate()
// sums over the rounds.
async function accounted(servers, fn) {
  const before = {};
  for (const [k, pid] of Object.entries(servers)) before[k] = processCpuMs(pid);
  const m0 = machineCpuMs();
  const result = await fn();
  const m1 = machineCpuMs();
  let serverUserMs = 0;
  result.serverCpuMs = {};
  for (const [k, pid] of Object.entries(servers)) {
    const now = processCpuMs(pid);
    result.serverCpuMs[k] = now.user - before[k].user + now.system - before[k].system;
    serverUserMs += now.user - before[k].user;
  }
  result.machineBusyMs = m1.busy - m0.busy;
  // User time of processes other than the servers and the client: other programs for certain
  // (kernel threads have none, so work the run causes in the kernel is not in it).
  result.otherUserMs = Math.max(0, m1.user - m0.user - serverUserMs - result.clientUserMs);
  result.machineWallMs = (m1.total - m0.total) / cpus().length;
  return result;
}

// One side's result from its rounds: rate over all rounds, latency percentiles as the median of
// the rounds' (a client reports percentiles per run, not mergeable samples), CPU per call.
function aggregate(rounds) {
  const sum = (f) => rounds.reduce((a, r) => a + f(r), 0);
  const requests = sum((r) => r.requests);
  const ok = sum((r) => r.ok);
  const seconds = sum((r) => r.seconds);
  const errors = {};
  for (const r of rounds) {
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  const perCall = (ms) => (requests > 0 ? (ms * 1000) / requests : null);
  const serverMs = {};
  for (const r of rounds) {
    for (const [k, ms] of Object.entries(r.serverCpuMs)) serverMs[k] = (serverMs[k] ?? 0) + ms;
  }
  const clientMs = sum((r) => r.clientCpuMs);
  const busyMs = sum((r) => r.machineBusyMs);
  const otherUserMs = sum((r) => r.otherUserMs);
  const wallMs = sum((r) => r.machineWallMs);
  const oursMs = clientMs + Object.values(serverMs).reduce((a, b) => a + b, 0);
  return {
    requests,
    ok,
    errors,
    seconds,
    rps: ok / seconds,
    rps_rounds: rounds.map((r) => r.ok / r.seconds),
    p50_ms: median(rounds.map((r) => r.p50_ms)),
    p99_ms: median(rounds.map((r) => r.p99_ms)),
    mean_ms: sum((r) => (r.mean_ms ?? 0) * r.requests) / requests,
    cpu: {
      // µs of CPU per call, by process
      server_us_per_call: Object.fromEntries(
        Object.entries(serverMs).map(([k, ms]) => [k, perCall(ms)]),
      ),
      client_us_per_call: perCall(clientMs),
      // cores busy on the whole machine during the runs; the part outside the bench's processes
      // (other programs, and kernel threads, some working for the run); and of that, the user
      // time of other programs
      machine_busy_cores: busyMs / wallMs,
      other_busy_cores: Math.max(0, (busyMs - oursMs) / wallMs),
      other_programs_user_cores: otherUserMs / wallMs,
    },
  };
}

// --- Redis ---------------------------------------------------------------------------------

// The one script as CMake assembles it and the origin embeds it (common.lua, the operations,
// batch.lua): build/native/origin/store/stockgate.lua.
const scriptBody = () =>
  readFileSync(join(repoRoot, 'build/native/origin/store/stockgate.lua'), 'utf8');
const sha1 = (text) => createHash('sha1').update(text).digest('hex');

function loadScript(redis) {
  const body = scriptBody();
  const sha = redis.cliInput(body, 'SCRIPT', 'LOAD');
  if (sha !== sha1(body)) throw new Error(`SCRIPT LOAD answered ${sha}, not ${sha1(body)}`);
  return sha;
}

// What Redis did per reservation over the measured rounds, from INFO commandstats (reset after
// the warm-up): each command's calls per reservation (the ones the script runs inside its EVALSHA;
// the bench's own reads add a handful of calls in all), EVALSHA calls per reservation (1 without
// batching) and the microseconds Redis spent in EVALSHA per reservation (the script's run time,
// its commands included; the AOF write and fsync are not in it).
const OWN_COMMANDS = new Set(['evalsha', 'eval', 'info', 'config', 'script', 'ping', 'client',
  'hello', 'command', 'select']);
function redisWork(redis, reservations) {
  const per = {};
  let commands = 0;
  let evalsha = { calls: 0, usec: 0 };
  for (const line of redis.cli('INFO', 'commandstats').split('\n')) {
    const m = line.match(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/);
    if (!m) continue;
    const [name, calls, usec] = [m[1].toLowerCase(), Number(m[2]), Number(m[3])];
    if (name === 'evalsha') evalsha = { calls, usec };
    if (OWN_COMMANDS.has(name.split('|')[0])) continue;
    per[name] = calls / reservations;
    commands += calls;
  }
  return {
    commands_per_reservation: commands / reservations,
    per_reservation: per,
    evalsha_per_reservation: evalsha.calls / reservations,
    script_usec_per_reservation: evalsha.usec / reservations,
  };
}

const reservedOf = (redis) => Number(redis.cli('HGET', `${PARTITION}:stock:${SKU}`, 'reserved'));

// Each side's function starts its servers, warms them, sizes the runs and returns
// { servers: name -> pid, round(k): one measured run of about o.seconds / o.rounds,
//   finish(result): checks the counters against the calls, labels the result, stops servers }.

// (a) the reserve operation straight at Redis: EVALSHA of the origin's script with a batch of one
// reservation, an order id redis-benchmark makes unique per call from two random numbers below
// 2e9 (about 4e18 ids; -r must fit a C int). `pipeline` calls in flight per client (1: each
// waits for its answer, as an origin request without batching would).
async function redisSide(root, c, o, pipeline) {
  const redis = await startRedis(root, `redis-raw-${c}-p${pipeline}`);
  const sha = loadScript(redis);
  const now = String(Date.now());
  // A batch of one operation, as the origin sends a lone request: the partition's prefix as the
  // one key, then no cluster slot (''), no block of stream ids ('': one partition), the count, the
  // operation's name, now, actor, argument count and arguments.
  const set = redis.cli('EVALSHA', sha, '1', PARTITION, '', '', '1', 'set', now, 'bench', '4', String(SKU),
    String(STOCK), '', 'bench');
  if (!set.includes('"code":"ok"')) throw new Error(`set answered ${set}`);
  const command = ['EVALSHA', sha, '1', PARTITION, '', '', '1', 'reserve', now, 'bench', '6',
    'rb-__rand_int__-__rand_int__', `${SKU}:1`, String(TTL_SECONDS), '', '0', ''];
  const clients = Math.min(c, pipeline > 1 ? 64 : c);
  const bench = (n) => {
    const r = runTimed('redis-benchmark', ['-p', String(redis.port), '-c', String(clients),
      '-P', String(pipeline), '-n', String(n), '-r', '2000000000', '--csv', ...command]);
    const row = r.stdout.trim().split('\n').at(-1).split('","').map((f) => f.replace(/"/g, ''));
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    // "p99_latency_ms","max_latency_ms"
    const [rps, mean, , p50, , p99] = row.slice(1).map(Number);
    if (!(rps > 0)) throw new Error(`redis-benchmark printed no rate:\n${r.stdout}`);
    return {
      requests: n, ok: n, errors: {}, seconds: n / rps, p50_ms: p50, p99_ms: p99, mean_ms: mean,
      clientCpuMs: r.cpuMs, clientUserMs: r.userMs,
    };
  };
  const before = reservedOf(redis);
  // redis-benchmark sends whole pipelines from every client: counts it can reach exactly are
  // multiples of clients x pipeline.
  const whole = (n) => Math.ceil(n / (clients * pipeline)) * clients * pipeline;
  // A short first run warms the server and sizes the measured ones.
  const warm = bench(whole(o.smoke ? SMOKE_CALLS : Math.max(c * 200, 20_000)));
  const n = whole(o.smoke ? SMOKE_CALLS
    : Math.max(c * 50, Math.round((warm.ok / warm.seconds) * o.roundSeconds)));
  redis.cli('CONFIG', 'RESETSTAT');
  return {
    servers: { 'redis-server': redis.pid },
    round: () => bench(n),
    finish(result) {
      result.reservations_made = reservedOf(redis) - before - warm.ok;
      result.all_calls_reserved = result.reservations_made === result.ok;
      result.redis_work = redisWork(redis, result.reservations_made);
      result.script_sha = sha;
      result.label = pipeline > 1 ? 'raw Redis script, pipelined' : 'raw Redis script';
      result.clients = clients;
      result.pipeline = pipeline;
      result.command = `redis-benchmark -c ${clients} -P ${pipeline} -n ${n} -r 2000000000 ` +
        `EVALSHA <stockgate.lua> 1 ${PARTITION} '' '' 1 reserve <now> bench 6 ` +
        `rb-__rand_int__-__rand_int__ ${SKU}:1 ${TTL_SECONDS} '' 0 ''`;
      redis.stop();
    },
  };
}

// --- the origin ----------------------------------------------------------------------------

// The origin over HTTP keep-alive, one connection per concurrent client, driven by the project's
// load tool or by wrk. `appendfsync` sets its Redis's fsync policy ("always" is the shipped one).
const ORIGIN_ENV = {
  // Rate limits off for reservations: the bench is one client sending far more than the
  // default 1000/s. Everything else keeps the origin's defaults.
  STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0',
};

// The gRPC side (tool 'grpc'): the same reservations as seed 000's LockInventory calls at the
// origin's grpc_listen address, by stockgate-grpc-load over a few HTTP/2 connections.
const GRPC_CHANNELS = 4;

async function originSide(root, c, o, { name, tool, appendfsync = 'always' }) {
  const grpcPort = tool === 'grpc' ? await freePort() : null;
  const origin = await startOrigin(root, `${name}-${c}`, {
    binary: o.origin, sku: SKU, stock: STOCK,
    env: grpcPort ? { ...ORIGIN_ENV, STOCKGATE_GRPC_LISTEN: `127.0.0.1:${grpcPort}` } : ORIGIN_ENV,
  });
  if (appendfsync !== 'always') origin.redis.cli('CONFIG', 'SET', 'appendfsync', appendfsync);
  const env = { STOCKGATE_BENCH_TOKEN: origin.serviceToken };
  const loadTool = (args) => {
    const r = tool === 'grpc'
      ? runTimed(o.grpcLoad, ['--port', String(grpcPort), '-c', String(c), '--channels',
        String(Math.min(c, GRPC_CHANNELS)), '--ttl', String(TTL_SECONDS), ...args],
      { env, allowFail: true })
      : runTimed(o.load, ['--port', String(origin.port), '-c', String(c),
        '--ttl', String(TTL_SECONDS), ...args],
      { env, allowFail: true });
    if (r.status !== 0 && r.status !== 1) throw new Error(`${o.load} failed:\n${r.stderr}`);
    const l = JSON.parse(r.stdout);
    return {
      requests: l.requests, ok: l.ok, errors: l.errors, seconds: l.seconds, p50_ms: l.p50_ms,
      p99_ms: l.p99_ms, mean_ms: l.mean_ms, clientCpuMs: r.cpuMs, clientUserMs: r.userMs,
    };
  };
  // wrk counts time, not calls: a smoke run is a short one.
  const wrk = (seconds, prefix) => {
    const threads = Math.min(c, cpus().length);
    const r = runTimed('wrk', [`-t${threads}`, `-c${c}`, `-d${seconds}s`, '--latency',
      '-s', WRK_SCRIPT, origin.base, '--', prefix, String(SKU)], { env });
    return { ...parseWrk(r.stdout), clientCpuMs: r.cpuMs, clientUserMs: r.userMs };
  };
  const before = await origin.reserved();
  const warm = tool === 'wrk' ? wrk(1, 'warm')
    : loadTool(o.smoke ? ['-n', '20', '--duration', '0', '--order-prefix', 'warm']
      : ['--duration', '1', '--order-prefix', 'warm']);
  const measured = o.smoke ? ['-n', String(SMOKE_CALLS), '--duration', '0']
    : ['--duration', String(o.roundSeconds)];
  origin.redis.cli('CONFIG', 'RESETSTAT');
  const wrkSeconds = o.smoke ? 1 : Math.max(1, Math.round(o.roundSeconds));
  return {
    servers: { origin: origin.pid, 'redis-server': origin.redis.pid },
    round: (k) => (tool === 'wrk' ? wrk(wrkSeconds, `bench${k}`)
      : loadTool([...measured, '--order-prefix', `bench${k}`])),
    async finish(result) {
      result.reservations_made = (await origin.reserved()) - before - warm.ok;
      result.redis_work = redisWork(origin.redis, result.reservations_made);
      if (tool === 'wrk') {
        // wrk stops the clock with up to one request per connection in flight: the origin
        // reserves those, wrk counts no answer for them (the warm-up's included).
        const uncounted = result.reservations_made - result.ok;
        result.in_flight_at_stop = uncounted;
        result.all_calls_reserved = result.ok === result.requests && uncounted >= 0 &&
          uncounted <= c * (o.rounds + 1);
      } else {
        result.all_calls_reserved =
          result.reservations_made === result.ok && result.ok === result.requests;
      }
      result.warmup_errors = warm.errors;
      // The origin ran the very script the raw sides ran: same body, same SHA.
      result.same_script_as_raw_redis =
        origin.redis.cli('SCRIPT', 'EXISTS', sha1(scriptBody())) === '1';
      result.origin_threads = origin.threads;
      result.appendfsync = appendfsync;
      result.tool = tool;
      result.batches = await originBatches(origin.base);
      const via = tool === 'wrk'
        ? `wrk -t${Math.min(c, cpus().length)} -c${c} -d${wrkSeconds}s --latency -s ` +
          'bench/wrk/reserve.lua <origin> -- bench<round> 1'
        : tool === 'grpc'
          ? `stockgate-grpc-load -c ${c} --channels ${Math.min(c, GRPC_CHANNELS)} ` +
            `${measured.join(' ')} --order-prefix bench<round>`
          : `stockgate-origin-load -c ${c} ${measured.join(' ')} --order-prefix bench<round>`;
      result.command = `STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND=0 stockgate-origin` +
        `${appendfsync !== 'always' ? ` (Redis: CONFIG SET appendfsync ${appendfsync})` : ''}` +
        `${tool === 'grpc' ? ' --grpc-listen 127.0.0.1:<port>' : ''}; ${via}: ` +
        (tool === 'grpc'
          ? `inventory.InventoryService/LockInventory {lock_key: "<prefix>-<slot>-<i>", items: ` +
            `[{product_id: ${SKU}, quantity: 1}], timeout_seconds: ${TTL_SECONDS}}`
          : `POST /v1/reservations {"order_id":"<prefix>-<conn>-<i>","items":[{"sku":${SKU},` +
            `"qty":1}],"ttl_seconds":${TTL_SECONDS}}`);
      origin.stop();
    },
  };
}

async function originMetrics(base) {
  const r = await http('GET', `${base}/metrics`);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
  return r.text;
}

// Operations per script batch the origin sent, from its /metrics.
async function originBatches(base) {
  const text = await originMetrics(base);
  const value = (what) => Number(text.match(
    new RegExp(`^stockgate_store_batch_total\\{what="${what}"\\} (\\S+)`, 'm'))?.[1] ?? NaN);
  return { batches: value('batches'), operations: value('operations') };
}

// --- MariaDB -------------------------------------------------------------------------------

// (b) the seed design's hot row: every sale is one autocommit UPDATE of the same InnoDB row.
async function mysqlSide(maria, c, o) {
  maria.sql(`REPLACE INTO stockgate_bench.inventory (goods, stocks) VALUES (${SKU}, ${STOCK})`);
  const stocks = () =>
    Number(maria.sql(`SELECT stocks FROM stockgate_bench.inventory WHERE goods = ${SKU}`));
  const csv = join(maria.dir, `slap-${c}.csv`);
  const slap = (n) => {
    rmSync(csv, { force: true });
    const r = runTimed('mariadb-slap', ['--no-defaults', '--host=127.0.0.1', `--port=${maria.port}`,
      '--protocol=tcp', '--user=root', '--create-schema=stockgate_bench', '--no-drop',
      `--concurrency=${c}`, '--iterations=1', `--number-of-queries=${n}`, `--query=${HOT_ROW_SQL}`,
      `--csv=${csv}`]);
    // ,mixed,<avg s>,<min s>,<max s>,<clients>,<queries per client>
    const f = readFileSync(csv, 'utf8').trim().split('\n').at(-1).split(',');
    const seconds = Number(f[2]);
    const queries = Number(f[5]) * Number(f[6]);
    // mariadb-slap reports no per-query latency; the mean follows from Little's law.
    return {
      requests: queries, ok: queries, errors: {}, seconds, p50_ms: null, p99_ms: null,
      mean_ms: (c * seconds * 1000) / queries, clientCpuMs: r.cpuMs, clientUserMs: r.userMs,
    };
  };
  const before = stocks();
  const warm = slap(o.smoke ? SMOKE_CALLS : c * 50);
  const n = o.smoke ? SMOKE_CALLS
    : Math.max(c * 50, Math.round((warm.ok / warm.seconds) * o.roundSeconds / c) * c);
  return {
    servers: { mariadbd: maria.pid },
    round: () => slap(n),
    finish(result) {
      result.reservations_made = before - stocks() - warm.ok;
      result.all_calls_reserved = result.reservations_made === result.ok;
      result.mean_ms_from =
        "Little's law (concurrency / rate): mariadb-slap reports no per-query latency";
      result.label = 'MySQL hot row';
      result.command = `mariadb-slap --concurrency=${c} --iterations=1 --number-of-queries=${n} ` +
        `--query="${HOT_ROW_SQL}"`;
    },
  };
}

// (c) and (d) the other seed designs' deductions, by stockgate-mysql-load on rows of their own:
// a version check (read stocks and version, UPDATE ... WHERE version = the one read, retried on a
// conflict) and a transaction that locks the row (SELECT ... FOR UPDATE, UPDATE, COMMIT).
const MYSQL_MODES = {
  version: { goods: 2, label: 'MySQL version check',
    sql: 'SELECT stocks, version; UPDATE ... SET stocks = stocks - 1, version = version + 1 WHERE version = <read>, retried on conflict' },
  for_update: { goods: 3, label: 'MySQL SELECT … FOR UPDATE',
    sql: 'START TRANSACTION; SELECT stocks ... FOR UPDATE; UPDATE ... SET stocks = stocks - 1; COMMIT' },
};

async function mysqlLoadSide(maria, c, o, mode) {
  const { goods, label, sql } = MYSQL_MODES[mode];
  maria.sql(`REPLACE INTO stockgate_bench.inventory (goods, stocks) VALUES (${goods}, ${STOCK})`);
  const stocks = () =>
    Number(maria.sql(`SELECT stocks FROM stockgate_bench.inventory WHERE goods = ${goods}`));
  const args = (seconds) => ['--port', String(maria.port), '--mode', mode, '-c', String(c),
    '--goods', String(goods), '--duration', String(seconds)];
  const load = (seconds) => {
    const r = runTimed(o.mysqlLoad, args(seconds), { allowFail: true });
    const l = JSON.parse(r.stdout);
    if (r.status !== 0) throw new Error(`${o.mysqlLoad} ${mode}: ${l.errors} errors: ${l.first_error}`);
    return {
      requests: l.sales, ok: l.sales, errors: {}, seconds: l.seconds, p50_ms: l.p50_ms,
      p99_ms: l.p99_ms, mean_ms: l.mean_ms, conflicts: l.conflicts,
      clientCpuMs: r.cpuMs, clientUserMs: r.userMs,
    };
  };
  const before = stocks();
  const warm = load(o.smoke ? 0.3 : 1);
  const seconds = o.smoke ? 0.5 : o.roundSeconds;
  const conflicts = [];
  return {
    servers: { mariadbd: maria.pid },
    round: () => {
      const r = load(seconds);
      conflicts.push(r.conflicts);
      return r;
    },
    finish(result) {
      result.reservations_made = before - stocks() - warm.ok;
      result.all_calls_reserved = result.reservations_made === result.ok;
      result.conflicts_retried = conflicts.reduce((a, b) => a + b, 0);
      result.label = label;
      result.command = `stockgate-mysql-load --mode ${mode} -c ${c} --duration ${seconds}: ${sql}`;
    },
  };
}

// --- main ----------------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'stockgate-origin-bench-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));
  const fs = run('findmnt', ['-no', 'FSTYPE,SOURCE', '-T', root], { allowFail: true });
  const context = {
    date: new Date().toISOString(),
    smoke: o.smoke,
    nproc: cpus().length,
    load_avg: loadavg(),
    seconds: o.seconds,
    rounds: o.rounds,
    concurrency: o.concurrency,
    redis_version: versionOf('redis-server', ['--version']),
    mariadb_version: versionOf('mariadbd', ['--version']),
    data_filesystem: fs.stdout.trim().replace(/\s+/g, ' ') || 'unknown',
    durability: {
      redis: 'origin/redis.conf: appendonly yes, appendfsync always (AOF fsynced before each ' +
        'reply), no RDB',
      mariadb: 'InnoDB, innodb_flush_log_at_trx_commit=1 (redo log written durably at each ' +
        'commit), doublewrite on, autocommit, no binary log (scripts/mariadb-start)',
    },
    origin_config: 'defaults, except: reservation rate limit off',
  };

  log(`starting MariaDB in ${root}`);
  const maria = await startMariadb(root);
  maria.sql('CREATE DATABASE IF NOT EXISTS stockgate_bench; ' +
    'CREATE TABLE IF NOT EXISTS stockgate_bench.inventory ' +
    '(goods BIGINT UNSIGNED PRIMARY KEY, stocks BIGINT NOT NULL, ' +
    'version BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB');
  const runs = [];
  for (const c of o.concurrency) {
    log(`concurrency ${c}: starting and warming every side`);
    const sides = {};
    sides.origin = await originSide(root, c, o, { name: 'origin', tool: 'load' });
    sides.origin_wrk = await originSide(root, c, o, { name: 'origin-wrk', tool: 'wrk' });
    sides.origin_grpc = await originSide(root, c, o, { name: 'origin-grpc', tool: 'grpc' });
    sides.redis = await redisSide(root, c, o, 1);
    sides.redis_pipelined = await redisSide(root, c, o, PIPELINE);
    await turn();
    sides.origin_everysec = await originSide(root, c, o, {
      name: 'origin-everysec', tool: 'load', appendfsync: 'everysec',
    });
    sides.mysql = await mysqlSide(maria, c, o);
    sides.mysql_version = await mysqlLoadSide(maria, c, o, 'version');
    sides.mysql_for_update = await mysqlLoadSide(maria, c, o, 'for_update');
    await turn();
    // Rounds interleave the sides, each round starting one side later, so that a slow spell of
    // the disk or a burst of other load spreads over all sides instead of landing on one.
    const names = Object.keys(sides);
    const rounds = Object.fromEntries(names.map((n) => [n, []]));
    for (let k = 0; k < o.rounds; k++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(j + k) % names.length];
        log(`concurrency ${c}, round ${k + 1}/${o.rounds}: ${name}`);
        rounds[name].push(await accounted(sides[name].servers, () => sides[name].round(k)));
        await turn();
      }
    }
    const results = {};
    for (const name of names) {
      results[name] = { ...aggregate(rounds[name]), rounds: rounds[name].length };
      await sides[name].finish(results[name]);
    }
    runs.push({ concurrency: c, sides: results });
  }
  maria.stop();

  const wrong = runs.flatMap((r) =>
    Object.entries(r.sides)
      .filter(([, s]) => !s.all_calls_reserved || s.same_script_as_raw_redis === false)
      .map(([side, s]) => `${side} at ${r.concurrency}: ${s.requests} calls, ${s.ok} ok, ` +
        `${s.reservations_made} reservations made, errors ${JSON.stringify(s.errors)}`),
  );
  process.stdout.write(JSON.stringify({ context, runs }, null, 2) + '\n');
  if (wrong.length) {
    // The numbers are kept above for inspection, but a run where calls and reservations disagree
    // did not measure what it claims to.
    throw new Error(`not every call was a real reservation:\n${wrong.join('\n')}`);
  }
  if (o.smoke) log('smoke: every side started, answered and reserved exactly once per call');
}

// Exits explicitly: servers still running after a failure would keep the event loop alive.
main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`origin_bench: ${err.stack || err}\n`);
    process.exit(1);
  },
);
