// The edge worker: an ES module for workerd that runs the stockgate core (wasm32-wasi core.wasm)
// in front of the origin. One Edge per isolate, built on the first request from the bindings of
// config.capnp; see edge.mjs for what it decides and docs/edge.md for running it. The public stock
// feed is served by the LiveFeedObject Durable Object (live_feed.mjs).
import coreModule from './core.wasm';
import { Edge, settingsFrom } from './edge.mjs';
import { loadWasi } from './stockgate_core.mjs';

export { LiveFeedObject } from './live_feed.mjs';

let edge = null;

// The process's one LiveFeed object, which serves the public stock feed to every subscriber.
function feedOf(namespace) {
  const stub = () => namespace.get(namespace.idFromName('events'));
  return {
    subscribe: (request) => stub().fetch(request),
    stats: async () => (await stub().fetch('http://feed/_feed/stats')).json(),
  };
}

async function edgeFor(env) {
  if (!edge) {
    const core = await loadWasi(coreModule);
    edge = new Edge({
      core,
      origin: (request) => env.ORIGIN.fetch(request),
      settings: settingsFrom(env),
      jwks: env.JWKS ?? '',
      site: env.SITE ? (request) => env.SITE.fetch(request) : null,
      feed: env.FEED ? feedOf(env.FEED) : null,
    });
  }
  return edge;
}

export default {
  async fetch(request, env, ctx) {
    const e = await edgeFor(env);
    return e.handle(request, (p) => ctx.waitUntil(p));
  },
};
