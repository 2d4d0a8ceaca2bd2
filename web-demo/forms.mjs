// The demo's forms as API requests. Each form's text fields become the exact JSON body the page
// will send, and the core (its emscripten build) judges that body before it leaves the browser,
// so a bad field shows the same message the edge and the origin would answer with.

// A JSON number literal (RFC 8259 §6).
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

// A field's text as the JSON it stands for: a number literal stays a number, anything else is a
// string. The core, not the page, decides whether that is acceptable.
export function jsonValue(text) {
  const t = String(text).trim();
  return NUMBER.test(t) ? t : JSON.stringify(t);
}

// A JSON object of the fields that are not empty, in the order given. Number literals are copied
// as written, so what the core checks is byte for byte what the origin would receive.
export function bodyOf(fields) {
  const parts = [];
  for (const [key, raw] of Object.entries(fields)) {
    if (raw === undefined || raw === null || String(raw).trim() === '') continue;
    const value = typeof raw === 'number' ? String(raw) : jsonValue(raw);
    parts.push(`${JSON.stringify(key)}:${value}`);
  }
  return `{${parts.join(',')}}`;
}

// The core's verdict on `input` as request `kind`: null when valid, else {field, message, code}.
export function problemOf(core, kind, input) {
  const v = core.validate(kind, input);
  return v.code === 0 ? null : { field: v.field, message: v.message, code: v.name, status: v.status };
}

// The SKU of a path ("/v1/stock/{sku}"): the problem, or null.
function skuProblem(core, sku) {
  const p = problemOf(core, 'sku', String(sku).trim());
  return p ? { ...p, field: p.field || 'sku' } : null;
}

// A request the page may send: {path, body} when the core accepts it, else {problem}.
function request(core, sku, kind, body, suffix = '') {
  const bad = skuProblem(core, sku) ?? problemOf(core, kind, body);
  if (bad) return { problem: bad };
  return { path: `/v1/stock/${String(sku).trim()}${suffix}`, body };
}

// PUT /v1/stock/{sku} from the admin panel's fields.
export function setStockRequest(core, { sku, on_hand, per_customer_limit, low_stock_threshold,
  reason }) {
  return request(core, sku, 'set_stock',
    bodyOf({ on_hand, per_customer_limit, low_stock_threshold, reason }));
}

// POST /v1/stock/{sku}/adjustments; request_id makes a retry of the same click harmless.
export function adjustmentRequest(core, { sku, delta, reason, request_id }) {
  return request(core, sku, 'adjustment', bodyOf({ delta, request_id, reason }), '/adjustments');
}

// The simulator's own bounds (not API fields): how many buyers, how fast, how many bots.
export const SALE_LIMITS = Object.freeze({
  buyers: [1, 100000],
  rate: [1, 5000], // human requests per second, all buyers together
  bots: [0, 50],
});

function simulatorProblem(name, text) {
  const [lo, hi] = SALE_LIMITS[name];
  const t = String(text).trim();
  if (!/^[0-9]+$/.test(t) || Number(t) < lo || Number(t) > hi) {
    return { field: name, message: `${name} must be an integer in [${lo}, ${hi}]`, code: 'invalid_request' };
  }
  return null;
}

// A sale from the simulator's fields: the stock to set (units become on_hand, checked by the core
// as the PUT it is) and one buyer's reservation, also checked by the core; then the simulator's
// own numbers. Returns {sku, units, buyers, rate, bots, stock: {path, body}} or {problem}.
export function saleRequest(core, { sku, units, buyers, rate, bots }) {
  const stock = setStockRequest(core, { sku, on_hand: units, reason: 'demo sale' });
  if (stock.problem) {
    const p = stock.problem;
    return { problem: p.field === '/on_hand' ? { ...p, field: 'units' } : p };
  }
  // The SKU passed the core above, so it is an integer literal here.
  const reservation = `{"order_id":"sale-b1-1","items":[{"sku":${String(sku).trim()},"qty":1}],` +
    '"customer_id":"sale-b1","confirm":true}';
  const bad = problemOf(core, 'reservation', reservation);
  if (bad) return { problem: bad };
  for (const [name, text] of Object.entries({ buyers, rate, bots })) {
    const p = simulatorProblem(name, text);
    if (p) return { problem: p };
  }
  if (Number(String(units).trim()) < 1) {
    return { problem: { field: 'units', message: 'units must be at least 1 for a sale', code: 'invalid_request' } };
  }
  return {
    sku: Number(String(sku).trim()),
    units: Number(String(units).trim()),
    buyers: Number(buyers),
    rate: Number(rate),
    bots: Number(bots),
    stock,
  };
}
