// The read verbs, global flags, help and usage errors, against a fake cluster
// in the middle of a drive-unit outage.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/slotctl/render.h"
#include "tools/slotctl/test_cluster.h"

namespace slotkeeper::slotctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class ReadVerbsTest : public ::testing::Test {
 protected:
  ReadVerbsTest() : cluster_(OutageCluster(clock_.NowMs())), harness_(&cluster_, &clock_) {}

  RunResult Run(const std::vector<std::string>& args) { return harness_.Run(args); }

  FakeClock clock_;
  FakeCluster cluster_;
  Harness harness_;
};

TEST_F(ReadVerbsTest, StatusSaysMailIsAtRiskAndWhy) {
  RunResult r = Run({"status"});
  EXPECT_EQ(r.code, kExitMailAtRisk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("MAIL AT RISK: 1 store(s) without a usable master"));
  EXPECT_THAT(r.out, HasSubstr("Hosts: 4 up; 0 draining"));
  EXPECT_THAT(r.out, HasSubstr("3 master, 5 replica, 1 seeding, 2 spare, 0 lost"));
  EXPECT_THAT(r.out, HasSubstr("unit du2: failed since 2h ago"));
  EXPECT_THAT(r.out, HasSubstr("filesystem /srv/mail2 (unit du2): read-only"));
  EXPECT_THAT(r.out, HasSubstr("clock off by -6h"));
  EXPECT_THAT(r.out, HasSubstr("no-master"));
  EXPECT_THAT(r.out, HasSubstr("users 400/1000 (40.0%)"));
  EXPECT_THAT(r.out, HasSubstr("25.0 MiB/s, about 1h15m left"));
  EXPECT_THAT(r.out, HasSubstr("Automation: running (automatic failovers in window: 1/5)"));
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));  // not a terminal
}

TEST_F(ReadVerbsTest, StatusOfHealthyClusterSaysSafe) {
  cluster_.status.clear_troubled_stores();
  cluster_.status.clear_troubled_hosts();
  cluster_.status.clear_recovery();
  cluster_.status.set_stores_healthy(3);
  RunResult r = Run({"status"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("MAIL SAFE: all 3 stores healthy"));
  EXPECT_THAT(r.out, HasSubstr("Re-replication: nothing in progress"));
  cluster_.status = v1::ClusterStatus();
  EXPECT_THAT(Run({"status"}).out, HasSubstr("NO STORES: the coordinator manages no store yet"));
}

TEST_F(ReadVerbsTest, StatusSaysAnUnknownTotalIsUnknown) {
  v1::RecoveryProgress* r = cluster_.status.mutable_recovery();
  r->set_users_total(0);
  r->set_bytes_total(0);
  r->set_eta_ms(-1);
  RunResult run = Run({"status"});
  EXPECT_THAT(run.out, HasSubstr("users 400/unknown (-)"));
  EXPECT_THAT(run.out, HasSubstr("data 44.0 GiB/unknown (-)"));
  EXPECT_THAT(run.out, HasSubstr("time left unknown"));
}

TEST_F(ReadVerbsTest, StatusShowsPausedAndFrozenAutomation) {
  cluster_.status.mutable_automation()->set_mode(v1::AUTOMATION_FROZEN);
  cluster_.status.mutable_automation()->set_reason("3 of 4 hosts went silent at once");
  cluster_.status.mutable_automation()->set_since_ms(clock_.NowMs() - 60'000);
  RunResult r = Run({"status"});
  EXPECT_THAT(r.out, HasSubstr("FROZEN by the mass-failure brake 1m ago: 3 of 4 hosts"));
}

TEST_F(ReadVerbsTest, ColourOnlyOnATerminalWithoutNoColor) {
  harness_.terminal = true;
  EXPECT_THAT(Run({"status"}).out, HasSubstr("\x1b[1;31mMAIL AT RISK\x1b[0m"));
  harness_.no_color = true;
  EXPECT_THAT(Run({"status"}).out, Not(HasSubstr("\x1b[")));
  harness_.no_color = false;
  EXPECT_THAT(Run({"status", "--json"}).out, Not(HasSubstr("\x1b[")));
}

TEST_F(ReadVerbsTest, EveryReadVerbPrintsValidJsonWithSnakeCaseFields) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"status"}, "\"troubled_stores\""},
      {{"hosts"}, "\"clock_offset_ms\""},
      {{"host", "imap4"}, "\"lease_valid_until_ms\""},
      {{"stores"}, "\"required_copies\""},
      {{"store", "st2"}, "\"master_unusable_since_ms\""},
      {{"user", "alice"}, "\"service_address\""},
      {{"tasks"}, "\"bytes_per_second\""},
      {{"events", "--since", "1d"}, "\"time_ms\""},
      {{"ksck"}, "\"stores_checked\""},
      {{"incident"}, "\"markdown\""},
      {{"automation", "status"}, "\"failover_limit\""},
      {{"quarantine", "list", "--store", "st1"}, "\"total_items\""},
  };
  for (const auto& [args, field] : cases) {
    std::vector<std::string> with_json = args;
    with_json.push_back("--json");
    RunResult r = Run(with_json);
    EXPECT_TRUE(IsJsonObject(r.out)) << args[0] << ": " << r.out;
    EXPECT_THAT(r.out, HasSubstr(field)) << args[0];
    EXPECT_EQ(r.err, "") << args[0];
    // Global flags work before the verb too.
    with_json.pop_back();
    with_json.insert(with_json.begin(), "--json");
    EXPECT_TRUE(IsJsonObject(Run(with_json).out)) << args[0];
  }
}

TEST_F(ReadVerbsTest, HostsTableIsAligned) {
  RunResult r = Run({"hosts"});
  ASSERT_EQ(r.code, 0);
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);
  const size_t state_col = lines[0].find("STATE");
  ASSERT_NE(state_col, std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].substr(state_col, 2), "up") << lines[i];
  }
  EXPECT_THAT(lines[3], HasSubstr("-6h"));
  EXPECT_THAT(lines[4], HasSubstr("2/1/0/0"));  // imap4: 2 masters, 1 replica
}

TEST_F(ReadVerbsTest, HostShowsUnitsFilesystemsSlotsConditionsAndLeases) {
  RunResult r = Run({"host", "imap4"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Host imap4: up since 2d ago"));
  EXPECT_THAT(r.out, HasSubstr("clock offset +3ms"));
  EXPECT_THAT(r.out, HasSubstr("du2   failed"));
  EXPECT_THAT(r.out, HasSubstr("/srv/mail2  du2   read-only"));
  EXPECT_THAT(r.out, HasSubstr("valid 8s"));
  EXPECT_THAT(r.out, HasSubstr("expired 1h30m ago"));
  EXPECT_THAT(r.out, HasSubstr("read-only on /srv/mail2 since 2h ago"));
  EXPECT_THAT(r.out, HasSubstr("hard: EXT4-fs (sdc1): Remounting filesystem read-only"));
  EXPECT_THAT(Run({"host", "imap3"}).out, HasSubstr("SKEWED: never promoted"));
}

TEST_F(ReadVerbsTest, UnknownHostStoreOrUserIsOneClearLineAndExit1) {
  RunResult r = Run({"host", "imap9"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "slotctl: host \"imap9\": not found (no host named imap9)\n");
  r = Run({"store", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "slotctl: store \"nope\": not found (no store named nope)\n");
  r = Run({"user", "bob@example.org"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("user \"bob@example.org\": not found"));
  r = Run({"--json", "store", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"code\":\"NOT_FOUND\""));
  EXPECT_EQ(r.err, "");
}

TEST_F(ReadVerbsTest, StoresAndStore) {
  RunResult r = Run({"stores"});
  ASSERT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("st2    no-master  2/3     imap4/s02 (unusable)"));
  r = Run({"stores", "--troubled"});
  EXPECT_THAT(r.out, Not(HasSubstr("st1 ")));
  EXPECT_THAT(r.out, HasSubstr("st3"));
  r = Run({"store", "st2"});
  ASSERT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Store st2: no-master, 2/3 usable copies, master epoch 7"));
  EXPECT_THAT(r.out, HasSubstr("master unusable since 2h ago"));
  EXPECT_THAT(r.out, HasSubstr("imap3/s02  replica  yes     no       5m"));
  EXPECT_EQ(Run({"store", "st2", "--copies", "3"}).code, 2);
}

TEST_F(ReadVerbsTest, UserShowsWhereMailLives) {
  RunResult r = Run({"user", "alice"});
  ASSERT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("User alice is in store st1 (master epoch 4)"));
  EXPECT_THAT(r.out, HasSubstr("master:  imap4/s01 imap4:1001"));
  EXPECT_THAT(r.out, HasSubstr("replica: imap1/s01 imap1:1001"));
}

TEST_F(ReadVerbsTest, TasksShowQueueAndRunningWithProgress) {
  RunResult r = Run({"tasks"});
  ASSERT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("t-17"));
  EXPECT_THAT(r.out, HasSubstr("400/1000"));
  EXPECT_THAT(r.out, HasSubstr("25.0 MiB/s"));
  // 66 GiB left at 25 MiB/s.
  EXPECT_THAT(r.out, HasSubstr("44.0 GiB/110.0 GiB 40.0%"));
  EXPECT_THAT(r.out, HasSubstr("about 45m"));
  EXPECT_THAT(r.out, HasSubstr("retry in 2m: source imap4/s02 read-only"));
  EXPECT_THAT(r.out, Not(HasSubstr("t-09")));
  EXPECT_THAT(Run({"tasks", "--all"}).out, HasSubstr("t-09"));
  r = Run({"tasks", "--store", "st2"});
  EXPECT_THAT(r.out, Not(HasSubstr("t-17")));
  EXPECT_THAT(r.out, HasSubstr("t-18"));
}

TEST(TaskProgressCellsTest, UnknownTotalsAndRatesAreSaidSo) {
  v1::TaskInfo t;
  t.set_state(v1::TASK_RUNNING);
  t.mutable_progress()->set_bytes_done(3 << 20);
  EXPECT_EQ(TaskData(t.progress()), "3.0 MiB/unknown");
  EXPECT_EQ(TaskTimeLeft(t), "unknown");
  t.mutable_progress()->set_bytes_total(4 << 20);
  EXPECT_EQ(TaskTimeLeft(t), "unknown");  // no rate yet
  t.mutable_progress()->set_bytes_per_second(1 << 20);
  EXPECT_EQ(TaskTimeLeft(t), "about 1s");
  t.mutable_progress()->set_bytes_done(5 << 20);  // past the total: nothing left, never negative
  EXPECT_EQ(TaskTimeLeft(t), "about 0s");
  t.set_state(v1::TASK_QUEUED);
  EXPECT_EQ(TaskTimeLeft(t), "-");
}

TEST_F(ReadVerbsTest, EventsSinceAndFollow) {
  RunResult r = Run({"events", "--since", "2h"});
  ASSERT_EQ(r.code, 0);
  EXPECT_EQ(cluster_.last_list_events.since_ms(), clock_.NowMs() - 2 * 3600'000);
  // The journal starts 2h01m ago: the first event (registration) is outside.
  EXPECT_THAT(r.out, Not(HasSubstr("host imap4 re-registered")));
  EXPECT_THAT(
      r.out,
      HasSubstr(
          "critical  unit.failed         imap4/du2                 drive unit imap4/du2 failed"));

  // The fake's one stream sends the journal; its next one is refused, which
  // ends the follow (a real one runs until interrupted).
  cluster_.watch_script = {{-1, absl::OkStatus()}};
  r = Run({"events", "--follow", "--since", "1d", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(cluster_.calls.back(), "WatchEvents");
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), cluster_.events.size() + 1);
  for (const std::string& line : lines) EXPECT_TRUE(IsJsonObject(line)) << line;
  EXPECT_THAT(lines.back(), HasSubstr("UNIMPLEMENTED"));
  EXPECT_THAT(r.err, HasSubstr("the coordinator closed the event stream; reconnecting"));

  EXPECT_EQ(Run({"events", "--since", "2x"}).code, 2);
  EXPECT_EQ(Run({"events", "--follow", "--store", "st1"}).code, 2);
  EXPECT_EQ(Run({"events", "--follow", "--kind", "audit"}).code, 2);
}

TEST_F(ReadVerbsTest, EventsOfOneKindOrSubject) {
  RunResult r = Run({"events", "--since", "1d", "--kind", "unit"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cluster_.last_list_events.kind(), "unit");
  EXPECT_THAT(r.out, HasSubstr("unit.failed"));
  EXPECT_THAT(r.out, Not(HasSubstr("host.")));
  r = Run({"events", "--since", "1d", "--kind", "unit.fail"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("unit.failed")));  // a kind, not a text prefix
  EXPECT_EQ(Run({"events", "--kind", "a b"}).code, 2);
}

TEST_F(ReadVerbsTest, KsckPrintsOneLinePerProblemAndExits1) {
  RunResult r = Run({"ksck", "--verify-data"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(cluster_.calls.back(), "CheckConsistency verify-data");
  EXPECT_EQ(r.out,
            "ERROR store=st2: no usable master\n"
            "WARNING store=st2 slot=imap3/s02: replica lag 5m exceeds 1m\n"
            "PROBLEMS: 3 stores checked, 1 error(s), 1 warning(s); data verified for 0 users\n");
  EXPECT_EQ(Run({"ksck", "--json"}).code, 1);

  cluster_.consistency.clear_problems();
  r = Run({"ksck"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "OK: 3 stores checked, 0 error(s), 0 warning(s); data not verified "
            "(use --verify-data)\n");
}

TEST_F(ReadVerbsTest, KsckPassesTheLagBoundAndShowsServerErrors) {
  EXPECT_EQ(Run({"ksck", "--max-lag", "10m"}).code, 1);
  EXPECT_EQ(cluster_.calls.back(), "CheckConsistency max-lag=600000");
  EXPECT_EQ(Run({"ksck", "--max-lag", "soon"}).code, 2);
  cluster_.check_consistency_error = absl::UnimplementedError("no CheckConsistency");
  RunResult r = Run({"ksck"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no CheckConsistency"));
}

TEST_F(ReadVerbsTest, IncidentIsMarkdownOfTheWindow) {
  RunResult r = Run({"incident", "--since", "6h"});
  ASSERT_EQ(r.code, 0);
  EXPECT_TRUE(absl::StartsWith(r.out, "# Disk enclosure failure on imap4\n")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("**Status: Identified**"));
  EXPECT_EQ(cluster_.last_list_events.since_ms(), clock_.NowMs() - 6 * 3600'000);
  EXPECT_EQ(cluster_.last_list_events.limit(), 100000u);  // the whole window

  r = Run({"incident", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"title\": \"Disk enclosure failure on imap4\""));
  EXPECT_THAT(r.out, HasSubstr("\"status\": \"Identified\""));
  cluster_.calls.clear();
  r = Run({"incident", "--format", "xml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--format takes \"markdown\" or \"json\", not \"xml\""));
  EXPECT_TRUE(cluster_.calls.empty());
}

TEST_F(ReadVerbsTest, AutomationStatus) {
  RunResult r = Run({"automation", "status"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "Automation: running (automatic failovers in window: 1/5)\n");
  EXPECT_EQ(Run({"automation", "explode"}).code, 2);
}

TEST_F(ReadVerbsTest, UsageErrorsExit2WithOneLineAndNoServerCall) {
  const std::vector<std::vector<std::string>> bad = {
      {"frobnicate"},
      {},
      {"host"},
      {"host", "imap4", "extra"},
      {"host", "im ap4"},
      {"hosts", "--bogus"},
      {"events", "--since"},
      {"status", "--timeout", "0s"},
      {"status", "--timeout", "2h"},
      {"status", "--server", "localhost"},
      {"status", "--server", "localhost:99999"},
      {"events", "--limit", "0"},
      {"ksck", "-x"},
      {"status", "--timeout", "1s", "--timeout", "2s"},
      {"status", "--json=maybe"},
  };
  for (const auto& args : bad) {
    RunResult r = Run(args);
    EXPECT_EQ(r.code, 2) << (args.empty() ? "(none)" : args[0]);
    EXPECT_THAT(r.err, testing::StartsWith("slotctl: "));
    EXPECT_THAT(r.err, HasSubstr("Run 'slotctl help"));
    EXPECT_EQ(r.out, "");
  }
  EXPECT_TRUE(cluster_.calls.empty());
  RunResult r = Run({"frobnicate", "--json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(IsJsonObject(r.out)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("unknown verb \\\"frobnicate\\\""));
  EXPECT_THAT(Run({"frobnicate"}).err, HasSubstr("unknown verb \"frobnicate\""));
}

TEST_F(ReadVerbsTest, HelpForEveryVerb) {
  RunResult r = Run({"help"});
  EXPECT_EQ(r.code, 0);
  for (const char* verb :
       {"status", "hosts", "host", "stores", "store", "user", "tasks", "events", "ksck", "incident",
        "automation", "failover", "drain", "undrain", "mark-lost", "quarantine"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string("  ") + verb + " ")) << verb;
    RunResult h = Run({"help", verb});
    EXPECT_EQ(h.code, 0) << verb;
    EXPECT_THAT(h.out, HasSubstr(std::string("Usage: slotctl ") + verb)) << verb;
    RunResult flag = Run({verb, "--help"});
    EXPECT_EQ(flag.code, 0) << verb;
    EXPECT_EQ(flag.out, h.out) << verb;
  }
  EXPECT_EQ(Run({"--help"}).code, 0);
  EXPECT_EQ(Run({"help", "nope"}).code, 2);
  EXPECT_TRUE(cluster_.calls.empty());
}

TEST_F(ReadVerbsTest, ServerAndTimeoutFlags) {
  Run({"status"});
  EXPECT_EQ(harness_.connected_server, "127.0.0.1:7300");
  EXPECT_EQ(harness_.connected_timeout, absl::Seconds(10));
  harness_.server_from_env = "10.0.0.5:7301";
  Run({"status"});
  EXPECT_EQ(harness_.connected_server, "10.0.0.5:7301");
  Run({"--server", "127.0.0.1:9000", "status", "--timeout", "90s"});
  EXPECT_EQ(harness_.connected_server, "127.0.0.1:9000");
  EXPECT_EQ(harness_.connected_timeout, absl::Seconds(90));
}

TEST_F(ReadVerbsTest, ServerErrorsAreOneLineAndJsonWithJson) {
  cluster_.fail_all =
      absl::UnavailableError("cannot reach slotmgrd at 127.0.0.1:7300: connection refused");
  RunResult r = Run({"status"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "slotctl: cannot reach slotmgrd at 127.0.0.1:7300: connection refused\n");
  r = Run({"hosts", "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out,
            "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"cannot reach slotmgrd at "
            "127.0.0.1:7300: connection refused\"}}\n");
}

}  // namespace
}  // namespace slotkeeper::slotctl
