#include "core/token_bucket.h"

#include <gtest/gtest.h>

namespace stockgate::core {
namespace {

class TokenBucketTest : public testing::Test {
 protected:
  std::int64_t now_ms_ = 1'000'000;
};

// A new bucket allows exactly `burst` requests at once, then refuses.
TEST_F(TokenBucketTest, StartsFullAndEmptiesAtBurst) {
  TokenBucket b({10, 5}, now_ms_);
  for (int i = 0; i < 5; ++i) {
    const TakeResult r = b.Take(now_ms_);
    ASSERT_TRUE(r.allowed) << i;
    EXPECT_DOUBLE_EQ(r.remaining, 4 - i);
  }
  const TakeResult r = b.Take(now_ms_);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.retry_after_ms, 100);  // one token at 10/s
}

// Tokens come back at the configured rate and never above burst.
TEST_F(TokenBucketTest, RefillsAtRateUpToBurst) {
  TokenBucket b({10, 5}, now_ms_);
  for (int i = 0; i < 5; ++i) b.Take(now_ms_);
  EXPECT_FALSE(b.Take(now_ms_ + 99).allowed);
  EXPECT_TRUE(b.Take(now_ms_ + 100).allowed);
  EXPECT_DOUBLE_EQ(b.Tokens(now_ms_ + 100 + 250), 2.5);
  EXPECT_DOUBLE_EQ(b.Tokens(now_ms_ + 60'000), 5);
  EXPECT_TRUE(b.Full(now_ms_ + 60'000));
}

// retry_after_ms is the time until the next token, rounded up, never 0 on a refusal.
TEST_F(TokenBucketTest, RetryAfterIsTimeToNextToken) {
  TokenBucket b({3, 1}, now_ms_);
  ASSERT_TRUE(b.Take(now_ms_).allowed);
  EXPECT_EQ(b.Take(now_ms_).retry_after_ms, 334);  // 1000/3 rounded up
  EXPECT_EQ(b.Take(now_ms_ + 300).retry_after_ms, 34);
  TokenBucket fast({1'000'000, 1}, now_ms_);
  fast.Take(now_ms_);
  EXPECT_EQ(fast.Take(now_ms_).retry_after_ms, 1);
}

// A refused request does not consume anything: waiting retry_after_ms is enough.
TEST_F(TokenBucketTest, RefusalDoesNotConsume) {
  TokenBucket b({2, 1}, now_ms_);
  b.Take(now_ms_);
  const TakeResult refused = b.Take(now_ms_ + 100);
  ASSERT_FALSE(refused.allowed);
  EXPECT_TRUE(b.Take(now_ms_ + 100 + refused.retry_after_ms).allowed);
}

// A clock that goes backwards neither refills nor breaks the bucket.
TEST_F(TokenBucketTest, BackwardsTimeAddsNothing) {
  TokenBucket b({10, 2}, now_ms_);
  b.Take(now_ms_);
  b.Take(now_ms_);
  EXPECT_FALSE(b.Take(now_ms_ - 5'000).allowed);
  EXPECT_FALSE(b.Take(now_ms_ + 50).allowed);
  EXPECT_TRUE(b.Take(now_ms_ + 100).allowed);
}

// Peek answers like Take without changing the bucket.
TEST_F(TokenBucketTest, PeekDoesNotTake) {
  TokenBucket b({1, 1}, now_ms_);
  EXPECT_TRUE(b.Peek(now_ms_).allowed);
  EXPECT_TRUE(b.Peek(now_ms_).allowed);
  EXPECT_TRUE(b.Take(now_ms_).allowed);
  EXPECT_FALSE(b.Peek(now_ms_).allowed);
}

// rate <= 0 means unlimited; burst below 1 is raised to 1 so a request can ever pass.
TEST_F(TokenBucketTest, UnlimitedAndTinyBurst) {
  TokenBucket unlimited({0, 1}, now_ms_);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(unlimited.Take(now_ms_).allowed);
  TokenBucket tiny({1, 0.1}, now_ms_);
  EXPECT_TRUE(tiny.Take(now_ms_).allowed);
  EXPECT_FALSE(tiny.Take(now_ms_).allowed);
}

// A cost above one token is charged in full.
TEST_F(TokenBucketTest, CostAboveOne) {
  TokenBucket b({10, 10}, now_ms_);
  EXPECT_TRUE(b.Take(now_ms_, 7).allowed);
  const TakeResult r = b.Take(now_ms_, 7);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.retry_after_ms, 400);
}

}  // namespace
}  // namespace stockgate::core
