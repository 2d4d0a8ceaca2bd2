#include "origin/server/event_hub.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/inventory_model.h"

namespace stockgate::server {

std::string StockEvent(const store::SnapshotResult& snapshot) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : snapshot.items) {
    nlohmann::json j = {{"sku", item.sku}, {"available", item.available}};
    if (core::IsLowStock(item.available, item.low_stock_threshold)) j["low_stock"] = true;
    items.push_back(std::move(j));
  }
  const nlohmann::json data = {{"version", snapshot.version}, {"items", std::move(items)}};
  return "event: stock\ndata: " + data.dump() + "\n\n";
}

std::string LowStockEvent(const store::SnapshotItem& item) {
  const nlohmann::json data = {
      {"sku", item.sku},
      {"available", item.available},
      {"low_stock_threshold", item.low_stock_threshold},
      {"low_stock", core::IsLowStock(item.available, item.low_stock_threshold)}};
  return "event: low_stock\ndata: " + data.dump() + "\n\n";
}

EventHub::EventHub(store::InventoryStore& store, EventHubOptions options,
                   std::function<std::int64_t()> clock_ms, prometheus::Registry* registry)
    : store_(store), options_(options), clock_ms_(std::move(clock_ms)) {
  if (registry != nullptr) {
    auto& skus = prometheus::BuildGauge()
                     .Name("stockgate_stock_skus")
                     .Help(
                         "SKUs by stock state, as this origin's event feed last saw them: low "
                         "(available at or below the SKU's low_stock_threshold) and sold_out "
                         "(available 0)")
                     .Register(*registry);
    low_skus_ = &skus.Add({{"state", "low"}});
    sold_out_skus_ = &skus.Add({{"state", "sold_out"}});
  }
}

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
  const store::SnapshotResult snap = store_.Snapshot({}, clock_ms_());
  if (snap.code != core::Code::kOk) return {};
  std::string picture = StockEvent(snap);
  std::lock_guard lock(picture_mu_);
  if (seq >= picture_seq_) {
    picture_ = picture;
    picture_seq_ = seq;
  }
  return picture;
}

void EventHub::Publish(std::string event) {
  std::lock_guard lock(mu_);
  ring_.push_back(std::move(event));
  if (ring_.size() > options_.ring_size) ring_.pop_front();
  ++next_seq_;
  changed_.notify_all();
}

void EventHub::Poll() {
  // Where the last poll left off; none when not in sync, and the next poll sends everything.
  std::optional<store::SnapshotCursor> since;
  std::int64_t version = 0;  // the snapshot version of `since`
  // What was last sent per SKU: only changes go out, also from a delta that is a superset (a
  // partition emptied or rebuilt since the cursor answers every SKU it has). Kept across
  // resynchronisations, so that a SKU's low-stock state is announced when it flips, not again with
  // every full picture (the pictures carry it).
  std::unordered_map<std::int64_t, Seen> sent;
  std::int64_t low = 0;
  std::int64_t sold_out = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (changed_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                            [&] { return stopping_; })) {
        return;
      }
    }
    const store::SnapshotResult snap =
        store_.Snapshot(since.value_or(store::SnapshotCursor{}), clock_ms_());
    if (snap.code != core::Code::kOk) {
      since.reset();  // the store was unreachable: resynchronise fully once it answers again
      continue;
    }
    // A version that went backwards means the keyspace was emptied (or rebuilt after an earlier
    // rebuild); start over from everything.
    if (since && snap.version < version) {
      since.reset();
      continue;
    }
    const bool full = !since;
    since = snap.cursor;
    version = snap.version;
    store::SnapshotResult changes;
    changes.version = snap.version;
    std::vector<const store::SnapshotItem*> flipped;
    for (const store::SnapshotItem& item : snap.items) {
      const Seen now{item.available, core::IsLowStock(item.available, item.low_stock_threshold)};
      const auto [it, fresh] = sent.try_emplace(item.sku, now);
      const Seen before = fresh ? Seen{-1, false} : it->second;
      it->second = now;
      // A SKU seen for the first time after the first picture is new: low from the start, it
      // became low now.
      if (before.low != now.low && (!fresh || !full)) flipped.push_back(&item);
      low += (now.low ? 1 : 0) - (before.low ? 1 : 0);
      sold_out += (now.available == 0 ? 1 : 0) - (before.available == 0 ? 1 : 0);
      if (full || before.available != now.available || before.low != now.low) {
        changes.items.push_back(item);
      }
    }
    if (full) {
      // A whole picture: SKUs no longer in the store (a rebuild, a flush) leave the counts.
      std::unordered_set<std::int64_t> present;
      for (const store::SnapshotItem& item : snap.items) present.insert(item.sku);
      for (auto it = sent.begin(); it != sent.end();) {
        if (present.contains(it->first)) {
          ++it;
          continue;
        }
        low -= it->second.low ? 1 : 0;
        sold_out -= it->second.available == 0 ? 1 : 0;
        it = sent.erase(it);
      }
    }
    if (low_skus_ != nullptr) {
      low_skus_->Set(static_cast<double>(low));
      sold_out_skus_->Set(static_cast<double>(sold_out));
    }
    if (!changes.items.empty()) Publish(StockEvent(changes));
    for (const store::SnapshotItem* item : flipped) Publish(LowStockEvent(*item));
  }
}

}  // namespace stockgate::server
