#include "core/inventory_model.h"

#include <algorithm>
#include <cassert>
#include <set>
#include <string>
#include <utility>

namespace stockgate::core {
namespace {

std::string Str(std::int64_t n) { return std::to_string(n); }

bool IsValidSku(std::int64_t sku) { return sku >= 1 && sku <= kMaxSku; }

bool IsValidTtl(std::int64_t ttl_seconds) {
  return ttl_seconds >= 1 && ttl_seconds <= kMaxTtlSeconds;
}

// Reservations in these states hold units that count against a per-customer limit.
bool CountsAgainstLimit(ReservationStatus status) {
  return status == ReservationStatus::kReserved || status == ReservationStatus::kConfirmed;
}

// The model re-checks only the bounds its invariants and arithmetic depend on; the full
// validation (id alphabet, lengths, reason size, max_adjustment) is the parser's job.
std::string ReservationProblem(const ReservationRequest& request) {
  if (request.order_id.empty()) return "order_id is required";
  if (request.items.empty() || request.items.size() > kMaxItems) {
    return "items must hold 1.." + std::to_string(kMaxItems) + " entries";
  }
  std::set<std::int64_t> seen;
  for (const Item& item : request.items) {
    if (!IsValidSku(item.sku)) return "sku " + Str(item.sku) + " is out of range";
    if (item.qty < 1 || item.qty > kMaxQty) {
      return "qty of sku " + Str(item.sku) + " must be 1.." + Str(kMaxQty);
    }
    if (!seen.insert(item.sku).second) return "sku " + Str(item.sku) + " appears twice";
  }
  if (!IsValidTtl(request.ttl_seconds)) return "ttl_seconds must be 1.." + Str(kMaxTtlSeconds);
  return "";
}

bool SameRequest(const ReservationView& stored, const ReservationRequest& request) {
  return stored.order_id == request.order_id && stored.items == request.items &&
         stored.ttl_seconds == request.ttl_seconds && stored.customer_id == request.customer_id &&
         stored.confirm == request.confirm;
}

bool CountersValid(const StockCounters& c) {
  return c.reserved >= 0 && c.reserved <= c.on_hand && c.sold >= 0;
}

ReservationResult Fail(Code code, std::string message) {
  ReservationResult result;
  result.code = code;
  result.message = std::move(message);
  return result;
}

ReservationResult FailWith(Code code, std::string message, const ReservationView& reservation) {
  ReservationResult result = Fail(code, std::move(message));
  result.reservation = reservation;
  return result;
}

ReservationResult Done(std::string message, const ReservationView& reservation,
                       bool replayed = false) {
  ReservationResult result;
  result.message = std::move(message);
  result.reservation = reservation;
  result.replayed = replayed;
  return result;
}

StockResult FailStock(Code code, std::string message) {
  StockResult result;
  result.code = code;
  result.message = std::move(message);
  return result;
}

}  // namespace

StockCounters DeltaOf(LedgerOp op, std::int64_t qty) {
  switch (op) {
    case LedgerOp::kSet:
    case LedgerOp::kAdjust:
      return {qty, 0, 0};
    case LedgerOp::kReserve:
      return {0, qty, 0};
    case LedgerOp::kConfirm:
      return {-qty, -qty, qty};
    case LedgerOp::kRelease:
    case LedgerOp::kExpire:
      return {0, -qty, 0};
    case LedgerOp::kReturn:
      return {qty, 0, -qty};
  }
  return {};
}

std::string_view ReservationStatusName(ReservationStatus status) {
  switch (status) {
    case ReservationStatus::kReserved:
      return "reserved";
    case ReservationStatus::kConfirmed:
      return "confirmed";
    case ReservationStatus::kReleased:
      return "released";
    case ReservationStatus::kExpired:
      return "expired";
    case ReservationStatus::kReturned:
      return "returned";
  }
  return "unknown";
}

std::optional<ReservationStatus> ReservationStatusFromName(std::string_view name) {
  for (auto s :
       {ReservationStatus::kReserved, ReservationStatus::kConfirmed, ReservationStatus::kReleased,
        ReservationStatus::kExpired, ReservationStatus::kReturned}) {
    if (ReservationStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<LedgerOp> LedgerOpFromName(std::string_view name) {
  for (auto op : {LedgerOp::kSet, LedgerOp::kAdjust, LedgerOp::kReserve, LedgerOp::kConfirm,
                  LedgerOp::kRelease, LedgerOp::kExpire, LedgerOp::kReturn}) {
    if (LedgerOpName(op) == name) return op;
  }
  return std::nullopt;
}

std::string_view LedgerOpName(LedgerOp op) {
  switch (op) {
    case LedgerOp::kSet:
      return "set";
    case LedgerOp::kAdjust:
      return "adjust";
    case LedgerOp::kReserve:
      return "reserve";
    case LedgerOp::kConfirm:
      return "confirm";
    case LedgerOp::kRelease:
      return "release";
    case LedgerOp::kExpire:
      return "expire";
    case LedgerOp::kReturn:
      return "return";
  }
  return "unknown";
}

StockResult InventoryModel::SetStock(std::int64_t sku, const SetStockRequest& request,
                                     std::string_view actor, std::int64_t now_ms) {
  ExpireDue(now_ms);
  if (!IsValidSku(sku)) return FailStock(Code::kInvalidRequest, "sku is out of range");
  if (request.on_hand < 0 || request.on_hand > kMaxOnHand) {
    return FailStock(Code::kInvalidRequest, "on_hand must be 0.." + Str(kMaxOnHand));
  }
  if (request.per_customer_limit &&
      (*request.per_customer_limit < 0 || *request.per_customer_limit > kMaxPerCustomerLimit)) {
    return FailStock(Code::kInvalidRequest,
                     "per_customer_limit must be 0.." + Str(kMaxPerCustomerLimit));
  }
  const auto low_ok = [](std::int64_t v) { return v >= 0 && v <= kMaxLowStockThreshold; };
  if ((request.low_stock_threshold && !low_ok(*request.low_stock_threshold)) ||
      !low_ok(request.default_low_stock_threshold)) {
    return FailStock(Code::kInvalidRequest,
                     "low_stock_threshold must be 0.." + Str(kMaxLowStockThreshold));
  }

  StockResult result;
  auto it = skus_.find(sku);
  if (it == skus_.end()) {
    // The creating event is written even for on_hand 0 so that replay knows the SKU.
    skus_[sku].per_customer_limit = request.per_customer_limit.value_or(0);
    skus_[sku].low_stock_threshold =
        request.low_stock_threshold.value_or(request.default_low_stock_threshold);
    Apply(sku, "", LedgerOp::kSet, request.on_hand, actor, request.reason, now_ms);
    result.message = "sku created";
    result.created = true;
    result.stock = ViewOf(sku);
    return result;
  }

  Sku& s = it->second;
  if (request.on_hand < s.reserved) {
    result = FailStock(Code::kInvalidState,
                       "on_hand " + Str(request.on_hand) + " is below reserved " + Str(s.reserved));
    result.stock = ViewOf(sku);
    return result;
  }
  const std::int64_t limit = request.per_customer_limit.value_or(s.per_customer_limit);
  const std::int64_t low = request.low_stock_threshold.value_or(s.low_stock_threshold);
  const bool options_change = limit != s.per_customer_limit || low != s.low_stock_threshold;
  const bool on_hand_changes = request.on_hand != s.on_hand;
  if (!options_change && !on_hand_changes) {
    result.message = "unchanged";
    result.replayed = true;
    result.stock = ViewOf(sku);
    return result;
  }
  s.per_customer_limit = limit;
  s.low_stock_threshold = low;
  if (on_hand_changes) {
    Apply(sku, "", LedgerOp::kSet, request.on_hand - s.on_hand, actor, request.reason, now_ms);
  } else {
    // No counter moved, so no event; the version still tells readers something changed.
    ++s.version;
    s.updated_at_ms = std::max(s.updated_at_ms, now_ms);
  }
  result.message = "stock set";
  result.stock = ViewOf(sku);
  return result;
}

StockResult InventoryModel::Adjust(std::int64_t sku, const AdjustmentRequest& request,
                                   std::string_view actor, std::int64_t now_ms) {
  ExpireDue(now_ms);
  if (!IsValidSku(sku)) return FailStock(Code::kInvalidRequest, "sku is out of range");
  if (request.request_id.empty()) return FailStock(Code::kInvalidRequest, "request_id is required");
  if (request.delta == 0) return FailStock(Code::kInvalidRequest, "delta must not be 0");
  // Bounding |delta| first keeps every sum below in range; larger ones could never succeed.
  if (request.delta < -kMaxOnHand || request.delta > kMaxOnHand) {
    return FailStock(Code::kInvalidRequest, "delta must be within +-" + Str(kMaxOnHand));
  }
  auto it = skus_.find(sku);
  if (it == skus_.end()) return FailStock(Code::kUnknownSku, "unknown sku " + Str(sku));

  StockResult result;
  auto key = std::make_pair(sku, request.request_id);
  if (auto seen = adjustments_.find(key); seen != adjustments_.end()) {
    if (seen->second != request.delta) {
      return FailStock(Code::kIdempotencyConflict, "request_id " + request.request_id +
                                                       " was used for sku " + Str(sku) +
                                                       " with delta " + Str(seen->second));
    }
    result.message = "already applied";
    result.replayed = true;
    result.stock = ViewOf(sku);
    return result;
  }

  const Sku& s = it->second;
  if (request.delta > kMaxOnHand - s.on_hand) {
    result = FailStock(Code::kInvalidRequest, "on_hand would exceed " + Str(kMaxOnHand));
    result.stock = ViewOf(sku);
    return result;
  }
  if (request.delta < s.reserved - s.on_hand) {
    result = FailStock(Code::kInsufficientStock, "sku " + Str(sku) + " has only " +
                                                     Str(s.on_hand - s.reserved) +
                                                     " units available to write off");
    result.fail_items.push_back({sku, -request.delta, s.on_hand - s.reserved});
    result.stock = ViewOf(sku);
    return result;
  }
  Apply(sku, request.request_id, LedgerOp::kAdjust, request.delta, actor, request.reason, now_ms);
  adjustments_.emplace(std::move(key), request.delta);
  result.message = "adjusted";
  result.stock = ViewOf(sku);
  return result;
}

ReservationResult InventoryModel::Reserve(const ReservationRequest& request, std::string_view actor,
                                          std::int64_t now_ms) {
  ExpireDue(now_ms);
  if (std::string problem = ReservationProblem(request); !problem.empty()) {
    return Fail(Code::kInvalidRequest, std::move(problem));
  }
  if (auto it = reservations_.find(request.order_id); it != reservations_.end()) {
    if (!SameRequest(it->second, request)) {
      return Fail(Code::kIdempotencyConflict,
                  "order_id " + request.order_id + " was used with a different request");
    }
    return Done("already reserved", it->second, /*replayed=*/true);
  }

  for (const Item& item : request.items) {
    if (!skus_.contains(item.sku)) return Fail(Code::kUnknownSku, "unknown sku " + Str(item.sku));
  }
  ReservationResult short_result = Fail(Code::kInsufficientStock, "");
  for (const Item& item : request.items) {
    const Sku& s = skus_.at(item.sku);
    const std::int64_t available = s.on_hand - s.reserved;
    if (item.qty > available) {
      if (short_result.fail_items.empty()) {
        short_result.message = "sku " + Str(item.sku) + ": requested " + Str(item.qty) +
                               ", available " + Str(available);
      }
      short_result.fail_items.push_back({item.sku, item.qty, available});
    }
  }
  if (!short_result.fail_items.empty()) return short_result;
  for (const Item& item : request.items) {
    const std::int64_t limit = skus_.at(item.sku).per_customer_limit;
    if (limit <= 0) continue;
    if (request.customer_id.empty()) {
      return Fail(Code::kInvalidRequest,
                  "customer_id is required: sku " + Str(item.sku) + " has a per-customer limit");
    }
    const std::int64_t held = HeldByCustomer(request.customer_id, item.sku);
    if (held + item.qty > limit) {
      return Fail(Code::kCustomerLimitExceeded, "sku " + Str(item.sku) + " allows " + Str(limit) +
                                                    " units per customer; " + request.customer_id +
                                                    " already holds " + Str(held));
    }
  }

  ReservationView view;
  view.order_id = request.order_id;
  view.status = ReservationStatus::kReserved;
  view.items = request.items;
  view.customer_id = request.customer_id;
  view.ttl_seconds = request.ttl_seconds;
  view.confirm = request.confirm;
  view.expires_at_ms = now_ms + request.ttl_seconds * 1000;
  view.created_at_ms = now_ms;
  view.updated_at_ms = now_ms;
  ReservationView& stored = reservations_.emplace(request.order_id, std::move(view)).first->second;
  deadlines_.emplace(stored.expires_at_ms, stored.order_id);
  CountForCustomer(stored, +1);
  ApplyItems(stored, LedgerOp::kReserve, actor, "", now_ms);
  if (request.confirm) {
    ApplyItems(stored, LedgerOp::kConfirm, actor, "", now_ms);
    SetStatus(stored, ReservationStatus::kConfirmed, now_ms);
  }
  ReservationResult result = Done(request.confirm ? "sold" : "reserved", stored);
  result.created = true;
  return result;
}

ReservationResult InventoryModel::Confirm(std::string_view order_id, std::string_view actor,
                                          std::int64_t now_ms, std::string_view reason) {
  ExpireDue(now_ms);
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Fail(Code::kNotFound, "no reservation " + std::string(order_id));
  }
  ReservationView& r = it->second;
  switch (r.status) {
    case ReservationStatus::kReserved:
      ApplyItems(r, LedgerOp::kConfirm, actor, reason, now_ms);
      SetStatus(r, ReservationStatus::kConfirmed, now_ms);
      return Done("confirmed", r);
    case ReservationStatus::kConfirmed:
    case ReservationStatus::kReturned:
      return Done("already confirmed", r, /*replayed=*/true);
    case ReservationStatus::kReleased:
      return FailWith(Code::kInvalidState, "reservation was released", r);
    case ReservationStatus::kExpired:
      return FailWith(Code::kReservationExpired, "reservation expired", r);
  }
  assert(false && "unreachable reservation status");
  return Fail(Code::kInvalidState, "unknown reservation status");
}

ReservationResult InventoryModel::Release(std::string_view order_id, std::string_view actor,
                                          std::int64_t now_ms, std::string_view reason) {
  ExpireDue(now_ms);
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Fail(Code::kNotFound, "no reservation " + std::string(order_id));
  }
  ReservationView& r = it->second;
  switch (r.status) {
    case ReservationStatus::kReserved:
      ApplyItems(r, LedgerOp::kRelease, actor, reason, now_ms);
      SetStatus(r, ReservationStatus::kReleased, now_ms);
      return Done("released", r);
    case ReservationStatus::kReleased:
      return Done("already released", r, /*replayed=*/true);
    case ReservationStatus::kExpired:
      // The units are free already; the caller's goal is met.
      return Done("already expired", r, /*replayed=*/true);
    case ReservationStatus::kConfirmed:
    case ReservationStatus::kReturned:
      return FailWith(
          Code::kInvalidState,
          "reservation is " + std::string(ReservationStatusName(r.status)) + "; use return", r);
  }
  assert(false && "unreachable reservation status");
  return Fail(Code::kInvalidState, "unknown reservation status");
}

ReservationResult InventoryModel::Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                         std::string_view /*actor*/, std::int64_t now_ms) {
  ExpireDue(now_ms);
  if (!IsValidTtl(ttl_seconds)) {
    return Fail(Code::kInvalidRequest, "ttl_seconds must be 1.." + Str(kMaxTtlSeconds));
  }
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Fail(Code::kNotFound, "no reservation " + std::string(order_id));
  }
  ReservationView& r = it->second;
  if (r.status == ReservationStatus::kExpired) {
    return FailWith(Code::kReservationExpired, "reservation expired", r);
  }
  if (r.status != ReservationStatus::kReserved) {
    return FailWith(Code::kInvalidState,
                    "reservation is " + std::string(ReservationStatusName(r.status)), r);
  }
  // A deadline only moves forward, so a late retry of an extend cannot shorten the hold.
  const std::int64_t deadline = std::max(r.expires_at_ms, now_ms + ttl_seconds * 1000);
  deadlines_.erase({r.expires_at_ms, r.order_id});
  r.expires_at_ms = deadline;
  r.updated_at_ms = now_ms;
  deadlines_.emplace(r.expires_at_ms, r.order_id);
  return Done("extended", r);
}

ReservationResult InventoryModel::Return(std::string_view order_id, std::string_view actor,
                                         std::int64_t now_ms, std::string_view reason) {
  ExpireDue(now_ms);
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Fail(Code::kNotFound, "no reservation " + std::string(order_id));
  }
  ReservationView& r = it->second;
  switch (r.status) {
    case ReservationStatus::kConfirmed:
      ApplyItems(r, LedgerOp::kReturn, actor, reason, now_ms);
      SetStatus(r, ReservationStatus::kReturned, now_ms);
      return Done("returned", r);
    case ReservationStatus::kReturned:
      return Done("already returned", r, /*replayed=*/true);
    case ReservationStatus::kReserved:
    case ReservationStatus::kReleased:
    case ReservationStatus::kExpired:
      return FailWith(Code::kInvalidState,
                      "only confirmed reservations can be returned; this one is " +
                          std::string(ReservationStatusName(r.status)),
                      r);
  }
  assert(false && "unreachable reservation status");
  return Fail(Code::kInvalidState, "unknown reservation status");
}

int InventoryModel::ExpireDue(std::int64_t now_ms) {
  int expired = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    auto it = reservations_.find(deadlines_.begin()->second);
    assert(it != reservations_.end() && it->second.status == ReservationStatus::kReserved);
    ApplyItems(it->second, LedgerOp::kExpire, kExpiryActor, "", now_ms);
    SetStatus(it->second, ReservationStatus::kExpired, now_ms);  // drops it from deadlines_
    ++expired;
  }
  return expired;
}

StockResult InventoryModel::GetStock(std::int64_t sku, std::int64_t now_ms) {
  ExpireDue(now_ms);
  if (!IsValidSku(sku)) return FailStock(Code::kInvalidRequest, "sku is out of range");
  if (!skus_.contains(sku)) return FailStock(Code::kUnknownSku, "unknown sku " + Str(sku));
  StockResult result;
  result.message = "ok";
  result.stock = ViewOf(sku);
  return result;
}

ReservationResult InventoryModel::GetReservation(std::string_view order_id, std::int64_t now_ms) {
  ExpireDue(now_ms);
  auto it = reservations_.find(order_id);
  if (it == reservations_.end()) {
    return Fail(Code::kNotFound, "no reservation " + std::string(order_id));
  }
  return Done("ok", it->second);
}

std::vector<StockView> InventoryModel::AllStock() const {
  std::vector<StockView> views;
  views.reserve(skus_.size());
  for (const auto& entry : skus_) views.push_back(ViewOf(entry.first));
  return views;
}

std::vector<ReservationView> InventoryModel::AllReservations() const {
  std::vector<ReservationView> views;
  views.reserve(reservations_.size());
  for (const auto& entry : reservations_) views.push_back(entry.second);
  return views;
}

std::int64_t InventoryModel::HeldByCustomer(std::string_view customer_id, std::int64_t sku) const {
  auto it = customer_units_.find({std::string(customer_id), sku});
  return it == customer_units_.end() ? 0 : it->second;
}

ReplayResult InventoryModel::Replay(const std::vector<LedgerEvent>& events) {
  ReplayResult result;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const LedgerEvent& e = events[i];
    auto fail = [&](std::string why) {
      result.ok = false;
      result.bad_seq = e.seq;
      result.message = "event " + Str(e.seq) + " (" + std::string(LedgerOpName(e.op)) + " sku " +
                       Str(e.sku) + "): " + std::move(why);
      return result;
    };
    if (e.seq != static_cast<std::int64_t>(i) + 1) {
      return fail("expected seq " + Str(static_cast<std::int64_t>(i) + 1));
    }
    const bool signed_qty = e.op == LedgerOp::kSet || e.op == LedgerOp::kAdjust;
    if (!signed_qty && e.qty <= 0) return fail("qty must be positive");
    auto it = result.skus.find(e.sku);
    if (it == result.skus.end() && e.op != LedgerOp::kSet) {
      return fail("first event of a sku must be a set");
    }
    StockCounters c = it == result.skus.end() ? StockCounters{} : it->second;
    if (e.before != c.on_hand - c.reserved) {
      return fail("before is " + Str(e.before) + ", replayed available is " +
                  Str(c.on_hand - c.reserved));
    }
    c += DeltaOf(e.op, e.qty);
    if (e.after != c.on_hand - c.reserved) {
      return fail("after is " + Str(e.after) + ", replayed available is " +
                  Str(c.on_hand - c.reserved));
    }
    if (!CountersValid(c)) {
      return fail("counters out of bounds: on_hand " + Str(c.on_hand) + ", reserved " +
                  Str(c.reserved) + ", sold " + Str(c.sold));
    }
    result.skus[e.sku] = c;
  }
  return result;
}

StockView InventoryModel::ViewOf(std::int64_t sku) const {
  const Sku& s = skus_.at(sku);
  StockView view;
  view.sku = sku;
  view.on_hand = s.on_hand;
  view.reserved = s.reserved;
  view.available = s.on_hand - s.reserved;
  view.sold = s.sold;
  view.version = s.version;
  view.per_customer_limit = s.per_customer_limit;
  view.low_stock_threshold = s.low_stock_threshold;
  view.updated_at_ms = s.updated_at_ms;
  return view;
}

void InventoryModel::Apply(std::int64_t sku, std::string_view ref, LedgerOp op, std::int64_t qty,
                           std::string_view actor, std::string_view reason, std::int64_t now_ms) {
  Sku& s = skus_.at(sku);
  StockCounters c{s.on_hand, s.reserved, s.sold};
  const std::int64_t before = c.on_hand - c.reserved;
  c += DeltaOf(op, qty);
  // Callers check every precondition first; a violation here is a bug in the model.
  assert(CountersValid(c));
  s.on_hand = c.on_hand;
  s.reserved = c.reserved;
  s.sold = c.sold;
  ++s.version;
  // Never back in time: callers' clocks differ (origins, an operator's repair), and the history
  // keeps the latest time too.
  s.updated_at_ms = std::max(s.updated_at_ms, now_ms);

  LedgerEvent event;
  event.seq = static_cast<std::int64_t>(ledger_.size()) + 1;
  event.sku = sku;
  event.ref = std::string(ref);
  event.op = op;
  event.qty = qty;
  event.before = before;
  event.after = c.on_hand - c.reserved;
  event.actor = std::string(actor);
  event.reason = std::string(reason);
  event.time_ms = now_ms;
  ledger_.push_back(std::move(event));
}

void InventoryModel::ApplyItems(const ReservationView& reservation, LedgerOp op,
                                std::string_view actor, std::string_view reason,
                                std::int64_t now_ms) {
  for (const Item& item : reservation.items) {
    Apply(item.sku, reservation.order_id, op, item.qty, actor, reason, now_ms);
  }
}

void InventoryModel::SetStatus(ReservationView& reservation, ReservationStatus status,
                               std::int64_t now_ms) {
  // Units enter the customer count only at creation, so a transition can only take them out.
  assert(CountsAgainstLimit(reservation.status) || !CountsAgainstLimit(status));
  if (CountsAgainstLimit(reservation.status) && !CountsAgainstLimit(status)) {
    CountForCustomer(reservation, -1);
  }
  if (reservation.status == ReservationStatus::kReserved) {
    deadlines_.erase({reservation.expires_at_ms, reservation.order_id});
  }
  reservation.status = status;
  reservation.updated_at_ms = now_ms;
}

void InventoryModel::CountForCustomer(const ReservationView& reservation, std::int64_t sign) {
  if (reservation.customer_id.empty()) return;
  for (const Item& item : reservation.items) {
    auto key = std::make_pair(reservation.customer_id, item.sku);
    std::int64_t& units = customer_units_[key];
    units += sign * item.qty;
    assert(units >= 0);
    if (units == 0) customer_units_.erase(key);
  }
}

}  // namespace stockgate::core
