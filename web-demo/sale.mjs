// The flash-sale simulator: a crowd of buyers, each wanting one unit, and a few bots, all sending
// direct-sale reservations (confirm: true) through the edge. Buyers share a request rate and retry
// until they buy or the sale ends; each bot fires far above the edge's per-client rate. Every
// answer is counted by what decided it, in time buckets for the chart. The sale ends when its units
// are sold, the crowd has met the sold-out wall for a moment and every bot has met the rate-limit
// wall (or a longer moment has passed), or when sales stop coming in.
//
// I/O is injected (send, now) so a test drives it with a fake edge and clock; the page calls
// tick() from a timer.

export const BUCKET_MS = 500; // chart resolution
const TAIL_MS = 2500; // after the last unit: how long the crowd keeps meeting the sold-out wall
const BOT_TAIL_MS = 15_000; // after the last unit: how long the sale waits for a bot to be limited
const QUIET_MS = 4000; // no sale for this long while sold-out answers come: the stock is gone
const MAX_IN_FLIGHT = 64; // the crowd's; browsers queue beyond their connection limit anyway
const BOT_RATE = 200; // requests per second per bot, ten times the edge's default 20 per client
// The bots' requests in flight, split evenly among them: a bot is a client of its own and does
// not wait behind the crowd (nor the crowd behind the bots). On a slow machine the browser's few
// connections per host set the pace, and each bot's share must still carry more than the edge's
// per-client rate.
const BOTS_IN_FLIGHT = 64;
const MAX_MS = 300_000; // a sale that neither sells out nor goes quiet (the stack is down) ends
// What a send that fails outright (no answer at all) counts as: an error, like a network failure.
const NO_ANSWER = Object.freeze({ status: 0, code: 'network', edge: '' });

// What one answer was, from its status, error code and X-Stockgate-Edge header.
export function outcomeOf({ status, code, edge }) {
  if (status === 200 || status === 201) return 'sold';
  if (status === 429) return 'rate_limited';
  if (status === 409 && code === 'insufficient_stock') return edge === 'sold_out' ? 'sold_out_edge' : 'sold_out_origin';
  if (status === 409 && code === 'customer_limit_exceeded') return 'limit';
  return 'error';
}

export class Sale {
  // send(body: string, customer: string) => Promise<{status, code, edge}>, customer being the
  // customer_id of the body (each buyer and bot is a customer of its own); now: () => ms;
  // runId: a short unique token for order and customer ids.
  constructor({ send, now, sku, units, buyers, rate, bots, runId }) {
    Object.assign(this, { send, now, sku, units, rate, runId });
    this.pending = Array.from({ length: buyers }, (_, i) => i + 1); // buyers to try next
    this.waiting = 0; // buyers with a request in flight
    this.bots = Array.from({ length: bots },
      (_, i) => ({ id: i + 1, credit: 0, attempts: 0, inFlight: 0, limited: false }));
    this.botInFlight = Math.max(1, Math.floor(BOTS_IN_FLIGHT / Math.max(1, bots))); // each bot's
    this.attempts = new Map(); // buyer -> requests sent
    this.credit = 0;
    this.startedAt = now();
    this.lastTick = this.startedAt;
    this.lastSaleAt = this.startedAt;
    this.soldOutAt = null; // when the units were all sold
    this.state = 'running'; // running | done | stopped
    this.reason = '';
    this.totals = { sent: 0, sold: 0, bot_sold: 0, sold_out_edge: 0, sold_out_origin: 0,
      rate_limited: 0, limit: 0, error: 0, admitted: 0 };
    // Chart columns, one entry per bucket: seconds since start, per-second rates, cumulative sold.
    this.series = { t: [], admitted: [], sold_out: [], rate_limited: [], sold: [] };
  }

  body(customer, attempt) {
    return JSON.stringify({
      order_id: `${this.runId}-${customer}-${attempt}`,
      items: [{ sku: this.sku, qty: 1 }],
      customer_id: `${this.runId}-${customer}`,
      confirm: true,
    });
  }

  // Sends what is due since the last tick and closes the sale when it is over.
  tick() {
    if (this.state !== 'running') return;
    const now = this.now();
    const dt = Math.max(0, now - this.lastTick) / 1000;
    this.lastTick = now;
    this.bucketAt(now);
    if (this.isOver(now)) return;
    const selling = this.soldOutAt === null;
    // Buyers keep coming for the tail too: that flood is what the edge answers locally.
    this.credit = Math.min(this.credit + this.rate * dt, this.rate);
    while (this.credit >= 1 && this.pending.length && this.waiting < MAX_IN_FLIGHT) {
      this.credit -= 1;
      // A buyer waits for an answer before trying again: out of `pending` meanwhile.
      const k = Math.floor(Math.random() * this.pending.length);
      const buyer = this.pending[k];
      this.pending[k] = this.pending[this.pending.length - 1];
      this.pending.pop();
      this.waiting++;
      const attempt = (this.attempts.get(buyer) ?? 0) + 1;
      this.attempts.set(buyer, attempt);
      this.fire(`b${buyer}`, this.body(`b${buyer}`, attempt), (o) => {
        this.waiting--;
        if (o !== 'sold' && o !== 'limit') this.pending.push(buyer);
      });
    }
    for (const bot of this.bots) {
      bot.credit = Math.min(bot.credit + BOT_RATE * dt, BOT_RATE);
      while (bot.credit >= 1 && bot.inFlight < this.botInFlight) {
        bot.credit -= 1;
        bot.attempts++;
        bot.inFlight++;
        this.fire(`bot${bot.id}`, this.body(`bot${bot.id}`, bot.attempts), (o) => {
          bot.inFlight--;
          if (o === 'sold') this.totals.bot_sold++;
          if (o === 'rate_limited') bot.limited = true;
        });
      }
    }
    if (selling && !this.pending.length && !this.waiting && !this.bots.length) {
      this.finish('every buyer bought');
    }
  }

  // Every request in flight, the crowd's and the bots'.
  get inFlight() {
    return this.bots.reduce((n, bot) => n + bot.inFlight, this.waiting);
  }

  fire(client, body, then) {
    this.totals.sent++;
    this.send(body, `${this.runId}-${client}`)
      .then((answer) => this.count(answer), () => this.count(NO_ANSWER))
      .then(then);
  }

  count(answer) {
    const o = outcomeOf(answer);
    const now = this.now();
    this.bucketAt(now);
    this.totals[o]++;
    if (answer.edge === 'admitted') this.totals.admitted++;
    const i = this.series.t.length - 1;
    if (answer.edge === 'admitted') this.series.admitted[i] += 1000 / BUCKET_MS;
    if (o === 'sold_out_edge' || o === 'sold_out_origin') this.series.sold_out[i] += 1000 / BUCKET_MS;
    if (o === 'rate_limited') this.series.rate_limited[i] += 1000 / BUCKET_MS;
    if (o === 'sold') {
      this.lastSaleAt = now;
      this.series.sold[i] = this.totals.sold;
      if (this.totals.sold >= this.units && this.soldOutAt === null) this.soldOutAt = now;
    }
    return o;
  }

  // Opens buckets up to `now`; each starts with zero rates and the sold count so far.
  bucketAt(now) {
    const want = Math.floor((now - this.startedAt) / BUCKET_MS);
    while (this.series.t.length <= want) {
      this.series.t.push((this.series.t.length * BUCKET_MS) / 1000);
      this.series.admitted.push(0);
      this.series.sold_out.push(0);
      this.series.rate_limited.push(0);
      this.series.sold.push(this.totals.sold);
    }
  }

  isOver(now) {
    if (now - this.startedAt >= MAX_MS) {
      this.finish(`stopped after ${MAX_MS / 60_000} minutes`);
    } else if (this.soldOutAt !== null && now - this.soldOutAt >= TAIL_MS &&
               (this.bots.every((b) => b.limited) || now - this.soldOutAt >= BOT_TAIL_MS)) {
      this.finish(`all ${this.units} units sold`);
    } else if (this.soldOutAt === null && now - this.lastSaleAt >= QUIET_MS &&
               this.totals.sold_out_edge + this.totals.sold_out_origin > 0) {
      this.finish(`no sale for ${QUIET_MS / 1000} s, stock is gone`);
    }
    return this.state !== 'running';
  }

  finish(reason) {
    if (this.state === 'running') {
      this.state = 'done';
      this.reason = reason;
    }
  }

  stop() {
    if (this.state === 'running') {
      this.state = 'stopped';
      this.reason = 'stopped';
    }
  }
}
