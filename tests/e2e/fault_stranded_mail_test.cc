// Fault test: a master's host dies (SIGKILL of its agent, the host stays
// silent) with mail delivered after the replicas' last catch-up, and comes
// back after the failover.
//
// Nothing can be pulled from a silent host, so that mail is stranded on the
// old master. When the host is back, its copy, now a replica, lists the
// messages its new master lacks (Maildir unique names) and did not delete
// since the failover: the coordinator raises store.stranded_mail,
// `slotctl incident` and `slotctl store` show it, and `slotctl store
// reconcile` copies exactly those messages into the new master: once each
// (a second reconcile copies nothing), never a message the user deleted on
// the new master after the failover. No message is lost.
//
// The mail is written into the old master's slot once its agent is dead
// (the mail server's last deliveries before the host went down): no replica
// can have pulled it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/control_plane.h"
#include "tests/e2e/data_safety.h"

namespace slotkeeper::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kCatchUpMs = 1000;
constexpr int kLate = 30;

// Unique name (before ":2,") -> how many message files of `user` carry it.
std::map<std::string, int> NameCounts(const std::string& slot, const std::string& user) {
  std::map<std::string, int> counts;
  for (const std::string& f : MessageFiles(slot, user)) {
    std::string base = fs::path(f).filename().string();
    base = base.substr(0, base.find(":2,"));
    ++counts[base];
  }
  return counts;
}

TEST(FaultStrandedMailTest, MailLeftOnAKilledMasterIsListedAndReconciledOnce) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = DataSafetyOptions("stranded_mail", absl::Seconds(2), kCatchUpMs);
  options.coordinator_flags = {
      "--heartbeat=500ms",        "--suspect_after=2s",  "--down_after=4s",
      "--failover_grace_hard=2s", "--failover_grace=2s", "--lease=3s",
      "--replace_after=10m",  // the host's units are not declared lost
      "--task_retry_backoff=2s",
  };
  auto created = StartCluster(options, /*need_loop_mounts=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = CreateStoreInSync(c, /*messages=*/160);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto before = c.Store("st1");
  ASSERT_TRUE(before.ok());

  // The host dies with mail delivered after the last sync.
  const std::string old_dir = c.SlotPath("imap1", "du1s1");
  const std::string user = reference->at("st1").begin()->first;
  c.KillAgent("imap1");
  const absl::Time killed = absl::Now();
  auto late = DeliverMessages(old_dir, user, kLate, "stranded");
  ASSERT_TRUE(late.ok()) << late.status();
  std::fprintf(stderr,
               "killed imap1's agent; %d messages to %s on imap1/du1s1 since the last sync\n",
               kLate, user.c_str());

  auto after = WaitForNewMaster(c, "st1", before->master_epoch(), "imap1/du1s1", absl::Seconds(60));
  ASSERT_TRUE(after.ok()) << after.status();
  const std::string new_master = MasterOf(*after);
  const std::string new_dir = c.SlotPath(HostOf(new_master), SlotOf(new_master));
  std::fprintf(stderr, "figure: st1 failed over to %s %s after the kill\n", new_master.c_str(),
               absl::FormatDuration(absl::Now() - killed).c_str());
  {
    auto content = ReadSlotContent(new_dir);
    ASSERT_TRUE(content.ok());
    ASSERT_EQ(MissingFrom(*late, *content).size(), static_cast<size_t>(kLate))
        << "the new master got the late mail before the kill: nothing to strand";
  }

  // On the new master the user deletes a message that the old master still
  // holds; reconcile must not bring it back.
  std::vector<std::string> files = MessageFiles(new_dir, user);
  ASSERT_FALSE(files.empty());
  const std::string deleted_name =
      fs::path(files.front())
          .filename()
          .string()
          .substr(0, fs::path(files.front()).filename().string().find(":2,"));
  fs::remove(files.front());
  std::fprintf(stderr, "the user deleted %s on the new master\n", deleted_name.c_str());

  // The old host comes back.
  ASSERT_TRUE(c.StartAgent("imap1").ok());
  const absl::Time back = absl::Now();
  v1::Event stranded;
  ASSERT_TRUE(c.WaitForEvent("store.stranded_mail", absl::Seconds(60), &stranded).ok())
      << "the mail left on the old master was not reported";
  std::fprintf(stderr, "figure: store.stranded_mail %s after the old host came back: %s\n",
               absl::FormatDuration(absl::Now() - back).c_str(), stranded.text().c_str());
  EXPECT_EQ(absl::StrCat(stranded.host(), "/", stranded.slot()), "imap1/du1s1");
  EXPECT_TRUE(absl::StrContains(stranded.text(), absl::StrCat(kLate, " message")))
      << stranded.text();
  auto listed = c.Store("st1");
  ASSERT_TRUE(listed.ok());
  const v1::Copy* old_copy = CopyAt(*listed, "imap1/du1s1");
  ASSERT_NE(old_copy, nullptr);
  EXPECT_EQ(old_copy->role(), v1::SLOT_REPLICA);
  EXPECT_EQ(old_copy->stranded_messages(), static_cast<uint64_t>(kLate))
      << "stranded count wrong (the message deleted after the failover is not stranded)";
  std::string out;
  auto code = c.Slotctl({"store", "st1"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl store st1\n%s\n", out.c_str());
  code = c.Slotctl({"incident", "--since", "1h"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl incident\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, "still only on the previous copy")) << out;

  // The dry run lists exactly the late messages.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ReconcileStoreRequest req;
    req.set_store("st1");
    req.set_dry_run(true);
    v1::ReconcileStoreResponse plan;
    ASSERT_TRUE(c.api().ReconcileStore(&ctx, req, &plan).ok());
    std::set<std::string> names;
    for (const auto& on : plan.stranded()) {
      EXPECT_TRUE(on.error().empty()) << on.error();
      for (const auto& m : on.messages()) names.insert("maildir:" + m.maildir_key());
    }
    std::set<std::string> want;
    for (const auto& [key, hash] : late->at(user)) want.insert(key);
    EXPECT_EQ(names, want) << plan.ShortDebugString().substr(0, 2000);
  }
  code = c.Slotctl({"store", "reconcile", "st1", "--dry-run"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl store reconcile st1 --dry-run\n%s\n", out.c_str());
  const absl::Time reconciling = absl::Now();
  code = c.Slotctl({"store", "reconcile", "st1", "--yes"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl store reconcile st1 --yes\n%s\n", out.c_str());
  ASSERT_EQ(*code, 0) << out;

  // The late mail reaches the new master with its content, once each.
  std::vector<std::string> missing;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    auto content = ReadSlotContent(new_dir);
    if (content.ok()) {
      missing = MissingFrom(*late, *content);
      if (missing.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(missing.empty()) << "not reconciled: " << absl::StrJoin(missing, "\n");
  std::fprintf(stderr, "figure: %d stranded messages on the new master %s after the reconcile\n",
               kLate, absl::FormatDuration(absl::Now() - reconciling).c_str());
  ASSERT_TRUE(c.WaitForEvent("store.stranded_cleared", absl::Seconds(60)).ok())
      << "the old master still reports stranded mail after the reconcile";
  std::fprintf(stderr, "figure: store.stranded_cleared %s after the reconcile\n",
               absl::FormatDuration(absl::Now() - reconciling).c_str());

  // Again: nothing left to copy, no duplicate, nothing deleted resurrected.
  code = c.Slotctl({"store", "reconcile", "st1", "--yes"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl store reconcile st1 --yes (again)\n%s\n", out.c_str());
  absl::SleepFor(absl::Seconds(2));
  std::map<std::string, int> counts = NameCounts(new_dir, user);
  int duplicates = 0;
  for (const auto& [name, n] : counts) duplicates += n > 1 ? n - 1 : 0;
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(counts.count(deleted_name), 0u) << deleted_name << " was brought back";
  std::fprintf(stderr, "figure: %s holds %zu messages of %s, %d duplicates, deleted one %s\n",
               new_master.c_str(), counts.size(), user.c_str(), duplicates,
               counts.count(deleted_name) ? "resurrected" : "stays deleted");

  // Nothing lost: every message but the one the user deleted, on every copy
  // that follows the new master by now, and on the new master the late mail.
  SlotContent expected = reference->at("st1");
  expected[user].erase("maildir:" + deleted_name);
  auto on_new = ReadSlotContent(new_dir);
  ASSERT_TRUE(on_new.ok());
  std::vector<std::string> lost = MissingFrom(expected, *on_new);
  std::vector<std::string> lost_late = MissingFrom(*late, *on_new);
  lost.insert(lost.end(), lost_late.begin(), lost_late.end());
  EXPECT_TRUE(lost.empty()) << absl::StrJoin(lost, "\n").substr(0, 2000);
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, {{"st1", expected}})));
  std::fprintf(stderr, "figure: %zu messages on the new master, 0 lost; test took %s\n",
               MessageCount(*on_new), absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
