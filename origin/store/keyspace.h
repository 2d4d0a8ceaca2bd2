// The Redis key names, built here only for the C++ side (sync's consumer, recovery, tests); the
// scripts build the same names from the partition prefix they are given (lua/common.lua, which
// documents the layout), and the store's tests read what the scripts wrote through these, so the
// two cannot drift apart.
//
// Every key of a store lives in a partition and starts with the partition's prefix, "P:{p0}": the
// store's key prefix P and the hash tag {p0}. One tag for all the keys of a partition puts them in
// one Redis Cluster slot, so that every script runs on the one node serving it, and a slot can
// move between nodes (reshard) as a whole. The store has one partition, p0.
#ifndef STOCKGATE_ORIGIN_STORE_KEYSPACE_H_
#define STOCKGATE_ORIGIN_STORE_KEYSPACE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace stockgate::store {

// P:{p0}, the start of every key of the partition (the scripts' KEYS[1]).
inline std::string PartitionPrefix(std::string_view prefix) {
  std::string key(prefix);
  key += ":{p0}";
  return key;
}

// P:{p0}:ledger, the outbox stream.
inline std::string LedgerKey(std::string_view prefix) {
  return PartitionPrefix(prefix) + ":ledger";
}

// P:{p0}:res:O, a reservation's record.
inline std::string ReservationKey(std::string_view prefix, std::string_view order_id) {
  std::string key = PartitionPrefix(prefix);
  key += ":res:";
  key += order_id;
  return key;
}

// P:{p0}:stock:S, a SKU's counters.
inline std::string StockKey(std::string_view prefix, std::int64_t sku) {
  std::string key = PartitionPrefix(prefix);
  key += ":stock:";
  key += std::to_string(sku);
  return key;
}

// P:{p0}:changes, the index of every SKU by the snapshot version of its last change.
inline std::string ChangesKey(std::string_view prefix) {
  return PartitionPrefix(prefix) + ":changes";
}

// Keys that only the layout before partitions had (P:ledger, P:snapver, P:changes): where one
// exists, the data is in that layout and must be moved before the store can use it (see
// docs/operations.md, "Upgrading the keyspace").
inline std::array<std::string, 3> EarlierLayoutKeys(std::string_view prefix) {
  const std::string p(prefix);
  return {p + ":ledger", p + ":snapver", p + ":changes"};
}

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_KEYSPACE_H_
