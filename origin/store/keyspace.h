// The Redis key names, built here only for the C++ side (sync's consumer, recovery, tests); the
// scripts build the same names from the partition prefix they are given (lua/common.lua, which
// documents the layout), and the store's tests read what the scripts wrote through these, so the
// two cannot drift apart.
//
// Every key of a store lives in a partition and starts with the partition's prefix, "P:{pN}": the
// store's key prefix P and the hash tag {pN} of partition N. One tag for all the keys of a
// partition puts them in one Redis Cluster slot, so that every script runs on the one node serving
// it, and a slot can move between nodes (reshard) as a whole. A store has a fixed number of
// partitions (1 unless configured); a SKU lives in partition sku % partitions, and an order's
// record with its SKUs, found by order_id through its home partition (HomePartition).
#ifndef STOCKGATE_ORIGIN_STORE_KEYSPACE_H_
#define STOCKGATE_ORIGIN_STORE_KEYSPACE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace stockgate::store {

// The most partitions a store may have.
inline constexpr int kMaxPartitions = 1024;

// The partition of a SKU.
inline int SkuPartition(std::int64_t sku, int partitions) {
  return static_cast<int>(sku % partitions);
}

// An order's home partition, where every call by order_id starts: FNV-1a (32 bits) of the
// order_id, modulo the partitions.
inline int HomePartition(std::string_view order_id, int partitions) {
  std::uint32_t h = 2166136261u;
  for (const char c : order_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return static_cast<int>(h % static_cast<std::uint32_t>(partitions));
}

// P:{pN}, the start of every key of partition N (the scripts' KEYS[1]).
inline std::string PartitionPrefix(std::string_view prefix, int partition = 0) {
  std::string key(prefix);
  key += ":{p";
  key += std::to_string(partition);
  key += '}';
  return key;
}

// P:{pN}:ledger, the partition's outbox stream.
inline std::string LedgerKey(std::string_view prefix, int partition = 0) {
  return PartitionPrefix(prefix, partition) + ":ledger";
}

// P:{pN}:res:O, a reservation's record (or one part's) in partition N.
inline std::string ReservationKey(std::string_view prefix, std::string_view order_id,
                                  int partition = 0) {
  std::string key = PartitionPrefix(prefix, partition);
  key += ":res:";
  key += order_id;
  return key;
}

// P:{pN}:ord:O, the directory record of an order spanning partitions, at its home N.
inline std::string DirectoryKey(std::string_view prefix, std::string_view order_id, int partition) {
  std::string key = PartitionPrefix(prefix, partition);
  key += ":ord:";
  key += order_id;
  return key;
}

// P:{pN}:stock:S, a SKU's counters; N is SkuPartition(S).
inline std::string StockKey(std::string_view prefix, std::int64_t sku, int partition = 0) {
  std::string key = PartitionPrefix(prefix, partition);
  key += ":stock:";
  key += std::to_string(sku);
  return key;
}

// P:{pN}:changes, the partition's index of its SKUs by the snapshot version of their last change.
inline std::string ChangesKey(std::string_view prefix, int partition = 0) {
  return PartitionPrefix(prefix, partition) + ":changes";
}

// P:{p0}:partitions, the store's partition count, recorded by the first origin or sync to start.
inline std::string PartitionCountKey(std::string_view prefix) {
  return PartitionPrefix(prefix, 0) + ":partitions";
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
