#include "core/inventory_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace stockgate::core {
namespace {

// prefix + n. (Spelled out because GCC 12 raises a false -Wrestrict on "literal" + std::string.)
std::string Numbered(std::string_view prefix, std::int64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

using Status = ReservationStatus;

constexpr std::int64_t kStartMs = 1'700'000'000'000;

ReservationRequest MakeRequest(std::string order_id, std::vector<Item> items,
                               std::int64_t ttl_seconds = 60, std::string customer_id = "",
                               bool confirm = false) {
  ReservationRequest request;
  request.order_id = std::move(order_id);
  request.items = std::move(items);
  request.ttl_seconds = ttl_seconds;
  request.customer_id = std::move(customer_id);
  request.confirm = confirm;
  return request;
}

SetStockRequest MakeSet(std::int64_t on_hand, std::optional<std::int64_t> limit = std::nullopt,
                        std::string reason = "") {
  SetStockRequest request;
  request.on_hand = on_hand;
  request.per_customer_limit = limit;
  request.reason = std::move(reason);
  return request;
}

AdjustmentRequest MakeAdjust(std::int64_t delta, std::string request_id, std::string reason = "") {
  AdjustmentRequest request;
  request.delta = delta;
  request.request_id = std::move(request_id);
  request.reason = std::move(reason);
  return request;
}

class InventoryModelTest : public ::testing::Test {
 protected:
  void Advance(std::int64_t ms) { now_ms_ += ms; }

  StockResult Set(std::int64_t sku, std::int64_t on_hand,
                  std::optional<std::int64_t> limit = std::nullopt) {
    return model_.SetStock(sku, MakeSet(on_hand, limit), "admin", now_ms_);
  }
  StockResult Adjust(std::int64_t sku, std::int64_t delta, const std::string& request_id) {
    return model_.Adjust(sku, MakeAdjust(delta, request_id), "admin", now_ms_);
  }
  ReservationResult Reserve(const std::string& order_id, std::vector<Item> items,
                            std::int64_t ttl_seconds = 60, const std::string& customer_id = "",
                            bool confirm = false) {
    return model_.Reserve(
        MakeRequest(order_id, std::move(items), ttl_seconds, customer_id, confirm), "svc", now_ms_);
  }
  // The SKU's current view; a failure (and an empty view) when the SKU is unknown.
  StockView Stock(std::int64_t sku) {
    StockResult result = model_.GetStock(sku, now_ms_);
    EXPECT_EQ(result.code, Code::kOk) << "sku " << sku;
    return result.stock.value_or(StockView{});
  }
  Status StatusOf(const std::string& order_id) {
    ReservationResult result = model_.GetReservation(order_id, now_ms_);
    EXPECT_EQ(result.code, Code::kOk) << order_id;
    return result.reservation ? result.reservation->status : Status::kReserved;
  }
  std::size_t LedgerSize() const { return model_.Ledger().size(); }
  const LedgerEvent& LastEvent() const { return model_.Ledger().back(); }
  // Checks that replaying the ledger gives the model's counters for every SKU.
  void ExpectReplayMatches() const {
    ReplayResult replay = InventoryModel::Replay(model_.Ledger());
    ASSERT_TRUE(replay.ok) << replay.message;
    std::vector<StockView> stock = model_.AllStock();
    ASSERT_EQ(replay.skus.size(), stock.size());
    for (const StockView& view : stock) {
      EXPECT_EQ(replay.skus[view.sku], (StockCounters{view.on_hand, view.reserved, view.sold}))
          << "sku " << view.sku;
    }
  }

  InventoryModel model_;
  std::int64_t now_ms_ = kStartMs;
};

// The wire names of statuses and ledger ops are exactly the documented strings.
// The replay rules of the ledger, as the model's header states them.
TEST(DeltaTest, FollowsReplayRules) {
  EXPECT_EQ(DeltaOf(LedgerOp::kSet, -4), (StockCounters{-4, 0, 0}));
  EXPECT_EQ(DeltaOf(LedgerOp::kAdjust, 3), (StockCounters{3, 0, 0}));
  EXPECT_EQ(DeltaOf(LedgerOp::kReserve, 2), (StockCounters{0, 2, 0}));
  EXPECT_EQ(DeltaOf(LedgerOp::kConfirm, 2), (StockCounters{-2, -2, 2}));
  EXPECT_EQ(DeltaOf(LedgerOp::kRelease, 2), (StockCounters{0, -2, 0}));
  EXPECT_EQ(DeltaOf(LedgerOp::kExpire, 2), (StockCounters{0, -2, 0}));
  EXPECT_EQ(DeltaOf(LedgerOp::kReturn, 2), (StockCounters{2, 0, -2}));
}

TEST(InventoryModelNamesTest, StatusAndOpNames) {
  EXPECT_EQ(ReservationStatusName(Status::kReserved), "reserved");
  EXPECT_EQ(ReservationStatusName(Status::kConfirmed), "confirmed");
  EXPECT_EQ(ReservationStatusName(Status::kReleased), "released");
  EXPECT_EQ(ReservationStatusName(Status::kExpired), "expired");
  EXPECT_EQ(ReservationStatusName(Status::kReturned), "returned");
  EXPECT_EQ(ReservationStatusName(static_cast<Status>(99)), "unknown");
  EXPECT_EQ(LedgerOpName(LedgerOp::kSet), "set");
  EXPECT_EQ(LedgerOpName(LedgerOp::kAdjust), "adjust");
  EXPECT_EQ(LedgerOpName(LedgerOp::kReserve), "reserve");
  EXPECT_EQ(LedgerOpName(LedgerOp::kConfirm), "confirm");
  EXPECT_EQ(LedgerOpName(LedgerOp::kRelease), "release");
  EXPECT_EQ(LedgerOpName(LedgerOp::kExpire), "expire");
  EXPECT_EQ(LedgerOpName(LedgerOp::kReturn), "return");
  EXPECT_EQ(LedgerOpName(static_cast<LedgerOp>(99)), "unknown");
}

// Parsing a name gives back the value it names, and nothing for other text.
TEST(InventoryModelNamesTest, NamesParseBack) {
  for (int i = 0; i < 5; ++i) {
    const auto s = static_cast<Status>(i);
    EXPECT_EQ(ReservationStatusFromName(ReservationStatusName(s)), s);
  }
  for (int i = 0; i < 7; ++i) {
    const auto op = static_cast<LedgerOp>(i);
    EXPECT_EQ(LedgerOpFromName(LedgerOpName(op)), op);
  }
  EXPECT_EQ(ReservationStatusFromName("unknown"), std::nullopt);
  EXPECT_EQ(ReservationStatusFromName("Reserved"), std::nullopt);
  EXPECT_EQ(LedgerOpFromName(""), std::nullopt);
  EXPECT_EQ(LedgerOpFromName("sell"), std::nullopt);
}

// The first set creates the SKU at version 1 and writes a set event from 0.
TEST_F(InventoryModelTest, SetStockCreatesSku) {
  StockResult result = model_.SetStock(7, MakeSet(10, 3, "launch"), "alice", now_ms_);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_TRUE(result.created);
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.stock, (StockView{7, 10, 0, 10, 0, 1, 3, kStartMs}));
  ASSERT_EQ(LedgerSize(), 1u);
  EXPECT_EQ(LastEvent(),
            (LedgerEvent{1, 7, "", LedgerOp::kSet, 10, 0, 10, "alice", "launch", kStartMs}));
}

// A SKU created with on_hand 0 still gets its set event, so replay knows it exists.
TEST_F(InventoryModelTest, SetStockZeroOnNewSkuEmitsEvent) {
  ASSERT_TRUE(Set(5, 0).ok());
  ASSERT_EQ(LedgerSize(), 1u);
  EXPECT_EQ(LastEvent().qty, 0);
  EXPECT_EQ(Stock(5).version, 1);
  ExpectReplayMatches();
}

// Setting the same value again changes nothing: no event, no version bump, no updated_at move.
TEST_F(InventoryModelTest, SetStockSameValueIsNoOp) {
  ASSERT_TRUE(Set(1, 10, 2).ok());
  Advance(1000);
  StockResult again = Set(1, 10);  // limit absent: kept at 2
  ASSERT_EQ(again.code, Code::kOk);
  EXPECT_TRUE(again.replayed);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.stock, (StockView{1, 10, 0, 10, 0, 1, 2, kStartMs}));
  EXPECT_EQ(LedgerSize(), 1u);
  EXPECT_TRUE(Set(1, 10, 2).replayed);
  EXPECT_EQ(LedgerSize(), 1u);
}

// A set on an existing SKU writes the signed difference as qty.
TEST_F(InventoryModelTest, SetStockWritesSignedDelta) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 3}}).ok());
  Advance(5);
  StockResult result = Set(1, 4);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_EQ(result.stock, (StockView{1, 4, 3, 1, 0, 3, 0, kStartMs + 5}));
  EXPECT_EQ(LastEvent(),
            (LedgerEvent{3, 1, "", LedgerOp::kSet, -6, 7, 1, "admin", "", kStartMs + 5}));
  ASSERT_TRUE(Set(1, 20).ok());
  EXPECT_EQ(LastEvent().qty, 16);
  ExpectReplayMatches();
}

// Changing only the limit bumps version and updated_at but writes no event; 0 clears it.
TEST_F(InventoryModelTest, SetStockLimitOnlyChange) {
  ASSERT_TRUE(Set(1, 10).ok());
  Advance(10);
  StockResult result = Set(1, 10, 4);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.stock, (StockView{1, 10, 0, 10, 0, 2, 4, kStartMs + 10}));
  EXPECT_EQ(LedgerSize(), 1u);
  ASSERT_TRUE(Set(1, 12).ok());  // absent keeps the limit
  EXPECT_EQ(Stock(1).per_customer_limit, 4);
  EXPECT_EQ(Stock(1).version, 3);
  ASSERT_TRUE(Set(1, 12, 0).ok());
  EXPECT_EQ(Stock(1).per_customer_limit, 0);
  EXPECT_EQ(Stock(1).version, 4);
  EXPECT_EQ(LedgerSize(), 2u);
}

// A SKU gets the request's threshold, else the configured default when created; absent keeps
// it; changing only the threshold is an options-only change (version, no event).
TEST_F(InventoryModelTest, SetStockLowStockThreshold) {
  SetStockRequest create = MakeSet(10);
  create.default_low_stock_threshold = 5;
  ASSERT_TRUE(model_.SetStock(1, create, "admin", now_ms_).ok());
  EXPECT_EQ(Stock(1).low_stock_threshold, 5);
  ASSERT_TRUE(model_.SetStock(1, create, "admin", now_ms_).replayed);  // the default never resets
  SetStockRequest change = MakeSet(10);
  change.low_stock_threshold = 2;
  ASSERT_TRUE(model_.SetStock(1, change, "admin", now_ms_).ok());
  EXPECT_EQ(Stock(1).low_stock_threshold, 2);
  EXPECT_EQ(Stock(1).version, 2);
  EXPECT_EQ(LedgerSize(), 1u);
  ASSERT_TRUE(model_.SetStock(1, create, "admin", now_ms_).replayed);  // absent keeps 2
  EXPECT_EQ(Stock(1).low_stock_threshold, 2);
  ASSERT_TRUE(Set(2, 4).ok());  // no default: never low
  EXPECT_EQ(Stock(2).low_stock_threshold, 0);
  change.low_stock_threshold = -1;
  EXPECT_EQ(model_.SetStock(1, change, "admin", now_ms_).code, Code::kInvalidRequest);
  EXPECT_EQ(Stock(1).low_stock_threshold, 2);
}

TEST(LowStockTest, AtOrBelowAThresholdOnly) {
  EXPECT_FALSE(IsLowStock(0, 0));  // no threshold: never low, even sold out
  EXPECT_TRUE(IsLowStock(0, 1));
  EXPECT_TRUE(IsLowStock(5, 5));
  EXPECT_FALSE(IsLowStock(6, 5));
}

// on_hand may go down to reserved but not below it; a refused set changes nothing.
TEST_F(InventoryModelTest, SetStockBelowReservedIsInvalidState) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 6}}).ok());
  const StockView before = Stock(1);
  StockResult result = model_.SetStock(1, MakeSet(5, 9), "admin", now_ms_);
  EXPECT_EQ(result.code, Code::kInvalidState);
  EXPECT_NE(result.message.find("below reserved"), std::string::npos) << result.message;
  EXPECT_EQ(result.stock, before);
  EXPECT_EQ(Stock(1), before);  // the limit in the refused request was not applied either
  EXPECT_EQ(LedgerSize(), 2u);
  ASSERT_TRUE(Set(1, 6).ok());
  EXPECT_EQ(Stock(1).available, 0);
}

// Out-of-range set input is a 400 and creates nothing.
TEST_F(InventoryModelTest, SetStockRejectsOutOfRangeInput) {
  EXPECT_EQ(Set(1, -1).code, Code::kInvalidRequest);
  EXPECT_EQ(Set(1, kMaxOnHand + 1).code, Code::kInvalidRequest);
  EXPECT_EQ(Set(1, 1, -1).code, Code::kInvalidRequest);
  EXPECT_EQ(Set(1, 1, kMaxPerCustomerLimit + 1).code, Code::kInvalidRequest);
  EXPECT_EQ(Set(0, 1).code, Code::kInvalidRequest);
  EXPECT_EQ(Set(kMaxSku + 1, 1).code, Code::kInvalidRequest);
  EXPECT_TRUE(model_.AllStock().empty());
  EXPECT_EQ(LedgerSize(), 0u);
  EXPECT_TRUE(Set(kMaxSku, kMaxOnHand, kMaxPerCustomerLimit).ok());
}

// Adjusting a SKU that was never set is unknown_sku.
TEST_F(InventoryModelTest, AdjustUnknownSku) {
  StockResult result = Adjust(3, 5, "r1");
  EXPECT_EQ(result.code, Code::kUnknownSku);
  EXPECT_FALSE(result.stock.has_value());
  EXPECT_EQ(LedgerSize(), 0u);
}

// An adjustment adds its signed delta to on_hand and writes an adjust event keyed by request_id.
TEST_F(InventoryModelTest, AdjustAppliesDelta) {
  ASSERT_TRUE(Set(1, 10).ok());
  Advance(7);
  StockResult result = model_.Adjust(1, MakeAdjust(5, "r1", "restock"), "bob", now_ms_);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.stock, (StockView{1, 15, 0, 15, 0, 2, 0, kStartMs + 7}));
  EXPECT_EQ(LastEvent(), (LedgerEvent{2, 1, "r1", LedgerOp::kAdjust, 5, 10, 15, "bob", "restock",
                                      kStartMs + 7}));
  ASSERT_TRUE(Adjust(1, -15, "r2").ok());
  EXPECT_EQ(LastEvent().qty, -15);
  EXPECT_EQ(Stock(1).on_hand, 0);
  ExpectReplayMatches();
}

// A retry with the same request_id and delta returns ok/replayed with the current view.
TEST_F(InventoryModelTest, AdjustRetryIsReplayed) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Adjust(1, 5, "r1").ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}).ok());
  const std::size_t events = LedgerSize();
  StockResult retry = Adjust(1, 5, "r1");
  ASSERT_EQ(retry.code, Code::kOk);
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.stock, Stock(1));
  EXPECT_EQ(retry.stock->on_hand, 15);
  EXPECT_EQ(retry.stock->available, 11);
  EXPECT_EQ(LedgerSize(), events);
}

// The same request_id with another delta is an idempotency conflict and changes nothing.
TEST_F(InventoryModelTest, AdjustConflictingRetry) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Adjust(1, 5, "r1").ok());
  StockResult result = Adjust(1, 6, "r1");
  EXPECT_EQ(result.code, Code::kIdempotencyConflict);
  EXPECT_EQ(Stock(1).on_hand, 15);
  EXPECT_EQ(LedgerSize(), 2u);
}

// request_id is scoped per SKU: reusing it on another SKU is a new adjustment.
TEST_F(InventoryModelTest, AdjustRequestIdScopedPerSku) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 10).ok());
  ASSERT_TRUE(Adjust(1, 5, "r1").ok());
  StockResult other = Adjust(2, -3, "r1");
  ASSERT_EQ(other.code, Code::kOk);
  EXPECT_FALSE(other.replayed);
  EXPECT_EQ(Stock(2).on_hand, 7);
  EXPECT_EQ(Stock(1).on_hand, 15);
}

// A write-off below reserved is insufficient_stock, is not remembered, and may succeed later.
TEST_F(InventoryModelTest, AdjustBelowReservedIsInsufficientAndRetriable) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 8}}).ok());
  const StockView before = Stock(1);
  StockResult result = Adjust(1, -3, "w1");
  EXPECT_EQ(result.code, Code::kInsufficientStock);
  EXPECT_EQ(result.fail_items, (std::vector<FailItem>{{1, 3, 2}}));
  EXPECT_EQ(result.stock, before);
  EXPECT_EQ(Stock(1), before);
  EXPECT_TRUE(Adjust(1, -2, "w2").ok());  // down to exactly reserved is fine
  ASSERT_TRUE(model_.Release("o1", "svc", now_ms_).ok());
  StockResult retry = Adjust(1, -3, "w1");
  ASSERT_EQ(retry.code, Code::kOk);
  EXPECT_FALSE(retry.replayed);
  EXPECT_EQ(Stock(1).on_hand, 5);
}

// A write-off below zero is insufficient_stock too.
TEST_F(InventoryModelTest, AdjustBelowZeroIsInsufficient) {
  ASSERT_TRUE(Set(1, 4).ok());
  StockResult result = Adjust(1, -5, "w1");
  EXPECT_EQ(result.code, Code::kInsufficientStock);
  EXPECT_EQ(result.fail_items, (std::vector<FailItem>{{1, 5, 4}}));
  EXPECT_EQ(Stock(1).on_hand, 4);
}

// A restock past kMaxOnHand is invalid_request and is not remembered; exactly kMaxOnHand is fine.
TEST_F(InventoryModelTest, AdjustAboveMaxOnHandIsInvalid) {
  ASSERT_TRUE(Set(1, kMaxOnHand - 10).ok());
  EXPECT_EQ(Adjust(1, 11, "r1").code, Code::kInvalidRequest);
  EXPECT_EQ(Stock(1).on_hand, kMaxOnHand - 10);
  EXPECT_EQ(LedgerSize(), 1u);
  EXPECT_TRUE(Adjust(1, 10, "r2").ok());
  EXPECT_EQ(Stock(1).on_hand, kMaxOnHand);
  ASSERT_TRUE(Adjust(1, -21, "r3").ok());
  EXPECT_TRUE(Adjust(1, 11, "r1").ok());  // the refusal did not remember r1
}

// Malformed adjustments are rejected before anything else.
TEST_F(InventoryModelTest, AdjustRejectsMalformedInput) {
  ASSERT_TRUE(Set(1, 10).ok());
  EXPECT_EQ(Adjust(1, 0, "r1").code, Code::kInvalidRequest);
  EXPECT_EQ(Adjust(1, 1, "").code, Code::kInvalidRequest);
  EXPECT_EQ(Adjust(0, 1, "r1").code, Code::kInvalidRequest);
  EXPECT_EQ(Adjust(1, kMaxOnHand + 1, "r1").code, Code::kInvalidRequest);
  EXPECT_EQ(Adjust(1, -kMaxOnHand - 1, "r1").code, Code::kInvalidRequest);
  EXPECT_EQ(LedgerSize(), 1u);
  EXPECT_TRUE(Adjust(1, 1, "r1").ok());  // none of the refusals remembered r1
}

// A new reservation holds every item, writes one reserve event per item in item order.
TEST_F(InventoryModelTest, ReserveHoldsEveryItem) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 5).ok());
  Advance(100);
  ReservationResult result = Reserve("o1", {{2, 2}, {1, 3}}, 30, "c1");
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_TRUE(result.created);
  EXPECT_FALSE(result.replayed);
  const std::int64_t t = kStartMs + 100;
  EXPECT_EQ(result.reservation,
            (ReservationView{
                "o1", Status::kReserved, {{2, 2}, {1, 3}}, "c1", 30, false, t + 30'000, t, t}));
  EXPECT_EQ(Stock(1), (StockView{1, 10, 3, 7, 0, 2, 0, t}));
  EXPECT_EQ(Stock(2), (StockView{2, 5, 2, 3, 0, 2, 0, t}));
  ASSERT_EQ(LedgerSize(), 4u);
  EXPECT_EQ(model_.Ledger()[2],
            (LedgerEvent{3, 2, "o1", LedgerOp::kReserve, 2, 5, 3, "svc", "", t}));
  EXPECT_EQ(model_.Ledger()[3],
            (LedgerEvent{4, 1, "o1", LedgerOp::kReserve, 3, 10, 7, "svc", "", t}));
  EXPECT_EQ(model_.GetReservation("o1", now_ms_).reservation, result.reservation);
  ExpectReplayMatches();
}

// An identical retry answers created=false with the stored reservation, whatever its status.
TEST_F(InventoryModelTest, ReserveIdenticalRetryReturnsExisting) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 3}}, 30, "c1").created);
  const std::size_t events = LedgerSize();
  ReservationResult retry = Reserve("o1", {{1, 3}}, 30, "c1");
  ASSERT_EQ(retry.code, Code::kOk);
  EXPECT_FALSE(retry.created);
  EXPECT_TRUE(retry.replayed);
  EXPECT_EQ(retry.reservation->status, Status::kReserved);
  EXPECT_EQ(LedgerSize(), events);
  EXPECT_EQ(Stock(1).reserved, 3);

  ASSERT_TRUE(model_.Confirm("o1", "svc", now_ms_).ok());
  retry = Reserve("o1", {{1, 3}}, 30, "c1");
  ASSERT_EQ(retry.code, Code::kOk);
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.reservation->status, Status::kConfirmed);

  ASSERT_TRUE(Reserve("o2", {{1, 1}}, 5).ok());
  Advance(5000);
  retry = Reserve("o2", {{1, 1}}, 5);
  ASSERT_EQ(retry.code, Code::kOk);
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.reservation->status, Status::kExpired);
  EXPECT_EQ(Stock(1).reserved, 0);
}

// Reusing an order_id with any difference in the request is an idempotency conflict.
TEST_F(InventoryModelTest, ReserveConflictingRetry) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 1}, {2, 1}}, 30, "c1").ok());
  const std::size_t events = LedgerSize();
  const std::vector<ReservationRequest> variants = {
      MakeRequest("o1", {{2, 1}, {1, 1}}, 30, "c1"),  // same items, other order
      MakeRequest("o1", {{1, 2}, {2, 1}}, 30, "c1"),
      MakeRequest("o1", {{1, 1}}, 30, "c1"),
      MakeRequest("o1", {{1, 1}, {2, 1}}, 31, "c1"),
      MakeRequest("o1", {{1, 1}, {2, 1}}, 30, "c2"),
      MakeRequest("o1", {{1, 1}, {2, 1}}, 30, ""),
      MakeRequest("o1", {{1, 1}, {2, 1}}, 30, "c1", true),
  };
  for (const ReservationRequest& request : variants) {
    EXPECT_EQ(model_.Reserve(request, "svc", now_ms_).code, Code::kIdempotencyConflict);
  }
  EXPECT_EQ(LedgerSize(), events);
  EXPECT_EQ(Stock(1).reserved, 1);
  EXPECT_EQ(StatusOf("o1"), Status::kReserved);
}

// An unknown SKU fails the whole request, naming the first unknown SKU in item order.
TEST_F(InventoryModelTest, ReserveUnknownSkuNamesFirstUnknown) {
  ASSERT_TRUE(Set(1, 10).ok());
  ReservationResult result = Reserve("o1", {{1, 1}, {99, 1}, {98, 1}});
  EXPECT_EQ(result.code, Code::kUnknownSku);
  EXPECT_NE(result.message.find("99"), std::string::npos) << result.message;
  EXPECT_EQ(result.message.find("98"), std::string::npos) << result.message;
  EXPECT_EQ(Stock(1).reserved, 0);
  EXPECT_EQ(model_.GetReservation("o1", now_ms_).code, Code::kNotFound);
}

// Insufficient stock lists every short item in item order and holds nothing of the others.
TEST_F(InventoryModelTest, ReserveInsufficientIsAllOrNothing) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 2).ok());
  ASSERT_TRUE(Set(3, 5).ok());
  ASSERT_TRUE(Set(4, 0).ok());
  const std::vector<StockView> before = model_.AllStock();
  ReservationResult result = Reserve("o1", {{1, 4}, {4, 1}, {3, 5}, {2, 3}});
  EXPECT_EQ(result.code, Code::kInsufficientStock);
  EXPECT_EQ(result.fail_items, (std::vector<FailItem>{{4, 1, 0}, {2, 3, 2}}));
  EXPECT_FALSE(result.reservation.has_value());
  EXPECT_EQ(model_.AllStock(), before);
  EXPECT_EQ(LedgerSize(), 4u);
  EXPECT_EQ(model_.GetReservation("o1", now_ms_).code, Code::kNotFound);
}

// Exactly the available quantity can be reserved; one more unit cannot.
TEST_F(InventoryModelTest, ReserveUpToAvailable) {
  ASSERT_TRUE(Set(1, 5).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 2}}).ok());
  ReservationResult too_many = Reserve("o2", {{1, 4}});
  EXPECT_EQ(too_many.code, Code::kInsufficientStock);
  EXPECT_EQ(too_many.fail_items, (std::vector<FailItem>{{1, 4, 3}}));
  ASSERT_TRUE(Reserve("o2", {{1, 3}}).ok());
  EXPECT_EQ(Stock(1).available, 0);
  EXPECT_EQ(Reserve("o3", {{1, 1}}).code, Code::kInsufficientStock);
}

// Checks run in the order unknown_sku, insufficient_stock, per-customer limit.
TEST_F(InventoryModelTest, ReserveCheckOrder) {
  ASSERT_TRUE(Set(1, 10, 2).ok());
  ASSERT_TRUE(Set(2, 1).ok());
  // Item 1 breaks the limit, item 2 is short, item 3 is unknown.
  EXPECT_EQ(Reserve("o1", {{1, 3}, {2, 2}, {3, 1}}, 60, "c1").code, Code::kUnknownSku);
  EXPECT_EQ(Reserve("o1", {{1, 3}, {2, 2}}, 60, "c1").code, Code::kInsufficientStock);
  EXPECT_EQ(Reserve("o1", {{1, 3}, {2, 2}}, 60, "").code, Code::kInsufficientStock);
  EXPECT_EQ(Reserve("o1", {{1, 3}, {2, 1}}, 60, "c1").code, Code::kCustomerLimitExceeded);
  EXPECT_EQ(Reserve("o1", {{1, 3}, {2, 1}}, 60, "").code, Code::kInvalidRequest);
  EXPECT_EQ(LedgerSize(), 2u);
  EXPECT_EQ(Reserve("o1", {{1, 2}, {2, 1}}, 60, "c1").code, Code::kOk);
}

// A failed reservation leaves no trace, so a retry with the same order_id re-evaluates.
TEST_F(InventoryModelTest, ReserveFailureIsNotRemembered) {
  ASSERT_TRUE(Set(1, 1).ok());
  EXPECT_EQ(Reserve("o1", {{1, 2}}).code, Code::kInsufficientStock);
  EXPECT_EQ(Reserve("o1", {{1, 2}, {9, 1}}).code, Code::kUnknownSku);  // no conflict either
  ASSERT_TRUE(Adjust(1, 1, "r1").ok());
  ReservationResult retry = Reserve("o1", {{1, 2}});
  ASSERT_EQ(retry.code, Code::kOk);
  EXPECT_TRUE(retry.created);
}

// confirm:true reserves and confirms at once: reserve events, then confirm events, status
// confirmed, and a retry is a 200 replay.
TEST_F(InventoryModelTest, ReserveWithConfirmSellsAtOnce) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 10).ok());
  ReservationResult result = Reserve("o1", {{1, 2}, {2, 3}}, 60, "", true);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(result.reservation->status, Status::kConfirmed);
  EXPECT_TRUE(result.reservation->confirm);
  ASSERT_EQ(LedgerSize(), 6u);
  const std::vector<LedgerEvent>& ledger = model_.Ledger();
  EXPECT_EQ(ledger[2].op, LedgerOp::kReserve);
  EXPECT_EQ(ledger[3].op, LedgerOp::kReserve);
  EXPECT_EQ(ledger[4], (LedgerEvent{5, 1, "o1", LedgerOp::kConfirm, 2, 8, 8, "svc", "", now_ms_}));
  EXPECT_EQ(ledger[5], (LedgerEvent{6, 2, "o1", LedgerOp::kConfirm, 3, 7, 7, "svc", "", now_ms_}));
  EXPECT_EQ(Stock(1), (StockView{1, 8, 0, 8, 2, 3, 0, now_ms_}));
  EXPECT_EQ(Stock(2), (StockView{2, 7, 0, 7, 3, 3, 0, now_ms_}));
  Advance(120'000);  // long past the ttl: a sale never expires
  EXPECT_EQ(StatusOf("o1"), Status::kConfirmed);
  ReservationResult retry = Reserve("o1", {{1, 2}, {2, 3}}, 60, "", true);
  EXPECT_EQ(retry.code, Code::kOk);
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(LedgerSize(), 6u);
  ExpectReplayMatches();
}

// Malformed reservations are invalid_request and change nothing.
TEST_F(InventoryModelTest, ReserveRejectsMalformedRequests) {
  ASSERT_TRUE(Set(1, 10).ok());
  std::vector<Item> too_many;
  for (std::int64_t sku = 1; sku <= static_cast<std::int64_t>(kMaxItems) + 1; ++sku) {
    too_many.push_back({sku, 1});
  }
  const std::vector<ReservationRequest> bad = {
      MakeRequest("", {{1, 1}}),
      MakeRequest("o1", {}),
      MakeRequest("o1", too_many),
      MakeRequest("o1", {{1, 1}, {1, 1}}),
      MakeRequest("o1", {{1, 0}}),
      MakeRequest("o1", {{1, -1}}),
      MakeRequest("o1", {{1, kMaxQty + 1}}),
      MakeRequest("o1", {{0, 1}}),
      MakeRequest("o1", {{kMaxSku + 1, 1}}),
      MakeRequest("o1", {{1, 1}}, 0),
      MakeRequest("o1", {{1, 1}}, kMaxTtlSeconds + 1),
  };
  for (const ReservationRequest& request : bad) {
    EXPECT_EQ(model_.Reserve(request, "svc", now_ms_).code, Code::kInvalidRequest)
        << request.order_id << " items " << request.items.size();
  }
  EXPECT_EQ(LedgerSize(), 1u);
  EXPECT_TRUE(model_.AllReservations().empty());
}

// A limited SKU needs a customer_id to reserve.
TEST_F(InventoryModelTest, LimitRequiresCustomerId) {
  ASSERT_TRUE(Set(1, 10, 2).ok());
  ASSERT_TRUE(Set(2, 10).ok());
  ReservationResult result = Reserve("o1", {{2, 1}, {1, 1}});
  EXPECT_EQ(result.code, Code::kInvalidRequest);
  EXPECT_EQ(result.message, "customer_id is required: sku 1 has a per-customer limit");
  EXPECT_TRUE(Reserve("o2", {{2, 1}}).ok());  // unlimited SKUs need no customer
}

// Reserved and confirmed units count against the limit; the message names sku, limit and held.
TEST_F(InventoryModelTest, LimitCountsReservedAndConfirmed) {
  ASSERT_TRUE(Set(1, 100, 3).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 2}}, 60, "c1").ok());
  ASSERT_TRUE(model_.Confirm("o1", "svc", now_ms_).ok());
  ASSERT_TRUE(Reserve("o2", {{1, 1}}, 60, "c1").ok());
  EXPECT_EQ(model_.HeldByCustomer("c1", 1), 3);
  ReservationResult result = Reserve("o3", {{1, 1}}, 60, "c1");
  EXPECT_EQ(result.code, Code::kCustomerLimitExceeded);
  EXPECT_NE(result.message.find("sku 1"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("allows 3"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("holds 3"), std::string::npos) << result.message;
  EXPECT_EQ(Stock(1).reserved, 1);
  EXPECT_EQ(Reserve("o4", {{1, 4}}, 60, "c2").code, Code::kCustomerLimitExceeded);
  EXPECT_TRUE(Reserve("o4", {{1, 3}}, 60, "c2").ok());  // another customer has its own count
}

// Released, expired and returned units no longer count against the limit.
TEST_F(InventoryModelTest, LimitFreedByReleaseExpireAndReturn) {
  ASSERT_TRUE(Set(1, 100, 2).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 2}}, 60, "c1").ok());
  EXPECT_EQ(Reserve("x", {{1, 1}}, 60, "c1").code, Code::kCustomerLimitExceeded);
  ASSERT_TRUE(model_.Release("o1", "svc", now_ms_).ok());
  EXPECT_EQ(model_.HeldByCustomer("c1", 1), 0);

  ASSERT_TRUE(Reserve("o2", {{1, 2}}, 10, "c1").ok());
  EXPECT_EQ(Reserve("x", {{1, 1}}, 60, "c1").code, Code::kCustomerLimitExceeded);
  Advance(10'000);
  EXPECT_EQ(model_.HeldByCustomer("c1", 1), 2);               // raw read: nothing expired yet
  ASSERT_TRUE(Reserve("o3", {{1, 2}}, 60, "c1", true).ok());  // o2 expires first
  EXPECT_EQ(StatusOf("o2"), Status::kExpired);

  EXPECT_EQ(Reserve("x", {{1, 1}}, 60, "c1").code, Code::kCustomerLimitExceeded);
  ASSERT_TRUE(model_.Return("o3", "svc", now_ms_).ok());
  EXPECT_TRUE(Reserve("o4", {{1, 2}}, 60, "c1").ok());
}

// The limit applies per SKU: a limited SKU's count does not spill into another SKU.
TEST_F(InventoryModelTest, LimitIsPerSku) {
  ASSERT_TRUE(Set(1, 100, 1).ok());
  ASSERT_TRUE(Set(2, 100, 5).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 1}, {2, 4}}, 60, "c1").ok());
  ReservationResult result = Reserve("o2", {{2, 1}, {1, 1}}, 60, "c1");
  EXPECT_EQ(result.code, Code::kCustomerLimitExceeded);
  EXPECT_NE(result.message.find("sku 1"), std::string::npos) << result.message;
  EXPECT_TRUE(Reserve("o3", {{2, 1}}, 60, "c1").ok());
  EXPECT_EQ(Reserve("o4", {{2, 1}}, 60, "c1").code, Code::kCustomerLimitExceeded);
}

// Confirm turns held units into sold units with one confirm event per item (available unchanged).
TEST_F(InventoryModelTest, ConfirmMovesHoldToSale) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}).ok());
  Advance(50);
  ReservationResult result = model_.Confirm("o1", "pay", now_ms_, "paid");
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.reservation->status, Status::kConfirmed);
  EXPECT_EQ(result.reservation->updated_at_ms, now_ms_);
  EXPECT_EQ(result.reservation->created_at_ms, kStartMs);
  EXPECT_EQ(LastEvent(),
            (LedgerEvent{3, 1, "o1", LedgerOp::kConfirm, 4, 6, 6, "pay", "paid", now_ms_}));
  EXPECT_EQ(Stock(1), (StockView{1, 6, 0, 6, 4, 3, 0, now_ms_}));
}

// Confirm after the deadline is reservation_expired even without an explicit ExpireDue.
TEST_F(InventoryModelTest, ConfirmAfterDeadlineIsExpired) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}, 30).ok());
  Advance(30'000);
  ReservationResult result = model_.Confirm("o1", "pay", now_ms_);
  EXPECT_EQ(result.code, Code::kReservationExpired);
  ASSERT_TRUE(result.reservation.has_value());
  EXPECT_EQ(result.reservation->status, Status::kExpired);
  EXPECT_EQ(LastEvent(), (LedgerEvent{3, 1, "o1", LedgerOp::kExpire, 4, 6, 10,
                                      std::string(InventoryModel::kExpiryActor), "", now_ms_}));
  EXPECT_EQ(Stock(1), (StockView{1, 10, 0, 10, 0, 3, 0, now_ms_}));
}

// Every operation on an unknown order_id is not_found.
TEST_F(InventoryModelTest, UnknownOrderIsNotFound) {
  EXPECT_EQ(model_.Confirm("nope", "svc", now_ms_).code, Code::kNotFound);
  EXPECT_EQ(model_.Release("nope", "svc", now_ms_).code, Code::kNotFound);
  EXPECT_EQ(model_.Extend("nope", 60, "svc", now_ms_).code, Code::kNotFound);
  EXPECT_EQ(model_.Return("nope", "svc", now_ms_).code, Code::kNotFound);
  EXPECT_EQ(model_.GetReservation("nope", now_ms_).code, Code::kNotFound);
  EXPECT_EQ(LedgerSize(), 0u);
}

// Reading an unknown or out-of-range SKU fails without creating it.
TEST_F(InventoryModelTest, GetStockUnknownSku) {
  EXPECT_EQ(model_.GetStock(4, now_ms_).code, Code::kUnknownSku);
  EXPECT_EQ(model_.GetStock(0, now_ms_).code, Code::kInvalidRequest);
  EXPECT_TRUE(model_.AllStock().empty());
}

// Release gives held units back with one release event per item.
TEST_F(InventoryModelTest, ReleaseGivesUnitsBack) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{2, 1}, {1, 4}}).ok());
  Advance(9);
  ReservationResult result = model_.Release("o1", "svc", now_ms_, "cancelled");
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_EQ(result.reservation->status, Status::kReleased);
  EXPECT_EQ(result.reservation->updated_at_ms, now_ms_);
  ASSERT_EQ(LedgerSize(), 6u);
  EXPECT_EQ(model_.Ledger()[4],
            (LedgerEvent{5, 2, "o1", LedgerOp::kRelease, 1, 9, 10, "svc", "cancelled", now_ms_}));
  EXPECT_EQ(model_.Ledger()[5],
            (LedgerEvent{6, 1, "o1", LedgerOp::kRelease, 4, 6, 10, "svc", "cancelled", now_ms_}));
  EXPECT_EQ(Stock(1).available, 10);
  EXPECT_EQ(Stock(1).version, 3);
  ExpectReplayMatches();
}

// Extend moves the deadline, writes no event and leaves the SKU version alone.
TEST_F(InventoryModelTest, ExtendMovesDeadline) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}, 10).ok());
  const StockView stock_before = Stock(1);
  Advance(5'000);
  ReservationResult result = model_.Extend("o1", 20, "svc", now_ms_);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_EQ(result.reservation->expires_at_ms, kStartMs + 25'000);
  EXPECT_EQ(result.reservation->updated_at_ms, now_ms_);
  EXPECT_EQ(result.reservation->ttl_seconds, 10);  // the request as made
  EXPECT_EQ(LedgerSize(), 2u);
  EXPECT_EQ(Stock(1), stock_before);
  now_ms_ = kStartMs + 24'999;
  EXPECT_EQ(StatusOf("o1"), Status::kReserved);
  now_ms_ = kStartMs + 25'000;
  EXPECT_EQ(StatusOf("o1"), Status::kExpired);
}

// Extend never shortens a hold: the deadline is the later of the current one and now + ttl.
TEST_F(InventoryModelTest, ExtendNeverShortens) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}, 600).ok());
  Advance(1'000);
  ReservationResult result = model_.Extend("o1", 10, "svc", now_ms_);
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_EQ(result.reservation->expires_at_ms, kStartMs + 600'000);
  Advance(100'000);
  EXPECT_EQ(StatusOf("o1"), Status::kReserved);
}

// Extend with an out-of-range ttl is invalid_request and changes nothing.
TEST_F(InventoryModelTest, ExtendRejectsBadTtl) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}, 10).ok());
  EXPECT_EQ(model_.Extend("o1", 0, "svc", now_ms_).code, Code::kInvalidRequest);
  EXPECT_EQ(model_.Extend("o1", kMaxTtlSeconds + 1, "svc", now_ms_).code, Code::kInvalidRequest);
  EXPECT_EQ(model_.GetReservation("o1", now_ms_).reservation->expires_at_ms, kStartMs + 10'000);
}

// Return puts confirmed units back on hand and takes them out of sold.
TEST_F(InventoryModelTest, ReturnPutsSoldUnitsBack) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}, 60, "", true).ok());
  Advance(1);
  ReservationResult result = model_.Return("o1", "svc", now_ms_, "refund");
  ASSERT_EQ(result.code, Code::kOk);
  EXPECT_FALSE(result.replayed);
  EXPECT_EQ(result.reservation->status, Status::kReturned);
  EXPECT_EQ(LastEvent(),
            (LedgerEvent{4, 1, "o1", LedgerOp::kReturn, 4, 6, 10, "svc", "refund", now_ms_}));
  EXPECT_EQ(Stock(1), (StockView{1, 10, 0, 10, 0, 4, 0, now_ms_}));
  ExpectReplayMatches();
}

// Puts a fresh reservation "o" (2 units of sku 1, ttl 10 s) into `status`; returns the time.
std::int64_t Prepare(InventoryModel& model, Status status) {
  std::int64_t now = kStartMs;
  EXPECT_TRUE(model.SetStock(1, MakeSet(10), "admin", now).ok());
  EXPECT_TRUE(model.Reserve(MakeRequest("o", {{1, 2}}, 10), "svc", now).ok());
  switch (status) {
    case Status::kReserved:
      break;
    case Status::kConfirmed:
      EXPECT_TRUE(model.Confirm("o", "svc", now).ok());
      break;
    case Status::kReleased:
      EXPECT_TRUE(model.Release("o", "svc", now).ok());
      break;
    case Status::kExpired:
      now += 10'000;
      EXPECT_EQ(model.ExpireDue(now), 1);
      break;
    case Status::kReturned:
      EXPECT_TRUE(model.Confirm("o", "svc", now).ok());
      EXPECT_TRUE(model.Return("o", "svc", now).ok());
      break;
  }
  return now + 1;
}

enum class Op { kConfirm, kRelease, kExtend, kReturn };

struct TransitionCase {
  Status from;
  Op op;
  Code code;
  bool replayed;
  Status to;
  std::size_t new_events;  // the reservation has one item
};

// Every (state, operation) pair gives the documented code, flag, resulting state and events.
TEST(InventoryModelTransitionTest, StateByOperationTable) {
  const std::vector<TransitionCase> cases = {
      {Status::kReserved, Op::kConfirm, Code::kOk, false, Status::kConfirmed, 1},
      {Status::kReserved, Op::kRelease, Code::kOk, false, Status::kReleased, 1},
      {Status::kReserved, Op::kExtend, Code::kOk, false, Status::kReserved, 0},
      {Status::kReserved, Op::kReturn, Code::kInvalidState, false, Status::kReserved, 0},
      {Status::kConfirmed, Op::kConfirm, Code::kOk, true, Status::kConfirmed, 0},
      {Status::kConfirmed, Op::kRelease, Code::kInvalidState, false, Status::kConfirmed, 0},
      {Status::kConfirmed, Op::kExtend, Code::kInvalidState, false, Status::kConfirmed, 0},
      {Status::kConfirmed, Op::kReturn, Code::kOk, false, Status::kReturned, 1},
      {Status::kReleased, Op::kConfirm, Code::kInvalidState, false, Status::kReleased, 0},
      {Status::kReleased, Op::kRelease, Code::kOk, true, Status::kReleased, 0},
      {Status::kReleased, Op::kExtend, Code::kInvalidState, false, Status::kReleased, 0},
      {Status::kReleased, Op::kReturn, Code::kInvalidState, false, Status::kReleased, 0},
      {Status::kExpired, Op::kConfirm, Code::kReservationExpired, false, Status::kExpired, 0},
      {Status::kExpired, Op::kRelease, Code::kOk, true, Status::kExpired, 0},
      {Status::kExpired, Op::kExtend, Code::kReservationExpired, false, Status::kExpired, 0},
      {Status::kExpired, Op::kReturn, Code::kInvalidState, false, Status::kExpired, 0},
      {Status::kReturned, Op::kConfirm, Code::kOk, true, Status::kReturned, 0},
      {Status::kReturned, Op::kRelease, Code::kInvalidState, false, Status::kReturned, 0},
      {Status::kReturned, Op::kExtend, Code::kInvalidState, false, Status::kReturned, 0},
      {Status::kReturned, Op::kReturn, Code::kOk, true, Status::kReturned, 0},
  };
  for (const TransitionCase& c : cases) {
    SCOPED_TRACE(std::string(ReservationStatusName(c.from)) + " op " +
                 std::to_string(static_cast<int>(c.op)));
    InventoryModel model;
    const std::int64_t now = Prepare(model, c.from);
    const std::size_t events = model.Ledger().size();
    const StockView stock_before = *model.GetStock(1, now).stock;
    ReservationResult result;
    switch (c.op) {
      case Op::kConfirm:
        result = model.Confirm("o", "svc", now);
        break;
      case Op::kRelease:
        result = model.Release("o", "svc", now);
        break;
      case Op::kExtend:
        result = model.Extend("o", 60, "svc", now);
        break;
      case Op::kReturn:
        result = model.Return("o", "svc", now);
        break;
    }
    EXPECT_EQ(result.code, c.code) << result.message;
    EXPECT_EQ(result.replayed, c.replayed);
    EXPECT_FALSE(result.created);
    ASSERT_TRUE(result.reservation.has_value());
    EXPECT_EQ(result.reservation->status, c.to);
    EXPECT_EQ(model.GetReservation("o", now).reservation->status, c.to);
    EXPECT_EQ(model.Ledger().size(), events + c.new_events);
    if (c.new_events == 0) {
      EXPECT_EQ(*model.GetStock(1, now).stock, stock_before);
    }
    ReplayResult replay = InventoryModel::Replay(model.Ledger());
    EXPECT_TRUE(replay.ok) << replay.message;
  }
}

// A hold is live at deadline - 1 ms and expired at the deadline; any read expires it.
TEST_F(InventoryModelTest, ExpiryIsExactAtDeadline) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 4}}, 30).ok());
  now_ms_ = kStartMs + 29'999;
  EXPECT_EQ(Stock(1).available, 6);
  EXPECT_EQ(StatusOf("o1"), Status::kReserved);
  EXPECT_EQ(model_.ExpireDue(now_ms_), 0);
  now_ms_ = kStartMs + 30'000;
  EXPECT_EQ(Stock(1).available, 10);  // GetStock expired it
  ReservationResult read = model_.GetReservation("o1", now_ms_);
  EXPECT_EQ(read.reservation->status, Status::kExpired);
  EXPECT_EQ(read.reservation->updated_at_ms, now_ms_);
  EXPECT_EQ(LastEvent().op, LedgerOp::kExpire);
  EXPECT_EQ(LastEvent().actor, "expiry");
}

// ExpireDue handles holds in (expires_at, order_id) order and counts them; a second call is 0.
TEST_F(InventoryModelTest, ExpireDueIsOrdered) {
  ASSERT_TRUE(Set(1, 100).ok());
  ASSERT_TRUE(Reserve("b", {{1, 1}}, 10).ok());
  ASSERT_TRUE(Reserve("a", {{1, 2}}, 10).ok());
  ASSERT_TRUE(Reserve("c", {{1, 3}}, 5).ok());
  ASSERT_TRUE(Reserve("d", {{1, 4}}, 11).ok());
  ASSERT_TRUE(Reserve("e", {{1, 5}}, 10, "", true).ok());
  const std::size_t events = LedgerSize();
  now_ms_ = kStartMs + 10'000;
  EXPECT_EQ(model_.ExpireDue(now_ms_), 3);
  ASSERT_EQ(LedgerSize(), events + 3);
  std::vector<std::string> order;
  for (std::size_t i = events; i < LedgerSize(); ++i) {
    EXPECT_EQ(model_.Ledger()[i].op, LedgerOp::kExpire);
    EXPECT_EQ(model_.Ledger()[i].time_ms, now_ms_);
    order.push_back(model_.Ledger()[i].ref);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(model_.ExpireDue(now_ms_), 0);
  EXPECT_EQ(Stock(1).reserved, 4);
  EXPECT_EQ(StatusOf("d"), Status::kReserved);
  EXPECT_EQ(StatusOf("e"), Status::kConfirmed);
}

// Replay rebuilds the exact counters after a scripted run through every operation.
TEST_F(InventoryModelTest, ReplayRebuildsEveryOp) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Set(2, 0).ok());
  ASSERT_TRUE(Adjust(2, 7, "r1").ok());
  ASSERT_TRUE(Reserve("o1", {{1, 3}, {2, 2}}).ok());
  ASSERT_TRUE(model_.Confirm("o1", "svc", now_ms_).ok());
  ASSERT_TRUE(Reserve("o2", {{1, 1}}).ok());
  ASSERT_TRUE(model_.Release("o2", "svc", now_ms_).ok());
  ASSERT_TRUE(Reserve("o3", {{2, 1}}, 1).ok());
  ASSERT_TRUE(model_.Return("o1", "svc", now_ms_).ok());
  Advance(1000);
  ASSERT_EQ(model_.ExpireDue(now_ms_), 1);
  ASSERT_TRUE(Reserve("o4", {{1, 2}}, 60, "", true).ok());
  ASSERT_TRUE(Reserve("o5", {{2, 4}}).ok());
  ASSERT_TRUE(Set(1, 4).ok());
  ASSERT_TRUE(Adjust(2, -3, "r2").ok());
  std::map<LedgerOp, int> ops;
  for (const LedgerEvent& e : model_.Ledger()) ++ops[e.op];
  EXPECT_EQ(ops.size(), 7u);  // every op is exercised
  ReplayResult replay = InventoryModel::Replay(model_.Ledger());
  ASSERT_TRUE(replay.ok) << replay.message;
  EXPECT_EQ(replay.skus[1], (StockCounters{4, 0, 2}));
  EXPECT_EQ(replay.skus[2], (StockCounters{4, 4, 0}));
  ExpectReplayMatches();
}

// Replay refuses a ledger whose events do not chain: wrong seq, before, after, or first op.
TEST_F(InventoryModelTest, ReplayDetectsBrokenLedger) {
  ASSERT_TRUE(Set(1, 10).ok());
  ASSERT_TRUE(Reserve("o1", {{1, 3}}).ok());
  ASSERT_TRUE(model_.Confirm("o1", "svc", now_ms_).ok());
  const std::vector<LedgerEvent> good = model_.Ledger();
  ASSERT_TRUE(InventoryModel::Replay(good).ok);

  std::vector<LedgerEvent> bad = good;
  bad[1].qty = 4;  // after no longer matches
  ReplayResult result = InventoryModel::Replay(bad);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.bad_seq, 2);
  EXPECT_EQ(result.skus.at(1), (StockCounters{10, 0, 0}));  // state before the bad event

  bad = good;
  bad[2].before = 9;
  EXPECT_EQ(InventoryModel::Replay(bad).bad_seq, 3);

  bad = good;
  bad.erase(bad.begin() + 1);  // seq gap
  EXPECT_EQ(InventoryModel::Replay(bad).bad_seq, 3);

  bad = good;
  bad.erase(bad.begin());  // reserve on a SKU that was never set
  for (LedgerEvent& e : bad) --e.seq;
  EXPECT_FALSE(InventoryModel::Replay(bad).ok);

  bad = good;
  bad[1].qty = 11;  // more reserved than on hand
  bad[1].after = -1;
  result = InventoryModel::Replay(bad);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.message.find("out of bounds"), std::string::npos) << result.message;
}

// Random walk over every operation: after 20,000 steps the counters, the reservations, the
// customer counts and the ledger still agree, and failed calls never changed anything.
TEST(InventoryModelRandomTest, InvariantsHoldAndLedgerReplays) {
  constexpr int kSteps = 20'000;
  constexpr std::int64_t kSkus = 8;
  const std::vector<std::string> customers = {"", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
  const auto kCustomers = static_cast<std::int64_t>(customers.size());
  std::mt19937_64 rng(20240601);
  auto pick = [&rng](std::int64_t n) {
    return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
  };

  // Mostly known SKUs, now and then one that was never set.
  auto pick_sku = [&pick] { return pick(40) == 0 ? kSkus + 1 : 1 + pick(kSkus); };

  InventoryModel model;
  std::int64_t now = kStartMs;
  std::vector<ReservationRequest> issued;                // every request that succeeded
  std::map<std::int64_t, std::int64_t> limit_only_sets;  // SetStock calls that bumped only version
  std::map<Code, int> codes;
  int replays = 0;
  int next_order = 0;

  auto check_state = [&](int step) {
    SCOPED_TRACE(Numbered("step ", step));
    std::map<std::int64_t, std::int64_t> held, sold, events;
    std::map<std::pair<std::string, std::int64_t>, std::int64_t> by_customer;
    for (const ReservationView& r : model.AllReservations()) {
      if (r.status == Status::kReserved) {
        EXPECT_GT(r.expires_at_ms, now) << r.order_id;
      }
      for (const Item& item : r.items) {
        if (r.status == Status::kReserved) held[item.sku] += item.qty;
        if (r.status == Status::kConfirmed) sold[item.sku] += item.qty;
        if (!r.customer_id.empty() &&
            (r.status == Status::kReserved || r.status == Status::kConfirmed)) {
          by_customer[{r.customer_id, item.sku}] += item.qty;
        }
      }
    }
    for (const LedgerEvent& e : model.Ledger()) ++events[e.sku];
    ReplayResult replay = InventoryModel::Replay(model.Ledger());
    ASSERT_TRUE(replay.ok) << replay.message;
    const std::vector<StockView> stock = model.AllStock();
    ASSERT_EQ(replay.skus.size(), stock.size());
    for (const StockView& s : stock) {
      EXPECT_GE(s.reserved, 0);
      EXPECT_LE(s.reserved, s.on_hand);
      EXPECT_EQ(s.available, s.on_hand - s.reserved);
      EXPECT_EQ(s.reserved, held[s.sku]) << "sku " << s.sku;
      EXPECT_EQ(s.sold, sold[s.sku]) << "sku " << s.sku;
      EXPECT_EQ(s.version, events[s.sku] + limit_only_sets[s.sku]) << "sku " << s.sku;
      EXPECT_EQ(replay.skus[s.sku], (StockCounters{s.on_hand, s.reserved, s.sold}));
      for (const std::string& c : customers) {
        if (c.empty()) continue;
        EXPECT_EQ(model.HeldByCustomer(c, s.sku), by_customer[std::make_pair(c, s.sku)])
            << c << " " << s.sku;
      }
    }
  };

  for (int step = 0; step < kSteps; ++step) {
    now += pick(20) == 0 ? pick(30'000) : pick(400);
    // Expire first, so that a failing call below must leave the ledger exactly as it was.
    model.ExpireDue(now);
    const std::size_t events = model.Ledger().size();
    const std::int64_t sku = pick_sku();
    const std::int64_t action = pick(100);
    Code code = Code::kOk;
    bool replayed = false;
    if (action < 8) {
      std::optional<std::int64_t> limit;
      if (pick(4) == 0) limit = pick(3) == 0 ? 3 + pick(10) : 0;
      const std::optional<StockView> before = model.GetStock(sku, now).stock;
      StockResult r = model.SetStock(sku, MakeSet(pick(80), limit), "admin", now);
      code = r.code;
      replayed = r.replayed;
      if (r.ok() && before && !replayed && r.stock->on_hand == before->on_hand) {
        ++limit_only_sets[sku];
      }
    } else if (action < 18) {
      const std::int64_t delta = pick(2) == 0 ? 1 + pick(15) : -1 - pick(15);
      StockResult r = model.Adjust(sku, MakeAdjust(delta, Numbered("r", pick(200))), "admin", now);
      code = r.code;
      replayed = r.replayed;
      if (code == Code::kInsufficientStock) {
        ASSERT_EQ(r.fail_items.size(), 1u);
        EXPECT_LT(r.stock->on_hand + delta, r.stock->reserved);
      }
    } else if (action < 55) {
      ReservationRequest request;
      if (!issued.empty() && pick(8) == 0) {
        request = issued[static_cast<std::size_t>(pick(static_cast<std::int64_t>(issued.size())))];
        if (pick(2) == 0) request.items[0].qty += 1;  // conflicting retry
      } else {
        request.order_id = Numbered("o", next_order++);
        const std::int64_t count = 1 + pick(3);
        while (static_cast<std::int64_t>(request.items.size()) < count) {
          const std::int64_t item_sku = pick_sku();
          bool seen = false;
          for (const Item& item : request.items) seen = seen || item.sku == item_sku;
          if (!seen) request.items.push_back({item_sku, 1 + pick(4)});
        }
        request.ttl_seconds = 1 + pick(60);
        request.customer_id = customers[static_cast<std::size_t>(pick(kCustomers))];
        request.confirm = pick(10) == 0;
      }
      ReservationResult r = model.Reserve(request, "svc", now);
      code = r.code;
      replayed = r.replayed;
      if (r.created) issued.push_back(request);
      if (r.ok() && !r.created) {
        EXPECT_EQ(r.reservation->items, request.items);
      }
      if (code == Code::kInsufficientStock) {
        for (const FailItem& f : r.fail_items) {
          EXPECT_GT(f.requested, f.available);
        }
      }
    } else if (action < 95 && !issued.empty()) {
      // Mostly one of the latest reservations, which are more likely still live.
      const auto size = static_cast<std::int64_t>(issued.size());
      const std::int64_t index =
          pick(4) == 0 ? pick(size) : size - 1 - pick(std::min(size, std::int64_t{16}));
      const std::string& order_id = issued[static_cast<std::size_t>(index)].order_id;
      ReservationResult r;
      switch (pick(4)) {
        case 0:
          r = model.Confirm(order_id, "svc", now);
          break;
        case 1:
          r = model.Release(order_id, "svc", now);
          break;
        case 2:
          r = model.Extend(order_id, 1 + pick(60), "svc", now);
          break;
        default:
          r = model.Return(order_id, "svc", now);
          break;
      }
      code = r.code;
      replayed = r.replayed;
    } else {
      code = model.GetStock(sku, now).code;
      EXPECT_EQ(model.Ledger().size(), events);
    }
    ++codes[code];
    if (replayed) ++replays;
    if (code != Code::kOk || replayed) {
      ASSERT_EQ(model.Ledger().size(), events) << "step " << step << " code " << CodeName(code);
    }
    if (step % 500 == 0) check_state(step);
  }
  check_state(kSteps);

  // The walk must have reached every interesting outcome, or it proves little.
  for (Code c : {Code::kOk, Code::kUnknownSku, Code::kInsufficientStock, Code::kIdempotencyConflict,
                 Code::kInvalidState, Code::kCustomerLimitExceeded, Code::kReservationExpired,
                 Code::kInvalidRequest}) {
    EXPECT_GT(codes[c], 0) << CodeName(c);
  }
  EXPECT_GT(replays, 0);
  std::map<Status, int> statuses;
  for (const ReservationView& r : model.AllReservations()) ++statuses[r.status];
  EXPECT_EQ(statuses.size(), 5u);
  EXPECT_GT(model.Ledger().size(), 10'000u);
}

}  // namespace
}  // namespace stockgate::core
