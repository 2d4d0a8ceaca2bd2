#include "origin/server/api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/inventory_model.h"
#include "origin/store/ledger_stream.h"

namespace stockgate::server {
namespace {

using core::Code;
using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResponse Json(int status, const json& body, std::string code = "ok") {
  HttpResponse r;
  r.status = status;
  r.body = Dump(body);
  r.code = std::move(code);
  return r;
}

HttpResponse FromProblem(const core::Problem& p) {
  return ErrorWithBody(p.code, core::ProblemBody(p));
}

json FailItemsJson(const std::vector<core::FailItem>& items) {
  json out = json::array();
  for (const auto& f : items) {
    out.push_back({{"sku", f.sku}, {"requested", f.requested}, {"available", f.available}});
  }
  return out;
}

json StockJson(const core::StockView& s) {
  return {{"sku", s.sku},
          {"on_hand", s.on_hand},
          {"reserved", s.reserved},
          {"available", s.available},
          {"sold", s.sold},
          {"version", s.version},
          {"per_customer_limit", s.per_customer_limit},
          {"low_stock_threshold", s.low_stock_threshold},
          {"low_stock", core::IsLowStock(s.available, s.low_stock_threshold)},
          {"updated_at", FormatTime(s.updated_at_ms)}};
}

// Appends `text` as a JSON string, byte for byte as nlohmann's dump writes it (the rest of the
// API's JSON): plain printable ASCII directly, anything else through nlohmann.
void AppendJsonString(std::string* out, std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
  });
  if (!plain) {
    *out += Dump(json(std::string(text)));
    return;
  }
  out->push_back('"');
  out->append(text);
  out->push_back('"');
}

void AppendInt(std::string* out, std::int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

// A store failure: the API error with the store's message (and Retry-After for a 503).
template <class Result>
HttpResponse StoreError(const Result& result, int retry_after_s) {
  json details = json::object();
  if (!result.fail_items.empty()) details["fail_items"] = FailItemsJson(result.fail_items);
  return ErrorResponse(result.code, result.message, details, retry_after_s);
}

HttpResponse Unavailable(std::string_view message, int retry_after_s);

// A store that said ok without a readable reservation (it cannot, unless its answer was mangled):
// no answer to trust, so 503, and the client retries with the same key.
HttpResponse MissingReservation(int retry_after_s) {
  return Unavailable("the store answered without a readable reservation", retry_after_s);
}

HttpResponse Unavailable(std::string_view message, int retry_after_s) {
  return ErrorResponse(Code::kUnavailable, message, json::object(), retry_after_s);
}

core::Problem Invalid(std::string field, std::string message) {
  return {Code::kInvalidRequest, std::move(field), std::move(message)};
}

// The value of query parameter `name`, or null when the request does not carry it.
const std::string* QueryValue(const HttpRequest& r, const std::string& name) {
  const auto it = r.query.find(name);
  return it == r.query.end() ? nullptr : &it->second;
}

bool AllDigits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// 1..18 ASCII digits (no sign, no exponent, leading zeros allowed) with a value in min..max.
bool ParseBoundedInt(std::string_view text, std::int64_t min, std::int64_t max, std::int64_t* out) {
  if (text.empty() || text.size() > 18 || !AllDigits(text)) return false;
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);  // 18 digits cannot overflow
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

// `?from&to` of the history routes; an absent bound stays nullopt.
struct TimeRange {
  std::optional<std::int64_t> from_ms;
  std::optional<std::int64_t> to_ms;
};

core::Problem ParseTimeRange(const HttpRequest& r, TimeRange* out) {
  for (const std::string name : {"from", "to"}) {
    const std::string* text = QueryValue(r, name);
    if (text == nullptr) continue;
    const std::optional<std::int64_t> ms = ParseTime(*text);
    if (!ms) {
      std::string message = name +
                            " must be an RFC 3339 time with a zone (2026-11-23T18:46:47.123Z, "
                            "2026-11-24T02:46:47+08:00) or milliseconds since the epoch, "
                            "from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z";
      // The usual slip: an unescaped + of an offset arrives decoded as a space.
      if (text->find(' ') != std::string::npos) {
        message += "; a + in a query string means a space, send it as %2B";
      }
      return Invalid(name, std::move(message));
    }
    (name == "from" ? out->from_ms : out->to_ms) = *ms;
  }
  if (out->from_ms && out->to_ms && *out->from_ms >= *out->to_ms) {
    return Invalid("to", "to must be later than from; the range is [from, to)");
  }
  return {};
}

// The ledger op names, from the core's table so they cannot drift from what the store writes.
constexpr core::LedgerOp kLedgerOps[] = {core::LedgerOp::kSet,     core::LedgerOp::kAdjust,
                                         core::LedgerOp::kReserve, core::LedgerOp::kConfirm,
                                         core::LedgerOp::kRelease, core::LedgerOp::kExpire,
                                         core::LedgerOp::kReturn};

core::Problem ParseLedgerOp(std::string_view text, std::string* out) {
  std::string names;
  for (const core::LedgerOp op : kLedgerOps) {
    if (core::LedgerOpName(op) == text) {
      *out = std::string(text);
      return {};
    }
    if (!names.empty()) names += ", ";
    names += core::LedgerOpName(op);
  }
  return Invalid("op", "op must be one of " + names);
}

json HistoryEventJson(const history::HistoryEvent& e) {
  return {{"event_id", e.event_id}, {"sku", e.sku},
          {"ref", e.ref},           {"op", e.op},
          {"qty", e.qty},           {"before", e.before},
          {"after", e.after},       {"actor", e.actor},
          {"reason", e.reason},     {"time", FormatTime(e.time_ms)},
          {"version", e.version}};
}

json SummaryRowJson(const history::SummaryRow& row) {
  return {{"sku", row.sku}, {"op", row.op},   {"count", row.count}, {"total", row.total},
          {"min", row.min}, {"max", row.max}, {"avg", row.avg}};
}

// "/a/b/c" -> {"a","b","c"}; empty segments (double or trailing slashes) are kept so that such
// paths match no route.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path[0] != '/') return out;
  std::size_t start = 1;
  while (true) {
    const std::size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

HttpResponse ErrorWithBody(Code code, std::string body, int retry_after_s) {
  HttpResponse r;
  r.status = core::HttpStatus(code);
  r.body = std::move(body);
  r.code = std::string(core::CodeName(code));
  if (r.status == 429 || r.status == 503) {
    r.headers.emplace_back("Retry-After", std::to_string(std::max(retry_after_s, 1)));
  }
  return r;
}

HttpResponse ErrorResponse(Code code, std::string_view message, const json& details,
                           int retry_after_s) {
  json error = {{"code", core::CodeName(code)}, {"message", message}};
  for (const auto& [k, v] : details.items()) error[k] = v;
  return ErrorWithBody(code, Dump(json{{"error", std::move(error)}}), retry_after_s);
}

HttpResponse MethodNotAllowed(std::string_view method, std::string_view allow) {
  HttpResponse r =
      ErrorResponse(Code::kInvalidRequest, "method " + std::string(method) +
                                               " is not allowed here; use " + std::string(allow));
  r.status = 405;
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

std::string ReservationBody(const core::ReservationView& r) {
  // Keys in the order nlohmann's std::map sorts them, as every other answer has them.
  std::string out;
  out.reserve(256);
  out += R"({"created_at":")";
  out += FormatTime(r.created_at_ms);
  out += '"';
  if (!r.customer_id.empty()) {
    out += R"(,"customer_id":)";
    AppendJsonString(&out, r.customer_id);
  }
  out += R"(,"expires_at":")";
  out += FormatTime(r.expires_at_ms);
  out += R"(","items":[)";
  for (std::size_t i = 0; i < r.items.size(); ++i) {
    out += i == 0 ? R"({"qty":)" : R"(,{"qty":)";
    AppendInt(&out, r.items[i].qty);
    out += R"(,"sku":)";
    AppendInt(&out, r.items[i].sku);
    out += '}';
  }
  out += R"(],"order_id":)";
  AppendJsonString(&out, r.order_id);
  out += R"(,"status":")";
  out += core::ReservationStatusName(r.status);
  out += R"(","ttl_seconds":)";
  AppendInt(&out, r.ttl_seconds);
  out += R"(,"updated_at":")";
  out += FormatTime(r.updated_at_ms);
  out += R"("})";
  return out;
}

std::string FormatTime(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];  // roomy enough for any int the compiler can imagine in each field
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::optional<std::int64_t> ParseTime(std::string_view text) {
  std::int64_t ms = 0;
  if (AllDigits(text)) {
    // 15 digits hold kMaxQueryTimeMs; longer is out of range (and could overflow).
    if (text.empty() || text.size() > 15) return std::nullopt;
    std::from_chars(text.data(), text.data() + text.size(), ms);
  } else {
    // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
    auto digits = [&](std::size_t pos, std::size_t n, int* out) {
      if (pos + n > text.size() || !AllDigits(text.substr(pos, n))) return false;
      std::from_chars(text.data() + pos, text.data() + pos + n, *out);
      return true;
    };
    auto is = [&](std::size_t pos, char upper, char lower = '\0') {
      return pos < text.size() && (text[pos] == upper || (lower != '\0' && text[pos] == lower));
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(0, 4, &year) || !is(4, '-') || !digits(5, 2, &month) || !is(7, '-') ||
        !digits(8, 2, &day) || !is(10, 'T', 't') || !digits(11, 2, &hour) || !is(13, ':') ||
        !digits(14, 2, &minute) || !is(16, ':') || !digits(17, 2, &second)) {
      return std::nullopt;
    }
    std::size_t pos = 19;
    std::int64_t fraction_ms = 0;
    if (is(pos, '.')) {
      const std::size_t start = ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      const std::size_t n = pos - start;
      if (n < 1 || n > 9) return std::nullopt;
      for (std::size_t i = 0; i < 3; ++i) {
        fraction_ms = fraction_ms * 10 + (i < n ? text[start + i] - '0' : 0);
      }
      // Events carry whole milliseconds: rounding a rest up keeps "t >= from" and "t < to" exact.
      for (std::size_t i = 3; i < n; ++i) {
        if (text[start + i] != '0') {
          ++fraction_ms;
          break;
        }
      }
    }
    std::int64_t offset_minutes = 0;
    if (is(pos, 'Z', 'z')) {
      ++pos;
    } else if (is(pos, '+') || is(pos, '-')) {
      int offset_hours = 0, offset_mins = 0;
      if (!digits(pos + 1, 2, &offset_hours) || !is(pos + 3, ':') ||
          !digits(pos + 4, 2, &offset_mins) || offset_hours > 23 || offset_mins > 59) {
        return std::nullopt;
      }
      const std::int64_t magnitude = std::int64_t{offset_hours} * 60 + offset_mins;
      offset_minutes = text[pos] == '-' ? -magnitude : magnitude;
      pos += 6;
    } else {
      return std::nullopt;
    }
    if (pos != text.size() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{year},
                                           std::chrono::month{static_cast<unsigned>(month)},
                                           std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok()) return std::nullopt;
    const std::int64_t days = std::chrono::sys_days{date}.time_since_epoch().count();
    const std::int64_t local_minutes = (days * 24 + hour) * 60 + minute;
    ms = ((local_minutes - offset_minutes) * 60 + second) * 1000 + fraction_ms;
  }
  if (ms < 0 || ms > kMaxQueryTimeMs) return std::nullopt;
  return ms;
}

namespace {

core::AdmissionConfig LimiterConfig(const core::TokenBucketConfig& bucket, std::uint32_t capacity) {
  core::AdmissionConfig c;
  c.client = bucket;
  c.client_capacity = capacity;
  c.sku_capacity = 1;  // only client buckets are used here
  return c;
}

}  // namespace

Api::Api(store::InventoryStore& store, history::HistoryReader* history, const JwtAuth& auth,
         ApiConfig config, std::function<bool()> ready, std::function<std::string()> metrics)
    : store_(store),
      history_(history),
      auth_(auth),
      config_(config),
      ready_(std::move(ready)),
      metrics_(std::move(metrics)),
      reservation_limiter_(LimiterConfig(config.reservation_limit, config.client_capacity)),
      read_limiter_(LimiterConfig(config.read_limit, config.client_capacity)),
      admin_limiter_(LimiterConfig(config.admin_limit, config.client_capacity)) {}

void Api::HandleAsync(const HttpRequest& request, std::int64_t now_ms, Respond respond,
                      const RunBlocking& blocking) {
  if (request.body.size() > core::kMaxBodyBytes) {
    return respond(ErrorResponse(
        Code::kPayloadTooLarge, "body is " + std::to_string(request.body.size()) +
                                    " bytes; the limit is " + std::to_string(core::kMaxBodyBytes)));
  }
  Dispatch(request, now_ms, std::move(respond), blocking);
}

HttpResponse Api::Handle(const HttpRequest& request, std::int64_t now_ms) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<HttpResponse> out;
  HandleAsync(
      request, now_ms,
      [&](HttpResponse r) {
        std::lock_guard lock(mu);
        out = std::move(r);
        cv.notify_one();
      },
      [](const std::function<void()>& work) { work(); });
  // A store answers within its own bounds (fail fast), so this wait ends.
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return out.has_value(); });
  return std::move(*out);
}

bool Api::Admit(const HttpRequest& request, bool is_public, Role required, RateGroup group,
                std::int64_t now_ms, Caller* caller, HttpResponse* refusal) {
  Limiter& limiter = group == RateGroup::kReservations ? reservation_limiter_
                     : group == RateGroup::kAdmin      ? admin_limiter_
                                                       : read_limiter_;
  // Charges one request to `key`; false (with a 429 in *refusal) when its bucket is empty.
  auto charge = [&](const std::string& key) {
    core::Decision d;
    {
      std::lock_guard lock(limiter.mu);
      d = limiter.gate.AdmitClient(key, now_ms);
    }
    if (d.verdict == core::Verdict::kAdmit) return true;
    *refusal = ErrorWithBody(Code::kRateLimited, core::DecisionBody(d),
                             static_cast<int>((d.retry_after_ms + 999) / 1000));
    return false;
  };
  const std::string anonymous_key =
      !request.client_id.empty() ? "id:" + request.client_id : "ip:" + request.remote_addr;

  if (!request.authorization.empty() || !is_public) {
    // A refused token is charged to the caller's id or address, so a flood of bad tokens is
    // throttled like any other flood. Valid tokens are charged to their sub only: services
    // sharing an address must not throttle each other.
    auto refuse = [&](HttpResponse r) {
      if (charge(anonymous_key)) *refusal = std::move(r);
      return false;
    };
    const auto token = BearerToken(request.authorization);
    if (!token) {
      HttpResponse r =
          ErrorResponse(Code::kUnauthenticated, request.authorization.empty()
                                                    ? "missing bearer token"
                                                    : "Authorization must be: Bearer <token>");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return refuse(std::move(r));
    }
    const VerifyResult v = auth_.Verify(*token, now_ms / 1000);
    if (!v.ok()) {
      HttpResponse r = ErrorResponse(v.code(), v.error());
      r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return refuse(std::move(r));
    }
    if (!is_public && !Allows(v->role, required)) {
      *refusal = ErrorResponse(Code::kForbidden, "role " + std::string(RoleName(v->role)) +
                                                     " may not call this route; it needs " +
                                                     std::string(RoleName(required)));
      return false;
    }
    caller->authenticated = true;
    caller->claims = *v;
  }
  if (request.follow_up) return true;
  return charge(caller->authenticated ? "sub:" + caller->claims.sub : anonymous_key);
}

std::string_view AccessName(Access access) {
  constexpr std::string_view kNames[] = {"public", "public", "viewer", "buyer", "service", "admin"};
  return kNames[static_cast<int>(access)];
}

std::string_view RateGroupName(RateGroup group) {
  constexpr std::string_view kNames[] = {"none", "reservations", "reads", "admin"};
  return kNames[static_cast<int>(group)];
}

std::vector<RouteInfo> Api::Routes() {
  std::vector<RouteInfo> out;
  for (const auto& route : Table()) out.push_back(route.info);
  return out;
}

struct Api::Call {
  const HttpRequest& request;
  std::int64_t now_ms;
  std::vector<std::string_view> params;  // the {name} segments of the path, in order
  Caller caller;
  Respond respond;  // labels the answer with the route's pattern
  const RunBlocking& blocking;

  std::string_view param(std::size_t i) const { return params[i]; }
  // The token's sub, written into the ledger events a change makes.
  std::string actor() const { return caller.authenticated ? caller.claims.sub : std::string(); }
  // The customer a buyer acts for; "" for the roles that act for anyone.
  std::string owner() const {
    return caller.authenticated && caller.claims.role == Role::kBuyer ? caller.claims.sub
                                                                      : std::string();
  }
};

const std::vector<Api::Route>& Api::Table() {
  using A = Access;
  using G = RateGroup;
  static const std::vector<Route> routes = [] {
    // The action is the path's last segment: confirm, release, extend or return.
    constexpr auto transition = [](Api& api, Call& c) {
      const std::string_view path = c.request.path;
      api.Transition(c.request, c.param(0), path.substr(path.rfind('/') + 1), c.actor(), c.owner(),
                     c.now_ms, c.respond);
    };
    std::vector<Route> t = {
        {{"GET", "/healthz", A::kPublic, G::kNone},
         [](Api&, Call& c) {
           c.respond(Json(200, {{"status", "ok"}}));
         }},
        {{"GET", "/readyz", A::kPublic, G::kNone},
         [](Api& api, Call& c) {
           // Pings the store, then the history database when one is configured: blocking calls.
           c.blocking([&api, reply = c.respond] {
             if (!api.ready_ || !api.ready_()) {
               return reply(Unavailable("a backend is unreachable", api.retry()));
             }
             if (api.history_ != nullptr && !api.history_->Ping()) {
               return reply(Unavailable("the history database is unreachable", api.retry()));
             }
             reply(Json(200, {{"status", "ready"}}));
           });
         }},
        {{"GET", "/metrics", A::kPublic, G::kNone},
         [](Api& api, Call& c) {
           HttpResponse r;
           r.body = api.metrics_ ? api.metrics_() : "";
           r.content_type = "text/plain; version=0.0.4";
           c.respond(std::move(r));
         }},
        {{"GET", "/openapi.json", A::kPublic, G::kReads},
         [](Api& api, Call& c) { c.respond(api.Static(c.request.path)); }},
        {{"GET", "/docs", A::kPublic, G::kReads},
         [](Api& api, Call& c) { c.respond(api.Static(c.request.path)); }},
        {{"GET", "/docs/{asset}", A::kPublic, G::kReads, /*in_openapi=*/false},
         [](Api& api, Call& c) { c.respond(api.Static(c.request.path)); }},
        {{"GET", "/v1/stock", A::kStockReads, G::kReads},
         [](Api& api, Call& c) { api.GetStocks(c.request, c.now_ms, c.respond); }},
        {{"GET", "/v1/stock/{sku}", A::kStockReads, G::kReads},
         [](Api& api, Call& c) { api.GetStock(c.param(0), c.now_ms, c.respond); }},
        {{"PUT", "/v1/stock/{sku}", A::kAdmin, G::kAdmin},
         [](Api& api, Call& c) {
           api.SetStock(c.request, c.param(0), c.actor(), c.now_ms, c.respond);
         }},
        {{"POST", "/v1/stock/{sku}/adjustments", A::kAdmin, G::kAdmin},
         [](Api& api, Call& c) {
           api.Adjust(c.request, c.param(0), c.actor(), c.now_ms, c.respond);
         }},
        // The ledger names orders and actors: never public, whatever public_stock_reads says.
        {{"GET", "/v1/stock/{sku}/history", A::kViewer, G::kReads},
         [](Api& api, Call& c) {
           c.blocking([&api, request = c.request, sku = std::string(c.param(0)),
                       reply = c.respond] { reply(api.History(request, sku)); });
         }},
        {{"GET", "/v1/history/summary", A::kViewer, G::kReads},
         [](Api& api, Call& c) {
           c.blocking(
               [&api, request = c.request, reply = c.respond] { reply(api.Summary(request)); });
         }},
        {{"POST", "/v1/reservations", A::kBuyer, G::kReservations},
         [](Api& api, Call& c) {
           api.Reserve(c.request, c.actor(), c.owner(), c.now_ms, c.respond);
         }},
        {{"GET", "/v1/reservations/{order_id}", A::kBuyer, G::kReservations},
         [](Api& api, Call& c) {
           api.GetReservation(c.param(0), c.owner(), c.now_ms, c.respond, c.blocking);
         }},
        {{"POST", "/v1/reservations/{order_id}/confirm", A::kService, G::kReservations},
         transition},
        // A buyer may give its own hold back; moving money-related states is the shop's.
        {{"POST", "/v1/reservations/{order_id}/release", A::kBuyer, G::kReservations}, transition},
        {{"POST", "/v1/reservations/{order_id}/extend", A::kService, G::kReservations}, transition},
        {{"POST", "/v1/reservations/{order_id}/return", A::kService, G::kReservations}, transition},
        // The feed and the snapshot show every SKU's availability: as public as stock reads.
        {{"GET", "/v1/events", A::kStockReads, G::kReads},
         [](Api&, Call& c) {
           HttpResponse r;
           r.event_stream = true;
           r.content_type = "text/event-stream";
           c.respond(std::move(r));
         }},
        {{"GET", "/v1/snapshot", A::kStockReads, G::kReads},
         [](Api& api, Call& c) { api.Snapshot(c.request, c.now_ms, c.respond); }},
    };
    for (Route& r : t) r.parts = Segments(r.info.pattern);
    return t;
  }();
  return routes;
}

void Api::Dispatch(const HttpRequest& request, std::int64_t now_ms, Respond respond,
                   const RunBlocking& blocking) {
  const auto seg = Segments(request.path);
  auto matches = [&seg](const Route& route, std::vector<std::string_view>* params) {
    if (route.parts.size() != seg.size()) return false;
    for (std::size_t i = 0; i < seg.size(); ++i) {
      const std::string_view part = route.parts[i];
      if (part.starts_with('{')) {
        if (seg[i].empty()) return false;
        if (params != nullptr) params->push_back(seg[i]);
      } else if (part != seg[i]) {
        return false;
      }
    }
    return true;
  };
  const Route* found = nullptr;
  const Route* first_of_path = nullptr;  // with another method
  // The probes and /metrics answer HEAD as GET: load balancers probe with either.
  const bool head = request.method == "HEAD";
  for (const Route& route : Table()) {
    if (!matches(route, nullptr)) continue;
    if (route.info.method == request.method ||
        (head && route.info.method == "GET" && route.info.group == RateGroup::kNone)) {
      found = &route;
      break;
    }
    if (first_of_path == nullptr) first_of_path = &route;
  }
  if (found == nullptr && first_of_path == nullptr) {
    return respond(
        ErrorResponse(Code::kNotFound, "no route " + request.method + " " + request.path));
  }
  if (found == nullptr) {
    std::string allow;
    for (const Route& route : Table()) {
      if (!matches(route, nullptr)) continue;
      allow += allow.empty() ? "" : ", ";
      allow += route.info.method;
    }
    HttpResponse r = MethodNotAllowed(request.method, allow);
    r.route = std::string(first_of_path->info.pattern);
    return respond(std::move(r));
  }

  const RouteInfo& info = found->info;
  std::vector<std::string_view> params;
  matches(*found, &params);
  Respond labelled = [respond = std::move(respond), route = info.pattern](HttpResponse r) {
    r.route = std::string(route);
    respond(std::move(r));
  };
  Call call{request, now_ms, std::move(params), Caller{}, std::move(labelled), blocking};
  if (info.group != RateGroup::kNone) {
    static constexpr Role kRoles[] = {Role::kViewer, Role::kViewer,  Role::kViewer,
                                      Role::kBuyer,  Role::kService, Role::kAdmin};
    const bool is_public = info.access == Access::kPublic ||
                           (info.access == Access::kStockReads && config_.public_stock_reads);
    HttpResponse refusal;
    if (!Admit(request, is_public, kRoles[static_cast<int>(info.access)], info.group, now_ms,
               &call.caller, &refusal)) {
      return call.respond(std::move(refusal));
    }
  }
  found->handle(*this, call);
}

namespace {

// The API reference page: swagger-ui rendering /openapi.json, all served by the origin itself.
constexpr std::string_view kDocsPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>stockgate API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body>
</html>
)html";

}  // namespace

HttpResponse Api::Static(std::string_view path) {
  struct File {
    std::string_view path, route, content_type, body;
  };
  const File files[] = {
      {"/openapi.json", "/openapi.json", "application/json", config_.openapi_json},
      {"/docs", "/docs", "text/html; charset=utf-8", kDocsPage},
      {"/docs/swagger-ui-bundle.js", "/docs/{asset}", "application/javascript",
       config_.swagger_ui_js},
      {"/docs/swagger-ui.css", "/docs/{asset}", "text/css", config_.swagger_ui_css},
  };
  for (const File& f : files) {
    if (f.path != path) continue;
    HttpResponse r;
    if (f.body.empty()) {
      r = ErrorResponse(Code::kNotFound, "not built into this server: " + std::string(path));
    } else {
      r.body = std::string(f.body);
      r.content_type = std::string(f.content_type);
      r.headers.emplace_back("Cache-Control", "public, max-age=3600");
    }
    r.route = std::string(f.route);
    return r;
  }
  HttpResponse r = ErrorResponse(Code::kNotFound, "no document " + std::string(path));
  r.route = "/docs/{asset}";
  return r;
}

void Api::SetStock(const HttpRequest& r, std::string_view sku_text, const std::string& actor,
                   std::int64_t now_ms, Respond respond) {
  std::int64_t sku = 0;
  if (auto p = core::ParseSku(sku_text, &sku); !p.ok()) return respond(FromProblem(p));
  core::SetStockRequest req;
  if (auto p = core::ParseSetStock(r.body, &req); !p.ok()) return respond(FromProblem(p));
  req.default_low_stock_threshold = config_.low_stock_threshold;
  store_.SetStockAsync(sku, req, actor, now_ms,
                       [this, respond = std::move(respond)](core::StockResult result) {
                         if (result.code != Code::kOk) return respond(StoreError(result, retry()));
                         respond(Json(result.created ? 201 : 200, StockJson(*result.stock)));
                       });
}

void Api::Adjust(const HttpRequest& r, std::string_view sku_text, const std::string& actor,
                 std::int64_t now_ms, Respond respond) {
  std::int64_t sku = 0;
  if (auto p = core::ParseSku(sku_text, &sku); !p.ok()) return respond(FromProblem(p));
  core::AdjustmentRequest req;
  if (auto p = core::ParseAdjustment(r.body, config_.max_adjustment, &req); !p.ok()) {
    return respond(FromProblem(p));
  }
  store_.AdjustAsync(sku, req, actor, now_ms,
                     [this, respond = std::move(respond)](core::StockResult result) {
                       if (result.code != Code::kOk) return respond(StoreError(result, retry()));
                       respond(Json(200, StockJson(*result.stock)));
                     });
}

void Api::GetStock(std::string_view sku_text, std::int64_t now_ms, Respond respond) {
  std::int64_t sku = 0;
  if (auto p = core::ParseSku(sku_text, &sku); !p.ok()) return respond(FromProblem(p));
  store_.GetStocksAsync({sku}, now_ms,
                        [this, respond = std::move(respond)](store::StockListResult list) {
                          if (list.code != Code::kOk) {
                            return respond(Unavailable(list.message, retry()));
                          }
                          const auto& result = list.items.at(0);
                          if (result.code != Code::kOk) {
                            return respond(StoreError(result, retry()));
                          }
                          respond(Json(200, StockJson(*result.stock)));
                        });
}

void Api::GetStocks(const HttpRequest& r, std::int64_t now_ms, Respond respond) {
  const auto it = r.query.find("skus");
  std::vector<std::int64_t> skus;
  if (auto p = core::ParseSkuList(it == r.query.end() ? "" : it->second, &skus); !p.ok()) {
    return respond(FromProblem(p));
  }
  store_.GetStocksAsync(
      skus, now_ms, [this, skus, respond = std::move(respond)](store::StockListResult list) {
        if (list.code != Code::kOk) return respond(Unavailable(list.message, retry()));
        json items = json::array();
        json unknown = json::array();
        for (std::size_t i = 0; i < skus.size(); ++i) {
          if (list.items[i].code == Code::kOk) {
            items.push_back(StockJson(*list.items[i].stock));
          } else {
            unknown.push_back(skus[i]);
          }
        }
        respond(Json(200, {{"items", std::move(items)}, {"unknown_skus", std::move(unknown)}}));
      });
}

void Api::Reserve(const HttpRequest& r, const std::string& actor, const std::string& owner,
                  std::int64_t now_ms, Respond respond) {
  core::ReservationRequest req;
  if (auto p = core::ParseReservation(r.body, &req); !p.ok()) return respond(FromProblem(p));
  if (!owner.empty()) {
    // A buyer reserves for itself: its sub is the customer, and the per-customer limits count
    // against it.
    if (!req.customer_id.empty() && req.customer_id != owner) {
      return respond(ErrorResponse(
          Code::kForbidden, "a buyer reserves for itself: customer_id must be the token's sub"));
    }
    if (!core::IsValidId(owner)) {
      return respond(ErrorResponse(Code::kForbidden,
                                   "this buyer token's sub is not a valid customer_id (1 to 64 of "
                                   "A-Z a-z 0-9 . _ : -)"));
    }
    req.customer_id = owner;
  }
  std::string location = "/v1/reservations/" + req.order_id;
  store_.ReserveAsync(req, actor, now_ms,
                      [this, location = std::move(location),
                       respond = std::move(respond)](core::ReservationResult result) {
                        if (result.code != Code::kOk) return respond(StoreError(result, retry()));
                        if (!result.reservation) return respond(MissingReservation(retry()));
                        HttpResponse out;
                        out.status = result.created ? 201 : 200;
                        out.body = ReservationBody(*result.reservation);
                        out.headers.emplace_back("Location", location);
                        respond(std::move(out));
                      });
}

// The answer of a call that returns a reservation.
Api::Done<core::ReservationResult> Api::ReservationAnswer(Respond respond) {
  return [this, respond = std::move(respond)](core::ReservationResult result) {
    if (result.code != Code::kOk) return respond(StoreError(result, retry()));
    if (!result.reservation) return respond(MissingReservation(retry()));
    HttpResponse out;
    out.body = ReservationBody(*result.reservation);
    respond(std::move(out));
  };
}

namespace {

// What a buyer hears about a reservation that is not its own: the same as for one that does
// not exist, so that order ids of other customers cannot be probed.
HttpResponse NotYours(const std::string& id) {
  return ErrorResponse(Code::kNotFound, "reservation " + id + " not found");
}

}  // namespace

void Api::GetReservation(std::string_view order_id, const std::string& owner, std::int64_t now_ms,
                         Respond respond, const RunBlocking& blocking) {
  std::string id;
  if (auto p = core::ParseOrderId(order_id, &id); !p.ok()) return respond(FromProblem(p));
  store_.GetReservationAsync(
      id, now_ms,
      [this, id, owner, answer = ReservationAnswer(respond), respond,
       blocking = RunBlocking(blocking)](core::ReservationResult result) {
        if (result.code == Code::kNotFound) {
          // Often on the store's I/O thread: the history is asked on the blocking pool.
          return blocking([this, id, owner, respond] { respond(Archived(id, owner)); });
        }
        if (!owner.empty() && result.reservation && result.reservation->customer_id != owner) {
          return respond(NotYours(id));
        }
        answer(std::move(result));
      });
}

HttpResponse Api::Archived(const std::string& id, const std::string& owner) {
  if (history_ == nullptr) {
    return ErrorResponse(Code::kNotFound,
                         "reservation " + id +
                             " not found (finished orders leave Redis after the retention "
                             "period; their history is in MariaDB)");
  }
  const history::ArchivedReservation a = history_->Reservation(id);
  if (a.code == Code::kUnavailable) {
    return Unavailable(
        "reservation " + id + " is not in Redis, and the history cannot say now: " + a.message,
        retry());
  }
  if (a.code != Code::kOk) return NotYours(id);
  const core::Result<core::ReservationView> r = store::ViewOfRecord(a.record);
  if (!r || (!owner.empty() && r->customer_id != owner)) return NotYours(id);
  HttpResponse out;
  out.body = R"({"archived":true,)" + ReservationBody(*r).substr(1);
  return out;
}

void Api::Transition(const HttpRequest& r, std::string_view order_id, std::string_view action,
                     const std::string& actor, const std::string& owner, std::int64_t now_ms,
                     Respond respond) {
  std::string id;
  if (auto p = core::ParseOrderId(order_id, &id); !p.ok()) return respond(FromProblem(p));
  if (!owner.empty()) {
    // Only release reaches here for a buyer (the route allows no other action). The owner of a
    // reservation never changes, so checking it first and releasing after is race-free.
    core::TransitionRequest req;
    if (auto p = core::ParseTransition(r.body, &req); !p.ok()) return respond(FromProblem(p));
    return store_.GetReservationAsync(
        id, now_ms,
        [this, id, owner, actor, now_ms, reason = req.reason,
         respond = std::move(respond)](core::ReservationResult found) {
          if (found.code == Code::kNotFound ||
              (found.reservation && found.reservation->customer_id != owner)) {
            return respond(NotYours(id));
          }
          if (found.code != Code::kOk) return respond(StoreError(found, retry()));
          store_.ReleaseAsync(id, actor, now_ms, reason, ReservationAnswer(respond));
        });
  }
  if (action == "extend") {
    core::ExtendRequest req;
    if (auto p = core::ParseExtend(r.body, &req); !p.ok()) return respond(FromProblem(p));
    return store_.ExtendAsync(id, req.ttl_seconds, actor, now_ms,
                              ReservationAnswer(std::move(respond)));
  }
  core::TransitionRequest req;
  if (auto p = core::ParseTransition(r.body, &req); !p.ok()) return respond(FromProblem(p));
  auto done = ReservationAnswer(std::move(respond));
  if (action == "confirm") {
    store_.ConfirmAsync(id, actor, now_ms, req.reason, std::move(done));
  } else if (action == "release") {
    store_.ReleaseAsync(id, actor, now_ms, req.reason, std::move(done));
  } else {
    store_.ReturnAsync(id, actor, now_ms, req.reason, std::move(done));
  }
}

void Api::Snapshot(const HttpRequest& r, std::int64_t now_ms, Respond respond) {
  store::SnapshotCursor since;
  if (const auto it = r.query.find("since"); it != r.query.end()) {
    auto cursor = store::ParseSnapshotCursor(it->second);
    if (!cursor) {
      return respond(FromProblem({Code::kInvalidRequest, "since",
                                  "since must be the cursor of an earlier snapshot: integers >= 0 "
                                  "joined by '.'"}));
    }
    since = std::move(*cursor);
  }
  store_.SnapshotAsync(since, now_ms,
                       [this, respond = std::move(respond)](store::SnapshotResult snap) {
                         if (snap.code != Code::kOk) {
                           return respond(Unavailable(snap.message, retry()));
                         }
                         json items = json::array();
                         for (const auto& item : snap.items) {
                           items.push_back({{"sku", item.sku}, {"available", item.available}});
                         }
                         respond(Json(200, {{"version", snap.version},
                                            {"cursor", store::FormatSnapshotCursor(snap.cursor)},
                                            {"items", std::move(items)}}));
                       });
}

// Without a reader the history routes answer 503. The reader answers kOk or kUnavailable (503);
// the queries it would refuse (an unknown op) are refused here first, with a field.
HttpResponse Api::History(const HttpRequest& r, std::string_view sku_text) {
  history::HistoryQuery query;
  if (auto p = core::ParseSku(sku_text, &query.sku); !p.ok()) return FromProblem(p);
  TimeRange range;
  if (auto p = ParseTimeRange(r, &range); !p.ok()) return FromProblem(p);
  query.from_ms = range.from_ms.value_or(history::kMinTime);
  query.to_ms = range.to_ms.value_or(history::kMaxTime);
  if (const std::string* op = QueryValue(r, "op")) {
    if (auto p = ParseLedgerOp(*op, &query.op); !p.ok()) return FromProblem(p);
  }
  if (const std::string* page = QueryValue(r, "page");
      page != nullptr && !ParseBoundedInt(*page, 1, kMaxHistoryPage, &query.page)) {
    return FromProblem(Invalid(
        "page", "page must be an integer between 1 and " + std::to_string(kMaxHistoryPage)));
  }
  if (const std::string* size = QueryValue(r, "page_size");
      size != nullptr && !ParseBoundedInt(*size, 1, history::kMaxPageSize, &query.page_size)) {
    return FromProblem(Invalid("page_size", "page_size must be an integer between 1 and " +
                                                std::to_string(history::kMaxPageSize)));
  }
  if (history_ == nullptr) return HistoryNotConfigured();
  const history::HistoryPage page = history_->History(query);
  if (page.code != Code::kOk) return HistoryError(page.code, page.message);
  json items = json::array();
  for (const auto& e : page.items) items.push_back(HistoryEventJson(e));
  return Json(200, {{"sku", query.sku},
                    {"page", query.page},
                    {"page_size", query.page_size},
                    {"total", page.total},
                    {"items", std::move(items)}});
}

HttpResponse Api::Summary(const HttpRequest& r) {
  TimeRange range;
  if (auto p = ParseTimeRange(r, &range); !p.ok()) return FromProblem(p);
  history::SummaryQuery query;
  query.from_ms = range.from_ms.value_or(history::kMinTime);
  query.to_ms = range.to_ms.value_or(history::kMaxTime);
  if (const std::string* skus = QueryValue(r, "skus")) {
    if (auto p = core::ParseSkuList(*skus, &query.skus); !p.ok()) return FromProblem(p);
  }
  if (history_ == nullptr) return HistoryNotConfigured();
  const history::SummaryResult result = history_->Summary(query);
  if (result.code != Code::kOk) return HistoryError(result.code, result.message);
  json items = json::array();
  for (const auto& row : result.rows) items.push_back(SummaryRowJson(row));
  auto bound = [](const std::optional<std::int64_t>& ms) {
    return ms ? json(FormatTime(*ms)) : json(nullptr);
  };
  return Json(
      200,
      {{"from", bound(range.from_ms)}, {"to", bound(range.to_ms)}, {"items", std::move(items)}});
}

HttpResponse Api::HistoryNotConfigured() const {
  return Unavailable("history is not configured on this origin (no history database)",
                     config_.unavailable_retry_after_s);
}

HttpResponse Api::HistoryError(Code code, std::string_view message) const {
  if (code != Code::kUnavailable) return ErrorResponse(code, message);
  return Unavailable(message.empty() ? "history database unavailable" : message,
                     config_.unavailable_retry_after_s);
}

}  // namespace stockgate::server
