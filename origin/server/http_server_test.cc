// The origin over real HTTP against a real redis-server: the wiring main() does, on a free port.
// Proves the flow end to end, that concurrent buyers over HTTP never oversell, that a dead Redis
// means fast 503s and a live one recovery without loss, that /metrics satisfies promtool, and
// that /v1/events streams changes.
#include "origin/server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "origin/log/log.h"
#include "origin/server/assets.h"
#include "origin/server/event_hub.h"
#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pipeline.h"
#include "tests/support/clock.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"

namespace stockgate::server {
namespace {

using nlohmann::json;
const char* const kSecret = "http-test-secret-http-test-secret-http";

constexpr auto NowMs = testing::WallClockMs;

class OriginHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = testing::RedisServer::Start();
    ASSERT_NE(redis_, nullptr);
    store::RedisConfig rc;
    rc.port = redis_->port();
    pool_ = std::make_unique<store::RedisPipeline>(rc);
    store_ = std::make_unique<store::RedisInventoryStore>(*pool_, store::RedisStoreConfig{"sg"});
    auth_ = std::make_unique<JwtAuth>(kSecret);
    metrics_ = std::make_unique<HttpMetrics>(registry_);
    ApiConfig config;
    config.openapi_json = OpenApiJson();
    config.swagger_ui_js = SwaggerUiJs();
    config.swagger_ui_css = SwaggerUiCss();
    api_ = std::make_unique<Api>(
        *store_, /*history=*/nullptr, *auth_, config, [this] { return pool_->Ping(); },
        [this] { return prometheus::TextSerializer().Serialize(registry_.Collect()); });
    EventHubOptions eo;
    eo.poll_ms = 50;
    eo.keep_alive_ms = 200;
    events_ = std::make_unique<EventHub>(*store_, eo, NowMs, &registry_);
    events_->Start();
    ServerOptions so;
    so.port = 0;
    so.threads = 2;
    so.log_requests = ServerOptions::RequestLog::kNone;
    server_ = std::make_unique<HttpServer>(*api_, *metrics_, events_.get(), so, NowMs);
    port_ = server_->Bind();
    ASSERT_GT(port_, 0);
    serving_ = std::thread([this] { server_->Serve(); });
    admin_ = "Bearer " + auth_->Mint({"ops", Role::kAdmin, NowMs() / 1000 + 600}).value();
    service_ = "Bearer " + auth_->Mint({"orders", Role::kService, NowMs() / 1000 + 600}).value();
  }

  void TearDown() override {
    if (events_) events_->Stop();
    if (server_) server_->Stop();
    if (serving_.joinable()) serving_.join();
    if (pool_) pool_->Close();  // while everything its callbacks reach still exists
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
    return c;
  }

  httplib::Result Send(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& auth) {
    httplib::Client c = Client();
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    if (method == "PUT") return c.Put(path.c_str(), h, body, "application/json");
    if (method == "POST") return c.Post(path.c_str(), h, body, "application/json");
    return c.Get(path.c_str(), h);
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<store::RedisPipeline> pool_;
  std::unique_ptr<store::RedisInventoryStore> store_;
  std::unique_ptr<JwtAuth> auth_;
  prometheus::Registry registry_;
  std::unique_ptr<HttpMetrics> metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<EventHub> events_;
  std::unique_ptr<HttpServer> server_;
  std::thread serving_;
  int port_ = 0;
  std::string admin_, service_;
};

// Set, reserve, retry, read, confirm: the documented statuses and shapes over the wire.
TEST_F(OriginHttpTest, FlowOverHttp) {
  auto r = Send("PUT", "/v1/stock/42", R"({"on_hand":10})", admin_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json; charset=utf-8");
  const std::string body = R"({"order_id":"web-1","items":[{"sku":42,"qty":4}]})";
  r = Send("POST", "/v1/reservations", body, service_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  r = Send("POST", "/v1/reservations", body, service_);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(Send("GET", "/v1/stock/42", "", "")->body)["available"], 6);
  r = Send("POST", "/v1/reservations/web-1/confirm", "", service_);
  EXPECT_EQ(json::parse(r->body)["status"], "confirmed");
  EXPECT_EQ(json::parse(Send("GET", "/v1/stock/42", "", "")->body)["sold"], 4);
  // A client that accepts gzip still gets plain JSON: compressing ~300 bytes costs far more CPU
  // than it saves.
  {
    httplib::Client c = Client();
    const auto plain = c.Get("/v1/stock/42", {{"Accept-Encoding", "gzip, deflate, br"}});
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->get_header_value("Content-Encoding"), "");
  }
  r = Send("POST", "/v1/reservations", std::string(2 << 20, ' '), service_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "payload_too_large");
}

// 200 buyers on 200 connections race for 100 units: exactly 100 get 201, the rest 409.
TEST_F(OriginHttpTest, ConcurrentBuyersNeverOversell) {
  ASSERT_EQ(Send("PUT", "/v1/stock/7", R"({"on_hand":100})", admin_)->status, 201);
  std::atomic<int> created{0}, sold_out{0}, other{0};
  std::mutex other_mu;
  std::map<int, int> other_statuses;
  std::string last_other_body;
  std::vector<std::thread> buyers;
  for (int b = 0; b < 200; ++b) {
    buyers.emplace_back([&, b] {
      const auto r =
          Send("POST", "/v1/reservations",
               R"({"order_id":"buyer-)" + std::to_string(b) + R"(","items":[{"sku":7,"qty":1}]})",
               service_);
      if (r && r->status == 201) {
        ++created;
      } else if (r && r->status == 409) {
        ++sold_out;
      } else {
        ++other;
        std::lock_guard lock(other_mu);
        if (r) other_statuses[r->status] += 1;
        if (!r) other_statuses[-static_cast<int>(r.error())] += 1;
        if (r) last_other_body = r->body;
      }
    });
  }
  for (auto& t : buyers) t.join();
  for (const auto& [st, n] : other_statuses)
    ADD_FAILURE() << "status " << st << " x" << n << " " << last_other_body;
  EXPECT_EQ(created.load(), 100);
  EXPECT_EQ(sold_out.load(), 100);
  EXPECT_EQ(other.load(), 0);
  const json s = json::parse(Send("GET", "/v1/stock/7", "", "")->body);
  EXPECT_EQ(s["reserved"], 100);
  EXPECT_EQ(s["available"], 0);
}

// Redis down: 503 + Retry-After, fast; /readyz says not ready; Redis back: the same origin serves
// again and every acknowledged reservation is still there.
TEST_F(OriginHttpTest, RedisLossAndRecovery) {
  ASSERT_EQ(Send("PUT", "/v1/stock/1", R"({"on_hand":50})", admin_)->status, 201);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(
        Send("POST", "/v1/reservations",
             R"({"order_id":"keep-)" + std::to_string(i) + R"(","items":[{"sku":1,"qty":1}]})",
             service_)
            ->status,
        201);
  }
  redis_->Kill();
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    const auto r =
        Send("POST", "/v1/reservations",
             R"({"order_id":"lost-)" + std::to_string(i) + R"(","items":[{"sku":1,"qty":1}]})",
             service_);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  }
  // Generous bound: 20 answers while Redis is down take milliseconds, a hang would take seconds.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_EQ(Send("GET", "/readyz", "", "")->status, 503);
  EXPECT_EQ(Send("GET", "/healthz", "", "")->status, 200);

  ASSERT_TRUE(redis_->Restart());
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    status = Send("GET", "/v1/stock/1", "", "")->status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status, 200);
  EXPECT_EQ(json::parse(Send("GET", "/v1/stock/1", "", "")->body)["reserved"], 20);
  EXPECT_EQ(Send("GET", "/v1/reservations/keep-19", "", service_)->status, 200);
  EXPECT_EQ(Send("GET", "/v1/reservations/lost-0", "", service_)->status, 404);
  EXPECT_EQ(Send("GET", "/readyz", "", "")->status, 200);
}

// /metrics after real traffic is valid Prometheus text by promtool's own check.
TEST_F(OriginHttpTest, MetricsPassPromtool) {
  Send("PUT", "/v1/stock/1", R"({"on_hand":5})", admin_);
  Send("POST", "/v1/reservations", R"({"order_id":"m1","items":[{"sku":1,"qty":1}]})", service_);
  Send("POST", "/v1/reservations", R"({"order_id":"m2","items":[{"sku":1,"qty":9}]})", service_);
  Send("GET", "/nowhere", "", "");
  const auto r = Send("GET", "/metrics", "", "");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find(R"(stockgate_reservations_total{outcome="insufficient_stock"} 1)"),
            std::string::npos)
      << r->body;
  EXPECT_EQ(testing::PromtoolProblems(r->body), "");
}

// A subscriber gets the whole picture first, then each change within the poll interval.
TEST_F(OriginHttpTest, EventsStreamChanges) {
  ASSERT_EQ(Send("PUT", "/v1/stock/5", R"({"on_hand":3})", admin_)->status, 201);
  std::mutex mu;
  std::string received;
  auto seen = [&](const std::string& text) {
    std::lock_guard lock(mu);
    return received.find(text) != std::string::npos;
  };
  std::atomic<bool> saw_change{false};
  httplib::Client c = Client();
  std::thread reader([&] {
    c.Get("/v1/events", [&](const char* data, std::size_t len) {
      {
        std::lock_guard lock(mu);
        received.append(data, len);
      }
      if (seen(R"("available":1)")) saw_change = true;
      return !saw_change.load();
    });
  });
  // Wait for the initial event, then change the stock.
  for (int i = 0; i < 50 && !seen("event: stock"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(
      Send("POST", "/v1/reservations", R"({"order_id":"e1","items":[{"sku":5,"qty":2}]})", service_)
          ->status,
      201);
  for (int i = 0; i < 100 && !saw_change; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  c.stop();
  reader.join();
  EXPECT_NE(received.find(R"({"available":3,"sku":5})"), std::string::npos) << received;
  EXPECT_TRUE(saw_change.load()) << received;
}

// A SKU's low-stock threshold: reads mark it, the feed announces each crossing (both ways), and
// the gauge counts the low SKUs.
TEST_F(OriginHttpTest, LowStockIsMarkedAnnouncedAndCounted) {
  ASSERT_EQ(Send("PUT", "/v1/stock/7", R"({"on_hand":10,"low_stock_threshold":3})", admin_)->status,
            201);
  std::mutex mu;
  std::string received;
  auto seen = [&](const std::string& text) {
    std::lock_guard lock(mu);
    return received.find(text) != std::string::npos;
  };
  const std::string low = R"(event: low_stock
data: {"available":2,"low_stock":true,"low_stock_threshold":3,"sku":7})";
  const std::string back = R"(event: low_stock
data: {"available":9,"low_stock":false,"low_stock_threshold":3,"sku":7})";
  std::atomic<bool> done{false};
  httplib::Client c = Client();
  std::thread reader([&] {
    c.Get("/v1/events", [&](const char* data, std::size_t len) {
      std::lock_guard lock(mu);
      received.append(data, len);
      return !done.load();
    });
  });
  const auto wait_for = [&](const std::string& text) {
    for (int i = 0; i < 100 && !seen(text); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return seen(text);
  };
  ASSERT_TRUE(wait_for(R"({"available":10,"sku":7})"));  // the picture
  // A change only the hub's poll can send: from then on the hub knows sku 7 is not low.
  ASSERT_EQ(
      Send("POST", "/v1/reservations", R"({"order_id":"l0","items":[{"sku":7,"qty":1}]})", service_)
          ->status,
      201);
  ASSERT_TRUE(wait_for(R"({"available":9,"sku":7})"));
  ASSERT_EQ(
      Send("POST", "/v1/reservations", R"({"order_id":"l1","items":[{"sku":7,"qty":7}]})", service_)
          ->status,
      201);
  EXPECT_TRUE(wait_for(low)) << received;
  EXPECT_TRUE(seen(R"({"available":2,"low_stock":true,"sku":7})")) << received;
  const auto stock = Send("GET", "/v1/stock/7", "", "");
  EXPECT_NE(stock->body.find(R"("low_stock":true,"low_stock_threshold":3)"), std::string::npos)
      << stock->body;
  EXPECT_NE(Send("GET", "/metrics", "", "")->body.find(R"(stockgate_stock_skus{state="low"} 1)"),
            std::string::npos);
  ASSERT_EQ(Send("POST", "/v1/reservations/l1/release", "", service_)->status, 200);
  EXPECT_TRUE(wait_for(back)) << received;
  EXPECT_NE(Send("GET", "/metrics", "", "")->body.find(R"(stockgate_stock_skus{state="low"} 0)"),
            std::string::npos);
  // A SKU that leaves the store (data lost, say) leaves the counts with the next whole picture.
  ASSERT_EQ(
      Send("POST", "/v1/reservations", R"({"order_id":"l2","items":[{"sku":7,"qty":8}]})", service_)
          ->status,
      201);
  const auto metric_shows = [&](const std::string& line) {
    for (int i = 0; i < 100; ++i) {
      if (Send("GET", "/metrics", "", "")->body.find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  EXPECT_TRUE(metric_shows(R"(stockgate_stock_skus{state="low"} 1)"));
  ASSERT_TRUE(pool_->Command({"FLUSHALL"}).ok());
  EXPECT_TRUE(metric_shows(R"(stockgate_stock_skus{state="low"} 0)"));
  done = true;
  c.stop();
  reader.join();
}

// HTTPS with a certificate openssl makes here: a client that trusts it gets the API and the event
// stream; one that does not is refused, and so is plain HTTP on the port. A key that does not
// match the certificate, or a missing file, stops Bind with the reason.
TEST_F(OriginHttpTest, ServesHttpsWithItsCertificate) {
  const auto made = testing::MakeTestCertificate();
  ASSERT_TRUE(made.ok()) << made.error();
  const std::string& cert = (*made)->cert;
  const std::string& key = (*made)->key;

  ServerOptions so;
  so.port = 0;
  so.threads = 2;
  so.log_requests = ServerOptions::RequestLog::kNone;
  so.tls_cert_file = cert;
  so.tls_key_file = (*made)->other_key;
  EXPECT_EQ(HttpServer(*api_, *metrics_, events_.get(), so, NowMs).Bind(), -1) << "key mismatch";
  so.tls_key_file = (*made)->dir + "/missing.key";
  EXPECT_EQ(HttpServer(*api_, *metrics_, events_.get(), so, NowMs).Bind(), -1) << "missing key";
  // A key of another type than the certificate's (OpenSSL compares those only when asked).
  const std::string rsa = (*made)->dir + "/rsa.crt";
  const std::string make_rsa =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=x "
      "-keyout /dev/null -out '" +
      rsa + "' 2>/dev/null";
  ASSERT_EQ(std::system(make_rsa.c_str()), 0);
  so.tls_cert_file = rsa;
  so.tls_key_file = key;
  EXPECT_EQ(HttpServer(*api_, *metrics_, events_.get(), so, NowMs).Bind(), -1)
      << "RSA cert, EC key";
  so.tls_cert_file = cert;

  so.tls_key_file = key;
  HttpServer https(*api_, *metrics_, events_.get(), so, NowMs);
  const int port = https.Bind();
  ASSERT_GT(port, 0);
  std::thread serving([&] { https.Serve(); });
  const auto trust = [&](httplib::SSLClient& c) {
    c.set_ca_cert_path(cert.c_str());
    c.enable_server_certificate_verification(true);
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
  };
  {
    httplib::SSLClient c("127.0.0.1", port);
    trust(c);
    const auto put =
        c.Put("/v1/stock/9", {{"Authorization", admin_}}, R"({"on_hand":4})", "application/json");
    ASSERT_TRUE(put) << httplib::to_string(put.error());
    EXPECT_EQ(put->status, 201);
    const auto get = c.Get("/v1/stock/9");  // the same TLS connection, kept alive
    ASSERT_TRUE(get);
    EXPECT_NE(get->body.find(R"("on_hand":4)"), std::string::npos) << get->body;

    std::string received;
    httplib::SSLClient feed("127.0.0.1", port);
    trust(feed);
    feed.Get("/v1/events", [&](const char* data, std::size_t len) {
      received.append(data, len);
      return received.find(R"({"available":4,"sku":9})") == std::string::npos;
    });
    EXPECT_NE(received.find("event: stock"), std::string::npos) << received;
  }
  {
    httplib::SSLClient untrusting("127.0.0.1", port);  // the system's CAs do not know this one
    untrusting.enable_server_certificate_verification(true);
    untrusting.set_connection_timeout(2);
    const auto r = untrusting.Get("/healthz");
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error(), httplib::Error::SSLServerVerification);
  }
  {
    httplib::Client plain("127.0.0.1", port);
    plain.set_connection_timeout(2);
    plain.set_read_timeout(2);
    EXPECT_FALSE(plain.Get("/healthz")) << "plain HTTP on the HTTPS port";
  }
  https.Stop();
  serving.join();
}

// /openapi.json serves the embedded document, /docs renders it with the embedded swagger-ui, and
// every operation the document lists is routed by this server (the spec cannot list a path the
// code does not serve).
TEST_F(OriginHttpTest, OpenApiDocumentMatchesTheServer) {
  const auto doc = Send("GET", "/openapi.json", "", "");
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 200);
  EXPECT_EQ(doc->body, std::string(OpenApiJson()));
  const json spec = json::parse(doc->body, nullptr, false);
  ASSERT_TRUE(spec.is_object());
  EXPECT_EQ(spec["openapi"], "3.0.3");
  const auto page = Send("GET", "/docs", "", "");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/docs/swagger-ui-bundle.js"), std::string::npos);
  EXPECT_GT(Send("GET", "/docs/swagger-ui-bundle.js", "", "")->body.size(), 100'000u);
  EXPECT_GT(Send("GET", "/docs/swagger-ui.css", "", "")->body.size(), 10'000u);

  int operations = 0;
  for (const auto& [path, item] : spec["paths"].items()) {
    std::string concrete = path;
    for (const auto& [param, value] :
         {std::pair<std::string, std::string>{"{sku}", "1"}, {"{order_id}", "no-such-order"}}) {
      if (const auto at = concrete.find(param); at != std::string::npos) {
        concrete.replace(at, param.size(), value);
      }
    }
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters" || path == "/v1/events") continue;  // the stream never ends
      std::string upper = method;
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const auto r = Send(upper, concrete, "{}", admin_);
      ASSERT_TRUE(r) << upper << " " << concrete;
      const json answer = json::parse(r->body, nullptr, false);
      const bool unrouted = answer.is_object() && answer.contains("error") &&
                            answer["error"].value("message", "").rfind("no route", 0) == 0;
      EXPECT_FALSE(unrouted) << upper << " " << concrete;
      EXPECT_NE(r->status, 405) << upper << " " << concrete;
      ++operations;
    }
  }
  EXPECT_GE(operations, 16);
}

// Another server asked to listen on this port fails to bind instead of sharing it, and says so
// in one JSON log line; so does one asked for an address that is not one.
TEST_F(OriginHttpTest, BusyPortIsRefused) {
  std::ostringstream logged;
  log::Configure(log::Level::kInfo, &logged);
  ServerOptions so;
  so.port = port_;
  so.log_requests = ServerOptions::RequestLog::kNone;
  HttpServer second(*api_, *metrics_, nullptr, so, NowMs);
  EXPECT_EQ(second.Bind(), -1);
  so.host = "localhost:80";
  HttpServer third(*api_, *metrics_, nullptr, so, NowMs);
  EXPECT_EQ(third.Bind(), -1);
  log::Configure(log::Level::kInfo);
  EXPECT_EQ(Send("GET", "/healthz", "", "")->status, 200);

  std::istringstream lines(logged.str());
  std::vector<json> errors;
  for (std::string line; std::getline(lines, line);) {
    errors.push_back(json::parse(line, nullptr, false));
    ASSERT_TRUE(errors.back().is_object()) << line;
  }
  ASSERT_EQ(errors.size(), 2u) << logged.str();
  EXPECT_EQ(errors[0]["level"], "error");
  EXPECT_EQ(errors[0]["log"]["msg"], "cannot listen");
  EXPECT_EQ(errors[0]["log"]["port"], port_);
  EXPECT_EQ(errors[1]["log"]["host"], "localhost:80");
  EXPECT_EQ(errors[1]["log"]["error"], "not an IP address");
}

// Asked to share the port, two servers listen on it together (the kernel spreads connections);
// a third that was not asked is refused even then.
TEST_F(OriginHttpTest, PortSharingOnlyWhenAsked) {
  ServerOptions so;
  so.port = 0;
  so.reuse_port = true;
  so.log_requests = ServerOptions::RequestLog::kNone;
  HttpServer first(*api_, *metrics_, nullptr, so, NowMs);
  const int port = first.Bind();
  ASSERT_GT(port, 0);
  so.port = port;
  HttpServer second(*api_, *metrics_, nullptr, so, NowMs);
  EXPECT_EQ(second.Bind(), port);
  so.reuse_port = false;
  std::ostringstream logged;
  log::Configure(log::Level::kInfo, &logged);
  HttpServer third(*api_, *metrics_, nullptr, so, NowMs);
  EXPECT_EQ(third.Bind(), -1);
  log::Configure(log::Level::kInfo);
  EXPECT_NE(logged.str().find("cannot listen"), std::string::npos);
}

// 300 connections that send half a request and stall hold no thread: another client is served
// at once, not after the read timeout (5 s) frees something.
TEST_F(OriginHttpTest, StalledConnectionsDoNotStarveOthers) {
  std::vector<int> stalled;
  for (int i = 0; i < 300; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string half = "GET /healthz HTTP/1.1\r\nHo";
    ASSERT_EQ(send(fd, half.data(), half.size(), MSG_NOSIGNAL), static_cast<ssize_t>(half.size()));
    stalled.push_back(fd);
  }
  const auto started = std::chrono::steady_clock::now();
  const auto r = Send("GET", "/healthz", "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  for (const int fd : stalled) close(fd);
}

// Over the wire a history time's offset needs its + escaped: %2B parses (and, with no history
// database configured here, gets the 503 that says so), a bare + arrives as a space and is a 400.
TEST_F(OriginHttpTest, HistoryQueryDecoding) {
  httplib::Client c = Client();
  c.set_url_encode(false);  // send the query exactly as written
  const httplib::Headers viewer = {
      {"Authorization",
       "Bearer " + auth_->Mint({"analyst", Role::kViewer, NowMs() / 1000 + 60}).value()}};
  auto r = c.Get("/v1/stock/1/history?from=2026-11-24T02:46:47%2B08:00", viewer);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  r = c.Get("/v1/stock/1/history?from=2026-11-24T02:46:47+08:00", viewer);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["field"], "from");
}

}  // namespace
}  // namespace stockgate::server
