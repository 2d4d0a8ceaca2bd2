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

// grpc: method, token (indices into grpc_fuzz.cc's tables), then the request message in protobuf
// wire format, encoded from the repo's .proto files with protobufjs (a dependency of npm's
// @grpc/proto-loader).
{
  const { createRequire } = await import('node:module');
  const protobuf = createRequire(import.meta.url)('protobufjs');
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/')
    ? join(here, '../node_modules/protobufjs', target)
    : join(here, '../origin/grpc/proto', target));
  root.loadSync(['inventory/inventory.proto', 'inventory/v1/inventory.proto']);
  const T = { admin: 0, service: 1, viewer: 2, none: 3 };
  // The order of Methods() in grpc_fuzz.cc.
  const methods = [
    'inventory.GetInventoryRequest', 'inventory.BatchGetInventoryRequest',
    'inventory.SetInventoryRequest', 'inventory.InventoryOperationRequest',
    'inventory.LockInventoryRequest', 'inventory.UnlockInventoryRequest',
    'inventory.ConfirmReduceRequest', 'inventory.GetInventoryHistoryRequest',
    'inventory.GoodsInvInfo', 'inventory.SellInfo', 'inventory.SellInfo',
    'inventory.v1.RestockInventoryRequest', 'inventory.v1.GetStockRequest',
    'inventory.v1.BatchGetStockRequest', 'inventory.v1.DeductStockRequest',
    'inventory.v1.ReleaseStockRequest', 'inventory.v1.GetInventoryLogsRequest',
  ];
  const grpcSeed = (index, token, message) => {
    const type = root.lookupType(methods[index]);
    write('grpc', Buffer.concat([Buffer.from([index, T[token]]),
      Buffer.from(type.encode(type.fromObject(message)).finish())]));
  };
  grpcSeed(0, 'none', { product_id: 1 });
  grpcSeed(1, 'service', { product_ids: [1, 2, 99] });
  grpcSeed(2, 'admin', { product_id: 2, stock: 20, operator: 'ops' });
  grpcSeed(3, 'admin', { product_id: 1, quantity: 4, operator: 'ops', remark: 'truck' });
  grpcSeed(4, 'service', { lock_key: 'k1', items: [{ product_id: 1, quantity: 2 }, { product_id: 2, quantity: 1 }], timeout_seconds: 60 });
  grpcSeed(4, 'service', { lock_key: 'k2', items: [{ product_id: 3, quantity: 50 }] });
  grpcSeed(5, 'service', { lock_key: 'k1' });
  grpcSeed(6, 'service', { lock_key: 'k1' });
  grpcSeed(7, 'viewer', { product_id: 1, page: 1, page_size: 10, start_time: { seconds: 1 }, end_time: { seconds: 2000000000 } });
  grpcSeed(8, 'admin', { goods_id: 3, num: 7 });
  grpcSeed(9, 'service', { order_sn: 'sn1', goods_info: [{ goods_id: 2, num: 1 }] });
  grpcSeed(10, 'service', { order_sn: 'sn1', goods_info: [{ goods_id: 2, num: 1 }] });
  grpcSeed(11, 'admin', { book_id: 1, quantity: 5 });
  grpcSeed(12, 'none', { book_id: 2 });
  grpcSeed(13, 'service', { book_ids: [1, 2, 3] });
  grpcSeed(14, 'service', { book_id: 1, quantity: 1, order_id: 1001 });
  grpcSeed(15, 'service', { book_id: 1, quantity: 1, order_id: 1001 });
  grpcSeed(16, 'viewer', { book_id: 1, page: 2, page_size: 5 });
}
