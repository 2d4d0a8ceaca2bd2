// The gRPC layer's translation, without sockets: each request of the seeds' services becomes the
// HTTP API request that does its job, and each API answer becomes the seed's response message or
// a gRPC status. Bounds, authentication, roles, rate limits, idempotency and every store call are
// the Api's (origin/server/api.h). What is here is the seeds' vocabulary (field names, which of
// our numbers each of theirs is, which gRPC status each API code is) and the few things the seeds
// mean that the HTTP API does not say: an order given back whole (a hold released, a sale
// returned), seed 004's per-book order keys, and quantities whose sign the method gives.
#ifndef STOCKGATE_ORIGIN_GRPC_MAPPING_H_
#define STOCKGATE_ORIGIN_GRPC_MAPPING_H_

#include <google/protobuf/empty.pb.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "inventory/inventory.pb.h"
#include "inventory/v1/inventory.pb.h"
#include "origin/server/api.h"

namespace stockgate::grpcapi {

using server::HttpRequest;
using server::HttpResponse;

// The gRPC status code of each API code (docs/api.md has the table).
grpc::StatusCode GrpcCode(core::Code code);
// The status of an API answer: OK for a 2xx, else GrpcCode of its error.code with its message.
grpc::Status StatusOf(const HttpResponse& answer);
bool Succeeded(const HttpResponse& answer);

// What a ledger op is called in each seed's history answers: seed 000's operation_type (its
// ADD, REDUCE, LOCK, UNLOCK, and upper-case names for the rest) and seed 004's change_type (its
// deduct, release, restock, and our names for the rest). `qty` tells a restock from a write-off.
std::string OperationType(std::string_view op, std::int64_t qty);
std::string ChangeType(std::string_view op, std::int64_t qty);

// --- seed 000: inventory.InventoryService -------------------------------------------------

HttpRequest FromProto(const inventory::GetInventoryRequest& r);
HttpRequest FromProto(const inventory::BatchGetInventoryRequest& r);
HttpRequest FromProto(const inventory::SetInventoryRequest& r);
// AddInventory (sign +1) and ReduceInventory (sign -1): an adjustment keyed by `request_id`.
// A negative quantity is refused here (it would turn an add into a reduce): nullopt, with
// *refusal set.
std::optional<HttpRequest> FromProto(const inventory::InventoryOperationRequest& r, int sign,
                                     const std::string& request_id, grpc::Status* refusal);
HttpRequest FromProto(const inventory::LockInventoryRequest& r);
HttpRequest FromProto(const inventory::UnlockInventoryRequest& r);
HttpRequest FromProto(const inventory::ConfirmReduceRequest& r);
HttpRequest FromProto(const inventory::GetInventoryHistoryRequest& r);
// SetInv, InvDetail, Sell (a direct sale: the seed has no confirm call for it).
HttpRequest SetInvRequest(const inventory::GoodsInvInfo& r);
HttpRequest InvDetailRequest(const inventory::GoodsInvInfo& r);
HttpRequest FromProto(const inventory::SellInfo& r);

grpc::Status ToProto(const HttpResponse& a, inventory::InventoryResponse* out);
grpc::Status ToProto(const HttpResponse& a, inventory::BatchInventoryResponse* out);
// Insufficient stock is an answer here, not an error: success false with fail_items, as the
// seed's order service reads it.
grpc::Status ToProto(const HttpResponse& a, inventory::LockInventoryResponse* out);
grpc::Status ToProto(const HttpResponse& a, google::protobuf::Empty* out);
grpc::Status ToProto(const HttpResponse& a, inventory::InventoryHistoryListResponse* out);
grpc::Status ToProto(const HttpResponse& a, inventory::GoodsInvInfo* out);

// --- seed 004: inventory.v1.InventoryService ----------------------------------------------

// An adjustment keyed by `request_id`; a negative quantity is refused here, as for AddInventory.
std::optional<HttpRequest> FromProto(const inventory::v1::RestockInventoryRequest& r,
                                     const std::string& request_id, grpc::Status* refusal);
HttpRequest FromProto(const inventory::v1::GetStockRequest& r);
HttpRequest FromProto(const inventory::v1::BatchGetStockRequest& r);
// A direct sale; order_id 0 (unset) is refused here: nullopt, with *refusal set.
std::optional<HttpRequest> FromProto(const inventory::v1::DeductStockRequest& r,
                                     grpc::Status* refusal);
HttpRequest FromProto(const inventory::v1::GetInventoryLogsRequest& r);

grpc::Status ToProto(const HttpResponse& a, inventory::v1::RestockInventoryResponse* out);
grpc::Status ToProto(const HttpResponse& a, inventory::v1::GetStockResponse* out);
grpc::Status ToProto(const HttpResponse& a, inventory::v1::BatchGetStockResponse* out);
grpc::Status ToProto(const HttpResponse& a, inventory::v1::GetInventoryLogsResponse* out);
// The available units of a stock answer (DeductStock's remaining_stock, ReleaseStock's
// current_stock).
grpc::Status AvailableOf(const HttpResponse& a, std::int32_t* out);

// --- giving an order back (Reback, ReleaseStock) -------------------------------------------
// The seeds give back by order: a hold is released, a sale is returned, and an order already
// given back is left as it is. These read the order first (GET /v1/reservations/{id}), check it
// is the order the caller names, and say what to send next.

HttpRequest ReservationRead(std::string_view order_id);
struct GiveBackItem {
  std::int64_t sku = 0;
  std::int64_t qty = 0;
};
// After the read: the request that gives the order back, nullopt when there is nothing left to
// give back (*status OK) or the read failed or the order is not the one named (*status says
// why). `items` is what the caller named, in any order.
std::optional<HttpRequest> GiveBack(const HttpResponse& read, std::vector<GiveBackItem> items,
                                    grpc::Status* status);
// Sends one request to the API and calls back with its answer (at once, or later).
using SendThen =
    std::function<void(HttpRequest, std::function<void(const HttpResponse&)> answered)>;
// Reback and ReleaseStock whole: read the order, give it back (release a hold, return a sale),
// then `done` with the outcome and whether anything changed. When the order moved between the
// read and the change (it expired, or was confirmed), it is read and judged once more.
void GiveBackOrder(SendThen send, std::string order_id, std::vector<GiveBackItem> items,
                   std::function<void(const grpc::Status&, bool changed)> done);
// Seed 004's deductions are keyed by (book_id, order_id), one book per call: our order_id is
// "<order_id>:<book_id>", so an order of several books is several orders here, each retried and
// released on its own. order_id 0 (unset) is refused: nullopt, with *refusal set.
std::optional<std::string> SeedOrderId(std::uint64_t order_id, std::uint64_t book_id,
                                       grpc::Status* refusal);

}  // namespace stockgate::grpcapi

#endif  // STOCKGATE_ORIGIN_GRPC_MAPPING_H_
