#include "origin/server/event_hub.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace stockgate::server {

std::string StockEvent(const store::SnapshotResult& snapshot) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : snapshot.items) {
    items.push_back({{"sku", item.sku}, {"available", item.available}});
  }
  const nlohmann::json data = {{"version", snapshot.version}, {"items", std::move(items)}};
  return "event: stock\ndata: " + data.dump() + "\n\n";
}

EventHub::EventHub(store::InventoryStore& store, EventHubOptions options,
                   std::function<std::int64_t()> clock_ms)
    : store_(store), options_(options), clock_ms_(std::move(clock_ms)) {}

EventHub::~EventHub() { Stop(); }

void EventHub::Start() {
  std::lock_guard lock(mu_);
  if (poller_.joinable()) return;
  stopping_ = false;
  poller_ = std::thread([this] { Poll(); });
}

void EventHub::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::optional<std::uint64_t> EventHub::Join() {
  std::lock_guard lock(mu_);
  if (stopping_ || subscribers_ >= options_.max_subscribers) return std::nullopt;
  ++subscribers_;
  return next_seq_;
}

void EventHub::Leave() {
  std::lock_guard lock(mu_);
  --subscribers_;
}

bool EventHub::Take(std::uint64_t* cursor, std::string* out) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  const std::uint64_t oldest = next_seq_ - ring_.size();
  if (*cursor < oldest) *cursor = oldest;
  for (std::uint64_t seq = *cursor; seq < next_seq_; ++seq) out->append(ring_[seq - oldest]);
  *cursor = next_seq_;
  return true;
}

std::string EventHub::Initial(std::uint64_t cursor) {
  {
    std::lock_guard lock(picture_mu_);
    // Taken when the ring was at or past the cursor: no event the subscriber will not get since.
    if (!picture_.empty() && picture_seq_ >= cursor) return picture_;
  }
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    seq = next_seq_;  // read before the store, so the picture holds at least the events before it
  }
  const store::SnapshotResult snap = store_.Snapshot(0, clock_ms_());
  if (snap.code != core::Code::kOk) return {};
  std::string picture = StockEvent(snap);
  std::lock_guard lock(picture_mu_);
  if (seq >= picture_seq_) {
    picture_ = picture;
    picture_seq_ = seq;
  }
  return picture;
}

void EventHub::Poll() {
  std::int64_t since = -1;  // -1: not yet in sync; the first successful poll sends everything
  // The available units last sent per SKU: only changes go out, also from a store whose deltas
  // are supersets (one of several partitions answers every SKU).
  std::unordered_map<std::int64_t, std::int64_t> sent;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (changed_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                            [&] { return stopping_; })) {
        return;
      }
    }
    const store::SnapshotResult snap = store_.Snapshot(since < 0 ? 0 : since, clock_ms_());
    if (snap.code != core::Code::kOk) {
      since = -1;  // the store was unreachable: resynchronise fully once it answers again
      continue;
    }
    // A version that went backwards means the store was rebuilt; start over from everything.
    if (snap.version < since) {
      since = -1;
      continue;
    }
    if (since < 0) sent.clear();
    since = snap.version;
    store::SnapshotResult changes;
    changes.version = snap.version;
    for (const store::SnapshotItem& item : snap.items) {
      const auto [it, fresh] = sent.try_emplace(item.sku, item.available);
      if (!fresh && it->second == item.available) continue;
      it->second = item.available;
      changes.items.push_back(item);
    }
    if (changes.items.empty()) continue;
    std::lock_guard lock(mu_);
    ring_.push_back(StockEvent(changes));
    if (ring_.size() > options_.ring_size) ring_.pop_front();
    ++next_seq_;
    changed_.notify_all();
  }
}

}  // namespace stockgate::server
