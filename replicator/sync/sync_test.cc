// End-to-end data path tests: real files under TEST_TMPDIR, a real gRPC
// server on 127.0.0.1 port 0, a FakeClock.
#include <errno.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/grpc_util.h"
#include "gtest/gtest.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/peer_service.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/store_sync.h"
#include "replicator/sync/sync_test_util.h"
#include "replicator/sync/user_sync.h"
#include "rocksdb/db.h"

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

// Counts the durability, rename and metadata calls of the data path.
class CountingFs : public TargetFs {
 public:
  std::atomic<int> fsyncs{0}, syncfs{0}, renames{0}, no_replace_renames{0}, metadata{0};
  absl::Status Sync(int fd) override {
    fsyncs++;
    return TargetFs::Sync(fd);
  }
  absl::Status SyncFilesystem(int fd) override {
    syncfs++;
    return TargetFs::SyncFilesystem(fd);
  }
  absl::Status Rename(int from_dir, const std::string& from, int to_dir,
                      const std::string& to) override {
    renames++;
    return TargetFs::Rename(from_dir, from, to_dir, to);
  }
  absl::Status RenameNoReplace(int from_dir, const std::string& from, int to_dir,
                               const std::string& to) override {
    no_replace_renames++;
    return TargetFs::RenameNoReplace(from_dir, from, to_dir, to);
  }
  absl::Status SetMetadata(int dirfd, const std::string& name, int64_t mtime_ns,
                           uint32_t mode) override {
    metadata++;
    return TargetFs::SetMetadata(dirfd, name, mtime_ns, mode);
  }
};

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

TEST(TokenBucketTest, HoldsTheRateOnTheClock) {
  FakeClock clock;
  TokenBucket bucket(/*bytes_per_second=*/1000, /*burst_bytes=*/1000, &clock);
  bucket.Acquire(1000);  // the burst goes through at once
  std::atomic<bool> done{false};
  std::thread taker([&] {
    bucket.Acquire(500);  // needs half a second of tokens
    done = true;
  });
  clock.BlockUntilSleepers(1);
  clock.Advance(absl::Milliseconds(499));
  clock.BlockUntilSleepers(1);  // still waiting
  EXPECT_FALSE(done);
  clock.Advance(absl::Milliseconds(1));
  taker.join();
  EXPECT_TRUE(done);
  // No limit: never waits (a sleep would block this test forever).
  TokenBucket unlimited(0, 0, &clock);
  unlimited.Acquire(1 << 30);
}

TEST(TargetFsTest, RenameNoReplaceNeverReplaces) {
  const std::string dir = Tmp() + "/no_replace";
  MkdirP(dir);
  WriteFile(dir + "/a", "a");
  WriteFile(dir + "/b", "b");
  absl::StatusOr<Fd> fd = OpenRootDir(dir);
  ASSERT_TRUE(fd.ok());
  absl::Status s = DefaultTargetFs()->RenameNoReplace(fd->get(), "a", fd->get(), "b");
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(ReadFile(dir + "/a"), "a");
  EXPECT_EQ(ReadFile(dir + "/b"), "b");
  EXPECT_TRUE(DefaultTargetFs()->RenameNoReplace(fd->get(), "a", fd->get(), "c").ok());
  EXPECT_EQ(ReadFile(dir + "/c"), "a");
  EXPECT_FALSE(Exists(dir + "/a"));
}

TEST_F(SyncTest, MemoryCacheRecognisesRenamedFiles) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "content");
  absl::StatusOr<Fd> root = OpenRootDir(source_);
  ASSERT_TRUE(root.ok());
  MemoryHashCache cache(nullptr, 100);
  ScanStats first, second;
  ASSERT_TRUE(ScanUser(root->get(), "x", "alice", &cache, &first).ok());
  rename(Msg("alice", "cur/1.h:2,").c_str(), Msg("alice", "cur/1.h:2,S").c_str());
  ASSERT_TRUE(ScanUser(root->get(), "x", "alice", &cache, &second).ok());
  EXPECT_EQ(first.files_hashed, 1u);
  EXPECT_EQ(second.files_hashed, 0u);
}

TEST(MemoryHashCacheTest, EqualStampsInOtherScopesDoNotShareAHash) {
  // Two slots on two filesystems can hold files with equal inode numbers,
  // sizes and mtimes; their hashes must not be taken for each other.
  MemoryHashCache cache(nullptr, 100);
  const FileStamp stamp{100, 1'700'000'000'000'000'000, 12};
  cache.Store(HashCacheKey("slot-a", "alice", "cur/1"), stamp, "hash-a");
  EXPECT_EQ(cache.Lookup(HashCacheKey("slot-b", "alice", "cur/1"), stamp), std::nullopt);
  EXPECT_EQ(cache.Lookup(HashCacheKey("slot-a", "bob", "cur/1"), stamp), std::nullopt);
  // Within one user's tree a rename keeps the stamp and the hash.
  EXPECT_EQ(cache.Lookup(HashCacheKey("slot-a", "alice", "cur/1:2,S"), stamp), "hash-a");
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

TEST_F(SyncTest, UnchangedFilesAreNeverHashedTwice) {
  for (int i = 0; i < 10; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i)), "m" + std::to_string(i));
  }
  absl::StatusOr<Fd> root = OpenRootDir(source_);
  ASSERT_TRUE(root.ok());
  RocksHashCache cache(source_db_.get());
  ScanStats first, second;
  ASSERT_TRUE(ScanUser(root->get(), "x", "alice", &cache, &first).ok());
  ASSERT_TRUE(ScanUser(root->get(), "x", "alice", &cache, &second).ok());
  EXPECT_EQ(first.files_hashed, 10u);
  EXPECT_EQ(second.files_hashed, 0u);
  WriteFile(Msg("alice", "cur/3"), "changed", 1700000099);
  ScanStats third;
  ASSERT_TRUE(ScanUser(root->get(), "x", "alice", &cache, &third).ok());
  EXPECT_EQ(third.files_hashed, 1u);
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

TEST(QuarantineTest, TempPrefixOnlyExemptsTheLeftoverItself) {
  FakeClock clock;
  const std::string root_dir = Tmp() + "/quarantine_paths";
  MkdirP(root_dir + "/users/alice/cur");
  absl::StatusOr<Fd> root = OpenRootDir(root_dir);
  ASSERT_TRUE(root.ok());
  for (const char* bad : {"../bob/.slotsync-1-1", ".slotsync-1-1/x", "cur/.slotsync-", "/abs"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        QuarantineFile(root->get(), "alice", bad, &clock, DefaultTargetFs())))
        << bad;
  }
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

TEST_F(SyncTest, EscapeAttemptsAreRefused) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "ok");
  WriteFile(base_ + "/secret", "secret");
  ASSERT_EQ(symlink((base_ + "/secret").c_str(), Msg("alice", "cur/2.h:2,").c_str()), 0);
  ASSERT_EQ(symlink(base_.c_str(), Msg("alice", "escape").c_str()), 0);
  // The manifest never lists symlinks.
  uint64_t gen = 0;
  absl::StatusOr<Manifest> m = PeerClient(stub_.get(), "s1").GetManifest("alice", &gen);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> files;
  for (const ManifestEntry& e : *m) {
    if (!e.directory()) files.push_back(e.path());
  }
  EXPECT_EQ(files, std::vector<std::string>{"cur/1.h:2,"});
  // FetchFiles refuses escaping paths outright and symlinks per file.
  for (const char* bad : {"../bob/cur/1", "/etc/passwd", "cur//x"}) {
    v1::FetchFilesRequest req;
    req.set_slot("s1");
    req.set_user("alice");
    req.add_files()->set_path(bad);
    grpc::ClientContext ctx;
    auto reader = stub_->FetchFiles(&ctx, req);
    v1::FileChunk chunk;
    while (reader->Read(&chunk)) ADD_FAILURE() << "data served for " << bad;
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  for (const char* link : {"cur/2.h:2,", "escape/secret"}) {
    v1::FetchFilesRequest req;
    req.set_slot("s1");
    req.set_user("alice");
    req.add_files()->set_path(link);
    grpc::ClientContext ctx;
    auto reader = stub_->FetchFiles(&ctx, req);
    v1::FileChunk chunk;
    std::string data;
    bool error = false;
    while (reader->Read(&chunk)) {
      data += chunk.data();
      error |= !chunk.error().empty();
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_TRUE(error) << link;
    EXPECT_EQ(data, "") << link;
  }
  // User names with '/' or "..".
  for (const char* user : {"alice/../bob", "..", "a/b"}) {
    grpc::ClientContext ctx;
    v1::GetManifestRequest req;
    req.set_slot("s1");
    req.set_user(user);
    auto reader = stub_->GetManifest(&ctx, req);
    v1::ManifestChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A full sync copies only the real file.
  ASSERT_TRUE(Sync().ok());
  EXPECT_EQ(Tree(target_ + "/users", false).size(), 1u);
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

TEST_F(SyncTest, QuarantinePurgeKeepsRecentDays) {
  WriteFile(target_ + "/users/alice/cur/1", "x");
  ASSERT_TRUE(
      QuarantineFile(target_root_.get(), "alice", "cur/1", &clock_, DefaultTargetFs()).ok());
  clock_.Advance(absl::Hours(24 * 3));
  absl::StatusOr<int> purged = PurgeQuarantine(target_root_.get(), 7, &clock_);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);
  clock_.Advance(absl::Hours(24 * 5));
  purged = PurgeQuarantine(target_root_.get(), 7, &clock_);
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 1);
}

TEST_F(SyncTest, GenerationsChangeOnlyWhenTheTreeChanges) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "a");
  v1::ListUsersRequest req;
  req.set_slot("s1");
  absl::StatusOr<v1::ListUsersResponse> a = core_->ListUsers(req);
  absl::StatusOr<v1::ListUsersResponse> b = core_->ListUsers(req);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->users(0).generation(), b->users(0).generation());
  rename(Msg("alice", "cur/1.h:2,").c_str(), Msg("alice", "cur/1.h:2,S").c_str());
  absl::StatusOr<v1::ListUsersResponse> c = core_->ListUsers(req);
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->users(0).generation(), b->users(0).generation());
  EXPECT_EQ(c->instance_id(), "inst-1");
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

TEST_F(SyncTest, InotifyTracksNewFoldersAndImmediateChanges) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "a");
  v1::ListUsersRequest req;
  req.set_slot("s1");
  auto gen = [&]() {
    absl::StatusOr<v1::ListUsersResponse> r = core_->ListUsers(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->users_size() > 0 ? r->users(0).generation() : 0;
  };
  uint64_t g0 = gen();
  EXPECT_EQ(gen(), g0);
  MkdirP(Msg("alice", ".New/cur"));
  uint64_t g1 = gen();
  EXPECT_GT(g1, g0);
  EXPECT_EQ(gen(), g1);
  // A file in the folder created after the watches were set up.
  WriteFile(Msg("alice", ".New/cur/2.h:2,"), "b");
  uint64_t g2 = gen();
  EXPECT_GT(g2, g1);
  // Changes in quick succession are each seen (no timestamp granularity).
  rename(Msg("alice", ".New/cur/2.h:2,").c_str(), Msg("alice", ".New/cur/2.h:2,S").c_str());
  EXPECT_GT(gen(), g2);
}

}  // namespace
}  // namespace slotkeeper::sync
