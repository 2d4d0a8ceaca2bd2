#include "core/requests.h"

#include <gtest/gtest.h>

#include <string>

namespace stockgate::core {
namespace {

// A full reservation body yields exactly the values it holds, in request order.
TEST(RequestsTest, ReservationValues) {
  ReservationRequest r;
  const Problem p =
      ParseReservation(R"({"order_id":"ord-1","items":[{"sku":9,"qty":2},{"qty":1,"sku":3}],)"
                       R"("ttl_seconds":60,"customer_id":"c:7","confirm":true})",
                       &r);
  ASSERT_TRUE(p.ok()) << p.message;
  EXPECT_EQ(r.order_id, "ord-1");
  EXPECT_EQ(r.items, (std::vector<Item>{{9, 2}, {3, 1}}));
  EXPECT_EQ(r.ttl_seconds, 60);
  EXPECT_EQ(r.customer_id, "c:7");
  EXPECT_TRUE(r.confirm);
}

// Optional reservation fields take their documented defaults.
TEST(RequestsTest, ReservationDefaults) {
  ReservationRequest r;
  ASSERT_TRUE(ParseReservation(R"({"order_id":"o","items":[{"sku":1,"qty":1}]})", &r).ok());
  EXPECT_EQ(r.ttl_seconds, kDefaultTtlSeconds);
  EXPECT_EQ(r.customer_id, "");
  EXPECT_FALSE(r.confirm);
}

// The fast path reads the plain bodies clients send, with the values the full parser finds or
// the problem it reports, word for word, and leaves everything else to the full parser (which
// words the problem, or accepts what is valid JSON in a less plain spelling).
TEST(RequestsTest, PlainReservationsMatchTheFullParser) {
  for (const char* body : {
           R"({"order_id":"o","items":[{"sku":1,"qty":1}]})",
           R"( { "items" : [ {"qty":2, "sku":9007199254740991} ,{"sku":3,"qty":1000000}],)"
           "\n\t\r"
           R"("order_id":"ord-1.x_y:z","ttl_seconds":86400,"customer_id":"c","confirm":false} )",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"confirm":true})",
       }) {
    ReservationRequest plain;
    ReservationRequest full;
    Problem problem;
    ASSERT_TRUE(ParsePlainReservation(body, &plain, &problem)) << body;
    ASSERT_TRUE(problem.ok()) << body;
    ASSERT_TRUE(ParseFullReservation(body, &full).ok()) << body;
    EXPECT_EQ(plain, full) << body;
  }
  // Plain, but invalid: the same problem as the full parser's, whatever order the fields come in.
  for (const char* body : {
           R"({"order_id":"o","items":[{"sku":1,"qty":1},{"sku":1,"qty":2}]})",
           R"({"order_id":"o","items":[{"sku":0,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":0}]})",
           R"({"order_id":"o","items":[{"qty":0,"sku":0}]})",
           R"({"order_id":"o","items":[{"sku":-1,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":-5}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1000001}]})",
           R"({"order_id":"o","items":[{"sku":9007199254740992,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":999999999999999999}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"ttl_seconds":86401})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"ttl_seconds":0})",
           R"({"order_id":"","items":[{"sku":1,"qty":1}]})",
           R"({"order_id":"o p","items":[{"sku":1,"qty":1}]})",
           R"({"ttl_seconds":0,"items":[{"sku":1,"qty":0}],"order_id":"o p"})",
           R"({"customer_id":"c d","ttl_seconds":0,"order_id":"o","items":[{"sku":1,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":2,"qty":1},{"sku":3,"qty":1},{"sku":2,"qty":0}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"customer_id":""})",
       }) {
    ReservationRequest plain;
    plain.order_id = "keep";
    ReservationRequest full;
    Problem problem;
    ASSERT_TRUE(ParsePlainReservation(body, &plain, &problem)) << body;
    EXPECT_FALSE(problem.ok()) << body;
    EXPECT_EQ(problem, ParseFullReservation(body, &full)) << body;
    EXPECT_EQ(plain.order_id, "keep") << body;
  }
  for (const char* body : {
           // valid, but not plain: an escape, a float-looking integer, an exponent
           R"({"order_id":"\u006f","items":[{"sku":1,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1.0}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1e0}]})",
           // invalid, and not plain: the full parser must word these
           R"({"order_id":"o","items":[]})",
           R"({"order_id":"o","order_id":"p","items":[{"sku":1,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1,"qty":1}]})",
           R"({"order_id":"o","items":[{"sku":1}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"extra":1})",
           R"({"order_id":"o","items":[{"sku":1,"qty":01}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":00}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":-0}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":-01}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1234567890123456789}]})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"customer_id":null})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],"confirm":"true"})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}],})",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}]} x)",
           R"({"order_id":"o","items":[{"sku":1,"qty":1}])",
           R"([])",
           R"({})",
           "",
       }) {
    ReservationRequest plain;
    Problem problem;
    EXPECT_FALSE(ParsePlainReservation(body, &plain, &problem)) << body;
  }
  // Not plain, yet valid: the full parser still accepts it through ParseReservation.
  ReservationRequest r;
  ASSERT_TRUE(ParseReservation(R"({"order_id":"\u006f","items":[{"sku":1,"qty":1}]})", &r).ok());
  EXPECT_EQ(r.order_id, "o");
}

// A failed parse leaves the output untouched.
TEST(RequestsTest, FailureLeavesOutputAlone) {
  ReservationRequest r;
  r.order_id = "keep";
  const Problem p = ParseReservation(R"({"order_id":"x","items":[{"sku":1,"qty":0}]})", &r);
  EXPECT_EQ(p.code, Code::kInvalidRequest);
  EXPECT_EQ(p.field, "/items/0/qty");
  EXPECT_EQ(r.order_id, "keep");
}

// per_customer_limit distinguishes absent (keep) from 0 (clear).
TEST(RequestsTest, SetStockLimitPresence) {
  SetStockRequest s;
  ASSERT_TRUE(ParseSetStock(R"({"on_hand":5})", &s).ok());
  EXPECT_FALSE(s.per_customer_limit.has_value());
  ASSERT_TRUE(ParseSetStock(R"({"on_hand":5,"per_customer_limit":0,"reason":"x"})", &s).ok());
  ASSERT_TRUE(s.per_customer_limit.has_value());
  EXPECT_EQ(*s.per_customer_limit, 0);
  EXPECT_EQ(s.reason, "x");
}

// low_stock_threshold: absent keeps, 0..2^31-1 sets, anything else is refused and named.
TEST(RequestsTest, SetStockLowStockThreshold) {
  SetStockRequest s;
  ASSERT_TRUE(ParseSetStock(R"({"on_hand":5})", &s).ok());
  EXPECT_FALSE(s.low_stock_threshold.has_value());
  ASSERT_TRUE(ParseSetStock(R"({"on_hand":5,"low_stock_threshold":3})", &s).ok());
  EXPECT_EQ(s.low_stock_threshold, 3);
  for (const char* bad : {R"({"on_hand":5,"low_stock_threshold":-1})",
                          R"({"on_hand":5,"low_stock_threshold":2147483648})",
                          R"({"on_hand":5,"low_stock_threshold":"3"})"}) {
    const Problem p = ParseSetStock(bad, &s);
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.field, "/low_stock_threshold") << bad;
  }
}

// The adjustment bound follows the configured max_adjustment, and its message says so.
TEST(RequestsTest, AdjustmentBoundIsConfigurable) {
  AdjustmentRequest a;
  EXPECT_TRUE(ParseAdjustment(R"({"delta":-50,"request_id":"r1"})", 50, &a).ok());
  EXPECT_EQ(a.delta, -50);
  const Problem p = ParseAdjustment(R"({"delta":51,"request_id":"r1"})", 50, &a);
  EXPECT_EQ(p.field, "/delta");
  EXPECT_EQ(p.message, "delta must be a non-zero integer between -50 and 50");
}

// Transition bodies may be empty; extend bodies may not.
TEST(RequestsTest, EmptyBodies) {
  TransitionRequest t;
  EXPECT_TRUE(ParseTransition("", &t).ok());
  EXPECT_TRUE(ParseTransition(" \n", &t).ok());
  ExtendRequest e;
  EXPECT_EQ(ParseExtend("", &e).message, "body is empty; expected a JSON object");
}

// Duplicate keys are refused wherever they occur, since parsers disagree on which one wins.
TEST(RequestsTest, DuplicateKeys) {
  ReservationRequest r;
  Problem p = ParseReservation(R"({"order_id":"a","order_id":"b","items":[]})", &r);
  EXPECT_EQ(p.field, "/order_id");
  EXPECT_EQ(p.message, "duplicate field \"order_id\"");
  p = ParseReservation(R"({"order_id":"a","items":[{"sku":1,"qty":1},{"sku":2,"sku":2}]})", &r);
  EXPECT_EQ(p.field, "/items/1/sku");
}

// A deeply nested body is refused at the depth limit, not parsed to the end.
TEST(RequestsTest, DeepNestingStopsEarly) {
  const std::string deep = std::string(60'000, '[');  // unterminated: only depth can stop it first
  ReservationRequest r;
  const Problem p = ParseReservation(deep, &r);
  EXPECT_EQ(p.message, "body is nested deeper than 8 levels");
}

// Path and query parameters.
TEST(RequestsTest, Parameters) {
  std::int64_t sku = 0;
  EXPECT_TRUE(ParseSku("9007199254740991", &sku).ok());
  EXPECT_EQ(sku, kMaxSku);
  EXPECT_TRUE(ParseSku("007", &sku).ok());
  EXPECT_EQ(sku, 7);
  EXPECT_FALSE(ParseSku("9007199254740992", &sku).ok());
  EXPECT_FALSE(ParseSku("-1", &sku).ok());
  std::vector<std::int64_t> skus;
  ASSERT_TRUE(ParseSkuList("3,1,2", &skus).ok());
  EXPECT_EQ(skus, (std::vector<std::int64_t>{3, 1, 2}));
  EXPECT_EQ(ParseSkuList("1,,2", &skus).field, "skus");
  std::string id;
  EXPECT_TRUE(ParseOrderId("A-z_0.9:x", &id).ok());
  EXPECT_EQ(id, "A-z_0.9:x");
  EXPECT_FALSE(ParseOrderId(std::string(65, 'a'), &id).ok());
}

// Every request kind is reachable by its vector-file name.
TEST(RequestsTest, KindNames) {
  RequestKind k;
  for (const char* name : {"reservation", "extend", "transition", "set_stock", "adjustment", "sku",
                           "order_id", "sku_list"}) {
    EXPECT_TRUE(RequestKindFromName(name, &k)) << name;
  }
  EXPECT_FALSE(RequestKindFromName("reserve", &k));
}

}  // namespace
}  // namespace stockgate::core
