// Shared by the benchmark drivers and the node:test suites that need servers: child processes that are cleaned up however the driver ends,
// one-shot HTTP, CPU accounting from /proc, and private servers on free loopback ports in a temp
// dir (Redis with the shipped config, MariaDB, an origin with a seeded SKU).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus as machineCpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseBlock, takeBlocks } from '../edge/live_feed.mjs';
import { parseCli } from '../scripts/cli.mjs';
import { freePort, freePortRange } from '../scripts/ports.mjs';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// --- processes and cleanup -----------------------------------------------------------------

export const cleanups = [];
export function cleanup() {
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
export function onExit(fn) {
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
export const turn = () => new Promise((ok) => setImmediate(ok));

// Runs a command to completion; throws with its output when it fails.
export function run(cmd, args, { input, env, allowFail = false } = {}) {
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

// run() without blocking, for clients that must run at the same time: resolves with
// { status, stdout, stderr } once the command exits; rejects as run() throws.
export function runAsync(cmd, args, { env, allowFail = false } = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { env: env ? { ...process.env, ...env } : process.env,
      stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('error', (e) => fail(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (status) => {
      if (status !== 0 && !allowFail) {
        fail(new Error(`${cmd} ${args.join(' ')} exited ${status}:\n${stdout}${stderr}`));
      } else {
        ok({ status, stdout, stderr });
      }
    });
  });
}

// Runs a client under bash so its CPU time (`times`: user, system) can be read afterwards.
export function runTimed(cmd, args, opts = {}) {
  const r = run('bash', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'bash', cmd, ...args], opts);
  const last = r.stderr.trim().split('\n').at(-1);
  const m = last.match(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/);
  if (!m) throw new Error(`cannot read the CPU time of ${cmd} from: ${last}`);
  const userMs = (Number(m[1]) * 60 + Number(m[2])) * 1000;
  const cpuMs = userMs + (Number(m[3]) * 60 + Number(m[4])) * 1000;
  return { ...r, cpuMs, userMs };
}

export function killPid(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export { freePort, freePortRange };

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// One HTTP request on a connection of its own. (fetch would keep connections alive, and while
// this process blocks in a client run its idle-connection timers cannot fire: the next fetch
// then picks a connection the origin has long closed.)
export function http(method, url, { headers = {}, body } = {}) {
  return new Promise((ok, fail) => {
    const req = request(url, { method, headers, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', fail);
    req.end(body);
  });
}

// --- options -----------------------------------------------------------------------------------

// Command-line options of a benchmark driver or the fault runner (scripts/cli.mjs: --help, one-line
// refusals, types from the defaults). `script` is the caller's import.meta.url, whose header
// comment is its usage. Options named in `paths` are resolved against the repository by
// o.resolvePaths() and must exist.
export function parseOptions(argv, defaults, { paths = [], script } = {}) {
  const o = parseCli(argv, defaults, { script });
  o.resolvePaths = () => {
    for (const k of paths) {
      o[k] = resolve(repoRoot, o[k]);
      if (!existsSync(o[k])) throw new Error(`${o[k]} does not exist: build the native preset first`);
    }
  };
  return o;
}

// Single-threaded servers measured against each other: on a machine of two CPUs or more each
// runs alone on the last CPU and the load generators on the others, so a load generator never
// takes CPU from the server it measures and every server meets the same conditions. null: no
// pinning (one CPU).
export const NPROC = machineCpus().length;
export const SERVER_CPU = NPROC > 1 ? String(NPROC - 1) : null;
export const LOAD_CPUS = NPROC > 1 ? (NPROC > 2 ? `0-${NPROC - 2}` : '0') : null;
// [cmd, args] to spawn, run on cpuList when it is not null.
export const pinned = (cpuList, cmd, args) => (cpuList === null ? [cmd, args]
  : ['taskset', ['-c', cpuList, cmd, ...args]]);

// --- CPU accounting ------------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

// User and system CPU time of a process and all its threads so far, in ms.
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMs = (t) => (Number(t) * 1000) / CLK_TCK;
  return { user: toMs(f[11]), system: toMs(f[12]) }; // utime, stime
}

// Machine-wide CPU time so far, in ms: user (with nice), busy (user, system, irq, softirq) and
// total (steal and iowait count as not busy).
export function machineCpuMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f.map(Number);
  const toMs = (t) => (t * 1000) / CLK_TCK;
  return {
    user: toMs(user + nice),
    busy: toMs(user + nice + system + irq + softirq),
    total: toMs(user + nice + system + idle + iowait + irq + softirq + steal),
  };
}

export const median = (xs) => {
  const v = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (!v.length) return null;
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};


export function versionOf(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return ((r.stdout ?? '') + (r.stderr ?? '')).match(/\d+\.\d+\.\d+(-MariaDB)?/)?.[0] ?? 'unknown';
}


// --- servers -----------------------------------------------------------------------------------

export async function startRedis(root, name) {
  const port = await freePort();
  const dir = join(root, name);
  const pid = Number(run(join(repoRoot, 'scripts/redis-start'), [String(port), dir]).stdout.trim());
  const stop = onExit(() => killPid(pid));
  const cli = (...args) => run('redis-cli', ['-p', String(port), ...args]).stdout.trim();
  const cliInput = (input, ...args) =>
    run('redis-cli', ['-p', String(port), '-x', ...args], { input }).stdout.trim();
  return { port, pid, dir, cli, cliInput, stop };
}

// The last lines of a log, for an error message (the temp dir is gone after the run).
export const logTail = (path) => readFileSync(path, 'utf8').trim().split('\n').slice(-20).join('\n');

// A token issuer's P-256 key (issuer.pem) and the JWK Set its verifiers take (jwks.json, kid
// `kid`), written into dir by `binary jwks`; `mint(role, sub)` signs an ES256 token with it.
export function makeIssuer(binary, dir, kid = 'test-1') {
  const keyPath = join(dir, 'issuer.pem');
  const jwksPath = join(dir, 'jwks.json');
  mkdirSync(dir, { recursive: true });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const jwks = run(binary, ['jwks', '--key', keyPath, '--kid', kid]).stdout.trim();
  writeFileSync(jwksPath, jwks);
  const mint = (role, sub, ttl = 3600) =>
    run(binary, ['token', '--role', role, '--sub', sub, '--ttl', String(ttl), '--key', keyPath,
      '--kid', kid]).stdout.trim();
  return { keyPath, jwksPath, jwks, kid, mint };
}

// An origin with its own Redis, and `sku` set to `stock` units. It verifies HS256 tokens with
// its secret and ES256 tokens of its issuer (`issuer`, see makeIssuer). The result can mint
// tokens, kill the origin process (SIGKILL) and start it again on the same port and Redis.
export async function startOrigin(root, name, { binary, sku, stock, env = {}, args = [] }) {
  const redis = await startRedis(root, `redis-${name}`);
  const port = await freePort();
  const logPath = join(root, `${name}.log`);
  const secret = randomBytes(32).toString('hex');
  const issuer = makeIssuer(binary, join(root, `${name}-issuer`));
  // No STOCKGATE_* from the caller's environment: the origin runs on its defaults plus `env`.
  const inherited = Object.entries(process.env).filter(([k]) => !k.startsWith('STOCKGATE_'));
  const fullEnv = {
    ...Object.fromEntries(inherited),
    STOCKGATE_JWT_SECRET: secret,
    STOCKGATE_JWT_JWKS_FILE: issuer.jwksPath,
    STOCKGATE_LISTEN: `127.0.0.1:${port}`,
    STOCKGATE_REDIS: `127.0.0.1:${redis.port}`,
    ...env,
  };
  const base = `http://127.0.0.1:${port}`;
  let child = null;
  let stopOrigin = () => {};
  const launch = async () => {
    // Output goes to a file: through a pipe, the origin would block on its request log whenever
    // this process sits in a synchronous call.
    const logFd = openSync(logPath, 'a');
    child = spawn(binary, args, { env: fullEnv, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    const c = child;
    stopOrigin = onExit(() => c.kill('SIGKILL'));
    for (let deadline = Date.now() + 10_000; ; ) {
      if (c.exitCode !== null) {
        throw new Error(`origin exited ${c.exitCode}:\n${logTail(logPath)}`);
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
  };
  await launch();
  const token = (role, sub = 'bench') =>
    run(binary, ['token', '--role', role, '--sub', sub, '--ttl', '3600'], {
      env: { STOCKGATE_JWT_SECRET: secret },
    }).stdout.trim();
  const adminToken = token('admin');
  const put = await http('PUT', `${base}/v1/stock/${sku}`, {
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ on_hand: stock }),
  });
  if (put.status !== 200 && put.status !== 201) {
    throw new Error(`PUT /v1/stock/${sku} answered ${put.status}: ${put.text}`);
  }
  const reserved = async () => {
    const r = await http('GET', `${base}/v1/stock/${sku}`);
    if (r.status !== 200) throw new Error(`GET /v1/stock/${sku} answered ${r.status}: ${r.text}`);
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
  return {
    redis, port, base, secret, issuer, token, adminToken, logPath, serviceToken: token('service'),
    reserved,
    stop, threads,
    get pid() { return child.pid; },
    get child() { return child; },
    // SIGKILL; resolves once the process is gone.
    async kill() {
      const c = child;
      if (c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((ok) => c.once('exit', ok));
      stopOrigin();
      await gone;
    },
    restart: launch,
  };
}

export async function startMariadb(root) {
  const port = await freePort();
  const dir = join(root, 'mariadb');
  const started = run(join(repoRoot, 'scripts/mariadb-start'), [String(port), dir]);
  const pid = Number(started.stdout.trim());
  const stop = onExit(() => killPid(pid));
  const sql = (text) =>
    run('mariadb', ['--no-defaults', `--socket=${dir}/mariadb.sock`, '--user=root', '--batch',
      '--skip-column-names', '-e', text]).stdout.trim();
  return { port, pid, dir, sql, stop };
}


const EDGE_CONFIG = join(repoRoot, 'edge/config.capnp');
export const DEMO_SITE = join(repoRoot, 'build/emscripten/web-demo/site');

// workerd serving `config` (default edge/config.capnp) on a free port, its external service
// `origin` pointed at originPort, with `env` added to its environment, on `port` when given, on
// the CPUs `cpus` (a taskset list) when given. Waits until `readyPath` answers. The edge's demo
// page comes from `site` (default: the emscripten build's, or an empty directory when that is
// not built).
export async function startWorkerd(root, name, {
  config = EDGE_CONFIG, originPort = 1, env = {}, readyPath = '/_edge/stats', site, port: fixedPort,
  readyTimeoutMs = 20_000, cpus = null, lineBuffered = false,
} = {}) {
  const { default: workerd } = await import('workerd');
  const port = fixedPort ?? await freePort();
  const logPath = join(root, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const args = ['serve', config, '--socket-addr', `http=127.0.0.1:${port}`,
    '--external-addr', `origin=127.0.0.1:${originPort}`];
  if (config === EDGE_CONFIG) {
    let dir = site ?? DEMO_SITE;
    if (!existsSync(dir)) {
      dir = join(root, `${name}-no-site`);
      mkdirSync(dir, { recursive: true });
    }
    args.push('--directory-path', `site=${dir}`);
  }
  // Imports that start with '/' are found from the repository's root, so a config written
  // elsewhere can use ours (`import "/edge/config.capnp"`).
  args.push('--import-path', repoRoot);
  // taskset and stdbuf exec workerd in their own process, so the pid is workerd's either way.
  // lineBuffered: workerd's stdout (V8's --trace-gc, for one) reaches the log a line at a time.
  const line = lineBuffered ? ['stdbuf', '-oL'] : [];
  const [cmd, ...argv] = [...(cpus === null ? [] : ['taskset', '-c', cpus]), ...line,
    workerd.default, ...args];
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = onExit(() => child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + readyTimeoutMs; ;) {
    if (child.exitCode !== null) throw new Error(`workerd exited:\n${logTail(logPath)}`);
    try {
      if ((await http('GET', `${base}${readyPath}`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`workerd did not answer:\n${logTail(logPath)}`);
    }
    await sleep(50);
  }
  return {
    port, base, pid: child.pid, logPath, stop,
    stats: async () => JSON.parse((await http('GET', `${base}/_edge/stats`)).text),
    // SIGKILL; resolves once the process is gone (its port is then free to reuse).
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      stop();
      await exited;
    },
  };
}

// The edge's answer to a buyer's reservation of `sku`, sold out, as the floor worker
// (bench/floor_worker) is to give it: { status, headers, body } without the headers workerd
// writes itself.
export async function soldOutAnswer(port, token, sku) {
  const r = await http('POST', `http://127.0.0.1:${port}/v1/reservations`, {
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ order_id: 'floor-answer', items: [{ sku, qty: 1 }] }),
  });
  if (r.status !== 409 || r.headers['x-stockgate-edge'] !== 'sold_out') {
    throw new Error(`the edge's sold-out answer: ${r.status} ${r.text}`);
  }
  const headers = Object.fromEntries(Object.entries(r.headers)
    .filter(([k]) => !['content-length', 'connection', 'keep-alive', 'date'].includes(k)));
  return { status: r.status, headers, body: r.text };
}

// One subscriber of an SSE stock feed (`GET /v1/events`) on its own connection. Resolves once
// the answer's headers are in, with { status, contentType, edge, events: [{ at, event }],
// until(match, timeoutMs), close() }: `at` is performance.now() when the event arrived, and
// until() resolves with the first stock event that matches.
export function subscribeSse(port, path = '/v1/events') {
  return new Promise((ok, fail) => {
    const events = [];
    const waiters = [];
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const at = performance.now();
        const [blocks, rest] = takeBlocks(buffer + chunk);
        buffer = rest;
        for (const block of blocks) {
          const { event: name, data } = parseBlock(block);
          if (name !== 'stock' || !data) continue;
          const event = JSON.parse(data);
          events.push({ at, event });
          for (const w of [...waiters]) {
            if (w.match(event)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.ok(event);
            }
          }
        }
      });
      res.on('error', () => {});
      ok({
        status: res.statusCode,
        contentType: res.headers['content-type'],
        edge: res.headers['x-stockgate-edge'],
        events,
        until: (match, timeoutMs = 10_000) => {
          const seen = events.find((e) => match(e.event));
          if (seen) return Promise.resolve(seen.event);
          return new Promise((found, timeout) => {
            waiters.push({ match, ok: found });
            setTimeout(() => timeout(new Error(`no matching stock event in ${timeoutMs} ms`)),
              timeoutMs).unref();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', fail);
    req.end();
  });
}

// Requests the origin at `base` has answered on a route, from its Prometheus text.
export async function originRequests(base, route) {
  const text = (await http('GET', `${base}/metrics`)).text;
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('stockgate_http_requests_total{') && line.includes(`route="${route}"`)) {
      n += Number(line.split(' ').at(-1));
    }
  }
  return n;
}

// Replaces the text between `<!-- NAME: begin -->` and `<!-- NAME: end -->` in a page, leaving the
// rest as written: the generated sections of the docs.
export function writeMarkedSection(path, name, text) {
  const begin = `<!-- ${name}: begin -->`;
  const end = `<!-- ${name}: end -->`;
  const page = readFileSync(path, 'utf8');
  const a = page.indexOf(begin);
  const b = page.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${path} lacks the markers ${begin} and ${end}`);
  writeFileSync(path, `${page.slice(0, a + begin.length)}\n${text}${page.slice(b)}`);
}

// wrk's report: the rate, the latency percentiles of --latency, and the statuses that
// bench/wrk/reserve.lua counts (its last line, JSON); `ok` counts the answers of status okStatus.
export function parseWrk(text, okStatus = '201') {
  const ms = (value, unit) => Number(value) * { us: 1e-3, ms: 1, s: 1e3, m: 6e4 }[unit];
  const pct = (p) => {
    const m = text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'));
    return m ? ms(m[1], m[2]) : null;
  };
  const rate = Number(text.match(/^Requests\/sec:\s+([\d.]+)/m)?.[1]);
  const counted = JSON.parse(text.trim().split('\n').at(-1));
  const requests = counted.requests;
  const ok = counted.statuses[okStatus] ?? 0;
  const errors = Object.fromEntries(Object.entries(counted.statuses).filter(([s]) => s !== okStatus));
  const mean = text.match(/^\s+Latency\s+([\d.]+)(us|ms|s|m)/m);
  if (!(rate > 0)) throw new Error(`wrk printed no rate:\n${text}`);
  return {
    statuses: counted.statuses, rps: rate, requests, ok, errors, seconds: requests / rate,
    p50_ms: pct(50), p99_ms: pct(99), mean_ms: mean ? ms(mean[1], mean[2]) : null,
  };
}
