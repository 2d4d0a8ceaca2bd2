// How fast stockgate-sync writes the history into MariaDB, and how far behind the stream it runs
// while the origin takes reservations. Everything runs on private servers (loopback, free ports,
// a temp dir) with the shipped durability: Redis with origin/redis.conf (appendfsync always),
// MariaDB with innodb_flush_log_at_trx_commit=1 (scripts/mariadb-start).
//
//   node bench/sync_bench.mjs [--batch 1,50,500] [--backlog 20000] [--rounds 3] [--seconds 20]
//                             [--concurrency 32] [--lag-concurrency 256] [--origin BIN]
//                             [--load BIN] [--sync BIN]
//       JSON to stdout (bench/run keeps it as bench/results/sync.json)
//   node bench/sync_bench.mjs --smoke
//       small backlogs and a two-second load: everything starts, drains and is counted right; no
//       timings are judged
//
// Ingest: with sync stopped, stockgate-origin-load makes a backlog of reservations (each one
// ledger event and one reservation record in the outbox); then stockgate-sync starts with a batch
// size and its own fresh database, and the time until the consumer group has nothing pending or
// undelivered gives events per second. Batch size 1 gets a tenth of the backlog (one fsynced
// transaction per event is slow). Lag: sync (batch 500) runs while the origin takes a sustained
// sale at its peak (--lag-concurrency clients for --seconds); its final stats line gives the lag
// percentiles (now minus the stream time of the newest event of each committed batch) and the
// events it wrote; the backlog is sampled every 250 ms for its largest value, and the time from
// the end of the load until nothing is left is the drain time.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  cleanups, logTail, median, onExit, parseOptions, run, sleep, startMariadb, startOrigin, turn,
  versionOf,
} from './harness.mjs';

const SKU = 1;
const STOCK = 2_000_000_000;
const log = (msg) => process.stderr.write(`sync_bench: ${msg}\n`);

function parseArgs(argv) {
  const o = parseOptions(argv, {
    smoke: false,
    batch: [1, 50, 500],
    backlog: 20_000, // reservations per drain round (a tenth for batch size 1)
    rounds: 3,
    seconds: 20,
    concurrency: 32,
    lagConcurrency: 256,
    origin: 'build/native/origin/stockgate-origin',
    load: 'build/native/bench/stockgate-origin-load',
    sync: 'build/native/sync/stockgate-sync',
  }, { script: import.meta.url, paths: ['origin', 'load', 'sync'] });
  if (o.smoke) {
    Object.assign(o, { backlog: 300, rounds: 1, seconds: 2, concurrency: 4, lagConcurrency: 8 });
  }
  o.resolvePaths();
  return o;
}

// The consumer group's backlog: entries delivered but unacknowledged, and not yet delivered.
function backlogOf(redis) {
  const out = redis.cli('XINFO', 'GROUPS', 'sg:{p0}:ledger').split('\n');
  const info = {};
  for (let i = 0; i + 1 < out.length; i += 2) info[out[i]] = out[i + 1];
  return { pending: Number(info.pending ?? NaN), lag: Number(info.lag ?? NaN) };
}

async function startSync(root, name, o, redis, maria, database, batch) {
  const logPath = join(root, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(o.sync, [
    '--redis', `127.0.0.1:${redis.port}`,
    '--mysql', `mysql://root@127.0.0.1:${maria.port}/${database}`,
    '--batch-size', String(batch), '--sweep-interval-ms', '0', '--stats-interval-ms', '3600000',
  ], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const kill = onExit(() => child.kill('SIGKILL'));
  const exited = new Promise((ok) => child.on('exit', (code) => ok(code)));
  return {
    child,
    // SIGTERM, then the last stats line it logged while stopping.
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      kill();
      if (code !== 0) throw new Error(`stockgate-sync exited ${code}:\n${logTail(logPath)}`);
      const stats = readFileSync(logPath, 'utf8').split('\n').filter((l) => l.includes('"sync stats"'));
      if (!stats.length) throw new Error(`stockgate-sync logged no stats:\n${logTail(logPath)}`);
      return JSON.parse(stats.at(-1)).log;
    },
    logPath,
  };
}

async function waitDrained(redis, child, logPath, timeoutMs) {
  for (const deadline = Date.now() + timeoutMs; ;) {
    if (child.exitCode !== null) throw new Error(`stockgate-sync exited:\n${logTail(logPath)}`);
    try {
      const b = backlogOf(redis);
      if (b.pending === 0 && b.lag === 0) return;
    } catch {
      // The group does not exist until sync has started.
    }
    if (Date.now() > deadline) throw new Error(`not drained in ${timeoutMs} ms`);
    await sleep(20);
  }
}

function load(o, origin, args, concurrency = o.concurrency) {
  const r = run(o.load, ['--port', String(origin.port), '-c', String(concurrency), ...args], {
    env: { STOCKGATE_BENCH_TOKEN: origin.serviceToken },
    allowFail: true,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`${o.load} failed:\n${r.stderr}`);
  const l = JSON.parse(r.stdout);
  if (l.ok !== l.requests) throw new Error(`load: ${l.requests} requests, ${l.ok} ok`);
  return l;
}

// load() without blocking this process, so that it can watch the backlog meanwhile.
function loadAsync(o, origin, args, concurrency) {
  return new Promise((ok, fail) => {
    const child = spawn(o.load, ['--port', String(origin.port), '-c', String(concurrency), ...args],
      { env: { ...process.env, STOCKGATE_BENCH_TOKEN: origin.serviceToken } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => {
      if (code !== 0 && code !== 1) return fail(new Error(`${o.load} failed:\n${err}`));
      const l = JSON.parse(out);
      if (l.ok !== l.requests) return fail(new Error(`load: ${l.requests} requests, ${l.ok} ok`));
      ok(l);
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'stockgate-sync-bench-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));
  const context = {
    date: new Date().toISOString(),
    smoke: o.smoke,
    nproc: cpus().length,
    load_avg: loadavg(),
    concurrency: o.concurrency,
    lag_concurrency: o.lagConcurrency,
    backlog: o.backlog,
    rounds: o.rounds,
    seconds: o.seconds,
    redis_version: versionOf('redis-server', ['--version']),
    mariadb_version: versionOf('mariadbd', ['--version']),
    durability: 'Redis: origin/redis.conf (AOF, appendfsync always); MariaDB: InnoDB, ' +
      'innodb_flush_log_at_trx_commit=1, doublewrite on (scripts/mariadb-start)',
  };
  log(`starting MariaDB and an origin in ${root}`);
  const maria = await startMariadb(root);
  const origin = await startOrigin(root, 'origin', {
    binary: o.origin, sku: SKU, stock: STOCK,
    env: { STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND: '0' },
  });
  const redis = origin.redis;

  const ingest = [];
  let order = 0;
  for (const batch of o.batch) {
    const rounds = [];
    for (let k = 0; k < o.rounds; k++) {
      const reservations = batch === 1 ? Math.max(50, Math.round(o.backlog / 10)) : o.backlog;
      load(o, origin, ['-n', String(reservations), '--duration', '0', '--order-prefix',
        `b${order++}`]);
      await turn();
      const database = `ingest_b${batch}_r${k}`;
      log(`batch size ${batch}, round ${k + 1}/${o.rounds}: draining ${reservations} reservations`);
      const started = Date.now();
      const sync = await startSync(root, database, o, redis, maria, database, batch);
      await waitDrained(redis, sync.child, sync.logPath, 600_000);
      const seconds = (Date.now() - started) / 1000;
      await sync.stop();
      const events = Number(maria.sql(`SELECT COUNT(*) FROM ${database}.inventory_history`));
      // The first backlog also holds the SKU's set event.
      const reserves = Number(maria.sql(
        `SELECT COUNT(*) FROM ${database}.inventory_history WHERE op = 'reserve'`));
      const records = Number(maria.sql(`SELECT COUNT(*) FROM ${database}.reservations`));
      if (reserves !== reservations || records !== reservations) {
        throw new Error(`batch ${batch}: ${reservations} reservations made, but ${reserves} ` +
          `reserve events and ${records} reservation rows`);
      }
      rounds.push({ events, seconds, events_per_s: events / seconds });
      await turn();
    }
    ingest.push({
      batch_size: batch,
      events_per_round: rounds[0].events,
      rounds: rounds.length,
      events_per_s: median(rounds.map((r) => r.events_per_s)),
      events_per_s_rounds: rounds.map((r) => r.events_per_s),
    });
  }

  log(`lag: sync (batch 500) running under ${o.seconds} s of reservations at ` +
    `concurrency ${o.lagConcurrency}`);
  const database = 'lag';
  const sync = await startSync(root, 'lag', o, redis, maria, database, 500);
  await waitDrained(redis, sync.child, sync.logPath, 60_000);  // it has caught up
  // The load runs in a child process; meanwhile the backlog is sampled.
  let maxBacklog = 0;
  let loading = true;
  const sampler = (async () => {
    while (loading) {
      try {
        const b = backlogOf(redis);
        maxBacklog = Math.max(maxBacklog, b.pending + b.lag);
      } catch {
        // A sample lost to a busy Redis is skipped.
      }
      await sleep(250);
    }
  })();
  const l = await loadAsync(o, origin, ['--duration', String(o.seconds), '--order-prefix', 'lag'],
    o.lagConcurrency);
  loading = false;
  await sampler;
  const loadEnded = Date.now();
  await waitDrained(redis, sync.child, sync.logPath, 600_000);
  const drainMs = Date.now() - loadEnded;
  const stats = await sync.stop();
  const lag = {
    batch_size: 500,
    concurrency: o.lagConcurrency,
    seconds: l.seconds,
    reservations_per_s: l.rps,
    reserve_p50_ms: l.p50_ms,
    reserve_p99_ms: l.p99_ms,
    events_written: stats.events,
    batches: stats.batches,
    lag_p50_ms: stats.lag_p50_ms,
    lag_p99_ms: stats.lag_p99_ms,
    max_backlog_entries: maxBacklog,
    drain_ms_after_load: drainMs,
  };
  if (stats.events !== l.ok) {
    throw new Error(`lag run: ${l.ok} reservations but sync wrote ${stats.events} events`);
  }
  origin.stop();
  maria.stop();
  process.stdout.write(JSON.stringify({ context, ingest, lag }, null, 2) + '\n');
  if (o.smoke) log('smoke: every drain wrote each event once, and the lag run kept up');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`sync_bench: ${err.stack || err}\n`);
    process.exit(1);
  },
);
