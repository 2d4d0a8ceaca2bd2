# workerd configuration of the stockgate edge: one HTTP socket, the worker (edge/worker.mjs with
# the wasm core and its JavaScript face), the origin as an external HTTP service, and the demo
# page's files as a read-only directory.
#
#   npx workerd serve edge/config.capnp --socket-addr http=127.0.0.1:8787 \
#     --external-addr origin=127.0.0.1:8080 --directory-path site=build/emscripten/web-demo/site
#
# scripts/edge-start does this (and builds core.wasm first). workerd runs one thread: start one
# process per core on its own port, or share one port with SO_REUSEPORT via --socket-fd
# (docs/edge.md). Settings come from the environment of the workerd process; each binding below
# names its variable and an unset variable means the default in edge/edge.mjs.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "edge", worker = .edgeWorker),
    # The origin. Its address is overridden with --external-addr origin=HOST:PORT.
    (name = "origin", external = (address = "127.0.0.1:8080", http = ())),
    # The demo page served at / and /demo/ (cmake --preset emscripten && cmake --build --preset
    # emscripten builds it). Its path is overridden with --directory-path site=DIR.
    (name = "site", disk = (path = "../build/emscripten/web-demo/site", writable = false)),
  ],
  sockets = [
    # Where buyers connect. Overridden with --socket-addr http=HOST:PORT.
    (name = "http", address = "127.0.0.1:8787", http = (), service = "edge"),
  ],
);

const edgeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "edge.mjs", esModule = embed "edge.mjs"),
    (name = "live_feed.mjs", esModule = embed "live_feed.mjs"),
    (name = "stockgate_core.mjs", esModule = embed "../wasm/js/stockgate_core.mjs"),
    # The wasi build of the core (cmake --preset wasi && cmake --build --preset wasi).
    (name = "core.wasm", wasm = embed "../build/wasi/wasm/core.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  # The public stock feed's fan-out: one in-memory Durable Object per process holds the one
  # upstream subscription to the origin and every subscriber's stream.
  durableObjectNamespaces = [
    (className = "LiveFeedObject", uniqueKey = "stockgate-edge-live-feed"),
  ],
  durableObjectStorage = (inMemory = void),
  bindings = [
    (name = "FEED", durableObjectNamespace = "LiveFeedObject"),
    # Stock feed subscribers this process serves (beyond: 503). Default 20000.
    (name = "FEED_MAX_SUBSCRIBERS", fromEnvironment = "STOCKGATE_EDGE_FEED_MAX_SUBSCRIBERS"),
    # Feed events waiting for a subscriber that does not read before it is dropped. Default 64.
    (name = "FEED_MAX_QUEUED", fromEnvironment = "STOCKGATE_EDGE_FEED_MAX_QUEUED"),
    (name = "ORIGIN", service = "origin"),
    (name = "SITE", service = "site"),
    # The token issuer's public keys, a JWK Set (JSON text; ES256, picked by kid): a verified
    # token's `sub` is the client. Public keys only: a key with its private part is refused, and
    # the edge never holds the HS256 secret. Unset: no token is verified here (the origin still
    # checks every token), so clients have only the identities below.
    (name = "JWKS", fromEnvironment = "STOCKGATE_EDGE_JWKS"),
    # The header a trusted proxy in front of the edge sets to the client's address, e.g.
    # CF-Connecting-IP (Cloudflare) or X-Real-IP (nginx); it keys clients without a token.
    # Default none: never trust an address header no proxy of yours overwrites.
    (name = "CLIENT_IP_HEADER", fromEnvironment = "STOCKGATE_EDGE_CLIENT_IP_HEADER"),
    # 1: X-Client-Id keys clients without a token (only where a proxy sets it). Default 0.
    (name = "TRUST_CLIENT_ID", fromEnvironment = "STOCKGATE_EDGE_TRUST_CLIENT_ID"),
    # 1: reservations without any identity are forwarded, all sharing one client's budget;
    # 0 (default): they are answered 401 by the edge.
    (name = "ANONYMOUS_RESERVATIONS", fromEnvironment = "STOCKGATE_EDGE_ANONYMOUS_RESERVATIONS"),
    # Requests per second and burst per client; 0 turns the client limit off. Default 20 / 40.
    (name = "CLIENT_RATE", fromEnvironment = "STOCKGATE_EDGE_CLIENT_RATE"),
    (name = "CLIENT_BURST", fromEnvironment = "STOCKGATE_EDGE_CLIENT_BURST"),
    # Reservation attempts per second and burst per SKU; 0 off. Default 0 / 1.
    (name = "SKU_RATE", fromEnvironment = "STOCKGATE_EDGE_SKU_RATE"),
    (name = "SKU_BURST", fromEnvironment = "STOCKGATE_EDGE_SKU_BURST"),
    # Per admission window, forward at most ceil(available x this) reservations of a SKU.
    # Default 2.
    (name = "ADMIT_MULTIPLE", fromEnvironment = "STOCKGATE_EDGE_ADMIT_MULTIPLE"),
    # Admission window and snapshot poll interval, ms. Default 250.
    (name = "WINDOW_MS", fromEnvironment = "STOCKGATE_EDGE_WINDOW_MS"),
    # Oldest snapshot (and cached GET /v1/stock/{sku}) the edge decides on, ms; older, it
    # forwards to the origin. Default 500.
    (name = "FRESHNESS_MS", fromEnvironment = "STOCKGATE_EDGE_FRESHNESS_MS"),
    # Client and SKU entries kept in the isolate (least recently used evicted). Default 100000.
    (name = "TABLE_CAPACITY", fromEnvironment = "STOCKGATE_EDGE_TABLE_CAPACITY"),
    # Cached stock reads kept. Default 10000.
    (name = "CACHE_CAPACITY", fromEnvironment = "STOCKGATE_EDGE_CACHE_CAPACITY"),
    # An origin that does not answer within this many ms is unavailable (503). Default 2000.
    (name = "ORIGIN_TIMEOUT_MS", fromEnvironment = "STOCKGATE_EDGE_ORIGIN_TIMEOUT_MS"),
  ],
);
