// The demo's login service: what a shop's own login does after it has checked a customer, here
// without any check. It holds the token issuer's private key and gives each customer it is asked
// about a buyer token (ES256, `sub` = the customer, 1 hour), so that every simulated buyer and
// bot of the demo page has an identity of its own, while the page, the edge and the origin hold
// no key that can sign. The stack starts it on loopback; never run it where customers can reach
// it: it would hand any buyer token to anyone.
//
//   node scripts/demo-login.mjs --port PORT --key ISSUER.pem --kid KID --allow-origin URL
//
//   POST /v1/buyer-tokens {"customers": ["c1", ...]}  (1..1000 ids of the API's id rule)
//        -> 200 {"tokens": ["eyJ...", ...]} in the same order
//   GET  /healthz -> 200
//
// Cross-origin calls are allowed from --allow-origin only (the edge that serves the page).
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseCli } from './cli.mjs';

const ID = /^[A-Za-z0-9._:-]{1,64}$/; // the API's customer_id rule
const MAX_CUSTOMERS = 1000;
const TTL_S = 3600;
const MAX_BODY = 128 * 1024;

const o = parseCli(process.argv.slice(2), {
  port: '', key: '', kid: '', allowOrigin: '', host: '127.0.0.1',
}, { script: import.meta.url });
if (!o.port || !o.key || !o.kid) {
  process.stderr.write('demo-login.mjs: needs --port, --key and --kid (see --help)\n');
  process.exit(2);
}
const key = createPrivateKey(readFileSync(o.key));
if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
  process.stderr.write(`demo-login: ${o.key} is not a P-256 private key\n`);
  process.exit(2);
}

const b64url = (data) => Buffer.from(data).toString('base64url');
const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: o.kid }));

export function buyerToken(customer, nowS = Math.floor(Date.now() / 1000)) {
  const payload = b64url(JSON.stringify({ sub: customer, role: 'buyer', exp: nowS + TTL_S }));
  const input = `${header}.${payload}`;
  // JWS wants r || s (RFC 7518 §3.4), not DER.
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

function answer(res, status, body, extra = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...cors, ...extra });
  res.end(JSON.stringify(body));
}
const problem = (res, status, code, message) => answer(res, status, { error: { code, message } });
const cors = o.allowOrigin ? { 'Access-Control-Allow-Origin': o.allowOrigin, Vary: 'Origin' } : {};

const server = createServer((req, res) => {
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Max-Age': '600' });
    return res.end();
  }
  if (req.url === '/healthz' && req.method === 'GET') return answer(res, 200, { status: 'ok' });
  if (req.url !== '/v1/buyer-tokens') return problem(res, 404, 'not_found', `no route ${req.method} ${req.url}`);
  if (req.method !== 'POST') return problem(res, 405, 'invalid_request', 'use POST');
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return problem(res, 413, 'payload_too_large', `body over ${MAX_BODY} bytes`);
    let customers;
    try {
      ({ customers } = JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      return problem(res, 400, 'invalid_request', 'body must be JSON: {"customers": [...]}');
    }
    if (!Array.isArray(customers) || customers.length < 1 || customers.length > MAX_CUSTOMERS ||
        !customers.every((c) => typeof c === 'string' && ID.test(c))) {
      return problem(res, 400, 'invalid_request',
        `customers must be 1..${MAX_CUSTOMERS} ids of 1..64 characters A-Z a-z 0-9 . _ : -`);
    }
    const now = Math.floor(Date.now() / 1000);
    return answer(res, 200, { tokens: customers.map((c) => buyerToken(c, now)) });
  });
});
server.listen(Number(o.port), o.host, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: Number(o.port), kid: o.kid })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
