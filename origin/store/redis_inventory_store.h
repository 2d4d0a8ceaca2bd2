// RedisInventoryStore: the inventory store on Redis. Every operation is one EVALSHA of a script
// from origin/store/lua (common.lua + the operation), so each is atomic and writes its ledger
// events to the stream in the same step. Script sources are compiled into the binary.
#ifndef STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_
#define STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "origin/store/inventory_store.h"
#include "origin/store/redis_client.h"

namespace stockgate::store {

// The scripts, by file name without ".lua", each already prefixed with common.lua.
const std::vector<Script>& InventoryScripts();
const Script& InventoryScript(std::string_view name);

struct RedisStoreConfig {
  std::string key_prefix = "sg";  // every key starts with it; lets stores share a Redis
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

  // The ledger stream's key, for readers (sync, tests).
  std::string LedgerKey() const { return config_.key_prefix + ":ledger"; }

 private:
  struct Outcome;  // a script's decoded JSON answer, or why there is none
  Outcome Run(std::string_view script, std::string_view actor, std::int64_t now_ms,
              std::vector<std::string> args);
  ReservationResult Transition(std::string_view order_id, std::string_view action,
                               std::string_view actor, std::int64_t now_ms,
                               std::string_view reason);

  RedisClient& redis_;
  RedisStoreConfig config_;
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_REDIS_INVENTORY_STORE_H_
