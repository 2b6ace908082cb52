// Fault test: a master that goes bad slowly or in place, where the
// mass-deletion guard must stop the replicas from following.
//
//   - A source that rewrites every message of a user (20 of 20) with
//     garbage, same names: rewrites count as removals, so the guard blocks
//     the user; the replicas keep the original content of all 20.
//   - A source that deletes 2% of a user's mail per minute for ten minutes:
//     each step alone is small, but the guard sums removals over its window
//     against the most the user held in it, so the user is blocked once the
//     sum passes the share (10%); what went through before is in the
//     replicas' quarantine, not lost.
// Each block raises replication.blocked naming the user. Nothing is lost:
// every original message is live on each replica or in its quarantine, and
// `slotctl quarantine restore` puts a deleted message back into the master
// (once, with its content).
//
// Time is compressed: a "minute" of the slow deletion is 2 s, and the
// guard's window is 60 s instead of a day (it still spans the whole
// deletion); replicas catch up every 500 ms, so each step reaches them
// before the next.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

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

constexpr int64_t kCatchUpMs = 500;
constexpr int64_t kGuardWindowMs = 60000;
constexpr absl::Duration kMinute = absl::Seconds(2);  // compressed
constexpr int kSlowUserMessages = 100;
constexpr int kStepsPerRun = 10;    // ten minutes
constexpr int kDeletedPerStep = 2;  // 2% of 100

// The first replication.blocked event whose text names `user`.
bool BlockedEventFor(Cluster& c, const std::string& user, v1::Event* found) {
  for (const v1::Event& e : EventsOf(c, "replication.blocked", "st1")) {
    if (absl::StrContains(e.text(), user)) {
      *found = e;
      return true;
    }
  }
  return false;
}

absl::Status WaitForBlock(Cluster& c, const std::string& user, absl::Duration timeout,
                          v1::Event* found) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (BlockedEventFor(c, user, found)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("no replication.blocked naming ", user));
}

TEST(FaultSourceGuardTest, ReplicasAreProtectedFromARewritingAndASlowlyDeletingSource) {
  if (absl::Status st = CanLoopMount(); !st.ok()) {
    GTEST_SKIP() << "fault tests need root and loop mounts: " << st;
  }
  const absl::Time start = absl::Now();
  ClusterOptions options = DataSafetyOptions("source_guard", absl::Seconds(3), kCatchUpMs);
  options.agent_config_extra = absl::StrCat("data_path { catch_up_interval_ms: ", kCatchUpMs,
                                            " guard_window_ms: ", kGuardWindowMs, " }");
  auto created = StartCluster(options, /*need_loop_mounts=*/true);
  ASSERT_TRUE(created.ok()) << created.status();
  Cluster& c = **created;
  auto reference = c.CreateStores({{"st1", "imap1", "du1s1"}}, /*users=*/4, /*messages=*/120);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const std::string master_dir = c.SlotPath("imap1", "du1s1");

  // Two more users: 20 messages that will be rewritten, 100 that will be
  // deleted slowly.
  auto rewritten = DeliverMessages(master_dir, "rewritten", 20, "orig");
  ASSERT_TRUE(rewritten.ok()) << rewritten.status();
  auto slow = DeliverMessages(master_dir, "slowdel", kSlowUserMessages, "orig");
  ASSERT_TRUE(slow.ok()) << slow.status();
  SlotContent ref = reference->at("st1");
  ref["rewritten"] = rewritten->at("rewritten");
  ref["slowdel"] = slow->at("slowdel");
  auto matched = WaitForCopiesToMatchMaster(c, "st1", absl::Seconds(60));
  ASSERT_TRUE(matched.ok()) << matched.status();
  ASSERT_TRUE(WaitForReplicasInSync(c, "st1", absl::Seconds(30)).ok());
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok());
  const std::vector<std::string> replicas = ReplicasOf(*store);
  ASSERT_EQ(replicas.size(), 2u);

  // ---- 20 of 20 messages rewritten with garbage on the master.
  auto n = RewriteWithGarbage(master_dir, "rewritten", 7);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 20);
  const absl::Time rewrote = absl::Now();
  v1::Event blocked;
  ASSERT_TRUE(WaitForBlock(c, "rewritten", absl::Seconds(30), &blocked).ok())
      << "the replicas were not stopped from copying 20 rewritten messages";
  std::fprintf(stderr, "figure: rewrite of 20/20 blocked %s after it: %s\n",
               absl::FormatDuration(absl::Now() - rewrote).c_str(), blocked.text().c_str());
  absl::SleepFor(absl::Milliseconds(3 * kCatchUpMs));  // more cycles: the block holds
  for (const std::string& r : replicas) {
    auto live = ReadSlotContent(c.SlotPath(HostOf(r), SlotOf(r)));
    ASSERT_TRUE(live.ok()) << live.status();
    SlotContent only;
    only["rewritten"] = ref.at("rewritten");
    std::vector<std::string> changed = MissingFrom(only, *live);
    EXPECT_TRUE(changed.empty()) << r << " took garbage: " << absl::StrJoin(changed, "\n");
    std::fprintf(stderr, "figure: %s keeps %zu of 20 original messages of rewritten\n", r.c_str(),
                 20 - changed.size());
  }

  // ---- 2% of slowdel's mail deleted on the master every (compressed)
  // minute for ten minutes.
  std::vector<std::string> files = MessageFiles(master_dir, "slowdel");
  ASSERT_EQ(files.size(), static_cast<size_t>(kSlowUserMessages));
  int deleted = 0;
  int deleted_when_blocked = -1;
  const absl::Time slow_start = absl::Now();
  for (int step = 1; step <= kStepsPerRun; ++step) {
    for (int i = 0; i < kDeletedPerStep; ++i) fs::remove(files[deleted++]);
    const absl::Time step_end = slow_start + step * kMinute;
    while (absl::Now() < step_end) {
      if (deleted_when_blocked < 0 && BlockedEventFor(c, "slowdel", &blocked)) {
        deleted_when_blocked = deleted;
        std::fprintf(stderr, "figure: slow deletion blocked in minute %d, %d%% deleted: %s\n", step,
                     deleted, blocked.text().c_str());
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  ASSERT_GE(deleted_when_blocked, 0)
      << "deleting 2% a minute for ten minutes (20%) never blocked the user";
  // Blocked once more than 10% were gone (the guard's share), not later
  // than the step after.
  EXPECT_LE(deleted_when_blocked, 14);

  // Nothing lost: each replica holds every original message of every user,
  // live or in its quarantine.
  for (const std::string& r : replicas) {
    auto account = AccountFor(c.SlotPath(HostOf(r), SlotOf(r)), ref);
    ASSERT_TRUE(account.ok()) << account.status();
    EXPECT_TRUE(account->lost.empty()) << r << ": " << absl::StrJoin(account->lost, "\n");
    auto live = ReadSlotContent(c.SlotPath(HostOf(r), SlotOf(r)));
    ASSERT_TRUE(live.ok());
    std::fprintf(stderr,
                 "figure: %s: slowdel %zu live of %d (master: %d), %zu files quarantined in "
                 "all; %zu lost\n",
                 r.c_str(), (*live)["slowdel"].size(), kSlowUserMessages,
                 kSlowUserMessages - deleted, account->quarantined_files, account->lost.size());
    EXPECT_GT((*live)["slowdel"].size(), static_cast<size_t>(kSlowUserMessages - deleted))
        << r << " followed the whole slow deletion";
  }
  auto now = c.Store("st1");
  ASSERT_TRUE(now.ok());
  for (const std::string& r : replicas) {
    const v1::Copy* cp = CopyAt(*now, r);
    ASSERT_NE(cp, nullptr);
    std::fprintf(stderr, "%s: blocked users [%s], not in sync: %s\n", r.c_str(),
                 absl::StrJoin(cp->blocked_users(), ", ").c_str(),
                 cp->out_of_sync_reason().c_str());
  }
  // The operator's view names both users on each replica; the incident
  // write-up (a status page) tells of the block.
  std::string out;
  auto code = c.Slotctl({"store", "st1"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl store st1\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, "rewritten") && absl::StrContains(out, "slowdel")) << out;
  code = c.Slotctl({"incident", "--since", "1h"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl incident\n%s\n", out.c_str());
  EXPECT_TRUE(absl::StrContains(out, "mass-deletion guard")) << out;

  // ---- A message deleted (and followed) before the block, restored from a
  // replica's quarantine into the master.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListQuarantineItemsRequest req;
  req.set_store("st1");
  req.set_user("slowdel");
  v1::ListQuarantineItemsResponse listed;
  ASSERT_TRUE(c.api().ListQuarantine(&ctx, req, &listed).ok());
  const v1::QuarantineItem* item = nullptr;
  std::string holder;
  for (const auto& s : listed.slots()) {
    for (const auto& it : s.items()) {
      if (item == nullptr && it.reason() == "removed" && !it.maildir_key().empty()) {
        item = &it;
        holder = absl::StrCat(s.slot().host(), "/", s.slot().slot());
      }
    }
  }
  ASSERT_NE(item, nullptr) << "no removed message of slowdel in any quarantine: "
                           << listed.ShortDebugString();
  code = c.Slotctl({"quarantine", "list", "--store", "st1", "--user", "slowdel"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl quarantine list --store st1 --user slowdel\n%s\n", out.c_str());
  const std::string key = "maildir:" + item->maildir_key();
  ASSERT_TRUE(ref.at("slowdel").count(key)) << key;
  code = c.Slotctl({"quarantine", "restore", "--slot", holder, item->id(), "--yes"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl quarantine restore --slot %s %s --yes\n%s\n", holder.c_str(),
               item->id().c_str(), out.c_str());
  ASSERT_EQ(*code, 0) << out;
  bool back = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!back && absl::Now() < deadline) {
    auto master = ReadSlotContent(master_dir);
    if (master.ok()) {
      auto f = (*master)["slowdel"].find(key);
      back = f != (*master)["slowdel"].end() && f->second == ref.at("slowdel").at(key);
    }
    if (!back) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(back) << key << " not restored into the master";
  int names = 0;
  for (const std::string& f : MessageFiles(master_dir, "slowdel")) {
    if (absl::StrContains(f, item->maildir_key())) ++names;
  }
  EXPECT_EQ(names, 1) << "restored more than once";
  std::fprintf(stderr, "figure: %s restored into the master (1 file)\n", key.c_str());
  // Asking again is refused: it would be a duplicate.
  code = c.Slotctl({"quarantine", "restore", "--slot", holder, item->id(), "--yes"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "$ slotctl quarantine restore (again)\n%s\n", out.c_str());
  absl::SleepFor(absl::Seconds(2));
  names = 0;
  for (const std::string& f : MessageFiles(master_dir, "slowdel")) {
    if (absl::StrContains(f, item->maildir_key())) ++names;
  }
  EXPECT_EQ(names, 1) << "a second restore made a duplicate: " << out;

  // The other users were not disturbed, on any copy.
  SlotContent others = reference->at("st1");
  EXPECT_TRUE(NoProblems(CheckNoMessageLost(c, {{"st1", others}})));
  std::fprintf(stderr, "figure: test took %s\n", absl::FormatDuration(absl::Now() - start).c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
