#include "origin/grpc/mapping.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace stockgate::grpcapi {
namespace {

using nlohmann::json;

HttpRequest Make(std::string method, std::string path, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  return r;
}

// Never throws: text that is not UTF-8 (it can come from metadata) is replaced, as the API does.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string StockPath(std::int64_t sku) { return "/v1/stock/" + std::to_string(sku); }
// Seed 004's ids are unsigned; one above 2^63 - 1 prints as itself and the API refuses it.
std::string StockPath(std::uint64_t sku) { return "/v1/stock/" + std::to_string(sku); }

std::int32_t Int32(const json& v) {
  if (!v.is_number_integer()) return 0;
  const auto n = v.get<std::int64_t>();
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(
      n, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()));
}

std::int64_t Int64(const json& v) { return v.is_number_integer() ? v.get<std::int64_t>() : 0; }

void SetTime(const json& text, google::protobuf::Timestamp* out) {
  if (!text.is_string()) return;
  const std::optional<std::int64_t> ms = server::ParseTime(text.get<std::string>());
  if (!ms) return;
  *out = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(*ms);
}

// The body of a successful answer as JSON; a body that is not JSON (it cannot be, unless
// mangled) is UNAVAILABLE, so the client retries.
grpc::Status Parse(const HttpResponse& a, json* out) {
  if (!Succeeded(a)) return StatusOf(a);
  *out = json::parse(a.body, nullptr, false);
  if (out->is_discarded() || !out->is_object()) {
    return {grpc::StatusCode::UNAVAILABLE, "the API answered without a readable body"};
  }
  return grpc::Status::OK;
}

void FillInventory(const json& s, inventory::InventoryResponse* out) {
  out->set_product_id(Int64(s.value("sku", json())));
  out->set_stock(Int32(s.value("on_hand", json())));
  out->set_locked(Int32(s.value("reserved", json())));
  out->set_available(Int32(s.value("available", json())));
  SetTime(s.value("updated_at", json()), out->mutable_updated_at());
}

void FillStock(const json& s, inventory::v1::GetStockResponse* out) {
  out->set_book_id(
      static_cast<std::uint64_t>(std::max<std::int64_t>(Int64(s.value("sku", json())), 0)));
  out->set_stock(Int32(s.value("available", json())));
  out->set_locked_stock(Int32(s.value("reserved", json())));
  out->set_total_stock(Int32(s.value("on_hand", json())));
}

template <class Ids>
std::string SkuList(const Ids& ids) {
  std::string out;
  for (const auto id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

HttpRequest StocksRead(std::string skus) {
  HttpRequest r = Make("GET", "/v1/stock");
  r.query["skus"] = std::move(skus);
  return r;
}

// The history query of both seeds: 0 (unset) page and page_size take the API's defaults.
HttpRequest HistoryRead(const std::string& sku_path, std::int32_t page, std::int32_t page_size) {
  HttpRequest r = Make("GET", sku_path + "/history");
  if (page != 0) r.query["page"] = std::to_string(page);
  if (page_size != 0) r.query["page_size"] = std::to_string(page_size);
  return r;
}

// A Timestamp as RFC 3339 text with all its digits, for the API's ParseTime to judge (the range
// and the rounding of a sub-millisecond rest are its rules); one that is not a valid Timestamp
// (seconds outside years 1..9999, nanos outside 0..999999999) as text the API refuses.
std::string TimeQuery(const google::protobuf::Timestamp& t) {
  using google::protobuf::util::TimeUtil;
  if (t.seconds() < TimeUtil::kTimestampMinSeconds ||
      t.seconds() > TimeUtil::kTimestampMaxSeconds || t.nanos() < 0 || t.nanos() > 999'999'999) {
    return "invalid Timestamp (seconds " + std::to_string(t.seconds()) + ", nanos " +
           std::to_string(t.nanos()) + ")";
  }
  return TimeUtil::ToString(t);
}

std::string ReservationPath(std::string_view order_id) {
  return "/v1/reservations/" + std::string(order_id);
}

// A history event's id as the seeds' integer: its stream entry id "<ms>-<seq>" as
// ms * 1,000,000 + seq, unique and in the same order while seq stays under a million.
std::int64_t EventNumber(const std::string& event_id) {
  const std::size_t dash = event_id.find('-');
  if (dash == std::string::npos) return 0;
  std::int64_t ms = 0;
  std::int64_t seq = 0;
  std::from_chars(event_id.data(), event_id.data() + dash, ms);
  std::from_chars(event_id.data() + dash + 1, event_id.data() + event_id.size(), seq);
  return ms * 1'000'000 + std::min<std::int64_t>(seq, 999'999);
}

// An event's order reference as seed 004's numeric order_id: the order of "<order_id>:<book_id>"
// (SeedOrderId), or a reference that is a number; 0 for anything else (an order placed through
// HTTP with another id, an adjustment's request_id).
std::uint64_t NumericRef(const std::string& ref) {
  std::uint64_t order = 0;
  const char* end = ref.data() + ref.size();
  const auto [stop, ec] = std::from_chars(ref.data(), end, order);
  if (ec != std::errc()) return 0;
  if (stop == end) return order;
  std::uint64_t book = 0;
  const auto [book_stop, book_ec] = std::from_chars(stop + 1, end, book);
  return *stop == ':' && book_ec == std::errc() && book_stop == end ? order : 0;
}

json Item(std::int64_t sku, std::int64_t qty) { return {{"sku", sku}, {"qty", qty}}; }

// The operation names of one ledger op in both seeds (adjust: by its sign, below).
struct OpNames {
  core::LedgerOp op;
  std::string_view operation_type;  // seed 000
  std::string_view change_type;     // seed 004
};
constexpr OpNames kOpNames[] = {
    {core::LedgerOp::kSet, "SET", "set"},
    {core::LedgerOp::kReserve, "LOCK", "lock"},
    {core::LedgerOp::kConfirm, "CONFIRM", "deduct"},
    {core::LedgerOp::kRelease, "UNLOCK", "release"},
    {core::LedgerOp::kExpire, "EXPIRE", "expire"},
    {core::LedgerOp::kReturn, "RETURN", "return"},
};

}  // namespace

grpc::StatusCode GrpcCode(core::Code code) {
  using core::Code;
  switch (code) {
    case Code::kOk:
      return grpc::StatusCode::OK;
    case Code::kInvalidRequest:
    case Code::kPayloadTooLarge:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kForbidden:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Code::kNotFound:
    case Code::kUnknownSku:
      return grpc::StatusCode::NOT_FOUND;
    case Code::kInsufficientStock:
    case Code::kInvalidState:
    case Code::kCustomerLimitExceeded:
    case Code::kReservationExpired:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kIdempotencyConflict:
      return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kRateLimited:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
  }
  return grpc::StatusCode::INTERNAL;
}

bool Succeeded(const HttpResponse& answer) { return answer.status >= 200 && answer.status < 300; }

grpc::Status StatusOf(const HttpResponse& answer) {
  if (Succeeded(answer)) return grpc::Status::OK;
  core::Code code = core::Code::kUnavailable;
  const bool known = core::CodeFromName(answer.code, &code);
  std::string message = answer.code;
  const json body = json::parse(answer.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const json& error = body["error"];
    if (error.contains("message") && error["message"].is_string()) {
      message = error["message"].get<std::string>();
    }
  }
  // The error body rides along as the status's details (the API's JSON, fail_items included).
  return {known ? GrpcCode(code) : grpc::StatusCode::INTERNAL, message, answer.body};
}

std::string OperationType(std::string_view op, std::int64_t qty) {
  if (op == core::LedgerOpName(core::LedgerOp::kAdjust)) return qty < 0 ? "REDUCE" : "ADD";
  for (const OpNames& n : kOpNames) {
    if (core::LedgerOpName(n.op) == op) return std::string(n.operation_type);
  }
  return std::string(op);
}

std::string ChangeType(std::string_view op, std::int64_t qty) {
  if (op == core::LedgerOpName(core::LedgerOp::kAdjust)) return qty < 0 ? "writeoff" : "restock";
  for (const OpNames& n : kOpNames) {
    if (core::LedgerOpName(n.op) == op) return std::string(n.change_type);
  }
  return std::string(op);
}

// --- seed 000 ---------------------------------------------------------------------------------

HttpRequest FromProto(const inventory::GetInventoryRequest& r) {
  return Make("GET", StockPath(r.product_id()));
}

HttpRequest FromProto(const inventory::BatchGetInventoryRequest& r) {
  return StocksRead(SkuList(r.product_ids()));
}

HttpRequest FromProto(const inventory::SetInventoryRequest& r) {
  json body = {{"on_hand", r.stock()}};
  if (!r.operator_().empty()) body["reason"] = r.operator_();
  return Make("PUT", StockPath(r.product_id()), Dump(body));
}

std::optional<HttpRequest> FromProto(const inventory::InventoryOperationRequest& r, int sign,
                                     const std::string& request_id, grpc::Status* refusal) {
  if (r.quantity() < 0) {
    *refusal = {grpc::StatusCode::INVALID_ARGUMENT,
                "quantity must be positive: AddInventory adds it, ReduceInventory takes it away"};
    return std::nullopt;
  }
  json body = {{"delta", static_cast<std::int64_t>(r.quantity()) * sign},
               {"request_id", request_id}};
  // The seed's operator and remark become the ledger event's reason ("operator: remark").
  std::string reason = r.operator_();
  if (!r.remark().empty()) reason += (reason.empty() ? "" : ": ") + r.remark();
  if (!reason.empty()) body["reason"] = reason;
  return Make("POST", StockPath(r.product_id()) + "/adjustments", Dump(body));
}

HttpRequest FromProto(const inventory::LockInventoryRequest& r) {
  json items = json::array();
  for (const auto& item : r.items()) items.push_back(Item(item.product_id(), item.quantity()));
  json body = {{"order_id", r.lock_key()}, {"items", std::move(items)}};
  if (r.timeout_seconds() != 0) body["ttl_seconds"] = r.timeout_seconds();
  return Make("POST", "/v1/reservations", Dump(body));
}

HttpRequest FromProto(const inventory::UnlockInventoryRequest& r) {
  return Make("POST", ReservationPath(r.lock_key()) + "/release", "{}");
}

HttpRequest FromProto(const inventory::ConfirmReduceRequest& r) {
  return Make("POST", ReservationPath(r.lock_key()) + "/confirm", "{}");
}

HttpRequest FromProto(const inventory::GetInventoryHistoryRequest& r) {
  HttpRequest out = HistoryRead(StockPath(r.product_id()), r.page(), r.page_size());
  if (r.has_start_time()) out.query["from"] = TimeQuery(r.start_time());
  if (r.has_end_time()) out.query["to"] = TimeQuery(r.end_time());
  return out;
}

HttpRequest SetInvRequest(const inventory::GoodsInvInfo& r) {
  return Make("PUT", StockPath(static_cast<std::int64_t>(r.goods_id())),
              Dump({{"on_hand", r.num()}}));
}

HttpRequest InvDetailRequest(const inventory::GoodsInvInfo& r) {
  return Make("GET", StockPath(static_cast<std::int64_t>(r.goods_id())));
}

HttpRequest FromProto(const inventory::SellInfo& r) {
  json items = json::array();
  for (const auto& g : r.goods_info()) items.push_back(Item(g.goods_id(), g.num()));
  return Make("POST", "/v1/reservations",
              Dump({{"order_id", r.order_sn()}, {"items", std::move(items)}, {"confirm", true}}));
}

grpc::Status ToProto(const HttpResponse& a, inventory::InventoryResponse* out) {
  json s;
  if (grpc::Status st = Parse(a, &s); !st.ok()) return st;
  FillInventory(s, out);
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, inventory::BatchInventoryResponse* out) {
  json list;
  if (grpc::Status st = Parse(a, &list); !st.ok()) return st;
  // SKUs never set are left out, as the seed's store leaves out rows it does not have.
  for (const json& s : list.value("items", json::array())) FillInventory(s, out->add_inventories());
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, inventory::LockInventoryResponse* out) {
  if (a.code == core::CodeName(core::Code::kInsufficientStock)) {
    const json body = json::parse(a.body, nullptr, false);
    const json error = body.is_object() ? body.value("error", json::object()) : json::object();
    out->set_success(false);
    out->set_message(error.value("message", std::string("insufficient stock")));
    for (const json& f : error.value("fail_items", json::array())) {
      inventory::LockFailItem* item = out->add_fail_items();
      item->set_product_id(Int64(f.value("sku", json())));
      item->set_quantity(Int32(f.value("requested", json())));
      item->set_available(Int32(f.value("available", json())));
      item->set_reason("insufficient_stock");
    }
    return grpc::Status::OK;
  }
  json r;
  if (grpc::Status st = Parse(a, &r); !st.ok()) return st;
  out->set_success(true);
  out->set_message(a.status == 201 ? "locked" : "already locked (a retry: nothing changed)");
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, google::protobuf::Empty*) { return StatusOf(a); }

grpc::Status ToProto(const HttpResponse& a, inventory::InventoryHistoryListResponse* out) {
  json page;
  if (grpc::Status st = Parse(a, &page); !st.ok()) return st;
  out->set_total(Int32(page.value("total", json())));
  for (const json& e : page.value("items", json::array())) {
    inventory::InventoryHistoryResponse* h = out->add_history();
    h->set_id(EventNumber(e.value("event_id", std::string())));
    h->set_product_id(Int64(e.value("sku", json())));
    const std::int64_t qty = Int64(e.value("qty", json()));
    h->set_quantity(Int32(qty));
    h->set_stock_before(Int32(e.value("before", json())));
    h->set_stock_after(Int32(e.value("after", json())));
    h->set_operation_type(OperationType(e.value("op", std::string()), qty));
    h->set_operator_(e.value("actor", std::string()));
    h->set_remark(e.value("reason", std::string()));
    SetTime(e.value("time", json()), h->mutable_created_at());
  }
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, inventory::GoodsInvInfo* out) {
  json s;
  if (grpc::Status st = Parse(a, &s); !st.ok()) return st;
  out->set_goods_id(Int32(s.value("sku", json())));
  out->set_num(Int32(s.value("available", json())));
  return grpc::Status::OK;
}

// --- seed 004 ---------------------------------------------------------------------------------

std::optional<HttpRequest> FromProto(const inventory::v1::RestockInventoryRequest& r,
                                     const std::string& request_id, grpc::Status* refusal) {
  if (r.quantity() < 0) {
    *refusal = {grpc::StatusCode::INVALID_ARGUMENT, "quantity must be positive: a restock adds it"};
    return std::nullopt;
  }
  return Make("POST", StockPath(r.book_id()) + "/adjustments",
              Dump({{"delta", r.quantity()}, {"request_id", request_id}}));
}

HttpRequest FromProto(const inventory::v1::GetStockRequest& r) {
  return Make("GET", StockPath(r.book_id()));
}

HttpRequest FromProto(const inventory::v1::BatchGetStockRequest& r) {
  return StocksRead(SkuList(r.book_ids()));
}

std::optional<HttpRequest> FromProto(const inventory::v1::DeductStockRequest& r,
                                     grpc::Status* refusal) {
  const std::optional<std::string> order_id = SeedOrderId(r.order_id(), r.book_id(), refusal);
  if (!order_id) return std::nullopt;
  return Make("POST", "/v1/reservations",
              Dump({{"order_id", *order_id},
                    {"items", json::array({{{"sku", r.book_id()}, {"qty", r.quantity()}}})},
                    {"confirm", true}}));
}

HttpRequest FromProto(const inventory::v1::GetInventoryLogsRequest& r) {
  return HistoryRead(StockPath(r.book_id()), r.page(), r.page_size());
}

grpc::Status ToProto(const HttpResponse& a, inventory::v1::RestockInventoryResponse* out) {
  std::int32_t available = 0;
  if (grpc::Status st = AvailableOf(a, &available); !st.ok()) return st;
  // The API answers a new adjustment and a retry of one alike: the stock is as restocked.
  out->set_message("restocked");
  out->set_current_stock(available);
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, inventory::v1::GetStockResponse* out) {
  json s;
  if (grpc::Status st = Parse(a, &s); !st.ok()) return st;
  FillStock(s, out);
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, inventory::v1::BatchGetStockResponse* out) {
  json list;
  if (grpc::Status st = Parse(a, &list); !st.ok()) return st;
  for (const json& s : list.value("items", json::array())) FillStock(s, out->add_stocks());
  return grpc::Status::OK;
}

grpc::Status ToProto(const HttpResponse& a, inventory::v1::GetInventoryLogsResponse* out) {
  json page;
  if (grpc::Status st = Parse(a, &page); !st.ok()) return st;
  out->set_total(Int32(page.value("total", json())));
  for (const json& e : page.value("items", json::array())) {
    inventory::v1::InventoryLog* log = out->add_logs();
    log->set_id(static_cast<std::uint64_t>(
        std::max<std::int64_t>(EventNumber(e.value("event_id", std::string())), 0)));
    log->set_book_id(
        static_cast<std::uint64_t>(std::max<std::int64_t>(Int64(e.value("sku", json())), 0)));
    const std::int64_t qty = Int64(e.value("qty", json()));
    log->set_change_type(ChangeType(e.value("op", std::string()), qty));
    log->set_quantity(Int32(qty));
    log->set_before_stock(Int32(e.value("before", json())));
    log->set_after_stock(Int32(e.value("after", json())));
    log->set_order_id(NumericRef(e.value("ref", std::string())));
    log->set_remark(e.value("reason", std::string()));
    SetTime(e.value("time", json()), log->mutable_created_at());
  }
  return grpc::Status::OK;
}

grpc::Status AvailableOf(const HttpResponse& a, std::int32_t* out) {
  json s;
  if (grpc::Status st = Parse(a, &s); !st.ok()) return st;
  *out = Int32(s.value("available", json()));
  return grpc::Status::OK;
}

// --- giving back ------------------------------------------------------------------------------

HttpRequest ReservationRead(std::string_view order_id) {
  return Make("GET", ReservationPath(order_id));
}

std::optional<HttpRequest> GiveBack(const HttpResponse& read, std::vector<GiveBackItem> items,
                                    grpc::Status* status) {
  json r;
  if (*status = Parse(read, &r); !status->ok()) return std::nullopt;
  std::vector<GiveBackItem> held;
  for (const json& i : r.value("items", json::array())) {
    held.push_back({Int64(i.value("sku", json())), Int64(i.value("qty", json()))});
  }
  const auto by_sku = [](const GiveBackItem& x, const GiveBackItem& y) {
    return x.sku != y.sku ? x.sku < y.sku : x.qty < y.qty;
  };
  std::sort(held.begin(), held.end(), by_sku);
  std::sort(items.begin(), items.end(), by_sku);
  const std::string order_id = r.value("order_id", std::string());
  if (!std::equal(held.begin(), held.end(), items.begin(), items.end(),
                  [](const GiveBackItem& x, const GiveBackItem& y) {
                    return x.sku == y.sku && x.qty == y.qty;
                  })) {
    *status = {grpc::StatusCode::INVALID_ARGUMENT,
               "order " + order_id +
                   " holds other items than the ones named: an order is given back whole, "
                   "with the items it was placed with"};
    return std::nullopt;
  }
  const std::string state = r.value("status", std::string());
  *status = grpc::Status::OK;
  if (state == core::ReservationStatusName(core::ReservationStatus::kReserved)) {
    return Make("POST", ReservationPath(order_id) + "/release", "{}");
  }
  if (state == core::ReservationStatusName(core::ReservationStatus::kConfirmed)) {
    return Make("POST", ReservationPath(order_id) + "/return", "{}");
  }
  return std::nullopt;  // released, expired or returned: already given back
}

namespace {

void GiveBackOrder(SendThen send, std::string order_id, std::vector<GiveBackItem> items,
                   std::function<void(const grpc::Status&, bool changed)> done, int attempts) {
  HttpRequest read = ReservationRead(order_id);
  send(std::move(read), [send, order_id = std::move(order_id), items = std::move(items),
                         done = std::move(done), attempts](const HttpResponse& answer) mutable {
    grpc::Status status;
    std::optional<HttpRequest> next = GiveBack(answer, items, &status);
    if (!next) return done(status, false);
    send(std::move(*next), [send, order_id = std::move(order_id), items = std::move(items),
                            done = std::move(done), attempts](const HttpResponse& given) mutable {
      const bool moved = given.code == core::CodeName(core::Code::kInvalidState) ||
                         given.code == core::CodeName(core::Code::kReservationExpired);
      if (moved && attempts > 1) {
        return GiveBackOrder(std::move(send), std::move(order_id), std::move(items),
                             std::move(done), attempts - 1);
      }
      done(StatusOf(given), true);
    });
  });
}

}  // namespace

void GiveBackOrder(SendThen send, std::string order_id, std::vector<GiveBackItem> items,
                   std::function<void(const grpc::Status&, bool changed)> done) {
  GiveBackOrder(std::move(send), std::move(order_id), std::move(items), std::move(done), 2);
}

std::optional<std::string> SeedOrderId(std::uint64_t order_id, std::uint64_t book_id,
                                       grpc::Status* refusal) {
  if (order_id == 0) {
    *refusal = {grpc::StatusCode::INVALID_ARGUMENT, "order_id is required (1 or more)"};
    return std::nullopt;
  }
  return std::to_string(order_id) + ":" + std::to_string(book_id);
}

}  // namespace stockgate::grpcapi
