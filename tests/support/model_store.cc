#include "tests/support/model_store.h"

namespace stockgate::testing {
namespace {

template <class Result>
Result Down() {
  Result r;
  r.code = core::Code::kUnavailable;
  r.message = "store unavailable (simulated)";
  return r;
}

}  // namespace

#define STOCKGATE_MODEL_CALL(Type, call) \
  if (unavailable_) return Down<Type>(); \
  std::lock_guard lock(mu_);             \
  return model_.call

core::StockResult ModelStore::SetStock(std::int64_t sku, const core::SetStockRequest& request,
                                       std::string_view actor, std::int64_t now_ms) {
  STOCKGATE_MODEL_CALL(core::StockResult, SetStock(sku, request, actor, now_ms));
}
core::StockResult ModelStore::Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                                     std::string_view actor, std::int64_t now_ms) {
  STOCKGATE_MODEL_CALL(core::StockResult, Adjust(sku, request, actor, now_ms));
}
core::ReservationResult ModelStore::Reserve(const core::ReservationRequest& request,
                                            std::string_view actor, std::int64_t now_ms) {
  STOCKGATE_MODEL_CALL(core::ReservationResult, Reserve(request, actor, now_ms));
}
core::ReservationResult ModelStore::Confirm(std::string_view order_id, std::string_view actor,
                                            std::int64_t now_ms, std::string_view reason) {
  STOCKGATE_MODEL_CALL(core::ReservationResult, Confirm(order_id, actor, now_ms, reason));
}
core::ReservationResult ModelStore::Release(std::string_view order_id, std::string_view actor,
                                            std::int64_t now_ms, std::string_view reason) {
  STOCKGATE_MODEL_CALL(core::ReservationResult, Release(order_id, actor, now_ms, reason));
}
core::ReservationResult ModelStore::Return(std::string_view order_id, std::string_view actor,
                                           std::int64_t now_ms, std::string_view reason) {
  STOCKGATE_MODEL_CALL(core::ReservationResult, Return(order_id, actor, now_ms, reason));
}
core::ReservationResult ModelStore::Extend(std::string_view order_id, std::int64_t ttl_seconds,
                                           std::string_view actor, std::int64_t now_ms) {
  STOCKGATE_MODEL_CALL(core::ReservationResult, Extend(order_id, ttl_seconds, actor, now_ms));
}
core::ReservationResult ModelStore::GetReservation(std::string_view order_id, std::int64_t now_ms) {
  STOCKGATE_MODEL_CALL(core::ReservationResult, GetReservation(order_id, now_ms));
}

#undef STOCKGATE_MODEL_CALL

store::StockListResult ModelStore::GetStocks(const std::vector<std::int64_t>& skus,
                                             std::int64_t now_ms) {
  if (unavailable_) return Down<store::StockListResult>();
  std::lock_guard lock(mu_);
  store::StockListResult out;
  for (std::int64_t sku : skus) out.items.push_back(model_.GetStock(sku, now_ms));
  return out;
}

store::SnapshotResult ModelStore::Snapshot(const store::SnapshotCursor& since,
                                           std::int64_t now_ms) {
  if (unavailable_) return Down<store::SnapshotResult>();
  std::lock_guard lock(mu_);
  model_.ExpireDue(now_ms);
  store::SnapshotResult out;
  // The model has no change index and one partition: its version is the ledger length and a
  // delta lists every SKU.
  out.version = static_cast<std::int64_t>(model_.Ledger().size());
  out.cursor = {out.version};
  if (since.size() != 1 || since[0] != out.version) {
    for (const auto& s : model_.AllStock()) {
      out.items.push_back({s.sku, s.available, s.low_stock_threshold});
    }
  }
  return out;
}

store::ExpireResult ModelStore::ExpireDue(std::int64_t now_ms) {
  if (unavailable_) return Down<store::ExpireResult>();
  std::lock_guard lock(mu_);
  store::ExpireResult out;
  out.expired = model_.ExpireDue(now_ms);
  return out;
}

}  // namespace stockgate::testing
