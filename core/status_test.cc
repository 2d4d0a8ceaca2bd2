#include "core/status.h"

#include <gtest/gtest.h>

namespace stockgate::core {
namespace {

// Every code has a distinct wire name that maps back to it.
TEST(StatusTest, NamesRoundTrip) {
  for (int i = 0; i < kCodeCount; ++i) {
    const auto code = static_cast<Code>(i);
    Code back = Code::kOk;
    ASSERT_TRUE(CodeFromName(CodeName(code), &back)) << i;
    EXPECT_EQ(back, code);
  }
  Code ignored;
  EXPECT_FALSE(CodeFromName("no_such_code", &ignored));
}

// The HTTP statuses are those of the API contract.
TEST(StatusTest, HttpStatusesMatchTheContract) {
  EXPECT_EQ(HttpStatus(Code::kOk), 200);
  EXPECT_EQ(HttpStatus(Code::kInvalidRequest), 400);
  EXPECT_EQ(HttpStatus(Code::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(Code::kForbidden), 403);
  EXPECT_EQ(HttpStatus(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatus(Code::kUnknownSku), 404);
  EXPECT_EQ(HttpStatus(Code::kInsufficientStock), 409);
  EXPECT_EQ(HttpStatus(Code::kIdempotencyConflict), 409);
  EXPECT_EQ(HttpStatus(Code::kInvalidState), 409);
  EXPECT_EQ(HttpStatus(Code::kCustomerLimitExceeded), 409);
  EXPECT_EQ(HttpStatus(Code::kReservationExpired), 410);
  EXPECT_EQ(HttpStatus(Code::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatus(Code::kRateLimited), 429);
  EXPECT_EQ(HttpStatus(Code::kUnavailable), 503);
  EXPECT_EQ(CodeName(Code::kCustomerLimitExceeded), "customer_limit_exceeded");
}

// Values outside the enum (as may arrive over the wasm ABI) are named, not undefined.
TEST(StatusTest, OutOfRangeValues) {
  EXPECT_EQ(CodeName(static_cast<Code>(200)), "unknown");
  EXPECT_EQ(HttpStatus(static_cast<Code>(200)), 500);
}

}  // namespace
}  // namespace stockgate::core
