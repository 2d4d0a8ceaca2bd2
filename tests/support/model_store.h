// ModelStore: the core's reference InventoryModel behind the InventoryStore interface, for tests
// of the HTTP API that need exact, fast, in-process state. set_unavailable(true) makes every call
// answer kUnavailable, as a store whose backend is down does.
#ifndef STOCKGATE_TESTS_SUPPORT_MODEL_STORE_H_
#define STOCKGATE_TESTS_SUPPORT_MODEL_STORE_H_

#include <atomic>
#include <mutex>

#include "core/inventory_model.h"
#include "origin/store/inventory_store.h"

namespace stockgate::testing {

class ModelStore final : public store::InventoryStore {
 public:
  void set_unavailable(bool down) { unavailable_ = down; }
  // Direct access for assertions; callers must not race with requests.
  core::InventoryModel& model() { return model_; }

  core::StockResult SetStock(std::int64_t sku, const core::SetStockRequest& request,
                             std::string_view actor, std::int64_t now_ms) override;
  core::StockResult Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                           std::string_view actor, std::int64_t now_ms) override;
  core::ReservationResult Reserve(const core::ReservationRequest& request, std::string_view actor,
                                  std::int64_t now_ms) override;
  core::ReservationResult Confirm(std::string_view order_id, std::string_view actor,
                                  std::int64_t now_ms, std::string_view reason) override;
  core::ReservationResult Release(std::string_view order_id, std::string_view actor,
                                  std::int64_t now_ms, std::string_view reason) override;
  core::ReservationResult Return(std::string_view order_id, std::string_view actor,
                                 std::int64_t now_ms, std::string_view reason) override;
  core::ReservationResult Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                 std::string_view actor, std::int64_t now_ms) override;
  store::StockListResult GetStocks(const std::vector<std::int64_t>& skus,
                                   std::int64_t now_ms) override;
  core::ReservationResult GetReservation(std::string_view order_id, std::int64_t now_ms) override;
  store::SnapshotResult Snapshot(const store::SnapshotCursor& since, std::int64_t now_ms) override;
  store::ExpireResult ExpireDue(std::int64_t now_ms) override;

 private:
  std::mutex mu_;
  core::InventoryModel model_;
  std::atomic<bool> unavailable_{false};
};

}  // namespace stockgate::testing

#endif  // STOCKGATE_TESTS_SUPPORT_MODEL_STORE_H_
