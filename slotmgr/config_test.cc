#include "slotmgr/config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotmgr {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, DefaultsAreValidAndOutOfRangeSettingsAreNamed) {
  EXPECT_TRUE(ValidateConfig(CoordinatorConfig()).ok());
  CoordinatorConfig c;
  c.lease_ms = 0;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("--lease"));
  c = CoordinatorConfig();
  c.down_after_ms = c.suspect_after_ms;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("--down_after"));
  c = CoordinatorConfig();
  c.max_down_fraction = 1.5;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("--max_down_fraction"));
}

TEST(ConfigTest, PlannerDefaultsAreTheConfigDefaults) {
  const CoordinatorConfig c;
  EXPECT_EQ(PlacementOptionsFrom(c).headroom_fraction, PlacementOptions().headroom_fraction);
  EXPECT_EQ(GuardrailOptionsFrom(c).max_auto_failovers, GuardrailOptions().max_auto_failovers);
  EXPECT_EQ(GuardrailOptionsFrom(c).brake_window_ms, GuardrailOptions().brake_window_ms);
  EXPECT_EQ(SchedulerOptionsFrom(c).max_running, SchedulerOptions().max_running);
  EXPECT_EQ(SchedulerOptionsFrom(c).max_backoff_ms, SchedulerOptions().max_backoff_ms);
  EXPECT_EQ(PromotionOptionsFrom(c).max_clock_skew_ms, PromotionOptions().max_clock_skew_ms);
}

TEST(ConfigTest, OptionsFollowTheConfig) {
  CoordinatorConfig c;
  c.placement_headroom = 0.5;
  c.failover_rate_limit = 3;
  c.failover_grace_silent_ms = 1000;
  c.down_after_ms = 90'000;
  c.task_retry_backoff_ms = 20 * 60'000;
  c.max_failover_lag_ms = 7;
  EXPECT_EQ(PlacementOptionsFrom(c).headroom_fraction, 0.5);
  EXPECT_EQ(GuardrailOptionsFrom(c).max_auto_failovers, 3);
  EXPECT_EQ(GuardrailOptionsFrom(c).brake_window_ms, 90'000)
      << "the longer of grace and down_after";
  EXPECT_EQ(SchedulerOptionsFrom(c).max_backoff_ms, 20 * 60'000) << "never below the first backoff";
  EXPECT_EQ(PromotionOptionsFrom(c).max_lag_ms, 7);
}

}  // namespace
}  // namespace slotkeeper::slotmgr
