// Api: the inventory HTTP API as a plain class: a request struct in, a response struct out, no
// sockets. It routes, authenticates (JWT roles), rate-limits per client and route group with the
// core's limiter, validates with the core's parsers, calls the InventoryStore (stock, reservations;
// asynchronously) or the HistoryReader (ledger history, summaries; blocking, so run elsewhere), and
// shapes JSON answers and errors. The HTTP server adapts its connections to it; tests call it
// directly.
#ifndef STOCKGATE_ORIGIN_SERVER_API_H_
#define STOCKGATE_ORIGIN_SERVER_API_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/admission_gate.h"
#include "core/requests.h"
#include "core/token_bucket.h"
#include "origin/history/history_reader.h"
#include "origin/server/jwt_auth.h"
#include "origin/store/inventory_store.h"

namespace stockgate::server {

// Highest page number the history route accepts; page_size bounds are history::kMaxPageSize and
// history::kDefaultPageSize.
inline constexpr std::int64_t kMaxHistoryPage = 1'000'000;
// Latest time a query may name, 9999-12-31T23:59:59.999Z in ms since the epoch: any later one
// would not print as RFC 3339. The earliest is the epoch itself.
inline constexpr std::int64_t kMaxQueryTimeMs = 253'402'300'799'999;

struct HttpRequest {
  std::string method;  // "GET", "POST", "PUT", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::string body;
  std::string authorization;  // Authorization header value, "" when absent
  std::string client_id;      // X-Client-Id header value, "" when absent
  std::string remote_addr;
  // A read the gRPC layer sends to complete a call it has already had charged (DeductStock's
  // remaining stock): authenticated as usual, not charged to a rate-limit bucket again.
  bool follow_up = false;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  // With the charset spelled out: cpp-httplib gzips an exact "application/json" whenever the
  // client accepts it, ~1 ms of CPU per small answer, a 4x slowdown for clients such as Go's
  // default one that always ask for gzip.
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string route = "unmatched";  // the route template, a bounded label for metrics
  std::string code = "ok";          // the API code of the answer (error.code or "ok")
  bool event_stream = false;        // admitted GET /v1/events: the server streams the change feed
};

// Every error answer of the origin, the Api's and the HTTP server's own: status and error.code
// from `code`, body {"error":{"code","message",...details}}, and on a 429 or 503 a Retry-After of
// `retry_after_s` (at least 1).
HttpResponse ErrorResponse(core::Code code, std::string_view message,
                           const nlohmann::json& details = nlohmann::json::object(),
                           int retry_after_s = 1);
// The same for a body the core wrote (its Problem and Decision bodies, which the edge sends too).
HttpResponse ErrorWithBody(core::Code code, std::string body, int retry_after_s = 1);
// 405: the one error whose status is not its code's (the code is invalid_request), with Allow.
HttpResponse MethodNotAllowed(std::string_view method, std::string_view allow);

// Who may call a route; the names are the x-stockgate-role values of /openapi.json.
enum class Access {
  kPublic,      // anyone; a token, if sent, must still be valid
  kStockReads,  // public, or viewer when ApiConfig::public_stock_reads is off
  kViewer,
  kBuyer,  // a buyer for itself, service and admin for anyone
  kService,
  kAdmin,
};
// The token bucket a route charges (x-stockgate-rate-limit); kNone charges none and looks at no
// token (probes and /metrics).
enum class RateGroup { kNone, kReservations, kReads, kAdmin };
std::string_view AccessName(Access access);
std::string_view RateGroupName(RateGroup group);

struct RouteInfo {
  std::string_view method;   // "GET"
  std::string_view pattern;  // "/v1/stock/{sku}": a {name} is one path segment
  Access access = Access::kPublic;
  RateGroup group = RateGroup::kNone;
  bool in_openapi = true;  // false only for the files of the /docs page
};

struct ApiConfig {
  bool public_stock_reads = true;  // false: stock reads need a viewer token
  std::int64_t max_adjustment = core::kDefaultMaxAdjustment;
  std::int64_t low_stock_threshold = 0;  // what a SKU created without one gets
  // Per client key (JWT sub, else X-Client-Id, else address), per route group. The reservation
  // group is generous: one order service is one client and legitimately bursts.
  core::TokenBucketConfig reservation_limit{1000, 2000};
  core::TokenBucketConfig read_limit{200, 400};
  core::TokenBucketConfig admin_limit{50, 100};
  std::uint32_t client_capacity = 100'000;
  int unavailable_retry_after_s = 1;  // Retry-After of a 503
  // Static documents (compiled in by the server binary); an empty one answers 404.
  std::string_view openapi_json;
  std::string_view swagger_ui_js;
  std::string_view swagger_ui_css;
};

class Api {
 public:
  // `history` serves the history routes; null when no history database is configured, and then
  // they answer 503. `ready` answers /readyz for the store (is Redis reachable now); /readyz also
  // pings `history` when there is one. `metrics` renders /metrics.
  Api(store::InventoryStore& store, history::HistoryReader* history, const JwtAuth& auth,
      ApiConfig config, std::function<bool()> ready, std::function<std::string()> metrics);

  using Respond = std::function<void(HttpResponse)>;
  // Runs work that may block (a MariaDB query, a Redis ping) somewhere it may.
  using RunBlocking = std::function<void(std::function<void()>)>;

  // Answers the request through `respond`, exactly once: at once, or from the thread that gets
  // the store's answer (quick work only: an event loop would hand it on), or from `blocking`.
  void HandleAsync(const HttpRequest& request, std::int64_t now_ms, Respond respond,
                   const RunBlocking& blocking);
  // The same, everything run on the caller's thread, waiting for the answer (tests, tools).
  HttpResponse Handle(const HttpRequest& request, std::int64_t now_ms);

  // Every route the Api serves, in the order it matches them.
  static std::vector<RouteInfo> Routes();

 private:
  struct Caller {
    bool authenticated = false;
    Claims claims;
  };
  template <class R>
  using Done = std::function<void(R)>;
  // One request on its way to a route's handler.
  struct Call;
  struct Route {
    RouteInfo info;
    void (*handle)(Api& api, Call& call);
    std::vector<std::string_view> parts = {};  // the pattern's segments, filled by Table()
  };
  // The routing table: ApiRoutes() is its first column.
  static const std::vector<Route>& Table();

  void Dispatch(const HttpRequest& request, std::int64_t now_ms, Respond respond,
                const RunBlocking& blocking);
  // Authentication, authorization and rate limiting; an error response, or nothing to say.
  // A public route still verifies a token when one is sent (a bad token is never ignored).
  bool Admit(const HttpRequest& request, bool is_public, Role required, RateGroup group,
             std::int64_t now_ms, Caller* caller, HttpResponse* refusal);
  int retry() const { return config_.unavailable_retry_after_s; }
  Done<core::ReservationResult> ReservationAnswer(Respond respond);

  // Handlers; `actor` (the token's sub) goes into the ledger events a change writes.
  void SetStock(const HttpRequest& r, std::string_view sku_text, const std::string& actor,
                std::int64_t now_ms, Respond respond);
  void Adjust(const HttpRequest& r, std::string_view sku_text, const std::string& actor,
              std::int64_t now_ms, Respond respond);
  void GetStock(std::string_view sku_text, std::int64_t now_ms, Respond respond);
  void GetStocks(const HttpRequest& r, std::int64_t now_ms, Respond respond);
  // `owner` is the customer a buyer's token acts for ("" for service and admin, who act for
  // anyone): a buyer reserves with customer_id = owner, and sees and releases only the
  // reservations of that customer (others answer 404, as if they did not exist).
  void Reserve(const HttpRequest& r, const std::string& actor, const std::string& owner,
               std::int64_t now_ms, Respond respond);
  // An order not in Redis is looked up in the history (retention may have removed its record),
  // through `blocking`: found, it answers with "archived": true.
  void GetReservation(std::string_view order_id, const std::string& owner, std::int64_t now_ms,
                      Respond respond, const RunBlocking& blocking);
  void Transition(const HttpRequest& r, std::string_view order_id, std::string_view action,
                  const std::string& actor, const std::string& owner, std::int64_t now_ms,
                  Respond respond);
  void Snapshot(const HttpRequest& r, std::int64_t now_ms, Respond respond);
  // The history routes query MariaDB and block: the caller runs them where it may.
  HttpResponse History(const HttpRequest& r, std::string_view sku_text);
  HttpResponse Summary(const HttpRequest& r);
  HttpResponse HistoryNotConfigured() const;
  // GET /v1/reservations/{order_id} of an order the store does not know: from the history.
  HttpResponse Archived(const std::string& id, const std::string& owner);
  HttpResponse HistoryError(core::Code code, std::string_view message) const;
  HttpResponse Static(std::string_view path);

  store::InventoryStore& store_;
  history::HistoryReader* history_;  // may be null
  const JwtAuth& auth_;
  ApiConfig config_;
  std::function<bool()> ready_;
  std::function<std::string()> metrics_;

  // The core's client limiter per route group; AdmissionGate is single-threaded, hence the locks.
  struct Limiter {
    std::mutex mu;
    core::AdmissionGate gate;
    explicit Limiter(const core::AdmissionConfig& c) : gate(c) {}
  };
  Limiter reservation_limiter_;
  Limiter read_limiter_;
  Limiter admin_limiter_;
};

// RFC 3339 UTC with milliseconds, e.g. "2026-11-23T18:46:47.123Z".
std::string FormatTime(std::int64_t ms);

// A reservation as the API answers it, JSON text written directly (the hottest answer): the same
// bytes as the nlohmann dump of every other answer, keys sorted.
std::string ReservationBody(const core::ReservationView& r);

// A time as the history queries take it, in ms since the epoch: decimal milliseconds
// ("1795459607123") or RFC 3339 with a zone, "2026-11-23T18:46:47.123Z", "2026-11-23T18:46:47Z",
// "2026-11-24T02:46:47+08:00" (T and Z may be lower case; 1 to 9 fraction digits, a sub-millisecond
// rest rounds up, so that [from, to) keeps its meaning for events stamped in whole ms). nullopt for
// anything else, for an impossible date or time (second 60 included), and outside
// 0..kMaxQueryTimeMs.
std::optional<std::int64_t> ParseTime(std::string_view text);

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_API_H_
