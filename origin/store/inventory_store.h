// InventoryStore: the operations of the inventory API on the store that owns the truth, with the
// reference model's result types, so the HTTP layer, the sync worker and the tests see one shape
// whichever store is behind it. RedisInventoryStore is the real one; tests may put the core's
// InventoryModel behind the same interface. Time is a parameter; a store that cannot reach its
// backend answers Code::kUnavailable, never blocks past its timeouts. The operations the HTTP
// server calls also come in an asynchronous form; a store without one answers at once, on the
// caller's thread.
#ifndef STOCKGATE_ORIGIN_STORE_INVENTORY_STORE_H_
#define STOCKGATE_ORIGIN_STORE_INVENTORY_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/inventory_model.h"
#include "core/requests.h"
#include "core/status.h"

namespace stockgate::store {

using core::Code;
using core::ReservationResult;
using core::StockResult;

// GET /v1/stock?skus=: one result per requested SKU, in request order (kOk or kUnknownSku).
struct StockListResult {
  Code code = Code::kOk;  // kUnavailable when the store could not answer at all
  std::string message;
  std::vector<StockResult> items;
};

struct SnapshotItem {
  std::int64_t sku = 0;
  std::int64_t available = 0;
  std::int64_t low_stock_threshold = 0;  // 0: none (the snapshot's JSON leaves it out)
  friend bool operator==(const SnapshotItem&, const SnapshotItem&) = default;
};

// A place in the snapshot feed: every partition's snapshot version, in partition order. A cursor
// of another length than the store's partition count (the empty one above all) stands before
// everything: the snapshot from it lists every SKU.
using SnapshotCursor = std::vector<std::int64_t>;

// A cursor's text in the API (`since` and `cursor` of /v1/snapshot): the versions in decimal,
// joined by '.', so that with one partition it is the snapshot version itself.
std::string FormatSnapshotCursor(const SnapshotCursor& cursor);
// The cursor a text names, or nothing when it names none: 1 to kMaxPartitions integers from 0 to
// 2^63-1 in plain decimal (at most 19 digits), joined by single dots.
std::optional<SnapshotCursor> ParseSnapshotCursor(std::string_view text);

// GET /v1/snapshot: SKUs changed after a cursor, with their available units.
struct SnapshotResult {
  Code code = Code::kOk;
  std::string message;
  // The sum of the partitions' versions. It goes back when the keyspace was emptied (or rebuilt
  // after an earlier rebuild; lua/restore.lua): a reader then starts over.
  std::int64_t version = 0;
  SnapshotCursor cursor;  // pass as `since` to get the next delta
  std::vector<SnapshotItem> items;
};

struct ExpireResult {
  Code code = Code::kOk;
  std::string message;
  std::int64_t expired = 0;
};

class InventoryStore {
 public:
  virtual ~InventoryStore() = default;

  virtual StockResult SetStock(std::int64_t sku, const core::SetStockRequest& request,
                               std::string_view actor, std::int64_t now_ms) = 0;
  virtual StockResult Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                             std::string_view actor, std::int64_t now_ms) = 0;
  virtual ReservationResult Reserve(const core::ReservationRequest& request, std::string_view actor,
                                    std::int64_t now_ms) = 0;
  virtual ReservationResult Confirm(std::string_view order_id, std::string_view actor,
                                    std::int64_t now_ms, std::string_view reason) = 0;
  virtual ReservationResult Release(std::string_view order_id, std::string_view actor,
                                    std::int64_t now_ms, std::string_view reason) = 0;
  virtual ReservationResult Return(std::string_view order_id, std::string_view actor,
                                   std::int64_t now_ms, std::string_view reason) = 0;
  virtual ReservationResult Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                   std::string_view actor, std::int64_t now_ms) = 0;

  virtual StockListResult GetStocks(const std::vector<std::int64_t>& skus, std::int64_t now_ms) = 0;
  virtual ReservationResult GetReservation(std::string_view order_id, std::int64_t now_ms) = 0;
  virtual SnapshotResult Snapshot(const SnapshotCursor& since, std::int64_t now_ms) = 0;
  // Expires every hold past its deadline (the sweeper's job; the other calls do it too).
  virtual ExpireResult ExpireDue(std::int64_t now_ms) = 0;

  // The asynchronous forms: `done` runs once with the result, on the caller's thread or on one
  // of the store's, which must not be kept waiting (quick work, or a hand-off).
  template <class R>
  using Done = std::function<void(R)>;
  virtual void SetStockAsync(std::int64_t sku, const core::SetStockRequest& request,
                             std::string_view actor, std::int64_t now_ms, Done<StockResult> done) {
    done(SetStock(sku, request, actor, now_ms));
  }
  virtual void AdjustAsync(std::int64_t sku, const core::AdjustmentRequest& request,
                           std::string_view actor, std::int64_t now_ms, Done<StockResult> done) {
    done(Adjust(sku, request, actor, now_ms));
  }
  virtual void ReserveAsync(const core::ReservationRequest& request, std::string_view actor,
                            std::int64_t now_ms, Done<ReservationResult> done) {
    done(Reserve(request, actor, now_ms));
  }
  virtual void ConfirmAsync(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                            std::string_view reason, Done<ReservationResult> done) {
    done(Confirm(order_id, actor, now_ms, reason));
  }
  virtual void ReleaseAsync(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                            std::string_view reason, Done<ReservationResult> done) {
    done(Release(order_id, actor, now_ms, reason));
  }
  virtual void ReturnAsync(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                           std::string_view reason, Done<ReservationResult> done) {
    done(Return(order_id, actor, now_ms, reason));
  }
  virtual void ExtendAsync(std::string_view order_id, std::int64_t ttl_seconds,
                           std::string_view actor, std::int64_t now_ms,
                           Done<ReservationResult> done) {
    done(Extend(order_id, ttl_seconds, actor, now_ms));
  }
  virtual void GetStocksAsync(const std::vector<std::int64_t>& skus, std::int64_t now_ms,
                              Done<StockListResult> done) {
    done(GetStocks(skus, now_ms));
  }
  virtual void GetReservationAsync(std::string_view order_id, std::int64_t now_ms,
                                   Done<ReservationResult> done) {
    done(GetReservation(order_id, now_ms));
  }
  virtual void SnapshotAsync(const SnapshotCursor& since, std::int64_t now_ms,
                             Done<SnapshotResult> done) {
    done(Snapshot(since, now_ms));
  }
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_INVENTORY_STORE_H_
