// A store's sync over many users: group commit, checkpoints, cancellation
// and lag. Real files, a real gRPC source on 127.0.0.1 port 0, a FakeClock.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

TEST_F(SyncTest, SmallFetchesOfAGroupOfUsersShareTwoSyncfsAndNoFsync) {
  for (const char* u : {"u1", "u2", "u3"}) {
    WriteFile(Msg(u, "cur/1.h:2,S"), std::string("one of ") + u, 1700000001, 0600);
    WriteFile(Msg(u, "new/2.h"), std::string("two of ") + u, 1700000002, 0640);
  }
  CountingFs fs;
  absl::StatusOr<StoreSyncResult> r = Sync("", &fs);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEqualTrees();  // content, mtime and mode
  EXPECT_EQ(counters_.files_copied, 6u);
  EXPECT_EQ(r->progress.users_done(), 3u);
  // Staged: one syncfs makes all six files durable before any is renamed
  // into place, one more makes the renames durable before the checkpoints.
  EXPECT_EQ(fs.fsyncs, 0);
  EXPECT_EQ(fs.syncfs, 2);
  EXPECT_EQ(ReadFile(target_ + "/users/u2/new/2.h"), "two of u2");
  CheckpointStore checkpoints(target_db_.get());
  EXPECT_TRUE(checkpoints.Get("t1", "u3").has_value());
}

TEST_F(SyncTest, ProgressNeverShowsMoreDoneThanItsTotal) {
  for (const char* u : {"u1", "u2", "u3", "u4"}) {
    for (int i = 0; i < 5; ++i) {
      WriteFile(Msg(u, "cur/" + std::to_string(i) + ".h:2,S"), std::string(1000 + i, 'x'));
    }
  }
  std::vector<v1::TaskProgress> seen;
  absl::StatusOr<StoreSyncResult> r =
      Sync("", nullptr, nullptr, [&](const v1::TaskProgress& p) { seen.push_back(p); });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(seen.empty());
  for (const v1::TaskProgress& p : seen) {
    // A total is unknown (0) until every user to copy has a known size.
    if (p.files_total() > 0) EXPECT_LE(p.files_done(), p.files_total()) << p.DebugString();
    if (p.bytes_total() > 0) EXPECT_LE(p.bytes_done(), p.bytes_total()) << p.DebugString();
    EXPECT_LE(p.users_done(), p.users_total()) << p.DebugString();
    EXPECT_EQ(p.users_total(), 4u);
  }
  // At the end every figure is known and complete.
  EXPECT_EQ(r->progress.users_done(), 4u);
  EXPECT_EQ(r->progress.files_total(), 20u);
  EXPECT_EQ(r->progress.files_done(), 20u);
  EXPECT_EQ(r->progress.bytes_total(), 4u * (1000 + 1001 + 1002 + 1003 + 1004));
  EXPECT_EQ(r->progress.bytes_done(), r->progress.bytes_total());
  // Nothing changed: every user is found in place, nothing is transferred,
  // and the progress says all of it is done.
  const uint64_t received = counters_.bytes_received;
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counters_.bytes_received, received);
  EXPECT_EQ(r->progress.users_done(), 4u);
  EXPECT_EQ(r->progress.users_total(), 4u);
  EXPECT_EQ(r->progress.bytes_done(), r->progress.bytes_total());
}

TEST_F(SyncTest, IncrementalAfterEachKindOfChange) {
  for (int i = 0; i < 30; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), "message " + std::to_string(i));
  }
  WriteFile(Msg("alice", "new/100.h"), "fresh");
  ASSERT_TRUE(Sync().ok());
  // new delivery, new -> cur, folder move, deletion, in-place rewrite.
  WriteFile(Msg("alice", "new/101.h"), "newer");
  rename(Msg("alice", "new/100.h").c_str(), Msg("alice", "cur/100.h:2,S").c_str());
  MkdirP(Msg("alice", ".Archive/cur"));
  rename(Msg("alice", "cur/5.h:2,").c_str(), Msg("alice", ".Archive/cur/5.h:2,").c_str());
  unlink(Msg("alice", "cur/6.h:2,").c_str());
  WriteFile(Msg("alice", "dovecot.index"), "v2");
  const uint64_t before = counters_.bytes_received;
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEqualTrees();
  EXPECT_EQ(counters_.files_renamed, 2u);
  EXPECT_EQ(counters_.bytes_received - before, 5u + 2u);  // "newer", "v2"
  // The deleted message is in the quarantine, not gone.
  const std::string q =
      target_ + "/.quarantine/" + QuarantineDay(clock_.Now()) + "/alice/cur/6.h:2,";
  EXPECT_EQ(ReadFile(q), "message 6");
  // Nothing changed: the user is skipped without a manifest.
  const uint64_t manifests = counters_.manifests_fetched;
  r = Sync();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(counters_.manifests_fetched, manifests);
  EXPECT_EQ(r->users_skipped_unchanged, 1u);
}

TEST_F(SyncTest, CancelledStoreSyncResumesWithoutRecopyingFinishedUsers) {
  for (const char* u : {"u1", "u2", "u3", "u4"}) {
    WriteFile(Msg(u, "cur/1.h:2,"), std::string("mail of ") + u);
  }
  commit_group_users_ = 1;  // each user done (checkpointed) on its own
  std::atomic<bool> cancel{false};
  absl::StatusOr<StoreSyncResult> r = Sync("", nullptr, &cancel, [&](const v1::TaskProgress& p) {
    if (p.users_done() >= 2) cancel = true;
  });
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_EQ(counters_.manifests_fetched, 2u);
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->users_skipped_unchanged, 2u);
  EXPECT_EQ(counters_.manifests_fetched, 4u);  // only u3 and u4 the second time
  EXPECT_EQ(counters_.files_copied, 4u);
  ExpectEqualTrees();
}

TEST_F(SyncTest, LagIsTheAgeOfTheOldestUnreplicatedChange) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "a");
  ASSERT_TRUE(Sync().ok());
  v1::ListUsersRequest req;
  req.set_slot("s1");
  absl::StatusOr<v1::ListUsersResponse> listed = core_->ListUsers(req);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->users(0).oldest_change_ms(), 0);  // served at this generation
  WriteFile(Msg("alice", "new/2.h"), "b");
  const int64_t changed_at = clock_.NowMs();
  listed = core_->ListUsers(req);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->users(0).oldest_change_ms(), changed_at);
  clock_.Advance(absl::Seconds(42));
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->lag_ms, 42000);  // measured before this catch-up
  listed = core_->ListUsers(req);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->users(0).oldest_change_ms(), 0);
}

// A source that hangs mid-copy: the stream is given up after the stall
// limit, the run ends with the error (naming the user and the source) and
// starts no further user, which would only wait out the same limit.
TEST_F(SyncTest, AStalledSourceEndsTheRun) {
  for (const char* u : {"u1", "u2", "u3"}) {
    WriteFile(Msg(u, "cur/1.h:2,S"), std::string("one of ") + u);
    WriteFile(Msg(u, "cur/2.h:2,S"), std::string("two of ") + u);
  }
  timeouts_.stall = absl::Milliseconds(300);
  service_->fetch_after.Close();
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("1 user(s) failed"), std::string::npos) << r.status();
  EXPECT_NE(
      r.status().message().find("FetchFiles of user u1 from source slot s1: no data for 300ms"),
      std::string::npos)
      << r.status();
  EXPECT_FALSE(Exists(target_ + "/users/u2"));
  EXPECT_TRUE(service_->fetch_after.AwaitCancelled(1));

  // The source answers again: the next run completes.
  service_->fetch_after.Open();
  ASSERT_TRUE(Sync().ok());
  ExpectEqualTrees();
}

// A source whose listing hangs: the run fails after the call limit.
TEST_F(SyncTest, AHungListingFailsTheRun) {
  WriteFile(Msg("u1", "cur/1.h:2,S"), "one");
  timeouts_.call = absl::Milliseconds(300);
  service_->list_users.Close();
  absl::StatusOr<StoreSyncResult> r = Sync();
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("ListUsers on source slot s1: no complete answer within"),
            std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace slotkeeper::sync
