// Reservations per second through the origin, compared in one run with the two paths it stands
// between: the same reserve.lua driven straight at Redis by redis-benchmark, and the seed design's
// MySQL hot row (one UPDATE per sale on one InnoDB row) driven by mariadb-slap. Every side runs
// at the same concurrency against its own private server (loopback, free ports, a temp dir), and
// every call must be a real reservation: the script and the UPDATE always succeed, and the
// counters are checked against the calls afterwards.
//
//   node bench/origin_bench.mjs [--concurrency 32,64] [--seconds 9] [--rounds 3]
//                               [--origin BIN] [--load BIN]
//       JSON to stdout (bench/run keeps it as bench/results/origin.json); per concurrency, each
//       side is measured for --seconds in all, over --rounds that interleave the sides
//   node bench/origin_bench.mjs --smoke
//       a few hundred calls per side at concurrency 4: everything starts, answers and is counted
//       right; no timings are judged
//
// Durability is the shipped one on every side: Redis (raw and behind the origin) with
// origin/redis.conf (AOF, appendfsync always); MariaDB with innodb_flush_log_at_trx_commit=1
// (scripts/mariadb-start). Needs redis-server, redis-cli, redis-benchmark, mariadbd,
// mariadb-install-db, mariadb-admin, mariadb and mariadb-slap.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const SKU = 1;
const STOCK = 2_000_000_000; // units on hand on every side: far more than any run reserves
const TTL_SECONDS = 900;
const KEY_PREFIX = 'sg'; // the origin's default redis_key_prefix
const SHIPPED_POOL_SIZE = 16; // the origin's default redis_pool_size
const HOT_ROW_SQL = 'UPDATE inventory SET stocks = stocks - 1 WHERE goods = 1 AND stocks >= 1';
const SMOKE_CALLS = 200;

function parseArgs(argv) {
  const o = {
    smoke: false,
    concurrency: [32, 64],
    seconds: 9, // measured seconds per side and concurrency, split over the rounds
    rounds: 3,
    origin: 'build/native/origin/stockgate-origin',
    load: 'build/native/bench/stockgate-origin-load',
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--smoke': o.smoke = true; break;
      case '--concurrency': o.concurrency = value().split(',').map(Number); break;
      case '--seconds': o.seconds = Number(value()); break;
      case '--rounds': o.rounds = Number(value()); break;
      case '--origin': o.origin = value(); break;
      case '--load': o.load = value(); break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
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
  for (const k of ['origin', 'load']) {
    o[k] = resolve(repoRoot, o[k]);
    if (!existsSync(o[k])) throw new Error(`${o[k]} does not exist: build the native preset first`);
  }
  return o;
}

const log = (msg) => process.stderr.write(`origin_bench: ${msg}\n`);

// --- processes and cleanup -----------------------------------------------------------------

const cleanups = [];
function cleanup() {
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch {
      // Best effort: the rest must still run.
    }
  }
}
process.on('exit', cleanup);
// Registers fn to run at exit; the returned function runs it now instead (once).
function onExit(fn) {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1)[0]();
  };
}
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
for (const [sig, n] of Object.entries(SIGNALS)) {
  process.on(sig, () => {
    cleanup();
    process.exit(128 + n);
  });
}
// Clients run synchronously, so a signal is handled only when the event loop next turns; the
// bench lets it turn after every client run.
const turn = () => new Promise((ok) => setImmediate(ok));

// Runs a command to completion; throws with its output when it fails.
function run(cmd, args, { input, env, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, {
    input,
    env: env ? { ...process.env, ...env } : process.env,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  }
  return r;
}

// Runs a client under bash so its CPU time (`times`: user, system) can be read afterwards.
function runTimed(cmd, args, opts = {}) {
  const r = run('bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'bash', cmd, ...args], opts);
  const last = r.stderr.trim().split('\n').at(-1);
  const m = last.match(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/);
  if (!m) throw new Error(`cannot read the CPU time of ${cmd} from: ${last}`);
  const userMs = (Number(m[1]) * 60 + Number(m[2])) * 1000;
  const cpuMs = userMs + (Number(m[3]) * 60 + Number(m[4])) * 1000;
  return { ...r, cpuMs, userMs };
}

function killPid(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// One HTTP request on a connection of its own. (fetch would keep connections alive, and while
// this process blocks in a client run its idle-connection timers cannot fire: the next fetch
// then picks a connection the origin has long closed.)
function http(method, url, { headers = {}, body } = {}) {
  return new Promise((ok, fail) => {
    const req = request(url, { method, headers, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => ok({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', fail);
    req.end(body);
  });
}

// --- CPU accounting ------------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

// User and system CPU time of a process and all its threads so far, in ms.
function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMs = (t) => (Number(t) * 1000) / CLK_TCK;
  return { user: toMs(f[11]), system: toMs(f[12]) }; // utime, stime
}

// Machine-wide CPU time so far, in ms: user (with nice), busy (user, system, irq, softirq) and
// total (steal and iowait count as not busy).
function machineCpuMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f.map(Number);
  const toMs = (t) => (t * 1000) / CLK_TCK;
  return {
    user: toMs(user + nice),
    busy: toMs(user + nice + system + irq + softirq),
    total: toMs(user + nice + system + idle + iowait + irq + softirq + steal),
  };
}

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

const median = (xs) => {
  const v = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

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

const luaDir = join(repoRoot, 'origin/store/lua');
// A script as the origin's store loads it: common.lua, a newline, the script.
const lua = (name) => readFileSync(join(luaDir, `${name}.lua`), 'utf8');
const scriptBody = (name) => `${lua('common')}\n${lua(name)}`;
const sha1 = (text) => createHash('sha1').update(text).digest('hex');

async function startRedis(root, name) {
  const port = await freePort();
  const dir = join(root, name);
  const pid = Number(run(join(repoRoot, 'scripts/redis-start'), [String(port), dir]).stdout.trim());
  const stop = onExit(() => killPid(pid));
  const cli = (...args) => run('redis-cli', ['-p', String(port), ...args]).stdout.trim();
  const cliInput = (input, ...args) =>
    run('redis-cli', ['-p', String(port), '-x', ...args], { input }).stdout.trim();
  return { port, pid, dir, cli, cliInput, stop };
}

function loadScript(redis, name) {
  const body = scriptBody(name);
  const sha = redis.cliInput(body, 'SCRIPT', 'LOAD');
  if (sha !== sha1(body)) {
    throw new Error(`SCRIPT LOAD of ${name} answered ${sha}, not ${sha1(body)}`);
  }
  return sha;
}

const reservedOf = (redis) => Number(redis.cli('HGET', `${KEY_PREFIX}:{${SKU}}:stock`, 'reserved'));

// Each side's function starts its servers, warms them, sizes the runs and returns
// { servers: name -> pid, round(k): one measured run of about o.seconds / o.rounds,
//   finish(result): checks the counters against the calls, labels the result, stops servers }.

// (a) reserve.lua straight at Redis: EVALSHA with an order id redis-benchmark makes unique per
// call from two random numbers below 2e9 (about 4e18 ids; -r must fit a C int).
async function redisSide(root, c, o) {
  const redis = await startRedis(root, `redis-raw-${c}`);
  const setSha = loadScript(redis, 'set');
  const reserveSha = loadScript(redis, 'reserve');
  const now = String(Date.now());
  const set = redis.cli('EVALSHA', setSha, '0', KEY_PREFIX, now, 'bench', String(SKU),
    String(STOCK), '', 'bench');
  if (!set.includes('"code":"ok"')) throw new Error(`set.lua answered ${set}`);
  const command = ['EVALSHA', reserveSha, '0', KEY_PREFIX, now, 'bench',
    'rb-__rand_int__-__rand_int__', `${SKU}:1`, String(TTL_SECONDS), '', '0'];
  const bench = (n) => {
    const r = runTimed('redis-benchmark', ['-p', String(redis.port), '-c', String(c),
      '-n', String(n), '-r', '2000000000', '--csv', ...command]);
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
  // A short first run warms the server and sizes the measured ones.
  const warm = bench(o.smoke ? SMOKE_CALLS : c * 200);
  const n = o.smoke ? SMOKE_CALLS
    : Math.max(c * 50, Math.round((warm.ok / warm.seconds) * o.roundSeconds));
  return {
    servers: { 'redis-server': redis.pid },
    round: () => bench(n),
    finish(result) {
      result.reservations_made = reservedOf(redis) - before - warm.ok;
      result.all_calls_reserved = result.reservations_made === result.ok;
      result.reserve_sha = reserveSha;
      result.label = 'raw Redis script';
      result.command = `redis-benchmark -c ${c} -n ${n} -r 2000000000 EVALSHA <reserve.lua> 0 ` +
        `${KEY_PREFIX} <now> bench rb-__rand_int__-__rand_int__ ${SKU}:1 ${TTL_SECONDS} '' 0`;
      redis.stop();
    },
  };
}

// --- the origin ----------------------------------------------------------------------------

// The last lines of a log, for an error message (the temp dir is gone after the run).
const logTail = (path) => readFileSync(path, 'utf8').trim().split('\n').slice(-20).join('\n');

async function startOrigin(root, name, o, env) {
  const redis = await startRedis(root, `redis-${name}`);
  const port = await freePort();
  const logPath = join(root, `${name}.log`);
  const logFd = openSync(logPath, 'a');
  const secret = randomBytes(32).toString('hex');
  // No STOCKGATE_* from the caller's environment: the origin runs on its defaults plus `env`.
  const inherited = Object.entries(process.env).filter(([k]) => !k.startsWith('STOCKGATE_'));
  const fullEnv = {
    ...Object.fromEntries(inherited),
    STOCKGATE_JWT_SECRET: secret,
    STOCKGATE_LISTEN: `127.0.0.1:${port}`,
    STOCKGATE_REDIS: `127.0.0.1:${redis.port}`,
    ...env,
  };
  // Output goes to a file: through a pipe, the origin would block on its request log whenever
  // this process sits in a synchronous call.
  const child = spawn(o.origin, [], { env: fullEnv, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const stopOrigin = onExit(() => child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  for (let deadline = Date.now() + 10_000; ; ) {
    if (child.exitCode !== null) {
      throw new Error(`origin exited ${child.exitCode}:\n${logTail(logPath)}`);
    }
    try {
      if ((await http('GET', `${base}/healthz`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(`origin did not answer /healthz:\n${logTail(logPath)}`);
    }
    await sleep(50);
  }
  const token = (role) =>
    run(o.origin, ['token', '--role', role, '--sub', 'bench', '--ttl', '3600'], {
      env: { STOCKGATE_JWT_SECRET: secret },
    }).stdout.trim();
  const admin = token('admin');
  const put = await http('PUT', `${base}/v1/stock/${SKU}`, {
    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ on_hand: STOCK }),
  });
  if (put.status !== 200 && put.status !== 201) {
    throw new Error(`PUT /v1/stock/${SKU} answered ${put.status}: ${put.text}`);
  }
  const reserved = async () => {
    const r = await http('GET', `${base}/v1/stock/${SKU}`);
    if (r.status !== 200) throw new Error(`GET /v1/stock/${SKU} answered ${r.status}: ${r.text}`);
    return JSON.parse(r.text).reserved;
  };
  const stop = () => {
    stopOrigin();
    redis.stop();
  };
  // The worker thread count the origin chose, from its startup log line.
  const listening = readFileSync(logPath, 'utf8')
    .split('\n')
    .find((l) => l.includes('"listening"'));
  const threads = listening ? JSON.parse(listening).log?.threads ?? null : null;
  return { redis, port, pid: child.pid, serviceToken: token('service'), reserved, stop, threads };
}

// The origin over HTTP keep-alive, one connection per concurrent client.
async function originSide(root, c, o, { name, poolSize }) {
  const env = {
    // Rate limits off for reservations: the bench is one client sending far more than the
    // default 1000/s. Everything else keeps the origin's defaults (threads: 16 per CPU, >= 64).
    STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0',
    STOCKGATE_REDIS_POOL_SIZE: String(poolSize),
  };
  const origin = await startOrigin(root, `${name}-${c}`, o, env);
  const load = (args) => {
    const r = runTimed(o.load, ['--port', String(origin.port), '-c', String(c), ...args], {
      env: { STOCKGATE_BENCH_TOKEN: origin.serviceToken },
      allowFail: true,
    });
    if (r.status !== 0 && r.status !== 1) throw new Error(`${o.load} failed:\n${r.stderr}`);
    const l = JSON.parse(r.stdout);
    return {
      requests: l.requests, ok: l.ok, errors: l.errors, seconds: l.seconds, p50_ms: l.p50_ms,
      p99_ms: l.p99_ms, mean_ms: l.mean_ms, clientCpuMs: r.cpuMs, clientUserMs: r.userMs,
    };
  };
  const before = await origin.reserved();
  const warm = load(o.smoke ? ['-n', '20', '--duration', '0', '--order-prefix', 'warm']
    : ['--duration', '1', '--order-prefix', 'warm']);
  const measured = o.smoke ? ['-n', String(SMOKE_CALLS), '--duration', '0']
    : ['--duration', String(o.roundSeconds)];
  return {
    servers: { origin: origin.pid, 'redis-server': origin.redis.pid },
    round: (k) => load([...measured, '--order-prefix', `bench${k}`]),
    async finish(result) {
      result.reservations_made = (await origin.reserved()) - before - warm.ok;
      result.all_calls_reserved =
        result.reservations_made === result.ok && result.ok === result.requests;
      result.warmup_errors = warm.errors;
      // The origin ran the very script side (a) ran: same body, same SHA.
      const sha = sha1(scriptBody('reserve'));
      result.same_script_as_raw_redis = origin.redis.cli('SCRIPT', 'EXISTS', sha) === '1';
      result.redis_pool_size = poolSize;
      result.origin_threads = origin.threads;
      result.label = `origin, redis_pool_size ${poolSize}`;
      result.command = `STOCKGATE_REDIS_POOL_SIZE=${poolSize} ` +
        `STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND=0 stockgate-origin; ` +
        `stockgate-origin-load -c ${c} ${measured.join(' ')} --order-prefix bench<round>: ` +
        `POST /v1/reservations {"order_id":"bench<round>-<conn>-<i>","items":[{"sku":${SKU},` +
        `"qty":1}],"ttl_seconds":${TTL_SECONDS}}`;
      origin.stop();
    },
  };
}

// --- MariaDB -------------------------------------------------------------------------------

async function startMariadb(root) {
  const port = await freePort();
  const dir = join(root, 'mariadb');
  const started = run(join(repoRoot, 'scripts/mariadb-start'), [String(port), dir]);
  const pid = Number(started.stdout.trim());
  const stop = onExit(() => killPid(pid));
  const sql = (text) =>
    run('mariadb', ['--no-defaults', `--socket=${dir}/mariadb.sock`, '--user=root', '--batch',
      '--skip-column-names', '-e', text]).stdout.trim();
  sql('CREATE DATABASE IF NOT EXISTS stockgate_bench; ' +
    'CREATE TABLE IF NOT EXISTS stockgate_bench.inventory ' +
    '(goods BIGINT UNSIGNED PRIMARY KEY, stocks BIGINT NOT NULL) ENGINE=InnoDB');
  return { port, pid, dir, sql, stop };
}

// (b) the seed design's hot row: every sale is one autocommit UPDATE of the same InnoDB row.
async function mysqlSide(maria, c, o) {
  maria.sql(`REPLACE INTO stockgate_bench.inventory VALUES (${SKU}, ${STOCK})`);
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

// --- main ----------------------------------------------------------------------------------

function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return ((r.stdout ?? '') + (r.stderr ?? '')).match(/\d+\.\d+\.\d+(-MariaDB)?/)?.[0] ?? 'unknown';
}

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
    origin_config: 'defaults, except: reservation rate limit off, redis_pool_size as given per ' +
      'row; request log (one JSON line per request) to a file in the temp dir',
  };

  log(`starting MariaDB in ${root}`);
  const maria = await startMariadb(root);
  const runs = [];
  for (const c of o.concurrency) {
    log(`concurrency ${c}: starting and warming every side`);
    const sides = {};
    sides.redis = await redisSide(root, c, o);
    await turn();
    sides.origin = await originSide(root, c, o, { name: 'origin', poolSize: c });
    if (c !== SHIPPED_POOL_SIZE) {
      sides.origin_shipped_pool = await originSide(root, c, o, {
        name: 'origin-shipped-pool', poolSize: SHIPPED_POOL_SIZE,
      });
    }
    sides.mysql = await mysqlSide(maria, c, o);
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
