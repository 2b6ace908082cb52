// The data path's safety rules seen through whole syncs (SyncStore, real
// files, a real gRPC source, a FakeClock): in-place updates of index files,
// a full disk while a file is replaced, owners and modes, and the
// mass-deletion guard's memory.
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "replicator/sync/guard_state.h"
#include "replicator/sync/quarantine_index.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

// Records the owners given without changing them (a test runs in a user
// namespace where even root cannot give files to an unmapped user).
class OwnerRecordingFs : public TargetFs {
 public:
  absl::Status SetOwner(int, const std::string&, uint32_t uid, uint32_t gid) override {
    absl::MutexLock lock(&mu_);
    owners_.push_back({uid, gid});
    return absl::OkStatus();
  }
  std::vector<std::pair<uint32_t, uint32_t>> owners() {
    absl::MutexLock lock(&mu_);
    return owners_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<uint32_t, uint32_t>> owners_ ABSL_GUARDED_BY(mu_);
};

// Fails every second name (link) with ENOSPC: a full disk while the old
// version of a replaced file is kept aside.
class NoLinkFs : public TargetFs {
 public:
  absl::Status Link(int, const std::string&, int, const std::string&) override {
    return ErrnoStatus(ENOSPC, "link");
  }
};

class SafetySyncTest : public SyncTest {
 protected:
  QuarantineTotals Quarantined() { return QuarantineIndex(target_db_.get()).Totals("t1"); }
  std::vector<v1::QuarantineItem> Items() {
    std::vector<v1::QuarantineItem> out;
    QuarantineIndex(target_db_.get()).ForEach("t1", "", [&](const QuarantineRecord& r) {
      out.push_back(r.item());
      return true;
    });
    return out;
  }
  absl::StatusOr<StoreSyncResult> SyncWith(const SyncOptions& user, TargetFs* fs = nullptr) {
    const PeerClient source(stub_.get(), "s1", "", timeouts_);
    StoreSyncContext ctx;
    ctx.source = &source;
    ctx.target_root = target_root_.get();
    ctx.target_slot = "t1";
    ctx.options.parallel_users = 1;
    ctx.options.user = user;
    ctx.db = target_db_.get();
    ctx.fs = fs != nullptr ? fs : DefaultTargetFs();
    ctx.clock = &clock_;
    ctx.counters = &counters_;
    return SyncStore(ctx);
  }
};

// A mail server's 1 MiB index rewritten six times: the quarantine keeps one
// old version, not six.
TEST_F(SafetySyncTest, InPlaceUpdatesOfAnIndexFileKeepOneOldVersion) {
  WriteFile(Msg("alice", "cur/1.h:2,S"), "mail");
  for (int i = 0; i < 7; ++i) {
    // Another size each time: the source sees a new version whatever the
    // timestamp granularity.
    WriteFile(Msg("alice", "dovecot.index"),
              std::string((1 << 20) + i, static_cast<char>('a' + i)));
    ASSERT_TRUE(Sync().ok());
    clock_.Advance(absl::Minutes(5));
  }
  ExpectEqualTrees();
  const QuarantineTotals totals = Quarantined();
  EXPECT_EQ(totals.items, 1u);
  EXPECT_LE(totals.bytes, (1u << 20) + 5);
  std::vector<v1::QuarantineItem> items = Items();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].path(), "dovecot.index");
  EXPECT_EQ(items[0].reason(), "overwritten");
  // The version kept is the one before the newest, complete.
  EXPECT_EQ(ReadFile(target_ + "/.quarantine/" + items[0].id()), std::string((1 << 20) + 5, 'f'));
}

// The disk fills while an index file is replaced: the old version stays in
// place, whole, and no temporary file is left; the next sync completes.
TEST_F(SafetySyncTest, AFullDiskNeverLeavesAFileMissingOrTruncated) {
  WriteFile(Msg("alice", "dovecot.index"), std::string(5000, 'o'));
  ASSERT_TRUE(Sync().ok());
  WriteFile(Msg("alice", "dovecot.index"), std::string(6000, 'n'));
  FaultyFs full;
  full.byte_budget = 100;
  EXPECT_TRUE(absl::IsResourceExhausted(Sync("", &full).status()));
  EXPECT_EQ(ReadFile(target_ + "/users/alice/dovecot.index"), std::string(5000, 'o'));
  NoLinkFs no_link;  // the new version is written, keeping the old one fails
  EXPECT_TRUE(absl::IsResourceExhausted(Sync("", &no_link).status()));
  EXPECT_EQ(ReadFile(target_ + "/users/alice/dovecot.index"), std::string(5000, 'o'));
  for (const auto& [path, content] : Tree(target_ + "/users", false)) {
    EXPECT_EQ(path.find(".slotsync-"), std::string::npos) << path;
  }
  ASSERT_TRUE(Sync().ok());  // space again
  ExpectEqualTrees();
}

// Owners: the configured mail user's, or the source's numeric owner and
// group; modes never carry setuid, setgid or sticky bits.
TEST_F(SafetySyncTest, CopiesGetTheMailUserAndNoSpecialModeBits) {
  WriteFile(Msg("alice", "cur/1.h:2,S"), "mail");
  ASSERT_EQ(chmod(Msg("alice", "cur/1.h:2,S").c_str(), 06755), 0);
  SyncOptions options;
  options.owner.mode = OwnerOptions::Mode::kFixed;
  options.owner.uid = 4321;
  options.owner.gid = 4322;
  OwnerRecordingFs fs;
  absl::StatusOr<StoreSyncResult> r = SyncWith(options, &fs);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::pair<uint32_t, uint32_t>> owners = fs.owners();
  // cur, the message, the user directory.
  ASSERT_EQ(owners.size(), 3u);
  for (const auto& [uid, gid] : owners) {
    EXPECT_EQ(uid, 4321u);
    EXPECT_EQ(gid, 4322u);
  }
  struct stat st;
  ASSERT_EQ(stat((target_ + "/users/alice/cur/1.h:2,S").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  // The source's owner, for a user copied anew.
  WriteFile(Msg("bob", "cur/2.h:2,S"), "mail");
  ASSERT_EQ(stat(Msg("bob", "cur/2.h:2,S").c_str(), &st), 0);
  options.owner.mode = OwnerOptions::Mode::kSource;
  OwnerRecordingFs source_owner;
  r = SyncWith(options, &source_owner);
  ASSERT_TRUE(r.ok()) << r.status();
  owners = source_owner.owners();
  ASSERT_FALSE(owners.empty());
  for (const auto& [uid, gid] : owners) {
    EXPECT_EQ(uid, st.st_uid);
    EXPECT_EQ(gid, st.st_gid);
  }
}

// A hostile source's mode bits: the replica masks them itself.
TEST(TargetFsModeTest, SetMetadataNeverSetsSpecialBits) {
  const std::string dir = Tmp() + "/modes";
  MkdirP(dir);
  WriteFile(dir + "/f", "x");
  absl::StatusOr<Fd> fd = OpenRootDir(dir);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(DefaultTargetFs()->SetMetadata(fd->get(), "f", 0, 07755).ok());
  struct stat st;
  ASSERT_EQ(stat((dir + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

// A source that rewrites every message with garbage: blocked, remembered
// across restarts, until an operator unblocks; then the old contents are
// in the quarantine.
TEST_F(SafetySyncTest, RewritingEveryMessageBlocksUntilUnblocked) {
  for (int i = 0; i < 20; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,S"), "mail " + std::to_string(i));
  }
  ASSERT_TRUE(Sync().ok());
  const auto before = Tree(target_ + "/users");
  for (int i = 0; i < 20; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,S"), "garbage!" + std::to_string(i));
  }
  for (int run = 0; run < 2; ++run) {  // the second as after an agent restart
    absl::StatusOr<StoreSyncResult> r = Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->blocked_users, std::vector<std::string>{"alice"});
    EXPECT_EQ(Tree(target_ + "/users"), before);
  }
  GuardStore guards(target_db_.get());
  std::map<std::string, std::string> blocked = guards.Blocked("t1");
  ASSERT_EQ(blocked.count("alice"), 1u);
  EXPECT_NE(blocked["alice"].find("20 message(s)"), std::string::npos) << blocked["alice"];
  ASSERT_TRUE(guards.Unblock("t1", "alice").ok());
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->blocked_users.empty());
  ExpectEqualTrees();
  EXPECT_TRUE(guards.Blocked("t1").empty());
  std::vector<v1::QuarantineItem> items = Items();
  ASSERT_EQ(items.size(), 20u);
  for (const v1::QuarantineItem& item : items) {
    EXPECT_EQ(item.reason(), "overwritten");
    EXPECT_EQ(ReadFile(target_ + "/.quarantine/" + item.id()).substr(0, 5), "mail ");
  }
}

// Two messages of a hundred deleted every minute: each step is small, the
// sum within the guard's window is not.
TEST_F(SafetySyncTest, SlowDeletionIsBlockedWhenItsSumPassesTheShare) {
  for (int i = 0; i < 100; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,S"), "m");
  }
  ASSERT_TRUE(Sync().ok());
  int blocked_at = -1;
  for (int step = 1; step <= 10 && blocked_at < 0; ++step) {
    clock_.Advance(absl::Minutes(1));
    for (int i = 2 * (step - 1); i < 2 * step; ++i) {
      ASSERT_EQ(unlink(Msg("alice", "cur/" + std::to_string(i) + ".h:2,S").c_str()), 0);
    }
    absl::StatusOr<StoreSyncResult> r = Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    if (!r->blocked_users.empty()) blocked_at = step;
  }
  // 10% of 100: five steps of two pass, the sixth (12 removed) does not.
  EXPECT_EQ(blocked_at, 6);
  EXPECT_EQ(Quarantined().items, 10u);
  EXPECT_TRUE(Exists(target_ + "/users/alice/cur/10.h:2,S"));
}

}  // namespace
}  // namespace slotkeeper::sync
