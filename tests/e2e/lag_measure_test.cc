#include "tests/e2e/lag_measure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace slotkeeper::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseLagModesTest, BuiltInModesAndDefinitions) {
  auto modes = ParseLagModes("poll,push", "");
  ASSERT_TRUE(modes.ok()) << modes.status();
  ASSERT_EQ(modes->size(), 2u);
  EXPECT_EQ((*modes)[0].name, "poll");
  EXPECT_EQ((*modes)[0].agent_config_extra,
            "data_path { replication_feed: \"poll\" catch_up_interval_ms: 5000 }");
  EXPECT_EQ((*modes)[1].agent_config_extra, "data_path { replication_feed: \"push\" }");

  modes = ParseLagModes("poll, fast",
                        "poll=data_path { catch_up_interval_ms: 5000 }; fast = data_path { "
                        "catch_up_interval_ms: 500 }");
  ASSERT_TRUE(modes.ok()) << modes.status();
  EXPECT_EQ((*modes)[0].agent_config_extra, "data_path { catch_up_interval_ms: 5000 }");
  EXPECT_EQ((*modes)[1].name, "fast");
  EXPECT_EQ((*modes)[1].agent_config_extra, "data_path { catch_up_interval_ms: 500 }");

  modes = ParseLagModes("default", "");
  ASSERT_TRUE(modes.ok());
  EXPECT_EQ((*modes)[0].agent_config_extra, "");
}

TEST(ParseLagModesTest, RefusesUnknownDuplicateAndMalformed) {
  EXPECT_THAT(ParseLagModes("poll,turbo", "").status().message(), HasSubstr("\"turbo\""));
  EXPECT_THAT(ParseLagModes("poll,poll", "").status().message(), HasSubstr("twice"));
  EXPECT_THAT(ParseLagModes("poll", "data_path {}").status().message(),
              HasSubstr("NAME=AGENT_CONFIG_TEXT"));
  EXPECT_THAT(ParseLagModes("poll", "=x").status().message(), HasSubstr("NAME="));
  EXPECT_THAT(ParseLagModes("poll", "a b=x").status().message(), HasSubstr("letters, digits"));
  EXPECT_THAT(ParseLagModes("poll", "../x=x").status().message(), HasSubstr("letters, digits"));
  EXPECT_FALSE(ParseLagModes("", "").ok());
}

TEST(ParseRatesTest, PositiveNumbersOnly) {
  auto rates = ParseRates("10, 50,200,0.5");
  ASSERT_TRUE(rates.ok());
  EXPECT_THAT(*rates, ElementsAre(10, 50, 200, 0.5));
  for (const char* bad : {"", "10,", "0", "-5", "ten", "1e9", "nan"}) {
    EXPECT_FALSE(ParseRates(bad).ok()) << bad;
  }
}

TEST(ParseDeliveryLogTest, ResolvesUserAndKeyAndNamesABadLine) {
  auto log = ParseDeliveryLog(
      "1000000000 /r/imap1/du1/du1s1 users/st1-user0002/new/17.M1P2Q0.mailgen,S=10\n"
      "2000000000 /r/imap2/du1/du1s1 users/st2-user0000/new/17.M1P2Q1.mailgen,S=20\n");
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].arrived_ns, 2000000000);
  EXPECT_EQ((*log)[1].master_slot, "/r/imap2/du1/du1s1");
  EXPECT_EQ((*log)[1].user, "st2-user0000");
  EXPECT_EQ((*log)[1].key, "17.M1P2Q1.mailgen,S=20");
  EXPECT_THAT(ParseDeliveryLog("1 /s users/u/new/a\nbroken\n").status().message(),
              HasSubstr("line 2"));
}

TEST(ComputeLagsTest, LagPerReplicaAndWhatWasNeverSeen) {
  const std::vector<Delivery> deliveries = {
      {1'000'000'000, "/m1", "u1", "k1"},
      {2'000'000'000, "/m1", "u1", "k2"},
  };
  const std::map<std::string, std::vector<std::string>> replicas = {{"/m1", {"/r1", "/r2"}}};
  absl::flat_hash_map<std::string, int64_t> seen = {
      {SightingKey("/r1", "u1", "k1"), 1'100'000'000},  // 100 ms
      {SightingKey("/r2", "u1", "k1"), 1'300'000'000},  // 300 ms
      {SightingKey("/r1", "u1", "k2"), 2'200'000'000},  // 200 ms
      {SightingKey("/r1", "u9", "k2"), 2'000'000'001},  // another user: not k2 of u1
  };
  // k2 on r2: not seen by inotify, found by the scan.
  absl::flat_hash_set<std::string> scanned = {SightingKey("/r2", "u1", "k2")};
  bench::LagRun run;
  ASSERT_TRUE(ComputeLags(deliveries, replicas, seen, scanned, &run).ok());
  EXPECT_EQ(run.delivered(), 2u);
  EXPECT_EQ(run.expected(), 4u);
  EXPECT_EQ(run.observed(), 3u);
  EXPECT_EQ(run.lag_p50_ms(), 200);
  EXPECT_EQ(run.lag_p99_ms(), 300);
  EXPECT_EQ(run.lag_max_ms(), 300);
  EXPECT_EQ(run.seen_only_by_scan(), 1u);
  EXPECT_EQ(run.never_seen(), 0u);

  bench::LagRun lost;
  ASSERT_TRUE(ComputeLags(deliveries, replicas, seen, {}, &lost).ok());
  EXPECT_EQ(lost.never_seen(), 1u);
  EXPECT_THAT(lost.never_seen_examples(), ElementsAre("/r2 u1 k2"));
  EXPECT_THAT(FormatLagTable([&] {
                bench::LagReport r;
                *r.add_runs() = lost;
                return r;
              }()),
              HasSubstr("NEVER reached"));

  bench::LagRun unknown;
  EXPECT_FALSE(ComputeLags({{1, "/elsewhere", "u", "k"}}, replicas, seen, {}, &unknown).ok());
}

TEST(CpuTicksFromProcStatTest, UtimePlusStime) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime ...
  auto ticks = CpuTicksFromProcStat(
      "4242 (replica tord) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0");
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 325u);
  EXPECT_EQ(*CpuTicksFromProcStat("1 (a) b) R 1 1 1 0 -1 0 0 0 0 0 7 8 0"), 15u);
  EXPECT_FALSE(CpuTicksFromProcStat("4242 replicatord S 1").ok());
  EXPECT_FALSE(CpuTicksFromProcStat("4242 (x) S 1 2 3").ok());
}

TEST(MailgenLatenessTest, ReadsP99) {
  EXPECT_EQ(MailgenLatenessP99Ms("mailgen: delivered 5\nmailgen: lateness against the schedule: "
                                 "p50 0.1 ms, p99 1.6 ms, max 2.9 ms\n"),
            1.6);
  EXPECT_EQ(MailgenLatenessP99Ms("nothing"), 0);
}

TEST(FormatLagTableTest, OneRowPerRun) {
  bench::LagReport report;
  bench::LagRun* run = report.add_runs();
  run->set_mode("poll");
  run->set_rate(10);
  run->set_delivered(600);
  run->set_lag_p50_ms(2512.4);
  run->set_lag_p99_ms(5100);
  run->set_lag_max_ms(5230);
  run->mutable_coordinator()->set_cpu_seconds(0.4);
  run->add_agents()->set_cpu_seconds(1.25);
  run->add_agents()->set_cpu_seconds(2);
  run->set_cpu_ms_per_message(6.1);
  const std::string table = FormatLagTable(report);
  EXPECT_THAT(table, HasSubstr("| poll | 10 | 600 | 2512 | 5100 | 5230 | 0 | 0 | 0.4 | 1.2 / 2.0 "
                               "| 6.10 | 0.0 |"));
  EXPECT_THAT(table, ::testing::Not(HasSubstr("!!!")));
}

}  // namespace
}  // namespace slotkeeper::testing
