// Edge: the decision logic of the edge worker, as a class that a test can drive with a fake
// origin and clock. Reservations are validated and admitted by the wasm core's AdmissionGate
// (per-client and per-SKU token buckets, sold-out answers from the origin's snapshot feed, at
// most a bounded multiple of `available` forwarded per window); stock reads are served from a
// short-lived cache; the demo page (`/` and `/demo/*`) comes from a static site; everything else
// goes to the origin untouched. Every answer carries X-Stockgate-Edge: admitted | sold_out |
// rate_limited | invalid | cached | stale | proxied (and static or stats for the edge's own pages).
//
// Who a client is (the key of its token bucket) comes only from what a caller cannot renew at
// will: the `sub` of a token verified with the issuer's public keys (ES256, JWKS; the edge holds
// no key that can sign), else an address from the one header the operator names as set by a
// trusted proxy, else X-Client-Id where the operator turns it on. A request with none of these
// never gets a bucket of its own: its reservations are refused (401) unless the operator allows
// anonymous buyers, and then every anonymous caller shares one client's budget, as do all
// anonymous requests that reach the origin.

const RESERVATIONS = '/v1/reservations';
const STOCK_PATH = /^\/v1\/stock\/([^/]+)$/;
// The demo page's files by extension; anything else is served as bytes.
const CONTENT_TYPES = {
  html: 'text/html; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  wasm: 'application/wasm',
  json: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
};
// Hop-by-hop headers are the connection's, not the message's (RFC 9110 §7.6.1).
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade'];

// Settings, each from a binding of the same name (text) or its default.
export const DEFAULTS = Object.freeze({
  CLIENT_RATE: 20, // requests per second per client (its identity, see above); 0 off
  CLIENT_BURST: 40,
  SKU_RATE: 0, // reservation attempts per second per SKU; 0 off
  SKU_BURST: 1,
  ADMIT_MULTIPLE: 2, // per window, forward at most ceil(available * this) reservations per SKU
  WINDOW_MS: 250, // admission window, and how often the snapshot feed is polled
  FRESHNESS_MS: 500, // oldest snapshot or cached stock read the edge decides on
  TABLE_CAPACITY: 100000, // client and SKU entries kept; least recently used are evicted
  CACHE_CAPACITY: 10000, // cached GET /v1/stock/{sku} answers
  ORIGIN_TIMEOUT_MS: 2000, // an origin that does not answer in time is unavailable
  RETRY_AFTER_S: 1, // Retry-After of the edge's own 503
  TRUST_CLIENT_ID: 0, // 1: X-Client-Id identifies a client (only behind a proxy that sets it)
  ANONYMOUS_RESERVATIONS: 0, // 1: reservations without identity share one client's budget
});
// Text settings: the header a trusted proxy sets to the client's address ('' for none), e.g.
// CF-Connecting-IP behind Cloudflare or X-Real-IP behind nginx.
export const TEXT_DEFAULTS = Object.freeze({ CLIENT_IP_HEADER: '' });
// The shared key of every caller without an identity.
const ANONYMOUS = 'anonymous';
// Verified tokens remembered (by the exact text of their Authorization header), so a client that
// sends the same token with every request pays for its signature once; the expiry is checked
// every time.
const CACHED_TOKENS = 10000;
// Rejection status-and-header sets kept (see Edge.rejectionInit).
const REJECTION_INITS = 64;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function settingsFrom(env = {}) {
  const out = {};
  for (const [k, def] of Object.entries(DEFAULTS)) {
    const raw = env[k];
    if (raw === undefined || raw === null || raw === '') {
      out[k] = def;
      continue;
    }
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`edge setting ${k}: not a number >= 0: ${raw}`);
    out[k] = n;
  }
  if (out.WINDOW_MS < 1 || out.FRESHNESS_MS < 1) throw new Error('WINDOW_MS and FRESHNESS_MS are >= 1');
  for (const [k, def] of Object.entries(TEXT_DEFAULTS)) out[k] = env[k] ? String(env[k]).trim() : def;
  if (out.CLIENT_IP_HEADER && !HEADER_NAME.test(out.CLIENT_IP_HEADER)) {
    throw new Error(`edge setting CLIENT_IP_HEADER: not a header name: ${out.CLIENT_IP_HEADER}`);
  }
  return out;
}

// The issuer's public keys from a JWK Set text: Map kid -> Promise<CryptoKey> (ECDSA P-256,
// verify only). Throws on anything else, and on a key with its private part: the edge's
// configuration must not be able to sign.
export function importJwks(text) {
  const keys = new Map();
  if (!text) return keys;
  let set;
  try {
    set = JSON.parse(text);
  } catch {
    throw new Error('JWKS: not JSON');
  }
  if (!Array.isArray(set?.keys) || set.keys.length === 0) throw new Error('JWKS: expected {"keys": [...]}');
  for (const [i, k] of set.keys.entries()) {
    const name = `JWKS key ${i}${k?.kid ? ` (kid ${k.kid})` : ''}`;
    if (typeof k?.kid !== 'string' || !k.kid) throw new Error(`${name}: needs a kid`);
    if ('d' in k) throw new Error(`${name} holds a private key: give the edge the public key only`);
    if (k.kty !== 'EC' || k.crv !== 'P-256') throw new Error(`${name}: only EC P-256 keys (ES256)`);
    if (keys.has(k.kid)) throw new Error(`${name}: kid used twice`);
    const key = crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: k.x, y: k.y },
      { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    key.catch(() => {}); // a bad point fails verification of its tokens, not the isolate
    keys.set(k.kid, key);
  }
  return keys;
}

function errorResponse(status, code, message, edge, extraHeaders = {}) {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'X-Stockgate-Edge': edge,
      ...extraHeaders,
    },
  });
}

// A copy of an origin answer with the edge's header added; the body is passed through as is.
function tagged(response, edge, extraHeaders = {}) {
  const headers = new Headers(response.headers);
  headers.set('X-Stockgate-Edge', edge);
  for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

function base64UrlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

const ROLES = new Set(['admin', 'service', 'viewer', 'buyer']);
// The cache key of a SKU as a path spells it: "007" and "7" are one SKU.
const skuKey = (text) => (/^\d{1,16}$/.test(text) ? String(Number(text)) : text);
const STOCK_ITEMS = /^\/v1\/stock\/([^/]+)(?:\/adjustments)?$/;

export class Edge {
  // core: a StockgateCore (wasm/js/stockgate_core.mjs); origin: (Request) => Promise<Response>;
  // now: () => ms; settings: settingsFrom(env); jwks: the token issuer's public keys as a JWK
  // Set text ('' for none: no token is verified here, the origin checks them); site:
  // (Request) => Promise<Response> reading the demo page's files (a workerd disk service), or
  // null for none; feed: { subscribe: (Request) => Promise<Response>, stats: () =>
  // Promise<object> }, this process's fan-out of the public stock feed (LiveFeed), or null to
  // proxy every subscriber to the origin.
  constructor({ core, origin, now = () => Date.now(), settings = settingsFrom(), jwks = '',
    site = null, feed = null }) {
    this.core = core;
    this.origin = origin;
    this.site = site;
    this.feed = feed;
    this.now = now;
    this.s = settings;
    this.gate = core.newGate({
      clientRate: this.s.CLIENT_RATE || -1,
      clientBurst: Math.max(1, this.s.CLIENT_BURST),
      skuRate: this.s.SKU_RATE || -1,
      skuBurst: Math.max(1, this.s.SKU_BURST),
      clientCapacity: this.s.TABLE_CAPACITY,
      skuCapacity: this.s.TABLE_CAPACITY,
      admitMultiple: this.s.ADMIT_MULTIPLE,
      windowMs: this.s.WINDOW_MS,
      // A hint older than the freshness bound is ignored: a stale feed fails open to the origin.
      maxHintAgeMs: this.s.FRESHNESS_MS,
    });
    this.jwtKeys = importJwks(jwks);
    this.verified = new Map(); // Authorization header text -> { key: `sub:<sub>`, exp }
    this.rejectionInits = new Map(); // see rejectionInit
    this.admitted = core.verdictNames.indexOf('admitted'); // the gate's verdict for "let through"
    // The snapshot feed: available units per SKU as of snapshotAt (each refresh hands the gate
    // what changed).
    this.available = new Map();
    this.snapshotVersion = 0;
    this.snapshotCursor = '0';
    this.snapshotRunSince = 0; // when the whole snapshot the current deltas follow was taken
    this.snapshotAt = -Infinity;
    this.refreshing = null;
    this.cache = new Map(); // sku -> { at, status, body, headers }
    this.stats = { admitted: 0, sold_out: 0, rate_limited: 0, invalid: 0, cached: 0, stale: 0,
      proxied: 0, static: 0, unavailable: 0, snapshot_failures: 0, anonymous: 0,
      refused_tokens: 0 };
  }

  // Keeps the snapshot no older than WINDOW_MS. Returns a promise to await when the snapshot is
  // older than the freshness bound (or missing) and this request started the refresh, else
  // nothing; a refresh the request need not wait for is handed to ctx.waitUntil (ctx: the
  // request's workerd context, or undefined in tests). A request never waits on a refresh
  // another request started: workerd ties I/O to the request that began it, and one request must
  // not hang on another's. Those requests go ahead on the stale snapshot, which the gate ignores
  // (the origin decides).
  freshen(ctx) {
    const age = this.now() - this.snapshotAt;
    if (age < this.s.WINDOW_MS || this.refreshing) return undefined;
    const refreshing = this.refresh().finally(() => {
      this.refreshing = null;
    });
    this.refreshing = refreshing;
    if (age >= this.s.FRESHNESS_MS) return refreshing;
    ctx?.waitUntil(refreshing);
    return undefined;
  }

  async refresh() {
    const started = this.now();
    try {
      const url = `http://origin/v1/snapshot?since=${encodeURIComponent(this.snapshotCursor)}`;
      const r = await this.origin(new Request(url, {
        signal: AbortSignal.timeout(this.s.ORIGIN_TIMEOUT_MS),
      }));
      if (r.status === 400 && this.snapshotCursor !== '0') {
        // An origin that does not take this cursor (one from before cursors, during an
        // upgrade): start over from everything, which every origin takes.
        await r.arrayBuffer();
        this.snapshotCursor = '0';
        return this.refresh();
      }
      if (r.status !== 200) throw new Error(`snapshot answered ${r.status}`);
      const snap = await r.json();
      if (snap.version < this.snapshotVersion) {
        // The origin's snapshot version went back (its keyspace was emptied): start over.
        this.available.clear();
        this.snapshotVersion = 0;
        this.snapshotCursor = '0';
        return this.refresh();
      }
      // A whole snapshot starts a new run of deltas: hints from before it are not confirmed by
      // the deltas that follow (the gate lets them age).
      if (this.snapshotCursor === '0') this.snapshotRunSince = started;
      // Only what changed reaches the gate (admission windows open by themselves); the delta
      // confirms the rest, so a sold-out SKU keeps being answered locally at a cost that does not
      // grow with the catalog.
      for (const { sku, available } of snap.items) {
        this.available.set(sku, available);
        this.gate.setAvailable(sku, available, started);
      }
      this.gate.confirmHints(started, Math.min(this.snapshotRunSince, started));
      this.snapshotVersion = snap.version;
      // Where the next delta starts: the cursor (one version per partition of the origin's
      // store), or the version from an origin that answers none.
      this.snapshotCursor = typeof snap.cursor === 'string' ? snap.cursor : String(snap.version);
      this.snapshotAt = started;
    } catch {
      this.stats.snapshot_failures++;
    }
  }

  // Who the client is: `sub:` of a verified token, else `ip:` from the trusted proxy's header,
  // else `id:` from X-Client-Id where trusted; null for none. A token that claims our issuer
  // (ES256 with a known kid, or the only key) but fails verification, or has expired, is a
  // Response (401) instead: it will not pass at the origin either. A token the edge cannot judge
  // (another algorithm or an unknown kid) identifies nobody here; the origin decides on it.
  // A promise only when there is a token to verify.
  identify(request, now = this.now()) {
    if (this.jwtKeys.size > 0) {
      const auth = request.headers.get('Authorization');
      if (auth) {
        // A token seen before is answered without a promise, by the header's exact text: the
        // hot path of a sale.
        const hit = this.verified.get(auth);
        if (hit) return hit.exp * 1000 > now ? hit.key : this.refusedToken('token expired');
        if (/^bearer\s/i.test(auth)) return this.verifiedKey(request, auth);
      }
    }
    return this.untrustedKey(request);
  }

  untrustedKey(request) {
    if (this.s.CLIENT_IP_HEADER) {
      const ip = request.headers.get(this.s.CLIENT_IP_HEADER);
      if (ip) return `ip:${ip.slice(0, 64)}`;
    }
    if (this.s.TRUST_CLIENT_ID) {
      const id = request.headers.get('X-Client-Id');
      if (id) return `id:${id.slice(0, 128)}`;
    }
    return null;
  }

  async verifiedKey(request, auth) {
    const now = this.now();
    const parts = auth.slice(7).trim().split('.');
    let header;
    let claims;
    try {
      if (parts.length !== 3) return this.untrustedKey(request);
      header = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[0])));
      claims = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[1])));
    } catch {
      return this.untrustedKey(request);
    }
    if (header?.alg !== 'ES256') return this.untrustedKey(request);
    const kid = typeof header.kid === 'string' ? header.kid : null;
    const key = kid !== null ? this.jwtKeys.get(kid)
      : this.jwtKeys.size === 1 ? this.jwtKeys.values().next().value : undefined;
    if (!key) return this.untrustedKey(request);
    let ok = false;
    try {
      ok = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, await key,
        base64UrlDecode(parts[2]), new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
    } catch {
      ok = false;
    }
    if (!ok) return this.refusedToken('bad signature');
    if (typeof claims?.sub !== 'string' || !claims.sub || !Number.isInteger(claims.exp) ||
        !ROLES.has(claims.role) || 'crit' in header) {
      return this.refusedToken('invalid claims');
    }
    if (claims.exp * 1000 <= now) return this.refusedToken('token expired');
    if (Number.isInteger(claims.nbf) && claims.nbf * 1000 > now) {
      return this.refusedToken('token not yet valid');
    }
    if (this.verified.size >= CACHED_TOKENS) this.verified.delete(this.verified.keys().next().value);
    const client = `sub:${claims.sub}`;
    this.verified.set(auth, { key: client, exp: claims.exp });
    return client;
  }

  refusedToken(message) {
    this.stats.refused_tokens++;
    return errorResponse(401, 'unauthenticated', message, 'invalid',
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }

  // The request to the origin, answered or null when the origin cannot be reached in time. A
  // failed connection is tried up to twice more within the deadline: a keep-alive connection the
  // origin has just closed fails that way, and every mutation of the API is idempotent by its
  // key, so a retry is safe.
  async forward(request, edge, body) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const h of HOP_BY_HOP) headers.delete(h);
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const payload = hasBody ? (body ?? await request.arrayBuffer()) : undefined;
    const deadline = this.now() + this.s.ORIGIN_TIMEOUT_MS;
    for (let attempt = 0; attempt < 3; attempt++) {
      const left = deadline - this.now();
      if (left <= 0) break;
      try {
        const r = await this.origin(new Request(`http://origin${url.pathname}${url.search}`, {
          method: request.method, headers, body: payload, signal: AbortSignal.timeout(left),
          redirect: 'manual',
        }));
        this.stats[edge]++;
        return r;
      } catch (e) {
        if (e?.name === 'TimeoutError') break;
      }
    }
    this.stats.unavailable++;
    return null;
  }

  unavailable() {
    return errorResponse(503, 'unavailable', 'origin unreachable', 'proxied',
      { 'Retry-After': String(this.s.RETRY_AFTER_S) });
  }

  // GET /_edge/stats: what this isolate decided so far, and the size of its state.
  async statsResponse() {
    const gate = this.gate.stats();
    let feed = null;
    try {
      feed = this.feed ? await this.feed.stats() : null;
    } catch {
      feed = null;
    }
    return new Response(JSON.stringify({
      ...this.stats,
      client_entries: gate.clientEntries,
      sku_entries: gate.skuEntries,
      sku_evictions: gate.skuEvictions,
      client_evictions: gate.clientEvictions,
      cache_entries: this.cache.size,
      snapshot_skus: this.available.size,
      snapshot_version: this.snapshotVersion,
      snapshot_cursor: this.snapshotCursor,
      snapshot_age_ms: Number.isFinite(this.snapshotAt) ? this.now() - this.snapshotAt : null,
      wasm_memory_bytes: this.core.memoryBytes(),
      feed,
    }), { headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Stockgate-Edge': 'stats' } });
  }

  // The answer to a request, as a promise. Not itself async: the reservation path hands back
  // reserve()'s own promise, sparing the hot path of a sale the microtask turns of resolving one
  // promise with another.
  handle(request, ctx) {
    // The path without parsing the whole URL (the hot path of a sale is one POST path).
    const { url } = request;
    const start = url.indexOf('/', url.indexOf('//') + 2);
    const query = url.indexOf('?', start);
    const end = query < 0 ? url.length : query;
    if (end - start === RESERVATIONS.length && url.startsWith(RESERVATIONS, start) &&
        request.method === 'POST') {
      return this.reserve(request, ctx);
    }
    return this.route(request, url, start < 0 ? '/' : url.slice(start, end), query);
  }

  async route(request, url, path, query) {
    if (path === '/_edge/stats' && request.method === 'GET') return this.statsResponse();
    if ((path === '/' || path.startsWith('/demo/')) && this.site &&
        (request.method === 'GET' || request.method === 'HEAD')) {
      return this.staticFile(path, request.method);
    }
    const now = this.now();
    let client = this.identify(request, now);
    if (client instanceof Promise) client = await client;
    if (client instanceof Response) return client;
    const stock = request.method === 'GET' && query < 0 ? STOCK_PATH.exec(path) : null;
    if (client === null) {
      // Without an identity, what the edge serves itself is not charged (one caller's flood
      // must not deny it to every other anonymous reader); what would reach the origin draws on
      // the one budget every anonymous caller shares.
      this.stats.anonymous++;
      if (stock && !request.headers.has('Authorization')) {
        const local = this.cachedStock(skuKey(stock[1]), now);
        if (local) return local;
      }
      // The public feed is fanned out here: a watcher costs the origin nothing.
      if (this.isFeed(request, path)) return this.subscribe(request);
      client = ANONYMOUS;
    }
    const verdict = this.gate.admitClientVerdict(client, now);
    if (verdict !== this.admitted) return this.rejection(verdict);
    if (stock) return this.stockRead(request, skuKey(stock[1]), now);
    if (this.isFeed(request, path)) return this.subscribe(request);
    if (request.method === 'GET' && path === '/v1/stock') return this.stocksRead(request, url, now);
    const r = await this.forward(request, 'proxied');
    if (!r) return this.unavailable();
    if (request.method !== 'GET' && request.method !== 'HEAD' && r.ok && this.cache.size > 0) {
      return this.afterWrite(path, r);
    }
    return tagged(r, 'proxied');
  }

  // The public stock feed (no token: a token asks the origin for its own feed).
  isFeed(request, path) {
    return this.feed !== null && path === '/v1/events' && request.method === 'GET' &&
      !request.headers.has('Authorization');
  }

  async subscribe(request) {
    try {
      return tagged(await this.feed.subscribe(request), 'proxied');
    } catch {
      this.stats.unavailable++;
      return this.unavailable();
    }
  }

  // Read-your-writes: a write that succeeded drops this edge's cached reads of the SKUs it
  // touched, named by the path (stock writes) or by the reservation it answers with.
  async afterWrite(path, r) {
    const m = STOCK_ITEMS.exec(path);
    if (m) {
      this.cache.delete(skuKey(m[1]));
      return tagged(r, 'proxied');
    }
    const text = await r.text();
    try {
      for (const item of JSON.parse(text).items ?? []) this.cache.delete(String(item.sku));
    } catch {
      // Not a reservation: nothing cached to drop.
    }
    return tagged(new Response(text, r), 'proxied');
  }

  // A file of the demo page: `/` is index.html, `/demo/x` is demo/x in the site directory. The
  // page is small and changes with every build, so browsers revalidate each time.
  async staticFile(path, method) {
    const file = path === '/' ? '/index.html' : path;
    const r = await this.site(new Request(`http://site${file}`, { method }));
    const headers = { 'X-Stockgate-Edge': 'static', 'Cache-Control': 'no-cache' };
    if (!r.ok) {
      await r.body?.cancel();
      return errorResponse(404, 'not_found', `no such file: ${path}`, 'static', headers);
    }
    const ext = file.slice(file.lastIndexOf('.') + 1);
    headers['Content-Type'] = CONTENT_TYPES[ext] ?? 'application/octet-stream';
    const length = r.headers.get('Content-Length');
    if (length) headers['Content-Length'] = length;
    this.stats.static++;
    return new Response(r.body, { status: 200, headers });
  }

  // The cached answer for a SKU when fresh, else null.
  cachedStock(sku, now) {
    const hit = this.cache.get(sku);
    if (!hit || now - hit.at > this.s.FRESHNESS_MS) return null;
    this.stats.cached++;
    return new Response(hit.body, {
      status: 200,
      headers: { 'Content-Type': hit.contentType, 'X-Stockgate-Edge': 'cached',
        Age: String(Math.floor((now - hit.at) / 1000)) },
    });
  }

  remember(sku, body, contentType, now) {
    this.cache.delete(sku);
    this.cache.set(sku, { at: now, body, contentType });
    if (this.cache.size > this.s.CACHE_CAPACITY) this.cache.delete(this.cache.keys().next().value);
  }

  // What the edge last knew of a SKU, for a read while the origin is unreachable: the last
  // cached answer, else the snapshot's `available` alone. { body: object, at } or null.
  lastKnown(sku) {
    const hit = this.cache.get(sku);
    if (hit) return { body: JSON.parse(hit.body), at: hit.at };
    const available = this.available.get(Number(sku));
    if (available === undefined || !Number.isFinite(this.snapshotAt)) return null;
    return { body: { available, sku: Number(sku) }, at: this.snapshotAt };
  }

  stale(body, at, now) {
    this.stats.stale++;
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Stockgate-Edge': 'stale',
        Age: String(Math.max(0, Math.floor((now - at) / 1000))) },
    });
  }

  async stockRead(request, sku, now) {
    // A request with a token goes to the origin, which checks it (a bad token is never ignored).
    if (request.headers.has('Authorization')) {
      const r = await this.forward(request, 'proxied');
      return r ? tagged(r, 'proxied') : this.unavailable();
    }
    const local = this.cachedStock(sku, now);
    if (local) return local;
    const r = await this.forward(request, 'proxied');
    if (!r || r.status === 503) {
      const known = this.lastKnown(sku);
      if (known) {
        await r?.body?.cancel();
        return this.stale(known.body, known.at, now);
      }
      return r ? tagged(r, 'proxied') : this.unavailable();
    }
    if (r.status !== 200) return tagged(r, 'proxied');
    const body = await r.text();
    const contentType = r.headers.get('Content-Type') ?? 'application/json';
    this.remember(sku, body, contentType, now);
    return new Response(body, { status: 200, headers: { 'Content-Type': contentType, 'X-Stockgate-Edge': 'proxied' } });
  }

  // GET /v1/stock?skus=: proxied; each item feeds the cache, and with the origin unreachable
  // the answer is built from what the edge last knew (SKUs it knows nothing of are listed in
  // `unavailable_skus`).
  async stocksRead(request, url, now) {
    const r = await this.forward(request, 'proxied');
    if (r && r.status !== 503) {
      if (r.status !== 200 || request.headers.has('Authorization')) return tagged(r, 'proxied');
      const text = await r.text();
      try {
        for (const item of JSON.parse(text).items) {
          this.remember(String(item.sku), JSON.stringify(item), 'application/json; charset=utf-8', now);
        }
      } catch {
        // Not a stock list: pass it on as it is.
      }
      return tagged(new Response(text, r), 'proxied');
    }
    const skus = new URL(url).searchParams.get('skus');
    if (!skus || request.headers.has('Authorization') || !/^\d+(,\d+)*$/.test(skus)) {
      return r ? tagged(r, 'proxied') : this.unavailable();
    }
    await r?.body?.cancel();
    const items = [];
    const missing = [];
    let oldest = now;
    for (const sku of skus.split(',')) {
      const known = this.lastKnown(String(Number(sku)));
      if (known) {
        items.push(known.body);
        oldest = Math.min(oldest, known.at);
      } else {
        missing.push(Number(sku));
      }
    }
    if (items.length === 0) return this.unavailable();
    return this.stale({ items, unavailable_skus: missing }, oldest, now);
  }

  async reserve(request, ctx) {
    const pending = this.freshen(ctx);
    if (pending) await pending;
    const body = await request.arrayBuffer();
    const now = this.now();
    if (body.byteLength > this.core.maxBodyBytes) {
      this.stats.invalid++;
      return errorResponse(413, 'payload_too_large',
        `request body over ${this.core.maxBodyBytes} bytes`, 'invalid');
    }
    let client = this.identify(request, now);
    if (client instanceof Promise) client = await client;
    if (client instanceof Response) return client;
    if (client === null) {
      this.stats.anonymous++;
      if (!this.s.ANONYMOUS_RESERVATIONS) {
        this.stats.invalid++;
        return errorResponse(401, 'unauthenticated',
          'reservations through this edge need a token from the shop (a buyer logs in first)',
          'invalid', { 'WWW-Authenticate': 'Bearer' });
      }
      client = ANONYMOUS;
    }
    const verdict = this.gate.admitReservationVerdict(client, new Uint8Array(body), now);
    if (verdict !== this.admitted) return this.rejection(verdict);
    const r = await this.forward(request, 'admitted', body);
    if (!r) return this.unavailable();
    if (r.ok && this.cache.size > 0) {
      // Read-your-writes: this client's next stock read through this edge sees the hold.
      try {
        for (const item of JSON.parse(new TextDecoder().decode(body)).items) {
          this.cache.delete(String(item.sku));
        }
      } catch {
        // The gate admitted it, so it parsed; nothing to do otherwise.
      }
    }
    if (r.status === 409) {
      // The origin's own sold-out answer updates the feed at once.
      const text = await r.text();
      try {
        const e = JSON.parse(text).error;
        if (e?.code === 'insufficient_stock' && Array.isArray(e.fail_items)) {
          for (const f of e.fail_items) {
            // Not over a snapshot taken since this request began (the gate ignores it then too).
            if (now >= this.snapshotAt) this.available.set(f.sku, f.available);
            this.gate.setAvailable(f.sku, f.available, now);
          }
        }
      } catch {
        // Not ours to interpret.
      }
      return tagged(new Response(text, r), 'admitted');
    }
    return tagged(r, 'admitted');
  }

  // The answer to the gate's last decision, a rejection: the core's error body (the same bytes
  // while it does not change), with the status and headers of its verdict.
  rejection(verdict) {
    const name = this.core.verdictNames[verdict];
    this.stats[name]++;
    const retryAfter = name === 'rate_limited'
      ? Math.max(1, Math.ceil(this.gate.lastRetryAfterMs() / 1000)) : 0;
    return new Response(this.gate.lastBodyBytes(),
      this.rejectionInit(this.core.httpStatus(this.gate.lastCode()), verdict, retryAfter));
  }

  // The status and headers of a rejection, as a Response to copy them from: workerd takes them
  // from a Response faster than from a plain object (bench/edge_bench.mjs measures the edge).
  // One per (status, verdict, Retry-After seconds or 0), a few dozen at most; past that, built
  // each time.
  rejectionInit(status, verdict, retryAfter) {
    const key = status * 1e6 + verdict * 1e5 + Math.min(retryAfter, 99999);
    let init = this.rejectionInits.get(key);
    if (!init) {
      const headers = { 'Content-Type': 'application/json; charset=utf-8',
        'X-Stockgate-Edge': this.core.verdictNames[verdict] };
      if (retryAfter) headers['Retry-After'] = String(retryAfter);
      init = new Response(null, { status, headers });
      if (this.rejectionInits.size < REJECTION_INITS && retryAfter < 99999) {
        this.rejectionInits.set(key, init);
      }
    }
    return init;
  }
}
