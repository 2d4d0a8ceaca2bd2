// EventHub: the stock change feed behind GET /v1/events (Server-Sent Events). One thread polls
// the store's snapshot delta every poll interval and turns each non-empty delta into an SSE
// `stock` event kept in a short ring; each subscriber follows the ring from where it joined, by
// taking what is new now and then (it never waits in here). The number of subscribers is bounded
// so that their memory is.
// It also watches each SKU's low-stock state (core::IsLowStock): a SKU that becomes low, or stops
// being low, gets a `low_stock` event, and the gauge stockgate_stock_skus{state} counts the SKUs
// that are low and sold out.
#ifndef STOCKGATE_ORIGIN_SERVER_EVENT_HUB_H_
#define STOCKGATE_ORIGIN_SERVER_EVENT_HUB_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "origin/store/inventory_store.h"

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace stockgate::server {

struct EventHubOptions {
  int poll_ms = 200;  // how stale a change may be when it reaches subscribers
  int keep_alive_ms =
      15'000;  // comment line sent when nothing happened, so proxies keep the stream
  int max_subscribers = 10'000;  // beyond it new subscribers get 503
  std::size_t ring_size = 256;   // events kept for subscribers that fall behind
};

// "event: stock\ndata: {"version":V,"items":[{"sku":S,"available":A},...]}\n\n"; a low SKU's
// item also says "low_stock":true.
std::string StockEvent(const store::SnapshotResult& snapshot);
// "event: low_stock\ndata: {"sku":S,"available":A,"low_stock_threshold":T,"low_stock":B}\n\n"
std::string LowStockEvent(const store::SnapshotItem& item);

class EventHub {
 public:
  // `registry` (may be null) gets the gauge stockgate_stock_skus{state="low"|"sold_out"}.
  EventHub(store::InventoryStore& store, EventHubOptions options,
           std::function<std::int64_t()> clock_ms, prometheus::Registry* registry = nullptr);
  ~EventHub();  // stops the poller and wakes every subscriber

  void Start();
  void Stop();

  // A subscription slot, or nullopt when max_subscribers are connected. Release it with Leave.
  std::optional<std::uint64_t> Join();  // returns the sequence number to follow from
  void Leave();

  // Appends the events after `*cursor` to `out` (none: nothing happened since) and advances the
  // cursor, without waiting. Returns false when the hub is stopping. A subscriber that fell
  // behind the ring continues from its oldest event (a full snapshot follows every gap, see Poll).
  bool Take(std::uint64_t* cursor, std::string* out);

  // The whole current picture as one event (what a new subscriber gets first, `cursor` being
  // where it joined); "" when the store cannot answer now. A picture taken since that cursor is
  // shared, so that a crowd of subscribers arriving together costs one store read, not one each.
  std::string Initial(std::uint64_t cursor);

  const EventHubOptions& options() const { return options_; }

 private:
  void Poll();
  void Publish(std::string event);  // appends to the ring and wakes subscribers

  // What Poll last saw of a SKU.
  struct Seen {
    std::int64_t available = 0;
    bool low = false;
  };

  store::InventoryStore& store_;
  EventHubOptions options_;
  std::function<std::int64_t()> clock_ms_;
  prometheus::Gauge* low_skus_ = nullptr;
  prometheus::Gauge* sold_out_skus_ = nullptr;

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> ring_;
  std::uint64_t next_seq_ = 0;  // sequence number of the next event; ring_ ends just before it
  int subscribers_ = 0;
  bool stopping_ = false;
  std::thread poller_;

  // The last picture Initial read, and the ring's next sequence number when it read it: it holds
  // every event before that number.
  std::mutex picture_mu_;
  std::string picture_;
  std::uint64_t picture_seq_ = 0;
};

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_EVENT_HUB_H_
