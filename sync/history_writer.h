// HistoryWriter: writes a batch of outbox entries to MariaDB in one transaction, exactly once.
// The ledger events of the entries go to inventory_history keyed by their event id; only events
// that were not there yet move the inventory counters (the replay rules), so a batch replayed after
// a crash, or delivered to two consumers, changes nothing the second time. Stock and reservation
// records are applied only when newer than what the row holds, so their order across batches and
// consumers does not matter.
#ifndef STOCKGATE_SYNC_HISTORY_WRITER_H_
#define STOCKGATE_SYNC_HISTORY_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "origin/history/mariadb.h"
#include "sync/outbox.h"

namespace stockgate::sync {

// What a batch wrote. When it fails, the connection's broken() says whether to reconnect.
struct WriteCounts {
  std::int64_t inserted = 0;    // ledger events new to the history
  std::int64_t duplicates = 0;  // ledger events already there (a replay)
  std::int64_t records = 0;     // stock and reservation records applied (or found older)
};

// The text as valid UTF-8 of at most max_bytes (invalid bytes become '?', cut at a character
// boundary), so a strict-mode column never refuses a batch.
std::string SafeText(std::string_view text, std::size_t max_bytes);

core::Result<WriteCounts> WriteBatch(history::MariaDbConnection& conn,
                                     const std::vector<store::OutboxEntry>& entries);

}  // namespace stockgate::sync

#endif  // STOCKGATE_SYNC_HISTORY_WRITER_H_
