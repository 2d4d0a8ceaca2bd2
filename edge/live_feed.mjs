// LiveFeed: the stock feed (`GET /v1/events`, Server-Sent Events) of one edge process, served to
// any number of subscribers from one upstream subscription to the origin. It is a Durable Object
// (workerd runs it in the edge's own process, in memory): workerd ties I/O to the request that
// made it, so one request cannot write into another's response; a Durable Object owns its I/O,
// so the upstream stream it reads and every subscriber's stream it writes belong to it.
//
// The origin's first event on a subscription is the whole picture (every SKU's `available`) and
// each later one the SKUs that changed; LiveFeed keeps that picture, so a new subscriber gets it
// at once without a request to the origin, and passes each change on to everyone (and the
// origin's `low_stock` events, which need no picture, as they come). The upstream
// subscription is opened with the first subscriber, reopened with backoff when it breaks (its
// first event is then a whole picture again) and closed when the last subscriber leaves. A
// subscriber that does not read falls behind: past `maxQueued` events waiting for it, it is
// dropped (its stream is closed; an EventSource reconnects), never buffered without bound.
const encoder = new TextEncoder();
// workerd's native byte pipe where there is one (cheaper per write than a JavaScript
// TransformStream, which node, running the tests, has).
const Pipe = globalThis.IdentityTransformStream ?? TransformStream;

// Server-Sent Events text: the complete blocks at the start of `buffer` (each without its blank
// line) and what is left after them.
export function takeBlocks(buffer) {
  const blocks = [];
  let rest = buffer;
  for (let end = rest.indexOf('\n\n'); end >= 0; end = rest.indexOf('\n\n')) {
    blocks.push(rest.slice(0, end));
    rest = rest.slice(end + 2);
  }
  return [blocks, rest];
}

// The event name and data of one SSE block ({ comment: true } for a comment line).
export function parseBlock(block) {
  if (block.startsWith(':')) return { comment: true, event: '', data: '' };
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  return { comment: false, event, data };
}

export class LiveFeed {
  // origin: (Request) => Promise<Response>, the origin service; maxSubscribers, maxQueued.
  constructor({ origin, maxSubscribers = 20000, maxQueued = 64, sleep = defaultSleep }) {
    this.origin = origin;
    this.maxSubscribers = maxSubscribers;
    this.maxQueued = maxQueued;
    this.sleep = sleep;
    this.subscribers = new Map(); // writer -> writes not yet taken by its reader
    this.items = new Map(); // sku -> its item ({ sku, available, low_stock? }), the whole picture as of `version`
    this.version = null; // null until the first event of a subscription
    this.upstream = null; // the running upstream loop
    this.refusal = null; // the origin's answer when it refused the subscription (e.g. 401)
    this.stats = { subscribers: 0, joined: 0, dropped_slow: 0, left: 0, events: 0,
      upstream_connects: 0, upstream_failures: 0 };
  }

  // One subscriber: an SSE stream that starts with the picture (once there is one).
  subscribe() {
    if (this.refusal && !this.upstream) {
      const r = this.refusal;
      this.refusal = null;
      return new Response(r.body, { status: r.status, headers: r.headers });
    }
    if (this.subscribers.size >= this.maxSubscribers) {
      return new Response(JSON.stringify({ error: { code: 'unavailable',
        message: `this edge serves ${this.maxSubscribers} stock feed subscribers at most` } }),
      { status: 503, headers: { 'Content-Type': 'application/json; charset=utf-8',
        'Retry-After': '5' } });
    }
    const { readable, writable } = new Pipe();
    const writer = writable.getWriter();
    this.subscribers.set(writer, 0);
    this.stats.joined++;
    this.stats.subscribers = this.subscribers.size;
    writer.closed.catch(() => this.leave(writer, 'left'));
    this.write(writer, `retry: 1000\n\n${this.version === null ? '' : this.picture()}`);
    this.ensureUpstream();
    return new Response(readable, {
      headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
    });
  }

  picture() {
    const items = [...this.items.values()];
    return `event: stock\ndata: ${JSON.stringify({ items, version: this.version })}\n\n`;
  }

  // Writes text (or its bytes, encoded once for a whole broadcast) to one subscriber. A write
  // is pending until the subscriber's connection has taken it.
  write(writer, text) {
    const pending = this.subscribers.get(writer);
    if (pending === undefined) return;
    if (pending >= this.maxQueued) {
      this.leave(writer, 'dropped_slow');
      return;
    }
    this.subscribers.set(writer, pending + 1);
    const bytes = typeof text === 'string' ? encoder.encode(text) : text;
    writer.write(bytes).then(() => {
      const left = this.subscribers.get(writer);
      if (left !== undefined) this.subscribers.set(writer, left - 1);
    }, () => this.leave(writer, 'left'));
  }

  leave(writer, why) {
    if (!this.subscribers.delete(writer)) return;
    this.stats[why]++;
    this.stats.subscribers = this.subscribers.size;
    writer.abort(new Error(why)).catch(() => {});
  }

  broadcast(text) {
    const bytes = encoder.encode(text);
    for (const writer of this.subscribers.keys()) this.write(writer, bytes);
  }

  ensureUpstream() {
    if (this.upstream) return;
    this.upstream = this.follow().finally(() => {
      this.upstream = null;
    });
  }

  // Reads the origin's feed while anyone listens; reconnects with backoff when it breaks.
  async follow() {
    let backoff = 250;
    while (this.subscribers.size > 0) {
      try {
        const r = await this.origin(new Request('http://origin/v1/events',
          { headers: { Accept: 'text/event-stream' } }));
        if (r.status !== 200) {
          // The origin refuses the feed itself (private stock reads need a token): pass its
          // answer to whoever asks next, and end every subscriber's stream.
          this.refusal = { status: r.status, headers: r.headers, body: await r.text() };
          for (const writer of [...this.subscribers.keys()]) this.leave(writer, 'left');
          return;
        }
        this.refusal = null;
        this.stats.upstream_connects++;
        backoff = 250;
        await this.read(r.body);
      } catch {
        // Unreachable origin, or the stream broke: try again below.
      }
      if (this.subscribers.size === 0) break;
      this.stats.upstream_failures++;
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let fresh = true; // the next stock event is a whole picture
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const [blocks, rest] = takeBlocks(buffer + value);
        buffer = rest;
        for (const block of blocks) {
          if (this.onBlock(block, fresh)) fresh = false;
        }
        if (this.subscribers.size === 0) return;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // One SSE block of the origin's; true when it was a stock event.
  onBlock(block, fresh) {
    const { comment, event, data } = parseBlock(block);
    if (comment) {
      this.broadcast(`${block}\n\n`); // keep-alive: proxies between here and subscribers need it
      return false;
    }
    if (event === 'low_stock' && data) {
      this.broadcast(`event: low_stock\ndata: ${data}\n\n`);
      return false;
    }
    if (event !== 'stock' || !data) return false;
    let change;
    try {
      change = JSON.parse(data);
    } catch {
      return false;
    }
    if (fresh) this.items.clear();
    for (const item of change.items ?? []) this.items.set(item.sku, item);
    this.version = change.version ?? this.version;
    this.stats.events++;
    this.broadcast(`event: stock\ndata: ${data}\n\n`);
    return true;
  }
}

function defaultSleep(ms) {
  return new Promise((ok) => setTimeout(ok, ms));
}

// The Durable Object around LiveFeed: every edge request for the public feed goes to the one
// object of this process (idFromName("events")).
export class LiveFeedObject {
  constructor(state, env) {
    this.feed = new LiveFeed({
      origin: (request) => env.ORIGIN.fetch(request),
      maxSubscribers: Number(env.FEED_MAX_SUBSCRIBERS) || 20000,
      maxQueued: Number(env.FEED_MAX_QUEUED) || 64,
    });
  }

  async fetch(request) {
    if (new URL(request.url).pathname === '/_feed/stats') {
      return Response.json({ ...this.feed.stats, version: this.feed.version,
        skus: this.feed.items.size, upstream: this.feed.upstream !== null });
    }
    return this.feed.subscribe();
  }
}
