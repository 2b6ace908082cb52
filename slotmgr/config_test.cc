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
  c = CoordinatorConfig();
  c.evidence_brake_unit_fraction = 0;
  EXPECT_THAT(std::string(ValidateConfig(c).message()),
              HasSubstr("--evidence_brake_unit_fraction"));
  c = CoordinatorConfig();
  c.max_units_lost_per_hour = -1;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("--max_units_lost_per_hour"));
  c = CoordinatorConfig();
  c.flap_suppress_threshold = 0;
  EXPECT_THAT(std::string(ValidateConfig(c).message()), HasSubstr("--flap_suppress_threshold"));
}

TEST(ConfigTest, PlannerDefaultsAreTheConfigDefaults) {
  const CoordinatorConfig c;
  EXPECT_EQ(PlacementOptionsFrom(c).headroom_fraction, PlacementOptions().headroom_fraction);
  EXPECT_EQ(GuardrailOptionsFrom(c).max_auto_failovers, GuardrailOptions().max_auto_failovers);
  EXPECT_EQ(GuardrailOptionsFrom(c).brake_window_ms, GuardrailOptions().brake_window_ms);
  const GuardrailOptions g = GuardrailOptionsFrom(c), d;
  EXPECT_EQ(g.evidence_host_fraction, d.evidence_host_fraction);
  EXPECT_EQ(g.evidence_min_hosts, d.evidence_min_hosts);
  EXPECT_EQ(g.evidence_unit_fraction, d.evidence_unit_fraction);
  EXPECT_EQ(g.evidence_min_units, d.evidence_min_units);
  EXPECT_EQ(g.evidence_window_ms, d.evidence_window_ms);
  EXPECT_EQ(g.max_units_lost_per_hour, d.max_units_lost_per_hour);
  EXPECT_EQ(g.max_rereplications_per_hour, d.max_rereplications_per_hour);
  EXPECT_EQ(g.flap_half_life_ms, d.flap_half_life_ms);
  EXPECT_EQ(g.flap_suppress_threshold, d.flap_suppress_threshold);
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
