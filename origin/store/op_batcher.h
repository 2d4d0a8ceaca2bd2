// OpBatcher: group commit for the operations of stockgate.lua, the one script behind the store.
// An operation submitted while a batch is on its way to Redis waits, and all the operations that
// waited go together in the next batch: one EVALSHA, one script start, one read and one write of
// each SKU they touch, one AOF write and one fsync for all of them. With no load a batch holds one
// operation and leaves at once; under load batches grow by themselves up to max_ops, with no timer
// and no added wait. Operations run in the order they were submitted, each as if alone at its own
// time (batch.lua).
#ifndef STOCKGATE_ORIGIN_STORE_OP_BATCHER_H_
#define STOCKGATE_ORIGIN_STORE_OP_BATCHER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "origin/store/redis_client.h"

namespace stockgate::store {

// stockgate.lua as CMake assembled it (common.lua, the operations, batch.lua).
const Script& StockgateScript();

// One operation of the script: what batch.lua reads for it.
struct ScriptOp {
  std::string name;  // an operation file's name: reserve, transition, read, ...
  std::int64_t now_ms = 0;
  std::string actor;
  std::vector<std::string> args;
};

// Runs one operation alone (a batch of one) and waits: for operator tools, which use no store.
// The reply is the operation's answer.
// `partition` of a store of `partitions` (keyspace.h).
CommandResult RunOp(RedisClient& redis, std::string_view key_prefix, const ScriptOp& op,
                    int partition = 0, int partitions = 1);

class OpBatcher {
 public:
  struct Options {
    // Operations in one batch at most. Redis runs nothing else while a script runs, so this
    // bounds that time (about 20 us per operation).
    int max_ops = 256;
    // Batches sent and not yet answered. With two, the next batch already waits in Redis while
    // the reply of the last one travels back, so Redis is not idle between them (measured with
    // wrk on two cores: about the same at 32 clients, a third more at 1,024); more would only
    // split the load into smaller batches.
    int max_in_flight = 2;
    // Operations waiting for a batch, at most; one beyond it fails at once ("overloaded"), for
    // Redis is not keeping up and a longer queue would only add waiting.
    int max_queued = 10'000;
    // An operation that has waited this long (ms) for a batch fails instead of being sent: it
    // was never sent, so its outcome is known (nothing happened), and its client has given up or
    // is about to.
    int max_wait_ms = 1'000;
    // Replicas that must hold a batch's writes before its answers stand: after each batch with
    // an operation other than a read or a snapshot, WAIT replica_acks replica_ack_timeout_ms on
    // the same connection. When fewer acknowledge in time, every operation of the batch fails
    // (kUnavailable) with an unknown outcome: Redis ran it, but a failover now could lose it; the
    // client retries with the same key. 0: off. The WAIT holds up the calls behind it on that
    // connection, and must end within the client's command timeout (the config checks it).
    int replica_acks = 0;
    int replica_ack_timeout_ms = 100;
  };
  // The operation's outcome: ok=false when its batch failed in transport (outcome unknown);
  // else the reply is its answer.
  using Done = std::function<void(CommandResult)>;

  // The batcher of one partition of a store of `partitions` (keyspace.h).
  OpBatcher(RedisClient& redis, std::string key_prefix, Options options, int partition = 0,
            int partitions = 1);
  // Every submitted operation must be done before the batcher goes.
  ~OpBatcher() = default;
  OpBatcher(const OpBatcher&) = delete;
  OpBatcher& operator=(const OpBatcher&) = delete;

  // Queues the operation; `done` runs once, on the thread that receives its batch's reply (see
  // RedisClient::CommandAsync), so it must be quick.
  void Submit(ScriptOp op, Done done);
  // Submit, then wait for the outcome.
  CommandResult Run(ScriptOp op);

  struct Stats {
    long long batches = 0;  // EVALSHAs sent
    long long ops = 0;      // operations they carried; ops / batches is the mean batch size
    long long refused = 0;  // operations failed unsent: the queue was full or they waited too long
  };
  Stats stats() const;

 private:
  struct Pending {
    ScriptOp op;
    Done done;
    std::chrono::steady_clock::time_point queued;
  };
  // Sends batches while there is room in flight and something queued. Re-entrant calls on the
  // same thread (a client that answers before CommandAsync returns) leave the work to the outer
  // call, so the stack stays flat.
  void Pump();
  void Send(std::vector<Pending> batch);

  RedisClient& redis_;
  const std::vector<std::string> keys_;  // the script's KEYS: the partition's prefix
  const std::string slot_;               // its cluster slot, "" when not on a cluster
  const std::string id_block_;           // its block of stream ids, "" with one partition
  const Options options_;

  std::mutex mu_;
  std::deque<Pending> queue_;
  int in_flight_ = 0;

  std::atomic<long long> batches_{0};
  std::atomic<long long> refused_{0};
  std::atomic<long long> ops_{0};
};

}  // namespace stockgate::store

#endif  // STOCKGATE_ORIGIN_STORE_OP_BATCHER_H_
