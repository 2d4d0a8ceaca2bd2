// Fuzz target: the gRPC request mapping (origin/grpc/mapping.cc) of both seeds' services, as the
// server runs it: a request message decoded from the input, translated into its HTTP request,
// answered by the Api over the reference model store, the answer translated into the seed's
// response message. Input: byte 0 picks the method, byte 1 the token (admin, service, viewer,
// none); the rest is the request message in protobuf wire format (inputs that do not decode are
// skipped, as the gRPC server refuses them). Reback and ReleaseStock run their read, the decision
// and the give-back. Checks: every status is one the mapping documents (never INTERNAL, never
// UNAVAILABLE from a healthy store), an error's message is never empty, and the stock model keeps
// 0 <= reserved <= on_hand whatever the requests did.
#include <google/protobuf/message.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "origin/grpc/mapping.h"
#include "origin/history/history_reader.h"
#include "origin/server/api.h"
#include "origin/server/jwt_auth.h"
#include "tests/support/model_store.h"

namespace grpcapi = stockgate::grpcapi;
namespace server = stockgate::server;
namespace inv = inventory;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-fuzz-secret-fuzz-secret-0123";
constexpr std::int64_t kStartMs = 1'800'000'000'000;

// A history with one event per page asked for, so the history calls translate real answers.
class OneEventHistory final : public stockgate::history::HistoryReader {
 public:
  stockgate::history::HistoryPage History(const stockgate::history::HistoryQuery& q) override {
    stockgate::history::HistoryPage page;
    page.total = 1;
    page.items.push_back({.event_id = "1800000000000-1",
                          .sku = q.sku,
                          .ref = "1001",
                          .op = "adjust",
                          .qty = -2,
                          .before = 5,
                          .after = 3,
                          .actor = "fuzz",
                          .reason = "",
                          .time_ms = kStartMs,
                          .version = 2});
    return page;
  }
  stockgate::history::SummaryResult Summary(const stockgate::history::SummaryQuery&) override {
    return {};
  }
  bool Ping() override { return true; }
  stockgate::history::ArchivedReservation Reservation(const std::string&) override {
    stockgate::history::ArchivedReservation none;
    none.code = stockgate::core::Code::kNotFound;
    none.message = "not found";
    return none;
  }
};

struct World {
  stockgate::testing::ModelStore store;
  OneEventHistory history;
  server::JwtAuth auth{std::string(kSecret)};
  std::unique_ptr<server::Api> api;
  std::string tokens[3];  // admin, service, viewer
  std::int64_t now_ms = kStartMs;
  int calls = 0;

  World() {
    server::ApiConfig config;
    config.reservation_limit = {0, 1};  // unlimited: explore the mapping, not the 429
    config.read_limit = {0, 1};
    config.admin_limit = {0, 1};
    api = std::make_unique<server::Api>(
        store, &history, auth, config, [] { return true; }, [] { return std::string(); });
    const std::int64_t exp = kStartMs / 1000 + 10 * 365 * 86400;
    tokens[0] = auth.Mint({"fuzz-admin", server::Role::kAdmin, exp}).value();
    tokens[1] = auth.Mint({"fuzz-service", server::Role::kService, exp}).value();
    tokens[2] = auth.Mint({"fuzz-viewer", server::Role::kViewer, exp}).value();
    // A few SKUs to sell from.
    for (int sku = 1; sku <= 3; ++sku) {
      server::HttpRequest set;
      set.method = "PUT";
      set.path = "/v1/stock/" + std::to_string(sku);
      set.body = R"({"on_hand":10})";
      set.authorization = "Bearer " + tokens[0];
      set.remote_addr = "127.0.0.1";
      api->Handle(set, now_ms);
    }
  }
};

// One method: decode the message from `wire`, then run it; the final status.
using Run = std::function<grpc::Status(
    const std::string& wire, bool* decoded,
    const std::function<server::HttpResponse(server::HttpRequest)>& send)>;

template <class Request>
bool Decode(const std::string& wire, Request* out) {
  return out->ParseFromString(wire);
}

template <class Request, class Response>
Run Simple() {
  return [](const std::string& wire, bool* decoded, const auto& send) {
    Request req;
    if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
    Response resp;
    return grpcapi::ToProto(send(grpcapi::FromProto(req)), &resp);
  };
}

// GiveBackOrder as the server runs it, with each request answered at once.
grpc::Status GiveBackThen(const std::string& order_id, std::vector<grpcapi::GiveBackItem> items,
                          const std::function<server::HttpResponse(server::HttpRequest)>& send) {
  grpc::Status status;
  grpcapi::GiveBackOrder(
      [&send](server::HttpRequest request, std::function<void(const server::HttpResponse&)> then) {
        then(send(std::move(request)));
      },
      order_id, std::move(items), [&status](const grpc::Status& s, bool) { status = s; });
  return status;
}

const std::vector<Run>& Methods() {
  static const std::vector<Run> methods = {
      Simple<inv::GetInventoryRequest, inv::InventoryResponse>(),
      Simple<inv::BatchGetInventoryRequest, inv::BatchInventoryResponse>(),
      Simple<inv::SetInventoryRequest, inv::InventoryResponse>(),
      [](const std::string& wire, bool* decoded, const auto& send) {
        inv::InventoryOperationRequest req;
        if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
        grpc::Status refusal;
        const auto http = grpcapi::FromProto(req, req.quantity() % 2 ? -1 : +1, "fuzz-r", &refusal);
        if (!http) return refusal;
        inv::InventoryResponse resp;
        return grpcapi::ToProto(send(*http), &resp);
      },
      Simple<inv::LockInventoryRequest, inv::LockInventoryResponse>(),
      Simple<inv::UnlockInventoryRequest, google::protobuf::Empty>(),
      Simple<inv::ConfirmReduceRequest, google::protobuf::Empty>(),
      Simple<inv::GetInventoryHistoryRequest, inv::InventoryHistoryListResponse>(),
      [](const std::string& wire, bool* decoded, const auto& send) {
        inv::GoodsInvInfo req;
        if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
        inv::GoodsInvInfo resp;
        google::protobuf::Empty empty;
        return req.num() % 2 ? grpcapi::ToProto(send(grpcapi::SetInvRequest(req)), &empty)
                             : grpcapi::ToProto(send(grpcapi::InvDetailRequest(req)), &resp);
      },
      Simple<inv::SellInfo, google::protobuf::Empty>(),
      [](const std::string& wire, bool* decoded, const auto& send) {
        inv::SellInfo req;
        if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
        std::vector<grpcapi::GiveBackItem> items;
        for (const auto& g : req.goods_info()) items.push_back({g.goods_id(), g.num()});
        return GiveBackThen(req.order_sn(), std::move(items), send);
      },
      [](const std::string& wire, bool* decoded, const auto& send) {
        inv::v1::RestockInventoryRequest req;
        if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
        grpc::Status refusal;
        const auto http = grpcapi::FromProto(req, "fuzz-r", &refusal);
        if (!http) return refusal;
        inv::v1::RestockInventoryResponse resp;
        return grpcapi::ToProto(send(*http), &resp);
      },
      Simple<inv::v1::GetStockRequest, inv::v1::GetStockResponse>(),
      Simple<inv::v1::BatchGetStockRequest, inv::v1::BatchGetStockResponse>(),
      [](const std::string& wire, bool* decoded, const auto& send) {
        inv::v1::DeductStockRequest req;
        if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
        grpc::Status refusal;
        const auto http = grpcapi::FromProto(req, &refusal);
        if (!http) return refusal;
        return grpcapi::StatusOf(send(*http));
      },
      [](const std::string& wire, bool* decoded, const auto& send) {
        inv::v1::ReleaseStockRequest req;
        if (!(*decoded = Decode(wire, &req))) return grpc::Status::OK;
        grpc::Status refusal;
        const auto order_id = grpcapi::SeedOrderId(req.order_id(), req.book_id(), &refusal);
        if (!order_id) return refusal;
        return GiveBackThen(*order_id, {{static_cast<std::int64_t>(req.book_id()), req.quantity()}},
                            send);
      },
      Simple<inv::v1::GetInventoryLogsRequest, inv::v1::GetInventoryLogsResponse>(),
  };
  return methods;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<World> world;
  if (!world || ++world->calls > 5000) world = std::make_unique<World>();  // bounded model
  if (size < 2) return 0;
  World& w = *world;
  const Run& run = Methods()[data[0] % Methods().size()];
  const int token = data[1] % 4;
  const std::string wire(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto send = [&](server::HttpRequest request) {
    if (token < 3) request.authorization = "Bearer " + w.tokens[token];
    request.remote_addr = "127.0.0.1";
    w.now_ms += 1000;
    return w.api->Handle(request, w.now_ms);
  };
  bool decoded = false;
  const grpc::Status status = run(wire, &decoded, send);
  if (!decoded) return 0;

  FUZZ_CHECK(status.error_code() != grpc::StatusCode::INTERNAL);
  FUZZ_CHECK(status.error_code() != grpc::StatusCode::UNAVAILABLE);
  FUZZ_CHECK(status.ok() || !status.error_message().empty());
  FUZZ_CHECK_STOCK(w.store.model());
  return 0;
}
