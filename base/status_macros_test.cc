#include "base/status_macros.h"

#include <memory>

#include "gtest/gtest.h"

namespace slotkeeper {
namespace {

absl::Status FailIf(bool fail, int* calls) {
  ++*calls;
  return fail ? absl::NotFoundError("gone") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool fail, int value) {
  if (fail) return absl::UnavailableError("later");
  return std::make_unique<int>(value);
}

absl::Status Chain(bool first_fails, bool second_fails, int* calls) {
  SK_RETURN_IF_ERROR(FailIf(first_fails, calls));
  SK_RETURN_IF_ERROR(FailIf(second_fails, calls));
  return absl::OkStatus();
}

absl::StatusOr<int> Sum(bool fail_a, bool fail_b) {
  SK_ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeInt(fail_a, 2));
  SK_ASSIGN_OR_RETURN(std::unique_ptr<int> b, MakeInt(fail_b, 3));  // move-only values work
  return *a + *b;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int calls = 0;
  EXPECT_TRUE(Chain(false, false, &calls).ok());
  EXPECT_EQ(calls, 2);
  calls = 0;
  EXPECT_EQ(Chain(true, false, &calls).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);  // the expression is evaluated once, the second never
}

TEST(StatusMacrosTest, AssignOrReturn) {
  EXPECT_EQ(*Sum(false, false), 5);
  EXPECT_EQ(Sum(true, false).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Sum(false, true).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace slotkeeper
