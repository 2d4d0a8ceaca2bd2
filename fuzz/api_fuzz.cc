// Fuzz target: the origin's request handling (Api::Handle: routing, bearer tokens, query and path
// parameters, bodies) over the reference model store, one request per input. Input: byte 0 picks
// the method, byte 1 the Authorization header (none, a valid admin / service / viewer token, an
// expired one, or a line of the input), byte 2 whether X-Client-Id is sent, byte 3 a route
// template; then lines: the path parameter, the query string, (the raw header,) and the body.
// Checks: never a 500 or an undocumented status, every JSON answer parses and an error's code is
// the answer's, and the stock model keeps 0 <= reserved <= on_hand whatever the requests did.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"
#include "origin/server/api.h"
#include "origin/server/jwt_auth.h"
#include "tests/support/model_store.h"

namespace server = stockgate::server;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
constexpr std::int64_t kStartMs = 1'800'000'000'000;

constexpr std::string_view kMethods[] = {"GET",   "POST", "PUT", "DELETE",
                                         "PATCH", "HEAD", "get", ""};
// Route templates; {} is replaced by the input's first line.
constexpr std::string_view kRoutes[] = {
    "/v1/stock/{}",
    "/v1/stock",
    "/v1/stock/{}/adjustments",
    "/v1/stock/{}/history",
    "/v1/history/summary",
    "/v1/reservations",
    "/v1/reservations/{}",
    "/v1/reservations/{}/confirm",
    "/v1/reservations/{}/release",
    "/v1/reservations/{}/extend",
    "/v1/reservations/{}/return",
    "/v1/snapshot",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "{}",
};
const std::set<int> kStatuses = {200, 201, 400, 401, 403, 404, 405, 409, 410, 413, 429, 503};

struct World {
  stockgate::testing::ModelStore store;
  server::JwtAuth auth{std::string(kSecret)};
  std::unique_ptr<server::Api> api;
  std::string tokens[4];  // admin, service, viewer, expired admin
  std::int64_t now_ms = kStartMs;
  int calls = 0;

  World() {
    server::ApiConfig config;
    config.reservation_limit = {0, 1};  // unlimited: explore the handlers, not the 429
    config.read_limit = {0, 1};
    config.admin_limit = {0, 1};
    api = std::make_unique<server::Api>(
        store, nullptr, auth, config, [] { return true; }, [] { return std::string("# none\n"); });
    const std::int64_t exp = kStartMs / 1000 + 10 * 365 * 86400;
    tokens[0] = auth.Mint({"fuzz-admin", server::Role::kAdmin, exp}).value();
    tokens[1] = auth.Mint({"fuzz-service", server::Role::kService, exp}).value();
    tokens[2] = auth.Mint({"fuzz-viewer", server::Role::kViewer, exp}).value();
    tokens[3] = auth.Mint({"fuzz-old", server::Role::kAdmin, kStartMs / 1000 - 1}).value();
  }
};

std::string_view NextLine(std::string_view* rest) {
  const std::size_t nl = rest->find('\n');
  const std::string_view line = rest->substr(0, nl);
  *rest = nl == std::string_view::npos ? std::string_view() : rest->substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<World> world;
  if (!world || ++world->calls > 5000) world = std::make_unique<World>();  // bounded model
  if (size < 4) return 0;
  World& w = *world;
  std::string_view rest(reinterpret_cast<const char*>(data + 4), size - 4);
  const std::string_view param = NextLine(&rest);
  const std::string_view query = NextLine(&rest);

  server::HttpRequest req;
  req.method = std::string(kMethods[data[0] % std::size(kMethods)]);
  std::string path(kRoutes[data[3] % std::size(kRoutes)]);
  if (const std::size_t at = path.find("{}"); at != std::string::npos) {
    path.replace(at, 2, param);
  }
  req.path = path;
  for (std::string_view q = query; !q.empty();) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const std::size_t eq = pair.find('=');
    req.query.emplace(std::string(pair.substr(0, eq)),
                      eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
  }
  const int auth = data[1] % 8;
  if (auth < 4) req.authorization = "Bearer " + w.tokens[auth];
  if (auth == 4) req.authorization = std::string(NextLine(&rest));
  if (data[2] & 1) req.client_id = "fuzz-client";
  req.remote_addr = "127.0.0.1";
  req.body = std::string(rest);

  w.now_ms += 1000;
  const server::HttpResponse r = w.api->Handle(req, w.now_ms);

  FUZZ_CHECK(kStatuses.count(r.status) == 1);
  if (r.content_type.rfind("application/json", 0) == 0 && !r.event_stream) {
    const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    FUZZ_CHECK(!body.is_discarded());
    if (r.status >= 400) {
      FUZZ_CHECK(body.contains("error") && body["error"]["code"] == r.code);
    }
  }
  FUZZ_CHECK_STOCK(w.store.model());
  return 0;
}
