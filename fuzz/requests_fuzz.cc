// Fuzz target: the core's request parsers and validators, and the edge's admission decision on a
// reservation body, i.e. everything that reads untrusted bytes in core/. The first byte picks the
// request kind; the rest is the input. Beyond "no crash, no sanitizer report" it checks that
// Validate and the Parse function of the kind agree, that a refusal carries a 4xx code and a
// message, that what parses lies within the documented bounds, and that the gate calls a body
// invalid exactly when validation refuses it, with an error body that is JSON; and that the
// reservation parser's fast path for plain bodies never accepts what its full parser would not.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/admission_gate.h"
#include "core/requests.h"
#include "core/status.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"

namespace core = stockgate::core;

namespace {

void CheckRefusal(const core::Problem& p) {
  if (p.ok()) return;
  const int status = core::HttpStatus(p.code);
  FUZZ_CHECK(status >= 400 && status < 500);
  FUZZ_CHECK(!p.message.empty());
}

void CheckReservation(const core::ReservationRequest& r) {
  FUZZ_CHECK(core::IsValidId(r.order_id));
  FUZZ_CHECK(!r.items.empty() && r.items.size() <= core::kMaxItems);
  std::set<std::int64_t> skus;
  for (const core::Item& item : r.items) {
    FUZZ_CHECK(item.sku >= 1 && item.sku <= core::kMaxSku);
    FUZZ_CHECK(item.qty >= 1 && item.qty <= core::kMaxQty);
    FUZZ_CHECK(skus.insert(item.sku).second);
  }
  FUZZ_CHECK(r.ttl_seconds >= 1 && r.ttl_seconds <= core::kMaxTtlSeconds);
  FUZZ_CHECK(r.customer_id.empty() || core::IsValidId(r.customer_id));
}

// Parses `input` as `kind` with the kind's own parser; checks the value when it parses.
core::Problem ParseAndCheck(core::RequestKind kind, std::string_view input) {
  switch (kind) {
    case core::RequestKind::kReservation: {
      core::ReservationRequest r;
      core::Problem p = core::ParseReservation(input, &r);
      if (p.ok()) CheckReservation(r);
      // The plain-shape fast path judges a body only as the full parser does: the same problem
      // word for word, or the same value.
      core::ReservationRequest plain;
      core::Problem plain_problem;
      if (core::ParsePlainReservation(input, &plain, &plain_problem)) {
        core::ReservationRequest full;
        FUZZ_CHECK(core::ParseFullReservation(input, &full) == plain_problem);
        if (plain_problem.ok()) FUZZ_CHECK(plain == full);
      }
      return p;
    }
    case core::RequestKind::kExtend: {
      core::ExtendRequest r;
      core::Problem p = core::ParseExtend(input, &r);
      if (p.ok()) FUZZ_CHECK(r.ttl_seconds >= 1 && r.ttl_seconds <= core::kMaxTtlSeconds);
      return p;
    }
    case core::RequestKind::kTransition: {
      core::TransitionRequest r;
      core::Problem p = core::ParseTransition(input, &r);
      if (p.ok()) FUZZ_CHECK(r.reason.size() <= core::kMaxReasonBytes);
      return p;
    }
    case core::RequestKind::kSetStock: {
      core::SetStockRequest r;
      core::Problem p = core::ParseSetStock(input, &r);
      if (p.ok()) {
        FUZZ_CHECK(r.on_hand >= 0 && r.on_hand <= core::kMaxOnHand);
        FUZZ_CHECK(!r.per_customer_limit || (*r.per_customer_limit >= 0 &&
                                             *r.per_customer_limit <= core::kMaxPerCustomerLimit));
        FUZZ_CHECK(r.reason.size() <= core::kMaxReasonBytes);
      }
      return p;
    }
    case core::RequestKind::kAdjustment: {
      core::AdjustmentRequest r;
      core::Problem p = core::ParseAdjustment(input, core::kDefaultMaxAdjustment, &r);
      if (p.ok()) {
        FUZZ_CHECK(r.delta >= -core::kDefaultMaxAdjustment &&
                   r.delta <= core::kDefaultMaxAdjustment);
        FUZZ_CHECK(core::IsValidId(r.request_id));
      }
      return p;
    }
    case core::RequestKind::kSku: {
      std::int64_t sku = 0;
      core::Problem p = core::ParseSku(input, &sku);
      if (p.ok()) FUZZ_CHECK(sku >= 1 && sku <= core::kMaxSku);
      return p;
    }
    case core::RequestKind::kOrderId: {
      std::string id;
      core::Problem p = core::ParseOrderId(input, &id);
      if (p.ok()) FUZZ_CHECK(core::IsValidId(id));
      return p;
    }
    case core::RequestKind::kSkuList: {
      std::vector<std::int64_t> skus;
      core::Problem p = core::ParseSkuList(input, &skus);
      if (p.ok()) {
        FUZZ_CHECK(!skus.empty() && skus.size() <= core::kMaxSkusPerRead);
        for (std::int64_t s : skus) FUZZ_CHECK(s >= 1 && s <= core::kMaxSku);
      }
      return p;
    }
  }
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto kind = static_cast<core::RequestKind>(1 + data[0] % 8);
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  const core::Problem validated = core::Validate(kind, input);
  CheckRefusal(validated);
  const core::Problem parsed = ParseAndCheck(kind, input);
  FUZZ_CHECK(parsed.code == validated.code);
  FUZZ_CHECK(parsed.field == validated.field);
  FUZZ_CHECK(parsed.message == validated.message);

  if (kind == core::RequestKind::kReservation) {
    // A gate with no limits and no snapshot admits every valid body and refuses every other.
    static core::AdmissionGate gate([] {
      core::AdmissionConfig c;
      c.client = {0, 1};
      return c;
    }());
    const core::Decision d = gate.AdmitReservation("fuzz", input, 0);
    FUZZ_CHECK((d.verdict == core::Verdict::kInvalid) == !validated.ok());
    if (d.verdict == core::Verdict::kInvalid) {
      FUZZ_CHECK(d.code == validated.code);
      const nlohmann::json body = nlohmann::json::parse(core::DecisionBody(d), nullptr, false);
      FUZZ_CHECK(!body.is_discarded());
      FUZZ_CHECK(body["error"]["code"] == core::CodeName(d.code));
    }
  }
  return 0;
}
