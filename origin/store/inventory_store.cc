// The snapshot cursor's text (inventory_store.h).
#include "origin/store/inventory_store.h"

#include <charconv>

#include "origin/store/keyspace.h"

namespace stockgate::store {

std::string FormatSnapshotCursor(const SnapshotCursor& cursor) {
  std::string out;
  for (std::int64_t v : cursor) {
    if (!out.empty()) out += '.';
    out += std::to_string(v);
  }
  return out;
}

std::optional<SnapshotCursor> ParseSnapshotCursor(std::string_view text) {
  SnapshotCursor out;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (true) {
    if (p == end || *p < '0' || *p > '9' || out.size() == kMaxPartitions) return std::nullopt;
    std::int64_t v = 0;
    const auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || next - p > 19) return std::nullopt;  // as the API's pattern says
    out.push_back(v);
    if (next == end) return out;
    if (*next != '.') return std::nullopt;
    p = next + 1;
  }
}

}  // namespace stockgate::store
