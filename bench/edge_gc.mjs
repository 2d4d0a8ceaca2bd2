// The garbage collector's share of a sold-out answer, from V8's own account: the edge, the floor
// worker and the bare worker (see edge_bench.mjs) each run with V8's --trace-gc, answer the same
// sold-out reservations from the load tool in turn, pass after pass, and the pauses each one
// logged are divided by its CPU time over the same answers (/proc/PID/stat). It tells whether the
// collector weighs on the edge more than on any workerd worker; docs/edge.md has what it found.
//
//   node bench/edge_gc.mjs [--answers 150000] [--passes 3] [--concurrency 32]
//                          [--v8-flags="--flag ..."] [--origin BIN] [--load BIN]
//       JSON to stdout: each worker's passes and its median share
//   node bench/edge_gc.mjs --smoke
//       5,000 answers from each, enough for every worker to log young collections: checks that
//       the log is read; no share is judged
//
// Loopback only; servers on free ports in a temp dir. Needs workerd (npm),
// build/wasi/wasm/core.wasm and the native build's origin and load tool.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  cleanups, LOAD_CPUS, median, parseOptions, pinned, processCpuMs, runAsync, SERVER_CPU,
  soldOutAnswer, startOrigin, startWorkerd, turn,
} from './harness.mjs';

const SKU = 2;
const log = (msg) => process.stderr.write(`edge_gc: ${msg}\n`);

// Each worker as a config of its own that serves the worker of one of ours (by its constant's
// name) with V8's flags added; `site` is the edge's static site, here an empty directory.
const WORKERS = {
  edge: { config: '/edge/config.capnp', worker: 'edgeWorker', status: 409 },
  floor: { config: '/bench/floor_worker/config.capnp', worker: 'floorWorker', status: 409 },
  bare: { config: '/bench/bare_worker/config.capnp', worker: 'bareWorker', status: 200 },
};

function configWith(dir, name, flags) {
  const { config, worker } = WORKERS[name];
  const path = join(dir, `${name}-gc.capnp`);
  writeFileSync(path, [
    'using Workerd = import "/workerd/workerd.capnp";',
    `using Ours = import "${config}";`,
    'const config :Workerd.Config = (',
    `  v8Flags = ${JSON.stringify(flags)},`,
    '  services = [',
    `    (name = "main", worker = Ours.${worker}),`,
    '    (name = "origin", external = (address = "127.0.0.1:1", http = ())),',
    `    (name = "site", disk = (path = ${JSON.stringify(dir)}, writable = false)),`,
    '  ],',
    '  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],',
    ');',
    '',
  ].join('\n'));
  return path;
}

// The collections in a piece of V8's --trace-gc output: { scavenges, full, pause_ms, longest_ms }
// (young and full collections; pauses in ms). A line reads
// "[pid:isolate] 3526 ms: Mark-Compact 29.0 (41.8) -> 0.8 (20.0) MB, pooled: 21.5 MB,
// 204.33 / 0.00 ms ..."; the first of the two times is the pause.
function collectionsIn(text) {
  const out = { scavenges: 0, full: 0, pause_ms: 0, longest_ms: 0 };
  for (const line of text.split('\n')) {
    const m = / ms: (Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-Sweep)\b.*?, ([\d.]+) \/ [\d.]+ ms/
      .exec(line);
    if (!m) continue;
    if (m[1] === 'Scavenge' || m[1] === 'Minor Mark-Sweep') out.scavenges++;
    else out.full++;
    out.pause_ms += Number(m[2]);
    out.longest_ms = Math.max(out.longest_ms, Number(m[2]));
  }
  return out;
}

async function main() {
  const o = parseOptions(process.argv.slice(2), {
    smoke: false,
    answers: 150_000,
    passes: 3,
    concurrency: 32,
    v8Flags: '',
    origin: 'build/native/origin/stockgate-origin',
    load: 'build/native/bench/stockgate-origin-load',
  }, { script: import.meta.url, paths: ['origin', 'load'] });
  if (o.smoke) Object.assign(o, { answers: 5_000, passes: 1, concurrency: 8 });
  o.resolvePaths();
  const flags = ['--trace-gc', ...String(o.v8Flags).split(/\s+/).filter(Boolean)];
  const root = mkdtempSync(join(tmpdir(), 'stockgate-edge-gc-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));

  // The edge verifies the buyer's token and answers from the origin's snapshot: SKU is sold out.
  const origin = await startOrigin(root, 'origin', { binary: o.origin, sku: SKU, stock: 0 });
  const buyer = origin.issuer.mint('buyer', 'gc-buyer');
  const servers = {};
  const start = (name, env, originPort = 1, readyPath = '/') => startWorkerd(root, name, {
    config: configWith(root, name, flags), originPort, env, readyPath, cpus: SERVER_CPU,
    lineBuffered: true,
  });
  servers.edge = await start('edge', { STOCKGATE_EDGE_CLIENT_RATE: '0',
    STOCKGATE_EDGE_JWKS: origin.issuer.jwks }, origin.port, '/_edge/stats');
  servers.floor = await start('floor', {
    STOCKGATE_FLOOR_ANSWER: JSON.stringify(await soldOutAnswer(servers.edge.port, buyer, SKU)),
  });
  servers.bare = await start('bare', {});

  const drive = async (name, prefix, answers) => {
    const s = servers[name];
    const logFrom = readFileSync(s.logPath).length;
    const cpu0 = processCpuMs(s.pid);
    const r = await runAsync(...pinned(LOAD_CPUS, o.load, ['--port', String(s.port),
      '-c', String(o.concurrency), '-n', String(answers), '--duration', '0',
      '--expect-status', String(WORKERS[name].status), '--order-prefix', prefix,
      '--sku', String(SKU)]), { env: { STOCKGATE_BENCH_TOKEN: buyer }, allowFail: true });
    const cpu1 = processCpuMs(s.pid);
    if (r.status !== 0) throw new Error(`${name}: the load tool exited ${r.status}:\n${r.stderr}`);
    const l = JSON.parse(r.stdout);
    if (l.ok !== answers) throw new Error(`${name}: ${l.ok} of ${answers} answers as expected`);
    const cpuMs = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
    const gc = collectionsIn(readFileSync(s.logPath).subarray(logFrom).toString('utf8'));
    return { answers: l.ok, cpu_ms: cpuMs, cpu_us_per_answer: (cpuMs * 1000) / l.ok, ...gc,
      gc_share: gc.pause_ms / Math.max(1, cpuMs) };
  };

  const names = Object.keys(WORKERS);
  for (const n of names) await drive(n, `warm-${n}`, Math.min(o.answers, 20_000));
  const passes = Object.fromEntries(names.map((n) => [n, []]));
  for (let k = 0; k < o.passes; k++) {
    for (const n of names) {
      const p = await drive(n, `p${k}-${n}`, o.answers);
      const share = `${(100 * p.gc_share).toFixed(1)}%`;
      log(`pass ${k} ${n}: ${p.full} full and ${p.scavenges} young collections, ` +
        `${p.pause_ms.toFixed(0)} ms of ${p.cpu_ms.toFixed(0)} ms CPU (${share})`);
      passes[n].push(p);
      await turn();
    }
  }
  for (const s of Object.values(servers)) s.stop();
  origin.stop();
  if (o.smoke) {
    // Every worker allocates enough for young collections: one that logged none was not read.
    for (const n of names) {
      if (passes[n].some((p) => p.full + p.scavenges === 0)) {
        throw new Error(`${n}: no collection found in its log`);
      }
    }
  }
  process.stdout.write(`${JSON.stringify({
    date: new Date().toISOString(),
    smoke: o.smoke,
    v8_flags: flags,
    answers_per_pass: o.answers,
    concurrency: o.concurrency,
    workers: Object.fromEntries(names.map((n) => [n, {
      gc_share_median: median(passes[n].map((p) => p.gc_share)),
      passes: passes[n],
    }])),
  }, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`edge_gc: ${err.stack || err}\n`);
    process.exit(1);
  },
);
