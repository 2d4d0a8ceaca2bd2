// Every command-line tool of the repository answers --help with its usage, exits 0 and does
// nothing else (no build, no server, no file written), and refuses an unknown option in at most
// two lines with a non-zero exit. The binaries come from STOCKGATE_BIN_DIR (build/native).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = process.env.STOCKGATE_BIN_DIR ?? join(repo, 'build/native');
const node = process.execPath;

// [name, command, args before the option]; each is run with --help and with --bogus.
const TOOLS = [
  ['scripts/run', join(repo, 'scripts/run'), []],
  ['scripts/test', join(repo, 'scripts/test'), []],
  ['scripts/bootstrap', join(repo, 'scripts/bootstrap'), []],
  ['scripts/check-format', join(repo, 'scripts/check-format'), []],
  ['scripts/check-api-docs', join(repo, 'scripts/check-api-docs'), []],
  ['scripts/stack', join(repo, 'scripts/stack'), ['status']],
  ['scripts/edge-start', join(repo, 'scripts/edge-start'), []],
  ['scripts/redis-start', join(repo, 'scripts/redis-start'), []],
  ['scripts/cluster-start', join(repo, 'scripts/cluster-start'), []],
  ['scripts/cluster-move-slot', join(repo, 'scripts/cluster-move-slot'), []],
  ['scripts/mariadb-start', join(repo, 'scripts/mariadb-start'), []],
  ['scripts/demo-login.mjs', node, [join(repo, 'scripts/demo-login.mjs')]],
  ['faults/run', join(repo, 'faults/run'), []],
  ['deploy/check', join(repo, 'deploy/check'), []],
  ['fuzz/run', join(repo, 'fuzz/run'), []],
  ['fuzz/seed.mjs', node, [join(repo, 'fuzz/seed.mjs')]],
  ['bench/run', join(repo, 'bench/run'), []],
  ['.ci/run', join(repo, '.ci/run'), []],
  ...['core_bench', 'origin_bench', 'sync_bench', 'edge_bench', 'feed_bench', 'soak', 'report']
    .map((n) => [`bench/${n}.mjs`, node, [join(repo, `bench/${n}.mjs`)]]),
  ['tests/vectors/generate.mjs', node, [join(repo, 'tests/vectors/generate.mjs')]],
  ['stockgate-origin', join(bin, 'origin/stockgate-origin'), []],
  ['stockgate-origin token', join(bin, 'origin/stockgate-origin'), ['token']],
  ['stockgate-origin jwks', join(bin, 'origin/stockgate-origin'), ['jwks']],
  ['stockgate-sync', join(bin, 'sync/stockgate-sync'), []],
  ['stockgate-origin-load', join(bin, 'bench/stockgate-origin-load'), []],
  ['stockgate-mysql-load', join(bin, 'bench/stockgate-mysql-load'), []],
  ['stockgate-grpc-load', join(bin, 'bench/stockgate-grpc-load'), []],
  ['stockgate-flash-sale', join(bin, 'bench/stockgate-flash-sale'), []],
];

// Files a tool run by mistake would rewrite.
const WATCHED = ['docs/benchmarks.md', 'tests/vectors/validation.json'];
const digest = () => WATCHED.map((f) => createHash('sha256').update(readFileSync(join(repo, f))).digest('hex'));

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, cwd: repo });

for (const [name, cmd, pre] of TOOLS) {
  test(`${name} --help prints its usage and does nothing else`, () => {
    const before = digest();
    const r = run(cmd, [...pre, '--help']);
    assert.equal(r.status, 0, `${name} --help exited ${r.status}: ${r.stderr}`);
    assert.ok(r.stdout.trim().split('\n').length >= 1 && r.stdout.trim().length > 20,
      `${name} --help printed no usage: ${r.stdout}`);
    assert.deepEqual(digest(), before, `${name} --help changed a tracked file`);
  });

  test(`${name} refuses an unknown option in a line or two`, () => {
    const r = run(cmd, [...pre, '--no-such-option']);
    assert.notEqual(r.status, 0, `${name} accepted --no-such-option`);
    const lines = r.stderr.trim().split('\n').filter(Boolean);
    assert.ok(lines.length >= 1 && lines.length <= 2, `${name}: ${r.stderr}`);
  });
}
