#include "origin/store/redis_inventory_store.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace stockgate::store {

std::vector<std::pair<std::string_view, std::string_view>> LuaSources();  // lua_scripts.cc

namespace {

using core::FailItem;
using core::Item;
using core::ReservationStatus;
using core::ReservationView;
using core::StockView;
using nlohmann::json;

std::vector<Script> BuildScripts() {
  const auto sources = LuaSources();
  std::string_view common;
  for (const auto& [name, source] : sources) {
    if (name == "common") common = source;
  }
  std::vector<Script> scripts;
  for (const auto& [name, source] : sources) {
    if (name == "common") continue;
    scripts.emplace_back(std::string(name), std::string(common) + "\n" + std::string(source));
  }
  return scripts;
}

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

ReservationView ReservationOf(const json& j) {
  ReservationView v;
  v.order_id = Str(j, "order_id");
  v.status =
      core::ReservationStatusFromName(Str(j, "status")).value_or(ReservationStatus::kReserved);
  if (const json& items = Sub(j, "items"); items.is_array()) {
    for (const json& item : items) v.items.push_back({Sku(Sub(item, "sku")), Int(item, "qty")});
  }
  v.customer_id = Str(j, "customer_id");
  v.ttl_seconds = Int(j, "ttl_seconds");
  v.confirm = Bool(j, "confirm");
  v.expires_at_ms = Int(j, "expires_at");
  v.created_at_ms = Int(j, "created_at");
  v.updated_at_ms = Int(j, "updated_at");
  return v;
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

}  // namespace

const std::vector<Script>& InventoryScripts() {
  static const std::vector<Script> scripts = BuildScripts();
  return scripts;
}

const Script& InventoryScript(std::string_view name) {
  for (const Script& s : InventoryScripts()) {
    if (s.name() == name) return s;
  }
  // Names are compile-time constants of this file; a miss is a programming error.
  std::abort();
}

struct RedisInventoryStore::Outcome {
  Code code = Code::kOk;
  std::string message;
  json body;  // the script's JSON answer when code came from the script
};

RedisInventoryStore::RedisInventoryStore(RedisClient& redis, RedisStoreConfig config)
    : redis_(redis), config_(std::move(config)) {}

RedisInventoryStore::Outcome RedisInventoryStore::Run(std::string_view script,
                                                      std::string_view actor, std::int64_t now_ms,
                                                      std::vector<std::string> args) {
  std::vector<std::string> argv;
  argv.reserve(args.size() + 3);
  argv.push_back(config_.key_prefix);
  argv.push_back(std::to_string(now_ms));
  argv.emplace_back(actor);
  for (auto& a : args) argv.push_back(std::move(a));

  Outcome out;
  const CommandResult r = redis_.Eval(InventoryScript(script), {}, argv);
  if (!r.ok) {
    out.code = Code::kUnavailable;
    out.message = "redis unavailable: " + r.error;
    return out;
  }
  if (r.reply.type != Reply::Type::kString) {
    // A Lua error (an invariant check in common.lua) or a protocol surprise: the operation did
    // not complete, and retrying later is the only honest advice.
    out.code = Code::kUnavailable;
    out.message = "redis script " + std::string(script) + " failed: " + r.reply.str;
    return out;
  }
  out.body = json::parse(r.reply.str, nullptr, false);
  if (out.body.is_discarded() || !out.body.is_object()) {
    out.code = Code::kUnavailable;
    out.message = "redis script " + std::string(script) + " answered malformed JSON";
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

namespace {

template <class Result>
Result Base(Code code, std::string message, const json& body) {
  Result result;
  result.code = code;
  result.message = std::move(message);
  result.fail_items = FailItemsOf(body);
  result.created = Bool(body, "created");
  result.replayed = Bool(body, "replayed");
  return result;
}

}  // namespace

StockResult RedisInventoryStore::SetStock(std::int64_t sku, const core::SetStockRequest& request,
                                          std::string_view actor, std::int64_t now_ms) {
  Outcome o = Run("set", actor, now_ms,
                  {std::to_string(sku), std::to_string(request.on_hand),
                   request.per_customer_limit ? std::to_string(*request.per_customer_limit) : "",
                   request.reason});
  auto result = Base<StockResult>(o.code, std::move(o.message), o.body);
  if (const json& stock = Sub(o.body, "stock"); stock.is_object()) result.stock = StockOf(stock);
  return result;
}

StockResult RedisInventoryStore::Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                                        std::string_view actor, std::int64_t now_ms) {
  Outcome o = Run("adjust", actor, now_ms,
                  {std::to_string(sku), std::to_string(request.delta), request.request_id,
                   request.reason, std::to_string(core::kMaxOnHand)});
  auto result = Base<StockResult>(o.code, std::move(o.message), o.body);
  if (const json& stock = Sub(o.body, "stock"); stock.is_object()) result.stock = StockOf(stock);
  return result;
}

ReservationResult RedisInventoryStore::Reserve(const core::ReservationRequest& request,
                                               std::string_view actor, std::int64_t now_ms) {
  Outcome o = Run("reserve", actor, now_ms,
                  {request.order_id, ItemsArg(request.items), std::to_string(request.ttl_seconds),
                   request.customer_id, request.confirm ? "1" : "0"});
  auto result = Base<ReservationResult>(o.code, std::move(o.message), o.body);
  if (const json& r = Sub(o.body, "reservation"); r.is_object()) {
    result.reservation = ReservationOf(r);
  }
  return result;
}

ReservationResult RedisInventoryStore::Transition(std::string_view order_id,
                                                  std::string_view action, std::string_view actor,
                                                  std::int64_t now_ms, std::string_view reason) {
  Outcome o = Run("transition", actor, now_ms,
                  {std::string(order_id), std::string(action), std::string(reason)});
  auto result = Base<ReservationResult>(o.code, std::move(o.message), o.body);
  if (const json& r = Sub(o.body, "reservation"); r.is_object()) {
    result.reservation = ReservationOf(r);
  }
  return result;
}

ReservationResult RedisInventoryStore::Confirm(std::string_view order_id, std::string_view actor,
                                               std::int64_t now_ms, std::string_view reason) {
  return Transition(order_id, "confirm", actor, now_ms, reason);
}

ReservationResult RedisInventoryStore::Release(std::string_view order_id, std::string_view actor,
                                               std::int64_t now_ms, std::string_view reason) {
  return Transition(order_id, "release", actor, now_ms, reason);
}

ReservationResult RedisInventoryStore::Return(std::string_view order_id, std::string_view actor,
                                              std::int64_t now_ms, std::string_view reason) {
  return Transition(order_id, "return", actor, now_ms, reason);
}

ReservationResult RedisInventoryStore::Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                              std::string_view actor, std::int64_t now_ms) {
  Outcome o = Run("extend", actor, now_ms, {std::string(order_id), std::to_string(ttl_seconds)});
  auto result = Base<ReservationResult>(o.code, std::move(o.message), o.body);
  if (const json& r = Sub(o.body, "reservation"); r.is_object()) {
    result.reservation = ReservationOf(r);
  }
  return result;
}

StockListResult RedisInventoryStore::GetStocks(const std::vector<std::int64_t>& skus,
                                               std::int64_t now_ms) {
  std::vector<std::string> args{"stock"};
  for (std::int64_t sku : skus) args.push_back(std::to_string(sku));
  Outcome o = Run("read", "", now_ms, std::move(args));
  StockListResult out;
  out.code = o.code;
  out.message = std::move(o.message);
  if (o.code != Code::kOk) return out;
  const json& items = Sub(o.body, "items");
  for (std::size_t i = 0; i < skus.size(); ++i) {
    StockResult r;
    if (items.is_array() && i < items.size() && Field(items[i], "code") == nullptr) {
      r.message = "ok";
      r.stock = StockOf(items[i]);
    } else {
      r.code = Code::kUnknownSku;
      r.message = "unknown sku " + std::to_string(skus[i]);
    }
    out.items.push_back(std::move(r));
  }
  return out;
}

ReservationResult RedisInventoryStore::GetReservation(std::string_view order_id,
                                                      std::int64_t now_ms) {
  Outcome o = Run("read", "", now_ms, {"reservation", std::string(order_id)});
  auto result = Base<ReservationResult>(o.code, std::move(o.message), o.body);
  if (const json& r = Sub(o.body, "reservation"); r.is_object()) {
    result.reservation = ReservationOf(r);
  }
  return result;
}

SnapshotResult RedisInventoryStore::Snapshot(std::int64_t since_version, std::int64_t now_ms) {
  Outcome o = Run("snapshot", "", now_ms, {std::to_string(since_version)});
  SnapshotResult out;
  out.code = o.code;
  out.message = std::move(o.message);
  if (o.code != Code::kOk) return out;
  out.version = Int(o.body, "version");
  if (const json& items = Sub(o.body, "items"); items.is_array()) {
    for (const json& item : items)
      out.items.push_back({Sku(Sub(item, "sku")), Int(item, "available")});
  }
  return out;
}

ExpireResult RedisInventoryStore::ExpireDue(std::int64_t now_ms) {
  Outcome o = Run("expire", "", now_ms, {});
  ExpireResult out;
  out.code = o.code;
  out.message = std::move(o.message);
  out.expired = Int(o.body, "expired");
  return out;
}

}  // namespace stockgate::store
