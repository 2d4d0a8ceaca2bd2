#include "core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace stockgate::core {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return Fail(Code::kInvalidRequest, "odd");
  return n / 2;
}

// A failure passes on unchanged through a caller with another value type.
Result<std::string> Describe(int n) {
  const Result<int> half = Half(n);
  if (!half) return half.failure();
  return std::to_string(*half);
}

TEST(ResultTest, ValueOrCodeAndMessage) {
  const Result<int> good = Half(8);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.code(), Code::kOk);
  EXPECT_EQ(good.error(), "");
  EXPECT_EQ(*good, 4);

  const Result<int> bad = Half(3);
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(static_cast<bool>(bad));
  EXPECT_EQ(bad.code(), Code::kInvalidRequest);
  EXPECT_EQ(bad.error(), "odd");
}

TEST(ResultTest, FailuresPassThroughUnchanged) {
  EXPECT_EQ(*Describe(10), "5");
  const Result<std::string> bad = Describe(7);
  EXPECT_EQ(bad.code(), Code::kInvalidRequest);
  EXPECT_EQ(bad.error(), "odd");
}

TEST(ResultTest, MoveOnlyValuesAreMovedOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  const std::unique_ptr<int> taken = std::move(r).value();
  EXPECT_EQ(*taken, 7);
}

TEST(ResultTest, VoidResultIsOkByDefault) {
  const Result<void> fine;
  EXPECT_TRUE(fine.ok());
  EXPECT_EQ(fine.code(), Code::kOk);
  const Result<void> down = Fail(Code::kUnavailable, "connection refused");
  EXPECT_FALSE(down.ok());
  EXPECT_EQ(down.code(), Code::kUnavailable);
  EXPECT_EQ(down.failure().message, "connection refused");
}

// Reading what a Result does not hold stops the process in every build, never reads garbage.
TEST(ResultDeathTest, MisuseStopsTheProcess) {
  EXPECT_DEATH((void)Half(3).value(), "value\\(\\) of a failed Result");
  EXPECT_DEATH((void)Half(4).failure(), "failure\\(\\) of a Result that is ok");
  EXPECT_DEATH((void)Result<int>(Fail(Code::kOk, "")), "failed with Code::kOk");
}

}  // namespace
}  // namespace stockgate::core
