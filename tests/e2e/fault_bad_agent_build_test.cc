// Fault test: a bad agent build on every host. Every agent is restarted in
// turn with `--test_fake_hard_condition=all` (its probes report every drive
// unit offline while the disks are fine), as a broken release rolled out
// everywhere would.
//
// The evidence brake must engage (one automation.brake event), no unit is
// declared lost although replace_after passes, no replacement is placed,
// no store fails over (none has a healthy replica left) and every master
// keeps serving: the brake keeps renewing their leases. `slotctl status` and
// `slotctl automation status` show the brake. Then the build is fixed
// (agents restarted without the flag): everything returns to healthy with
// the same masters, the brake stays until `slotctl automation ack`, and no
// message is lost. The agent refuses the test flag without
// --allow_test_flags.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/automation_faults.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

constexpr absl::Duration kReplaceAfter = absl::Seconds(12);
const std::vector<std::string> kBadBuild = {"--test_fake_hard_condition=all", "--allow_test_flags"};

// A rolling deploy: each agent in turn is stopped (SIGTERM), started with
// `flags`, and reports again before the next, so that at most one host is
// ever silent (the mass-failure brake, which counts silent hosts, stays out
// of it).
absl::Status Redeploy(Cluster& c, const std::vector<std::string>& hosts,
                      const std::vector<std::string>& flags) {
  for (const std::string& h : hosts) {
    c.agent(h)->Stop();
    const int64_t started_ms = absl::ToUnixMillis(absl::Now());
    if (absl::Status st = c.StartAgent(h, flags); !st.ok()) return st;
    absl::Status up = c.WaitForStatus(
        [&](const v1::ClusterStatus&) {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          v1::GetHostRequest req;
          req.set_host(h);
          v1::HostInfo info;
          return c.api().GetHost(&ctx, req, &info).ok() && info.state() == v1::HOST_UP &&
                 info.last_heard_ms() >= started_ms;
        },
        absl::Seconds(30), h + " reports again");
    if (!up.ok()) return up;
  }
  return absl::OkStatus();
}

// Every store has its master of `before`, at the same epoch, and it serves.
bool MastersServeAsBefore(Cluster& c, const std::map<std::string, v1::StoreInfo>& before) {
  for (const auto& [name, was] : before) {
    auto st = c.Store(name);
    if (!st.ok() || st->master_epoch() != was.master_epoch() || MasterOf(*st) != MasterOf(was)) {
      return false;
    }
    for (const v1::Copy& copy : st->copies()) {
      if (copy.role() == v1::SLOT_MASTER && !copy.serving()) return false;
    }
  }
  return true;
}

// No event of these kinds after `seq` (what the brake must stop).
void ExpectNoneAfter(Cluster& c, uint64_t seq, const std::vector<std::string>& kinds,
                     const std::string& when) {
  for (const std::string& kind : kinds) {
    auto found = EventsOfKind(c, kind);
    ASSERT_TRUE(found.ok());
    for (const v1::Event& e : *found) EXPECT_LE(e.seq(), seq) << when << ": " << e.text();
  }
}

// Without --allow_test_flags the agent refuses the test flag.
void ExpectTestFlagRefused(Cluster& c, const ClusterOptions& options) {
  std::string out;
  auto refused = RunCommand({Runfile(options.replicatord),
                             absl::StrCat("--config=", c.HostDir("imap1"), "/agent.textproto"),
                             "--test_fake_hard_condition=all"},
                            &out, absl::Seconds(20));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(*refused, 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "needs --allow_test_flags")) << out;
}

// Under the bad build, for twice replace_after: every master serves, and
// nothing irreversible happens; the brake shows in slotctl.
void WatchUnderTheBrake(Cluster& c, const std::map<std::string, v1::StoreInfo>& before,
                        uint64_t seq_before, absl::Time deployed) {
  ASSERT_TRUE(c.WaitForStatus(
                   [](const v1::ClusterStatus& s) {
                     int failed = 0;
                     for (const auto& h : s.troubled_hosts()) {
                       for (const auto& u : h.units()) failed += u.state() == v1::UNIT_FAILED;
                     }
                     return failed == 8;
                   },
                   absl::Seconds(30), "every unit FAILED")
                  .ok());
  const absl::Time watch_until = absl::Now() + 2 * kReplaceAfter;
  int checks = 0, not_serving = 0;
  absl::Time first_serving = absl::InfiniteFuture();
  while (absl::Now() < watch_until) {
    const bool ok = MastersServeAsBefore(c, before);
    ++checks;
    if (ok && first_serving == absl::InfiniteFuture()) first_serving = absl::Now();
    if (!ok && first_serving != absl::InfiniteFuture()) ++not_serving;
    absl::SleepFor(absl::Milliseconds(500));
  }
  auto mode = GetAutomation(c);
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(mode->mode(), v1::AUTOMATION_RUNNING)
      << "only the evidence brake: " << mode->ShortDebugString();
  ASSERT_NE(first_serving, absl::InfiniteFuture()) << "masters did not serve under the brake";
  EXPECT_EQ(not_serving, 0) << "a master stopped serving under the brake";
  std::fprintf(stderr,
               "every master serving (same master, same epoch) from %s after the bad build went "
               "out, at all %d checks over %s\n",
               absl::FormatDuration(first_serving - deployed).c_str(), checks,
               absl::FormatDuration(2 * kReplaceAfter).c_str());
  ExpectNoneAfter(c, seq_before,
                  {"unit.lost", "unit.second_opinion", "task.created", "store.failover"},
                  "under the brake");
  auto brakes = EventsOfKind(c, "automation.brake");
  ASSERT_TRUE(brakes.ok());
  EXPECT_EQ(brakes->size(), 1u) << "one critical event";
  auto held = EventsOfKind(c, "automation.held_back");
  ASSERT_TRUE(held.ok());
  EXPECT_FALSE(held->empty()) << "what the brake held back is said";
  for (const std::vector<std::string>& verb :
       std::vector<std::vector<std::string>>{{"status"}, {"automation", "status"}}) {
    std::string out;
    auto code = c.Slotctl(verb, &out);
    ASSERT_TRUE(code.ok());
    std::fprintf(stderr, "$ slotctl %s (bad build)\n%s\n", absl::StrJoin(verb, " ").c_str(),
                 out.c_str());
    EXPECT_TRUE(absl::StrContains(out, "EVIDENCE BRAKE ENGAGED")) << out;
  }
  std::string out;
  ASSERT_TRUE(c.Slotctl({"status"}, &out).ok());
  EXPECT_TRUE(absl::StrContains(out, "MAIL SERVED ON DOUBTED EVIDENCE: 4 store(s)")) << out;
}

// The fixed build goes out: everything returns; the brake waits for
// `slotctl automation ack`, which moves nothing.
void FixAndAcknowledge(Cluster& c, const std::vector<std::string>& hosts,
                       const std::map<std::string, v1::StoreInfo>& before, uint64_t seq_before) {
  const absl::Time fixed = absl::Now();
  ASSERT_TRUE(Redeploy(c, hosts, {}).ok());
  ASSERT_TRUE(
      c.WaitForStatus(
           [](const v1::ClusterStatus& s) { return s.stores_healthy() == s.stores_total(); },
           absl::Seconds(60), "every store healthy after the fix")
          .ok());
  std::fprintf(stderr, "every store healthy %s after the fixed build went out\n",
               absl::FormatDuration(absl::Now() - fixed).c_str());
  EXPECT_TRUE(MastersServeAsBefore(c, before));
  auto automation = GetAutomation(c);
  ASSERT_TRUE(automation.ok());
  EXPECT_TRUE(automation->brake_engaged()) << "only an operator releases the brake";
  std::string out;
  auto code = c.Slotctl({"automation", "ack", "--reason", "bad agent build rolled back"}, &out);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << out;
  std::fprintf(stderr, "$ slotctl automation ack\n%s\n", out.c_str());
  automation = GetAutomation(c);
  ASSERT_TRUE(automation.ok());
  EXPECT_FALSE(automation->brake_engaged());
  absl::SleepFor(absl::Seconds(3));
  ExpectNoneAfter(c, seq_before, {"unit.lost", "task.created", "store.failover"}, "after ack");
}

TEST(FaultBadAgentBuildTest, TheBrakeStopsEveryIrreversibleStepAndMastersKeepServing) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/bad_agent_build";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",
      "--suspect_after=3s",
      "--down_after=10s",
      // Longer than the bad build's rollout, the watch and the fix's rollout
      // together (about 30 s, more on a loaded machine): once the fix reaches
      // a store's replica host before its master's, the master's (fake) hard
      // evidence and a healthy replica make a legitimate failover after this
      // grace, and the premise "no store has a healthy replica" is gone.
      "--failover_grace_hard=90s",
      "--failover_grace=20s",
      "--lease=4s",
      absl::StrCat("--replace_after=", absl::ToInt64Seconds(kReplaceAfter), "s"),
      "--task_retry_backoff=2s",
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"},
                                   {"st2", "imap2", "du1s1"},
                                   {"st3", "imap3", "du2s1"},
                                   {"st4", "imap4", "du2s1"}},
                                  6, 150);
  ASSERT_TRUE(reference.ok()) << reference.status();
  std::map<std::string, v1::StoreInfo> before;
  auto stores = c.Stores();
  ASSERT_TRUE(stores.ok());
  for (const auto& s : *stores) before[s.name()] = s;
  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok());
  const uint64_t seq_before = events->empty() ? 0 : events->back().seq();
  ExpectTestFlagRefused(c, options);

  // The bad build goes out everywhere.
  const absl::Time deployed = absl::Now();
  ASSERT_TRUE(Redeploy(c, options.hosts, kBadBuild).ok());
  v1::Event brake;
  ASSERT_TRUE(c.WaitForEvent("automation.brake", absl::Seconds(30), &brake).ok());
  std::fprintf(stderr, "brake engaged %s after the bad build went out: %s\n",
               absl::FormatDuration(absl::Now() - deployed).c_str(), brake.text().c_str());
  WatchUnderTheBrake(c, before, seq_before, deployed);
  if (HasFatalFailure()) return;
  FixAndAcknowledge(c, options.hosts, before, seq_before);
  if (HasFatalFailure()) return;

  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);
  size_t messages = 0;
  for (const auto& [store, content] : *reference) messages += MessageCount(content);
  std::fprintf(stderr, "bad agent build test: %s wall, %zu messages checked on every copy\n",
               absl::FormatDuration(absl::Now() - start).c_str(), messages);
}

}  // namespace
}  // namespace slotkeeper::testing
