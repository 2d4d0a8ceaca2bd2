// The shell examples of docs/api.md, run top to bottom in page order, as a reader would paste
// them, against a real origin with Redis and a migrated MariaDB history. Every curl must get a
// 2xx answer (curl --fail-with-body); the one placeholder of the page, the secret in its first
// block, and the origin's address are the only things replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cleanups, repoRoot, run, startMariadb, startOrigin } from '../bench/harness.mjs';

const bin = process.env.STOCKGATE_BIN_DIR ?? join(repoRoot, 'build/native');
const origin = join(bin, 'origin/stockgate-origin');
const sync = join(bin, 'sync/stockgate-sync');

// The ```sh blocks of a Markdown page, in order.
function shellBlocks(markdown) {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

test('docs/api.md examples run top to bottom against a real origin', async () => {
  const blocks = shellBlocks(readFileSync(join(repoRoot, 'docs/api.md'), 'utf8'));
  assert.ok(blocks.length >= 20, `only ${blocks.length} examples found`);
  assert.match(blocks[0], /^export STOCKGATE_JWT_SECRET=\.\.\. /m);
  assert.match(blocks[0], /^BASE=http:\/\/127\.0\.0\.1:8080$/m);

  const root = mkdtempSync(join(tmpdir(), 'stockgate-api-examples-'));
  cleanups.unshift(() => rmSync(root, { recursive: true, force: true }));
  const maria = await startMariadb(root);
  const mysql = `mysql://root@127.0.0.1:${maria.port}/stockgate`;
  run(sync, ['--mysql', mysql, 'migrate']);
  const o = await startOrigin(root, 'origin', {
    binary: origin, sku: 1, stock: 0, env: { STOCKGATE_MYSQL: mysql },
  });
  try {
    const first = blocks[0]
      .replace(/^export STOCKGATE_JWT_SECRET=\.\.\. .*$/m, `export STOCKGATE_JWT_SECRET=${o.secret}`)
      .replace(/^BASE=http:\/\/127\.0\.0\.1:8080$/m, `BASE=${o.base}`);
    const script = [
      'set -euo pipefail',
      // Any answer outside 2xx fails the run; a stream watched with --max-time ends that way.
      'curl() { local rc=0; command curl --fail-with-body "$@" || rc=$?',
      '  if ((rc == 28)) && [[ " $* " == *" --max-time "* ]]; then return 0; fi; return $rc; }',
      ...[first, ...blocks.slice(1)].map((b, i) => `echo "== example ${i + 1}" >&2\n${b}`),
    ].join('\n');
    const cwd = join(root, 'shell');
    mkdirSync(cwd);
    const r = spawnSync('bash', ['-c', script], {
      cwd, encoding: 'utf8', timeout: 60_000,
      env: { PATH: `${join(bin, 'origin')}:${process.env.PATH}`, HOME: cwd },
    });
    const failed = r.stderr.trim().split('\n').filter((l) => l.startsWith('== example')).at(-1);
    assert.equal(r.status, 0,
      `stopped at ${failed} of ${blocks.length}:\n${r.stderr.slice(-2000)}\n${r.stdout.slice(-2000)}`);
  } finally {
    o.stop();
    maria.stop();
  }
});
