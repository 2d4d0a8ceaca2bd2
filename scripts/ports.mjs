// Free loopback ports for the servers the scripts, tests and benchmarks start.
import { createServer } from 'node:net';

// A port nothing listens on now (the kernel's pick).
export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// True when every port of first .. first + count - 1 is free on loopback now.
export async function rangeFree(first, count) {
  const free = (port) => new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, '127.0.0.1', () => s.close(() => ok(true)));
  });
  for (let p = first; p < first + count; p++) if (!await free(p)) return false;
  return true;
}

// The first of `count` consecutive free ports (a Redis Cluster's nodes, then their bus ports):
// those from `preferred` when they are all free, else a random block in 20000..49999.
export async function freePortRange(count, preferred) {
  if (preferred && await rangeFree(preferred, count)) return preferred;
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 30_000);
    if (await rangeFree(first, count)) return first;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
