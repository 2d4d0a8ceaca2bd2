// Metrics: a small thread-safe registry of counters, gauges and histograms, rendered in the
// Prometheus text exposition format 0.0.4 (what `GET /metrics` serves). Families are registered
// once at startup; a series (one set of label values) is created on first use and keeps its
// address, so hot paths look it up once and then only touch atomics. Names, labels and buckets
// are validated at registration, so a registered family always renders as valid exposition.
#ifndef STOCKGATE_ORIGIN_SERVER_METRICS_H_
#define STOCKGATE_ORIGIN_SERVER_METRICS_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stockgate::server {

// Content-Type of Registry::Render's output.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Request latency buckets in seconds: 0.5 ms .. 10 s, dense where a Redis round trip lands.
inline const std::vector<double> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A monotonically increasing count of events.
class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (pool connections in use, open SSE streams).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations (durations in seconds) into fixed buckets. Each observation lands in one
// bucket; the exposition's cumulative `le` counts are summed at render time.
class Histogram {
 public:
  // `upper_bounds` (strictly increasing, finite) must outlive the histogram: its family owns them.
  explicit Histogram(std::span<const double> upper_bounds);

  // NaN is dropped: it would poison _sum for the life of the process.
  void Observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per upper bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot Read() const;

 private:
  std::span<const double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // upper_bounds_.size() + 1, last is +Inf
  std::atomic<double> sum_{0};
};

namespace metrics_internal {

// Orders series by label values without building a key for lookups.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

// The name, help and label names every family has, and the rendering hook of the registry.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends this family's HELP, TYPE and samples; nothing when it has no series yet.
  virtual void RenderTo(std::string& out) const = 0;

 protected:
  // `{a="x",b="y"` without the closing brace (so a histogram can append `le`), "" without labels.
  std::string OpenLabels(const std::vector<std::string>& values) const;
  void RenderHeader(std::string& out, std::string_view type) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

// Series storage shared by the three family kinds. A call with the wrong number of label values
// is a bug at the call site; rather than crash the server or corrupt the exposition it gets a
// detached series that is never rendered.
template <typename Series>
class SeriesTable {
 public:
  template <typename... Args>
  Series& Get(std::size_t label_count, std::span<const std::string_view> values, Args&&... args) {
    if (values.size() != label_count) return detached_;
    {
      std::shared_lock lock(mu_);
      if (const auto it = series_.find(values); it != series_.end()) return *it->second;
    }
    std::unique_lock lock(mu_);
    auto it = series_.find(values);
    if (it == series_.end()) {
      it = series_
               .emplace(std::vector<std::string>(values.begin(), values.end()),
                        std::make_unique<Series>(std::forward<Args>(args)...))
               .first;
    }
    return *it->second;
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::shared_lock lock(mu_);
    for (const auto& [values, series] : series_) fn(values, *series);
  }

  template <typename... Args>
  explicit SeriesTable(Args&&... args) : detached_(std::forward<Args>(args)...) {}

 private:
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>, LabelValuesLess> series_;
  Series detached_;
};

}  // namespace metrics_internal

class CounterFamily final : public metrics_internal::FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  // The series for these label values (one per label name, in registration order).
  Counter& WithLabels(std::span<const std::string_view> values);
  Counter& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  void RenderTo(std::string& out) const override;

 private:
  metrics_internal::SeriesTable<Counter> series_;
};

class GaugeFamily final : public metrics_internal::FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  Gauge& WithLabels(std::span<const std::string_view> values);
  Gauge& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  void RenderTo(std::string& out) const override;

 private:
  metrics_internal::SeriesTable<Gauge> series_;
};

class HistogramFamily final : public metrics_internal::FamilyBase {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> upper_bounds);
  Histogram& WithLabels(std::span<const std::string_view> values);
  Histogram& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  void RenderTo(std::string& out) const override;

 private:
  std::vector<double> upper_bounds_;  // before series_: the histograms point into it
  metrics_internal::SeriesTable<Histogram> series_;
};

// What a Register* call produced: the family (owned by the registry, alive as long as it is) or
// why the name, help, labels or buckets were refused.
template <typename Family>
struct Registration {
  Family* family = nullptr;
  std::string error;
  bool ok() const { return family != nullptr; }
};

class Registry {
 public:
  // Names match [a-zA-Z_:][a-zA-Z0-9_:]* and are unique; counters end in `_total`; gauges and
  // counters do not end in `_bucket`, `_sum` or `_count` (a histogram's series); help is not
  // empty. Label names match [a-zA-Z_][a-zA-Z0-9_]*, are unique, do not start with `__` and are
  // not `le` or `quantile`. A family without labels renders its single series from the start.
  Registration<CounterFamily> RegisterCounter(std::string name, std::string help,
                                              std::vector<std::string> label_names = {});
  Registration<GaugeFamily> RegisterGauge(std::string name, std::string help,
                                          std::vector<std::string> label_names = {});
  // `upper_bounds` in seconds: finite, strictly increasing, at least one; +Inf is implied.
  Registration<HistogramFamily> RegisterHistogram(std::string name, std::string help,
                                                  std::vector<double> upper_bounds,
                                                  std::vector<std::string> label_names = {});

  // The exposition: families in registration order, series sorted by label values.
  std::string Render() const;

 private:
  std::string CheckNew(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<metrics_internal::FamilyBase>> families_;
};

}  // namespace stockgate::server

#endif  // STOCKGATE_ORIGIN_SERVER_METRICS_H_
