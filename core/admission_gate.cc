#include "core/admission_gate.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

namespace stockgate::core {
namespace {

using nlohmann::json;

std::string Dump(const json& body) {
  // Messages may quote client-supplied keys; replace rather than abort on anything unencodable.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAdmit:
      return "admitted";
    case Verdict::kInvalid:
      return "invalid";
    case Verdict::kRateLimited:
      return "rate_limited";
    case Verdict::kSoldOut:
      return "sold_out";
  }
  return "unknown";
}

std::string ProblemBody(const Problem& problem) {
  json error = {{"code", CodeName(problem.code)}, {"message", problem.message}};
  if (!problem.field.empty()) error["field"] = problem.field;
  return Dump(json{{"error", std::move(error)}});
}

std::string DecisionBody(const Decision& decision) {
  switch (decision.verdict) {
    case Verdict::kAdmit:
      return {};
    case Verdict::kInvalid:
      return ProblemBody(decision.problem);
    case Verdict::kRateLimited: {
      // The two rejections a flood meets are written out directly: their fields are numbers and
      // fixed ASCII text, and building a JSON value first costs as much as parsing the request.
      // Keys in sorted order, as Dump writes every other body.
      const std::string_view message =
          decision.limited_by == "client" ? "too many requests from this client"
          : decision.limited_by == "sku"  ? "too many requests for this SKU"
                                          : "this SKU is at its admission limit";
      const std::string retry = std::to_string(decision.retry_after_ms);
      std::string out = R"({"error":{"code":")";
      out.append(CodeName(Code::kRateLimited)).append(R"(","message":")").append(message);
      out.append("; retry after ").append(retry).append(R"( ms","retry_after_ms":)");
      out.append(retry).append("}}");
      return out;
    }
    case Verdict::kSoldOut: {
      std::string out = R"({"error":{"code":")";
      out.append(CodeName(Code::kInsufficientStock)).append(R"(","fail_items":[)");
      for (std::size_t i = 0; i < decision.fail_items.size(); ++i) {
        const FailItem& f = decision.fail_items[i];
        out.append(i == 0 ? R"({"available":)" : R"(,{"available":)")
            .append(std::to_string(f.available))
            .append(R"(,"requested":)")
            .append(std::to_string(f.requested))
            .append(R"(,"sku":)")
            .append(std::to_string(f.sku))
            .append("}");
      }
      out.append(R"(],"message":"not enough stock for )")
          .append(std::to_string(decision.fail_items.size()))
          .append(R"j( item(s)"}})j");
      return out;
    }
  }
  return {};
}

AdmissionGate::AdmissionGate(const AdmissionConfig& config)
    : config_(config),
      clients_(config.client_capacity),
      // One reservation touches up to kMaxItems SKUs; with at least that many entries, looking up
      // its items never evicts another item of the same reservation.
      skus_(std::max<std::uint32_t>(config.sku_capacity, static_cast<std::uint32_t>(kMaxItems))) {}

AdmissionGate::SkuState* AdmissionGate::Sku(std::int64_t sku, std::int64_t now_ms) {
  SkuState initial;
  initial.bucket = TokenBucket(config_.sku, now_ms);
  return skus_.FindOrInsert(static_cast<std::uint64_t>(sku), initial).value;
}

bool AdmissionGate::Fresh(const SkuState& s, std::int64_t now_ms) const {
  if (s.hint_ms < 0) return false;
  // As fresh as the hint itself, or as the last confirmation of its run of deltas.
  const std::int64_t seen =
      s.hint_ms >= confirmed_since_ms_ ? std::max(s.hint_ms, confirmed_ms_) : s.hint_ms;
  return now_ms - seen <= config_.max_hint_age_ms;
}

bool AdmissionGate::NextWindow(SkuState* s, std::int64_t now_ms) const {
  if (s->hint_ms >= 0 && now_ms - s->window_start_ms < config_.window_ms) return false;
  s->window_start_ms = now_ms;
  s->budget = Budget(s->available);
  return true;
}

double AdmissionGate::Budget(std::int64_t available) const {
  return config_.admit_multiple > 0
             ? std::ceil(static_cast<double>(available) * config_.admit_multiple)
             : 0;
}

Decision AdmissionGate::Limited(std::string limited_by, std::int64_t retry_after_ms) const {
  Decision d;
  d.verdict = Verdict::kRateLimited;
  d.code = Code::kRateLimited;
  d.retry_after_ms = std::max<std::int64_t>(1, retry_after_ms);
  d.limited_by = std::move(limited_by);
  return d;
}

Decision AdmissionGate::AdmitClient(std::string_view client_key, std::int64_t now_ms) {
  const std::uint64_t key = KeyHash(client_key, config_.seed);
  TokenBucket* bucket = clients_.FindOrInsert(key, TokenBucket(config_.client, now_ms)).value;
  const TakeResult taken = bucket->Take(now_ms);
  if (!taken.allowed) return Limited("client", taken.retry_after_ms);
  return {};
}

Decision AdmissionGate::AdmitReservation(std::string_view client_key, std::string_view body,
                                         std::int64_t now_ms) {
  // Every request costs its client a token, valid or not: a flood of garbage is throttled too,
  // and the cheapest check runs first.
  if (Decision d = AdmitClient(client_key, now_ms); d.verdict != Verdict::kAdmit) return d;
  ReservationRequest request;
  if (Problem p = ParseReservation(body, &request); !p.ok()) {
    Decision d;
    d.verdict = Verdict::kInvalid;
    d.code = p.code;
    d.problem = std::move(p);
    return d;
  }
  return AdmitParsed(request, now_ms);
}

Decision AdmissionGate::AdmitReservation(std::string_view client_key,
                                         const ReservationRequest& request, std::int64_t now_ms) {
  if (Decision d = AdmitClient(client_key, now_ms); d.verdict != Verdict::kAdmit) return d;
  return AdmitParsed(request, now_ms);
}

Decision AdmissionGate::AdmitParsed(const ReservationRequest& request, std::int64_t now_ms) {
  std::vector<SkuState*> states;
  states.reserve(request.items.size());
  Decision sold_out;
  for (const Item& item : request.items) {
    // Without a SKU limit only a snapshot value makes an entry (SetAvailable): requests for SKUs
    // the feed never named (made-up ones above all) must not push out the values it did.
    SkuState* s = config_.sku.unlimited() ? skus_.Find(static_cast<std::uint64_t>(item.sku))
                                          : Sku(item.sku, now_ms);
    if (s == nullptr) continue;  // no value and no limit: the origin decides
    NextWindow(s, now_ms);
    states.push_back(s);
    if (Fresh(*s, now_ms) && item.qty > s->available) {
      sold_out.fail_items.push_back({item.sku, item.qty, s->available});
    }
  }
  if (!sold_out.fail_items.empty()) {
    sold_out.verdict = Verdict::kSoldOut;
    sold_out.code = Code::kInsufficientStock;
    return sold_out;
  }
  // All-or-nothing: check every SKU before taking anything from any of them.
  std::int64_t bucket_wait = 0;
  std::int64_t window_wait = 0;
  for (const SkuState* s : states) {
    const TakeResult peek = s->bucket.Peek(now_ms);
    if (!peek.allowed) bucket_wait = std::max(bucket_wait, peek.retry_after_ms);
    if (config_.admit_multiple > 0 && Fresh(*s, now_ms) && s->budget < 1) {
      const std::int64_t window_end = s->window_start_ms + config_.window_ms;
      window_wait =
          std::max(window_wait, window_end > now_ms ? window_end - now_ms : config_.window_ms);
    }
  }
  if (bucket_wait > 0) return Limited("sku", bucket_wait);
  if (window_wait > 0) return Limited("sku_window", window_wait);
  for (SkuState* s : states) {
    s->bucket.Take(now_ms);
    if (Fresh(*s, now_ms)) s->budget -= 1;
  }
  return {};
}

void AdmissionGate::SetAvailable(std::int64_t sku, std::int64_t available, std::int64_t now_ms) {
  SkuState* s = Sku(sku, now_ms);
  // A value older than the one held (an answer that was on its way while a later snapshot
  // arrived) changes nothing.
  if (s->hint_ms > now_ms) return;
  const double before = Budget(s->available);
  s->available = std::max<std::int64_t>(0, available);
  if (!NextWindow(s, now_ms)) {
    // Within the current window its budget moves by the change: a restock reopens admission at
    // once, and a value handed over again does not renew the window's budget.
    s->budget = std::max(0.0, s->budget + Budget(s->available) - before);
  }
  s->hint_ms = now_ms;
}

void AdmissionGate::ConfirmHints(std::int64_t now_ms, std::int64_t since_ms) {
  confirmed_ms_ = now_ms;
  confirmed_since_ms_ = since_ms;
}

}  // namespace stockgate::core
