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
#include <memory>
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
  // Partitions of the keyspace (keyspace.h), 1..kMaxPartitions; fixed for the life of the data.
  // With more than one, orders whose SKUs lie in several partitions are reserved part by part
  // (lua/directory.lua), and holds of such orders are given back by the sweeper (ExpireDue) once
  // their deadline has passed, not by the next call that finds them due.
  int partitions = 1;
  OpBatcher::Options batching;
};

// An order's items grouped by partition, in the order their first items come.
struct OrderPart {
  int partition = 0;
  std::vector<core::Item> items;
};
std::vector<OrderPart> SplitByPartition(const std::vector<core::Item>& items, int partitions);

// Where the store keeps an order (lua/directory.lua), for reservations and rebuild alike.
struct OrderPlacement {
  enum class Kind {
    kHome,       // one record, in the order's home partition
    kElsewhere,  // a hold in one other partition; a directory record at home says where
    kParts,      // a part in each partition of its items; the order's directory record at home
  };
  Kind kind = Kind::kHome;
  int home = 0;
  std::vector<OrderPart> parts;
};
OrderPlacement PlaceOrder(std::string_view order_id, const std::vector<core::Item>& items,
                          bool confirm, int partitions);

// Whether `partitions` can be a store's partition count, else why not.
core::Status CheckPartitions(int partitions);

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
  SnapshotResult Snapshot(const SnapshotCursor& since, std::int64_t now_ms) override;
  ExpireResult ExpireDue(std::int64_t now_ms) override;

  // Retention (lua/retire.lua): removes the records of orders that finished (confirmed, released,
  // expired, returned) at or before cutoff_ms[p] in partition p, and the directories at home
  // that only pointed at such a record. Finished orders' units are already back or sold, so
  // nothing else changes. The caller picks cutoffs the history has caught up with. A partition
  // that fails does not stop the others; the first failure is reported.
  struct RetireResult {
    Code code = Code::kOk;
    std::string message;
    std::int64_t retired = 0;  // orders whose records left Redis
  };
  RetireResult Retire(const std::vector<std::int64_t>& cutoff_ms, std::int64_t now_ms,
                      int batch = 1000);

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
  void SnapshotAsync(const SnapshotCursor& since, std::int64_t now_ms,
                     Done<SnapshotResult> done) override;
  // With several partitions this one blocks its caller until the sweep is done.
  void ExpireDueAsync(std::int64_t now_ms, Done<ExpireResult> done);

  // A partition's ledger stream's key, for readers (sync, tests).
  std::string LedgerKey(int partition = 0) const {
    return store::LedgerKey(config_.key_prefix, partition);
  }
  int partitions() const { return config_.partitions; }
  // Summed over the partitions.
  OpBatcher::Stats batch_stats() const;

  // A part of an order spanning partitions with no directory record at home this long after it
  // was placed (or after its deadline) is the leftover of a reservation that never completed (its
  // origin failed between placing the parts and claiming the order_id): the sweeper gives it
  // back. Every claim lands within the origin's Redis timeouts, far below this.
  static constexpr std::int64_t kOrphanGraceMs = 60'000;
  // A decision at home (confirm, release, return, expiry) whose parts were not all told this
  // long after it (their origin failed on the way) is carried to them by the sweeper.
  static constexpr std::int64_t kUnsettledGraceMs = 5'000;

 private:
  template <class R>
  using Decode = R (*)(const CommandResult&, const ScriptOp&);
  template <class R>
  R Wait(ScriptOp op, Decode<R> decode);
  template <class R>
  void Async(int partition, ScriptOp op, Decode<R> decode, Done<R> done);
  template <class R>
  void Async(ScriptOp op, Decode<R> decode, Done<R> done) {
    Async(0, std::move(op), decode, std::move(done));
  }
  // A call of one script operation in one partition.
  struct PartitionCall {
    int partition = 0;
    ScriptOp op;
  };
  // Runs every call at once; `done` gets their results, in the calls' order, once the last one
  // has answered (at once for no call).
  template <class R>
  void FanOut(std::vector<PartitionCall> calls, Decode<R> decode, Done<std::vector<R>> done);

  // Orders and SKUs over several partitions (partitions > 1).
  struct Placed;
  int Home(std::string_view order_id) const;
  void ReserveSingle(const core::ReservationRequest& request, std::string_view actor,
                     std::int64_t now_ms, int partition, Done<ReservationResult> done);
  void ReserveSpanning(const core::ReservationRequest& request, std::string_view actor,
                       std::int64_t now_ms, Done<ReservationResult> done);
  void ClaimSpanning(std::shared_ptr<Placed> placed, Done<ReservationResult> done);
  void AbortParts(std::string order_id, std::string actor, std::int64_t now_ms, std::string reason,
                  std::vector<int> partitions, std::function<void()> then);
  // Any call by order_id: confirm, release, return, extend (ttl) or read.
  void ByOrder(std::string_view order_id, std::string_view action, std::int64_t ttl_seconds,
               std::string_view actor, std::int64_t now_ms, std::string_view reason,
               Done<ReservationResult> done);
  // Brings every part to the reservation's status; `then` runs when all have answered.
  void SettleParts(const core::ReservationView& order, const std::vector<int>& partitions,
                   std::string_view actor, std::int64_t now_ms, std::string_view reason,
                   std::function<void()> then);
  void GetStocksSpanning(const std::vector<std::int64_t>& skus, std::int64_t now_ms,
                         Done<StockListResult> done);
  ExpireResult ExpireDueSpanning(std::int64_t now_ms);

  RedisStoreConfig config_;
  std::vector<std::unique_ptr<OpBatcher>> batchers_;  // one per partition
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_
