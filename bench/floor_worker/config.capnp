# workerd config of the edge benchmark's floor worker (worker.mjs): the bare worker plus what the
# API asks of any edge on a sold-out answer, with the same socket and external service names as
# edge/config.capnp so the same command line runs it:
#   STOCKGATE_FLOOR_ANSWER='{"status":409,"headers":{...},"body":"..."}' \
#     workerd serve bench/floor_worker/config.capnp --socket-addr http=127.0.0.1:PORT
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "floor", worker = .floorWorker),
    (name = "origin", external = (address = "127.0.0.1:1", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8789", http = (), service = "floor")],
);

const floorWorker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = "2026-11-01",
  bindings = [
    # The answer to give every POST, as the edge gave it: JSON {status, headers, body}.
    (name = "ANSWER", fromEnvironment = "STOCKGATE_FLOOR_ANSWER"),
  ],
);
