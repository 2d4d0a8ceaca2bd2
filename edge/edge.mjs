// Edge: the decision logic of the edge worker, as a class that a test can drive with a fake
// origin and clock. Reservations are validated and admitted by the wasm core's AdmissionGate
// (per-client and per-SKU token buckets, sold-out answers from the origin's snapshot feed, at
// most a bounded multiple of `available` forwarded per window); stock reads are served from a
// short-lived cache; the demo page (`/` and `/demo/*`) comes from a static site; everything else
// goes to the origin untouched. Every answer carries X-Stockgate-Edge: admitted | sold_out |
// rate_limited | invalid | cached | proxied (and static or stats for the edge's own pages).

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
  CLIENT_RATE: 20, // requests per second per client (JWT sub, X-Client-Id or address); 0 off
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
});

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
  return out;
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

export class Edge {
  // core: a StockgateCore (wasm/js/stockgate_core.mjs); origin: (Request) => Promise<Response>;
  // now: () => ms; settings: settingsFrom(env); jwtSecret: HS256 secret shared with the origin,
  // or '' to key clients by X-Client-Id or address only; site: (Request) => Promise<Response>
  // reading the demo page's files (a workerd disk service), or null for none.
  constructor({ core, origin, now = () => Date.now(), settings = settingsFrom(), jwtSecret = '',
    site = null }) {
    this.core = core;
    this.origin = origin;
    this.site = site;
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
    this.jwtKey = jwtSecret
      ? crypto.subtle.importKey('raw', new TextEncoder().encode(jwtSecret),
        { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      : null;
    // The snapshot feed: available units per SKU as of snapshotAt (each refresh hands them all to
    // the gate).
    this.available = new Map();
    this.snapshotVersion = 0;
    this.snapshotAt = -Infinity;
    this.refreshing = null;
    this.cache = new Map(); // sku -> { at, status, body, headers }
    this.stats = { admitted: 0, sold_out: 0, rate_limited: 0, invalid: 0, cached: 0, proxied: 0,
      static: 0, unavailable: 0, snapshot_failures: 0 };
  }

  // Keeps the snapshot no older than WINDOW_MS. Returns a promise to await when the snapshot is
  // older than the freshness bound (or missing) and this request started the refresh, else
  // nothing. A request never waits on a refresh another request started: workerd ties I/O to
  // the request that began it, and one request must not hang on another's. Those requests go
  // ahead on the stale snapshot, which the gate ignores (the origin decides).
  freshen(waitUntil) {
    const age = this.now() - this.snapshotAt;
    if (age < this.s.WINDOW_MS || this.refreshing) return undefined;
    const refreshing = this.refresh().finally(() => {
      this.refreshing = null;
    });
    this.refreshing = refreshing;
    if (age >= this.s.FRESHNESS_MS) return refreshing;
    if (waitUntil) waitUntil(refreshing);
    return undefined;
  }

  async refresh() {
    const started = this.now();
    try {
      const url = `http://origin/v1/snapshot?since=${this.snapshotVersion}`;
      const r = await this.origin(new Request(url, {
        signal: AbortSignal.timeout(this.s.ORIGIN_TIMEOUT_MS),
      }));
      if (r.status !== 200) throw new Error(`snapshot answered ${r.status}`);
      const snap = await r.json();
      if (snap.version < this.snapshotVersion) {
        // The origin's snapshot version went back (its Redis was rebuilt): start over.
        this.available.clear();
        this.snapshotVersion = 0;
        return this.refresh();
      }
      for (const { sku, available } of snap.items) this.available.set(sku, available);
      this.snapshotVersion = snap.version;
      this.snapshotAt = started;
      // Every SKU's hint is renewed here, once per refresh: each opens a new admission window
      // with its budget, and a sold-out SKU keeps being answered locally.
      for (const [sku, available] of this.available) this.gate.setAvailable(sku, available, started);
    } catch {
      this.stats.snapshot_failures++;
    }
  }

  // JWT sub when the token verifies, else X-Client-Id, else the peer address. A promise only
  // when there is a token to verify.
  clientKey(request) {
    if (this.jwtKey) {
      const auth = request.headers.get('Authorization');
      if (auth && auth.startsWith('Bearer ')) return this.verifiedKey(request, auth.slice(7).trim());
    }
    return this.anonymousKey(request);
  }

  anonymousKey(request) {
    const id = request.headers.get('X-Client-Id');
    if (id) return `id:${id.slice(0, 128)}`;
    const ip = request.cf?.clientIp ?? request.headers.get('CF-Connecting-IP') ?? 'unknown';
    return `ip:${String(ip)}`;
  }

  async verifiedKey(request, token) {
    const parts = token.split('.');
    if (parts.length === 3) {
      try {
        const ok = await crypto.subtle.verify('HMAC', await this.jwtKey, base64UrlDecode(parts[2]),
          new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
        if (ok) {
          const header = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[0])));
          const claims = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[1])));
          if (header.alg === 'HS256' && typeof claims.sub === 'string' &&
              typeof claims.exp === 'number' && claims.exp * 1000 > this.now()) {
            return `sub:${claims.sub}`;
          }
        }
      } catch {
        // Not a token we can read: key the client another way; the origin will refuse it.
      }
    }
    return this.anonymousKey(request);
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
  statsResponse() {
    const gate = this.gate.stats();
    return new Response(JSON.stringify({
      ...this.stats,
      client_entries: gate.clientEntries,
      sku_entries: gate.skuEntries,
      client_evictions: gate.clientEvictions,
      cache_entries: this.cache.size,
      snapshot_skus: this.available.size,
      snapshot_version: this.snapshotVersion,
      snapshot_age_ms: Number.isFinite(this.snapshotAt) ? this.now() - this.snapshotAt : null,
      wasm_memory_bytes: this.core.memoryBytes(),
    }), { headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Stockgate-Edge': 'stats' } });
  }

  async handle(request, waitUntil) {
    // The path without parsing the whole URL (the hot path of a sale is one POST path).
    const { url } = request;
    const start = url.indexOf('/', url.indexOf('//') + 2);
    const query = url.indexOf('?', start);
    const path = start < 0 ? '/' : url.slice(start, query < 0 ? url.length : query);
    if (path === RESERVATIONS && request.method === 'POST') {
      return this.reserve(request, waitUntil);
    }
    if (path === '/_edge/stats' && request.method === 'GET') return this.statsResponse();
    if ((path === '/' || path.startsWith('/demo/')) && this.site &&
        (request.method === 'GET' || request.method === 'HEAD')) {
      return this.staticFile(path, request.method);
    }
    const now = this.now();
    let client = this.clientKey(request);
    if (typeof client !== 'string') client = await client;
    const d = this.gate.admitClient(client, now);
    if (d.verdict !== 'admitted') return this.rejection(d);
    const stock = request.method === 'GET' && query < 0 ? STOCK_PATH.exec(path) : null;
    if (stock) return this.stockRead(request, stock[1], now);
    const r = await this.forward(request, 'proxied');
    return r ? tagged(r, 'proxied') : this.unavailable();
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

  async stockRead(request, sku, now) {
    // A request with a token goes to the origin, which checks it (a bad token is never ignored).
    if (request.headers.has('Authorization')) {
      const r = await this.forward(request, 'proxied');
      return r ? tagged(r, 'proxied') : this.unavailable();
    }
    const hit = this.cache.get(sku);
    if (hit && now - hit.at <= this.s.FRESHNESS_MS) {
      this.stats.cached++;
      return new Response(hit.body, {
        status: hit.status,
        headers: { ...hit.headers, 'X-Stockgate-Edge': 'cached',
          Age: String(Math.floor((now - hit.at) / 1000)) },
      });
    }
    const r = await this.forward(request, 'proxied');
    if (!r) return this.unavailable();
    if (r.status !== 200) return tagged(r, 'proxied');
    const body = await r.text();
    const headers = { 'Content-Type': r.headers.get('Content-Type') ?? 'application/json' };
    this.cache.delete(sku);
    this.cache.set(sku, { at: now, status: r.status, body, headers });
    if (this.cache.size > this.s.CACHE_CAPACITY) this.cache.delete(this.cache.keys().next().value);
    return new Response(body, { status: r.status, headers: { ...headers, 'X-Stockgate-Edge': 'proxied' } });
  }

  async reserve(request, waitUntil) {
    const pending = this.freshen(waitUntil);
    if (pending) await pending;
    const body = await request.arrayBuffer();
    const now = this.now();
    if (body.byteLength > this.core.maxBodyBytes) {
      this.stats.invalid++;
      return errorResponse(413, 'payload_too_large',
        `request body over ${this.core.maxBodyBytes} bytes`, 'invalid');
    }
    let client = this.clientKey(request);
    if (typeof client !== 'string') client = await client;
    const d = this.gate.admitReservation(client, new Uint8Array(body), now);
    if (d.verdict !== 'admitted') return this.rejection(d);
    const r = await this.forward(request, 'admitted', body);
    if (!r) return this.unavailable();
    if (r.status === 409) {
      // The origin's own sold-out answer updates the feed at once.
      const text = await r.text();
      try {
        const e = JSON.parse(text).error;
        if (e?.code === 'insufficient_stock' && Array.isArray(e.fail_items)) {
          for (const f of e.fail_items) {
            this.available.set(f.sku, f.available);
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

  rejection(d) {
    this.stats[d.verdict]++;
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'X-Stockgate-Edge': d.verdict,
    };
    if (d.verdict === 'rate_limited') {
      headers['Retry-After'] = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
    }
    return new Response(d.body, { status: d.status, headers });
  }
}
