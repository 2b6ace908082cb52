// One user's sync end to end (through SyncStore, as the agent runs it):
// real files under TEST_TMPDIR, a real gRPC source on 127.0.0.1 port 0, a
// FakeClock. Full manifests; delta_sync_test.cc covers the delta path.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "gtest/gtest.h"
#include "replicator/sync/hash_cache.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/peer_client.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

TEST_F(SyncTest, FullSyncEqualsSourceByteForByte) {
  WriteFile(Msg("alice", "cur/1.h:2,S"), "Subject: one\r\n\r\nbody", 1700000001, 0600);
  WriteFile(Msg("alice", "new/2.h"), std::string(3 << 20, 'x'), 1700000002, 0640);
  WriteFile(Msg("alice", ".Sent/cur/3.h:2,S"), "sent", 1700000003);
  WriteFile(Msg("alice", "dovecot.index"), "idx", 1700000004, 0644);
  WriteFile(Msg("bob", "cur/4.h:2,"), "", 1700000005);
  // An empty folder must exist on the replica too.
  for (const char* d : {"/.Drafts/cur", "/.Drafts/new", "/.Drafts/tmp"}) {
    MkdirP(source_ + "/users/alice" + d);
  }
  chmod((source_ + "/users/alice/.Drafts").c_str(), 0700);
  // A delivery in progress (Maildir tmp/) is not copied.
  WriteFile(Msg("bob", "tmp/5.h"), "half written", 1700000006);
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(Exists(target_ + "/users/bob/tmp/5.h"));
  EXPECT_TRUE(Exists(target_ + "/users/bob/tmp"));
  unlink(Msg("bob", "tmp/5.h").c_str());
  ExpectEqualTrees();
  EXPECT_EQ(counters_.files_copied, 5u);
  EXPECT_EQ(r->progress.users_done(), 2u);
  EXPECT_EQ(r->progress.files_total(), 5u);
}

TEST_F(SyncTest, TheUserDirectoryKeepsItsMode) {
  WriteFile(Msg("alice", "cur/1.h:2,S"), "one");
  MkdirP(source_ + "/users/empty");
  ASSERT_EQ(chmod((source_ + "/users/alice").c_str(), 0700), 0);
  ASSERT_EQ(chmod((source_ + "/users/empty").c_str(), 0750), 0);
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  struct stat st;
  ASSERT_EQ(stat((target_ + "/users/alice").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(stat((target_ + "/users/empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  ExpectEqualTrees();
}

TEST_F(SyncTest, FullSyncWithBatchAndPerFileDurability) {
  for (Durability d : {Durability::kPerBatch, Durability::kPerFile}) {
    durability_ = d;
    WriteFile(Msg("u" + std::to_string(static_cast<int>(d)), "cur/1.h:2,"), "x");
    WriteFile(Msg("u" + std::to_string(static_cast<int>(d)), ".Sent/cur/2.h:2,S"), "y");
    ASSERT_TRUE(Sync().ok());
    ExpectEqualTrees();
  }
}

TEST_F(SyncTest, FlagChangeSendsZeroBytes) {
  WriteFile(Msg("alice", "cur/1.h:2,"), std::string(5000, 'm'));
  ASSERT_TRUE(Sync().ok());
  const uint64_t before = counters_.bytes_received;
  ASSERT_EQ(rename(Msg("alice", "cur/1.h:2,").c_str(), Msg("alice", "cur/1.h:2,RS").c_str()), 0);
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counters_.bytes_received, before);
  EXPECT_EQ(counters_.files_renamed, 1u);
  EXPECT_EQ(counters_.files_quarantined, 0u);
  ExpectEqualTrees();
  // The replica remembered the renamed file's hash under the new name and
  // forgot the old name: its next scan reads nothing.
  RocksHashCache target_cache(target_db_.get());
  struct stat st;
  ASSERT_EQ(stat((target_ + "/users/alice/cur/1.h:2,RS").c_str(), &st), 0);
  const FileStamp stamp{static_cast<uint64_t>(st.st_size),
                        st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec, st.st_ino};
  EXPECT_TRUE(target_cache.Lookup(HashCacheKey("t1", "alice", "cur/1.h:2,RS"), stamp));
  EXPECT_FALSE(target_cache.Lookup(HashCacheKey("t1", "alice", "cur/1.h:2,"), stamp));
  ScanStats stats;
  ASSERT_TRUE(ScanUser(target_root_.get(), "t1", "alice", &target_cache, &stats).ok());
  EXPECT_EQ(stats.files_hashed, 0u);
}

TEST_F(SyncTest, AFlagChangeIsOneRenameAndNoMetadataCall) {
  for (int i = 0; i < 3; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), "message " + std::to_string(i),
              1700000000 + i);
  }
  ASSERT_TRUE(Sync().ok());
  ASSERT_EQ(rename(Msg("alice", "cur/0.h:2,").c_str(), Msg("alice", "cur/0.h:2,S").c_str()), 0);
  ASSERT_EQ(rename(Msg("alice", "cur/1.h:2,").c_str(), Msg("alice", "cur/1.h:2,RS").c_str()), 0);
  CountingFs fs;
  ASSERT_TRUE(Sync("", &fs).ok());
  ExpectEqualTrees();
  EXPECT_EQ(counters_.files_renamed, 2u);
  EXPECT_EQ(fs.no_replace_renames, 2);  // straight to the new name
  EXPECT_EQ(fs.renames, 0);             // no temporary name
  EXPECT_EQ(fs.metadata, 0);            // the rename kept mtime and mode
  // A rename whose mtime also changed at the source gets it set.
  ASSERT_EQ(rename(Msg("alice", "cur/2.h:2,").c_str(), Msg("alice", "cur/2.h:2,T").c_str()), 0);
  WriteFile(Msg("alice", "cur/2.h:2,T"), "message 2", 1700000099);
  CountingFs fs2;
  ASSERT_TRUE(Sync("", &fs2).ok());
  ExpectEqualTrees();
  EXPECT_EQ(fs2.metadata, 1);
}

TEST_F(SyncTest, SwappedContentGoesThroughTemporaryNames) {
  WriteFile(Msg("alice", "dovecot.index"), "content A", 1700000001);
  WriteFile(Msg("alice", "dovecot.index.log"), "content B", 1700000001);
  ASSERT_TRUE(Sync().ok());
  // Swap the two files' contents at the source (same mtimes).
  ASSERT_EQ(rename(Msg("alice", "dovecot.index").c_str(), Msg("alice", "swap").c_str()), 0);
  ASSERT_EQ(
      rename(Msg("alice", "dovecot.index.log").c_str(), Msg("alice", "dovecot.index").c_str()), 0);
  ASSERT_EQ(rename(Msg("alice", "swap").c_str(), Msg("alice", "dovecot.index.log").c_str()), 0);
  const uint64_t before = counters_.bytes_received;
  CountingFs fs;
  ASSERT_TRUE(Sync("", &fs).ok());
  ExpectEqualTrees();
  EXPECT_EQ(counters_.bytes_received, before);  // both by rename
  EXPECT_EQ(counters_.files_quarantined, 0u);
  EXPECT_EQ(fs.renames, 2);  // each donor to a temporary name first
  EXPECT_EQ(ReadFile(target_ + "/users/alice/dovecot.index"), "content B");
  // Each path was both vacated and filled: the cache keeps the new entries
  // (forgets apply before stores), so the next scan reads nothing.
  RocksHashCache target_cache(target_db_.get());
  ScanStats stats;
  ASSERT_TRUE(ScanUser(target_root_.get(), "t1", "alice", &target_cache, &stats).ok());
  EXPECT_EQ(stats.files_hashed, 0u);
}

TEST_F(SyncTest, CorruptedChunkIsNeverInstalled) {
  WriteFile(Msg("alice", "cur/1.h:2,"), std::string(10000, 'a'));
  FaultyFs fs;
  fs.corrupt_write = 0;
  absl::StatusOr<StoreSyncResult> r = Sync("", &fs);
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/1.h:2,"));
  EXPECT_EQ(counters_.files_failed_verify, 1u);
  for (const auto& [path, content] : Tree(target_ + "/users", false)) {
    ADD_FAILURE() << "left behind: " << path;
  }
  // Not checkpointed: a clean retry installs it.
  ASSERT_TRUE(Sync().ok());
  ExpectEqualTrees();
}

TEST_F(SyncTest, DiskFullFailsCleanly) {
  for (int i = 0; i < 6; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), std::string(4000, 'a' + i));
  }
  FaultyFs fs;
  fs.byte_budget = 10000;  // two and a half files
  absl::StatusOr<StoreSyncResult> r = Sync("", &fs);
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  // Whatever is visible is complete and correct; no temp files remain.
  for (const auto& [path, content] : Tree(target_ + "/users", false)) {
    EXPECT_EQ(path.find(".slotsync-"), std::string::npos) << path;
    EXPECT_EQ(content.substr(0, 4000).size(), 4000u) << path;
    EXPECT_EQ(ReadFile(target_ + "/users/" + path), ReadFile(source_ + "/users/" + path));
  }
  ASSERT_TRUE(Sync().ok());
  ExpectEqualTrees();
}

// Sets `cancel` once `limit` writes went through: an interrupted transfer.
class CancelAfterWritesFs : public TargetFs {
 public:
  CancelAfterWritesFs(std::atomic<bool>* cancel, int limit) : cancel_(cancel), limit_(limit) {}
  absl::Status Write(int fd, const char* data, size_t n) override {
    absl::Status s = TargetFs::Write(fd, data, n);
    if (++writes_ >= limit_) *cancel_ = true;
    return s;
  }

 private:
  std::atomic<bool>* const cancel_;
  const int limit_;
  std::atomic<int> writes_{0};
};

TEST_F(SyncTest, AnInterruptedFetchResumesWithinTheFile) {
  std::string big(3 << 20, '\0');  // 12 chunks of 256 KiB
  uint32_t x = 12345;
  for (char& c : big) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 24);
  }
  WriteFile(Msg("alice", "cur/1.h:2,S"), big);
  std::atomic<bool> cancel{false};
  CancelAfterWritesFs fs(&cancel, 4);
  absl::StatusOr<StoreSyncResult> r = Sync("", &fs, &cancel);
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/1.h:2,S"));
  const uint64_t first = counters_.bytes_received;
  EXPECT_EQ(first, 4u << 18);  // four chunks arrived and were kept
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEqualTrees();
  // The second sync kept what had arrived and fetched only the rest.
  EXPECT_EQ(counters_.bytes_resumed, first);
  EXPECT_EQ(counters_.bytes_received, big.size());
  EXPECT_EQ(counters_.files_quarantined, 0u);
}

TEST_F(SyncTest, LeftoverTempFilesOfAKilledSyncAreQuarantinedAndTheSyncCompletes) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "mail one");
  WriteFile(Msg("alice", ".Sent/cur/2.h:2,S"), "mail two");
  // What a sync killed mid-file leaves behind on the target.
  WriteFile(target_ + "/users/alice/cur/.slotsync-4242-7", "half a mess");
  WriteFile(target_ + "/users/alice/.Sent/cur/.slotsync-4242-8", "half");
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->failed_users.empty()) << r->failed_users.front();
  EXPECT_FALSE(Exists(target_ + "/users/alice/cur/.slotsync-4242-7"));
  ExpectEqualTrees();
  // Kept, not deleted.
  bool kept = false;
  for (const auto& [path, content] : Tree(target_ + "/.quarantine", false)) {
    kept |= content.rfind("half a mess|", 0) == 0;
  }
  EXPECT_TRUE(kept);
}

TEST_F(SyncTest, MassDeletionGuardKeepsEverything) {
  for (int i = 0; i < 40; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), "m");
  }
  ASSERT_TRUE(Sync().ok());
  const auto before = Tree(target_ + "/users");
  for (int i = 0; i < 20; ++i) {
    unlink(Msg("alice", "cur/" + std::to_string(i) + ".h:2,").c_str());
  }
  WriteFile(Msg("alice", "new/99.h"), "new mail");
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->blocked_users.size(), 1u);
  EXPECT_EQ(r->blocked_users[0], "alice");
  EXPECT_EQ(Tree(target_ + "/users"), before);
  EXPECT_FALSE(Exists(target_ + "/.quarantine"));
}

TEST_F(SyncTest, ReplicaRefusesSymlinkPlantedInItsTree) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "ok");
  MkdirP(target_ + "/users/alice");
  MkdirP(base_ + "/outside");
  ASSERT_EQ(symlink((base_ + "/outside").c_str(), (target_ + "/users/alice/cur").c_str()), 0);
  absl::StatusOr<StoreSyncResult> r = Sync();
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(Exists(base_ + "/outside/1.h:2,"));
}

}  // namespace
}  // namespace slotkeeper::sync
