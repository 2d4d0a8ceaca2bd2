#include "origin/store/op_batcher.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "origin/store/keyspace.h"
#include "origin/store/ledger_stream.h"
#include "origin/store/redis_cluster.h"

namespace stockgate::store {

std::string_view StockgateLua();  // lua_scripts.cc, generated

namespace {

// batch.lua's ARGV: the partition's cluster slot ("" when not on a cluster), its block of stream
// ids, the count, then per operation its name, now, actor, argument count and arguments.
template <class Ops, class Get>
std::vector<std::string> BatchArgv(const std::string& slot, const std::string& id_block,
                                   const Ops& ops, Get get) {
  std::vector<std::string> argv;
  std::size_t size = 3;
  for (const auto& o : ops) size += 4 + get(o).args.size();
  argv.reserve(size);
  argv.push_back(slot);
  argv.push_back(id_block);
  argv.push_back(std::to_string(ops.size()));
  for (const auto& o : ops) {
    const ScriptOp& op = get(o);
    argv.push_back(op.name);
    argv.push_back(std::to_string(op.now_ms));
    argv.push_back(op.actor);
    argv.push_back(std::to_string(op.args.size()));
    argv.insert(argv.end(), op.args.begin(), op.args.end());
  }
  return argv;
}

// The answer of operation i from the batch's reply; a reply that is not an array of answers
// (the script itself failed) is every operation's answer.
CommandResult AnswerOf(const CommandResult& batch, std::size_t i, std::size_t count) {
  if (!batch.ok()) return batch;
  if (batch->is_array() && batch->elements.size() == count) return batch->elements[i];
  if (batch->is_error()) return batch;
  Reply wrong;
  wrong.type = Reply::Type::kError;
  wrong.str = "stockgate script answered " + std::to_string(batch->elements.size()) +
              " answers for " + std::to_string(count) + " operations";
  return wrong;
}

// The slot batch.lua checks for a move in progress: the partition's on a cluster, else none.
std::string SlotArg(const RedisClient& redis, std::string_view partition) {
  return redis.cluster() ? std::to_string(KeySlot(partition)) : std::string();
}

// The partition's block of stream ids, "high:bits" (common.lua's ID_BLOCK): the high bits of
// the 20-bit sequence number are the partition's; "" for a store of one partition.
std::string IdBlockArg(int partition, int partitions) {
  if (partitions <= 1) return {};
  int high_bits = 0;
  while ((1 << high_bits) < partitions) ++high_bits;
  const int bits = StreamId::kSeqBits - high_bits;
  return std::to_string(static_cast<std::int64_t>(partition) << bits) + ":" + std::to_string(bits);
}

}  // namespace

const Script& StockgateScript() {
  static const Script script("stockgate", std::string(StockgateLua()));
  return script;
}

CommandResult RunOp(RedisClient& redis, std::string_view key_prefix, const ScriptOp& op,
                    int partition, int partitions) {
  const std::vector<const ScriptOp*> ops = {&op};
  const std::string keys = PartitionPrefix(key_prefix, partition);
  return AnswerOf(redis.Eval(StockgateScript(), {keys},
                             BatchArgv(SlotArg(redis, keys), IdBlockArg(partition, partitions), ops,
                                       [](const ScriptOp* o) -> const ScriptOp& { return *o; })),
                  0, 1);
}

OpBatcher::OpBatcher(RedisClient& redis, std::string key_prefix, Options options, int partition,
                     int partitions)
    : redis_(redis),
      keys_{PartitionPrefix(key_prefix, partition)},
      slot_(SlotArg(redis, keys_[0])),
      id_block_(IdBlockArg(partition, partitions)),
      options_(options) {}

void OpBatcher::Submit(ScriptOp op, Done done) {
  {
    std::unique_lock lock(mu_);
    if (static_cast<int>(queue_.size()) >= options_.max_queued) {
      lock.unlock();
      refused_.fetch_add(1, std::memory_order_relaxed);
      return done(core::Fail(core::Code::kUnavailable,
                             "store overloaded: " + std::to_string(options_.max_queued) +
                                 " operations waiting for Redis"));
    }
    queue_.push_back({std::move(op), std::move(done), std::chrono::steady_clock::now()});
  }
  Pump();
}

void OpBatcher::Pump() {
  thread_local const OpBatcher* pumping = nullptr;
  if (pumping == this) return;
  const OpBatcher* const outer = pumping;
  pumping = this;
  while (true) {
    std::vector<Pending> batch;
    std::vector<Pending> expired;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || in_flight_ >= options_.max_in_flight) break;
      const auto oldest =
          std::chrono::steady_clock::now() - std::chrono::milliseconds(options_.max_wait_ms);
      while (!queue_.empty() && queue_.front().queued < oldest) {
        expired.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      const std::size_t n = std::min(queue_.size(), static_cast<std::size_t>(options_.max_ops));
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!batch.empty()) ++in_flight_;
    }
    refused_.fetch_add(static_cast<long long>(expired.size()), std::memory_order_relaxed);
    for (Pending& p : expired) {
      p.done(core::Fail(core::Code::kUnavailable, "store overloaded: waited over " +
                                                      std::to_string(options_.max_wait_ms) +
                                                      " ms for Redis (not sent)"));
    }
    if (!batch.empty()) Send(std::move(batch));
  }
  pumping = outer;
}

void OpBatcher::Send(std::vector<Pending> batch) {
  batches_.fetch_add(1, std::memory_order_relaxed);
  ops_.fetch_add(static_cast<long long>(batch.size()), std::memory_order_relaxed);
  const std::vector<std::string> argv =
      BatchArgv(slot_, id_block_, batch, [](const Pending& p) -> const ScriptOp& { return p.op; });
  auto pending = std::make_shared<std::vector<Pending>>(std::move(batch));
  auto answer = [this, pending](CommandResult result) {
    {
      std::lock_guard lock(mu_);
      --in_flight_;
    }
    // The next batch leaves before this one's callers run: Redis is not kept waiting.
    Pump();
    const std::size_t n = pending->size();
    for (std::size_t i = 0; i < n; ++i) (*pending)[i].done(AnswerOf(result, i, n));
  };
  // Reads and snapshots ask for nothing to be kept (an expiry one of them made on the way is
  // made again after a failover), so a batch of only those is not held up by WAIT, which also
  // stalls every later call on its connection until it returns.
  if (options_.replica_acks <= 0 ||
      std::none_of(pending->begin(), pending->end(), [](const Pending& p) {
        return p.op.name != "read" && p.op.name != "snapshot";
      })) {
    return redis_.EvalAsync(StockgateScript(), keys_, argv, answer);
  }
  const int acks = options_.replica_acks;
  const int timeout_ms = options_.replica_ack_timeout_ms;
  redis_.EvalThenAsync(
      StockgateScript(), keys_, argv, {"WAIT", std::to_string(acks), std::to_string(timeout_ms)},
      [answer, acks, timeout_ms](CommandResult r) {
        if (!r) return answer(std::move(r));
        if (r->elements.size() != 2) {
          return answer(core::Fail(core::Code::kUnavailable, "redis: no reply to WAIT"));
        }
        const Reply& waited = r->elements[1];
        if (!waited.is_integer() || waited.integer < acks) {
          return answer(core::Fail(
              core::Code::kUnavailable,
              "redis: " + (waited.is_integer() ? std::to_string(waited.integer) : waited.str) +
                  " of " + std::to_string(acks) + " replica(s) acknowledged within " +
                  std::to_string(timeout_ms) +
                  " ms; the outcome is unknown, retry with the same key"));
        }
        answer(std::move(r->elements[0]));
      });
}

CommandResult OpBatcher::Run(ScriptOp op) {
  // Every operation's batch ends within the client's bounds, so this wait is bounded too.
  return *Await([&](Done done) { Submit(std::move(op), std::move(done)); });
}

OpBatcher::Stats OpBatcher::stats() const {
  return {batches_.load(std::memory_order_relaxed), ops_.load(std::memory_order_relaxed),
          refused_.load(std::memory_order_relaxed)};
}

}  // namespace stockgate::store
