#include "base/rocksdb_info_log.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace slotkeeper {
namespace {

std::string FreshDir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  const std::string dir = std::string(t != nullptr ? t : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// LOG and LOG.old.* in `dir`.
int InfoLogFiles(const std::string& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename();
    if (name == "LOG" || name.rfind("LOG.old.", 0) == 0) ++n;
  }
  return n;
}

// Opens and closes the database `times` times; each open starts a new LOG.
void OpenRepeatedly(const std::string& dir, const rocksdb::Options& options, int times) {
  for (int i = 0; i < times; ++i) {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", std::to_string(i)).ok());
    ASSERT_TRUE(db->Close().ok());
  }
}

TEST(RocksdbInfoLogTest, SetsTheOptionsTheDatabaseRunsWith) {
  rocksdb::Options options;
  options.create_if_missing = true;
  BoundInfoLog({3, 64 << 10}, options);
  const std::string dir = FreshDir("options");
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  const rocksdb::DBOptions applied = db->GetDBOptions();
  EXPECT_EQ(applied.keep_log_file_num, 3u);
  EXPECT_EQ(applied.max_log_file_size, size_t{64 << 10});
  EXPECT_EQ(applied.log_file_time_to_roll, 0u);
}

TEST(RocksdbInfoLogTest, OldLogsBeyondTheLimitAreDeleted) {
  rocksdb::Options unbounded;
  unbounded.create_if_missing = true;
  const std::string control = FreshDir("unbounded");
  OpenRepeatedly(control, unbounded, 6);
  // Without the bound every open leaves a LOG.old.* behind.
  EXPECT_GE(InfoLogFiles(control), 6);

  rocksdb::Options bounded = unbounded;
  BoundInfoLog({2, 1 << 20}, bounded);
  const std::string dir = FreshDir("bounded");
  OpenRepeatedly(dir, bounded, 6);
  EXPECT_EQ(InfoLogFiles(dir), 2);
}

TEST(RocksdbInfoLogTest, ALogPastItsSizeRolls) {
  rocksdb::Options options;
  options.create_if_missing = true;
  // An open alone writes tens of kilobytes (the options dump): several rolls.
  BoundInfoLog({2, 4 << 10}, options);
  const std::string dir = FreshDir("rolls");
  OpenRepeatedly(dir, options, 1);
  EXPECT_EQ(InfoLogFiles(dir), 2);
}

}  // namespace
}  // namespace slotkeeper
