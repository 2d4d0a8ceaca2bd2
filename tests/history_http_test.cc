// The history side end to end over real HTTP: changes made through the origin API land in the
// Redis outbox, an in-process Ingester drains them into a real MariaDB, and the origin serves them
// back from GET /v1/stock/{sku}/history and GET /v1/history/summary with the exact values. A dead
// MariaDB makes the history routes fail fast with 503 while reservations keep working, and the
// history comes back (with what happened meanwhile) once the database does.
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "origin/history/mariadb_history.h"
#include "origin/history/schema.h"
#include "origin/server/api.h"
#include "origin/server/assets.h"
#include "origin/server/http_server.h"
#include "origin/server/jwt_auth.h"
#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pool.h"
#include "sync/ingester.h"
#include "sync/outbox.h"
#include "tests/support/clock.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/redis_server.h"

namespace stockgate::server {
namespace {

using nlohmann::json;
using stockgate::testing::MariaDbServer;
using stockgate::testing::RedisServer;

const char* const kSecret = "history-http-test-secret-history-http";
// The server's clock starts here (2026-11-23T18:46:47.123Z) and moves one second per change, so
// every ledger time is known exactly.
constexpr std::int64_t kT0 = 1'795'459'607'123;

constexpr auto RealNowMs = testing::WallClockMs;

// One expected history item.
struct Event {
  const char* op;
  std::int64_t qty;
  std::int64_t before;
  std::int64_t after;
  const char* actor;
  const char* ref;
  const char* reason;
  const char* time;
  std::int64_t version;
};

void ExpectEvent(const json& item, const Event& e) {
  SCOPED_TRACE(item.dump());
  EXPECT_EQ(item.value("op", ""), e.op);
  EXPECT_EQ(item.value("sku", 0), 1);
  EXPECT_EQ(item.value("qty", 0), e.qty);
  EXPECT_EQ(item.value("before", -1), e.before);
  EXPECT_EQ(item.value("after", -1), e.after);
  EXPECT_EQ(item.value("actor", ""), e.actor);
  EXPECT_EQ(item.value("ref", "?"), e.ref);
  EXPECT_EQ(item.value("reason", "?"), e.reason);
  EXPECT_EQ(item.value("time", ""), e.time);
  EXPECT_EQ(item.value("version", 0), e.version);
  EXPECT_FALSE(item.value("event_id", "").empty());
}

class HistoryHttpTest : public ::testing::Test {
 protected:
  // One mariadbd for the suite (mariadb-install-db takes seconds); a database per test.
  static void SetUpTestSuite() {
    mariadb_ = MariaDbServer::Start().release();
    ASSERT_NE(mariadb_, nullptr);
  }
  static void TearDownTestSuite() {
    delete mariadb_;
    mariadb_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(mariadb_, nullptr);
    if (!mariadb_->running()) {
      ASSERT_TRUE(mariadb_->Restart());
    }
    redis_ = RedisServer::Start();
    ASSERT_NE(redis_, nullptr);
    store::RedisConfig rc;
    rc.port = redis_->port();
    rc.command_timeout_ms = 2000;
    pool_ = std::make_unique<store::RedisPool>(rc);
    store_ = std::make_unique<store::RedisInventoryStore>(*pool_, store::RedisStoreConfig{"sg"});
    outbox_ = std::make_unique<sync::Outbox>(*pool_, "sg");

    mysql_.port = mariadb_->port();
    mysql_.database = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mysql_.read_timeout_s = 2;
    mysql_.write_timeout_s = 2;
    const core::Result<std::vector<int>> m = history::ApplyMigrations(mysql_);
    ASSERT_TRUE(m.ok()) << m.error();
    history_ = std::make_unique<history::MariaDbHistory>(mysql_);

    auth_ = std::make_unique<JwtAuth>(kSecret);
    metrics_ = std::make_unique<HttpMetrics>(registry_);
    ApiConfig config;
    config.openapi_json = OpenApiJson();
    config.swagger_ui_js = SwaggerUiJs();
    config.swagger_ui_css = SwaggerUiCss();
    api_ = std::make_unique<Api>(
        *store_, history_.get(), *auth_, config, [this] { return pool_->Ping(); },
        [this] { return prometheus::TextSerializer().Serialize(registry_.Collect()); });
    ServerOptions so;
    so.port = 0;
    so.threads = 16;
    so.log_requests = ServerOptions::RequestLog::kNone;
    server_ = std::make_unique<HttpServer>(*api_, *metrics_, /*events=*/nullptr, so,
                                           [this] { return now_ms_.load(); });
    port_ = server_->Bind();
    ASSERT_GT(port_, 0);
    serving_ = std::thread([this] { server_->Serve(); });

    const std::int64_t exp = kT0 / 1000 + 3600;
    admin_ = "Bearer " + auth_->Mint({"ops", Role::kAdmin, exp}).value();
    service_ = "Bearer " + auth_->Mint({"orders", Role::kService, exp}).value();
    viewer_ = "Bearer " + auth_->Mint({"analyst", Role::kViewer, exp}).value();
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (serving_.joinable()) serving_.join();
  }

  // Sends one request; the server clock first moves a second on when `tick` is set.
  httplib::Result Send(const std::string& method, const std::string& path, const std::string& auth,
                       const std::string& body = "", bool tick = false) {
    if (tick) now_ms_ += 1000;
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(2);
    c.set_read_timeout(10);
    c.set_url_encode(false);  // send the query exactly as written
    httplib::Headers h;
    if (!auth.empty()) h.emplace("Authorization", auth);
    if (method == "PUT") return c.Put(path.c_str(), h, body, "application/json");
    if (method == "POST") return c.Post(path.c_str(), h, body, "application/json");
    return c.Get(path.c_str(), h);
  }

  // A change through the API: one clock tick, then the request; its status must be `status`.
  void Change(const std::string& method, const std::string& path, const std::string& auth,
              const std::string& body, int status) {
    const auto r = Send(method, path, auth, body, /*tick=*/true);
    ASSERT_TRUE(r) << method << " " << path << ": " << httplib::to_string(r.error());
    ASSERT_EQ(r->status, status) << method << " " << path << ": " << r->body;
  }

  // A GET answered with `status`, its body parsed.
  json Get(const std::string& path, int status, const std::string& auth) {
    const auto r = Send("GET", path, auth);
    EXPECT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    if (!r) return json();
    EXPECT_EQ(r->status, status) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  // Steps an in-process ingester until the outbox is drained into MariaDB.
  void DrainWith(sync::Ingester& ingester) {
    for (int i = 0; i < 20'000; ++i) {
      if (ingester.RunOnce() == sync::Ingester::Step::kIdle && Drained()) return;
    }
    FAIL() << "the outbox did not drain: " << ingester.last_error();
  }

  bool Drained() {
    const core::Result<sync::Outbox::Backlog> b = outbox_->Measure();
    return b.ok() && b->pending == 0 && b->undelivered == 0;
  }

  sync::IngestConfig FastIngest() {
    sync::IngestConfig c;
    c.consumer = "history-http-test";
    c.batch_size = 64;
    c.block_ms = 20;
    c.retry_ms = 20;
    return c;
  }

  // Expects the 503 a history route gives while its database is down.
  void ExpectUnavailable(const std::string& path) {
    const auto r = Send("GET", path, viewer_);
    ASSERT_TRUE(r) << path << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 503) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "1") << path;
    const json body = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r->body;
    EXPECT_EQ(body["error"].value("code", ""), "unavailable") << r->body;
  }

  static MariaDbServer* mariadb_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<store::RedisPool> pool_;
  std::unique_ptr<store::RedisInventoryStore> store_;
  std::unique_ptr<sync::Outbox> outbox_;
  history::MySqlConfig mysql_;
  std::unique_ptr<history::MariaDbHistory> history_;
  std::unique_ptr<JwtAuth> auth_;
  prometheus::Registry registry_;
  std::unique_ptr<HttpMetrics> metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  std::thread serving_;
  std::atomic<std::int64_t> now_ms_{kT0};
  int port_ = 0;
  std::string admin_, service_, viewer_;
};

MariaDbServer* HistoryHttpTest::mariadb_ = nullptr;

// Stock set, reserved, confirmed, released and adjusted over HTTP comes back from the history and
// summary routes, after sync, event by event with exact values, newest first, paged and filtered.
TEST_F(HistoryHttpTest, ChangesOverHttpComeBackAsHistory) {
  Change("PUT", "/v1/stock/1", admin_, R"({"on_hand":10,"reason":"initial count"})", 201);
  Change("PUT", "/v1/stock/2", admin_, R"({"on_hand":5})", 201);
  Change("POST", "/v1/reservations", service_, R"({"order_id":"o-1","items":[{"sku":1,"qty":3}]})",
         201);
  Change("POST", "/v1/reservations", service_, R"({"order_id":"o-2","items":[{"sku":1,"qty":2}]})",
         201);
  const std::string o3 = R"({"order_id":"o-3","items":[{"sku":1,"qty":1},{"sku":2,"qty":4}]})";
  Change("POST", "/v1/reservations", service_, o3, 201);
  // An identical retry answers 200 and writes no event.
  ASSERT_EQ(Send("POST", "/v1/reservations", service_, o3)->status, 200);
  Change("POST", "/v1/reservations/o-1/confirm", service_, R"({"reason":"paid"})", 200);
  Change("POST", "/v1/reservations/o-2/release", service_, R"({"reason":"cancelled"})", 200);
  Change("POST", "/v1/stock/1/adjustments", admin_,
         R"({"delta":-2,"request_id":"count-1","reason":"damaged"})", 200);
  if (HasFatalFailure()) return;

  sync::Ingester ingester(*outbox_, mysql_, FastIngest(), RealNowMs);
  DrainWith(ingester);
  if (HasFatalFailure()) return;

  // SKU 1's ledger, newest first: the clock ticked once per change, SKU 2's set being the second.
  const std::vector<Event> ledger = {
      {"adjust", -2, 6, 4, "ops", "count-1", "damaged", "2026-11-23T18:46:55.123Z", 7},
      {"release", 2, 4, 6, "orders", "o-2", "cancelled", "2026-11-23T18:46:54.123Z", 6},
      {"confirm", 3, 4, 4, "orders", "o-1", "paid", "2026-11-23T18:46:53.123Z", 5},
      {"reserve", 1, 5, 4, "orders", "o-3", "", "2026-11-23T18:46:52.123Z", 4},
      {"reserve", 2, 7, 5, "orders", "o-2", "", "2026-11-23T18:46:51.123Z", 3},
      {"reserve", 3, 10, 7, "orders", "o-1", "", "2026-11-23T18:46:50.123Z", 2},
      {"set", 10, 0, 10, "ops", "", "initial count", "2026-11-23T18:46:48.123Z", 1},
  };

  json page = Get("/v1/stock/1/history", 200, viewer_);
  EXPECT_EQ(page.value("sku", 0), 1);
  EXPECT_EQ(page.value("page", 0), 1);
  EXPECT_EQ(page.value("page_size", 0), 50);
  EXPECT_EQ(page.value("total", 0), 7);
  ASSERT_EQ(page["items"].size(), ledger.size()) << page.dump();
  for (std::size_t i = 0; i < ledger.size(); ++i) ExpectEvent(page["items"][i], ledger[i]);
  // Event ids are unique and strictly descending (as stream ids "<ms>-<seq>").
  for (std::size_t i = 1; i < ledger.size(); ++i) {
    store::StreamId newer, older;
    ASSERT_TRUE(store::StreamId::Parse(page["items"][i - 1].value("event_id", ""), &newer));
    ASSERT_TRUE(store::StreamId::Parse(page["items"][i].value("event_id", ""), &older));
    EXPECT_GT(newer, older);
  }
  // The newest event's after is what the stock route says is available now.
  const json stock = Get("/v1/stock/1", 200, "");
  EXPECT_EQ(stock.value("available", -1), 4);
  EXPECT_EQ(stock.value("on_hand", -1), 5);
  EXPECT_EQ(stock.value("sold", -1), 3);
  EXPECT_EQ(stock.value("version", -1), 7);

  // Page 2 of size 2 is the third and fourth newest.
  page = Get("/v1/stock/1/history?page_size=2&page=2", 200, viewer_);
  EXPECT_EQ(page.value("total", 0), 7);
  EXPECT_EQ(page.value("page", 0), 2);
  EXPECT_EQ(page.value("page_size", 0), 2);
  ASSERT_EQ(page["items"].size(), 2u) << page.dump();
  ExpectEvent(page["items"][0], ledger[2]);
  ExpectEvent(page["items"][1], ledger[3]);
  // Past the end: the total, no items.
  page = Get("/v1/stock/1/history?page_size=2&page=5", 200, viewer_);
  EXPECT_EQ(page.value("total", 0), 7);
  EXPECT_TRUE(page["items"].empty()) << page.dump();

  page = Get("/v1/stock/1/history?op=reserve", 200, viewer_);
  EXPECT_EQ(page.value("total", 0), 3);
  ASSERT_EQ(page["items"].size(), 3u) << page.dump();
  for (std::size_t i = 0; i < 3; ++i) ExpectEvent(page["items"][i], ledger[3 + i]);
  page = Get("/v1/stock/1/history?op=reserve&page_size=1&page=3", 200, viewer_);
  EXPECT_EQ(page.value("total", 0), 3);
  ASSERT_EQ(page["items"].size(), 1u) << page.dump();
  ExpectEvent(page["items"][0], ledger[5]);

  // [from, to): from is included, to is not.
  page = Get("/v1/stock/1/history?from=2026-11-23T18:46:51.123Z&to=2026-11-23T18:46:53.123Z", 200,
             viewer_);
  EXPECT_EQ(page.value("total", 0), 2);
  ASSERT_EQ(page["items"].size(), 2u) << page.dump();
  ExpectEvent(page["items"][0], ledger[3]);
  ExpectEvent(page["items"][1], ledger[4]);

  // SKU 2 has its own two events; an unknown SKU has none.
  page = Get("/v1/stock/2/history", 200, viewer_);
  EXPECT_EQ(page.value("total", 0), 2);
  ASSERT_EQ(page["items"].size(), 2u) << page.dump();
  EXPECT_EQ(page["items"][0].value("op", ""), "reserve");
  EXPECT_EQ(page["items"][0].value("ref", ""), "o-3");
  EXPECT_EQ(page["items"][0].value("qty", 0), 4);
  page = Get("/v1/stock/999/history", 200, viewer_);
  EXPECT_EQ(page.value("total", -1), 0);
  EXPECT_TRUE(page["items"].empty()) << page.dump();

  // Per op, by op name: count, total, min, max, avg of qty.
  const json summary = Get("/v1/history/summary?skus=1", 200, viewer_);
  EXPECT_TRUE(summary["from"].is_null());
  EXPECT_TRUE(summary["to"].is_null());
  struct Row {
    const char* op;
    std::int64_t count, total, min, max;
    double avg;
  };
  const std::vector<Row> rows = {{"adjust", 1, -2, -2, -2, -2.0},
                                 {"confirm", 1, 3, 3, 3, 3.0},
                                 {"release", 1, 2, 2, 2, 2.0},
                                 {"reserve", 3, 6, 1, 3, 2.0},
                                 {"set", 1, 10, 10, 10, 10.0}};
  ASSERT_EQ(summary["items"].size(), rows.size()) << summary.dump();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json& got = summary["items"][i];
    SCOPED_TRACE(got.dump());
    EXPECT_EQ(got.value("sku", 0), 1);
    EXPECT_EQ(got.value("op", ""), rows[i].op);
    EXPECT_EQ(got.value("count", 0), rows[i].count);
    EXPECT_EQ(got.value("total", 0), rows[i].total);
    EXPECT_EQ(got.value("min", 0), rows[i].min);
    EXPECT_EQ(got.value("max", 0), rows[i].max);
    EXPECT_DOUBLE_EQ(got.value("avg", 0.0), rows[i].avg);
  }
  // A time range narrows the summary, and is echoed back.
  const json ranged =
      Get("/v1/history/summary?skus=1&from=2026-11-23T18:46:50.123Z&to=2026-11-23T18:46:53.123Z",
          200, viewer_);
  EXPECT_EQ(ranged.value("from", ""), "2026-11-23T18:46:50.123Z");
  EXPECT_EQ(ranged.value("to", ""), "2026-11-23T18:46:53.123Z");
  ASSERT_EQ(ranged["items"].size(), 1u) << ranged.dump();
  EXPECT_EQ(ranged["items"][0].value("op", ""), "reserve");
  EXPECT_EQ(ranged["items"][0].value("count", 0), 3);
  EXPECT_EQ(ranged["items"][0].value("total", 0), 6);
}

// MariaDB dead: the history routes answer 503 unavailable with Retry-After, reservations still
// answer 201 and /readyz 503; MariaDB back: the history serves again and, once drained, holds the
// reservation made during the outage.
TEST_F(HistoryHttpTest, DatabaseOutageAndRecovery) {
  Change("PUT", "/v1/stock/1", admin_, R"({"on_hand":10})", 201);
  Change("POST", "/v1/reservations", service_,
         R"({"order_id":"before","items":[{"sku":1,"qty":2}]})", 201);
  if (HasFatalFailure()) return;
  sync::Ingester ingester(*outbox_, mysql_, FastIngest(), RealNowMs);
  DrainWith(ingester);
  if (HasFatalFailure()) return;
  EXPECT_EQ(Get("/v1/stock/1/history", 200, viewer_).value("total", 0), 2);
  EXPECT_EQ(Get("/readyz", 200, "").value("status", ""), "ready");

  mariadb_->Kill();
  // Twice each: the first meets a pooled connection the crash broke, later ones the pool's
  // remembered failure or a refused connect.
  for (int i = 0; i < 2; ++i) {
    ExpectUnavailable("/v1/stock/1/history");
    ExpectUnavailable("/v1/history/summary?skus=1");
  }
  Change("POST", "/v1/reservations", service_,
         R"({"order_id":"during","items":[{"sku":1,"qty":3}]})", 201);
  EXPECT_EQ(Get("/v1/stock/1", 200, "").value("available", -1), 5);
  {
    const auto r = Send("GET", "/readyz", "");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  }
  EXPECT_EQ(Get("/healthz", 200, "").value("status", ""), "ok");
  // The ingester cannot write; the event stays in the stream.
  EXPECT_NE(ingester.RunOnce(), sync::Ingester::Step::kWrote);
  EXPECT_FALSE(Drained());

  ASSERT_TRUE(mariadb_->Restart());
  int status = 0;
  for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
    const auto r = Send("GET", "/v1/stock/1/history", viewer_);
    status = r ? r->status : -1;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status, 200);
  EXPECT_EQ(Get("/readyz", 200, "").value("status", ""), "ready");

  DrainWith(ingester);
  if (HasFatalFailure()) return;
  const json page = Get("/v1/stock/1/history", 200, viewer_);
  EXPECT_EQ(page.value("total", 0), 3);
  ASSERT_EQ(page["items"].size(), 3u) << page.dump();
  ExpectEvent(page["items"][0],
              {"reserve", 3, 8, 5, "orders", "during", "", "2026-11-23T18:46:50.123Z", 3});
  ExpectEvent(page["items"][1],
              {"reserve", 2, 10, 8, "orders", "before", "", "2026-11-23T18:46:49.123Z", 2});
  const json summary = Get("/v1/history/summary?skus=1", 200, viewer_);
  ASSERT_EQ(summary["items"].size(), 2u) << summary.dump();
  EXPECT_EQ(summary["items"][0].value("op", ""), "reserve");
  EXPECT_EQ(summary["items"][0].value("count", 0), 2);
  EXPECT_EQ(summary["items"][0].value("total", 0), 5);
}

// Malformed history queries are 400 invalid_request naming the field, and the history routes
// need a token: none, or a forged one, is 401.
TEST_F(HistoryHttpTest, BadQueriesAndMissingTokens) {
  struct Case {
    const char* path;
    const char* field;
  };
  const Case cases[] = {
      {"/v1/stock/1/history?page_size=0", "page_size"},
      {"/v1/stock/1/history?page_size=1001", "page_size"},
      {"/v1/stock/1/history?page_size=ten", "page_size"},
      {"/v1/stock/1/history?page=0", "page"},
      {"/v1/stock/1/history?page=-1", "page"},
      {"/v1/stock/1/history?from=garbage", "from"},
      {"/v1/stock/1/history?to=2026-02-30T00:00:00Z", "to"},
      {"/v1/stock/1/history?from=2026-11-23T18:46:50Z&to=2026-11-23T18:46:49Z", "to"},
      {"/v1/stock/1/history?op=sell", "op"},
      {"/v1/stock/0/history", "sku"},
      {"/v1/stock/abc/history", "sku"},
      {"/v1/history/summary?from=garbage", "from"},
      {"/v1/history/summary?skus=1,x", "skus"},
      {"/v1/history/summary?skus=1,1", "skus"},
  };
  for (const Case& c : cases) {
    const auto r = Send("GET", c.path, viewer_);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, 400) << c.path << ": " << r->body;
    const json body = json::parse(r->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << c.path << ": " << r->body;
    EXPECT_EQ(body["error"].value("code", ""), "invalid_request") << c.path;
    EXPECT_EQ(body["error"].value("field", ""), c.field) << c.path << ": " << r->body;
  }

  const std::string forged = "Bearer " + JwtAuth("another-secret-another-secret-another")
                                             .Mint({"analyst", Role::kViewer, kT0 / 1000 + 3600})
                                             .value();
  for (const char* path : {"/v1/stock/1/history", "/v1/history/summary"}) {
    for (const std::string& auth : {std::string(), forged}) {
      const auto r = Send("GET", path, auth);
      ASSERT_TRUE(r) << path;
      EXPECT_EQ(r->status, 401) << path << ": " << r->body;
      EXPECT_EQ(json::parse(r->body, nullptr, false)["error"].value("code", ""), "unauthenticated")
          << path << ": " << r->body;
      EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u) << path;
    }
  }
  // The token is checked before the query: a malformed query without one is still a 401.
  const auto r = Send("GET", "/v1/stock/1/history?page_size=0", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
}

}  // namespace
}  // namespace stockgate::server
