#include "sync/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <string>

#include "tests/support/process.h"

namespace stockgate::sync {
namespace {

std::string Render(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// Counters follow the cumulative totals they are given, lag samples land in the histogram, and
// the backlog is -1 while Redis does not answer.
TEST(SyncMetricsTest, CountersFollowTheTotals) {
  prometheus::Registry registry;
  SyncMetrics metrics(registry);
  std::string text = Render(registry);
  EXPECT_TRUE(Has(text, R"(stockgate_sync_backlog{what="pending"} -1)")) << text;
  EXPECT_TRUE(Has(text, "stockgate_sync_expired_total 0")) << text;

  IngestStats s;
  s.events = 10;
  s.duplicates = 2;
  s.write_failures = 1;
  s.lag_ms = {3, 40};
  metrics.Update(s, {.expired = 4, .failures = 0},
                 Outbox::Backlog{.length = 7, .pending = 1, .undelivered = 0});
  s.events = 25;
  s.lag_ms = {2000};
  metrics.Update(s, {.expired = 5, .failures = 1},
                 Outbox::Backlog{.length = 3, .pending = 0, .undelivered = 0});
  text = Render(registry);
  EXPECT_TRUE(Has(text, R"(stockgate_sync_ingest_total{what="events"} 25)")) << text;
  EXPECT_TRUE(Has(text, R"(stockgate_sync_ingest_total{what="duplicates"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(stockgate_sync_failures_total{kind="write"} 1)")) << text;
  EXPECT_TRUE(Has(text, R"(stockgate_sync_failures_total{kind="sweep"} 1)")) << text;
  EXPECT_TRUE(Has(text, "stockgate_sync_expired_total 5")) << text;
  EXPECT_TRUE(Has(text, "stockgate_sync_lag_seconds_count 3")) << text;
  EXPECT_TRUE(Has(text, R"(stockgate_sync_lag_seconds_bucket{le="0.05"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(stockgate_sync_backlog{what="length"} 3)")) << text;

  // promtool, the Prometheus project's own checker, accepts the exposition.
  EXPECT_EQ(testing::PromtoolProblems(text), "");
}

}  // namespace
}  // namespace stockgate::sync
