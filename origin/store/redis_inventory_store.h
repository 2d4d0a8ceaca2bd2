// RedisInventoryStore: the inventory store on Redis. Every operation is an operation of
// stockgate.lua (origin/store/lua), so each is atomic and writes its outbox entry in the same
// step; concurrent operations go to Redis together in batches (OpBatcher: group commit). The
// script is compiled into the binary. Each operation also has an asynchronous form, whose `done`
// runs on the thread that received the answer (the Redis client's I/O thread for RedisPipeline:
// quick work only).
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "origin/store/inventory_store.h"
#include "origin/store/keyspace.h"
#include "origin/store/op_batcher.h"
#include "origin/store/redis_client.h"

namespace stockgate::store {

// Whether `prefix` can start every key of a store, else why not: 1..32 characters of
// [A-Za-z0-9._:-]. The store puts a partition's {hash tag} after it (keyspace.h), so braces here
// would move keys to the wrong cluster slot.
core::Status CheckKeyPrefix(std::string_view prefix);

struct RedisStoreConfig {
  RedisStoreConfig() = default;
  RedisStoreConfig(std::string prefix) : key_prefix(std::move(prefix)) {}  // NOLINT: implicit
  std::string key_prefix = "sg";  // every key starts with it; lets stores share a Redis
  OpBatcher::Options batching;
};

class RedisInventoryStore final : public InventoryStore {
 public:
  RedisInventoryStore(RedisClient& redis, RedisStoreConfig config);

  StockResult SetStock(std::int64_t sku, const core::SetStockRequest& request,
                       std::string_view actor, std::int64_t now_ms) override;
  StockResult Adjust(std::int64_t sku, const core::AdjustmentRequest& request,
                     std::string_view actor, std::int64_t now_ms) override;
  ReservationResult Reserve(const core::ReservationRequest& request, std::string_view actor,
                            std::int64_t now_ms) override;
  ReservationResult Confirm(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                            std::string_view reason) override;
  ReservationResult Release(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                            std::string_view reason) override;
  ReservationResult Return(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                           std::string_view reason) override;
  ReservationResult Extend(std::string_view order_id, std::int64_t ttl_seconds,
                           std::string_view actor, std::int64_t now_ms) override;
  StockListResult GetStocks(const std::vector<std::int64_t>& skus, std::int64_t now_ms) override;
  ReservationResult GetReservation(std::string_view order_id, std::int64_t now_ms) override;
  SnapshotResult Snapshot(std::int64_t since_version, std::int64_t now_ms) override;
  ExpireResult ExpireDue(std::int64_t now_ms) override;

  void SetStockAsync(std::int64_t sku, const core::SetStockRequest& request, std::string_view actor,
                     std::int64_t now_ms, Done<StockResult> done) override;
  void AdjustAsync(std::int64_t sku, const core::AdjustmentRequest& request, std::string_view actor,
                   std::int64_t now_ms, Done<StockResult> done) override;
  void ReserveAsync(const core::ReservationRequest& request, std::string_view actor,
                    std::int64_t now_ms, Done<ReservationResult> done) override;
  void ConfirmAsync(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                    std::string_view reason, Done<ReservationResult> done) override;
  void ReleaseAsync(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                    std::string_view reason, Done<ReservationResult> done) override;
  void ReturnAsync(std::string_view order_id, std::string_view actor, std::int64_t now_ms,
                   std::string_view reason, Done<ReservationResult> done) override;
  void ExtendAsync(std::string_view order_id, std::int64_t ttl_seconds, std::string_view actor,
                   std::int64_t now_ms, Done<ReservationResult> done) override;
  void GetStocksAsync(const std::vector<std::int64_t>& skus, std::int64_t now_ms,
                      Done<StockListResult> done) override;
  void GetReservationAsync(std::string_view order_id, std::int64_t now_ms,
                           Done<ReservationResult> done) override;
  void SnapshotAsync(std::int64_t since_version, std::int64_t now_ms,
                     Done<SnapshotResult> done) override;
  void ExpireDueAsync(std::int64_t now_ms, Done<ExpireResult> done);

  // The ledger stream's key, for readers (sync, tests).
  std::string LedgerKey() const { return store::LedgerKey(config_.key_prefix); }
  OpBatcher::Stats batch_stats() const { return batcher_.stats(); }

 private:
  template <class R>
  using Decode = R (*)(const CommandResult&, const ScriptOp&);
  template <class R>
  R Wait(ScriptOp op, Decode<R> decode);
  template <class R>
  void Async(ScriptOp op, Decode<R> decode, Done<R> done);

  RedisStoreConfig config_;
  OpBatcher batcher_;
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_
