// HttpServer: cpp-httplib in front of the Api. It converts requests and responses, sizes the
// worker pool, sets the socket options small JSON answers need (TCP_NODELAY; Nagle plus delayed
// ACK would add ~40 ms), bounds reads and writes, records request metrics and writes one JSON log
// line per request. No business logic lives here.
#ifndef STOCKGATE_ORIGIN_SERVER_HTTP_SERVER_H_
#define STOCKGATE_ORIGIN_SERVER_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "origin/server/api.h"
#include "origin/server/event_hub.h"
#include "origin/server/metrics.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace stockgate::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests)
  int threads = 8;
  int read_timeout_ms = 5000;
  int write_timeout_ms = 5000;
  int keep_alive_max_count = 10'000;
  bool log_requests = true;
};

// The request-level metrics the server records.
struct HttpMetrics {
  explicit HttpMetrics(Registry& registry);
  CounterFamily& requests;      // stockgate_http_requests_total{route,method,status}
  HistogramFamily& latency;     // stockgate_http_request_duration_seconds{route}
  CounterFamily& reservations;  // stockgate_reservations_total{outcome}
};

class HttpServer {
 public:
  // `clock_ms` is the wall clock in ms since the epoch (injected so tests can fake it).
  // `events` feeds GET /v1/events; nullptr answers it with 503.
  HttpServer(Api& api, HttpMetrics& metrics, EventHub* events, ServerOptions options,
             std::function<std::int64_t()> clock_ms);
  ~HttpServer();

  // Binds; returns the bound port, or -1 with the reason logged.
  int Bind();
  // Serves until Stop(); returns false if the server could not run.
  bool Serve();
  void Stop();

 private:
  Api& api_;
  HttpMetrics& metrics_;
  EventHub* events_;
  ServerOptions options_;
  std::function<std::int64_t()> clock_ms_;
  std::unique_ptr<httplib::Server> server_;

  void Stream(httplib::Response& res);
};

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_HTTP_SERVER_H_
