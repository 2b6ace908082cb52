#include "replicator/lease_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

TEST(LeaseFileTest, WrittenWhileServingRemovedWhenStopped) {
  const std::string dir = ::testing::TempDir() + "/leases1";
  absl::StatusOr<std::unique_ptr<LeaseFiles>> files = LeaseFiles::Open(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  (*files)->LeaseChanged("s01", "st1", 4, absl::Seconds(12));
  const std::string path = LeaseFilePath(dir, "s01");
  absl::StatusOr<LeaseFileContents> c = ParseLeaseFile(Read(path));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->store, "st1");
  EXPECT_EQ(c->epoch, 4u);
  EXPECT_EQ(c->serving_until, absl::Seconds(12));
  (*files)->LeaseChanged("s01", "st1", 4, absl::Seconds(20));
  EXPECT_EQ(ParseLeaseFile(Read(path))->serving_until, absl::Seconds(20));
  EXPECT_FALSE(Exists(path + ".tmp"));
  (*files)->LeaseChanged("s01", "st1", 4, std::nullopt);
  EXPECT_FALSE(Exists(path));
  (*files)->LeaseChanged("s01", "st1", 4, std::nullopt);  // already gone: fine
}

TEST(LeaseFileTest, AnEarlierAgentsFilesAreRemovedAtOpen) {
  const std::string dir = ::testing::TempDir() + "/leases2";
  ::mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/s07.lease") << "store st9\nepoch 1\nserving_until_ns 99999999999999\n";
  std::ofstream(dir + "/notes.txt") << "kept";
  ASSERT_TRUE(LeaseFiles::Open(dir).ok());
  EXPECT_FALSE(Exists(dir + "/s07.lease"));
  EXPECT_TRUE(Exists(dir + "/notes.txt"));
}

TEST(LeaseFileTest, ParseRefusesIncompleteFiles) {
  EXPECT_FALSE(ParseLeaseFile("store st1\nepoch 2\n").ok());
  EXPECT_FALSE(ParseLeaseFile("store st1\nepoch x\nserving_until_ns 5\n").ok());
  EXPECT_FALSE(ParseLeaseFile("epoch 2\nserving_until_ns 5\n").ok());
  EXPECT_TRUE(ParseLeaseFile("store st1\nepoch 2\nserving_until_ns 5\n").ok());
}

}  // namespace
}  // namespace slotkeeper::replicator
