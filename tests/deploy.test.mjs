// deploy/check holds the shipped systemd units to systemd's own reading of them (verify, with no
// message at all) and to a hardening bound (systemd-analyze security), and the MariaDB settings to
// mariadbd's: the shipped files pass, and a unit with a misspelt key, units without the shared
// sandbox, or a bound they do not meet, fail the check.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const check = (...args) => spawnSync(join(repo, 'deploy/check'), args, { encoding: 'utf8', timeout: 60_000 });
const units = readdirSync(join(repo, 'deploy/systemd')).filter((f) => f.endsWith('.service'));

test('every shipped unit verifies cleanly and is hardened', () => {
  assert.deepEqual(units.sort(), ['stockgate-edge@.service', 'stockgate-migrate.service',
    'stockgate-origin.service', 'stockgate-redis.service', 'stockgate-sync.service']);
  const r = check();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  for (const unit of units) {
    const name = unit.replace('@.service', '@8081.service');
    assert.match(r.stdout, new RegExp(`${name.replace('.', '\\.')}: verified, exposure [0-2]\\.\\d`));
  }
  assert.match(r.stdout, /60-stockgate\.cnf: accepted by mariadbd/);
  assert.match(r.stdout, /deploy\/prometheus: 10 rules found, unit tests pass/);
  // The sandbox is one drop-in that systemd applies to every stockgate-*.service.
  const sandbox = readFileSync(join(repo, 'deploy/systemd/stockgate-.service.d/hardening.conf'), 'utf8');
  for (const line of ['DynamicUser=yes', 'NoNewPrivileges=yes', 'ProtectSystem=strict']) {
    assert.ok(sandbox.includes(`\n${line}\n`), `the sandbox lacks ${line}`);
  }
});

test('a misspelt key or a stricter bound fails the check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-deploy-test-'));
  try {
    cpSync(join(repo, 'deploy/systemd'), dir, { recursive: true });
    const path = join(dir, 'stockgate-origin.service');
    writeFileSync(path, readFileSync(path, 'utf8').replace('\nLimitNOFILE=', '\nLimitNOFILES='));
    const bad = check('--units', dir);
    assert.equal(bad.status, 1, bad.stdout);
    assert.match(bad.stdout, /Unknown key 'LimitNOFILES'/);
    rmSync(path);
    rmSync(join(dir, 'stockgate-.service.d'), { recursive: true });
    const bare = check('--units', dir);
    assert.equal(bare.status, 1, bare.stdout);
    assert.match(bare.stdout, /stockgate-sync\.service: exposure [5-9]\.\d, above 2\.5/, 'no sandbox');
    const strict = check('--exposure', '1.0');
    assert.equal(strict.status, 1, strict.stdout);
    assert.match(strict.stdout, /exposure 1\.\d, above 1\.0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
