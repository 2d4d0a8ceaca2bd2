#include "origin/server/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace stockgate::server {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

// Registers or fails the test; the families live as long as the registry.
template <typename Family>
Family& Must(Registration<Family> r) {
  EXPECT_TRUE(r.ok()) << r.error;
  if (!r.ok()) std::abort();
  return *r.family;
}

// A labelled counter renders HELP, TYPE and one line per series, sorted by label values.
TEST(MetricsTest, CounterRendersExactly) {
  Registry registry;
  CounterFamily& requests = Must(registry.RegisterCounter(
      "stockgate_http_requests_total", "HTTP requests by route and status.", {"route", "status"}));
  requests.WithLabels({"reservations", "201"}).Inc(3);
  requests.WithLabels({"stock", "200"}).Inc();
  requests.WithLabels({"reservations", "409"}).Inc(2);
  EXPECT_EQ(registry.Render(),
            "# HELP stockgate_http_requests_total HTTP requests by route and status.\n"
            "# TYPE stockgate_http_requests_total counter\n"
            "stockgate_http_requests_total{route=\"reservations\",status=\"201\"} 3\n"
            "stockgate_http_requests_total{route=\"reservations\",status=\"409\"} 2\n"
            "stockgate_http_requests_total{route=\"stock\",status=\"200\"} 1\n");
}

// A family without labels shows its 0 from the start; a labelled one with no series shows nothing.
TEST(MetricsTest, UnlabelledFamilyRendersZeroAndEmptyFamilyNothing) {
  Registry registry;
  Must(registry.RegisterCounter("sg_restarts_total", "Restarts."));
  Must(registry.RegisterCounter("sg_errors_total", "Errors by code.", {"code"}));
  EXPECT_EQ(registry.Render(),
            "# HELP sg_restarts_total Restarts.\n"
            "# TYPE sg_restarts_total counter\n"
            "sg_restarts_total 0\n");
}

// Gauges render doubles in shortest form and the special values in Prometheus spelling.
TEST(MetricsTest, GaugeRendersExactly) {
  Registry registry;
  Gauge& in_use =
      Must(registry.RegisterGauge("sg_pool_in_use", "Connections in use.")).WithLabels({});
  GaugeFamily& temps = Must(registry.RegisterGauge("sg_value", "Values.", {"k"}));
  in_use.Set(5);
  in_use.Inc();
  in_use.Dec();
  in_use.Dec();
  in_use.Add(0.5);
  temps.WithLabels({"a"}).Set(-1.25);
  temps.WithLabels({"b"}).Set(std::numeric_limits<double>::infinity());
  temps.WithLabels({"c"}).Set(-std::numeric_limits<double>::infinity());
  temps.WithLabels({"d"}).Set(std::numeric_limits<double>::quiet_NaN());
  temps.WithLabels({"e"}).Set(1e21);
  EXPECT_EQ(registry.Render(),
            "# HELP sg_pool_in_use Connections in use.\n"
            "# TYPE sg_pool_in_use gauge\n"
            "sg_pool_in_use 4.5\n"
            "# HELP sg_value Values.\n"
            "# TYPE sg_value gauge\n"
            "sg_value{k=\"a\"} -1.25\n"
            "sg_value{k=\"b\"} +Inf\n"
            "sg_value{k=\"c\"} -Inf\n"
            "sg_value{k=\"d\"} NaN\n"
            "sg_value{k=\"e\"} 1e+21\n");
}

// Histogram buckets are cumulative, upper bounds inclusive, +Inf equals _count, _sum is exact.
TEST(MetricsTest, HistogramRendersExactly) {
  Registry registry;
  Histogram& h =
      Must(registry.RegisterHistogram("sg_redis_seconds", "Redis call latency.", {0.125, 0.5, 1}))
          .WithLabels({});
  for (const double v : {0.0625, 0.125, 0.25, 2.0}) h.Observe(v);
  h.Observe(std::numeric_limits<double>::quiet_NaN());  // dropped
  EXPECT_EQ(registry.Render(),
            "# HELP sg_redis_seconds Redis call latency.\n"
            "# TYPE sg_redis_seconds histogram\n"
            "sg_redis_seconds_bucket{le=\"0.125\"} 2\n"
            "sg_redis_seconds_bucket{le=\"0.5\"} 3\n"
            "sg_redis_seconds_bucket{le=\"1\"} 3\n"
            "sg_redis_seconds_bucket{le=\"+Inf\"} 4\n"
            "sg_redis_seconds_sum 2.4375\n"
            "sg_redis_seconds_count 4\n");
}

// With labels, `le` comes last inside the braces and _sum/_count carry the same labels.
TEST(MetricsTest, LabelledHistogramRendersExactly) {
  Registry registry;
  HistogramFamily& latency = Must(registry.RegisterHistogram(
      "sg_http_request_duration_seconds", "Request latency.", {0.01, 0.1}, {"route"}));
  latency.WithLabels({"stock"}).Observe(0.05);
  EXPECT_EQ(registry.Render(),
            "# HELP sg_http_request_duration_seconds Request latency.\n"
            "# TYPE sg_http_request_duration_seconds histogram\n"
            "sg_http_request_duration_seconds_bucket{route=\"stock\",le=\"0.01\"} 0\n"
            "sg_http_request_duration_seconds_bucket{route=\"stock\",le=\"0.1\"} 1\n"
            "sg_http_request_duration_seconds_bucket{route=\"stock\",le=\"+Inf\"} 1\n"
            "sg_http_request_duration_seconds_sum{route=\"stock\"} 0.05\n"
            "sg_http_request_duration_seconds_count{route=\"stock\"} 1\n");
}

// Label values escape backslash, double quote and newline; HELP escapes backslash and newline.
TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  CounterFamily& c =
      Must(registry.RegisterCounter("sg_odd_total", "Line one\nback\\slash \"quoted\".", {"v"}));
  c.WithLabels({"a\\b\"c\nd"}).Inc();
  EXPECT_EQ(registry.Render(),
            "# HELP sg_odd_total Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE sg_odd_total counter\n"
            "sg_odd_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

// Families render in registration order, not by name.
TEST(MetricsTest, FamiliesRenderInRegistrationOrder) {
  Registry registry;
  Must(registry.RegisterGauge("zz_gauge", "Z."));
  Must(registry.RegisterCounter("aa_total", "A."));
  const std::string text = registry.Render();
  EXPECT_LT(text.find("zz_gauge"), text.find("aa_total"));
}

// The same label values return the same series; a wrong label count never reaches the output.
TEST(MetricsTest, SeriesAreStableAndArityMismatchIsDetached) {
  Registry registry;
  CounterFamily& c = Must(registry.RegisterCounter("sg_calls_total", "Calls.", {"op"}));
  Counter& first = c.WithLabels({"reserve"});
  for (int i = 0; i < 100; ++i) c.WithLabels({"op" + std::to_string(i)});  // grows the table
  EXPECT_EQ(&first, &c.WithLabels({"reserve"}));
  c.WithLabels({}).Inc();
  c.WithLabels({"a", "b"}).Inc();
  const std::string text = registry.Render();
  EXPECT_EQ(text.find("} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("sg_calls_total 1"), std::string::npos) << text;
}

// Invalid names, labels and buckets are refused with a reason, and nothing is registered.
TEST(MetricsTest, RegistrationValidates) {
  Registry registry;
  EXPECT_FALSE(registry.RegisterCounter("9lives_total", "x").ok());
  EXPECT_FALSE(registry.RegisterCounter("has-dash_total", "x").ok());
  EXPECT_FALSE(registry.RegisterCounter("", "x").ok());
  EXPECT_NE(registry.RegisterCounter("sg_requests", "x").error.find("_total"), std::string::npos);
  EXPECT_FALSE(registry.RegisterCounter("sg_a_total", "").ok());
  EXPECT_FALSE(registry.RegisterCounter("sg_b_total", "x", {"bad-label"}).ok());
  EXPECT_FALSE(registry.RegisterCounter("sg_c_total", "x", {"__reserved"}).ok());
  EXPECT_FALSE(registry.RegisterCounter("sg_d_total", "x", {"le"}).ok());
  EXPECT_FALSE(registry.RegisterCounter("sg_e_total", "x", {"a", "a"}).ok());
  EXPECT_FALSE(registry.RegisterGauge("sg_things_count", "x").ok());
  EXPECT_FALSE(registry.RegisterHistogram("sg_h_bucket", "x", {1}).ok());
  EXPECT_FALSE(registry.RegisterHistogram("sg_h", "x", {}).ok());
  EXPECT_FALSE(registry.RegisterHistogram("sg_h", "x", {1, 1}).ok());
  EXPECT_FALSE(registry.RegisterHistogram("sg_h", "x", {2, 1}).ok());
  EXPECT_FALSE(
      registry.RegisterHistogram("sg_h", "x", {1, std::numeric_limits<double>::infinity()}).ok());
  EXPECT_EQ(registry.Render(), "");
  EXPECT_TRUE(registry.RegisterGauge("sg:ok_gauge", "x").ok());
  const Registration<CounterFamily> duplicate = registry.RegisterCounter("sg:ok_gauge", "x");
  EXPECT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.error.find("already registered"), std::string::npos);
}

// 8 threads x 100k increments lose nothing, also while series are being created concurrently.
TEST(MetricsTest, ConcurrentUpdatesAreExact) {
  Registry registry;
  Counter& total = Must(registry.RegisterCounter("sg_hits_total", "Hits.")).WithLabels({});
  CounterFamily& by_key = Must(registry.RegisterCounter("sg_keyed_total", "Keyed.", {"k"}));
  Histogram& h = Must(registry.RegisterHistogram("sg_obs_seconds", "Obs.", {0.5})).WithLabels({});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        total.Inc();
        if (i % 100 == 0) by_key.WithLabels({std::to_string(i % 7)}).Inc();
        if (i % 10 == 0) h.Observe(t % 2 == 0 ? 0.25 : 1.0);
      }
      (void)registry.Render();  // rendering concurrently with updates is safe
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(total.Value(), std::uint64_t{kThreads} * kPerThread);
  std::uint64_t keyed = 0;
  for (int k = 0; k < 7; ++k) keyed += by_key.WithLabels({std::to_string(k)}).Value();
  EXPECT_EQ(keyed, std::uint64_t{kThreads} * kPerThread / 100);
  const Histogram::Snapshot snap = h.Read();
  EXPECT_EQ(snap.count, std::uint64_t{kThreads} * kPerThread / 10);
  EXPECT_EQ(snap.cumulative[0], snap.count / 2);
  EXPECT_DOUBLE_EQ(snap.sum, 0.25 * 40'000 + 1.0 * 40'000);  // half the threads observe each
}

// The exposition of every metric type passes `promtool check metrics` without a lint warning.
TEST(MetricsTest, PromtoolAcceptsExposition) {
  ASSERT_EQ(access(kPromtool, X_OK), 0)
      << kPromtool << " is missing or not executable: install the Debian `prometheus` package; "
      << "this check must not be skipped";
  Registry registry;
  Must(registry.RegisterCounter("stockgate_http_requests_total", "HTTP requests.",
                                {"route", "status"}))
      .WithLabels({"POST /v1/reservations", "201"})
      .Inc(7);
  Must(registry.RegisterCounter("stockgate_reservations_total", "Reservations."))
      .WithLabels({})
      .Inc();
  Must(registry.RegisterGauge("stockgate_redis_pool_connections", "Connections.", {"state"}))
      .WithLabels({"in_use"})
      .Set(3);
  Must(registry.RegisterCounter("stockgate_odd_total", "Odd \"label\" values.", {"value"}))
      .WithLabels({"quote\" backslash\\ newline\n"})
      .Inc();
  HistogramFamily& latency =
      Must(registry.RegisterHistogram("stockgate_http_request_duration_seconds", "Request latency.",
                                      kLatencyBucketsSeconds, {"route"}));
  latency.WithLabels({"GET /v1/stock/{sku}"}).Observe(0.0031);
  latency.WithLabels({"POST /v1/reservations"}).Observe(0.2);
  Must(registry.RegisterHistogram("stockgate_redis_call_duration_seconds", "Redis latency.",
                                  {0.001, 0.01}))
      .WithLabels({})
      .Observe(0.004);

  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("stockgate_metrics_" + std::to_string(getpid()) + ".prom");
  {
    std::ofstream out(file);
    out << registry.Render();
  }
  const std::string command =
      std::string(kPromtool) + " check metrics < '" + file.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << "cannot run " << command;
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) output += buf;
  const int status = pclose(pipe);
  std::filesystem::remove(file);
  ASSERT_TRUE(WIFEXITED(status)) << command;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_EQ(output, "") << "promtool printed lint warnings";
}

}  // namespace
}  // namespace stockgate::server
