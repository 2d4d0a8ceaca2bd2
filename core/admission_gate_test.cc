#include "core/admission_gate.h"

#include <gtest/gtest.h>

#include <string>

namespace stockgate::core {
namespace {

std::string Body(std::int64_t sku, std::int64_t qty, const std::string& order = "o1") {
  return R"({"order_id":")" + order + R"(","items":[{"sku":)" + std::to_string(sku) + R"(,"qty":)" +
         std::to_string(qty) + "}]}";
}

class AdmissionGateTest : public testing::Test {
 protected:
  AdmissionGateTest() {
    config_.client = {0, 1};  // unlimited unless a test says otherwise
    config_.sku = {0, 1};
    config_.admit_multiple = 2;
    config_.window_ms = 250;
    config_.max_hint_age_ms = 1'000;
  }
  AdmissionConfig config_;
  std::int64_t now_ms_ = 5'000'000;
};

// Without any snapshot the gate admits valid requests: the origin decides.
TEST_F(AdmissionGateTest, AdmitsWithoutHints) {
  AdmissionGate gate(config_);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_).verdict, Verdict::kAdmit);
  }
}

// Invalid bodies are answered by the gate with the validator's problem and body.
TEST_F(AdmissionGateTest, InvalidBody) {
  AdmissionGate gate(config_);
  const Decision d = gate.AdmitReservation("c", Body(1, 0), now_ms_);
  EXPECT_EQ(d.verdict, Verdict::kInvalid);
  EXPECT_EQ(d.code, Code::kInvalidRequest);
  EXPECT_EQ(d.problem.field, "/items/0/qty");
  EXPECT_EQ(DecisionBody(d), R"({"error":{"code":"invalid_request","field":"/items/0/qty",)"
                             R"("message":"qty must be between 1 and 1000000"}})");
  const Decision big = gate.AdmitReservation("c", std::string(70'000, ' '), now_ms_);
  EXPECT_EQ(big.code, Code::kPayloadTooLarge);
}

// A fresh snapshot showing too little stock answers sold out locally, listing every short item.
TEST_F(AdmissionGateTest, SoldOutFromFreshSnapshot) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 0, now_ms_);
  gate.SetAvailable(2, 3, now_ms_);
  const Decision d = gate.AdmitReservation(
      "c", R"({"order_id":"o","items":[{"sku":1,"qty":1},{"sku":2,"qty":4},{"sku":3,"qty":9}]})",
      now_ms_);
  EXPECT_EQ(d.verdict, Verdict::kSoldOut);
  EXPECT_EQ(d.code, Code::kInsufficientStock);
  EXPECT_EQ(d.fail_items, (std::vector<FailItem>{{1, 1, 0}, {2, 4, 3}}));
  EXPECT_EQ(DecisionBody(d),
            R"({"error":{"code":"insufficient_stock","fail_items":[{"available":0,"requested":1,)"
            R"("sku":1},{"available":3,"requested":4,"sku":2}],)"
            R"j("message":"not enough stock for 2 item(s)"}})j");
  EXPECT_EQ(gate.AdmitReservation("c", Body(2, 3), now_ms_).verdict, Verdict::kAdmit);
}

// A stale snapshot is ignored: the gate fails open rather than refuse on old data.
TEST_F(AdmissionGateTest, StaleSnapshotFailsOpen) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 0, now_ms_);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 1'000).verdict, Verdict::kSoldOut);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 1'001).verdict, Verdict::kAdmit);
}

// Per window the gate admits at most ceil(available * admit_multiple) per SKU, then asks the
// client to come back when the next snapshot is due; a new snapshot reopens admission.
TEST_F(AdmissionGateTest, WindowBudgetBoundsAdmissions) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 3, now_ms_);
  int admitted = 0;
  Decision last;
  for (int i = 0; i < 50; ++i) {
    last = gate.AdmitReservation("c", Body(1, 1), now_ms_ + 100);
    if (last.verdict == Verdict::kAdmit) ++admitted;
  }
  EXPECT_EQ(admitted, 6);
  EXPECT_EQ(last.verdict, Verdict::kRateLimited);
  EXPECT_EQ(last.limited_by, "sku_window");
  EXPECT_EQ(last.retry_after_ms, 150);
  gate.SetAvailable(1, 1, now_ms_ + 250);  // restock or expiry shows up in the next snapshot
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 250).verdict, Verdict::kAdmit);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 250).verdict, Verdict::kAdmit);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 250).verdict, Verdict::kRateLimited);
}

// Windows go on by themselves, each with the budget of the latest hint: a feed of deltas need
// not hand over a SKU that did not change to give it its next window.
TEST_F(AdmissionGateTest, WindowsOpenByThemselves) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 1, now_ms_);
  gate.ConfirmHints(now_ms_, now_ms_);
  auto admitted_in = [&](std::int64_t at) {
    int n = 0;
    for (int i = 0; i < 10; ++i) {
      if (gate.AdmitReservation("c", Body(1, 1), at).verdict == Verdict::kAdmit) ++n;
    }
    return n;
  };
  EXPECT_EQ(admitted_in(now_ms_ + 10), 2);
  EXPECT_EQ(admitted_in(now_ms_ + 249), 0);
  EXPECT_EQ(admitted_in(now_ms_ + 250), 2) << "the next window";
  EXPECT_EQ(admitted_in(now_ms_ + 400), 0) << "still that window";
  EXPECT_EQ(admitted_in(now_ms_ + 500), 2);
}

// A delta confirms the hints it did not change: they stay fresh past max_hint_age_ms while the
// deltas keep coming, and age again once they stop. Hints from before the run of deltas (the feed
// started over since) are not confirmed.
TEST_F(AdmissionGateTest, ConfirmedHintsStayFresh) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 0, now_ms_);        // an earlier run's hint
  gate.SetAvailable(2, 0, now_ms_ + 100);  // this run's, from its whole snapshot
  for (std::int64_t t = now_ms_ + 100; t <= now_ms_ + 3'000; t += 250) {
    gate.ConfirmHints(t, now_ms_ + 100);  // deltas with no change
    EXPECT_EQ(gate.AdmitReservation("c", Body(2, 1), t).verdict, Verdict::kSoldOut) << t;
  }
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 3'000).verdict, Verdict::kAdmit)
      << "not confirmed: older than max_hint_age_ms";
  // The deltas stop (the origin is down): the confirmed hint ages from the last confirmation.
  EXPECT_EQ(gate.AdmitReservation("c", Body(2, 1), now_ms_ + 2'850 + 1'000).verdict,
            Verdict::kSoldOut);
  EXPECT_EQ(gate.AdmitReservation("c", Body(2, 1), now_ms_ + 2'850 + 1'001).verdict,
            Verdict::kAdmit);
}

// A restock seen in a snapshot reopens a sold-out SKU at once.
TEST_F(AdmissionGateTest, RestockReopens) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 0, now_ms_);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_).verdict, Verdict::kSoldOut);
  gate.SetAvailable(1, 10, now_ms_ + 10);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 10).verdict, Verdict::kAdmit);
}

// One client's burst is limited without touching another client's allowance.
TEST_F(AdmissionGateTest, ClientsAreIsolated) {
  config_.client = {10, 3};
  AdmissionGate gate(config_);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gate.AdmitClient("greedy", now_ms_).verdict, Verdict::kAdmit);
  const Decision d = gate.AdmitReservation("greedy", Body(1, 1), now_ms_);
  EXPECT_EQ(d.verdict, Verdict::kRateLimited);
  EXPECT_EQ(d.limited_by, "client");
  EXPECT_EQ(d.retry_after_ms, 100);
  EXPECT_EQ(DecisionBody(d),
            R"({"error":{"code":"rate_limited","message":"too many requests from this client; )"
            R"(retry after 100 ms","retry_after_ms":100}})");
  EXPECT_EQ(gate.AdmitReservation("polite", Body(1, 1), now_ms_).verdict, Verdict::kAdmit);
  EXPECT_EQ(gate.AdmitReservation("greedy", Body(1, 1), now_ms_ + 100).verdict, Verdict::kAdmit);
}

// Invalid requests still cost the client a token, so garbage floods are throttled too.
TEST_F(AdmissionGateTest, InvalidRequestsCostTokens) {
  config_.client = {1, 2};
  AdmissionGate gate(config_);
  EXPECT_EQ(gate.AdmitReservation("bot", "{", now_ms_).verdict, Verdict::kInvalid);
  EXPECT_EQ(gate.AdmitReservation("bot", "{", now_ms_).verdict, Verdict::kInvalid);
  EXPECT_EQ(gate.AdmitReservation("bot", "{", now_ms_).verdict, Verdict::kRateLimited);
}

// The per-SKU bucket is all-or-nothing across items: a refusal takes no token from any SKU.
TEST_F(AdmissionGateTest, SkuBucketAllOrNothing) {
  config_.sku = {1, 1};
  AdmissionGate gate(config_);
  ASSERT_EQ(gate.AdmitReservation("c", Body(2, 1), now_ms_).verdict, Verdict::kAdmit);
  const Decision d = gate.AdmitReservation(
      "c", R"({"order_id":"o","items":[{"sku":1,"qty":1},{"sku":2,"qty":1}]})", now_ms_);
  EXPECT_EQ(d.verdict, Verdict::kRateLimited);
  EXPECT_EQ(d.limited_by, "sku");
  EXPECT_EQ(d.retry_after_ms, 1'000);
  // SKU 1 kept its token.
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_).verdict, Verdict::kAdmit);
}

// admit_multiple <= 0 turns the window budget off; sold-out detection still works.
TEST_F(AdmissionGateTest, BudgetOff) {
  config_.admit_multiple = 0;
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 1, now_ms_);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_).verdict, Verdict::kAdmit);
  }
  gate.SetAvailable(1, 0, now_ms_);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_).verdict, Verdict::kSoldOut);
}

// The SKU table stays bounded too, whatever SKUs clients name.
TEST_F(AdmissionGateTest, SkuTableBounded) {
  config_.sku_capacity = 500;
  AdmissionGate gate(config_);
  for (int i = 1; i <= 50'000; ++i) gate.SetAvailable(i, 1, now_ms_);
  EXPECT_EQ(gate.sku_entries(), 500u);
  EXPECT_EQ(gate.sku_evictions(), 49'500u);
  config_.sku = {100, 10};  // with a SKU limit, every SKU asked for has its bucket
  AdmissionGate limited(config_);
  for (int i = 1; i <= 50'000; ++i) limited.AdmitReservation("c", Body(i, 1), now_ms_);
  EXPECT_EQ(limited.sku_entries(), 500u);
}

// Without a SKU limit, requests for SKUs the feed never named make no entries, so a flood of
// made-up SKUs cannot push a sold-out SKU's value out of the table.
TEST_F(AdmissionGateTest, MadeUpSkusDoNotEvictValues) {
  config_.sku_capacity = 500;
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 0, now_ms_);
  for (int i = 2; i <= 50'000; ++i) {
    ASSERT_EQ(gate.AdmitReservation("c", Body(i, 1), now_ms_).verdict, Verdict::kAdmit);
  }
  EXPECT_EQ(gate.sku_entries(), 1u);
  EXPECT_EQ(gate.sku_evictions(), 0u);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_).verdict, Verdict::kSoldOut);
}

// A value older than the one held is ignored (an origin answer that was on its way while a later
// snapshot arrived); within a window a new value moves the budget by the change, so handing the
// same value over again does not renew it.
TEST_F(AdmissionGateTest, OlderValuesAndRepeatsChangeNothing) {
  AdmissionGate gate(config_);
  gate.SetAvailable(1, 5, now_ms_ + 100);
  gate.SetAvailable(1, 0, now_ms_ + 50);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 100).verdict, Verdict::kAdmit);
  for (int i = 0; i < 9; ++i) gate.AdmitReservation("c", Body(1, 1), now_ms_ + 110);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 120).limited_by, "sku_window");
  gate.SetAvailable(1, 5, now_ms_ + 200);  // the same value again, in the same window
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 200).limited_by, "sku_window");
  gate.SetAvailable(1, 6, now_ms_ + 210);  // one more unit: two more admissions this window
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 210).verdict, Verdict::kAdmit);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 210).verdict, Verdict::kAdmit);
  EXPECT_EQ(gate.AdmitReservation("c", Body(1, 1), now_ms_ + 210).verdict, Verdict::kRateLimited);
}

}  // namespace
}  // namespace stockgate::core
