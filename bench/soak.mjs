// Soak: the whole path (edge in workerd -> origin -> Redis, with stockgate-sync writing the
// history into MariaDB) held at half its capacity for a long time, to show that memory and latency
// stay flat. First a 10 s closed-loop burst through the edge measures the capacity; then an
// open-loop generator sends half that rate (direct sales of one unit, 20% of them replaced by
// stock reads) for --minutes. Every 10 s it samples each process's resident memory, Redis's
// used_memory and sync's backlog; per minute it reports the rate achieved, p50/p99 latency and
// errors. The verdict compares the last minute with the second (the first warms up) as ratios.
// Sync runs with a retention of --retention seconds (60), so that finished orders leave Redis
// within the run: Redis's memory should stop growing once the first ones leave.
//
//   node bench/soak.mjs [--minutes 10] [--retention 60] [--report docs/reliability.md] [--smoke]
//   node bench/soak.mjs --from bench/results/soak.json --report docs/reliability.md
//       the report of an earlier run
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import {
  median, onExit, parseOptions, repoRoot, sleep, startMariadb, startOrigin, startWorkerd,
  writeMarkedSection,
} from './harness.mjs';

const SKUS = [21, 22, 23, 24];
const STOCK = 2_000_000_000;

function options() {
  const o = parseOptions(process.argv.slice(2), {
    minutes: 10, report: '', smoke: false, probeConcurrency: 32, fraction: 0.5, from: '',
    retention: 60,
    origin: 'build/native/origin/stockgate-origin',
    sync: 'build/native/sync/stockgate-sync',
  }, { script: import.meta.url, paths: ['origin', 'sync'] });
  o.resolvePaths();
  if (o.smoke) Object.assign(o, { minutes: 0.25, probeSeconds: 2, sampleMs: 2000, bucketMs: 5000 });
  else Object.assign(o, { probeSeconds: 10, sampleMs: 10_000, bucketMs: 60_000 });
  return o;
}

function rssMb(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);

async function main() {
  const o = options();
  if (o.from) {
    // The report of an earlier run, from its results file.
    const text = soakReport(JSON.parse(readFileSync(resolve(repoRoot, o.from), 'utf8')));
    process.stdout.write(`${text}\n`);
    if (o.report) writeMarkedSection(resolve(repoRoot, o.report), 'soak', text);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'stockgate-soak-'));
  onExit(() => rmSync(root, { recursive: true, force: true }));
  const maria = await startMariadb(root);
  const origin = await startOrigin(root, 'origin', {
    binary: o.origin, sku: SKUS[0], stock: STOCK,
    env: {
      STOCKGATE_MYSQL: `mysql://root@127.0.0.1:${maria.port}/stockgate`,
      STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0',
      STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND: '0',
      STOCKGATE_LOG_LEVEL: 'warn',
    },
  });
  for (const sku of SKUS.slice(1)) {
    const r = await fetch(`${origin.base}/v1/stock/${sku}`, {
      method: 'PUT', body: JSON.stringify({ on_hand: STOCK }),
      headers: { Authorization: `Bearer ${origin.adminToken}`, 'Content-Type': 'application/json' },
    });
    if (!r.ok) throw new Error(`PUT ${sku}: ${r.status}`);
  }
  const syncLog = join(root, 'sync.log');
  const fd = openSync(syncLog, 'a');
  const sync = spawn(o.sync, ['--redis', `127.0.0.1:${origin.redis.port}`,
    '--mysql', `mysql://root@127.0.0.1:${maria.port}/stockgate`, '--consumer', 'soak',
    '--retention-seconds', String(o.retention), 'run'],
  { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  onExit(() => sync.kill('SIGKILL'));
  // The soak plays a trusted proxy in front of the edge: its X-Client-Id names the client.
  const edge = await startWorkerd(root, 'edge', {
    originPort: origin.port,
    env: { STOCKGATE_EDGE_CLIENT_RATE: '0', STOCKGATE_EDGE_TRUST_CLIENT_ID: '1' },
  });

  let seq = 0;
  const token = origin.serviceToken;
  // One call: a direct sale of one unit of a random SKU, or (one in five) a stock read.
  const one = async () => {
    const t0 = performance.now();
    const n = seq++;
    let ok = false;
    let why = '';
    try {
      const sku = SKUS[n % SKUS.length];
      const r = n % 5 === 4
        ? await fetch(`${edge.base}/v1/stock/${sku}`)
        : await fetch(`${edge.base}/v1/reservations`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json',
            'X-Client-Id': `soak-${n % 64}` },
          body: JSON.stringify({ order_id: `soak-${n}`, items: [{ sku, qty: 1 }], confirm: true }),
        });
      const body = await r.text();
      ok = r.status === 200 || r.status === 201;
      if (!ok) why = `${r.status} ${r.headers.get('x-stockgate-edge')} ${body.slice(0, 80)}`;
    } catch (e) {
      ok = false;
      why = `no answer: ${e.cause?.code ?? e.message}`;
    }
    return { ms: performance.now() - t0, ok, why };
  };

  // Capacity: closed loop, probeConcurrency callers, probeSeconds.
  process.stderr.write(`soak: measuring capacity for ${o.probeSeconds} s\n`);
  let probeDone = 0;
  const probeEnd = Date.now() + o.probeSeconds * 1000;
  await Promise.all(Array.from({ length: o.probeConcurrency }, async () => {
    while (Date.now() < probeEnd) {
      if ((await one()).ok) probeDone++;
    }
  }));
  const capacity = probeDone / o.probeSeconds;
  const rate = Math.max(10, Math.round(capacity * o.fraction));
  process.stderr.write(`soak: capacity ${Math.round(capacity)}/s; holding ${rate}/s for ${o.minutes} min\n`);

  // Open loop at `rate`: requests are sent on schedule whatever the answers do; those the
  // generator could not start (more than 4096 in flight) are counted, never silently skipped.
  const pids = { origin: origin.pid, edge: edge.pid, sync: sync.pid, redis: origin.redis.pid, mariadb: maria.pid };
  const buckets = [];
  const samples = [];
  const errorKinds = new Map(); // what a failed call got -> how many
  const start = Date.now();
  const end = start + o.minutes * 60_000;
  let inFlight = 0;
  let credit = 0;
  let last = start;
  const bucketOf = (t) => {
    const i = Math.floor((t - start) / o.bucketMs);
    while (buckets.length <= i) buckets.push({ lat: [], ok: 0, errors: 0, skipped: 0 });
    return buckets[i];
  };
  const sampler = setInterval(() => {
    const info = origin.redis.cli('INFO', 'memory');
    const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN) / 2 ** 20;
    const groups = origin.redis.cli('XINFO', 'GROUPS', 'sg:{p0}:ledger').split('\n');
    const g = {};
    for (let i = 0; i + 1 < groups.length; i += 2) g[groups[i]] = groups[i + 1];
    samples.push({
      t: (Date.now() - start) / 1000,
      ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [`${k}_rss_mb`, rssMb(pid)])),
      redis_used_mb: used,
      sync_backlog: Number(g.pending ?? 0) + Number(g.lag ?? 0),
      orders: seq,
    });
  }, o.sampleMs);
  while (Date.now() < end) {
    const now = Date.now();
    credit += ((now - last) / 1000) * rate;
    last = now;
    for (; credit >= 1; credit--) {
      const b = bucketOf(now);
      if (inFlight >= 4096) {
        b.skipped++;
        continue;
      }
      inFlight++;
      one().then((r) => {
        inFlight--;
        const done = bucketOf(Date.now());
        if (r.ok) {
          done.ok++;
          done.lat.push(r.ms);
        } else {
          done.errors++;
          errorKinds.set(r.why, (errorKinds.get(r.why) ?? 0) + 1);
        }
      });
    }
    await sleep(5);
  }
  clearInterval(sampler);
  while (inFlight > 0) await sleep(20);

  const minutes = buckets.slice(0, Math.ceil((o.minutes * 60_000) / o.bucketMs)).map((b, i) => {
    const lat = b.lat.sort((x, y) => x - y);
    const from = (i * o.bucketMs) / 1000;
    const inside = samples.filter((s) => s.t > from && s.t <= from + o.bucketMs / 1000);
    const at = inside.at(-1) ?? {};
    return {
      from_s: from, answered_per_s: (b.ok + b.errors) / (o.bucketMs / 1000), ok: b.ok,
      errors: b.errors, skipped: b.skipped, p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99),
      origin_rss_mb: at.origin_rss_mb, edge_rss_mb: at.edge_rss_mb, sync_rss_mb: at.sync_rss_mb,
      redis_used_mb: at.redis_used_mb, mariadb_rss_mb: at.mariadb_rss_mb,
      sync_backlog: median(inside.map((s) => s.sync_backlog)), orders: at.orders,
    };
  });
  const errorsByKind = Object.fromEntries([...errorKinds].sort((a, b) => b[1] - a[1]).slice(0, 8));
  const result = { capacity, rate, minutes: o.minutes, retention_s: o.retention, probe_s: o.probeSeconds, bucket_s: o.bucketMs / 1000, rows: minutes, samples,
    errors_by_kind: errorsByKind,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB` };
  if (!minutes.length || minutes.some((m) => m.ok === 0)) throw new Error('a period without one answered call');
  mkdirSync(join(repoRoot, 'bench/results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench/results/soak.json'), JSON.stringify(result, null, 2));
  const text = soakReport(result);
  process.stdout.write(`${text}\n`);
  if (o.report) writeMarkedSection(resolve(repoRoot, o.report), 'soak', text);
  sync.kill('SIGTERM');
}

function soakReport(r) {
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const rows = r.rows.map((m) => `| ${f(m.from_s / 60, 1)} | ${f(m.answered_per_s, 0)} | ${m.errors} | ` +
    `${m.skipped} | ${f(m.p50_ms, 2)} | ${f(m.p99_ms, 2)} | ${f(m.origin_rss_mb)} | ${f(m.edge_rss_mb)} | ` +
    `${f(m.sync_rss_mb)} | ${f(m.redis_used_mb)} | ${f(m.mariadb_rss_mb)} | ${f(m.sync_backlog, 0)} |`);
  const second = r.rows[1] ?? r.rows[0];
  const middle = r.rows[Math.floor(r.rows.length / 2)];
  const lastRow = r.rows.at(-1);
  const ratio = (k) => `${f(lastRow[k] / second[k], 2)} (${f(lastRow[k] / middle[k], 2)})`;
  // Growth once retention is removing orders: from the fifth period on (an order leaves about
  // two minutes after it finished: the retention, and a minute of clock margin behind sync).
  const settled = r.rows[Math.min(4, r.rows.length - 1)];
  const perThousand = lastRow.orders > settled.orders
    ? ((lastRow.redis_used_mb - settled.redis_used_mb) * 1024) / ((lastRow.orders - settled.orders) / 1000)
    : NaN;
  return [
    `Written by \`node bench/soak.mjs --minutes ${r.minutes} --report docs/reliability.md\`. Machine: ${r.machine}.`,
    '',
    `Capacity through the edge, measured first (closed loop, 32 callers, ${r.probe_s} s): ${Math.round(r.capacity)} ` +
    `answers/s. Held: ${r.rate} requests/s, open loop, for ${r.minutes} minutes (${Math.round(r.rate * r.minutes * 60).toLocaleString('en')} requests).`,
    '',
    `| minute | answered/s | errors | not sent | p50 ms | p99 ms | origin RSS MB | edge RSS MB | sync RSS MB | Redis used MB | MariaDB RSS MB | sync backlog |`,
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    `Last period ÷ second period (÷ the middle one): p50 ${ratio('p50_ms')}, p99 ${ratio('p99_ms')}, ` +
    `origin RSS ${ratio('origin_rss_mb')}, edge RSS ${ratio('edge_rss_mb')}, sync RSS ${ratio('sync_rss_mb')}. ` +
    `Sync ran with a retention of ${r.retention_s ?? '—'} s: an order's records leave Redis about two ` +
    'minutes after it finished (the retention, plus a minute of clock margin behind what sync has ' +
    'written), and its id joins the 16 MiB filter of retired ids. From the fifth period on Redis ' +
    `changed by ${f(perThousand, 1)} KiB per 1,000 orders (without retention every record stays: ` +
    'about 134 KiB per 1,000 orders in earlier soaks).',
    '',
    Object.keys(r.errors_by_kind ?? {}).length
      ? `What the failed calls got: ${Object.entries(r.errors_by_kind).map(([k, n]) => `${n} × \`${k}\``).join('; ')}.`
      : 'No call failed.',
    '',
  ].join('\n');
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`soak: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
