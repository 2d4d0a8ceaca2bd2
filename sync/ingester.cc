#include "sync/ingester.h"

#include <chrono>
#include <thread>
#include <utility>

#include "sync/history_writer.h"

namespace stockgate::sync {

Ingester::Ingester(Outbox& outbox, history::MySqlConfig mysql, IngestConfig config, Clock now)
    : outbox_(outbox), mysql_(std::move(mysql)), config_(std::move(config)), now_(std::move(now)) {}

Ingester::~Ingester() = default;

bool Ingester::Write() {
  if (!conn_) {
    auto opened = history::MariaDbConnection::Open(mysql_, true);
    if (!opened) {
      last_error_ = "mariadb: " + opened.error();
      return false;
    }
    conn_ = std::move(opened).value();
  }
  const core::Result<WriteCounts> r = WriteBatch(*conn_, held_);
  if (!r.ok()) {
    last_error_ = "mariadb: " + r.error();
    if (conn_->broken()) conn_.reset();
    return false;
  }
  const std::int64_t now = now_();
  std::lock_guard lock(stats_mu_);
  stats_.events += r->inserted;
  stats_.duplicates += r->duplicates;
  stats_.records += r->records;
  ++stats_.batches;
  // The newest entry's age: how far behind the stream the history is at this commit.
  stats_.lag_ms.push_back(now - static_cast<std::int64_t>(held_.back().id.ms));
  return true;
}

Ingester::Step Ingester::RunOnce() {
  // Acknowledge what was committed but could not be acknowledged (Redis was down). Were these
  // lost instead, the entries would be delivered again and found in the history: harmless.
  if (!to_ack_.empty()) {
    const OutboxCount ack = outbox_.Ack(to_ack_);
    if (!ack.ok()) {
      last_error_ = "redis: " + ack.error();
      return Step::kRedisDown;
    }
    to_ack_.clear();
  }
  if (held_.empty()) {
    if (!group_ready_) {
      const OutboxCount g = outbox_.EnsureGroup();
      if (!g.ok()) {
        last_error_ = "redis: " + g.error();
        return Step::kRedisDown;
      }
      group_ready_ = true;
    }
    const std::int64_t now = now_();
    const bool own_pending = !own_pending_done_;
    const bool claiming = !own_pending && now >= next_claim_ms_;
    OutboxRead read = own_pending ? outbox_.ReadOwnPending(config_.consumer, config_.batch_size)
                      : claiming
                          ? outbox_.Claim(config_.consumer, config_.claim_idle_ms,
                                          config_.batch_size, claim_cursor_)
                          : outbox_.ReadNew(config_.consumer, config_.batch_size, config_.block_ms);
    if (!read.ok()) {
      last_error_ = "redis: " + read.error();
      // Redis may have delivered entries to this consumer and failed before the reply arrived:
      // they sit in its pending list, and the next successful read starts with them.
      own_pending_done_ = false;
      std::lock_guard lock(stats_mu_);
      ++stats_.read_failures;
      // A flushed Redis loses the group with the stream (NOGROUP): create it again.
      if (read.error().find("NOGROUP") != std::string::npos) group_ready_ = false;
      return Step::kRedisDown;
    }
    if (own_pending && read->entries.empty()) own_pending_done_ = true;
    if (claiming) {
      claim_cursor_ = read->next_cursor.empty() ? "0-0" : read->next_cursor;
      if (claim_cursor_ == "0-0") next_claim_ms_ = now + config_.claim_every_ms;
    }
    if (!read->malformed.empty()) {
      // Left pending and unacknowledged for an operator; never written, never dropped.
      std::lock_guard lock(stats_mu_);
      stats_.malformed += static_cast<std::int64_t>(read->malformed.size());
      last_error_ = "malformed outbox entry " + read->malformed.front().first + ": " +
                    read->malformed.front().second;
    }
    if (claiming) {
      std::lock_guard lock(stats_mu_);
      stats_.claimed += static_cast<std::int64_t>(read->entries.size());
    }
    held_ = std::move(read->entries);
    if (held_.empty()) {
      if (now >= next_trim_ms_) {
        (void)outbox_.Trim();  // best effort; the next round tries again
        next_trim_ms_ = now + config_.trim_every_ms;
      }
      if (now >= next_forget_ms_) {
        (void)outbox_.ForgetIdleConsumers(config_.forget_idle_consumers_ms);
        next_forget_ms_ = now + 60'000;
      }
      return Step::kIdle;
    }
  }
  if (!Write()) {
    std::lock_guard lock(stats_mu_);
    ++stats_.write_failures;
    return Step::kMySqlDown;
  }
  for (const store::OutboxEntry& e : held_) to_ack_.push_back(e.id);
  held_.clear();
  const OutboxCount ack = outbox_.Ack(to_ack_);
  if (ack.ok()) to_ack_.clear();
  const std::int64_t now = now_();
  if (now >= next_trim_ms_) {
    (void)outbox_.Trim();
    next_trim_ms_ = now + config_.trim_every_ms;
  }
  return Step::kWrote;
}

void Ingester::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    const Step step = RunOnce();
    if (step == Step::kRedisDown || step == Step::kMySqlDown) {
      std::this_thread::sleep_for(std::chrono::milliseconds(config_.retry_ms));
    }
  }
}

IngestStats Ingester::TakeStats() {
  std::lock_guard lock(stats_mu_);
  IngestStats out = stats_;
  stats_.lag_ms.clear();
  return out;
}

}  // namespace stockgate::sync
