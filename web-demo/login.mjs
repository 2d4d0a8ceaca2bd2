// Buyer tokens for the simulated buyers and bots, from the shop's login service (in the stack,
// scripts/demo-login.mjs): each customer gets a token of its own, whose `sub` is the customer, so
// the edge limits each buyer by its verified identity. The page never holds a key that can sign.
// Requests for tokens made in the same turn go out as one call (up to 1000 customers).
const BATCH = 1000;

export class BuyerLogin {
  // url: the login service's base URL (e.g. http://127.0.0.1:PORT); fetchFn for tests.
  constructor({ url, fetchFn = (...a) => fetch(...a) }) {
    this.url = url.replace(/\/$/, '');
    this.fetch = fetchFn;
    this.tokens = new Map(); // customer -> token
    this.waiting = new Map(); // customer -> [{ ok, fail }]
    this.scheduled = false;
  }

  // The customer's token: a promise that fails with an Error when the login service does.
  token(customer) {
    const known = this.tokens.get(customer);
    if (known) return Promise.resolve(known);
    return new Promise((ok, fail) => {
      if (!this.waiting.has(customer)) this.waiting.set(customer, []);
      this.waiting.get(customer).push({ ok, fail });
      if (!this.scheduled) {
        this.scheduled = true;
        setTimeout(() => this.flush(), 0);
      }
    });
  }

  async flush() {
    this.scheduled = false;
    while (this.waiting.size > 0) {
      const batch = [...this.waiting.keys()].slice(0, BATCH);
      const waiters = batch.map((c) => this.waiting.get(c));
      for (const c of batch) this.waiting.delete(c);
      try {
        const r = await this.fetch(`${this.url}/v1/buyer-tokens`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ customers: batch }),
        });
        const body = await r.json().catch(() => null);
        if (!r.ok || !Array.isArray(body?.tokens) || body.tokens.length !== batch.length) {
          throw new Error(body?.error?.message ?? `login answered ${r.status}`);
        }
        batch.forEach((c, i) => {
          this.tokens.set(c, body.tokens[i]);
          for (const w of waiters[i]) w.ok(body.tokens[i]);
        });
      } catch (e) {
        for (const list of waiters) for (const w of list) w.fail(e);
      }
    }
  }
}
