// Decisions per second of the core through its two wasm builds (wasi for the edge, emscripten for
// the browser), called through wasm/js/stockgate_core.mjs the way an edge worker calls it: a
// string body in, a verdict out. Operations, inputs and gate configurations match
// bench/core_bench.cc so the rates divide by the native ones.
//
//   node bench/core_bench.mjs           JSON: median ops per CPU second, per operation and flavour
//   node bench/core_bench.mjs --smoke   a few hundred calls each, verdicts checked, no timings
//
// Module paths come from STOCKGATE_WASI_MODULE and STOCKGATE_EMSCRIPTEN_MODULE, else from the
// wasi and emscripten preset build folders.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCli } from '../scripts/cli.mjs';
import { loadWasi, loadEmscripten } from '../wasm/js/stockgate_core.mjs';
import { median } from './harness.mjs';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// The reference request of core_bench.cc, byte for byte.
const BODY =
  '{"order_id":"order-000123","items":[{"sku":1001,"qty":1},{"sku":1002,"qty":2}],' +
  '"ttl_seconds":900,"customer_id":"cust-42"}';

// core_bench.cc's kSeed {0x0123456789abcdef, 0xfedcba9876543210} as the ABI's four words.
const SEED = [0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210];

const VERDICT = { admit: 0, soldOut: 3 };

const WARMUP_MS = 300; // per operation and flavour, so V8 tiers the glue and the wasm up
const REPETITIONS = 5;
const REPETITION_MS = 500;
const SMOKE_CALLS = 300;

// Each operation: setup(core) returns run(n), which makes n calls and returns how many answered
// other than expected. Counting mismatches keeps every result live and checks the timed calls
// themselves, at the cost of one comparison per call.
const OPERATIONS = [
  {
    name: 'ValidateReservation',
    setup(core) {
      return (n) => {
        let wrong = 0;
        for (let k = 0; k < n; k++) if (core.validate('reservation', BODY).code !== 0) wrong++;
        return wrong;
      };
    },
  },
  {
    // Fresh snapshot says SKU 1001 has 0 left; client buckets unlimited.
    name: 'AdmitSoldOut',
    setup(core) {
      const gate = core.newGate({ clientRate: 0, clientBurst: 1, seed: SEED });
      gate.setAvailable(1001, 0, 0);
      return (n) => {
        let wrong = 0;
        for (let k = 0; k < n; k++) {
          if (gate.admitReservationVerdict('client-7', BODY, 1) !== VERDICT.soldOut) wrong++;
        }
        return wrong;
      };
    },
  },
  {
    // A new client every call, named like core_bench.cc's: "client-" + the low 24 bits of a
    // counter as 8 octal digits. Bucket lookups miss, insert and evict; no snapshot, so admitted.
    name: 'AdmitManyClients',
    setup(core) {
      const gate = core.newGate({
        clientRate: 5, clientBurst: 10, clientCapacity: 10_000, seed: SEED,
      });
      if (gate.admitReservationVerdict('client-x', BODY, 1) !== VERDICT.admit) {
        throw new Error('AdmitManyClients: first call not admitted');
      }
      let i = 0;
      return (n) => {
        let wrong = 0;
        for (let k = 0; k < n; k++) {
          i = (i + 1) >>> 0;
          const client = 'client-' + (i & 0xffffff).toString(8).padStart(8, '0');
          if (gate.admitReservationVerdict(client, BODY, 1) !== VERDICT.admit) wrong++;
        }
        return wrong;
      };
    },
  },
];

function modulePath(envName, fallback) {
  const path = resolve(repoRoot, process.env[envName] || fallback);
  if (!existsSync(path)) {
    throw new Error(`${path} does not exist: build the wasi and emscripten presets first`);
  }
  return path;
}

async function loadFlavors() {
  const wasiPath = modulePath('STOCKGATE_WASI_MODULE', 'build/wasi/wasm/core.wasm');
  const mjsPath = modulePath(
    'STOCKGATE_EMSCRIPTEN_MODULE',
    'build/emscripten/wasm/stockgate_core.mjs',
  );
  const wasi = await loadWasi(readFileSync(wasiPath));
  const factory = (await import(pathToFileURL(mjsPath).href)).default;
  // The browser build fetches its .wasm by URL; under node, hand it the bytes instead.
  const wasmBinary = readFileSync(mjsPath.replace(/\.mjs$/, '.wasm'));
  const emscripten = await loadEmscripten(factory, { wasmBinary });
  return [wasi, emscripten];
}

function check(flavor, name, wrong) {
  if (wrong !== 0) throw new Error(`${flavor} ${name}: ${wrong} calls answered unexpectedly`);
}

// Calls run in batches sized to ~1 ms so reading the clock costs nothing measurable. Rates are
// per CPU second of the whole process (every node thread, so GC work counts), like the native
// side's: other load on a shared machine then distorts them far less than wall-clock rates.
function timeFor(run, ms) {
  let batch = 64;
  let calls = 0;
  let wrong = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    const t0 = now;
    wrong += run(batch);
    calls += batch;
    now = process.hrtime.bigint();
    if (now - t0 < 500_000n && batch < 1 << 20) batch *= 2;
  }
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { calls, wrong, cpuSeconds, seconds: Number(now - start) / 1e9 };
}

async function main() {
  const { smoke } = parseCli(process.argv.slice(2), { smoke: false }, { script: import.meta.url });
  const flavors = await loadFlavors();
  const cases = [];
  for (const core of flavors) {
    for (const op of OPERATIONS) {
      cases.push({ flavor: core.flavor, op: op.name, run: op.setup(core) });
    }
  }

  if (smoke) {
    for (const c of cases) {
      check(c.flavor, c.op, c.run(SMOKE_CALLS));
      console.log(`ok ${c.flavor} ${c.op}`);
    }
    return;
  }

  for (const c of cases) check(c.flavor, c.op, timeFor(c.run, WARMUP_MS).wrong);
  // Repetitions interleave the cases, so a slow spell of the machine spreads over all of them
  // instead of landing on one.
  const rates = new Map(cases.map((c) => [c, { cpu: [], wall: [] }]));
  for (let r = 0; r < REPETITIONS; r++) {
    for (const c of cases) {
      const { calls, wrong, cpuSeconds, seconds } = timeFor(c.run, REPETITION_MS);
      check(c.flavor, c.op, wrong);
      rates.get(c).cpu.push(calls / cpuSeconds);
      rates.get(c).wall.push(calls / seconds);
    }
  }

  const results = {};
  for (const c of cases) {
    results[c.flavor] ??= {};
    const { cpu, wall } = rates.get(c);
    results[c.flavor][c.op] = {
      median_ops_per_s: Math.round(median(cpu)),
      runs_ops_per_s: cpu.map(Math.round),
      runs_wall_ops_per_s: wall.map(Math.round),
    };
  }
  const out = {
    context: {
      date: new Date().toISOString(),
      node: process.version,
      v8: process.versions.v8,
      warmup_ms: WARMUP_MS,
      repetitions: REPETITIONS,
      repetition_ms: REPETITION_MS,
      rate: 'calls per CPU second of the process (user + system)',
      body: BODY,
    },
    results,
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
