#include "origin/server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string_view>

namespace stockgate::server {
namespace {

using nlohmann::json;

// Requests over the API's 64 KiB limit still reach the Api, which answers the JSON 413; beyond
// this, cpp-httplib refuses to read the body at all (answered by the error handler below).
constexpr std::size_t kHardBodyLimit = 1024 * 1024;

// Latency buckets in seconds: a reservation is ~0.1-1 ms on loopback, a stalled Redis 0.5 s.
const std::vector<double> kLatencyBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};

template <class Family>
Family& Must(Registration<Family> r) {
  // Names below are constants of this file; a registration error is a programming error.
  if (!r.ok()) {
    spdlog::critical("metrics registration failed: {}", r.error);
    std::abort();
  }
  return *r.family;
}

std::string_view MethodLabel(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "other";  // client-chosen strings must not become label values
}

// Debian's cpp-httplib is a compiled library built with CPPHTTPLIB_LISTEN_BACKLOG 5: at the start
// of a sale, connections beyond five waiting ones would have their SYNs dropped and retry after a
// second. Linux lets listen() be called again on a listening socket to change its backlog, so we
// find the listening socket bound to our port among our descriptors and raise it.
bool RaiseListenBacklog(int port) {
  for (int fd = 0; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
      continue;
    }
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (bound == port) return ::listen(fd, SOMAXCONN) == 0;
  }
  return false;
}

}  // namespace

HttpMetrics::HttpMetrics(Registry& registry)
    : requests(Must(registry.RegisterCounter("stockgate_http_requests_total",
                                             "HTTP requests answered, by route, method and status",
                                             {"route", "method", "status"}))),
      latency(Must(registry.RegisterHistogram("stockgate_http_request_duration_seconds",
                                              "Time from request parsed to response ready",
                                              kLatencyBuckets, {"route"}))),
      reservations(Must(registry.RegisterCounter(
          "stockgate_reservations_total", "POST /v1/reservations outcomes: ok or the error code",
          {"outcome"}))) {}

HttpServer::HttpServer(Api& api, HttpMetrics& metrics, EventHub* events, ServerOptions options,
                       std::function<std::int64_t()> clock_ms)
    : api_(api),
      metrics_(metrics),
      events_(events),
      options_(std::move(options)),
      clock_ms_(std::move(clock_ms)),
      server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(static_cast<std::size_t>(options_.keep_alive_max_count));
  s.set_read_timeout(options_.read_timeout_ms / 1000, (options_.read_timeout_ms % 1000) * 1000);
  s.set_write_timeout(options_.write_timeout_ms / 1000, (options_.write_timeout_ms % 1000) * 1000);
  s.set_payload_max_length(kHardBodyLimit);
  const auto threads = static_cast<std::size_t>(options_.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  // Every request, whatever its method, goes to the Api: routing lives there, in one place.
  // (A pre-routing handler would run before cpp-httplib reads the body.)
  const auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    const auto started = std::chrono::steady_clock::now();
    HttpRequest in;
    in.method = req.method;
    in.path = req.path;
    for (const auto& [k, v] : req.params) in.query.emplace(k, v);  // first value of a repeated key
    in.body = req.body;
    in.authorization = req.get_header_value("Authorization");
    in.client_id = req.get_header_value("X-Client-Id");
    in.remote_addr = req.remote_addr;
    const HttpResponse out = api_.Handle(in, clock_ms_());

    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (out.event_stream) {
      Stream(res);
    } else {
      res.set_content(out.body, out.content_type);
    }

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const std::string status = std::to_string(res.status);  // Stream() may have refused
    metrics_.requests.WithLabels({out.route, MethodLabel(req.method), status}).Inc();
    metrics_.latency.WithLabels({out.route}).Observe(seconds);
    if (out.route == "/v1/reservations") metrics_.reservations.WithLabels({out.code}).Inc();
    if (options_.log_requests) {
      spdlog::info(json{{"msg", "request"},
                        {"method", req.method},
                        {"path", req.path},
                        {"route", out.route},
                        {"status", res.status},
                        {"code", out.code},
                        {"ms", seconds * 1000},
                        {"client", in.client_id.empty() ? in.remote_addr : in.client_id}}
                       .dump(-1, ' ', false, json::error_handler_t::replace));
    }
  };
  s.Get(".*", handle);
  s.Post(".*", handle);
  s.Put(".*", handle);
  s.Delete(".*", handle);
  s.Patch(".*", handle);
  s.Options(".*", handle);

  // Errors cpp-httplib answers itself (a body over the hard limit, a malformed request line)
  // get the API's error shape too; answers that already carry a body are left alone.
  s.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const bool too_large = res.status == 413;
        const json body = {{"error",
                            {{"code", too_large ? "payload_too_large" : "invalid_request"},
                             {"message", too_large ? "request body too large"
                                                   : "malformed HTTP request (status " +
                                                         std::to_string(res.status) + ")"}}}};
        res.set_content(body.dump(), "application/json; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      }));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stream(httplib::Response& res) {
  const auto cursor = events_ != nullptr ? events_->Join() : std::nullopt;
  if (!cursor) {
    res.status = 503;
    res.set_header("Retry-After", "5");
    res.set_content(R"({"error":{"code":"unavailable","message":"too many event subscribers"}})",
                    "application/json; charset=utf-8");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto position = std::make_shared<std::uint64_t>(*cursor);
  auto started = std::make_shared<bool>(false);
  EventHub* hub = events_;
  res.set_chunked_content_provider(
      "text/event-stream",
      [hub, position, started](std::size_t, httplib::DataSink& sink) {
        std::string chunk;
        if (!*started) {
          // A new subscriber starts from the whole picture, then follows the changes.
          *started = true;
          chunk = "retry: 1000\n\n" + hub->Initial();
        } else if (!hub->Next(position.get(), &chunk)) {
          sink.done();
          return true;
        }
        if (chunk.empty()) chunk = ": keep-alive\n\n";
        return sink.write(chunk.data(), chunk.size());
      },
      [hub](bool) { hub->Leave(); });
}

int HttpServer::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
    if (port <= 0) {
      spdlog::error("cannot bind {}:any", options_.host);
      return -1;
    }
  } else if (!server_->bind_to_port(options_.host, port)) {
    spdlog::error("cannot bind {}:{}", options_.host, port);
    return -1;
  }
  if (!RaiseListenBacklog(port)) {
    spdlog::warn(
        "could not raise the listen backlog of port {}; bursts of new connections may "
        "wait for SYN retransmits",
        port);
  }
  return port;
}

bool HttpServer::Serve() { return server_->listen_after_bind(); }

void HttpServer::Stop() {
  if (server_ && server_->is_running()) server_->stop();
}

}  // namespace stockgate::server
