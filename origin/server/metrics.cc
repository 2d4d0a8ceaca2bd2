#include "origin/server/metrics.h"

#include <charconv>
#include <cmath>
#include <unordered_set>
#include <utility>

namespace stockgate::server {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = IsAlpha(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Prometheus spells the special floats its own way; everything else is the shortest text that
// reads back to the same double.
void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

// HELP text escapes only backslash and newline (a double quote is literal there).
void AppendEscapedHelp(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

Histogram::Histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds.size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // Bucket i counts value <= upper_bounds_[i]; past the last bound it is the +Inf bucket.
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  const auto index = static_cast<std::size_t>(it - upper_bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.reserve(upper_bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // Count derives from the buckets so `_count` always equals the +Inf bucket, even mid-update.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

std::string FamilyBase::OpenLabels(const std::vector<std::string>& values) const {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += i == 0 ? '{' : ',';
    out += label_names_[i];
    out += "=\"";
    AppendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  return out;
}

void FamilyBase::RenderHeader(std::string& out, std::string_view type) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  AppendEscapedHelp(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace metrics_internal

Counter& CounterFamily::WithLabels(std::span<const std::string_view> values) {
  return series_.Get(label_names().size(), values);
}

void CounterFamily::RenderTo(std::string& out) const {
  bool header = false;
  series_.ForEach([&](const std::vector<std::string>& values, const Counter& counter) {
    if (!header) RenderHeader(out, "counter");
    header = true;
    out += name();
    out += OpenLabels(values);
    if (!values.empty()) out += '}';
    out += ' ';
    out += std::to_string(counter.Value());
    out += '\n';
  });
}

Gauge& GaugeFamily::WithLabels(std::span<const std::string_view> values) {
  return series_.Get(label_names().size(), values);
}

void GaugeFamily::RenderTo(std::string& out) const {
  bool header = false;
  series_.ForEach([&](const std::vector<std::string>& values, const Gauge& gauge) {
    if (!header) RenderHeader(out, "gauge");
    header = true;
    out += name();
    out += OpenLabels(values);
    if (!values.empty()) out += '}';
    out += ' ';
    AppendDouble(out, gauge.Value());
    out += '\n';
  });
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> upper_bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)),
      series_(std::span<const double>(upper_bounds_)) {}

Histogram& HistogramFamily::WithLabels(std::span<const std::string_view> values) {
  return series_.Get(label_names().size(), values, std::span<const double>(upper_bounds_));
}

void HistogramFamily::RenderTo(std::string& out) const {
  bool header = false;
  series_.ForEach([&](const std::vector<std::string>& values, const Histogram& histogram) {
    if (!header) RenderHeader(out, "histogram");
    header = true;
    const Histogram::Snapshot snap = histogram.Read();
    const std::string labels = OpenLabels(values);
    const std::string_view le_open = values.empty() ? "{le=\"" : ",le=\"";
    for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
      out += name();
      out += "_bucket";
      out += labels;
      out += le_open;
      if (i < upper_bounds_.size()) {
        AppendDouble(out, upper_bounds_[i]);
      } else {
        out += "+Inf";
      }
      out += "\"} ";
      out += std::to_string(snap.cumulative[i]);
      out += '\n';
    }
    const std::string closed = values.empty() ? "" : labels + "}";
    out += name();
    out += "_sum";
    out += closed;
    out += ' ';
    AppendDouble(out, snap.sum);
    out += '\n';
    out += name();
    out += "_count";
    out += closed;
    out += ' ';
    out += std::to_string(snap.count);
    out += '\n';
  });
}

std::string Registry::CheckNew(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names) const {
  if (!ValidMetricName(name)) {
    return "invalid metric name \"" + name + "\": must match [a-zA-Z_:][a-zA-Z0-9_:]*";
  }
  if (help.empty()) return "metric " + name + " needs a help text";
  std::unordered_set<std::string_view> seen;
  for (const std::string& label : label_names) {
    if (!ValidLabelName(label)) {
      return "metric " + name + ": invalid label name \"" + label +
             "\": must match [a-zA-Z_][a-zA-Z0-9_]*";
    }
    if (label.starts_with("__")) {
      return "metric " + name + ": label name \"" + label + "\" is reserved (starts with __)";
    }
    if (label == "le" || label == "quantile") {
      return "metric " + name + ": label name \"" + label + "\" is reserved for buckets/quantiles";
    }
    if (!seen.insert(label).second) return "metric " + name + ": duplicate label " + label;
  }
  for (const auto& family : families_) {
    if (family->name() == name) return "metric " + name + " is already registered";
  }
  return {};
}

Registration<CounterFamily> Registry::RegisterCounter(std::string name, std::string help,
                                                      std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Registration<CounterFamily> r;
  r.error = CheckNew(name, help, label_names);
  if (r.error.empty() && !EndsWith(name, "_total")) {
    r.error = "counter " + name + " must end in _total";
  }
  if (!r.error.empty()) return r;
  auto family =
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names));
  if (family->label_names().empty()) family->WithLabels({});
  r.family = family.get();
  families_.push_back(std::move(family));
  return r;
}

Registration<GaugeFamily> Registry::RegisterGauge(std::string name, std::string help,
                                                  std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Registration<GaugeFamily> r;
  r.error = CheckNew(name, help, label_names);
  if (r.error.empty()) {
    for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (EndsWith(name, suffix)) {
        r.error = "gauge " + name + " must not end in " + std::string(suffix);
      }
    }
  }
  if (!r.error.empty()) return r;
  auto family =
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names));
  if (family->label_names().empty()) family->WithLabels({});
  r.family = family.get();
  families_.push_back(std::move(family));
  return r;
}

Registration<HistogramFamily> Registry::RegisterHistogram(std::string name, std::string help,
                                                          std::vector<double> upper_bounds,
                                                          std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Registration<HistogramFamily> r;
  r.error = CheckNew(name, help, label_names);
  if (r.error.empty()) {
    for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (EndsWith(name, suffix)) {
        r.error = "histogram " + name + " must not end in " + std::string(suffix);
      }
    }
  }
  if (r.error.empty()) {
    if (upper_bounds.empty()) r.error = "histogram " + name + " needs at least one bucket";
    for (std::size_t i = 0; i < upper_bounds.size() && r.error.empty(); ++i) {
      if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
        r.error = "histogram " + name + ": bucket bounds must be finite and strictly increasing";
      }
    }
  }
  if (!r.error.empty()) return r;
  auto family = std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                                  std::move(label_names), std::move(upper_bounds));
  if (family->label_names().empty()) family->WithLabels({});
  r.family = family.get();
  families_.push_back(std::move(family));
  return r;
}

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& family : families_) family->RenderTo(out);
  return out;
}

}  // namespace stockgate::server
