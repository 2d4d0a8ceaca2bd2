# workerd config of the edge benchmark's baseline worker (worker.mjs: 200 to everything), with
# the same socket and external service names as edge/config.capnp so the same command line runs
# both: workerd serve bench/bare_worker/config.capnp --socket-addr http=127.0.0.1:PORT
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "bare", worker = .bareWorker),
    (name = "origin", external = (address = "127.0.0.1:1", http = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8788", http = (), service = "bare")],
);

const bareWorker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = "2026-11-01",
);
