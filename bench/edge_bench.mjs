// The edge measured in one run: (1) a flash sale through the edge and straight at the origin
// (units sold, share of requests that reached the origin, rate and p99 of each path), and (2) the
// edge's reject paths against a bare workerd worker that only answers 200 and against nginx
// limit_req (Debian nginx, the seed design's limiter), each side one single-threaded process;
// each edge side is also run side by side with the bare worker (both at once on the server CPU),
// and a second bare worker process is measured against the first as the edge is: the control. A
// floor worker (the bare one, reading the token header and giving the edge's sold-out answer)
// splits the edge's cost into what the API asks of any edge in workerd and the edge's own work.
// The edge's sides, the floor and the control are also measured in turns with the bare worker:
// one run of the load tool alternating between the two servers every --slice-ms.
//
//   node bench/edge_bench.mjs [--units 10000] [--requests 200000] [--clients 20000]
//                             [--concurrency 64] [--reject-concurrency 32] [--seconds 2]
//                             [--turn-seconds 4] [--slice-ms 250] [--rounds 12]
//                             [--origin BIN] [--load BIN]
//       JSON to stdout (bench/run keeps it as bench/results/edge.json)
//   node bench/edge_bench.mjs --smoke
//       a small sale and short reject runs: everything starts, answers and is counted right; no
//       timings are judged
//
// Loopback only; servers on free ports in a temp dir; Redis with origin/redis.conf. Needs
// workerd (npm), build/wasi/wasm/core.wasm, nginx.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  cleanups, freePort, http, LOAD_CPUS, logTail, median, NPROC, onExit, originRequests,
  parseOptions, parseWrk, pinned, processCpuMs, repoRoot, run, runAsync, SERVER_CPU, sleep,
  soldOutAnswer, startOrigin, startWorkerd, turn, versionOf,
} from './harness.mjs';

const SALE_SKU = 1;
const SOLD_OUT_SKU = 2;
const log = (msg) => process.stderr.write(`edge_bench: ${msg}\n`);

// The reject paths compare single-threaded servers, each alone on SERVER_CPU with the load
// generators on LOAD_CPUS (harness.mjs).

function parseArgs(argv) {
  const o = parseOptions(argv, {
    smoke: false,
    units: 10_000,
    requests: 200_000,
    clients: 20_000,
    concurrency: 64,
    rejectConcurrency: 32,
    seconds: 2,
    turnSeconds: 4,
    sliceMs: 250,
    rounds: 12,
    origin: 'build/native/origin/stockgate-origin',
    load: 'build/native/bench/stockgate-origin-load',
  }, { script: import.meta.url, paths: ['origin', 'load'] });
  if (o.smoke) {
    Object.assign(o, { units: 100, requests: 2_000, clients: 200, concurrency: 8,
      rejectConcurrency: 4, seconds: 0.5, turnSeconds: 1, sliceMs: 100, rounds: 2 });
  }
  o.resolvePaths();
  return o;
}

async function load(o, port, args, token = '', cpuList = null) {
  const r = await runAsync(...pinned(cpuList, o.load, ['--port', String(port), ...args]), {
    env: { STOCKGATE_BENCH_TOKEN: token }, allowFail: true,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${o.load} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

// wrk (one thread: the servers measured are single-threaded too) with bench/wrk/reserve.lua:
// POST /v1/reservations of one unit of SOLD_OUT_SKU under new order ids, with `token`. The same
// report shape as the load tool's; `ok` counts the answers of `status`.
async function wrkLoad(port, connections, seconds, prefix, status, token) {
  const r = await runAsync(...pinned(LOAD_CPUS, 'wrk', ['-t1', `-c${connections}`,
    `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '-s',
    join(repoRoot, 'bench/wrk/reserve.lua'), `http://127.0.0.1:${port}`, '--', prefix,
    String(SOLD_OUT_SKU)]), { env: { STOCKGATE_BENCH_TOKEN: token } });
  return parseWrk(r.stdout, String(status));
}

// nginx with one worker: limit_req keyed by X-Client-Id, 1 request per minute, no burst, 429
// when over; 200 otherwise. The reject path is the 429.
async function startNginx(root) {
  const port = await freePort();
  const dir = join(root, 'nginx');
  run('mkdir', ['-p', join(dir, 'logs')]);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, [
    'worker_processes 1;', 'error_log logs/error.log warn;', 'pid logs/nginx.pid;',
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    '  keepalive_requests 1000000;',
    '  client_body_temp_path logs/body; proxy_temp_path logs/proxy;',
    '  fastcgi_temp_path logs/fastcgi; uwsgi_temp_path logs/uwsgi; scgi_temp_path logs/scgi;',
    '  limit_req_zone $http_x_client_id zone=clients:10m rate=1r/m;',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    // `return` would answer in the rewrite phase, before limit_req runs; try_files comes after
    // it, so every request passes the limiter first.
    '    location / {',
    '      limit_req zone=clients nodelay;',
    '      limit_req_status 429;',
    '      try_files /nonexistent @ok;',
    '    }',
    '    location @ok { return 200 \'{"ok":true}\'; }',
    '  }',
    '}',
  ].join('\n'));
  const logPath = join(dir, 'logs/stderr.log');
  const fd = openSync(logPath, 'a');
  // A process group of its own: nginx's worker outlives a killed master (it keeps the port and
  // runs on), so the whole group is killed.
  const child = spawn(...pinned(SERVER_CPU, 'nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;']),
    { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const stop = onExit(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  for (const deadline = Date.now() + 10_000; ;) {
    if (child.exitCode !== null) throw new Error(`nginx exited:\n${logTail(logPath)}`);
    try {
      await http('GET', `http://127.0.0.1:${port}/`);
      break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error('nginx did not answer');
    await sleep(50);
  }
  // The worker process answers; the master only starts it.
  let pid = child.pid;
  for (const deadline = Date.now() + 5_000; pid === child.pid && Date.now() < deadline;) {
    const kids = run('pgrep', ['-P', String(child.pid)], { allowFail: true }).stdout.trim();
    if (kids) pid = Number(kids.split('\n')[0]);
    else await sleep(20);
  }
  return { port, stop, pid };
}

async function sale(o, root, name, viaEdge) {
  const origin = await startOrigin(root, `origin-${name}`, {
    binary: o.origin, sku: SALE_SKU, stock: o.units,
    env: { STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0' },
  });
  let edge = null;
  // The load tool plays a trusted proxy in front of the edge: its X-Client-Id names the client.
  if (viaEdge) {
    edge = await startWorkerd(root, `edge-${name}`, {
      originPort: origin.port, env: { STOCKGATE_EDGE_TRUST_CLIENT_ID: '1' },
    });
  }
  const before = await originRequests(origin.base, '/v1/reservations');
  const l = await load(o, viaEdge ? edge.port : origin.port, ['-c', String(o.concurrency),
    '-n', String(o.requests), '--duration', '0', '--clients', String(o.clients),
    '--sku', String(SALE_SKU), '--order-prefix', name], origin.serviceToken);
  const reached = (await originRequests(origin.base, '/v1/reservations')) - before;
  const sold = await origin.reserved();
  edge?.stop();
  origin.stop();
  const answered = Object.entries(l.statuses)
    .filter(([k]) => !k.startsWith('transport:')).reduce((a, [, v]) => a + v, 0);
  return {
    path: viaEdge ? 'through the edge' : 'straight at the origin',
    requests: l.requests,
    answered,
    statuses: l.statuses,
    edge_verdicts: l.edge,
    units: o.units,
    units_sold: sold,
    reached_origin: reached,
    reached_origin_share: reached / l.requests,
    seconds: l.seconds,
    answered_per_s: l.answered_rps,
    p50_ms: l.p50_ms,
    p99_ms: l.p99_ms,
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'stockgate-edge-bench-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));
  const context = {
    date: new Date().toISOString(),
    smoke: o.smoke,
    nproc: NPROC,
    server_cpu: SERVER_CPU,
    load_cpus: LOAD_CPUS,
    load_avg: loadavg(),
    workerd_version: run(
      (await import('workerd')).default.default, ['--version'], { allowFail: true },
    ).stdout.trim(),
    nginx_version: versionOf('nginx', ['-v']),
    redis_version: versionOf('redis-server', ['--version']),
    units: o.units,
    requests: o.requests,
    clients: o.clients,
    concurrency: o.concurrency,
    reject_concurrency: o.rejectConcurrency,
    seconds: o.seconds,
    turn_seconds: o.turnSeconds,
    slice_ms: o.sliceMs,
    rounds: o.rounds,
  };

  log(`flash sale: ${o.units} units, ${o.requests} requests from ${o.clients} clients, ` +
    `concurrency ${o.concurrency}, through the edge`);
  const throughEdge = await sale(o, root, 'edge', true);
  await turn();
  log('flash sale: straight at the origin');
  const direct = await sale(o, root, 'direct', false);
  await turn();

  log('reject paths: edge (sold out, invalid) vs bare workerd vs nginx limit_req');
  // One origin behind the reject-path edge, whose SKU is sold out; the client limit is off so
  // every request reaches the sold-out decision. The requests carry a buyer's ES256 token, which
  // the edge verifies once and then knows: the identity a real buyer brings.
  const origin = await startOrigin(root, 'origin-reject', {
    binary: o.origin, sku: SOLD_OUT_SKU, stock: 0,
  });
  const edge = await startWorkerd(root, 'edge-reject', {
    originPort: origin.port, cpus: SERVER_CPU,
    env: { STOCKGATE_EDGE_CLIENT_RATE: '0', STOCKGATE_EDGE_JWKS: origin.issuer.jwks },
  });
  const buyer = origin.issuer.mint('buyer', 'bench-buyer');
  const bareWorker = (name) => startWorkerd(root, name, {
    config: join(repoRoot, 'bench/bare_worker/config.capnp'), readyPath: '/', cpus: SERVER_CPU,
  });
  const bare = await bareWorker('bare');
  // The floor: the bare worker plus what the API asks of any edge here, reading the token header
  // and giving the edge's own sold-out answer (taken from the edge, so it is the same bytes).
  const answer = await soldOutAnswer(edge.port, buyer, SOLD_OUT_SKU);
  const floor = await startWorkerd(root, 'floor', {
    config: join(repoRoot, 'bench/floor_worker/config.capnp'), readyPath: '/', cpus: SERVER_CPU,
    env: { STOCKGATE_FLOOR_ANSWER: JSON.stringify(answer) },
  });
  // The control: the same bare worker in a second process, measured against the first exactly as
  // the edge is. Any distance of its ratio from 1 is the measurement's own noise in this run.
  const bareAgain = await bareWorker('bare-again');
  const nginx = await startNginx(root);
  const c = String(o.rejectConcurrency);
  // Each side is driven by the project's load tool and, where wrk's script makes the same
  // requests, by wrk as well. The bare worker gets exactly the sold-out side's requests (token,
  // body and all), so the ratio is what the edge's decision costs over workerd's own handling.
  const soldOut = ['--sku', String(SOLD_OUT_SKU)];
  const sides = {
    edge_sold_out: { label: 'edge: sold out (409, local)', server: edge, status: 409,
      args: soldOut, token: buyer },
    bare_workerd: { label: 'bare workerd worker (200), the same requests', server: bare,
      status: 200, args: soldOut, token: buyer },
    bare_workerd_again: { label: 'control: a second bare workerd worker, the same requests',
      server: bareAgain, status: 200, args: soldOut, token: buyer },
    floor_workerd: { label: 'floor: a worker that reads the token, with the edge\'s answer',
      server: floor, status: 409, args: soldOut, token: buyer },
    edge_invalid: { label: 'edge: invalid body (400, local)', server: edge, status: 400,
      args: ['--invalid'], token: buyer },
    nginx_limit_req: { label: 'nginx limit_req (429)', server: nginx, status: 429,
      args: ['--clients', '1'] },
    edge_sold_out_wrk: { label: 'edge: sold out (409, local), by wrk', server: edge,
      status: 409, wrk: true, token: buyer },
    bare_workerd_wrk: { label: 'bare workerd worker (200), the same requests, by wrk',
      server: bare, status: 200, wrk: true, token: buyer },
    bare_workerd_again_wrk: { label: 'control: a second bare workerd worker, the same requests, by wrk',
      server: bareAgain, status: 200, wrk: true, token: buyer },
    floor_workerd_wrk: { label: 'floor: a worker that reads the token, with the edge\'s answer, by wrk',
      server: floor, status: 409, wrk: true, token: buyer },
  };
  // One side's load for `seconds` (the load tool: or `calls` requests when given), as a promise
  // of its load report.
  const loadOf = (s, prefix, seconds, calls) => {
    if (s.wrk) return wrkLoad(s.server.port, c, seconds, prefix, s.status, s.token);
    const count = calls ? ['-n', String(calls), '--duration', '0'] : ['--duration', String(seconds)];
    return load(o, s.server.port, ['-c', c, ...count, '--expect-status', String(s.status),
      '--order-prefix', prefix, ...s.args], s.token, LOAD_CPUS);
  };
  const cpuOf = (s) => {
    const t = processCpuMs(s.server.pid);
    return t.user + t.system;
  };
  // Sides driven at the same time, each as a load report with its server's CPU time over it
  // (cpu_ms).
  const driveTogether = async (list, prefix, seconds, calls) => {
    const before = list.map(cpuOf);
    const reports = await Promise.all(list.map((s, i) => loadOf(s, `${prefix}${i}`, seconds, calls)));
    return reports.map((l, i) => ({ ...l, cpu_ms: cpuOf(list[i]) - before[i] }));
  };
  const drive = async (s, prefix, seconds, calls) =>
    (await driveTogether([s], prefix, seconds, calls))[0];
  // What each side is compared with: the bare worker driven by the same tool. A round runs the
  // groups below one after the other, so a side's run and the one it is compared with are at
  // most two runs apart in time (the edge's sides next to theirs); each round starts one group
  // later and runs each group the other way round from the last, so neither goes first more often.
  const bareOf = (n) => (sides[n].wrk ? 'bare_workerd_wrk' : 'bare_workerd');
  // The floor runs next to the edge's sold-out side, which it is compared with.
  const groups = [['floor_workerd', 'edge_sold_out', 'bare_workerd', 'edge_invalid',
    'bare_workerd_again'],
  ['nginx_limit_req'],
  ['floor_workerd_wrk', 'edge_sold_out_wrk', 'bare_workerd_wrk', 'bare_workerd_again_wrk']];
  const names = Object.keys(sides);
  if (groups.flat().sort().join() !== [...names].sort().join()) throw new Error('groups != sides');
  // Warm each side, then the measured rounds.
  for (const s of Object.values(sides)) await drive(s, 'warm', 1, o.rejectConcurrency * 20);
  const rounds = Object.fromEntries(names.map((n) => [n, []]));
  // Side by side: each edge side (and the control) and its bare worker at the same time, both
  // servers on the one server CPU and both loads on the load CPUs; the ratio is of answers per
  // server CPU second. Taking turns on the CPU has a cost of its own, which need not fall on both
  // alike, so the report judges the goal one after the other and shows this beside it.
  const pairs = names.filter((n) => n.startsWith('edge_') || n.startsWith('bare_workerd_again'));
  const together = Object.fromEntries(pairs.map((n) => [n, []]));
  // In turns: one run of the load tool sends a side's requests and the bare worker's in alternate
  // slices of sliceMs (stockgate-origin-load --alternate-port), so the two meet the machine within
  // a slice of each other and a drift of its speed over seconds falls on both alike. Which of the
  // two has the first slice alternates from round to round.
  const inTurnsSides = ['edge_sold_out', 'floor_workerd', 'edge_invalid', 'bare_workerd_again'];
  const inTurns = Object.fromEntries(inTurnsSides.map((n) => [n, []]));
  const driveInTurns = async (n, k) => {
    const s = sides[n];
    const b = sides.bare_workerd;
    const [first, second] = k % 2 ? [s, b] : [b, s];
    const r = await load(o, first.server.port, ['-c', c, '--duration', String(o.turnSeconds),
      '--alternate-port', String(second.server.port), '--slice-ms', String(o.sliceMs),
      '--expect-status', String(first.status), '--alternate-expect-status', String(second.status),
      '--order-prefix', `a${k}${n}`, ...s.args], s.token, LOAD_CPUS);
    const [side, bare] = k % 2 ? [r, r.alternate.report] : [r.alternate.report, r];
    // Each slice pair's answers as [side, bare]; a pair in which either had none (the machine
    // stalled for a slice) has no ratio and is counted apart.
    const counts = r.alternate.pair_ok.map(([a, b]) => (k % 2 ? [a, b] : [b, a]));
    const slices = counts.filter(([x, y]) => x > 0 && y > 0).map(([x, y]) => x / y);
    return { side, bare, slices, stalled: counts.length - slices.length };
  };
  for (let k = 0; k < o.rounds; k++) {
    for (let g = 0; g < groups.length; g++) {
      const group = groups[(g + k) % groups.length];
      for (const n of k % 2 ? [...group].reverse() : group) {
        rounds[n].push(await drive(sides[n], `r${k}`, o.seconds));
        await turn();
      }
    }
    for (const n of pairs) {
      together[n].push(await driveTogether([sides[n], sides[bareOf(n)]], `t${k}${n}`, o.seconds));
      await turn();
    }
    for (const n of inTurnsSides) {
      inTurns[n].push(await driveInTurns(n, k));
      await turn();
    }
  }
  const edgeStats = await edge.stats();
  edge.stop();
  bare.stop();
  floor.stop();
  bareAgain.stop();
  nginx.stop();
  origin.stop();
  const reject = {};
  // Answers per CPU second of the server process: what one answer costs the server, whatever else
  // the machine did meanwhile.
  const perCpu = (r) => (r.requests * 1000) / Math.max(1, r.cpu_ms);
  for (const n of names) {
    const rs = rounds[n];
    const requests = rs.reduce((a, r) => a + r.requests, 0);
    const ok = rs.reduce((a, r) => a + r.ok, 0);
    const statuses = {};
    for (const r of rs) {
      for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    }
    reject[n] = {
      label: sides[n].label,
      expected_status: sides[n].status,
      requests,
      as_expected: ok,
      statuses,
      per_s: median(rs.map((r) => r.rps)),
      per_s_rounds: rs.map((r) => r.rps),
      per_cpu_s: median(rs.map(perCpu)),
      p50_ms: median(rs.map((r) => r.p50_ms)),
      p99_ms: median(rs.map((r) => r.p99_ms)),
    };
  }
  // Side `n`'s rate divided by side `other`'s, round by round (they ran in the same group).
  const roundRatios = (n, other) => rounds[n].map((r, k) => r.rps / rounds[other][k].rps);
  // The ratio to the bare worker is taken round by round, each side's run against the bare
  // worker's run next to it in time, and the median of those is reported: the machine's speed
  // drifts over minutes, and the medians of each side's rounds alone compare different minutes.
  for (const n of names) {
    if (n === 'nginx_limit_req') continue;
    const bare = rounds[bareOf(n)];
    const vs = roundRatios(n, bareOf(n));
    reject[n].vs_bare_rounds = vs;
    reject[n].vs_bare = median(vs);
    reject[n].vs_bare_per_cpu = median(rounds[n].map((r, k) => perCpu(r) / perCpu(bare[k])));
  }
  // The edge's sold-out answer against the floor driven by the same tool, round by round as
  // against the bare worker (they ran in the same group): what the edge's own work costs.
  for (const n of ['edge_sold_out', 'edge_sold_out_wrk']) {
    reject[n].vs_floor_rounds = roundRatios(n, sides[n].wrk ? 'floor_workerd_wrk' : 'floor_workerd');
    reject[n].vs_floor = median(reject[n].vs_floor_rounds);
  }
  for (const n of pairs) {
    const vs = together[n].map(([side, bare]) => perCpu(side) / perCpu(bare));
    reject[n].side_by_side_rounds = vs;
    reject[n].vs_bare_side_by_side = median(vs);
    // What each server of the pair answered per CPU second while the two shared the CPU, to set
    // beside what each answers alone.
    reject[n].side_by_side_per_cpu_s = median(together[n].map(([side]) => perCpu(side)));
    reject[n].side_by_side_bare_per_cpu_s = median(together[n].map(([, bare]) => perCpu(bare)));
  }
  // In turns: each round's ratio of answers (the two had the same time), their median, and the
  // ratio of all rounds' answers together.
  for (const n of inTurnsSides) {
    const runs = inTurns[n];
    const vs = runs.map(({ side, bare }) => side.rps / bare.rps);
    reject[n].in_turns_rounds = vs;
    reject[n].vs_bare_in_turns = median(vs);
    reject[n].vs_bare_in_turns_pooled = runs.reduce((a, r) => a + r.side.ok, 0) /
      Math.max(1, runs.reduce((a, r) => a + r.bare.ok, 0));
    reject[n].in_turns_slices = runs.flatMap((r) => r.slices);
    reject[n].in_turns_stalled_pairs = runs.reduce((a, r) => a + r.stalled, 0);
  }
  const wrong = [];
  // Every answer of the paired runs (side by side, in turns) is checked as the others are.
  const checkPaired = (how, name, r) => {
    if (r.requests !== r.ok) {
      wrong.push(`${name} ${how}: ${r.ok} of ${r.requests} as expected ` +
        `(${JSON.stringify(r.statuses)})`);
    }
  };
  for (const n of pairs) {
    for (const [side, bare] of together[n]) {
      checkPaired('side by side', n, side);
      checkPaired('side by side', bareOf(n), bare);
    }
  }
  for (const n of inTurnsSides) {
    for (const { side, bare } of inTurns[n]) {
      checkPaired('in turns', n, side);
      checkPaired('in turns', 'bare_workerd', bare);
    }
  }
  for (const [n, r] of Object.entries(reject)) {
    // nginx passes one request a minute: at most one per round.
    const slack = n === 'nginx_limit_req' ? o.rounds : 0;
    if (r.requests - r.as_expected > slack) {
      wrong.push(`${n}: ${r.as_expected} of ${r.requests} as expected (${JSON.stringify(r.statuses)})`);
    }
  }
  if (throughEdge.units_sold !== o.units) wrong.push(`edge sale sold ${throughEdge.units_sold}`);
  if (direct.units_sold !== o.units) wrong.push(`direct sale sold ${direct.units_sold}`);
  process.stdout.write(JSON.stringify({
    context, sale: { edge: throughEdge, direct }, reject,
    edge_origin_reservations_during_reject: edgeStats.admitted,
  }, null, 2) + '\n');
  if (wrong.length) throw new Error(`the run did not measure what it claims:\n${wrong.join('\n')}`);
  if (o.smoke) log('smoke: both sales sold exactly the stock; every reject side answered as expected');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`edge_bench: ${err.stack || err}\n`);
    process.exit(1);
  },
);
