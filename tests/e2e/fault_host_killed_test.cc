// Fault test: a host dies (SIGKILL of its agent: it falls
// silent, like a host that lost power).
//
// The coordinator sees the silence: the host goes SUSPECT, then DOWN; stores
// mastered there fail over once failover_grace (the silence grace) has run
// out after DOWN; once the host has been DOWN for replace_after its drive
// units are declared lost and every copy there is replaced on the other
// hosts. The test ends with every store fully replicated again without the
// dead host, and no message lost.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

constexpr int64_t kGraceMs = 4000;
constexpr int64_t kReplaceAfterMs = 8000;

const v1::Event* First(const std::vector<v1::Event>& events, const std::string& kind,
                       const std::string& host, const std::string& store = "") {
  for (const auto& e : events) {
    if (e.kind() == kind && (host.empty() || e.host() == host) &&
        (store.empty() || e.store() == store)) {
      return &e;
    }
  }
  return nullptr;
}

TEST(FaultHostKilledTest, FailoverAfterGraceAndReReplicationAfterReplaceAfter) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "needs loop-mounted ext4 (root): " << st;
  }
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/fault_host_killed";
  options.verbose = true;
  options.coordinator_flags = {
      "--heartbeat=500ms",
      "--suspect_after=2s",
      "--down_after=5s",
      "--failover_grace_hard=2s",
      absl::StrCat("--failover_grace=", kGraceMs, "ms"),
      "--lease=3s",
      absl::StrCat("--replace_after=", kReplaceAfterMs, "ms"),
      "--task_retry_backoff=2s",
  };
  auto created = Cluster::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  auto reference = c.CreateStores(
      {{"st1", "imap4", "du1s1"}, {"st2", "imap1", "du1s1"}, {"st3", "imap2", "du2s1"}},
      /*users=*/6, /*messages=*/150);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Stores();
  ASSERT_TRUE(before.ok());
  std::set<std::string> on_dead_host;
  for (const auto& s : *before) {
    if (HasCopyOn(s, "imap4")) on_dead_host.insert(s.name());
  }
  ASSERT_TRUE(on_dead_host.count("st1"));

  const absl::Time killed = absl::Now();
  c.KillAgent("imap4");
  c.Log("imap4's agent killed (SIGKILL)");

  // Failover of the store mastered on the dead host.
  ASSERT_TRUE(c.WaitForStore(
                   "st1",
                   [](const v1::StoreInfo& s) {
                     for (const auto& cp : s.copies()) {
                       if (cp.role() == v1::SLOT_MASTER && cp.usable() &&
                           cp.slot().host() != "imap4") {
                         return true;
                       }
                     }
                     return false;
                   },
                   absl::Seconds(60), "a usable master off imap4")
                  .ok());
  c.Log(absl::StrCat("st1 failed over after ", absl::FormatDuration(absl::Now() - killed)));

  // Re-replication: every store healthy again, nothing on imap4, no task left.
  absl::Status recovered = WaitForFullRecovery(
      c, [](const v1::StoreInfo& st) { return HasCopyOn(st, "imap4") || st.copies_size() != 3; },
      absl::Seconds(120), "every store with three copies, none on imap4");
  ASSERT_TRUE(recovered.ok()) << recovered;
  c.Log(absl::StrCat("every store fully replicated again after ",
                     absl::FormatDuration(absl::Now() - killed)));

  auto events = ListAllEvents(c);
  ASSERT_TRUE(events.ok()) << events.status();
  const v1::Event* suspect = First(*events, "host.suspect", "imap4");
  const v1::Event* down = First(*events, "host.down", "imap4");
  const v1::Event* failover = First(*events, "store.failover", "", "st1");
  const v1::Event* lost = First(*events, "unit.lost", "imap4");
  ASSERT_NE(suspect, nullptr);
  ASSERT_NE(down, nullptr);
  ASSERT_NE(failover, nullptr);
  ASSERT_NE(lost, nullptr) << "imap4's units were never declared lost";
  // SUSPECT, then DOWN, then the failover after the silence grace, then the
  // units lost after replace_after.
  EXPECT_LT(suspect->seq(), down->seq());
  EXPECT_GE(failover->time_ms(), down->time_ms() + kGraceMs)
      << "failed over before failover_grace ran out";
  EXPECT_GE(lost->time_ms(), down->time_ms() + kReplaceAfterMs)
      << "units declared lost before replace_after";
  EXPECT_LT(failover->seq(), lost->seq());
  // Every store that had a copy on imap4 got a verified replacement, created
  // (after the kill) only once the units were declared lost.
  std::set<std::string> replaced;
  for (const auto& e : *events) {
    if (e.kind() == "task.created" && e.seq() > suspect->seq() && on_dead_host.count(e.store())) {
      EXPECT_GT(e.seq(), lost->seq()) << e.text();
    }
    if (e.kind() == "copy.dropped" && e.host() == "imap4") replaced.insert(e.store());
  }
  EXPECT_EQ(replaced, on_dead_host);
  auto st1 = c.Store("st1");
  ASSERT_TRUE(st1.ok());
  EXPECT_NE(MasterOf(*st1).substr(0, 5), "imap4");

  std::vector<std::string> problems = CheckNoMessageLost(c, *reference);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n").substr(0, 2000);

  // The journal of the fault (from just before the kill), kept with the
  // test's outputs: tools/slotctl's incident golden test reads a recording
  // of it (testdata/host_killed_recorded.*).
  if (const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR"); outputs != nullptr) {
    RecordIncidentInputs(c, outputs,
                         absl::StrCat(absl::ToInt64Seconds(absl::Now() - killed) + 1, "s"));
  }
}

}  // namespace
}  // namespace slotkeeper::testing
