// InventoryModel: the reference (oracle) in-memory implementation of stockgate's stock and
// reservation semantics: SKU counters, the reservation state machine, per-customer limits,
// idempotency by order_id / request_id, expiry, and the ledger with its replay rules.
// The Redis Lua scripts and the sync worker are tested against it, so it favours exactness and
// clarity over speed. Time is always a parameter and every public operation first expires the
// holds that are due, so each result is a pure function of the sequence of calls.
#ifndef STOCKGATE_CORE_INVENTORY_MODEL_H_
#define STOCKGATE_CORE_INVENTORY_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/requests.h"
#include "core/status.h"

namespace stockgate::core {

enum class ReservationStatus : std::uint8_t {
  kReserved = 0,   // units held; the only state with a deadline
  kConfirmed = 1,  // units sold
  kReleased = 2,   // hold given back by the caller
  kExpired = 3,    // hold given back at its deadline
  kReturned = 4,   // sold units put back on hand
};

// Ledger operations. Replay rules (the only ones; replaying them from an empty state rebuilds
// on_hand, reserved and sold exactly):
//   set, adjust: on_hand += qty (qty is signed)    reserve: reserved += qty
//   confirm: reserved -= qty, on_hand -= qty, sold += qty
//   release, expire: reserved -= qty               return: on_hand += qty, sold -= qty
enum class LedgerOp : std::uint8_t {
  kSet = 0,
  kAdjust = 1,
  kReserve = 2,
  kConfirm = 3,
  kRelease = 4,
  kExpire = 5,
  kReturn = 6,
};

// "reserved", "confirmed", ...; "unknown" for a value outside the enum.
std::string_view ReservationStatusName(ReservationStatus status);
// "set", "adjust", "reserve", "confirm", "release", "expire", "return"; "unknown" otherwise.
std::string_view LedgerOpName(LedgerOp op);
// The inverses of the two above; nullopt for any other text.
std::optional<ReservationStatus> ReservationStatusFromName(std::string_view name);
std::optional<LedgerOp> LedgerOpFromName(std::string_view name);

// A SKU is low on stock when it has a threshold and its available units are at or below it (a
// sold-out SKU with a threshold is low too). The one rule behind the stock view's `low_stock`,
// the `low_stock` events of GET /v1/events and the stockgate_stock_skus gauge.
constexpr bool IsLowStock(std::int64_t available, std::int64_t low_stock_threshold) {
  return low_stock_threshold > 0 && available <= low_stock_threshold;
}

struct StockView {
  std::int64_t sku = 0;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;  // on_hand - reserved
  std::int64_t sold = 0;
  std::int64_t version = 0;  // 1 at creation; +1 per ledger event and per options-only change
  std::int64_t per_customer_limit = 0;  // 0: no limit
  std::int64_t updated_at_ms = 0;
  std::int64_t low_stock_threshold = 0;  // 0: never low (see IsLowStock)
  friend bool operator==(const StockView&, const StockView&) = default;
};

struct ReservationView {
  std::string order_id;
  ReservationStatus status = ReservationStatus::kReserved;
  std::vector<Item> items;  // request order
  std::string customer_id;  // "" when absent
  std::int64_t ttl_seconds = 0;
  bool confirm = false;            // as requested
  std::int64_t expires_at_ms = 0;  // created_at + ttl; only moved forward by Extend
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  friend bool operator==(const ReservationView&, const ReservationView&) = default;
};

struct LedgerEvent {
  std::int64_t seq = 0;  // 1, 2, 3, ... in the order of the changes
  std::int64_t sku = 0;
  std::string ref;  // order_id (reservation ops), request_id (adjust), "" (set)
  LedgerOp op = LedgerOp::kSet;
  std::int64_t qty = 0;     // signed for set and adjust, > 0 otherwise
  std::int64_t before = 0;  // the SKU's available before the change
  std::int64_t after = 0;   // and after it
  std::string actor;
  std::string reason;
  std::int64_t time_ms = 0;
  friend bool operator==(const LedgerEvent&, const LedgerEvent&) = default;
};

// The counters the ledger determines.
struct StockCounters {
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t sold = 0;
  std::int64_t available() const { return on_hand - reserved; }
  StockCounters& operator+=(const StockCounters& d) {
    on_hand += d.on_hand;
    reserved += d.reserved;
    sold += d.sold;
    return *this;
  }
  StockCounters& operator-=(const StockCounters& d) {
    on_hand -= d.on_hand;
    reserved -= d.reserved;
    sold -= d.sold;
    return *this;
  }
  friend bool operator==(const StockCounters&, const StockCounters&) = default;
};

// What one ledger event adds to a SKU's counters: the replay rules above, written once here.
// (The Lua scripts apply the same rules and are held to the model by the model-based test.)
StockCounters DeltaOf(LedgerOp op, std::int64_t qty);

struct ReplayResult {
  bool ok = true;
  std::int64_t bad_seq = 0;  // seq of the first inconsistent event when !ok
  std::string message;
  std::map<std::int64_t, StockCounters> skus;  // state after the last consistent event
};

// SetStock, Adjust, GetStock. `stock` is set on success and when the SKU exists but the
// operation was refused because of its state.
struct StockResult {
  Code code = Code::kOk;
  std::string message;
  std::optional<StockView> stock;
  std::vector<FailItem> fail_items;  // kInsufficientStock only
  bool created = false;              // SetStock created the SKU
  bool replayed = false;             // idempotent retry: nothing changed
  bool ok() const { return code == Code::kOk; }
};

// Reserve and the reservation transitions. `reservation` is set on success and when the
// reservation exists but the operation was refused because of its state.
struct ReservationResult {
  Code code = Code::kOk;
  std::string message;
  std::optional<ReservationView> reservation;
  std::vector<FailItem> fail_items;  // kInsufficientStock only
  bool created = false;              // Reserve made a new reservation (HTTP 201; else 200)
  bool replayed = false;             // idempotent retry: nothing changed
  bool ok() const { return code == Code::kOk; }
};

class InventoryModel {
 public:
  // Actor recorded on the events of holds that reach their deadline.
  static constexpr std::string_view kExpiryActor = "expiry";

  // Creates the SKU or sets its on_hand (and per_customer_limit, low_stock_threshold when given).
  StockResult SetStock(std::int64_t sku, const SetStockRequest& request, std::string_view actor,
                       std::int64_t now_ms);
  // Adds `delta` to on_hand; idempotent by (sku, request_id).
  StockResult Adjust(std::int64_t sku, const AdjustmentRequest& request, std::string_view actor,
                     std::int64_t now_ms);
  // All-or-nothing hold of every item; idempotent by order_id.
  ReservationResult Reserve(const ReservationRequest& request, std::string_view actor,
                            std::int64_t now_ms);
  ReservationResult Confirm(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                            std::string_view reason = {});
  ReservationResult Release(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                            std::string_view reason = {});
  // Writes no ledger event, so `actor` is not recorded anywhere.
  ReservationResult Extend(std::string_view order_id, std::int64_t ttl_seconds,
                           std::string_view actor, std::int64_t now_ms);
  ReservationResult Return(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                           std::string_view reason = {});
  // Expires every reserved hold with expires_at_ms <= now_ms, in (expires_at_ms, order_id) order.
  // Returns how many expired.
  int ExpireDue(std::int64_t now_ms);

  StockResult GetStock(std::int64_t sku, std::int64_t now_ms);
  ReservationResult GetReservation(std::string_view order_id, std::int64_t now_ms);

  // Raw state for comparisons; these do not expire anything.
  std::vector<StockView> AllStock() const;               // by sku
  std::vector<ReservationView> AllReservations() const;  // by order_id
  const std::vector<LedgerEvent>& Ledger() const { return ledger_; }
  // Units of `sku` that count against the customer's limit: those of its reserved and confirmed
  // reservations.
  std::int64_t HeldByCustomer(std::string_view customer_id, std::int64_t sku) const;

  // Rebuilds the counters from a ledger by the replay rules, checking along the way that seq
  // counts up from 1, before/after match the replayed available, and 0 <= reserved <= on_hand,
  // sold >= 0 hold after every event.
  static ReplayResult Replay(const std::vector<LedgerEvent>& events);

 private:
  struct Sku {
    std::int64_t on_hand = 0;
    std::int64_t reserved = 0;
    std::int64_t sold = 0;
    std::int64_t version = 0;
    std::int64_t per_customer_limit = 0;
    std::int64_t low_stock_threshold = 0;
    std::int64_t updated_at_ms = 0;
  };

  StockView ViewOf(std::int64_t sku) const;
  // Applies one ledger operation to a SKU, bumps its version and appends the event.
  void Apply(std::int64_t sku, std::string_view ref, LedgerOp op, std::int64_t qty,
             std::string_view actor, std::string_view reason, std::int64_t now_ms);
  // Applies `op` to every item of the reservation, in item order.
  void ApplyItems(const ReservationView& reservation, LedgerOp op, std::string_view actor,
                  std::string_view reason, std::int64_t now_ms);
  // Moves a reservation to `status`, keeping the deadline and customer indexes in step.
  void SetStatus(ReservationView& reservation, ReservationStatus status, std::int64_t now_ms);
  void CountForCustomer(const ReservationView& reservation, std::int64_t sign);

  std::map<std::int64_t, Sku> skus_;
  std::map<std::string, ReservationView, std::less<>> reservations_;
  // (sku, request_id) -> delta of each accepted adjustment.
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> adjustments_;
  // (expires_at_ms, order_id) of every reservation in status reserved.
  std::set<std::pair<std::int64_t, std::string>> deadlines_;
  // (customer_id, sku) -> units counted against the limit; see HeldByCustomer.
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> customer_units_;
  std::vector<LedgerEvent> ledger_;
};

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_INVENTORY_MODEL_H_
