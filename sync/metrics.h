// The sync worker's Prometheus metrics: what its "sync stats" log line says, as counters, a lag
// histogram and backlog gauges, for GET /metrics on --metrics-listen.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>

#include "sync/ingester.h"
#include "sync/outbox.h"

namespace stockgate::sync {

class SyncMetrics {
 public:
  explicit SyncMetrics(prometheus::Registry& registry);

  // The sweeper's totals since the process started.
  struct SweepTotals {
    std::int64_t expired = 0;
    std::int64_t failures = 0;
  };
  // Moves the counters to the cumulative totals in `stats` and `sweep`, observes the lag samples
  // of `stats` (taken since the last call) and sets the backlog (-1 while Redis does not answer).
  void Update(const IngestStats& stats, SweepTotals sweep,
              const core::Result<Outbox::Backlog>& backlog);

 private:
  prometheus::Family<prometheus::Counter>& ingest_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Counter& expired_;
  prometheus::Histogram& lag_;
  prometheus::Family<prometheus::Gauge>& backlog_;
  IngestStats reported_;
  SweepTotals reported_sweep_;
};

}  // namespace stockgate::sync
