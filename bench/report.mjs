// Writes docs/benchmarks.md (to stdout) from the raw results bench/run collects:
//
//   node bench/report.mjs --core-native core_native.json --core-wasm core_wasm.json \
//     --origin origin.json --sync sync.json --edge edge.json --feed feed.json [--images docs/images]
//
// With --images, the charts of the origin and edge sections are written there as SVG.
// The document is a description of the machine followed by one section per benchmark suite.
// A new suite adds its option and a section function to SECTIONS; a suite whose results are not
// given is left out.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { kebab, parseCli } from '../scripts/cli.mjs';
import { barChart } from './svg.mjs';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

const SECTIONS = [
  { options: ['core-native', 'core-wasm'], render: coreSection },
  { options: ['origin'], render: originSection },
  { options: ['sync'], render: syncSection },
  { options: ['edge'], render: edgeSection },
  { options: ['feed'], render: feedSection },
  { options: ['cluster'], render: clusterSection },
];

// The core operations in table order, as named in core_bench.cc (without BM_) and core_bench.mjs.
const CORE_OPERATIONS = [
  ['ValidateReservation', 'validate a reservation body'],
  ['AdmitSoldOut', 'admit: sold out'],
  ['AdmitManyClients', 'admit: new client each call'],
];

// The results files given (each parsed), keyed by option name, and --images.
function parseArgs(argv) {
  const files = {
    coreNative: '', coreWasm: '', origin: '', sync: '', edge: '', feed: '', cluster: '',
  };
  const o = parseCli(argv, { ...files, images: '' }, { script: import.meta.url });
  const args = { images: o.images };
  for (const key of Object.keys(files)) {
    if (o[key]) args[kebab(key)] = JSON.parse(readFileSync(o[key], 'utf8'));
  }
  return args;
}

// Writes an SVG chart into --images and returns the Markdown that shows it, or nothing when no
// --images was given.
function chart(args, file, alt, spec) {
  if (!args.images) return [];
  mkdirSync(args.images, { recursive: true });
  writeFileSync(join(args.images, file), barChart(spec));
  return [`![${alt}](images/${file})`, ''];
}

// stdout then stderr of a command ('' when it cannot run): emcc -v prints to stderr.
function output(cmd, args) {
  // Debian's emcc needs Debian's acorn even to print its version.
  const env = { ...process.env, NODE_PATH: process.env.NODE_PATH || '/usr/share/nodejs' };
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

// The first x.y.z in what `cmd args` prints on its `line`th line.
function version(cmd, args, line = 0) {
  const text = output(cmd, args).split('\n')[line] ?? '';
  return (text.match(/\d+\.\d+\.\d+/) || ['not found'])[0];
}

const emccVersion = () => version('emcc', ['-v']);

// One paragraph from source-sized pieces; wrap() lays it out again.
const para = (...pieces) => pieces.join(' ');

// Markdown prose wrapped at 100 columns, never inside a code span; lists keep their hanging indent.
function wrap(paragraph, width = 100) {
  const indent = paragraph.startsWith('- ') ? '  ' : '';
  const words = paragraph.match(/(?:`[^`]*`|[^ `])+/g) ?? [''];
  const lines = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line].join('\n');
}

function procField(file, key) {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(key));
  return line ? line.slice(line.indexOf(':') + 1).trim() : 'unknown';
}

function osName() {
  const line = readFileSync('/etc/os-release', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('PRETTY_NAME='));
  return line ? line.slice('PRETTY_NAME='.length).replace(/"/g, '') : 'unknown';
}

// Build type and optimisation flags of a preset's tree, from its CMake cache.
function buildOf(preset) {
  const cache = `${repoRoot}build/${preset}/CMakeCache.txt`;
  if (!existsSync(cache)) return { type: 'not configured', flags: '' };
  const text = readFileSync(cache, 'utf8');
  const get = (key) => (text.match(new RegExp(`^${key}:[A-Z]+=(.*)$`, 'm')) || [])[1] ?? '';
  const type = get('CMAKE_BUILD_TYPE');
  const flags = get(`CMAKE_CXX_FLAGS_${type.toUpperCase()}`).replace(/\s*-DNDEBUG/, '');
  return { type, flags };
}

function machineSection(args) {
  const memKiB = Number.parseInt(procField('/proc/meminfo', 'MemTotal'), 10);
  const native = args['core-native'];
  const mhz = native?.context?.mhz_per_cpu;
  const rows = [
    ['CPU', procField('/proc/cpuinfo', 'model name') + (mhz ? `, ${mhz} MHz` : '')],
    ['logical CPUs (`nproc`)', output('nproc', []).trim()],
    ['memory', `${(memKiB / 1024 / 1024).toFixed(1)} GiB`],
    ['OS', `${osName()}, Linux ${release()}`],
    ['g++', version('g++', ['--version'])],
    ['clang-19', version('clang++-19', ['--version'])],
    ['emcc', `${emccVersion()} (its clang: ${version('emcc', ['-v'], 1)})`],
    ['node', `${process.version} (V8 ${process.versions.v8})`],
  ];
  if (native?.context?.load_avg) {
    const load = native.context.load_avg.map((x) => x.toFixed(2)).join(', ');
    rows.push(['load average (1, 5, 15 min) as the native run started', load]);
  }
  const date = native?.context?.date ?? new Date().toISOString();
  rows.push(['date', date.replace('T', ' ').replace(/(:\d\d)(\.\d+)?(Z|\+00:00)$/, '$1 UTC')]);
  return [
    '## Machine',
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
}

const fmtRate = (x) => Math.round(x).toLocaleString('en-US');
const fmtRatio = (x) => x.toFixed(2);
// Three significant digits, for prose.
const fmtRound = (x) => fmtRate(Number(x.toPrecision(3)));
const fmtPct = (x) => `${Math.round(x * 100)}%`;
const fmtUs = (rate) => (1e6 / rate).toFixed(2);

// Median rate and coefficient of variation per operation, from Google Benchmark's aggregates.
function nativeRates(json) {
  const rates = {};
  const cv = {};
  let repetitions = 0;
  for (const b of json.benchmarks) {
    if (b.error_occurred) throw new Error(`native ${b.name}: ${b.error_message}`);
    if (b.run_type !== 'aggregate') continue;
    const op = b.run_name.replace(/^BM_/, '').replace(/\/.*$/, '');
    repetitions = b.repetitions;
    if (b.aggregate_name === 'median') rates[op] = b.items_per_second;
    if (b.aggregate_name === 'cv') cv[op] = b.items_per_second;
  }
  return { rates, cv, repetitions };
}

// Coefficient of variation of the repetitions' rates.
function spread(runs) {
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  const variance = runs.reduce((a, b) => a + (b - mean) ** 2, 0) / (runs.length - 1);
  return Math.sqrt(variance) / mean;
}

function coreSection(args) {
  const native = nativeRates(args['core-native']);
  const wasm = args['core-wasm'];
  const ctx = wasm.context;
  const flavors = ['wasi', 'emscripten'];
  const rate = (flavor, op) => {
    const r =
      flavor === 'native' ? native.rates[op] : wasm.results[flavor]?.[op]?.median_ops_per_s;
    if (!r) throw new Error(`no ${flavor} result for ${op}`);
    return r;
  };
  const builds = Object.fromEntries(['native', ...flavors].map((p) => [p, buildOf(p)]));
  const buildLine = (p, compiler) =>
    `${p} ${builds[p].type} (\`${builds[p].flags}\`, ${compiler})`;

  const table = [
    '| operation | native ops/s | wasi ops/s | emscripten ops/s ' +
      '| wasi/native | emscripten/native |',
    '|---|--:|--:|--:|--:|--:|',
  ];
  const ratios = { wasi: [], emscripten: [] };
  for (const [op, label] of CORE_OPERATIONS) {
    const n = rate('native', op);
    const cells = [`${label} (\`${op}\`)`, fmtRate(n)];
    for (const f of flavors) cells.push(fmtRate(rate(f, op)));
    for (const f of flavors) {
      ratios[f].push(rate(f, op) / n);
      cells.push(fmtRatio(rate(f, op) / n));
    }
    table.push(`| ${cells.join(' | ')} |`);
  }

  const range = (xs, fmt = fmtRatio) => {
    const [lo, hi] = [fmt(Math.min(...xs)), fmt(Math.max(...xs))];
    return lo === hi ? lo : `${lo}–${hi}`;
  };
  const emVsWasi = CORE_OPERATIONS.map(([op]) => rate('wasi', op) / rate('emscripten', op));
  const admitVsValidate = ['native', ...flavors].flatMap((f) =>
    ['AdmitSoldOut', 'AdmitManyClients'].map((op) => rate(f, op) / rate(f, 'ValidateReservation')),
  );
  const nativeCv = Math.max(...Object.values(native.cv));
  const wasmCv = Math.max(
    ...flavors.flatMap((f) => Object.values(wasm.results[f]).map((r) => spread(r.runs_ops_per_s))),
  );
  const usPerValidate = (f) => fmtUs(rate(f, 'ValidateReservation'));

  return [
    '## Core decisions: native vs wasm',
    '',
    para(
      'How fast the portable core decides, natively (as origin links it) and as WebAssembly',
      '(as the edge worker and the browser load it). Every operation runs on the same reference',
      `request, a two-item reservation of ${Buffer.byteLength(ctx.body)} bytes:`,
    ),
    '',
    '```json',
    ctx.body,
    '```',
    '',
    para(
      '- **validate** (`ValidateReservation`): parse and check the body as',
      '`POST /v1/reservations`. Natively `core::Validate`; in JS',
      "`core.validate('reservation', body)`, which also reads the result's code, field and",
      'message back.',
    ),
    para(
      '- **admit: sold out** (`AdmitSoldOut`): the admission gate with a fresh snapshot saying',
      'SKU 1001 has 0 left and unlimited client buckets; validation plus the sold-out verdict.',
      "The edge's most common answer once a sale is sold out.",
    ),
    para(
      '- **admit: new client each call** (`AdmitManyClients`): a gate of 10,000 client buckets',
      '(5/s, burst 10) and a client id never seen before on every call, so each decision misses,',
      'inserts and evicts a bucket; no snapshot, so the SKUs fail open and every call is',
      'admitted.',
    ),
    '',
    para(
      'Rates are operations per CPU second, so other load on the machine distorts them far less',
      `than wall-clock rates would. Native: \`bench/core_bench.cc\` (Google Benchmark), median`,
      `of ${native.repetitions} repetitions. wasm: \`bench/core_bench.mjs\` under node, both`,
      'modules loaded in one process through `wasm/js/stockgate_core.mjs` and called as the',
      'edge worker calls them (string body in, verdict out with `admitReservationVerdict`), so',
      'the wasm columns include the JS side: UTF-8 encoding of client id and body into linear',
      'memory and the JS-to-wasm calls. Its CPU time is that of the whole node process, garbage',
      `collection included. ${ctx.warmup_ms} ms warm-up per operation, then`,
      `${ctx.repetitions} interleaved repetitions of ${ctx.repetition_ms / 1000} s, median.`,
      'Builds:',
      `${buildLine('native', 'g++')}, ${buildLine('wasi', 'clang-19')},`,
      `${buildLine('emscripten', 'emcc')}.`,
    ),
    '',
    ...table,
    '',
    para(
      'The wasi module, the one the edge worker runs, decides at',
      `${range(ratios.wasi)} of the native rate: one validation costs`,
      `${usPerValidate('wasi')} µs against ${usPerValidate('native')} µs natively. A`,
      'single-threaded worker thus turns away about',
      `${fmtRound(rate('wasi', 'AdmitSoldOut'))} sold-out requests per second on one core`,
      'before any HTTP handling (measured in node; workerd runs the module on V8 as well).',
    ),
    '',
    para(
      `The emscripten module runs at ${range(ratios.emscripten)} of native,`,
      `${range(emVsWasi)} times slower than wasi on the same source.`,
      ...(builds.emscripten.type === 'MinSizeRel'
        ? [
            `It is built MinSizeRel, and at \`-Os\`/\`-Oz\` emcc ${emccVersion()} adds`,
            '`-fno-inline-functions` to its clang command line (see `em++ -v`): the',
            "header-only code the core leans on (libc++ strings and containers, nlohmann_json's",
            'lexer and parser) stays out of line, where the wasi build at the same `-Os` inlines',
            'it. Built Release (`-O3`) instead, the emscripten module is at least as fast as the',
            'wasi one: the gap is that build setting, not emscripten or its runtime.',
          ]
        : []),
    ),
    '',
    para(
      'Validation is most of the cost of every decision: in each flavour the admission paths',
      `run at ${range(admitVsValidate, fmtPct)} of the rate of validating alone, so the gate's`,
      'bucket lookups, eviction and snapshot check add little on top of parsing the body.',
    ),
    '',
    para(
      'These numbers come from one run on one machine. Repetitions of one operation varied by up',
      `to ${fmtPct(nativeCv)} natively and ${fmtPct(wasmCv)} under node (coefficient of`,
      'variation); a single disturbed repetition is enough to raise that, and the medians above',
      'resist it. Between separate runs of `bench/run` the wasm rates vary much more than within',
      'one (V8 tiers and places the code differently in each process): on the 2-core VM these',
      'benchmarks were first run on, repeated runs gave wasi/native ratios from 0.40 to 0.63.',
      'Compare ratios within one run, and rerun before reading anything into a smaller difference.',
    ),
    '',
  ].join('\n');
}

// The sides of bench/origin_bench.mjs in table order: result key, label, what ran.
// What Redis did per reservation (INFO commandstats over the measured rounds), for the sides
// that record it: the origin (batches) and the raw script (one reservation per call).
function redisWorkSection(runs) {
  const rows = [];
  for (const run of runs) {
    for (const [key, label] of [['origin', 'origin'], ['redis', 'raw Redis script'],
      ['redis_pipelined', 'raw Redis script, pipelined']]) {
      const w = run.sides[key]?.redis_work;
      if (!w) continue;
      const top = Object.entries(w.per_reservation).filter(([, v]) => v >= 0.005)
        .sort((a, b) => b[1] - a[1]).map(([name, v]) => `${name.toUpperCase()} ${v.toFixed(2)}`);
      rows.push(`| ${label} | ${run.concurrency} | ${w.evalsha_per_reservation.toFixed(3)} | ` +
        `${w.commands_per_reservation.toFixed(2)} | ${w.script_usec_per_reservation.toFixed(1)} | ` +
        `${top.join(', ')} |`);
    }
  }
  if (rows.length === 0) return [];
  return [
    '### Redis work per reservation',
    '',
    para(
      'From `INFO commandstats` of each side\'s Redis, reset after the warm-up: the `EVALSHA`',
      'calls, the commands the script ran inside them, and the microseconds Redis spent running',
      'the script, each divided by the reservations the measured rounds made (the AOF write and',
      'its fsync are not in the script time). A batch of the origin\'s carries many reservations',
      'in one `EVALSHA`, reads each SKU\'s counters once and writes them once, and moves the',
      'snapshot version once; the raw script is a batch of one every call. The bench\'s own',
      'checks add a few reads in all.',
    ),
    '',
    '| side | concurrency | EVALSHA per reservation | commands per reservation | script µs per reservation | commands per reservation, by name |',
    '|---|--:|--:|--:|--:|---|',
    ...rows,
    '',
  ];
}

const ORIGIN_SIDES = [
  ['origin', 'origin', '`stockgate-origin-load`: `POST /v1/reservations`, HTTP keep-alive'],
  ['origin_wrk', 'origin, by wrk', '`wrk` with `bench/wrk/reserve.lua`: the same requests'],
  ['origin_grpc', 'origin, over gRPC', '`stockgate-grpc-load`: seed 000\'s `LockInventory`, the same holds, over 4 HTTP/2 connections'],
  ['redis', 'raw Redis script', '`redis-benchmark`: `EVALSHA` of the reserve operation, one call at a time per client'],
  ['redis_pipelined', 'raw Redis script, pipelined', '`redis-benchmark -P 32`: the same calls, 32 in flight per client'],
  ['mysql', 'MySQL hot row', '`mariadb-slap`: one-row `UPDATE` in InnoDB'],
  ['mysql_version', 'MySQL version check', '`stockgate-mysql-load`: read, `UPDATE … WHERE version`, retry'],
  ['mysql_for_update', 'MySQL SELECT … FOR UPDATE', '`stockgate-mysql-load`: locking read, `UPDATE`, `COMMIT`'],
  ['origin_everysec', 'origin, Redis fsync once a second', 'as "origin", its Redis at `appendfsync everysec`: not durable, the price of durability'],
];
// The goals: the origin's rate over each baseline's, at every concurrency or at one.
const ORIGIN_GOALS = [
  ['redis', 'raw Redis script', 0.8, null],
  ['mysql', 'MySQL hot row', 1.5, 256],
];
// And its p99 at this concurrency.
const ORIGIN_P99_GOAL = { concurrency: 256, ms: 50 };

function originSection(args) {
  const { context: ctx, runs } = args.origin;
  const fmtMs = (x) => (x == null ? '—' : x.toFixed(2));
  const fmtUsPer = (x) => Math.round(x).toLocaleString('en-US');
  const sumUs = (s) =>
    Object.values(s.cpu.server_us_per_call).reduce((a, b) => a + b, 0) + s.cpu.client_us_per_call;
  const concurrencies = runs.map((r) => r.concurrency).join(', ');

  const table = [
    '| side | what ran | concurrency | reservations/s | rounds, each | p50 ms | p99 ms | mean ms ' +
      '| rate ÷ origin rate |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const cpuTable = [
    `| side | concurrency | server CPU µs per call | client CPU µs per call ` +
      `| busy cores of ${ctx.nproc} | outside the bench's processes | other programs' user time |`,
    '|---|--:|---|--:|--:|--:|--:|',
  ];
  const failures = [];
  for (const run of runs) {
    const origin = run.sides.origin;
    for (const [key, label, what] of ORIGIN_SIDES) {
      const s = run.sides[key];
      if (!s) continue;
      const name = key === 'origin' ? `**${label}**` : label;
      table.push(
        `| ${name} | ${what} | ${run.concurrency} | ${fmtRate(s.rps)} ` +
          `| ${s.rps_rounds.map(fmtRate).join(', ')} | ${fmtMs(s.p50_ms)} ` +
          `| ${fmtMs(s.p99_ms)} | ${fmtMs(s.mean_ms)}${key === 'mysql' ? '¹' : ''} ` +
          `| ${fmtRatio(s.rps / origin.rps)} |`,
      );
      const servers = Object.entries(s.cpu.server_us_per_call)
        .map(([proc, us]) => `${proc} ${fmtUsPer(us)}`)
        .join(' + ');
      cpuTable.push(
        `| ${label} | ${run.concurrency} | ${servers} | ${fmtUsPer(s.cpu.client_us_per_call)} ` +
          `| ${s.cpu.machine_busy_cores.toFixed(2)} | ${s.cpu.other_busy_cores.toFixed(2)} ` +
          `| ${s.cpu.other_programs_user_cores.toFixed(2)} |`,
      );
      if (Object.keys(s.errors).length) {
        failures.push(`${label} at ${run.concurrency}: ${JSON.stringify(s.errors)}`);
      }
    }
  }

  const goals = [
    '| concurrency | ' +
      ORIGIN_GOALS.map(([, label, goal, at]) =>
        `origin ÷ ${label} (goal ≥ ${goal}${at ? ` at ${at}` : ''})`).join(' | ') +
      ` | origin p99 (goal ≤ ${ORIGIN_P99_GOAL.ms} ms at ${ORIGIN_P99_GOAL.concurrency}) |`,
    `|--:|${ORIGIN_GOALS.map(() => '--:|').join('')}--:|`,
  ];
  const missed = [];
  for (const run of runs) {
    const cells = ORIGIN_GOALS.map(([key, label, goal, at]) => {
      const ratio = run.sides.origin.rps / run.sides[key].rps;
      if (at && run.concurrency !== at) return fmtRatio(ratio);
      if (ratio < goal) {
        missed.push(`at concurrency ${run.concurrency} its rate over the ${label} rate was ` +
          `${fmtRatio(ratio)} (goal ≥ ${goal})`);
      }
      return `${fmtRatio(ratio)} ${ratio >= goal ? 'met' : '**not met**'}`;
    });
    const p99 = run.sides.origin.p99_ms;
    let p99Cell = `${fmtMs(p99)}`;
    if (run.concurrency === ORIGIN_P99_GOAL.concurrency) {
      const met = p99 <= ORIGIN_P99_GOAL.ms;
      if (!met) missed.push(`its p99 at concurrency ${run.concurrency} was ${fmtMs(p99)} ms (goal ≤ ${ORIGIN_P99_GOAL.ms})`);
      p99Cell += met ? ' met' : ' **not met**';
    }
    goals.push(`| ${run.concurrency} | ${cells.join(' | ')} | ${p99Cell} |`);
  }

  // What a reservation costs in CPU on each path. Per-call CPU moves little with other load;
  // the rates do, so the machine's state during the rounds is stated next to them.
  const costProse = runs.map((run) => {
    const { origin, redis } = run.sides;
    const us = origin.cpu.server_us_per_call;
    const rawUs = redis.cpu.server_us_per_call['redis-server'];
    const cap = (s) => (ctx.nproc * 1e6) / sumUs(s);
    const saturated = (s) => s.cpu.machine_busy_cores >= 0.9 * ctx.nproc;
    return para(
      `- At concurrency ${run.concurrency} a reservation through the origin cost`,
      `${fmtUsPer(sumUs(origin))} µs of CPU: ${fmtUsPer(us.origin)} µs in the origin process,`,
      `${fmtUsPer(us['redis-server'])} µs in its Redis, ${fmtUsPer(origin.cpu.client_us_per_call)}`,
      'µs in the load generator. Its Redis spent',
      `${fmtRatio(us['redis-server'] / rawUs)} times what Redis spends per call running the`,
      `script when driven directly one reservation at a time (${fmtUsPer(rawUs)} µs): that is`,
      'the batches. During the origin rounds the machine was busy',
      `${origin.cpu.machine_busy_cores.toFixed(2)} of ${ctx.nproc} cores, of which other`,
      `programs' user time took ${origin.cpu.other_programs_user_cores.toFixed(2)}.`,
      ...(saturated(origin)
        ? [
            'The CPUs were saturated, so CPU bounds the origin\'s rate here: at this cost',
            `${ctx.nproc} otherwise idle cores could carry at most about`,
            `${fmtRound(cap(origin))} reservations per second through it.`,
          ]
        : [
            `That cost allows about ${fmtRound(cap(origin))} per second on ${ctx.nproc} idle`,
            'cores;',
            `the run made ${fmtPct(origin.rps / cap(origin))} of it.`,
          ]),
      `The raw script cost ${fmtUsPer(sumUs(redis))} µs per call with its client`,
      `(redis-benchmark, ${fmtUsPer(redis.cpu.client_us_per_call)} µs: one event-loop thread,`,
      'where the load generator runs a thread per connection, and wrk two event loops)',
      ...(saturated(redis)
        ? ['and ran on saturated CPUs too.']
        : [
            `and ran at ${fmtPct(redis.rps / cap(redis))} of what that cost allows: the rest of`,
            'the time Redis\'s one thread is off the CPU, waiting for clients or in the fsync of',
            'the AOF that `appendfsync always` makes before every batch of replies.',
          ]),
    );
  });

  const batchProse = runs
    .filter((r) => r.sides.origin.batches?.batches > 0)
    .map((r) => {
      const b = r.sides.origin.batches;
      return `${fmtRatio(b.operations / b.batches)} at concurrency ${r.concurrency}`;
    });
  const everysec = runs.filter((r) => r.sides.origin_everysec);

  return [
    '## Origin reservations: origin vs raw Redis script vs the MySQL designs',
    '',
    para(
      'How many reservations per second the origin takes, next to the paths it stands',
      'between: the same reserve script driven straight at Redis, and the seed designs\' MySQL',
      'deductions (a hot row, a version check, a locking transaction). Every call reserves one',
      'unit and must succeed (stock is 2·10⁹ units);',
      'afterwards each side\'s counter is checked to have moved by exactly one unit per call. All',
      `sides run at the same concurrency (${concurrencies}), each against its own fresh server on`,
      `loopback, one side at a time, clients and servers sharing the machine's ${ctx.nproc} CPUs.`,
      `Load average as this section started: ${ctx.load_avg.map((x) => x.toFixed(2)).join(', ')}.`,
    ),
    '',
    para(
      '- **origin**: `stockgate-origin` over HTTP/1.1 keep-alive, one connection per concurrent',
      'client, each a thread of `bench/origin_load.cc` sending',
      '`{"order_id":"bench-<conn>-<i>","items":[{"sku":1,"qty":1}],"ttl_seconds":86400}` (a day,',
      'so that no hold expires during the run) with a service token; every answer is 201. The origin runs with its defaults',
      `(${runs[0].sides.origin.origin_threads ?? 'an unknown number of'} event-loop threads, one`,
      'Redis connection, batches of the requests in flight) except one setting: the',
      'reservation rate limit is off',
      '(`STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND=0`; one bench client would otherwise',
      'be throttled at 1000/s). Connections are opened one at a time before the clock starts, and',
      'a 1 s warm-up precedes the measured runs.',
    ),
    para(
      '- **origin, by wrk**: a fresh origin of the same build driven by `wrk` (Debian\'s package),',
      'two threads, the same requests made by `bench/wrk/reserve.lua`, which counts the answers by',
      'status; so anyone can check the numbers with a tool of their own. wrk stops the clock with',
      'up to one request per connection in flight: the origin reserves those, wrk does not count',
      'them (the check allows it).',
    ),
    para(
      '- **raw Redis script**: `redis-benchmark` sending `EVALSHA` of the origin\'s script',
      '(`build/native/origin/store/stockgate.lua`; the run checks the origin\'s Redis holds the',
      'same SHA) with one reservation per call, the batch of one that a lone request makes, one',
      'connection per client, no pipelining, an order id made unique per call from two random',
      'numbers. **Pipelined**, each client (at most 64) keeps 32 calls in flight: one Redis core\'s',
      'ceiling for single-reservation calls. A short first run warms Redis and sizes the measured',
      'runs. The origin can pass both: it sends the reservations in flight together as one call',
      '(up to 256 in a batch), where each of redis-benchmark\'s calls carries one.',
    ),
    para(
      '- **MySQL hot row**: `mariadb-slap` over TCP, each client repeating the seed design\'s',
      '`UPDATE inventory SET stocks = stocks - 1 WHERE goods = 1 AND stocks >= 1` (autocommit)',
      'on one InnoDB row. It does much less per call than the script: no reservation record, no',
      'ledger event, no idempotency by order id, no expiry. Sized like the Redis runs.',
    ),
    para(
      '- **MySQL version check** and **MySQL SELECT … FOR UPDATE**: `bench/mysql_load.cc`, one',
      'thread and TCP connection per client, each selling one unit of a row of its own per call.',
      'Version check (optimistic): read `stocks, version`, then `UPDATE inventory SET stocks =',
      'stocks - 1, version = version + 1 WHERE goods = G AND version = <read>` in autocommit; no',
      'row changed means another client sold first, so it reads and tries again (the retries are',
      `counted: ${runs.map((r) => `${(r.sides.mysql_version?.conflicts_retried ?? 0).toLocaleString('en-US')} at ${r.concurrency}`).join(', ')}).`,
      'Locking transaction (pessimistic): `START TRANSACTION; SELECT stocks … FOR UPDATE; UPDATE',
      '…; COMMIT`. Latency is per sale, from the first attempt to the deduction.',
    ),
    '',
    para(
      `Each side is measured for ${ctx.seconds} s per concurrency, in ${ctx.rounds} rounds that`,
      'interleave the sides (each round starts one side later), so that a slow spell of the disk',
      'or a burst of other load spreads over all sides rather than landing on one. The rate is',
      'all successful calls over all measured time; p50 and p99 are the median of the rounds\'',
      'values.',
    ),
    '',
    para(
      'Durability is the shipped one on every side but the one that says otherwise; data',
      `directories on ${ctx.data_filesystem}.`,
      `Redis ${ctx.redis_version}, raw and behind the origin: ${ctx.durability.redis}.`,
      `MariaDB ${ctx.mariadb_version.replace(/-MariaDB$/, '')}: ${ctx.durability.mariadb}.`,
      'Every acknowledged call on every side is on disk.',
    ),
    '',
    ...table,
    '',
    ...chart(args, 'bench-origin.svg', 'Reservations per second by side and concurrency', {
      title: 'Reservations per second: the origin and the paths it stands between',
      unit: 'reservations/s (each call one durable sale or hold)',
      groups: runs.map((run) => ({
        label: `concurrency ${run.concurrency}`,
        bars: ORIGIN_SIDES.filter(([key]) => run.sides[key])
          .map(([key, label]) => ({ label, value: run.sides[key].rps })),
      })),
    }),
    para(
      '¹ mariadb-slap reports no per-query latency: its mean is concurrency ÷ rate (Little\'s',
      'law), and p50/p99 are not measured. The other sides\' p50/p99/mean are per call as their',
      'clients timed it. Exact commands:',
    ),
    '',
    ...runs.flatMap((run) =>
      ORIGIN_SIDES.filter(([key]) => run.sides[key]).map(
        ([key, label]) => `- ${label}, ${run.concurrency}: \`${run.sides[key].command}\``,
      ),
    ),
    '',
    ...redisWorkSection(runs),
    '### Against the goals',
    '',
    ...goals,
    '',
    ...(missed.length
      ? [para('The origin falls short:', missed.join('; ') + '.'), '']
      : [para('Every goal is met in this run.'), '']),
    ...(runs.every((r) => r.sides.origin_wrk)
      ? [
          para(
            'Driven by wrk instead of the project\'s load tool, the same origin made',
            runs.map((r) => `${fmtRatio(r.sides.origin_wrk.rps / r.sides.origin.rps)} times as`
              + ` many reservations per second at concurrency ${r.concurrency}`).join(', ') + ':',
            'on two CPUs the client is part of what is measured, and the load tool (a thread and',
            'a cpp-httplib client per connection) spends',
            runs.map((r) => `${fmtUsPer(r.sides.origin.cpu.client_us_per_call)} µs per call`)
              .join(', ') + ' where wrk spends',
            runs.map((r) => `${fmtUsPer(r.sides.origin_wrk.cpu.client_us_per_call)}`).join(', ') +
              ' (see "Where the time goes"). The goals are judged on the load tool\'s rows, the',
            'harder measure.',
          ),
          '',
        ]
      : []),
    ...(runs.every((r) => r.sides.origin_grpc)
      ? [
          para(
            'Over gRPC (seed 000\'s `LockInventory`, translated onto the same API code), the',
            'origin made',
            runs.map((r) => `${fmtRatio(r.sides.origin_grpc.rps / r.sides.origin.rps)} times its`
              + ` HTTP rate at concurrency ${r.concurrency}`).join(', ') + '.',
          ),
          '',
        ]
      : []),
    ...(batchProse.length
      ? [
          para(
            'Reservations per script call the origin sent to Redis (its `/metrics`,',
            '`stockgate_store_batch_total`): ' + batchProse.join(', ') + '.',
            'Every batch is one `EVALSHA`, one AOF write and one fsync.',
          ),
          '',
        ]
      : []),
    ...(everysec.length
      ? [
          para(
            'The price of durability: with its Redis fsyncing once a second instead of before',
            'every answer (not shipped: a crash loses up to a second of acknowledged sales), the',
            'origin made',
            everysec.map((r) => `${fmtRatio(r.sides.origin_everysec.rps / r.sides.origin.rps)}` +
              ` times its durable rate at concurrency ${r.concurrency}`).join(', ') + '.',
          ),
          '',
        ]
      : []),
    ...(runs.every((r) => r.sides.mysql_version && r.sides.mysql_for_update)
      ? [
          para(
            'Against the seed designs\' other two deductions, which read the row before changing',
            'it as a check-then-deduct design must, the origin\'s rate was',
            runs.map((r) => `${fmtRatio(r.sides.origin.rps / r.sides.mysql_version.rps)} times the`
              + ` version check's and ${fmtRatio(r.sides.origin.rps / r.sides.mysql_for_update.rps)}`
              + ` times the locking transaction's at concurrency ${r.concurrency}`).join(', and ') + '.',
            'The version check collapses on one hot row: all clients read the same version, one',
            'UPDATE wins per round and the others read again, so about one sale goes through per',
            'commit.',
          ),
          '',
        ]
      : []),
    '### Where the time goes',
    '',
    para(
      'CPU per call of each process (µs, from `/proc` before and after each measured round,',
      'summed over the rounds) and how busy the whole machine was, in cores. "Outside the',
      'bench\'s processes" is busy time of everything else: other programs, and kernel work such',
      'as interrupts, softirqs and the filesystem journal, part of which the run itself causes.',
      '"Other programs\' user time" is the part that certainly is not the run\'s.',
    ),
    '',
    ...cpuTable,
    '',
    ...costProse,
    '',
    ...(failures.length
      ? [para('Calls that did not succeed:', failures.join('; ') + '.'), '']
      : []),
    para(
      'These numbers come from one run: every ratio above divides rates measured within a minute',
      'of each other in the same `bench/run`. Rates that wait on fsync follow the disk, which',
      'other load on a shared machine also uses, and the rounds\' spread shows how much that moved',
      'them; rerun before reading anything into a difference smaller than that spread. Only the',
      'origin part:',
    ),
    '',
    '```sh',
    'cmake --build --preset native --target stockgate-origin stockgate-origin-load',
    `node bench/origin_bench.mjs --concurrency ${runs.map((r) => r.concurrency).join(',')} ` +
      `--seconds ${ctx.seconds} --rounds ${ctx.rounds} > bench/results/origin.json`,
    'node bench/report.mjs --origin bench/results/origin.json   # this section alone',
    '```',
    '',
  ].join('\n');
}

// History ingest into MariaDB by batch size, and sync's lag behind the stream under load.
function syncSection(args) {
  const { context: ctx, ingest, lag } = args.sync;
  const base = ingest.find((r) => r.batch_size === 1) ?? ingest[0];
  const spreadOf = (r) => {
    const v = r.events_per_s_rounds;
    return `${fmtRound(Math.min(...v))}–${fmtRound(Math.max(...v))}`;
  };
  return [
    '## Sync: history ingest into MariaDB and lag behind the stream',
    '',
    para(
      'How many ledger events per second `stockgate-sync` writes into the MariaDB history, by',
      'batch size (outbox entries per transaction), and how far the history trails the stream',
      'while the origin takes reservations. Each reservation is one ledger event (into',
      '`inventory_history`, moving `inventory`) and one reservation record (into',
      '`reservations`); the events per second count ledger events only, so the entries read',
      'are twice that.',
    ),
    '',
    '| batch size | events per drain | events/s (median) | rounds\' spread | ÷ batch size ' +
      `${base.batch_size} |`,
    '|---:|---:|---:|---:|---:|',
    ...ingest.map((r) =>
      `| ${r.batch_size} | ${fmtRate(r.events_per_round)} | ${fmtRound(r.events_per_s)} | ` +
      `${spreadOf(r)} | ${fmtRatio(r.events_per_s / base.events_per_s)} |`),
    '',
    para(
      `Each drain: with sync stopped, \`stockgate-origin-load\` made a backlog of reservations`,
      '(a tenth as many for batch size 1); then `stockgate-sync --batch-size N` started on a',
      'fresh database and the clock ran until the consumer group had nothing pending or',
      'undelivered (`XINFO GROUPS`). The time includes the process start and the schema',
      `migration. Every drain is checked: as many \`reserve\` rows and reservation rows as`,
      `reservations made. Median of ${ctx.rounds} rounds per batch size.`,
    ),
    '',
    '| under load | value |',
    '|---|---:|',
    `| reservations through the origin (concurrency ${lag.concurrency}, ` +
      `${lag.seconds.toFixed(1)} s) | ${fmtRound(lag.reservations_per_s)}/s |`,
    `| events written by sync (batch size ${lag.batch_size}) | ${fmtRate(lag.events_written)} ` +
      `in ${fmtRate(lag.batches)} transactions |`,
    `| lag p50 | ${lag.lag_p50_ms} ms |`,
    `| lag p99 | ${lag.lag_p99_ms} ms |`,
    ...(lag.max_backlog_entries != null
      ? [
          `| largest backlog seen (entries pending or undelivered, sampled every 250 ms) | ` +
            `${fmtRate(lag.max_backlog_entries)} |`,
          `| backlog left when the load stopped: drained in | ${fmtRate(lag.drain_ms_after_load)} ms |`,
        ]
      : []),
    '',
    para(
      'A sustained sale at the origin\'s peak concurrency, one sync process (one consumer of the',
      'group) writing the history. Lag is sampled at each commit: the time since the newest',
      'event of the batch entered the stream (its entry id). Sync ran next to the origin, its',
      `Redis and MariaDB on the same ${ctx.nproc} CPUs. Durability as shipped:`,
      `${ctx.durability}. Redis ${ctx.redis_version}, MariaDB ${ctx.mariadb_version}.`,
      ...(lag.max_backlog_entries != null
        ? [
            lag.drain_ms_after_load < 5000 ? 'One consumer kept up:' : 'One consumer fell behind:',
            'the backlog never held more than about',
            `${(lag.max_backlog_entries / Math.max(1, lag.reservations_per_s)).toFixed(1)} s of`,
            'sales, and it was gone',
            `${fmtRate(lag.drain_ms_after_load)} ms after the load's end. When one consumer`,
            'falls behind, more sync processes share the stream (each a consumer of the same',
            'group).',
          ]
        : []),
    ),
    '',
    'Only the sync part:',
    '',
    '```sh',
    'cmake --build --preset native --target stockgate-origin stockgate-origin-load stockgate-sync',
    `node bench/sync_bench.mjs --batch ${ingest.map((r) => r.batch_size).join(',')} ` +
      `--backlog ${ctx.backlog} --rounds ${ctx.rounds} --seconds ${ctx.seconds} ` +
      `--concurrency ${ctx.concurrency}${ctx.lag_concurrency ? ` --lag-concurrency ${ctx.lag_concurrency}` : ''}` +
      ' > bench/results/sync.json',
    'node bench/report.mjs --sync bench/results/sync.json   # this section alone',
    '```',
    '',
  ].join('\n');
}

// A flash sale through the edge and straight at the origin; the edge's reject paths against a
// bare workerd worker and nginx limit_req.
function edgeSection(args) {
  const { context: ctx, sale, reject } = args.edge;
  const saleRow = (r) =>
    `| ${r.path} | ${fmtRate(r.requests)} | ${fmtRate(r.units_sold)} of ${fmtRate(r.units)} | ` +
    `${fmtRate(r.reached_origin)} (${fmtPct(r.reached_origin_share)}) | ` +
    `${fmtRound(r.answered_per_s)} | ${r.p50_ms.toFixed(2)} | ${r.p99_ms.toFixed(2)} | ` +
    `${Object.entries(r.statuses).map(([k, v]) => `${k}: ${fmtRate(v)}`).join(', ')} |`;
  // Each row is compared with the bare worker driven by the same tool (wrk rows end in _wrk),
  // round by round (edge_bench's vs_bare: the median of the per-round ratios); nginx is not.
  const nginx = reject.nginx_limit_req.per_s;
  const vsBare = (r, ratio) => (r[ratio] === undefined ? '–' : fmtRatio(r[ratio]));
  const rejectRow = ([key, r]) =>
    `| ${r.label} | ${fmtRound(r.per_s)} | ${r.per_s_rounds.map(fmtRound).join(', ')} | ` +
    `${r.p50_ms.toFixed(2)} | ${r.p99_ms.toFixed(2)} | ${vsBare(r, 'vs_bare')} | ` +
    `${fmtRound(r.per_cpu_s)} | ${vsBare(r, 'vs_bare_per_cpu')} | ` +
    `${vsBare(r, 'vs_bare_side_by_side')} | ${vsBare(r, 'vs_bare_in_turns')} | ` +
    `${key.endsWith('_wrk') ? '' : fmtRatio(r.per_s / nginx)} |`;
  const ratio = (key) => reject[key].vs_bare;
  const cpuRatio = (key) => reject[key].vs_bare_per_cpu;
  const together = (key) => reject[key].vs_bare_side_by_side;
  // The controls (a second bare worker, measured as the edge is, by each tool) show how far from
  // its true value this run put a ratio: a verdict nearer the goal than that is marked so. Runs
  // from before the controls have no such rows.
  const controlOf = (key) => reject[key.endsWith('_wrk') ? 'bare_workerd_again_wrk'
    : 'bare_workerd_again'];
  // How far this run's control for the key's tool came out from 1 (null for runs without one).
  const noiseOf = (key) => {
    const control = controlOf(key);
    return control ? Math.abs(control.vs_bare - 1) : null;
  };
  const goal = (key) => {
    const noise = noiseOf(key);
    return `${ratio(key) >= 0.9 ? 'met' : '**not met**'}` +
      (noise !== null && Math.abs(ratio(key) - 0.9) <= noise
        ? ', nearer the goal than its control is to 1' : '');
  };
  // A judged ratio with as many digits as its verdict needs (0.8992 is not "0.90, not met").
  const judged = (x) => (x.toFixed(2) === '0.90' ? x.toFixed(3) : x.toFixed(2));
  // The lowest and highest of a list of per-round ratios.
  const spread = (xs) => `${fmtRatio(Math.min(...xs))}–${fmtRatio(Math.max(...xs))}`;
  const edgeSides = ['edge_sold_out', 'edge_invalid', 'edge_sold_out_wrk'];
  const spreadOf = (field) => spread(edgeSides.flatMap((k) => reject[k][field]));
  const controlSays = (key) => {
    const c = controlOf(key);
    return `${fmtRatio(c.vs_bare)} (rounds ${spread(c.vs_bare_rounds)}; side by side ` +
      `${fmtRatio(c.vs_bare_side_by_side)})`;
  };
  const controlText = controlOf('edge_sold_out') ? [
    'The controls, a second bare worker process measured against the first as the edge',
    `is, came out by the load tool at ${controlSays('edge_sold_out')}` +
      (controlOf('edge_sold_out_wrk') ? `, by wrk at ${controlSays('edge_sold_out_wrk')}` : '') +
      ': their distance from 1 is what this run\'s measurement alone moves a ratio.',
  ] : [];
  // The floor (the bare worker reading the token header and giving the edge's sold-out answer)
  // splits the sold-out ratio in two. Runs from before the floor have no such rows.
  const withinNoise = (key) => {
    const noise = noiseOf(key);
    return noise !== null && Math.abs(ratio(key) - 1) <= noise ? ', nearer 1 than its control' : '';
  };
  const floorText = reject.floor_workerd ? [
    'The floor, the bare worker reading the token header and giving the edge\'s own sold-out',
    `answer, came out at ${fmtRatio(ratio('floor_workerd'))} of the bare`,
    `worker${withinNoise('floor_workerd')} (by wrk ${fmtRatio(ratio('floor_workerd_wrk'))}` +
      `${withinNoise('floor_workerd_wrk')}):`,
    'what the API asks of any edge here costs workerd. The edge\'s sold-out answer came out at',
    `${fmtRatio(reject.edge_sold_out.vs_floor)} of the floor (by wrk`,
    `${fmtRatio(reject.edge_sold_out_wrk.vs_floor)}; rounds`,
    `${spread([...reject.edge_sold_out.vs_floor_rounds, ...reject.edge_sold_out_wrk.vs_floor_rounds])}):`,
    'what its own work costs.',
  ] : [];
  // The middle half of the slice pairs' ratios (a pair without one has none: runs from before
  // in_turns_stalled_pairs wrote it as null).
  const middleHalf = (xs) => {
    const sorted = xs.filter(Number.isFinite).sort((a, b) => a - b);
    if (sorted.length === 0) return '–';
    const at = (q) => sorted[Math.round(q * (sorted.length - 1))];
    return `${fmtRatio(at(0.25))}–${fmtRatio(at(0.75))}`;
  };
  const inTurnsOf = (key, name) => {
    const r = reject[key];
    const stalled = r.in_turns_stalled_pairs
      ? `, ${r.in_turns_stalled_pairs} with no answer on one side left out` : '';
    return `${name} ${judged(r.vs_bare_in_turns)} (all rounds pooled ` +
      `${judged(r.vs_bare_in_turns_pooled)}; slice pairs' middle half ` +
      `${middleHalf(r.in_turns_slices)}${stalled})`;
  };
  // In turns: the load tool alternating between a side and the bare worker within one run (runs
  // from before these fields: nothing).
  const inTurnsText = reject.edge_sold_out.vs_bare_in_turns === undefined ? [] : [
    `In turns with the bare worker (the load tool, ${ctx.slice_ms} ms slices, one run of`,
    `${ctx.turn_seconds} s per round):`,
    `${inTurnsOf('edge_sold_out', 'sold out')}, ${inTurnsOf('edge_invalid', 'invalid body')},`,
    `${inTurnsOf('floor_workerd', 'the floor')}, ${inTurnsOf('bare_workerd_again', 'the control')}:`,
    'the control\'s distance from 1',
    `(${fmtRatio(Math.abs(reject.bare_workerd_again.vs_bare_in_turns - 1))}) is what this pairing`,
    'alone moves a ratio in this run.',
  ];
  // Side by side, each server of a pair has the CPU about half the time; what that did to an
  // answer's cost, from the pairings of the sold-out sides (runs from before these fields:
  // nothing).
  const change = (shared, alone) => {
    const c = shared / alone - 1;
    return `${c < 0 ? '−' : '+'}${fmtPct(Math.abs(c))}`;
  };
  const sharing = (key, bareKey) => {
    const r = reject[key];
    return `the edge ${change(r.side_by_side_per_cpu_s, r.per_cpu_s)} ` +
      `(${fmtRound(r.side_by_side_per_cpu_s)} against ${fmtRound(r.per_cpu_s)}) and the bare ` +
      `worker ${change(r.side_by_side_bare_per_cpu_s, reject[bareKey].per_cpu_s)} ` +
      `(${fmtRound(r.side_by_side_bare_per_cpu_s)} against ${fmtRound(reject[bareKey].per_cpu_s)})`;
  };
  const shared = reject.edge_sold_out.side_by_side_per_cpu_s === undefined ? [] : [
    'Side by side against alone, answers per server CPU second changed by wrk for',
    `${sharing('edge_sold_out_wrk', 'bare_workerd_wrk')}; by the load tool for`,
    `${sharing('edge_sold_out', 'bare_workerd')}. The load tool, a thread per connection on the`,
    `load CPU, drove the bare worker alone to ${fmtRound(reject.bare_workerd.per_s)} answers/s`,
    `where wrk drove it to ${fmtRound(reject.bare_workerd_wrk.per_s)}. Taking turns on one CPU`,
    'has a cost of its own, which need not fall on both servers alike, so the goal is judged one',
    'after the other.',
  ];
  return [
    '## Edge: a flash sale through workerd, and its reject path',
    '',
    para(
      `A sale of ${fmtRate(ctx.units)} units of one SKU: ${fmtRate(ctx.requests)} reservation`,
      `requests from ${fmtRate(ctx.clients)} clients (\`X-Client-Id\`, which this edge trusts`,
      `as a proxy in front of it would set it), ${ctx.concurrency}`,
      'keep-alive connections of `stockgate-origin-load`, once through one edge process',
      '(workerd with `edge/config.capnp`, default settings otherwise) in front of an origin, once',
      'straight at an origin. Each path has its own origin and Redis (shipped config), stocked',
      'afresh.',
    ),
    '',
    '| path | requests | units sold | reached the origin | answers/s | p50 ms | p99 ms | statuses |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    saleRow(sale.edge),
    saleRow(sale.direct),
    '',
    para(
      `Through the edge the origin saw ${fmtPct(sale.edge.reached_origin_share)} of the`,
      `requests (edge verdicts: ${Object.entries(sale.edge.edge_verdicts)
        .map(([k, v]) => `${k} ${fmtRate(v)}`).join(', ')}), and the sale answered`,
      `${fmtRatio(sale.edge.answered_per_s / sale.direct.answered_per_s)} times as many requests`,
      'per second as the origin alone. Both sales sold exactly the stock (checked).',
    ),
    '',
    para(
      'The reject path: requests the edge answers itself, each carrying a buyer\'s ES256 token',
      '(verified once with the issuer\'s public key, then remembered), against a workerd worker',
      'that only answers 200 (`bench/bare_worker`), sent exactly the same requests (token and',
      'body), and against nginx `limit_req` (one worker process, keyed by `X-Client-Id`, 1 r/m,',
      '429 when over; one client, so it refuses all but one request a minute). Each side is one',
      `single-threaded process${ctx.server_cpu === null ? '' : `, run alone on CPU ${ctx.server_cpu}`}`,
      `${ctx.server_cpu === null ? '' : `while the load generator ran on CPU ${ctx.load_cpus}`};`,
      `${ctx.reject_concurrency} connections, ${ctx.seconds} s per round,`,
      `${ctx.rounds} rounds, median shown. Each ratio to the bare worker is the median of its`,
      'rounds\' ratios, each round of a side divided by the bare worker\'s round run in the same',
      'group, at most two runs away, the edge\'s sides right before or after it (the machine\'s',
      'speed drifts over minutes; nginx is not paired so). The rows marked',
      '"by wrk" are driven by `wrk -t1` with `bench/wrk/reserve.lua` instead of the project\'s',
      'load tool, and compared with the bare worker driven by wrk. "Per server CPU-s" divides the',
      'answers of a round by the CPU time the server process used in it: what an answer costs the',
      'server, whatever else the machine did meanwhile. "Side by side": each round also ran each',
      'edge side and its bare worker at the same time, both servers on the one server CPU and both',
      'loads on the load CPUs; the ratio is of their answers per server CPU second in that run,',
      'median over the rounds. The control rows are a second bare worker process, sent the same',
      'requests and paired with the first as the edge is, in the same group of runs.',
      ...(ctx.slice_ms === undefined ? [] : [
        '"In turns": each round also ran the load tool once against each edge side it drives (and',
        'the floor and the control) together with the bare worker, sending the same requests to the',
        `two in alternate slices of ${ctx.slice_ms} ms (\`stockgate-origin-load --alternate-port\`),`,
        'so the two meet the machine within a slice of each other; the ratio is of their answers in',
        'that run, median over the rounds, and which of the two had the first slice alternates.',
      ]),
      ...(reject.floor_workerd ? [
        'The floor rows are the bare worker plus what the API asks of any edge on this path: it',
        'reads the `Authorization` header and answers with the edge\'s own sold-out answer, the',
        'same status, headers and bytes (`bench/floor_worker`); each runs right before the edge\'s',
        'sold-out side driven by the same tool.',
      ] : []),
      'Every answer had the status',
      'named in the row (checked, side by side and in turns too; nginx may pass one a minute).',
    ),
    '',
    '| side | answers/s (median) | rounds | p50 ms | p99 ms | ÷ bare workerd | per server CPU-s | ÷ bare workerd | ÷ bare workerd, side by side | ÷ bare workerd, in turns | ÷ nginx limit_req |',
    '|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...Object.entries(reject).map(rejectRow),
    '',
    ...chart(args, 'bench-edge.svg', 'The sale through the edge and straight at the origin; the reject path', {
      title: 'Edge: the flash sale, and the answers it gives itself',
      unit: 'per second',
      groups: [
        { label: 'the sale: answers/s', bars: [
          { label: 'through the edge', value: sale.edge.answered_per_s },
          { label: 'straight at the origin', value: sale.direct.answered_per_s }] },
        { label: 'the sale: requests that reached the origin, per second', bars: [
          { label: 'through the edge', value: sale.edge.reached_origin / sale.edge.seconds },
          { label: 'straight at the origin', value: sale.direct.reached_origin / sale.direct.seconds }] },
        { label: 'reject path: answers/s (median)',
          bars: Object.values(reject).map((r) => ({ label: r.label, value: r.per_s })) },
      ],
    }),
    para(
      'Goal: the edge\'s reject path at 90% or more of the bare worker\'s rate, one after the',
      'other (each alone on the server CPU, next to each other in time).',
      `Sold out: ${judged(ratio('edge_sold_out'))}, ${goal('edge_sold_out')}`,
      `(by wrk: ${judged(ratio('edge_sold_out_wrk'))}, ${goal('edge_sold_out_wrk')});`,
      `invalid body: ${judged(ratio('edge_invalid'))}, ${goal('edge_invalid')}.`,
      `Rounds' ratios, all edge rows: ${spreadOf('vs_bare_rounds')}.`,
      ...controlText,
      ...floorText,
      ...inTurnsText,
      `Per server CPU second, sold out ${fmtRatio(cpuRatio('edge_sold_out'))}`,
      `(by wrk ${fmtRatio(cpuRatio('edge_sold_out_wrk'))}), invalid body`,
      `${fmtRatio(cpuRatio('edge_invalid'))}. Side by side: sold out`,
      `${fmtRatio(together('edge_sold_out'))} (by wrk ${fmtRatio(together('edge_sold_out_wrk'))}),`,
      `invalid body ${fmtRatio(together('edge_invalid'))} (rounds, all edge rows:`,
      `${spreadOf('side_by_side_rounds')}).`,
      ...shared,
      `The load generator ran on the same machine (${ctx.nproc} CPUs).`,
      `workerd ${ctx.workerd_version.replace(/^workerd /, '')}, nginx ${ctx.nginx_version},`,
      `Redis ${ctx.redis_version}.`,
    ),
    '',
    'Only the edge part:',
    '',
    '```sh',
    'cmake --build --preset native --target stockgate-origin stockgate-origin-load',
    'cmake --build --preset wasi',
    `node bench/edge_bench.mjs --units ${ctx.units} --requests ${ctx.requests} ` +
      `--clients ${ctx.clients} --concurrency ${ctx.concurrency} ` +
      `--reject-concurrency ${ctx.reject_concurrency} --seconds ${ctx.seconds} ` +
      (ctx.slice_ms === undefined ? ''
        : `--turn-seconds ${ctx.turn_seconds} --slice-ms ${ctx.slice_ms} `) +
      `--rounds ${ctx.rounds} > bench/results/edge.json`,
    'node bench/report.mjs --edge bench/results/edge.json   # this section alone',
    '```',
    '',
  ].join('\n');
}

function feedSection(args) {
  const f = args.feed;
  const ctx = f.context;
  const goal = f.delay_ms.p99 !== null && f.delay_ms.p99 <= 1000 && f.missed === 0 &&
    f.refused === 0 ? 'met' : '**not met**';
  return [
    '## Edge: the live stock feed for a crowd',
    '',
    para(
      `${fmtRate(ctx.subscribers)} subscribers of \`GET /v1/events\` on one edge process (workerd,`,
      'default settings), each on its own connection from one node process, then',
      `${ctx.changes} stock changes made at the origin ${ctx.interval_ms} ms apart. The edge`,
      'keeps one subscription to the origin and serves every subscriber from its LiveFeed',
      'Durable Object. For each change and subscriber: the time from the change\'s `PUT` at the',
      `origin until that subscriber had it. The origin turns changes into feed events every`,
      `${ctx.origin_poll_ms} ms, which is part of every delay.`,
    ),
    '',
    '| subscribers connected | refused | deliveries | missed | p50 ms | p99 ms | max ms | origin `/v1/events` requests | origin threads before / with the crowd |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    `| ${fmtRate(f.connected)} | ${f.refused} | ${fmtRate(f.deliveries)} | ${f.missed} | ` +
      `${f.delay_ms.p50?.toFixed(1)} | ${f.delay_ms.p99?.toFixed(1)} | ${f.delay_ms.max?.toFixed(1)} | ` +
      `${f.origin_event_requests} | ${f.origin_threads.before} / ${f.origin_threads.with_subscribers} |`,
    '',
    para(
      `Goal: ${fmtRate(ctx.subscribers)} subscribers on one edge process get each change within`,
      `1 s (p99), the origin's thread use unchanged: ${goal}. Connecting the crowd took`,
      `${(f.connect_ms / 1000).toFixed(1)} s. The subscribers, the edge, the origin and Redis`,
      `shared the machine's ${ctx.nproc} CPUs. ${ctx.workerd_version}.`,
    ),
    '',
    '```sh',
    `${f.command} > bench/results/feed.json`,
    'node bench/report.mjs --feed bench/results/feed.json   # this section alone',
    '```',
    '',
  ].join('\n');
}

function clusterSection(args) {
  const c = args.cluster;
  const ctx = c.context;
  const [one, three] = [1, 3].map((m) => c.runs.find((r) => r.masters === m));
  const perCpu = (m) => (m.cpu_s > 0 ? m.reservations / m.cpu_s : 0);
  const rows = c.runs.flatMap((r) => r.per_master.map((m, i) => `| ${r.masters} | ${i + 1} | ` +
    `${m.partitions.length} | ${fmtRate(m.reservations)} | ${m.cpu_s.toFixed(2)} | ` +
    `${fmtRate(m.evalsha)} | ${fmtRate(perCpu(m))} |`));
  const single = one.per_master[0];
  const ceiling = perCpu(single);
  // With a core per master, the cluster saturates when the master with the most work for its
  // speed does: at its reservations per CPU second divided by its share of the reservations.
  const total = Math.max(1, three.reservations_made);
  const capacity = Math.min(...three.per_master.map((m) => perCpu(m) / (m.reservations / total)));
  const even = three.per_master.reduce((n, m) => n + perCpu(m), 0);
  const busiest = three.per_master.reduce((a, b) => (b.reservations > a.reservations ? b : a));
  return [
    '## Redis Cluster: one master and three',
    '',
    para(
      `A sale of ${ctx.skus} SKUs (each reservation one unit of a SKU drawn at random) through one`,
      `origin with the keyspace in ${ctx.partitions} partitions, on a cluster of one master and`,
      'then of three (no replicas, so the master count is the only difference; AOF with',
      `\`appendfsync always\` on every node), ${ctx.clients} wrk connections for ${ctx.seconds} s`,
      'each. Per master: the partitions whose slots it serves, the reservations of their SKUs,',
      'its CPU seconds (`used_cpu_user` + `used_cpu_sys` from `INFO`) and its `EVALSHA` calls',
      '(batches) during the run.',
    ),
    '',
    '| masters | reservations/s | p50 ms | p99 ms | every call a reservation |',
    '|--:|--:|--:|--:|---|',
    ...c.runs.map((r) => `| ${r.masters} | ${fmtRate(r.rate)} | ${r.p50_ms?.toFixed(2)} | ` +
      `${r.p99_ms?.toFixed(2)} | ${r.all_calls_reserved ? 'yes' : '**no**'} |`),
    '',
    '| masters | master | partitions | reservations | CPU s | EVALSHA calls | reservations per master CPU s |',
    '|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
    '',
    para(
      `Three masters against one, same run: ${(three.rate / one.rate).toFixed(2)}× the`,
      `reservations per second. This machine has ${ctx.nproc} CPUs, shared by the masters, the`,
      'origin and wrk, so the wall-clock rate cannot grow with the masters here; the work per',
      `master shows what it would on machines of their own. Alone, the master spent`,
      `${single.cpu_s.toFixed(2)} CPU s on ${fmtRate(single.reservations)} reservations: at most`,
      `${fmtRate(ceiling)} per second on one core. With three, each did a share of the`,
      `reservations (the busiest ${(busiest.reservations / total * 100).toFixed(0)}%, its slots`,
      `holding ${busiest.partitions.length} of the ${ctx.partitions} partitions). Given a core`,
      'each, the cluster saturates when the master with the most work for its speed does: at',
      `${fmtRate(capacity)} reservations per second for these three as they split the partitions`,
      `(${(capacity / ceiling).toFixed(2)}× one master), and ${fmtRate(even)} per second`,
      `(${(even / ceiling).toFixed(2)}×) with the partitions spread evenly (\`scripts/cluster-move-slot\``,
      'moves a partition\'s slot). Each master\'s rate per CPU second was measured at its share',
      'of this load; under more load its batches grow and so does that rate. The origins in',
      'front must scale out with the masters (they are stateless: run more). An order of one SKU',
      'is one script call in one partition; an order spanning partitions costs a call per part',
      'and one or two at home.',
    ),
    '',
    '```sh',
    `${c.command} > bench/results/cluster.json`,
    'node bench/report.mjs --cluster bench/results/cluster.json   # this section alone',
    '```',
    '',
  ].join('\n');
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const parts = [
    '# Benchmarks',
    '',
    para(
      'Measured numbers of stockgate on the machine described below, all from one run of',
      '`bench/run`, which writes this file. Rerun it rather than editing numbers by hand.',
    ),
    '',
    '## Reproduce',
    '',
    '```sh',
    'bench/run',
    '```',
    '',
    para(
      'It configures and builds (incrementally) what the benchmarks need from the `native`,',
      '`wasi` and `emscripten` presets, runs every benchmark, keeps the raw JSON in',
      '`bench/results/` (not committed) and regenerates this file with `bench/report.mjs`. Run',
      'it on an otherwise idle machine. `ctest -R bench` in `build/native` runs each benchmark',
      'briefly as a smoke test (verdicts checked, no timings asserted).',
    ),
    '',
    machineSection(args),
  ];
  for (const section of SECTIONS) {
    if (section.options.every((o) => args[o])) parts.push(section.render(args));
  }
  // Prose is wrapped; tables and code blocks are left as they are.
  let fenced = false;
  const lines = parts
    .join('\n')
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) {
        fenced = !fenced;
        return line;
      }
      return fenced || line.startsWith('|') ? line : wrap(line);
    });
  process.stdout.write(lines.join('\n'));
}

main();
