// scripts/cluster-start brings up a Redis Cluster of 3 masters and 3 replicas on loopback with
// the shipped durability (AOF, appendfsync always), prints the seed list, is idempotent over the
// same directory, restarts a killed master (which rejoins, as a replica once its own replica has
// been promoted), stops every node with --stop, and refuses bad arguments; scripts/cluster-move-slot
// moves a slot with all its keys to another master.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePortRange } from '../scripts/ports.mjs';

const repo = fileURLToPath(new URL('..', import.meta.url));
const script = join(repo, 'scripts/cluster-start');
const NODES = 6;

const run = (args) => spawnSync(script, args, { encoding: 'utf8', timeout: 120_000 });
const cli = (port, ...args) =>
  spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 }).stdout;

// A first port with the 2 * NODES ports from it (client and bus ports) free.
const freeBlock = () => freePortRange(2 * NODES);

const alive = (dir) => Array.from({ length: NODES }, (_, i) => {
  try {
    const pid = Number(readFileSync(join(dir, `node-${i}`, 'redis.pid'), 'utf8'));
    process.kill(pid, 0);
    return pid;
  } catch {
    return 0;
  }
}).filter(Boolean);

test('cluster-start: 3 masters, 3 replicas, AOF always, idempotent, restarts a killed master', async () => {
  const base = await freeBlock();
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-cluster-'));
  try {
    const first = run([String(base), dir, '--node-timeout-ms', '1000']);
    assert.equal(first.status, 0, first.stderr);
    const seeds = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${base + i}`).join(',');
    assert.equal(first.stdout.trim(), seeds);

    const nodes = cli(base, 'cluster', 'nodes').trim().split('\n');
    assert.equal(nodes.length, NODES);
    assert.equal(nodes.filter((l) => l.split(' ')[2].includes('master')).length, 3);
    assert.equal(nodes.filter((l) => l.split(' ')[2].includes('slave')).length, 3);
    for (let i = 0; i < NODES; i++) {
      assert.match(cli(base + i, 'config', 'get', 'appendfsync'), /always/);
      assert.match(cli(base + i, 'config', 'get', 'appendonly'), /yes/);
    }
    assert.match(cli(base, 'cluster', 'info'), /cluster_state:ok/);

    const pids = alive(dir);
    assert.equal(pids.length, NODES);
    const again = run([String(base), dir]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout.trim(), seeds);
    assert.deepEqual(alive(dir), pids, 'a second run starts nothing new');

    // A master dies; the next run restarts it and waits until the cluster is whole again.
    // redis-cli --cluster create makes the first three nodes the masters.
    const victim = 0;
    assert.ok(nodes.some((l) => l.includes(`:${base + victim}@`) && l.includes('master')));
    process.kill(pids[victim], 'SIGKILL');
    const restarted = run([String(base), dir]);
    assert.equal(restarted.status, 0, restarted.stderr);
    assert.equal(alive(dir).length, NODES);
    assert.match(cli(base + victim, 'cluster', 'info'), /cluster_state:ok/);
    assert.match(cli(base + victim, 'cluster', 'info'), /cluster_known_nodes:6/);
  } finally {
    const stopped = run(['--stop', dir]);
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal(alive(dir).length, 0, 'every node stopped');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cluster-start refuses bad arguments and changes nothing', () => {
  for (const args of [['--masters', '0', '7000', '/nonexistent'],
    ['--masters', '1', '7000', '/tmp/x'], ['70000', '/tmp/x'], ['7000'],
    ['--replicas', 'x', '7000', '/tmp/x'], ['07000', '/tmp/x']]) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.ok(r.stderr.trim().split('\n').length <= 2, r.stderr);
  }
});

test('cluster-move-slot moves a slot with its keys to another master', async () => {
  const base = await freeBlock();
  const dir = mkdtempSync(join(tmpdir(), 'stockgate-cluster-move-'));
  const move = (...args) => spawnSync(join(repo, 'scripts/cluster-move-slot'), args,
    { encoding: 'utf8', timeout: 60_000 });
  try {
    const up = run([String(base), dir, '--replicas', '0']);
    assert.equal(up.status, 0, up.stderr);
    const slot = Number(cli(base, 'cluster', 'keyslot', 'sg:{p0}').trim());
    for (let i = 0; i < 250; i++) assert.equal(cli(base, '-c', 'set', `sg:{p0}:k${i}`, `${i}`).trim(), 'OK');
    const owner = () => {
      for (const line of cli(base, 'cluster', 'nodes').trim().split('\n')) {
        const [, addr, flags, , , , , , ...ranges] = line.split(' ');
        if (!flags.includes('master')) continue;
        for (const r of ranges) {
          const [first, last = first] = r.split('-').map(Number);
          if (slot >= first && slot <= last) return Number(addr.split('@')[0].split(':')[1]);
        }
      }
      return 0;
    };
    const from = owner();
    const to = [base, base + 1, base + 2].find((p) => p !== from);
    const moved = move(`127.0.0.1:${base}`, String(slot), `127.0.0.1:${to}`);
    assert.equal(moved.status, 0, moved.stderr);
    assert.match(moved.stdout, /\(250 keys\)/);
    assert.equal(owner(), to);
    for (const p of [base, base + 1, base + 2]) {
      assert.equal(Number(cli(p, 'cluster', 'countkeysinslot', String(slot)).trim()), p === to ? 250 : 0);
    }
    assert.equal(cli(from, '-c', 'get', 'sg:{p0}:k7').trim(), '7', 'clients follow MOVED');
    const again = move(`127.0.0.1:${base}`, String(slot), `127.0.0.1:${to}`);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /already on/);

    // With the default user closed, a move needs a user (REDIS_USER, REDISCLI_AUTH), which the
    // source also gives the target (AUTH2). Without one it fails before any key left, and the
    // slot is left stable where it was.
    for (const p of [base, base + 1, base + 2]) {
      assert.equal(cli(p, 'ACL', 'SETUSER', 'ops', 'on', '>ops-secret', '~*', '&*', '+@all').trim(), 'OK');
      assert.equal(cli(p, 'ACL', 'SETUSER', 'default', 'off').trim(), 'OK');
    }
    const asOps = (...args) => spawnSync('redis-cli', ['-p', String(args.shift()), '--user', 'ops',
      '--pass', 'ops-secret', '--no-auth-warning', ...args], { encoding: 'utf8' }).stdout.trim();
    const refused = move(`127.0.0.1:${base}`, String(slot), `127.0.0.1:${from}`);
    assert.notEqual(refused.status, 0, refused.stdout);
    assert.equal(Number(asOps(to, 'cluster', 'countkeysinslot', String(slot))), 250);
    assert.doesNotMatch(asOps(to, 'cluster', 'nodes'), /\[\d+-[<>]-/, 'no slot left migrating');
    const back = spawnSync(join(repo, 'scripts/cluster-move-slot'),
      [`127.0.0.1:${base}`, String(slot), `127.0.0.1:${from}`],
      { encoding: 'utf8', timeout: 60_000, env: { ...process.env, REDIS_USER: 'ops', REDISCLI_AUTH: 'ops-secret' } });
    assert.equal(back.status, 0, back.stderr);
    assert.equal(Number(asOps(from, 'cluster', 'countkeysinslot', String(slot))), 250);
    for (const args of [[`127.0.0.1:${base}`, '16384', `127.0.0.1:${to}`], [`127.0.0.1:${base}`, String(slot)],
      [`127.0.0.1:${base}`, String(slot), '127.0.0.1:1']]) {
      const bad = move(...args);
      assert.notEqual(bad.status, 0, args.join(' '));
    }
  } finally {
    run(['--stop', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
