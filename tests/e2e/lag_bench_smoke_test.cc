// The replication-lag benchmark (lag_bench) end to end, small: 10 messages
// a second for 10 s into 8 stores with the agents' default configuration.
// Asserts correctness only: every message reached both replicas of its
// store and the report holds the figures. Nothing about time.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "google/protobuf/util/json_util.h"
#include "tests/e2e/lag_report.pb.h"
#include "tests/harness/loop_fs.h"
#include "tests/harness/process.h"

namespace slotkeeper::testing {
namespace {

TEST(LagBenchSmokeTest, EveryDeliveredMessageReachesBothReplicas) {
  if (absl::Status can = CanLoopMount(); !can.ok()) GTEST_SKIP() << can;
  const std::string tmp = std::getenv("TEST_TMPDIR");
  const std::string json = tmp + "/lag.json";
  std::string out;
  auto code = RunCommand(
      {Runfile("tests/e2e/lag_bench"), "--rates=10", "--duration=10s", "--modes=default",
       "--users=5", "--messages=50", "--grace=60s", "--dir=" + tmp + "/lag", "--json=" + json},
      &out, absl::Minutes(8));
  ASSERT_TRUE(code.ok()) << code.status();
  std::fprintf(stderr, "%s\n", out.c_str());
  EXPECT_EQ(*code, 0) << out;

  std::ifstream in(json);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bench::LagReport report;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &report).ok()) << text;
  ASSERT_EQ(report.runs_size(), 1);
  const bench::LagRun& run = report.runs(0);
  EXPECT_EQ(run.error(), "");
  EXPECT_EQ(run.mode(), "default");
  // 10/s for 10 s; mailgen's schedule holds exactly 100.
  EXPECT_EQ(run.delivered(), 100u);
  EXPECT_EQ(run.expected(), 200u);  // two replicas each
  EXPECT_EQ(run.never_seen(), 0u) << run.ShortDebugString();
  EXPECT_EQ(run.observed() + run.seen_only_by_scan(), 200u);
  EXPECT_FALSE(run.inotify_overflow());
  // The figures are there and consistent; their size is not asserted.
  EXPECT_GE(run.lag_max_ms(), run.lag_p99_ms());
  EXPECT_GE(run.lag_p99_ms(), run.lag_p50_ms());
  EXPECT_EQ(run.coordinator().name(), "slotmgrd");
  ASSERT_EQ(run.agents_size(), 4);
  for (const auto& a : run.agents()) EXPECT_FALSE(a.name().empty());
  EXPECT_GT(run.cpu_ms_per_message(), 0);
  EXPECT_NE(run.mailgen_summary().find("delivered 100 messages"), std::string::npos)
      << run.mailgen_summary();
  EXPECT_NE(out.find("| default | 10 | 100 |"), std::string::npos);
}

}  // namespace
}  // namespace slotkeeper::testing
