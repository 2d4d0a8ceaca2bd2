// The HTTP API without sockets: every route and error code, the role x route matrix, bad input
// (400, nothing changes), rate limits (429 + Retry-After) and a lost store (fast 503), against the
// reference model behind the store interface; the history routes against a fake HistoryReader that
// records the queries it gets and answers canned data.
#include "origin/server/api.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "origin/history/history_reader.h"
#include "tests/support/model_store.h"

namespace stockgate::server {
namespace {

using nlohmann::json;

// A HistoryReader that records every query and answers what the test put in it.
class FakeHistory final : public history::HistoryReader {
 public:
  history::HistoryPage History(const history::HistoryQuery& query) override {
    history_queries.push_back(query);
    return page;
  }
  history::SummaryResult Summary(const history::SummaryQuery& query) override {
    summary_queries.push_back(query);
    return summary;
  }
  bool Ping() override {
    ++pings;
    return reachable;
  }
  history::ArchivedReservation Reservation(const std::string& order_id) override {
    ++reservation_lookups;
    history::ArchivedReservation none;
    none.code = reachable ? core::Code::kNotFound : core::Code::kUnavailable;
    none.message = "gone";
    if (reachable) {
      none.message = order_id;
      none.message += " not found";
    }
    const auto it = archived.find(order_id);
    return reachable && it != archived.end() ? it->second : none;
  }
  std::size_t calls() const { return history_queries.size() + summary_queries.size(); }

  history::HistoryPage page;
  history::SummaryResult summary;
  bool reachable = true;
  std::map<std::string, history::ArchivedReservation> archived;
  int reservation_lookups = 0;
  std::vector<history::HistoryQuery> history_queries;
  std::vector<history::SummaryQuery> summary_queries;
  int pings = 0;
};

constexpr std::int64_t kT0 = 1'800'000'000'000;
const char* const kSecret = "test-secret-test-secret-test-secret!";

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

json Body(const HttpResponse& r) { return json::parse(r.body, nullptr, false); }

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : auth_(kSecret) { Make(ApiConfig{}); }

  void Make(ApiConfig config) { Make(config, &history_); }
  void Make(ApiConfig config, history::HistoryReader* history) {
    api_ = std::make_unique<Api>(
        store_, history, auth_, config, [this] { return ready_; },
        [] { return std::string("m 1\n"); });
  }

  std::string Token(Role role, const std::string& sub = "") {
    return "Bearer " +
           auth_.Mint({sub.empty() ? std::string(RoleName(role)) : sub, role, kT0 / 1000 + 3600})
               .value();
  }

  // A std::string, not a literal: assigning the literal trips GCC 12's false -Wrestrict here.
  inline static const std::string kLoopback = "127.0.0.1";

  HttpResponse Call(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& authorization = "",
                    std::map<std::string, std::string> query = {}) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.authorization = authorization;
    r.query = std::move(query);
    r.remote_addr = kLoopback;
    return api_->Handle(r, now_);
  }

  HttpResponse Admin(const std::string& method, const std::string& path, const std::string& body) {
    return Call(method, path, body, Token(Role::kAdmin));
  }
  HttpResponse Service(const std::string& method, const std::string& path,
                       const std::string& body = "") {
    return Call(method, path, body, Token(Role::kService));
  }

  void Stock(std::int64_t sku, std::int64_t on_hand) {
    ASSERT_LT(Admin("PUT", "/v1/stock/" + std::to_string(sku),
                    R"({"on_hand":)" + std::to_string(on_hand) + "}")
                  .status,
              300);
  }

  HttpResponse Viewer(const std::string& path, std::map<std::string, std::string> query = {}) {
    return Call("GET", path, "", Token(Role::kViewer), std::move(query));
  }

  testing::ModelStore store_;
  FakeHistory history_;
  JwtAuth auth_;
  bool ready_ = true;
  std::unique_ptr<Api> api_;
  std::int64_t now_ = kT0;
};

// The routing table and /openapi.json list the same operations, with the same role, the same
// role when stock reads are private, and the same rate-limit group; in both directions.
TEST(RouteTableTest, MatchesTheOpenApiDocument) {
  std::ifstream file(STOCKGATE_OPENAPI_JSON);
  std::stringstream text;
  text << file.rdbuf();
  const json spec = json::parse(text.str(), nullptr, false);
  ASSERT_TRUE(spec.is_object()) << STOCKGATE_OPENAPI_JSON;

  std::map<std::string, json> documented;  // "GET /v1/stock" -> the operation
  for (const auto& [path, item] : spec["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented[upper + " " + path] = op;
    }
  }
  std::set<std::string> routed;
  for (const RouteInfo& route : Api::Routes()) {
    const std::string name = std::string(route.method) + " " + std::string(route.pattern);
    EXPECT_TRUE(routed.insert(name).second) << "routed twice: " << name;
    if (!route.in_openapi) {
      EXPECT_FALSE(documented.contains(name)) << name;
      continue;
    }
    ASSERT_TRUE(documented.contains(name)) << "routed, not in openapi.json: " << name;
    const json& op = documented[name];
    EXPECT_EQ(op.value("x-stockgate-role", ""), AccessName(route.access)) << name;
    EXPECT_EQ(op.value("x-stockgate-role-when-reads-private", ""),
              route.access == Access::kStockReads ? "viewer" : "")
        << name;
    EXPECT_EQ(op.value("x-stockgate-rate-limit", ""), RateGroupName(route.group)) << name;
    // A rate-limited operation can answer 429, and every operation 405 to other methods.
    EXPECT_EQ(op["responses"].contains("429"), route.group != RateGroup::kNone) << name;
    EXPECT_TRUE(op["responses"].contains("405")) << name;
  }
  for (const auto& [name, op] : documented) {
    EXPECT_TRUE(routed.contains(name)) << "in openapi.json, not routed: " << name;
  }
}

// Every path answers 405 with its methods in Allow to a method it does not serve, before any
// token is looked at; an unknown path is 404.
TEST_F(ApiTest, EveryRouteRefusesOtherMethods) {
  std::map<std::string, std::set<std::string>> methods;  // concrete path -> methods
  for (const RouteInfo& route : Api::Routes()) {
    std::string path(route.pattern);
    for (const auto& [param, value] : {std::pair<std::string, std::string>{"{sku}", "1"},
                                       {"{order_id}", "o-1"},
                                       {"{asset}", "swagger-ui.css"}}) {
      if (const auto at = path.find(param); at != std::string::npos) {
        path.replace(at, param.size(), value);
      }
    }
    methods[path].insert(std::string(route.method));
  }
  for (const auto& [path, allowed] : methods) {
    for (const std::string method : {"GET", "PUT", "POST", "DELETE", "PATCH"}) {
      if (allowed.contains(method)) continue;
      const HttpResponse r = Call(method, path, "{}");
      EXPECT_EQ(r.status, 405) << method << " " << path;
      EXPECT_EQ(Body(r)["error"]["code"], "invalid_request") << method << " " << path;
      std::string allow;
      for (const std::string m : {"GET", "PUT", "POST"}) {
        if (allowed.contains(m)) allow += (allow.empty() ? "" : ", ") + m;
      }
      EXPECT_EQ(Header(r, "Allow"), allow) << method << " " << path;
    }
  }
  const HttpResponse r = Call("GET", "/v1/nothing", "");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.route, "unmatched");
  // The probes and /metrics answer HEAD as GET (load balancers probe with it); nothing else does.
  for (const std::string path : {"/healthz", "/readyz", "/metrics"}) {
    EXPECT_EQ(Call("HEAD", path, "").status, 200) << path;
  }
  EXPECT_EQ(Call("HEAD", "/v1/stock/1", "").status, 405);
}

// PUT creates (201) then sets (200); GET answers the documented stock shape.
// The reservation answer, written without nlohmann for speed, is byte for byte what nlohmann's
// dump of the same object gives (keys sorted, strings escaped alike).
TEST(ReservationBodyTest, SameBytesAsNlohmann) {
  core::ReservationView r;
  r.order_id = "web-1:a.b_c";
  r.status = core::ReservationStatus::kConfirmed;
  r.items = {{42, 3}, {9'007'199'254'740'991, 1'000'000}};
  r.ttl_seconds = 86'400;
  r.expires_at_ms = 1'795'983'954'283;
  r.created_at_ms = 1'795'983'954'000;
  r.updated_at_ms = 1'795'983'999'999;
  const auto expected = [](const core::ReservationView& v) {
    json items = json::array();
    for (const auto& i : v.items) items.push_back({{"sku", i.sku}, {"qty", i.qty}});
    json out = {{"order_id", v.order_id},
                {"status", core::ReservationStatusName(v.status)},
                {"items", items},
                {"ttl_seconds", v.ttl_seconds},
                {"expires_at", FormatTime(v.expires_at_ms)},
                {"created_at", FormatTime(v.created_at_ms)},
                {"updated_at", FormatTime(v.updated_at_ms)}};
    if (!v.customer_id.empty()) out["customer_id"] = v.customer_id;
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  EXPECT_EQ(ReservationBody(r), expected(r));
  r.customer_id = "c-7";
  EXPECT_EQ(ReservationBody(r), expected(r));
  for (const char* odd :
       {"quote\"d", "back\\slash", "tab\t", "\x01ctl", "caf\xc3\xa9", "bad\xff", "del\x7f"}) {
    r.order_id = odd;
    r.customer_id = odd;
    EXPECT_EQ(ReservationBody(r), expected(r)) << odd;
  }
  r.items.clear();
  EXPECT_EQ(ReservationBody(r), expected(r));
}

TEST_F(ApiTest, SetAndGetStock) {
  HttpResponse r = Admin("PUT", "/v1/stock/42", R"({"on_hand":10,"reason":"initial count"})");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.route, "/v1/stock/{sku}");
  r = Admin("PUT", "/v1/stock/42", R"({"on_hand":12})");
  EXPECT_EQ(r.status, 200);
  r = Call("GET", "/v1/stock/42", "");
  ASSERT_EQ(r.status, 200);
  const json b = Body(r);
  EXPECT_EQ(b["sku"], 42);
  EXPECT_EQ(b["on_hand"], 12);
  EXPECT_EQ(b["reserved"], 0);
  EXPECT_EQ(b["available"], 12);
  EXPECT_EQ(b["sold"], 0);
  EXPECT_EQ(b["version"], 2);
  EXPECT_EQ(b["updated_at"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(Call("GET", "/v1/stock/43", "").status, 404);
  EXPECT_EQ(Body(Call("GET", "/v1/stock/43", ""))["error"]["code"], "unknown_sku");
}

// An order the store does not know (its record left Redis after retention) is answered from the
// history, marked archived; a buyer sees only its own; an order in neither is 404; a history
// that cannot answer is 503, since whether the order exists is then unknown; without a history
// the 404 says where finished orders go.
TEST_F(ApiTest, ArchivedReservationsAnswerFromTheHistory) {
  history::ArchivedReservation a;
  a.record = {.order_id = "old-1",
              .status = "confirmed",
              .items = "7:2,9:1",
              .customer_id = "alice",
              .ttl_seconds = 900,
              .expires_at_ms = kT0 - 1000,
              .created_at_ms = kT0 - 2000,
              .updated_at_ms = kT0 - 1500};
  history_.archived["old-1"] = a;
  // A row the history cannot read back (malformed items) is not shown.
  history::ArchivedReservation broken = a;
  broken.record.items = "7:";
  history_.archived["old-2"] = broken;
  EXPECT_EQ(Service("GET", "/v1/reservations/old-2").status, 404);
  HttpResponse r = Service("GET", "/v1/reservations/old-1");
  ASSERT_EQ(r.status, 200) << r.body;
  json b = Body(r);
  EXPECT_EQ(b["archived"], true);
  EXPECT_EQ(b["status"], "confirmed");
  EXPECT_EQ(b["items"], json::parse(R"([{"qty":2,"sku":7},{"qty":1,"sku":9}])"));
  EXPECT_EQ(b["customer_id"], "alice");
  EXPECT_EQ(Call("GET", "/v1/reservations/old-1", "", Token(Role::kBuyer, "alice")).status, 200);
  EXPECT_EQ(Call("GET", "/v1/reservations/old-1", "", Token(Role::kBuyer, "bob")).status, 404);
  EXPECT_EQ(Service("GET", "/v1/reservations/never").status, 404);
  history_.reachable = false;
  EXPECT_EQ(Service("GET", "/v1/reservations/old-1").status, 503);
  history_.reachable = true;
  // An order the store knows is never looked up in the history.
  Stock(1, 5);
  const int lookups = history_.reservation_lookups;
  ASSERT_EQ(
      Service("POST", "/v1/reservations", R"({"order_id":"new-1","items":[{"sku":1,"qty":1}]})")
          .status,
      201);
  EXPECT_EQ(Service("GET", "/v1/reservations/new-1").status, 200);
  EXPECT_EQ(history_.reservation_lookups, lookups);
  Make(ApiConfig{}, nullptr);
  r = Service("GET", "/v1/reservations/old-1");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("retention"), std::string::npos);
}

// A SKU created without a threshold gets the configured one; reads say when it is low; a bad
// threshold is refused with its field and changes nothing.
TEST_F(ApiTest, LowStockThreshold) {
  ApiConfig config;
  config.low_stock_threshold = 5;
  Make(config);
  ASSERT_EQ(Admin("PUT", "/v1/stock/1", R"({"on_hand":6})").status, 201);
  json b = Body(Call("GET", "/v1/stock/1", ""));
  EXPECT_EQ(b["low_stock_threshold"], 5);
  EXPECT_EQ(b["low_stock"], false);
  ASSERT_EQ(Admin("PUT", "/v1/stock/1", R"({"on_hand":5})").status, 200);
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["low_stock"], true);
  ASSERT_EQ(Admin("PUT", "/v1/stock/1", R"({"on_hand":5,"low_stock_threshold":0})").status, 200);
  b = Body(Call("GET", "/v1/stock/1", ""));
  EXPECT_EQ(b["low_stock_threshold"], 0);
  EXPECT_EQ(b["low_stock"], false);
  EXPECT_EQ(b["version"], 3);
  const HttpResponse bad = Admin("PUT", "/v1/stock/1", R"({"on_hand":9,"low_stock_threshold":-2})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad)["error"]["field"], "/low_stock_threshold");
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["on_hand"], 5);
}

// The reservation life cycle through the API: 201, identical retry 200, confirm, return; and a
// release of another order gives its units back.
TEST_F(ApiTest, ReservationLifeCycle) {
  Stock(1, 5);
  const std::string body = R"({"order_id":"ord-1","items":[{"sku":1,"qty":2}],"ttl_seconds":60})";
  HttpResponse r = Service("POST", "/v1/reservations", body);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Header(r, "Location"), "/v1/reservations/ord-1");
  json b = Body(r);
  EXPECT_EQ(b["status"], "reserved");
  EXPECT_EQ(b["items"], json::parse(R"([{"sku":1,"qty":2}])"));
  EXPECT_EQ(b["expires_at"], "2027-01-15T08:01:00.000Z");
  EXPECT_EQ(Service("POST", "/v1/reservations", body).status, 200);
  EXPECT_EQ(Body(Service("GET", "/v1/reservations/ord-1"))["status"], "reserved");
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["available"], 3);
  r = Service("POST", "/v1/reservations/ord-1/confirm");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["status"], "confirmed");
  r = Service("POST", "/v1/reservations/ord-1/return", R"({"reason":"refund"})");
  EXPECT_EQ(Body(r)["status"], "returned");
  ASSERT_EQ(
      Service("POST", "/v1/reservations", R"({"order_id":"ord-2","items":[{"sku":1,"qty":5}]})")
          .status,
      201);
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["available"], 0);
  r = Service("POST", "/v1/reservations/ord-2/release", "");
  EXPECT_EQ(Body(r)["status"], "released");
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["available"], 5);
}

// Every error code the API can give, with its status, shape and details.
TEST_F(ApiTest, ErrorCodes) {
  Stock(1, 2);
  Admin("PUT", "/v1/stock/2", R"({"on_hand":10,"per_customer_limit":1})");
  auto code = [](const HttpResponse& r) { return Body(r)["error"]["code"].get<std::string>(); };

  HttpResponse r = Service("POST", "/v1/reservations", R"({"order_id":"a","items":[]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code(r), "invalid_request");
  EXPECT_EQ(Body(r)["error"]["field"], "/items");

  EXPECT_EQ(code(Call("POST", "/v1/reservations", "{}")), "unauthenticated");
  EXPECT_EQ(Call("POST", "/v1/reservations", "{}").status, 401);
  EXPECT_EQ(code(Call("PUT", "/v1/stock/1", "{}", Token(Role::kService))), "forbidden");
  EXPECT_EQ(Call("PUT", "/v1/stock/1", "{}", Token(Role::kService)).status, 403);
  EXPECT_EQ(code(Service("GET", "/v1/reservations/nope")), "not_found");
  EXPECT_EQ(
      code(Service("POST", "/v1/reservations", R"({"order_id":"u","items":[{"sku":99,"qty":1}]})")),
      "unknown_sku");

  r = Service("POST", "/v1/reservations", R"({"order_id":"big","items":[{"sku":1,"qty":3}]})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(code(r), "insufficient_stock");
  EXPECT_EQ(Body(r)["error"]["fail_items"],
            json::parse(R"([{"sku":1,"requested":3,"available":2}])"));

  ASSERT_EQ(
      Service("POST", "/v1/reservations", R"({"order_id":"k","items":[{"sku":1,"qty":1}]})").status,
      201);
  EXPECT_EQ(
      code(Service("POST", "/v1/reservations", R"({"order_id":"k","items":[{"sku":1,"qty":2}]})")),
      "idempotency_conflict");
  Service("POST", "/v1/reservations/k/release");
  EXPECT_EQ(code(Service("POST", "/v1/reservations/k/confirm")), "invalid_state");

  ASSERT_EQ(Service("POST", "/v1/reservations",
                    R"({"order_id":"c1","items":[{"sku":2,"qty":1}],"customer_id":"alice"})")
                .status,
            201);
  EXPECT_EQ(code(Service("POST", "/v1/reservations",
                         R"({"order_id":"c2","items":[{"sku":2,"qty":1}],"customer_id":"alice"})")),
            "customer_limit_exceeded");

  Service("POST", "/v1/reservations",
          R"({"order_id":"short","items":[{"sku":1,"qty":1}],"ttl_seconds":1})");
  now_ += 1'000;
  r = Service("POST", "/v1/reservations/short/confirm");
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(code(r), "reservation_expired");

  r = Service("POST", "/v1/reservations", std::string(70'000, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(code(r), "payload_too_large");

  EXPECT_EQ(Call("GET", "/v1/nothing", "").status, 404);
  r = Call("DELETE", "/v1/stock/1", "", Token(Role::kAdmin));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, PUT");
}

// Role x route: admin may call everything, service the reservation routes and reads, viewer only
// reads (history included); no token is refused on every protected route.
TEST_F(ApiTest, RoleRouteMatrix) {
  Stock(1, 1'000);
  Service("POST", "/v1/reservations", R"({"order_id":"m","items":[{"sku":1,"qty":1}]})");
  struct Route {
    const char* method;
    const char* path;
    const char* body;
    const char* needs;  // "admin", "service", "buyer", "viewer" or "public"
  };
  const std::vector<Route> routes = {
      {"PUT", "/v1/stock/1", R"({"on_hand":1000})", "admin"},
      {"POST", "/v1/stock/1/adjustments", R"({"delta":1,"request_id":"x"})", "admin"},
      {"GET", "/v1/stock/1", "", "public"},
      {"GET", "/v1/stock", "", "public"},
      {"POST", "/v1/reservations", R"({"order_id":"m","items":[{"sku":1,"qty":1}]})", "buyer"},
      {"GET", "/v1/reservations/m", "", "buyer"},
      {"POST", "/v1/reservations/m/extend", R"({"ttl_seconds":60})", "service"},
      {"POST", "/v1/reservations/m/confirm", "", "service"},
      {"POST", "/v1/reservations/m/return", "", "service"},
      {"POST", "/v1/reservations/m/release", "", "buyer"},
      {"GET", "/v1/snapshot", "", "public"},
      {"GET", "/v1/stock/1/history", "", "viewer"},
      {"GET", "/v1/history/summary", "", "viewer"},
  };
  for (const Route& route : routes) {
    for (const std::string role : {"none", "viewer", "service", "admin", "buyer"}) {
      SCOPED_TRACE(std::string(route.method) + " " + route.path + " as " + role);
      std::string auth;
      if (role != "none") auth = Token(*RoleFromName(role));
      std::map<std::string, std::string> query;
      if (std::string(route.path) == "/v1/stock") query.try_emplace("skus", "1");
      const HttpResponse r = Call(route.method, route.path, route.body, auth, query);
      const std::string needs = route.needs;
      const bool allowed = needs == "public" || role == "admin" ||
                           (needs == "service" && role == "service") ||
                           (needs == "buyer" && (role == "service" || role == "buyer")) ||
                           (needs == "viewer" && role != "none" && role != "buyer");
      if (allowed) {
        EXPECT_NE(r.status, 401) << r.body;
        EXPECT_NE(r.status, 403) << r.body;
      } else if (std::string(role) == "none") {
        EXPECT_EQ(r.status, 401) << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << r.body;
      }
    }
  }
}

// A buyer acts for itself: it reserves with its sub as the customer (another customer_id is
// 403, and per-customer limits count against the sub), reads and releases only its own
// reservations (anyone else's answers 404, as an unknown one does), and may not confirm,
// extend or return.
TEST_F(ApiTest, BuyerActsForItself) {
  ASSERT_LT(Admin("PUT", "/v1/stock/1", R"({"on_hand":10,"per_customer_limit":2})").status, 300);
  const std::string alice = Token(Role::kBuyer, "alice");
  const std::string bob = Token(Role::kBuyer, "bob");
  const auto hold = [](const std::string& order, const std::string& extra = "") {
    return R"({"order_id":")" + order + R"(","items":[{"sku":1,"qty":1}])" + extra + "}";
  };
  HttpResponse r = Call("POST", "/v1/reservations", hold("a1"), alice);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["customer_id"], "alice");
  r = Call("POST", "/v1/reservations", hold("a1"), alice);
  EXPECT_EQ(r.status, 200) << r.body;  // an identical retry
  r = Call("POST", "/v1/reservations", hold("a2", R"(,"customer_id":"alice")"), alice);
  EXPECT_EQ(r.status, 201) << r.body;

  r = Call("POST", "/v1/reservations", hold("b1", R"(,"customer_id":"bob")"), alice);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "forbidden");
  r = Call("POST", "/v1/reservations", hold("a3"), alice);  // the third unit for alice
  EXPECT_EQ(Body(r)["error"]["code"], "customer_limit_exceeded") << r.body;
  r = Call("POST", "/v1/reservations", hold("a1"), bob);  // alice's order id, bob's request
  EXPECT_EQ(Body(r)["error"]["code"], "idempotency_conflict") << r.body;
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["reserved"], 2);

  EXPECT_EQ(Call("GET", "/v1/reservations/a1", "", alice).status, 200);
  const HttpResponse hidden = Call("GET", "/v1/reservations/a1", "", bob);
  const HttpResponse unknown = Call("GET", "/v1/reservations/nope", "", bob);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(Body(hidden)["error"]["code"], Body(unknown)["error"]["code"]);
  EXPECT_EQ(Call("POST", "/v1/reservations/a1/release", "", bob).status, 404);
  EXPECT_EQ(Body(Service("GET", "/v1/reservations/a1"))["status"], "reserved");
  for (const char* action : {"confirm", "return"}) {
    EXPECT_EQ(Call("POST", std::string("/v1/reservations/a1/") + action, "", alice).status, 403);
  }
  EXPECT_EQ(Call("POST", "/v1/reservations/a1/extend", R"({"ttl_seconds":60})", alice).status, 403);
  r = Call("POST", "/v1/reservations/a1/release", R"({"reason":"changed my mind"})", alice);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["status"], "released");
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["reserved"], 1);

  // A reservation the shop made for a customer is that customer's; others cannot see it.
  ASSERT_EQ(Service("POST", "/v1/reservations", hold("c1", R"(,"customer_id":"carol")")).status,
            201);
  EXPECT_EQ(Call("GET", "/v1/reservations/c1", "", alice).status, 404);
  EXPECT_EQ(Call("GET", "/v1/reservations/c1", "", Token(Role::kBuyer, "carol")).status, 200);

  // A buyer whose sub cannot be a customer_id cannot reserve.
  r = Call("POST", "/v1/reservations", hold("x1"), Token(Role::kBuyer, "alice smith"));
  EXPECT_EQ(r.status, 403) << r.body;
  // Buyers read stock as anyone may, and nothing of the shop's.
  EXPECT_EQ(Call("GET", "/v1/stock/1", "", alice).status, 200);
  EXPECT_EQ(Call("GET", "/v1/stock/1/history", "", alice).status, 403);
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", alice).status, 403);
}

// Bad tokens are refused with 401, on public routes too: a token is never silently ignored.
TEST_F(ApiTest, BadTokens) {
  Stock(1, 1);
  const std::string expired = "Bearer " + auth_.Mint({"old", Role::kAdmin, kT0 / 1000 - 1}).value();
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", expired).status, 401);
  EXPECT_EQ(Call("GET", "/v1/stock/1", "", expired).status, 401);
  JwtAuth other("another-secret-another-secret-another");
  const std::string forged =
      "Bearer " + other.Mint({"mallory", Role::kAdmin, kT0 / 1000 + 60}).value();
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", forged).status, 401);
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", "Basic abc").status, 401);
  EXPECT_EQ(Call("GET", "/v1/stock/1", "").status, 200);
}

// Each malformed body or parameter is a 400 that names the field, and changes nothing.
TEST_F(ApiTest, BadInputChangesNothing) {
  Stock(1, 5);
  ASSERT_EQ(
      Service("POST", "/v1/reservations", R"({"order_id":"o","items":[{"sku":1,"qty":1}]})").status,
      201);
  const auto ledger_before = store_.model().Ledger().size();
  struct Bad {
    std::string method, path, body, field;
    bool admin;
  };
  const std::vector<Bad> cases = {
      {"PUT", "/v1/stock/1", R"({"on_hand":-1})", "/on_hand", true},
      {"PUT", "/v1/stock/0", R"({"on_hand":1})", "sku", true},
      {"PUT", "/v1/stock/abc", R"({"on_hand":1})", "sku", true},
      {"PUT", "/v1/stock/1", R"({"on_hand":1,"extra":true})", "/extra", true},
      {"PUT", "/v1/stock/1", "[]", "", true},
      {"POST", "/v1/stock/1/adjustments", R"({"delta":0,"request_id":"r"})", "/delta", true},
      {"POST", "/v1/stock/1/adjustments", R"({"delta":5})", "/request_id", true},
      {"POST", "/v1/reservations", R"({"order_id":"n","items":[{"sku":1,"qty":1.5}]})",
       "/items/0/qty", false},
      {"POST", "/v1/reservations", "{", "", false},
      {"POST", "/v1/reservations", "", "", false},
      {"POST", "/v1/reservations/o/extend", R"({"ttl_seconds":0})", "/ttl_seconds", false},
      {"POST", "/v1/reservations/o/extend", "", "", false},
      {"POST", "/v1/reservations/o/confirm", R"({"why":"x"})", "/why", false},
      {"POST", "/v1/reservations/o%20x/confirm", "", "order_id", false},
      {"GET", "/v1/reservations/" + std::string(65, 'a'), "", "order_id", false},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body);
    const HttpResponse r =
        c.admin ? Admin(c.method, c.path, c.body) : Service(c.method, c.path, c.body);
    EXPECT_EQ(r.status, 400) << r.body;
    const json b = Body(r);
    EXPECT_EQ(b["error"]["code"], "invalid_request");
    EXPECT_EQ(b["error"].value("field", ""), c.field);
  }
  EXPECT_EQ(store_.model().Ledger().size(), ledger_before);
  EXPECT_EQ(Body(Call("GET", "/v1/stock/1", ""))["available"], 4);
  EXPECT_EQ(Body(Service("GET", "/v1/reservations/o"))["status"], "reserved");
  EXPECT_EQ(Call("GET", "/v1/stock", "", "", {{"skus", "1,x"}}).status, 400);
  EXPECT_EQ(Call("GET", "/v1/snapshot", "", "", {{"since", "-1"}}).status, 400);
  EXPECT_EQ(Call("GET", "/v1/snapshot", "", "", {{"since", "1e3"}}).status, 400);
  for (const char* since : {"", "1.", "1..2", "a"}) {
    EXPECT_EQ(Call("GET", "/v1/snapshot", "", "", {{"since", since}}).status, 400) << since;
  }
}

// Batch reads answer found SKUs in request order and list the unknown ones.
TEST_F(ApiTest, BatchRead) {
  Stock(3, 30);
  Stock(1, 10);
  const json b = Body(Call("GET", "/v1/stock", "", "", {{"skus", "3,2,1"}}));
  ASSERT_EQ(b["items"].size(), 2u);
  EXPECT_EQ(b["items"][0]["sku"], 3);
  EXPECT_EQ(b["items"][1]["sku"], 1);
  EXPECT_EQ(b["unknown_skus"], json::parse("[2]"));
  EXPECT_EQ(Call("GET", "/v1/stock", "").status, 400);
}

// The snapshot lists available units per SKU and a version and cursor to ask for deltas with.
// (Behind this API is the model store, whose deltas list everything; the Redis store's deltas
// per partition are tested in redis_inventory_store_test.cc.)
TEST_F(ApiTest, Snapshot) {
  Stock(1, 7);
  Service("POST", "/v1/reservations", R"({"order_id":"s","items":[{"sku":1,"qty":2}]})");
  const json b = Body(Call("GET", "/v1/snapshot", ""));
  EXPECT_EQ(b["items"], json::parse(R"([{"sku":1,"available":5}])"));
  const auto v = b["version"].get<std::int64_t>();
  EXPECT_EQ(b["cursor"], std::to_string(v)) << "one partition: the cursor is the version";
  EXPECT_EQ(Body(Call("GET", "/v1/snapshot", "", "", {{"since", std::to_string(v)}}))["items"],
            json::array());
  EXPECT_EQ(Body(Call("GET", "/v1/snapshot", "", "",
                      {{"since", b["cursor"].get<std::string>()}}))["items"],
            json::array());
  // A cursor of another length than the store's partitions: everything.
  EXPECT_EQ(Body(Call("GET", "/v1/snapshot", "", "", {{"since", "1.2.3"}}))["items"], b["items"]);
}

// With the store unreachable every data route answers 503 with Retry-After, /readyz says so, and
// /healthz (liveness) still answers 200.
TEST_F(ApiTest, StoreDownMeansFast503) {
  Stock(1, 5);
  store_.set_unavailable(true);
  ready_ = false;
  for (const HttpResponse& r :
       {Call("GET", "/v1/stock/1", ""), Call("GET", "/v1/snapshot", ""),
        Service("POST", "/v1/reservations", R"({"order_id":"d","items":[{"sku":1,"qty":1}]})"),
        Service("POST", "/v1/reservations/d/confirm"),
        Admin("PUT", "/v1/stock/1", R"({"on_hand":1})"),
        Call("GET", "/v1/stock", "", "", {{"skus", "1"}})}) {
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(Body(r)["error"]["code"], "unavailable");
    EXPECT_EQ(Header(r, "Retry-After"), "1");
  }
  EXPECT_EQ(Call("GET", "/readyz", "").status, 503);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  store_.set_unavailable(false);
  ready_ = true;
  EXPECT_EQ(Call("GET", "/v1/stock/1", "").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
}

// A client over its bucket gets 429 with Retry-After; another client is unaffected; the order
// service's default allowance takes a legitimate burst.
TEST_F(ApiTest, RateLimits) {
  ApiConfig config;
  config.read_limit = {2, 3};
  Make(config);
  Stock(1, 5'000);
  HttpRequest r;
  r.method = "GET";
  r.path = "/v1/stock/1";
  r.client_id = "greedy";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(api_->Handle(r, now_).status, 200);
  const HttpResponse limited = api_->Handle(r, now_);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Header(limited, "Retry-After"), "1");
  EXPECT_EQ(Body(limited)["error"]["retry_after_ms"], 500);
  // A follow-up read (the gRPC layer's, for a call it has had charged) is not charged again; a
  // bad token on one is still refused.
  r.follow_up = true;
  EXPECT_EQ(api_->Handle(r, now_).status, 200);
  r.authorization = "Bearer not-a-token";
  EXPECT_EQ(api_->Handle(r, now_).status, 429);  // refused, and charged as a bad token is
  r.authorization.clear();
  r.follow_up = false;
  r.client_id = "polite";
  EXPECT_EQ(api_->Handle(r, now_).status, 200);
  // 1,500 reservations in the same millisecond from one order service: none throttled.
  for (int i = 0; i < 1'500; ++i) {
    const HttpResponse res =
        Service("POST", "/v1/reservations",
                R"({"order_id":"burst-)" + std::to_string(i) + R"(","items":[{"sku":1,"qty":1}]})");
    ASSERT_EQ(res.status, 201) << i << " " << res.body;
  }
}

// With stock reads private, the snapshot and the event feed need a viewer token too.
TEST_F(ApiTest, PrivateReadsCoverSnapshotAndEvents) {
  ApiConfig config;
  config.public_stock_reads = false;
  Make(config);
  Stock(1, 1);
  for (const char* path : {"/v1/stock/1", "/v1/snapshot", "/v1/events"}) {
    EXPECT_EQ(Call("GET", path, "").status, 401) << path;
    const HttpResponse r = Call("GET", path, "", Token(Role::kViewer));
    EXPECT_EQ(r.status, 200) << path;
  }
  EXPECT_TRUE(Call("GET", "/v1/events", "", Token(Role::kViewer)).event_stream);
}

// A flood of bad tokens from one address is throttled (429), not answered 401 forever.
TEST_F(ApiTest, BadTokenFloodIsThrottled) {
  ApiConfig config;
  config.admin_limit = {1, 3};
  Make(config);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", "Bearer not.a.token").status, 401);
  }
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", "Bearer not.a.token").status, 429);
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", "").status, 429);
  // A valid admin is counted under its own name, unaffected.
  EXPECT_EQ(Call("PUT", "/v1/stock/1", R"({"on_hand":1})", Token(Role::kAdmin)).status, 201);
}

// Operational endpoints.
TEST_F(ApiTest, Operations) {
  EXPECT_EQ(Body(Call("GET", "/healthz", ""))["status"], "ok");
  const HttpResponse m = Call("GET", "/metrics", "");
  EXPECT_EQ(m.body, "m 1\n");
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4");
}

// History and summary need a viewer (or higher) token even while stock reads are public; no token
// and bad tokens are 401 (with WWW-Authenticate), and a refused call never reaches the reader.
TEST_F(ApiTest, HistoryAuth) {
  const std::string expired =
      "Bearer " + auth_.Mint({"old", Role::kViewer, kT0 / 1000 - 1}).value();
  JwtAuth other("another-secret-another-secret-another");
  const std::string forged =
      "Bearer " + other.Mint({"mallory", Role::kAdmin, kT0 / 1000 + 60}).value();
  for (const char* path : {"/v1/stock/1/history", "/v1/history/summary"}) {
    SCOPED_TRACE(path);
    const std::size_t calls_before = history_.calls();
    for (const std::string& bad : {std::string(), expired, forged, std::string("Basic abc"),
                                   std::string("Bearer not.a.token")}) {
      const HttpResponse r = Call("GET", path, "", bad);
      EXPECT_EQ(r.status, 401) << bad;
      EXPECT_EQ(Body(r)["error"]["code"], "unauthenticated");
      EXPECT_NE(Header(r, "WWW-Authenticate"), "");
    }
    EXPECT_EQ(history_.calls(), calls_before);
    for (Role role : {Role::kViewer, Role::kService, Role::kAdmin}) {
      const HttpResponse r = Call("GET", path, "", Token(role));
      EXPECT_EQ(r.status, 200) << RoleName(role) << " " << r.body;
    }
  }
  EXPECT_EQ(history_.calls(), 6u);
}

// A full history query reaches the reader parsed, and the answer has the documented shape.
TEST_F(ApiTest, HistoryQueryAndShape) {
  history_.page.total = 21;
  history_.page.items = {
      {"1795459607123-0", 42, "ord-7", "reserve", 2, 10, 8, "orders", "", 1'795'459'607'123, 7},
      {"1795459600000-3", 42, "", "set", 10, 0, 10, "alice", "initial count", 1'795'459'600'000,
       1}};
  const HttpResponse r = Viewer("/v1/stock/42/history", {{"from", "2026-11-23T00:00:00Z"},
                                                         {"to", "1795459700000"},
                                                         {"op", "reserve"},
                                                         {"page", "2"},
                                                         {"page_size", "20"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.route, "/v1/stock/{sku}/history");
  ASSERT_EQ(history_.history_queries.size(), 1u);
  const history::HistoryQuery& q = history_.history_queries[0];
  EXPECT_EQ(q.sku, 42);
  EXPECT_EQ(q.from_ms, 1'795'392'000'000);
  EXPECT_EQ(q.to_ms, 1'795'459'700'000);
  EXPECT_EQ(q.op, "reserve");
  EXPECT_EQ(q.page, 2);
  EXPECT_EQ(q.page_size, 20);
  EXPECT_EQ(Body(r), json::parse(R"({"sku":42,"page":2,"page_size":20,"total":21,"items":[
      {"event_id":"1795459607123-0","sku":42,"ref":"ord-7","op":"reserve","qty":2,"before":10,
       "after":8,"actor":"orders","reason":"","time":"2026-11-23T18:46:47.123Z","version":7},
      {"event_id":"1795459600000-3","sku":42,"ref":"","op":"set","qty":10,"before":0,"after":10,
       "actor":"alice","reason":"initial count","time":"2026-11-23T18:46:40.000Z","version":1}]})"));
}

// Without parameters the query is every op over all time, page 1 of 50, and the answer says so;
// a SKU without events (known or not) is a 200 with total 0, not a 404.
TEST_F(ApiTest, HistoryDefaultsAndEmptySku) {
  const HttpResponse r = Viewer("/v1/stock/99/history", {{"unknown", "ignored"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(history_.history_queries.size(), 1u);
  const history::HistoryQuery& q = history_.history_queries[0];
  EXPECT_EQ(q.from_ms, history::kMinTime);
  EXPECT_EQ(q.to_ms, history::kMaxTime);
  EXPECT_EQ(q.op, "");
  EXPECT_EQ(q.page, 1);
  EXPECT_EQ(q.page_size, history::kDefaultPageSize);
  EXPECT_EQ(Body(r), json::parse(R"({"sku":99,"page":1,"page_size":50,"total":0,"items":[]})"));
  // The bounds themselves are accepted.
  ASSERT_EQ(Viewer("/v1/stock/99/history", {{"page", "1000000"}, {"page_size", "1000"}}).status,
            200);
  EXPECT_EQ(history_.history_queries[1].page, kMaxHistoryPage);
  EXPECT_EQ(history_.history_queries[1].page_size, history::kMaxPageSize);
  ASSERT_EQ(Viewer("/v1/stock/99/history", {{"page_size", "1"}, {"op", "return"}}).status, 200);
  EXPECT_EQ(history_.history_queries[2].page_size, 1);
  EXPECT_EQ(history_.history_queries[2].op, "return");
}

// from and to take every documented form, and each form means the same instant.
TEST_F(ApiTest, HistoryTimeForms) {
  const std::int64_t ms = 1'795'459'607'123;  // 2026-11-23T18:46:47.123Z
  const std::vector<std::pair<std::string, std::int64_t>> forms = {
      {"2026-11-23T18:46:47.123Z", ms},
      {"2026-11-23T18:46:47Z", ms - 123},
      {"2026-11-24T02:46:47.123+08:00", ms},
      {"2026-11-23T13:16:47.123-05:30", ms},
      {"2026-11-23T18:46:47.123+00:00", ms},
      {"2026-11-23t18:46:47.123z", ms},
      {"2026-11-23T18:46:47.1Z", ms - 23},
      {"2026-11-23T18:46:47.123000Z", ms},
      {"2026-11-23T18:46:47.122001Z", ms},  // a sub-millisecond rest rounds up
      {"1795459607123", ms},
      {"0", 0},
      {"1970-01-01T00:00:00Z", 0},
      {"2028-02-29T00:00:00Z", 1'835'395'200'000},
      {"9999-12-31T23:59:59.999Z", kMaxQueryTimeMs},
  };
  for (const auto& [text, want] : forms) {
    SCOPED_TRACE(text);
    history_.history_queries.clear();
    ASSERT_EQ(Viewer("/v1/stock/1/history", {{"from", text}}).status, 200);
    EXPECT_EQ(history_.history_queries.at(0).from_ms, want);
    if (want == 0) continue;  // to must be later than the epoch to be a range
    ASSERT_EQ(Viewer("/v1/stock/1/history", {{"to", text}}).status, 200);
    EXPECT_EQ(history_.history_queries.at(1).to_ms, want);
  }
  EXPECT_EQ(ParseTime(FormatTime(ms)), ms);
}

// Every malformed path or query value of both routes is a 400 that names the parameter, and the
// reader is never asked.
TEST_F(ApiTest, HistoryBadQueryIsRefused) {
  struct Bad {
    std::string path;
    std::map<std::string, std::string> query;
    std::string field;
  };
  const std::string h = "/v1/stock/1/history";
  const std::string s = "/v1/history/summary";
  std::vector<Bad> cases = {
      {"/v1/stock/0/history", {}, "sku"},
      {"/v1/stock/abc/history", {}, "sku"},
      {"/v1/stock/9007199254740992/history", {}, "sku"},
      {"/v1/stock/-1/history", {}, "sku"},
      {h, {{"op", ""}}, "op"},
      {h, {{"op", "sell"}}, "op"},
      {h, {{"op", "Reserve"}}, "op"},
      {h, {{"op", "reserve,confirm"}}, "op"},
      {h, {{"page", ""}}, "page"},
      {h, {{"page", "0"}}, "page"},
      {h, {{"page", "-1"}}, "page"},
      {h, {{"page", "+1"}}, "page"},
      {h, {{"page", "1.0"}}, "page"},
      {h, {{"page", "1e3"}}, "page"},
      {h, {{"page", "1000001"}}, "page"},
      {h, {{"page", "99999999999999999999"}}, "page"},
      {h, {{"page", " 1"}}, "page"},
      {h, {{"page_size", ""}}, "page_size"},
      {h, {{"page_size", "0"}}, "page_size"},
      {h, {{"page_size", "1001"}}, "page_size"},
      {h, {{"page_size", "ten"}}, "page_size"},
      {h, {{"from", "2026-11-23T18:00:00Z"}, {"to", "2026-11-23T18:00:00Z"}}, "to"},
      {h, {{"from", "1795459607123"}, {"to", "1795459607122"}}, "to"},
      {s, {{"from", "2026-11-24T02:00:00+08:00"}, {"to", "2026-11-23T18:00:00Z"}}, "to"},
      {s, {{"skus", ""}}, "skus"},
      {s, {{"skus", "1,x"}}, "skus"},
      {s, {{"skus", "1,1"}}, "skus"},
      {s, {{"skus", "1, 2"}}, "skus"},
      {s, {{"skus", "0"}}, "skus"},
  };
  const std::vector<std::string> bad_times = {
      "",
      "yesterday",
      "-1",
      "+1795459607123",
      "1795459607123.5",
      "1e12",
      "253402300800000",  // one ms after 9999-12-31T23:59:59.999Z
      "9999999999999999999999",
      "2026-11-23",
      "2026-11-23T18:46:47",  // no zone
      "2026-11-23 18:46:47Z",
      "2026-11-23T18:46Z",
      "2026-11-23T18:46:47.Z",
      "2026-11-23T18:46:47.1234567890Z",
      "2026-11-23T18:46:47.123ZZ",
      "2026-11-23T18:46:47.123+0800",
      "2026-11-23T18:46:47.123+8:00",
      "2026-11-23T18:46:47.123+24:00",
      "2026-11-23T18:46:47.123+08:60",
      "2026-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-11-00T00:00:00Z",
      "2026-11-23T24:00:00Z",
      "2026-11-23T18:60:00Z",
      "2026-11-23T18:46:60Z",
      "1969-12-31T23:59:59.999Z",
      "1970-01-01T00:00:00+00:01",
      "+2026-11-23T18:46:47Z",
      "２０２６-11-23T18:46:47Z",
  };
  for (const std::string& path : {h, s}) {
    for (const std::string& name : {std::string("from"), std::string("to")}) {
      for (const std::string& text : bad_times) cases.push_back({path, {{name, text}}, name});
    }
  }
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.path + " " + json(c.query).dump());
    const HttpResponse r = Viewer(c.path, c.query);
    EXPECT_EQ(r.status, 400) << r.body;
    const json b = Body(r);
    EXPECT_EQ(b["error"]["code"], "invalid_request");
    EXPECT_EQ(b["error"].value("field", ""), c.field);
  }
  EXPECT_EQ(history_.calls(), 0u);
  // An offset whose + was not escaped arrives as a space; the message says what happened.
  const HttpResponse r = Viewer(h, {{"from", "2026-11-24T02:46:47 08:00"}});
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("%2B"), std::string::npos);
}

// The summary passes its range and SKUs to the reader and echoes the range as RFC 3339 (null
// where open), with one item per SKU and op.
TEST_F(ApiTest, SummaryQueryAndShape) {
  history_.summary.rows = {{1, "confirm", 3, 5, 1, 2, 5.0 / 3},
                           {1, "reserve", 4, 7, 1, 3, 1.75},
                           {2, "adjust", 2, -8, -10, 2, -4}};
  HttpResponse r =
      Viewer("/v1/history/summary",
             {{"from", "2026-11-24T02:46:47.123+08:00"}, {"to", "1795500000000"}, {"skus", "2,1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.route, "/v1/history/summary");
  ASSERT_EQ(history_.summary_queries.size(), 1u);
  EXPECT_EQ(history_.summary_queries[0].from_ms, 1'795'459'607'123);
  EXPECT_EQ(history_.summary_queries[0].to_ms, 1'795'500'000'000);
  EXPECT_EQ(history_.summary_queries[0].skus, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(Body(r), json::parse(R"({"from":"2026-11-23T18:46:47.123Z",
      "to":"2026-11-24T06:00:00.000Z","items":[
      {"sku":1,"op":"confirm","count":3,"total":5,"min":1,"max":2,"avg":1.6666666666666667},
      {"sku":1,"op":"reserve","count":4,"total":7,"min":1,"max":3,"avg":1.75},
      {"sku":2,"op":"adjust","count":2,"total":-8,"min":-10,"max":2,"avg":-4.0}]})"));

  history_.summary.rows.clear();
  r = Viewer("/v1/history/summary", {{"to", "2026-11-23T00:00:00Z"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(history_.summary_queries[1].from_ms, history::kMinTime);
  EXPECT_EQ(history_.summary_queries[1].skus, std::vector<std::int64_t>{});
  EXPECT_EQ(Body(r), json::parse(R"({"from":null,"to":"2026-11-23T00:00:00.000Z","items":[]})"));
  r = Viewer("/v1/history/summary");
  EXPECT_EQ(history_.summary_queries[2].to_ms, history::kMaxTime);
  EXPECT_EQ(Body(r), json::parse(R"({"from":null,"to":null,"items":[]})"));
}

// Without a history reader both routes answer 503 unavailable with Retry-After and say history is
// not configured; /readyz does not wait for a database that is not configured.
TEST_F(ApiTest, HistoryWithoutReaderIs503) {
  Make(ApiConfig{}, nullptr);
  for (const char* path : {"/v1/stock/1/history", "/v1/history/summary"}) {
    const HttpResponse r = Viewer(path);
    EXPECT_EQ(r.status, 503) << path;
    EXPECT_EQ(Body(r)["error"]["code"], "unavailable");
    EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("not configured"),
              std::string::npos);
    EXPECT_EQ(Header(r, "Retry-After"), "1");
  }
  // Authentication and validation still come first.
  EXPECT_EQ(Call("GET", "/v1/history/summary", "").status, 401);
  EXPECT_EQ(Viewer("/v1/stock/1/history", {{"page", "0"}}).status, 400);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
}

// A reader that cannot reach its database makes both routes a fast 503 with the configured
// Retry-After and the reader's message.
TEST_F(ApiTest, HistoryReaderUnavailableIs503) {
  ApiConfig config;
  config.unavailable_retry_after_s = 3;
  Make(config);
  history_.page.code = history::Code::kUnavailable;
  history_.page.message = "mariadb unavailable: connection refused";
  history_.summary.code = history::Code::kUnavailable;
  history_.summary.message = "mariadb unavailable: connection refused";
  for (const char* path : {"/v1/stock/1/history", "/v1/history/summary"}) {
    const HttpResponse r = Viewer(path);
    EXPECT_EQ(r.status, 503) << path;
    EXPECT_EQ(Body(r)["error"]["code"], "unavailable");
    EXPECT_EQ(Body(r)["error"]["message"], "mariadb unavailable: connection refused");
    EXPECT_EQ(Header(r, "Retry-After"), "3");
  }
  EXPECT_EQ(history_.calls(), 2u);
}

// /readyz needs the store's check and, when a reader is configured, its Ping; /healthz needs
// neither.
TEST_F(ApiTest, ReadyzNeedsHistoryPing) {
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  EXPECT_EQ(history_.pings, 1);
  history_.reachable = false;
  const HttpResponse r = Call("GET", "/readyz", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Body(r)["error"]["code"], "unavailable");
  EXPECT_EQ(Header(r, "Retry-After"), "1");
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  history_.reachable = true;
  ready_ = false;
  EXPECT_EQ(Call("GET", "/readyz", "").status, 503);
}

// The history routes answer only GET (405 with Allow otherwise) and draw on the reads bucket that
// stock reads use.
TEST_F(ApiTest, HistoryMethodsAndRateLimit) {
  for (const char* path : {"/v1/stock/1/history", "/v1/history/summary"}) {
    const HttpResponse r = Call("POST", path, "", Token(Role::kAdmin));
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_EQ(Header(r, "Allow"), "GET");
  }
  ApiConfig config;
  config.read_limit = {1, 3};
  Make(config);
  Stock(1, 1);
  EXPECT_EQ(Call("GET", "/v1/stock/1", "", Token(Role::kViewer)).status, 200);
  EXPECT_EQ(Viewer("/v1/stock/1/history").status, 200);
  EXPECT_EQ(Viewer("/v1/history/summary").status, 200);
  const HttpResponse limited = Viewer("/v1/history/summary");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Header(limited, "Retry-After"), "1");
}

}  // namespace
}  // namespace stockgate::server
