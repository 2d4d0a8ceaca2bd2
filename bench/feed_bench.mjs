// The live stock feed for a crowd: N subscribers of `GET /v1/events` on one edge process (workerd,
// the LiveFeed Durable Object fanning out one upstream subscription), then a series of stock
// changes made at the origin; for each change, how long until each subscriber had it. Also what
// the origin paid: its `/v1/events` requests and its thread count before and after the crowd.
//
//   node bench/feed_bench.mjs [--subscribers 5000] [--changes 20] [--interval-ms 500]
//                             [--origin BIN]
//       JSON to stdout (bench/run keeps it as bench/results/feed.json)
//   node bench/feed_bench.mjs --smoke
//       200 subscribers, 3 changes: everyone gets every change; no timings are judged
//
// Loopback only; servers on free ports in a temp dir. The subscribers are sockets of this one
// node process (it raises its open-file limit through bench/run's ulimit). Needs workerd (npm),
// build/wasi/wasm/core.wasm.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  cleanups, http, originRequests, parseOptions, run, sleep, startOrigin, startWorkerd,
  subscribeSse,
} from './harness.mjs';

const SKU = 1;
const log = (msg) => process.stderr.write(`feed_bench: ${msg}\n`);

function parseArgs(argv) {
  const o = parseOptions(argv, {
    smoke: false,
    subscribers: 5000,
    changes: 20,
    intervalMs: 500,
    origin: 'build/native/origin/stockgate-origin',
  }, { script: import.meta.url, paths: ['origin'] });
  if (o.smoke) Object.assign(o, { subscribers: 200, changes: 3, intervalMs: 300 });
  o.resolvePaths();
  return o;
}

const threadsOf = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Threads:\s+(\d+)/m)[1]);

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const root = mkdtempSync(join(tmpdir(), 'stockgate-feed-bench-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));
  const origin = await startOrigin(root, 'origin', { binary: o.origin, sku: SKU, stock: 1_000_000 });
  const edge = await startWorkerd(root, 'edge', { originPort: origin.port });
  const setStock = async (onHand) => {
    const r = await http('PUT', `${origin.base}/v1/stock/${SKU}`, {
      headers: { Authorization: `Bearer ${origin.adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ on_hand: onHand }),
    });
    if (r.status !== 200) throw new Error(`PUT answered ${r.status}: ${r.text}`);
  };

  // One subscriber straight at the origin: how much of each delay is the origin's own.
  const direct = await subscribeSse(origin.port);
  const originThreadsBefore = threadsOf(origin.pid);
  const eventsBefore = await originRequests(origin.base, '/v1/events');
  log(`${o.subscribers} subscribers`);
  const subscribers = [];
  const connectStarted = performance.now();
  // In waves, so the listen backlog of the edge is not what is measured.
  for (let i = 0; i < o.subscribers; i += 250) {
    const wave = Math.min(250, o.subscribers - i);
    subscribers.push(...await Promise.all(Array.from({ length: wave }, () => subscribeSse(edge.port))));
  }
  const refused = subscribers.filter((s) => s.status !== 200).length;
  const live = subscribers.filter((s) => s.status === 200);
  await Promise.all(live.map((s) => s.until((e) => e.items.some((i) => i.sku === SKU), 60_000)));
  const connectedMs = performance.now() - connectStarted;
  const originThreadsWith = threadsOf(origin.pid);

  // Each change sets a new on_hand; a subscriber has it when an event shows that availability.
  const delays = [];
  const directDelays = [];
  let missed = 0;
  for (let k = 1; k <= o.changes; k++) {
    const onHand = 1_000_000 - k;
    const madeAt = performance.now();
    await setStock(onHand);
    const has = (e) => e.items.some((i) => i.sku === SKU && i.available === onHand);
    const got = await Promise.allSettled(live.map((s) => s.until(has, 10_000)));
    await direct.until(has, 10_000);
    directDelays.push(direct.events.find((e) => has(e.event)).at - madeAt);
    for (const [n, g] of got.entries()) {
      if (g.status !== 'fulfilled') {
        missed++;
        continue;
      }
      const seen = live[n].events.find((e) => has(e.event));
      delays.push(seen.at - madeAt);
    }
    await sleep(o.intervalMs);
  }
  const stats = await edge.stats();
  const eventsAfter = await originRequests(origin.base, '/v1/events');
  for (const s of subscribers) s.close();
  direct.close();
  edge.stop();
  origin.stop();
  delays.sort((a, b) => a - b);
  directDelays.sort((a, b) => a - b);
  const result = {
    context: {
      subscribers: o.subscribers, changes: o.changes, interval_ms: o.intervalMs,
      nproc: cpus().length, load_avg: loadavg(),
      workerd_version: run((await import('workerd')).default.default, ['--version'],
        { allowFail: true }).stdout.trim(),
      origin_poll_ms: 200,
    },
    connected: live.length,
    refused,
    connect_ms: connectedMs,
    deliveries: delays.length,
    missed,
    delay_ms: { p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays.at(-1) ?? null },
    // The same changes seen by one subscriber straight at the origin (not counted below).
    origin_direct_delay_ms: { p50: percentile(directDelays, 50), max: directDelays.at(-1) ?? null },
    origin_event_requests: eventsAfter - eventsBefore,
    origin_threads: { before: originThreadsBefore, with_subscribers: originThreadsWith },
    edge_feed: stats.feed,
    command: `node bench/feed_bench.mjs --subscribers ${o.subscribers} --changes ${o.changes} ` +
      `--interval-ms ${o.intervalMs}`,
  };
  if (o.smoke) {
    if (refused > 0 || missed > 0 || result.deliveries !== live.length * o.changes ||
        result.origin_event_requests > 2) {
      throw new Error(`feed smoke failed: ${JSON.stringify(result)}`);
    }
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`feed_bench: ${err.stack || err}\n`);
    process.exit(1);
  },
);
