// Writes the hand-made seed inputs of the fuzz targets into fuzz/corpus/<target>/seed-*: for
// `requests` one per case of the shared validation vectors (tests/vectors/validation.json), for
// `api` and `jwt` a request or token per route and claim shape. Seeds are committed with the rest
// of the corpus; rerun this only when the vectors or the input layouts change.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from '../scripts/cli.mjs';

parseCli(process.argv.slice(2), {}, { script: import.meta.url });

const here = fileURLToPath(new URL('.', import.meta.url));
const KINDS = ['reservation', 'extend', 'transition', 'set_stock', 'adjustment', 'sku', 'order_id', 'sku_list'];

function write(target, bytes) {
  const dir = join(here, 'corpus', target);
  mkdirSync(dir, { recursive: true });
  const name = `seed-${createHash('sha1').update(bytes).digest('hex').slice(0, 16)}`;
  writeFileSync(join(dir, name), bytes);
}

const vectors = JSON.parse(readFileSync(join(here, '../tests/vectors/validation.json'), 'utf8'));
for (const c of vectors.cases) {
  let body;
  if (c.body !== undefined) body = Buffer.from(c.body, 'utf8');
  else if (c.body_hex !== undefined) body = Buffer.from(c.body_hex, 'hex');
  else continue; // the 64 KiB bodies: libFuzzer's inputs stay small
  write('requests', Buffer.concat([Buffer.from([KINDS.indexOf(c.kind)]), body]));
}

// api: method, Authorization, X-Client-Id, route (indices into api_fuzz.cc's tables), then lines.
const M = { GET: 0, POST: 1, PUT: 2 };
const A = { admin: 0, service: 1, viewer: 2, expired: 3, raw: 4, none: 5 };
const R = { stock: 0, stocks: 1, adjust: 2, history: 3, summary: 4, reserve: 5, reservation: 6,
  confirm: 7, release: 8, extend: 9, ret: 10, snapshot: 11, healthz: 12, raw: 16 };
const api = (m, a, route, param, query, body, raw) => Buffer.concat([
  Buffer.from([M[m], A[a], 1, R[route]]),
  Buffer.from([param, query, ...(raw === undefined ? [] : [raw]), body].join('\n'), 'utf8')]);
const order = '{"order_id":"o1","items":[{"sku":1001,"qty":2},{"sku":1002,"qty":1}],"customer_id":"c1"}';
for (const input of [
  api('PUT', 'admin', 'stock', '1001', '', '{"on_hand":100,"per_customer_limit":2,"reason":"seed"}'),
  api('PUT', 'admin', 'stock', '1002', '', '{"on_hand":5}'),
  api('POST', 'admin', 'adjust', '1001', '', '{"delta":-3,"request_id":"r1","reason":"broken"}'),
  api('POST', 'service', 'reserve', '', '', order),
  api('POST', 'service', 'reserve', '', '', '{"order_id":"o2","items":[{"sku":1002,"qty":1}],"confirm":true}'),
  api('GET', 'service', 'reservation', 'o1', '', ''),
  api('POST', 'service', 'confirm', 'o1', '', ''),
  api('POST', 'service', 'release', 'o1', '', '{"reason":"cancelled"}'),
  api('POST', 'service', 'extend', 'o1', '', '{"ttl_seconds":60}'),
  api('POST', 'service', 'ret', 'o1', '', '{}'),
  api('GET', 'none', 'stock', '1001', '', ''),
  api('GET', 'none', 'stocks', '', 'skus=1001,1002,7', ''),
  api('GET', 'viewer', 'history', '1001', 'page=1&page_size=10&op=reserve', ''),
  api('GET', 'viewer', 'summary', '', 'from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z', ''),
  api('GET', 'none', 'snapshot', '', 'since=0', ''),
  api('GET', 'none', 'healthz', '', '', ''),
  api('GET', 'raw', 'stock', '1001', '', '', 'Bearer not.a.token'),
  api('PUT', 'expired', 'stock', '1001', '', '{"on_hand":1}'),
  api('GET', 'none', 'raw', '/v1/nothing', '', ''),
]) write('api', input);

// jwt: an Authorization header, a bare token, and header/claims pairs that the target signs.
for (const input of [
  'Bearer abc.def.ghi',
  'bearer   eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
  '{"alg":"HS256","typ":"JWT"}\n{"sub":"alice","role":"admin","exp":1900000000}',
  '{"alg":"HS256"}\n{"sub":"svc","role":"service","exp":1900000000,"nbf":1700000000}',
  '{"alg":"none"}\n{"sub":"x","role":"admin","exp":1900000000}',
  '{"alg":"HS256"}\n{"sub":"","role":"viewer","exp":1900000000}',
  '{"alg":"HS256"}\n{"sub":"old","role":"viewer","exp":1}',
  '{"alg":"HS256"}\n{"sub":"r","role":"root","exp":1900000000}',
]) write('jwt', Buffer.from(input, 'utf8'));
