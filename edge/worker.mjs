// The edge worker: an ES module for workerd that runs the stockgate core (wasm32-wasi core.wasm)
// in front of the origin. One Edge per isolate, built on the first request from the bindings of
// config.capnp; see edge.mjs for what it decides and docs/edge.md for running it. The public stock
// feed is served by the LiveFeedObject Durable Object (live_feed.mjs).
import coreModule from './core.wasm';
import { Edge, settingsFrom } from './edge.mjs';
import { loadWasi } from './stockgate_core.mjs';

export { LiveFeedObject } from './live_feed.mjs';

let edge = null; // the isolate's Edge, once built
let building = null; // the promise of it while the first requests wait

// The process's one LiveFeed object, which serves the public stock feed to every subscriber.
function feedOf(namespace) {
  const stub = () => namespace.get(namespace.idFromName('events'));
  return {
    subscribe: (request) => stub().fetch(request),
    stats: async () => (await stub().fetch('http://feed/_feed/stats')).json(),
  };
}

// The isolate's one Edge; requests that arrive while it is being built wait for the same one.
function edgeFor(env) {
  building ??= loadWasi(coreModule).then((core) => {
    edge = new Edge({
      core,
      origin: (request) => env.ORIGIN.fetch(request),
      settings: settingsFrom(env),
      jwks: env.JWKS ?? '',
      site: env.SITE ? (request) => env.SITE.fetch(request) : null,
      feed: env.FEED ? feedOf(env.FEED) : null,
    });
    return edge;
  });
  // A failed start is tried again by the next request rather than kept for every one.
  building.catch(() => {
    building = null;
  });
  return building;
}

export default {
  // Not async: once the Edge exists, the answer is handle()'s promise itself (one promise
  // resolved with another costs microtask turns on every request).
  fetch(request, env, ctx) {
    if (edge) return edge.handle(request, ctx);
    return edgeFor(env).then((e) => e.handle(request, ctx));
  },
};
