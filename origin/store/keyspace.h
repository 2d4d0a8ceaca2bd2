// The Redis key names C++ code reads or writes directly (sync's consumer, recovery, tests), built
// here only. The scripts build the same names in lua/common.lua, which documents the layout; the
// store's tests read what the scripts wrote through these, so the two cannot drift apart.
#ifndef STOCKGATE_ORIGIN_STORE_KEYSPACE_H_
#define STOCKGATE_ORIGIN_STORE_KEYSPACE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace stockgate::store {

// P:ledger, the outbox stream.
inline std::string LedgerKey(std::string_view prefix) {
  std::string key(prefix);
  key += ":ledger";
  return key;
}

// P:res:{O}, a reservation's record.
inline std::string ReservationKey(std::string_view prefix, std::string_view order_id) {
  std::string key(prefix);
  key += ":res:{";
  key += order_id;
  key += '}';
  return key;
}

// P:{S}:stock, a SKU's counters.
inline std::string StockKey(std::string_view prefix, std::int64_t sku) {
  std::string key(prefix);
  key += ":{";
  key += std::to_string(sku);
  key += "}:stock";
  return key;
}

// P:changes, the index of every SKU by the snapshot version of its last change.
inline std::string ChangesKey(std::string_view prefix) {
  std::string key(prefix);
  key += ":changes";
  return key;
}

// The pattern every key of the prefix matches (SCAN MATCH).
inline std::string KeyPattern(std::string_view prefix) {
  std::string pattern(prefix);
  pattern += ":*";
  return pattern;
}

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_KEYSPACE_H_
