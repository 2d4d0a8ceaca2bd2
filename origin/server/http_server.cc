#include "origin/server/http_server.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "origin/log/log.h"

namespace stockgate::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Requests over the API's 64 KiB limit still reach the Api, which answers the JSON 413; beyond
// this the server refuses to read the body at all (also a JSON 413).
constexpr std::uint64_t kHardBodyLimit = 1024 * 1024;
// After such a 413 the server reads and drops what the client still sends, for at most 2 s and
// this many bytes, so that its answer is not destroyed by a reset while the client writes on.
// It must exceed what a client is likely to still have in flight, or the close lands mid-body.
constexpr std::uint64_t kLingerBytes = 16 * 1024 * 1024;
// Request line and headers together; a bearer token is at most a few KiB.
constexpr std::uint32_t kHeaderLimit = 16 * 1024;

// Latency buckets in seconds: a reservation is ~0.1-1 ms on loopback, a stalled Redis 0.5 s.
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

std::string_view MethodLabel(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "other";  // client-chosen strings must not become label values
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; in a query, '+' is a space. A '%' not followed by two hex digits stays.
std::string Decode(std::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(query && c == '+' ? ' ' : c);
  }
  return out;
}

// The request as the Api takes it. A repeated query key keeps its first value.
HttpRequest ToApiRequest(const http::request<http::string_body>& req, const std::string& peer) {
  HttpRequest in;
  in.method = std::string(req.method_string());
  const std::string_view target = req.target();
  const auto question = target.find('?');
  in.path = Decode(target.substr(0, question), false);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const auto eq = pair.find('=');
      std::string key = Decode(pair.substr(0, eq), true);
      std::string value = eq == std::string_view::npos ? "" : Decode(pair.substr(eq + 1), true);
      if (!key.empty()) in.query.emplace(std::move(key), std::move(value));
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  in.body = req.body();
  in.authorization = std::string(req[http::field::authorization]);
  in.client_id = std::string(req["X-Client-Id"]);
  in.remote_addr = peer;
  return in;
}

}  // namespace

HttpMetrics::HttpMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("stockgate_http_requests_total")
                    .Help("HTTP requests answered, by route, method and status")
                    .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("stockgate_http_request_duration_seconds")
                   .Help("Time from request parsed to response ready, by route")
                   .Register(registry)),
      reservations_(prometheus::BuildCounter()
                        .Name("stockgate_reservations_total")
                        .Help("POST /v1/reservations outcomes: ok or the error code")
                        .Register(registry)) {}

template <class T, class Make>
T& HttpMetrics::Find(Series<T>& series, const std::string& key, const Make& make) {
  {
    std::shared_lock lock(series.mu);
    if (const auto it = series.by_key.find(key); it != series.by_key.end()) return *it->second;
  }
  std::unique_lock lock(series.mu);
  auto [it, added] = series.by_key.try_emplace(key, nullptr);
  if (added) it->second = &make();
  return *it->second;
}

void HttpMetrics::Record(const std::string& route, std::string_view method, int status,
                         const std::string& code, double seconds) {
  const std::string_view m = MethodLabel(method);
  const std::string status_text = std::to_string(status);
  const std::string key = route + ' ' + std::string(m) + ' ' + status_text;
  Find(request_series_, key, [&]() -> prometheus::Counter& {
    return requests_.Add({{"route", route}, {"method", std::string(m)}, {"status", status_text}});
  }).Increment();
  Find(latency_series_, route, [&]() -> prometheus::Histogram& {
    return latency_.Add({{"route", route}}, kLatencyBuckets);
  }).Observe(seconds);
  if (route == "/v1/reservations") {
    Find(reservation_series_, code, [&]() -> prometheus::Counter& {
      return reservations_.Add({{"outcome", code}});
    }).Increment();
  }
}

struct ServerState {
  ServerState(Api& a, HttpMetrics& m, EventHub* e, ServerOptions o,
              std::function<std::int64_t()> clock)
      : api(a),
        metrics(m),
        events(e),
        options(std::move(o)),
        clock_ms(std::move(clock)),
        ioc(std::max(options.threads, 1)),
        blocking(static_cast<std::size_t>(std::max(options.blocking_threads, 1))),
        acceptor(asio::make_strand(ioc)) {}

  void Accept();
  // Metrics and the request log line for one answer.
  void Record(const HttpRequest& in, std::string_view method, const HttpResponse& out, int status,
              Clock::time_point started);

  Api& api;
  HttpMetrics& metrics;
  EventHub* events;
  const ServerOptions options;
  const std::function<std::int64_t()> clock_ms;
  asio::io_context ioc;
  asio::thread_pool blocking;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;  // set when serving HTTPS (options.tls_cert_file)
  std::atomic<bool> stopped{false};
};

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: reads a request, has the Api answer it, writes the answer, and again, until
// the client closes, a timeout passes or keep_alive_max_count requests were served. Everything
// it does runs on its strand; answers computed elsewhere are posted back to it. Stream is
// beast::tcp_stream (HTTP) or TlsStream (HTTPS, which starts with the TLS handshake).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(tcp::socket socket, ServerState& server) : stream_(std::move(socket)), server_(server) {
    Init();
  }
  Session(tcp::socket socket, ServerState& server, asio::ssl::context& tls)
      : stream_(std::move(socket), tls), server_(server) {
    Init();
  }
  ~Session() {
    if (subscribed_ && server_.events != nullptr) server_.events->Leave();
  }

  void Start() {
    if constexpr (kTls) {
      // The handshake is bounded like a request: a client that connects and says nothing, or
      // trickles its hello, is closed after read_timeout_ms.
      Lowest().expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Close();
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  void Init() {
    beast::error_code ec;
    const tcp::endpoint peer = Lowest().socket().remote_endpoint(ec);
    if (!ec) peer_ = peer.address().to_string();
  }

  // The TCP stream under TLS (or the stream itself): timeouts and closing act on it.
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void ReadHeader() {
    head_ = false;
    parser_.emplace();
    parser_->body_limit(kHardBodyLimit);
    parser_->header_limit(kHeaderLimit);
    // One bound for the whole request, waiting for it included: an idle keep-alive connection
    // or a client trickling bytes is closed after read_timeout_ms, never holding anything else.
    Lowest().expires_after(std::chrono::milliseconds(server_.options.read_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Refuse(ec);
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      // The client waits for this before it sends the body (curl does, for bodies over 1 KiB).
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                               [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                                 if (e) return self->Close();
                                 self->ReadBody();
                               });
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Refuse(ec);
                       self->Dispatch();
                     });
  }

  // A request that could not be read: protocol errors get the API's error shape, then the
  // connection closes; a client that left or went quiet is simply closed.
  void Refuse(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    HttpResponse out =
        ec == http::error::body_limit
            ? ErrorResponse(core::Code::kPayloadTooLarge, "request body too large")
            : ErrorResponse(core::Code::kInvalidRequest, "malformed HTTP request: " + ec.message());
    keep_alive_ = false;
    Write(std::move(out));
  }

  void Dispatch() {
    started_ = Clock::now();
    const auto& req = parser_->get();
    head_ = req.method() == http::verb::head;
    keep_alive_ = req.keep_alive() && ++served_ < server_.options.keep_alive_max_count;
    request_ = ToApiRequest(req, peer_);
    method_ = std::string(req.method_string());
    parser_.reset();  // the request is in request_ now; an idle connection keeps no body
    auto self = this->shared_from_this();
    server_.api.HandleAsync(
        request_, server_.clock_ms(),
        [self](HttpResponse out) {
          // Often on the Redis client's I/O thread: hand the answer back to the connection.
          asio::post(self->stream_.get_executor(),
                     [self, out = std::move(out)]() mutable { self->Answer(std::move(out)); });
        },
        [this](std::function<void()> work) { asio::post(server_.blocking, std::move(work)); });
  }

  void Answer(HttpResponse out) {
    if (out.event_stream) return StartStream(std::move(out));
    server_.Record(request_, method_, out, out.status, started_);
    request_ = {};
    Write(std::move(out));
  }

  void Write(HttpResponse out) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(out.status));
    response_.set(http::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) response_.set(name, value);
    response_.keep_alive(keep_alive_);
    response_.body() = std::move(out.body);
    response_.prepare_payload();
    if (head_) response_.body().clear();  // HEAD: Content-Length says what GET would send
    Lowest().expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->Close();
                        if (!self->keep_alive_) return self->Linger();
                        self->ReadHeader();
                      });
  }

  void Close() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    Lowest().close();
  }

  // Closes after an answer the client may still be sending into (a body over the limit): stop
  // sending, then read and drop what still comes for a moment, so that the kernel does not reset
  // the connection and destroy the answer before the client has read it.
  void Linger() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    Lowest().expires_after(std::chrono::seconds(2));
    Drain();
  }

  void Drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(64 * 1024),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kLingerBytes) {
                                return self->Lowest().close();
                              }
                              self->Drain();
                            });
  }

  // GET /v1/events: the answer's head, the whole picture, then each change as it comes, with a
  // comment line when nothing happened for keep_alive_ms so that proxies keep the stream.
  void StartStream(HttpResponse out) {
    const auto cursor =
        server_.events != nullptr ? server_.events->Join() : std::optional<std::uint64_t>();
    if (!cursor) {
      out = ErrorResponse(core::Code::kUnavailable, "too many event subscribers", json::object(),
                          /*retry_after_s=*/5);
      out.route = "/v1/events";
      server_.Record(request_, method_, out, out.status, started_);
      return Write(std::move(out));
    }
    subscribed_ = true;
    cursor_ = *cursor;
    server_.Record(request_, method_, out, 200, started_);
    stream_head_.emplace();
    stream_head_->version(11);
    stream_head_->result(http::status::ok);
    stream_head_->set(http::field::content_type, "text/event-stream");
    stream_head_->set(http::field::cache_control, "no-cache");
    stream_head_->set("X-Accel-Buffering", "no");
    stream_head_->chunked(true);
    stream_serializer_.emplace(*stream_head_);
    Lowest().expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    http::async_write_header(stream_, *stream_serializer_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->Close();
                               self->SendInitial();
                             });
  }

  void SendInitial() {
    // The picture comes from a blocking store read: made on the pool, sent from the strand.
    auto self = this->shared_from_this();
    asio::post(server_.blocking, [self] {
      std::string picture = self->server_.events->Initial(self->cursor_);
      asio::post(self->stream_.get_executor(), [self, picture = std::move(picture)]() mutable {
        // Without the whole picture the changes mean nothing: end the stream, and the client
        // comes back after its retry interval (the store is unreachable, or stopping).
        if (picture.empty()) return self->EndStream();
        self->SendChunk("retry: 1000\n\n" + picture);
      });
    });
  }

  void SendChunk(std::string text) {
    chunk_ = std::move(text);
    last_sent_ = Clock::now();
    Lowest().expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    asio::async_write(stream_, http::make_chunk(asio::buffer(chunk_)),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->Close();
                        self->WaitForEvents();
                      });
  }

  // The last chunk, then the connection closes.
  void EndStream() {
    Lowest().expires_after(std::chrono::milliseconds(server_.options.write_timeout_ms));
    asio::async_write(
        stream_, http::make_chunk_last(),
        [self = this->shared_from_this()](beast::error_code, std::size_t) { self->Close(); });
  }

  void WaitForEvents() {
    if (!timer_) timer_.emplace(stream_.get_executor());
    timer_->expires_after(std::chrono::milliseconds(server_.events->options().poll_ms));
    timer_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      self->PollEvents();
    });
  }

  void PollEvents() {
    std::string events;
    if (!server_.events->Take(&cursor_, &events)) return EndStream();  // the hub is stopping
    if (!events.empty()) return SendChunk(std::move(events));
    const auto quiet = Clock::now() - last_sent_;
    if (quiet >= std::chrono::milliseconds(server_.events->options().keep_alive_ms)) {
      return SendChunk(": keep-alive\n\n");
    }
    WaitForEvents();
  }

  Stream stream_;
  ServerState& server_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  HttpRequest request_;
  std::string method_;
  Clock::time_point started_;
  int served_ = 0;
  std::size_t drained_ = 0;
  bool keep_alive_ = true;
  bool head_ = false;

  // The event stream's state.
  bool subscribed_ = false;
  std::uint64_t cursor_ = 0;
  std::optional<http::response<http::empty_body>> stream_head_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  std::optional<asio::steady_timer> timer_;
  std::string chunk_;
  Clock::time_point last_sent_;
};

}  // namespace

void ServerState::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors (EMFILE) or memory: retrying at once would spin. Wait a moment, while
      // the open connections go on being served.
      log::Warn("accept failed", {{"error", ec.message()}});
      auto wait = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(100));
      return wait->async_wait([this, wait](beast::error_code) { Accept(); });
    }
    // Small JSON answers must not wait for Nagle and delayed ACK (~40 ms).
    socket.set_option(tcp::no_delay(true), ec);
    if (tls) {
      std::make_shared<Session<TlsStream>>(std::move(socket), *this, *tls)->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(std::move(socket), *this)->Start();
    }
    Accept();
  });
}

void ServerState::Record(const HttpRequest& in, std::string_view method, const HttpResponse& out,
                         int status, Clock::time_point started) {
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  metrics.Record(out.route, method, status, out.code, seconds);
  const bool log = options.log_requests == ServerOptions::RequestLog::kAll ||
                   (options.log_requests == ServerOptions::RequestLog::kErrors && status >= 500);
  if (log) {
    log::Info("request", {{"method", method},
                          {"path", in.path},
                          {"route", out.route},
                          {"status", status},
                          {"code", out.code},
                          {"ms", seconds * 1000},
                          {"client", in.client_id.empty() ? in.remote_addr : in.client_id}});
  }
}

HttpServer::HttpServer(Api& api, HttpMetrics& metrics, EventHub* events, ServerOptions options,
                       std::function<std::int64_t()> clock_ms)
    : state_(std::make_unique<ServerState>(api, metrics, events, std::move(options),
                                           std::move(clock_ms))) {}

HttpServer::~HttpServer() {
  Stop();
  state_->blocking.join();
}

int HttpServer::Bind() {
  ServerState& s = *state_;
  beast::error_code ec;
  if (!s.options.tls_cert_file.empty() || !s.options.tls_key_file.empty()) {
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    const char* step = "certificate";
    std::string error;
    // OpenSSL says only "asio.ssl error" for a file it cannot open: name that case first.
    for (const auto& [what, path] : {std::pair{"certificate", &s.options.tls_cert_file},
                                     std::pair{"private key", &s.options.tls_key_file}}) {
      if (error.empty() && ::access(path->c_str(), R_OK) != 0) {
        step = what;
        error = *path + ": " + std::strerror(errno);
      }
    }
    if (error.empty()) tls.use_certificate_chain_file(s.options.tls_cert_file, ec);
    if (error.empty() && !ec) {
      step = "private key";
      tls.use_private_key_file(s.options.tls_key_file, asio::ssl::context::pem, ec);
    }
    if (ec) error = ec.message();
    // OpenSSL compares a key with its certificate only when their types agree: an EC key with
    // an RSA certificate would load, and every handshake would fail.
    if (error.empty() && SSL_CTX_check_private_key(tls.native_handle()) != 1) {
      error = "the private key does not match the certificate";
    }
    if (!error.empty()) {
      log::Error("cannot serve HTTPS", {{"tls_cert_file", s.options.tls_cert_file},
                                        {"tls_key_file", s.options.tls_key_file},
                                        {"loading", step},
                                        {"error", error}});
      return -1;
    }
    s.tls.emplace(std::move(tls));
  }
  const auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) {
    log::Error("cannot listen", {{"host", s.options.host}, {"error", "not an IP address"}});
    return -1;
  }
  const tcp::endpoint endpoint(address, static_cast<std::uint16_t>(s.options.port));
  s.acceptor.open(endpoint.protocol(), ec);
  // SO_REUSEADDR lets a restarted origin bind while old connections linger in TIME_WAIT; it does
  // not let two processes listen on one port. SO_REUSEPORT does, and only when asked.
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && s.options.reuse_port) {
    s.acceptor.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    log::Error("cannot listen",
               {{"host", s.options.host}, {"port", s.options.port}, {"error", ec.message()}});
    return -1;
  }
  return s.acceptor.local_endpoint().port();
}

bool HttpServer::Serve() {
  ServerState& s = *state_;
  if (!s.acceptor.is_open()) return false;
  s.Accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(s.options.threads, 1); ++i) {
    threads.emplace_back([&s] { s.ioc.run(); });
  }
  s.ioc.run();
  for (std::thread& t : threads) t.join();
  return true;
}

void HttpServer::Stop() {
  ServerState& s = *state_;
  if (s.stopped.exchange(true)) return;
  asio::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ec;
    s.acceptor.close(ec);
  });
  s.ioc.stop();
}

}  // namespace stockgate::server
