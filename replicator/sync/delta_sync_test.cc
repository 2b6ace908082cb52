// Delta manifests end to end: the source's change tracker history, the
// GetManifest delta answer over real gRPC on 127.0.0.1 port 0, and the
// replica applying it, always checked against the source byte for byte.
#include <stdio.h>
#include <sys/stat.h>

#include <functional>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "replicator/sync/checkpoint_store.h"
#include "replicator/sync/quarantine.h"
#include "replicator/sync/sync_test_util.h"

namespace slotkeeper::sync {
namespace {

class DeltaSyncTest : public SyncTest {
 protected:
  void SetUp() override {
    SyncTest::SetUp();
    use_delta_ = true;
  }

  // Lets the source's tracker drain its events into a generation of their
  // own, as a replica's ListUsers does between changes.
  void List() {
    v1::ListUsersRequest req;
    req.set_slot("s1");
    ASSERT_TRUE(core_->ListUsers(req).ok());
  }

  uint64_t SourceGeneration(const std::string& user) {
    v1::ListUsersRequest req;
    req.set_slot("s1");
    absl::StatusOr<v1::ListUsersResponse> r = core_->ListUsers(req);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    for (const v1::UserSummary& u : r->users()) {
      if (u.user() == user) return u.generation();
    }
    return 0;
  }

  // Syncs and expects the delta path (no full manifest, no fallback).
  void SyncByDelta() {
    const uint64_t deltas = counters_.delta_manifests;
    const uint64_t manifests = counters_.manifests_fetched;
    const uint64_t fallbacks = counters_.delta_fallbacks;
    absl::StatusOr<StoreSyncResult> r = Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(counters_.delta_manifests, deltas + 1);
    EXPECT_EQ(counters_.manifests_fetched, manifests);
    EXPECT_EQ(counters_.delta_fallbacks, fallbacks);
    ExpectEqualTrees();
  }

  // Syncs and expects a delta to be refused and the full path taken, for
  // `users` users.
  void SyncByFallback(uint64_t users = 1) {
    const uint64_t deltas = counters_.delta_manifests;
    const uint64_t manifests = counters_.manifests_fetched;
    const uint64_t fallbacks = counters_.delta_fallbacks;
    absl::StatusOr<StoreSyncResult> r = Sync();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(counters_.delta_manifests, deltas);
    EXPECT_EQ(counters_.manifests_fetched, manifests + users);
    EXPECT_EQ(counters_.delta_fallbacks, fallbacks + users);
    ExpectEqualTrees();
  }

  void Populate() {
    for (int i = 0; i < 30; ++i) {
      WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), "message " + std::to_string(i));
    }
    WriteFile(Msg("alice", "new/100.h"), "fresh");
    WriteFile(Msg("alice", ".Archive/cur/200.h:2,S"), "archived");
    MkdirP(Msg("alice", ".Archive/new"));
    MkdirP(Msg("alice", ".Archive/tmp"));
    MkdirP(Msg("alice", "tmp"));
    WriteFile(Msg("alice", "dovecot.index"), "v1");
    WriteFile(Msg("bob", "cur/1.h:2,"), "bob's");
    absl::StatusOr<StoreSyncResult> r = Sync();  // no checkpoint yet: full
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(counters_.delta_manifests, 0u);
    ExpectEqualTrees();
  }

  bool Rename(const std::string& user, const std::string& from, const std::string& to) {
    return rename(Msg(user, from).c_str(), Msg(user, to).c_str()) == 0;
  }
};

TEST_F(DeltaSyncTest, DeltaEqualsSourceAfterEachKindOfChange) {
  Populate();
  // Flag change: a rename, zero bytes over the network.
  uint64_t bytes = counters_.bytes_received;
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,RS"));
  SyncByDelta();
  EXPECT_EQ(counters_.bytes_received, bytes);
  EXPECT_EQ(counters_.files_renamed, 1u);
  EXPECT_EQ(counters_.files_quarantined, 0u);

  // new/ -> cur/.
  ASSERT_TRUE(Rename("alice", "new/100.h", "cur/100.h:2,S"));
  SyncByDelta();
  EXPECT_EQ(counters_.bytes_received, bytes);
  EXPECT_EQ(counters_.files_renamed, 2u);

  // Folder move into an existing folder.
  ASSERT_TRUE(Rename("alice", "cur/5.h:2,", ".Archive/cur/5.h:2,"));
  SyncByDelta();
  EXPECT_EQ(counters_.bytes_received, bytes);
  EXPECT_EQ(counters_.files_renamed, 3u);

  // Delivery the Maildir way: written in tmp/, renamed into new/.
  WriteFile(Msg("alice", "tmp/300.h"), "delivered");
  ASSERT_TRUE(Rename("alice", "tmp/300.h", "new/300.h"));
  SyncByDelta();
  EXPECT_EQ(counters_.bytes_received, bytes + 9);
  bytes = counters_.bytes_received;

  // Deletion: into the replica's quarantine, never gone.
  ASSERT_EQ(unlink(Msg("alice", "cur/6.h:2,").c_str()), 0);
  SyncByDelta();
  EXPECT_EQ(counters_.files_quarantined, 1u);
  EXPECT_EQ(ReadFile(target_ + "/.quarantine/" + QuarantineDay(clock_.Now()) + "/alice/cur/6.h:2,"),
            "message 6");

  // In-place rewrite of a non-message file (same inode).
  WriteFile(Msg("alice", "dovecot.index"), "v2", 1700000100);
  SyncByDelta();
  EXPECT_EQ(counters_.bytes_received, bytes + 2);

  // Several kinds at once, in several generations.
  ASSERT_TRUE(Rename("alice", "cur/7.h:2,", "cur/7.h:2,T"));
  List();
  ASSERT_TRUE(Rename("alice", "cur/7.h:2,T", ".Archive/cur/7.h:2,TS"));
  WriteFile(Msg("alice", "new/301.h"), "another");
  List();
  ASSERT_EQ(unlink(Msg("alice", "cur/8.h:2,").c_str()), 0);
  SyncByDelta();

  // Bob never changed: skipped by his checkpoint throughout.
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->users_skipped_unchanged, 2u);
}

TEST_F(DeltaSyncTest, ServerRefusesDeltasItCannotGive) {
  WriteFile(Msg("alice", "cur/1.h:2,"), "a");
  const uint64_t g = SourceGeneration("alice");
  auto ask = [&](const std::string& instance, uint64_t since) {
    v1::GetManifestRequest req;
    req.set_slot("s1");
    req.set_user("alice");
    req.set_delta(true);
    req.set_since_instance_id(instance);
    req.set_since_generation(since);
    int chunks = 0;
    absl::Status s = core_->GetManifest(req, [&](const v1::ManifestChunk& c) {
      EXPECT_TRUE(c.delta());
      ++chunks;
      return true;
    });
    if (!s.ok()) {
      EXPECT_EQ(chunks, 0) << "a refusal must not follow a partial answer";
    }
    return s;
  };
  EXPECT_TRUE(ask("inst-1", g).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(ask("inst-0", g)));      // another instance
  EXPECT_TRUE(absl::IsFailedPrecondition(ask("inst-1", g + 5)));  // from the future
  EXPECT_TRUE(absl::IsFailedPrecondition(ask("inst-1", g - 1)));  // before the first scan
}

TEST_F(DeltaSyncTest, DeltaListsChangedAndRemovedPathsOnly) {
  Populate();
  const uint64_t g = SourceGeneration("alice");
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  WriteFile(Msg("alice", "tmp/9.h"), "half written");  // never listed
  v1::GetManifestRequest req;
  req.set_slot("s1");
  req.set_user("alice");
  req.set_delta(true);
  req.set_since_instance_id("inst-1");
  req.set_since_generation(g);
  std::vector<std::string> entries, removed;
  ASSERT_TRUE(core_
                  ->GetManifest(req,
                                [&](const v1::ManifestChunk& c) {
                                  for (const auto& e : c.entries()) entries.push_back(e.path());
                                  for (const auto& p : c.removed()) removed.push_back(p);
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(entries, std::vector<std::string>{"cur/1.h:2,S"});
  EXPECT_EQ(removed, std::vector<std::string>{"cur/1.h:2,"});
}

TEST_F(DeltaSyncTest, FallsBackAfterOverflow) {
  Populate();
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  List();
  core_->tracker()->ForgetChanges("s1");  // what an IN_Q_OVERFLOW does
  SyncByFallback(2);                      // bob too: his history is gone as well
  // The full sync checkpointed the new generation: deltas work again.
  ASSERT_TRUE(Rename("alice", "cur/2.h:2,", "cur/2.h:2,S"));
  SyncByDelta();
}

TEST_F(DeltaSyncTest, RestartedSourceGivesNoDelta) {
  Populate();
  StartSource("inst-2");
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  const uint64_t deltas = counters_.delta_manifests;
  const uint64_t manifests = counters_.manifests_fetched;
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  // Other instance: no checkpoint applies, every user goes the full way.
  EXPECT_EQ(counters_.delta_manifests, deltas);
  EXPECT_EQ(counters_.manifests_fetched, manifests + 2);
  ExpectEqualTrees();
  ASSERT_TRUE(Rename("alice", "cur/2.h:2,", "cur/2.h:2,S"));
  SyncByDelta();
}

TEST_F(DeltaSyncTest, FallsBackWhenTheGenerationIsTooOld) {
  DeltaLimits limits;
  limits.max_generations = 2;
  StartSource("inst-small", limits);
  Populate();
  // Two generations of history: still a delta.
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  List();
  ASSERT_TRUE(Rename("alice", "cur/2.h:2,", "cur/2.h:2,S"));
  SyncByDelta();
  // Three: the oldest was dropped.
  for (int i = 3; i < 6; ++i) {
    ASSERT_TRUE(Rename("alice", "cur/" + std::to_string(i) + ".h:2,",
                       "cur/" + std::to_string(i) + ".h:2,S"));
    List();
  }
  SyncByFallback();
}

TEST_F(DeltaSyncTest, FallsBackWhenTooManyPathsChanged) {
  DeltaLimits limits;
  limits.max_paths = 3;
  StartSource("inst-small", limits);
  Populate();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(Rename("alice", "cur/" + std::to_string(i) + ".h:2,",
                       "cur/" + std::to_string(i) + ".h:2,S"));
  }
  SyncByFallback();
}

TEST_F(DeltaSyncTest, DirectoryChangesFallBack) {
  Populate();
  MkdirP(Msg("alice", ".Trash/cur"));
  ASSERT_TRUE(Rename("alice", "cur/3.h:2,", ".Trash/cur/3.h:2,S"));
  SyncByFallback();
  ASSERT_TRUE(Rename("alice", ".Trash/cur/3.h:2,S", ".Trash/cur/3.h:2,ST"));
  SyncByDelta();
}

TEST_F(DeltaSyncTest, ReplicaDoubtFallsBack) {
  Populate();
  // The replica holds a directory where the source's delta names a file.
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  MkdirP(target_ + "/users/alice/cur/1.h:2,S");
  SyncByFallback();
}

TEST_F(DeltaSyncTest, MassDeletionGuardStillBlocks) {
  for (int i = 0; i < 40; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), "m");
  }
  ASSERT_TRUE(Sync().ok());
  const auto before = Tree(target_ + "/users");
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(unlink(Msg("alice", "cur/" + std::to_string(i) + ".h:2,").c_str()), 0);
  }
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->blocked_users, std::vector<std::string>{"alice"});
  EXPECT_EQ(Tree(target_ + "/users"), before);
  EXPECT_FALSE(Exists(target_ + "/.quarantine"));
  EXPECT_EQ(counters_.delta_manifests, 0u);
  // Not checkpointed, and remembered: the user stays blocked, also once the
  // source recovers, until an operator unblocks it.
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->blocked_users, std::vector<std::string>{"alice"});
  for (int i = 0; i < 20; ++i) {
    WriteFile(Msg("alice", "cur/" + std::to_string(i) + ".h:2,"), "m");
  }
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->blocked_users, std::vector<std::string>{"alice"});
  ASSERT_TRUE(GuardStore(target_db_.get()).Unblock("t1", "alice").ok());
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->blocked_users.empty());
  EXPECT_EQ(Tree(target_ + "/users"), before);
  // A few removals within the share then go by delta, into the quarantine.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(unlink(Msg("alice", "cur/" + std::to_string(i) + ".h:2,").c_str()), 0);
  }
  SyncByDelta();
  EXPECT_EQ(counters_.files_quarantined, 3u);
}

TEST_F(DeltaSyncTest, TheSourceForgetsTheHashesOfRemovedFiles) {
  Populate();
  struct stat st;
  ASSERT_EQ(stat(Msg("alice", "cur/5.h:2,").c_str(), &st), 0);
  const FileStamp stamp{static_cast<uint64_t>(st.st_size),
                        st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec, st.st_ino};
  const std::string key = HashCacheKey("s1", "alice", "cur/5.h:2,");
  ASSERT_TRUE(source_cache_->Lookup(key, stamp));
  ASSERT_EQ(unlink(Msg("alice", "cur/5.h:2,").c_str()), 0);
  SyncByDelta();
  EXPECT_FALSE(source_cache_->Lookup(key, stamp));
}

TEST_F(DeltaSyncTest, SeveralUsersShareOneGetManifestsCall) {
  Populate();
  WriteFile(Msg("carol", "cur/1.h:2,"), "carol's");
  MkdirP(Msg("carol", "new"));  // a new folder later would need the full path
  ASSERT_TRUE(Sync().ok());     // carol's first sync: full
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  ASSERT_TRUE(Rename("bob", "cur/1.h:2,", "cur/1.h:2,S"));
  WriteFile(Msg("carol", "new/2.h"), "more for carol");
  const uint64_t deltas = counters_.delta_manifests;
  const uint64_t batches = counters_.delta_batches;
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEqualTrees();
  EXPECT_EQ(counters_.delta_manifests, deltas + 3);
  EXPECT_EQ(counters_.delta_batches, batches + 1);
}

TEST_F(DeltaSyncTest, AUserRefusedInABatchFallsBackAlone) {
  Populate();
  // alice's change cannot be given as a delta (a new folder); bob's can.
  MkdirP(Msg("alice", ".Trash/cur"));
  ASSERT_TRUE(Rename("alice", "cur/3.h:2,", ".Trash/cur/3.h:2,S"));
  ASSERT_TRUE(Rename("bob", "cur/1.h:2,", "cur/1.h:2,S"));
  const uint64_t deltas = counters_.delta_manifests;
  const uint64_t fallbacks = counters_.delta_fallbacks;
  absl::StatusOr<StoreSyncResult> r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEqualTrees();
  EXPECT_EQ(counters_.delta_batches, 1u);
  EXPECT_EQ(counters_.delta_manifests, deltas + 1);
  EXPECT_EQ(counters_.delta_fallbacks, fallbacks + 1);
}

TEST_F(DeltaSyncTest, GetManifestsRefusesBadRequests) {
  Populate();
  auto ask = [&](const v1::GetManifestsRequest& req) {
    int chunks = 0;
    absl::Status s = core_->GetManifests(req, [&](const v1::ManifestChunk&) {
      ++chunks;
      return true;
    });
    EXPECT_TRUE(s.ok() || chunks == 0) << "a refused call must write nothing";
    return s;
  };
  v1::GetManifestsRequest req;
  req.set_slot("s1");
  req.add_users()->set_user("alice");
  req.add_users()->set_user("alice");
  EXPECT_TRUE(absl::IsInvalidArgument(ask(req)));
  req.clear_users();
  req.add_users()->set_user("../etc");
  EXPECT_TRUE(absl::IsInvalidArgument(ask(req)));
  req.clear_users();
  for (int i = 0; i <= kMaxUsersPerManifestsCall; ++i) {
    req.add_users()->set_user("u" + std::to_string(i));
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ask(req)));
  req.clear_users();
  req.add_users()->set_user("alice");
  req.set_slot("nope");
  EXPECT_FALSE(ask(req).ok());
  // A user of another source instance: refused in the answer, not the call.
  req.set_slot("s1");
  req.mutable_users(0)->set_since_instance_id("another-instance");
  std::vector<v1::ManifestChunk> got;
  ASSERT_TRUE(core_
                  ->GetManifests(req,
                                 [&](const v1::ManifestChunk& c) {
                                   got.push_back(c);
                                   return true;
                                 })
                  .ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].user(), "alice");
  EXPECT_TRUE(got[0].last());
  EXPECT_FALSE(got[0].refused().empty());
}

TEST_F(DeltaSyncTest, NewSmallFilesComeWithTheDeltaAnswer) {
  Populate();
  WriteFile(Msg("alice", "new/300.h"), "a new small message");
  WriteFile(Msg("alice", "new/301.h"), std::string(300 * 1024, 'L'));  // above 256 KiB
  WriteFile(Msg("alice", "dovecot.index"), "version 2");               // rewritten in place
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));           // known content
  const uint64_t fetches = counters_.fetch_calls;
  const uint64_t received = counters_.bytes_received;
  SyncByDelta();
  // The new message and the rewritten index came inline; the large message
  // by one FetchFiles call; the flag change by a local rename.
  EXPECT_EQ(counters_.files_inline, 2u);
  EXPECT_EQ(counters_.fetch_calls, fetches + 1);
  EXPECT_EQ(counters_.bytes_received - received, 19u + 300u * 1024u + 9u);
  EXPECT_EQ(counters_.files_renamed, 1u);
}

TEST_F(DeltaSyncTest, EveryReplicaGetsNewFilesInlineAndNoRenamedOne) {
  Populate();
  const uint64_t since = SourceGeneration("alice");
  WriteFile(Msg("alice", "new/300.h"), "a new small message");
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  List();
  // Two replicas ask for the same delta: the second one must not lose the
  // inline content because the first one's answer taught the cache the hash.
  for (int replica = 0; replica < 2; ++replica) {
    v1::GetManifestRequest req;
    req.set_slot("s1");
    req.set_user("alice");
    req.set_delta(true);
    req.set_since_generation(since);
    req.set_since_instance_id("inst-1");
    req.set_inline_max_file_bytes(1 << 20);
    req.set_inline_max_total_bytes(1 << 20);
    std::set<std::string> inlined;
    ASSERT_TRUE(core_
                    ->GetManifest(req,
                                  [&](const v1::ManifestChunk& c) {
                                    for (const v1::InlineFile& f : c.inline_files()) {
                                      inlined.insert(f.path());
                                    }
                                    return true;
                                  })
                    .ok());
    EXPECT_EQ(inlined, std::set<std::string>{"new/300.h"}) << "replica " << replica;
  }
}

TEST_F(DeltaSyncTest, ACorruptedInlineWriteIsNeverInstalled) {
  Populate();
  WriteFile(Msg("alice", "new/300.h"), "a new small message");
  FaultyFs fs;
  fs.corrupt_write = 0;
  absl::StatusOr<StoreSyncResult> r = Sync("", &fs);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(counters_.files_inline, 1u);
  EXPECT_EQ(counters_.files_failed_verify, 1u);
  EXPECT_FALSE(Exists(target_ + "/users/alice/new/300.h"));
  // The checkpoint stayed behind: the next sync brings the message.
  r = Sync();
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectEqualTrees();
}

// Changes the source once, at the replica's first rename.
class ChangeDuringSyncFs : public TargetFs {
 public:
  std::function<void()> on_rename;
  absl::Status Rename(int from_dir, const std::string& from, int to_dir,
                      const std::string& to) override {
    Fire();
    return TargetFs::Rename(from_dir, from, to_dir, to);
  }
  absl::Status RenameNoReplace(int from_dir, const std::string& from, int to_dir,
                               const std::string& to) override {
    Fire();
    return TargetFs::RenameNoReplace(from_dir, from, to_dir, to);
  }

 private:
  void Fire() {
    if (on_rename) {
      std::function<void()> f = std::move(on_rename);
      on_rename = nullptr;
      f();
    }
  }
};

TEST_F(DeltaSyncTest, ChangeDuringTheSyncLeavesTheCheckpointBehind) {
  Populate();
  ASSERT_TRUE(Rename("alice", "cur/1.h:2,", "cur/1.h:2,S"));
  ChangeDuringSyncFs fs;
  fs.on_rename = [&]() { WriteFile(Msg("alice", "new/400.h"), "late"); };
  absl::StatusOr<StoreSyncResult> r = Sync("", &fs);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(counters_.delta_manifests, 1u);
  EXPECT_FALSE(Exists(target_ + "/users/alice/new/400.h"));
  CheckpointStore checkpoints(target_db_.get());
  std::optional<CheckpointStore::Checkpoint> c = checkpoints.Get("t1", "alice");
  ASSERT_TRUE(c.has_value());
  EXPECT_LT(c->generation, SourceGeneration("alice"));
  // The next sync is not skipped and brings the late delivery by delta.
  SyncByDelta();
  EXPECT_EQ(ReadFile(target_ + "/users/alice/new/400.h"), "late");
}

}  // namespace
}  // namespace slotkeeper::sync
