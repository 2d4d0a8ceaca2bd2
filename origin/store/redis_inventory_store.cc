#include "origin/store/redis_inventory_store.h"

#include <algorithm>
#include <charconv>
#include <future>
#include <iterator>
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
  v.low_stock_threshold = Int(j, "low_stock_threshold");
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
  out.cursor = {out.version};  // one partition's
  if (const json& items = Sub(o.body, "items"); items.is_array()) {
    for (const json& item : items) {
      out.items.push_back(
          {Sku(Sub(item, "sku")), Int(item, "available"), Int(item, "low_stock_threshold")});
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

// The answer of a listing operation (due_parts, due_unsettled): its `list` in `message`.
ExpireResult DecodeList(const CommandResult& r, const ScriptOp& op) {
  ExpireResult list = DecodeExpire(r, op);
  if (list.code == Code::kOk && r.ok()) {
    list.message = Str(json::parse(r->str, nullptr, false), "list");
  }
  return list;
}

// One retire call: how many left, whether more may be due, and the order_ids whose reservation
// record left (in message, comma-joined).
struct RetireBatch {
  Code code = Code::kOk;
  std::string message;
  std::int64_t retired = 0;
  bool more = false;
  std::vector<std::string> records;
  std::vector<std::string> spanning;  // "order_id|0,2,5"
};

RetireBatch DecodeRetire(const CommandResult& r, const ScriptOp& op) {
  Outcome o = OutcomeOf(r, op);
  RetireBatch out;
  out.code = o.code;
  out.message = std::move(o.message);
  out.retired = Int(o.body, "retired");
  out.more = Bool(o.body, "more");
  for (const auto& [field, list] :
       {std::pair{"records", &out.records}, std::pair{"spanning", &out.spanning}}) {
    if (const json& items = Sub(o.body, field); items.is_array()) {
      for (const json& item : items) {
        if (item.is_string()) list->push_back(item.get<std::string>());
      }
    }
  }
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
             request.reason,
             request.low_stock_threshold ? std::to_string(*request.low_stock_threshold) : "",
             std::to_string(request.default_low_stock_threshold)});
}

ScriptOp AdjustOp(std::int64_t sku, const core::AdjustmentRequest& request, std::string_view actor,
                  std::int64_t now_ms) {
  return Op("adjust", actor, now_ms,
            {std::to_string(sku), std::to_string(request.delta), request.request_id, request.reason,
             std::to_string(core::kMaxOnHand)});
}

ScriptOp ReserveOp(const core::ReservationRequest& request, std::string_view actor,
                   std::int64_t now_ms, std::string mode = "") {
  return Op("reserve", actor, now_ms,
            {request.order_id, ItemsArg(request.items), std::to_string(request.ttl_seconds),
             request.customer_id, request.confirm ? "1" : "0", std::move(mode)});
}

// The hold of one part of an order spanning partitions, with the whole request it belongs to.
ScriptOp PartOp(const core::ReservationRequest& request, const std::vector<Item>& items,
                std::string_view actor, std::int64_t now_ms) {
  return Op(
      "reserve", actor, now_ms,
      {request.order_id, ItemsArg(items), std::to_string(request.ttl_seconds), request.customer_id,
       "0", "part", ItemsArg(request.items), request.confirm ? "1" : "0"});
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

// Partition p's snapshot from its part of the cursor `since`: from its version there when the
// cursor has a part for every partition of the store, else from 0 (everything).
ScriptOp SnapshotOp(const SnapshotCursor& since, std::size_t p, std::size_t partitions,
                    std::int64_t now_ms) {
  const std::int64_t from = since.size() == partitions ? since[p] : 0;
  return Op("snapshot", "", now_ms, {std::to_string(from)});
}

ScriptOp ClaimOp(const core::ReservationRequest& request, std::string_view actor,
                 std::int64_t now_ms, std::string partitions, std::string status) {
  return Op(
      "claim", actor, now_ms,
      {request.order_id, ItemsArg(request.items), std::to_string(request.ttl_seconds),
       request.customer_id, request.confirm ? "1" : "0", std::move(partitions), std::move(status)});
}

ScriptOp OrderOp(std::string_view order_id, std::string_view action, std::int64_t ttl_seconds,
                 std::string_view actor, std::int64_t now_ms, std::string_view reason) {
  return Op("order", actor, now_ms,
            {std::string(order_id), std::string(action), std::string(reason),
             std::to_string(ttl_seconds)});
}

// Gives a hold of `order_id` here back (its order failed, or never reached home).
ScriptOp AbortOp(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                 std::string_view reason) {
  return Op("settle", actor, now_ms, {std::string(order_id), "aborted", std::string(reason), "0"});
}

// Brings a part of `order` here to the order's status (a part of that very request only).
ScriptOp SettleOp(const core::ReservationView& order, std::string_view actor, std::int64_t now_ms,
                  std::string_view reason) {
  return Op("settle", actor, now_ms,
            {order.order_id, std::string(core::ReservationStatusName(order.status)),
             std::string(reason), std::to_string(order.expires_at_ms), ItemsArg(order.items),
             std::to_string(order.ttl_seconds), order.customer_id, order.confirm ? "1" : "0"});
}

// The items of a comma-separated list (none for "").
std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(',', at);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// The partition numbers of a list such as "0,2,5" (a directory's parts).
std::vector<int> PartitionsOf(std::string_view text) {
  std::vector<int> out;
  for (const std::string_view part : SplitList(text)) {
    int p = 0;
    std::from_chars(part.data(), part.data() + part.size(), p);
    out.push_back(p);
  }
  return out;
}

// A reservation answer with what the directory steps add: the partitions that hold the order's
// parts, the item a failure is about, whether the hold expired in this call.
struct Routed {
  ReservationResult result;
  std::vector<int> partitions;
  std::int64_t failed_sku = 0;
  bool expired = false;
};

Routed DecodeRouted(const CommandResult& r, const ScriptOp& op) {
  Routed out;
  out.result = DecodeReservation(r, op);
  if (!r.ok() || r->type != Reply::Type::kString) return out;
  const json body = json::parse(r->str, nullptr, false);
  out.partitions = PartitionsOf(Str(body, "partitions"));
  out.failed_sku = Sku(Sub(body, "sku"));
  out.expired = Bool(body, "expired");
  return out;
}

std::string JoinPartitions(const std::vector<int>& partitions) {
  std::string out;
  for (const int p : partitions) {
    if (!out.empty()) out += ',';
    out += std::to_string(p);
  }
  return out;
}

// Position of a SKU among the request's items (items.size() when absent).
std::size_t Position(const std::vector<Item>& items, std::int64_t sku) {
  return static_cast<std::size_t>(
      std::find_if(items.begin(), items.end(), [&](const Item& i) { return i.sku == sku; }) -
      items.begin());
}

// The answer of an order whose parts did not all succeed, as one script would have given it for
// the whole order: the same order of checks (an order_id used otherwise; the first unknown SKU;
// every short item; the first item over a per-customer rule), each in item order; an unknown
// outcome only when nothing else failed.
ReservationResult FirstFailure(const std::vector<Routed>& parts, const std::vector<Item>& items) {
  const Routed* chosen = nullptr;
  auto rank = [](Code c) {
    switch (c) {
      case Code::kIdempotencyConflict:
        return 0;
      case Code::kUnknownSku:
        return 1;
      case Code::kInsufficientStock:
        return 2;
      case Code::kInvalidRequest:
      case Code::kCustomerLimitExceeded:
        return 3;
      default:
        return 4;
    }
  };
  auto first_item = [&](const Routed& r) {
    if (r.result.code == Code::kInsufficientStock && !r.result.fail_items.empty()) {
      return Position(items, r.result.fail_items.front().sku);
    }
    return Position(items, r.failed_sku);
  };
  std::vector<FailItem> short_items;
  for (const Routed& r : parts) {
    if (r.result.code == Code::kOk) continue;
    if (r.result.code == Code::kInsufficientStock) {
      short_items.insert(short_items.end(), r.result.fail_items.begin(), r.result.fail_items.end());
    }
    if (chosen == nullptr || rank(r.result.code) < rank(chosen->result.code) ||
        (rank(r.result.code) == rank(chosen->result.code) && first_item(r) < first_item(*chosen))) {
      chosen = &r;
    }
  }
  ReservationResult out = chosen->result;
  if (out.code == Code::kInsufficientStock) {
    std::sort(short_items.begin(), short_items.end(), [&](const FailItem& a, const FailItem& b) {
      return Position(items, a.sku) < Position(items, b.sku);
    });
    out.fail_items = std::move(short_items);
  }
  out.reservation.reset();
  out.created = false;
  out.replayed = false;
  return out;
}

}  // namespace

std::vector<OrderPart> SplitByPartition(const std::vector<Item>& items, int partitions) {
  std::vector<OrderPart> parts;
  for (const Item& item : items) {
    const int p = SkuPartition(item.sku, partitions);
    auto it = std::find_if(parts.begin(), parts.end(),
                           [&](const OrderPart& x) { return x.partition == p; });
    if (it == parts.end()) {
      parts.push_back({p, {}});
      it = std::prev(parts.end());
    }
    it->items.push_back(item);
  }
  return parts;
}

OrderPlacement PlaceOrder(std::string_view order_id, const std::vector<Item>& items, bool confirm,
                          int partitions) {
  OrderPlacement out;
  out.home = HomePartition(order_id, partitions);
  out.parts = SplitByPartition(items, partitions);
  if (out.parts.size() == 1 && out.parts.front().partition == out.home) {
    out.kind = OrderPlacement::Kind::kHome;
  } else if (out.parts.size() == 1 && !confirm) {
    // A direct sale in one other partition is kept as a part, sold by its claim at home, so that
    // it never stands sold before its order_id is its own.
    out.kind = OrderPlacement::Kind::kElsewhere;
  } else {
    out.kind = OrderPlacement::Kind::kParts;
  }
  return out;
}

core::Status CheckPartitions(int partitions) {
  if (partitions >= 1 && partitions <= kMaxPartitions) return {};
  return core::Fail(core::Code::kInvalidRequest,
                    "must be 1.." + std::to_string(kMaxPartitions) + " partitions");
}

core::Status CheckKeyPrefix(std::string_view prefix) {
  // The ids' alphabet (core::IsValidId), at most 32 long.
  if (prefix.size() <= 32 && core::IsValidId(prefix)) return {};
  return core::Fail(core::Code::kInvalidRequest, "must be 1..32 characters of [A-Za-z0-9._:-]");
}

RedisInventoryStore::RedisInventoryStore(RedisClient& redis, RedisStoreConfig config)
    : config_(std::move(config)) {
  config_.partitions = std::clamp(config_.partitions, 1, kMaxPartitions);
  for (int p = 0; p < config_.partitions; ++p) {
    batchers_.push_back(std::make_unique<OpBatcher>(redis, config_.key_prefix, config_.batching, p,
                                                    config_.partitions));
  }
}

OpBatcher::Stats RedisInventoryStore::batch_stats() const {
  OpBatcher::Stats sum;
  for (const auto& b : batchers_) {
    const OpBatcher::Stats s = b->stats();
    sum.batches += s.batches;
    sum.ops += s.ops;
    sum.refused += s.refused;
  }
  return sum;
}

int RedisInventoryStore::Home(std::string_view order_id) const {
  return HomePartition(order_id, config_.partitions);
}

template <class R>
R RedisInventoryStore::Wait(ScriptOp op, Decode<R> decode) {
  // The answer is decoded here, on the caller's thread, not on the client's I/O thread.
  const CommandResult r = batchers_[0]->Run(op);
  return decode(r, op);
}

template <class R>
void RedisInventoryStore::Async(int partition, ScriptOp op, Decode<R> decode, Done<R> done) {
  auto kept = std::make_shared<ScriptOp>(op);
  batchers_[static_cast<std::size_t>(partition)]->Submit(
      std::move(op),
      [kept, decode, done = std::move(done)](CommandResult r) { done(decode(r, *kept)); });
}

template <class R>
void RedisInventoryStore::FanOut(std::vector<PartitionCall> calls, Decode<R> decode,
                                 Done<std::vector<R>> done) {
  if (calls.empty()) return done({});
  struct Gather {
    std::mutex mu;
    std::size_t left = 0;
    std::vector<R> results;
    Done<std::vector<R>> done;
  };
  auto g = std::make_shared<Gather>();
  g->left = calls.size();
  g->results.resize(calls.size());
  g->done = std::move(done);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    Async<R>(calls[i].partition, std::move(calls[i].op), decode, [g, i](R r) {
      {
        std::lock_guard lock(g->mu);
        g->results[i] = std::move(r);
        if (--g->left > 0) return;
      }
      g->done(std::move(g->results));
    });
  }
}

namespace {
// Runs an asynchronous form and waits for its result (every store call ends within the client's
// bounds, so this wait is bounded too).
template <class R>
R AwaitResult(const std::function<void(InventoryStore::Done<R>)>& start) {
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> result = promise->get_future();
  start([promise](R r) { promise->set_value(std::move(r)); });
  return result.get();
}
}  // namespace

// The blocking forms: with one partition straight to its batcher; with several, the
// asynchronous form, awaited.

StockResult RedisInventoryStore::SetStock(std::int64_t sku, const core::SetStockRequest& request,
                                          std::string_view actor, std::int64_t now_ms) {
  if (config_.partitions == 1) return Wait(SetOp(sku, request, actor, now_ms), &DecodeStock);
  return AwaitResult<StockResult>([&](Done<StockResult> done_) {
    SetStockAsync(sku, request, actor, now_ms, std::move(done_));
  });
}
StockResult RedisInventoryStore::Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                                        std::string_view actor, std::int64_t now_ms) {
  if (config_.partitions == 1) return Wait(AdjustOp(sku, request, actor, now_ms), &DecodeStock);
  return AwaitResult<StockResult>(
      [&](Done<StockResult> done_) { AdjustAsync(sku, request, actor, now_ms, std::move(done_)); });
}
ReservationResult RedisInventoryStore::Reserve(const core::ReservationRequest& request,
                                               std::string_view actor, std::int64_t now_ms) {
  if (config_.partitions == 1) {
    return Wait(ReserveOp(request, actor, now_ms), &DecodeReservation);
  }
  return AwaitResult<ReservationResult>([&](Done<ReservationResult> done_) {
    ReserveAsync(request, actor, now_ms, std::move(done_));
  });
}
ReservationResult RedisInventoryStore::Confirm(std::string_view order_id, std::string_view actor,
                                               std::int64_t now_ms, std::string_view reason) {
  if (config_.partitions == 1) {
    return Wait(TransitionOp(order_id, "confirm", actor, now_ms, reason), &DecodeReservation);
  }
  return AwaitResult<ReservationResult>([&](Done<ReservationResult> done_) {
    ConfirmAsync(order_id, actor, now_ms, reason, std::move(done_));
  });
}
ReservationResult RedisInventoryStore::Release(std::string_view order_id, std::string_view actor,
                                               std::int64_t now_ms, std::string_view reason) {
  if (config_.partitions == 1) {
    return Wait(TransitionOp(order_id, "release", actor, now_ms, reason), &DecodeReservation);
  }
  return AwaitResult<ReservationResult>([&](Done<ReservationResult> done_) {
    ReleaseAsync(order_id, actor, now_ms, reason, std::move(done_));
  });
}
ReservationResult RedisInventoryStore::Return(std::string_view order_id, std::string_view actor,
                                              std::int64_t now_ms, std::string_view reason) {
  if (config_.partitions == 1) {
    return Wait(TransitionOp(order_id, "return", actor, now_ms, reason), &DecodeReservation);
  }
  return AwaitResult<ReservationResult>([&](Done<ReservationResult> done_) {
    ReturnAsync(order_id, actor, now_ms, reason, std::move(done_));
  });
}
ReservationResult RedisInventoryStore::Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                              std::string_view actor, std::int64_t now_ms) {
  if (config_.partitions == 1) {
    return Wait(ExtendOp(order_id, ttl_seconds, actor, now_ms), &DecodeReservation);
  }
  return AwaitResult<ReservationResult>([&](Done<ReservationResult> done_) {
    ExtendAsync(order_id, ttl_seconds, actor, now_ms, std::move(done_));
  });
}
StockListResult RedisInventoryStore::GetStocks(const std::vector<std::int64_t>& skus,
                                               std::int64_t now_ms) {
  if (config_.partitions == 1) return Wait(StocksOp(skus, now_ms), &DecodeStockList);
  return AwaitResult<StockListResult>(
      [&](Done<StockListResult> done_) { GetStocksAsync(skus, now_ms, std::move(done_)); });
}
ReservationResult RedisInventoryStore::GetReservation(std::string_view order_id,
                                                      std::int64_t now_ms) {
  if (config_.partitions == 1) {
    return Wait(ReservationReadOp(order_id, now_ms), &DecodeReservation);
  }
  return AwaitResult<ReservationResult>([&](Done<ReservationResult> done_) {
    GetReservationAsync(order_id, now_ms, std::move(done_));
  });
}
SnapshotResult RedisInventoryStore::Snapshot(const SnapshotCursor& since, std::int64_t now_ms) {
  if (config_.partitions == 1) return Wait(SnapshotOp(since, 0, 1, now_ms), &DecodeSnapshot);
  return AwaitResult<SnapshotResult>(
      [&](Done<SnapshotResult> done_) { SnapshotAsync(since, now_ms, std::move(done_)); });
}
ExpireResult RedisInventoryStore::ExpireDue(std::int64_t now_ms) {
  if (config_.partitions == 1) return Wait(Op("expire", "", now_ms, {}), &DecodeExpire);
  return ExpireDueSpanning(now_ms);
}

void RedisInventoryStore::SetStockAsync(std::int64_t sku, const core::SetStockRequest& request,
                                        std::string_view actor, std::int64_t now_ms,
                                        Done<StockResult> done) {
  Async(SkuPartition(sku, config_.partitions), SetOp(sku, request, actor, now_ms), &DecodeStock,
        std::move(done));
}
void RedisInventoryStore::AdjustAsync(std::int64_t sku, const core::AdjustmentRequest& request,
                                      std::string_view actor, std::int64_t now_ms,
                                      Done<StockResult> done) {
  Async(SkuPartition(sku, config_.partitions), AdjustOp(sku, request, actor, now_ms), &DecodeStock,
        std::move(done));
}
void RedisInventoryStore::ReserveAsync(const core::ReservationRequest& request,
                                       std::string_view actor, std::int64_t now_ms,
                                       Done<ReservationResult> done) {
  if (config_.partitions == 1 || request.items.empty()) {
    return Async(ReserveOp(request, actor, now_ms), &DecodeReservation, std::move(done));
  }
  const OrderPlacement place =
      PlaceOrder(request.order_id, request.items, request.confirm, config_.partitions);
  switch (place.kind) {
    case OrderPlacement::Kind::kHome:
      return Async(place.home, ReserveOp(request, actor, now_ms, "home"), &DecodeReservation,
                   std::move(done));
    case OrderPlacement::Kind::kElsewhere:
      return ReserveSingle(request, actor, now_ms, place.parts.front().partition, std::move(done));
    case OrderPlacement::Kind::kParts:
      break;
  }
  ReserveSpanning(request, actor, now_ms, std::move(done));
}
void RedisInventoryStore::ConfirmAsync(std::string_view order_id, std::string_view actor,
                                       std::int64_t now_ms, std::string_view reason,
                                       Done<ReservationResult> done) {
  if (config_.partitions > 1) {
    return ByOrder(order_id, "confirm", 0, actor, now_ms, reason, std::move(done));
  }
  Async(TransitionOp(order_id, "confirm", actor, now_ms, reason), &DecodeReservation,
        std::move(done));
}
void RedisInventoryStore::ReleaseAsync(std::string_view order_id, std::string_view actor,
                                       std::int64_t now_ms, std::string_view reason,
                                       Done<ReservationResult> done) {
  if (config_.partitions > 1) {
    return ByOrder(order_id, "release", 0, actor, now_ms, reason, std::move(done));
  }
  Async(TransitionOp(order_id, "release", actor, now_ms, reason), &DecodeReservation,
        std::move(done));
}
void RedisInventoryStore::ReturnAsync(std::string_view order_id, std::string_view actor,
                                      std::int64_t now_ms, std::string_view reason,
                                      Done<ReservationResult> done) {
  if (config_.partitions > 1) {
    return ByOrder(order_id, "return", 0, actor, now_ms, reason, std::move(done));
  }
  Async(TransitionOp(order_id, "return", actor, now_ms, reason), &DecodeReservation,
        std::move(done));
}
void RedisInventoryStore::ExtendAsync(std::string_view order_id, std::int64_t ttl_seconds,
                                      std::string_view actor, std::int64_t now_ms,
                                      Done<ReservationResult> done) {
  if (config_.partitions > 1) {
    return ByOrder(order_id, "extend", ttl_seconds, actor, now_ms, "", std::move(done));
  }
  Async(ExtendOp(order_id, ttl_seconds, actor, now_ms), &DecodeReservation, std::move(done));
}
void RedisInventoryStore::GetStocksAsync(const std::vector<std::int64_t>& skus, std::int64_t now_ms,
                                         Done<StockListResult> done) {
  if (config_.partitions > 1) return GetStocksSpanning(skus, now_ms, std::move(done));
  Async(StocksOp(skus, now_ms), &DecodeStockList, std::move(done));
}
void RedisInventoryStore::GetReservationAsync(std::string_view order_id, std::int64_t now_ms,
                                              Done<ReservationResult> done) {
  if (config_.partitions > 1) {
    return ByOrder(order_id, "read", 0, "", now_ms, "", std::move(done));
  }
  Async(ReservationReadOp(order_id, now_ms), &DecodeReservation, std::move(done));
}
void RedisInventoryStore::SnapshotAsync(const SnapshotCursor& since, std::int64_t now_ms,
                                        Done<SnapshotResult> done) {
  if (config_.partitions == 1) {
    return Async(SnapshotOp(since, 0, 1, now_ms), &DecodeSnapshot, std::move(done));
  }
  // Every partition answers its own delta; the answer's cursor holds their versions, its version
  // their sum.
  const auto partitions = static_cast<std::size_t>(config_.partitions);
  std::vector<PartitionCall> calls;
  for (std::size_t p = 0; p < partitions; ++p) {
    calls.push_back({static_cast<int>(p), SnapshotOp(since, p, partitions, now_ms)});
  }
  FanOut<SnapshotResult>(std::move(calls), &DecodeSnapshot,
                         [done = std::move(done)](std::vector<SnapshotResult> parts) {
                           SnapshotResult out;
                           for (SnapshotResult& part : parts) {
                             if (part.code != Code::kOk) return done(std::move(part));
                             out.version += part.version;
                             out.cursor.push_back(part.version);
                             std::move(part.items.begin(), part.items.end(),
                                       std::back_inserter(out.items));
                           }
                           done(std::move(out));
                         });
}
void RedisInventoryStore::ExpireDueAsync(std::int64_t now_ms, Done<ExpireResult> done) {
  if (config_.partitions > 1) return done(ExpireDueSpanning(now_ms));
  Async(Op("expire", "", now_ms, {}), &DecodeExpire, std::move(done));
}

// --- Several partitions -----------------------------------------------------------------------

// One part of an order elsewhere than its home: the part first (a failure there leaves nothing
// anywhere), then the claim at home. A claim lost to another request with this order_id gives
// the part just made back.
void RedisInventoryStore::ReserveSingle(const core::ReservationRequest& request,
                                        std::string_view actor, std::int64_t now_ms, int partition,
                                        Done<ReservationResult> done) {
  auto req = std::make_shared<core::ReservationRequest>(request);
  Async<ReservationResult>(
      partition, ReserveOp(request, actor, now_ms), &DecodeReservation,
      [this, req, actor = std::string(actor), now_ms, partition,
       done = std::move(done)](ReservationResult placed) {
        if (placed.code != Code::kOk) return done(std::move(placed));
        Async<ReservationResult>(
            Home(req->order_id), ClaimOp(*req, actor, now_ms, std::to_string(partition), "single"),
            &DecodeReservation,
            [this, req, actor, now_ms, partition, placed, done](ReservationResult claim) {
              if (claim.code == Code::kOk) return done(placed);
              if (claim.code != Code::kIdempotencyConflict || !placed.created) return done(claim);
              Async<ReservationResult>(
                  partition, AbortOp(req->order_id, actor, now_ms, "order_id taken"),
                  &DecodeReservation, [claim, done](ReservationResult) { done(claim); });
            });
      });
}

// The parts placed so far of an order spanning partitions.
struct RedisInventoryStore::Placed {
  core::ReservationRequest request;
  std::string actor;
  std::int64_t now_ms = 0;
  std::vector<OrderPart> parts;
  std::vector<Routed> results;  // one per part
};

// Several parts: every part held at once (mode "part"), then, when all are, the claim at home;
// when any failed, the others are given back and the order's answer is the failure.
void RedisInventoryStore::ReserveSpanning(const core::ReservationRequest& request,
                                          std::string_view actor, std::int64_t now_ms,
                                          Done<ReservationResult> done) {
  auto placed = std::make_shared<Placed>();
  placed->request = request;
  placed->actor = std::string(actor);
  placed->now_ms = now_ms;
  placed->parts = SplitByPartition(request.items, config_.partitions);
  std::vector<PartitionCall> calls;
  for (const OrderPart& part : placed->parts) {
    calls.push_back({part.partition, PartOp(request, part.items, actor, now_ms)});
  }
  FanOut<Routed>(std::move(calls), &DecodeRouted,
                 [this, placed, done = std::move(done)](std::vector<Routed> results) {
                   placed->results = std::move(results);
                   ClaimSpanning(placed, done);
                 });
}

void RedisInventoryStore::ClaimSpanning(std::shared_ptr<Placed> placed,
                                        Done<ReservationResult> done) {
  const core::ReservationRequest& request = placed->request;
  std::vector<int> created;  // parts made by this call
  bool failed = false;
  for (std::size_t i = 0; i < placed->parts.size(); ++i) {
    const Routed& r = placed->results[i];
    if (r.result.code != Code::kOk) {
      failed = true;
      continue;
    }
    if (r.result.created) created.push_back(placed->parts[i].partition);
  }
  if (failed) {
    // The order failed as a whole: the parts this call made go back. A part it found (of another
    // attempt of the same request, maybe one about to claim) is left to that attempt, or to the
    // sweeper when no claim comes.
    ReservationResult failure = FirstFailure(placed->results, request.items);
    return AbortParts(request.order_id, placed->actor, placed->now_ms, "order failed",
                      std::move(created), [failure, done] { done(failure); });
  }
  std::vector<int> partitions;
  for (const OrderPart& p : placed->parts) partitions.push_back(p.partition);
  Async<ReservationResult>(
      Home(request.order_id),
      ClaimOp(request, placed->actor, placed->now_ms, JoinPartitions(partitions),
              request.confirm ? "confirmed" : "reserved"),
      &DecodeReservation, [this, placed, partitions, created, done](ReservationResult claim) {
        if (claim.code == Code::kIdempotencyConflict) {
          return AbortParts(placed->request.order_id, placed->actor, placed->now_ms,
                            "order_id taken", created, [claim, done] { done(claim); });
        }
        if (claim.code != Code::kOk || !claim.reservation ||
            claim.reservation->status == core::ReservationStatus::kReserved) {
          return done(claim);
        }
        // A direct sale (or a retry of an order decided since): the parts follow the decision.
        const core::ReservationView order = *claim.reservation;
        SettleParts(order, partitions, placed->actor, placed->now_ms, "",
                    [claim, done] { done(claim); });
      });
}

void RedisInventoryStore::AbortParts(std::string order_id, std::string actor, std::int64_t now_ms,
                                     std::string reason, std::vector<int> partitions,
                                     std::function<void()> then) {
  std::vector<PartitionCall> calls;
  for (const int p : partitions) calls.push_back({p, AbortOp(order_id, actor, now_ms, reason)});
  FanOut<ReservationResult>(std::move(calls), &DecodeReservation,
                            [then = std::move(then)](std::vector<ReservationResult>) { then(); });
}

void RedisInventoryStore::SettleParts(const core::ReservationView& order,
                                      const std::vector<int>& partitions, std::string_view actor,
                                      std::int64_t now_ms, std::string_view reason,
                                      std::function<void()> then) {
  if (partitions.empty()) return then();
  std::vector<PartitionCall> calls;
  for (const int p : partitions) calls.push_back({p, SettleOp(order, actor, now_ms, reason)});
  const std::string status(core::ReservationStatusName(order.status));
  const bool decision = order.status != core::ReservationStatus::kReserved;
  FanOut<ReservationResult>(
      std::move(calls), &DecodeReservation,
      [this, then = std::move(then), decision, status, order_id = order.order_id,
       now_ms](std::vector<ReservationResult> results) {
        // Every part follows this decision: home may forget it, unless a later one was made
        // meanwhile (else the sweeper tries again).
        const bool all =
            std::all_of(results.begin(), results.end(),
                        [](const ReservationResult& r) { return r.code == Code::kOk; });
        if (decision && all) {
          Async<ReservationResult>(Home(order_id), Op("settled", "", now_ms, {order_id, status}),
                                   &DecodeReservation, [](ReservationResult) {});
        }
        then();
      });
}

// Starts at the order's home: an order of its own is answered there; a single part elsewhere is
// asked where it is; an order of several parts is decided there, and the parts then settled (a
// part that does not answer is settled later: by a retry, or by the sweeper at the deadline).
void RedisInventoryStore::ByOrder(std::string_view order_id, std::string_view action,
                                  std::int64_t ttl_seconds, std::string_view actor,
                                  std::int64_t now_ms, std::string_view reason,
                                  Done<ReservationResult> done) {
  Async<Routed>(
      Home(order_id), OrderOp(order_id, action, ttl_seconds, actor, now_ms, reason), &DecodeRouted,
      [this, order = std::string(order_id), action = std::string(action), ttl_seconds,
       actor = std::string(actor), now_ms, reason = std::string(reason),
       done = std::move(done)](Routed r) {
        if (r.partitions.empty()) return done(std::move(r.result));
        if (!r.result.reservation) {
          // A single part elsewhere: the call itself goes there.
          const int p = r.partitions.front();
          ScriptOp op = action == "read"     ? ReservationReadOp(order, now_ms)
                        : action == "extend" ? ExtendOp(order, ttl_seconds, actor, now_ms)
                                             : TransitionOp(order, action, actor, now_ms, reason);
          return Async(p, std::move(op), &DecodeReservation, done);
        }
        if (action == "read") return done(std::move(r.result));
        const core::ReservationView decided = *r.result.reservation;
        auto result = std::make_shared<ReservationResult>(std::move(r.result));
        SettleParts(decided, r.partitions, actor, now_ms, reason,
                    [result, done] { done(std::move(*result)); });
      });
}

void RedisInventoryStore::GetStocksSpanning(const std::vector<std::int64_t>& skus,
                                            std::int64_t now_ms, Done<StockListResult> done) {
  // One read per partition with its SKUs; the answers put back in request order.
  std::vector<std::vector<std::int64_t>> by_partition(static_cast<std::size_t>(config_.partitions));
  std::vector<std::pair<int, std::size_t>> where;  // per requested SKU: partition, index there
  for (const std::int64_t sku : skus) {
    auto& list = by_partition[static_cast<std::size_t>(SkuPartition(sku, config_.partitions))];
    where.emplace_back(SkuPartition(sku, config_.partitions), list.size());
    list.push_back(sku);
  }
  std::vector<PartitionCall> calls;
  std::vector<std::size_t> call_of(by_partition.size());  // per partition: its call's index
  for (std::size_t p = 0; p < by_partition.size(); ++p) {
    if (by_partition[p].empty()) continue;
    call_of[p] = calls.size();
    calls.push_back({static_cast<int>(p), StocksOp(by_partition[p], now_ms)});
  }
  FanOut<StockListResult>(
      std::move(calls), &DecodeStockList,
      [where = std::move(where), call_of = std::move(call_of),
       done = std::move(done)](std::vector<StockListResult> parts) {
        StockListResult out;
        for (const StockListResult& part : parts) {
          if (part.code != Code::kOk) {
            out.code = part.code;
            out.message = part.message;
            return done(std::move(out));
          }
        }
        for (const auto& [partition, index] : where) {
          out.items.push_back(parts[call_of[static_cast<std::size_t>(partition)]].items[index]);
        }
        done(std::move(out));
      });
}

// The sweeper over several partitions: each partition's due holds, then every part whose deadline
// has passed, settled as its home decides (an order still held past its deadline is expired
// there). A part with no order at home is given back once kOrphanGraceMs has passed too.
RedisInventoryStore::RetireResult RedisInventoryStore::Retire(
    const std::vector<std::int64_t>& cutoff_ms, std::int64_t now_ms, int batch) {
  RetireResult out;
  auto fail = [&out](Code code, const std::string& message) {
    if (out.code == Code::kOk) {
      out.code = code;
      out.message = message;
    }
  };
  for (int p = 0; p < config_.partitions && p < static_cast<int>(cutoff_ms.size()); ++p) {
    for (bool more = true; more;) {
      const RetireBatch r = AwaitResult<RetireBatch>([&](Done<RetireBatch> d) {
        Async(p,
              Op("retire", "", now_ms,
                 {std::to_string(cutoff_ms[static_cast<std::size_t>(p)]), std::to_string(batch)}),
              &DecodeRetire, std::move(d));
      });
      if (r.code != Code::kOk) {
        fail(r.code, r.message);
        break;
      }
      out.retired += r.retired;
      more = r.more;
      // Then what pointed at or hung from what left, in other partitions (a failure leaves
      // that behind, unreachable but harmless: home remembers the order_id either way).
      const auto run = [&](int partition, ScriptOp op) {
        const ExpireResult f = AwaitResult<ExpireResult>([&](Done<ExpireResult> d) {
          Async(partition, std::move(op), &DecodeExpire, std::move(d));
        });
        if (f.code != Code::kOk) fail(f.code, f.message);
      };
      // A record placed here by an order whose home is elsewhere: its directory there only
      // pointed here ("single").
      for (const std::string& order : r.records) {
        const int home = Home(order);
        if (config_.partitions == 1 || home == p) continue;
        run(home, Op("forget", "", now_ms, {order, std::to_string(p)}));
      }
      // A directory of an order spanning partitions: its parts.
      for (const std::string& entry : r.spanning) {
        const auto bar = entry.rfind('|');
        if (bar == std::string::npos) continue;
        const std::string order = entry.substr(0, bar);
        for (const int partition : PartitionsOf(std::string_view(entry).substr(bar + 1))) {
          if (partition >= 0 && partition < config_.partitions) {
            run(partition, Op("drop", "", now_ms, {order}));
          }
        }
      }
    }
  }
  if (out.code == Code::kOk) out.message = "retired " + std::to_string(out.retired);
  return out;
}

ExpireResult RedisInventoryStore::ExpireDueSpanning(std::int64_t now_ms) {
  ExpireResult out;
  // A partition that cannot be swept (its master failing over, its slot moving) does not hold up
  // the others; the sweep then reports the first failure.
  ExpireResult failed;
  auto fail = [&failed](const ExpireResult& e) {
    if (failed.code == Code::kOk) failed = e;
  };
  // Every partition's own holds first: the calls below expire what is due where they run too,
  // and would leave it uncounted.
  for (int p = 0; p < config_.partitions; ++p) {
    const ExpireResult e = AwaitResult<ExpireResult>([&](Done<ExpireResult> d) {
      Async(p, Op("expire", "", now_ms, {}), &DecodeExpire, std::move(d));
    });
    if (e.code != Code::kOk) {
      fail(e);
      continue;
    }
    out.expired += e.expired;
  }
  // The entries a listing operation gives for partition p, or nullopt when it failed.
  auto list = [&](int p, ScriptOp op) -> std::optional<std::vector<std::string>> {
    const ExpireResult r = AwaitResult<ExpireResult>(
        [&](Done<ExpireResult> d) { Async(p, std::move(op), &DecodeList, std::move(d)); });
    if (r.code != Code::kOk) {
      fail(r);
      return std::nullopt;
    }
    std::vector<std::string> entries;
    for (const std::string_view e : SplitList(r.message)) entries.emplace_back(e);
    return entries;
  };
  // The order as its home has it (expired there first when due).
  auto at_home = [&](const std::string& order) {
    return AwaitResult<Routed>([&](Done<Routed> d) {
      Async(Home(order), OrderOp(order, "settle", 0, "", now_ms, ""), &DecodeRouted, std::move(d));
    });
  };
  // Whether home holds an order with a part in partition p.
  auto ours = [](const Routed& home, int p) {
    return home.result.code == Code::kOk && home.result.reservation &&
           std::find(home.partitions.begin(), home.partitions.end(), p) != home.partitions.end();
  };
  auto settle_parts = [&](const Routed& home) {
    AwaitResult<bool>([&](Done<bool> d) {
      SettleParts(*home.result.reservation, home.partitions, "expiry", now_ms, "",
                  [d] { d(true); });
    });
  };
  auto give_back = [&](int p, const std::string& order) {
    AwaitResult<ReservationResult>([&](Done<ReservationResult> d) {
      Async(p, AbortOp(order, "expiry", now_ms, "no order at home"), &DecodeReservation,
            std::move(d));
    });
  };
  // Decisions whose parts were not all told (an origin failed on the way): told now.
  for (int p = 0; p < config_.partitions; ++p) {
    const auto orders =
        list(p, Op("due_unsettled", "", now_ms, {std::to_string(kUnsettledGraceMs), "1000"}));
    for (const std::string& order : orders.value_or(std::vector<std::string>{})) {
      const Routed home = at_home(order);
      if (home.result.code == Code::kOk && home.result.reservation) settle_parts(home);
    }
  }
  // Parts placed a while ago: their order at home, or, with none there, given back (an origin
  // failed between the parts and the claim).
  for (int p = 0; p < config_.partitions; ++p) {
    const auto orders =
        list(p, Op("unclaimed", "", now_ms, {std::to_string(kOrphanGraceMs), "1000"}));
    for (const std::string& order : orders.value_or(std::vector<std::string>{})) {
      const Routed home = at_home(order);
      if (home.result.code != Code::kOk && home.result.code != Code::kNotFound) continue;
      // Its order's part: it follows the order (and is found). Else, or when it is a part of
      // another request, it goes back.
      ReservationResult settled;
      if (ours(home, p)) {
        settled = AwaitResult<ReservationResult>([&](Done<ReservationResult> d) {
          Async(p, SettleOp(*home.result.reservation, "expiry", now_ms, ""), &DecodeReservation,
                std::move(d));
        });
      }
      if (!ours(home, p) || settled.code == Code::kNotFound) give_back(p, order);
    }
  }
  // Parts past their deadline: settled as home decides; with no order there, given back once
  // the grace has passed too.
  for (int p = 0; p < config_.partitions; ++p) {
    const auto entries = list(p, Op("due_parts", "", now_ms, {"1000"}));
    for (const std::string& entry : entries.value_or(std::vector<std::string>{})) {
      const std::size_t colon = entry.find(':');
      if (colon == std::string::npos) continue;
      std::int64_t deadline = 0;
      std::from_chars(entry.data(), entry.data() + colon, deadline);
      const std::string order = entry.substr(colon + 1);
      const Routed home = at_home(order);
      if (ours(home, p)) {
        if (home.expired) ++out.expired;
        settle_parts(home);
      } else if (home.result.code == Code::kOk || home.result.code == Code::kNotFound) {
        if (now_ms >= deadline + kOrphanGraceMs) give_back(p, order);
      }
    }
  }
  if (failed.code != Code::kOk) {
    failed.expired = out.expired;
    return failed;
  }
  out.message = "expired " + std::to_string(out.expired);
  return out;
}

}  // namespace stockgate::store
