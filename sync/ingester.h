// Ingester: drains the outbox stream into MariaDB through the consumer group, exactly once. A
// step reads a batch (first this consumer's own unacknowledged entries, then, now and then,
// entries a crashed consumer left pending, else new ones), writes it in one transaction, and
// acknowledges it only after the commit. While MariaDB is down the batch is kept and retried, the
// stream holds the backlog, and nothing is acknowledged; when it returns the backlog drains.
#ifndef STOCKGATE_SYNC_INGESTER_H_
#define STOCKGATE_SYNC_INGESTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "origin/history/mariadb.h"
#include "origin/history/mysql_config.h"
#include "sync/outbox.h"

namespace stockgate::sync {

struct IngestConfig {
  std::string consumer;  // this process's name in the group; unique per process
  int batch_size = 500;  // entries per read and per transaction
  int block_ms = 100;    // XREADGROUP BLOCK; must stay below the Redis command timeout
  std::int64_t claim_idle_ms = 10'000;  // take over another consumer's entries idle this long
  std::int64_t claim_every_ms = 1'000;  // how often to look for such entries
  std::int64_t trim_every_ms = 1'000;   // how often to trim acknowledged entries off the stream
  int retry_ms = 250;                   // pause after a failed write or read before trying again
  // Consumers with nothing pending that have been idle this long leave the group (the names of
  // stopped processes: each process has its own).
  std::int64_t forget_idle_consumers_ms = 3'600'000;
};

// Counters since start, and lag (now minus the stream time of each event written), in ms.
struct IngestStats {
  std::int64_t events = 0;      // ledger events inserted into the history
  std::int64_t duplicates = 0;  // ledger events found already there (replays)
  std::int64_t records = 0;     // stock and reservation records applied
  std::int64_t batches = 0;
  std::int64_t claimed = 0;  // entries taken over from other consumers
  std::int64_t write_failures = 0;
  std::int64_t read_failures = 0;
  std::int64_t malformed = 0;
  std::vector<std::int64_t> lag_ms;  // one sample per committed batch since the last TakeStats
};

class Ingester {
 public:
  using Clock = std::function<std::int64_t()>;  // ms since the epoch
  Ingester(Outbox& outbox, history::MySqlConfig mysql, IngestConfig config, Clock now);
  ~Ingester();

  enum class Step {
    kWrote,      // a batch was committed and acknowledged
    kIdle,       // nothing to do right now
    kRedisDown,  // reading or acknowledging failed; retry later
    kMySqlDown,  // writing failed; the batch is kept for the next step
  };
  Step RunOnce();
  // Steps until `stop` is set, pausing retry_ms after failures.
  void Run(const std::atomic<bool>& stop);

  // The counters; lag samples are handed over and cleared.
  IngestStats TakeStats();
  const std::string& last_error() const { return last_error_; }

 private:
  bool Write();  // writes held_, true when committed

  Outbox& outbox_;
  history::MySqlConfig mysql_;
  IngestConfig config_;
  Clock now_;
  std::unique_ptr<history::MariaDbConnection> conn_;
  std::vector<store::OutboxEntry> held_;  // read, not yet committed
  std::vector<store::StreamId> to_ack_;   // committed, not yet acknowledged
  bool group_ready_ = false;
  bool own_pending_done_ = false;
  std::int64_t next_claim_ms_ = 0;
  std::int64_t next_trim_ms_ = 0;
  std::int64_t next_forget_ms_ = 0;
  std::string claim_cursor_ = "0-0";
  std::string last_error_;
  std::mutex stats_mu_;
  IngestStats stats_;
};

}  // namespace stockgate::sync

#endif  // STOCKGATE_SYNC_INGESTER_H_
