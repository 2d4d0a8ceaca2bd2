#include "sync/sweeper.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace stockgate::sync {

core::Result<std::int64_t> RetireSynced(store::RedisInventoryStore& store,
                                        const std::vector<std::unique_ptr<Outbox>>& outboxes,
                                        std::int64_t retention_ms, std::int64_t now_ms,
                                        std::int64_t clock_margin_ms) {
  std::vector<std::int64_t> cutoff;
  for (const auto& outbox : outboxes) {
    const core::Result<store::StreamId> synced = outbox->SyncedBefore();
    if (!synced) return core::Fail(synced.code(), outbox->key() + ": " + synced.error());
    cutoff.push_back(
        std::min(now_ms - retention_ms, static_cast<std::int64_t>(synced->ms) - clock_margin_ms));
  }
  const store::RedisInventoryStore::RetireResult r = store.Retire(cutoff, now_ms);
  if (r.code != core::Code::kOk) return core::Fail(r.code, r.message);
  return r.retired;
}

std::int64_t Sweeper::SweepOnce() {
  const store::ExpireResult r = store_.ExpireDue(now_());
  if (r.code != core::Code::kOk) {
    ++failures_;
    return -1;
  }
  expired_ += r.expired;
  return r.expired;
}

std::int64_t Sweeper::RetireOnce() {
  if (!retire_) return 0;
  const std::int64_t n = retire_(now_());
  if (n < 0) {
    ++failures_;
    return -1;
  }
  retired_ += n;
  return n;
}

void Sweeper::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    SweepOnce();
    if (retire_ && now_() - last_retire_ms_ >= retire_every_ms_) {
      last_retire_ms_ = now_();
      RetireOnce();
    }
    // Sleep in short slices so a stop request is honoured quickly.
    for (int slept = 0; slept < interval_ms_ && !stop.load(std::memory_order_relaxed);
         slept += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, interval_ms_ - slept)));
    }
  }
}

}  // namespace stockgate::sync
