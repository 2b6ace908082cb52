#include "replicator/sync/hash_cache.h"

#include <stdio.h>

#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "replicator/sync/manifest.h"
#include "replicator/sync/test_files.h"
#include "rocksdb/db.h"

namespace slotkeeper::sync {
namespace {

// A user tree and a RocksDB under TEST_TMPDIR.
class HashCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base =
        Tmp() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    source_ = base + "/source";
    MkdirP(source_ + "/users");
    source_db_ = OpenDb(base + "/source.db");
  }

  std::string Msg(const std::string& user, const std::string& rel) {
    return source_ + "/users/" + user + "/" + rel;
  }

  std::string source_;
  std::unique_ptr<rocksdb::DB> source_db_;
};

TEST_F(HashCacheTest, MemoryCacheRecognisesRenamedFiles) {
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

TEST_F(HashCacheTest, EqualStampsInOtherScopesDoNotShareAHash) {
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

TEST_F(HashCacheTest, UnchangedFilesAreNeverHashedTwice) {
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

}  // namespace
}  // namespace slotkeeper::sync
