// GrpcServer: the seeds' gRPC services beside the HTTP API, on their own address (grpc_listen).
// Seed 000's inventory.InventoryService and seed 004's inventory.v1.InventoryService, written in
// origin/grpc/proto, are served on the callback API: no call holds a thread while it waits for
// Redis or MariaDB. Every call goes through the same Api as HTTP (origin/grpc/mapping.h
// translates), so tokens (metadata `authorization: Bearer ...`), roles, per-client rate limits
// (token sub, else metadata `x-client-id`, else the peer address), input bounds, idempotency and
// store calls are the HTTP API's. A call whose deadline has passed is answered DEADLINE_EXCEEDED
// without being sent on. Also served: grpc.health.v1.Health (SERVING while Redis answers) and
// server reflection.
#ifndef STOCKGATE_ORIGIN_GRPC_GRPC_SERVER_H_
#define STOCKGATE_ORIGIN_GRPC_GRPC_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "origin/server/api.h"

namespace prometheus {
class Registry;
}

namespace stockgate::grpcapi {

struct GrpcOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port (tests); Start returns it
  // TLS: a PEM certificate chain and its PEM key (the HTTP listener's); empty: plain.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  int blocking_threads = 4;       // the Api's blocking work: history reads, archived orders
  int health_interval_ms = 1000;  // how often the health service asks whether Redis answers
};

class GrpcServer {
 public:
  // `ready` says whether the store can serve (the health status); `registry` gets the
  // stockgate_grpc_requests_total counter, when given.
  GrpcServer(server::Api& api, GrpcOptions options, std::function<std::int64_t()> now_ms,
             std::function<bool()> ready, prometheus::Registry* registry);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Binds and starts serving; the bound port, or -1 (logged) when it could not.
  int Start();
  // Stops taking calls, lets those in flight finish (at most a few seconds); idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stockgate::grpcapi

#endif  // STOCKGATE_ORIGIN_GRPC_GRPC_SERVER_H_
