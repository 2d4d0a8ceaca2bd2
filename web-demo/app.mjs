// The demo page: the live stock table (the origin's /v1/events through the edge), the flash-sale
// simulator with its chart, the admin forms and a SKU's history. Forms are checked by the core's
// emscripten build before anything is sent. The admin token comes from the admin field, which
// the link printed by `scripts/stack up` fills in (#admin=…&login=… — a fragment never leaves the
// browser), kept for this tab only; each simulated buyer and bot gets a buyer token of its own
// from the shop's login service the link names (the page holds no key that can sign).
import createStockgateCore from './emscripten/stockgate_core.mjs';
import { Api } from './api.mjs';
import { BuyerLogin } from './login.mjs';
import { SaleChart } from './chart.mjs';
import { adjustmentRequest, problemOf, saleRequest, setStockRequest } from './forms.mjs';
import { Sale } from './sale.mjs';
import { loadEmscripten } from './stockgate_core.mjs';

const $ = (selector, root = document) => root.querySelector(selector);
const randomId = () => Math.random().toString(36).slice(2, 10);

// --- Tokens ------------------------------------------------------------------------------------

const tokens = {
  get admin() {
    return sessionStorage.getItem('stockgate.admin') ?? '';
  },
  // The login service that hands out buyer tokens ('' when the link named none).
  get login() {
    return sessionStorage.getItem('stockgate.login') ?? '';
  },
};

function takeTokensFromLink() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const name of ['admin', 'login']) {
    if (params.get(name)) sessionStorage.setItem(`stockgate.${name}`, params.get(name));
  }
  if (location.hash) history.replaceState(null, '', location.pathname);
  const field = $('#admin-token');
  field.value = tokens.admin;
  field.addEventListener('input', () => sessionStorage.setItem('stockgate.admin', field.value.trim()));
}

// --- Messages ----------------------------------------------------------------------------------

// Shows a problem as the API would word it: its code and message, and marks the field.
function showProblem(element, form, p) {
  element.className = 'message error';
  element.replaceChildren();
  const code = document.createElement('span');
  code.className = 'code';
  code.textContent = p.code;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = p.message;
  element.append(code, ' ', text);
  for (const input of form?.querySelectorAll('input') ?? []) input.removeAttribute('aria-invalid');
  const name = String(p.field ?? '').replace(/^\//, '').split('/')[0];
  const input = name && form?.querySelector(`[name="${name}"]`);
  if (input) input.setAttribute('aria-invalid', 'true');
}

function showOk(element, form, text) {
  element.className = 'message ok';
  element.textContent = text;
  for (const input of form?.querySelectorAll('input') ?? []) input.removeAttribute('aria-invalid');
}

const fieldsOf = (form) => Object.fromEntries(new FormData(form).entries());

// --- Live stock table --------------------------------------------------------------------------

const COLUMNS = ['sku', 'on_hand', 'reserved', 'available', 'sold', 'version', 'updated_at'];

class StockTable {
  constructor(api, onPick) {
    this.api = api;
    this.body = $('#stock-table tbody');
    this.rows = new Map(); // sku -> <tr>
    this.dirty = new Set(); // SKUs whose full record is to be fetched
    this.fetching = false;
    this.onPick = onPick;
    setInterval(() => this.refresh(), 250);
  }

  row(sku) {
    let tr = this.rows.get(sku);
    if (tr) return tr;
    tr = document.createElement('tr');
    tr.dataset.sku = String(sku);
    for (const c of COLUMNS) {
      const td = document.createElement('td');
      td.dataset.col = c;
      td.textContent = c === 'sku' ? String(sku) : '…';
      tr.append(td);
    }
    tr.addEventListener('click', () => this.onPick(sku));
    const after = [...this.rows.keys()].filter((s) => s > sku).sort((a, b) => a - b)[0];
    this.body.insertBefore(tr, after === undefined ? null : this.rows.get(after));
    this.rows.set(sku, tr);
    return tr;
  }

  set(sku, col, value) {
    const td = $(`td[data-col="${col}"]`, this.row(sku));
    const text = col === 'updated_at' ? new Date(value).toLocaleTimeString() : String(value);
    if (td.textContent === text) return;
    td.textContent = text;
    td.classList.remove('changed');
    void td.offsetWidth; // restart the highlight
    td.classList.add('changed');
  }

  // A row is marked low when the origin says the SKU is low on stock (at or below its
  // low_stock_threshold): the feed's items and stock reads both carry `low_stock`.
  mark(sku, low) {
    const tr = this.row(sku);
    tr.classList.toggle('low', Boolean(low));
    tr.title = low ? 'low on stock' : '';
  }

  // A feed event: `available` is shown at once, the rest after the next batch read.
  feed(items) {
    for (const { sku, available, low_stock: low } of items) {
      this.set(sku, 'available', available);
      this.mark(sku, low);
      this.dirty.add(sku);
    }
  }

  async refresh() {
    if (this.fetching || this.dirty.size === 0) return;
    this.fetching = true;
    const skus = [...this.dirty].slice(0, 1000);
    for (const s of skus) this.dirty.delete(s);
    const r = await this.api.stocks(skus);
    if (r.status === 200) {
      for (const stock of r.body.items) {
        for (const c of COLUMNS.slice(1)) this.set(stock.sku, c, stock[c]);
        this.mark(stock.sku, stock.low_stock);
      }
    } else {
      for (const s of skus) this.dirty.add(s);
    }
    this.fetching = false;
  }

  connect() {
    const feed = $('#feed');
    const events = new EventSource('/v1/events');
    events.addEventListener('open', () => {
      feed.dataset.state = 'live';
      feed.textContent = 'live: stock feed connected';
    });
    events.addEventListener('error', () => {
      feed.dataset.state = 'reconnecting';
      feed.textContent = 'stock feed lost, reconnecting…';
    });
    events.addEventListener('stock', (e) => this.feed(JSON.parse(e.data).items));
    events.addEventListener('low_stock', (e) => {
      const { sku, low_stock: low } = JSON.parse(e.data);
      this.mark(sku, low);
    });
  }
}

// --- Simulator ---------------------------------------------------------------------------------

class Simulator {
  constructor(api, core) {
    this.api = api;
    this.core = core;
    this.form = $('#sale-form');
    this.message = $('#sale-message');
    this.chart = new SaleChart($('#sale-chart'));
    this.sale = null;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.start();
    });
    $('#sale-stop').addEventListener('click', () => this.sale?.stop());
  }

  async start() {
    if (this.sale?.state === 'running') return;
    const plan = saleRequest(this.core, fieldsOf(this.form));
    if (plan.problem) return showProblem(this.message, this.form, plan.problem);
    if (!tokens.admin) {
      return showProblem(this.message, this.form, { code: 'unauthenticated', field: '',
        message: 'an admin token is needed to set the stock for the sale (Admin, below)' });
    }
    if (!tokens.login) {
      return showProblem(this.message, this.form, { code: 'unauthenticated', field: '',
        message: 'no login service for buyer tokens: open the link `scripts/stack up` printed' });
    }
    this.login ??= new BuyerLogin({ url: tokens.login });
    const set = await this.api.call('PUT', plan.stock.path, { token: tokens.admin, body: plan.stock.body });
    if (set.status !== 200) return showProblem(this.message, this.form, set);
    const runId = `s${Date.now().toString(36)}`;
    const sale = new Sale({
      ...plan,
      runId,
      now: () => performance.now(),
      // Each buyer (its customer id is its client id) reserves with its own token.
      send: async (body, customer) => {
        let token;
        try {
          token = await this.login.token(customer);
        } catch (e) {
          return { status: 0, edge: '', body: null, code: 'login', field: '', message: e.message };
        }
        return this.api.call('POST', '/v1/reservations', { token, body });
      },
    });
    this.sale = sale;
    showOk(this.message, this.form, `sale ${runId}: ${plan.units} units of SKU ${plan.sku}, ` +
      `${plan.buyers} buyers at ${plan.rate} requests/s, ${plan.bots} bots`);
    $('#sale-start').disabled = true;
    $('#sale-stop').disabled = false;
    $('#sale-totals').dataset.state = 'running';
    let frames = 0;
    const timer = setInterval(() => {
      sale.tick();
      if (++frames % 5 === 0 || sale.state !== 'running') this.render(sale);
      if (sale.state !== 'running' && sale.inFlight === 0) {
        clearInterval(timer);
        this.render(sale);
        this.finish(sale);
      }
    }, 50);
  }

  render(sale) {
    this.chart.show(sale.series);
    const t = sale.totals;
    const values = { sent: t.sent, admitted: t.admitted, sold: t.sold, 'sold-out-edge': t.sold_out_edge,
      'sold-out-origin': t.sold_out_origin, 'rate-limited': t.rate_limited, limit: t.limit, errors: t.error };
    for (const [id, v] of Object.entries(values)) $(`#sale-${id}`).textContent = String(v);
  }

  finish(sale) {
    const t = sale.totals;
    const local = t.sold_out_edge + t.rate_limited;
    showOk(this.message, this.form, `${sale.reason}: sold ${t.sold} of ${sale.units} units ` +
      `(${t.bot_sold} to bots); the edge answered ${local} of ${t.sent} requests itself`);
    $('#sale-totals').dataset.state = sale.state;
    $('#sale-start').disabled = false;
    $('#sale-stop').disabled = true;
  }
}

// --- Admin forms -------------------------------------------------------------------------------

function adminForms(api, core) {
  const describe = (s) =>
    `SKU ${s.sku}: on hand ${s.on_hand}, available ${s.available} (version ${s.version})`;
  const bind = (form, build) => {
    const message = $('.message', form);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const req = build(fieldsOf(form));
      if (req.problem) return showProblem(message, form, req.problem);
      if (!tokens.admin) {
        return showProblem(message, form, { code: 'unauthenticated', field: '', message: 'no admin token' });
      }
      const method = req.path.endsWith('/adjustments') ? 'POST' : 'PUT';
      const r = await api.call(method, req.path, { token: tokens.admin, body: req.body });
      if (r.status >= 300) return showProblem(message, form, r);
      showOk(message, form, describe(r.body));
    });
  };
  bind($('#set-form'), (f) => setStockRequest(core, f));
  bind($('#adjust-form'), (f) => adjustmentRequest(core, { ...f, request_id: `adj-${randomId()}` }));
}

// --- History -----------------------------------------------------------------------------------

class HistoryView {
  constructor(api, core) {
    this.api = api;
    this.core = core;
    this.form = $('#history-form');
    this.message = $('#history-message');
    this.sku = null;
    this.page = 1;
    this.pageSize = 20;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = String(fieldsOf(this.form).sku ?? '').trim();
      const p = problemOf(this.core, 'sku', text);
      if (p) return showProblem(this.message, this.form, { ...p, field: 'sku' });
      this.sku = Number(text);
      this.show(1);
    });
    $('#history-newer').addEventListener('click', () => this.show(this.page - 1));
    $('#history-older').addEventListener('click', () => this.show(this.page + 1));
  }

  async show(page) {
    const r = await this.api.history(tokens.admin, this.sku, page, this.pageSize);
    if (r.status !== 200) return showProblem(this.message, this.form, r);
    this.page = page;
    const { items, total } = r.body;
    const pages = Math.max(1, Math.ceil(total / this.pageSize));
    showOk(this.message, this.form, `SKU ${this.sku}: ${total} events, page ${page} of ${pages}, newest first`);
    const body = $('#history-table tbody');
    body.replaceChildren(...items.map((ev) => {
      const tr = document.createElement('tr');
      for (const v of [new Date(ev.time).toLocaleTimeString(), ev.op, ev.qty, ev.before, ev.after,
        ev.ref, ev.actor, ev.reason]) {
        const td = document.createElement('td');
        td.textContent = String(v ?? '');
        tr.append(td);
      }
      return tr;
    }));
    $('#history-newer').disabled = page <= 1;
    $('#history-older').disabled = page >= pages;
  }
}

// --- Start -------------------------------------------------------------------------------------

async function main() {
  takeTokensFromLink();
  const api = new Api({ clientId: `page-${randomId()}` });
  const core = await loadEmscripten(createStockgateCore);
  const pick = (sku) => {
    for (const form of document.querySelectorAll('form')) {
      const input = form.querySelector('[name="sku"]');
      if (input) input.value = String(sku);
    }
  };
  const table = new StockTable(api, pick);
  table.connect();
  const simulator = new Simulator(api, core);
  adminForms(api, core);
  const historyView = new HistoryView(api, core);
  // For tests and the curious: the live objects of this page.
  window.stockgateDemo = { core, table, simulator, historyView };
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  const feed = $('#feed');
  feed.dataset.state = 'failed';
  feed.textContent = `the page could not start: ${e.message}`;
});
