// The whole stack on loopback, for the demo, development and tests: Redis, MariaDB, the schema,
// stockgate-sync, the origin (HTTP, and gRPC with the requirement documents' services), the edge
// and the demo's login service, each on a free port, all state in one data dir.
//
//   scripts/stack up [--dir DIR] [--cluster] [--foreground] [--open]
//                                                 start, wait until each part is ready, seed the
//                                                 demo SKUs, print the URLs (the demo page's
//                                                 with its tokens) and an admin token;
//                                                 --cluster runs Redis as a cluster of 3 masters
//                                                 and 3 replicas (scripts/cluster-start), writes
//                                                 acknowledged once a replica holds them, the
//                                                 keyspace in 3 partitions (one per master);
//                                                 --foreground stays attached and stops it all
//                                                 on Ctrl-C; --open opens the page in the
//                                                 desktop's browser when there is a desktop
//   scripts/stack status [--dir DIR]              health of each part, and of the origin's gRPC
//                                                 services (their health check); exit 0 when
//                                                 all are up
//   scripts/stack down [--dir DIR]                stop exactly what `up` started
//
// DIR defaults to .stockgate in the repository. DIR/stack.json records ports and pids. Tokens are
// ES256: the issuer's private key is made once per DIR (DIR/issuer.pem) and only the demo's login
// service and `up` itself sign with it; the origin and the edge get its public JWK Set
// (DIR/jwks.json) and no HS256 secret. Redis gets the ACL users of deploy/redis/users.acl and
// MariaDB the parts' users (stockgate-sync migrate, as root), with passwords made once per DIR
// (DIR/users.json); the origin and sync connect to both as theirs, and to MariaDB over TLS
// (a certificate made once per DIR, DIR/mariadb-tls). Needs the native and wasi builds and npm ci; the demo page
// needs the emscripten build (the edge serves build/emscripten/web-demo/site).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseCli } from './cli.mjs';
import { freePort, freePortRange } from './ports.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = {
  origin: join(repo, 'build/native/origin/stockgate-origin'),
  sync: join(repo, 'build/native/sync/stockgate-sync'),
  coreWasm: join(repo, 'build/wasi/wasm/core.wasm'),
};
// The demo's SKUs: id, units on hand, per-customer limit, low-stock threshold.
const DEMO_SKUS = [
  [1001, 100, 2, 10], [1002, 500, 0, 50], [1003, 1000, 5, 100], [1004, 50, 1, 10], [1005, 10, 1, 2],
];
const PARTS = ['redis', 'mariadb', 'sync', 'origin', 'edge', 'login'];
const KID = 'demo-1';

// The gRPC health check of the origin's gRPC address (npm's @grpc/grpc-js, loaded on demand so
// that `down` works without node_modules): SERVING or not, within a second.
async function grpcServing(address) {
  const require = createRequire(import.meta.url);
  const grpc = require('@grpc/grpc-js');
  const loader = require('@grpc/proto-loader');
  const proto = join(repo, 'node_modules/grpc-health-check/proto/health/v1/health.proto');
  const { Health } = grpc.loadPackageDefinition(loader.loadSync(proto, { enums: String }))
    .grpc.health.v1;
  const client = new Health(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((ok) => client.Check({ service: '' }, { deadline: Date.now() + 1000 },
      (e, r) => ok(!e && r.status === 'SERVING')));
  } finally {
    client.close();
  }
}

const say = (msg) => process.stderr.write(`stack: ${msg}\n`);

function parseArgs(argv) {
  const o = parseCli(argv,
    { dir: join(repo, '.stockgate'), cluster: false, foreground: false, open: false },
    { script: import.meta.url, positionals: true });
  o.command = o.positionals[0];
  o.dir = resolve(o.dir);
  if (o.positionals.length !== 1 || !['up', 'down', 'status'].includes(o.command)) {
    process.stderr.write('stack: give one command: up, down or status (see --help)\n');
    process.exit(2);
  }
  return o;
}

const CLUSTER_NODES = 6; // scripts/cluster-start's default: 3 masters, a replica each
// On the cluster the keyspace has a partition per master, so the sale spreads over all three.
const CLUSTER_PARTITIONS = 3;

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) counts as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

// A start script that daemonizes and prints the pid.
function runScript(script, args, env = {}) {
  const r = spawnSync(join(repo, 'scripts', script), args,
    { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed:\n${r.stderr}`);
  return Number(r.stdout.trim().split('\n').at(-1));
}

// A binary started in its own session, detached, output to a log file.
function daemon(cmd, args, env, log) {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd],
    detached: true });
  closeSync(fd);
  child.unref();
  return child.pid;
}

async function until(what, check, timeoutMs = 30_000) {
  for (const deadline = Date.now() + timeoutMs; ;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`${what} did not become ready in ${timeoutMs} ms`);
    await sleep(100);
  }
}

const httpOk = async (url) => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;

function stateOf(dir) {
  const path = join(dir, 'stack.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

// The token issuer's P-256 key (made once per DIR) and its public JWK Set, written next to it.
function issuerOf(dir) {
  const key = join(dir, 'issuer.pem');
  if (!existsSync(key)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(key, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const jwks = execFileSync(bin.origin, ['jwks', '--key', key, '--kid', KID], { encoding: 'utf8' }).trim();
  const jwksPath = join(dir, 'jwks.json');
  writeFileSync(jwksPath, `${jwks}\n`);
  return { key, jwks, jwksPath };
}

// MariaDB's TLS certificate for 127.0.0.1 (self-signed, made once per DIR with openssl) and its
// key; the origin, sync and the migration connect over TLS, trusting this certificate alone.
function mariadbTlsOf(dir) {
  const tls = join(dir, 'mariadb-tls');
  const cert = join(tls, 'server.crt');
  const key = join(tls, 'server.key');
  if (!existsSync(cert) || !existsSync(key)) {
    mkdirSync(tls, { recursive: true, mode: 0o700 });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
      'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return { cert, key };
}

// The passwords of the parts' Redis and MariaDB users, made once per DIR (DIR/users.json,
// readable by its owner only).
function redisUsers(dir) {
  const path = join(dir, 'users.json');
  if (!existsSync(path)) {
    const made = Object.fromEntries(['stockgate-origin', 'stockgate-sync', 'stockgate-admin',
      'stockgate_origin', 'stockgate_sync'].map((u) => [u, randomBytes(24).toString('base64url')]));
    writeFileSync(path, JSON.stringify(made, null, 2), { mode: 0o600 });
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

// Sets the users of deploy/redis/users.acl, with their passwords, on each Redis (through stdin:
// no password on a command line).
function applyRedisUsers(ports, passwords) {
  const commands = readFileSync(join(repo, 'deploy/redis/users.acl'), 'utf8').split('\n')
    .filter((line) => line.startsWith('user '))
    .map((line) => {
      const [, name, ...rules] = line.split(' ');
      return `ACL SETUSER ${name} reset ${rules.join(' ')} >${passwords[name]}`;
    });
  for (const port of ports) {
    const r = spawnSync('redis-cli', ['-p', String(port)], { input: commands.join('\n'), encoding: 'utf8' });
    const answers = r.stdout.trim().split('\n');
    if (r.status !== 0 || answers.length !== commands.length || answers.some((a) => a !== 'OK')) {
      throw new Error(`setting the Redis users on port ${port}: ${r.stdout}${r.stderr}`);
    }
  }
}

async function up(o) {
  for (const [what, path] of Object.entries(bin)) {
    if (!existsSync(path)) {
      throw new Error(`${path} is missing (${what}): cmake --preset native && cmake --build ` +
        '--preset native && cmake --preset wasi && cmake --build --preset wasi');
    }
  }
  const old = stateOf(o.dir);
  if (old && PARTS.some((p) => alive(old.pids?.[p]))) {
    throw new Error(`a stack from ${o.dir} is running: scripts/stack down --dir ${o.dir}`);
  }
  mkdirSync(o.dir, { recursive: true });
  const issuer = issuerOf(o.dir);
  const ports = {};
  for (const p of ['redis', 'mariadb', 'sync', 'origin', 'grpc', 'edge', 'login']) {
    ports[p] = await freePort();
  }
  const clusterDir = join(o.dir, 'redis-cluster');
  if (o.cluster) {
    const earlier = existsSync(clusterDir) && old?.cluster ? old.ports.redis : undefined;
    ports.redis = await freePortRange(2 * CLUSTER_NODES, earlier);
    if (earlier && ports.redis !== earlier) {
      // Its nodes would look for each other on the old ports: start a new cluster, keep the old.
      renameSync(clusterDir, `${clusterDir}.${Date.now()}`);
      say(`the earlier cluster's ports are taken: starting a new one (old data kept beside it)`);
    }
  }
  const state = { dir: o.dir, ports, pids: {}, started_at: new Date().toISOString() };
  const save = () => writeFileSync(join(o.dir, 'stack.json'), JSON.stringify(state, null, 2));
  // root only migrates (and makes the parts' users, which may then connect over TLS only); sync
  // and the origin use their own. Every MariaDB link is TLS, verified against the stack's CA.
  const tls = mariadbTlsOf(o.dir);
  const mysqlAs = (user) => `mysql://${user}@127.0.0.1:${ports.mariadb}/stockgate` +
    `?tls-ca=${encodeURIComponent(tls.cert)}`;
  const mysql = mysqlAs('root');
  try {
    let redisArgs = ['--redis', `127.0.0.1:${ports.redis}`];
    let redisEnv = { STOCKGATE_REDIS: `127.0.0.1:${ports.redis}` };
    if (o.cluster) {
      say(`redis cluster on 127.0.0.1:${ports.redis}..${ports.redis + CLUSTER_NODES - 1}`);
      state.cluster = { dir: clusterDir };
      save();
      const r = spawnSync(join(repo, 'scripts/cluster-start'), [String(ports.redis),
        state.cluster.dir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`cluster-start failed:\n${r.stderr}`);
      state.cluster.seeds = r.stdout.trim().split('\n').at(-1);
      // The first node's pid stands for the cluster in the part list; down stops every node.
      state.pids.redis = Number(readFileSync(join(state.cluster.dir, 'node-0/redis.pid'), 'utf8'));
      redisArgs = ['--redis-cluster', state.cluster.seeds, '--redis-partitions',
        String(CLUSTER_PARTITIONS)];
      redisEnv = { STOCKGATE_REDIS_CLUSTER: state.cluster.seeds,
        STOCKGATE_REDIS_PARTITIONS: String(CLUSTER_PARTITIONS) };
    } else {
      say(`redis on 127.0.0.1:${ports.redis}`);
      state.pids.redis = runScript('redis-start', [String(ports.redis), join(o.dir, 'redis')]);
    }
    // Every node gets the shipped ACL users (deploy/redis/users.acl), set anew at each up; the
    // origin and sync connect as theirs, never as the default user.
    const redisPorts = o.cluster ? Array.from({ length: CLUSTER_NODES }, (_, i) => ports.redis + i)
      : [ports.redis];
    const users = redisUsers(o.dir);
    applyRedisUsers(redisPorts, users);
    save();
    say(`mariadb on 127.0.0.1:${ports.mariadb}`);
    state.pids.mariadb = runScript('mariadb-start', [String(ports.mariadb), join(o.dir, 'mariadb')],
      { MARIADB_TLS_CERT: tls.cert, MARIADB_TLS_KEY: tls.key });
    save();
    const common = [...redisArgs, '--redis-user', 'stockgate-sync'];
    const syncEnv = { STOCKGATE_REDIS_PASSWORD: users['stockgate-sync'] };
    execFileSync(bin.sync, [...common, '--mysql', mysql, 'migrate'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, ...syncEnv, STOCKGATE_MYSQL_PASSWORD: '',
        STOCKGATE_MYSQL_ORIGIN_PASSWORD: users.stockgate_origin,
        STOCKGATE_MYSQL_SYNC_PASSWORD: users.stockgate_sync },
    });
    say(`sync, metrics on 127.0.0.1:${ports.sync}`);
    state.pids.sync = daemon(bin.sync, [...common, '--mysql', mysqlAs('stockgate_sync'),
      '--metrics-listen', `127.0.0.1:${ports.sync}`, 'run'],
    { ...syncEnv, STOCKGATE_MYSQL_PASSWORD: users.stockgate_sync }, join(o.dir, 'sync.log'));
    save();
    say(`origin on 127.0.0.1:${ports.origin}`);
    // No HS256 secret, even one from the caller's environment: every token here is ES256.
    state.pids.origin = daemon(bin.origin, [], {
      STOCKGATE_JWT_SECRET: '',
      STOCKGATE_JWT_JWKS_FILE: issuer.jwksPath,
      STOCKGATE_LISTEN: `127.0.0.1:${ports.origin}`,
      // The requirement documents' gRPC services, beside the HTTP API.
      STOCKGATE_GRPC_LISTEN: `127.0.0.1:${ports.grpc}`,
      ...redisEnv,
      STOCKGATE_REDIS_USER: 'stockgate-origin',
      STOCKGATE_REDIS_PASSWORD: users['stockgate-origin'],
      STOCKGATE_MYSQL: mysqlAs('stockgate_origin'),
      STOCKGATE_MYSQL_PASSWORD: users.stockgate_origin,
    }, join(o.dir, 'origin.log'));
    save();
    await until('origin', () => httpOk(`http://127.0.0.1:${ports.origin}/readyz`));
    await until('origin gRPC', () => grpcServing(`127.0.0.1:${ports.grpc}`));
    say(`edge on 127.0.0.1:${ports.edge}`);
    // The edge verifies tokens with the issuer's public keys: each buyer's `sub` is its client.
    // Nothing in front of it sets a trusted address header, and X-Client-Id is not trusted.
    const edgeEnv = { ...process.env, STOCKGATE_EDGE_JWKS: issuer.jwks };
    delete edgeEnv.STOCKGATE_JWT_SECRET;
    const edge = spawnSync(join(repo, 'scripts/edge-start'),
      [String(ports.edge), `127.0.0.1:${ports.origin}`, join(o.dir, 'edge')],
      { encoding: 'utf8', env: edgeEnv });
    if (edge.status !== 0) throw new Error(`edge-start failed:\n${edge.stderr}`);
    state.pids.edge = Number(edge.stdout.trim().split('\n').at(-1));
    save();
    if (!alive(state.pids.sync)) throw new Error(`sync exited:\n${readFileSync(join(o.dir, 'sync.log'), 'utf8').slice(-2000)}`);
    say(`login (demo buyer tokens) on 127.0.0.1:${ports.login}`);
    state.pids.login = daemon(process.execPath, [join(repo, 'scripts/demo-login.mjs'),
      '--port', String(ports.login), '--key', issuer.key, '--kid', KID,
      '--allow-origin', `http://127.0.0.1:${ports.edge}`], {}, join(o.dir, 'login.log'));
    save();
    await until('login', () => httpOk(`http://127.0.0.1:${ports.login}/healthz`));

    const token = (role, sub) => execFileSync(bin.origin,
      ['token', '--role', role, '--sub', sub, '--ttl', String(7 * 86400), '--key', issuer.key,
        '--kid', KID], { encoding: 'utf8' }).trim();
    state.tokens = { admin: token('admin', 'demo-admin'), service: token('service', 'demo-shop') };
    for (const [sku, onHand, limit, low] of DEMO_SKUS) {
      const r = await fetch(`http://127.0.0.1:${ports.origin}/v1/stock/${sku}`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${state.tokens.admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ on_hand: onHand, per_customer_limit: limit, low_stock_threshold: low,
          reason: 'demo seed' }),
      });
      if (!r.ok) throw new Error(`seeding SKU ${sku} answered ${r.status}: ${await r.text()}`);
    }
    state.urls = {
      edge: `http://127.0.0.1:${ports.edge}/`,
      // The admin token and the login service ride in the fragment, which the browser never
      // sends; the page keeps them. Simulated buyers get their own tokens from the login.
      page: `http://127.0.0.1:${ports.edge}/#admin=${state.tokens.admin}&login=http://127.0.0.1:${ports.login}`,
      login: `http://127.0.0.1:${ports.login}/`,
      origin: `http://127.0.0.1:${ports.origin}/`,
      api_docs: `http://127.0.0.1:${ports.origin}/docs`,
      grpc: `127.0.0.1:${ports.grpc}`,
    };
    save();
  } catch (e) {
    say(`up failed, stopping what started: ${e.message}`);
    await down(o);
    throw e;
  }
  process.stdout.write([
    `stockgate is up (data in ${o.dir})`,
    `  demo page:                 ${state.urls.page}`,
    `  edge (buyers):             ${state.urls.edge}`,
    `  origin API:                ${state.urls.origin}`,
    `  API docs:                  ${state.urls.api_docs}`,
    `  origin gRPC:               ${state.urls.grpc} (grpc.health.v1, reflection)`,
    state.cluster ? `  redis cluster ${state.cluster.seeds}, mariadb ${mysql}`
      : `  redis 127.0.0.1:${ports.redis}, mariadb ${mysql}`,
    `  demo SKUs: ${DEMO_SKUS.map(([s]) => s).join(', ')}`,
    `  admin token (7 days): ${state.tokens.admin}`,
    '',
  ].join('\n'));
  if (o.open) openPage(state.urls.page);
  if (o.foreground) {
    say('running; Ctrl-C stops everything');
    // Signal handlers do not keep node running; a watch on the parts does, and reports a part
    // that dies.
    const watch = setInterval(() => {
      for (const part of PARTS) {
        if (state.pids[part] && !alive(state.pids[part])) {
          say(`${part} (pid ${state.pids[part]}) is gone; see its log in ${o.dir}`);
          state.pids[part] = 0;
        }
      }
    }, 1000);
    await new Promise((ok) => {
      process.once('SIGINT', ok);
      process.once('SIGTERM', ok);
    });
    clearInterval(watch);
    await down(o);
  }
}

// The page in the desktop's browser (xdg-open), when there is a desktop to show it on.
function openPage(url) {
  const desktop = process.env.DISPLAY || process.env.WAYLAND_DISPLAY;
  const opener = spawnSync('sh', ['-c', 'command -v xdg-open'], { encoding: 'utf8' }).stdout.trim();
  if (!desktop || !opener) {
    say('no desktop here: open the demo page link above in a browser');
    return;
  }
  spawn(opener, [url], { stdio: 'ignore', detached: true }).unref();
  say('opened the demo page in the browser');
}

// SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone.
async function stop(pid, graceMs) {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    while (alive(pid)) await sleep(20);
  }
}

async function down(o) {
  const state = stateOf(o.dir);
  if (!state) {
    say(`nothing recorded in ${o.dir}`);
    return;
  }
  for (const part of [...PARTS].reverse()) {
    const pid = state.pids?.[part];
    if (part === 'redis' && state.cluster) {
      const r = spawnSync(join(repo, 'scripts/cluster-start'), ['--stop', state.cluster.dir],
        { encoding: 'utf8' });
      if (r.status !== 0) say(`stopping the redis cluster: ${r.stderr.trim()}`);
      say('redis cluster stopped');
      continue;
    }
    if (!pid) continue;
    await stop(pid, part === 'mariadb' ? 30_000 : 10_000);
    say(`${part} stopped`);
  }
  state.pids = {};
  writeFileSync(join(o.dir, 'stack.json'), JSON.stringify(state, null, 2));
}

async function status(o) {
  const state = stateOf(o.dir);
  if (!state) {
    process.stdout.write(`no stack in ${o.dir}\n`);
    return 1;
  }
  const { ports, pids } = state;
  const checks = {
    redis: () => (state.cluster
      ? spawnSync('redis-cli', ['-p', String(ports.redis), 'CLUSTER', 'INFO'], { encoding: 'utf8' })
        .stdout.includes('cluster_state:ok')
      : spawnSync('redis-cli', ['-p', String(ports.redis), 'PING'], { encoding: 'utf8' })
        .stdout.trim() === 'PONG'),
    mariadb: () => spawnSync('mariadb-admin', ['--no-defaults', '-h', '127.0.0.1', '-P',
      String(ports.mariadb), '-u', 'root', '--connect-timeout=1', 'ping']).status === 0,
    sync: () => (ports.sync ? httpOk(`http://127.0.0.1:${ports.sync}/metrics`) : alive(pids.sync)),
    origin: () => httpOk(`http://127.0.0.1:${ports.origin}/readyz`),
    edge: () => httpOk(`http://127.0.0.1:${ports.edge}/_edge/stats`),
    login: () => httpOk(`http://127.0.0.1:${ports.login}/healthz`),
  };
  let healthy = 0;
  for (const part of PARTS) {
    let up = false;
    try {
      up = alive(pids?.[part]) && await checks[part]();
    } catch {
      up = false;
    }
    healthy += up ? 1 : 0;
    const where = part === 'redis' && state.cluster ? `cluster ${state.cluster.seeds}`
      : ports[part] ? `127.0.0.1:${ports[part]}` : '';
    process.stdout.write(`${part.padEnd(8)} ${up ? 'up  ' : 'DOWN'} pid ${pids?.[part] ?? '-'} ${where}\n`);
  }
  // The origin's gRPC services: its health service, SERVING while Redis answers.
  let wanted = PARTS.length;
  if (ports.grpc) {
    wanted += 1;
    let up = false;
    try {
      up = alive(pids?.origin) && await grpcServing(`127.0.0.1:${ports.grpc}`);
    } catch {
      up = false;
    }
    healthy += up ? 1 : 0;
    process.stdout.write(`${'grpc'.padEnd(8)} ${up ? 'up  ' : 'DOWN'} pid ${pids?.origin ?? '-'} 127.0.0.1:${ports.grpc}\n`);
  }
  return healthy === wanted ? 0 : 1;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.command === 'up') await up(o);
  if (o.command === 'down') await down(o);
  if (o.command === 'status') process.exitCode = await status(o);
}

main().catch((e) => {
  process.stderr.write(`stack: ${e.message}\n`);
  process.exit(1);
});
