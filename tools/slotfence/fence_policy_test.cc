#include "tools/slotfence/fence_policy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::fence {
namespace {

using ::testing::HasSubstr;

const std::string kFile = "# comment\nstore st1\nepoch 4\nserving_until_ns 10000000000\n";

TEST(FencePolicyTest, ServesUntilTheDeadline) {
  Verdict v = Judge(kFile, absl::Seconds(9), {"st1", 4});
  EXPECT_TRUE(v.serve) << v.reason;
  EXPECT_THAT(v.reason, HasSubstr("valid for 1s"));
  v = Judge(kFile, absl::Seconds(10), {});
  EXPECT_FALSE(v.serve);
  EXPECT_THAT(v.reason, HasSubstr("ran out"));
}

TEST(FencePolicyTest, StopsWhenTheFileIsGoneUnreadableOrForAnotherLease) {
  EXPECT_FALSE(Judge(absl::NotFoundError("gone"), absl::Seconds(1), {}).serve);
  EXPECT_THAT(Judge(absl::NotFoundError("gone"), absl::Seconds(1), {}).reason,
              HasSubstr("no longer serves"));
  EXPECT_FALSE(Judge(absl::PermissionDeniedError("no"), absl::Seconds(1), {}).serve);
  EXPECT_FALSE(Judge(std::string("store st1\nepoch 4\n"), absl::Seconds(1), {}).serve);
  EXPECT_FALSE(Judge(std::string("garbage"), absl::Seconds(1), {}).serve);
  EXPECT_FALSE(Judge(kFile, absl::Seconds(1), {"st2", 0}).serve);
  EXPECT_THAT(Judge(kFile, absl::Seconds(1), {"", 5}).reason, HasSubstr("epoch 4, not 5"));
}

}  // namespace
}  // namespace slotkeeper::fence
