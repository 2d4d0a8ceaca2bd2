// HttpServer: the origin's HTTP/1.1 server, on Boost.Beast and Asio. A few event-loop threads
// serve every connection: an open connection costs a socket and a few kilobytes, not a thread, so
// idle keep-alive connections, slow senders and event-stream subscribers cannot starve the others.
// It parses and bounds requests (read and write timeouts, a body limit, keep-alive), hands each to
// the Api, which answers asynchronously (store calls) or on a small pool for the calls that block
// (history queries, readiness pings), writes the answer, streams /v1/events, records request
// metrics and writes one JSON log line per request. No business logic lives here.
#ifndef STOCKGATE_ORIGIN_SERVER_HTTP_SERVER_H_
#define STOCKGATE_ORIGIN_SERVER_HTTP_SERVER_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "origin/server/api.h"
#include "origin/server/event_hub.h"

namespace stockgate::server {

struct ServerState;  // http_server.cc: the event loop, its threads, the listening socket

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (tests)
  // SO_REUSEPORT: several origins on one host listen on the same port and the kernel spreads
  // the connections. Off: a port in use is refused (a second origin started by mistake would
  // otherwise silently take half the traffic).
  bool reuse_port = false;
  int threads = 2;             // event-loop threads
  int blocking_threads = 8;    // threads for the calls that block (history, readiness)
  int read_timeout_ms = 5000;  // to read a whole request, waiting for it included (idle keep-alive)
  int write_timeout_ms = 5000;        // to write an answer (or one event of a stream)
  int keep_alive_max_count = 10'000;  // requests per connection before it is closed
  // HTTPS: a PEM certificate chain (the server's certificate first) and its PEM private key.
  // Both empty: plain HTTP. TLS 1.2 and later only.
  std::string tls_cert_file;
  std::string tls_key_file;
  enum class RequestLog { kAll, kErrors, kNone };
  RequestLog log_requests = RequestLog::kErrors;  // kErrors: answers 500 and above
};

// The request-level metrics the server records.
class HttpMetrics {
 public:
  explicit HttpMetrics(prometheus::Registry& registry);
  // Counts one answer: stockgate_http_requests_total{route,method,status},
  // stockgate_http_request_duration_seconds{route} and, for POST /v1/reservations,
  // stockgate_reservations_total{outcome}. Each label set is looked up in prometheus-cpp once and
  // kept (its Family::Add builds a series before it finds the existing one); all label values are
  // bounded (route patterns, known methods, statuses, error codes).
  void Record(const std::string& route, std::string_view method, int status,
              const std::string& code, double seconds);

 private:
  template <class T>
  struct Series {
    std::shared_mutex mu;
    std::unordered_map<std::string, T*> by_key;
  };
  template <class T, class Make>
  static T& Find(Series<T>& series, const std::string& key, const Make& make);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& reservations_;
  Series<prometheus::Counter> request_series_;
  Series<prometheus::Histogram> latency_series_;
  Series<prometheus::Counter> reservation_series_;
};

class HttpServer {
 public:
  // `clock_ms` is the wall clock in ms since the epoch (injected so tests can fake it).
  // `events` feeds GET /v1/events; nullptr answers it with 503.
  HttpServer(Api& api, HttpMetrics& metrics, EventHub* events, ServerOptions options,
             std::function<std::int64_t()> clock_ms);
  ~HttpServer();

  // Binds and listens; returns the bound port, or -1 with the reason logged. A port another
  // process listens on is refused (no SO_REUSEPORT: two origins never share one port silently);
  // so is a TLS certificate or key that cannot be loaded, or a key that does not match it.
  int Bind();
  // Serves until Stop(); returns false if the server could not run.
  bool Serve();
  // Stops serving: open connections are closed. Safe from any thread.
  void Stop();

 private:
  std::unique_ptr<ServerState> state_;
};

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_HTTP_SERVER_H_
