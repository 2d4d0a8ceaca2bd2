#include "origin/store/redis_inventory_store.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "origin/store/ledger_stream.h"

namespace stockgate::store {

namespace {

using core::FailItem;
using core::Item;
using core::ReservationStatus;
using core::ReservationView;
using core::StockView;
using nlohmann::json;

// Checked field readers: scripts produce these shapes, but a wrong type must not abort the process
// (nlohmann without exceptions aborts on a type error).
const json* Field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::int64_t Int(const json& j, const char* key) {
  const json* f = Field(j, key);
  return f != nullptr && f->is_number() ? f->get<std::int64_t>() : 0;
}

std::string Str(const json& j, const char* key) {
  const json* f = Field(j, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

bool Bool(const json& j, const char* key) {
  const json* f = Field(j, key);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}

const json& Sub(const json& j, const char* key) {
  static const json kNull;
  const json* f = Field(j, key);
  return f != nullptr ? *f : kNull;
}

// SKUs travel as decimal strings (Lua numbers cannot hold 2^53-1 exactly in text form).
std::int64_t Sku(const json& j) {
  std::int64_t sku = 0;  // 0 is never a valid SKU: a malformed answer cannot alias a real one
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    std::from_chars(s.data(), s.data() + s.size(), sku);
  } else if (j.is_number_integer()) {
    sku = j.get<std::int64_t>();
  }
  return sku;
}

StockView StockOf(const json& j) {
  StockView v;
  v.sku = Sku(Sub(j, "sku"));
  v.on_hand = Int(j, "on_hand");
  v.reserved = Int(j, "reserved");
  v.available = Int(j, "available");
  v.sold = Int(j, "sold");
  v.version = Int(j, "version");
  v.per_customer_limit = Int(j, "per_customer_limit");
  v.updated_at_ms = Int(j, "updated_at");
  return v;
}

// "order_id|record" (lua/common.lua public_view); nullopt when malformed.
std::optional<ReservationView> ReservationOf(const json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string& text = j.get_ref<const std::string&>();
  const auto bar = text.find('|');
  if (bar == std::string::npos) return std::nullopt;
  core::Result<ReservationView> v = ParseReservationRecord(std::string_view(text).substr(bar + 1));
  if (!v) return std::nullopt;
  v->order_id = text.substr(0, bar);
  return std::move(v).value();
}

std::vector<FailItem> FailItemsOf(const json& j) {
  std::vector<FailItem> out;
  // cjson encodes an empty table as {}, so only an array holds items.
  if (const json& items = Sub(j, "fail_items"); items.is_array()) {
    for (const json& f : items) {
      out.push_back({Sku(Sub(f, "sku")), Int(f, "requested"), Int(f, "available")});
    }
  }
  return out;
}

std::string ItemsArg(const std::vector<Item>& items) {
  std::string out;
  for (const Item& item : items) {
    if (!out.empty()) out += ',';
    out += std::to_string(item.sku);
    out += ':';
    out += std::to_string(item.qty);
  }
  return out;
}

// An operation's answer as code, message and JSON body; a transport failure or an answer that
// is not a JSON object with a known code is kUnavailable: the operation's outcome is unknown, and
// retrying with the same key is the only honest advice.
struct Outcome {
  Code code = Code::kOk;
  std::string message;
  json body;
};

Outcome OutcomeOf(const CommandResult& r, const ScriptOp& op) {
  Outcome out;
  if (!r.ok()) {
    out.code = Code::kUnavailable;
    out.message = r.error();  // the client words it: "redis ..."
    return out;
  }
  if (r->type != Reply::Type::kString) {
    out.code = Code::kUnavailable;
    out.message = "redis script " + op.name + " failed: " + r->str;
    return out;
  }
  out.body = json::parse(r->str, nullptr, false);
  if (out.body.is_discarded() || !out.body.is_object()) {
    out.code = Code::kUnavailable;
    out.message = "redis script " + op.name + " answered malformed JSON";
    return out;
  }
  const std::string code = Str(out.body, "code");
  if (!core::CodeFromName(code, &out.code)) {
    out.code = Code::kUnavailable;
    out.message = "redis script answered unknown code " + code;
    return out;
  }
  out.message = Str(out.body, "message");
  return out;
}

template <class Result>
Result Base(Outcome& o) {
  Result result;
  result.code = o.code;
  result.message = std::move(o.message);
  result.fail_items = FailItemsOf(o.body);
  result.created = Bool(o.body, "created");
  result.replayed = Bool(o.body, "replayed");
  return result;
}

StockResult DecodeStock(const CommandResult& r, const ScriptOp& op) {
  Outcome o = OutcomeOf(r, op);
  auto result = Base<StockResult>(o);
  if (const json& stock = Sub(o.body, "stock"); stock.is_object()) result.stock = StockOf(stock);
  return result;
}

ReservationResult DecodeReservation(const CommandResult& r, const ScriptOp& op) {
  Outcome o = OutcomeOf(r, op);
  auto result = Base<ReservationResult>(o);
  result.reservation = ReservationOf(Sub(o.body, "reservation"));
  return result;
}

// The read op's arguments are "stock" and the SKUs asked for, in order.
StockListResult DecodeStockList(const CommandResult& r, const ScriptOp& op) {
  Outcome o = OutcomeOf(r, op);
  StockListResult out;
  out.code = o.code;
  out.message = std::move(o.message);
  if (o.code != Code::kOk) return out;
  const json& items = Sub(o.body, "items");
  for (std::size_t i = 1; i < op.args.size(); ++i) {
    const std::size_t k = i - 1;
    StockResult one;
    if (items.is_array() && k < items.size() && Field(items[k], "code") == nullptr) {
      one.message = "ok";
      one.stock = StockOf(items[k]);
    } else {
      one.code = Code::kUnknownSku;
      one.message = "unknown sku " + op.args[i];
    }
    out.items.push_back(std::move(one));
  }
  return out;
}

SnapshotResult DecodeSnapshot(const CommandResult& r, const ScriptOp& op) {
  Outcome o = OutcomeOf(r, op);
  SnapshotResult out;
  out.code = o.code;
  out.message = std::move(o.message);
  if (o.code != Code::kOk) return out;
  out.version = Int(o.body, "version");
  if (const json& items = Sub(o.body, "items"); items.is_array()) {
    for (const json& item : items) {
      out.items.push_back({Sku(Sub(item, "sku")), Int(item, "available")});
    }
  }
  return out;
}

ExpireResult DecodeExpire(const CommandResult& r, const ScriptOp& op) {
  Outcome o = OutcomeOf(r, op);
  ExpireResult out;
  out.code = o.code;
  out.message = std::move(o.message);
  out.expired = Int(o.body, "expired");
  return out;
}

ScriptOp Op(std::string name, std::string_view actor, std::int64_t now_ms,
            std::vector<std::string> args) {
  return {std::move(name), now_ms, std::string(actor), std::move(args)};
}

ScriptOp SetOp(std::int64_t sku, const core::SetStockRequest& request, std::string_view actor,
               std::int64_t now_ms) {
  return Op("set", actor, now_ms,
            {std::to_string(sku), std::to_string(request.on_hand),
             request.per_customer_limit ? std::to_string(*request.per_customer_limit) : "",
             request.reason});
}

ScriptOp AdjustOp(std::int64_t sku, const core::AdjustmentRequest& request, std::string_view actor,
                  std::int64_t now_ms) {
  return Op("adjust", actor, now_ms,
            {std::to_string(sku), std::to_string(request.delta), request.request_id, request.reason,
             std::to_string(core::kMaxOnHand)});
}

ScriptOp ReserveOp(const core::ReservationRequest& request, std::string_view actor,
                   std::int64_t now_ms) {
  return Op("reserve", actor, now_ms,
            {request.order_id, ItemsArg(request.items), std::to_string(request.ttl_seconds),
             request.customer_id, request.confirm ? "1" : "0"});
}

ScriptOp TransitionOp(std::string_view order_id, std::string_view action, std::string_view actor,
                      std::int64_t now_ms, std::string_view reason) {
  return Op("transition", actor, now_ms,
            {std::string(order_id), std::string(action), std::string(reason)});
}

ScriptOp ExtendOp(std::string_view order_id, std::int64_t ttl_seconds, std::string_view actor,
                  std::int64_t now_ms) {
  return Op("extend", actor, now_ms, {std::string(order_id), std::to_string(ttl_seconds)});
}

ScriptOp StocksOp(const std::vector<std::int64_t>& skus, std::int64_t now_ms) {
  std::vector<std::string> args{"stock"};
  for (std::int64_t sku : skus) args.push_back(std::to_string(sku));
  return Op("read", "", now_ms, std::move(args));
}

ScriptOp ReservationReadOp(std::string_view order_id, std::int64_t now_ms) {
  return Op("read", "", now_ms, {"reservation", std::string(order_id)});
}

ScriptOp SnapshotOp(std::int64_t since_version, std::int64_t now_ms) {
  return Op("snapshot", "", now_ms, {std::to_string(since_version)});
}

}  // namespace

core::Status CheckKeyPrefix(std::string_view prefix) {
  // The ids' alphabet (core::IsValidId), at most 32 long.
  if (prefix.size() <= 32 && core::IsValidId(prefix)) return {};
  return core::Fail(core::Code::kInvalidRequest, "must be 1..32 characters of [A-Za-z0-9._:-]");
}

RedisInventoryStore::RedisInventoryStore(RedisClient& redis, RedisStoreConfig config)
    : config_(std::move(config)), batcher_(redis, config_.key_prefix, config_.batching) {}

template <class R>
R RedisInventoryStore::Wait(ScriptOp op, Decode<R> decode) {
  // The answer is decoded here, on the caller's thread, not on the client's I/O thread.
  const CommandResult r = batcher_.Run(op);
  return decode(r, op);
}

template <class R>
void RedisInventoryStore::Async(ScriptOp op, Decode<R> decode, Done<R> done) {
  auto kept = std::make_shared<ScriptOp>(op);
  batcher_.Submit(std::move(op), [kept, decode, done = std::move(done)](CommandResult r) {
    done(decode(r, *kept));
  });
}

StockResult RedisInventoryStore::SetStock(std::int64_t sku, const core::SetStockRequest& request,
                                          std::string_view actor, std::int64_t now_ms) {
  return Wait(SetOp(sku, request, actor, now_ms), &DecodeStock);
}
StockResult RedisInventoryStore::Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                                        std::string_view actor, std::int64_t now_ms) {
  return Wait(AdjustOp(sku, request, actor, now_ms), &DecodeStock);
}
ReservationResult RedisInventoryStore::Reserve(const core::ReservationRequest& request,
                                               std::string_view actor, std::int64_t now_ms) {
  return Wait(ReserveOp(request, actor, now_ms), &DecodeReservation);
}
ReservationResult RedisInventoryStore::Confirm(std::string_view order_id, std::string_view actor,
                                               std::int64_t now_ms, std::string_view reason) {
  return Wait(TransitionOp(order_id, "confirm", actor, now_ms, reason), &DecodeReservation);
}
ReservationResult RedisInventoryStore::Release(std::string_view order_id, std::string_view actor,
                                               std::int64_t now_ms, std::string_view reason) {
  return Wait(TransitionOp(order_id, "release", actor, now_ms, reason), &DecodeReservation);
}
ReservationResult RedisInventoryStore::Return(std::string_view order_id, std::string_view actor,
                                              std::int64_t now_ms, std::string_view reason) {
  return Wait(TransitionOp(order_id, "return", actor, now_ms, reason), &DecodeReservation);
}
ReservationResult RedisInventoryStore::Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                              std::string_view actor, std::int64_t now_ms) {
  return Wait(ExtendOp(order_id, ttl_seconds, actor, now_ms), &DecodeReservation);
}
StockListResult RedisInventoryStore::GetStocks(const std::vector<std::int64_t>& skus,
                                               std::int64_t now_ms) {
  return Wait(StocksOp(skus, now_ms), &DecodeStockList);
}
ReservationResult RedisInventoryStore::GetReservation(std::string_view order_id,
                                                      std::int64_t now_ms) {
  return Wait(ReservationReadOp(order_id, now_ms), &DecodeReservation);
}
SnapshotResult RedisInventoryStore::Snapshot(std::int64_t since_version, std::int64_t now_ms) {
  return Wait(SnapshotOp(since_version, now_ms), &DecodeSnapshot);
}
ExpireResult RedisInventoryStore::ExpireDue(std::int64_t now_ms) {
  return Wait(Op("expire", "", now_ms, {}), &DecodeExpire);
}

void RedisInventoryStore::SetStockAsync(std::int64_t sku, const core::SetStockRequest& request,
                                        std::string_view actor, std::int64_t now_ms,
                                        Done<StockResult> done) {
  Async(SetOp(sku, request, actor, now_ms), &DecodeStock, std::move(done));
}
void RedisInventoryStore::AdjustAsync(std::int64_t sku, const core::AdjustmentRequest& request,
                                      std::string_view actor, std::int64_t now_ms,
                                      Done<StockResult> done) {
  Async(AdjustOp(sku, request, actor, now_ms), &DecodeStock, std::move(done));
}
void RedisInventoryStore::ReserveAsync(const core::ReservationRequest& request,
                                       std::string_view actor, std::int64_t now_ms,
                                       Done<ReservationResult> done) {
  Async(ReserveOp(request, actor, now_ms), &DecodeReservation, std::move(done));
}
void RedisInventoryStore::ConfirmAsync(std::string_view order_id, std::string_view actor,
                                       std::int64_t now_ms, std::string_view reason,
                                       Done<ReservationResult> done) {
  Async(TransitionOp(order_id, "confirm", actor, now_ms, reason), &DecodeReservation,
        std::move(done));
}
void RedisInventoryStore::ReleaseAsync(std::string_view order_id, std::string_view actor,
                                       std::int64_t now_ms, std::string_view reason,
                                       Done<ReservationResult> done) {
  Async(TransitionOp(order_id, "release", actor, now_ms, reason), &DecodeReservation,
        std::move(done));
}
void RedisInventoryStore::ReturnAsync(std::string_view order_id, std::string_view actor,
                                      std::int64_t now_ms, std::string_view reason,
                                      Done<ReservationResult> done) {
  Async(TransitionOp(order_id, "return", actor, now_ms, reason), &DecodeReservation,
        std::move(done));
}
void RedisInventoryStore::ExtendAsync(std::string_view order_id, std::int64_t ttl_seconds,
                                      std::string_view actor, std::int64_t now_ms,
                                      Done<ReservationResult> done) {
  Async(ExtendOp(order_id, ttl_seconds, actor, now_ms), &DecodeReservation, std::move(done));
}
void RedisInventoryStore::GetStocksAsync(const std::vector<std::int64_t>& skus, std::int64_t now_ms,
                                         Done<StockListResult> done) {
  Async(StocksOp(skus, now_ms), &DecodeStockList, std::move(done));
}
void RedisInventoryStore::GetReservationAsync(std::string_view order_id, std::int64_t now_ms,
                                              Done<ReservationResult> done) {
  Async(ReservationReadOp(order_id, now_ms), &DecodeReservation, std::move(done));
}
void RedisInventoryStore::SnapshotAsync(std::int64_t since_version, std::int64_t now_ms,
                                        Done<SnapshotResult> done) {
  Async(SnapshotOp(since_version, now_ms), &DecodeSnapshot, std::move(done));
}
void RedisInventoryStore::ExpireDueAsync(std::int64_t now_ms, Done<ExpireResult> done) {
  Async(Op("expire", "", now_ms, {}), &DecodeExpire, std::move(done));
}

}  // namespace stockgate::store
