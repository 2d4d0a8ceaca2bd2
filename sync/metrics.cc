#include "sync/metrics.h"

#include <utility>

namespace stockgate::sync {
namespace {

// Lag from the stream to MariaDB: a few ms when sync keeps up, minutes after an outage.
const prometheus::Histogram::BucketBoundaries kLagBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

void Move(prometheus::Family<prometheus::Counter>& family, const char* label, const char* value,
          std::int64_t now, std::int64_t before) {
  family.Add({{label, value}}).Increment(static_cast<double>(now - before));
}

}  // namespace

SyncMetrics::SyncMetrics(prometheus::Registry& registry)
    : ingest_(prometheus::BuildCounter()
                  .Name("stockgate_sync_ingest_total")
                  .Help("What the ingester did, by what: events (inserted into the history), "
                        "duplicates (already there), records, batches, claimed (taken over from "
                        "other consumers), malformed (refused entries)")
                  .Register(registry)),
      failures_(prometheus::BuildCounter()
                    .Name("stockgate_sync_failures_total")
                    .Help("Failed steps, by kind: read (Redis), write (MariaDB), sweep")
                    .Register(registry)),
      expired_(prometheus::BuildCounter()
                   .Name("stockgate_sync_expired_total")
                   .Help("Holds the sweeper expired")
                   .Register(registry)
                   .Add({})),
      lag_(prometheus::BuildHistogram()
               .Name("stockgate_sync_lag_seconds")
               .Help("Per committed batch: commit time in MariaDB minus the stream time of the "
                     "batch's newest entry")
               .Register(registry)
               .Add({}, kLagBuckets)),
      backlog_(prometheus::BuildGauge()
                   .Name("stockgate_sync_backlog")
                   .Help("The outbox stream, by what: length (entries kept), pending (delivered, "
                         "not acknowledged), undelivered; -1 while Redis does not answer")
                   .Register(registry)) {
  Update({}, {}, core::Fail(core::Code::kUnavailable, "not measured yet"));
}

void SyncMetrics::Update(const IngestStats& s, SweepTotals sweep,
                         const core::Result<Outbox::Backlog>& b) {
  using Field = std::int64_t IngestStats::*;
  static constexpr std::pair<const char*, Field> kIngest[] = {
      {"events", &IngestStats::events},   {"duplicates", &IngestStats::duplicates},
      {"records", &IngestStats::records}, {"batches", &IngestStats::batches},
      {"claimed", &IngestStats::claimed}, {"malformed", &IngestStats::malformed}};
  static constexpr std::pair<const char*, Field> kFailures[] = {
      {"read", &IngestStats::read_failures}, {"write", &IngestStats::write_failures}};
  for (const auto& [what, field] : kIngest) Move(ingest_, "what", what, s.*field, reported_.*field);
  for (const auto& [kind, field] : kFailures) {
    Move(failures_, "kind", kind, s.*field, reported_.*field);
  }
  Move(failures_, "kind", "sweep", sweep.failures, reported_sweep_.failures);
  expired_.Increment(static_cast<double>(sweep.expired - reported_sweep_.expired));
  for (const std::int64_t ms : s.lag_ms) lag_.Observe(static_cast<double>(ms) / 1000);
  backlog_.Add({{"what", "length"}}).Set(b.ok() ? static_cast<double>(b->length) : -1);
  backlog_.Add({{"what", "pending"}}).Set(b.ok() ? static_cast<double>(b->pending) : -1);
  backlog_.Add({{"what", "undelivered"}}).Set(b.ok() ? static_cast<double>(b->undelivered) : -1);
  reported_ = s;
  reported_.lag_ms.clear();
  reported_sweep_ = sweep;
}

}  // namespace stockgate::sync
